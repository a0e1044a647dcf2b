# make demo: installs what is missing (deps), builds, then demo/run.sh runs an emulated fleet,
# a private D-Bus and stdfud with the demo manifest, and shows `stdfuctl watch` and
# `stdfuctl status`. Exits 0 only when every device runs its target firmware.
# `programs` is made by a sub-make, as for `check`, so that pkg-config runs after deps.
demo: deps
	@echo "==> Building stdfu (make programs)"
	@$(MAKE) -s --no-print-directory programs
	@B=$(B) demo/run.sh

.PHONY: demo

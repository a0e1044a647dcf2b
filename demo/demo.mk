# make demo: installs what is missing (deps), builds, then demo/run.sh runs an emulated fleet,
# a private D-Bus and stdfud with the demo manifest, and shows `stdfuctl watch` and
# `stdfuctl status`. Exits 0 only when every device runs its target firmware.
# `all-targets` (the programs and the emulator) is made by a sub-make, as for `check`, so that
# pkg-config runs after deps.
demo: deps
	@echo "==> Building stdfu and its emulator (make all-targets)"
	@$(MAKE) -s --no-print-directory all-targets
	@B=$(B) demo/run.sh

.PHONY: demo

# The QEMU tier: `make check-system` (see tests/system/README).
#
# stdfu-sim-ffs, the emulator's model behind FunctionFS, is built with the other programs: it is
# a test tool like stdfu-sim and is never installed.
SIM_FFS_SRCS := $(wildcard tests/sim/ffs/*.c)
SIM_FFS_OBJS := $(patsubst %.c,$(B)/%.o,$(SIM_FFS_SRCS))

$(SIM_FFS_OBJS): EXTRA_CFLAGS = $(call pkg_cflags,libcrypto) -Itests/sim

$(B)/stdfu-sim-ffs: $(SIM_FFS_OBJS) $(SIM_MODEL_LIB) $(B)/libstdfu-util.a
	$(CC) $(SAN_FLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(call pkg_libs,libcrypto zlib) -lpthread

PROGRAMS += $(B)/stdfu-sim-ffs

# Where the tier keeps the kernel it downloads (reused between runs), the initramfs, the logs
# and the installed tree the guest puts over its root. Beside $(B), not in it: the top Makefile
# includes every *.d under $(B), and an installed tree is full of *.d directories.
SYSTEM_B      ?= $(B)-system
SYSTEM_CACHE  ?= $(SYSTEM_B)/cache

# The packages this tier needs on the host, apart from tools/install-deps (`make deps`): QEMU,
# a static busybox for the initramfs, cpio, depmod; in the guest (from the host's root) udev and
# dfu-util for the fidelity scenario, polkitd for the polkit one.
SYSTEM_DEB_DEPS := qemu-system-x86 busybox-static cpio kmod udev dfu-util polkitd

system-deps:
	@missing=; for p in $(SYSTEM_DEB_DEPS); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || \
	        missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	    echo "check-system: installing$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	        apt-get install -y -qq --no-install-recommends $$missing >/dev/null; fi

# The product as the guest installs it: by default the .deb (`make deb`, rebuilt only when a
# file of the tree outside tests/ is newer than it), which the guest installs with dpkg so that its maintainer
# scripts run as on a kiosk; SYSTEM_INSTALL=tree installs `make install`'s tree instead.
SYSTEM_INSTALL ?= deb
SYSTEM_DEB = $(firstword $(wildcard $(B)/deb/stdfu_*.deb))

system-deb:
	@deb='$(SYSTEM_DEB)'; \
	if [ -z "$$deb" ] || { if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
	        git ls-files -z --cached --others --exclude-standard ':!tests'; \
	    else find . -path ./$(B) -prune -o -path ./$(SYSTEM_B) -prune -o -path ./tests -prune -o -type f -print0; fi | \
	        xargs -0 -r sh -c 'for f; do [ -f "$$f" ] && [ "$$f" -nt "$$0" ] && echo "$$f" && exit 0; done' \
	        "$$deb" | grep -q .; }; then \
	    echo "check-system: building the package (make deb, log in $(SYSTEM_B)/deb.log)"; \
	    $(MAKE) --no-print-directory deb >$(SYSTEM_B)/deb.log 2>&1 || { tail -40 $(SYSTEM_B)/deb.log; exit 1; }; \
	else echo "check-system: $$deb is up to date"; fi

system-root: programs
	@rm -rf $(SYSTEM_B)/root
	@mkdir -p $(SYSTEM_B)
	@$(MAKE) --no-print-directory install DESTDIR=$(abspath $(SYSTEM_B)/root) PREFIX=/usr \
	    >$(SYSTEM_B)/install.log 2>&1 || { cat $(SYSTEM_B)/install.log; exit 1; }

# SCENARIOS=name,name runs only those (tests/system/scenarios/NAME.sh).
check-system: deps system-deps programs test-programs
	@mkdir -p $(SYSTEM_B)
ifeq ($(SYSTEM_INSTALL),tree)
	@$(MAKE) --no-print-directory system-root
	@tests/system/run-system --build $(B) --out $(SYSTEM_B) --cache $(SYSTEM_CACHE) \
	    $(if $(SCENARIOS),--scenarios $(SCENARIOS))
else
	@$(MAKE) --no-print-directory system-deb
	@tests/system/run-system --build $(B) --out $(SYSTEM_B) --cache $(SYSTEM_CACHE) \
	    --deb "$$(ls $(B)/deb/stdfu_*.deb | head -1)" $(if $(SCENARIOS),--scenarios $(SCENARIOS))
endif

clean-system:
	rm -rf $(SYSTEM_B)

.PHONY: check-system system-deps system-deb system-root clean-system

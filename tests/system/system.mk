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
# dfu-util for the fidelity scenario.
SYSTEM_DEB_DEPS := qemu-system-x86 busybox-static cpio kmod udev dfu-util

system-deps:
	@missing=; for p in $(SYSTEM_DEB_DEPS); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || \
	        missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	    echo "check-system: installing$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	        apt-get install -y -qq --no-install-recommends $$missing >/dev/null; fi

# The product as the guest installs it: `make install` into a tree today; a .deb (issue 12)
# can replace it by setting STDFU_SYSTEM_DEB=path/to/stdfu_*.deb (tests/system/guest/install).
system-root: programs
	@rm -rf $(SYSTEM_B)/root
	@mkdir -p $(SYSTEM_B)
	@$(MAKE) --no-print-directory install DESTDIR=$(abspath $(SYSTEM_B)/root) PREFIX=/usr \
	    >$(SYSTEM_B)/install.log 2>&1 || { cat $(SYSTEM_B)/install.log; exit 1; }

# SCENARIOS=name,name runs only those (tests/system/scenarios/NAME.sh).
check-system: system-deps programs
	@mkdir -p $(SYSTEM_B)
	@$(MAKE) --no-print-directory system-root
	@tests/system/run-system --build $(B) --out $(SYSTEM_B) --cache $(SYSTEM_CACHE) \
	    $(if $(SCENARIOS),--scenarios $(SCENARIOS))

clean-system:
	rm -rf $(SYSTEM_B)

.PHONY: check-system system-deps system-root clean-system

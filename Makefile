# stdfu: plain GNU make and pkg-config. See HACKING.md for the layout.
#
#   make                 build stdfud and stdfuctl into $(B)/ (what `make install` installs)
#   make all-targets     also the emulator and the test tools (what check, demo, bench build)
#   make check           install missing Debian packages, build, run all tests (normal and
#                        ASan+UBSan builds), end with the summary line
#   make demo            emulated fleet, private bus, daemon and `stdfuctl watch`
#   make bench           benchmarks (timings are reported, never asserted)
#   make install DESTDIR=... PREFIX=...
#   make deb             the Debian package (dpkg-buildpackage -us -uc -b), in $(B)/deb/
#   make clean
#
# Distribution flags are honoured as dpkg-buildflags passes them: CC, CPPFLAGS, CFLAGS, LDFLAGS,
# PKG_CONFIG (cross builds), WERROR=0 (warnings stay warnings, for a newer compiler).

B          ?= build
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
MANDIR     ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
DESTDIR    ?=

CC         ?= cc
AR         ?= ar
PKG_CONFIG ?= pkg-config
CFLAGS     ?= -O2 -g
CPPFLAGS   ?=
LDFLAGS    ?=
SANITIZE   ?= 0
WERROR     ?= 1
ASAN_B     ?= build-asan

# The version, written once: `git describe` of a v* tag when this is a git tree that has one,
# else the VERSION file (release tarballs, and trees without a tag yet).
VERSION    := $(or $(shell git -C $(CURDIR) describe --tags --match 'v[0-9]*' --dirty 2>/dev/null \
                    | sed 's/^v//'),$(shell cat $(CURDIR)/VERSION))
STATEDIR   ?= /var/lib/stdfu

WARNINGS   := -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror) -Wshadow -Wstrict-prototypes \
              -Wmissing-prototypes -Wformat=2 -Wno-format-nonliteral -Wvla
# What lib/util/config.h names: the version and the paths the daemon uses.
CONFIG_DEFS = -DSTDFU_VERSION='"$(VERSION)"' -DSTDFU_CONFIG_DIR='"$(SYSCONFDIR)/stdfu"' \
              -DSTDFU_STATE_DIR='"$(STATEDIR)"'
BASE_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARNINGS) $(CONFIG_DEFS) -I. -Ilib -MMD -MP
# Objects are rebuilt when the version or a path compiled in changes (config.h's -D values).
CONFIG_STAMP := $(B)/config.stamp
ifneq ($(file <$(CONFIG_STAMP)),$(CONFIG_DEFS))
$(shell mkdir -p $(B))
$(file >$(CONFIG_STAMP),$(CONFIG_DEFS))
endif

ifeq ($(SANITIZE),1)
SAN_FLAGS  := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
endif

# pkg-config is asked lazily (=, not :=) so that `make check` can install packages first.
pkg_cflags  = $(shell $(PKG_CONFIG) --cflags $(1))
pkg_libs    = $(shell $(PKG_CONFIG) --libs $(1))
LIB_PKGS    := libusb-1.0 libudev libcrypto zlib libelf
DAEMON_PKGS := libsystemd yaml-0.1
SIM_PKGS    := umockdev-1.0 glib-2.0 gobject-2.0 gio-2.0 zlib libcrypto yaml-0.1
TEST_PKGS   := cmocka

# Filled in by the fragments below. PROGRAMS: what `make` builds and `make install` installs;
# TEST_PROGRAMS: the emulator and the tools the tests, the demo and the benchmarks run.
PROGRAMS          :=
TEST_PROGRAMS     :=
UNIT_TESTS        :=
INTEGRATION_TESTS :=
SANITIZER_TESTS   :=

all: programs

include lib/lib.mk
-include tests/sim/sim.mk
-include cli/cli.mk
-include daemon/daemon.mk
-include tests/unit/unit.mk
-include tests/integration/integration.mk
-include tests/tools/tools.mk
-include bench/bench.mk
-include man/man.mk
-include install.mk
-include demo/demo.mk
-include fuzz/fuzz.mk
-include tests/system/system.mk

# Only the daemon and the client are built by `make` and installed; whatever else a fragment
# adds to PROGRAMS (the emulator, its preload library, test tools) is a test program.
TEST_PROGRAMS += $(filter-out $(B)/stdfud $(B)/stdfuctl,$(PROGRAMS))
PROGRAMS      := $(filter $(B)/stdfud $(B)/stdfuctl,$(PROGRAMS))

programs: $(PROGRAMS)
$(patsubst %.c,$(B)/%.o,$(wildcard daemon/*.c cli/*.c)): $(CONFIG_STAMP)
test-programs: $(TEST_PROGRAMS)
all-targets: programs test-programs

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(EXTRA_CFLAGS) $(SAN_FLAGS) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

print-version:
	@echo $(VERSION)

# ---- the Debian package ------------------------------------------------------------------

# dpkg-buildpackage in a copy of the tree (the files git knows, or, outside git, the tree
# without the build directories), so that neither build/ nor the sources are touched; the
# package lands in $(B)/deb/, lintian then fails the target on any error.
DEB_DIR = $(B)/deb
deb:
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_DIR)/stdfu-$(VERSION)
	cd $(CURDIR) && if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
	    git ls-files -z --cached --others --exclude-standard | \
	        tar --null --ignore-failed-read -T - -cf -; \
	else tar --exclude=./$(B) --exclude=./$(ASAN_B) -cf - .; fi | \
	    tar -xf - -C $(DEB_DIR)/stdfu-$(VERSION)
	cd $(DEB_DIR)/stdfu-$(VERSION) && dpkg-buildpackage -us -uc -b
	if command -v lintian >/dev/null; then \
	    lintian --fail-on error $(DEB_DIR)/*.changes; \
	else echo "deb: lintian not installed, not run" >&2; fi
	@ls $(DEB_DIR)/*.deb

# ---- dependencies -------------------------------------------------------------------------

deps:
	@tools/install-deps

# ---- tests --------------------------------------------------------------------------------

# The sanitizer build is a second build directory of the same tree.
check: deps
	@$(MAKE) --no-print-directory all-targets unit-tests
	@$(MAKE) --no-print-directory B=$(ASAN_B) SANITIZE=1 all-targets unit-tests
	@tests/run-tests --build $(B) $(UNIT_TESTS) $(INTEGRATION_TESTS) \
	    --build $(ASAN_B) $(patsubst $(B)/%,$(ASAN_B)/%,$(UNIT_TESTS)) $(SANITIZER_TESTS)

unit-tests: $(UNIT_TESTS)

check-unit: all-targets $(UNIT_TESTS)
	@tests/run-tests --build $(B) $(UNIT_TESTS)

# The unit tests under memcheck (any error or definite leak fails), then the real programs
# under it (tests/integration/test-valgrind.sh). tests/valgrind.supp: third-party code only.
VALGRIND_TEST := tests/integration/test-valgrind.sh
check-valgrind: all-targets $(UNIT_TESTS)
	@mkdir -p $(B)/test-logs; for t in $(UNIT_TESTS); do \
	    log=$(B)/test-logs/valgrind-$$(basename $$t).log; \
	    valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
	        --suppressions=tests/valgrind.supp $$t >$$log 2>&1 || \
	        { rc=$$?; tail -n 40 $$log >&2; \
	          echo "valgrind: $$t failed (exit $$rc; 99: a memcheck error), see $$log" >&2; \
	          exit 1; }; \
	done; echo "valgrind: $(words $(UNIT_TESTS)) unit tests clean"
	@tests/run-tests --build $(B) $(VALGRIND_TEST)

clean:
	rm -rf $(B) $(ASAN_B)

.PHONY: all programs test-programs all-targets unit-tests deps check check-unit check-valgrind \
        clean install demo bench print-version deb

-include $(shell find $(B) -path $(B)/deb -prune -o -name '*.d' -type f -print 2>/dev/null)

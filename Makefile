# stdfu: plain GNU make and pkg-config. See HACKING.md for the layout.
#
#   make                 build everything into $(B)/
#   make check           install missing Debian packages, build, run all tests (normal and
#                        ASan+UBSan builds), end with the summary line
#   make demo            emulated fleet, private bus, daemon and `stdfuctl watch`
#   make bench           benchmarks (timings are reported, never asserted)
#   make install DESTDIR=... PREFIX=...
#   make clean

B          ?= build
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
MANDIR     ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
DESTDIR    ?=

CC         ?= cc
AR         ?= ar
CFLAGS     ?= -O2 -g
SANITIZE   ?= 0
ASAN_B     ?= build-asan

WARNINGS   := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
              -Wformat=2 -Wno-format-nonliteral -Wvla
BASE_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARNINGS) -I. -Ilib -MMD -MP
ifeq ($(SANITIZE),1)
SAN_FLAGS  := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
endif

# pkg-config is asked lazily (=, not :=) so that `make check` can install packages first.
pkg_cflags  = $(shell pkg-config --cflags $(1))
pkg_libs    = $(shell pkg-config --libs $(1))
LIB_PKGS    := libusb-1.0 libudev libcrypto zlib
DAEMON_PKGS := libsystemd yaml-0.1
SIM_PKGS    := umockdev-1.0 glib-2.0 gobject-2.0 gio-2.0 zlib libcrypto yaml-0.1
TEST_PKGS   := cmocka

# Filled in by the fragments below.
PROGRAMS          :=
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
-include tests/system/system.mk

programs: $(PROGRAMS)

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(EXTRA_CFLAGS) $(SAN_FLAGS) $(CFLAGS) -c -o $@ $<

# ---- dependencies -------------------------------------------------------------------------

deps:
	@tools/install-deps

# ---- tests --------------------------------------------------------------------------------

# The sanitizer build is a second build directory of the same tree.
check: deps
	@$(MAKE) --no-print-directory programs unit-tests
	@$(MAKE) --no-print-directory B=$(ASAN_B) SANITIZE=1 programs unit-tests
	@tests/run-tests --build $(B) $(UNIT_TESTS) $(INTEGRATION_TESTS) \
	    --build $(ASAN_B) $(patsubst $(B)/%,$(ASAN_B)/%,$(UNIT_TESTS)) $(SANITIZER_TESTS)

unit-tests: $(UNIT_TESTS)

check-unit: programs $(UNIT_TESTS)
	@tests/run-tests --build $(B) $(UNIT_TESTS)

check-valgrind: programs $(UNIT_TESTS)
	@for t in $(UNIT_TESTS); do \
	    valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite $$t \
	        >/dev/null || exit 1; done; echo "valgrind: $(words $(UNIT_TESTS)) unit tests clean"

clean:
	rm -rf $(B) $(ASAN_B)

.PHONY: all programs unit-tests deps check check-unit check-valgrind clean install demo bench

-include $(shell find $(B) -name '*.d' 2>/dev/null)

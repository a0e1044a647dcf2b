# Unit tests: every tests/unit/test-*.c is one cmocka program.
#   test-sim-*.c     link the emulator's device model
#   test-daemon-*.c  link the daemon's modules (all but main.c)
#   test-*.c         link libstdfu
UNIT_SRCS  := $(wildcard tests/unit/test-*.c)
UNIT_TESTS += $(patsubst tests/unit/%.c,$(B)/tests/unit/%,$(UNIT_SRCS))

$(B)/tests/unit/%.o: EXTRA_CFLAGS = $(call pkg_cflags,cmocka $(LIB_PKGS) $(DAEMON_PKGS)) -Itests/sim -Idaemon

$(B)/tests/unit/test-sim-%: $(B)/tests/unit/test-sim-%.o $(SIM_MODEL_LIB) $(LIBSTDFU)
	$(CC) $(SAN_FLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(call pkg_libs,cmocka zlib libcrypto)

$(B)/tests/unit/test-daemon-%: $(B)/tests/unit/test-daemon-%.o $(DAEMON_LIB) $(LIBSTDFU)
	$(CC) $(SAN_FLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ \
	    $(call pkg_libs,cmocka $(LIB_PKGS) $(DAEMON_PKGS)) -lpthread

$(B)/tests/unit/test-%: $(B)/tests/unit/test-%.o $(LIBSTDFU)
	$(CC) $(SAN_FLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(call pkg_libs,cmocka) $(LIBSTDFU_LIBS)

# Engine tests (lib/dfuse) against the emulator's model through a direct transport
# (tests/unit/helpers/sim-transport.c): the more specific pattern wins over test-sim-%.
$(B)/tests/unit/test-sim-engine-%: $(B)/tests/unit/test-sim-engine-%.o \
        $(B)/tests/unit/helpers/sim-transport.o $(SIM_MODEL_LIB) $(LIBSTDFU)
	$(CC) $(SAN_FLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(call pkg_libs,cmocka zlib libcrypto) \
	    $(LIBSTDFU_LIBS)

# lib/usb against a umockdev testbed (udev lookup, the re-enumeration watch).
$(B)/tests/unit/test-usb-udev.o: EXTRA_CFLAGS = $(call pkg_cflags,cmocka $(LIB_PKGS) umockdev-1.0)
$(B)/tests/unit/test-usb-udev: $(B)/tests/unit/test-usb-udev.o $(LIBSTDFU)
	$(CC) $(SAN_FLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(call pkg_libs,cmocka umockdev-1.0) \
	    $(LIBSTDFU_LIBS)

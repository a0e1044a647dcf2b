# stdfu-sim, the STM32 emulator.
# The device model (tests/sim/model) is plain C and also linked into unit tests.
SIM_MODEL_SRCS := $(wildcard tests/sim/model/*.c)
SIM_MODEL_LIB  := $(B)/libsimmodel.a

$(B)/tests/sim/model/%.o: EXTRA_CFLAGS = $(call pkg_cflags,zlib libcrypto) -Itests/sim

$(SIM_MODEL_LIB): $(patsubst %.c,$(B)/%.o,$(SIM_MODEL_SRCS))
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

# The program: main objects listed one by one, the umockdev front-end by directory, so that
# their flags never reach the model's objects.
SIM_MAIN_SRCS  := tests/sim/main.c tests/sim/spec.c tests/sim/scenario.c tests/sim/control.c \
                  tests/sim/report.c tests/sim/mkfw.c tests/sim/fwfile.c
SIM_UMOCK_SRCS := $(wildcard tests/sim/umock/*.c)
SIM_MAIN_OBJS  := $(patsubst %.c,$(B)/%.o,$(SIM_MAIN_SRCS))
SIM_UMOCK_OBJS := $(patsubst %.c,$(B)/%.o,$(SIM_UMOCK_SRCS))
SIM_FRONT_CFLAGS = $(call pkg_cflags,$(SIM_PKGS)) -Itests/sim

$(SIM_MAIN_OBJS): EXTRA_CFLAGS = $(SIM_FRONT_CFLAGS)
$(B)/tests/sim/umock/%.o: EXTRA_CFLAGS = $(SIM_FRONT_CFLAGS)

$(B)/stdfu-sim: $(SIM_MAIN_OBJS) $(SIM_UMOCK_OBJS) $(SIM_MODEL_LIB) $(B)/libstdfu-util.a \
               | $(B)/libstdfu-sim-preload.so
	$(CC) $(SAN_FLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(call pkg_libs,$(SIM_PKGS)) -lpthread

# Loaded into every program under stdfu-sim (next to stdfu-sim, found from its path): never
# with sanitizer flags, since uninstrumented programs load it too.
$(B)/libstdfu-sim-preload.so: $(wildcard tests/sim/umock/preload/*.c) tests/sim/umock/preload/preload.h
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -fPIC -shared -o $@ $(filter %.c,$^) -ldl -lpthread

# Small helpers the integration tests run under stdfu-sim.
SIM_TOOLS := $(patsubst tests/sim/tools/%.c,$(B)/tests/sim/tools/%,$(wildcard tests/sim/tools/*.c))
$(B)/tests/sim/tools/%.o: EXTRA_CFLAGS = $(call pkg_cflags,libusb-1.0 libudev)
$(B)/tests/sim/tools/%: $(B)/tests/sim/tools/%.o
	$(CC) $(SAN_FLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(call pkg_libs,libusb-1.0 libudev)

PROGRAMS += $(B)/stdfu-sim $(B)/libstdfu-sim-preload.so $(SIM_TOOLS)

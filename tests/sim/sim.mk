# stdfu-sim, the STM32 emulator.
# The device model (tests/sim/model) is plain C and also linked into unit tests.
SIM_MODEL_SRCS := $(wildcard tests/sim/model/*.c)
SIM_MODEL_LIB  := $(B)/libsimmodel.a

$(B)/tests/sim/model/%.o: EXTRA_CFLAGS = $(call pkg_cflags,zlib libcrypto) -Itests/sim

$(SIM_MODEL_LIB): $(patsubst %.c,$(B)/%.o,$(SIM_MODEL_SRCS))
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

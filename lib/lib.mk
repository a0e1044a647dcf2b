# libstdfu: everything the daemon, the CLI and the tests share.
LIB_SRCS := $(wildcard lib/util/*.c lib/image/*.c lib/usb/*.c lib/dfuse/*.c lib/update/*.c lib/*.c)
LIB_OBJS := $(patsubst %.c,$(B)/%.o,$(LIB_SRCS))
LIBSTDFU := $(B)/libstdfu.a

$(B)/lib/%.o: EXTRA_CFLAGS = $(call pkg_cflags,$(LIB_PKGS))

$(LIBSTDFU): $(LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

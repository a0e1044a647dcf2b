# stdfud. Every daemon/*.c but main.c also goes into DAEMON_LIB, which unit tests link.
DAEMON_SRCS := $(filter-out daemon/main.c,$(wildcard daemon/*.c))
DAEMON_LIB  := $(B)/libstdfud.a

$(B)/daemon/%.o: EXTRA_CFLAGS = $(call pkg_cflags,$(LIB_PKGS) $(DAEMON_PKGS))

$(DAEMON_LIB): $(patsubst %.c,$(B)/%.o,$(DAEMON_SRCS))
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

ifneq ($(wildcard daemon/main.c),)
PROGRAMS += $(B)/stdfud
$(B)/stdfud: $(B)/daemon/main.o $(DAEMON_LIB) $(LIBSTDFU)
	$(CC) $(SAN_FLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(call pkg_libs,$(DAEMON_PKGS)) $(LIBSTDFU_LIBS)
endif

# stdfuctl: one file per command (cmd-*.c), dispatch and global options in main.c.
# Everything but main.c also goes into an archive so that tests/unit/test-cli-*.c can link it.
CLI_SRCS := $(wildcard cli/*.c)
CLI_LIB  := $(B)/libstdfuctl.a
PROGRAMS += $(B)/stdfuctl

$(B)/cli/%.o: EXTRA_CFLAGS = $(LIB_PKGS_CFLAGS) $(call pkg_cflags,libsystemd) -Icli

$(CLI_LIB): $(patsubst %.c,$(B)/%.o,$(filter-out cli/main.c,$(CLI_SRCS)))
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(B)/stdfuctl: $(B)/cli/main.o $(CLI_LIB) $(LIBSTDFU)
	$(CC) $(SAN_FLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBSTDFU_LIBS) $(call pkg_libs,libsystemd)

# Unit tests of the CLI's pieces (a shorter stem than unit.mk's test-% rule, so this one wins).
$(B)/tests/unit/test-cli-%: $(B)/tests/unit/test-cli-%.o $(CLI_LIB) $(LIBSTDFU)
	$(CC) $(SAN_FLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(call pkg_libs,cmocka) $(LIBSTDFU_LIBS) \
	    $(call pkg_libs,libsystemd)
$(B)/tests/unit/test-cli-%.o: EXTRA_CFLAGS = $(call pkg_cflags,cmocka $(LIB_PKGS) libsystemd) -Icli

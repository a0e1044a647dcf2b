# Small programs for tests (not installed): image-dump shows what lib/image makes of a file.
TEST_TOOLS := $(B)/tests/tools/image-dump
PROGRAMS   += $(TEST_TOOLS)

$(B)/tests/tools/%.o: EXTRA_CFLAGS = $(LIB_PKGS_CFLAGS)

$(B)/tests/tools/image-dump: $(B)/tests/tools/image-dump.o $(LIBSTDFU)
	$(CC) $(SAN_FLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBSTDFU_LIBS)

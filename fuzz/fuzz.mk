# Fuzz targets (libFuzzer, Debian's clang): every parser that reads outside input. See
# fuzz/README.md. Built into $(B)/fuzz with their own clang objects of lib/ and daemon/:
#   make fuzz-targets    build them (nothing, with a note, when clang or libFuzzer is missing)
#   make fuzz            run each for FUZZ_SECONDS (default 60) from its corpus
# `make check` builds them; tests/integration/test-fuzz.sh runs each over its seed corpus and
# then for a fixed number of runs.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_B       := $(B)/fuzz
FUZZ_TARGETS := image-dfuse image-suffix image-hex image-detect layout hid-descriptor \
                manifest journal
FUZZ_BINS    := $(patsubst %,$(FUZZ_B)/fuzz-%,$(FUZZ_TARGETS))
# No -Werror: a warning only clang gives must not stop `make check` (the normal build has it).
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-command-line-argument \
                -MMD -MP -I. -Ilib -Idaemon -g -O1 -fno-omit-frame-pointer \
                -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_SRCS    := $(wildcard lib/*/*.c) $(filter-out daemon/main.c,$(wildcard daemon/*.c))
FUZZ_OBJS    := $(patsubst %.c,$(FUZZ_B)/obj/%.o,$(FUZZ_SRCS))
FUZZ_PKGS    := $(LIB_PKGS) $(DAEMON_PKGS)

# Whether $(FUZZ_CC) can link a libFuzzer program (clang + libclang-rt-14-dev on Debian 12).
fuzz_available = printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n)\
{ (void) d; (void) n; return 0; }\n' | $(FUZZ_CC) -x c -fsanitize=fuzzer -o /dev/null - \
    >/dev/null 2>&1

# A target that does not build is reported by test-fuzz.sh ("built"), not by stopping the check.
fuzz-targets: | deps
	@if $(fuzz_available); then $(MAKE) --no-print-directory -k fuzz-build || \
	     echo "fuzz: some fuzz targets did not build (see above)"; \
	 else echo "fuzz: $(FUZZ_CC) with -fsanitize=fuzzer is not available: fuzz targets not built"; fi

fuzz-build: $(FUZZ_BINS)

$(FUZZ_B)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(call pkg_cflags,$(FUZZ_PKGS)) \
	    -c -o $@ $<

$(FUZZ_B)/libfuzz-stdfu.a: $(FUZZ_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

# One harness per parser; fuzz-image.c serves the four image entry points.
fuzz_format_image-dfuse  := STDFU_IMAGE_DFUSE
fuzz_format_image-suffix := STDFU_IMAGE_DFU
fuzz_format_image-hex    := STDFU_IMAGE_HEX
fuzz_format_image-detect := STDFU_IMAGE_AUTO

# Static pattern rules: a plain pattern would also match the .d files beside the binaries, which
# make then tries to remake with clang when it reads them.
FUZZ_IMAGE_BINS := $(filter $(FUZZ_B)/fuzz-image-%,$(FUZZ_BINS))

$(FUZZ_IMAGE_BINS): $(FUZZ_B)/fuzz-image-%: fuzz/fuzz-image.c $(FUZZ_B)/libfuzz-stdfu.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -DFUZZ_FORMAT=$(fuzz_format_image-$*) -o $@ \
	    $(filter %.c %.a,$^) $(call pkg_libs,$(FUZZ_PKGS)) -lpthread

$(filter-out $(FUZZ_IMAGE_BINS),$(FUZZ_BINS)): $(FUZZ_B)/fuzz-%: fuzz/fuzz-%.c $(FUZZ_B)/libfuzz-stdfu.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $(filter %.c %.a,$^) \
	    $(call pkg_libs,$(FUZZ_PKGS)) -lpthread

# Longer runs: new inputs go to a scratch corpus beside the seeds, crashes to $(FUZZ_B)/crashes
# (each one becomes a regression input in fuzz/corpus/NAME/ with its fix).
fuzz: fuzz-targets
	@mkdir -p $(FUZZ_B)/crashes
	@for t in $(FUZZ_TARGETS); do \
	    [ -x $(FUZZ_B)/fuzz-$$t ] || exit 0; \
	    mkdir -p $(FUZZ_B)/corpus/$$t; \
	    echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
	    $(FUZZ_B)/fuzz-$$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=10 \
	        -artifact_prefix=$(FUZZ_B)/crashes/$$t- $(FUZZ_B)/corpus/$$t fuzz/corpus/$$t \
	        </dev/null 2>$(FUZZ_B)/$$t.log || { tail -30 $(FUZZ_B)/$$t.log; exit 1; }; \
	done

check: fuzz-targets

.PHONY: fuzz fuzz-targets fuzz-build

# libstdfu: everything the daemon, the CLI and the tests share. One archive per module, so a
# test links only what it needs; LIBSTDFU is all of them, in link order.
LIB_MODULES := update dfuse usb image util
LIB_PKGS_CFLAGS = $(call pkg_cflags,$(LIB_PKGS))

$(B)/lib/%.o: EXTRA_CFLAGS = $(LIB_PKGS_CFLAGS)

define lib_module
LIB_$(1)_OBJS := $$(patsubst %.c,$$(B)/%.o,$$(wildcard lib/$(1)/*.c))
$$(B)/libstdfu-$(1).a: $$(LIB_$(1)_OBJS)
	@mkdir -p $$(@D)
	rm -f $$@
	$$(AR) rcs $$@ $$^
endef
$(foreach m,$(LIB_MODULES),$(eval $(call lib_module,$(m))))

LIBSTDFU := $(foreach m,$(LIB_MODULES),$(B)/libstdfu-$(m).a)
LIBSTDFU_LIBS = $(call pkg_libs,$(LIB_PKGS)) -lpthread

# Man pages as installed: the .TH line's source field ("stdfu") gets the version.
MAN_SRCS  := $(wildcard man/*.[1-8])
MAN_PAGES := $(patsubst man/%,$(B)/man/%,$(MAN_SRCS))

$(B)/man/%: man/% $(CONFIG_STAMP)
	@mkdir -p $(@D)
	sed '/^\.TH /s/ stdfu / "stdfu $(VERSION)" /' $< >$@.tmp
	mv -f $@.tmp $@

man-pages: $(MAN_PAGES)
programs: man-pages

.PHONY: man-pages

# make install / make uninstall. Included from the top-level Makefile after the fragments, so
# PROGRAMS is complete here. Everything is optional but the programs: files that other parts of
# the tree provide are installed when they exist ($(wildcard)).
#
#   make install DESTDIR=/tmp/root PREFIX=/usr
#
# Programs, man pages and documentation follow PREFIX. The files systemd, udev, dbus-daemon and
# polkitd must find go where those read them, whatever PREFIX is:
#   PREFIX=/usr        the directories their pkg-config files name (systemd: the unit,
#                      sysusers.d, tmpfiles.d; udev: rules.d), /usr/... when they have none
#   PREFIX=/usr/local  /usr/local/lib/{systemd/system,sysusers.d,tmpfiles.d,udev/rules.d}:
#                      systemd and udev read those too
#   another PREFIX     refused, naming the variable to set (UNITDIR=..., etc.)
# dbus-daemon reads system bus policies only from /usr/share/dbus-1/system.d (and /etc), and
# polkitd actions only from /usr/share/polkit-1/actions: those two never follow PREFIX.
# Every directory can be set on the command line.

pkg_var = $(shell $(PKG_CONFIG) --variable=$(2) $(1) 2>/dev/null)

ifeq ($(PREFIX),/usr)
UNITDIR       ?= $(or $(call pkg_var,systemd,systemdsystemunitdir),/usr/lib/systemd/system)
SYSUSERSDIR   ?= $(or $(call pkg_var,systemd,sysusersdir),/usr/lib/sysusers.d)
TMPFILESDIR   ?= $(or $(call pkg_var,systemd,tmpfilesdir),/usr/lib/tmpfiles.d)
UDEVRULESDIR  ?= $(or $(call pkg_var,udev,udevdir),/usr/lib/udev)/rules.d
else ifeq ($(PREFIX),/usr/local)
UNITDIR       ?= /usr/local/lib/systemd/system
SYSUSERSDIR   ?= /usr/local/lib/sysusers.d
TMPFILESDIR   ?= /usr/local/lib/tmpfiles.d
UDEVRULESDIR  ?= /usr/local/lib/udev/rules.d
endif
DBUSPOLICYDIR ?= $(or $(call pkg_var,dbus-1,datadir),/usr/share)/dbus-1/system.d
POLKITACTIONDIR ?= $(or $(call pkg_var,polkit-gobject-1,policydir),/usr/share/polkit-1/actions)
POLKITRULESDIR  ?= /usr/share/polkit-1/rules.d
DBUSIFACEDIR  ?= $(PREFIX)/share/dbus-1/interfaces
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
DOCDIR        ?= $(PREFIX)/share/doc/stdfu

# The directories a PREFIX outside /usr and /usr/local cannot guess (checked by install).
required_dirs = UNITDIR SYSUSERSDIR TMPFILESDIR UDEVRULESDIR
missing_dirs  = $(strip $(foreach v,$(required_dirs),$(if $($(v)),,$(v))))

INSTALL       ?= install

# Installed programs: the daemon and the client, when their fragments built them. stdfu-sim is
# a test tool and stays in the build tree (so does its man page).
INSTALL_SBIN  := $(filter $(B)/stdfud,$(PROGRAMS))
INSTALL_BIN   := $(filter $(B)/stdfuctl,$(PROGRAMS))
INSTALL_MAN   := $(filter-out $(B)/man/stdfu-sim.1,$(MAN_PAGES))
INSTALL_DOCS  := $(wildcard conf/manifest.example.yaml docs/firmware-guide.md)
INSTALL_COMPLETION := $(firstword $(wildcard cli/stdfuctl.bash-completion cli/stdfuctl.bash \
                        cli/completion/stdfuctl completion/stdfuctl))
INSTALL_POLICY := $(wildcard conf/io.stdfu1.conf)
INSTALL_IFACE  := $(wildcard conf/io.stdfu1.xml)
INSTALL_POLKIT_ACTIONS := $(wildcard conf/io.stdfu1.policy)
INSTALL_POLKIT_RULES   := $(wildcard conf/io.stdfu1.rules)

# $(call install_data,SOURCE,DEST): one recipe line per file.
define install_data
	$(INSTALL) -D -m 0644 $(1) $(2)

endef
man_dest = $(DESTDIR)$(MANDIR)/man$(subst .,,$(suffix $(1)))/$(notdir $(1))

# Every path `make install` may create, for `make uninstall`.
installed_files = \
    $(if $(INSTALL_SBIN),$(DESTDIR)$(SBINDIR)/stdfud) \
    $(if $(INSTALL_BIN),$(DESTDIR)$(BINDIR)/stdfuctl) \
    $(DESTDIR)$(UNITDIR)/stdfud.service \
    $(DESTDIR)$(SYSUSERSDIR)/stdfu.conf \
    $(DESTDIR)$(TMPFILESDIR)/stdfu.conf \
    $(DESTDIR)$(UDEVRULESDIR)/70-stdfu.rules \
    $(if $(INSTALL_POLICY),$(DESTDIR)$(DBUSPOLICYDIR)/io.stdfu1.conf) \
    $(if $(INSTALL_IFACE),$(DESTDIR)$(DBUSIFACEDIR)/io.stdfu1.xml) \
    $(if $(INSTALL_POLKIT_ACTIONS),$(DESTDIR)$(POLKITACTIONDIR)/io.stdfu1.policy) \
    $(if $(INSTALL_POLKIT_RULES),$(DESTDIR)$(POLKITRULESDIR)/50-stdfu.rules) \
    $(if $(INSTALL_COMPLETION),$(DESTDIR)$(COMPLETIONDIR)/stdfuctl) \
    $(foreach m,$(INSTALL_MAN),$(call man_dest,$(m))) \
    $(foreach d,$(INSTALL_DOCS),$(DESTDIR)$(DOCDIR)/$(notdir $(d)))

install-dirs-known:
ifneq ($(missing_dirs),)
	@echo "install: with PREFIX=$(PREFIX), systemd and udev would not find stdfu's unit," \
	    "sysusers, tmpfiles and udev rules; set $(missing_dirs) (the directories systemd and" \
	    "udev read, e.g. UNITDIR=\$$($(PKG_CONFIG) --variable=systemdsystemunitdir systemd))," \
	    "or use PREFIX=/usr or PREFIX=/usr/local" >&2
	@exit 1
endif

install uninstall: install-dirs-known
install: $(INSTALL_SBIN) $(INSTALL_BIN) $(INSTALL_MAN)
ifneq ($(INSTALL_SBIN),)
	$(INSTALL) -D -m 0755 $(B)/stdfud $(DESTDIR)$(SBINDIR)/stdfud
endif
ifneq ($(INSTALL_BIN),)
	$(INSTALL) -D -m 0755 $(B)/stdfuctl $(DESTDIR)$(BINDIR)/stdfuctl
endif
	$(INSTALL) -d -m 0755 $(DESTDIR)$(UNITDIR)
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' systemd/stdfud.service \
	    >$(DESTDIR)$(UNITDIR)/stdfud.service.tmp
	chmod 0644 $(DESTDIR)$(UNITDIR)/stdfud.service.tmp
	mv -f $(DESTDIR)$(UNITDIR)/stdfud.service.tmp $(DESTDIR)$(UNITDIR)/stdfud.service
	$(INSTALL) -D -m 0644 systemd/stdfu.sysusers $(DESTDIR)$(SYSUSERSDIR)/stdfu.conf
	$(INSTALL) -D -m 0644 systemd/stdfu.tmpfiles $(DESTDIR)$(TMPFILESDIR)/stdfu.conf
	$(INSTALL) -D -m 0644 conf/70-stdfu.rules $(DESTDIR)$(UDEVRULESDIR)/70-stdfu.rules
ifneq ($(INSTALL_POLICY),)
	$(INSTALL) -D -m 0644 conf/io.stdfu1.conf $(DESTDIR)$(DBUSPOLICYDIR)/io.stdfu1.conf
endif
ifneq ($(INSTALL_IFACE),)
	$(INSTALL) -D -m 0644 conf/io.stdfu1.xml $(DESTDIR)$(DBUSIFACEDIR)/io.stdfu1.xml
endif
ifneq ($(INSTALL_POLKIT_ACTIONS),)
	$(INSTALL) -D -m 0644 conf/io.stdfu1.policy $(DESTDIR)$(POLKITACTIONDIR)/io.stdfu1.policy
endif
ifneq ($(INSTALL_POLKIT_RULES),)
	$(INSTALL) -D -m 0644 conf/io.stdfu1.rules $(DESTDIR)$(POLKITRULESDIR)/50-stdfu.rules
endif
ifneq ($(INSTALL_COMPLETION),)
	$(INSTALL) -D -m 0644 $(INSTALL_COMPLETION) $(DESTDIR)$(COMPLETIONDIR)/stdfuctl
endif
	$(foreach m,$(INSTALL_MAN),$(call install_data,$(m),$(call man_dest,$(m))))
	$(foreach d,$(INSTALL_DOCS),$(call install_data,$(d),$(DESTDIR)$(DOCDIR)/$(notdir $(d))))
	$(INSTALL) -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/stdfu/manifest.d

# Removes what install put there; manifests an operator wrote in $(SYSCONFDIR)/stdfu stay (the
# directories go only when empty).
uninstall:
	rm -f $(installed_files)
	rmdir $(DESTDIR)$(SYSCONFDIR)/stdfu/manifest.d $(DESTDIR)$(SYSCONFDIR)/stdfu \
	    $(DESTDIR)$(DOCDIR) 2>/dev/null || true

.PHONY: install uninstall install-dirs-known

# make install / make uninstall. Included from the top-level Makefile after the fragments, so
# PROGRAMS is complete here. Everything is optional but the programs: files that other parts of
# the tree provide are installed when they exist ($(wildcard)).
#
#   make install DESTDIR=/tmp/root PREFIX=/usr
#
# Directories follow PREFIX; each can be overridden on the command line. With PREFIX=/usr the
# unit goes where this system's systemd looks for it (pkg-config systemd systemdsystemunitdir,
# /lib/systemd/system on Debian 12). Note that dbus-daemon reads policies only from
# /usr/share/dbus-1/system.d and /etc/dbus-1/system.d: with another PREFIX, set DBUSPOLICYDIR.

ifeq ($(PREFIX),/usr)
UNITDIR       ?= $(or $(shell pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null),/usr/lib/systemd/system)
else
UNITDIR       ?= $(PREFIX)/lib/systemd/system
endif
SYSUSERSDIR   ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR   ?= $(PREFIX)/lib/tmpfiles.d
UDEVRULESDIR  ?= $(PREFIX)/lib/udev/rules.d
DBUSPOLICYDIR ?= $(PREFIX)/share/dbus-1/system.d
DBUSIFACEDIR  ?= $(PREFIX)/share/dbus-1/interfaces
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
DOCDIR        ?= $(PREFIX)/share/doc/stdfu

INSTALL       ?= install

# Installed programs: the daemon and the client, when their fragments built them. stdfu-sim is
# a test tool and stays in the build tree (so does its man page).
INSTALL_SBIN  := $(filter $(B)/stdfud,$(PROGRAMS))
INSTALL_BIN   := $(filter $(B)/stdfuctl,$(PROGRAMS))
INSTALL_MAN   := $(filter-out man/stdfu-sim.1,$(wildcard man/*.[1-8]))
INSTALL_DOCS  := $(wildcard conf/manifest.example.yaml docs/firmware-guide.md)
INSTALL_COMPLETION := $(firstword $(wildcard cli/stdfuctl.bash-completion cli/stdfuctl.bash \
                        cli/completion/stdfuctl completion/stdfuctl))
INSTALL_POLICY := $(wildcard conf/io.stdfu1.conf)
INSTALL_IFACE  := $(wildcard conf/io.stdfu1.xml)

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
    $(if $(INSTALL_COMPLETION),$(DESTDIR)$(COMPLETIONDIR)/stdfuctl) \
    $(foreach m,$(INSTALL_MAN),$(call man_dest,$(m))) \
    $(foreach d,$(INSTALL_DOCS),$(DESTDIR)$(DOCDIR)/$(notdir $(d)))

install: $(INSTALL_SBIN) $(INSTALL_BIN)
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

.PHONY: install uninstall

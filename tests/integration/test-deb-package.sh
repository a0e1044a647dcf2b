#!/bin/bash
# `make deb` builds the Debian package from a copy of this tree, lintian finds no error in it,
# it holds everything stdfu installs, and its maintainer scripts do what they must when dpkg
# runs them in a scratch root made of this system's own files (overlays of /usr, /etc and /var
# in a private mount namespace, so the host is never touched): install creates the user and
# group stdfu, the manifest directories and enables stdfud.service (starting it is left to a
# running systemd, which a chroot has not); purge removes the package's files, the unit's
# enablement and the state directory, keeps what an administrator put in /etc/stdfu and keeps
# the system user, as Debian policy advises.
. "$(dirname "$0")/lib.sh"

unset MAKEFLAGS MFLAGS MAKELEVEL
[ "$(id -u)" = 0 ] || skip_all "needs root (chroot, overlay mounts)"
for tool in make dpkg-buildpackage dh dpkg-deb unshare chroot; do
    command -v $tool >/dev/null || skip_all "$tool not installed (tools/install-deps)"
done
unshare -m true 2>/dev/null || skip_all "cannot create a mount namespace"

# ---- make deb --------------------------------------------------------------------------
build=$T/build
make_deb() {
    make --no-print-directory -C "$SRCDIR" B="$build" deb >"$T/deb.log" 2>&1 || {
        tail -n 40 "$T/deb.log" | sed 's/^/#   /'; return 1; }
}
check "make deb builds the package (and lintian passes it, when installed)" make_deb
deb=$(ls "$build"/deb/stdfu_*.deb 2>/dev/null | head -n1)
[ -n "$deb" ] || { finish; exit; }
echo "# built ${deb##*/}"
if command -v lintian >/dev/null; then
    lintian --fail-on error,warning "$deb" >"$T/lintian.log" 2>&1
    check_eq "lintian: no error and no warning in the .deb (debian/rules lists what is kept)" 0 $?
    sed 's/^/#   lintian: /' "$T/lintian.log"
fi
version=$(make -s --no-print-directory -C "$SRCDIR" print-version)
check_eq "debian/changelog's version is the build's VERSION" "${version%%-*}" \
    "$(dpkg-parsechangelog -l "$SRCDIR/debian/changelog" -S Version | sed 's/-[^-]*$//')"

# ---- contents and metadata ----------------------------------------------------------------
dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|' | grep -v '/$' | sort >"$T/files"
unitdir=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null)
udevdir=$(pkg-config --variable=udevdir udev 2>/dev/null)
for f in /usr/sbin/stdfud /usr/bin/stdfuctl "${unitdir:-/lib/systemd/system}/stdfud.service" \
         /usr/lib/sysusers.d/stdfu.conf /usr/lib/tmpfiles.d/stdfu.conf \
         "${udevdir:-/usr/lib/udev}/rules.d/70-stdfu.rules" /usr/share/dbus-1/system.d/io.stdfu1.conf \
         /usr/share/dbus-1/interfaces/io.stdfu1.xml /usr/share/polkit-1/actions/io.stdfu1.policy \
         /usr/share/polkit-1/rules.d/50-stdfu.rules /usr/share/man/man8/stdfud.8.gz \
         /usr/share/man/man1/stdfuctl.1.gz /usr/share/man/man5/stdfu-manifest.5.gz \
         /usr/share/bash-completion/completions/stdfuctl \
         /usr/share/doc/stdfu/manifest.example.yaml.gz /usr/share/doc/stdfu/copyright; do
    check "the package holds $f" grep -qxF "$f" "$T/files"
done
check "no emulator, no test program in the package" bash -c '! grep -E "stdfu-sim|image-dump|/tests/" "$1"' _ "$T/files"
depends=$(dpkg-deb -f "$deb" Depends)
echo "# Depends: $depends"
for lib in libsystemd0 libudev1 libusb-1.0-0 libyaml-0-2 libssl3 zlib1g; do
    check "Depends names $lib (dpkg-shlibdeps)" grep -q "$lib" <<<"$depends"
done
check_eq "Recommends polkitd (the authorization of the mutating methods)" polkitd \
    "$(dpkg-deb -f "$deb" Recommends)"
mkdir -p "$T/control"
dpkg-deb -e "$deb" "$T/control"
check "postinst enables stdfud.service" grep -q "deb-systemd-helper enable 'stdfud.service'" \
    "$T/control/postinst"
check "postinst starts (on upgrade restarts) it under a running systemd" \
    grep -q "deb-systemd-invoke \$_dh_action 'stdfud.service'" "$T/control/postinst"
check "postinst creates the user before udev reloads the rules that name it" \
    awk '/systemd-sysusers stdfu.conf/ { u = NR } /udevadm control --reload-rules/ { r = NR }
         END { exit !(u && r && u < r) }' "$T/control/postinst"
check "postinst re-triggers usb and hidraw nodes" grep -q \
    'udevadm trigger --action=change --subsystem-match=usb --subsystem-match=hidraw' \
    "$T/control/postinst"
check "prerm stops the unit" grep -q "deb-systemd-invoke stop 'stdfud.service'" "$T/control/prerm"

# ---- maintainer scripts in a scratch root --------------------------------------------------
# The root: /usr, /etc and /var are overlays of this system's (its dpkg database says the
# dependencies are installed), /run and /tmp are empty (no systemd, no udev running there).
cat >"$T/inside.sh" <<'SH'
set -u
T=$1 deb=$2
R=$T/root
fact() { echo "$*" >>"$T/facts"; }
mkdir -p "$R"/{dev,proc,run,tmp}
for d in usr etc var; do
    mkdir -p "$R/$d" "$T/ov/$d/up" "$T/ov/$d/work"
    mount -t overlay overlay -o "lowerdir=/$d,upperdir=$T/ov/$d/up,workdir=$T/ov/$d/work" \
        "$R/$d" || exit 1
done
for l in bin sbin lib lib32 lib64 libx32; do
    if [ -L "/$l" ]; then ln -s "$(readlink "/$l")" "$R/$l"
    elif [ -d "/$l" ]; then mkdir -p "$R/$l" && mount --bind "/$l" "$R/$l"; fi
done
mount --bind /dev "$R/dev" && mount -t proc proc "$R/proc" &&
    mount -t tmpfs tmpfs "$R/run" && mount -t tmpfs tmpfs "$R/tmp" || exit 1
in_root() { chroot "$R" "$@"; }
cp "$deb" "$R/tmp/stdfu.deb"
userdel -R "$R" stdfu 2>/dev/null; groupdel -R "$R" stdfu 2>/dev/null

in_root dpkg -i /tmp/stdfu.deb >"$T/install.log" 2>&1; fact install_rc $?
fact status "$(in_root dpkg-query -W -f='${db:Status-Abbrev}' stdfu 2>/dev/null | tr -d ' ')"
fact user "$(in_root getent passwd stdfu | cut -d: -f1,6,7)"
fact group "$(in_root getent group stdfu | cut -d: -f1)"
fact user_group "$(in_root id -gn stdfu 2>/dev/null)"
[ -L "$R/etc/systemd/system/multi-user.target.wants/stdfud.service" ] && fact enabled yes
fact manifest_d "$(stat -c '%a %U' "$R/etc/stdfu/manifest.d" 2>/dev/null)"
fact daemon "$(in_root /usr/sbin/stdfud --version 2>&1 | head -n1)"
# What the daemon and an administrator leave before the purge.
mkdir -p "$R/var/lib/stdfu" && echo journal >"$R/var/lib/stdfu/journal"
echo "rules: []" >"$R/etc/stdfu/manifest.yaml"

in_root dpkg --purge stdfu >"$T/purge.log" 2>&1; fact purge_rc $?
[ -e "$R/usr/sbin/stdfud" ] && fact daemon_left yes
[ -e "$R/usr/lib/udev/rules.d/70-stdfu.rules" ] || [ -e "$R/lib/udev/rules.d/70-stdfu.rules" ] &&
    fact rules_left yes
[ -e "$R/var/lib/stdfu" ] && fact state_left yes
[ -L "$R/etc/systemd/system/multi-user.target.wants/stdfud.service" ] && fact enabled_left yes
[ -e "$R/etc/stdfu/manifest.yaml" ] && fact manifest_kept yes
fact user_after "$(in_root getent passwd stdfu | cut -d: -f1)"
fact dpkg_after "$(in_root dpkg-query -W -f='${db:Status-Abbrev}' stdfu 2>/dev/null)"

# Again, with nothing of the administrator's: purge leaves no /etc/stdfu at all.
rm -f "$R/etc/stdfu/manifest.yaml"
in_root dpkg -i /tmp/stdfu.deb >>"$T/install.log" 2>&1 && in_root dpkg --purge stdfu \
    >>"$T/purge.log" 2>&1; fact again_rc $?
[ -e "$R/etc/stdfu" ] && fact etc_left yes
exit 0
SH
host_sum=$(cat /etc/passwd /etc/group /var/lib/dpkg/status 2>/dev/null | md5sum)
: >"$T/facts"
unshare -m --propagation private bash "$T/inside.sh" "$T" "$deb"
check_eq "the scratch root is set up (overlays, chroot)" 0 $?
fact() { sed -n "s/^$1 //p" "$T/facts" | head -n1; }

check_eq "dpkg -i installs it in the scratch root" 0 "$(fact install_rc)"
[ "$(fact install_rc)" = 0 ] || sed 's/^/#   /' "$T/install.log"
check_eq "dpkg: installed and configured" ii "$(fact status)"
check_eq "postinst made the system user stdfu (home /var/lib/stdfu, no login shell)" \
    "stdfu:/var/lib/stdfu:/usr/sbin/nologin" "$(fact user)"
check_eq "postinst made the group stdfu, the user's group" "stdfu stdfu" \
    "$(fact group) $(fact user_group)"
check_eq "postinst enabled stdfud.service (multi-user.target.wants)" yes "$(fact enabled)"
check_eq "postinst made /etc/stdfu/manifest.d (tmpfiles), root's, 755" "755 root" \
    "$(fact manifest_d)"
check_eq "the installed stdfud runs there and names the version" "stdfud $version" \
    "$(fact daemon)"
check_eq "dpkg --purge succeeds" 0 "$(fact purge_rc)"
[ "$(fact purge_rc)" = 0 ] || sed 's/^/#   /' "$T/purge.log"
check_eq "purge: the package is gone from dpkg's database" "" "$(fact dpkg_after)"
check_eq "purge: no program, no rule left" "" "$(fact daemon_left)$(fact rules_left)"
check_eq "purge: the state directory /var/lib/stdfu is removed" "" "$(fact state_left)"
check_eq "purge: the unit's enablement is removed" "" "$(fact enabled_left)"
check_eq "purge: the administrator's manifest in /etc/stdfu is kept" yes "$(fact manifest_kept)"
check_eq "purge: the system user stays (Debian policy 9.2)" stdfu "$(fact user_after)"
check_eq "install and purge again, nothing of the administrator's" 0 "$(fact again_rc)"
check_eq "purge: then nothing is left in /etc/stdfu" "" "$(fact etc_left)"
check_eq "the host's passwd, group and dpkg database are untouched" "$host_sum" \
    "$(cat /etc/passwd /etc/group /var/lib/dpkg/status 2>/dev/null | md5sum)"
finish

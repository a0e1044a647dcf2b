#!/bin/bash
# `make install DESTDIR=... PREFIX=/usr` into a temporary root: every file in its standard place
# with the right mode and nothing else, the unit's ExecStart substituted, the unit clean under
# `systemd-analyze verify` and at most 2.0 in `systemd-analyze security`, the man pages
# carrying the version; PREFIX=/usr/local moves everything but what dbus-daemon and polkitd
# read only under /usr/share; another PREFIX is refused naming the variables to set; `make
# uninstall` removes it all again.
#
# The programs are installed as they are in $STDFU_BUILD; this test never builds them (make -o),
# so that it cannot mix objects of the normal and the sanitizer build.
. "$(dirname "$0")/lib.sh"

unset MAKEFLAGS MFLAGS MAKELEVEL
command -v make >/dev/null || skip_all "make not installed"

# skip_check DESCRIPTION REASON: a TAP line counted as skipped.
skip_check() {
    _tap_n=$((_tap_n + 1))
    echo "ok $_tap_n - $1 # SKIP $2"
}

# The programs the build defines, as make itself sees them (not as install.mk does).
programs=$(make -s --no-print-directory -C "$SRCDIR" B="$B" -f Makefile \
    -f <(printf 'print-programs:\n\t@echo $(PROGRAMS)\n') print-programs)
has_program() { [[ " $programs " == *" $B/$1 "* ]]; }

# make install/uninstall with the programs marked as up to date.
run_make() {
    local p keep=()
    for p in $programs; do keep+=(-o "$p"); done
    make --no-print-directory -C "$SRCDIR" B="$B" "${keep[@]}" "$@" >"$T/make.log" 2>&1 || {
        sed 's/^/#   /' "$T/make.log"; return 1; }
}

mode_is() { [ -e "$2" ] && [ "$(stat -c %a "$2")" = "$1" ]; }

# ---- the expected tree, from the sources --------------------------------------------------
unitdir=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null)
: "${unitdir:=/usr/lib/systemd/system}"
udevdir=$(pkg-config --variable=udevdir udev 2>/dev/null)
: "${udevdir:=/usr/lib/udev}"

declare -A expect_mode=() expect_src=()
expect() { expect_mode[$1]=$2; expect_src[$1]=${3:-}; }

for p in stdfud stdfuctl; do
    if has_program "$p"; then
        check "$p is built in $STDFU_BUILD (make programs first)" test -x "$B/$p"
    fi
done
# Without the programs every later check would fail for the same reason.
[ "$_tap_failed" -eq 0 ] || { finish; exit; }
has_program stdfud && expect /usr/sbin/stdfud 755 "$B/stdfud"
has_program stdfuctl && expect /usr/bin/stdfuctl 755 "$B/stdfuctl"
expect "$unitdir/stdfud.service" 644
expect /usr/lib/sysusers.d/stdfu.conf 644 "$SRCDIR/systemd/stdfu.sysusers"
expect /usr/lib/tmpfiles.d/stdfu.conf 644 "$SRCDIR/systemd/stdfu.tmpfiles"
expect "$udevdir/rules.d/70-stdfu.rules" 644 "$SRCDIR/conf/70-stdfu.rules"
[ -e "$SRCDIR/conf/io.stdfu1.conf" ] &&
    expect /usr/share/dbus-1/system.d/io.stdfu1.conf 644 "$SRCDIR/conf/io.stdfu1.conf"
[ -e "$SRCDIR/conf/io.stdfu1.policy" ] &&
    expect /usr/share/polkit-1/actions/io.stdfu1.policy 644 "$SRCDIR/conf/io.stdfu1.policy"
[ -e "$SRCDIR/conf/io.stdfu1.rules" ] &&
    expect /usr/share/polkit-1/rules.d/50-stdfu.rules 644 "$SRCDIR/conf/io.stdfu1.rules"
[ -e "$SRCDIR/conf/io.stdfu1.xml" ] &&
    expect /usr/share/dbus-1/interfaces/io.stdfu1.xml 644 "$SRCDIR/conf/io.stdfu1.xml"
for f in conf/manifest.example.yaml docs/firmware-guide.md; do
    [ -e "$SRCDIR/$f" ] && expect "/usr/share/doc/stdfu/${f##*/}" 644 "$SRCDIR/$f"
done
for f in cli/stdfuctl.bash-completion cli/stdfuctl.bash cli/completion/stdfuctl \
         completion/stdfuctl; do
    if [ -e "$SRCDIR/$f" ]; then
        expect /usr/share/bash-completion/completions/stdfuctl 644 "$SRCDIR/$f"
        break
    fi
done
# Man pages: the sources with the version in the .TH line's source field.
version=$(make -s --no-print-directory -C "$SRCDIR" print-version)
mkdir -p "$T/man"
for f in "$SRCDIR"/man/*.[1-8]; do
    [ -e "$f" ] || continue
    name=${f##*/}
    [ "$name" = stdfu-sim.1 ] && continue   # the emulator is not installed
    sed "/^\.TH /s/ stdfu / \"stdfu $version\" /" "$f" >"$T/man/$name"
    expect "/usr/share/man/man${name##*.}/$name" 644 "$T/man/$name"
done
check "the man pages name the version ($version) in their .TH line" \
    grep -q "^\.TH .* \"stdfu $version\" " "$T/man/stdfud.8"

# ---- PREFIX=/usr ---------------------------------------------------------------------------
D=$T/root
check "make install DESTDIR=... PREFIX=/usr succeeds" run_make install DESTDIR="$D" PREFIX=/usr

for path in $(printf '%s\n' "${!expect_mode[@]}" | sort); do
    check "$path installed with mode ${expect_mode[$path]}" mode_is "${expect_mode[$path]}" "$D$path"
    src=${expect_src[$path]}
    [ -n "$src" ] && check "$path is a copy of ${src#"$SRCDIR"/}" cmp -s "$src" "$D$path"
done
check "/etc/stdfu/manifest.d is an empty directory, mode 755" \
    bash -c '[ -d "$1" ] && [ -z "$(ls -A "$1")" ] && [ "$(stat -c %a "$1")" = 755 ]' _ \
    "$D/etc/stdfu/manifest.d"

unexpected=$(cd "$D" && find . ! -type d | sed 's/^\.//' | sort | while read -r f; do
    [ -n "${expect_mode[$f]:-}" ] || echo "$f"; done)
check_eq "no other file installed (stdfu-sim and its man page stay in the build)" "" \
    "$unexpected"

unit=$D$unitdir/stdfud.service
check_eq "unit ExecStart is the installed daemon" "ExecStart=/usr/sbin/stdfud" \
    "$(grep '^ExecStart=' "$unit" 2>/dev/null)"
check "no @PLACEHOLDER@ left in the unit" bash -c '! grep -n "@[A-Z_]*@" "$1"' _ "$unit"
check "no installed text names the build or the DESTDIR" \
    bash -c '! grep -rIl -e "$1" -e "$2" "$3"' _ "$D" "$B" "$D"

# ---- systemd-analyze on the installed unit -------------------------------------------------
if ! command -v systemd-analyze >/dev/null; then
    skip_check "systemd-analyze verify of the installed unit" "systemd-analyze not installed"
    skip_check "systemd-analyze security exposure at most 2.0" "systemd-analyze not installed"
else
    # verify needs ExecStart to exist: point it at the installed binary in DESTDIR.
    mkdir -p "$T/verify"
    daemon_bin=$D/usr/sbin/stdfud what="the installed daemon"
    if [ ! -x "$daemon_bin" ]; then
        daemon_bin=$T/stand-in/stdfud what="a stand-in binary (stdfud not written yet)"
        mkdir -p "${daemon_bin%/*}" && cp /bin/true "$daemon_bin"
    fi
    sed "s|^ExecStart=/usr/sbin/stdfud|ExecStart=$daemon_bin|" "$unit" >"$T/verify/stdfud.service"
    # Documentation=man:... is checked against the installed man pages when they all exist.
    man_opt=() missing=""
    for m in $(sed -n 's/^Documentation=//p' "$unit" | grep -o 'man:[^ ]*'); do
        page=${m#man:}; name=${page%(*}; sect=${page#*(}; sect=${sect%)}
        [ -e "$D/usr/share/man/man$sect/$name.$sect" ] || missing="$missing $page"
    done
    if [ -n "$missing" ]; then
        man_opt=(--man=no)
        skip_check "Documentation= man pages exist" "not written yet:$missing"
    fi
    verify() {
        MANPATH=$D/usr/share/man systemd-analyze verify "${man_opt[@]}" \
            "$T/verify/stdfud.service" >"$T/verify.log" 2>&1
        local rc=$?
        sed 's/^/#   /' "$T/verify.log"
        [ $rc -eq 0 ] && [ ! -s "$T/verify.log" ]
    }
    check "systemd-analyze verify: installed unit clean (ExecStart: $what)" verify

    systemd-analyze security --offline=yes "$unit" >"$T/security.log" 2>&1
    exposure=$(sed -n 's/.*Overall exposure level for stdfud.service: \([0-9.]*\).*/\1/p' \
        "$T/security.log")
    echo "# systemd-analyze security exposure: ${exposure:-none}"
    [ -n "$exposure" ] || sed 's/^/#   /' "$T/security.log"
    check "systemd-analyze security exposure ${exposure:-?} is at most 2.0" \
        awk -v e="${exposure:-99}" 'BEGIN { exit !(e + 0 <= 2.0) }'
fi

# ---- uninstall, and PREFIX=/usr/local ---------------------------------------------------
check "make uninstall succeeds" run_make uninstall DESTDIR="$D" PREFIX=/usr
check_eq "make uninstall leaves no file behind" "" "$(cd "$D" && find . ! -type d)"

L=$T/local
check "make install PREFIX=/usr/local succeeds" run_make install DESTDIR="$L" PREFIX=/usr/local
check_eq "PREFIX=/usr/local: ExecStart follows SBINDIR" "ExecStart=/usr/local/sbin/stdfud" \
    "$(grep -s '^ExecStart=' "$L/usr/local/lib/systemd/system/stdfud.service")"
check "PREFIX=/usr/local: rules, sysusers and tmpfiles under /usr/local/lib" test -f \
    "$L/usr/local/lib/udev/rules.d/70-stdfu.rules" -a -f "$L/usr/local/lib/sysusers.d/stdfu.conf" \
    -a -f "$L/usr/local/lib/tmpfiles.d/stdfu.conf"
check_eq "PREFIX=/usr/local: outside /usr/local only what dbus-daemon and polkitd read there" \
    "$(printf '%s\n' ./usr/share/dbus-1/system.d/io.stdfu1.conf \
        ./usr/share/polkit-1/actions/io.stdfu1.policy ./usr/share/polkit-1/rules.d/50-stdfu.rules)" \
    "$(cd "$L" && find . ! -type d | grep -v '^\./usr/local/' | sort)"
O=$T/opt
refused_install() { ! make --no-print-directory -C "$SRCDIR" B="$B" "${keep_programs[@]}" \
    install "$@" >"$T/make.log" 2>&1; }
keep_programs=()
for p in $programs; do keep_programs+=(-o "$p"); done
check "PREFIX=/opt/stdfu is refused" refused_install DESTDIR="$O" PREFIX=/opt/stdfu
check "PREFIX=/opt/stdfu: the refusal names UNITDIR and UDEVRULESDIR" \
    grep -q 'set UNITDIR SYSUSERSDIR TMPFILESDIR UDEVRULESDIR' "$T/make.log"
check_eq "PREFIX=/opt/stdfu: nothing installed" "" "$(find "$O" ! -type d 2>/dev/null)"
check "PREFIX=/opt/stdfu with the directories set succeeds" run_make install DESTDIR="$O" \
    PREFIX=/opt/stdfu UNITDIR=/usr/lib/systemd/system SYSUSERSDIR=/usr/lib/sysusers.d \
    TMPFILESDIR=/usr/lib/tmpfiles.d UDEVRULESDIR=/usr/lib/udev/rules.d
check "PREFIX=/opt/stdfu: the unit is where systemd reads it, ExecStart in /opt" grep -qx \
    ExecStart=/opt/stdfu/sbin/stdfud "$O/usr/lib/systemd/system/stdfud.service"
check "PREFIX=/usr/local: make uninstall succeeds" run_make uninstall DESTDIR="$L" PREFIX=/usr/local
check_eq "PREFIX=/usr/local: uninstall removes everything" "" "$(cd "$L" && find . ! -type d)"

finish

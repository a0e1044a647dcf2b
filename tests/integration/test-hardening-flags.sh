#!/bin/bash
# A build the way Debian's tooling makes it (dpkg-buildflags with hardening=+all, passed as
# CPPFLAGS, CFLAGS and LDFLAGS on make's command line) reaches the binaries: stdfud calls the
# fortified _chk variants of libc (-D_FORTIFY_SOURCE comes through CPPFLAGS only), has full
# RELRO (a GNU_RELRO segment and BIND_NOW) and is a PIE; stdfuctl too. The build goes to a
# directory of its own; `make` there builds the daemon and the client, nothing else.
. "$(dirname "$0")/lib.sh"

unset MAKEFLAGS MFLAGS MAKELEVEL
for tool in make dpkg-buildflags readelf nm; do
    command -v $tool >/dev/null || skip_all "$tool not installed"
done

flag() { DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get "$1"; }
cppflags=$(flag CPPFLAGS) cflags=$(flag CFLAGS) ldflags=$(flag LDFLAGS)
echo "# CPPFLAGS=$cppflags"
echo "# LDFLAGS=$ldflags"
check "dpkg-buildflags asks for _FORTIFY_SOURCE in CPPFLAGS" \
    grep -q -- '-D_FORTIFY_SOURCE' <<<"$cppflags"

build=$T/build
build() {
    make --no-print-directory -C "$SRCDIR" -j2 B="$build" WERROR=0 CPPFLAGS="$cppflags" \
        CFLAGS="$cflags" LDFLAGS="$ldflags" >"$T/make.log" 2>&1 || {
        tail -n 30 "$T/make.log" | sed 's/^/#   /'; return 1; }
}
check "make with dpkg-buildflags builds" build
check_eq "make builds stdfud and stdfuctl and no other program" "stdfuctl stdfud" \
    "$(cd "$build" && find . -maxdepth 1 -type f -perm -u+x -printf '%f\n' | sort | xargs)"
check "no emulator object was built" bash -c '! [ -e "$1/tests" ]' _ "$build"

for prog in stdfud stdfuctl; do
    bin=$build/$prog
    chk=$(nm -D "$bin" 2>/dev/null | grep -oE '__[a-z_]+_chk(@|$)' | tr -d @ | sort -u | xargs)
    echo "# $prog fortified calls: $chk"
    check "$prog calls fortified libc functions (_chk symbols)" test -n "$chk"
    check "$prog has a GNU_RELRO segment" grep -q GNU_RELRO <(readelf -lW "$bin")
    check "$prog is bound now (full RELRO)" grep -qE '\((FLAGS|FLAGS_1)\).*\b(BIND_NOW|NOW)\b' \
        <(readelf -dW "$bin")
    check "$prog is a PIE" grep -qE 'Type: +DYN' <(readelf -hW "$bin")
done
finish

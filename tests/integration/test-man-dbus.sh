#!/bin/bash
# stdfud(8) documents the whole D-Bus API: every method, property and signal of the
# introspection data in conf/io.stdfu1.xml (the file the daemon is tested against) appears in
# the man page's D-BUS INTERFACE section, and every error name the XML mentions too.
. "$(dirname "$0")/lib.sh"

xml=$SRCDIR/conf/io.stdfu1.xml
page=$SRCDIR/man/stdfud.8
[ -e "$xml" ] || skip_all "conf/io.stdfu1.xml not written yet"
command -v python3 >/dev/null || skip_all "python3 not installed"

python3 - "$xml" >"$T/members" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
for iface in root.iter("interface"):
    name = iface.get("name")
    if not name.startswith("io.stdfu1."):
        continue
    print("interface", name)
    for kind in ("method", "property", "signal"):
        for m in iface.findall(kind):
            print(kind, name + "." + m.get("name"))
PY
# Error names from the XML's comments.
grep -oE 'io\.stdfu1\.Error\.[A-Za-z]+' "$xml" | sort -u | sed 's/^/error /' >>"$T/members"
check "the introspection data names members" test "$(wc -l <"$T/members")" -gt 5

# The D-BUS INTERFACE section, unformatted text.
sed -n '/^\.SH "D-BUS INTERFACE"/,/^\.SH [^"D]/p' "$page" | sed 's/\\-/-/g; s/\\f[BIRP]//g' \
    >"$T/section"
check "stdfud(8) has a D-BUS INTERFACE section" test -s "$T/section"

while read -r kind full; do
    case $kind in
        interface|error) word=$full ;;
        *) word=${full##*.} ;;
    esac
    check "stdfud(8) documents $kind $full" grep -qE -- "(^|[^A-Za-z])$word([^A-Za-z]|$)" \
        "$T/section"
done <"$T/members"
finish

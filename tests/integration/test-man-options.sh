#!/bin/bash
# stdfud(8) stays true to the daemon: every long option `stdfud --help` lists is documented in
# the man page's OPTIONS section, every option documented there is accepted by the daemon, and
# the defaults the help text names appear in the man page.
. "$(dirname "$0")/lib.sh"

page=$SRCDIR/man/stdfud.8
[ -x "$DAEMON" ] || skip_all "stdfud not built in $STDFU_BUILD"
[ -e "$page" ] || skip_all "man/stdfud.8 missing"

"$DAEMON" --help >"$T/help.txt" 2>&1
check "stdfud --help exits 0" test $? -eq 0

help_opts=$(grep -oE '(^|[[:space:]])--[a-z][a-z-]*' "$T/help.txt" | tr -d ' \t' | sort -u)
# The OPTIONS section, with groff's \- turned into plain dashes.
sed -n '/^\.SH OPTIONS/,/^\.SH /p' "$page" | sed 's/\\-/-/g' >"$T/options.man"
man_opts=$(grep -oE -- '--[a-z][a-z-]*' "$T/options.man" | sort -u)

check "stdfud --help lists options" test -n "$help_opts"
for o in $help_opts; do
    check "$o (from --help) is documented in stdfud(8)" grep -qE -- "$o([^a-z-]|$)" "$T/options.man"
done
for o in $man_opts; do
    check "$o (from stdfud(8)) is a stdfud option" grep -qE -- "(^|[[:space:]])$o([[:space:]=]|$)" \
        "$T/help.txt"
done
# Defaults the help text names: paths verbatim, numbers as "default N".
sed 's/\\-/-/g' "$page" | tr '\n' ' ' >"$T/page.txt"
for d in $(grep -oE '\(default: [^)]*\)' "$T/help.txt" | sed 's/(default: //; s/)$//'); do
    case $d in
        /*) check "default path $d appears in stdfud(8)" grep -qF -- "$d" "$T/page.txt" ;;
        [0-9]*) check "default $d appears in stdfud(8)" grep -qE -- "default $d([^0-9]|$)" \
                    "$T/page.txt" ;;
    esac
done
finish

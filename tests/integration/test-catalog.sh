#!/bin/bash
# catalog/stdfu.catalog, as `make install` puts it in a root, is accepted by journalctl's
# catalog compiler (--update-catalog against a scratch root) and --list-catalog shows every
# MESSAGE_ID stdfud sends (daemon/journal-events.h) with its subject; and none that it does
# not send.
. "$(dirname "$0")/lib.sh"

requires journalctl make

R=$T/root
make -C "$SRCDIR" -s install DESTDIR="$R" PREFIX=/usr B="$B" >"$T/install.log" 2>&1 ||
    skip_all "make install failed: $(tail -3 "$T/install.log")"
cat=$R/usr/lib/systemd/catalog/stdfu.catalog
check "make install puts the catalog in /usr/lib/systemd/catalog" test -f "$cat"

journalctl --root "$R" --update-catalog >"$T/update.log" 2>&1
check "journalctl --update-catalog takes it" test $? -eq 0
check "without complaints" test ! -s "$T/update.log"
check "the binary database is written in the root" test -s "$R/var/lib/systemd/catalog/database"
journalctl --root "$R" --list-catalog >"$T/list.txt" 2>&1

ids=$(sed -n 's/^#define STDFU_MESSAGE_[A-Z_]* *"\([0-9a-f]\{32\}\)"$/\1/p' \
      "$SRCDIR/daemon/journal-events.h")
check "journal-events.h defines message ids" test "$(wc -w <<<"$ids")" -ge 4
for id in $ids; do
    check "--list-catalog has $id with a subject naming the port" \
        grep -qE "^$id stdfud? .*@STDFU_PORT@|^$id .*@STDFU_PORT@" "$T/list.txt"
done
listed=$(grep -c "STDFU_PORT" "$T/list.txt")
check_eq "no entry for an id stdfud does not send" "$(wc -w <<<"$ids")" "$listed"
# Each entry's text uses only fields stdfud sends with that id.
check "every @FIELD@ of the catalog is one stdfud(8) documents" bash -c '
    for f in $(grep -o "@[A-Z_]*@" "$1" | sort -u | tr -d @); do
        grep -q "^\.B[R]* $f\b\|\b$f\b" "$2" || { echo "# undocumented: $f"; exit 1; }
    done' _ "$cat" "$SRCDIR/man/stdfud.8"

finish

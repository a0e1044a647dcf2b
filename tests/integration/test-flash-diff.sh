#!/bin/bash
# stdfuctl flash is differential by default: it reads the touched pages back and erases and
# writes only those that do not hold the image. The emulator's report shows which pages were
# erased; the flash is the image byte for byte afterwards, changes at a sector's first and
# last byte included, on a 2 KiB-page F0, an F4 with 16-128 KiB sectors and a 2 KiB-page L4.
. "$(dirname "$0")/lib.sh"

requires stdfu-sim stdfuctl python3
PORT=1-1.1

# change IN OUT OFFSET...: a copy of IN with the byte at each OFFSET inverted.
change() {
    python3 - "$@" <<'PY'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
for off in sys.argv[3:]:
    data[int(off, 0)] ^= 0xff
open(sys.argv[2], "wb").write(data)
PY
}

# pyjson FILE EXPR: EXPR over the JSON document `r` in FILE.
pyjson() {
    python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
print(*eval(sys.argv[2]))' "$1" "$2" 2>&1
}

# flash image (padded with 0xFF to the flash size) as the report's flash_sha256 would be
flash_sha() {
    python3 -c 'import hashlib, sys
d = open(sys.argv[1], "rb").read()
print(hashlib.sha256(d + b"\xff" * (int(sys.argv[2]) - len(d))).hexdigest())' "$1" "$2"
}

# run_profile PROFILE SIZE A_OFF B_OFF PAGES_CHANGED...: a full flash of a fresh image, the
# same image with bytes changed at A_OFF and B_OFF, then that one again; PAGES_CHANGED are
# the indices of the pages that must have been erased a second time.
run_profile() {
    local p=$1 size=$2 a=$3 b=$4
    shift 4
    local d=$T/$p
    mkdir -p "$d"
    "$SIM" mkfw --version 2.0 --size "$size" -o "$d/v1.bin" >/dev/null
    change "$d/v1.bin" "$d/v2.bin" "$a" "$b"
    "$SIM" --report "$d/report.json" --device "port=$PORT,profile=$p,mode=bootloader,blank=1" \
        -- bash -c '
        ctl() { "$0" flash "$@" --address 0x08000000 --port '"$PORT"' --no-leave --json; }
        ctl "$1/v1.bin" >"$1/1.json" && ctl "$1/v2.bin" >"$1/2.json" &&
        ctl "$1/v2.bin" >"$1/3.json" && ctl "$1/v1.bin" --full >"$1/4.json"' "$CTL" "$d" \
        2>"$d/err" || { cat "$d/err"; }
    local n
    n=$(pyjson "$d/1.json" 'r["pages"]["read"],')
    check_eq "$p: the first flash reads all $n pages and writes them" \
        "0 $n $n" "$(pyjson "$d/1.json" 'r["pages"]["skipped"], r["pages"]["erased"], r["pages"]["written"]')"
    check_eq "$p: bytes changed at 0x$(printf %x "$a") and 0x$(printf %x "$b"): $# pages erased and written, the others skipped" \
        "$n $(($n - $#)) $# $#" \
        "$(pyjson "$d/2.json" 'r["pages"]["read"], r["pages"]["skipped"], r["pages"]["erased"], r["pages"]["written"]')"
    check_eq "$p: the same image again erases and writes nothing" "$n 0 0" \
        "$(pyjson "$d/3.json" 'r["pages"]["skipped"], r["pages"]["erased"], r["pages"]["written"]')"
    check_eq "$p: --full reads nothing and erases and writes every page" "False 0 $n $n" \
        "$(pyjson "$d/4.json" 'r["differential"], r["pages"]["read"], r["pages"]["erased"], r["pages"]["written"]')"
    # the emulator's count: 2 erases per page (first and --full flash) + 1 for changed ones
    local want
    want=$(python3 -c 'import sys
n, changed = int(sys.argv[1]), {int(x) for x in sys.argv[2:]}
print([2 + (i in changed) for i in range(n)])' "$n" "$@")
    check_eq "$p: the emulator erased the changed pages only, once more" "$want" \
        "$(pyjson "$d/report.json" 'r["devices"][0]["counters"]["erases_per_page"][:'"$n"'],')"
    local fsize
    fsize=$(pyjson "$d/report.json" 'r["devices"][0]["flash_size"],')
    check_eq "$p: the flash is the last image byte for byte" "$(flash_sha "$d/v1.bin" "$fsize")" \
        "$(pyjson "$d/report.json" 'r["devices"][0]["flash_sha256"],')"
}

# f072: 2 KiB pages; the first byte of page 3, the last of page 20
run_profile f072 65536 $((3 * 2048)) $((21 * 2048 - 1)) 3 20
# f407: 16, 16, 16, 16, 64, 128 KiB; the first byte of the 64 KiB sector, the last of the
# 128 KiB one
run_profile f407 262144 $((0x10000)) $((0x40000 - 1)) 4 5
# l476: 2 KiB pages; the last byte of page 0, the first of page 127
run_profile l476 262144 $((2048 - 1)) $((127 * 2048)) 0 127

# A device that starts with the image in its flash (stdfu-sim's flash=FILE, here a .dfu and a
# .hex of it): flashing it from the application erases and writes nothing, and the device is
# back in the application running it.
for fmt in dfu hex; do
    "$SIM" mkfw --version 3.0 --size 65536 -o "$T/start.$fmt" >/dev/null
done
"$SIM" mkfw --version 3.0 --size 65536 -o "$T/start.bin" >/dev/null
for fmt in dfu hex; do
    "$SIM" --report "$T/start-$fmt.json" \
        --device "port=$PORT,profile=l476,mode=application,flash=$T/start.$fmt" -- \
        "$CTL" flash "$T/start.bin" --address 0x08000000 --port "$PORT" --json \
        >"$T/start-$fmt.out" 2>"$T/start-$fmt.err"
    check_eq "flash=start.$fmt: the same image again from the application: 32 pages skipped" \
        "done 32 32 0 0" \
        "$(pyjson "$T/start-$fmt.out" 'r["outcome"], r["pages"]["read"], r["pages"]["skipped"], r["pages"]["erased"], r["pages"]["written"]')"
    check_eq "flash=start.$fmt: the emulator erased nothing, runs 3.0" "0 application 3.0" \
        "$(pyjson "$T/start-$fmt.json" 'r["devices"][0]["counters"]["erases"], r["devices"][0]["mode"], r["devices"][0]["version"]')"
done

finish

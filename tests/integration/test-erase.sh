#!/bin/bash
# stdfuctl erase: whole sectors of a range, or every erasable sector (--all), leave 0xFF and
# touch nothing else (the emulator's erase counters); a range that cuts a sector is refused
# before anything is erased; the device goes back to its application, unless the start of
# the flash was erased.
. "$(dirname "$0")/lib.sh"

requires stdfu-sim stdfuctl python3
PORT=1-1.1
cd "$T" || exit 1

# f407: 16, 16, 16, 16, 64, 128... KiB sectors; sector 5 is 0x08020000..0x0803ffff.
"$SIM" --report f407.json --device "port=$PORT,profile=f407,mode=application" -- bash -c '
    "$0" -q read --port '"$PORT"' -o before.bin || exit 10
    "$0" erase --port '"$PORT"' --address 0x08000100 --size 0x100 >cut.log 2>&1; echo $? >cut.rc
    "$0" erase --port '"$PORT"' --address 0x08020000 --size 0x20000 >erase.log 2>&1 || exit 11
    "$0" -q read --port '"$PORT"' -o after.bin || exit 12
' "$CTL" >sim.log 2>&1
check "f407: read, erase of sector 5 and read again ran" test $? = 0
check_eq "a range that cuts a sector: refused, exit 1" 1 "$(cat cut.rc)"
check "a range that cuts a sector: the error names the sector" \
    grep -q "0x08000100 is not the start of a sector: the sector there is 0x08000000" cut.log
check_eq "only sector 5 was erased, once" "[0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]" \
    "$(json f407.json "d['devices'][0]['counters']['erases_per_page']")"
check "sector 5 reads 0xFF, the rest as before" python3 -c '
import sys
a, b = open("before.bin", "rb").read(), open("after.bin", "rb").read()
s, e = 0x20000, 0x40000
sys.exit(not (b[s:e] == b"\xff" * (e - s) and a[:s] == b[:s] and a[e:] == b[e:]))'
check "erase from the application: back in it afterwards" \
    test "$(json f407.json "d['devices'][0]['mode']")" = application

# l476 --all: every page 0xFF; no application left to start, so it stays in the bootloader.
"$SIM" --report l476.json --device "port=$PORT,profile=l476,mode=application" -- \
    "$CTL" erase --port "$PORT" --all --json >all.json 2>all.err
check_eq "--all: exit 0, 512 pages, stays in the bootloader" "0 512 bootloader" \
    "$(json all.json "d['exit_code'], d['sectors_erased'], d['final_mode']")"
check "--all: the flash is all 0xFF" python3 -c '
import hashlib, json, sys
d = json.load(open("l476.json"))["devices"][0]
sys.exit(d["flash_sha256"] != hashlib.sha256(b"\xff" * d["flash_size"]).hexdigest())'
check "--all: every page erased once" python3 -c '
import json, sys
d = json.load(open("l476.json"))["devices"][0]
sys.exit(set(d["counters"]["erases_per_page"]) != {1})'

# Read protection: the ROM refuses the erase; the error says so.
"$SIM" --device "port=$PORT,profile=f072,mode=bootloader,rdp=1" -- \
    "$CTL" erase --port "$PORT" --all >rdp.log 2>&1
echo $? >rdp.rc
check_eq "read-protected: exit 5" 5 "$(cat rdp.rc)"
check "read-protected: named as such" grep -q "is read-protected" rdp.log

"$CTL" erase --port "$PORT" >usage.log 2>&1; echo $? >usage.rc
check_eq "neither --all nor a range: usage error" 2 "$(cat usage.rc)"

finish

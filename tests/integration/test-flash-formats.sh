#!/bin/bash
# stdfuctl flash writes every file format on every profile: .bin with --address, DfuSe .dfu
# from `stdfu-sim mkfw` and from dfu-util's dfuse-pack, raw+suffix .dfu from dfu-suffix, Intel
# hex from objcopy. After each run the emulator's flash is byte-identical to the image (the
# rest of flash erased) and the application runs the new version.
. "$(dirname "$0")/lib.sh"

[ -x "$SIM" ] && [ -x "$CTL" ] || skip_all "stdfu-sim or stdfuctl not built"
for tool in dfuse-pack dfu-suffix objcopy python3; do
    command -v "$tool" >/dev/null || skip_all "$tool not installed"
done

PORT=1-1.1
SIZE=20480 # more than the 16 KiB the emulator preloads, so the image replaces all of it

# dev REPORT EXPR: a Python expression on `d`, the report's device at $PORT.
dev() { sim_device "$1" "$PORT" "$2"; }

# flash_sha BIN PROFILE: SHA-256 of the whole flash holding BIN at its start, erased after it.
flash_sha() {
    python3 - "$1" "$2" <<'PY'
import hashlib, sys
sizes = {"f072": 128 << 10, "f407": 1 << 20, "l476": 1 << 20}
data = open(sys.argv[1], "rb").read()
print(hashlib.sha256(data + b"\xff" * (sizes[sys.argv[2]] - len(data))).hexdigest())
PY
}

# flash_case NAME PROFILE BIN FILE [OPTIONS...]: one run, device in the bootloader.
flash_case() {
    local name=$1 profile=$2 bin=$3 file=$4
    shift 4
    local report=$T/$name.json out=$T/$name.out rc=0
    "$SIM" --device "port=$PORT,profile=$profile,mode=bootloader" --report "$report" -- \
        "$CTL" flash "$file" --port "$PORT" "$@" >"$out" 2>&1 || rc=$?
    check_eq "$name: exit status" 0 "$rc"
    [ "$rc" = 0 ] || sed 's/^/#   /' "$out"
    check_eq "$name: flash is the image" "$(flash_sha "$bin" "$profile")" \
        "$(dev "$report" 'd["flash_sha256"]')"
    check_eq "$name: application runs 2.1" "application 2.1" \
        "$(dev "$report" 'd["mode"] + " " + d["version"]')"
}

for p in f072 f407 l476; do
    "$SIM" mkfw --version 2.1 --size $SIZE --seed 3 -o "$T/$p.bin" >/dev/null
    "$SIM" mkfw --version 2.1 --size $SIZE --seed 3 -o "$T/$p.dfu" >/dev/null
done
bin=$T/f072.bin # every profile's image is the same bytes (same version, size and seed)

# Every format on f072.
flash_case bin-address f072 "$bin" "$bin" --address 0x08000000
flash_case mkfw-dfu f072 "$bin" "$T/f072.dfu"
dfuse-pack -b "0x08000000:$bin" "$T/pack.dfu" >/dev/null
flash_case dfuse-pack f072 "$bin" "$T/pack.dfu"
cp "$bin" "$T/suffix.dfu"
dfu-suffix -v 0483 -p df11 -a "$T/suffix.dfu" >/dev/null
flash_case dfu-suffix f072 "$bin" "$T/suffix.dfu" --address 0x08000000
objcopy -I binary -O ihex --change-addresses 0x08000000 "$bin" "$T/objcopy.hex"
flash_case objcopy-hex f072 "$bin" "$T/objcopy.hex"

# Every profile.
flash_case f407-dfu f407 "$bin" "$T/f407.dfu"
flash_case l476-dfu l476 "$bin" "$T/l476.dfu"
flash_case l476-hex l476 "$bin" "$T/objcopy.hex"

# Elements that start or end inside a programming unit (F0 half-word, F4 word, L4 double word)
# and run over several transfers: padded with 0xff, the unit they share written once.
head -c 3001 /dev/urandom >"$T/odd.bin"
dfuse-pack -b "0x08000000:$bin" -b "0x08006001:$T/odd.bin" "$T/odd.dfu" >/dev/null
python3 - "$bin" "$T/odd.bin" "$T/odd-expected.bin" <<'PY'
import sys
app, odd = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
open(sys.argv[3], "wb").write(app + b"\xff" * (0x6001 - len(app)) + odd)
PY
for p in f072 f407 l476; do
    flash_case "odd-$p" "$p" "$T/odd-expected.bin" "$T/odd.dfu"
done

# --json: one object, the outcome and the versions in it.
"$SIM" --device "port=$PORT,profile=f072" --report "$T/json.json" -- \
    "$CTL" flash "$T/f072.dfu" --port "$PORT" --json >"$T/json.out" 2>"$T/json.err"
check_eq "--json: one result object" "done 0 1.0 2.1 dfuse" "$(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print(r["outcome"], r["exit_code"], r["old_version"], r["running_version"], r["format"])
' "$T/json.out" 2>&1)"

# The unit is the family's, told from the ROM's layouts: two small elements a byte apart, each
# starting or ending inside a unit. F0 (half-word) writes 0x08006000..3 and 0x08006004..5
# (4 + 2 bytes); F4 (word) and L4 (double word) one unit or two of 4, 8 bytes. The flash
# holds the same bytes either way; the emulator refuses a unit programmed twice.
printf '\x11\x22\x33' >"$T/a3.bin"
printf '\x44' >"$T/b1.bin"
dfuse-pack -b "0x08000000:$bin" -b "0x08006001:$T/a3.bin" -b "0x08006005:$T/b1.bin" \
    "$T/units.dfu" >/dev/null
python3 - "$bin" "$T/units-expected.bin" <<'PY'
import sys
app = open(sys.argv[1], "rb").read()
open(sys.argv[2], "wb").write(app + b"\xff" * (0x6001 - len(app)) + b"\x11\x22\x33\xff\x44")
PY
for case in f072:6 f407:8 l476:8; do
    p=${case%:*} pad=${case#*:} rc=0
    "$SIM" --device "port=$PORT,profile=$p,mode=bootloader" --report "$T/units-$p.json" -- \
        "$CTL" flash "$T/units.dfu" --port "$PORT" --json >"$T/units-$p.out" 2>&1 || rc=$?
    check_eq "units $p: done, $SIZE + $pad bytes written, as the emulator programmed" \
        "0 $((SIZE + pad)) $((SIZE + pad))" \
        "$rc $(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["bytes_written"])' \
            "$T/units-$p.out" 2>&1) $(dev "$T/units-$p.json" 'd["counters"]["bytes_written"]')"
    check_eq "units $p: flash holds the elements, the rest erased" \
        "$(flash_sha "$T/units-expected.bin" "$p")" "$(dev "$T/units-$p.json" 'd["flash_sha256"]')"
done

# DfuSe files with targets for several alts: test-flash-multi-target.sh.

finish

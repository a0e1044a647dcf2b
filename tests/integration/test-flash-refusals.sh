#!/bin/bash
# A bad or mismatched firmware file is refused with exit status 3 and a message naming the
# problem, and nothing is erased or written (the emulator's counters); usage errors exit 2; a
# missing device exits 4.
. "$(dirname "$0")/lib.sh"

[ -x "$SIM" ] && [ -x "$CTL" ] || skip_all "stdfu-sim or stdfuctl not built"
for tool in dfuse-pack dfu-suffix python3; do
    command -v "$tool" >/dev/null || skip_all "$tool not installed"
done

PORT=1-1.1

dev() { sim_device "$1" "$PORT" "$2"; }

# The whole flash of an untouched device, as the emulator reports it.
"$SIM" --device "port=$PORT,profile=f072" --report "$T/pristine.json" -- true
pristine=$(dev "$T/pristine.json" 'd["flash_sha256"]')

# refuse NAME PATTERN MODE FILE [OPTIONS...]: exit 3, message matches PATTERN, nothing erased
# or written, the flash as it was, the device still in MODE (an application is sent back to
# its application).
refuse() {
    local name=$1 pattern=$2 mode=$3 file=$4
    shift 4
    local report=$T/$name.json rc=0
    "$SIM" --device "port=$PORT,profile=f072,mode=$mode${EXTRA:+,$EXTRA}" --report "$report" -- \
        "$CTL" flash "$file" --port "$PORT" "$@" >"$T/$name.out" 2>"$T/$name.err" || rc=$?
    check_eq "$name: exit status 3" 3 "$rc"
    check "$name: message names the problem" grep -qiE "$pattern" "$T/$name.err"
    [ "$rc" = 3 ] || sed 's/^/#   /' "$T/$name.err"
    check_eq "$name: nothing erased or written" "0 0" \
        "$(dev "$report" 'sum(d["counters"]["erases_per_page"]), d["counters"]["bytes_written"]' |
            tr -d '(),')"
    check_eq "$name: device left as it was" "$mode 1.0" \
        "$(dev "$report" 'd["mode"] + " " + d["version"]')"
    check_eq "$name: flash unchanged" "$pristine" "$(dev "$report" 'd["flash_sha256"]')"
}

"$SIM" mkfw --version 2.0 --size 8192 -o "$T/fw.bin" >/dev/null
"$SIM" mkfw --version 2.0 --size 8192 -o "$T/fw.dfu" >/dev/null
head -c $((256 * 1024)) /dev/zero | tr '\0' '\377' >"$T/big.bin"

refuse too-big "past the end|outside|size|flash" bootloader "$T/big.bin" --address 0x08000000
refuse outside "0x20000000|outside" bootloader "$T/fw.bin" --address 0x20000000
refuse outside-from-app "0x20000000|outside" application "$T/fw.bin" --address 0x20000000

cp "$T/fw.bin" "$T/ids.dfu"
dfu-suffix -v 1234 -p 5678 -a "$T/ids.dfu" >/dev/null
refuse wrong-ids "1234|5678" bootloader "$T/ids.dfu" --address 0x08000000

cp "$T/fw.dfu" "$T/crc.dfu"
printf '\x00' | dd of="$T/crc.dfu" bs=1 seek=300 conv=notrunc 2>/dev/null
refuse bad-crc "crc" bootloader "$T/crc.dfu"

head -c 4096 "$T/fw.bin" >"$T/a.bin"
dfuse-pack -b "0x08000000:$T/fw.bin" -b "0x08001000:$T/a.bin" "$T/overlap.dfu" >/dev/null
refuse overlap "overlap" bootloader "$T/overlap.dfu"

refuse bin-without-address "address" bootloader "$T/fw.bin"

# Write-protected sectors (marked read-only in the layout string): refused before any erase,
# naming the address and the rule.
EXTRA=protect=2 refuse protected "0x08000000 is in a read-only sector" bootloader "$T/fw.bin" \
    --address 0x08000000
EXTRA=protect=2 refuse protected-page-1 "0x08000800 is in a read-only sector" application \
    "$T/fw.bin" --address 0x08000800

# Files are parsed by what they are, never guessed to be raw: with --address too (ELF and
# S-records carry their own addresses).
objcopy -I binary -O srec "$T/fw.bin" "$T/fw.s19"
refuse srec "S-record files carry their own addresses" application "$T/fw.s19" \
    --address 0x08000000
refuse srec-no-address "0x00000000" bootloader "$T/fw.s19"
printf '\177ELF\001\001\001\000\000\000\000\000\000\000\000\000\002\000\050\000' >"$T/fw.elf"
cat "$T/fw.bin" >>"$T/fw.elf"
refuse elf "ELF files carry their own addresses" application "$T/fw.elf" --address 0x08000000
cp "$T/fw.elf" "$T/elf-named.bin"
refuse elf-named-bin "ELF files carry their own addresses" bootloader "$T/elf-named.bin" \
    --address 0x08000000
refuse elf-broken "ELF (file|program headers)" bootloader "$T/fw.elf"
objcopy -I binary -O ihex --change-addresses 0x08000000 "$T/fw.bin" "$T/plain.hex"
{ printf '\357\273\277'; cat "$T/plain.hex"; } >"$T/bom.hex"
refuse bom-hex "byte order mark" application "$T/bom.hex"
refuse bom-hex-address "byte order mark" bootloader "$T/bom.hex" --address 0x08000000
# One sentence: what the file is, and what to do about it.
check_eq "bom-hex: the refusal reads as one sentence" \
    "stdfuctl flash: $T/bom.hex: this is an Intel hex file that starts with a UTF-8 byte order \
mark (EF BB BF), which stdfu does not read: remove the mark (the first three bytes) and flash \
it again" "$(cat "$T/bom-hex-address.err")"
gzip -c "$T/fw.bin" >"$T/fw.bin.gz"
refuse gzip "this is a gzip archive, which stdfu does not read: unpack it" bootloader \
    "$T/fw.bin.gz" --address 0x08000000
printf 'version 2.0 release notes\n' >"$T/notes.txt"
refuse text "is text" bootloader "$T/notes.txt" --address 0x08000000
cp "$T/fw.bin" "$T/fw.img"
refuse unnamed-raw "\\.bin|--format bin" application "$T/fw.img" --address 0x08000000
: >"$T/empty.bin"
refuse empty "empty" bootloader "$T/empty.bin" --address 0x08000000
refuse empty-dfu "empty" bootloader "$T/empty.bin" --format dfuse

# --format bin says what the name does not.
report=$T/forced.json
rc=0
"$SIM" --device "port=$PORT,profile=f072,mode=bootloader" --report "$report" -- \
    "$CTL" flash "$T/fw.img" --format bin --address 0x08000000 --port "$PORT" \
    >"$T/forced.out" 2>&1 || rc=$?
check_eq "--format bin: a raw file of any name is flashed" 0 "$rc"
check_eq "--format bin: the application runs the new version" "application 2.0" \
    "$(dev "$report" 'd["mode"] + " " + d["version"]')"
refuse missing-file "no such file|cannot" bootloader "$T/nonexistent.dfu"

# Usage errors: 2, without touching anything.
for args in "" "--enter bogus $T/fw.dfu" "--port 1- $T/fw.dfu" "--alt 300 $T/fw.dfu" \
            "--port 1-1.1 --device 0483:df11 $T/fw.dfu" "--leave-timeout x $T/fw.dfu" \
            "--format coff $T/fw.dfu"; do
    rc=0
    # shellcheck disable=SC2086
    "$CTL" flash $args >/dev/null 2>&1 || rc=$?
    check_eq "usage error exits 2: flash $args" 2 "$rc"
done

# No such device: 4.
rc=0
"$SIM" --device "port=$PORT,profile=f072" -- \
    "$CTL" flash "$T/fw.dfu" --port 1-1.5 >/dev/null 2>"$T/nodev.err" || rc=$?
check_eq "no device on the port: exit 4" 4 "$rc"
check "no device: message names the port" grep -q "1-1.5" "$T/nodev.err"

finish

#!/bin/bash
# Files made by other tools read back exactly by lib/image (through tests/tools/image-dump):
# DfuSe files from dfu-util's dfuse-pack (binaries, several targets, Intel hex input), DFU
# suffixes from dfu-suffix (plain and on DfuSe), Intel hex from objcopy; and the refusals a
# user meets with such files (no address, damaged CRC, wrong ids, out of the layout).
. "$(dirname "$0")/lib.sh"

DUMP=$B/tests/tools/image-dump
[ -x "$DUMP" ] || skip_all "image-dump not built ($DUMP)"
for tool in dfuse-pack dfu-suffix; do
    command -v $tool >/dev/null || skip_all "$tool not installed (Debian package dfu-util)"
done
OBJCOPY=$(command -v arm-none-eabi-objcopy || command -v objcopy) || skip_all "no objcopy"

cd "$T"
sha() { sha256sum "$1" | cut -d' ' -f1; }
# dump FILE [ARGS]: image-dump's output in $T/out, its errors in $T/err; returns its status.
dump() { "$DUMP" "$@" >out 2>err; }
field() { sed -n "s/^$1: //p" out; }
elements() { sed -n 's/^element: //p' out | tr '\n' ';'; }

# 70000 bytes cross 64 KiB boundaries (extended linear address records in hex, two F4
# sectors); 1000 bytes do not fill a page; 16 bytes of option bytes.
head -c 70000 /dev/urandom >a.bin
head -c 1000 /dev/urandom >b.bin
head -c 16 /dev/urandom >c.bin
A=$(sha a.bin) BB=$(sha b.bin) C=$(sha c.bin)

# ---- dfuse-pack: one binary ------------------------------------------------------------------
dfuse-pack -b 0x08000000:a.bin one.dfu >/dev/null
check "dfuse-pack file loads" dump one.dfu
check_eq "dfuse-pack: format" dfuse "$(field format)"
check_eq "dfuse-pack: default ids and bcdDFU in the suffix" \
    "vid=0483 pid=df11 device=0000 dfu=011a" "$(field suffix)"
check_eq "dfuse-pack: sha256 of the file" "$(sha one.dfu)" "$(field sha256)"
check_eq "dfuse-pack: the element is a.bin at 0x08000000" "0x08000000 70000 $A;" "$(elements)"
check_eq "dfuse-pack: target name" 'alt=0 name="ST..." elements=1' "$(field target)"

# ---- dfuse-pack: several elements and targets ------------------------------------------------
dfuse-pack -D 0x1209:0x5740 -b 0x08020000:b.bin -b 0x08000000:a.bin -b 0x1FFFC000@1:c.bin \
    multi.dfu >/dev/null
check "dfuse-pack's own parser finds no CRC error" \
    bash -c "! dfuse-pack -d multi.dfu | grep -q 'ERROR'"
check "multi-target file loads" dump multi.dfu
check_eq "multi: ids from -D" "vid=1209 pid=5740 device=0000 dfu=011a" "$(field suffix)"
check_eq "multi: two targets" 2 "$(field targets)"
check_eq "multi: elements sorted by address, option bytes in alt 1" \
    "0x08000000 70000 $A;0x08020000 1000 $BB;0x1fffc000 16 $C;" "$(elements)"
check_eq "multi: total bytes" 71016 "$(field total)"
check "multi: alt 1 is its own target" grep -qx 'target: alt=1 name="ST..." elements=1' out
check "multi: ids match 1209:5740" dump --ids 1209:5740 multi.dfu
check "multi: ids 0483:df11 refused" bash -c "! '$DUMP' --ids 0483:df11 multi.dfu >/dev/null 2>err"
check "multi: the refusal names both ids" \
    grep -q "multi.dfu: the file is for USB id 1209:5740 (DFU suffix) but the device is 0483:df11" \
    err

# ---- DfuSe refusals ------------------------------------------------------------------------------
cp one.dfu bad.dfu
printf '\xff' | dd of=bad.dfu bs=1 seek=1000 conv=notrunc status=none
check "a damaged DfuSe file is refused" bash -c "! '$DUMP' bad.dfu >/dev/null 2>err"
check "the refusal gives the CRC expected and found" \
    grep -qE '^image-dump: bad.dfu: bad DFU suffix CRC: expected 0x[0-9a-f]{8}, found 0x' err
head -c 40000 one.dfu >short.dfu
check "a truncated DfuSe file is refused" bash -c "! '$DUMP' short.dfu >/dev/null 2>err"
check "the refusal names the offset" grep -q 'short.dfu: truncated at offset 40000' err
check "--address with a DfuSe file is refused" \
    bash -c "! '$DUMP' --address 0x08000000 one.dfu >/dev/null 2>err"
check "the refusal says why" grep -q 'DfuSe files carry their own addresses' err

# ---- dfu-suffix ----------------------------------------------------------------------------------
cp a.bin plain.dfu
dfu-suffix -v 0483 -p df11 -d 0x0201 -a plain.dfu >/dev/null
check "dfu-suffix file with an address loads" dump --address 0x08004000 plain.dfu
check_eq "dfu-suffix: format" dfu "$(field format)"
check_eq "dfu-suffix: ids and bcdDFU" "vid=0483 pid=df11 device=0201 dfu=0100" "$(field suffix)"
check_eq "dfu-suffix: data without the suffix, at the address" "0x08004000 70000 $A;" \
    "$(elements)"
check "dfu-suffix file without an address is refused" \
    bash -c "! '$DUMP' plain.dfu >/dev/null 2>err"
check "the refusal asks for --address" grep -q 'plain.dfu: .*no address.*--address' err
cp a.bin any.dfu
dfu-suffix -a any.dfu >/dev/null
check "dfu-suffix without ids (ffff) fits any device" \
    dump --address 0x08000000 --ids 1234:5678 any.dfu
# dfu-suffix's CRC on a DfuSe file: strip dfuse-pack's suffix and let dfu-suffix add one
cp multi.dfu resuffixed.dfu
dfu-suffix -D resuffixed.dfu >/dev/null
dfu-suffix -v 0x1209 -p 0x5740 -S 0x011a -a resuffixed.dfu >/dev/null
check "DfuSe file with dfu-suffix's suffix loads" dump resuffixed.dfu
check_eq "... with the same elements" \
    "0x08000000 70000 $A;0x08020000 1000 $BB;0x1fffc000 16 $C;" "$(elements)"
check_eq "... and bcdDFU 0x011a" "vid=1209 pid=5740 device=ffff dfu=011a" "$(field suffix)"

# ---- objcopy Intel hex ---------------------------------------------------------------------------
"$OBJCOPY" -I binary -O ihex --change-addresses 0x08000000 a.bin a.hex
check "objcopy hex loads" dump a.hex
check_eq "hex: format" hex "$(field format)"
check_eq "hex: one element, identical to a.bin" "0x08000000 70000 $A;" "$(elements)"
check_eq "hex: start address record" 0x08000000 "$(field start)"
check_eq "hex: no suffix" none "$(field suffix)"
# two regions in one file: a.bin at 0x08000000 and b.bin at 0x08040000 (EOF record of the
# first dropped)
"$OBJCOPY" -I binary -O ihex --change-addresses 0x08040000 b.bin b.hex
grep -v '^:00000001FF' a.hex | grep -v '^:04000005' >ab.hex
cat b.hex >>ab.hex
check "hex with two regions loads" dump ab.hex
check_eq "hex: two elements" "0x08000000 70000 $A;0x08040000 1000 $BB;" "$(elements)"
check "--address with a hex file is refused" \
    bash -c "! '$DUMP' --address 0x08000000 a.hex >/dev/null 2>err"
# one data digit of line 5 changed, its checksum left as it was
awk 'NR == 5 { c = substr($0, 10, 1); $0 = substr($0, 1, 9) (c == "0" ? "1" : "0") substr($0, 11) }
     1' \
    a.hex >badsum.hex
check "a hex line with a bad checksum is refused" bash -c "! '$DUMP' badsum.hex >/dev/null 2>err"
check "the refusal names the line" grep -q 'badsum.hex: line 5: bad checksum' err
cat a.hex a.hex >twice.hex
check "two EOF records (files glued with cat) are refused" \
    bash -c "! '$DUMP' twice.hex >/dev/null 2>err"
check "the refusal names the line after EOF" grep -q 'data after the end-of-file record' err

# dfuse-pack -i (needs python3-intelhex): hex -> DfuSe -> same bytes
if /usr/bin/python3 -c 'import intelhex' 2>/dev/null; then
    dfuse-pack -i ab.hex fromhex.dfu >/dev/null
    check "dfuse-pack -i file loads" dump fromhex.dfu
    check_eq "dfuse-pack -i: same elements as the hex" \
        "0x08000000 70000 $A;0x08040000 1000 $BB;" "$(elements)"
else
    echo "# python3-intelhex missing: dfuse-pack -i not tested"
fi

# ---- raw binaries --------------------------------------------------------------------------------
check "a raw binary without --address is refused" bash -c "! '$DUMP' a.bin >/dev/null 2>err"
check "the refusal says so" grep -q 'a.bin: a raw binary has no address of its own.*--address' err
check "a raw binary with --address loads" dump --address 0x08000000 a.bin
check_eq "bin: one element" "0x08000000 70000 $A;" "$(elements)"

# ---- against layouts -----------------------------------------------------------------------------
F4="@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg"
F0="@Internal Flash  /0x08000000/064*0002Kg"
check "a.hex fits the F4 flash" dump --layout "$F4" a.hex
check_eq "sectors to erase: five, the last one 64 KiB" \
    "$(printf '0x%08x 16384 erase;' 0x08000000 0x08004000 0x08008000 0x0800c000
       )0x08010000 65536 erase;" \
    "$(sed -n 's/^sector: //p' out | tr '\n' ';')"
check "multi.dfu alt 1 fits the option bytes, written without erase" \
    dump --alt 1 --layout "@Option Bytes  /0x1FFFC000/01*016 e" multi.dfu
check_eq "option bytes: no erase" "0x1fffc000 16" "$(sed -n 's/^sector: //p' out)"
check "ab.hex does not fit the F0 flash" bash -c "! '$DUMP' --layout '$F0' ab.hex >/dev/null 2>err"
check "the refusal names the address" \
    grep -q 'ab.hex: element at 0x08040000..0x080403e7: 0x08040000 is outside "Internal Flash"' err
check "a.bin at the end of F0 flash runs past it" \
    bash -c "! '$DUMP' --address 0x08010000 --layout '$F0' a.bin >/dev/null 2>err"
check "the refusal names the first address past the end" grep -q '0x08020000 is past its end' err
check "a read-only sector is refused" \
    bash -c "! '$DUMP' --layout '@Flash /0x08000000/02*064Ka' a.hex >/dev/null 2>err"
check "the refusal names the sector" grep -q '0x08000000 is in a read-only sector' err

finish

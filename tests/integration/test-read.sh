#!/bin/bash
# stdfuctl read: the flash byte for byte (against the emulator's own hash and dfu-util -U, a
# DfuSe client nobody here wrote), as .bin, Intel HEX and S-records (read back by binutils'
# objcopy), from the application (entered, left again) or the bootloader (--no-leave); a
# read-protected device is named as such.
. "$(dirname "$0")/lib.sh"

requires stdfu-sim stdfuctl python3 dfu-util objcopy
PORT=1-1.1

cd "$T" || exit 1
"$SIM" --report report.json --device "port=$PORT,profile=f407,mode=application" -- bash -c '
    set -e
    "$0" read --port '"$PORT"' -o all.bin >read1.log 2>&1
    "$0" read --port '"$PORT"' --json -o all.json.bin >read-json.json 2>read-json.err
    "$0" read --port '"$PORT"' --address 0x08004000 --size 20000 -o part.hex --no-leave \
        >read2.log 2>&1
    "$0" read --port '"$PORT"' --address 0x08004000 --size 20000 -o part.srec --no-leave \
        >read3.log 2>&1
    timeout 60 dfu-util -p '"$PORT"' -a 0 -s 0x08000000:1048576 -U du.bin >du.log 2>&1
' "$CTL" >sim.log 2>&1
check "all reads and dfu-util -U ran" test $? = 0

check_eq "read: the flash's hash as the emulator reports it" \
    "$(json report.json "d['devices'][0]['flash_sha256']")" "$(sha256sum <all.bin | cut -d' ' -f1)"
check "read: the same bytes as dfu-util -U" cmp -s all.bin du.bin
check "read --json: the same bytes, outcome done, back in the application" \
    eval 'cmp -s all.bin all.json.bin && [ "$(json read-json.json "d[\"outcome\"], d[\"bytes\"], d[\"final_mode\"]")" = "done 1048576 application" ]'
check "read: the application was entered and left again" grep -q "leaving the bootloader" read1.log
check "read --no-leave: stays in the bootloader" \
    eval '! grep -q "leaving the bootloader" read2.log && [ "$(json report.json "d[\"devices\"][0][\"mode\"]")" = bootloader ]'

# The text formats, read back by binutils (which checks their checksums).
dd if=all.bin of=want.bin bs=1 skip=$((0x4000)) count=20000 2>/dev/null
objcopy -I ihex -O binary part.hex hex.bin 2>objcopy-hex.err
check "read -o .hex: Intel HEX that objcopy reads back as the range" cmp -s want.bin hex.bin
objcopy -I srec -O binary part.srec srec.bin 2>objcopy-srec.err
check "read -o .srec: S-records that objcopy reads back as the range" cmp -s want.bin srec.bin
check "read -o .srec: S3 data, an S5 count and an S7 start address" \
    eval 'grep -q "^S3" part.srec && grep -q "^S5" part.srec && grep -q "^S7" part.srec'

# Read protection: the ROM refuses UPLOAD; the error says so.
"$SIM" --device "port=$PORT,profile=f072,mode=bootloader,rdp=1" -- \
    "$CTL" read --port "$PORT" -o rdp.bin >rdp.log 2>&1
echo $? >rdp.rc
check_eq "read-protected: exit 5" 5 "$(cat rdp.rc)"
check "read-protected: named as such" grep -q "is read-protected" rdp.log
check "read-protected: no file written" test ! -e rdp.bin

# Usage: no port, --address without --size.
"$CTL" read -o x.bin >usage1.log 2>&1; echo $? >usage1.rc
check_eq "read without --port: usage error" 2 "$(cat usage1.rc)"
"$CTL" read --port "$PORT" --address 0x08000000 -o x.bin >usage2.log 2>&1; echo $? >usage2.rc
check_eq "read --address without --size: usage error" 2 "$(cat usage2.rc)"

finish

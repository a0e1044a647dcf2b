#!/bin/bash
# Fidelity on a real kernel: dfu-util 0.11, a DfuSe client nobody here wrote, lists the
# FunctionFS ROM's alternate settings with their layouts, downloads an image byte for byte,
# leaves, and the application comes back on its port running it.
. "$(dirname "$0")/../../integration/lib.sh"
. "$(dirname "$0")/../guest/lib.sh"
requires dfu-util

check_eq "the guest's dfu-util is 0.11" "dfu-util 0.11" "$(dfu-util -V 2>/dev/null | head -1)"
"$SIM" mkfw --version 2.1 --size 20000 --seed 7 -o "$T/fw.bin" >/dev/null

device_start rom dummy_udc.1 profile=f072,mode=bootloader
check "the ROM is on 2-1" wait_usb 2-1 0483:df11
timeout 60 dfu-util -l >"$T/list.log" 2>&1
check "dfu-util lists alt 0 with the F0's flash layout" \
    grep -q 'path="2-1", alt=0, name="@Internal Flash  /0x08000000/064\*0002Kg"' "$T/list.log"
check "and the option bytes as alt 1" grep -q 'path="2-1", alt=1, name="@Option Bytes' "$T/list.log"
rc=0
timeout 120 dfu-util -p 2-1 -a 0 -s 0x08000000:leave -D "$T/fw.bin" >"$T/dl.log" 2>&1 || rc=$?
check_eq "dfu-util downloads and leaves" 0 "$rc"
[ "$rc" = 0 ] || sed 's/^/#   /' "$T/dl.log"
check "the application comes back on 2-1" wait_usb 2-1 0483:5750
device_stop rom
check "the model's flash holds the image byte for byte" flash_is "$T/fw.bin" "$T/rom.flash"
check_eq "it runs the application 2.1" "application 2.1" "$(report rom mode) $(report rom version)"
check_eq "20000 bytes written, one leave" "20000 1" "$(report rom bytes_written) $(report rom leaves)"
finish

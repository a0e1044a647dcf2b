#!/bin/bash
# The model behind FunctionFS on a real kernel: the application enumerates as its HID device,
# usbhid gives it a hidraw node and a reader of that node gets its input reports; the ROM as
# 0483:df11 with the memory layouts as its alternate settings' strings; two devices on two
# dummy_hcd buses at once.
. "$(dirname "$0")/../../integration/lib.sh"
. "$(dirname "$0")/../guest/lib.sh"

device_start app dummy_udc.0 profile=f072,mode=application,version=1.3
device_start rom dummy_udc.1 profile=f407,mode=bootloader
check "the application enumerates as 0483:5750 on 1-1" wait_usb 1-1 0483:5750
check "the ROM enumerates as 0483:df11 on 2-1" wait_usb 2-1 0483:df11
check_eq "the application's bcdDevice is its version" 0103 "$(cat /sys/bus/usb/devices/1-1/bcdDevice)"
check_eq "the ROM's product string" "STM32  BOOTLOADER" "$(cat /sys/bus/usb/devices/2-1/product)"
check "usbhid bound the application's interface" test -e /sys/bus/usb/devices/1-1:1.0/driver
hidraw=$(ls /sys/bus/usb/devices/1-1:1.0/*/hidraw 2>/dev/null | head -1)
check "a hidraw node for it" test -n "$hidraw" -a -c "/dev/$hidraw"
# The application's loopback: output report 1, written to hidraw, goes out on the interrupt
# OUT endpoint; the model echoes it as input report 1 on the interrupt IN endpoint, which
# usbhid polls while the node is open.
check "a hidraw reader gets the application's input report" python3 -c '
import os, select, sys
fd = os.open(sys.argv[1], os.O_RDWR)
report = bytes([1]) + bytes(range(0x40, 0x40 + 63))
os.write(fd, report)
if not select.select([fd], [], [], 10)[0]:
    sys.exit("# no input report within 10 s")
got = os.read(fd, 64)
sys.exit(0 if got == report else "# input report " + got.hex())' "/dev/$hidraw"
check_eq "alt 0 names the F4's flash layout" "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg" \
    "$(cat /sys/bus/usb/devices/2-1:1.0/interface 2>/dev/null)"
check "the ROM is full speed" test "$(cat /sys/bus/usb/devices/2-1/speed)" = 12
device_stop app
device_stop rom
check_eq "the application was enumerated once" 1 "$(report app enumerations)"
finish

#!/bin/bash
# `stdfuctl flash` run by root, the service stopped, against the model behind FunctionFS: the
# installed client finds the application by its port through the real sysfs and udev, sends
# ST's HID detach feature report through the real hidraw node, waits for the ROM to enumerate,
# flashes over usbfs and leaves; the model's flash is then the image and its application runs it.
. "$(dirname "$0")/../../integration/lib.sh"
. "$(dirname "$0")/../guest/lib.sh"
CTL=$(command -v stdfuctl)
SIZE=20480

"$SIM" mkfw --version 2.0 --size $SIZE -o "$T/fw.dfu" >/dev/null
"$SIM" mkfw --version 2.0 --size $SIZE -o "$T/fw.bin" >/dev/null

# the product is installed (its unit too, under systemd), but nothing else drives the device
if [ -d /run/systemd/system ]; then
    check "the service is stopped" sh -c '! systemctl -q is-active stdfud.service'
fi
device_start dev dummy_udc.0 profile=f072,mode=application,version=1.0
check "the application 1.0 is on 1-1" wait_usb 1-1 0483:5750
rc=0
timeout 300 "$CTL" flash "$T/fw.dfu" --port 1-1 --json >"$T/flash.json" 2>"$T/flash.err" || rc=$?
check_eq "stdfuctl flash exits 0" 0 "$rc"
[ "$rc" = 0 ] || { sed 's/^/#   /' "$T/flash.err" "$T/flash.json"; }
check "the application is back on 1-1" wait_usb 1-1 0483:5750
check_eq "it reports 2.0 in bcdDevice" 0200 "$(cat /sys/bus/usb/devices/1-1/bcdDevice 2>/dev/null)"
device_stop dev
check "the model's flash holds the image" flash_is "$T/fw.bin" "$T/dev.flash"
check_eq "the model runs the application 2.0" "application 2.0" "$(report dev mode) $(report dev version)"
check_eq "entered by ST's HID detach, left once" "st-hid-detach 1 1" \
    "$(json "$T/flash.json" "d.get('entered_with')") $(json "$T/flash.json" "d.get('leaves')") $(report dev leaves)"
finish

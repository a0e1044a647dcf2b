#!/bin/bash
# lsusb -v (usbutils), which reads sysfs and asks each device over usbfs, decodes the emulated
# bus: the ROM bootloader (DFU functional descriptor), the HID application, the hub and the
# root hub; libusb gives every device its port path.
. "$(dirname "$0")/lib.sh"
command -v lsusb >/dev/null || skip_all "usbutils not installed"

cd "$T"
"$SIM" --device port=1-1.1,mode=bootloader --device port=1-1.2,mode=application \
       -- sh -c 'lsusb -v 2>&1; echo; lsusb -t 2>&1' >lsusb.log 2>&1
check_eq "stdfu-sim and lsusb exit 0" 0 $?

block() { # VID:PID: that device's part of lsusb -v
    awk -v id="$1" '/^Bus [0-9]+ Device/ { on = index($0, "ID " id) > 0 } on' lsusb.log
}
block 0483:df11 >dfu.txt
block 0483:5750 >app.txt
block 0424:2517 >hub.txt
block 1d6b:0002 >root.txt

check "bootloader: product string" grep -q 'iProduct .*STM32  BOOTLOADER' dfu.txt
check "bootloader: DFU functional descriptor" grep -q 'Device Firmware Upgrade Interface Descriptor' dfu.txt
check "bootloader: bmAttributes 0x0B (11)" grep -q -E 'bmAttributes +11$' dfu.txt
check "bootloader: wTransferSize 2048" grep -q -E 'wTransferSize +2048 bytes' dfu.txt
check "bootloader: bcdDFUVersion 1.1a" grep -q -E 'bcdDFUVersion +1.1a' dfu.txt
check "bootloader: alt setting strings" grep -q 'iInterface .*@Internal Flash  /0x08000000/064\*0002Kg' dfu.txt
check "application: HID device descriptor" grep -q 'HID Device Descriptor' app.txt
check "application: report descriptor length" grep -q -E 'wDescriptorLength +[1-9]' app.txt
check "application: interrupt endpoint" grep -q 'Transfer Type            Interrupt' app.txt
check "hub: hub descriptor" grep -q '^Hub Descriptor:' hub.txt
check "hub: per-port power switching" grep -q 'Per-port power switching' hub.txt
check "hub: both devices connected" test "$(grep -c -E 'Port [12]: .*connect' hub.txt)" = 2
check "root hub: hub descriptor, no power switching" grep -q 'No power switching' root.txt
check "root hub: the hub is connected, high speed" grep -q -E 'Port 1: .*highspeed power enable connect' root.txt
check "lsusb -t: the tree" grep -q -E '\|__ Port 2: Dev [0-9]+, If 0' lsusb.log
check "lsusb -t: drivers (xhci_hcd, hub, usbhid)" sh -c "grep -q 'Driver=xhci_hcd/15p' lsusb.log &&
    grep -q 'Driver=hub/7p' lsusb.log && grep -q -E 'Port 2: .*Driver=usbhid' lsusb.log"

"$SIM" --hub ganged --device mode=bootloader -- lsusb -v >ganged.log 2>&1
check "ganged hub: ganged power switching" grep -q 'Ganged power switching' ganged.log
"$SIM" --hub none --device mode=application -- lsusb -t >none.log 2>&1
check "--hub none: the device on root port 1" grep -q -E '\|__ Port 1: Dev 2, If 0' none.log
finish

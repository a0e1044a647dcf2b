#!/bin/bash
# The usbfs node answers read() and lseek() with the device's descriptors as the kernel does,
# so clients that wrap an fd they opened themselves (libusb_wrap_sys_device, as fwupd 2.x does)
# find the device; and fwupdtool (Debian's fwupd, dfu plugin) sees the emulated ROMs as it
# sees real ones.
#
# What fwupd 2.0.20 supports here is enumeration: it parses the configuration descriptor
# itself and takes the descriptor that follows each DFU interface as that interface's
# functional descriptor. ST's ROMs (and the emulator) send every alt setting first and one
# functional descriptor after the last, so fwupd swallows alt 1, never reads wTransferSize
# (2048) and falls back to 64-byte transfers, which a DfuSe ROM places wTransferSize apart
# (block N at pointer + (N - 2) * 2048): its writes and reads land in the wrong place and
# `fwupdtool install-blob` ends in errTARGET, on a real ROM as here. So writing is not tested
# with fwupdtool; dfu-util and stdfuctl cover it.
. "$(dirname "$0")/lib.sh"
requires stdfu-sim python3

cd "$T"
WRAP=$B/tests/sim/tools/usb-wrap
[ -x "$WRAP" ] || skip_all "usb-wrap not built"

# ---- read() and lseek() of the usbfs node ----------------------------------------------------
"$SIM" --device port=1-1.1,mode=bootloader --device port=1-1.2,mode=application -- sh -c "
    $WRAP 1-1.1 >wrap-boot.out 2>&1; echo \$? >wrap-boot.rc
    $WRAP 1-1.2 >wrap-app.out 2>&1; echo \$? >wrap-app.rc
    cat /sys/bus/usb/devices/1-1.1/descriptors | wc -c >boot.len
    cat /sys/bus/usb/devices/1-1.2/descriptors | wc -c >app.len" >sim.log 2>&1
check_eq "stdfu-sim ran the wrap script" 0 $?
check_eq "bootloader: read() of the node and libusb_wrap_sys_device agree" 0 "$(cat wrap-boot.rc)"
check_eq "bootloader: read() gives the sysfs descriptors, all of them" \
    "raw $(cat boot.len) 0483:df11" "$(sed -n 1p wrap-boot.out)"
check_eq "bootloader: libusb finds configuration 1 active through the fd" \
    "wrapped 0483:df11 bcdDevice 2200 configs 1 interfaces 1" "$(sed -n 2p wrap-boot.out)"
check_eq "application: read() and libusb_wrap_sys_device agree" 0 "$(cat wrap-app.rc)"
check_eq "application: read() gives the sysfs descriptors" \
    "raw $(cat app.len) 0483:5750" "$(sed -n 1p wrap-app.out)"

# ---- fwupdtool ---------------------------------------------------------------------------------
command -v fwupdtool >/dev/null || { echo "# fwupdtool not installed: fwupd part skipped"; finish; exit; }
"$SIM" --device port=1-1.1,mode=bootloader --device port=1-1.3,profile=f407,mode=bootloader \
       --device port=1-1.2,mode=application -- \
    timeout 120 fwupdtool get-devices --plugins dfu --json >fwupd.json 2>fwupd.err
check_eq "fwupdtool get-devices exits 0 under stdfu-sim" 0 $?
fw() { python3 -c "import json,sys; d=json.load(open('fwupd.json'))['Devices']; print($1)"; }
check_eq "fwupdtool: the two ROMs, not the HID application" 2 "$(fw 'len(d)')"
check_eq "fwupdtool: instance id, protocol, serial, version from bcdDevice" \
    "USB\\VID_0483&PID_DF11 com.st.dfuse FFFFFFFEFFFF 22.0" \
    "$(fw "' '.join([d[0]['InstanceIds'][0], d[0]['Protocols'][0], d[0]['Serial'], d[0]['Version']])")"
check "fwupdtool: an updatable bootloader" \
    test "$(fw "'updatable' in d[0]['Flags'] and 'is-bootloader' in d[0]['Flags']")" = True
check_eq "fwupdtool: plugin dfu for both" "dfu dfu" "$(fw "' '.join(x['Plugin'] for x in d)")"
finish

#!/bin/bash
# Port power on dummy_hcd's root hub, which switches power per port: the model behind
# FunctionFS sees its port's power as the root hub reports it. Both ways of switching it work:
#   - the port's sysfs `disable` attribute (the kernel sends the hub ClearPortFeature itself);
#   - hub class CLEAR/SET_FEATURE(PORT_POWER) over usbfs, as stdfu does on a real hub: the
#     seed's case, a device that vanishes after leave, recovered by `stdfuctl flash` with a
#     power cycle.
. "$(dirname "$0")/../../integration/lib.sh"
. "$(dirname "$0")/../guest/lib.sh"
CTL=$(command -v stdfuctl)

gone() { # PORT [SECONDS]
    local i
    for ((i = 0; i < ${2:-30} * 10; i++)); do
        [ -e "/sys/bus/usb/devices/$1" ] || return 0
        nap 0.1
    done
    return 1
}

# ---- the sysfs `disable` attribute of the root hub's port ----------------------------------
device_start a dummy_udc.2 profile=f072,mode=application,version=1.0
check "the application is on 3-1" wait_usb 3-1 0483:5750
disable=/sys/bus/usb/devices/3-0:1.0/usb3-port1/disable
check "the root hub's port has a disable attribute" test -w "$disable"
echo 1 >"$disable"
check "disable=1: the device goes" gone 3-1
nap 1 # off for a while, as a power cycle is (the emulator polls the port every 50 ms)
echo 0 >"$disable"
check "disable=0: it comes back powered up" wait_usb 3-1 0483:5750
device_stop a
check_eq "the model saw one power cycle and booted twice" "1 2" "$(report a power_cycles) $(report a boots)"

# ---- hub class PORT_POWER from stdfu: vanish after leave, recovered ------------------------
"$SIM" mkfw --version 2.0 --size 20480 -o "$T/fw.dfu" >/dev/null
"$SIM" mkfw --version 2.0 --size 20480 -o "$T/fw.bin" >/dev/null
device_start v dummy_udc.3 profile=f072,mode=application,version=1.0,leave=vanish
check "the application is on 4-1" wait_usb 4-1 0483:5750
rc=0
timeout 300 "$CTL" flash "$T/fw.dfu" --port 4-1 --json >"$T/flash.json" 2>"$T/flash.err" || rc=$?
check_eq "stdfuctl flash recovers the vanished device (exit 0)" 0 "$rc"
[ "$rc" = 0 ] || sed 's/^/#   /' "$T/flash.err" "$T/flash.json"
check "the application is back on 4-1" wait_usb 4-1 0483:5750
device_stop v
check "the flash holds the image" flash_is "$T/fw.bin" "$T/v.flash"
check_eq "application 2.0 after one power cycle through the root hub" "application 2.0 1" \
    "$(report v mode) $(report v version) $(report v power_cycles)"
check_eq "stdfuctl says it power-cycled once" 1 "$(json "$T/flash.json" "d.get('power_cycles')")"
finish

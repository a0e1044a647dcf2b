#!/bin/bash
# Hotplug as libudev clients see it under stdfu-sim: the uevents of an HID-report jump (the
# application goes, the bootloader comes on the same port), of a port power cycle through the
# emulated per-port-switching hub (uhubctl, like on real hardware, and the control socket), with
# several devices and two monitoring processes at once.
. "$(dirname "$0")/lib.sh"
TOOLS=$B/tests/sim/tools

cd "$T"
cat >ctl.py <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall((sys.argv[2] + "\n").encode())
buf = b""
while not any(l.startswith((b"ok", b"error")) for l in buf.split(b"\n")[:-1]):
    chunk = s.recv(4096)
    if not chunk:
        break
    buf += chunk
sys.stdout.write(buf.decode())
PY

cat >scenario.sh <<SCRIPT
set -u
M=$TOOLS/udev-monitor
wait_for() { for i in \$(seq 500); do [ -e "\$1" ] && return 0; sleep 0.01; done; return 1; }

# 0. hidraw I/O: output reports by write(), input reports by poll() and read()
$TOOLS/hid-detach 1-1.1 --echo >echo.log 2>&1; echo \$? >echo.rc

# 0b. detaching usbhid (libusb auto-detach claim) takes the hid devices away, release brings them
\$M --ready r0 --count 6 --timeout 10 >unbind.log & m=\$!
wait_for r0
$TOOLS/usb-poke 1-1.1 claim >claim.log 2>&1; echo \$? >claim.rc
wait \$m

# 1. the HID detach report on 1-1.1
\$M --ready r1 --count 6 --timeout 10 >jump.log & m=\$!
wait_for r1
$TOOLS/hid-detach 1-1.1 >detach.log 2>&1
wait \$m
$TOOLS/usb-wait 1-1.1 0483:df11 5 >/dev/null

# 2. uhubctl power-cycles port 2 of the hub at 1-1
\$M --ready r2 --count 8 --timeout 10 >uhubctl-events.log & m=\$!
wait_for r2
uhubctl -l 1-1 -p 2 -a cycle -d 0.3 >uhubctl.log 2>&1
wait \$m

# 3. the control socket power-cycles port 3
\$M --ready r3 --count 8 --timeout 10 >control-events.log & m=\$!
wait_for r3
python3 ctl.py ctl.sock "power-cycle 1-1.3 200" >control.log
wait \$m

# 4. two monitoring processes, and two devices jumping at once; a third monitor reads nothing
#    for a second, so more uevents queue up for it than a default datagram queue holds (10)
\$M --ready r4a --count 12 --timeout 10 >two-a.log & a=\$!
\$M --ready r4b --count 12 --timeout 10 >two-b.log & b=\$!
\$M --ready r4c --count 12 --timeout 10 --delay 1 >slow.log & c=\$!
wait_for r4a; wait_for r4b; wait_for r4c
$TOOLS/hid-detach 1-1.2 >/dev/null 2>&1 & $TOOLS/hid-detach 1-1.3 >/dev/null 2>&1
wait \$a \$b \$c
SCRIPT
"$SIM" --device port=1-1.1 --device port=1-1.2 --device port=1-1.3 --control ctl.sock \
       --report report.json -- bash scenario.sh >run.log 2>&1
check_eq "stdfu-sim ran the scenario" 0 $?

check_eq "hidraw: write(), poll(), read() of reports" 0 "$(cat echo.rc)"
check "hidraw: HIDIOCGRAWINFO/GRAWNAME/GRAWPHYS" \
    grep -q 'bus=3 0483:5750 name="STMicroelectronics .*" phys=usb-0000:00:14.0-1.1/input0' echo.log
check_eq "claim: BUSY while usbhid is bound, then detach, claim, release" 0 "$(cat claim.rc)"
check_eq "claim: usbhid unbound and bound again, as the kernel tells it" \
"remove hidraw - hidraw0
remove hid - 0003:0483:5750.0001
unbind usb usb_interface 1-1.1:1.0
add hid - 0003:0483:5750.0004
add hidraw - hidraw0
bind usb usb_interface 1-1.1:1.0" "$(cat unbind.log)"
check_eq "HID jump: the application goes, children first; the bootloader comes, parent first" \
"remove hidraw - hidraw0
remove hid - 0003:0483:5750.0004
remove usb usb_interface 1-1.1:1.0
remove usb usb_device 1-1.1 483/5750/100
add usb usb_device 1-1.1 483/df11/2200
add usb usb_interface 1-1.1:1.0" "$(cat jump.log)"

# hid devices are numbered on, hidraw minors are the lowest free one (hidraw0 went with 1-1.1)
power_cycle_events() { # PORT OLD-HIDRAW OLD-HID NEW-HID NEW-HIDRAW
    printf '%s\n' "remove hidraw - $2" "remove hid - 0003:0483:5750.$3" \
        "remove usb usb_interface $1:1.0" "remove usb usb_device $1 483/5750/100" \
        "add usb usb_device $1 483/5750/100" "add usb usb_interface $1:1.0" \
        "add hid - 0003:0483:5750.$4" "add hidraw - $5"
}
check "uhubctl sees the ppps hub" grep -q 'ppps' uhubctl.log
check_eq "uhubctl power cycle: remove and add of the application" \
    "$(power_cycle_events 1-1.2 hidraw1 0002 0005 hidraw0)" "$(cat uhubctl-events.log)"
check_eq "control socket power-cycle answered" ok "$(cat control.log)"
check_eq "control socket power cycle: remove and add of the application" \
    "$(power_cycle_events 1-1.3 hidraw2 0003 0006 hidraw1)" "$(cat control-events.log)"
check_eq "two monitors: both see all 12 events" "12 12" "$(wc -l <two-a.log) $(wc -l <two-b.log)"
check_eq "two monitors: the same events" "$(sort two-a.log)" "$(sort two-b.log)"
check_eq "a slow monitor gets the whole burst (and the harness survives)" 12 "$(wc -l <slow.log)"
check "several devices: both ports came back as bootloaders" \
    test "$(grep -c 'add usb usb_device 1-1.[23] 483/df11' two-a.log)" = 2
check_eq "report: three bootloaders" "bootloader bootloader bootloader" \
    "$(json report.json "' '.join(x['mode'] for x in d['devices'])")"
check_eq "report: power cycles counted" "0 1 1" \
    "$(json report.json "' '.join(str(x['counters']['power_cycles']) for x in d['devices'])")"
finish

#!/bin/bash
# stdfu-sim's own interface: exit status and report, default device, scenario files (and their
# errors), the control socket's commands, and the firmware files of `stdfu-sim mkfw` as
# dfu-util's and binutils' tools read them.
. "$(dirname "$0")/lib.sh"
TOOLS=$B/tests/sim/tools

cd "$T"
# stdfu-sim's testbed tmpfs is mounted on $STDFU_SIM_MOUNT_DIR/stdfu-sim.XXXXXX (/tmp by
# default); every run removes its own. This test's runs get a directory of their own, so that
# other stdfu-sims on the machine (other tests, other builds) do not count. Under /tmp, not $T:
# umockdev's socket paths must stay short.
MOUNT_DIR=$(mktemp -d /tmp/stdfu-mp.XXXXXX)
trap 'rc=$?; rm -rf "$MOUNT_DIR"; (exit $rc); _cleanup' EXIT
export STDFU_SIM_MOUNT_DIR=$MOUNT_DIR
mount_points() { ls -A "$MOUNT_DIR"; }
"$SIM" -- sh -c 'grep -c " $STDFU_SIM_MOUNT_DIR/stdfu-sim\.[^ /]* " /proc/self/mountinfo' \
    >own.log 2>&1
check_eq "the testbed is mounted under \$STDFU_SIM_MOUNT_DIR" 1 "$(tail -n 1 own.log)"
cat >ctl.py <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
for cmd in sys.argv[2:]:
    s.sendall((cmd + "\n").encode())
    buf = b""
    while not any(l.startswith((b"ok", b"error")) for l in buf.split(b"\n")[:-1]):
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
    sys.stdout.write(buf.decode())
PY

# ---- exit status, report, default device ---------------------------------------------------
"$SIM" --report fail.json -- sh -c 'exit 3'
check_eq "COMMAND's exit status passes through" 3 $?
check_eq "report written although COMMAND failed; default device f072 application on 1-1.1" \
    "1-1.1 f072 application 1.0" \
    "$(json fail.json "' '.join(str(d['devices'][0][k]) for k in ('port', 'profile', 'mode', 'version'))")"
"$SIM" --hub none --report none.json -- true
check_eq "--hub none: default device on root port 1-1, no hub" "1-1 none" \
    "$(json none.json "d['devices'][0]['port'] + ' ' + d['hub']['kind']")"
"$SIM" --device port=1-1,profile=f072 -- true 2>bad-port.log
check "a device on the hub's own port is refused" grep -q 'port 1-1 holds a hub' bad-port.log
"$SIM" --device profile=f999 -- true 2>bad-profile.log
check_eq "an unknown profile is refused with status 2" 2 $?
check "and named" grep -q "f999" bad-profile.log

# ---- scenario ------------------------------------------------------------------------------
cat >scenario.yaml <<'YAML'
hub: ppps
devices:
  - port: 1-1.2
    profile: l476
    mode: bootloader
  - {port: 1-1.5, profile: f072}
events:
  - at: 100
    do: unplug 1-1.5
YAML
"$SIM" --scenario scenario.yaml --report scenario.json -- \
    sh -c "$TOOLS/usb-wait 1-1.5 none 5 && $TOOLS/usb-wait 1-1.2 0483:df11 5" >scenario.log 2>&1
check_eq "scenario: devices, and the timed unplug happened" 0 $?
check_eq "scenario: report" "1-1.2 l476 bootloader True 1-1.5 f072 off False" \
    "$(json scenario.json "' '.join('%s %s %s %s' % (x['port'], x['profile'], x['mode'], x['plugged']) for x in d['devices'])")"
printf 'hub: ppps\ndevices:\n  - port: 1-1.2\n    leave: sideways\n' >bad.yaml
"$SIM" --scenario bad.yaml -- true 2>bad-yaml.log
check "scenario errors name file:line:column" grep -q 'bad.yaml:4:12: ' bad-yaml.log
printf 'hub: ppps\nevents:\n  - at: soon\n    do: plug 1-1.1\n' >bad2.yaml
"$SIM" --scenario bad2.yaml -- true 2>bad-yaml2.log
check "scenario: a bad time is named" grep -q "bad2.yaml:3:9: 'at' is a time in milliseconds" bad-yaml2.log
check_eq "no run leaves its testbed's mount point behind, not even a refused one" \
    "" "$(mount_points)"

# ---- control socket --------------------------------------------------------------------------
cat >control.sh <<SCRIPT
python3 ctl.py ctl.sock status "unplug 1-1.1" >c1.log
$TOOLS/usb-wait 1-1.1 none 5 >/dev/null || echo "unplug did not remove 1-1.1" >>c1.log
python3 ctl.py ctl.sock "unplug 1-1.1" "plug 1-1.1" >c2.log
$TOOLS/usb-wait 1-1.1 0483:5750 5 >/dev/null || echo "plug did not bring 1-1.1 back" >>c2.log
python3 ctl.py ctl.sock "add port=1-1.4,profile=f407,mode=bootloader" "fault 1-1.4 rdp=1" \
    "fault 1-1.4 colour=blue" "power-off 1-1.9" "frobnicate" status >c3.log
$TOOLS/usb-wait 1-1.4 0483:df11 5 >/dev/null || echo "add did not enumerate 1-1.4" >>c3.log
SCRIPT
"$SIM" --control ctl.sock --report control.json -- bash control.sh >control.log 2>&1
check_eq "control script" 0 $?
check_eq "status, unplug" "1-1.1 f072 application 1.0 plugged devnum=3
ok
ok" "$(cat c1.log)"
check_eq "unplug twice is an error, plug" "error: 1-1.1 is already unplugged
ok" "$(cat c2.log)"
check "add answers with the port" grep -qx 'ok 1-1.4' c3.log
check_eq "fault, unknown key, bad port, unknown command" "4" \
    "$(grep -c -E '^ok$|^error: .*colour|^error: bad port .1-1.9.|^error: unknown command' c3.log)"
check "status lists the added device" grep -q '^1-1.4 f407 bootloader' c3.log
check_eq "report: rdp set at run time, replug counted" "True 2" \
    "$(json control.json "'%s %d' % (d['devices'][1]['read_protected'], d['devices'][0]['counters']['enumerations'])")"

# ---- USB reset: enumerated again in place --------------------------------------------------
"$SIM" --device mode=bootloader --report reset.json -- $TOOLS/usb-poke 1-1.1 reset >reset.log 2>&1
check_eq "usbfs RESET, then a request on the same handle" 0 $?
check "the device keeps its address" grep -q 'before: devnum=3' reset.log
check "the device keeps its address after" grep -q 'after: devnum=3' reset.log
check_eq "report: one reset, enumerated again, still the bootloader" "1 2 bootloader" \
    "$(json reset.json "'%d %d %s' % (d['devices'][0]['counters']['resets'], d['devices'][0]['counters']['enumerations'], d['devices'][0]['mode'])")"

# ---- mkfw ----------------------------------------------------------------------------------
"$SIM" mkfw --version 1.2 --size 6000 --seed 3 -o a.bin &&
    "$SIM" mkfw --version 1.2 --size 6000 --seed 3 -o a.dfu &&
    "$SIM" mkfw --version 1.2 --size 6000 --seed 3 --base 0x08004000 -o a.hex
check_eq "mkfw writes all three" 0 $?
check "mkfw: the DFU suffix CRC checks out (dfu-suffix)" sh -c 'dfu-suffix -c a.dfu 2>&1 | grep -q "0x0483"'
dfuse-pack -d a.dfu >dump.log 2>&1
check "mkfw: dfuse-pack reads one target 'ST...' with one element at 0x08000000" \
    sh -c "grep -q \"alt setting: 0, name: \\\"b'ST...'\\\"\" dump.log && grep -q 'address: 0x08000000, size: 6000' dump.log"
check "mkfw: the DfuSe element is the image" cmp -s a.dfu.target0.image0.bin a.bin
if command -v arm-none-eabi-objcopy >/dev/null; then
    arm-none-eabi-objcopy -I ihex -O binary a.hex hex.bin
    check "mkfw: objcopy reads the hex back" test -s hex.bin
    check "mkfw: a .hex at another base holds an image made for it" \
        test "$(head -c 16 hex.bin | od -An -tx1 | tr -d ' \n')" != "$(head -c 16 a.bin | od -An -tx1 | tr -d ' \n')"
fi
check "mkfw: the hex has a start linear address record" grep -q '^:04000005' a.hex
"$SIM" mkfw --version 1.2 --size 100 -o small.bin 2>small.log
check "mkfw: a size too small for the header is refused" grep -q 'out of range' small.log
"$SIM" mkfw --version 1.2 --size 6000 -o a.elf 2>elf.log
check "mkfw: an unknown extension is refused" grep -q 'must end in .bin, .dfu or .hex' elf.log
finish

#!/bin/bash
# dfu-util fails cleanly under each fault stdfu-sim injects: a non-zero exit, a DFU or USB
# error, no hang (each run is bounded by timeout; 124 would mean it hung).
. "$(dirname "$0")/lib.sh"
command -v dfu-util >/dev/null || skip_all "dfu-util not installed"

cd "$T"
"$SIM" mkfw --version 3.0 --size 20000 -o fw.bin

cat >faults.sh <<'SCRIPT'
for port in 1-1.1 1-1.2 1-1.3 1-1.4; do
    timeout 30 dfu-util -p $port -a 0 -s 0x08000000:leave -D fw.bin >dl-$port.log 2>&1
    echo "$port $?"
done >status.txt
SCRIPT
"$SIM" --device port=1-1.1,mode=bootloader,unplug-at=8000 \
       --device port=1-1.2,mode=bootloader,write-error-at=2 \
       --device port=1-1.3,mode=bootloader,stall-status=2 \
       --device port=1-1.4,mode=bootloader,rdp=1 --report faults.json -- bash faults.sh >run.log 2>&1
check_eq "stdfu-sim ran the script" 0 $?

status() { sed -n "s/^$1 //p" status.txt; }
failed_cleanly() { # PORT: non-zero, and not killed by timeout
    local s
    s=$(status "$1")
    [ -n "$s" ] && [ "$s" != 0 ] && [ "$s" != 124 ]
}
check "unplug-at: dfu-util fails, no hang" failed_cleanly 1-1.1
check "unplug-at: dfu-util reports the lost transfer" grep -q -E 'Error during download|LIBUSB_ERROR' dl-1-1.1.log
check_eq "unplug-at: the device is gone" off "$(json faults.json "d['devices'][0]['mode']")"
check_eq "unplug-at: 8000 bytes were programmed before" 8000 \
    "$(json faults.json "d['devices'][0]['counters']['bytes_written']")"

check "write-error-at: dfu-util fails, no hang" failed_cleanly 1-1.2
check "write-error-at: dfu-util shows errWRITE" grep -q 'unable to write memory' dl-1-1.2.log
check_eq "write-error-at: the ROM is in dfuERROR/errWRITE" "dfuERROR errWRITE" \
    "$(json faults.json "d['devices'][1]['dfu_state'] + ' ' + d['devices'][1]['dfu_status']")"

check "stall-status: dfu-util fails, no hang" failed_cleanly 1-1.3
check "stall-status: dfu-util sees the stall" grep -q 'LIBUSB_ERROR_PIPE' dl-1-1.3.log

check "rdp: dfu-util fails, no hang" failed_cleanly 1-1.4
check "rdp: dfu-util reports the failed command" grep -q 'not correctly executed' dl-1-1.4.log
check_eq "rdp: nothing was written" 0 "$(json faults.json "d['devices'][3]['counters']['bytes_written']")"
check_eq "rdp: still read protected" True "$(json faults.json "d['devices'][3]['read_protected']")"

# ---- the faults the fault matrix needs -------------------------------------------------------
TOOLS=$B/tests/sim/tools
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
PY
# dl NAME PORT [ARGS]: one bounded dfu-util download of fw.bin, its status in NAME.rc
cat >dl.sh <<'SCRIPT'
dl() {
    local name=$1 port=$2
    shift 2
    timeout 60 dfu-util -p "$port" -a 0 -s 0x08000000 -D fw.bin "$@" >"$name.log" 2>&1
    echo $? >"$name.rc"
}
up() { # NAME PORT: read the first 20000 bytes back
    timeout 60 dfu-util -p "$2" -a 0 -s 0x08000000:20000 -U "$1.up" >"$1-up.log" 2>&1
}
SCRIPT
cat >faults2.sh <<'SCRIPT'
. ./dl.sh
dl erase 1-1.1
dl stuck-f072 1-1.2; up stuck-f072 1-1.2
dl stuck-f407 1-1.3
dl timeout 1-1.4
dl start-error 1-1.5
dl power-loss 1-1.6
$TOOLS/usb-wait 1-1.6 none 5 >/dev/null && echo gone >power-loss.state
python3 ctl.py ctl.sock "power-cycle 1-1.6"
$TOOLS/usb-wait 1-1.6 0483:df11 10 >/dev/null && echo bootloader >>power-loss.state
dl times-1 1-1.7; dl times-2 1-1.7; dl times-3 1-1.7
dl always-1 1-2; dl always-2 1-2
SCRIPT
TOOLS=$TOOLS "$SIM" --control ctl.sock \
       --device port=1-1.1,mode=bootloader,erase-error-at=2 \
       --device port=1-1.2,mode=bootloader,stuck-bit-at=0x08000100 \
       --device port=1-1.3,profile=f407,mode=bootloader,stuck-bit-at=0x08000100 \
       --device port=1-1.4,mode=bootloader,timeout-status=1 \
       --device port=1-1.5,mode=bootloader,start-error=1 \
       --device port=1-1.6,mode=bootloader,power-loss-at-erase=1 \
       --device port=1-1.7,mode=bootloader,erase-error-at=1,fault-times=2 \
       --device port=1-2,mode=bootloader,erase-error-at=1,fault-times=always \
       --report faults2.json -- env TOOLS="$TOOLS" bash faults2.sh >run2.log 2>&1
check_eq "stdfu-sim ran the second script" 0 $?

rc() { cat "$1.rc" 2>/dev/null; }
devq() { # PORT EXPR on d
    python3 -c "import json,sys; d=next(x for x in json.load(open('faults2.json'))['devices'] if x['port']==sys.argv[1]); print($2)" "$1"
}
failed() { local s; s=$(rc "$1"); [ -n "$s" ] && [ "$s" != 0 ] && [ "$s" != 124 ]; }

check "erase-error-at: dfu-util fails, no hang" failed erase
check_eq "erase-error-at: the ROM is in dfuERROR/errERASE" "dfuERROR errERASE" \
    "$(devq 1-1.1 "d['dfu_state'] + ' ' + d['dfu_status']")"
check_eq "erase-error-at: the failed page was not erased" "1 0" \
    "$(devq 1-1.1 "' '.join(str(x) for x in d['counters']['erases_per_page'][:2])")"

check_eq "stuck-bit-at on f072: the ROM says nothing, dfu-util succeeds" 0 "$(rc stuck-f072)"
check_eq "stuck-bit-at on f072: read back, one byte differs, at 0x100" "[256]" "$(python3 -c '
import sys
a, b = open("fw.bin", "rb").read(), open("stuck-f072.up", "rb").read()
print([i for i in range(len(a)) if a[i] != b[i]])')"
check "stuck-bit-at on f407: dfu-util fails, no hang" failed stuck-f407
check_eq "stuck-bit-at on f407: the ROM reports errVERIFY" "dfuERROR errVERIFY" \
    "$(devq 1-1.3 "d['dfu_state'] + ' ' + d['dfu_status']")"

check "timeout-status: dfu-util fails, no hang" failed timeout
check "timeout-status: dfu-util saw a timeout" grep -qi 'timeout\|timed out' timeout.log

check_eq "start-error: dfu-util clears the status and succeeds" 0 "$(rc start-error)"
check_eq "start-error: the image is written" "bootloader 3.0" \
    "$(devq 1-1.5 "d['mode'] + ' ' + d['version']")"

check "power-loss-at-erase: dfu-util fails, no hang" failed power-loss
check_eq "power-loss-at-erase: the device went off, then came back in the ROM" \
    "gone bootloader" "$(tr '\n' ' ' <power-loss.state | sed 's/ $//')"
check_eq "power-loss-at-erase: the ROM runs, no application (header half-erased)" \
    "bootloader None" "$(devq 1-1.6 "d['mode'] + ' ' + str(d['image_size'])")"

outcome() { local s; s=$(rc "$1"); case $s in 0) echo ok ;; 124 | "") echo hung ;; *) echo fail ;; esac; }
check_eq "fault-times=2: fails twice, then works (transient)" "fail fail ok" \
    "$(outcome times-1) $(outcome times-2) $(outcome times-3)"
check_eq "fault-times=always: fails every time (persistent)" "fail fail" \
    "$(outcome always-1) $(outcome always-2)"
finish

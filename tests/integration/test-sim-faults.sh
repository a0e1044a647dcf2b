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
finish

#!/bin/bash
# A fleet: two hubs (--hub given twice) and 16 devices on hub and root ports, as `make bench`
# uses them; the device limit and why it is what it is (umockdev's 50 emulated fds per process).
. "$(dirname "$0")/lib.sh"
command -v lsusb >/dev/null || skip_all "usbutils not installed"
command -v dfu-util >/dev/null || skip_all "dfu-util not installed"

cd "$T"
# 14 devices without port= fill 1-1.1 .. 1-1.7, 1-2.1 .. 1-2.6 and then root port 1-3; two
# more name a hub port and the last root port.
args=(--hub ppps --hub ganged --device port=1-2.7,mode=bootloader
      --device port=1-15,mode=bootloader)
for _ in $(seq 14); do args+=(--device mode=bootloader); done
expected=$(printf '%s\n' 1-1.{1..7} 1-2.{1..7} 1-3 1-15 | sort)

"$SIM" "${args[@]}" --report report.json -- sh -c '
    dfu-util -l >dfu.log 2>&1; lsusb >lsusb.log 2>&1; lsusb -t >tree.log 2>&1
    ls -d /sys/devices/pci0000:00/0000:00:14.0/usb1/1-2/1-2.3 \
          /sys/devices/pci0000:00/0000:00:14.0/usb1/1-15 >sys.log 2>&1' >sim.log 2>&1
check_eq "stdfu-sim with 16 devices exits 0" 0 $?
check_eq "dfu-util -l finds all 16 on their ports" "$expected" \
    "$(sed -n 's/^Found DFU: .*path="\([^"]*\)", alt=0,.*/\1/p' dfu.log | sort)"
check_eq "lsusb lists 16 bootloaders" 16 "$(grep -c 'ID 0483:df11' lsusb.log)"
check_eq "lsusb lists both hubs" 2 "$(grep -c -E 'ID (0424:2517|1a40:0201)' lsusb.log)"
check "lsusb -t: a 15-port root hub, two 7-port hubs" sh -c \
    "grep -q 'Driver=xhci_hcd/15p' tree.log && test \$(grep -c 'Driver=hub/7p' tree.log) = 2"
check "lsusb -t: 7 devices under each hub, 2 on root ports" python3 -c '
import re, sys
depth = {}
for line in open("tree.log"):
    m = re.match(r"( *)\|__ Port (\d+):", line)
    if m:
        depth.setdefault(len(m.group(1)), []).append(int(m.group(2)))
sys.exit(not (sorted(depth[4]) == [1, 2, 3, 15] and sorted(depth[8]) == sorted(list(range(1, 8)) * 2)))'
check "sysfs: a device under its hub's directory, one on root port 15" \
    test "$(grep -c '^/sys/devices' sys.log)" = 2
check_eq "report: the 16 devices on their ports" "$expected" \
    "$(json report.json "'\n'.join(x['port'] for x in d['devices'])" | sort)"
check_eq "report: the hubs, their kinds and ports" "ppps 1-1 ganged 1-2 | ppps" \
    "$(json report.json "' '.join(h['kind'] + ' ' + h['port'] for h in d['hubs']) + ' | ' + d['hub']['kind']")"

# The limit: 23 devices. A program that opens every node of 23 applications (usbfs + hidraw
# each, the root hub and both hubs) holds 49 emulated fds, umockdev's /dev/null the 50th.
app=(--hub ppps --hub ganged)
for _ in $(seq 23); do app+=(--device mode=application); done
"$SIM" "${app[@]}" -- python3 -c '
import glob, os
nodes = sorted(glob.glob("/dev/bus/usb/001/*")) + sorted(glob.glob("/dev/hidraw*"))
print(len([os.open(p, os.O_RDWR) for p in nodes]))' >max.log 2>&1
max_rc=$?
check_eq "23 applications: every usbfs and hidraw node open at once" 49 "$(tail -n 1 max.log)"
# The client exits with 49 connections umockdev's worker may not have accepted yet: the
# teardown must wait for their handlers (it once freed the bus under them).
check_eq "23 applications: stdfu-sim exits 0 after the client with 49 open nodes" 0 "$max_rc"
"$SIM" "${app[@]}" --device mode=bootloader -- true >over.log 2>&1
check "a 24th device is refused, naming the limit and why" \
    grep -q 'device 24: at most 23 devices.*50 emulated file descriptors' over.log

"$SIM" --hub ppps --hub ppps --hub ganged -- true >hubs3.log 2>&1
check_eq "a third hub: exit 2" 2 $?
check "a third hub: the message names the limit" grep -q 'at most 2 hubs' hubs3.log
"$SIM" --hub none --hub ppps -- true >nonehub.log 2>&1
check "--hub none with another --hub is refused" grep -q "'none' (no hub) cannot be combined" \
    nonehub.log
"$SIM" --hub ppps --hub ppps --device port=1-3.1 -- true >nohub.log 2>&1
check "a port on a hub that does not exist is refused" \
    grep -q 'port 1-3.1 is on a hub at 1-3, but the bus has 2 hubs' nohub.log
"$SIM" --hub ppps --hub ppps --device port=1-2 -- true >hubport.log 2>&1
check "a device on the second hub's own port is refused" grep -q 'port 1-2 holds a hub' hubport.log

cat >two.yaml <<'EOF'
hub: [ganged, ppps]
devices:
  - mode: bootloader
EOF
"$SIM" --scenario two.yaml --device port=1-2.4,mode=bootloader --report two.json -- true \
    >two.log 2>&1
check_eq "scenario 'hub' as a list: two hubs, devices on both" "ganged ppps | 1-1.1 1-2.4" \
    "$(json two.json "' '.join(h['kind'] for h in d['hubs']) + ' | ' + ' '.join(x['port'] for x in d['devices'])")"
finish

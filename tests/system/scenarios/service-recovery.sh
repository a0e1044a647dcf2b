#!/bin/bash
# The running service's recovery on a real kernel, three devices at once on three buses:
#   3-1 found stuck in its ROM bootloader (an interrupted update elsewhere): adopted, flashed
#       and brought back, its first leave coming back stuck as well (leave again);
#   4-1 a transient errWRITE during the download: retried within the attempt (the manifest's
#       `retries`, stdfu-manifest(5)), the update completes with nobody's help;
#   1-1 vanishes after leave: the service power-cycles its root hub port.
. "$(dirname "$0")/../../integration/lib.sh"
. "$(dirname "$0")/../guest/lib.sh"
[ -d /run/systemd/system ] || skip_all "systemd is not PID 1 (run-system --init chroot)"

# adopt: a ROM found on a port the rule covers is this rule's device
write_manifest 2.0 16384 '    port: "*"
    bootloader:
      adopt: true
    timeouts:
      leave: 3
      grace: 1'
device_start stuck dummy_udc.2 profile=f072,mode=bootloader,version=1.0,leave=stuck
device_start werr dummy_udc.3 profile=f072,mode=application,version=1.0,write-error-at=4
device_start gone dummy_udc.0 profile=f072,mode=application,version=1.0,leave=vanish
check "the stuck ROM is on 3-1" wait_usb 3-1 0483:df11
check "the application is on 4-1" wait_usb 4-1 0483:5750
check "the vanishing one is on 1-1" wait_usb 1-1 0483:5750
systemctl start stdfud.service
check "3-1: adopted from the bootloader, runs 2.0" wait_bcd 3-1 0200 180
check "1-1: back after a port power cycle, runs 2.0" wait_bcd 1-1 0200 180
check "4-1: the transient errWRITE retried within the attempt, runs 2.0" wait_bcd 4-1 0200 180
timeout 30 stdfuctl status >"$T/status.txt" 2>&1
sed 's/^/#   /' "$T/status.txt"
check "4-1: no failed job in stdfuctl status" sh -c "! grep '^4-1 ' '$T/status.txt' | grep -q failed"
timeout 30 stdfuctl history --json >"$T/history.json" 2>&1
check "4-1: its history names the retry within the attempt" python3 -c 'import json, sys
es = json.load(open(sys.argv[1]))["updates"]
sys.exit(0 if any(e["port"] == "4-1" and e["recovery_steps"].get("retry", 0) >= 1
                  for e in es) else 1)' "$T/history.json"
systemctl stop stdfud.service
for d in stuck werr gone; do device_stop $d; done
for d in stuck werr gone; do
    check "$d: the model's flash holds the image" flash_is "$T/fw.bin" "$T/$d.flash"
    check_eq "$d: it runs 2.0" "application 2.0" "$(report $d mode) $(report $d version)"
done
check_eq "stuck: left twice (the first came back stuck)" 2 "$(report stuck leaves)"
check_eq "gone: one power cycle" 1 "$(report gone power_cycles)"
if [ "$_tap_failed" -gt 0 ]; then
    journalctl -u stdfud.service --no-pager -o cat 2>/dev/null | tail -40 | sed 's/^/#   /'
fi
finish

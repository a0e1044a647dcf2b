#!/bin/bash
# stdfud brings devices through the recovery ladder and across its own crashes, driven only
# through D-Bus, under stdfu-sim:
#   - a device whose ROM comes back stuck in the bootloader, one found in the bootloader at
#     start (adopted by its rule), one whose firmware watchdog resets it after the leave;
#   - one that vanishes behind a ppps hub (the ladder cycles its port's power), f407 and l476
#     among them, one already current, two applications with the same serial: eight devices;
#   - a device that vanishes behind a ganged hub: needs-power-cycle, and done by itself once
#     it is replugged;
#   - unplugged mid-write and replugged later: the job resumes and completes.
# (SIGKILL of the daemon at each phase: test-daemon-crash.sh.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"

requires stdfud stdfu-sim busctl dbus-daemon python3

sensor_manifest 1.2 "    port: \"1-*\"
    bootloader:
      adopt: true
    timeouts:
      leave: 3
      grace: 1" || skip_all "stdfu-sim mkfw failed"
FLASH_SHA=$(python3 - "$ETC/fw.bin" <<'PY'
import hashlib, sys
data = open(sys.argv[1], "rb").read()
print(hashlib.sha256(data + b"\xff" * ((128 << 10) - len(data))).hexdigest())
PY
)
start_bus || skip_all "cannot start dbus-daemon"

# ---- 1: eight devices: stuck, bootloader, watchdog, ok, vanish, current; same serials ------
# 1-1.2 is found in the bootloader and the stuck ones come back as their ROM: several ROMs with
# the f072's one serial (FFFFFFFEFFFF) at once; 1-1.4 and 1-2 are applications that share a
# serial as well. Each is still tracked by its port.
SIM_ARGS=(--hub ppps
          --device port=1-1.1,profile=f072,mode=application,version=1.0,leave=stuck
          --device port=1-1.2,profile=f072,mode=bootloader
          --device port=1-1.3,profile=f072,mode=application,version=1.0,leave=watchdog:300
          --device port=1-1.4,profile=f407,mode=application,version=1.0,serial=TWIN0001
          --device port=1-1.5,profile=l476,mode=application,version=1.1,leave=stuck
          --device port=1-1.6,profile=f072,mode=application,version=1.2
          --device port=1-1.7,profile=f072,mode=application,version=1.0,leave=vanish
          --device port=1-2,profile=l476,mode=application,version=1.0,serial=TWIN0001
          --report "$T/ladder.json")
check "stdfud starts with eight devices of three profiles" start_daemon
for port in 1-1.1 1-1.2 1-1.3 1-1.4 1-1.5 1-1.7 1-2; do
    wait_for 60 state_in $port done failed needs-power-cycle
    check "$port reaches done" state_is $port done
done
check_eq "1-1.4 and 1-2 both report serial TWIN0001" 's "TWIN0001" s "TWIN0001"' \
    "$(echo $(dprop 1-1.4 Serial) $(dprop 1-2 Serial))"
check "1-1.7 vanished and its hub port's power was cycled" \
    grep -q '1-1.7: .*power-cycling the port' "$T/daemon.log"
check "the history has one update for each of the twins" python3 - \
    <(bctl --json=short call io.stdfu1 /io/stdfu1 io.stdfu1.Manager GetHistory) <<'PY'
import json, sys
h = json.load(open(sys.argv[1]))["data"][0]
sys.exit(0 if sorted(e[0] for e in h if e[0] in ("1-1.4", "1-2") and e[1] == "done")
         == ["1-1.4", "1-2"] else 1)
PY
check_eq "1-1.2 (adopted from the bootloader) runs 1.2" 's "1.2"' "$(dprop 1-1.2 RunningVersion)"
check_eq "1-1.6 (already current) stays idle" 's "idle"' "$(dprop 1-1.6 State)"
check "SIGTERM stops it" stop_daemon
for port in 1-1.1 1-1.2 1-1.3 1-1.7; do
    check_eq "$port: application 1.2 with the image in flash" "application 1.2 $FLASH_SHA" \
        "$(report_dev "$T/ladder.json" $port 'd["mode"] + " " + d["version"] + " " + d["flash_sha256"]')"
done
for port in 1-1.4 1-1.5 1-2; do
    check_eq "$port: application 1.2 with the image in flash" "application 1.2 $(sha256sum "$ETC/fw.bin" | cut -d' ' -f1)" \
        "$(report_dev "$T/ladder.json" $port 'd["mode"] + " " + d["version"] + " " + d["image_sha256"]')"
done
check_eq "1-1.6 was not touched" "0 0" \
    "$(report_dev "$T/ladder.json" 1-1.6 'str(d["counters"]["erases"]) + " " + str(d["counters"]["bytes_written"])')"

# ---- 2: vanish behind a ganged hub -----------------------------------------------------------
rm -rf "$STATE"
SIM_ARGS=(--hub ganged --control "$T/ctl.sock" --report "$T/vanish.json"
          --device port=1-1.1,profile=f072,mode=application,version=1.0,leave=vanish)
check "stdfud starts with a device that vanishes" start_daemon
wait_for 60 state_in 1-1.1 done failed needs-power-cycle
check "it ends as needs-power-cycle" state_is 1-1.1 needs-power-cycle
check "LastError says to replug it" grep -q 'unplug and replug' <(dprop 1-1.1 LastError)
check "the journal keeps the job" grep -q '^phase=needs-power-cycle' "$STATE/jobs/1-1.1"
sim_ctl "unplug 1-1.1" >/dev/null
sim_ctl "plug 1-1.1" >/dev/null
wait_for 60 state_in 1-1.1 done failed needs-power-cycle cancelled
check "replugged, it is done by itself" state_is 1-1.1 done
check "the journal is empty" test -z "$(ls "$STATE/jobs")"
# Issue 10: the history has the attempt that ended needs-power-cycle, then the done one.
"$CTL" --bus "$BUS" history --json 1-1.1 >"$T/vanish-history.json"
check_eq "history: needs-power-cycle (phase, no error left out), then done" \
    "needs-power-cycle:1:True done:1:False" \
    "$(python3 -c 'import json, sys
print(*(":".join((e["outcome"], str(e["attempts"]), str(bool(e["error"]))))
        for e in json.load(open(sys.argv[1]))["updates"]))' "$T/vanish-history.json")"
check "SIGTERM stops it" stop_daemon
check_eq "the emulator runs 1.2" "application 1.2" \
    "$(report_dev "$T/vanish.json" 1-1.1 'd["mode"] + " " + d["version"]')"

# ---- 3: unplugged in the middle of the write, replugged later ---------------------------------
# (behind a hub that cannot switch the port's power: on a ppps hub the port is power-cycled)
rm -rf "$STATE"
SIM_ARGS=(--hub ganged --control "$T/ctl.sock" --report "$T/unplug.json"
          --device port=1-1.1,profile=f072,mode=application,version=1.0,unplug-at=8192)
check "stdfud starts with a device that is unplugged at byte 8192" start_daemon
wait_for 60 state_in 1-1.1 done failed needs-power-cycle retry-wait
# Issue 10: a device left outside its application is never given up: retry-wait, not failed.
check "the attempt ends without the device, the job waits for it" \
    state_in 1-1.1 retry-wait needs-power-cycle
check_eq "the device is absent" 's "absent"' "$(dprop 1-1.1 Mode)"
check "the journal keeps the job" test -e "$STATE/jobs/1-1.1"
# unplug-at leaves the cable in and the device dead: pull it out and put it back.
sim_ctl "unplug 1-1.1" >/dev/null
check "replug it" grep -q '^ok' <(sim_ctl "plug 1-1.1")
wait_for 60 state_in 1-1.1 done
check "replugged, the job resumes and completes" state_is 1-1.1 done
check_eq "it runs 1.2" 's "1.2"' "$(dprop 1-1.1 RunningVersion)"
check "the journal is empty" test -z "$(ls "$STATE/jobs")"
check "SIGTERM stops it" stop_daemon
check_eq "the emulator runs 1.2 with the image in flash" "application 1.2 $FLASH_SHA" \
    "$(report_dev "$T/unplug.json" 1-1.1 'd["mode"] + " " + d["version"] + " " + d["flash_sha256"]')"
finish

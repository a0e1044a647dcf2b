#!/bin/bash
# stdfud brings devices through the recovery ladder and across its own crashes, driven only
# through D-Bus, under stdfu-sim:
#   - a device whose ROM comes back stuck in the bootloader, one found in the bootloader at
#     start (adopted by its rule), one whose firmware watchdog resets it after the leave;
#   - a device that vanishes behind a ganged hub: needs-power-cycle, and done by itself once
#     it is replugged;
#   - the daemon killed with SIGKILL while writing: restarted, it resumes the job and finishes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"

[ -x "$DAEMON" ] && [ -x "$SIM" ] || skip_all "stdfud or stdfu-sim is not built"
for tool in busctl dbus-daemon python3; do
    command -v "$tool" >/dev/null || skip_all "$tool is missing"
done

sensor_manifest 1.2 "    port: \"1-1.*\"
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
report_dev() {
    python3 - "$1" "$2" "$3" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
d = next(x for x in r["devices"] if x["port"] == sys.argv[2])
print(eval(sys.argv[3]))
PY
}
state_is() { [ "$(dprop "$1" State)" = "s \"$2\"" ]; }
start_bus || skip_all "cannot start dbus-daemon"

# ---- 1: stuck, found in the bootloader, watchdog --------------------------------------------
SIM_ARGS=(--hub ppps
          --device port=1-1.1,profile=f072,mode=application,version=1.0,leave=stuck
          --device port=1-1.2,profile=f072,mode=bootloader
          --device port=1-1.3,profile=f072,mode=application,version=1.0,leave=watchdog:300
          --device port=1-1.4,profile=f407,mode=application,version=1.0
          --device port=1-1.5,profile=l476,mode=application,version=1.1,leave=stuck
          --device port=1-1.6,profile=f072,mode=application,version=1.2
          --report "$T/ladder.json")
check "stdfud starts with six devices of three profiles" start_daemon
for port in 1-1.1 1-1.2 1-1.3 1-1.4 1-1.5; do
    wait_for 60 state_in $port done failed needs-power-cycle
    check "$port reaches done" state_is $port done
done
check_eq "1-1.2 (adopted from the bootloader) runs 1.2" 's "1.2"' "$(dprop 1-1.2 RunningVersion)"
check_eq "1-1.6 (already current) stays idle" 's "idle"' "$(dprop 1-1.6 State)"
check "SIGTERM stops it" stop_daemon
for port in 1-1.1 1-1.2 1-1.3; do
    check_eq "$port: application 1.2 with the image in flash" "application 1.2 $FLASH_SHA" \
        "$(report_dev "$T/ladder.json" $port 'd["mode"] + " " + d["version"] + " " + d["flash_sha256"]')"
done
for port in 1-1.4 1-1.5; do
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
check "SIGTERM stops it" stop_daemon
check_eq "the emulator runs 1.2" "application 1.2" \
    "$(report_dev "$T/vanish.json" 1-1.1 'd["mode"] + " " + d["version"]')"

# ---- 3: SIGKILL while writing, restart -------------------------------------------------------
# stdfu-sim runs a small supervisor that starts stdfud again when it was killed.
rm -rf "$STATE"
cat >"$T/supervise.sh" <<'SH'
#!/bin/bash
for run in 1 2; do
    "$@"
    rc=$?
    [ $rc -eq 137 ] || exit $rc
    echo "supervise: stdfud killed, starting it again" >&2
done
SH
chmod +x "$T/supervise.sh"
# slow-erase keeps the device busy long enough to be killed mid-write.
SIM_ARGS=(--hub ppps --report "$T/kill.json"
          --device port=1-1.1,profile=f072,mode=application,version=1.0,slow-erase=20)
ORIG_DAEMON=$DAEMON
DAEMON="$T/supervise.sh $ORIG_DAEMON"
mkdir -p "$ETC" "$STATE"
"$SIM" "${SIM_ARGS[@]}" -- "$T/supervise.sh" "$ORIG_DAEMON" --bus "$BUS" --state-dir "$STATE" \
    --manifest "$ETC/manifest.yaml" --manifest-dir "$ETC/manifest.d" --log-level debug \
    >>"$T/daemon.log" 2>&1 &
DAEMON_PID=$!
check "stdfud starts under a supervisor" wait_for 20 name_owned
in_flash() { state_is 1-1.1 erasing || state_is 1-1.1 writing; }
check "the update reaches erasing or writing" wait_for 60 in_flash
pid=$(daemon_pid)
check "the journal records the phase" grep -qE '^phase=(erasing|writing)' "$STATE/jobs/1-1.1"
kill -KILL "$pid"
check "stdfud is back after SIGKILL" wait_for 20 name_owned
wait_for 60 state_in 1-1.1 done failed needs-power-cycle
check "the resumed job finishes" state_is 1-1.1 done
check "the journal is empty" test -z "$(ls "$STATE/jobs")"
check "the history has the update as done" grep -q '"1-1.1" "done" "1.0" "1.2"' \
    <(bctl call io.stdfu1 /io/stdfu1 io.stdfu1.Manager GetHistory)
check "SIGTERM stops it" stop_daemon
check_eq "the emulator runs 1.2 with the image in flash" "application 1.2 $FLASH_SHA" \
    "$(report_dev "$T/kill.json" 1-1.1 'd["mode"] + " " + d["version"] + " " + d["flash_sha256"]')"
# ---- 4: unplugged in the middle of the write, replugged later ---------------------------------
rm -rf "$STATE"
DAEMON=$ORIG_DAEMON
SIM_ARGS=(--hub ppps --control "$T/ctl.sock" --report "$T/unplug.json"
          --device port=1-1.1,profile=f072,mode=application,version=1.0,unplug-at=8192)
check "stdfud starts with a device that is unplugged at byte 8192" start_daemon
wait_for 60 state_in 1-1.1 done failed needs-power-cycle
check "the job ends without the device" state_in 1-1.1 failed needs-power-cycle
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

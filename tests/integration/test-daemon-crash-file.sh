#!/bin/bash
# An UpdateFile job survives stdfud's crash: the caller's image is kept in the state directory
# (STATE/images/PORT, readable by root only) while the job is unfinished, and a restarted
# stdfud resumes the job with that very image, not with the manifest rule's firmware. Then
# the image goes with the job's record. stdfud is killed with SIGKILL when the device's State
# becomes "writing" (kill_at_phases), under a supervisor that starts it again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"

requires stdfud stdfu-sim stdfuctl busctl dbus-daemon gdbus python3 stdbuf

# The manifest's rule targets 1.0, which the device runs: only the file's 1.5 is an update.
sensor_manifest 1.0 || skip_all "stdfu-sim mkfw failed"
"$SIM" mkfw --version 1.5 --size 32768 --seed 9 -o "$T/fw-1.5.bin" >/dev/null ||
    skip_all "stdfu-sim mkfw failed"
FILE_SHA=$(sha256sum "$T/fw-1.5.bin" | cut -d' ' -f1)
start_bus || skip_all "cannot start dbus-daemon"

SIM_ARGS=(--hub ppps --report "$T/report.json"
          --device port=1-1.1,profile=f072,mode=application,version=1.0)
check "stdfud starts under a supervisor" start_daemon_supervised
check "the device is idle on the manifest's 1.0" wait_for 20 state_is 1-1.1 idle
kill_at_phases 1-1.1=writing
check "the watcher follows the device" wait_for 20 grep -q '^monitoring' "$T/kills.log"

"$CTL" --bus "$BUS" update --file "$T/fw-1.5.bin" --version 1.5 --address 0x08000000 1-1.1 \
    >"$T/update.out" 2>&1
check_eq "update --file is queued" "1-1.1: update queued." "$(cat "$T/update.out")"
check "stdfud is killed while writing" wait_for 60 grep -q ' killed 1-1.1 writing' "$T/kills.log"
sed 's/^/# /' "$T/kills.log"
check_eq "the journal has the file's job" "rule=file sha256=$FILE_SHA kept-image=1" \
    "$(grep -E '^(rule|sha256|kept-image)=' "$STATE/jobs/1-1.1" 2>/dev/null | tr '\n' ' ' |
       sed 's/ $//')"
check_eq "the image is kept, the caller's bytes" "$FILE_SHA" \
    "$(sha256sum "$STATE/images/1-1.1" 2>/dev/null | cut -d' ' -f1)"
check_eq "readable by root only" "700 600" \
    "$(stat -c %a "$STATE/images") $(stat -c %a "$STATE/images/1-1.1" 2>/dev/null)"

check "stdfud is back" wait_for 20 name_owned
check "the resumed job completes" wait_for 60 state_is 1-1.1 done
check_eq "the device runs the file's 1.5, not the manifest's 1.0" 's "1.5"' \
    "$(dprop 1-1.1 RunningVersion)"
check "the journal is empty" test -z "$(ls "$STATE/jobs")"
check "the image is gone with it" test -z "$(ls "$STATE/images")"
check "the history has the file's update, done" python3 - \
    <(bctl --json=short call io.stdfu1 /io/stdfu1 io.stdfu1.Manager GetHistory) <<'PY'
import json, sys
h = json.load(open(sys.argv[1]))["data"][0]
sys.exit(0 if any(e[0] == "1-1.1" and e[1] == "done" and e[3] == "1.5" for e in h) else 1)
PY
check "SIGTERM stops it" stop_daemon
check_eq "the emulator runs 1.5" "application 1.5" \
    "$(report_dev "$T/report.json" 1-1.1 'd["mode"] + " " + d["version"]')"
finish

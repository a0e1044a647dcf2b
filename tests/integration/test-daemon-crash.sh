#!/bin/bash
# stdfud killed with SIGKILL at each phase of an update (entering, erasing, writing, verifying,
# leaving, waiting) and started again on the same state directory: every device still reaches
# its target, with the image in flash. The kills are driven by the devices' State on D-Bus
# (kill_at_phases), never by sleeps; stdfu-sim slows the phases down (slow-erase, a 32 KiB
# image, a ROM that answers the leave request 1.5 s late, a watchdog leave) so that each one
# lasts long enough to be hit: the kill follows the signal by milliseconds, and without
# leave-delay the leave ended (journal: waiting) before it under load.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"

requires stdfud stdfu-sim busctl dbus-daemon gdbus python3 stdbuf

SIZE=32768
mkdir -p "$ETC"
"$SIM" mkfw --version 1.2 --size $SIZE --seed 5 -o "$ETC/fw.bin" >/dev/null ||
    skip_all "stdfu-sim mkfw failed"
FLASH_SHA=$(python3 - "$ETC/fw.bin" <<'PY'
import hashlib, sys
data = open(sys.argv[1], "rb").read()
print(hashlib.sha256(data + b"\xff" * ((128 << 10) - len(data))).hexdigest())
PY
)
PHASES=(entering erasing writing verifying leaving waiting)
PORTS=(1-1.1 1-1.2 1-1.3 1-1.4 1-1.5 1-1.6)
start_bus || skip_all "cannot start dbus-daemon"

# No manifest yet: the devices stay idle until the watcher is listening. Then one job at a
# time, so that a kill meant for one device's phase does not cut another's short.
SIM_ARGS=(--hub ppps --report "$T/report.json"
          --device port=1-1.1,profile=f072,mode=application,version=1.0
          --device port=1-1.2,profile=f072,mode=application,version=1.0,slow-erase=5
          --device port=1-1.3,profile=f072,mode=application,version=1.0
          --device port=1-1.4,profile=f072,mode=application,version=1.0
          --device port=1-1.5,profile=f072,mode=application,version=1.0,leave-delay=1500
          --device port=1-1.6,profile=f072,mode=application,version=1.0,leave=watchdog:1500)
check "stdfud starts under a supervisor with six devices" start_daemon_supervised
targets=()
for i in "${!PORTS[@]}"; do targets+=("${PORTS[$i]}=${PHASES[$i]}"); done
kill_at_phases "${targets[@]}"
check "the watcher follows the devices" wait_for 20 grep -q '^monitoring' "$T/kills.log"

sensor_manifest_for_image 1.2 "" "settings:
  max-parallel-jobs: 1"

all_killed() { [ "$(grep -c ' killed ' "$T/kills.log")" -eq 6 ]; }
check "stdfud is killed once in each phase" wait_for 150 all_killed
for i in "${!PORTS[@]}"; do
    check "killed while ${PORTS[$i]} was ${PHASES[$i]}, which the journal had recorded" \
        grep -qE "s killed ${PORTS[$i]} ${PHASES[$i]} journal=${PHASES[$i]}\$" "$T/kills.log"
done
sed 's/^/# /' "$T/kills.log"
check "stdfud is back after the last kill" wait_for 20 name_owned
check_eq "the supervisor started it six times more" 6 "$(grep -c '^supervise:' "$T/daemon.log")"
# A device that finished before the last restart is idle (current) in the new daemon.
states() {
    local p s
    for p in "${PORTS[@]}"; do
        s=$(dprop "$p" State | tr -d '"s ')
        echo -n "$p:${s/idle/done}:$(dprop "$p" RunningVersion | tr -d '"s ') "
    done
}
all_done() { [ "$(states)" = "$(printf '%s:done:1.2 ' "${PORTS[@]}")" ]; }
wait_for 120 all_done
check_eq "every device reaches done (or idle), running 1.2" \
    "$(printf '%s:done:1.2 ' "${PORTS[@]}")" "$(states)"
check "the journal is empty" test -z "$(ls "$STATE/jobs")"
check "the history has an update to 1.2 done for each device" python3 - \
    <(bctl --json=short call io.stdfu1 /io/stdfu1 io.stdfu1.Manager GetHistory) "${PORTS[@]}" <<'PY'
import json, sys
h = json.load(open(sys.argv[1]))["data"][0]
done = sorted({e[0] for e in h if e[1] == "done" and e[3] == "1.2"})
sys.exit(0 if done == sorted(sys.argv[2:]) else 1)
PY
check "SIGTERM stops it" stop_daemon
for port in "${PORTS[@]}"; do
    check_eq "$port: the emulator runs 1.2 with the image in flash" "application 1.2 $FLASH_SHA" \
        "$(python3 - "$T/report.json" $port <<'PY'
import json, sys
d = next(x for x in json.load(open(sys.argv[1]))["devices"] if x["port"] == sys.argv[2])
print(d["mode"], d["version"], d["flash_sha256"])
PY
)"
done
finish

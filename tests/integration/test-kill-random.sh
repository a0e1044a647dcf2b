#!/bin/bash
# stdfud killed with SIGKILL at 50 random moments of a multi-device update (12 devices, f072 and
# f407), started again each time on the same state directory, as systemd's Restart= would. Each
# kill comes 0 to 3 s after an update is under way (a job record in the journal); when every
# device is current, the target goes up (2.0, 2.1, ...: a manifest reload; stdfud does not
# downgrade) for the next round. In the end every device runs the last target in its application
# (the emulator's report says so) and no job is left or lost. `make check-long` runs it (a few
# minutes); STDFU_KILL_SEED=N repeats a run (the seed is printed).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"

requires stdfud stdfu-sim busctl dbus-daemon python3

KILLS=${STDFU_KILLS:-50}
SEED=${STDFU_KILL_SEED:-$$}
RANDOM=$SEED
echo "# seed $SEED (STDFU_KILL_SEED=$SEED repeats this run)"

mkdir -p "$ETC"
for r in $(seq 0 "$KILLS"); do
    "$SIM" mkfw --version "2.$r" --size 20480 --seed $((5 + r)) -o "$ETC/fw-2.$r.bin" >/dev/null
done
# target VERSION: the manifest's target is VERSION.
target() {
    cp "$ETC/fw-$1.bin" "$ETC/fw.bin"
    sensor_manifest_for_image "$1" "    timeouts:
      leave: 4
      grace: 3" "settings:
  max-parallel-jobs: 12
  retry-delay: 1
  retry-delay-max: 2"
}
target 2.0

PORTS=(1-1.1 1-1.2 1-1.3 1-1.4 1-1.5 1-1.6 1-1.7 1-2.1 1-2.2 1-2.3 1-2.4 1-2.5)
SIM_ARGS=(--hub ppps --hub ppps --control "$T/ctl.sock" --report "$T/report.json")
for p in "${PORTS[@]}"; do
    case $p in 1-1.*) prof=f072 ;; *) prof=f407 ;; esac
    SIM_ARGS+=(--device "port=$p,profile=$prof,mode=application,version=1.0")
done

# A supervisor that starts stdfud again each time it dies of SIGKILL ($KILLS + 5 times).
cat >"$T/supervise.sh" <<SH
#!/bin/bash
for run in \$(seq 1 $((KILLS + 5))); do
    "\$@"
    rc=\$?
    [ \$rc -eq 137 ] || exit \$rc
    echo "supervise: stdfud killed, starting it again" >&2
done
SH
chmod +x "$T/supervise.sh"

start_bus || skip_all "cannot start dbus-daemon"
check "stdfud starts under stdfu-sim and a supervisor" run_daemon "$T/supervise.sh" --

version=2.0
round=0
killed=0
in_flight=0
jobs_in_journal() { [ -n "$(ls -A "$STATE/jobs")" ]; }
for _ in $(seq 1 "$KILLS"); do
    wait_for 30 name_owned || break
    # Nothing under way (every device current): the next round, a new target.
    if ! wait_for 5 jobs_in_journal; then
        round=$((round + 1))
        version=2.$round
        target "$version"
        kill -HUP "$(daemon_pid)" 2>/dev/null
        wait_for 10 jobs_in_journal
    fi
    # A random moment of the update, 0 to 3 s after it is under way.
    sleep "$(printf '%d.%02d' $((RANDOM % 3)) $((RANDOM % 100)))"
    pid=$(daemon_pid)
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null && killed=$((killed + 1)) &&
        jobs_in_journal && in_flight=$((in_flight + 1))
done
echo "# $in_flight of the kills struck while a job record was in the journal, $round new targets"
check_eq "stdfud was killed $KILLS times" "$KILLS" "$killed"
check "stdfud is back after the last kill" wait_for 30 name_owned
check "the supervisor restarted it each time" \
    test "$(grep -c '^supervise: stdfud killed' "$T/daemon.log")" -ge "$KILLS"

current() { state_in "$1" "done" idle && [ "$(dprop "$1" RunningVersion)" = "s \"$version\"" ]; }
all_current() { local p; for p in "${PORTS[@]}"; do current "$p" || return 1; done; }
check "every device reaches the last target $version" wait_for 240 all_current
check "no job record is left" test -z "$(ls -A "$STATE/jobs")"
stop_daemon
for p in "${PORTS[@]}"; do
    check_eq "$p runs $version in its application (emulator report)" "application $version" \
        "$(report_dev "$T/report.json" "$p" 'd["mode"] + " " + str(d["version"])')"
done
finish

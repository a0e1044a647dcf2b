#!/bin/bash
# stdfud.service relies on the daemon's exit status: Restart=on-failure restarts it only after
# a failure. A stop by SIGTERM must exit 0 (no restart); losing the bus (dbus-daemon restarted)
# must exit non-zero, or the daemon would stay down until the next boot.
. "$(dirname "$0")/lib.sh"

for tool in dbus-daemon busctl; do
    command -v "$tool" >/dev/null || skip_all "$tool not installed"
done
[ -x "$DAEMON" ] || skip_all "stdfud not built in $STDFU_BUILD"
check_eq "the unit restarts on failure" "on-failure" \
    "$(sed -n 's/^Restart=//p' "$SRCDIR/systemd/stdfud.service")"

pids=()
trap '_rc=$?; for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait; (exit $_rc); _cleanup' EXIT

cat >"$T/bus.conf" <<CONF
<busconfig>
  <listen>unix:path=$T/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/> <allow own="*"/> <allow send_destination="*"/> <allow receive_sender="*"/>
  </policy>
</busconfig>
CONF

bus= daemon= addr=
start_bus() {
    : >"$T/bus.addr"
    dbus-daemon --config-file="$T/bus.conf" --nofork --nopidfile --print-address=1 \
        >"$T/bus.addr" 2>>"$T/bus.log" &
    bus=$!
    pids+=("$bus")
    for _ in $(seq 50); do [ -s "$T/bus.addr" ] && break; sleep 0.1; done
    addr=$(head -n1 "$T/bus.addr")
    [ -n "$addr" ]
}
start_daemon() {
    mkdir -p "$T/state"
    "$DAEMON" --bus="unix:path=$T/bus" --manifest="$T/manifest.yaml" \
        --manifest-dir="$T/manifest.d" --state-dir="$T/state" >>"$T/stdfud.log" 2>&1 &
    daemon=$!
    pids+=("$daemon")
    for _ in $(seq 100); do
        busctl --address="$addr" status io.stdfu1 >/dev/null 2>&1 && return 0
        kill -0 "$daemon" 2>/dev/null || break
        sleep 0.1
    done
    sed 's/^/#   /' "$T/stdfud.log"
    return 1
}
# wait_exit PID SECONDS: sets $status to its exit status, or "running" if it is still there
# after SECONDS. (Not in a $(...) subshell: only this shell may wait for its children.)
wait_exit() {
    status=running
    for _ in $(seq $(($2 * 10))); do
        if ! kill -0 "$1" 2>/dev/null; then
            wait "$1"
            status=$?
            return
        fi
        sleep 0.1
    done
}

check "a private bus is up" start_bus
[ -n "$addr" ] || { finish; exit; }
check "stdfud starts on it" start_daemon
kill -TERM "$daemon"
wait_exit "$daemon" 10
check_eq "SIGTERM: exit status 0 (no restart)" 0 "$status"

check "stdfud starts again" start_daemon
kill -TERM "$bus"
wait "$bus"
wait_exit "$daemon" 10
check "bus lost: stdfud exits by itself with a failure status (got: $status)" \
    bash -c '[ "$1" != running ] && [ "$1" -ne 0 ]' _ "$status"
[ "$status" = running ] && kill -TERM "$daemon"
finish

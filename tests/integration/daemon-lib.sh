# Helpers for the stdfud tests (sourced after lib.sh): a private dbus-daemon any user may
# connect to, the daemon on it (optionally under stdfu-sim), busctl wrappers.
#
#   start_bus
#   start_daemon [STDFUD-ARG...]          SIM_ARGS=(--device ...) runs it under stdfu-sim
#   bctl call io.stdfu1 /io/stdfu1 io.stdfu1.Manager ListDevices
#   as_nobody busctl --address="$BUS" ...
#   stop_daemon
BUS=
BUS_PID=
DAEMON_PID=   # the process we started: stdfud, or stdfu-sim running it
SIM_ARGS=()
EXTRA_PIDS=() # helpers a test started (monitors, listeners), killed at exit
ETC=$T/etc
STATE=$T/state

_daemon_cleanup() {
    local p
    for p in "${EXTRA_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
        local pid
        [ -n "$BUS" ] && pid=$(daemon_pid)
        [ -n "${pid:-}" ] && kill -TERM "$pid" 2>/dev/null
        kill -TERM "$DAEMON_PID" 2>/dev/null
        wait_for 10 not_running "$DAEMON_PID" || kill -KILL "$DAEMON_PID" 2>/dev/null
    fi
    [ -n "$BUS_PID" ] && kill -TERM "$BUS_PID" 2>/dev/null
    if [ "${_tap_failed:-0}" -gt 0 ] && [ -f "$T/daemon.log" ]; then
        echo "# ---- daemon log (last 30 lines) ----"
        tail -n 30 "$T/daemon.log" | sed 's/^/# /'
    fi
}
trap 'rc=$?; _daemon_cleanup; (exit $rc); _cleanup' EXIT

not_running() { ! kill -0 "$1" 2>/dev/null; }

# wait_for SECONDS COMMAND...: polls every 0.1 s until COMMAND succeeds, at most SECONDS.
wait_for() {
    local end=$((SECONDS + $1 + 1)); shift
    while :; do
        "$@" >/dev/null 2>&1 && return 0
        [ "$SECONDS" -ge "$end" ] && return 1
        sleep 0.1
    done
}

# state_is PORT STATE: the device's State is STATE.
state_is() { [ "$(dprop "$1" State)" = "s \"$2\"" ]; }

# report_dev REPORT PORT EXPR: a Python expression over the device d of stdfu-sim's report.
report_dev() {
    python3 - "$1" "$2" "$3" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
d = next(x for x in r["devices"] if x["port"] == sys.argv[2])
print(eval(sys.argv[3]))
PY
}

# state_in PORT STATE...: the device's State is one of them.
state_in() {
    local s port=$1; shift
    s=$(dprop "$port" State) || return 1
    for want; do [ "$s" = "s \"$want\"" ] && return 0; done
    return 1
}

. "$(dirname "${BASH_SOURCE[0]}")/bus-config.sh"

# start_bus [policy]: "policy" makes a bus like the system bus (deny by default) that
# includes conf/io.stdfu1.conf; otherwise everyone may do everything, so that only the
# daemon's own checks stand between a caller and a method.
start_bus() {
    chmod 755 "$T"   # nobody must reach the socket
    if [ "${1:-}" = policy ]; then
        bus_config "$T/bus" "$SRCDIR/conf/io.stdfu1.conf" >"$T/bus.conf"
    else
        bus_config "$T/bus" >"$T/bus.conf"
    fi
    dbus-daemon --config-file="$T/bus.conf" --fork --print-pid=3 3>"$T/bus.pid" || return 1
    BUS_PID=$(cat "$T/bus.pid")
    BUS=unix:path=$T/bus
}

bctl() { busctl --address="$BUS" "$@"; }
# gcall METHOD ARG...: a Manager method through gdbus, which prints D-Bus error names.
gcall() {
    local m=$1; shift
    gdbus call --address "$BUS" --dest io.stdfu1 --object-path /io/stdfu1 \
        --method "io.stdfu1.Manager.$m" "$@" 2>&1
}
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }

name_owned() { bctl status io.stdfu1 >/dev/null 2>&1; }

start_daemon() { run_daemon -- "$@"; }

# run_daemon [PREFIX...] -- [STDFUD-ARG...]: stdfud on the test's bus, state directory and
# manifests, behind PREFIX (a supervisor) if given, under stdfu-sim when SIM_ARGS is set; its
# output goes to $T/daemon.log. Waits until it owns its bus name.
run_daemon() {
    local prefix=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do prefix+=("$1"); shift; done
    shift
    mkdir -p "$ETC" "$STATE"
    local cmd=("${prefix[@]}" "$DAEMON" --bus "$BUS" --state-dir "$STATE"
               --manifest "$ETC/manifest.yaml" --manifest-dir "$ETC/manifest.d"
               --log-level debug "$@")
    if [ ${#SIM_ARGS[@]} -gt 0 ]; then
        "$SIM" "${SIM_ARGS[@]}" -- "${cmd[@]}" >>"$T/daemon.log" 2>&1 &
    else
        "${cmd[@]}" >>"$T/daemon.log" 2>&1 &
    fi
    DAEMON_PID=$!
    wait_for 20 name_owned
}

# The pid of the process that owns io.stdfu1 (stdfud itself, also under stdfu-sim or unshare).
daemon_pid() {
    bctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
        GetConnectionUnixProcessID s io.stdfu1 2>/dev/null | cut -d' ' -f2
}

# SIGTERM to stdfud itself; returns the exit status of what start_daemon started.
stop_daemon() {
    local pid
    pid=$(daemon_pid)
    kill -TERM "${pid:-$DAEMON_PID}" 2>/dev/null
    wait "$DAEMON_PID"
    local rc=$?
    DAEMON_PID=
    return $rc
}

# mprop NAME / dprop PORT NAME: a property's value as busctl prints it ("s \"running\"").
mprop() { bctl get-property io.stdfu1 /io/stdfu1 io.stdfu1.Manager "$1"; }
# sd_bus_path_encode(): every byte but [A-Za-z0-9] as _XX, and a leading digit too.
device_path() { python3 -c 'import sys
s=sys.argv[1]; print("/io/stdfu1/device/" + "".join(c if c.isascii() and c.isalnum() and (i or not c.isdigit()) else "_%02x" % ord(c) for i, c in enumerate(s)))' "$1"; }
dprop() { bctl get-property io.stdfu1 "$(device_path "$1")" io.stdfu1.Device "$2"; }

# sim_ctl LINE: one command to stdfu-sim's control socket ($T/ctl.sock, give
# --control "$T/ctl.sock" in SIM_ARGS); prints the answer.
sim_ctl() {
    python3 - "$T/ctl.sock" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall((sys.argv[2] + "\n").encode())
s.shutdown(socket.SHUT_WR)
print(s.recv(4096).decode().strip())
PY
}

# sensor_manifest VERSION [EXTRA-RULE-LINES]: $ETC/manifest.yaml with one rule "sensor" for
# 0483:5750 and an image of VERSION made by stdfu-sim mkfw ($ETC/fw.bin, 16 KiB).
sensor_manifest() {
    mkdir -p "$ETC"
    "$SIM" mkfw --version "$1" --size 16384 --seed 7 -o "$ETC/fw.bin" >/dev/null || return 1
    sensor_manifest_for_image "$@"
}

# sensor_manifest_for_image VERSION [EXTRA-RULE-LINES] [TOP-LINES]: the same for an image of
# VERSION already in $ETC/fw.bin; TOP-LINES (a "settings:" block) go before the rules.
sensor_manifest_for_image() {
    cat >"$ETC/manifest.yaml" <<YAML
${3:-}
rules:
  - name: sensor
    application:
      id: "0483:5750"
    firmware:
      file: fw.bin
      sha256: $(sha256sum "$ETC/fw.bin" | cut -d' ' -f1)
      version: "$1"
      address: 0x08000000
${2:-}
YAML
}

# start_daemon_supervised [STDFUD-ARG...]: like start_daemon, but under a supervisor that starts
# stdfud again (same arguments, same state directory) each time it dies of SIGKILL, as
# systemd's Restart= would; "supervise: ..." lines in $T/daemon.log count the restarts.
start_daemon_supervised() {
    cat >"$T/supervise.sh" <<'SH'
#!/bin/bash
for run in $(seq 1 20); do
    "$@"
    rc=$?
    [ $rc -eq 137 ] || exit $rc
    echo "supervise: stdfud killed, starting it again" >&2
done
SH
    chmod +x "$T/supervise.sh"
    run_daemon "$T/supervise.sh" -- "$@"
}

# gdbus_monitor FIFO ARG...: `gdbus monitor --address $BUS ARG...` in the background, line
# buffered into the FIFO it creates; read it with a second background process. Two processes
# rather than a pipeline, so that both PIDs go to EXTRA_PIDS and neither outlives the test
# ($! of a pipeline is its last process only, and gdbus stays when the bus goes away).
gdbus_monitor() {
    local fifo=$1; shift
    mkfifo "$fifo"
    stdbuf -oL gdbus monitor --address "$BUS" "$@" >"$fifo" 2>/dev/null &
    EXTRA_PIDS+=($!)
}

# kill_at_phases PORT=STATE...: in the background, follows the devices' PropertiesChanged
# (gdbus monitor, across restarts of the daemon) and kills stdfud with SIGKILL the first time
# each PORT's State becomes STATE ("waiting" counts only right after "leaving", not the
# waiting for a device that a restarted daemon resumes). Logs "SECONDS killed PORT STATE
# journal=PHASE" to $T/kills.log, PHASE being what the job journal said at that moment. Prints nothing; wait
# for "monitoring" in $T/kills.log before starting updates.
kill_at_phases() {
    cat >"$T/kill-at-phases.py" <<'PY'
import os, re, signal, subprocess, sys, time
start = time.monotonic()
bus, state, wanted = sys.argv[1], sys.argv[2], dict(a.split("=") for a in sys.argv[3:])
def port_of(path):  # sd_bus_path_encode()'s inverse for the last element
    return re.sub(r"_([0-9a-f]{2})", lambda m: chr(int(m.group(1), 16)), path.rsplit("/", 1)[1])
def journal(port):
    try:
        return next((l.split("=", 1)[1].strip() for l in open(f"{state}/jobs/{port}")
                     if l.startswith("phase=")), "none")
    except OSError:
        return "none"
def owner_pid():
    out = subprocess.run(["busctl", f"--address={bus}", "call", "org.freedesktop.DBus",
                          "/org/freedesktop/DBus", "org.freedesktop.DBus",
                          "GetConnectionUnixProcessID", "s", "io.stdfu1"],
                         capture_output=True, text=True).stdout.split()
    return int(out[1]) if len(out) == 2 else None
last, announced, pid = {}, False, None
for line in sys.stdin:
    if "is owned by" in line:
        pid = owner_pid()  # looked up now: the kill itself must not wait for it
    if not announced and ("is owned by" in line or "does not have an owner" in line):
        print("monitoring", flush=True)  # subscribed: from here on no signal is missed
        announced = True
    m = re.match(r"(/io/stdfu1/device/\S+): org.freedesktop.DBus.Properties.PropertiesChanged "
                 r".*'State': <'([a-z-]+)'>", line)
    if not m:
        continue
    port, s = port_of(m.group(1)), m.group(2)
    prev, last[port] = last.get(port), s
    if wanted.get(port) != s or (s == "waiting" and prev != "leaving"):
        continue
    try:
        os.kill(pid or owner_pid() or 0, signal.SIGKILL)
    except (OSError, TypeError):
        continue  # already gone (another kill): the state comes again after the restart
    pid = None
    del wanted[port]
    last.clear()
    # What the journal kept: read after the kill, nothing can change it any more.
    print(f"{time.monotonic() - start:.1f}s killed {port} {s} journal={journal(port)}",
          flush=True)
    if not wanted:
        break
PY
    gdbus_monitor "$T/kill-at-phases.fifo" --dest io.stdfu1
    python3 -u "$T/kill-at-phases.py" "$BUS" "$STATE" "$@" <"$T/kill-at-phases.fifo" \
        >"$T/kills.log" 2>&1 &
    EXTRA_PIDS+=($!)
}

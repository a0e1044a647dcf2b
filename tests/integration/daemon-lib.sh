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

# state_in PORT STATE...: the device's State is one of them.
state_in() {
    local s port=$1; shift
    s=$(dprop "$port" State) || return 1
    for want; do [ "$s" = "s \"$want\"" ] && return 0; done
    return 1
}

# start_bus [policy]: "policy" makes a bus like the system bus (deny by default) that
# includes conf/io.stdfu1.conf; otherwise everyone may do everything, so that only the
# daemon's own checks stand between a caller and a method.
start_bus() {
    chmod 755 "$T"   # nobody must reach the socket
    if [ "${1:-}" = policy ]; then
        cat >"$T/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <listen>unix:path=$T/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Introspectable"/>
  </policy>
  <include>$SRCDIR/conf/io.stdfu1.conf</include>
</busconfig>
CONF
    else
        cat >"$T/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <listen>unix:path=$T/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
CONF
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

start_daemon() {
    mkdir -p "$ETC" "$STATE"
    local cmd=("$DAEMON" --bus "$BUS" --state-dir "$STATE" --manifest "$ETC/manifest.yaml"
               --manifest-dir "$ETC/manifest.d" --log-level debug "$@")
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
    cat >"$ETC/manifest.yaml" <<YAML
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

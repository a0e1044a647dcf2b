#!/bin/bash
# stdfud works with what stdfud.service gives it: an unprivileged user of its own (here
# nobody), no supplementary groups, no capabilities at all (empty bounding, inheritable and
# ambient sets), no_new_privs, UMask=0077 and a state directory owned by that user, as
# StateDirectory= creates it. It starts, takes its bus name, answers a root caller's Reload,
# writes its files private to its user, and stops cleanly on SIGTERM. (The file system and
# device parts of the sandbox need systemd as PID 1 and are not emulated here.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/bus-config.sh"

for tool in setpriv dbus-daemon busctl; do
    command -v "$tool" >/dev/null || skip_all "$tool not installed"
done
[ -x "$DAEMON" ] || skip_all "stdfud not built in $STDFU_BUILD"
[ "$(id -u)" = 0 ] || skip_all "needs root to switch to another user"
unit=$SRCDIR/systemd/stdfud.service

pids=()
trap '_rc=$?; for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait; (exit $_rc); _cleanup' EXIT

check_eq "the unit's UMask" "0077" "$(sed -n 's/^UMask=//p' "$unit")"
check_eq "the unit has no capabilities" "" "$(sed -n 's/^CapabilityBoundingSet=//p' "$unit")"
check_eq "the unit sets NoNewPrivileges" "yes" "$(sed -n 's/^NoNewPrivileges=//p' "$unit")"

# The daemon's user must reach the bus socket and, through the build tree, its binary.
chmod 0755 "$T"
mkdir -p "$T/pub" "$T/manifest.d" "$T/state"
chmod 0755 "$T/pub"
chown nobody: "$T/state" && chmod 0700 "$T/state"
bus_config "$T/pub/bus" >"$T/bus.conf"
dbus-daemon --config-file="$T/bus.conf" --nofork --nopidfile --print-address=1 \
    >"$T/bus.addr" 2>"$T/bus.log" &
pids+=($!)
for _ in $(seq 50); do [ -s "$T/bus.addr" ] && break; sleep 0.1; done
addr=$(head -n1 "$T/bus.addr")
check "private bus is up" test -n "$addr"

( umask 0077
  exec setpriv --reuid=nobody --regid=nogroup --clear-groups --no-new-privs \
      --inh-caps=-all --ambient-caps=-all --bounding-set=-all -- \
      "$DAEMON" --bus="$addr" --manifest="$T/manifest.yaml" --manifest-dir="$T/manifest.d" \
      --state-dir="$T/state" --log-level=debug ) >"$T/stdfud.log" 2>&1 &
daemon=$!
pids+=($daemon)
up=1
for _ in $(seq 100); do
    busctl --address="$addr" status io.stdfu1 >/dev/null 2>&1 && { up=0; break; }
    kill -0 "$daemon" 2>/dev/null || break
    sleep 0.1
done
[ $up -eq 0 ] || sed 's/^/#   /' "$T/stdfud.log"
check "stdfud as nobody, without capabilities, owns io.stdfu1" test $up -eq 0
check_eq "it really runs as nobody with no capabilities" "65534 0000000000000000" \
    "$(awk '/^Uid:/ { u = $2 } /^CapEff:/ { c = $2 } END { print u, c }' \
        "/proc/$daemon/status" 2>/dev/null)"
check "a root caller may Reload it (its own check lets root through)" \
    busctl --address="$addr" call io.stdfu1 /io/stdfu1 io.stdfu1.Manager Reload
state_state=$(busctl --address="$addr" get-property io.stdfu1 /io/stdfu1 io.stdfu1.Manager State)
check_eq "Manager.State" 's "running"' "$state_state"

# Everything it created in the state directory is its own and private (UMask=0077).
files=$(find "$T/state" -mindepth 1)
check "it created its files in the state directory" test -n "$files"
check_eq "they are owned by nobody and closed to group and others" "" \
    "$(find "$T/state" -mindepth 1 \( ! -user nobody -o -perm /0077 \) -printf '%p %u %m\n')"

kill -TERM "$daemon"
wait "$daemon"
check_eq "it exits 0 on SIGTERM" 0 "$?"
finish

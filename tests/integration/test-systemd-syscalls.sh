#!/bin/bash
# The unit's system call filter lets the daemon work. stdfud.service allows
# @system-service minus @privileged and @resources (SystemCallErrorNumber=EPERM, so a missing
# call would not kill the daemon but fail in some corner). This runs stdfud under strace on a
# private bus through start-up, D-Bus reads and a Reload, a manifest change picked up by
# inotify, SIGHUP and SIGTERM, and checks that every system call it made is one the filter
# allows, as `systemd-analyze syscall-filter` expands the sets on this machine.
# (What it does not cover: the calls of a running update, libusb and hidraw I/O, which
# tests/system exercises on a real kernel.)
. "$(dirname "$0")/lib.sh"

for tool in strace systemd-analyze dbus-daemon busctl python3; do
    command -v "$tool" >/dev/null || skip_all "$tool not installed"
done
[ -x "$DAEMON" ] || skip_all "stdfud not built in $STDFU_BUILD"
# Under ASan the runtime adds its own system calls that production never makes.
if nm -u "$DAEMON" 2>/dev/null | grep -q __asan_init; then
    skip_all "sanitizer build: ASan's own system calls are not the daemon's"
fi
unit=$SRCDIR/systemd/stdfud.service

pids=()
trap '_rc=$?; for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait; (exit $_rc); _cleanup' EXIT

# ---- the allowed set, from the unit ---------------------------------------------------------
filters=$(sed -n 's/^SystemCallFilter=//p' "$unit")
check "the unit has a system call filter" test -n "$filters"

cat >"$T/expand.py" <<'EOF'
import subprocess, sys
cache = {}
def expand(name):
    if not name.startswith("@"):
        return {name}
    if name not in cache:
        out = subprocess.run(["systemd-analyze", "syscall-filter", name], check=True,
                             capture_output=True, text=True).stdout.splitlines()
        cache[name] = set()
        for line in out[1:]:
            line = line.strip()
            if line and not line.startswith("#"):
                cache[name] |= expand(line)
    return cache[name]
allowed = set()
for line in sys.stdin:
    line = line.strip()
    if line.startswith("~"):
        for s in line[1:].split():
            allowed -= expand(s)
    else:
        for s in line.split():
            allowed |= expand(s)
open(sys.argv[1], "w").write("\n".join(sorted(allowed)) + "\n")
EOF
python3 "$T/expand.py" "$T/allowed" <<<"$filters"
check "systemd-analyze expands the filter into an allow list" \
    bash -c '[ "$(wc -l <"$1")" -gt 100 ] && grep -qx ioctl "$1" && ! grep -qx setuid "$1"' _ \
    "$T/allowed"
[ -s "$T/allowed" ] || { finish; exit; }

# ---- a private bus and the daemon under strace ---------------------------------------------
cat >"$T/bus.conf" <<EOF
<busconfig>
  <type>session</type>
  <listen>unix:path=$T/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
EOF
dbus-daemon --config-file="$T/bus.conf" --nofork --nopidfile --print-address=1 \
    >"$T/bus.addr" 2>"$T/bus.log" &
pids+=($!)
for _ in $(seq 50); do [ -s "$T/bus.addr" ] && break; sleep 0.1; done
addr=$(head -n1 "$T/bus.addr")
check "private bus is up" test -n "$addr"

mkdir -p "$T/manifest.d" "$T/state"
strace -f -qq -o "$T/strace.log" "$DAEMON" --bus="$addr" --manifest="$T/manifest.yaml" \
    --manifest-dir="$T/manifest.d" --state-dir="$T/state" --log-level=debug \
    >"$T/stdfud.log" 2>&1 &
tracer=$!
pids+=($tracer)
up=1
for _ in $(seq 100); do
    busctl --address="$addr" status io.stdfu1 >/dev/null 2>&1 && { up=0; break; }
    sleep 0.1
done
check "stdfud under strace owns io.stdfu1" test $up -eq 0

call() { busctl --address="$addr" call io.stdfu1 /io/stdfu1 "$@" >/dev/null 2>&1; }
call org.freedesktop.DBus.Properties GetAll s io.stdfu1.Manager
call io.stdfu1.Manager ListDevices
call io.stdfu1.Manager GetHistory
call io.stdfu1.Manager Reload
call io.stdfu1.Manager Update sa{sv} 1-1 0     # no such device: an error reply
printf 'this: [is not a manifest\n' >"$T/manifest.d/bad.yaml"
sleep 1                                          # inotify, then the reload timer
daemon_pid=$(pgrep -P "$tracer" -x stdfud || true)
[ -n "$daemon_pid" ] && kill -HUP "$daemon_pid"
sleep 0.3
errors=$(busctl --address="$addr" get-property io.stdfu1 /io/stdfu1 io.stdfu1.Manager \
    ManifestErrors 2>/dev/null)
check "the manifest change was seen (ManifestErrors names bad.yaml)" \
    bash -c '[[ "$1" == *bad.yaml* ]]' _ "$errors"
[ -n "$daemon_pid" ] && kill -TERM "$daemon_pid"
wait "$tracer"
check_eq "stdfud exits 0 on SIGTERM" 0 "$?"

# ---- every call it made is allowed ----------------------------------------------------------
sed -nE 's/^[0-9]+ +([a-z0-9_]+)\(.*/\1/p; s/^[0-9]+ +<\.\.\. ([a-z0-9_]+) resumed>.*/\1/p' \
    "$T/strace.log" | sort -u >"$T/used"
echo "# $(wc -l <"$T/used") distinct system calls: $(tr '\n' ' ' <"$T/used")"
check "strace saw the daemon's system calls" test "$(wc -l <"$T/used")" -gt 20
check_eq "every system call stdfud made is allowed by the unit's filter" "" \
    "$(comm -23 "$T/used" "$T/allowed" | tr '\n' ' ')"

finish

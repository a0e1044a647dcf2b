#!/bin/bash
# The unit's system call filter lets the daemon work. stdfud.service allows
# @system-service minus @privileged and @resources (SystemCallErrorNumber=EPERM, so a missing
# call would not kill the daemon but fail in some corner). This runs stdfud under strace on a
# private bus through start-up, D-Bus reads and a Reload, a manifest change picked up by
# inotify, SIGHUP and SIGTERM, and checks that every system call it made is one the filter
# allows, as `systemd-analyze syscall-filter` expands the sets on this machine.
# When stdfu-sim is built, a second run traces a whole update of an emulated device (worker
# thread, libusb, hidraw, the state journal). The emulator's preload library runs inside the
# daemon's process there, so its calls are in that trace too; usbfs and hidraw I/O is
# emulated in user space, so those ioctls never reach the kernel in either run.
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
# calls_allowed LOG WHAT: the distinct calls of an strace -f log against the allow list.
calls_allowed() {
    sed -nE 's/^[0-9]+ +([a-z0-9_]+)\(.*/\1/p; s/^[0-9]+ +<\.\.\. ([a-z0-9_]+) resumed>.*/\1/p' \
        "$1" | sort -u >"$1.used"
    echo "# $(wc -l <"$1.used") distinct system calls: $(tr '\n' ' ' <"$1.used")"
    check "strace saw the system calls of $2" test "$(wc -l <"$1.used")" -gt 20
    check_eq "every system call of $2 is allowed by the unit's filter" "" \
        "$(comm -23 "$1.used" "$T/allowed" | tr '\n' ' ')"
}
calls_allowed "$T/strace.log" "start, D-Bus, reload and stop"

# ---- a whole update under the emulator --------------------------------------------------------
if [ ! -x "$SIM" ]; then
    _tap_n=$((_tap_n + 1))
    echo "ok $_tap_n - system calls of an update # SKIP stdfu-sim not built"
    finish; exit
fi
U=$T/update
mkdir -p "$U/manifest.d" "$U/state"
"$SIM" mkfw --version 2.0 --size 8192 -o "$U/fw.bin" >/dev/null
cat >"$U/manifest.yaml" <<EOF
rules:
  - name: f072
    application: {id: "0483:5750"}
    firmware:
      file: fw.bin
      sha256: $(sha256sum "$U/fw.bin" | cut -d' ' -f1)
      version: "2.0"
      address: 0x08000000
EOF
"$SIM" --device port=1-1.1,profile=f072,mode=application,version=1.0 -- \
    strace -f -qq -o "$U/strace.log" "$DAEMON" --bus="$addr" --manifest="$U/manifest.yaml" \
    --manifest-dir="$U/manifest.d" --state-dir="$U/state" --log-level=debug \
    >"$U/stdfud.log" 2>&1 &
sim=$!
pids+=($sim)
history=""
for _ in $(seq 120); do
    history=$(busctl --address="$addr" call io.stdfu1 /io/stdfu1 io.stdfu1.Manager GetHistory \
        2>/dev/null)
    [[ "$history" == *'"1-1.1" "done"'* || "$history" == *'"failed"'* ]] && break
    kill -0 "$sim" 2>/dev/null || break
    sleep 0.5
done
check "the emulated f072 on 1-1.1 was updated (history: done)" \
    bash -c '[[ "$1" == *"\"1-1.1\" \"done\" \"1.0\" \"2.0\""* ]]' _ "$history"
[[ "$history" == *done* ]] || sed 's/^/#   /' "$U/stdfud.log" | tail -n 20
# stdfu-sim -> strace -> stdfud: stop the daemon, strace and the emulator follow.
tracer=$(pgrep -P "$sim" -x strace || true)
daemon_pid=$([ -n "$tracer" ] && pgrep -P "$tracer" -x stdfud || true)
[ -n "$daemon_pid" ] && kill -TERM "$daemon_pid"
wait "$sim"
check_eq "stdfud under the emulator exits 0 on SIGTERM" 0 "$?"
calls_allowed "$U/strace.log" "an update"

finish

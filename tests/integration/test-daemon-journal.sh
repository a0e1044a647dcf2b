#!/bin/bash
# stdfud writes a structured journal entry for each finished update (sd_journal_send), for
# `journalctl STDFU_PORT=1-1.4` and message catalogs: MESSAGE_ID, PRIORITY, the port, the
# outcome, the versions, the rule, the attempts and the error. There is no journald here: the
# test runs in a mount namespace of its own with a tmpfs on /run, where a listener on
# /run/systemd/journal/socket takes journald's place and decodes its native protocol.
if [ -z "${STDFU_TEST_PRIVATE_RUN:-}" ]; then
    if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null; then
        echo "1..0 # SKIP a private /run needs root and unshare"
        exit 77
    fi
    STDFU_TEST_PRIVATE_RUN=1 exec unshare --mount --propagation private "$0" "$@"
fi
mount -t tmpfs -o mode=0755 tmpfs /run || { echo "1..0 # SKIP cannot mount a tmpfs on /run"; exit 77; }

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"

requires stdfud stdfu-sim busctl dbus-daemon python3

# journald's native protocol: "KEY=value\n", or "KEY\n" + 64-bit little-endian length + value
# + "\n" for values with newlines. One JSON object per datagram.
mkdir -p /run/systemd/journal
python3 - /run/systemd/journal/socket "$T/journal.jsonl" <<'PY' &
import json, socket, struct, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(1)
def fields(data):
    out, i = {}, 0
    while i < len(data):
        nl = data.index(b"\n", i)
        line = data[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            i = nl + 1
        else:
            n = struct.unpack("<Q", data[nl + 1:nl + 9])[0]
            k, v = line, data[nl + 9:nl + 9 + n]
            i = nl + 9 + n + 1
        out[k.decode()] = v.decode(errors="replace")
    return out
end = time.monotonic() + 120
with open(sys.argv[2], "a", buffering=1) as log:
    while time.monotonic() < end:
        try:
            log.write(json.dumps(fields(s.recv(65536))) + "\n")
        except socket.timeout:
            pass
PY
EXTRA_PIDS+=($!)
wait_for 5 test -S /run/systemd/journal/socket || skip_all "cannot create the journal socket"

sensor_manifest 1.2 "    retries: 0" || skip_all "stdfu-sim mkfw failed"
# As under systemd: stderr is the journal's stream, so events go natively, not also to stderr.
: >"$T/daemon.log"
export JOURNAL_STREAM=$(stat -c %d:%i "$T/daemon.log")
start_bus || skip_all "cannot start dbus-daemon"
SIM_ARGS=(--hub ppps
          --device port=1-1.1,profile=f072,mode=application,version=1.0
          --device port=1-1.2,profile=f072,mode=application,version=1.0,write-error-at=3
          --device port=1-1.3,profile=f072,mode=application,version=1.0,leave=stuck)
check "stdfud starts with three devices to update" start_daemon
check "1-1.1 is updated" wait_for 60 state_is 1-1.1 done
# Issue 10: an attempt that leaves the device in its bootloader is never the end: retry-wait.
check "1-1.2's attempt fails and its job waits for the next (retry-wait)" \
    wait_for 60 state_is 1-1.2 retry-wait
check "1-1.3 gets stuck in the bootloader and is brought back" wait_for 60 state_is 1-1.3 done
check "SIGTERM stops it" stop_daemon

# entry PORT EXPR: EXPR (Python, over the entry e) for the update entry of PORT.
entry() {
    python3 - "$T/journal.jsonl" "$1" "$2" <<'PY'
import json, sys
es = [json.loads(l) for l in open(sys.argv[1])]
es = [e for e in es if e.get("MESSAGE_ID") == "8d6a3f2e5b1c4e0f9a7d3c2b1e0f4a5d"
      and e.get("STDFU_PORT") == sys.argv[2]]
print(len(es), eval("(%s)" % sys.argv[3]) if es else "-")
PY
}
check_eq "one entry for the update of 1-1.1, with its fields" \
    "1 done 1.0 1.2 sensor 1 6 ||1-1.1: updated to 1.2." \
    "$(entry 1-1.1 '" ".join(es[0].get(k, "?") for k in ("STDFU_OUTCOME", "STDFU_FROM_VERSION",
       "STDFU_TO_VERSION", "STDFU_RULE", "STDFU_ATTEMPTS", "PRIORITY")) + " |" +
       es[0].get("STDFU_ERROR", "?") + "|" + es[0].get("MESSAGE", "?")')"
check_eq "one entry for the failed update of 1-1.2, a warning" "1 failed 4" \
    "$(entry 1-1.2 'es[0].get("STDFU_OUTCOME", "?") + " " + es[0].get("PRIORITY", "?")')"
check "which carries the reason, in the message too" python3 - "$T/journal.jsonl" <<'PY'
import json, sys
e = next(e for e in map(json.loads, open(sys.argv[1])) if e.get("STDFU_PORT") == "1-1.2"
         and e.get("MESSAGE_ID") == "8d6a3f2e5b1c4e0f9a7d3c2b1e0f4a5d")
sys.exit(0 if e["STDFU_ERROR"] and e["MESSAGE"].endswith(": " + e["STDFU_ERROR"]) else 1)
PY
check "the finished update is logged once: not also on stderr" \
    test "$(grep -c 'updated to 1.2' "$T/daemon.log")" = 0

# ids PORT: the MESSAGE_IDs of PORT's entries, in order, one a line.
ids() {
    python3 - "$T/journal.jsonl" "$1" <<'PY'
import json, sys
for e in map(json.loads, open(sys.argv[1])):
    if e.get("STDFU_PORT") == sys.argv[2] and "MESSAGE_ID" in e:
        print(e["MESSAGE_ID"], e.get("PRIORITY"), e.get("STDFU_ATTEMPT"), e.get("STDFU_STEP", "-"))
PY
}
started=e0021eeacd4d4d489f418536012609bf
step=6cbad47463f548a29940747cd1aeb4c8
check_eq "1-1.1: the attempt's start, at info, then its end" \
    "$started 6 1 -|8d6a3f2e5b1c4e0f9a7d3c2b1e0f4a5d 6 1 -" "$(ids 1-1.1 | paste -sd'|')"
check "1-1.2: its attempt's start at info" grep -q "^$started 6 1 -" <(ids 1-1.2)
check "1-1.3: its recovery step at info, with the step" \
    grep -q "^$step 6 1 leave-again" <(ids 1-1.3)
check "every entry carries the rule" python3 - "$T/journal.jsonl" <<'PY'
import json, sys
es = [e for e in map(json.loads, open(sys.argv[1])) if e.get("MESSAGE_ID")]
sys.exit(0 if es and all(e.get("STDFU_RULE") == "sensor" for e in es) else 1)
PY

# SYSTEMD_LOG_LEVEL: honoured like --log-level (which wins). The bus cannot be reached: the
# daemon loads the manifest (an info line) and fails (an error).
unset JOURNAL_STREAM
quiet=$(SYSTEMD_LOG_LEVEL=err "$DAEMON" --bus unix:path=/nonexistent --state-dir "$T/s2" \
        --manifest "$ETC/manifest.yaml" --manifest-dir "$T/none" 2>&1)
loud=$(SYSTEMD_LOG_LEVEL=info "$DAEMON" --bus unix:path=/nonexistent --state-dir "$T/s2" \
       --manifest "$ETC/manifest.yaml" --manifest-dir "$T/none" 2>&1)
check "SYSTEMD_LOG_LEVEL=err: no info line" test "$(grep -c 'Manifest loaded' <<<"$quiet")" = 0
check "SYSTEMD_LOG_LEVEL=err: errors still" grep -q '^<3>' <<<"$quiet"
check "SYSTEMD_LOG_LEVEL=info: the info line" grep -q 'Manifest loaded' <<<"$loud"
finish

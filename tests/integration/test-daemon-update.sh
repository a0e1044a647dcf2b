#!/bin/bash
# stdfud end to end under stdfu-sim, driven only through D-Bus: two devices on the old version
# are updated in parallel to the manifest's target; the emulator's report shows the image in
# flash and the application running the target; D-Bus shows done, the history has both.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"

requires stdfud stdfu-sim busctl dbus-daemon python3

SIZE=16384
mkdir -p "$ETC"
"$SIM" mkfw --version 1.2 --size $SIZE --seed 7 -o "$ETC/fw-1.2.bin" >/dev/null
SHA=$(sha256sum "$ETC/fw-1.2.bin" | cut -d' ' -f1)
cat >"$ETC/manifest.yaml" <<YAML
settings:
  max-parallel-jobs: 2
rules:
  - name: sensor
    application:
      id: "0483:5750"
    firmware:
      file: fw-1.2.bin
      sha256: $SHA
      version: "1.2"
      address: 0x08000000
YAML
# The flash after the update: the image, then erased bytes (64 KiB... the f072's 128 KiB).
FLASH_SHA=$(python3 - "$ETC/fw-1.2.bin" <<'PY'
import hashlib, sys
data = open(sys.argv[1], "rb").read()
print(hashlib.sha256(data + b"\xff" * ((128 << 10) - len(data))).hexdigest())
PY
)

start_bus || skip_all "cannot start dbus-daemon"
SIM_ARGS=(--device port=1-1.1,profile=f072,mode=application,version=1.0
          --device port=1-1.2,profile=f072,mode=application,version=1.0
          --control "$T/ctl.sock" --report "$T/report.json")
check "stdfud starts under stdfu-sim" start_daemon
bctl monitor --match "type='signal',interface='io.stdfu1.Manager'" >"$T/signals.log" 2>&1 &
EXTRA_PIDS+=($!)
# Hotplug while the others update: a third device, to be updated as well.
check "a device added on 1-1.3 while the others update" grep -q '^ok' \
    <(sim_ctl "add port=1-1.3,profile=f072,mode=application,version=1.1")

check "ListDevices shows both emulated devices" grep -q '"1-1.1" .* "1-1.2"' \
    <(bctl call io.stdfu1 /io/stdfu1 io.stdfu1.Manager ListDevices)
done_state() { [ "$(dprop "$1" State)" = 's "done"' ]; }
check "1-1.1 reaches done" wait_for 60 done_state 1-1.1
check "1-1.2 reaches done" wait_for 60 done_state 1-1.2
check "1-1.3 (hotplugged) reaches done" wait_for 60 done_state 1-1.3
for port in 1-1.1 1-1.2 1-1.3; do
    check_eq "$port: Mode application" 's "application"' "$(dprop $port Mode)"
    check_eq "$port: RunningVersion 1.2" 's "1.2"' "$(dprop $port RunningVersion)"
    check_eq "$port: Progress 100" 'u 100' "$(dprop $port Progress)"
    check_eq "$port: no LastError" 's ""' "$(dprop $port LastError)"
done
check "the history has the three updates as done" python3 - <(bctl --json=short call io.stdfu1 \
    /io/stdfu1 io.stdfu1.Manager GetHistory) <<'PY'
import json, sys
h = json.load(open(sys.argv[1]))["data"][0]
done = sorted(e[0] for e in h if e[1] == "done" and e[2] in ("1.0", "1.1") and e[3] == "1.2")
sys.exit(0 if done == ["1-1.1", "1-1.2", "1-1.3"] else 1)
PY
check "the journal has no unfinished job" test -z "$(ls "$STATE/jobs")"
check "the two updates overlapped (parallel)" python3 - "$T/daemon.log" <<'PY'
import sys
running = peak = 0
for line in open(sys.argv[1]):
    if ": entering (attempt" in line:
        running += 1
        peak = max(peak, running)
    elif "updated to" in line or "update failed" in line:
        running -= 1
sys.exit(0 if peak == 2 else 1)
PY
check "UpdateFinished signals with outcome done" test "$(grep -c '"done"' "$T/signals.log")" -ge 3

# ---- UpdateFile: the caller's image through an fd ----------------------------------------------
# The data comes without a name: text (or anything no parser takes) is never written raw, even
# with an address, unless the caller says format bin (issue 10).
printf 'These are release notes, not firmware.\nVersion 1.3\n' >"$T/notes"
UF=("$SRCDIR/tests/integration/update-file.py" "$BUS")
check "UpdateFile of text with an address: InvalidArgs naming what it is" \
    grep -q '^org.freedesktop.DBus.Error.InvalidArgs: .*this is text' \
    <("${UF[@]}" 1-1.1 3 "{'address': <uint32 0x08000000>, 'force': <true>}" 3<"$T/notes")
check "format auto given says the same" grep -q 'InvalidArgs: .*this is text' \
    <("${UF[@]}" 1-1.1 3 "{'address': <uint32 0x08000000>, 'format': <'auto'>}" 3<"$T/notes")
check "an unknown format: InvalidArgs naming it and the formats" \
    grep -q 'InvalidArgs: Option "format": "pdf" is not one of auto, dfuse, dfu, bin' \
    <("${UF[@]}" 1-1.1 3 "{'address': <uint32 0x08000000>, 'format': <'pdf'>}" 3<"$T/notes")
check_eq "1-1.1 is untouched: still done, no job" 's "done"' "$(dprop 1-1.1 State)"
check "and no journal record for it" test ! -e "$STATE/jobs/1-1.1"
# 64 KiB, so that the write lasts long enough to count its PropertiesChanged (throttled to
# about 10 a second per device); the monitor stamps each signal as it arrives.
"$SIM" mkfw --version 1.3 --size 65536 --seed 9 -o "$T/fw-1.3.bin" >/dev/null
gdbus_monitor "$T/props.fifo" --dest io.stdfu1 --object-path "$(device_path 1-1.1)"
python3 -u -c 'import sys, time
for l in sys.stdin: print(f"{time.monotonic():.3f} {l}", end="", flush=True)' \
    <"$T/props.fifo" >"$T/props.log" &
EXTRA_PIDS+=($!)
check "monitoring 1-1.1" wait_for 10 grep -q 'is owned by' "$T/props.log"
check "UpdateFile of a 1.3 image (format bin) to 1-1.1 is queued" grep -q '^ok$' \
    <("$SRCDIR/tests/integration/update-file.py" "$BUS" 1-1.1 3 \
        "{'version': <'1.3'>, 'address': <uint32 0x08000000>, 'format': <'bin'>}" \
        3<"$T/fw-1.3.bin")
runs_13() { [ "$(dprop 1-1.1 RunningVersion)" = 's "1.3"' ] && done_state 1-1.1; }
check "1-1.1 runs 1.3" wait_for 60 runs_13
check "Progress reached 100 and State done in the signals" python3 - "$T/props.log" <<'PY'
import sys
lines = open(sys.argv[1]).read()
sys.exit(0 if "'Progress': <uint32 100>" in lines and "'State': <'done'>" in lines else 1)
PY
check "while writing: at most ~10 PropertiesChanged a second, and some progress" \
    python3 - "$T/props.log" <<'PY'
import sys
start = end = None
n = 0
for l in open(sys.argv[1]):
    t, rest = float(l.split(" ", 1)[0]), l.split(" ", 1)[1]
    if "PropertiesChanged" not in rest:
        continue
    if "'State': <'writing'>" in rest:
        start = t
    elif start is not None and end is None and "'State': <" in rest:
        end = t
    elif start is not None and end is None:
        n += 1
rate = n / (end - start) if start and end and end > start else None
print(f"# {n} signals in {end - start:.2f} s of writing" if rate is not None else "# no writing")
# The first signal of a burst goes out at once: allow one over the 10 per second.
sys.exit(0 if rate is not None and n >= 2 and n <= 10 * (end - start) + 1 else 1)
PY
check "the history names the image by its SHA-256" grep -q "\"1-1.1\" \"done\" \"1.2\" \"1.3\" \"file\" \"$(sha256sum "$T/fw-1.3.bin" | cut -d' ' -f1)\"" \
    <(bctl call io.stdfu1 /io/stdfu1 io.stdfu1.Manager GetHistory)

# ---- Cancel: a slow device, cancelled while it erases ----------------------------------------
sim_ctl "add port=1-1.4,profile=f072,mode=application,version=1.0,slow-erase=50" >/dev/null
busy() { dprop 1-1.4 State | grep -qE '"(entering|erasing|writing)"'; }
check "1-1.4 starts updating" wait_for 30 busy
check "Cancel of the running job" grep -q '^()$' <(gcall Cancel 1-1.4)
# Issue 10: the attempt stops, but the device is in its bootloader with its flash erased: the
# job is kept (retry-wait) and its next attempt finishes the update; it is not forgotten.
check "UpdateFinished says cancelled" \
    wait_for 60 bash -c 'grep -A3 "\"1-1.4\"" "$1" | grep -q "\"cancelled\""' _ "$T/signals.log"
check "1-1.4, left in its bootloader, keeps its job: retry-wait" \
    wait_for 30 state_is 1-1.4 retry-wait
check "the journal keeps it" grep -q '^phase=retry-wait' "$STATE/jobs/1-1.4"
check "Cancel again is refused: the job stays until the device runs an application" \
    grep -q 'without a complete application' <(gcall Cancel 1-1.4)

# ---- an image the pre-erase check refuses: outcome refused, nothing erased, no retry --------
# 1-2's rule puts the image past the end of the f072's 128 KiB flash.
cat >"$ETC/manifest.yaml" <<YAML
settings:
  max-parallel-jobs: 2
  retry-delay: 1
  retry-delay-max: 1
  metrics-directory: $T/metrics
rules:
  - name: sensor
    port: "1-1.*"
    application:
      id: "0483:5750"
    firmware:
      file: fw-1.2.bin
      sha256: $SHA
      version: "1.2"
      address: 0x08000000
  - name: far
    port: "1-2"
    application:
      id: "0483:5750"
    firmware:
      file: fw-1.2.bin
      sha256: $SHA
      version: "1.2"
      address: 0x08100000
    retries: 2
  - name: spare
    port: "1-3"
    application:
      id: "0483:5750"
    firmware:
      file: fw-1.2.bin
      sha256: $SHA
      version: "1.2"
      address: 0x08000000
    retries: 1
YAML
mkdir -p "$T/metrics"
check "the manifest with a rule whose image does not fit is loaded" grep -q '^()$' <(gcall Reload)
sim_ctl "add port=1-2,profile=f072,mode=application,version=1.0" >/dev/null
check "1-2's image is refused: the device shows failed" wait_for 60 state_is 1-2 failed
check "UpdateFinished says refused" \
    wait_for 10 bash -c 'grep -A3 "\"1-2\"" "$1" | grep -q "\"refused\""' _ "$T/signals.log"
check "LastError says nothing was erased and names the address" \
    grep -q 'image refused, nothing erased.*0x081' <(dprop 1-2 LastError)
check "the journal event has the outcome" grep -q '1-2: update refused: image refused' \
    "$T/daemon.log"
history_of_1_2() {
    "$CTL" --bus "$BUS" history --json 1-2 | python3 -c 'import json, sys
print(*(":".join(str(e[k]) for k in ("outcome", "attempts", "bytes_written"))
        for e in json.load(sys.stdin)["updates"]))'
}
# Three retry delays of 1 s: a retry loop would have run by then.
sleep 3
check_eq "the history has one entry, refused, attempt 1, nothing written; no retry followed" \
    "refused:1:0" "$(history_of_1_2)"
check_eq "and the device stays failed (no retry-wait)" 's "failed"' "$(dprop 1-2 State)"
rc=0; "$CTL" --bus "$BUS" update --wait 1-2 >"$T/update-1-2.out" 2>&1 || rc=$?
check_eq "stdfuctl update --wait asks again: refused again, exit 3 (a file that does not fit)" \
    3 "$rc"
check_eq "that attempt has its entry too, refused, nothing written" "refused:1:0 refused:1:0" \
    "$(history_of_1_2)"
check "the metrics count the refused attempts (written at most every few seconds)" \
    wait_for 20 grep -q '^stdfu_updates_total{outcome="refused"} 2$' "$T/metrics/stdfu.prom"

# ---- every attempt has its history entry, numbered as the job counts ------------------------
# An image that comes back with another version than the one given: each attempt runs the
# flash cycle twice (the rule's retries: 1, reflash once), and the job gets two attempts. The
# cycles within an attempt are its reflash steps; the history has one entry per attempt,
# numbered 1 and 2 (not 2 and 4, nor one entry numbered by the cycles).
sim_ctl "add port=1-3,profile=f072,mode=application,version=1.2" >/dev/null
check "1-3 is current by its rule" wait_for 20 state_is 1-3 idle
check "UpdateFile to 1-3 of the 1.3 image said to be 1.4 is queued" grep -q '^ok$' \
    <("${UF[@]}" 1-3 3 "{'version': <'1.4'>, 'address': <uint32 0x08000000>, 'format': <'bin'>}" \
        3<"$T/fw-1.3.bin")
check "after its retries the job ends failed" wait_for 90 state_is 1-3 failed
history_of_1_3() {
    "$CTL" --bus "$BUS" history --json 1-3 | python3 -c 'import json, sys
print(*(":".join([e["outcome"], str(e["attempts"])] +
                 [f"{k}={v}" for k, v in sorted(e["recovery_steps"].items()) if v])
        for e in json.load(sys.stdin)["updates"]))'
}
check_eq "two entries, attempts 1 and 2, each with the reflash within it" \
    "failed:1:reflash=1 failed:2:reflash=1" "$(history_of_1_3)"
check_eq "Attempt says 2" 'u 2' "$(dprop 1-3 Attempt)"
check "SIGTERM stops it" stop_daemon

dev() {
    python3 - "$T/report.json" "$1" "$2" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
d = next(x for x in r["devices"] if x["port"] == sys.argv[2])
print(eval(sys.argv[3]))
PY
}
check_eq "1-2 still runs its old application: nothing was erased" "application 1.0" \
    "$(dev 1-2 'd["mode"] + " " + d["version"]')"
for port in 1-1.2 1-1.3; do
    check_eq "$port: the emulator runs the application 1.2" "application 1.2" \
        "$(dev $port 'd["mode"] + " " + d["version"]')"
    check_eq "$port: its flash is the image" "$FLASH_SHA" "$(dev $port 'd["flash_sha256"]')"
done
finish

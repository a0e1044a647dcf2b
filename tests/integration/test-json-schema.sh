#!/bin/bash
# Every stdfuctl command's --json output (list, status, history, update, flash, watch --json's
# lines) is checked against the one description, docs/stdfuctl.schema.json, by a real JSON
# Schema validator (python3-jsonschema); and status's exit status says what needs someone.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"

requires stdfud stdfuctl stdfu-sim busctl dbus-daemon python3
python3 -c 'import jsonschema' 2>/dev/null || skip_all "python3-jsonschema is not installed"
SCHEMA=$SRCDIR/docs/stdfuctl.schema.json

# valid NAME FILE: every line of FILE (one document, or JSON lines) is valid and NAME's.
valid() {
    python3 - "$SCHEMA" "$1" "$2" <<'PY'
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
text = open(sys.argv[3]).read()
docs = [json.loads(l) for l in text.splitlines() if l.strip()] if sys.argv[2] == "watch" \
    else [json.loads(text)]
if not docs:
    sys.exit("no document")
v = jsonschema.Draft202012Validator(schema)
for d in docs:
    errors = list(v.iter_errors(d))
    for e in errors:
        print("#  ", "/".join(map(str, e.absolute_path)), e.message[:200])
    if errors or d["command"] != sys.argv[2]:
        sys.exit(1)
PY
}
py() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }

check "the schema is a valid JSON Schema" python3 -c 'import json, jsonschema, sys
jsonschema.Draft202012Validator.check_schema(json.load(open(sys.argv[1])))' "$SCHEMA"

# ---- list and flash, straight over USB ---------------------------------------------------------
"$SIM" mkfw --version 1.2 --size 16384 --seed 7 -o "$T/fw.bin" >/dev/null || skip_all "mkfw failed"
"$SIM" --device port=1-1.1,profile=f072,mode=application,version=1.3 \
       --device port=1-1.2,profile=f072,mode=bootloader -- \
    "$CTL" list --json >"$T/list.json" 2>"$T/list.err"
check "list --json is valid" valid list "$T/list.json"
check_eq "list: the version as stdfud writes it, the usb id" "1.3 0483:5750" \
    "$(py "$T/list.json" 'd["devices"][0]["running_version"] + " " + d["devices"][0]["usb_id"]')"
"$SIM" --device port=1-1.1,profile=f072,mode=application,version=1.0 -- \
    "$CTL" flash "$T/fw.bin" --address 0x08000000 --port 1-1.1 --json >"$T/flash.json" 2>"$T/flash.err"
check "flash --json is valid" valid flash "$T/flash.json"
check_eq "flash: versions as \"1.2\"" "1.0 1.2" \
    "$(py "$T/flash.json" 'd["old_version"] + " " + d["running_version"]')"

# ---- the daemon's commands -----------------------------------------------------------------------
mkdir -p "$ETC"; cp "$T/fw.bin" "$ETC/fw.bin"
# Both applications take a custom HID feature report (report ID 1) to enter their bootloader;
# 1-1.2's wants other bytes, so it ignores the rule's: the attempt fails (after the 3 s enter
# timeout, while watch runs) with the old application still running, and with `retries: 0`
# that ends `failed`. (A fault in the bootloader would end in retry-wait: never stranded.)
sensor_manifest_for_image 1.2 "    retries: 0
    enter:
      method: hid-feature
      report: \"01 55\"
    timeouts:
      enter: 3"
start_bus || skip_all "cannot start dbus-daemon"
SIM_ARGS=(--hub ppps
          --device port=1-1.1,profile=f072,mode=application,version=1.0,enter=hid-feature:0155
          --device port=1-1.2,profile=f072,mode=application,version=1.0,enter=hid-feature:0166)
check "stdfud starts" start_daemon
timeout 60 "$CTL" --bus "$BUS" watch --json >"$T/watch.json" 2>"$T/watch.err" &
WATCH=$!
check "1-1.1 is updated" wait_for 60 state_is 1-1.1 done
check "1-1.2 fails" wait_for 60 state_is 1-1.2 failed
wait "$WATCH"
check "watch --json: every line is a valid event" valid watch "$T/watch.json"
check "watch --json: 1-1.1's update-finished event says done" python3 -c 'import json, sys
es = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(0 if any(e["event"] == "update-finished" and e["port"] == "1-1.1" and
                  e["outcome"] == "done" and e["error"] is None for e in es) else 1)' "$T/watch.json"
# 1-1.2 is the last one busy: watch waits for its update-finished event before it ends.
check "watch --json: 1-1.2's update-finished event says failed, with the reason" \
    python3 -c 'import json, sys
es = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(0 if any(e["event"] == "update-finished" and e["port"] == "1-1.2" and
                  e["outcome"] == "failed" and "did not enter its bootloader" in e["error"]
                  for e in es) else 1)' "$T/watch.json"
check "watch --json: 1-1.1's last event shows it done, running 1.2" python3 -c 'import json, sys
es = [json.loads(l) for l in open(sys.argv[1])]
d = [e["device"] for e in es if e["event"] == "device" and e["device"]["port"] == "1-1.1"][-1]
sys.exit(0 if d["state"] == "done" and d["running_version"] == "1.2" else 1)' "$T/watch.json"

"$CTL" --bus "$BUS" status --json >"$T/status.json"; rc=$?
check_eq "status exits 13: a device failed" 13 "$rc"
check "status --json is valid" valid status "$T/status.json"
check_eq "status --json: summary" "2 1 0" \
    "$(py "$T/status.json" 'd["summary"]["devices"], d["summary"]["failed"], d["summary"]["needs_power_cycle"]' | tr -d '(),')"
"$CTL" --bus "$BUS" history --json >"$T/history.json"
check "history --json is valid" valid history "$T/history.json"
"$CTL" --bus "$BUS" update --json 1-1.1 >"$T/update.json"
check "update --json is valid" valid update "$T/update.json"

mkdir -p "$ETC/manifest.d"
echo "rules: [ {" >"$ETC/manifest.d/broken.yaml"
"$CTL" --bus "$BUS" reload >/dev/null 2>&1
"$CTL" --bus "$BUS" status --json 1-1.1 >"$T/status-errors.json"; rc=$?
check_eq "status exits 14: the manifest has errors" 14 "$rc"
check "status --json with manifest errors is valid" valid status "$T/status-errors.json"
check "status --json carries the manifest errors" \
    python3 -c 'import json, sys; sys.exit(0 if "broken.yaml" in json.load(open(sys.argv[1]))["manifest_errors"][0] else 1)' \
    "$T/status-errors.json"
check "SIGTERM stops stdfud" stop_daemon

finish

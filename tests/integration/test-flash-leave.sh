#!/bin/bash
# Each leave behaviour of the emulator and the recovery ladder's answer, starting from the
# running application (the enter path end to end):
#   ok                      done, one leave
#   stuck                   leave again -> done
#   vanish behind ppps      grace period, hub port power cycle -> done
#   vanish behind ganged    exit 7 (needs a power cycle), the firmware written
#   watchdog:MS             grace period -> done, no power cycle
# and every enter method (st-hid-detach found by auto, hid-feature, hid-output, DFU_DETACH).
. "$(dirname "$0")/lib.sh"

[ -x "$SIM" ] && [ -x "$CTL" ] || skip_all "stdfu-sim or stdfuctl not built"
command -v python3 >/dev/null || skip_all "python3 not installed"

PORT=1-1.1
SIZE=20480

# dev NAME EXPR...: Python expressions on `d`, the emulator's report of the device at $PORT
# from $T/NAME.report.json, and `c`, its counters; printed space-separated.
dev() {
    python3 - "$T/$1.report.json" "$PORT" "${@:2}" <<'PY' 2>&1
import json, sys
r = json.load(open(sys.argv[1]))
d = next(x for x in r["devices"] if x["port"] == sys.argv[2])
c = d["counters"]
print(" ".join(str(eval(e)) for e in sys.argv[3:]))
PY
}

# res NAME EXPR...: the same on `r`, stdfuctl's --json result in $T/NAME.json, and `s`, its
# recovery steps.
res() {
    python3 - "$T/$1.json" "${@:2}" <<'PY' 2>&1
import json, sys
r = json.load(open(sys.argv[1]))
s = r.get("recovery_steps", {})
print(" ".join(str(eval(e)) for e in sys.argv[2:]))
PY
}

flash_sha() {
    python3 - "$1" <<'PY'
import hashlib, sys
data = open(sys.argv[1], "rb").read()
print(hashlib.sha256(data + b"\xff" * ((128 << 10) - len(data))).hexdigest())
PY
}

"$SIM" mkfw --version 2.0 --size $SIZE -o "$T/fw.dfu" >/dev/null
"$SIM" mkfw --version 2.0 --size $SIZE -o "$T/fw.bin" >/dev/null
SHA=$(flash_sha "$T/fw.bin")

# leave_case NAME EXPECTED_RC HUB SPEC-EXTRA [FLASH OPTIONS...]
leave_case() {
    local name=$1 want=$2 hub=$3 extra=$4
    shift 4
    local report=$T/$name.report.json out=$T/$name.json rc=0
    "$SIM" --hub "$hub" --device "port=$PORT,profile=f072,mode=application$extra" \
        --report "$report" -- \
        "$CTL" flash "$T/fw.dfu" --port "$PORT" --json "$@" >"$out" 2>"$T/$name.err" || rc=$?
    check_eq "$name: exit status $want" "$want" "$rc"
    [ "$rc" = "$want" ] || { sed 's/^/#   /' "$T/$name.err"; sed 's/^/#   /' "$out"; }
    check_eq "$name: flash is the image" "$SHA" "$(dev "$name" 'd["flash_sha256"]')"
}

leave_case ok 0 ppps ",leave=ok"
check_eq "ok: application runs 2.0" "application 2.0" "$(dev ok 'd["mode"]' 'd["version"]')"
check_eq "ok: entered by ST's HID detach, one leave, no recovery" "st-hid-detach 1 0 0" \
    "$(res ok 'r["entered_with"]' 'r["leaves"]' 'r["power_cycles"]' 'sum(s.values())')"

leave_case stuck 0 ppps ",leave=stuck"
check_eq "stuck: application runs 2.0" "application 2.0" "$(dev stuck 'd["mode"]' 'd["version"]')"
check_eq "stuck: recovered by leaving again" "1 2" "$(res stuck 's["leave-again"]' 'r["leaves"]')"

# Stuck twice: leave again, port reset, then the whole flash again.
leave_case stuck-twice 0 ppps ",leave=stuck:2"
check_eq "stuck twice: every rung for a stuck bootloader, two attempts" "1 1 1 2" \
    "$(res stuck-twice 's["leave-again"]' 's["port-reset"]' 's["reflash"]' 'r["attempts"]')"
check_eq "stuck twice: the emulator saw the reset" "application 2.0 1" \
    "$(dev stuck-twice 'd["mode"]' 'd["version"]' 'c["resets"]')"

leave_case vanish-ppps 0 ppps ",leave=vanish" --leave-timeout 1
check_eq "vanish-ppps: application runs 2.0" "application 2.0" \
    "$(dev vanish-ppps 'd["mode"]' 'd["version"]')"
check_eq "vanish-ppps: recovered by one port power cycle" "1 1" \
    "$(res vanish-ppps 's["power-cycle"]' 'r["power_cycles"]')"
check_eq "vanish-ppps: the emulator saw one power cycle" 1 "$(dev vanish-ppps 'c["power_cycles"]')"

leave_case vanish-ganged 7 ganged ",leave=vanish" --leave-timeout 1
check_eq "vanish-ganged: outcome needs-power-cycle" "needs-power-cycle" \
    "$(res vanish-ganged 'r["outcome"]')"
check "vanish-ganged: the message says to replug" \
    grep -q "unplug and replug" "$T/vanish-ganged.json"
check_eq "vanish-ganged: no power cycle happened" 0 "$(dev vanish-ganged 'c["power_cycles"]')"

leave_case watchdog 0 ppps ",leave=watchdog:3000" --leave-timeout 6
check_eq "watchdog: application runs 2.0" "application 2.0" \
    "$(dev watchdog 'd["mode"]' 'd["version"]')"
check_eq "watchdog: recovered by waiting, no power cycle" "1 0" \
    "$(res watchdog 's["grace-period"]' 'r["power_cycles"]')"

# Enter methods other than the default.
leave_case hid-feature 0 ppps ",enter=hid-feature:4201aa" --enter hid-feature:4201aa
check_eq "hid-feature: entered with it" "hid-feature 2.0" \
    "$(res hid-feature 'r["entered_with"]') $(dev hid-feature 'd["version"]')"
leave_case hid-output 0 ppps ",enter=hid-output:0799" --enter hid-output:0799
check_eq "hid-output: entered with it" "hid-output 2.0" \
    "$(res hid-output 'r["entered_with"]') $(dev hid-output 'd["version"]')"
leave_case dfu-detach 0 ppps ",enter=detach"
check_eq "dfu runtime: auto picked DFU_DETACH" "detach 2.0" \
    "$(res dfu-detach 'r["entered_with"]') $(dev dfu-detach 'd["version"]')"

# --enter none on a running application: refused at once, the device untouched.
rc=0
"$SIM" --device "port=$PORT,profile=f072" --report "$T/none.report.json" -- \
    "$CTL" flash "$T/fw.dfu" --port "$PORT" --enter none >/dev/null 2>"$T/none.err" || rc=$?
check_eq "enter none on an application: exit status 5" 5 "$rc"
check "enter none: the message says why" grep -q "enter method is none" "$T/none.err"
check_eq "enter none: device untouched" "application 1.0 1" \
    "$(dev none 'd["mode"]' 'd["version"]' 'c["enumerations"]')"

# --no-leave: stays in the bootloader.
leave_case no-leave 0 ppps "" --no-leave
check_eq "no-leave: device stays in the bootloader" "bootloader 0" \
    "$(dev no-leave 'd["mode"]' 'c["leaves"]')"

finish

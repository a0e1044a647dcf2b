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

dev() {
    python3 - "$1" "$PORT" "$2" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
d = next(x for x in r["devices"] if x["port"] == sys.argv[2])
print(eval(sys.argv[3]))
PY
}

# res FILE EXPR: a Python expression on `r`, stdfuctl's --json result.
res() {
    python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
        "$1" "$2" 2>/dev/null
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
    check_eq "$name: flash is the image" "$SHA" "$(dev "$report" 'd["flash_sha256"]')"
}

leave_case ok 0 ppps ",leave=ok"
check_eq "ok: application runs 2.0" "application 2.0" "$(dev "$T/ok.report.json" 'd["mode"] + " " + d["version"]')"
check_eq "ok: entered by ST's HID detach, one leave, no recovery" "st-hid-detach 1 0 0" \
    "$(res "$T/ok.json" 'r["entered_with"], r["leaves"], r["power_cycles"], sum(r["recovery_steps"].values())' | tr -d "(),'")"

leave_case stuck 0 ppps ",leave=stuck"
check_eq "stuck: application runs 2.0" "application 2.0" "$(dev "$T/stuck.report.json" 'd["mode"] + " " + d["version"]')"
check_eq "stuck: recovered by leaving again" "1 2" \
    "$(res "$T/stuck.json" 'r["recovery_steps"]["leave-again"], r["leaves"]' | tr -d '(),')"

# Stuck twice: leave again, port reset, then the whole flash again.
leave_case stuck-twice 0 ppps ",leave=stuck:2"
check_eq "stuck twice: every rung for a stuck bootloader, two attempts" "1 1 1 2" \
    "$(res "$T/stuck-twice.json" 'r["recovery_steps"]["leave-again"], r["recovery_steps"]["port-reset"], r["recovery_steps"]["reflash"], r["attempts"]' | tr -d '(),')"
check_eq "stuck twice: the emulator saw the reset" "application 2.0 1" \
    "$(dev "$T/stuck-twice.report.json" 'd["mode"], d["version"], d["counters"]["resets"]' | tr -d "(),'")"

leave_case vanish-ppps 0 ppps ",leave=vanish" --leave-timeout 1
check_eq "vanish-ppps: application runs 2.0" "application 2.0" \
    "$(dev "$T/vanish-ppps.report.json" 'd["mode"] + " " + d["version"]')"
check_eq "vanish-ppps: recovered by one port power cycle" "1 1" \
    "$(res "$T/vanish-ppps.json" 'r["recovery_steps"]["power-cycle"], r["power_cycles"]' | tr -d '(),')"
check_eq "vanish-ppps: the emulator saw one power cycle" 1 \
    "$(dev "$T/vanish-ppps.report.json" 'd["counters"]["power_cycles"]')"

leave_case vanish-ganged 7 ganged ",leave=vanish" --leave-timeout 1
check_eq "vanish-ganged: outcome needs-power-cycle" "needs-power-cycle" \
    "$(res "$T/vanish-ganged.json" 'r["outcome"]')"
check "vanish-ganged: the message says to replug" grep -q "unplug and replug" "$T/vanish-ganged.json"
check_eq "vanish-ganged: no power cycle happened" 0 \
    "$(dev "$T/vanish-ganged.report.json" 'd["counters"]["power_cycles"]')"

leave_case watchdog 0 ppps ",leave=watchdog:3000" --leave-timeout 6
check_eq "watchdog: application runs 2.0" "application 2.0" \
    "$(dev "$T/watchdog.report.json" 'd["mode"] + " " + d["version"]')"
check_eq "watchdog: recovered by waiting, no power cycle" "1 0" \
    "$(res "$T/watchdog.json" 'r["recovery_steps"]["grace-period"], r["power_cycles"]' | tr -d '(),')"

# Enter methods other than the default.
leave_case hid-feature 0 ppps ",enter=hid-feature:4201aa" --enter hid-feature:4201aa
check_eq "hid-feature: entered with it" "hid-feature 2.0" \
    "$(res "$T/hid-feature.json" 'r["entered_with"]') $(dev "$T/hid-feature.report.json" 'd["version"]')"
leave_case hid-output 0 ppps ",enter=hid-output:0799" --enter hid-output:0799
check_eq "hid-output: entered with it" "hid-output 2.0" \
    "$(res "$T/hid-output.json" 'r["entered_with"]') $(dev "$T/hid-output.report.json" 'd["version"]')"
leave_case dfu-detach 0 ppps ",enter=detach"
check_eq "dfu runtime: auto picked DFU_DETACH" "detach 2.0" \
    "$(res "$T/dfu-detach.json" 'r["entered_with"]') $(dev "$T/dfu-detach.report.json" 'd["version"]')"

# --enter none on a running application: refused at once, the device untouched.
rc=0
"$SIM" --device "port=$PORT,profile=f072" --report "$T/none.report.json" -- \
    "$CTL" flash "$T/fw.dfu" --port "$PORT" --enter none >/dev/null 2>"$T/none.err" || rc=$?
check_eq "enter none on an application: exit status 5" 5 "$rc"
check "enter none: the message says why" grep -q "enter method is none" "$T/none.err"
check_eq "enter none: device untouched" "application 1.0 1" \
    "$(dev "$T/none.report.json" 'd["mode"], d["version"], d["counters"]["enumerations"]' | tr -d "(),'")"

# --no-leave: stays in the bootloader.
leave_case no-leave 0 ppps "" --no-leave
check_eq "no-leave: device stays in the bootloader" "bootloader 0" \
    "$(dev "$T/no-leave.report.json" 'd["mode"], d["counters"]["leaves"]' | tr -d "(),'")"

finish

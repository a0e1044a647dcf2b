#!/bin/bash
# The bootloader goes away in the middle of the write and stays away until its power is cut
# (unplug-at). Behind a hub that switches power per port, stdfuctl flash power-cycles the
# port, as the ladder after leave does, opens the bootloader again and writes to the end;
# behind one that cannot, it ends needs-power-cycle (exit 7) and counts no power cycle.
. "$(dirname "$0")/lib.sh"

[ -x "$SIM" ] && [ -x "$CTL" ] || skip_all "stdfu-sim or stdfuctl not built"
command -v python3 >/dev/null || skip_all "python3 not installed"

PORT=1-1.1

res() { json_fields "$@"; }
dev() { sim_device "$1" "$PORT" "$2"; }

"$SIM" mkfw --version 2.0 --size 16384 -o "$T/fw.dfu" >/dev/null

for profile in f072 f407; do
    # ppps: power-cycled once, written to the end.
    rc=0
    "$SIM" --hub ppps --device "port=$PORT,profile=$profile,mode=application,unplug-at=8192" \
        --report "$T/$profile-ppps.report.json" -- \
        "$CTL" flash "$T/fw.dfu" --port "$PORT" --json >"$T/$profile-ppps.json" \
        2>"$T/$profile-ppps.err" || rc=$?
    check_eq "$profile ppps: done, exit 0" "0 done" "$rc $(res "$T/$profile-ppps.json" 'r["outcome"],')"
    [ "$rc" = 0 ] || sed 's/^/#   /' "$T/$profile-ppps.json" "$T/$profile-ppps.err"
    check_eq "$profile ppps: one power cycle, counted as performed" "1 1" \
        "$(res "$T/$profile-ppps.json" 'r["power_cycles"], r["recovery_steps"]["power-cycle"]')"
    check_eq "$profile ppps: the application runs the target" "application 2.0" \
        "$(res "$T/$profile-ppps.json" 'r["final_mode"], r["running_version"]')"
    check_eq "$profile ppps: emulator agrees, one power cycle" "application 2.0 1" \
        "$(dev "$T/$profile-ppps.report.json" 'd["mode"] + " " + d["version"] + " " + str(c["power_cycles"])')"

    # ganged: no port of its own to switch; the device needs a hand, and nothing is counted.
    rc=0
    "$SIM" --hub ganged --device "port=$PORT,profile=$profile,mode=application,unplug-at=8192" \
        --report "$T/$profile-ganged.report.json" -- \
        "$CTL" flash "$T/fw.dfu" --port "$PORT" --json >"$T/$profile-ganged.json" \
        2>"$T/$profile-ganged.err" || rc=$?
    check_eq "$profile ganged: needs-power-cycle, exit 7" "7 needs-power-cycle" \
        "$rc $(res "$T/$profile-ganged.json" 'r["outcome"],')"
    check_eq "$profile ganged: no power cycle counted" "0 0" \
        "$(res "$T/$profile-ganged.json" 'r["power_cycles"], r["recovery_steps"]["power-cycle"]')"
    check "$profile ganged: the error says to replug it" \
        grep -q "went away while flashing.*unplug and replug it" "$T/$profile-ganged.json"
    check_eq "$profile ganged: off, as the result says, none done by the emulator" "off absent 0" \
        "$(dev "$T/$profile-ganged.report.json" 'd["mode"]') $(res "$T/$profile-ganged.json" 'r["final_mode"],') $(dev "$T/$profile-ganged.report.json" 'c["power_cycles"]')"
done

finish

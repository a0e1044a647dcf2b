#!/bin/bash
# stdfuctl flash --json says what the device did and where it is at the end: final_mode and
# running_version are read off the port after the run, recovery steps are those taken.
. "$(dirname "$0")/lib.sh"

requires stdfu-sim stdfuctl python3

PORT=1-1.1

"$SIM" mkfw --version 2.0 --size 8192 -o "$T/fw.dfu" >/dev/null
"$SIM" mkfw --version 2.0 --size 8192 -o "$T/fw.bin" >/dev/null

# flash NAME SIM-ARGS... -- STDFUCTL-ARGS...: $T/NAME.json, $T/NAME.rc
flash() {
    local name=$1 rc=0
    shift
    local sim=()
    while [ "$1" != -- ]; do sim+=("$1"); shift; done
    shift
    "$SIM" "${sim[@]}" -- "$CTL" flash "$@" --port "$PORT" --json >"$T/$name.json" \
        2>"$T/$name.err" || rc=$?
    echo $rc >"$T/$name.rc"
}

# A refused image (past the end of flash) on a device running its application: it is sent
# back there, and the result says so.
flash refused --device "port=$PORT,profile=f072,mode=application" -- \
    "$T/fw.bin" --address 0x08100000
check_eq "refused: exit 3 (bad file)" 3 "$(cat "$T/refused.rc")"
check_eq "refused: back in its application, running 1.0" "failed application 1.0" \
    "$(json_fields "$T/refused.json" 'r["outcome"], r["final_mode"], r["running_version"]')"

# Vanished behind a hub that cannot switch power per port: needs a power cycle, none was done.
flash vanish --hub ganged --device "port=$PORT,profile=f072,mode=application,leave=vanish" \
    -- "$T/fw.dfu" --leave-timeout 1
check_eq "vanish, ganged hub: exit 7" 7 "$(cat "$T/vanish.rc")"
check_eq "vanish, ganged hub: no power cycle counted" "0 0" \
    "$(json_fields "$T/vanish.json" 'r["recovery_steps"]["power-cycle"], r["power_cycles"]')"
check_eq "vanish, ganged hub: absent, no version running" "absent None" \
    "$(json_fields "$T/vanish.json" 'r["final_mode"], r["running_version"]')"

# --no-leave from the application: done, in the bootloader, nothing runs.
flash noleave --device "port=$PORT,profile=f072,mode=application" -- "$T/fw.dfu" --no-leave
check_eq "no-leave: done in the bootloader, no version running" "0 done bootloader None" \
    "$(cat "$T/noleave.rc") $(json_fields "$T/noleave.json" 'r["outcome"], r["final_mode"], r["running_version"]')"

# A cable pulled mid-write that is not plugged back, behind a hub that cannot switch the
# port's power: needs-power-cycle, absent, no version running.
flash unplug --hub ganged --device "port=$PORT,profile=f072,mode=application,unplug-at=4096" \
    -- "$T/fw.dfu"
check_eq "unplug: exit 7" 7 "$(cat "$T/unplug.rc")"
check "unplug: the error says the bootloader did not come back" \
    grep -q "port $PORT went away while flashing.*did not come back" "$T/unplug.json"
check_eq "unplug: absent, no version running" "absent None" \
    "$(json_fields "$T/unplug.json" 'r["final_mode"], r["running_version"]')"

# Done: the version read at the end.
flash ok --device "port=$PORT,profile=f072,mode=application" -- "$T/fw.dfu"
check_eq "ok: done, application 2.0, no step taken" "0 done application 2.0 0" \
    "$(cat "$T/ok.rc") $(json_fields "$T/ok.json" 'r["outcome"], r["final_mode"], r["running_version"], sum(r["recovery_steps"].values())')"

# Found in its bootloader: what ran before is unknown, not the version written.
flash fromboot --device "port=$PORT,profile=f072,mode=bootloader" -- "$T/fw.dfu"
check_eq "from the bootloader: no old version, 2.0 running" "0 None application 2.0" \
    "$(cat "$T/fromboot.rc") $(json_fields "$T/fromboot.json" 'r["old_version"], r["final_mode"], r["running_version"]')"

finish

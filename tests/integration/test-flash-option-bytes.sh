#!/bin/bash
# Option bytes (alt 1 on f407): the ROM writes them and resets to load them, as ST's ROMs do.
# stdfuctl flash expects that reset: the write counts once the device is back and reading the
# option bytes (in the bootloader, entered again) shows them; the application runs again.
. "$(dirname "$0")/lib.sh"

requires stdfu-sim stdfuctl python3

PORT=1-1.1


# USER 0xe7 (not 0xef), RDP 0xaa (level 0), nWRP 0x0fff: RM0090 3.7.1.
printf '\xe7\xaa\xff\xff\xff\xff\xff\xff\xff\x0f\xff\xff\xff\xff\xff\xff' >"$T/ob.bin"

for mode in application bootloader; do
    rc=0
    "$SIM" --device "port=$PORT,profile=f407,mode=$mode" --report "$T/$mode.report.json" -- \
        "$CTL" flash "$T/ob.bin" --address 0x1FFFC000 --alt 1 --port "$PORT" --json \
        >"$T/$mode.json" 2>"$T/$mode.err" || rc=$?
    check_eq "$mode: done, exit 0" "0 done" "$rc $(json_fields "$T/$mode.json" 'r["outcome"],')"
    [ "$rc" = 0 ] || sed 's/^/#   /' "$T/$mode.json" "$T/$mode.err"
    check_eq "$mode: one attempt, no retry, 16 bytes" "1 0 16" \
        "$(json_fields "$T/$mode.json" 'r["attempts"], r["retries"], r["bytes_written"]')"
    check_eq "$mode: written once, read back" "16 16" \
        "$(sim_device "$T/$mode.report.json" "$PORT" \
            'str(c["bytes_written"]) + " " + str(c["bytes_read"])')"
done
# From the application: back running it, left at the flash after the option bytes' reset.
check_eq "application: runs its application at the end" "application 1.0" \
    "$(json_fields "$T/application.json" 'r["final_mode"], r["running_version"]')"
check_eq "application: emulator agrees" "application" \
    "$(sim_device "$T/application.report.json" "$PORT" 'd["mode"]')"

# --no-leave: read back after the reset, and it stays in the bootloader.
rc=0
"$SIM" --device "port=$PORT,profile=f407,mode=application" -- \
    "$CTL" flash "$T/ob.bin" --address 0x1FFFC000 --alt 1 --port "$PORT" --no-leave --json \
    >"$T/noleave.json" 2>&1 || rc=$?
check_eq "no-leave: done, in the bootloader" "0 done bootloader" \
    "$rc $(json_fields "$T/noleave.json" 'r["outcome"], r["final_mode"]')"

finish

#!/bin/bash
# Flash benchmark: `stdfuctl flash` against `dfu-util -a 0 -s 0x08000000:leave -D` on the same
# emulated device and image, and both against the emulator's floor (device busy time plus
# transfer time, from stdfu-sim's report: what a perfect host could reach).
#
#   bench/flash-bench.sh [BUILD_DIR]      (BENCH_CASES="f072:65536 ..." to pick profile:bytes)
#
# Targets (reported, never fatal): stdfuctl within 1.15x of its floor on every profile, never
# slower than dfu-util, at least 3x faster than dfu-util on f407.
set -u

. "$(dirname "$0")/lib.sh"
bench_setup "${1:-build}"
bench_require bench "$SIM" "$CTL"
command -v dfu-util >/dev/null || { echo "bench: dfu-util is not installed" >&2; exit 1; }

# profile:bytes
CASES="${BENCH_CASES:-f072:65536 f407:262144 l476:262144}"

# run_timed OUT_TIME REPORT PROFILE -- COMMAND...: bench_timed with a device of PROFILE in
# the bootloader behind a hub that switches port power.
run_timed() {
    local out=$1 report=$2 profile=$3
    shift 4
    bench_timed "$out" "$report" true \
        --hub ppps --device "port=$PORT,profile=$profile,mode=bootloader" -- "$@"
}

missed=()
phases=()
printf '%-6s %8s | %9s %7s %6s | %9s | %9s %7s %6s | %9s\n' profile KiB stdfuctl floor ratio \
    no-verify dfu-util floor ratio "dfu/ctl"
printf '%.97s\n' "$(printf '%0.s-' $(seq 97))"
for c in $CASES; do
    profile=${c%%:*} bytes=${c#*:}
    img=$T/fw-$profile.dfu
    bin=$T/fw-$profile.bin
    "$SIM" mkfw --version 2.0 --size "$bytes" --seed 7 -o "$img" >/dev/null || exit 1
    "$SIM" mkfw --version 2.0 --size "$bytes" --seed 7 -o "$bin" >/dev/null || exit 1

    run_timed "$T/ctl.t" "$T/ctl.json" "$profile" -- \
        sh -c '"$@" >"$0"' "$T/ctl.out" "$CTL" flash "$img" --port "$PORT" --json
    rc_ctl=$?
    phases+=("$profile: $(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print("  ".join("%s %.2f" % (k, v) for k, v in r["phases_s"].items() if v >= 0.005))
' "$T/ctl.out" 2>/dev/null)")
    run_timed "$T/nv.t" "$T/nv.json" "$profile" -- \
        "$CTL" flash "$img" --port "$PORT" --no-verify
    run_timed "$T/dfu.t" "$T/dfu.json" "$profile" -- \
        dfu-util -p "$PORT" -a 0 -s 0x08000000:leave -D "$bin"
    rc_dfu=$?

    t_ctl=$(cat "$T/ctl.t") f_ctl=$(report_floor "$T/ctl.json") t_nv=$(cat "$T/nv.t")
    t_dfu=$(cat "$T/dfu.t") f_dfu=$(report_floor "$T/dfu.json")
    r_ctl=$(ratio "$t_ctl" "$f_ctl") r_dfu=$(ratio "$t_dfu" "$f_dfu")
    speedup=$(ratio "$t_dfu" "$t_ctl")
    printf '%-6s %8d | %8ss %6ss %5sx | %8ss | %8ss %6ss %5sx | %8sx\n' "$profile" \
        $((bytes / 1024)) "$t_ctl" "$f_ctl" "$r_ctl" "$t_nv" "$t_dfu" "$f_dfu" "$r_dfu" "$speedup"
    [ "$rc_ctl" -eq 0 ] || missed+=("$profile: stdfuctl flash failed (exit $rc_ctl)")
    [ "$rc_dfu" -eq 0 ] || missed+=("$profile: dfu-util failed (exit $rc_dfu)")
    awk -v r="$r_ctl" 'BEGIN { exit !(r > 1.15) }' &&
        missed+=("$profile: stdfuctl is ${r_ctl}x its floor (target <= 1.15x)")
    awk -v s="$speedup" 'BEGIN { exit !(s < 1.0) }' &&
        missed+=("$profile: stdfuctl is slower than dfu-util (${speedup}x; it also verifies and
    waits for the application, which dfu-util does not: without verify ${t_nv}s)")
    if [ "$profile" = f407 ]; then
        awk -v s="$speedup" 'BEGIN { exit !(s < 3.0) }' &&
            missed+=("f407: stdfuctl is only ${speedup}x faster than dfu-util (target >= 3x)")
    fi
done
echo
echo "stdfuctl's time per phase (s):"
printf '  %s\n' "${phases[@]}"
echo "stdfuctl: default options (erase, write, verify, leave, wait for the application)."
echo "no-verify: stdfuctl flash --no-verify (still waits for the application to come back)."
echo "dfu-util: erase, write, leave; it neither verifies nor waits for the application."
echo "floor: the emulator's device busy + transfer time for that run (a perfect host)."
bench_targets ${missed[@]+"${missed[@]}"}
exit 0

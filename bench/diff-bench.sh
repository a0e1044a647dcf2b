#!/bin/bash
# Differential flash benchmark: what `stdfuctl flash` costs when the device already holds
# (most of) the image, as a ratio to a full flash (--full) of the same image on the same
# emulated device, and against the emulator's floor and dfu-util (which always erases and
# writes everything).
#
#   bench/diff-bench.sh [BUILD_DIR]     (BENCH_CASES="l476:262144 f407:262144" to pick)
#
# Cases, each a flash of the base image's variant onto a device that holds the base image:
#   full       --full: erase and write every touched page (the reference, 1.00)
#   first      differential onto a device holding another firmware (every page differs)
#   same       the base image again
#   bump       a version bump: only the header page differs
#   page       one page in the middle changed
#   scattered  10% of the pages changed, spread over the image
# Targets (reported, never fatal): same and bump < 0.10 on l476 and < 0.25 on f407; first
# never slower than full by more than the read time (reported as "first - full").
# All runs stay in the bootloader (--no-leave, dfu-util without :leave): changed pages make
# the emulated application's checksum wrong, and leave and the wait for the application are
# the same in every case anyway.
set -u

. "$(dirname "$0")/lib.sh"
bench_setup "${1:-build}"
bench_require bench "$SIM" "$CTL"
have_dfu_util=1
command -v dfu-util >/dev/null || have_dfu_util=0

CASES="${BENCH_CASES:-l476:262144 f407:262144}"

# variant BASE OUT KIND PAGE_SIZE: the base image with KIND's change
variant() {
    python3 - "$@" <<'PY'
import sys
base, out, kind, page = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
d = bytearray(open(base, "rb").read())
n = len(d) // page
if kind == "page":
    d[(n // 2) * page + 100] ^= 0xff
elif kind == "scattered":
    for i in range(0, n, 10):
        d[i * page + (i * 37) % page] ^= 0xff
open(out, "wb").write(d)
PY
}

# timed OUT REPORT PREP PROFILE -- COMMAND...: bench_timed with a device of PROFILE in the
# bootloader; the caller subtracts PREP's share of the floor.
timed() {
    local out=$1 report=$2 prep=$3 profile=$4
    shift 5
    bench_timed "$out" "$report" "$prep" \
        --device "port=$PORT,profile=$profile,mode=bootloader" -- "$@"
}

sub() {
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'
}

missed=()
printf '%-6s %-9s | %8s %8s %6s | %6s | %s\n' profile case time floor ratio vs-dfu "pages (read skipped erased written)"
printf '%.90s\n' "$(printf '%0.s-' $(seq 90))"
for c in $CASES; do
    profile=${c%%:*} bytes=${c#*:}
    page=2048
    d=$T/$profile
    mkdir -p "$d"
    "$SIM" mkfw --version 2.0 --size "$bytes" --seed 7 -o "$d/base.bin" >/dev/null || exit 1
    "$SIM" mkfw --version 2.1 --size "$bytes" --seed 7 -o "$d/bump.bin" >/dev/null || exit 1
    "$SIM" mkfw --version 1.0 --size "$bytes" --seed 9 -o "$d/other.bin" >/dev/null || exit 1
    cp "$d/base.bin" "$d/same.bin"
    variant "$d/base.bin" "$d/page.bin" page $page
    variant "$d/base.bin" "$d/scattered.bin" scattered $page

    ctl="$CTL flash --port $PORT --address 0x08000000 --no-leave --json"
    # the preparation's floor: a full flash of the base image
    timed "$d/prep.t" "$d/prep.json" "true" "$profile" -- \
        $ctl --full "$d/other.bin"
    prep_floor=$(report_floor "$d/prep.json")
    timed "$d/full.t" "$d/full.json" "$ctl --full $d/other.bin" "$profile" -- \
        sh -c '"$@" >"$0"' "$d/full.out" $ctl --full "$d/base.bin"
    t_full=$(cat "$d/full.t")
    f_full=$(sub "$(report_floor "$d/full.json")" "$prep_floor")
    t_dfu=""
    if [ $have_dfu_util = 1 ]; then
        timed "$d/dfu.t" "$d/dfu.json" "$ctl --full $d/other.bin" "$profile" -- \
            dfu-util -p "$PORT" -a 0 -s 0x08000000 -D "$d/base.bin"
        t_dfu=$(cat "$d/dfu.t")
    fi
    for k in full first same bump page scattered; do
        if [ $k = full ]; then
            t=$t_full f=$f_full out=$d/full.out
        else
            img=$d/$k.bin prep="$ctl --full $d/base.bin"
            [ $k = first ] && img=$d/base.bin prep="$ctl --full $d/other.bin"
            timed "$d/$k.t" "$d/$k.json" "$prep" "$profile" -- \
                sh -c '"$@" >"$0"' "$d/$k.out" $ctl "$img"
            rc=$?
            [ $rc -eq 0 ] || missed+=("$profile $k: stdfuctl flash failed (exit $rc)")
            t=$(cat "$d/$k.t") f=$(sub "$(report_floor "$d/$k.json")" "$prep_floor") out=$d/$k.out
        fi
        pages=$(python3 -c 'import json, sys
p = json.load(open(sys.argv[1]))["pages"]
print(p["read"], p["skipped"], p["erased"], p["written"])' "$out" 2>/dev/null)
        r=$(ratio "$t" "$t_full")
        printf '%-6s %-9s | %7ss %7ss %5sx | %5sx | %s\n' "$profile" "$k" "$t" "$f" "$r" \
            "$([ -n "$t_dfu" ] && ratio "$t" "$t_dfu" || echo n/a)" "$pages"
        case $k in
            same | bump)
                target=0.10
                [ "$profile" = f407 ] && target=0.25
                awk -v r="$r" -v t=$target 'BEGIN { exit !(r >= t) }' &&
                    missed+=("$profile $k: ${r}x the full flash (target < ${target}x)") ;;
            first)
                echo "         first - full: $(sub "$t" "$t_full")s (the comparison read)" ;;
        esac
    done
    [ -n "$t_dfu" ] && printf '%-6s %-9s | %7ss\n' "$profile" dfu-util "$t_dfu"
done
echo
echo "time: stdfuctl flash (differential unless 'full') onto a device holding the base image"
echo "      ('first': another firmware); ratio: to 'full' in the same run; vs-dfu: to dfu-util"
echo "      erasing and writing the same image (no leave, no verify)."
echo "floor: the emulator's device busy + transfer time of what that run did."
bench_targets ${missed[@]+"${missed[@]}"}
exit 0

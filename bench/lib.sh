# Shared by bench/*-bench.sh (sourced): the build's programs, a private temporary directory,
# the emulated device's floor and timed runs under the emulator. Timings are reported, never
# asserted.
#
#   . "$(dirname "$0")/lib.sh"
#   bench_setup "${1:-build}"    # $B, $SIM, $CTL, $T (removed at exit), $PORT
#   bench_require bench "$SIM" "$CTL"

# bench_setup BUILD_DIR
bench_setup() {
    B=$(cd "$1" && pwd)
    SIM=$B/stdfu-sim
    CTL=$B/stdfuctl
    T=$(mktemp -d "${TMPDIR:-/tmp}/stdfu-bench.XXXXXX")
    trap 'rm -rf "$T"' EXIT
    PORT=1-1.1
}

# bench_require WHO PROGRAM...: exits when one of the built programs is missing.
bench_require() {
    local who=$1 p
    shift
    for p; do
        [ -x "$p" ] || { echo "$who: $p is missing (run make first)" >&2; exit 1; }
    done
}

# report_floor REPORT: the floor of the device on $PORT in stdfu-sim's report (device busy
# time plus transfer time: what a perfect host could reach), in seconds.
report_floor() {
    python3 - "$1" "$PORT" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for dev in d["devices"]:
    if dev["port"] == sys.argv[2]:
        print("%.3f" % (dev["floor_ms"] / 1e3))
        break
PY
}

# bench_timed OUT REPORT PREP SIM-ARG... -- COMMAND...: under stdfu-sim (SIM-ARGs, its report
# in REPORT) runs PREP (a shell command, untimed) then COMMAND, and writes COMMAND's own wall
# time in seconds to OUT (not the emulator's start-up). The floor in REPORT is that of the
# whole run, PREP's share included.
bench_timed() {
    local out=$1 report=$2 prep=$3
    local sim=()
    shift 3
    while [ "$1" != -- ]; do sim+=("$1"); shift; done
    shift
    "$SIM" "${sim[@]}" --report "$report" -- bash -c '
        out=$1 prep=$2; shift 2
        eval "$prep" >/dev/null 2>&1 || exit 20
        s=$EPOCHREALTIME
        "$@" >/dev/null 2>&1
        rc=$?
        e=$EPOCHREALTIME
        echo "$s $e" | awk "{ printf \"%.3f\n\", \$2 - \$1 }" >"$out"
        exit $rc' bench "$out" "$prep" "$@"
}

# ratio A B: A / B with two decimals ("n/a" when B is 0 or not a number).
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0) printf "%.2f", a / b; else print "n/a" }'
}

# bench_targets MISSED...: "All targets met.", or the list of those missed (reported, the
# bench still succeeds). Returns 1 when some were missed.
bench_targets() {
    if [ $# -eq 0 ]; then
        echo "All targets met."
        return 0
    fi
    echo "Targets missed:"
    printf '  - %s\n' "$@"
    return 1
}

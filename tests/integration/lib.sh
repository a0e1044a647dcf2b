# Shared helpers for integration tests (sourced). Prints TAP: "ok N - what" / "not ok N - what".
#
#   . "$(dirname "$0")/lib.sh"
#   check "dfu-util lists two alt settings" grep -q 'alt=1' "$T/list.log"
#   check_eq "flash hash" "$expected" "$actual"
#   finish
#
# $B is the absolute build directory (STDFU_BUILD), $T a private temporary directory removed
# at exit, $SIM/$CTL/$DAEMON the programs under test.
set -u

: "${STDFU_BUILD:=build}"
SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
B=$(cd "$SRCDIR" && cd "$STDFU_BUILD" && pwd)
SIM=$B/stdfu-sim
CTL=$B/stdfuctl
DAEMON=$B/stdfud
T=$(mktemp -d "${TMPDIR:-/tmp}/stdfu-test.XXXXXX")
export ASAN_OPTIONS=${ASAN_OPTIONS:-verify_asan_link_order=0:detect_leaks=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

_tap_n=0
_tap_failed=0

_cleanup() {
    local rc=$?
    if [ -n "${STDFU_KEEP_TMP:-}" ]; then echo "# kept $T"; else rm -rf "$T"; fi
    exit $rc
}
trap _cleanup EXIT

# check DESCRIPTION COMMAND [ARG...]: one TAP line from the command's exit status.
check() {
    local what=$1; shift
    _tap_n=$((_tap_n + 1))
    if "$@"; then
        echo "ok $_tap_n - $what"
    else
        echo "not ok $_tap_n - $what"
        _tap_failed=$((_tap_failed + 1))
    fi
}

# check_eq DESCRIPTION EXPECTED ACTUAL
check_eq() {
    _tap_n=$((_tap_n + 1))
    if [ "$2" = "$3" ]; then
        echo "ok $_tap_n - $1"
    else
        echo "not ok $_tap_n - $1"
        echo "#   expected: $2"
        echo "#   actual:   $3"
        _tap_failed=$((_tap_failed + 1))
    fi
}

# skip_all REASON: the whole script is skipped (exit 77).
skip_all() {
    echo "1..0 # SKIP $*"
    exit 77
}

# requires NAME...: skips the whole script unless each is there: stdfud, stdfuctl and stdfu-sim
# in $STDFU_BUILD, anything else as a command.
requires() {
    local name ok
    for name; do
        case $name in
            stdfud) [ -x "$DAEMON" ] ;;
            stdfuctl) [ -x "$CTL" ] ;;
            stdfu-sim) [ -x "$SIM" ] ;;
            *) command -v "$name" >/dev/null ;;
        esac && continue
        case $name in
            stdfud | stdfuctl | stdfu-sim) skip_all "$name is not built" ;;
            *) skip_all "$name is missing" ;;
        esac
    done
}

# json FILE EXPR: a value from a JSON file, with python3 (e.g. json r.json "d['devices'][0]['mode']").
json() {
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"
}

# json_fields FILE EXPR: the values of EXPR, a Python tuple over the JSON document `r` in FILE
# (e.g. stdfuctl's --json result), space-separated ("None" for null).
json_fields() {
    python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
print(*eval(sys.argv[2]))' "$1" "$2" 2>&1
}

# sim_device REPORT PORT EXPR: EXPR over the device `d` on PORT in stdfu-sim's --report file
# REPORT (`c`: its counters, `r`: the whole report).
sim_device() {
    python3 - "$1" "$2" "$3" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
d = next(x for x in r["devices"] if x["port"] == sys.argv[2])
c = d["counters"]
print(eval(sys.argv[3]))
PY
}

finish() {
    echo "1..$_tap_n"
    [ "$_tap_failed" -eq 0 ]
}

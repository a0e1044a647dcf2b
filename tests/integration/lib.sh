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

# json FILE EXPR: a value from a JSON file, with python3 (e.g. json r.json "d['devices'][0]['mode']").
json() {
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"
}

# bus_config SOCKET [POLICY]: a dbus-daemon configuration listening on SOCKET. With POLICY, a
# bus like the system bus (the defaults of Debian's system.conf written out: method calls and
# name ownership denied unless a policy allows them) that includes POLICY; without, an open bus
# on which everyone may do everything.
bus_config() {
    cat <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <listen>unix:path=$1</listen>
  <auth>EXTERNAL</auth>
EOF
    if [ -n "${2:-}" ]; then
        cat <<EOF
  <type>system</type>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Properties"/>
  </policy>
  <include>$2</include>
</busconfig>
EOF
    else
        cat <<EOF
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
EOF
    fi
}

finish() {
    echo "1..$_tap_n"
    [ "$_tap_failed" -eq 0 ]
}

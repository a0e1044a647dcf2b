#!/bin/bash
# The D-Bus policy conf/io.stdfu1.conf loads into a real dbus-daemon configured like the
# system bus (default deny for method calls and name ownership), and a broken copy of it is
# refused (so the load check means something). When stdfud is built, it serves io.stdfu1 on
# that bus and the combined effect of policy and daemon is checked: an unprivileged user
# (nobody, via setpriv) can read properties, reaches the mutating methods (polkit's to decide)
# and gets AccessDenied from stdfud (no polkit on this bus: root and group stdfu only), and
# root may call them.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/bus-config.sh"

policy=${STDFU_TEST_POLICY:-$SRCDIR/conf/io.stdfu1.conf}
[ -e "$policy" ] || skip_all "conf/io.stdfu1.conf not written yet"
command -v dbus-daemon >/dev/null || skip_all "dbus-daemon not installed"

pids=()
stop_all() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    pids=()
}
trap '_rc=$?; stop_all; (exit $_rc); _cleanup' EXIT

skip_check() {
    _tap_n=$((_tap_n + 1))
    echo "ok $_tap_n - $1 # SKIP $2"
}

# A system-like bus: bus-config.sh's bus_config with the policy.
# The socket lives in a directory other users can enter, for the unprivileged caller.
mkdir -p "$T/pub"
chmod 0711 "$T" "$T/pub"

# start_bus NAME POLICY: starts a bus, sets $addr; fails (with the daemon's message) if it
# does not come up within 5 s.
start_bus() {
    local name=$1 i
    bus_config "$T/pub/$name.socket" "$2" >"$T/$name.conf"
    : >"$T/$name.addr"
    dbus-daemon --config-file="$T/$name.conf" --nofork --nopidfile --print-address=1 \
        >"$T/$name.addr" 2>"$T/$name.log" &
    pids+=($!)
    for i in $(seq 50); do
        addr=$(head -n1 "$T/$name.addr")
        [ -n "$addr" ] && return 0
        kill -0 "${pids[-1]}" 2>/dev/null || break
        sleep 0.1
    done
    sed 's/^/#   /' "$T/$name.log"
    return 1
}

check "dbus-daemon (system bus type) accepts the policy" start_bus good "$policy"
good_addr=$addr

# Negative control: the same policy cut in half is not well-formed XML.
head -c $(($(wc -c <"$policy") / 2)) "$policy" >"$T/broken.conf"
refused() {
    bus_config "$T/pub/broken.socket" "$T/broken.conf" >"$T/broken-bus.conf"
    timeout 5 dbus-daemon --config-file="$T/broken-bus.conf" --nofork --nopidfile \
        --print-address=1 >/dev/null 2>"$T/broken.log" </dev/null
    local rc=$?
    sed 's/^/#   /' "$T/broken.log"
    [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ -s "$T/broken.log" ]
}
check "dbus-daemon refuses a truncated copy (the load check is real)" refused

# stdfud.service runs as user stdfu: that user must be allowed to own the name. (The user does
# not exist on a build machine, where dbus-daemon ignores the rule, so this reads the XML.)
policy_allows() {  # ATTRIBUTE VALUE: some <policy ATTRIBUTE=VALUE> allows owning io.stdfu1
    python3 - "$policy" "$1" "$2" <<'PY'
import sys, xml.etree.ElementTree as ET
path, attr, value = sys.argv[1:]
root = ET.parse(path).getroot()
sys.exit(0 if any(p.get(attr) == value and
                  any(a.get("own") == "io.stdfu1" for a in p.findall("allow"))
                  for p in root.findall("policy")) else 1)
PY
}
check "the policy lets user stdfu (the unit's User=) own io.stdfu1" policy_allows user stdfu
check "the policy lets root own io.stdfu1 (stdfud started by hand)" policy_allows user root
check "the policy names group stdfu" grep -q 'group="stdfu"' "$policy"
# Every mutating method is let through to stdfud, which asks polkit (that is what lets the
# polkit rules choose who may update); nothing else is opened to everyone.
check_eq "the default context opens exactly Update, UpdateFile, Cancel, Reload besides reading" \
    "Cancel GetHistory ListDevices Reload Update UpdateFile" \
    "$(python3 -c 'import sys, xml.etree.ElementTree as ET
p = [p for p in ET.parse(sys.argv[1]).getroot().findall("policy") if p.get("context") == "default"][0]
print(" ".join(sorted(a.get("send_member") for a in p.findall("allow")
                      if a.get("send_interface") == "io.stdfu1.Manager")))' "$policy")"

# ---- with the daemon -------------------------------------------------------------------
if [ ! -x "$DAEMON" ]; then
    skip_check "unprivileged read allowed, mutating call denied" "stdfud not built yet"
    finish; exit
fi
if ! command -v busctl >/dev/null || ! command -v setpriv >/dev/null; then
    skip_check "unprivileged read allowed, mutating call denied" "busctl or setpriv missing"
    finish; exit
fi
if [ "$(id -u)" != 0 ]; then
    skip_check "unprivileged read allowed, mutating call denied" "needs root to switch users"
    finish; exit
fi

mkdir -p "$T/manifest.d" "$T/state"
"$DAEMON" --bus="$good_addr" --manifest="$T/manifest.yaml" --manifest-dir="$T/manifest.d" \
    --state-dir="$T/state" --log-level=debug >"$T/stdfud.log" 2>&1 &
pids+=($!)
daemon_pid=$!
owned() {
    local i
    for i in $(seq 100); do
        busctl --address="$good_addr" status io.stdfu1 >/dev/null 2>&1 && return 0
        kill -0 "$daemon_pid" 2>/dev/null || break
        sleep 0.1
    done
    sed 's/^/#   /' "$T/stdfud.log"
    return 1
}
owned; owned_rc=$?
check "stdfud (as root) owns io.stdfu1 on the policy's bus" test $owned_rc -eq 0
[ $owned_rc -eq 0 ] || { finish; exit; }

as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; }
nobody_reads() { as_nobody busctl --address="$good_addr" "$@" >/dev/null; }
bus() { busctl --address="$good_addr" "$@"; }

check "nobody may read the manager's properties" \
    nobody_reads call io.stdfu1 /io/stdfu1 org.freedesktop.DBus.Properties GetAll s \
    io.stdfu1.Manager
check "nobody may call ListDevices" \
    nobody_reads call io.stdfu1 /io/stdfu1 io.stdfu1.Manager ListDevices
check "nobody may call GetHistory" \
    nobody_reads call io.stdfu1 /io/stdfu1 io.stdfu1.Manager GetHistory
check "nobody may introspect" \
    nobody_reads introspect io.stdfu1 /io/stdfu1

# The bus lets nobody's mutating calls through (stdfud authorizes them: polkit, or without
# polkit on the bus, root and group stdfu only), and stdfud refuses them: AccessDenied from the
# daemon, not the bus's "Rejected send message". Properties.Set stays refused by the bus.
nobody_calls() {  # MEMBER: nobody calls it with arguments of the right types
    local call=(as_nobody gdbus call --address "$good_addr" --dest io.stdfu1
                --object-path /io/stdfu1 --method "io.stdfu1.Manager.$1")
    case $1 in
        Update) "${call[@]}" 1-1 '@a{sv} {}' ;;
        Cancel) "${call[@]}" 1-1 ;;
        Reload) "${call[@]}" ;;
        UpdateFile) as_nobody /usr/bin/python3 "$SRCDIR/tests/integration/update-file.py" "$good_addr" \
            1-1 0 </dev/null ;;
    esac 2>&1
}
for member in Update UpdateFile Cancel Reload; do
    out=$(nobody_calls $member)
    echo "# nobody calling $member: ${out:0:160}"
    check "stdfud (not the bus) denies $member to nobody" \
        bash -c '[[ "$1" == *AccessDenied*"requires root or membership of group"* ]]' _ "$out"
done
out=$(as_nobody gdbus call --address "$good_addr" --dest io.stdfu1 --object-path /io/stdfu1 \
    --method org.freedesktop.DBus.Properties.Set io.stdfu1.Manager State '<"x">' 2>&1)
check "the bus policy still denies Properties.Set to nobody" \
    bash -c '[[ "$1" == *AccessDenied*"Rejected send message"* ]]' _ "$out"
root_reloads() { bus call io.stdfu1 /io/stdfu1 io.stdfu1.Manager Reload >/dev/null; }
check "root may call Reload" root_reloads
check "stdfud is still running" kill -0 "$daemon_pid" 2>/dev/null

finish

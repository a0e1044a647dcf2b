#!/bin/bash
# stdfud asks a real polkitd, on a private bus configured like the system bus (default deny,
# conf/io.stdfu1.conf and polkit's own policy), whether a caller may do each mutating method,
# with conf/io.stdfu1.policy and conf/io.stdfu1.rules installed (bind mounts in a private mount
# namespace; the group stdfu exists only there, in a bind-mounted /etc/group):
# - nobody (not in the admin group, no agent to authenticate with) is denied Update,
#   UpdateFile, Cancel and Reload by polkit, interactive authorization allowed or not, and
#   stdfuctl says so with exit 11;
# - a member of the admin group stdfu and root get through (NoSuchDevice, or the reload done);
# - an administrator's /etc/polkit-1/rules.d/50-stdfu.rules naming another group replaces the
#   packaged rule: that group's member gets through, the stdfu member no longer;
# - with polkitd gone from the bus, the daemon's own check decides: root and group stdfu only.
if [ -z "${STDFU_POLKIT_NS:-}" ] && [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
    STDFU_POLKIT_NS=1 exec unshare -m --propagation private bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"
. "$(dirname "$0")/bus-config.sh"

POLKITD=/usr/lib/polkit-1/polkitd
requires stdfud stdfuctl dbus-daemon gdbus busctl setpriv
[ "$(id -u)" = 0 ] || skip_all "needs root (mount namespace, switching users)"
[ -n "${STDFU_POLKIT_NS:-}" ] || skip_all "cannot create a mount namespace"
[ -x "$POLKITD" ] || skip_all "polkitd not installed (tools/install-deps)"
getent passwd polkitd >/dev/null || skip_all "no user polkitd"
for u in daemon bin; do getent passwd $u >/dev/null || skip_all "no user $u to call as"; done

# ---- the namespace: groups, polkit's actions and rules ---------------------------------------
free_gid() { local g=$1; while getent group "$g" >/dev/null; do g=$((g + 1)); done; echo "$g"; }
GID=$(free_gid 4242)
OPS_GID=$(free_gid $((GID + 1)))
{ grep -v -e '^stdfu:' -e '^stdfuops:' /etc/group; echo "stdfu:x:$GID:daemon"
  echo "stdfuops:x:$OPS_GID:bin"; } >"$T/group"
mount --bind "$T/group" /etc/group
mkdir -p "$T/actions" "$T/share-rules" "$T/etc-rules"
cp /usr/share/polkit-1/actions/* "$T/actions/" 2>/dev/null
cp "$SRCDIR/conf/io.stdfu1.policy" "$T/actions/"
cp "$SRCDIR/conf/io.stdfu1.rules" "$T/share-rules/50-stdfu.rules"
chmod -R a+rX "$T/actions" "$T/share-rules" "$T/etc-rules"
mount --bind "$T/actions" /usr/share/polkit-1/actions
mkdir -p /etc/polkit-1/rules.d 2>/dev/null
mount --bind "$T/share-rules" /usr/share/polkit-1/rules.d
mount --bind "$T/etc-rules" /etc/polkit-1/rules.d

# ---- the bus, polkitd, stdfud ------------------------------------------------------------------
cat >"$T/policies.conf" <<XML
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <include>$SRCDIR/conf/io.stdfu1.conf</include>
  <include>/usr/share/dbus-1/system.d/org.freedesktop.PolicyKit1.conf</include>
</busconfig>
XML
chmod 755 "$T"
bus_config "$T/bus" "$T/policies.conf" >"$T/bus.conf"
dbus-daemon --config-file="$T/bus.conf" --fork --print-pid=3 3>"$T/bus.pid" ||
    skip_all "cannot start dbus-daemon"
BUS_PID=$(cat "$T/bus.pid")
BUS=unix:path=$T/bus

POLKIT_PID=
polkit_owned() { bctl status org.freedesktop.PolicyKit1 >/dev/null 2>&1; }
start_polkitd() {
    DBUS_SYSTEM_BUS_ADDRESS=$BUS "$POLKITD" --no-debug >>"$T/polkitd.log" 2>&1 &
    POLKIT_PID=$!
    EXTRA_PIDS+=($POLKIT_PID)
    wait_for 20 polkit_owned || { sed 's/^/#   polkitd: /' "$T/polkitd.log"; return 1; }
}
stop_polkitd() {
    kill "$POLKIT_PID" 2>/dev/null
    wait "$POLKIT_PID" 2>/dev/null
    ! polkit_owned
}
check "polkitd runs on the private system-like bus as org.freedesktop.PolicyKit1" start_polkitd ||
    { finish; exit; }
check "stdfud runs on that bus" start_daemon || { finish; exit; }

# ---- callers ---------------------------------------------------------------------------------
# call WHO METHOD [gdbus options]: the method as user WHO (nobody, daemon: group stdfu, bin:
# group stdfuops, root), arguments of the right types; prints the reply or the error.
call() {
    local who=$1 method=$2; shift 2
    local as=()
    case $who in
        nobody) as=(setpriv --reuid=nobody --regid=nogroup --clear-groups) ;;
        daemon) as=(setpriv --reuid=daemon --regid=daemon --groups=$GID) ;;
        bin) as=(setpriv --reuid=bin --regid=bin --groups=$OPS_GID) ;;
    esac
    local g=("${as[@]}" gdbus call --address "$BUS" --dest io.stdfu1 --object-path /io/stdfu1 "$@"
             --method "io.stdfu1.Manager.$method")
    case $method in
        Update) "${g[@]}" 1-1 '@a{sv} {}' ;;
        Cancel) "${g[@]}" 1-1 ;;
        Reload) "${g[@]}" ;;
        UpdateFile) "${as[@]}" /usr/bin/python3 "$SRCDIR/tests/integration/update-file.py" \
            "$BUS" 1-1 0 </dev/null ;;
    esac 2>&1
}
# Passed authorization: Reload done (empty reply), or the method's own NoSuchDevice.
got_through() { [[ "$1" == "()" || "$1" == *io.stdfu1.Error.NoSuchDevice* ]]; }
denied_by_polkit() { [[ "$1" == *org.freedesktop.DBus.Error.AccessDenied*"(polkit action io.stdfu1."* ]]; }
# The caller's allow-interactive flag reached polkit: nobody could authenticate, no agent runs.
denied_no_agent() { denied_by_polkit "$1" && [[ "$1" == *"no authentication agent"* ]]; }
denied_by_fallback() { [[ "$1" == *AccessDenied*"requires root or membership of group"* ]]; }

expect() {  # DESCRIPTION PREDICATE WHO METHOD [gdbus options]
    local what=$1 pred=$2; shift 2
    local out
    out=$(call "$@")
    echo "#   $1 $2: ${out:0:200}"
    check "$what" "$pred" "$out"
}

for m in Update UpdateFile Cancel Reload; do
    expect "nobody: $m denied by polkit" denied_by_polkit nobody $m
done
for m in Update Cancel Reload; do
    expect "nobody: $m denied by polkit, interactive authorization allowed (no agent)" \
        denied_no_agent nobody $m --interactive
done
setpriv --reuid=nobody --regid=nogroup --clear-groups timeout 30 "$CTL" --bus "$BUS" reload \
    >"$T/ctl.out" 2>"$T/ctl.err"
check_eq "nobody: stdfuctl reload exits 11 (permission denied)" 11 $?
for m in Update UpdateFile Cancel Reload; do
    expect "group stdfu (daemon): $m allowed without a prompt" got_through daemon $m
done
expect "root: Reload allowed" got_through root Reload
expect "root: Update allowed" got_through root Update

# ---- another admin group, by an administrator's rule of the same name in /etc ----------------
sed -e 's/var adminGroup = "stdfu";/var adminGroup = "stdfuops";/' \
    -e 's/var others = polkit.Result.NOT_HANDLED;/var others = polkit.Result.AUTH_ADMIN;/' \
    "$SRCDIR/conf/io.stdfu1.rules" >"$T/etc-rules/50-stdfu.rules"
chmod a+r "$T/etc-rules/50-stdfu.rules"
check "the override names group stdfuops and answers AUTH_ADMIN for the others" \
    grep -q -e '"stdfuops"' -e 'others = polkit.Result.AUTH_ADMIN' "$T/etc-rules/50-stdfu.rules"
restart_polkitd() { stop_polkitd && start_polkitd; }
check "polkitd restarted with the override" restart_polkitd
expect "override: group stdfuops (bin): Reload allowed" got_through bin Reload
expect "override: group stdfuops (bin): Update allowed" got_through bin Update
expect "override: group stdfu (daemon): Reload now denied by polkit" denied_by_polkit daemon Reload
expect "override: nobody: Reload still denied by polkit" denied_by_polkit nobody Reload

# ---- without polkit on the bus ---------------------------------------------------------------
check "polkitd stops, its name leaves the bus" stop_polkitd
expect "no polkit: nobody: Reload denied by stdfud's own check" denied_by_fallback nobody Reload
expect "no polkit: nobody: Update denied by stdfud's own check" denied_by_fallback nobody Update
expect "no polkit: group stdfu (daemon): Reload allowed" got_through daemon Reload
expect "no polkit: group stdfuops (bin): Reload denied (the fallback knows only stdfu)" \
    denied_by_fallback bin Reload
expect "no polkit: root: Reload allowed" got_through root Reload
check "stdfud is still running" kill -0 "$DAEMON_PID"
check "SIGTERM stops it" stop_daemon
finish

#!/bin/bash
# stdfud's own access check, as the service runs it: not root, and with the callers' /proc
# hidden (ProtectProc=invisible). A member of group stdfu (supplementary or primary) may call
# the mutating methods, root may, others get AccessDenied. The group exists only inside a
# private mount namespace (a bind-mounted /etc/group), the host is not touched.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"

requires stdfud dbus-daemon gdbus setpriv unshare
[ "$(id -u)" = 0 ] || skip_all "needs root (mount namespace)"
getent group stdfu >/dev/null && skip_all "a real group stdfu exists here"
getent passwd daemon >/dev/null || skip_all "no user daemon to call as"
unshare -m -p -f true 2>/dev/null || skip_all "cannot create mount and pid namespaces"

GID=4242
while getent group $GID >/dev/null; do GID=$((GID + 1)); done
{ cat /etc/group; echo "stdfu:x:$GID:"; } >"$T/group"
mkdir -p "$STATE" "$ETC"
chown nobody "$STATE"

start_bus || skip_all "cannot start dbus-daemon"
unshare -m -p -f sh -c 'mount --bind "$1" /etc/group && mount -t proc -o hidepid=invisible proc /proc &&
    exec setpriv --reuid=nobody --regid=nogroup --clear-groups "$2" --bus "$3" --state-dir "$4" \
        --manifest "$5/manifest.yaml" --manifest-dir "$5/manifest.d"' sh \
    "$T/group" "$DAEMON" "$BUS" "$STATE" "$ETC" >>"$T/daemon.log" 2>&1 &
DAEMON_PID=$!
check "stdfud runs as nobody with /proc hidden" wait_for 20 name_owned

reload_as() { setpriv --reuid=daemon "$@" gdbus call --address "$BUS" --dest io.stdfu1 \
    --object-path /io/stdfu1 --method io.stdfu1.Manager.Reload 2>&1; }
check "supplementary group stdfu: Reload allowed" grep -q '^()$' \
    <(reload_as --regid=daemon --groups=$GID)
check "primary group stdfu: Reload allowed" grep -q '^()$' <(reload_as --regid=$GID --clear-groups)
check "no group stdfu: AccessDenied" grep -q 'org.freedesktop.DBus.Error.AccessDenied' \
    <(reload_as --regid=daemon --clear-groups)
check "another group: AccessDenied" grep -q 'org.freedesktop.DBus.Error.AccessDenied' \
    <(reload_as --regid=daemon --groups=$((GID + 1)))
check "root: Reload allowed" grep -q '^()$' <(gcall Reload)
check "SIGTERM stops it" stop_daemon
finish

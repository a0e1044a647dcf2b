#!/bin/bash
# conf/io.stdfu1.conf on a bus that denies by default, like the system bus: root owns the name
# and may do everything; anyone else may introspect, read properties, list devices and read
# the history, and the bus itself refuses them every method that changes something.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"

requires stdfud busctl dbus-daemon gdbus setpriv
[ "$(id -u)" = 0 ] || skip_all "needs root (the policy lets only root own io.stdfu1)"

start_bus policy || skip_all "cannot start dbus-daemon"
check "root owns io.stdfu1 under the policy" start_daemon

NB=(as_nobody busctl --address="$BUS")
NB_CALL=(as_nobody gdbus call --address "$BUS" --dest io.stdfu1 --object-path /io/stdfu1 --method)
check_eq "nobody reads State" 's "running"' \
    "$("${NB[@]}" get-property io.stdfu1 /io/stdfu1 io.stdfu1.Manager State)"
check "nobody reads all properties" grep -q "'ManifestErrors'" \
    <(as_nobody gdbus call --address "$BUS" --dest io.stdfu1 --object-path /io/stdfu1 \
        --method org.freedesktop.DBus.Properties.GetAll io.stdfu1.Manager)
check "nobody introspects" grep -q 'io.stdfu1.Manager' \
    <("${NB[@]}" introspect io.stdfu1 /io/stdfu1)
check "nobody lists devices" grep -q '^a(so)' \
    <("${NB[@]}" call io.stdfu1 /io/stdfu1 io.stdfu1.Manager ListDevices)
check "nobody reads the history" grep -q '^a(sssssssttusts)' \
    <("${NB[@]}" call io.stdfu1 /io/stdfu1 io.stdfu1.Manager GetHistory)
bus_denied() { "$@" 2>&1 | grep -q 'org.freedesktop.DBus.Error.AccessDenied'; }
check "the bus refuses nobody Update" bus_denied "${NB_CALL[@]}" io.stdfu1.Manager.Update 1-1 '@a{sv} {}'
check "the bus refuses nobody Cancel" bus_denied "${NB_CALL[@]}" io.stdfu1.Manager.Cancel 1-1
check "the bus refuses nobody Reload" bus_denied "${NB_CALL[@]}" io.stdfu1.Manager.Reload
check "the bus refuses nobody Properties.Set" bus_denied as_nobody gdbus call --address "$BUS" \
    --dest io.stdfu1 --object-path /io/stdfu1 --method org.freedesktop.DBus.Properties.Set \
    io.stdfu1.Manager State '<"x">'
check "nobody cannot own io.stdfu1" bus_denied as_nobody gdbus call --address "$BUS" \
    --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
    --method org.freedesktop.DBus.RequestName io.stdfu1 0
check "root may Reload" grep -q '^()$' <(gcall Reload)
check "SIGTERM stops it" stop_daemon
finish

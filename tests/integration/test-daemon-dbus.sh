#!/bin/bash
# stdfud on a private bus, driven only through D-Bus: it owns the name, exports what
# conf/io.stdfu1.xml says, lets anyone read, refuses every mutating method to an unprivileged
# caller, survives malformed arguments, shows an unfinished job of its journal as a device.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"

requires stdfud busctl dbus-daemon dbus-send setpriv python3

# A good manifest, and an unfinished job in the journal for port 1-9 (no such device here):
# the daemon must show it as an absent device waiting to resume.
mkdir -p "$ETC" "$STATE/jobs"
cp -r "$SRCDIR/tests/fixtures/manifests/good/." "$ETC/"
cp -r "$SRCDIR/tests/fixtures/manifests/firmware" "$T/firmware"
cat >"$STATE/jobs/1-9" <<'JOB'
stdfu-job 1
port=1-9
rule=sensor-left
sha256=982fd22544f7e947682ec2e7dab042e9adaa0c4d77e267844624ef0e6d444e4f
from-version=1.0
target-version=1.2
phase=writing
attempt=1
JOB

start_bus || skip_all "cannot start dbus-daemon"
check "stdfud starts and owns io.stdfu1" start_daemon
check_eq "Manager.State" 's "running"' "$(mprop State)"
check_eq "no manifest errors" 'as 0' "$(mprop ManifestErrors)"
check "rules of the manifest in force" grep -q '"sensor-left"' <(mprop Rules)

# ---- the journal's unfinished job ------------------------------------------------------------
P19=$(device_path 1-9)
check "ListDevices has the journal's port 1-9" grep -q "\"1-9\" \"$P19\"" \
    <(bctl call io.stdfu1 /io/stdfu1 io.stdfu1.Manager ListDevices)
check_eq "its Mode is absent" 's "absent"' "$(dprop 1-9 Mode)"
check_eq "its State is waiting" 's "waiting"' "$(dprop 1-9 State)"
check_eq "its Port" 's "1-9"' "$(dprop 1-9 Port)"
check_eq "its Rule: its job's rule, absent as it is" 's "sensor-left"' "$(dprop 1-9 Rule)"

# ---- introspection matches conf/io.stdfu1.xml ------------------------------------------------
normalise() { python3 "$SRCDIR/tests/integration/introspect-normalise.py" "$@"; }
bctl introspect --xml-interface io.stdfu1 /io/stdfu1 >"$T/manager.xml"
bctl introspect --xml-interface io.stdfu1 "$P19" >"$T/device.xml"
check_eq "io.stdfu1.Manager matches conf/io.stdfu1.xml" \
    "$(normalise "$SRCDIR/conf/io.stdfu1.xml" io.stdfu1.Manager)" \
    "$(normalise "$T/manager.xml" io.stdfu1.Manager)"
check_eq "io.stdfu1.Device matches conf/io.stdfu1.xml" \
    "$(normalise "$SRCDIR/conf/io.stdfu1.xml" io.stdfu1.Device)" \
    "$(normalise "$T/device.xml" io.stdfu1.Device)"

# ---- an unprivileged caller reads, but changes nothing ---------------------------------------
NB_BUSCTL=(as_nobody busctl --address="$BUS")
NB_CALL=(as_nobody gdbus call --address "$BUS" --dest io.stdfu1 --object-path /io/stdfu1 --method)
check_eq "nobody reads Manager.State" 's "running"' \
    "$("${NB_BUSCTL[@]}" get-property io.stdfu1 /io/stdfu1 io.stdfu1.Manager State)"
check_eq "nobody reads Device.State" 's "waiting"' \
    "$("${NB_BUSCTL[@]}" get-property io.stdfu1 "$P19" io.stdfu1.Device State)"
check "nobody calls ListDevices" grep -q '"1-9"' \
    <("${NB_BUSCTL[@]}" call io.stdfu1 /io/stdfu1 io.stdfu1.Manager ListDevices)
check "nobody calls GetHistory" grep -q '^a(sssssssttusts)' \
    <("${NB_BUSCTL[@]}" call io.stdfu1 /io/stdfu1 io.stdfu1.Manager GetHistory)
denied() { "$@" 2>&1 | grep -q 'org.freedesktop.DBus.Error.AccessDenied'; }
check "nobody: Update is AccessDenied" denied "${NB_CALL[@]}" io.stdfu1.Manager.Update \
    1-9 "{'force': <true>}"
check "nobody: Cancel is AccessDenied" denied "${NB_CALL[@]}" io.stdfu1.Manager.Cancel 1-9
check "nobody: Reload is AccessDenied" denied "${NB_CALL[@]}" io.stdfu1.Manager.Reload
echo junk >"$T/fw.bin"
UF=("$SRCDIR/tests/integration/update-file.py" "$BUS")
check "nobody: UpdateFile is AccessDenied" grep -q '^org.freedesktop.DBus.Error.AccessDenied' \
    <(as_nobody "${UF[@]}" 1-9 3 3<"$T/fw.bin")
check_eq "the job of 1-9 is still there" 's "waiting"' "$(dprop 1-9 State)"

# ---- malformed arguments get errors, never a crash -------------------------------------------
err_is() { local name=$1; shift; "$@" 2>&1 | grep -q "$name"; }
check "unknown device: NoSuchDevice" err_is io.stdfu1.Error.NoSuchDevice gcall Cancel 7-7
# dbus-send does not introspect first, so the daemon itself sees the wrong signatures.
SEND=(dbus-send --bus="$BUS" --print-reply --dest=io.stdfu1 /io/stdfu1)
check "wrong signature: InvalidArgs" err_is 'Error org.freedesktop.DBus.Error.InvalidArgs' \
    "${SEND[@]}" io.stdfu1.Manager.Update string:1-9
check "extra argument: InvalidArgs" err_is 'Error org.freedesktop.DBus.Error.InvalidArgs' \
    "${SEND[@]}" io.stdfu1.Manager.Cancel string:1-9 uint32:1
check "no arguments: InvalidArgs" err_is 'Error org.freedesktop.DBus.Error.InvalidArgs' \
    "${SEND[@]}" io.stdfu1.Manager.UpdateFile
check "an object path where a string belongs: InvalidArgs" \
    err_is 'Error org.freedesktop.DBus.Error.InvalidArgs' \
    "${SEND[@]}" io.stdfu1.Manager.Cancel objpath:/io/stdfu1
check "unknown option: InvalidArgs naming it" grep -q 'InvalidArgs: Unknown option "bogus"' \
    <(gcall Update 1-9 "{'bogus': <true>}")
check "option of the wrong type: InvalidArgs naming it" grep -q 'InvalidArgs: Option "force" must be of type "b"' \
    <(gcall Update 1-9 "{'force': <'yes'>}")
check "option given twice: InvalidArgs" grep -q 'given twice' \
    <(bctl call io.stdfu1 /io/stdfu1 io.stdfu1.Manager Update 'sa{sv}' 1-9 2 force b true force b false 2>&1)
huge=$(head -c 120000 /dev/zero | tr '\0' x)   # an argv string may have 128 KiB
check "120 kB device name: NoSuchDevice" err_is io.stdfu1.Error.NoSuchDevice gcall Cancel "$huge"
check "object path that is no device: NoSuchDevice" err_is io.stdfu1.Error.NoSuchDevice \
    gcall Cancel /io/stdfu1/device/../x
FW12=$SRCDIR/tests/fixtures/manifests/firmware/app-1.2.bin
uf() { "${UF[@]}" 1-9 3 "$@"; }
check "UpdateFile with a directory fd: InvalidArgs" grep -q 'InvalidArgs: .*must refer to a regular file' \
    <(uf 3<"$T")
check "UpdateFile with a pipe fd: InvalidArgs" grep -q 'InvalidArgs: .*must refer to a regular file' \
    <(uf 3< <(echo firmware))
check "UpdateFile with a write-only fd: InvalidArgs" grep -q 'InvalidArgs: .*not open for reading' \
    <(uf 3>>"$T/fw.bin")
: >"$T/empty.bin"
check "UpdateFile with an empty file: InvalidArgs" grep -q 'InvalidArgs: .*must have 1 to' \
    <(uf 3<"$T/empty.bin")
check "UpdateFile of a raw binary without an address: InvalidArgs" grep -q 'InvalidArgs: firmware' \
    <(uf "{'format': <'bin'>}" 3<"$FW12")
check "UpdateFile of raw data with an address but no format: InvalidArgs, never written raw" \
    grep -q 'InvalidArgs: .*raw binaries are only taken' \
    <(uf "{'address': <uint32 0x08000000>}" 3<"$FW12")
check "UpdateFile with a bad version option: InvalidArgs" grep -q 'InvalidArgs: .*"1.x" is not MAJOR.MINOR' \
    <(uf "{'version': <'1.x'>, 'address': <uint32 0x08000000>}" 3<"$FW12")
check "UpdateFile with an unknown option: InvalidArgs" grep -q 'InvalidArgs: Unknown option "path"' \
    <(uf "{'path': <'/etc/shadow'>}" 3<"$FW12")
for args in 'Update string:1-9 string:x' 'Update array:string:1,2 dict:string:string:a,b' \
            'Cancel array:string:1-9' 'Reload string:x' 'ListDevices string:x' 'GetHistory int32:-1' \
            'UpdateFile string:1-9 dict:string:int32:force,1' 'Update string: dict:string:int32:,1' \
            'Nonexistent string:x'; do
    set -- $args
    "${SEND[@]}" "io.stdfu1.Manager.$1" "${@:2}" >/dev/null 2>&1
done
check "still answers after the fuzzing (Ping)" bctl call io.stdfu1 /io/stdfu1 org.freedesktop.DBus.Peer Ping
check_eq "and still has its job" 's "waiting"' "$(dprop 1-9 State)"

# ---- Cancel of a job that waits for its device -----------------------------------------------
check "root cancels the waiting job of 1-9" bctl call io.stdfu1 /io/stdfu1 io.stdfu1.Manager Cancel s 1-9
check_eq "its State is cancelled" 's "cancelled"' "$(dprop 1-9 State)"
check "its journal record is gone" test ! -e "$STATE/jobs/1-9"

check "SIGTERM stops it cleanly" stop_daemon
finish

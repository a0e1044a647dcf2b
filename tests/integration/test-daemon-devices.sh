#!/bin/bash
# stdfud tracks emulated devices by port across hotplug, without updating anything: devices
# already on the target, a bootloader no rule adopts; ListDevices and the Device properties
# say what is on each port; unplug and plug show up as DeviceRemoved/DeviceAdded; two ROMs
# with the same serial are two devices.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"

requires stdfud stdfu-sim busctl dbus-daemon python3 setpriv

sensor_manifest 1.2 || skip_all "stdfu-sim mkfw failed"
start_bus || skip_all "cannot start dbus-daemon"
SIM_ARGS=(--device port=1-1.1,profile=f072,mode=application,version=1.2
          --device port=1-1.2,profile=f072,mode=application,version=1.2
          --device port=1-1.3,profile=f072,mode=bootloader
          --control "$T/ctl.sock" --report "$T/report.json")
check "stdfud starts under stdfu-sim" start_daemon

list() { bctl call io.stdfu1 /io/stdfu1 io.stdfu1.Manager ListDevices; }
check_eq "ListDevices: the three ports" \
    "a(so) 3 \"1-1.1\" \"$(device_path 1-1.1)\" \"1-1.2\" \"$(device_path 1-1.2)\" \"1-1.3\" \"$(device_path 1-1.3)\"" \
    "$(list)"
check_eq "Devices is 3" 'u 3' "$(mprop Devices)"
for port in 1-1.1 1-1.2; do
    check_eq "$port: Mode application" 's "application"' "$(dprop $port Mode)"
    check_eq "$port: RunningVersion 1.2 (from bcdDevice)" 's "1.2"' "$(dprop $port RunningVersion)"
    check_eq "$port: TargetVersion 1.2" 's "1.2"' "$(dprop $port TargetVersion)"
    check_eq "$port: Rule sensor (the rule it matches)" 's "sensor"' "$(dprop $port Rule)"
    check_eq "$port: State idle (current)" 's "idle"' "$(dprop $port State)"
    check_eq "$port: UsbId" 's "0483:5750"' "$(dprop $port UsbId)"
done
check_eq "1-1.3: Mode bootloader" 's "bootloader"' "$(dprop 1-1.3 Mode)"
check_eq "1-1.3: the ROM's serial" 's "FFFFFFFEFFFF"' "$(dprop 1-1.3 Serial)"
check_eq "1-1.3: State idle (no rule adopts it)" 's "idle"' "$(dprop 1-1.3 State)"
check_eq "1-1.3: Rule empty (no rule adopts it)" 's ""' "$(dprop 1-1.3 Rule)"
check_eq "nobody reads 1-1.3's Mode" 's "bootloader"' \
    "$(as_nobody busctl --address="$BUS" get-property io.stdfu1 "$(device_path 1-1.3)" io.stdfu1.Device Mode)"
check "Update of a current device: NothingToDo" grep -q 'io.stdfu1.Error.NothingToDo' \
    <(gcall Update 1-1.1 '@a{sv} {}')
check "Update of a bootloader no rule names: refused" grep -q 'No manifest rule matches device 1-1.3' \
    <(gcall Update 1-1.3 '@a{sv} {}')

# ---- hotplug ---------------------------------------------------------------------------------
gone() { ! list | grep -q "\"$1\""; }
there() { list | grep -q "\"$1\""; }
bctl monitor --match "type='signal',interface='io.stdfu1.Manager'" >"$T/signals.log" 2>&1 &
MONITOR=$!
EXTRA_PIDS+=("$MONITOR")
sleep 0.5
check "unplug 1-1.2 at the emulator" grep -q '^ok' <(sim_ctl "unplug 1-1.2")
check "1-1.2 leaves ListDevices" wait_for 10 gone 1-1.2
check "plug 1-1.2 again" grep -q '^ok' <(sim_ctl "plug 1-1.2")
check "1-1.2 is back" wait_for 10 there 1-1.2
check_eq "1-1.2: Mode application again" 's "application"' "$(dprop 1-1.2 Mode)"
check_eq "1-1.2: Rule sensor again" 's "sensor"' "$(dprop 1-1.2 Rule)"
check "add a device on 1-1.4 (running 1.2)" grep -q '^ok' \
    <(sim_ctl "add port=1-1.4,profile=f072,mode=application,version=1.2")
check "1-1.4 appears" wait_for 10 there 1-1.4
# A second f072 ROM: every one reports the serial FFFFFFFEFFFF, and the port tells them apart.
check "add a second bootloader on 1-1.5" grep -q '^ok' \
    <(sim_ctl "add port=1-1.5,profile=f072,mode=bootloader")
check "1-1.5 appears" wait_for 10 there 1-1.5
check_eq "1-1.3 and 1-1.5: the same serial, each its own object" \
    "s \"FFFFFFFEFFFF\" s \"FFFFFFFEFFFF\" $(device_path 1-1.3) $(device_path 1-1.5)" \
    "$(echo $(dprop 1-1.3 Serial) $(dprop 1-1.5 Serial) \
        $(list | grep -oE '/io/stdfu1/device/_31_2d1_2e[35]\b' | sort -u))"
check "unplug 1-1.5" grep -q '^ok' <(sim_ctl "unplug 1-1.5")
check "1-1.5 leaves ListDevices" wait_for 10 gone 1-1.5
check_eq "1-1.3 stays, in the bootloader" 's "bootloader"' "$(dprop 1-1.3 Mode)"
sleep 0.5
kill "$MONITOR" 2>/dev/null
wait "$MONITOR" 2>/dev/null
check "DeviceRemoved signal for 1-1.2" grep -q 'DeviceRemoved' "$T/signals.log"
check "DeviceAdded signal for 1-1.4" grep -A4 'DeviceAdded' "$T/signals.log" | grep -q '"1-1.4"'
# ---- bad firmware in a drop-in: refused as a whole, nothing is touched ------------------------
mkdir -p "$ETC/manifest.d"
"$SIM" mkfw --version 2.0 --size 16384 -o "$ETC/fw-2.0.bin" >/dev/null
cat >"$ETC/manifest.d/50-new.yaml" <<YAML
rules:
  - name: sensor-2
    replace: false
    port: "1-1.*"
    application:
      id: "0483:5750"
    firmware:
      file: ../fw-2.0.bin
      sha256: 0000000000000000000000000000000000000000000000000000000000000000
      version: "2.0"
      address: 0x08000000
YAML
kill -HUP "$(daemon_pid)"
sha_error() { mprop ManifestErrors | grep -q '50-new.yaml:9:15: firmware.sha256: mismatch'; }
check "a firmware with the wrong SHA-256 is refused, naming the file" wait_for 10 sha_error
check_eq "the old rule stays in force" 'as 1 "sensor"' "$(mprop Rules)"
check_eq "1-1.1 stays idle" 's "idle"' "$(dprop 1-1.1 State)"
check_eq "1-1.1: Rule still sensor" 's "sensor"' "$(dprop 1-1.1 Rule)"

# ---- Rule follows the manifest: the same rule renamed, announced by PropertiesChanged ---------
rm "$ETC/manifest.d/50-new.yaml"
sed -i 's/^  - name: sensor$/  - name: sensor-renamed/' "$ETC/manifest.yaml"
bctl monitor --match "type='signal',path='$(device_path 1-1.1)',member='PropertiesChanged'" \
    >"$T/props.log" 2>&1 &
MONITOR=$!
EXTRA_PIDS+=("$MONITOR")
sleep 0.5
check "Reload takes the renamed rule" bctl call io.stdfu1 /io/stdfu1 io.stdfu1.Manager Reload
check_eq "Rules: the new name" 'as 1 "sensor-renamed"' "$(mprop Rules)"
check_eq "1-1.1: Rule is the new name" 's "sensor-renamed"' "$(dprop 1-1.1 Rule)"
check_eq "1-1.3: Rule still empty" 's ""' "$(dprop 1-1.3 Rule)"
check_eq "1-1.1 stays idle (the same target)" 's "idle"' "$(dprop 1-1.1 State)"
rule_signal() { grep -A3 '"Rule"' "$T/props.log" | grep -q '"sensor-renamed"'; }
check "PropertiesChanged of 1-1.1 carries the new Rule" wait_for 5 rule_signal
kill "$MONITOR" 2>/dev/null
wait "$MONITOR" 2>/dev/null
check "SIGTERM stops it" stop_daemon
check "no device was flashed" python3 - "$T/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
sys.exit(1 if any(d["counters"]["bytes_written"] or d["counters"]["erases"] for d in r["devices"]) else 0)
PY
finish

#!/bin/bash
# The Mender update module mender/stdfu with the real mender client (standalone: mender install,
# commit, rollback) and artifacts from the real mender-artifact (through
# mender/stdfu-mender-artifact), against emulated devices behind stdfud on a private bus:
#   1. success: both devices run the artifact's 1.1, commit keeps it
#   2. an explicit rollback: 1.2 installed, `mender rollback` puts the 1.1 drop-in back and the
#      devices go back to 1.1 (its rule allows downgrades)
#   2b. rolled back to a rule without downgrades: the devices stay on the newer firmware
#   3. a device that needs a power cycle fails the install: the client rolls back by itself;
#      with STDFU_POWER_CYCLE=pending it does not
#   4. a device whose update fails (ends failed) fails the install: the same
#   5. a device of a rule outside the drop-in, with the same target version and an update that
#      does not end (retry-wait), is not waited for: the module follows stdfud's Rule
# The client runs in a private mount namespace: its modules directory is a bind mount of ours and
# /etc/mender a tmpfs; its state is in $T/mender (--data), its configuration in $T.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"

requires stdfud stdfuctl stdfu-sim busctl dbus-daemon mender mender-artifact unshare
[ "$(id -u)" = 0 ] || skip_all "needs root (mount namespace for the mender client)"
[ -d /usr/share/mender/modules/v3 ] || skip_all "no /usr/share/mender/modules/v3 (mender-client)"
unshare -m true 2>/dev/null || skip_all "cannot create a mount namespace"

# ---- the client's scratch world -----------------------------------------------------------------
mkdir -p "$T/modules" "$T/mender" "$ETC/manifest.d"
cp "$SRCDIR/mender/stdfu" "$T/modules/stdfu"
echo device_type=stdfu-test >"$T/mender/device_type"
cat >"$T/mender.conf" <<JSON
{"DeviceTypeFile": "$T/mender/device_type", "ArtifactScriptsPath": "$T/mender/scripts",
 "RootfsScriptsPath": "$T/scripts", "ModuleTimeoutSeconds": 300}
JSON
cat >"$T/mender.sh" <<SH
#!/bin/sh
mount --bind "$T/modules" /usr/share/mender/modules/v3 || exit 99
mount -t tmpfs tmpfs /etc/mender || exit 99
echo artifact_name=factory >/etc/mender/artifact_info
exec mender --no-syslog --config "$T/mender.conf" --fallback-config "$T/none.conf" \
    --data "$T/mender" "\$@"
SH
chmod +x "$T/mender.sh"
# mender_do LOG ARG...: the client, its output in $T/LOG; returns its exit status.
mender_do() {
    local log=$1; shift
    unshare -m --propagation private "$T/mender.sh" "$@" >"$T/$log" 2>&1
}
host_etc() { find /etc/mender -printf "%p %s %T@\n" 2>&1 | sort | md5sum; }
host_etc_before=$(host_etc)

# ---- firmware and artifacts -----------------------------------------------------------------
"$SIM" mkfw --version 1.1 --size 16384 --seed 11 -o "$T/fw-1.1.bin" >/dev/null
"$SIM" mkfw --version 1.2 --size 16384 --seed 12 -o "$T/fw-1.2.bin" >/dev/null
# artifact NAME VERSION [DOWNGRADE]: $T/NAME.mender, one rule "sensor" for VERSION, downgrades
# allowed unless DOWNGRADE is false;
# its manifest names the firmware in a subdirectory, as an author may keep it.
artifact() {
    mkdir -p "$T/src-$1/images"
    cp "$T/fw-$2.bin" "$T/src-$1/images/"
    cat >"$T/src-$1/sensor.yaml" <<YAML
rules:
  - name: sensor
    application:
      id: "0483:5750"
    firmware:
      file: images/fw-$2.bin
      sha256: $(sha256sum "$T/fw-$2.bin" | cut -d' ' -f1)
      version: "$2"
      address: 0x08000000
    allow-downgrade: ${3:-true}
    retries: 0
    timeouts:
      grace: 1
YAML
    "$SRCDIR/mender/stdfu-mender-artifact" "$T/src-$1/sensor.yaml" -n "$1" -t stdfu-test \
        -o "$T/$1.mender" >"$T/artifact-$1.log" 2>&1
}
check "stdfu-mender-artifact builds fleet-1.1" artifact fleet-1.1 1.1
check "stdfu-mender-artifact builds fleet-1.2" artifact fleet-1.2 1.2
check "stdfu-mender-artifact builds keep-1.1 (no downgrades)" artifact keep-1.1 1.1 false
check "the artifact is of type stdfu, with the manifest and the firmware" grep -qzE \
    'Type: +stdfu.*name: +manifest.yaml.*name: +fw-1.1.bin' \
    <(mender-artifact read "$T/fleet-1.1.mender" 2>&1)

# ---- what the module answers ------------------------------------------------------------------
mkdir -p "$T/tree/tmp" "$T/tree/files"
check_eq "NeedsArtifactReboot: No" No "$("$T/modules/stdfu" NeedsArtifactReboot "$T/tree")"
check_eq "SupportsRollback: Yes" Yes "$("$T/modules/stdfu" SupportsRollback "$T/tree")"
check_eq "an unknown state: nothing, exit 0" "0:" \
    "$("$T/modules/stdfu" SomeFutureState "$T/tree" 2>&1; echo "$?:")"
check_eq "Download: nothing (the client stores the payload), exit 0" "0:" \
    "$("$T/modules/stdfu" Download "$T/tree" 2>&1; echo "$?:")"
check_eq "ArtifactReboot: nothing, exit 0" "0:" \
    "$("$T/modules/stdfu" ArtifactReboot "$T/tree" 2>&1; echo "$?:")"
check "ArtifactInstall of a payload without a manifest fails, saying so" grep -q \
    'exactly one manifest' <("$T/modules/stdfu" ArtifactInstall "$T/tree" 2>&1)
check "ArtifactRollback when nothing was installed: exit 0, saying so" grep -q \
    'nothing was installed' <("$T/modules/stdfu" ArtifactRollback "$T/tree" && echo)
# A payload, but no stdfud on the bus: the drop-in is written, the reload fails, and so does the
# install; the rollback removes the drop-in again.
printf 'STDFU_BUS=unix:path=%s\nSTDFU_MANIFEST_DIR=%s\nSTDFUCTL=%s\n' "$T/nobus" "$T/md" "$CTL" \
    >"$T/nobus.conf"
mkdir -p "$T/md"
cp "$T/src-fleet-1.1/images/fw-1.1.bin" "$T/tree/files/"
sed 's#images/##' "$T/src-fleet-1.1/sensor.yaml" >"$T/tree/files/manifest.yaml"
STDFU_MENDER_CONF=$T/nobus.conf "$T/modules/stdfu" ArtifactInstall "$T/tree" >"$T/nobus.log" 2>&1
check_eq "no stdfud: ArtifactInstall fails" 1 $?
check "no stdfud: it says why" grep -q 'stdfud refused the new manifest\|not running\|connect' \
    "$T/nobus.log"
check "the drop-in was written" test -f "$T/md/mender.yaml"
STDFU_MENDER_CONF=$T/nobus.conf "$T/modules/stdfu" ArtifactRollback "$T/tree" >>"$T/nobus.log" 2>&1
check "ArtifactRollback removes it (there was none)" test ! -e "$T/md/mender.yaml"
check_eq "and its firmware directory" "" "$(ls "$T/md/mender.firmware")"
rm -rf "$T/tree"

# ---- stdfud with two devices on 1.0 ------------------------------------------------------------
start_bus || skip_all "cannot start dbus-daemon"
SIM_ARGS=(--hub ganged --control "$T/ctl.sock" --report "$T/report.json"
          --device port=1-1.1,profile=f072,mode=application,version=1.0
          --device port=1-1.2,profile=f072,mode=application,version=1.0)
check "stdfud starts under stdfu-sim" start_daemon
# The module on the test's bus and manifest directory, with the test's stdfuctl.
cat >"$T/stdfu-mender.conf" <<CONF
STDFU_BUS=$BUS
STDFU_MANIFEST_DIR=$ETC/manifest.d
STDFU_TIMEOUT=60
STDFUCTL=$CTL
CONF
export STDFU_MENDER_CONF=$T/stdfu-mender.conf
runs() { for p in 1-1.1 1-1.2; do echo "$p $(dprop $p RunningVersion)"; done | tr '\n' ' '; }

# ---- 1: success, commit -----------------------------------------------------------------------
mender_do install1.log install "$T/fleet-1.1.mender"
check_eq "mender install fleet-1.1 succeeds" 0 $?
check_eq "both devices run 1.1 when it returns" '1-1.1 s "1.1" 1-1.2 s "1.1" ' "$(runs)"
check "the deployment log says which port runs what" grep -q 'stdfu: 1-1.2: runs 1.1' \
    "$T/install1.log"
check "one drop-in, mender.yaml, its firmware in mender.firmware/GEN" grep -qE \
    'file: mender\.firmware/[^/]+/fw-1\.1\.bin$' "$ETC/manifest.d/mender.yaml"
check_eq "no manifest error" 'as 0' "$(mprop ManifestErrors)"
mender_do commit1.log commit
check_eq "mender commit succeeds" 0 $?
check_eq "show-artifact: fleet-1.1" fleet-1.1 "$(mender_do show.log show-artifact; tail -n1 "$T/show.log")"
cp "$ETC/manifest.d/mender.yaml" "$T/dropin-1.1.yaml"

# ---- 2: install 1.2, then mender rollback -----------------------------------------------------
mender_do install2.log install "$T/fleet-1.2.mender"
check_eq "mender install fleet-1.2 succeeds" 0 $?
check_eq "both devices run 1.2" '1-1.1 s "1.2" 1-1.2 s "1.2" ' "$(runs)"
check_eq "two firmware generations while uncommitted" 2 \
    "$(ls "$ETC/manifest.d/mender.firmware" | wc -l)"
mender_do rollback2.log rollback
check_eq "mender rollback succeeds" 0 $?
check "the 1.1 drop-in is back, byte for byte" cmp "$T/dropin-1.1.yaml" \
    "$ETC/manifest.d/mender.yaml"
check_eq "the devices are back on 1.1 (the rule allows downgrades)" \
    '1-1.1 s "1.1" 1-1.2 s "1.1" ' "$(runs)"
check "the rollback's log says so" grep -q 'stdfu: 1-1.1: runs 1.1' "$T/rollback2.log"
check_eq "only the 1.1 firmware generation is left" 1 \
    "$(ls "$ETC/manifest.d/mender.firmware" | wc -l)"
check_eq "show-artifact: still fleet-1.1" fleet-1.1 \
    "$(mender_do show.log show-artifact; tail -n1 "$T/show.log")"

# ---- 2b: rolled back to a rule without downgrades: the devices stay, the rollback says so ------
mender_do install2b.log install "$T/keep-1.1.mender"
check_eq "mender install keep-1.1 (the devices run 1.1 already) succeeds" 0 $?
mender_do commit2b.log commit
mender_do install2c.log install "$T/fleet-1.2.mender"
check_eq "mender install fleet-1.2 succeeds" 0 $?
mender_do rollback2c.log rollback
check_eq "mender rollback succeeds" 0 $?
check_eq "the devices stay on 1.2" '1-1.1 s "1.2" 1-1.2 s "1.2" ' "$(runs)"
check "the rollback's log says why" grep -q \
    'stdfu: 1-1.1: stays on 1.2, not 1.1 (its rule does not allow a downgrade)' \
    "$T/rollback2c.log"
mender_do install2d.log install "$T/fleet-1.1.mender"
check_eq "mender install fleet-1.1 again: the devices go back to 1.1" \
    '0 1-1.1 s "1.1" 1-1.2 s "1.1" ' "$? $(runs)"
mender_do commit2d.log commit
cp "$ETC/manifest.d/mender.yaml" "$T/dropin-1.1.yaml"

# ---- 3: a device that needs a power cycle ---------------------------------------------------------
check "1-1.3 (1.1, vanishes after leave, ganged hub) added" grep -q '^ok' \
    <(sim_ctl "add port=1-1.3,profile=f072,mode=application,version=1.1,leave=vanish")
check "1-1.3 is idle on 1.1" wait_for 30 state_is 1-1.3 idle
mender_do install3.log install "$T/fleet-1.2.mender"
check "mender install fails" test $? -ne 0
check "the log names the port that needs a power cycle" grep -q \
    'stdfu: 1-1.3: needs a power cycle' "$T/install3.log"
check "the log says the others ran 1.2" grep -q 'stdfu: 1-1.1: runs 1.2' "$T/install3.log"
check "the client rolled back: the 1.1 drop-in is back" cmp "$T/dropin-1.1.yaml" \
    "$ETC/manifest.d/mender.yaml"
check_eq "1-1.1 and 1-1.2 are back on 1.1" '1-1.1 s "1.1" 1-1.2 s "1.1" ' "$(runs)"
check "ArtifactFailure reported" grep -q 'stdfu: the deployment failed' "$T/install3.log"
check_eq "show-artifact: still fleet-1.1" fleet-1.1 \
    "$(mender_do show.log show-artifact; tail -n1 "$T/show.log")"
# Replugged, with a leave that works now: stdfud finishes the update it had (1.2 is written);
# `stdfuctl update` then brings it to the rule in force again, 1.1.
sim_ctl "fault 1-1.3 leave=ok" >/dev/null
sim_ctl "unplug 1-1.3" >/dev/null
sim_ctl "plug 1-1.3" >/dev/null
check "replugged, 1-1.3 ends done" wait_for 60 state_is 1-1.3 done
check "stdfuctl update 1-1.3 --wait: back to the rolled-back target" \
    "$CTL" --bus "$BUS" -q update 1-1.3 --wait
check_eq "1-1.3 runs 1.1" 's "1.1"' "$(dprop 1-1.3 RunningVersion)"

# STDFU_POWER_CYCLE=pending: the same device no longer fails the install; rolled back by hand.
sim_ctl "fault 1-1.3 leave=vanish" >/dev/null
echo STDFU_POWER_CYCLE=pending >>"$T/stdfu-mender.conf"
mender_do install3p.log install "$T/fleet-1.2.mender"
check_eq "STDFU_POWER_CYCLE=pending: mender install succeeds" 0 $?
check "the log still names the port that needs a power cycle" grep -q \
    'stdfu: 1-1.3: needs a power cycle' "$T/install3p.log"
check_eq "1-1.1 and 1-1.2 run 1.2" '1-1.1 s "1.2" 1-1.2 s "1.2" ' "$(runs)"
mender_do rollback3p.log rollback
check_eq "mender rollback succeeds" 0 $?
check_eq "1-1.1 and 1-1.2 are back on 1.1" '1-1.1 s "1.1" 1-1.2 s "1.1" ' "$(runs)"
sed -i '/^STDFU_POWER_CYCLE=/d' "$T/stdfu-mender.conf"
sim_ctl "fault 1-1.3 leave=ok" >/dev/null
sim_ctl "unplug 1-1.3" >/dev/null
sim_ctl "plug 1-1.3" >/dev/null
check "replugged, 1-1.3 ends done" wait_for 60 state_is 1-1.3 done
check "stdfuctl update 1-1.3 --wait: 1.1 again" "$CTL" --bus "$BUS" -q update 1-1.3 --wait

# ---- 4: a device whose update fails ------------------------------------------------------------------
# Its application takes a HID output report to enter its bootloader, which stdfud's auto
# method does not send: the attempt fails with 1.1 still running and, with `retries: 0`, ends
# failed. (A fault in the bootloader would end in retry-wait, which the module waits out.)
check "1-1.4 (1.1, enters its bootloader on a HID output report) added" grep -q '^ok' \
    <(sim_ctl "add port=1-1.4,profile=f072,mode=application,version=1.1,enter=hid-output:0102")
check "1-1.4 is idle on 1.1" wait_for 30 state_is 1-1.4 idle
mender_do install4.log install "$T/fleet-1.2.mender"
check "mender install fails" test $? -ne 0
check "the log names the port that failed, running 1.1" grep -q \
    'stdfu: 1-1.4: failed, runs 1.1' "$T/install4.log"
check "the client rolled back: the 1.1 drop-in is back" cmp "$T/dropin-1.1.yaml" \
    "$ETC/manifest.d/mender.yaml"
check_eq "1-1.1 and 1-1.2 are back on 1.1" '1-1.1 s "1.1" 1-1.2 s "1.1" ' "$(runs)"

# ---- 5: a device of another rule with the same target version is not waited for ---------------
# The main manifest's rule "bench" covers 1-1.5 (first in matching order) and targets 1.2, as
# the drop-in will; 1-1.5 cannot enter its bootloader, so its job sits in retry-wait (30 s,
# then longer) long past STDFU_TIMEOUT. Followed by target version, it would fail the install.
sim_ctl "unplug 1-1.4" >/dev/null
cp "$T/fw-1.2.bin" "$ETC/bench-1.2.bin"
cat >"$ETC/manifest.yaml" <<YAML
rules:
  - name: bench
    port: "1-1.5"
    application:
      id: "0483:5750"
    firmware:
      file: bench-1.2.bin
      sha256: $(sha256sum "$T/fw-1.2.bin" | cut -d' ' -f1)
      version: "1.2"
      address: 0x08000000
    retries: 5
YAML
check "stdfuctl reload takes the bench rule" "$CTL" --bus "$BUS" -q reload
check "1-1.5 (1.1, enters its bootloader on a HID output report) added" grep -q '^ok' \
    <(sim_ctl "add port=1-1.5,profile=f072,mode=application,version=1.1,enter=hid-output:0102")
check "1-1.5 fails its first attempt: retry-wait" wait_for 30 state_is 1-1.5 retry-wait
check_eq "its Rule is bench" 's "bench"' "$(dprop 1-1.5 Rule)"
check "stdfuctl status --json says so" grep -q '"port":"1-1.5",[^}]*"target_version":"1.2","rule":"bench"' \
    <("$CTL" --bus "$BUS" status --json)
mender_do install5.log install "$T/fleet-1.2.mender"
check_eq "mender install fleet-1.2 succeeds" 0 $?
check_eq "1-1.1 and 1-1.2 run 1.2" '1-1.1 s "1.2" 1-1.2 s "1.2" ' "$(runs)"
check "the log follows the drop-in's rule" grep -q 'rules sensor targeting 1.2' "$T/install5.log"
check "the log says 1-1.1 runs 1.2" grep -q 'stdfu: 1-1.1: runs 1.2' "$T/install5.log"
check "the log does not mention 1-1.5" sh -c '! grep -q "1-1\.5" "$1"' - "$T/install5.log"
check_eq "1-1.5 still waits for its next attempt, under bench" 's "retry-wait" s "bench"' \
    "$(dprop 1-1.5 State) $(dprop 1-1.5 Rule)"
check_eq "the host's /etc/mender is untouched" "$host_etc_before" "$(host_etc)"
check "SIGTERM stops stdfud" stop_daemon
if [ "$_tap_failed" -gt 0 ]; then
    for f in "$T"/install*.log "$T"/rollback*.log; do
        echo "# ---- $f"; grep -v 'level=info' "$f" | tail -n 25 | sed 's/^/#   /'
    done
fi
finish

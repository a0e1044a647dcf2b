#!/bin/bash
# `stdfuctl update --wait`: its exit status is the update's outcome -- done (0), needs a power
# cycle (7: the device vanished behind a hub that cannot switch one port), cancelled (9) --
# and `update --all --wait` follows an update that was already running.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"

requires stdfud stdfu-sim stdfuctl busctl dbus-daemon python3

mkdir -p "$ETC"
"$SIM" mkfw --version 1.2 --size 32768 --seed 3 -o "$ETC/fw-1.2.bin" >/dev/null
cat >"$ETC/manifest.yaml" <<YAML
rules:
  - name: sensor
    application:
      id: "0483:5750"
    firmware:
      file: fw-1.2.bin
      sha256: $(sha256sum "$ETC/fw-1.2.bin" | cut -d' ' -f1)
      version: "1.2"
      address: 0x08000000
    retries: 0
    # The cancel below is forced onto 1-1.1, which holds this image by then: a differential
    # write would find nothing to erase and never pass through the slow erase it cancels.
    differential: false
    timeouts:
      leave: 3
      grace: 0
YAML
start_bus || skip_all "cannot start dbus-daemon"
# A hub without per-port power switching: a device that vanishes cannot be brought back.
SIM_ARGS=(--hub ganged
          --device port=1-1.1,profile=f072,mode=application,version=1.2,slow-erase=8
          --device port=1-1.2,profile=f072,mode=application,version=1.2,leave=vanish)
check "stdfud starts under stdfu-sim" start_daemon || { finish; exit 1; }

run() {  # run NAME ARG...: stdfuctl on the test bus; .rc .out .err in $T
    local name=$1; shift
    timeout 60 "$CTL" --bus "$BUS" "$@" >"$T/$name.out" 2>"$T/$name.err"
    echo $? >"$T/$name.rc"
}
rc() { cat "$T/$1.rc"; }

run queued update --force 1-1.1
check_eq "an update is queued for 1-1.1" 0 "$(rc queued)"
run all update --all --wait --json
check_eq "update --all --wait exits 0 when the followed update ends done" 0 "$(rc all)"
check_eq "update --all --json: 1-1.1 was busy and followed to done, 1-1.2 current" \
    "1-1.1 busy done|1-1.2 current None" \
    "$(python3 -c 'import json, sys
print("|".join("%s %s %s" % (x["port"], x["request"], x["outcome"])
               for x in json.load(open(sys.argv[1]))["requests"]))' "$T/all.out")"

run vanish update --force --wait 1-1.2
check_eq "update --wait of a device that vanishes for good exits 7" 7 "$(rc vanish)"
check "it says the device needs a power cycle" \
    grep -q '^stdfuctl: 1-1.2: the device needs a power cycle: unplug and replug it' \
    "$T/vanish.err"
check "the last progress line says so too" \
    test "$(tail -n1 "$T/vanish.out")" = "1-1.2: needs a power cycle (unplug and replug it)"

timeout 60 "$CTL" --bus "$BUS" update --force --wait 1-1.1 >"$T/cancel.out" 2>"$T/cancel.err" &
WAIT_PID=$!
check "1-1.1 erases (slowly)" wait_for 30 state_is 1-1.1 erasing
run cancel cancel 1-1.1
check_eq "cancel exits 0" 0 "$(rc cancel)"
wait "$WAIT_PID"; wait_rc=$?
check_eq "update --wait of a cancelled update exits 9" 9 "$wait_rc"
check "it says so (with stdfud's reason, if any)" \
    grep -qE '^stdfuctl: 1-1.1: update cancelled(\.|: .+)$' "$T/cancel.err"
finish

#!/bin/bash
# stdfuctl run by an unprivileged user (nobody, via setpriv): reading works (status, history,
# watch), every command that changes something ends with stdfud's reason, "permission denied:
# METHOD requires root or membership of group "stdfu"", and exit 11 -- on a bus that denies by default with conf/io.stdfu1.conf
# (which lets the mutating calls through to stdfud, polkit's to decide) as on an open bus:
# stdfud refuses them (no polkit on these buses: root and group stdfu only).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"

requires stdfud stdfu-sim stdfuctl busctl dbus-daemon setpriv python3
[ "$(id -u)" = 0 ] || skip_all "needs root (to run stdfuctl as nobody, and to own io.stdfu1)"

mkdir -p "$ETC"
"$SIM" mkfw --version 1.2 --size 16384 --seed 7 -o "$ETC/fw-1.2.bin" >/dev/null
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
YAML
cp "$ETC/fw-1.2.bin" "$T/mine.bin"
chmod 644 "$T/mine.bin"
SIM_ARGS=(--device port=1-1.1,profile=f072,mode=application,version=1.2)

# nb NAME ARG...: stdfuctl ARG... as nobody; status in $T/NAME.rc, output in .out/.err.
nb() {
    local name=$1; shift
    as_nobody timeout 30 "$CTL" --bus "$BUS" "$@" >"$T/$name.out" 2>"$T/$name.err"
    echo $? >"$T/$name.rc"
}
rc() { cat "$T/$1.rc"; }

for mode in policy open; do
    what=stdfud
    start_bus $mode || skip_all "cannot start dbus-daemon"
    check "[$mode] stdfud starts" start_daemon || break

    nb status-$mode status
    check_eq "[$mode] nobody: status exits 0" 0 "$(rc status-$mode)"
    check "[$mode] nobody: status shows the device" grep -qE '^1-1\.1 .* application +1\.2' \
        "$T/status-$mode.out"
    nb json-$mode status --json
    check "[$mode] nobody: status --json parses" python3 -c 'import json, sys
sys.exit(0 if json.load(open(sys.argv[1]))["devices"][0]["port"] == "1-1.1" else 1)' "$T/json-$mode.out"
    nb history-$mode history --json
    check_eq "[$mode] nobody: history exits 0" 0 "$(rc history-$mode)"
    nb watch-$mode watch
    check_eq "[$mode] nobody: watch exits 0 (nothing runs)" 0 "$(rc watch-$mode)"

    for call in "Update:update --force 1-1.1" "Update:update --force --wait 1-1.1" \
                "UpdateFile:update --file $T/mine.bin --address 0x08000000 1-1.1" \
                "Cancel:cancel 1-1.1" "Reload:reload"; do
        method=${call%%:*} args=${call#*:}
        name=denied-$mode-${method}-$(echo "$args" | md5sum | cut -c1-6)
        nb "$name" $args
        check_eq "[$mode] nobody: '${args/$T\//}' is refused by $what, exit 11" 11 "$(rc "$name")"
        check_eq "[$mode] nobody: '${args/$T\//}' says why" \
            "stdfuctl: permission denied: $method requires root or membership of group \"stdfu\"" \
            "$(cat "$T/$name.err")"
    done
    check_eq "[$mode] nothing was queued" 's "idle"' "$(dprop 1-1.1 State)"
    check "[$mode] SIGTERM stops stdfud" stop_daemon
    kill "$BUS_PID" 2>/dev/null
    BUS_PID=
done
finish

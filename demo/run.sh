#!/bin/bash
# stdfu's demo (`make demo`): an emulated fleet of STM32 devices, a private D-Bus, stdfud with
# the demo manifest, `stdfuctl watch` until every device has settled, then `stdfuctl status`.
# Exits 0 only when every device runs its target firmware, as both stdfud (D-Bus) and the
# emulator (its flash) see it.
#
#   B=build demo/run.sh          (the build directory, relative to the source tree or absolute)
#
# Everything it makes lives in one temporary directory, removed at the end unless the demo
# failed (its path is printed then) or STDFU_DEMO_KEEP=1. Nothing keeps running after it, also
# on Ctrl-C. Needs the programs of `make` (stdfu-sim, stdfud, stdfuctl), dbus-daemon, busctl
# and python3.
set -u

SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEMO=$SRCDIR/demo
START=$SECONDS

# ---- the fleet -----------------------------------------------------------------------------
# Each device: its port on the emulated hub, the product (a rule of demo/manifest.yaml.in), its
# stdfu-sim --device SPEC (the product adds its profile and application id), what it shows.
FLEET=(
    "1-1.1|sensor|version=1.0,leave=vanish|vanishes after its update (the classic F0 case)"
    "1-1.2|gateway|version=4.1|slow sector erases"
    "1-1.3|display|version=1.8,leave=stuck|sticks in the bootloader after its update"
    "1-1.4|sensor|version=1.3|already current: left alone"
    "1-1.5|sensor|mode=bootloader,blank=1|left in the bootloader by an interrupted update"
    "1-1.6|sensor|version=1.1,leave=watchdog:1500|vanishes, then its watchdog resets it"
)
# Each product's microcontroller (stdfu-sim profile) and image size (what `stdfu-sim mkfw`
# makes); each image fits its device's flash.
declare -A PROFILE=([sensor]=f072 [gateway]=f407 [display]=l476)
declare -A IMAGE_SIZE=([sensor]=49152 [gateway]=98304 [display]=65536)

# ---- output --------------------------------------------------------------------------------
if [ -t 1 ]; then
    BOLD=$(printf '\033[1m'); GREEN=$(printf '\033[32m'); RED=$(printf '\033[31m')
    OFF=$(printf '\033[0m')
else
    BOLD= GREEN= RED= OFF=
fi
SAID=
say() { printf '%s%s==> %s%s\n' "${SAID:+$'\n'}" "$BOLD" "$*" "$OFF"; SAID=1; }
verdict_ok() { printf '%s%s%s\n' "$BOLD$GREEN" "$*" "$OFF"; }
verdict_fail() { printf '%s%s%s\n' "$BOLD$RED" "$*" "$OFF"; }
die() { verdict_fail "The demo failed: $*"; exit 1; }

# ---- the programs ---------------------------------------------------------------------------
: "${B:=build}"
case $B in /*) ;; *) B=$SRCDIR/$B ;; esac
SIM=$B/stdfu-sim
CTL=$B/stdfuctl
DAEMON=$B/stdfud
for p in "$SIM" "$CTL" "$DAEMON"; do
    [ -x "$p" ] || { echo "demo: $p is missing: run 'make' first (or 'make demo')." >&2; exit 1; }
done
for tool in dbus-daemon busctl python3 sha256sum; do
    command -v "$tool" >/dev/null ||
        { echo "demo: $tool is missing: run 'make deps' as root first." >&2; exit 1; }
done

# ---- the temporary directory and the cleanup ------------------------------------------------
T=$(mktemp -d "${TMPDIR:-/tmp}/stdfu-demo.XXXXXX") || exit 1
mkdir -p "$T/tmp"
export TMPDIR=$T/tmp   # umockdev's testbed and anything else the programs make goes in here

# The bus and daemon helpers the integration tests use (start_bus, start_daemon, bctl,
# wait_for): they need $T, $SRCDIR, $SIM and $DAEMON, and log to $T/daemon.log.
. "$SRCDIR/tests/integration/daemon-lib.sh"

FAILED=0
WATCH_PID=
STDFUD_PID=
DAEMON_STATUS=   # stdfu-sim's exit status, which is stdfud's
cleanup() {
    local rc=$?
    trap '' INT TERM HUP   # a second Ctrl-C must not cut the cleanup short (it takes seconds)
    [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] && FAILED=1
    stop_all
    if [ "$FAILED" = 1 ] || [ -n "${STDFU_DEMO_KEEP:-}" ]; then
        [ "$FAILED" = 1 ] && show_logs
        echo "The demo's files are in $T (remove it when done)."
    else
        rm -rf "$T"
    fi
    exit "$rc"
}
stop_watch() {
    if [ -n "$WATCH_PID" ]; then
        kill -TERM "$WATCH_PID" 2>/dev/null   # timeout passes it on; watch restores the cursor
        wait "$WATCH_PID" 2>/dev/null
    fi
    WATCH_PID=
}
# stdfu-sim passes the signal on to stdfud and exits when it has; the bus goes last.
stop_all() {
    stop_watch
    if [ -n "$DAEMON_PID" ]; then
        if kill -0 "$DAEMON_PID" 2>/dev/null; then
            kill -TERM "$DAEMON_PID" 2>/dev/null
            wait_for 10 not_running "$DAEMON_PID" || kill -KILL "$DAEMON_PID" 2>/dev/null
        fi
        wait "$DAEMON_PID" 2>/dev/null
        DAEMON_STATUS=$?
    fi
    DAEMON_PID=
    if [ -n "$STDFUD_PID" ] && kill -0 "$STDFUD_PID" 2>/dev/null; then
        kill -KILL "$STDFUD_PID" 2>/dev/null   # only if stdfu-sim had to be killed
    fi
    if [ -n "$BUS_PID" ]; then
        kill -TERM "$BUS_PID" 2>/dev/null
        wait_for 5 not_running "$BUS_PID" || kill -KILL "$BUS_PID" 2>/dev/null
    fi
    BUS_PID=
}
show_logs() {
    echo
    local f
    for f in "$T"/*.log; do
        [ -s "$f" ] || continue
        echo "---- $f (last 15 lines) ----"
        tail -n 15 "$f" | sed '$a\'   # the last line may lack its newline
    done
}
interrupted() {
    stop_watch
    echo
    echo "Interrupted: stopping the emulated fleet, stdfud and the bus."
    exit "$1"
}
trap cleanup EXIT
trap 'interrupted 130' INT
trap 'interrupted 143' TERM
trap 'interrupted 129' HUP

# ---- firmware and manifest -----------------------------------------------------------------
# The rules of the template, one line each: NAME APP-ID FILE VERSION.
rules() {
    awk '
        function flush() { if (name != "") print name, id, file, version; name = id = "" }
        /^ *- name:/          { flush(); name = $3; inapp = 0; next }
        /^ *application:/     { inapp = 1; next }
        inapp && /^ *id:/     { id = $2; inapp = 0 }
        /^ *file:/            { file = $2 }
        /^ *version:/         { version = $2 }
        END                   { flush() }' "$DEMO/manifest.yaml.in" | tr -d '"'
}

describe_format() {
    case $1 in
        *.dfu) echo DfuSe ;;
        *.hex) echo "Intel hex" ;;
        *) echo raw ;;
    esac
}

make_firmware() {
    local name id file version sha seed=1 size
    mkdir -p "$ETC" "$T/reference"
    cp "$DEMO/manifest.yaml.in" "$ETC/manifest.yaml"
    while read -r name id file version; do
        size=${IMAGE_SIZE[$name]:?"no image size for product $name"}
        # The same seed gives the same bytes in every format: the .bin is what flash must hold.
        "$SIM" mkfw --version "$version" --size "$size" --seed "$seed" -o "$ETC/$file" \
            >>"$T/mkfw.log" 2>&1 &&
        "$SIM" mkfw --version "$version" --size "$size" --seed "$seed" \
            -o "$T/reference/$name.bin" >>"$T/mkfw.log" 2>&1 ||
            die "stdfu-sim mkfw could not make $file."
        sha=$(sha256sum "$ETC/$file" | cut -d' ' -f1)
        # The first @SHA256@ after this rule's file line is its own.
        sed -i "/file: $file/,/@SHA256@/s/@SHA256@/$sha/" "$ETC/manifest.yaml"
        PRODUCT_ID[$name]=$id
        PRODUCT_VERSION[$name]=$version
        IMAGE_SHA[$name]=$(sha256sum "$T/reference/$name.bin" | cut -d' ' -f1)
        printf '    %-8s %-5s %-16s %s, %d KiB\n' "$name" "$version" "$file" \
            "$(describe_format "$file")" $((size / 1024))
        seed=$((seed + 1))
    done < <(rules)
    ! grep -q "sha256: @SHA256@" "$ETC/manifest.yaml" ||
        die "demo/manifest.yaml.in: a rule whose firmware was not made (@SHA256@ left)."
    return 0
}

declare -A PRODUCT_ID PRODUCT_VERSION IMAGE_SHA
say "Making firmware images (stdfu-sim mkfw) and the manifest (demo/manifest.yaml.in):"
make_firmware

# ---- the fleet, the bus, the daemon ---------------------------------------------------------
# describe_spec PROFILE SPEC TARGET: "STM32F072  1.0 -> 1.3" ("1.3 = target", "bootloader -> 1.3").
describe_spec() {
    local profile=$1 spec=$2 target=$3 version from
    version=$(sed -n 's/.*version=\([0-9.]*\).*/\1/p' <<<"$spec")
    case $spec in *mode=bootloader*) from=bootloader ;; *) from=$version ;; esac
    if [ "$from" = "$target" ]; then from="$target = target"; else from="$from -> $target"; fi
    printf 'STM32%-5s %-17s' "${profile^^}" "$from"
}

# STDFU_DEMO_HUB=ganged (for tests): a hub that cannot power-cycle the vanishing sensor.
HUB=${STDFU_DEMO_HUB:-ppps}
case $HUB in
    ppps) hub_text="a hub that switches power per port" ;;
    ganged) hub_text="a hub that cannot switch power per port" ;;
    *) echo "demo: STDFU_DEMO_HUB is ppps or ganged, not '$HUB'." >&2; exit 2 ;;
esac
SIM_ARGS=(--hub "$HUB" --report "$T/report.json")
say "Starting an emulated fleet of ${#FLEET[@]} STM32 devices on $hub_text:"
for d in "${FLEET[@]}"; do
    IFS='|' read -r port product spec what <<<"$d"
    [ -n "${PRODUCT_ID[$product]:-}" ] ||
        die "the fleet names the product '$product', which the manifest does not have."
    id=${PRODUCT_ID[$product]}
    profile=${PROFILE[$product]:?"no profile for product $product"}
    SIM_ARGS+=(--device "port=$port,profile=$profile,$spec,vid=${id%:*},pid=${id#*:}")
    printf '    %-6s %-8s %s  %s\n' "$port" "$product" \
        "$(describe_spec "$profile" "$spec" "${PRODUCT_VERSION[$product]}")" "$what"
done

say "Starting a private D-Bus and stdfud with the demo manifest"
start_bus || die "cannot start dbus-daemon (see $T)."
start_daemon || die "stdfud did not come up on the bus within 20 s."
# stdfud itself, in case stdfu-sim has to be killed and cannot pass a signal on any more.
STDFUD_PID=$(bctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
    GetConnectionUnixProcessID s io.stdfu1 2>/dev/null | sed -n 's/^u \([0-9]*\)$/\1/p')

# ---- watch ---------------------------------------------------------------------------------
say "stdfud is updating them; \`stdfuctl watch\` shows progress:"
# In the background, so that a signal to this script is handled at once (the shell runs traps
# only between commands, and `wait` is one); Ctrl-C on a terminal reaches watch directly.
timeout --foreground 120 "$CTL" --bus "$BUS" watch </dev/null &
WATCH_PID=$!
wait "$WATCH_PID"
rc=$?
WATCH_PID=
[ "$rc" = 124 ] && die "\`stdfuctl watch\` still ran after 2 minutes."
[ "$rc" = 0 ] || echo "(stdfuctl watch ended with status $rc)"

# watch ends when nothing is queued or running; a device that shows up again a moment later
# (a watchdog reset) may still get going, so wait until everything is settled (or stdfud, or
# stdfu-sim, is gone: then there is nothing to wait for).
settled() {
    kill -0 "$DAEMON_PID" 2>/dev/null || return 0
    # Its exit status says whether a device failed: the JSON is what counts here.
    "$CTL" --bus "$BUS" status --json >"$T/status.json" 2>>"$T/stdfuctl.log"
    [ -s "$T/status.json" ] || return 1
    python3 - "$T/status.json" <<'PY'
import json, sys
active = {"queued", "entering", "erasing", "writing", "verifying", "leaving", "waiting",
          "recovering"}
devices = json.load(open(sys.argv[1]))["devices"]
sys.exit(1 if any(d["state"] in active for d in devices) else 0)
PY
}
wait_for 30 settled || echo "(some devices were still busy 30 s after watch ended)"

say "\`stdfuctl status\`:"
"$CTL" --bus "$BUS" status || echo "(stdfuctl status failed)"
"$CTL" --bus "$BUS" status --json >"$T/status.json" 2>>"$T/stdfuctl.log"

# ---- the verdict ---------------------------------------------------------------------------
# The report is written when stdfud (stdfu-sim's COMMAND) has exited.
stop_all

expected=$T/expected.txt
for d in "${FLEET[@]}"; do
    IFS='|' read -r port product spec what <<<"$d"
    target=${PRODUCT_VERSION[$product]}
    # A device that already runs the target must be left alone (its image is not the demo's).
    case ",$spec," in
        *",version=$target,"*) sha=untouched ;;
        *) sha=${IMAGE_SHA[$product]} ;;
    esac
    echo "$port $target $sha"
done >"$expected"

# One line per device that is not where it should be; the exit status is their count, or 101
# when stdfud's or the emulator's view is missing.
python3 - "$expected" "$T/status.json" "$T/report.json" >"$T/verdict.txt" <<'PY'
import json, sys

def load(path, what, pick):
    try:
        return {d["port"]: d for d in pick(json.load(open(path)))}, None
    except (OSError, ValueError, KeyError, TypeError) as e:
        return {}, "no %s (%s)" % (what, e)

expected = [line.split() for line in open(sys.argv[1])]
status, err_s = load(sys.argv[2], "device list from `stdfuctl status --json`", lambda j: j["devices"])
report, err_r = load(sys.argv[3], "report from stdfu-sim", lambda j: j["devices"])
failed = 0
for e in (err_s, err_r):
    if e:
        print(e)
for port, version, sha in expected:
    why = []
    s, r = status.get(port), report.get(port)
    if not s and not err_s:
        why.append("stdfud does not know it")
    elif s and not (s["mode"] == "application" and s["state"] in ("done", "idle")
                    and s["running_version"] == version and s["target_version"] == version):
        why.append("stdfud: %s, %s, runs %s, target %s%s" % (
            s["state"], s["mode"], s["running_version"] or "-", s["target_version"] or "-",
            ": " + s["last_error"] if s.get("last_error") else ""))
    if not r and not err_r:
        why.append("not in the emulator's report")
    elif not r:
        pass
    elif r["mode"] != "application":
        why.append("the emulated device is %s (its flash holds %s)" % (
            "switched off" if r["mode"] == "off" else "in its " + r["mode"],
            r["version"] or "no application"))
    elif r["version"] != version:
        why.append("the emulated device runs %s" % r["version"])
    elif sha == "untouched" and r["counters"]["bytes_written"] > 0:
        why.append("it was current, yet stdfud flashed it")
    elif sha != "untouched" and r["image_sha256"] != sha:
        why.append("its flash does not hold the %s image" % version)
    if why:
        failed += 1
        print("%s (target %s): %s" % (port, version, "; ".join(why)))
sys.exit(101 if err_s or err_r else min(failed, 100))
PY
n_failed=$?

echo
if [ "$n_failed" = 0 ] && [ "$DAEMON_STATUS" = 0 ]; then
    verdict_ok "All ${#FLEET[@]} devices run their target firmware ($((SECONDS - START)) s)."
    exit 0
fi
[ "$DAEMON_STATUS" = 0 ] ||
    verdict_fail "stdfu-sim, running stdfud, ended with status $DAEMON_STATUS (0 expected)."
if [ "$n_failed" = 0 ]; then
    exit 1
elif [ "$n_failed" = 101 ]; then
    verdict_fail "The demo cannot tell what the devices run:"
elif [ "$n_failed" = 1 ]; then
    verdict_fail "1 of ${#FLEET[@]} devices does not run its target firmware:"
else
    verdict_fail "$n_failed of ${#FLEET[@]} devices do not run their target firmware:"
fi
sed 's/^/    /' "$T/verdict.txt"
exit 1

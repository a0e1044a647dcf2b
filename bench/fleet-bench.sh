#!/bin/bash
# Fleet benchmark: f072 application devices (leave=ok, all given the same image) updated by
# stdfud in parallel, against a sequential dfu-util loop over the same number of devices, plus
# stdfud's idle cost (CPU time, wake-ups) with the largest fleet and its peak RSS.
#
#   bench/fleet-bench.sh [BUILD_DIR]
#       FLEET_BENCH_COUNTS="1 4 16"   fleet sizes (the first one is the reference)
#       FLEET_BENCH_SIZE=65536        image bytes
#       FLEET_BENCH_IDLE=10           seconds of each idle measurement
#
# Each fleet runs under its own stdfu-sim with stdfud (--parallel N) on a private dbus-daemon,
# started by the integration tests' helpers (tests/integration/daemon-lib.sh). stdfud first
# loads a manifest whose target the devices already run; then the manifest is replaced by one
# targeting 2.0 (stdfud reloads on inotify, and `stdfuctl reload` follows), and the time is
# taken from just before the replacement until `stdfuctl update --all --wait` returns, i.e.
# until stdfud has signalled UpdateFinished for every device (event driven: no polling in the
# measured span). The same again with the devices started in the bootloader (adopted), which
# is what the sequential dfu-util loop gets: dfu-util cannot send ST's HID detach.
#
# Targets (reported, never fatal): the largest fleet within 1.3x the time of one device; no
# CPU time and no wake-ups while idle.
set -u

SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export STDFU_BUILD=${1:-build}
# lib.sh: $B, $T (removed at exit), $SIM, $CTL, $DAEMON, wait_for; daemon-lib.sh: the bus and
# stdfud under stdfu-sim, stopped at exit.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/daemon-lib.sh"
mkdir -p "$T/tmp" "$ETC"
export TMPDIR=$T/tmp   # umockdev's testbeds

. "$SRCDIR/bench/lib.sh"   # bench_require, ratio
bench_require "fleet bench" "$SIM" "$CTL" "$DAEMON"
for tool in dfu-util dbus-daemon busctl python3; do
    command -v "$tool" >/dev/null || { echo "fleet bench: $tool is not installed" >&2; exit 1; }
done

COUNTS=${FLEET_BENCH_COUNTS:-1 4 16}
SIZE=${FLEET_BENCH_SIZE:-65536}
IDLE=${FLEET_BENCH_IDLE:-10}
MAX_N=0
for n in $COUNTS; do [ "$n" -gt "$MAX_N" ] && MAX_N=$n; done

# stdfu-sim's ports in the order it fills them with two hubs (--hub ppps --hub ppps): 1-1.1 ..
# 1-1.7, 1-2.1 .. 1-2.7, then the root ports 1-3 .. 1-15.
ports() {
    local i
    for i in $(seq 1 "$1"); do
        if [ "$i" -le 14 ]; then echo "1-$(((i - 1) / 7 + 1)).$(((i - 1) % 7 + 1))"
        else echo "1-$((i - 12))"; fi
    done
}

# fleet_manifest VERSION [adopt]: $ETC/manifest.yaml, one rule for the fleet, target VERSION;
# "adopt": devices found in the bootloader on the fleet's ports are flashed too.
fleet_manifest() {
    local adopt=
    [ "${2:-}" = adopt ] && adopt='    port: "1-*"
    bootloader:
      adopt: true'

    local img=$ETC/fw-$1.bin
    [ -f "$img" ] || "$SIM" mkfw --version "$1" --size "$SIZE" --seed 7 -o "$img" >/dev/null ||
        return 1
    cat >"$ETC/manifest.yaml.new" <<YAML
rules:
  - name: fleet
    application:
      id: "0483:5750"
$adopt
    firmware:
      file: fw-$1.bin
      sha256: $(sha256sum "$img" | cut -d' ' -f1)
      version: "$1"
      address: 0x08000000
YAML
    mv "$ETC/manifest.yaml.new" "$ETC/manifest.yaml"
}

# fleet_is N VERSION|bootloader: stdfud knows N devices, all in their application running
# VERSION (or all in the bootloader), none with an update queued or running (exit 0), else 1.
fleet_is() {
    "$CTL" --bus "$BUS" status --json >"$T/status.json" 2>>"$T/stdfuctl.log" || return 1
    python3 - "$T/status.json" "$1" "$2" <<'PY'
import json, sys
devs = json.load(open(sys.argv[1]))["devices"]  # status --json: one object (JSON OUTPUT)
n, version = int(sys.argv[2]), sys.argv[3]
ok = [d for d in devs if d["state"] in ("idle", "done") and (
      d["mode"] == "bootloader" if version == "bootloader" else
      d["mode"] == "application" and d["running_version"] == version)]
sys.exit(0 if len(devs) == n and len(ok) == n else 1)
PY
}

# cpu_and_wakeups PID: "TICKS NS SWITCHES THREADS": utime+stime of the process (/proc/PID/stat,
# clock ticks), the run time of all its threads (schedstat, ns) and their voluntary and
# involuntary context switches (/proc/PID/status counts only the main thread, so every task).
cpu_and_wakeups() {
    python3 - "$1" <<'PY'
import glob, sys
pid = sys.argv[1]
stat = open("/proc/%s/stat" % pid).read()
fields = stat[stat.rindex(")") + 2:].split()
ticks = int(fields[11]) + int(fields[12])   # utime, stime (fields 14, 15)
ns = switches = threads = 0
for task in glob.glob("/proc/%s/task/*" % pid):
    try:
        ns += int(open(task + "/schedstat").read().split()[0])
        for line in open(task + "/status"):
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                switches += int(line.split()[1])
        threads += 1
    except OSError:
        pass   # a thread that ended meanwhile
print(ticks, ns, switches, threads)
PY
}

# cpu_s PID: utime+stime in seconds (ended threads included, unlike schedstat per task).
cpu_s() {
    awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); printf "%.2f\n", ($12 + $13) / hz }' \
        "/proc/$1/stat" 2>/dev/null || echo 0
}

# thread_cpu PID: "TID TICKS" for each thread.
thread_cpu() {
    local t
    for t in /proc/"$1"/task/*; do
        awk -v t="${t##*/}" '{ sub(/.*\) /, ""); print t, $12 + $13 }' "$t/stat" 2>/dev/null
    done
}

# thread_s TID BEFORE AFTER: the CPU time thread TID used in between, in seconds.
thread_s() {
    awk -v hz="$(getconf CLK_TCK)" -v t="$1" 'NR == FNR { a[$1] = $2; next }
        $1 == t { printf "%.2f\n", ($2 - a[$1]) / hz }' "$2" "$3"
}

# idle_sample LABEL PID: stdfud's CPU time and wake-ups over $IDLE seconds.
idle_sample() {
    local label=$1 pid=$2 a b
    a=($(cpu_and_wakeups "$pid"))
    sleep "$IDLE"
    b=($(cpu_and_wakeups "$pid"))
    local hz ticks ms sw
    hz=$(getconf CLK_TCK)
    ticks=$((b[0] - a[0]))
    ms=$(awk -v n=$((b[1] - a[1])) 'BEGIN { printf "%.2f", n / 1e6 }')
    sw=$((b[2] - a[2]))
    IDLE_LINES+=("$(printf '%-30s %3d ticks of 1/%d s, %6s ms run time, %4d wake-ups (%d threads)' \
        "$label:" "$ticks" "$hz" "$ms" "$sw" "${b[3]}")")
    [ "$ticks" -eq 0 ] && [ "$sw" -eq 0 ] ||
        missed+=("stdfud idle ($label): $ms ms CPU, $sw wake-ups in ${IDLE} s (target: none)")
}

# emulated_fds_peak PID OUT: until killed, the largest number of emulated device nodes
# (usbfs, hidraw: umockdev's testbed /dev) stdfud holds open at once, sampled every 20 ms.
emulated_fds_peak() {
    python3 - "$1" "$2" <<'PY' &
import os, re, signal, sys, time
pid, out = sys.argv[1], sys.argv[2]
peak = 0
def done(*_):
    open(out, "w").write("%d\n" % peak)
    sys.exit(0)
signal.signal(signal.SIGTERM, done)
node = re.compile(r"/umockdev\.[^/]*/dev/")
while True:
    n = 0
    try:
        for fd in os.listdir("/proc/%s/fd" % pid):
            try:
                n += bool(node.search(os.readlink("/proc/%s/fd/%s" % (pid, fd))))
            except OSError:
                pass
    except OSError:
        done()
    peak = max(peak, n)
    time.sleep(0.02)
PY
    FD_SAMPLER=$!
    EXTRA_PIDS+=("$FD_SAMPLER")
}

# report_check REPORT N: "" when the emulator's N devices run 2.0 from the manifest's image,
# else what is wrong.
report_check() {
    python3 - "$1" "$2" "$(sha256sum "$ETC/fw-2.0.bin" | cut -d' ' -f1)" <<'PY'
import json, sys
try:
    devs = json.load(open(sys.argv[1]))["devices"]
except (OSError, ValueError, KeyError) as e:
    print("no report from stdfu-sim (%s)" % e); sys.exit()
bad = ["%s %s %s" % (d["port"], d["mode"], d["version"]) for d in devs
       if d["mode"] != "application" or d["version"] != "2.0" or d["image_sha256"] != sys.argv[3]]
if len(devs) != int(sys.argv[2]) or bad:
    print("%d devices in the report, not running the image: %s" % (len(devs), ", ".join(bad)))
PY
}

# floor_s REPORT: the emulator's floor (busy + transfer time) of its first device, in seconds.
floor_s() {
    python3 -c 'import json, sys
print("%.2f" % (json.load(open(sys.argv[1]))["devices"][0]["floor_ms"] / 1e3))' "$1" \
        2>/dev/null || echo "?"
}

# daemon_fleet N [bootloader]: updates N devices through stdfud, from their application (or
# started in the bootloader: adopted); sets T_DAEMON, HWM, FLOOR and the CPU times.
daemon_fleet() {
    local n=$1 mode=${2:-application} port pid rc s e from=1.0 adopt= report
    [ "$mode" = bootloader ] && from=bootloader adopt=adopt
    report=$T/report-$n-$mode.json
    T_DAEMON= HWM=? FLOOR=? CPU_D=? CPU_SIM=? CPU_SIM_MAIN=?
    rm -rf "$STATE"
    fleet_manifest 1.0 || return 1
    SIM_ARGS=(--hub ppps --hub ppps --report "$report")
    for port in $(ports "$n"); do
        SIM_ARGS+=(--device "port=$port,profile=f072,leave=ok,version=1.0,mode=$mode")
    done
    # The last --log-level wins over daemon-lib's debug: per-block debug lines would be timed.
    if ! start_daemon --parallel "$n" --log-level info; then
        FAILED=1 missed+=("$n devices: stdfud did not come up (see below)"); return 1
    fi
    pid=$(daemon_pid)
    if ! wait_for 30 fleet_is "$n" "$from"; then
        FAILED=1 missed+=("$n devices: stdfud did not see all of them idle ($from) within 30 s")
        stop_daemon; return 1
    fi
    local measure=
    [ "$n" = "$MAX_N" ] && [ "$mode" = application ] && measure=1
    [ -n "$measure" ] && idle_sample "$n devices, before any update" "$pid"
    [ -n "$measure" ] && emulated_fds_peak "$pid" "$T/fds-peak"

    local cpu_d0 cpu_s0
    cpu_d0=$(cpu_s "$pid") cpu_s0=$(cpu_s "$DAEMON_PID")
    thread_cpu "$DAEMON_PID" >"$T/sim-threads.0"
    # stdfud reloads by itself when the manifest changes (inotify): the clock starts first.
    s=$EPOCHREALTIME
    fleet_manifest 2.0 $adopt &&
        "$CTL" --bus "$BUS" reload >>"$T/stdfuctl.log" 2>&1 &&
        "$CTL" --bus "$BUS" update --all --wait >>"$T/stdfuctl.log" 2>&1
    rc=$?
    e=$EPOCHREALTIME
    T_DAEMON=$(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.2f", e - s }')
    CPU_D=$(awk -v a="$cpu_d0" -v b="$(cpu_s "$pid")" 'BEGIN { printf "%.2f", b - a }')
    CPU_SIM=$(awk -v a="$cpu_s0" -v b="$(cpu_s "$DAEMON_PID")" 'BEGIN { printf "%.2f", b - a }')
    thread_cpu "$DAEMON_PID" >"$T/sim-threads.1"
    CPU_SIM_MAIN=$(thread_s "$DAEMON_PID" "$T/sim-threads.0" "$T/sim-threads.1")
    [ -n "${FD_SAMPLER:-}" ] && kill "$FD_SAMPLER" 2>/dev/null && wait "$FD_SAMPLER" 2>/dev/null
    FD_SAMPLER=

    [ "$rc" -eq 0 ] || FAILED=1 missed+=("$n devices: stdfuctl update --all --wait exited $rc")
    fleet_is "$n" 2.0 || FAILED=1 missed+=("$n devices: not all reported done on 2.0 by stdfud")
    HWM=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status")
    [ -n "$measure" ] && idle_sample "$n devices, after their update" "$pid"
    stop_daemon
    rc=$?
    [ "$rc" -eq 0 ] || FAILED=1 missed+=("$n devices: stdfu-sim running stdfud exited $rc")
    local bad
    bad=$(report_check "$report" "$n")
    [ -z "$bad" ] || FAILED=1 missed+=("$n devices (stdfud from $mode): $bad")
    FLOOR=$(floor_s "$report")
}

# dfu_util_fleet N: the same N devices started in the bootloader, flashed one after the other
# by dfu-util; sets T_DFU.
dfu_util_fleet() {
    local n=$1 port args=() rc
    T_DFU=
    for port in $(ports "$n"); do
        args+=(--device "port=$port,profile=f072,leave=ok,mode=bootloader")
    done
    "$SIM" --hub ppps --hub ppps "${args[@]}" --report "$T/dfu-report-$n.json" -- bash -c '
        out=$1 img=$2; shift 2
        rc=0
        s=$EPOCHREALTIME
        for port in "$@"; do
            dfu-util -p "$port" -a 0 -s 0x08000000:leave -D "$img" >>"$out.log" 2>&1 || rc=1
        done
        e=$EPOCHREALTIME
        awk -v s="$s" -v e="$e" "BEGIN { printf \"%.2f\n\", e - s }" >"$out"
        exit $rc' fleet "$T/dfu-$n.t" "$ETC/fw-2.0.bin" $(ports "$n") >>"$T/dfu-util.log" 2>&1
    rc=$?
    T_DFU=$(cat "$T/dfu-$n.t" 2>/dev/null || echo "?")
    [ "$rc" -eq 0 ] ||
        missed+=("$n devices: a dfu-util run failed: $(tail -n 1 "$T/dfu-$n.t.log" 2>/dev/null)")
    local bad
    bad=$(report_check "$T/dfu-report-$n.json" "$n")
    [ -z "$bad" ] || missed+=("$n devices (dfu-util): $bad")
}

missed=()
FAILED=   # something went wrong beyond a timing: show stdfud's log
IDLE_LINES=()
FD_SAMPLER=
# The images first: making them is not part of any measured span.
fleet_manifest 2.0 && fleet_manifest 1.0 ||
    { echo "fleet bench: stdfu-sim mkfw failed" >&2; exit 1; }
start_bus || { echo "fleet bench: cannot start dbus-daemon" >&2; exit 1; }
echo "Fleet: f072 devices (leave=ok) behind two ppps hubs, $((SIZE / 1024)) KiB image 1.0 -> 2.0."
printf '%7s | %8s %6s %8s %6s %6s %6s | %8s %6s | %8s %7s | %6s\n' devices stdfud "x 1" \
    "peak RSS" CPU sim main "from BL" "x 1" dfu-util per-dev dfu/BL
printf '%.96s\n' "$(printf '%0.s-' $(seq 96))"
T_ONE= T_ONE_BL=
for n in $COUNTS; do
    daemon_fleet "$n" bootloader
    T_BL=$T_DAEMON
    daemon_fleet "$n"
    dfu_util_fleet "$n"
    [ -z "$T_ONE" ] && T_ONE=$T_DAEMON T_ONE_BL=$T_BL FLOOR_ONE=$FLOOR
    scale=$(ratio "${T_DAEMON:-0}" "$T_ONE")
    printf '%7d | %7ss %5sx %4s KiB %5ss %5ss %5ss | %7ss %5sx | %7ss %6ss | %5sx\n' "$n" \
        "${T_DAEMON:-?}" "$scale" "$HWM" "$CPU_D" "$CPU_SIM" "$CPU_SIM_MAIN" "${T_BL:-?}" \
        "$(ratio "${T_BL:-0}" "$T_ONE_BL")" "$T_DFU" "$(ratio "$T_DFU" "$n")" \
        "$(ratio "$T_DFU" "${T_BL:-0}")"
    if [ "$n" = "$MAX_N" ] && [ -n "$T_DAEMON" ] && [ "$scale" != n/a ]; then
        awk -v r="$scale" 'BEGIN { exit !(r > 1.3) }' &&
            missed+=("$n devices take ${scale}x the time of one through stdfud (target <= 1.3x)")
    fi
done
echo
echo "stdfud: --parallel N; from replacing the manifest by one targeting 2.0 (stdfud reloads on"
echo "  inotify; \`stdfuctl reload\` follows to be sure) until \`stdfuctl update --all --wait\`"
echo "  returns: enter via HID, erase, write, verify, leave, wait for the application."
echo "  x 1: over the first fleet's time. One device's emulator floor: ${FLOOR_ONE}s."
echo "from BL: the same with the devices started in the bootloader (adopted by the rule): like"
echo "  dfu-util, no enter, but stdfud still verifies and waits for the application."
echo "dfu-util: devices started in the bootloader (dfu-util cannot send ST's HID detach), one"
echo "  \`dfu-util -p PORT -a 0 -s 0x08000000:leave -D\` after the other: erase, write, leave."
echo "peak RSS: stdfud's VmHWM after the update. CPU, sim: CPU time (user+system) of stdfud and"
echo "  of the emulator (stdfu-sim: all devices) during the update; main: the emulator's main"
echo "  thread, the only one that adds and removes devices (each enter and leave re-enumerates)."
if [ -f "$T/fds-peak" ]; then
    echo "Emulated device nodes stdfud held open at once during the $MAX_N-device update:" \
        "$(cat "$T/fds-peak") (umockdev's preload tracks at most 50 per process)."
fi
echo
echo "stdfud idle over ${IDLE} s with $MAX_N devices, all current:"
[ ${#IDLE_LINES[@]} -gt 0 ] && printf '  %s\n' "${IDLE_LINES[@]}"
echo "  (CPU: utime+stime of /proc/PID/stat and the threads' schedstat run time; wake-ups: the"
echo "  threads' voluntary + involuntary context switches; perf stat counts nothing here.)"
echo
if ! bench_targets ${missed[@]+"${missed[@]}"}; then
    if [ -n "$FAILED" ] && [ -s "$T/daemon.log" ]; then
        echo "stdfud's log (last 10 lines):"
        tail -n 10 "$T/daemon.log"
    fi
fi
exit 0

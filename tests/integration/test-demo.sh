#!/bin/bash
# `make demo`'s script, run without a terminal as CI runs it, twice (one after the other, as
# a user would; about 25 s each):
# - as shipped: exit status 0, the verdict that all 6 devices run their target firmware, the
#   status table, no terminal escapes; its temporary directory removed, nothing left running;
# - with a hub that cannot switch port power (STDFU_DEMO_HUB=ganged), so that the vanishing
#   sensor on 1-1.1 cannot come back: exit status 1, a verdict naming 1-1.1 and why, the
#   temporary directory kept and named, nothing left running.
. "$(dirname "$0")/lib.sh"

requires stdfud stdfu-sim stdfuctl busctl dbus-daemon python3

# run_demo NAME [VAR=VALUE...]: demo/run.sh with its temporary directory under $T/NAME.
run_demo() {
    local name=$1; shift
    mkdir -p "$T/$name"
    env TMPDIR="$T/$name" B="$B" "$@" "$SRCDIR/demo/run.sh" </dev/null >"$T/$name.out" 2>&1
    echo $? >"$T/$name.rc"
}
run_demo ok
run_demo fail STDFU_DEMO_HUB=ganged

show_output() {
    echo "# ---- demo/run.sh $1 (last 40 lines) ----"
    tail -n 40 "$T/$1.out" | sed 's/^/# /'
}
# No process has the demo's temporary directory on its command line (bus, stdfu-sim, stdfud).
nothing_running() {
    DIR="$T/$1/" python3 -c '
import os, sys
needle = os.environ["DIR"].encode()
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        if needle in open("/proc/%s/cmdline" % pid, "rb").read():
            sys.exit(1)
    except OSError:
        pass'
}
last_line() { tail -n 1 "$T/$1.out"; }

# ---- as shipped ------------------------------------------------------------------------------
failed_before=$_tap_failed
check_eq "the demo exits with status 0" 0 "$(cat "$T/ok.rc")"
check "its last line is the verdict: all 6 devices run their target firmware" \
    grep -Eq '^All 6 devices run their target firmware \([0-9]+ s\)\.$' <(last_line ok)
check "it announces the fleet" \
    grep -q '^==> Starting an emulated fleet of 6 STM32 devices' "$T/ok.out"
check "it shows the status table with every port" python3 - "$T/ok.out" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l[:4] in ("1-1.", "PORT")]
ports = {r[0] for r in rows if r[0].startswith("1-1.") and ("done" in r or "idle" in r)}
sys.exit(0 if any(r[0] == "PORT" for r in rows) and len(ports) == 6 else 1)
PY
check "no terminal escapes without a terminal" python3 -c '
import sys; sys.exit(b"\x1b" in open(sys.argv[1], "rb").read())' "$T/ok.out"
check "its temporary directory is gone" test -z "$(ls -A "$T/ok")"
check "nothing of it keeps running" nothing_running ok
[ "$_tap_failed" -gt "$failed_before" ] && show_output ok

# ---- a device that cannot come back ----------------------------------------------------------
failed_before=$_tap_failed
check_eq "with a ganged hub the demo exits with status 1" 1 "$(cat "$T/fail.rc")"
check "the verdict counts one device that does not run its target" \
    grep -q '^1 of 6 devices does not run its target firmware:$' "$T/fail.out"
check "and names 1-1.1, which needs a power cycle" \
    grep -Eq '^    1-1\.1 \(target 1\.3\): stdfud: needs-power-cycle' "$T/fail.out"
check "no other device is named" test "$(grep -c '^    1-1\.[0-9] (target' "$T/fail.out")" = 1
kept=$(sed -n 's/^The demo.s files are in \(.*\) (remove it when done)\.$/\1/p' "$T/fail.out")
check "it names the temporary directory it kept" test -n "$kept" -a -d "$kept"
check "which holds the daemon's log and the emulator's report" \
    test -s "$kept/daemon.log" -a -s "$kept/report.json"
check "the log's last lines are shown" \
    grep -q "^---- $kept/daemon.log (last 15 lines) ----$" "$T/fail.out"
check "nothing of it keeps running" nothing_running fail
[ "$_tap_failed" -gt "$failed_before" ] && show_output fail
finish

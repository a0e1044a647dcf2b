#!/bin/bash
# stdfuctl's D-Bus commands against stdfud under stdfu-sim on a private bus: status (table and
# JSON), history, update (nothing to do, --all, --force --wait, --file through a file
# descriptor, busy, a failing update), watch (plain lines, a terminal, Ctrl-C, the daemon
# going away), cancel and reload, with their exit codes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"

requires stdfud stdfu-sim stdfuctl busctl dbus-daemon dbus-monitor python3 script

mkdir -p "$ETC"
"$SIM" mkfw --version 1.2 --size 65536 --seed 7 -o "$ETC/fw-1.2.bin" >/dev/null
"$SIM" mkfw --version 1.3 --size 32768 --seed 8 -o "$T/fw-1.3.bin" >/dev/null
SHA=$(sha256sum "$ETC/fw-1.2.bin" | cut -d' ' -f1)
manifest() {
    cat <<YAML
rules:
  - name: sensor
    application:
      id: "0483:5750"
    firmware:
      file: fw-1.2.bin
      sha256: $SHA
      version: "1.2"
      address: 0x08000000
    retries: 0
    # A forced update of the same image is to erase and write again (the terminal watch below
    # draws its progress bar), not skip what the device already holds.
    differential: false
YAML
}
manifest >"$ETC/manifest.yaml"

start_bus || skip_all "cannot start dbus-daemon"
# Every device already runs the target: nothing moves until the client asks. 1-1.1 erases
# slowly (time to watch and cancel it), 1-1.3 fails its first write. One update at a time, so
# that a second device's job waits, queued, while 1-1.1 erases.
SIM_ARGS=(--device port=1-1.1,profile=f072,mode=application,version=1.2,slow-erase=6
          --device port=1-1.2,profile=f072,mode=application,version=1.2
          --device port=1-1.3,profile=f072,mode=application,version=1.2,write-error-at=3
          --report "$T/report.json")
check "stdfud starts under stdfu-sim" start_daemon --parallel 1 || { finish; exit 1; }

ctl() { "$CTL" --bus "$BUS" "$@"; }
# run NAME ARG...: stdfuctl ARG... on the test bus; exit status in $T/NAME.rc, output in
# $T/NAME.out and $T/NAME.err.
run() {
    local name=$1; shift
    timeout 60 "$CTL" --bus "$BUS" "$@" >"$T/$name.out" 2>"$T/$name.err"
    echo $? >"$T/$name.rc"
}
rc() { cat "$T/$1.rc"; }
py() {  # py FILE EXPR: EXPR over the JSON in FILE's list (devices, updates, requests) as d
    python3 -c 'import json, sys
j = json.load(open(sys.argv[1]))
d = next(j[k] for k in ("devices", "updates", "requests") if k in j)
print(eval(sys.argv[2]))' "$@"
}

# ---- status ------------------------------------------------------------------------------
run status status
check_eq "status exits 0" 0 "$(rc status)"
check "status has the table header" grep -qE \
    '^PORT +PRODUCT +MODE +RUNNING +TARGET +STATE +PROGRESS +LAST ERROR$' "$T/status.out"
check "status has a row per device, in port order" \
    test "$(grep -oE '^1-1\.[0-9]' "$T/status.out" | tr '\n' ' ')" = "1-1.1 1-1.2 1-1.3 "
check "status row: mode, running and target version, state" grep -qE \
    '^1-1\.2 +STM32 .* +application +1\.2 +1\.2 +idle +- +-$' "$T/status.out"
check "status ends with the counts" grep -q '^3 devices, 0 updating, 0 queued\.$' "$T/status.out"

run status-json status --json
check_eq "status --json exits 0" 0 "$(rc status-json)"
check_eq "status --json lists the three devices" "['1-1.1', '1-1.2', '1-1.3']" \
    "$(py "$T/status-json.out" '[x["port"] for x in d]')"
check_eq "status --json: one device's fields" \
    "application 0483:5750 1.2 1.2 idle 0 None /io/stdfu1/device/_31_2d1_2e2" \
    "$(py "$T/status-json.out" '" ".join(str(d[1][k]) for k in ("mode", "usb_id",
        "running_version", "target_version", "state", "progress", "last_error", "object_path"))')"
run status-one status --json 1-1.2
check_eq "status PORT --json has only that device" "['1-1.2']" \
    "$(py "$T/status-one.out" '[x["port"] for x in d]')"
run status-path status /io/stdfu1/device/_31_2d1_2e3
check_eq "status OBJECT-PATH shows that device only" "1-1.3" \
    "$(grep -oE '^1-1\.[0-9]+' "$T/status-path.out" | tr '\n' ' ' | sed 's/ $//')"
run status-none status 9-9
check_eq "status of an unknown port exits 4" 4 "$(rc status-none)"
check "status of an unknown port names it" grep -q "No device '9-9' known to stdfud" \
    "$T/status-none.err"

# ---- history, empty ------------------------------------------------------------------------
run hist0 history
check_eq "history with nothing finished" "No finished update." "$(cat "$T/hist0.out")"
run hist0j history --json
check_eq "history --json with nothing finished is []" "[]" "$(py "$T/hist0j.out" 'd')"

# ---- update: nothing to do -----------------------------------------------------------------
run current update 1-1.2
check_eq "update of a current device exits 0" 0 "$(rc current)"
check "update of a current device says there is nothing to do" \
    grep -q '^1-1.2: nothing to do: ' "$T/current.out"
run all update --all --json
check_eq "update --all with every device current exits 0" 0 "$(rc all)"
check_eq "update --all --json: every device current" "current current current" \
    "$(py "$T/all.out" '" ".join(x["request"] for x in d)')"
run unknown update 9-9
check_eq "update of an unknown device exits 4" 4 "$(rc unknown)"
check "update of an unknown device: stdfud's reason" grep -q '^stdfuctl: 9-9: No device' \
    "$T/unknown.err"

# ---- update --force --wait, plain output ---------------------------------------------------
run wait update --force --wait 1-1.2
check_eq "update --force --wait exits 0 when done" 0 "$(rc wait)"
check "update --wait prints the phases (not a terminal: plain lines)" \
    grep -q '^1-1.2: writing ' "$T/wait.out"
check "update --wait prints progress in 10% steps at most" \
    test "$(grep -c '^1-1.2: writing ' "$T/wait.out")" -le 11
check_eq "update --wait ends with the outcome" "1-1.2: done, runs 1.2" "$(tail -n1 "$T/wait.out")"
check "update --wait: no escape sequences when not on a terminal" \
    bash -c '! grep -q $'"'"'\e'"'"' "$1"' _ "$T/wait.out"
check "stdfud: 1-1.2 done" state_is 1-1.2 done

# ---- update --file: the firmware goes as a file descriptor ---------------------------------
dbus-monitor --address "$BUS" \
    "type='method_call',interface='io.stdfu1.Manager',member='UpdateFile'" \
    >"$T/monitor.txt" 2>&1 &
MON_PID=$!
wait_for 5 grep -q 'NameAcquired\|member=' "$T/monitor.txt"
run file update --file "$T/fw-1.3.bin" --version 1.3 --address 0x08000000 --wait --json 1-1.2
kill "$MON_PID" 2>/dev/null; wait "$MON_PID" 2>/dev/null
check_eq "update --file --wait exits 0" 0 "$(rc file)"
check_eq "update --file --json: queued, then done" "queued done None" \
    "$(py "$T/file.out" '" ".join(str(d[0][k]) for k in ("request", "outcome", "error"))')"
check "the call was UpdateFile with a file descriptor" \
    grep -A3 'member=UpdateFile' "$T/monitor.txt" | grep -q 'file descriptor'
INODE=$(stat -c %i "$T/fw-1.3.bin")
check "the descriptor is the firmware file (its inode)" grep -q "inode: $INODE\$" "$T/monitor.txt"
check "the file's path is not in the call" bash -c '! grep -q "fw-1.3.bin" "$1"' _ "$T/monitor.txt"
run after-file status --json 1-1.2
check_eq "1-1.2 runs the file's version" "1.3 done" \
    "$(py "$T/after-file.out" 'd[0]["running_version"] + " " + d[0]["state"]')"

# Issue 10: files are parsed by what they are, never guessed, through the daemon too. stdfud
# gets the data without its name, so stdfuctl judges the file first: text, or a raw image
# not named .bin, is refused (exit 3) and no UpdateFile is sent.
printf 'version 1.3 release notes\n' >"$T/notes.txt"
cp "$T/fw-1.3.bin" "$T/fw-1.3.img"
for f in notes.txt fw-1.3.img; do
    run "refuse-$f" update --file "$T/$f" --address 0x08000000 --force --wait 1-1.2
    check_eq "update --file $f --address: refused before the daemon, exit 3" 3 "$(rc "refuse-$f")"
done
check "text: the message says what it is" grep -q 'notes.txt: this is text, not a firmware format' \
    "$T/refuse-notes.txt.err"
check "unnamed raw image: the message says .bin or --format bin" \
    grep -q 'fw-1.3.img: .*raw binaries are only taken from a file named \*.bin' \
    "$T/refuse-fw-1.3.img.err"
run after-refusals status --json 1-1.2
check_eq "1-1.2 still runs 1.3, done" "1.3 done" \
    "$(py "$T/after-refusals.out" 'd[0]["running_version"] + " " + d[0]["state"]')"

# ---- a failing update ----------------------------------------------------------------------
run fail update --force --wait 1-1.3
check_eq "update --wait of a failing update exits 13" 13 "$(rc fail)"
check "the failure and its reason are on stderr" grep -q '^stdfuctl: 1-1.3: update failed: .' \
    "$T/fail.err"
run fail-status status --json 1-1.3
# Issue 10: the device is left in its bootloader, so the job is not given up: retry-wait.
check "status shows retry-wait with the last error" python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))["devices"][0]
sys.exit(0 if d["state"] == "retry-wait" and d["last_error"] else 1)' "$T/fail-status.out"
run fail-table status 1-1.3
check "the table shows the last error" grep -qE '^1-1\.3 .* retry-wait +- +[^-]' "$T/fail-table.out"

# ---- busy, watch, cancel -------------------------------------------------------------------
run queued update --force 1-1.1
check_eq "update without --wait exits 0 once queued" 0 "$(rc queued)"
check_eq "update without --wait says so" "1-1.1: update queued." "$(cat "$T/queued.out")"
check "1-1.1 gets to erasing (slowly)" wait_for 30 state_is 1-1.1 erasing
run queued2 update --force 1-1.2
check_eq "a second device's update waits for the free slot" "queued" \
    "$(py <(timeout 20 "$CTL" --bus "$BUS" status --json 1-1.2) 'd[0]["state"]')"
run busy update --force 1-1.2
check_eq "update of a device with a job exits 12" 12 "$(rc busy)"
check "busy: stdfud's reason is shown" grep -q '^stdfuctl: 1-1.2: .*already has a job' \
    "$T/busy.err"
timeout 60 "$CTL" --bus "$BUS" watch >"$T/watch.out" 2>"$T/watch.err" &
WATCH_PID=$!
run waitbusy update --force --wait 1-1.2
check_eq "update --wait of a device already busy exits 12 (no second job)" 12 "$(rc waitbusy)"
sleep 0.5
run cancel cancel 1-1.1
check_eq "cancel exits 0" 0 "$(rc cancel)"
wait "$WATCH_PID"; watch_rc=$?
check_eq "watch ends by itself when nothing runs any more, exit 0" 0 "$watch_rc"
check "watch printed the erase progress" grep -qE '^1-1\.1: erasing +[0-9]+%' "$T/watch.out"
check_eq "watch's last line for 1-1.1 is the outcome" "1-1.1: cancelled" \
    "$(grep '^1-1.1: ' "$T/watch.out" | tail -n1)"
check "watch followed the queued device to its end" grep -q '^1-1.2: queued, 1.3 -> 1.2$' \
    "$T/watch.out"
check_eq "watch's last line for 1-1.2 is the outcome" "1-1.2: done, runs 1.2" \
    "$(grep '^1-1.2: ' "$T/watch.out" | tail -n1)"
check "watch showed the idle device once" test "$(grep -c '^1-1.3: ' "$T/watch.out")" = 1
run cancel-idle cancel 1-1.2
check "cancel without a job fails with stdfud's reason" \
    test "$(rc cancel-idle)" -ne 0 -a -s "$T/cancel-idle.err"

run watch-idle watch
check_eq "watch with nothing running exits 0 at once" 0 "$(rc watch-idle)"
check_eq "watch with nothing running prints each device once" 3 "$(wc -l <"$T/watch-idle.out")"
run watch-unknown watch 9-9
check_eq "watch of an unknown device exits 4" 4 "$(rc watch-unknown)"

# ---- watch on a terminal -------------------------------------------------------------------
ctl update --force 1-1.2 >/dev/null
script -qec "env TERM=xterm NO_COLOR= $CTL --bus $BUS watch 1-1.2" /dev/null >"$T/tty.out" 2>&1
check_eq "watch on a terminal exits 0" 0 "$?"
check "on a terminal lines are redrawn in place (cursor up, clear line)" \
    grep -qE $'\e\\[1A\r\e\\[K(\e\\[[0-9;]*m)?1-1.2 ' "$T/tty.out"
check "on a terminal a progress bar is drawn" grep -qE '\[#+\.+\] +[0-9]+%  (erasing|writing|verifying)' \
    "$T/tty.out"
check "the final line is the outcome with a full bar" \
    grep -q '\[####################\] 100%  done, runs 1.2' "$T/tty.out"
cursor_hidden_then_shown() {
    grep -q $'\e\\[?25l' "$1" && tail -c 20 "$1" | grep -q $'\e\\[?25h'
}
check "the cursor is hidden, then shown again at the end" cursor_hidden_then_shown "$T/tty.out"

# Ctrl-C: watch stops (exit 9), the terminal gets its cursor back, the update goes on.
ctl update --force 1-1.2 >/dev/null
script -qec "env TERM=xterm $CTL --bus $BUS watch 1-1.2" /dev/null >"$T/int.out" 2>&1 &
SCRIPT_PID=$!
watch_pid() { pgrep -f -n "^$CTL --bus $BUS watch 1-1.2\$"; }
wait_for 10 watch_pid
check "the terminal watch is drawing" wait_for 10 grep -q '1-1.2 ' "$T/int.out"
kill -INT "$(watch_pid)"
wait "$SCRIPT_PID"; int_rc=$?
check_eq "Ctrl-C ends watch with exit 9" 9 "$int_rc"
cursor_shown_at_end() { tail -c 20 "$1" | grep -q $'\e\\[?25h'; }
check "after Ctrl-C the cursor is shown again" cursor_shown_at_end "$T/int.out"
check "the update goes on after watch's Ctrl-C" wait_for 60 state_is 1-1.2 done

# ---- reload --------------------------------------------------------------------------------
run reload reload
check_eq "reload exits 0" 0 "$(rc reload)"
printf 'rules:\n  - name: broken\n    firmware: [\n' >"$ETC/manifest.yaml"
run reload-bad reload
check_eq "reload of a broken manifest exits 1" 1 "$(rc reload-bad)"
check "reload says the previous manifest stays" \
    grep -q '^stdfuctl: The new manifest has errors; stdfud keeps the previous one:$' \
    "$T/reload-bad.err"
check "reload lists the errors with file, line and column" \
    grep -q '^  .*/manifest.yaml:[0-9]*:[0-9]*: ' "$T/reload-bad.err"
run status-bad status
check "status shows the manifest errors" grep -q '^The manifest has errors' "$T/status-bad.out"
manifest >"$ETC/manifest.yaml"
run reload-good reload
check_eq "reload of the repaired manifest exits 0" 0 "$(rc reload-good)"

# ---- history -------------------------------------------------------------------------------
# 1-1.3's failed attempt left it in its bootloader: stdfud keeps that job to resume it, and
# (issue 10) the history has every attempt that ended, that one too.
run hist history --json
check_eq "history --json: every ended attempt, oldest first" \
    "1-1.2:done 1-1.2:done 1-1.3:failed 1-1.1:cancelled 1-1.2:done 1-1.2:done 1-1.2:done" \
    "$(py "$T/hist.out" '" ".join(x["port"] + ":" + x["outcome"] for x in d)')"
check_eq "history --json: the file update went 1.2 -> 1.3 with no error" "1.2 1.3 None 1" \
    "$(py "$T/hist.out" '" ".join(str(d[1][k]) for k in ("from_version", "to_version",
        "error", "attempts"))')"
check "history --json: timestamps in UTC" \
    grep -qE '"finished":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z"' "$T/hist.out"
run hist-table history 1-1.1
check "history PORT: a table of that port only" \
    test "$(grep -c ' 1-1\.1 ' "$T/hist-table.out")" = 1 -a "$(wc -l <"$T/hist-table.out")" = 2
check "history table: outcome, versions, rule" grep -qE \
    '^[0-9-]+ [0-9:]+ +1-1\.1 +cancelled +1\.2 +1\.2 +1 +sensor ' "$T/hist-table.out"
run hist-waiting history --json 1-1.3
check_eq "history of 1-1.3, whose job waits to resume: its failed attempt, where and why" \
    "failed writing 1 errWRITE True" \
    "$(py "$T/hist-waiting.out" '" ".join(str(x) for x in (d[0]["outcome"], d[0]["phase"],
        d[0]["attempts"], d[0]["error"].split()[0], d[0]["duration_usec"] > 0)) if len(d) == 1 else d')"
run hist-none history 9-9
check_eq "history of a port with no attempt says so" \
    "No finished update of these devices." "$(cat "$T/hist-none.out")"

# ---- stdfud goes away while watching -------------------------------------------------------
ctl update --force 1-1.1 >/dev/null 2>&1 || ctl update --force 1-1.2 >/dev/null
timeout 60 "$CTL" --bus "$BUS" watch >"$T/gone.out" 2>"$T/gone.err" &
GONE_PID=$!
sleep 1
stop_daemon
wait "$GONE_PID"; gone_rc=$?
check_eq "watch exits 10 when stdfud stops" 10 "$gone_rc"
check "watch says stdfud stopped" grep -q "stdfud stopped (io.stdfu1 left the bus $BUS)" \
    "$T/gone.err"
finish

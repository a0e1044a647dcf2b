#!/bin/bash
# stdfuctl's terminal output, rendered on a real pseudo-terminal (script(1)) of 80 columns:
# status and watch fit (columns shrink, cut cells end in an ellipsis, an error goes under its
# row), states are coloured where the terminal has colours and never with NO_COLOR or
# TERM=dumb, TERM=dumb and a pipe get no cursor movement, and options go before or after the
# command.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"

requires stdfud stdfuctl stdfu-sim busctl dbus-daemon python3 script stty

# 1-1.2's application wants other bytes than the rule's HID report to enter its bootloader:
# the attempt fails with the old application running and, with `retries: 0`, ends `failed`
# (a fault in the bootloader would end in retry-wait).
sensor_manifest 1.2 "    retries: 0
    enter:
      method: hid-feature
      report: \"01 55\"
    timeouts:
      enter: 3" || skip_all "stdfu-sim mkfw failed"
start_bus || skip_all "cannot start dbus-daemon"
SIM_ARGS=(--hub ppps
          --device port=1-1.1,profile=f072,mode=application,version=1.0,enter=hid-feature:0155
          --device port=1-1.2,profile=f072,mode=application,version=1.0,enter=hid-feature:0166)
check "stdfud starts" start_daemon
check "1-1.1 is updated" wait_for 60 state_is 1-1.1 done
check "1-1.2 fails" wait_for 60 state_is 1-1.2 failed

# on_tty FILE TERM [ENV...] -- ARGS: stdfuctl ARGS on an 80x24 pseudo-terminal, its output
# (with the terminal's CR LF line ends made LF) in FILE.
on_tty() {
    local out=$1 term=$2; shift 2
    local env=()
    while [ "$1" != -- ]; do env+=("$1"); shift; done
    shift
    script -qec "stty cols 80 rows 24; env TERM=$term ${env[*]} $CTL --bus $BUS $*" /dev/null \
        </dev/null 2>&1 | tr -d '\r' >"$out"
}
# width FILE: the longest line, escape sequences left out.
width() { sed 's/\x1b\[[0-9;?]*[A-Za-z]//g' "$1" | awk '{ n = length($0); if (n > m) m = n } END { print m + 0 }'; }

on_tty "$T/status.txt" xterm LANG=C.UTF-8 -- status
check "status on 80 columns: no line is longer" test "$(width "$T/status.txt")" -le 80
check "status: the failed device's error goes whole under its row" \
    grep -qE '^    .*did not enter its bootloader' "$T/status.txt"
check "status: a state is coloured (red for failed)" grep -q $'\x1b\\[1;31mfailed' "$T/status.txt"
check "status: a cut cell ends in an ellipsis" grep -q '…' "$T/status.txt"
on_tty "$T/status-nocolor.txt" xterm NO_COLOR=1 -- status
check "NO_COLOR: no colour" bash -c '! grep -q $'"'"'\x1b\\['"'"' "$1"' _ "$T/status-nocolor.txt"
on_tty "$T/status-dumb.txt" dumb -- status
check "TERM=dumb: no escape sequence at all" \
    bash -c '! grep -q $'"'"'\x1b'"'"' "$1"' _ "$T/status-dumb.txt"
check "TERM=dumb: still 80 columns" test "$(width "$T/status-dumb.txt")" -le 80

# watch of a device with nothing running draws its line and ends.
on_tty "$T/watch.txt" xterm -- watch 1-1.1
check "watch on a terminal draws in place (hides the cursor)" grep -q $'\x1b\\[?25l' "$T/watch.txt"
check "watch: the line fits 80 columns" test "$(width "$T/watch.txt")" -le 80
check "watch: the bar's percentage is the one shown" \
    grep -qE '1-1\.1 +\[#{20}\] 100%  done, runs 1\.2' "$T/watch.txt"
on_tty "$T/watch-dumb.txt" dumb -- watch 1-1.1
check "watch with TERM=dumb: no cursor movement, no escape sequence" \
    bash -c '! grep -q $'"'"'\x1b'"'"' "$1"' _ "$T/watch-dumb.txt"
check_eq "watch with TERM=dumb: the plain line" "1-1.1: done, runs 1.2" "$(cat "$T/watch-dumb.txt")"
"$CTL" --bus "$BUS" watch 1-1.1 >"$T/watch-pipe.txt" 2>&1
check "watch into a pipe: no escape sequence" \
    bash -c '! grep -q $'"'"'\x1b'"'"' "$1"' _ "$T/watch-pipe.txt"

# Options before or after the command.
"$CTL" --bus "$BUS" status --json 1-1.1 >"$T/after.json"
"$CTL" --json --bus "$BUS" status 1-1.1 >"$T/before.json"
check "status --json == --json status" cmp -s "$T/after.json" "$T/before.json"
"$CTL" --bus "$BUS" history -q >"$T/q-after.txt" 2>&1; a=$?
"$CTL" -q --bus "$BUS" history >"$T/q-before.txt" 2>&1; b=$?
check_eq "a global option after the command is the same as before it" "$b" "$a"
check "SIGTERM stops stdfud" stop_daemon

finish

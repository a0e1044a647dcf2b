#!/bin/bash
# stdfud speaks sd_notify: READY=1 (with STATUS=) once it owns its name, WATCHDOG=1 pings when
# WATCHDOG_USEC asks for them, RELOADING=1/READY=1 around SIGHUP, STOPPING=1 on SIGTERM. Its
# log lines carry syslog priority prefixes for journald.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"

requires stdfud busctl dbus-daemon python3

# A notify socket that writes each datagram as one line (newlines as '|').
python3 - "$T/notify.sock" "$T/notify.log" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(1)
end = time.monotonic() + 60
with open(sys.argv[2], "a", buffering=1) as log:
    while time.monotonic() < end:
        try:
            log.write(s.recv(4096).decode().replace("\n", "|") + "\n")
        except socket.timeout:
            pass
PY
LISTENER=$!
EXTRA_PIDS+=("$LISTENER")
wait_for 5 test -S "$T/notify.sock" || skip_all "cannot create a notify socket"

start_bus || skip_all "cannot start dbus-daemon"
export NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=400000
check "stdfud starts" start_daemon
unset NOTIFY_SOCKET WATCHDOG_USEC
notified() { grep -q "$1" "$T/notify.log"; }
check "READY=1 with STATUS=0 devices, 0 updating" \
    wait_for 5 notified '^READY=1|STATUS=0 devices, 0 updating$'
check "WATCHDOG=1 pings" wait_for 5 notified '^WATCHDOG=1$'
kill -HUP "$(daemon_pid)"
check "SIGHUP: RELOADING=1" wait_for 5 notified '^RELOADING=1$'
check "then READY=1 again" wait_for 5 test "$(grep -c '^READY=1' "$T/notify.log")" -ge 2
check "SIGTERM stops it" stop_daemon
check "STOPPING=1" notified '^STOPPING=1$'
check "every log line has a syslog priority prefix" \
    python3 -c 'import re, sys; sys.exit(any(not re.match(r"<[0-7]>", l) for l in open(sys.argv[1]) if l.strip()))' \
    "$T/daemon.log"
kill "$LISTENER" 2>/dev/null
wait "$LISTENER" 2>/dev/null
finish

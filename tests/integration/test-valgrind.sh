#!/bin/bash
# The real programs under valgrind's memcheck, on short real work: `stdfuctl flash` and
# `stdfuctl read` of an emulated f072, stdfud updating one device from its manifest, asked by
# `stdfuctl status`, then stopped with SIGTERM. Each run must end with no memcheck error and
# no definite leak (--error-exitcode), no descriptor of its own left open (--track-fds), and
# the work done (the emulator's report shows the device on the target).
#
# valgrind wraps the program, not the emulator: it is stdfu-sim's COMMAND, so it inherits
# umockdev's LD_PRELOAD and passes it on to the program it runs. The preload library's own
# uninitialised padding is suppressed (tests/valgrind.supp); stdfu-sim itself (GLib, umockdev)
# is not run under valgrind. Skipped in the sanitizer build: ASan and valgrind do not mix.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"

requires stdfud stdfuctl stdfu-sim valgrind python3 busctl dbus-daemon
if nm "$CTL" 2>/dev/null | grep -q __asan_init; then skip_all "an ASan build ($B)"; fi

PORT=1-1.1
VG=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
    --track-fds=yes --suppressions="$SRCDIR/tests/valgrind.supp")

# fds_clean LOG: every descriptor open at exit (--track-fds) was inherited, none is the
# program's own; and the log has the descriptor summary, so valgrind did run to the end.
fds_clean() {
    python3 - "$1" <<'PY'
import re, sys
lines = [re.sub(r"^==\d+== ?", "", l.rstrip("\n")) for l in open(sys.argv[1])]
if not any(l.startswith("FILE DESCRIPTORS:") for l in lines):
    sys.exit("no descriptor summary: valgrind did not run to the end")
bad = [l for i, l in enumerate(lines) if l.startswith("Open ")
       and "<inherited from parent>" not in (lines[i + 1] if i + 1 < len(lines) else "")]
for l in bad:
    print("# left open:", l)
sys.exit(1 if bad else 0)
PY
}

# no_errors LOG: valgrind printed no error report and no lost block (-q leaves only those and
# the descriptors in the log); the exit status says the same, this names what was found.
no_errors() {
    ! grep -E '^==[0-9]+== +(Invalid|Conditional jump|Syscall param|Use of uninit|Mismatched|Source and destination overlap|Argument .* fishy|Process terminating|[0-9,]+ bytes in .* lost)' "$1"
}

cd "$T" || exit 1
"$SIM" mkfw --version 2.0 --size 8192 -o fw.dfu >/dev/null

# ---- stdfuctl flash -----------------------------------------------------------------------------
"$SIM" --report flash-report.json --device "port=$PORT,profile=f072,mode=application" -- \
    "${VG[@]}" --log-file=flash.vg "$CTL" flash fw.dfu --port "$PORT" >flash.log 2>&1
check_eq "flash under valgrind: exit 0 (no memcheck error, no definite leak)" 0 $?
check "flash: no error in valgrind's log" no_errors flash.vg
check "flash: no descriptor of stdfuctl's own left open" fds_clean flash.vg
check_eq "flash: the device runs 2.0 in its application (emulator's report)" "application 2.0" \
    "$(sim_device flash-report.json "$PORT" 'd["mode"] + " " + d["version"]')"

# ---- stdfuctl read ------------------------------------------------------------------------------
"$SIM" --report read-report.json --device "port=$PORT,profile=f072,mode=application" -- \
    "${VG[@]}" --log-file=read.vg "$CTL" read --port "$PORT" -o all.bin >read.log 2>&1
check_eq "read under valgrind: exit 0 (no memcheck error, no definite leak)" 0 $?
check "read: no error in valgrind's log" no_errors read.vg
check "read: no descriptor of stdfuctl's own left open" fds_clean read.vg
check_eq "read: the flash byte for byte (emulator's hash)" \
    "$(sim_device read-report.json "$PORT" 'd["flash_sha256"]')" \
    "$(sha256sum <all.bin | cut -d' ' -f1)"

# ---- stdfud: one update from the manifest, then SIGTERM -----------------------------------------
sensor_manifest 1.2
start_bus || skip_all "cannot start dbus-daemon"
SIM_ARGS=(--device "port=$PORT,profile=f072,mode=application,version=1.0"
          --report "$T/daemon-report.json")
check "stdfud starts under valgrind" run_daemon "${VG[@]}" --log-file="$T/daemon.vg" --
done_state() { [ "$(dprop "$1" State)" = 's "done"' ]; }
check "stdfud: $PORT updated to done" wait_for 90 done_state "$PORT"
# The client's D-Bus side too: stdfuctl status, under valgrind, asks the daemon.
"${VG[@]}" --log-file=status.vg "$CTL" --bus "$BUS" status --json >status.json 2>status.err
check_eq "status under valgrind: exit 0 (no memcheck error, no definite leak)" 0 $?
check "status: no error in valgrind's log" no_errors status.vg
check "status: no descriptor of stdfuctl's own left open" fds_clean status.vg
check_eq "status: $PORT done, running 1.2" "done 1.2" \
    "$(json status.json "' '.join((d['devices'][0]['state'], d['devices'][0]['running_version']))")"
stop_daemon
check_eq "stdfud: exit 0 after SIGTERM (no memcheck error, no definite leak)" 0 $?
check "stdfud: no error in valgrind's log" no_errors daemon.vg
check "stdfud: no descriptor of its own left open" fds_clean daemon.vg
check_eq "stdfud: the device runs 1.2 in its application (emulator's report)" "application 1.2" \
    "$(sim_device daemon-report.json "$PORT" 'd["mode"] + " " + d["version"]')"

if [ "$_tap_failed" -gt 0 ]; then
    for f in flash read status daemon; do
        [ -s "$f.vg" ] && { echo "# ---- $f.vg ----"; sed 's/^/# /' "$f.vg" | head -60; }
    done
fi
finish

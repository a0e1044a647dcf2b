#!/bin/bash
# Faults during a flash: a transient write error (errWRITE at one block) is retried within the
# run, which succeeds; with --retries 0 it gives a clear error and the right exit status, and a
# second run then succeeds; a cable pulled mid-write (the bootloader does not come back) too.
. "$(dirname "$0")/lib.sh"

[ -x "$SIM" ] && [ -x "$CTL" ] || skip_all "stdfu-sim or stdfuctl not built"
for tool in dfu-suffix python3; do
    command -v "$tool" >/dev/null || skip_all "$tool not installed"
done

PORT=1-1.1
SIZE=20480

dev() { sim_device "$1" "$PORT" "$2"; }

# result FILE EXPR: fields of stdfuctl's --json result `r`, space-separated.
result() { json_fields "$@"; }

flash_sha() {
    python3 - "$1" <<'PY'
import hashlib, sys
data = open(sys.argv[1], "rb").read()
print(hashlib.sha256(data + b"\xff" * ((128 << 10) - len(data))).hexdigest())
PY
}

"$SIM" mkfw --version 2.0 --size $SIZE -o "$T/fw.dfu" >/dev/null
"$SIM" mkfw --version 2.0 --size $SIZE -o "$T/fw.bin" >/dev/null
SHA=$(flash_sha "$T/fw.bin")

# Runs two flashes in one emulator session; between them, $BETWEEN (a command line) if set.
# Writes first.rc/.err and second.rc/.err under $T/$1.
two_runs() {
    local name=$1 spec=$2
    mkdir -p "$T/$name"
    # shellcheck disable=SC2086
    "$SIM" ${SIM_OPTS:-} --device "$spec" --control "$T/$name/ctl.sock" --report "$T/$name/report.json" -- \
        bash -c '
            d=$1 ctl=$2 fw=$3 port=$4 sock=$5
            "$ctl" flash "$fw" --port "$port" ${FIRST_OPTS:-} >"$d/first.out" 2>"$d/first.err"
            echo $? >"$d/first.rc"
            if [ -n "${BETWEEN:-}" ]; then eval "$BETWEEN"; fi
            "$ctl" flash "$fw" --port "$port" >"$d/second.out" 2>"$d/second.err"
            echo $? >"$d/second.rc"
        ' two-runs "$T/$name" "$CTL" "$T/fw.dfu" "$PORT" "$T/$name/ctl.sock" >/dev/null 2>&1
}

# control SOCKET LINE: one command to stdfu-sim's control socket, prints its answer.
control() {
    python3 - "$1" "$2" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall((sys.argv[2] + "\n").encode())
s.shutdown(socket.SHUT_WR)
print(s.recv(4096).decode().strip())
PY
}
export -f control

# Write error at block 5, retried: the status is cleared, the image erased and written again.
"$SIM" --device "port=$PORT,profile=f072,mode=bootloader,write-error-at=5" \
    --report "$T/retry.report.json" -- \
    "$CTL" flash "$T/fw.dfu" --port "$PORT" >"$T/retry.out" 2>"$T/retry.err"
echo $? >"$T/retry.rc"
check_eq "write error retried: exit status 0" 0 "$(cat "$T/retry.rc")"
check "write error retried: the retry is shown, naming errWRITE and the port" \
    grep -qE "^recover \(retry\): write failed on port $PORT .*errWRITE" "$T/retry.out"
check "write error retried: the result says so" grep -q "after 1 retry" "$T/retry.out"
sed 's/^/#   /' "$T/retry.out" "$T/retry.err"
check_eq "write error retried: flash is the image" "$SHA" \
    "$(dev "$T/retry.report.json" 'd["flash_sha256"]')"
check_eq "write error retried: application runs 2.0" "application 2.0" \
    "$(dev "$T/retry.report.json" 'd["mode"] + " " + d["version"]')"
# block 5 is page 3 (2 KiB each): pages 0-2 were written, the retry erases only pages 3-9 again
check_eq "write error retried: only the pages from the failed one on are erased again" \
    "[1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 0]" \
    "$(dev "$T/retry.report.json" 'd["counters"]["erases_per_page"][:11]')"

# The pages as they ended, each counted once (10 pages of 2 KiB); what the retry did again
# apart. The failed pass's line counts the 3 pages written before the fault.
check "write error retried: the summary counts the image's pages once, the retry apart" \
    grep -qxF "0 of 10 pages held the image already; 10 erased, 10 written (the retry erased 7 \
and wrote 7 of them again)." "$T/retry.out"
check "write error retried: the failed pass counts the pages written before the fault" \
    grep -qF "check: 0 of 10 pages read on port $PORT hold the image already: 10 erased, 3 \
written" "$T/retry.out"

rc=0
"$SIM" --device "port=$PORT,profile=f072,mode=bootloader,write-error-at=5" -- \
    "$CTL" flash "$T/fw.dfu" --port "$PORT" --json >"$T/retry.json" 2>&1 || rc=$?
check_eq "write error retried, --json: pages read, skipped, erased, written, again" \
    "10 0 10 10 7 7" \
    "$(result "$T/retry.json" '[r["pages"][k] for k in ("read", "skipped", "erased", "written",
                                                         "erased_again", "written_again")]')"
check_eq "write error retried, --json: outcome, retries, recovery_steps.retry, attempts" \
    "0 done 1 1 1" \
    "$rc $(result "$T/retry.json" 'r["outcome"], r["retries"], r["recovery_steps"]["retry"], r["attempts"]')"
check_eq "write error retried, --json: final mode and version read at the end" \
    "application 2.0" "$(result "$T/retry.json" 'r["final_mode"], r["running_version"]')"

# A fault that ends the run (no retries left) leaves the ROM clean: dfuIDLE, status OK, not
# dfuERROR, so that the next run or any other client starts from there.
rc=0
"$SIM" --device "port=$PORT,profile=f072,mode=bootloader,write-error-at=5" \
    --report "$T/clean.report.json" -- \
    "$CTL" flash "$T/fw.dfu" --port "$PORT" --retries 0 >/dev/null 2>&1 || rc=$?
check_eq "write error, no retries left: exit 5, ROM left in dfuIDLE with status OK" \
    "5 bootloader dfuIDLE OK" \
    "$rc $(dev "$T/clean.report.json" 'd["mode"] + " " + d["dfu_state"] + " " + d["dfu_status"]')"

# A write error that persists through the retries: the bytes counted are those the ROM took
# before the failure (the 2 KiB blocks before wBlockNum 5; the retries start again at the page
# that failed, and fail at once), as many as the emulator programmed, not 0.
rc=0
"$SIM" --device "port=$PORT,profile=f072,mode=bootloader,write-error-at=5,fault-times=always" \
    --report "$T/always.report.json" -- \
    "$CTL" flash "$T/fw.dfu" --port "$PORT" --json >"$T/always.json" 2>&1 || rc=$?
check_eq "write error always: exit 5, bytes_written what the ROM took" "5 failed 2 6144" \
    "$rc $(result "$T/always.json" 'r["outcome"], r["retries"], r["bytes_written"]')"
check_eq "write error always: the emulator programmed as many" 6144 \
    "$(dev "$T/always.report.json" 'd["counters"]["bytes_written"]')"
check_eq "write error always: pages written are the 3 the ROM took, each page once" \
    "10 10 3 14 0" \
    "$(result "$T/always.json" '[r["pages"][k] for k in ("read", "erased", "written",
                                                          "erased_again", "written_again")]')"

# GETSTATUS stalled more often than the engine asks again: the transfer fails, and is retried.
rc=0
"$SIM" --device "port=$PORT,profile=f072,mode=bootloader,stall-status=8" \
    --report "$T/stall.report.json" -- \
    "$CTL" flash "$T/fw.dfu" --port "$PORT" --json >"$T/stall.json" 2>&1 || rc=$?
check_eq "stalled status: done after a retry" "0 done True" \
    "$rc $(result "$T/stall.json" 'r["outcome"], r["retries"] >= 1')"
check_eq "stalled status: flash is the image" "$SHA" \
    "$(dev "$T/stall.report.json" 'd["flash_sha256"]')"

# Without retries: errWRITE, exit 5; a second run succeeds.
FIRST_OPTS="--retries 0" BETWEEN="" \
    two_runs write-error "port=$PORT,profile=f072,mode=bootloader,write-error-at=5"
d=$T/write-error
check_eq "write error: exit status 5 (transfer)" 5 "$(cat "$d/first.rc")"
check "write error: the message names errWRITE" grep -q "errWRITE" "$d/first.err"
sed 's/^/#   /' "$d/first.err"
check_eq "write error: second run succeeds" 0 "$(cat "$d/second.rc")"
check_eq "write error: flash is the image afterwards" "$SHA" \
    "$(dev "$d/report.json" 'd["flash_sha256"]')"
check_eq "write error: application runs 2.0" "application 2.0" \
    "$(dev "$d/report.json" 'd["mode"] + " " + d["version"]')"

# Cable pulled after 8 KiB behind a hub that cannot switch the port's power: it needs a hand
# (exit 7, saying so); plugged back in, a second run succeeds (on a hub that switches power,
# the port is power-cycled instead: test-flash-vanish.sh).
# The fault takes the device off the bus with its cable still "in": pull it, plug it back.
# The second run starts at once: stdfuctl gives a device that is still appearing a moment.
SIM_OPTS="--hub ganged" BETWEEN='control "$sock" "unplug $port" >/dev/null; control "$sock" "plug $port" >/dev/null' \
    two_runs unplug "port=$PORT,profile=f072,mode=bootloader,unplug-at=8192"
d=$T/unplug
check_eq "unplug: exit status 7 (needs a power cycle)" 7 "$(cat "$d/first.rc")"
check "unplug: the message says the device went away, to replug it" \
    grep -qE "went away while flashing.*unplug and replug it" "$d/first.err"
sed 's/^/#   /' "$d/first.err"
check_eq "unplug: second run succeeds" 0 "$(cat "$d/second.rc")"
[ "$(cat "$d/second.rc")" = 0 ] || sed 's/^/#   /' "$d/second.err"
check_eq "unplug: flash is the image afterwards" "$SHA" \
    "$(dev "$d/report.json" 'd["flash_sha256"]')"
check_eq "unplug: application runs 2.0" "application 2.0" \
    "$(dev "$d/report.json" 'd["mode"] + " " + d["version"]')"

# The cable pulled and plugged back in during the erase: the bootloader comes back on the same
# port, is opened again, and what it does not hold yet is erased and written again.
"$SIM" --device "port=$PORT,profile=f072,mode=bootloader,slow-erase=20" --control "$T/rp.sock" \
    --report "$T/replug.report.json" -- bash -c '
    "$1" flash "$2" --port "$3" >"$4/replug.out" 2>"$4/replug.err" &
    pid=$!
    for i in $(seq 300); do grep -q "^check:" "$4/replug.out" && break; sleep 0.1; done
    control "$5" "unplug $3" >/dev/null
    control "$5" "plug $3" >/dev/null
    wait $pid
    echo $? >"$4/replug.rc"' replug "$CTL" "$T/fw.dfu" "$PORT" "$T" "$T/rp.sock" >/dev/null 2>&1
check_eq "replugged during erase: exit 0" 0 "$(cat "$T/replug.rc")"
check "replugged during erase: retried on the same port" \
    grep -qE "^recover \(retry\): erase failed on port $PORT" "$T/replug.out"
sed 's/^/#   /' "$T/replug.out" "$T/replug.err"
check_eq "replugged during erase: flash is the image, application runs 2.0" \
    "$SHA application 2.0" \
    "$(dev "$T/replug.report.json" 'd["flash_sha256"] + " " + d["mode"] + " " + d["version"]')"

# SIGINT while waiting out the grace period: exit 9, saying where it stopped.
"$SIM" --device "port=$PORT,profile=f072,mode=bootloader,leave=vanish" -- bash -c '
    "$1" flash "$2" --port "$3" --leave-timeout 60 >"$4/int.out" 2>"$4/int.err" &
    pid=$!
    for i in $(seq 200); do grep -q "grace-period" "$4/int.out" && break; sleep 0.1; done
    kill -INT $pid
    wait $pid
    echo $? >"$4/int.rc"' sigint "$CTL" "$T/fw.dfu" "$PORT" "$T" >/dev/null 2>&1
check_eq "SIGINT: exit status 9 (cancelled)" 9 "$(cat "$T/int.rc")"
check "SIGINT: the message says where" grep -q "cancelled during recover on port $PORT" "$T/int.err"

# A DFU suffix naming a bcdDevice is a target version: an application that comes back running
# something else is flashed again, and after the last attempt the exit status is 8.
cp "$T/fw.bin" "$T/v2.dfu"
dfu-suffix -v 0483 -p df11 -d 0x0200 -a "$T/v2.dfu" >/dev/null
cp "$T/fw.bin" "$T/v3.dfu"
dfu-suffix -v 0483 -p df11 -d 0x0300 -a "$T/v3.dfu" >/dev/null
rc=0
"$SIM" --device "port=$PORT,profile=f072" -- \
    "$CTL" flash "$T/v2.dfu" --address 0x08000000 --port "$PORT" --json >"$T/v2.json" 2>&1 || rc=$?
check_eq "suffix version 2.0: done, checked" "0 2.0 1" \
    "$rc $(result "$T/v2.json" 'r["running_version"], r["attempts"]')"
rc=0
"$SIM" --device "port=$PORT,profile=f072" -- \
    "$CTL" flash "$T/v3.dfu" --address 0x08000000 --port "$PORT" --json >"$T/v3.json" 2>&1 || rc=$?
check_eq "suffix version 3.00 but the image runs 2.00: exit 8 after 3 attempts" "8 version 3" \
    "$rc $(result "$T/v3.json" 'r["failure"], r["attempts"]')"
check "suffix version mismatch: the message names both versions" \
    grep -q "2.00 after 3 attempts, expected 3.00" "$T/v3.json"

finish

#!/bin/bash
# stdfud killed with SIGKILL in the middle of writing the device's flash, in its ROM: systemd
# starts it again (Restart=on-failure), it finds its unfinished job in /var/lib/stdfu and the
# device in the bootloader on that port, flashes it again, and the device ends up running the
# manifest's version.
. "$(dirname "$0")/../../integration/lib.sh"
. "$(dirname "$0")/../guest/lib.sh"
[ -d /run/systemd/system ] || skip_all "systemd is not PID 1 (run-system --init chroot)"

# A large image (120 of the F072's 128 KiB: the write takes seconds), the device in its
# application. `stdfuctl watch --json` streams the daemon's device events; the kill comes once
# one says the job is writing, some bytes written and not all.
write_manifest 2.0 122880
device_start dev dummy_udc.1 profile=f072,mode=application,version=1.0
check "the application 1.0 is on 2-1" wait_usb 2-1 0483:5750
systemctl start stdfud.service
stdfuctl watch 2-1 --json >"$T/watch.jsonl" 2>/dev/null &
watch_pid=$!
writing() { # until a device event says writing, 0 < bytes_done < bytes_total (builtins only)
    local i line re='"state":"writing".*"bytes_done":([0-9]+),"bytes_total":([0-9]+)'
    for ((i = 0; i < 3000; i++)); do
        while read -r line; do
            if [[ $line =~ $re ]] && [ "${BASH_REMATCH[1]}" -gt 0 ] &&
                [ "${BASH_REMATCH[1]}" -lt "${BASH_REMATCH[2]}" ]; then
                done_at="${BASH_REMATCH[1]} of ${BASH_REMATCH[2]}"
                return 0
            fi
        done <"$T/watch.jsonl"
        nap 0.1
    done
    return 1
}
done_at=
check "the service is writing the ROM's flash" writing
pid=$(systemctl show -P MainPID stdfud.service)
kill -KILL "$pid"
echo "# killed stdfud (pid $pid) with $done_at bytes written"
kill "$watch_pid" 2>/dev/null
check_eq "the device is in its ROM, mid-write" 0483:df11 \
    "$(cat /sys/bus/usb/devices/2-1/idVendor):$(cat /sys/bus/usb/devices/2-1/idProduct)"
check "stdfud died" sh -c "! kill -0 $pid 2>/dev/null"
check "the update completes after the restart" wait_bcd 2-1 0200 300
check "systemd restarted stdfud" test "$(systemctl show -P NRestarts stdfud.service)" -ge 1
check_eq "and it runs" active "$(systemctl is-active stdfud.service)"
systemctl stop stdfud.service
device_stop dev
check "the model's flash holds the image" flash_is "$T/fw.bin" "$T/dev.flash"
check_eq "it runs 2.0" "application 2.0" "$(report dev mode) $(report dev version)"
if [ "$_tap_failed" -gt 0 ]; then
    journalctl -u stdfud.service --no-pager -o cat 2>/dev/null | tail -30 | sed 's/^/#   /'
fi
finish

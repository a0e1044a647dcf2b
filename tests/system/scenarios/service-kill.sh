#!/bin/bash
# stdfud killed with SIGKILL in the middle of an update, with the device in its ROM: systemd
# starts it again (Restart=on-failure), it finds its unfinished job in /var/lib/stdfu and the
# device in the bootloader on that port, flashes it again, and the device ends up running the
# manifest's version.
. "$(dirname "$0")/../../integration/lib.sh"
. "$(dirname "$0")/../guest/lib.sh"
[ -d /run/systemd/system ] || skip_all "systemd is not PID 1 (run-system --init chroot)"

# A large image and a slow erase: the update is still running when the ROM has enumerated.
write_manifest 2.0 65536
device_start dev dummy_udc.1 profile=f072,mode=application,version=1.0,slow-erase=4
check "the application 1.0 is on 2-1" wait_usb 2-1 0483:5750
systemctl start stdfud.service
check "the update enters the ROM" wait_usb 2-1 0483:df11 120
pid=$(systemctl show -P MainPID stdfud.service)
kill -KILL "$pid"
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

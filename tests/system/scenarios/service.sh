#!/bin/bash
# The product as on a kiosk: stdfud started by systemd (User=stdfu, the unit's whole sandbox),
# udevd applying 70-stdfu.rules to the real nodes, the real system bus. A manifest names
# firmware 2.0 for the application; the running service updates the device on its own:
# HID detach -> DfuSe -> leave, and the model ends up running the image.
. "$(dirname "$0")/../../integration/lib.sh"
. "$(dirname "$0")/../guest/lib.sh"
[ -d /run/systemd/system ] || skip_all "systemd is not PID 1 (run-system --init chroot)"

device_start dev dummy_udc.0 profile=f072,mode=application,version=1.0
check "the application 1.0 is on 1-1" wait_usb 1-1 0483:5750
check "the product's sysusers made group stdfu" sh -c 'getent group stdfu >/dev/null'
check_eq "udev gave its node to group stdfu" "stdfu 660" \
    "$(stat -c '%G %a' /dev/bus/usb/001/$(printf %03d "$(cat /sys/bus/usb/devices/1-1/devnum)"))"

write_manifest 2.0 16384

systemctl start stdfud.service
check_eq "systemd started stdfud" active "$(systemctl is-active stdfud.service)"
check_eq "as user stdfu" stdfu "$(ps -o user= -p "$(systemctl show -P MainPID stdfud.service)" 2>/dev/null)"

# The update runs by itself: the application comes back with bcdDevice 2.00.
check "the service updated the device to 2.0 on its own" wait_bcd 1-1 0200
timeout 30 stdfuctl status >"$T/status.txt" 2>&1
check "stdfuctl status answers over the system bus" grep -q '1-1' "$T/status.txt"
sed 's/^/#   /' "$T/status.txt"

# An unprivileged user on the real system bus: reading is open, changing is not.
useradd -M -s /bin/false kiosk 2>/dev/null
rc=0
timeout 30 runuser -u kiosk -- stdfuctl status >"$T/kiosk-status.txt" 2>&1 || rc=$?
check_eq "stdfuctl status works for an unprivileged user" 0 "$rc"
rc=0
timeout 30 runuser -u kiosk -- stdfuctl update 1-1 >"$T/kiosk-update.txt" 2>&1 || rc=$?
check "stdfuctl update is refused to them" test "$rc" != 0
# by the bus policy (io.stdfu1.conf) or by the daemon's own check of the sender
check "as permission denied" grep -qiE 'permission denied|access denied|AccessDenied' \
    "$T/kiosk-update.txt"
sed 's/^/#   /' "$T/kiosk-update.txt"
systemctl stop stdfud.service
device_stop dev
check "the model's flash holds the image" flash_is "$T/fw.bin" "$T/dev.flash"
check_eq "it runs 2.0 after one leave" "application 2.0 1" \
    "$(report dev mode) $(report dev version) $(report dev leaves)"
if [ "$_tap_failed" -gt 0 ]; then
    journalctl -u stdfud.service --no-pager -o cat 2>/dev/null | tail -30 | sed 's/^/#   /'
fi
finish

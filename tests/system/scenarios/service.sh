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
check "the product's sysusers made group stdfu" getent group stdfu
check_eq "udev gave its node to group stdfu" "stdfu 660" \
    "$(stat -c '%G %a' /dev/bus/usb/001/$(printf %03d "$(cat /sys/bus/usb/devices/1-1/devnum)"))"

etc=/etc/stdfu
mkdir -p "$etc"
"$SIM" mkfw --version 2.0 --size 16384 --seed 7 -o "$etc/fw.bin" >/dev/null
cp "$etc/fw.bin" "$T/fw.bin"
cat >"$etc/manifest.yaml" <<YAML
rules:
  - name: sensor
    application:
      id: "0483:5750"
    firmware:
      file: fw.bin
      sha256: $(sha256sum "$etc/fw.bin" | cut -d' ' -f1)
      version: "2.0"
      address: 0x08000000
YAML

systemctl start stdfud.service
check_eq "systemd started stdfud" active "$(systemctl is-active stdfud.service)"
check_eq "as user stdfu" stdfu "$(ps -o user= -p "$(systemctl show -P MainPID stdfud.service)" 2>/dev/null)"

# The update runs by itself: the application comes back with bcdDevice 2.00.
updated() {
    local i bcd
    for ((i = 0; i < 1800; i++)); do
        bcd=
        read -r bcd 2>/dev/null </sys/bus/usb/devices/1-1/bcdDevice
        [ "$bcd" = 0200 ] && return 0
        nap 0.1
    done
    return 1
}
check "the service updated the device to 2.0 on its own" updated
timeout 30 stdfuctl status >"$T/status.txt" 2>&1
check "stdfuctl status answers over the system bus" grep -q '1-1' "$T/status.txt"
sed 's/^/#   /' "$T/status.txt"
systemctl stop stdfud.service
device_stop dev
check "the model's flash holds the image" flash_is "$T/fw.bin" "$T/dev.flash"
check_eq "it runs 2.0 after one leave" "application 2.0 1" \
    "$(report dev mode) $(report dev version) $(report dev leaves)"
if [ "$_tap_failed" -gt 0 ]; then
    journalctl -u stdfud.service --no-pager -o cat 2>/dev/null | tail -30 | sed 's/^/#   /'
fi
finish

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
check "the product's sysusers made user stdfu" sh -c 'getent passwd stdfu >/dev/null'
check_eq "udev gave its node to user stdfu" "stdfu 600" \
    "$(stat -c '%U %a' /dev/bus/usb/001/$(printf %03d "$(cat /sys/bus/usb/devices/1-1/devnum)"))"

write_manifest 2.0 16384

since_us=$(date +%s%6N) # earlier scenarios' updates stay in the history
systemctl start stdfud.service
check_eq "systemd started stdfud" active "$(systemctl is-active stdfud.service)"
check_eq "as user stdfu" stdfu "$(ps -o user= -p "$(systemctl show -P MainPID stdfud.service)" 2>/dev/null)"

# The update runs by itself: the application comes back with bcdDevice 2.00.
check "the service updated the device to 2.0 on its own" wait_bcd 1-1 0200
timeout 30 stdfuctl status >"$T/status.txt" 2>&1
check "stdfuctl status answers over the system bus" grep -q '1-1' "$T/status.txt"
sed 's/^/#   /' "$T/status.txt"
# the plain path: one attempt, entered by the application's HID detach, no recovery step
timeout 30 stdfuctl history --json >"$T/history.json" 2>&1
check "the history has it done in one attempt with no recovery step" python3 -c 'import json, sys
es = [e for e in json.load(open(sys.argv[1]))["updates"]
      if e["port"] == "1-1" and e["started_usec"] >= int(sys.argv[2])]
print("#   " + json.dumps(es))
sys.exit(0 if len(es) == 1 and es[0]["outcome"] == "done" and es[0]["attempts"] == 1
         and not any(es[0]["recovery_steps"].values()) else 1)' "$T/history.json" "$since_us"

# polkit on the real system bus: polkitd (bus-activated by systemd) answers the daemon's
# CheckAuthorization for io.stdfu1.update/.cancel/.reload. An unprivileged user reads but is
# refused each change (the actions' default is an administrator's password and no agent runs);
# a member of the admin group stdfu is allowed by 50-stdfu.rules.
# stdfuctl prints the daemon's own reason (exit 11), which names the polkit action where polkit
# decided and the group where its fallback did ("requires root or membership of group"); it
# is read on the wire too, with gdbus (which does not allow interactive authorization: no
# agent runs here).
useradd -M -s /bin/false kiosk 2>/dev/null
useradd -M -s /bin/false -G stdfu fwadmin 2>/dev/null
groupadd stdfuops 2>/dev/null
useradd -M -s /bin/false -G stdfuops opsadmin 2>/dev/null
call_as() { # USER METHOD [ARGS...]: the method's reply, or its error with name and message
    timeout 30 runuser -u "$1" -- gdbus call --system --dest io.stdfu1 --object-path /io/stdfu1 \
        --method "io.stdfu1.Manager.$2" "${@:3}" 2>&1
}
rc=0
timeout 30 runuser -u kiosk -- stdfuctl status >"$T/kiosk-status.txt" 2>&1 || rc=$?
check_eq "stdfuctl status works for an unprivileged user" 0 "$rc"
for cmd in "update 1-1:update" "cancel 1-1:cancel" "reload:reload"; do
    args=${cmd%%:*} action=io.stdfu1.${cmd##*:}
    rc=0
    timeout 30 runuser -u kiosk -- stdfuctl $args >"$T/kiosk.txt" 2>&1 || rc=$?
    check_eq "stdfuctl $args is refused to them (exit 11, permission denied)" 11 "$rc"
    check "stdfuctl $args says polkit refused it (action $action)" \
        grep -q "permission denied: .*(polkit action $action)" "$T/kiosk.txt"
    sed 's/^/#   /' "$T/kiosk.txt"
    case ${cmd##*:} in
        update) call_as kiosk Update 1-1 '@a{sv} {}' ;;
        cancel) call_as kiosk Cancel 1-1 ;;
        reload) call_as kiosk Reload ;;
    esac >"$T/kiosk-call.txt"
    check "by polkit: the daemon's AccessDenied names action $action" \
        grep -q "AccessDenied: .*(polkit action $action)" "$T/kiosk-call.txt"
    sed 's/^/#   gdbus: /' "$T/kiosk-call.txt"
done
check_eq "polkitd runs, started by systemd" active "$(systemctl is-active polkit.service)"
rc=0
timeout 30 runuser -u fwadmin -- stdfuctl reload >"$T/admin.txt" 2>&1 || rc=$?
check_eq "a member of group stdfu may reload" 0 "$rc"
sed 's/^/#   /' "$T/admin.txt"
# update and cancel on a port with no device: authorized first, then refused as no such device
# (the device on 1-1 is left alone)
for args in "update 9-9" "cancel 9-9"; do
    timeout 30 runuser -u fwadmin -- stdfuctl $args >"$T/admin.txt" 2>&1
    check "and $args passes polkit (then: no such device)" sh -c \
        "grep -q 9-9 '$T/admin.txt' && ! grep -qiE 'authori|polkit|AccessDenied|permission denied' '$T/admin.txt'"
    sed 's/^/#   /' "$T/admin.txt"
done
# Only polkit can allow someone outside root and group stdfu: an administrator's rule in /etc
# (stdfud(8), ACCESS) makes group stdfuops the admin group and asks the others for a password.
sed -e 's/var adminGroup = "stdfu";/var adminGroup = "stdfuops";/' \
    -e 's/var others = polkit.Result.NOT_HANDLED;/var others = polkit.Result.AUTH_ADMIN;/' \
    /usr/share/polkit-1/rules.d/50-stdfu.rules >/etc/polkit-1/rules.d/50-stdfu.rules
systemctl restart polkit.service
call_as opsadmin Reload >"$T/ops.txt"
check_eq "with that rule, a member of group stdfuops (not stdfu) may reload" "()" \
    "$(cat "$T/ops.txt")"
sed 's/^/#   gdbus: /' "$T/ops.txt"
call_as fwadmin Reload >"$T/admin.txt"
check "and a member of group stdfu is refused by polkit" \
    grep -q "AccessDenied: .*(polkit action io.stdfu1.reload)" "$T/admin.txt"
sed 's/^/#   gdbus: /' "$T/admin.txt"
rm -f /etc/polkit-1/rules.d/50-stdfu.rules
systemctl restart polkit.service
# polkitd as the guest saw it
echo "# systemctl status polkit.service:"
systemctl status polkit.service --no-pager -n 0 2>&1 | sed 's/^/#   /'
echo "# its journal:"
journalctl --no-pager -o short-monotonic -u polkit.service 2>&1 | tail -15 | sed 's/^/#   /'
systemctl stop stdfud.service
device_stop dev
check "the model's flash holds the image" flash_is "$T/fw.bin" "$T/dev.flash"
check_eq "it runs 2.0 after one leave, no power cycle" "application 2.0 1 0" \
    "$(report dev mode) $(report dev version) $(report dev leaves) $(report dev power_cycles)"
if [ "$_tap_failed" -gt 0 ]; then
    journalctl -u stdfud.service --no-pager -o cat 2>/dev/null | tail -30 | sed 's/^/#   /'
fi
finish

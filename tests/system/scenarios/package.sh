#!/bin/bash
# The .deb installed with dpkg into the running guest (guest/run-scenarios), a device already
# plugged in on 4-1 as on a kiosk being upgraded: its maintainer scripts made the user, applied
# the udev rules to the nodes that exist (no udevd restart), enabled and started the unit.
# run-scenarios wrote what it saw to the facts file; this checks them.
. "$(dirname "$0")/../../integration/lib.sh"
facts=/run/stdfu-system/package.facts
[ -d /run/systemd/system ] || skip_all "systemd is not PID 1 (run-system --init chroot)"
[ -s "$facts" ] || skip_all "the product was installed from make install's tree, not the .deb"
fact() { sed -n "s/^$1=//p" "$facts"; }
sed 's/^/#   /' "$facts"

check_eq "a device was plugged in before the install" 0483:5750 "$(fact plugged)"
check "before: its node was root's" sh -c "echo '$(fact node_before)' | grep -q '^root '"
check_eq "dpkg installed the package" "install ok installed 0.1" "$(fact installed_by)"
check_eq "the postinst made user and group stdfu" "stdfu stdfu" "$(fact user)"
check_eq "and gave the plugged device's usbfs node to user stdfu (70-stdfu.rules)" "stdfu 600" \
    "$(fact node_after)"
check_eq "and its hidraw node" "stdfu 600" "$(fact hidraw_after)"
check_eq "the unit is enabled" enabled "$(fact enabled)"
check_eq "and was started by the postinst" active "$(fact active)"
check_eq "as user stdfu" stdfu "$(fact main_user)"
finish

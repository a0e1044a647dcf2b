#!/bin/bash
# stdfuctl list shows applications and bootloaders with port, mode, ids, serial, version and
# the bootloader's flash layout, in text and as JSON.
. "$(dirname "$0")/lib.sh"

[ -x "$SIM" ] && [ -x "$CTL" ] || skip_all "stdfu-sim or stdfuctl not built"
command -v python3 >/dev/null || skip_all "python3 not installed"

"$SIM" --device "port=1-1.1,profile=f072,mode=application,version=1.3" \
    --device "port=1-1.2,profile=f407,mode=bootloader" -- \
    bash -c '"$1" list >"$2/list.txt" 2>&1 && "$1" list --json >"$2/list.json"' \
    list "$CTL" "$T"
rc=$?
check_eq "list runs" 0 "$rc"

j() {
    python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
        "$T/list.json" "$1" 2>&1
}

check_eq "two devices, in port order" "1-1.1 1-1.2" \
    "$(j '" ".join(d["port"] for d in r["devices"])')"
check_eq "application: mode, usb id, version" "application 0483:5750 1.3" \
    "$(j '" ".join(r["devices"][0][k] for k in ("mode", "usb_id", "running_version"))')"
check_eq "application: no layout" "None" "$(j 'r["devices"][0]["layout"]')"
check_eq "bootloader: mode, usb id, no running version" "bootloader 0483:df11 None" \
    "$(j '" ".join(str(r["devices"][1][k]) for k in ("mode", "usb_id", "running_version"))')"
check "bootloader: has a serial" test -n "$(j 'r["devices"][1]["serial"] or ""')"
check_eq "bootloader: alt 0 layout string" \
    "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg" \
    "$(j 'r["devices"][1]["layout"][0]["name"]')"
check_eq "bootloader: alt 0 is 1 MiB in three sector runs" "1048576 3" \
    "$(j 'r["devices"][1]["layout"][0]["size"], len(r["devices"][1]["layout"][0]["sectors"])' |
        tr -d '(),')"
check "bootloader: option bytes listed as alt 1" \
    test "$(j 'r["devices"][1]["layout"][1]["alt"]')" = 1

check "text: a header line" grep -q "^PORT *MODE" "$T/list.txt"
check "text: the application's line" grep -qE "^1-1.1 +application +0483:5750 .* 1.03" "$T/list.txt"
check "text: the bootloader's line" grep -qE "^1-1.2 +bootloader +0483:df11" "$T/list.txt"
check "text: the bootloader's layout" grep -q "0x08000000" "$T/list.txt"
sed 's/^/#   /' "$T/list.txt"

check_eq "list --help exits 0" 0 "$("$CTL" list --help >/dev/null 2>&1; echo $?)"
check_eq "list with an argument is a usage error" 2 "$("$CTL" list extra >/dev/null 2>&1; echo $?)"

finish

#!/bin/bash
# stdfu-sim against dfu-util 0.11, a DfuSe client nobody here wrote: it lists every alt setting
# with its layout, downloads .bin and .dfu files (made by dfu-util's own dfuse-pack and
# dfu-suffix) byte for byte on every profile, leaves per each leave behaviour, and reads back.
. "$(dirname "$0")/lib.sh"
TOOLS=$B/tests/sim/tools
command -v dfu-util >/dev/null && command -v dfuse-pack >/dev/null || skip_all "dfu-util not installed"

cd "$T"
"$SIM" mkfw --version 2.1 --size 20000 --seed 7 -o fw.bin
image_sha=$(sha256sum fw.bin | cut -d' ' -f1)
dfuse-pack -b 0x08000000:fw.bin -D 0x0483:0xdf11 packed.dfu >/dev/null
cp fw.bin suffixed.dfu && dfu-suffix -v 0483 -p df11 -a suffixed.dfu >/dev/null
check "dfuse-pack and dfu-suffix made their files" test -s packed.dfu -a -s suffixed.dfu

# ---- listing ------------------------------------------------------------------------------
"$SIM" --device port=1-1.1,profile=f072,mode=bootloader \
       --device port=1-1.2,profile=f407,mode=bootloader \
       --device port=1-1.3,profile=l476,mode=bootloader -- dfu-util -l >list.log 2>&1
check "dfu-util -l runs" grep -q 'Found DFU' list.log
alt_name() { # PORT ALT
    sed -n "s/.*path=\"$1\", alt=$2, name=\"\([^\"]*\)\".*/\1/p" list.log
}
check_eq "f072 flash layout" "@Internal Flash  /0x08000000/064*0002Kg" "$(alt_name 1-1.1 0)"
check_eq "f407 flash layout" "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg" \
    "$(alt_name 1-1.2 0)"
check "l476 flash layout: 2 KiB pages" sh -c "alt_name() { :; }; grep -q 'path=\"1-1.3\", alt=0, name=\"@Internal Flash  /0x08000000/[0-9]*\*0002Kg' list.log"
for port in 1-1.1 1-1.2 1-1.3; do
    check "$port: option bytes as alt 1" sh -c "grep 'path=\"$port\", alt=1,' list.log | grep -q 'name=\"@Option Bytes'"
    check "$port: every alt setting has a layout string" \
        sh -c "! grep 'path=\"$port\"' list.log | grep -v 'name=\"@[^\"]*/0x[0-9A-Fa-f]*/[^\"]*\"'"
done

# ---- downloads: three file kinds on three profiles, then each leaves (leave=ok) ------------
spec=(--device port=1-1.1,profile=f072,mode=bootloader --device port=1-1.2,profile=f072,mode=bootloader
      --device port=1-1.3,profile=f072,mode=bootloader --device port=1-1.4,profile=f407,mode=bootloader
      --device port=1-1.5,profile=f407,mode=bootloader --device port=1-1.6,profile=f407,mode=bootloader
      --device port=1-1.7,profile=l476,mode=bootloader --device port=1-2,profile=l476,mode=bootloader
      --device port=1-3,profile=l476,mode=bootloader)
cat >flash-all.sh <<SCRIPT
set -u
rc=0
n=0
for port in 1-1.1 1-1.2 1-1.3 1-1.4 1-1.5 1-1.6 1-1.7 1-2 1-3; do
    # a DfuSe file carries its addresses: only ":leave" is given then
    case \$((n % 3)) in
        0) f=fw.bin; s=0x08000000:leave ;;
        1) f=packed.dfu; s=:leave ;;
        2) f=suffixed.dfu; s=0x08000000:leave ;;
    esac
    n=\$((n + 1))
    timeout 60 dfu-util -p \$port -a 0 -s \$s -D \$f >dl-\$port.log 2>&1 || { echo "\$port: dfu-util failed"; rc=1; }
done
for port in 1-1.1 1-1.2 1-1.3 1-1.4 1-1.5 1-1.6 1-1.7 1-2 1-3; do
    $TOOLS/usb-wait \$port 0483:5750 10 >/dev/null || rc=1
done
exit \$rc
SCRIPT
"$SIM" "${spec[@]}" --report formats.json -- bash flash-all.sh >flash-all.log 2>&1
check "dfu-util downloaded all nine and every device came back" test $? = 0
i=0
for port in 1-1.1 1-1.2 1-1.3 1-1.4 1-1.5 1-1.6 1-1.7 1-2 1-3; do
    case $((i % 3)) in 0) kind=.bin ;; 1) kind=dfuse-pack ;; 2) kind=dfu-suffix ;; esac
    profile=$(json formats.json "d['devices'][$i]['profile']")
    check_eq "$profile $kind ($port): flash holds the image" "$image_sha" \
        "$(json formats.json "d['devices'][$i]['image_sha256']")"
    check_eq "$profile $kind ($port): back as the application 2.1" "application 2.1 1" \
        "$(json formats.json "'%s %s %d' % (d['devices'][$i]['mode'], d['devices'][$i]['version'], d['devices'][$i]['counters']['leaves'])")"
    i=$((i + 1))
done
check "an erase happened only where the image lies (f072: pages 0..9)" \
    test "$(json formats.json "sum(d['devices'][0]['counters']['erases_per_page'][10:])")" = 0

# ---- leave behaviours, and upload ----------------------------------------------------------
cat >leave-all.sh <<SCRIPT
set -u
rc=0
for port in 1-1.1 1-1.2 1-1.3; do
    timeout 60 dfu-util -p \$port -a 0 -s 0x08000000:leave -D fw.bin >leave-\$port.log 2>&1 || rc=1
done
$TOOLS/usb-wait 1-1.1 0483:df11 5 >/dev/null || rc=2        # stuck: the bootloader again
$TOOLS/usb-wait 1-1.3 0483:5750 5 >/dev/null || rc=3        # watchdog: the application, later
# 10 whole blocks: the image, then erased flash
timeout 60 dfu-util -p 1-1.1 -a 0 -s 0x08000000:20480 -U up.bin >upload.log 2>&1 || rc=4
# two clients one after the other on the same node: the first one's claim went with its fd
timeout 60 dfu-util -p 1-1.4 -a 0 -s 0x08000000 -D fw.bin >noleave.log 2>&1 || rc=5
timeout 60 dfu-util -p 1-1.4 -a 0 -s 0x08000000:4096 -U up4.bin >upload4.log 2>&1 || rc=6
exit \$rc
SCRIPT
"$SIM" --device port=1-1.1,mode=bootloader,leave=stuck --device port=1-1.2,mode=bootloader,leave=vanish \
       --device port=1-1.3,mode=bootloader,leave=watchdog:300 --device port=1-1.4,mode=bootloader \
       --report leave.json -- bash leave-all.sh \
       >leave-all.log 2>&1
check_eq "leave scenario script" 0 $?
check_eq "stuck: back in the bootloader, flash written" "bootloader $image_sha" \
    "$(json leave.json "d['devices'][0]['mode'] + ' ' + d['devices'][0]['image_sha256']")"
check_eq "vanish: gone, flash written" "off $image_sha" \
    "$(json leave.json "d['devices'][1]['mode'] + ' ' + d['devices'][1]['image_sha256']")"
check_eq "watchdog: the application 2.1 after the watchdog" "application 2.1" \
    "$(json leave.json "d['devices'][2]['mode'] + ' ' + d['devices'][2]['version']")"
check "dfu-util -U reads back what was written" cmp -s -n 20000 up.bin fw.bin
check "a second dfu-util on the same device claims it again and reads back" \
    cmp -s -n 4096 up4.bin fw.bin
check "and erased flash after it" bash -c "tail -c 480 up.bin | cmp -s - <(head -c 480 /dev/zero | tr '\\0' '\\377')"
finish

# Helpers for the scenarios that run in the QEMU guest (sourced after
# tests/integration/lib.sh, whose check/check_eq/finish print the TAP lines).
#
#   device_start NAME UDC SPEC      the model behind FunctionFS on UDC (dummy_udc.N, whose bus
#                                   is N+1: the device is at port "N+1-1")
#   device_stop NAME                SIGTERM: report and flash written to $T/NAME.report,
#                                   $T/NAME.flash
#   report NAME KEY                 a value of the device's end state
#   wait_usb PORT VID:PID [SECONDS] until sysfs shows that device on PORT
#   write_manifest VERSION SIZE [RULE-LINES]
#                                   /etc/stdfu/manifest.yaml: 0483:5750 gets firmware VERSION
#                                   (an image of SIZE bytes, also in $T/fw.bin)

FFS=$B/stdfu-sim-ffs
declare -A _device_pid=()

# Under TCG every fork and exec (from the 9p root) costs: the polling loops use builtins only.
# nap SECONDS sleeps by waiting on a FIFO nobody writes to.
mkfifo "$T/nap"
exec {_nap_fd}<>"$T/nap"
nap() { read -r -t "$1" -u "$_nap_fd" _ || :; }

device_start() {
    local name=$1 udc=$2 spec=$3 i
    rm -f "$T/$name.ready"
    "$FFS" --udc "$udc" --device "$spec" --report "$T/$name.report" --flash "$T/$name.flash" \
        --ready "$T/$name.ready" ${STDFU_FFS_VERBOSE:+--verbose} 2>"$T/$name.err" &
    _device_pid[$name]=$!
    for ((i = 0; i < 300; i++)); do
        [ -e "$T/$name.ready" ] && return 0
        kill -0 "${_device_pid[$name]}" 2>/dev/null || break
        nap 0.1
    done
    echo "# $name did not come up on $udc:"; sed 's/^/#   /' "$T/$name.err"
    return 1
}

device_stop() {
    local pid=${_device_pid[$1]:-} i t
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 200; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        nap 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "# $1 (pid $pid) did not stop in 20 s; its threads are in:"
        for t in /proc/$pid/task/*; do
            echo "#   ${t##*/}: $(tr '\n' ' ' <"$t/stack" 2>/dev/null | head -c 600)"
        done
        kill -KILL "$pid"
    fi
    wait "$pid" 2>/dev/null
    unset "_device_pid[$1]"
    [ -s "$T/$1.err" ] && sed 's/^/#   /' "$T/$1.err"
    return 0
}

report() {
    sed -n "s/^$2=//p" "$T/$1.report"
}

wait_usb() {
    local port=$1 want=$2 secs=${3:-30} i vid pid
    for ((i = 0; i < secs * 10; i++)); do
        vid= pid=
        read -r vid 2>/dev/null </sys/bus/usb/devices/$port/idVendor
        read -r pid 2>/dev/null </sys/bus/usb/devices/$port/idProduct
        [ "$vid:$pid" = "$want" ] && return 0
        nap 0.1
    done
    return 1
}

# flash_is IMAGE.bin FLASH: the flash holds the image at its start, erased (0xff) after it.
flash_is() {
    local size
    size=$(stat -c %s "$1")
    cmp -s -n "$size" "$1" "$2" || return 1
    [ -z "$(tail -c +$((size + 1)) "$2" | tr -d '\377' | head -c 1)" ]
}

write_manifest() {
    local etc=/etc/stdfu
    mkdir -p "$etc"
    "$SIM" mkfw --version "$1" --size "$2" --seed 7 -o "$etc/fw.bin" >/dev/null || return 1
    cp "$etc/fw.bin" "$T/fw.bin"
    cat >"$etc/manifest.yaml" <<YAML
rules:
  - name: sensor
    application:
      id: "0483:5750"
    firmware:
      file: fw.bin
      sha256: $(sha256sum "$etc/fw.bin" | cut -d' ' -f1)
      version: "$1"
      address: 0x08000000
${3:-}
YAML
}

# wait_bcd PORT BCD [SECONDS]: until the device on PORT reports that bcdDevice.
wait_bcd() {
    local i bcd
    for ((i = 0; i < ${3:-180} * 10; i++)); do
        bcd=
        read -r bcd 2>/dev/null </sys/bus/usb/devices/$1/bcdDevice
        [ "$bcd" = "$2" ] && return 0
        nap 0.1
    done
    return 1
}

_system_cleanup() {
    local rc=$? name
    for name in "${!_device_pid[@]}"; do device_stop "$name" >/dev/null; done
    (exit $rc)
    _cleanup
}
trap _system_cleanup EXIT

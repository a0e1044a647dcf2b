#!/bin/bash
# cli/stdfuctl.bash-completion: commands, global and per-command options, --bus values, and
# the device ports stdfud knows (asked with `stdfuctl status --json` on the bus the command
# line names); without a daemon no ports, and no error.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"

COMPLETION=$SRCDIR/cli/stdfuctl.bash-completion
FRAMEWORK=/usr/share/bash-completion/bash_completion
[ -e "$COMPLETION" ] || skip_all "cli/stdfuctl.bash-completion missing"
[ -e "$FRAMEWORK" ] || skip_all "bash-completion is not installed (tools/install-deps)"
[ -x "$CTL" ] || skip_all "stdfuctl is not built"

# comp WORD...: what completing the last WORD offers (one per line, sorted), as bash would
# for `stdfuctl WORD...` typed with the cursor at the end. stdfuctl is $CTL.
comp() {
    bash -c '
        . "$1"; . "$2"; shift 2
        COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
        COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
        _stdfuctl "$1" "${COMP_WORDS[-1]}" "${COMP_WORDS[-2]}"
        printf "%s\n" "${COMPREPLY[@]}" | sort' _ "$FRAMEWORK" "$COMPLETION" "$CTL" "$@" 2>&1
}
words() { tr '\n' ' ' | sed 's/ $//'; }

check "the completion file is valid bash" bash -n "$COMPLETION"
check "it registers _stdfuctl for stdfuctl" bash -c '. "$1"; . "$2"; complete -p stdfuctl |
    grep -q "_stdfuctl stdfuctl"' _ "$FRAMEWORK" "$COMPLETION"
check_eq "commands" "cancel erase flash history list read reload status update watch" "$(comp "" | words)"
check_eq "commands by prefix" "status" "$(comp st | words)"
check_eq "global options" "--bus" "$(comp --bu | words)"
check_eq "global options by prefix" "--verbose --version" "$(comp --ver | words)"
check_eq "--bus values" "session system unix:path=" "$(comp --bus "" | words)"
check_eq "update options" "--address --all" "$(comp update --a | words)"
check_eq "update's options after devices" "--wait" "$(comp update 1-1.1 --wa | words)"
check_eq "status options" "--bus --help --json" "$(comp status - | words)"
check_eq "the command after --bus" "status" "$(comp --bus system sta | words)"
mkdir -p "$T/fw"
touch "$T/fw/a.dfu" "$T/fw/b.hex" "$T/fw/notes.txt"
check_eq "--file offers firmware files" "$T/fw/a.dfu $T/fw/b.hex" \
    "$(comp update --file "$T/fw/" | words)"

command -v dbus-daemon >/dev/null || { finish; exit; }
start_bus || { finish; exit; }
check_eq "no daemon: no ports, no error" "" "$(comp --bus "$BUS" status "" | words)"
[ -x "$DAEMON" ] && [ -x "$SIM" ] || { finish; exit; }
# stdfud follows the devices its manifest names: a rule for the emulated application, whose
# devices already run its version.
sensor_manifest 1.0
SIM_ARGS=(--device port=1-1.1,profile=f072,mode=application,version=1.0
          --device port=1-1.2,profile=f072,mode=application,version=1.0)
check "stdfud starts under stdfu-sim" start_daemon || { finish; exit; }
check_eq "status offers stdfud's ports" "1-1.1 1-1.2" "$(comp --bus "$BUS" status "" | words)"
check_eq "cancel offers ports by prefix" "1-1.1 1-1.2" "$(comp --bus "$BUS" cancel 1-1 | words)"
check_eq "--bus after the command counts too" "1-1.1 1-1.2" \
    "$(comp update --bus "$BUS" "" | words)"
check_eq "without --bus: the system bus (no daemon there): nothing" "" "$(comp watch "" | words)"
finish

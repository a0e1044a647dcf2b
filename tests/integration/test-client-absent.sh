#!/bin/bash
# stdfuctl's D-Bus commands without a daemon: every command says clearly that stdfud is not
# running (exit 10), an unreachable bus is exit 10 too, bad command lines are exit 2, and every
# command has --help.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"

[ -x "$CTL" ] || skip_all "stdfuctl is not built"
command -v dbus-daemon >/dev/null || skip_all "dbus-daemon is missing"

# run NAME CMD...: exit status in $T/NAME.rc, output in $T/NAME.out and $T/NAME.err.
run() {
    local name=$1; shift
    "$@" >"$T/$name.out" 2>"$T/$name.err"
    echo $? >"$T/$name.rc"
}
rc() { cat "$T/$1.rc"; }

for cmd in status update watch cancel reload history; do
    run "help-$cmd" "$CTL" "$cmd" --help
    check_eq "$cmd --help exits 0" 0 "$(rc help-$cmd)"
    check "$cmd --help shows its usage and the exit codes" \
        grep -q "Usage: stdfuctl .*$cmd" "$T/help-$cmd.out"
    check "$cmd --help lists exit status 10" grep -q '^ 10  stdfud is not running' \
        "$T/help-$cmd.out"
done
# stdfuctl(1) documents every option the client commands' --help lists, and their exit codes.
PAGE=$SRCDIR/man/stdfuctl.1
if [ -e "$PAGE" ]; then
    sed 's/\\-/-/g' "$PAGE" >"$T/page.txt"
    for cmd in status update watch cancel reload history; do
        opts=$(grep -oE '^ +(-h, )?--[a-z][a-z-]*' "$T/help-$cmd.out" | grep -oE -- '--[a-z-]+')
        for o in $opts; do
            check "stdfuctl $cmd $o is in stdfuctl(1)" grep -qE -- "$o([^a-z-]|\$)" "$T/page.txt"
        done
    done
    for code in 10 11 12 13; do
        check "exit status $code is in stdfuctl(1)" grep -qx "\.B $code" "$T/page.txt"
    done
fi
run help "$CTL" --help
check "stdfuctl --help lists the client commands and --bus" \
    bash -c 'for c in status update watch cancel reload history; do
                 grep -q "^  $c " "$1" || exit 1; done; grep -q -- "--bus" "$1"' _ "$T/help.out"

start_bus || skip_all "cannot start dbus-daemon"
expected="stdfuctl: stdfud is not running on the bus $BUS (io.stdfu1 not found)"
for args in "status" "status --json" "history" "reload" "cancel 1-1.1" "update 1-1.1" \
            "update --all" "update --wait 1-1.1" "watch"; do
    name=absent-${args// /_}
    run "$name" timeout 20 "$CTL" --bus "$BUS" $args
    check_eq "'$args' without stdfud exits 10" 10 "$(rc "$name")"
    check_eq "'$args' without stdfud says so" "$expected" "$(cat "$T/$name.err")"
done
check "nothing on stdout when stdfud is absent (status)" test ! -s "$T/absent-status.out"

run after-cmd timeout 20 "$CTL" status --bus "$BUS"
check_eq "--bus after the command works too" 10 "$(rc after-cmd)"

run nobus "$CTL" --bus "unix:path=$T/no-such-socket" status
check_eq "an unreachable bus exits 10" 10 "$(rc nobus)"
check "an unreachable bus is named in the message" grep -q "Cannot connect to the bus unix:path=" \
    "$T/nobus.err"

# Bad command lines: exit 2, with the reason.
usage() {  # NAME EXPECTED-TEXT ARGS...
    local name=$1 text=$2; shift 2
    run "$name" "$CTL" "$@"
    check_eq "usage: stdfuctl $* exits 2" 2 "$(rc "$name")"
    check "usage: stdfuctl $* says '$text'" grep -qF -- "$text" "$T/$name.err"
}
usage bad-bus "--bus needs system, session or a D-Bus address" --bus nonsense status
usage empty-bus "--bus needs system, session or a D-Bus address" --bus "" status
usage update-none "which device?" update
usage update-both "give devices or --all, not both" update --all 1-1.1
usage update-file-all "--file needs the devices named" update --all --file /dev/null
usage update-version "--version only goes with --file" update --version 1.2 1-1.1
usage update-address "is not an address" update --file x --address nowhere 1-1.1
usage cancel-none "which device?" cancel
usage cancel-two "one device at a time" cancel 1-1.1 1-1.2
usage reload-arg "unexpected argument 'x'" reload x
usage status-opt "unrecognized option" status --bogus

run nofile "$CTL" --bus "$BUS" update --file "$T/missing.dfu" 1-1.1
check_eq "update --file with a missing file exits 3 before asking stdfud" 3 "$(rc nofile)"
check "the missing file is named" grep -qF "Cannot open the firmware file $T/missing.dfu" \
    "$T/nofile.err"
run dirfile "$CTL" --bus "$BUS" update --file "$T" 1-1.1
check_eq "update --file with a directory exits 3" 3 "$(rc dirfile)"
finish

#!/bin/bash
# stdfuctl read and erase refuse a wrong command line before they look for a device: exit
# status 2 and one line that names what is wrong (cli_access_parse() and each command's own
# check, in that order).
. "$(dirname "$0")/lib.sh"

requires stdfuctl

# usage WHAT EXPECTED-MESSAGE ARGS...: exit 2, the message on standard error, nothing done.
usage() {
    local what=$1 msg=$2 rc=0
    shift 2
    timeout 10 "$CTL" "$@" >"$T/out" 2>"$T/err" </dev/null || rc=$?
    check_eq "$what: exit 2" 2 "$rc"
    check "$what: says '$msg'" grep -qF -- "$msg" "$T/err"
}

usage "read without -o" "no output file given (-o FILE)" read --port 1-1.4
usage "read without --port" "no --port given" read -o "$T/x.bin"
usage "read, --address without --size" "give --address and --size together" \
    read --port 1-1.4 --address 0x08000000 -o "$T/x.bin"
usage "read, an extra argument" "unexpected argument 'extra'" read --port 1-1.4 -o x extra
usage "read, a bad port" "--port 'zz' is not a USB port path" read --port zz -o x
usage "read, a bad alt" "--alt '300' is not an alt setting" read --port 1-1.4 --alt 300 -o x
usage "read, a bad size" "--size '0' is not a number of bytes" read --port 1-1.4 --size 0 -o x
usage "read, an unknown option" "unrecognized option '--all'" read --port 1-1.4 --all -o x
usage "erase, neither --all nor a range" "give either --all or --address and --size" \
    erase --port 1-1.4
usage "erase, --all and a range" "give either --all or --address and --size" \
    erase --port 1-1.4 --all --size 2048
usage "erase, --size without --address" "give --address and --size together" \
    erase --port 1-1.4 --size 2048
usage "erase without --port" "no --port given" erase --all
usage "erase, an unknown option" "unrecognized option '--output'" erase --port 1-1.4 --output x
usage "erase, a bad enter method" "unknown enter method 'magic'" erase --all --enter magic

for cmd in read erase; do
    "$CTL" "$cmd" --help >"$T/help" 2>&1
    check_eq "$cmd --help: exit 0" 0 "$?"
    check "$cmd --help: its usage" grep -q "^Usage: stdfuctl $cmd --port PATH" "$T/help"
done
finish

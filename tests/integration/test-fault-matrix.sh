#!/bin/bash
# The fault matrix (issue 10): every emulator fault of fault-matrix.tsv (transient and
# persistent) at every phase it can hit (enter, erase, write, verify, leave, wait for the
# application), through both front doors (stdfuctl flash, a stdfud job), on f072 and f407; and
# stdfud's own faults at each phase (SIGKILL + restart, Cancel, the device unplugged and
# replugged within a second, a damaged job record (empty, half, garbage, a directory, a symlink,
# too big), a full state directory and then SIGKILL). Each cell asserts
# the device's end state from stdfu-sim's report: its application runs the target, or it is in
# a documented state (fault-matrix.py lists them); never a device without its application that
# nothing will retry. Cells share emulator runs (up to 23 devices, one per port), one stdfud run
# updates a whole batch at once. The matrix is printed at the end as TAP comments.
#
# STDFU_MATRIX_SLICE=REGEX runs only the cells whose name (PROFILE/DOOR/PHASE/FAULT) matches;
# the sanitizer build runs the slice STDFU_MATRIX_ASAN_SLICE of tests/integration/integration.mk.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon-lib.sh"

requires stdfud stdfuctl stdfu-sim busctl dbus-daemon gdbus python3

HERE=$(cd "$(dirname "$0")" && pwd)
FM=$HERE/fault-matrix.py
mkdir -p "$ETC" "$T/plan"
"$SIM" mkfw --version 2.0 --size 20480 --seed 3 -o "$ETC/fw.bin" >/dev/null
python3 "$FM" plan "$HERE/fault-matrix.tsv" "$T/plan" "${STDFU_MATRIX_SLICE:-}" >"$T/batches"
[ -s "$T/batches" ] || skip_all "no cell matches STDFU_MATRIX_SLICE=${STDFU_MATRIX_SLICE:-}"

# Short waits: the matrix must take minutes. retry-delay 1 s so that a retry-wait ends in time
# to be seen ending.
sensor_manifest_for_image 2.0 "    timeouts:
      leave: 4
      grace: 3" "settings:
  max-parallel-jobs: 23
  retry-delay: 1
  retry-delay-max: 2"

start_bus || skip_all "cannot start dbus-daemon"

# ctl_batch BATCH RESULTS: stdfuctl flash on each device of the batch, 6 at a time, in one
# emulator run; RESULTS gets "PORT<TAB>EXIT".
ctl_batch() {
    local batch=$1 out=$2 devs=() port
    while IFS=$'\t' read -r _ _ port dev _; do devs+=(--device "$dev"); done <"$batch"
    cut -f3 "$batch" >"$T/ports"
    "$SIM" --hub ppps --hub ppps "${devs[@]}" --report "$batch.report" -- \
        bash -c 'xargs -P 6 -I{} sh -c "\"$0\" flash \"$1\" --address 0x08000000 --port {} \
                    >\"$2/ctl-{}.log\" 2>&1; echo \"{}	\$?\" >>\"$3\"" "$@" <"$4"' \
        "$CTL" "$ETC/fw.bin" "$T" "$out" "$T/ports" >>"$T/sim.log" 2>&1
}

# result_line PORT [STATE]: "PORT<TAB>STATE<TAB>1 if its job record is kept<TAB>MODE<TAB>VERSION
# <TAB>plugged|unplugged": STATE as just seen (read now when not given), the device as the
# emulator sees it at the same moment (a device whose attempts go on may end up elsewhere by
# the end of the run).
result_line() {
    local s=${2:-} dev
    dev=$(sim_ctl status 2>/dev/null | awk -v p="$1" '$1 == p { print $3 "\t" $4 "\t" $5 }')
    [ -n "$s" ] || s=$(dprop "$1" State 2>/dev/null | sed 's/^s "\(.*\)"$/\1/')
    printf '%s\t%s\t%s\t%s\n' "$1" "${s:-absent}" \
        "$([ -e "$STATE/jobs/$1" ] && echo 1 || echo 0)" "${dev:-?}"
}

# daemon_results BATCH RESULTS: each device's result, taken as soon as its State has settled
# (each port on its own: devices whose attempts keep failing never rest all at once):
#   - a state a job rests in (done, failed, needs-power-cycle, cancelled, idle, no-rule,
#     retry-wait) with the same attempt at two looks 3 s apart (a retry-wait of 1 s ends in
#     between, so a transient fault's next attempt is seen);
#   - retry-wait again after a later attempt, or retry-wait at all once two attempts ended:
#     its job keeps failing and is kept to retry (the fault is persistent; the daemon ended
#     the attempt within its retries).
# At most 150 s; a device not settled by then is taken as it is.
daemon_results() {
    local out=$2 end=$((SECONDS + 150)) port s a left still
    declare -A key since rw_attempt
    left=$(cut -f3 "$1")
    : >"$out"
    while [ -n "$left" ] && [ $SECONDS -lt $end ]; do
        still=
        for port in $left; do
            s=$(dprop "$port" State 2>/dev/null | sed 's/^s "\(.*\)"$/\1/')
            a=$(dprop "$port" Attempt 2>/dev/null | sed 's/^u //')
            case $s in
                done | failed | needs-power-cycle | cancelled | idle | no-rule | retry-wait)
                    if [ "$s" = retry-wait ] && [ -n "${rw_attempt[$port]:-}" ] &&
                        [ "${a:-0}" -gt "${rw_attempt[$port]}" ]; then
                        result_line "$port" "$s" >>"$out"; continue
                    fi
                    [ "$s" = retry-wait ] && [ -z "${rw_attempt[$port]:-}" ] && rw_attempt[$port]=${a:-0}
                    if [ "${key[$port]:-}" = "$s/$a" ]; then
                        if [ $((SECONDS - since[$port])) -ge 3 ]; then
                            result_line "$port" "$s" >>"$out"; continue
                        fi
                    else
                        key[$port]=$s/$a since[$port]=$SECONDS
                    fi ;;
                *) key[$port]=
                   # Two attempts ended already: one whose attempts keep failing. Sampled
                   # with the others it may be caught mid-attempt every time; watched closely,
                   # its next retry-wait is seen (or, should it go on, the next looks).
                   if [ "${a:-0}" -ge 3 ] && wait_for 15 state_is "$port" retry-wait; then
                       result_line "$port" retry-wait >>"$out"; continue
                   fi ;;
            esac
            still="$still $port"
        done
        left=$still
        [ -n "$left" ] && sleep 1
    done
    for port in $left; do result_line "$port" >>"$out"; done
}

# daemon_batch BATCH GROUP RESULTS: stdfud updates every device of the batch at once; own
# faults are done at their phase by fault-matrix.py watch.
daemon_batch() {
    local batch=$1 group=$2 out=$3 port dev phase spec actions=()
    STATE=$T/state-$(basename "$batch" .tsv)
    mkdir -p "$STATE/jobs"
    SIM_ARGS=(--hub ppps --hub ppps --control "$T/ctl.sock" --report "$batch.report")
    while IFS=$'\t' read -r _ _ port dev phase _ spec _; do
        SIM_ARGS+=(--device "$dev")
        case $spec in
            kill | cancel | unplug) actions+=("$port=$phase=$spec") ;;
            full) actions+=("$port=$phase=kill") ;;  # a crash with no journal to resume from
            record:empty) : >"$STATE/jobs/$port" ;;
            record:half) printf 'stdfu-job 2\nport=%s\nph' "$port" >"$STATE/jobs/$port" ;;
            record:garbage) head -c 700 /dev/urandom >"$STATE/jobs/$port" ;;
            record:directory) mkdir "$STATE/jobs/$port" ;;
            record:symlink) ln -s "$ETC/manifest.yaml" "$STATE/jobs/$port" ;;
            record:huge) { echo "stdfu-job 2"; head -c 70000 /dev/zero | tr '\0' x; } >"$STATE/jobs/$port" ;;
        esac
    done <"$batch"
    rm -f "$T/ctl.sock"
    if [ "$group" = own-full ]; then
        # A state directory with no room left: a 64 KiB tmpfs, filled before the update starts.
        mount -t tmpfs -o size=64k tmpfs "$STATE" 2>/dev/null || return 77
        mkdir -p "$STATE/jobs"
    fi
    # Subscribed before stdfud starts: no phase is missed.
    if [ ${#actions[@]} -gt 0 ]; then
        gdbus_monitor "$batch.fifo" --dest io.stdfu1
        python3 -u "$FM" watch "$BUS" "$T/ctl.sock" "${actions[@]}" \
            <"$batch.fifo" >"$batch.watch" 2>&1 &
        EXTRA_PIDS+=($!)
        wait_for 20 grep -q monitoring "$batch.watch"
    fi
    if [ "$group" = own-full ]; then
        # Full before stdfud starts, with room for nothing but its lock (an empty file).
        : >"$STATE/lock"
        head -c 1M /dev/zero >"$STATE/filler" 2>/dev/null
    fi
    local started=0
    if [ "$group" = own-kill ] || [ "$group" = own-full ]; then
        start_daemon_supervised && started=1
    else
        start_daemon && started=1
    fi
    if [ $started = 0 ]; then
        [ "$group" = own-full ] && umount "$STATE"
        return 1
    fi
    sleep 5
    daemon_results "$batch" "$out"
    stop_daemon
    if [ "$group" = own-full ]; then umount "$STATE"; fi
    return 0
}

# retry_not_struck BATCH GROUP: a stdfud fault at a phase can miss its cell: the kill of another
# cell of the batch may land in the middle of that phase before its State was signalled, and
# the restarted daemon finds the device past it. Those cells run once more, in a batch of their
# own; their second verdict is the one that counts.
retry_not_struck() {
    local b=$1 group=$2 r=${1%.tsv}-again.tsv
    [ "$group" != emu-ctl ] || return 0
    awk -F'\t' 'NR == FNR { if ($3 == "NOT-STRUCK") again[$2] = 1; next } again[$2]' \
        "$b.verdicts" "$b" >"$r"
    [ -s "$r" ] || return 0
    echo "# $(wc -l <"$r") cell(s) of $(basename "$b") not struck at their phase: once more"
    : >"${r%.tsv}.results"
    daemon_batch "$r" "$group" "${r%.tsv}.results" && [ -s "$r.report" ] || return 0
    python3 "$FM" judge "$r" "$r.report" "${r%.tsv}.results" "$r.watch" >"$r.verdicts"
    awk -F'\t' '$3 != "NOT-STRUCK"' "$b.verdicts" >"$b.verdicts.new"
    cat "$r.verdicts" >>"$b.verdicts.new"
    mv "$b.verdicts.new" "$b.verdicts"
}

verdicts=()
while read -r batch group; do
    b=$T/plan/$batch
    res=$T/plan/${batch%.tsv}.results
    : >"$res"
    case $group in
        emu-ctl) ctl_batch "$b" "$res" ;;
        *) daemon_batch "$b" "$group" "$res"; rc=$?
           if [ $rc -eq 77 ]; then
               while IFS=$'\t' read -r _ cell _; do
                   _tap_n=$((_tap_n + 1))
                   echo "ok $_tap_n - $cell # SKIP cannot mount a small tmpfs for a full state directory"
               done <"$b"
               continue
           fi ;;
    esac
    if [ ! -s "$b.report" ]; then
        check "$batch ($group): stdfu-sim wrote its report" false
        continue
    fi
    python3 "$FM" judge "$b" "$b.report" "$res" "$b.watch" >"$b.verdicts"
    retry_not_struck "$b" "$group"
    verdicts+=("$b.verdicts")
    while IFS=$'\t' read -r verdict cell end why todo; do
        _tap_n=$((_tap_n + 1))
        case $verdict in
            PASS) echo "ok $_tap_n - $cell: $end ($why)" ;;
            FIXED) echo "ok $_tap_n - $cell: $end ($why)"
                   echo "# $cell passed this run despite its known reason: clear the reason in fault-matrix.tsv once it passes every run" ;;
            TODO) echo "ok $_tap_n - $cell: $end ($why) # SKIP known: $todo" ;;
            *) echo "not ok $_tap_n - $cell: $end ($why)"; _tap_failed=$((_tap_failed + 1)) ;;
        esac
    done <"$b.verdicts"
done <"$T/batches"

echo "# The fault matrix (end state of each cell; FAIL/TODO: a device left stranded)"
[ ${#verdicts[@]} -gt 0 ] && python3 "$FM" table "${verdicts[@]}"
finish

#!/bin/bash
# The fuzz targets (fuzz/, `make fuzz-targets`): each one replays its seed corpus, every input
# and every regression input there without a crash, then runs a fixed number of fuzzed inputs
# (fixed seed, so a run is the same run each time). `make fuzz` runs them for longer.
. "$(dirname "$0")/lib.sh"

RUNS=${STDFU_FUZZ_RUNS:-3000}
targets="image-dfuse image-suffix image-hex image-detect layout hid-descriptor manifest journal"

[ -d "$B/fuzz" ] || skip_all "fuzz targets not built in $STDFU_BUILD (make fuzz-targets; needs clang)"

for t in $targets; do
    bin=$B/fuzz/fuzz-$t
    corpus=$SRCDIR/fuzz/corpus/$t
    check "$t: built" test -x "$bin"
    [ -x "$bin" ] || continue
    check "$t: has a seed corpus" test -n "$(ls -A "$corpus" 2>/dev/null)"
    # Every file of the corpus, as it is (seeds and regression inputs).
    rc=0
    "$bin" -runs=0 "$corpus" </dev/null >"$T/$t-replay.log" 2>&1 || rc=$?
    check_eq "$t: the corpus replays without a crash" 0 "$rc"
    [ "$rc" = 0 ] || tail -20 "$T/$t-replay.log" | sed 's/^/#   /'
    # New inputs go to a scratch directory, never into the tree.
    mkdir -p "$T/$t-new"
    rc=0
    "$bin" -runs="$RUNS" -seed=1 -max_len=16384 -timeout=20 -artifact_prefix="$T/$t-" \
        "$T/$t-new" "$corpus" </dev/null >"$T/$t-fuzz.log" 2>&1 || rc=$?
    check_eq "$t: $RUNS fuzzed inputs without a crash" 0 "$rc"
    [ "$rc" = 0 ] || tail -30 "$T/$t-fuzz.log" | sed 's/^/#   /'
done

finish

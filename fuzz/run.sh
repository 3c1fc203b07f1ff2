#!/usr/bin/env bash
# run.sh [SECONDS] -- fuzzes every driver listed in fuzz/replay.sh for SECONDS each (default 60).
# The corpus grows in a temporary directory seeded from fuzz/corpus/<name>/ (the checked-in seeds
# are never modified); crash files found are printed at the end. Exits non-zero when any were.
# Copy an interesting new input into fuzz/corpus/<name>/ by hand to keep it as a seed.
set -u

secs=${1:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2
work=$(mktemp -d "${TMPDIR:-/tmp}/tether-fuzz.XXXXXX")

if ! fuzz/replay.sh --build-only "$work/build" >"$work/build.log"; then
    cat "$work/build.log"
    exit 1
fi

crashes=0
for bin in "$work"/build/fuzz/fuzz_*; do
    [ -x "$bin" ] || continue
    name=${bin##*/fuzz_}
    mkdir -p "$work/corpus/$name" "$work/crashes/$name"
    "$bin" -max_total_time="$secs" -print_final_stats=1 \
        -artifact_prefix="$work/crashes/$name/" \
        "$work/corpus/$name" "fuzz/corpus/$name" >"$work/$name.log" 2>&1
    found=$(find "$work/crashes/$name" -type f | wc -l)
    execs=$(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$work/$name.log" |
        grep -o '[0-9]*$')
    grown=$(find "$work/corpus/$name" -type f | wc -l)
    echo "$name: ${execs:-?} runs, $grown new corpus files, $found crash files"
    crashes=$((crashes + found))
done

if [ "$crashes" -gt 0 ]; then
    echo "crash files:"
    find "$work/crashes" -type f | sed 's/^/  /'
fi
echo "work dir: $work"
[ "$crashes" -eq 0 ]

#!/usr/bin/env bash
# The long fuzzing run: every libFuzzer target of a fuzz build for SECONDS each, JOBS at a time,
# each on its own corpus (kept in WORK_DIR between runs), then a summary: per target the CPU
# seconds, inputs run, corpus size and crashes. The README reports the last long run.
#   CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCDC_FUZZ=ON -DBUILD_TESTING=OFF && cmake --build build-fuzz
#   tests/fuzz/run-long.sh build-fuzz SECONDS [JOBS] [WORK_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$1" && pwd)
secs=$2
jobs=${3:-$(nproc)}
work=${4:-$build/fuzz-long}
mkdir -p "$work/logs"
names=(pgoutput binlog event json config cli)
running=0
for name in "${names[@]}"; do
    (bash "$here/run.sh" "$build/tests/fuzz/fuzz_$name" "$name" "$secs" "$work" \
        >"$work/logs/$name.log" 2>&1 && echo ok >"$work/logs/$name.rc" || echo "failed $?" >"$work/logs/$name.rc") &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait
status=0
printf '%-9s %9s %14s %8s %7s\n' target cpu_s inputs corpus crashes
for name in "${names[@]}"; do
    log=$work/logs/$name.log
    execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    corpus=$(find "$work/corpus/$name" -type f | wc -l)
    crashes=$(find "$work/crashes/$name" -type f | wc -l)
    printf '%-9s %9s %14s %8s %7s\n' "$name" "$secs" "${execs:-0}" "$corpus" "$crashes"
    [ "$(cat "$work/logs/$name.rc")" = ok ] || status=1
done
exit $status

#!/usr/bin/env bash
# The long fuzzing run: every libFuzzer target of a fuzz build for CPU_SECONDS of CPU time each
# (not wall time: the run may share the machine, at a lower priority, with other work), JOBS at a
# time, each on its own corpus (kept in WORK_DIR between runs), then a summary: per target the CPU
# seconds, inputs run, corpus size and crashes. The README reports the last long run.
#   CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCDC_FUZZ=ON -DBUILD_TESTING=OFF && cmake --build build-fuzz
#   tests/fuzz/run-long.sh build-fuzz CPU_SECONDS [JOBS] [WORK_DIR] [TARGET...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$1" && pwd)
secs=$2
jobs=${3:-$(nproc)}
work=${4:-$build/fuzz-long}
shift $(($# < 4 ? $# : 4))
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(pgoutput binlog event json config cli)
mkdir -p "$work/logs"
tick=$(getconf CLK_TCK)

# CPU seconds (user + system) a process has used so far, 0 once it is gone.
cpu_of() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
    stat=${stat##*) }
    set -- $stat
    echo $(((${12} + ${13}) / tick))
}

# One target until it has used $secs of CPU: libFuzzer's own limit is wall time, so it gets a
# generous one and is interrupted (it prints its final stats then) when the budget is spent.
run_one() {
    local name=$1 pid used=0 rc=0
    bash "$here/run.sh" "$build/tests/fuzz/fuzz_$name" "$name" $((secs * 50)) "$work" &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        used=$(cpu_of "$pid")
        if [ "$used" -ge "$secs" ]; then
            kill -INT "$pid"
            break
        fi
        sleep 5
    done
    wait "$pid" || rc=$?
    echo "$used" >"$work/logs/$name.cpu"
    # 72: libFuzzer's exit code when interrupted, which is how a run that spent its budget ends
    [ "$rc" -eq 0 ] || [ "$rc" -eq 72 ]
}

running=0
for name in "${names[@]}"; do
    (run_one "$name" >"$work/logs/$name.log" 2>&1 && echo ok >"$work/logs/$name.rc" ||
        echo "failed $?" >"$work/logs/$name.rc") &
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
    printf '%-9s %9s %14s %8s %7s\n' "$name" "$(cat "$work/logs/$name.cpu")" "${execs:-0}" "$corpus" "$crashes"
    [ "$(cat "$work/logs/$name.rc")" = ok ] || status=1
done
exit $status

#!/usr/bin/env bash
# Runs one libFuzzer target of tests/fuzz/ for a fixed time:
#   tests/fuzz/run.sh TARGET NAME SECONDS [WORK_DIR]
# Its corpus grows in WORK_DIR/corpus/NAME (default WORK_DIR: fuzz-work beside the target), seeded
# from the fixtures (tests/fuzz/seeds.py); the inputs under tests/fuzz/regressions/NAME (every
# crash found so far) run first. A crash leaves its input in WORK_DIR/crashes/NAME and fails the
# run; copy it to tests/fuzz/regressions/NAME once fixed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
target=$1 name=$2 secs=$3
work=${4:-$(dirname "$target")/fuzz-work}
mkdir -p "$work/corpus/$name" "$work/seeds/$name" "$work/crashes/$name"
python3 "$here/seeds.py" "$name" "$work/seeds/$name"
dirs=("$work/corpus/$name" "$work/seeds/$name")
[ -d "$here/regressions/$name" ] && dirs+=("$here/regressions/$name")
exec "$target" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$work/crashes/$name/" "${dirs[@]}"

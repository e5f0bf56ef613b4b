#!/usr/bin/env bash
# The README's test command runs the tests whatever the build cache holds: after the quickstart
# configured build/ without tests, tests/run-all.sh configures them again (before, ctest found no
# tests and the run passed), and ctest refuses a tree without tests.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/harness/assert.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=$(cd "$here/.." && pwd)
cmake -S "$root" -B "$tmp/build" -DBUILD_TESTING=OFF >/dev/null # what the quickstart leaves
run ctest --test-dir "$tmp/build" --no-tests=error
assert_eq 8 "$rc" "ctest refuses a tree without tests" # ctest's exit code for 'No tests were found'
CDC_BUILD_ROOT=$tmp bash "$root/tests/run-all.sh" --configure-only
for variant in build build-asan; do
    n=$(ctest --test-dir "$tmp/$variant" -N | sed -n 's/^Total Tests: //p')
    [ "${n:-0}" -gt 40 ] && ok || bad "$variant: tests configured after a cache without them (got ${n:-0})"
done
finish

#!/usr/bin/env bash
# Installs what is needed, builds cdc-agent twice (warnings as errors; then ASan + UBSan), and runs
# every unit and integration test with ctest in both builds. Integration tests start their own
# PostgreSQL, MariaDB and mock Kafka on free loopback ports and stop them on exit.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=${JOBS:-2}
"$root/deploy/install-deps.sh"

cleanup() {
    for b in "$root"/build "$root"/build-asan; do
        [ -d "$b/harness" ] && "$root/tests/harness/servers.sh" stop "$b/harness" >/dev/null 2>&1 || true
    done
}
trap cleanup EXIT INT TERM

echo "== format check (clang-format)"
mapfile -t sources < <(cd "$root" && git ls-files '*.c' '*.h' 2>/dev/null || find agent connectors include tests -name '*.[ch]')
(cd "$root" && clang-format --dry-run --Werror "${sources[@]}")

status=0
for variant in build build-asan; do
    flags=(-DCDC_WERROR=ON)
    [ "$variant" = build-asan ] && flags+=(-DCDC_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
    echo "== $variant: configure and build"
    cmake -S "$root" -B "$root/$variant" "${flags[@]}" >/dev/null
    cmake --build "$root/$variant" -j "$jobs"
    echo "== $variant: ctest"
    ctest --test-dir "$root/$variant" -j "$jobs" --output-on-failure || status=1
done
exit $status

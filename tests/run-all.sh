#!/usr/bin/env bash
# Installs what is needed, builds cdc-agent twice (warnings as errors; then ASan + UBSan), and runs
# every unit and integration test with ctest in both builds. Integration tests start their own
# PostgreSQL, MariaDB and mock Kafka on free loopback ports and stop them on exit. Then builds the
# libFuzzer targets with clang (tests/fuzz/) and runs each for CDC_FUZZ_SECONDS (default 20) on
# its corpus.
#   tests/run-all.sh                   everything
#   tests/run-all.sh --configure-only  only configure both build trees (tests/integration/test_command.sh)
# CDC_BUILD_ROOT puts the build trees elsewhere (default: the repository).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
builds=${CDC_BUILD_ROOT:-$root}
jobs=${JOBS:-2}

# Tests are configured whatever an earlier configure left in the cache (the quickstart builds
# without them): a run that built no test must not pass.
configure() { # variant
    local flags=(-DCDC_WERROR=ON -DBUILD_TESTING=ON)
    [ "$1" = build-asan ] && flags+=(-DCDC_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
    cmake -S "$root" -B "$builds/$1" "${flags[@]}" >/dev/null
}
if [ "${1:-}" = --configure-only ]; then
    for variant in build build-asan; do configure "$variant"; done
    exit 0
fi

"$root/deploy/install-deps.sh"

cleanup() {
    for b in "$builds"/build "$builds"/build-asan; do
        [ -d "$b/harness" ] && "$root/tests/harness/servers.sh" stop "$b/harness" >/dev/null 2>&1 || true
    done
}
trap cleanup EXIT INT TERM

echo "== format check (clang-format)"
mapfile -t sources < <(cd "$root" && git ls-files '*.c' '*.h' '*.cc' 2>/dev/null || find agent connectors include tests -name '*.[ch]' -o -name '*.cc')
(cd "$root" && clang-format --dry-run --Werror "${sources[@]}")

status=0
for variant in build build-asan; do
    echo "== $variant: configure and build"
    configure "$variant"
    cmake --build "$builds/$variant" -j "$jobs"
    echo "== $variant: ctest"
    # a test that fails is run once more; its first failure stays in the output (docs/testing.md lists
    # the known intermittent ones)
    ctest --test-dir "$builds/$variant" -j "$jobs" --output-on-failure --no-tests=error \
        --repeat until-pass:2 || status=1
done
echo "== build-fuzz: configure and build (clang, libFuzzer)"
CC=clang CXX=clang++ cmake -S "$root" -B "$builds/build-fuzz" -DCDC_FUZZ=ON -DBUILD_TESTING=OFF \
    -DCMAKE_BUILD_TYPE=Debug -DCDC_WERROR=ON -DCDC_FUZZ_SECONDS="${CDC_FUZZ_SECONDS:-20}" >/dev/null
cmake --build "$builds/build-fuzz" -j "$jobs"
echo "== build-fuzz: each target for ${CDC_FUZZ_SECONDS:-20} s"
ctest --test-dir "$builds/build-fuzz" -j "$jobs" --output-on-failure --no-tests=error || status=1
exit $status

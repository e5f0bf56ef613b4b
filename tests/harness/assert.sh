# Assertions for shell integration tests (sourced). Each test script ends with `finish`, which
# prints "N passed, N failed" and exits non-zero on any failure.
passed=0
failed=0

ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

assert_eq() { # expected actual what
    if [ "$1" = "$2" ]; then ok; else bad "$3: expected '$1', got '$2'"; fi
}
assert_contains() { # haystack needle what
    case $1 in *"$2"*) ok ;; *) bad "$3: '$2' not found in: $1" ;; esac
}
assert_not_contains() { # haystack needle what
    case $1 in *"$2"*) bad "$3: '$2' must not appear in: $1" ;; *) ok ;; esac
}
# Runs a command, capturing combined output in $out and exit status in $rc.
run() {
    set +e
    out=$("$@" 2>&1)
    rc=$?
    set -e
}
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" = 0 ]
}
load_harness_env() {
    [ -f "$CDC_HARNESS_DIR/env" ] || { echo "no harness servers: $CDC_HARNESS_DIR/env missing" >&2; exit 1; }
    set -a
    . "$CDC_HARNESS_DIR/env"
    set +a
}

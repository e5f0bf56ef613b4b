# Helpers for the benchmarks (sourced). Runs are watched by reading the agent's log from a pipe as
# it comes, never by polling: on two cores a loop that forks grep / awk / sleep a hundred times a
# second takes CPU from the very run it measures (the sink benchmark ran 40% slower that way).

. "$(dirname "${BASH_SOURCE[0]}")/../harness/lib.sh"

# Starts COMMAND... in the background, its output appended to LOG through a pipe, and reads it line
# by line until DONE (a function, given each line) returns 0; $run_pid is the process. Returns 1
# when the process ends first.
run_until() { # log done command...
    local log=$1 done_fn=$2 line fifo
    shift 2
    fifo=$(mktemp -u)
    mkfifo "$fifo"
    "$@" >"$fifo" 2>&1 &
    run_pid=$!
    exec 7<"$fifo"
    rm -f "$fifo"
    while IFS= read -r line <&7; do
        printf '%s\n' "$line" >>"$log"
        "$done_fn" "$line" && return 0
    done
    return 1
}

# After run_until: stops the process (SIGTERM) and keeps the rest of its output in LOG.
run_stop() { # log
    kill -TERM "$run_pid"
    cat <&7 >>"$1"
    exec 7<&-
    wait "$run_pid" || true
}

# Starts the Kafka a benchmark publishes to, sets $boot and creates the "NAME PARTITIONS" topics:
# librdkafka's mock cluster in its own process (default), or with BENCH_KAFKA=real a real Apache
# Kafka broker (tests/harness/kafka.sh, in $work/kafka; bench_kafka_stop stops it). Needs $root,
# $build and $work.
bench_kafka() { # topic-spec...
    local t
    if [ "${BENCH_KAFKA:-mock}" = real ]; then
        CDC_KAFKA_OWNER_PID=$$ "$root/tests/harness/kafka.sh" start "$work/kafka" >/dev/null
        boot=$(. "$work/kafka/kafka.env" && echo "$CDC_TEST_KAFKA_BOOTSTRAP")
        for t in "$@"; do
            # shellcheck disable=SC2086
            "$build/tests/cdc-kafka-admin" "$boot" create $t
        done
        return
    fi
    mock_kafka_start "$build/tests/cdc-mock-kafka" "$@"
}
bench_kafka_stop() {
    [ "${BENCH_KAFKA:-mock}" != real ] || "$root/tests/harness/kafka.sh" stop "$work/kafka" >/dev/null 2>&1 || true
}
# What the benchmark runs on, for its report.
bench_kafka_name() {
    [ "${BENCH_KAFKA:-mock}" = real ] && echo "a real Kafka broker at $boot" || echo "the mock Kafka cluster (3 brokers, own process)"
}

# The Kafka ceiling for the records of TOPIC at $boot: cdc-bench-produce sends them again from
# memory, with the agent's producer settings and transaction sizes, to CEIL (a topic with as many
# partitions); prints "rows/s cpu-seconds" (first send to last commit). Needs $build and $work.
kafka_ceiling() { # topic ceil-topic
    local n
    "$build/tests/cdc-topic-dump" "$boot" "$1" >"$work/records"
    n=$(wc -l <"$work/records")
    "$build/tests/cdc-bench-produce" "$boot" "$2" "$work/records" | tr '=' ' ' |
        awk -v n="$n" '{printf "%d %s\n", n / $4, $6}'
}

# Starts the database servers a benchmark needs ("pg", "my" or both) in $work/h, and at exit
# stops them, every agent started with a config in $work, the process $bench_kill_pid (when set),
# the benchmark's Kafka, and removes $work. Exports their passwords (PGPASSWORD, MYPW; PGTZ=UTC)
# and defines pg (psql on cdc_test, or $DB) and my (mariadb on cdc_test). Needs $root and $work.
bench_servers() { # pg | my ...
    bench_list="$*"
    trap bench_cleanup EXIT
    local s
    for s in $bench_list; do
        case $s in
        pg) "$root/tests/harness/pg.sh" start "$work/h" >/dev/null && . "$work/h/pg.env" ;;
        my) "$root/tests/harness/mariadb.sh" start "$work/h" >/dev/null && . "$work/h/mariadb.env" ;;
        esac
    done
    export PGPASSWORD=${CDC_TEST_PG_PASSWORD:-} PGTZ=UTC MYPW=${CDC_TEST_MYSQL_PASSWORD:-}
}
bench_cleanup() {
    pkill -9 -f "cdc-agent run -c $work" 2>/dev/null || true
    [ -z "${bench_kill_pid:-}" ] || kill -9 "$bench_kill_pid" 2>/dev/null || true
    bench_kafka_stop
    [[ " $bench_list " != *" pg "* ]] || "$root/tests/harness/pg.sh" stop "$work/h" >/dev/null 2>&1 || true
    [[ " $bench_list " != *" my "* ]] || "$root/tests/harness/mariadb.sh" stop "$work/h" >/dev/null 2>&1 || true
    rm -rf "$work"
}
pg() { psql -q -h 127.0.0.1 -p "$CDC_TEST_PG_PORT" -U cdc -d "${DB:-cdc_test}" -v ON_ERROR_STOP=1 "$@"; }
my() { mariadb --no-defaults -h 127.0.0.1 -P "$CDC_TEST_MYSQL_PORT" -u cdc -p"$MYPW" cdc_test "$@"; }

#!/usr/bin/env bash
# MariaDB source benchmark (not a timed test). In one run, on the same 200k-row transaction:
#  - mariadb-binlog --read-from-remote-server -v --base64-output=DECODE-ROWS to /dev/null: a
#    client decoding every row, the ceiling for reading the binlog;
#  - cdc-agent publishing to a mock Kafka cluster in its own process (transactions on, lz4);
#  - cdc-bench-produce (tests/bench/produce_ceiling.c) pushing the very records cdc-agent
#    published (read back from its topic) into the same cluster with the agent's producer
#    settings and Kafka transaction sizes: the Kafka ceiling.
# Prints rows/s of each, cdc-agent's ratio to both ceilings (to mariadb-binlog with start-up on
# both sides, to the Kafka ceiling without), each client's CPU seconds and cdc-agent's peak RSS. Each
# measurement runs BENCH_REPS times (default 3); medians are printed with every run's ratios.
# cdc-agent's rate runs from its process start to its last Kafka commit (read from its debug log);
# the rate without start-up starts when it begins streaming the binlog. BENCH_SHAPE (narrow,
# contacts, wide: tests/bench/shapes.sh) picks the rows.
#   tests/bench/my_bench.sh [BUILD_DIR]     (BUILD_DIR defaults to ./build)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
work=$(mktemp -d)
. "$root/tests/bench/lib.sh"
bench_servers my
. "$root/tests/bench/shapes.sh"
echo "# rows: $SHAPE ($(shape_columns))"
my -e "$(shape_my_ddl bench)"
REPS=${BENCH_REPS:-3}
rows=${BENCH_ROWS:-200000} # the mock keeps about 5 MB a partition: wide rows need BENCH_ROWS=20000

topics=("cdc._offsets 1" "cdc._schemas 1")
for rep in $(seq 1 "$REPS"); do topics+=("cdc.b$rep.cdc_test.bench 8" "ceil.b$rep 8"); done
bench_kafka "${topics[@]}"
echo "# Kafka: $(bench_kafka_name)"

now() { date +%s.%N; }
master() { my -N -e "SHOW MASTER STATUS" | cut -f1,2; }
median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
config() { # source name
    cat >"$work/agent.yaml" <<EOF
agent: {name: bench, log_level: debug}
kafka: {brokers: "$boot", compression: lz4, linger_ms: 50}
sources:
  - {name: $1, type: mysql, host: 127.0.0.1, port: $CDC_TEST_MYSQL_PORT, user: cdc,
     password_env: MYPW, database: cdc_test, server_id: 4242, tables: [cdc_test.bench],
     snapshot: never}
EOF
}
# The position source $1 has stored ("POS" in the current file), or empty.
stored_pos() {
    "$build/tests/cdc-topic-dump" "$boot" cdc._offsets 2>/dev/null | grep "\"source\":\"$1\"" |
        tail -1 | sed -n 's/.*"source_resume":{[^}]*"pos":\([0-9]*\).*/\1/p' || true
}
ts() { date -d "$1" +%s.%N; } # the agent's log timestamps
# Runs the agent until source $1 has stored position $2 (start-up: stores the start position).
agent_start_pos() {
    "$build/cdc-agent" run -c "$work/agent.yaml" >"$work/agent.log" 2>&1 &
    local pid=$! got
    while :; do
        got=$(stored_pos "$1")
        [ -n "$got" ] && [ "$got" -ge "$2" ] && break
        kill -0 "$pid" || { cat "$work/agent.log" >&2; exit 1; }
        sleep 0.05
    done
    kill -TERM "$pid"
    wait "$pid" || true
}
# Runs the agent until its Kafka transactions (debug log, read without touching Kafka, which would
# take CPU from the run) hold $1 records; prints "total_s startup_s cpu_s rss_kb": total from the
# process start to the last commit, start-up up to streaming.
published=0 want=0 last_ts=
all_published() { # a debug line: counts the records of each Kafka transaction
    [[ $1 == *"kafka transaction records="* ]] || return 1
    local n=${1##*records=}
    published=$((published + ${n%% *}))
    last_ts=${1%% *}
    [ "$published" -ge "$want" ]
}
agent_run() {
    local t0 ticks rss
    t0=$(now)
    published=0 want=$1 last_ts=
    : >"$work/agent.log"
    run_until "$work/agent.log" all_published "${perf[@]}" "$build/cdc-agent" run -c "$work/agent.yaml" ||
        { cat "$work/agent.log" >&2; exit 1; }
    ticks=$(awk '{print $14 + $15}' "/proc/$run_pid/stat")
    rss=$(awk '/VmHWM/ {print $2}' "/proc/$run_pid/status")
    run_stop "$work/agent.log"
    local up
    up=$(grep -m1 'binlog streaming from' "$work/agent.log" | cut -d' ' -f1)
    echo "$(echo "$(ts "$last_ts") - $t0" | bc) $(echo "$(ts "$up") - $t0" | bc)" \
        "$(echo "scale=2; $ticks / $(getconf CLK_TCK)" | bc) $rss"
}

# BENCH_PERF=DIR profiles cdc-agent's runs (perf record -e cpu-clock, DIR/agent.N.data), and
# BENCH_CALLGRIND=DIR counts their instructions (valgrind, DIR/agent.N.out); their CPU and RSS
# figures are then the profiler's
perf=()
ceil='' kceil='' agent='' agent_ns='' cpus='' bcpus='' kcpus='' rsss='' ratios='' kratios=''
for rep in $(seq 1 "$REPS"); do
    config "b$rep"
    my -e "TRUNCATE bench"
    agent_start_pos "b$rep" "$(master | cut -f2)"
    read -r file start < <(master)
    my -e "INSERT INTO bench ($(shape_columns)) $(shape_my_select 1 "$rows")"
    read -r _ end < <(master)
    t0=$(now)
    bcpu=$({
        mariadb-binlog --no-defaults --read-from-remote-server -v --base64-output=DECODE-ROWS \
            -h 127.0.0.1 -P "$CDC_TEST_MYSQL_PORT" -u cdc -p"$MYPW" --start-position="$start" \
            --stop-position="$end" "$file" >/dev/null
        times # children's user and system time: mariadb-binlog's
    } | tail -1 | awk '{ t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] } printf "%.2f", t }')
    rt=$(echo "$(now) - $t0" | bc)
    [ -z "${BENCH_PERF:-}" ] || perf=(perf record -q -e cpu-clock -F 4999 -g -o "$BENCH_PERF/agent.$rep.data" --)
    [ -z "${BENCH_CALLGRIND:-}" ] || perf=(valgrind -q --tool=callgrind "--callgrind-out-file=$BENCH_CALLGRIND/agent.$rep.out" --)
    read -r at st cpu rss < <(agent_run "$rows")
    "$build/tests/cdc-topic-dump" "$boot" "cdc.b$rep.cdc_test.bench" >"$work/records"
    got=$(wc -l <"$work/records")
    [ "$got" -eq "$rows" ] || { echo "cdc-agent published $got records, expected $rows" >&2; exit 1; }
    read -r _ kt kcpu < <("$build/tests/cdc-bench-produce" "$boot" "ceil.b$rep" "$work/records" | tr '=' ' ' | awk '{print $2, $4, $6}')
    bcpus+=" $bcpu" kcpus+=" $kcpu"
    ceil+=" $(echo "$rows / $rt" | bc)" kceil+=" $(echo "$rows / $kt" | bc)"
    agent+=" $(echo "$rows / $at" | bc)" agent_ns+=" $(echo "$rows / ($at - $st)" | bc)"
    cpus+=" $cpu" rsss+=" $((rss / 1024))"
    ratios+=" $(echo "scale=2; $rt / $at" | bc)" kratios+=" $(echo "scale=2; $kt / ($at - $st)" | bc)"
done
c=$(echo "$ceil" | median) k=$(echo "$kceil" | median) a=$(echo "$agent" | median)
ans=$(echo "$agent_ns" | median)
rb=$(echo "scale=2; $a / $c" | bc) rk=$(echo "scale=2; $ans / $k" | bc)
printf "bulk (1 x %s rows) median of %s:\n" "$rows" "$REPS"
printf "  mariadb-binlog -v  %8s rows/s (process start to exit)\n" "$c"
printf "  kafka ceiling      %8s rows/s (cdc-bench-produce, the same records, first send to last commit)\n" "$k"
printf "  cdc-agent          %8s rows/s from process start, %s rows/s from streaming start\n" "$a" "$ans"
printf "  ratios: to mariadb-binlog (both with start-up)=%s (runs:%s)\n" "$rb" "$ratios"
printf "          to the kafka ceiling (both without start-up)=%s (runs:%s)\n" "$rk" "$kratios"
small=$rk
[ "$c" -lt "$k" ] && small=$rb
printf "          to the smaller ceiling=%s (target >= 0.5)\n" "$small"
printf "  client cpu: mariadb-binlog=%ss kafka ceiling=%ss cdc-agent=%ss; cdc-agent peak_rss=%sMB (max)\n" \
    "$(echo "$bcpus" | median)" "$(echo "$kcpus" | median)" "$(echo "$cpus" | median)" \
    "$(echo "$rsss" | tr ' ' '\n' | sort -n | tail -1)"

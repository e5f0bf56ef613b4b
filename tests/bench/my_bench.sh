#!/usr/bin/env bash
# MariaDB source benchmark (not a timed test): in one run, on the same 200k-row transaction,
# measures mariadb-binlog --read-from-remote-server -v --base64-output=DECODE-ROWS to /dev/null
# (a client decoding every row: the ceiling for reading the binlog) and cdc-agent publishing to a
# mock Kafka cluster in its own process (transactions on, lz4), and prints rows/s, the ratio,
# cdc-agent's CPU seconds and peak RSS. Each measurement runs BENCH_REPS times (default 3); the
# medians are printed with every run's ratio.
#   tests/bench/my_bench.sh [BUILD_DIR]     (BUILD_DIR defaults to ./build)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
work=$(mktemp -d)
cleanup() {
    pkill -9 -f "cdc-agent run -c $work" 2>/dev/null || true
    "$root/tests/harness/mariadb.sh" stop "$work/m" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
"$root/tests/harness/mariadb.sh" start "$work/m" >/dev/null
. "$work/m/mariadb.env"
export MYPW=$CDC_TEST_MYSQL_PASSWORD
my() { mariadb --no-defaults -h 127.0.0.1 -P "$CDC_TEST_MYSQL_PORT" -u cdc -p"$MYPW" cdc_test "$@"; }
my -e "CREATE TABLE bench (id INT PRIMARY KEY, name VARCHAR(40), email VARCHAR(60),
       amount DECIMAL(12,2), created TIMESTAMP(6) NULL)"
REPS=${BENCH_REPS:-3}
rows=200000

coproc MOCK { "$build/tests/cdc-mock-kafka" 3; }
read -r line <&"${MOCK[0]}"
boot=${line#bootstrap=}
read -r line <&"${MOCK[0]}"
topics=("cdc._offsets 1" "cdc._schemas 1")
for rep in $(seq 1 "$REPS"); do topics+=("cdc.b$rep.cdc_test.bench 8"); done
for t in "${topics[@]}"; do
    echo "topic $t" >&"${MOCK[1]}"
    read -r line <&"${MOCK[0]}"
done

now() { date +%s.%N; }
master() { my -N -e "SHOW MASTER STATUS" | cut -f1,2; }
median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
config() { # source name
    cat >"$work/agent.yaml" <<EOF
agent: {name: bench, log_level: warn}
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
# Runs the agent until source $1 has stored position $2; prints "total_s cpu_s rss_kb".
agent_run() {
    local t0 pid ticks rss got
    t0=$(now)
    "$build/cdc-agent" run -c "$work/agent.yaml" >>"$work/agent.log" 2>&1 &
    pid=$!
    while :; do
        got=$(stored_pos "$1")
        [ -n "$got" ] && [ "$got" -ge "$2" ] && break
        kill -0 "$pid" || { cat "$work/agent.log" >&2; exit 1; }
        sleep 0.05
    done
    local t1
    t1=$(now)
    ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
    kill -TERM "$pid"
    wait "$pid" || true
    echo "$(echo "$t1 - $t0" | bc) $(echo "scale=2; $ticks / $(getconf CLK_TCK)" | bc) $rss"
}

ceil='' agent='' cpus='' rsss='' ratios=''
for rep in $(seq 1 "$REPS"); do
    config "b$rep"
    my -e "TRUNCATE bench"
    agent_run "b$rep" "$(master | cut -f2)" >/dev/null # stores the start position
    read -r file start < <(master)
    my -e "INSERT INTO bench SELECT seq, CONCAT('name ', seq), CONCAT('user', seq, '@example.com'),
           seq * 1.5, '2026-11-25 12:00:00.123456' FROM seq_1_to_$rows"
    read -r _ end < <(master)
    t0=$(now)
    mariadb-binlog --no-defaults --read-from-remote-server -v --base64-output=DECODE-ROWS \
        -h 127.0.0.1 -P "$CDC_TEST_MYSQL_PORT" -u cdc -p"$MYPW" --start-position="$start" \
        --stop-position="$end" "$file" >/dev/null
    rt=$(echo "$(now) - $t0" | bc)
    read -r at cpu rss < <(agent_run "b$rep" "$end")
    ceil+=" $(echo "$rows / $rt" | bc)" agent+=" $(echo "$rows / $at" | bc)"
    cpus+=" $cpu" rsss+=" $((rss / 1024))" ratios+=" $(echo "scale=2; $rt / $at" | bc)"
done
c=$(echo "$ceil" | median) a=$(echo "$agent" | median)
printf "bulk (1 x %s rows) median of %s: mariadb-binlog -v=%7s rows/s cdc-agent=%7s rows/s ratio=%s (runs:%s) | agent cpu=%ss peak_rss=%sMB (max; agent times include start-up)\n" \
    "$rows" "$REPS" "$c" "$a" "$(echo "scale=2; $a / $c" | bc)" "$ratios" \
    "$(echo "$cpus" | median)" "$(echo "$rsss" | tr ' ' '\n' | sort -n | tail -1)"

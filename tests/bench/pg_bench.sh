#!/usr/bin/env bash
# PostgreSQL source benchmark (not a timed test): in one run, on the same workloads, measures
# pg_recvlogical (pgoutput v1, same publication, to /dev/null: the walsender's own ceiling) and
# cdc-agent (to a mock Kafka cluster in its own process, transactions on), and prints rows/s,
# the ratio, cdc-agent's CPU seconds and peak RSS. Workloads: one 200k-row transaction, 20k
# one-row transactions, and a 1M-change backlog for peak RSS.
#   tests/bench/pg_bench.sh [BUILD_DIR]     (BUILD_DIR defaults to ./build)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
work=$(mktemp -d)
mock_pid=
cleanup() {
    pkill -9 -f "cdc-agent run -c $work" 2>/dev/null || true
    "$root/tests/harness/pg.sh" stop "$work/h" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
"$root/tests/harness/pg.sh" start "$work/h" >/dev/null
. "$work/h/pg.env"
export PGPASSWORD=$CDC_TEST_PG_PASSWORD
pg() { psql -q -h 127.0.0.1 -p "$CDC_TEST_PG_PORT" -U cdc -d cdc_test -v ON_ERROR_STOP=1 "$@"; }
lsn() { pg -Atc "SELECT pg_current_wal_insert_lsn()"; }
pg -c "CREATE TABLE bench (id int PRIMARY KEY, name text, email text, amount numeric(12,2),
         created timestamptz DEFAULT now())" -c "CREATE PUBLICATION bench FOR TABLE bench"

coproc MOCK { "$build/tests/cdc-mock-kafka" 3; }
read -r line <&"${MOCK[0]}"
boot=${line#bootstrap=}
read -r line <&"${MOCK[0]}"
for t in "cdc._offsets 1" "cdc._schemas 1" "cdc.w1.public.bench 8" "cdc.w2.public.bench 8" \
    "cdc.w3.public.bench 8"; do
    echo "topic $t" >&"${MOCK[1]}"
    read -r line <&"${MOCK[0]}"
done
# one source name per workload: each has its own slot, offsets and topic
agent_config() {
    cat >"$work/agent.yaml" <<EOF
agent: {name: bench, log_level: warn}
kafka: {brokers: "$boot", compression: lz4, linger_ms: 50}
sources:
  - name: $1
    type: postgresql
    conninfo: "host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=cdc_test user=cdc"
    password_env: PGPASSWORD
    tables: [public.bench]
    slot: agent
    publication: bench
EOF
}

now() { date +%s.%N; }
# Waits until slot is being streamed (active); prints the time it became so.
wait_active() {
    while [ "$(pg -Atc "SELECT active FROM pg_replication_slots WHERE slot_name = '$1'")" != t ]; do
        sleep 0.01
    done
    now
}
# Runs the agent until its slot has confirmed end_lsn; prints "total_s streaming_s cpu_s rss_kb":
# total from process start; streaming from the moment its replication connection is active.
agent_catch_up() {
    local end=$1 t0 ta pid done_ cpu rss
    t0=$(now)
    "$build/cdc-agent" run -c "$work/agent.yaml" >>"$work/agent.log" 2>&1 &
    pid=$!
    ta=$(wait_active agent)
    while :; do
        done_=$(pg -Atc "SELECT confirmed_flush_lsn >= '$end' FROM pg_replication_slots WHERE slot_name = 'agent'")
        [ "$done_" = t ] && break
        kill -0 "$pid" || { echo "agent died" >&2; cat "$work/agent.log" >&2; exit 1; }
        sleep 0.01
    done
    local t1 ticks
    t1=$(now)
    ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
    kill -TERM "$pid"
    wait "$pid" || true
    cpu=$(echo "scale=2; $ticks / $(getconf CLK_TCK)" | bc)
    echo "$(echo "$t1 - $t0" | bc) $(echo "$t1 - $ta" | bc) $cpu $rss"
}
# pg_recvlogical to endpos; prints "total_s streaming_s".
recvlogical() {
    local end=$1 t0 ta pid
    t0=$(now)
    pg_recvlogical -h 127.0.0.1 -p "$CDC_TEST_PG_PORT" -U cdc -d cdc_test --slot recv --start \
        -o proto_version=1 -o publication_names=bench --endpos="$end" -f /dev/null --no-loop &
    pid=$!
    ta=$(wait_active recv)
    wait "$pid"
    local t1
    t1=$(now)
    echo "$(echo "$t1 - $t0" | bc) $(echo "$t1 - $ta" | bc)"
}
make_slots() {
    pg -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots" >/dev/null
    pg -c "SELECT 1 FROM pg_create_logical_replication_slot('recv', 'pgoutput')" >/dev/null
    # the agent's slot (and its empty snapshot) before the workload
    : >"$work/agent.log"
    agent_catch_up "$(lsn)" >/dev/null
}
report() { # name rows recv_total recv_stream agent_total agent_stream cpu rss
    printf "%-21s rows=%-7s from replication start: pg_recvlogical=%7s rows/s cdc-agent=%7s rows/s ratio=%s | with start-up: %s vs %s rows/s ratio=%s | agent cpu=%ss peak_rss=%sMB\n" \
        "$1" "$2" "$(echo "$2 / $4" | bc)" "$(echo "$2 / $6" | bc)" "$(echo "scale=2; $4 / $6" | bc)" \
        "$(echo "$2 / $3" | bc)" "$(echo "$2 / $5" | bc)" "$(echo "scale=2; $3 / $5" | bc)" "$7" "$(( $8 / 1024 ))"
}

# Runs one workload (a shell function) against fresh slots of source SOURCE, then measures both
# clients on the resulting backlog.
measure() { # label rows source workload
    agent_config "$3"
    pg -c "TRUNCATE bench"
    make_slots
    "$4"
    local end rt rs at as cpu rss
    end=$(lsn)
    read -r rt rs < <(recvlogical "$end")
    read -r at as cpu rss < <(agent_catch_up "$end")
    report "$1" "$2" "$rt" "$rs" "$at" "$as" "$cpu" "$rss"
}

bulk() { # one 200k-row transaction
    pg -c "INSERT INTO bench SELECT g, 'name ' || g, 'user' || g || '@example.com', g * 1.5 FROM generate_series(1, 200000) g"
}
small() { # 20k one-row transactions
    echo '\set id random(1, 1000000000)
INSERT INTO bench VALUES (:id, '"'"'n'"'"', '"'"'e'"'"', 1) ON CONFLICT DO NOTHING;' >"$work/one.sql"
    pgbench -n -h 127.0.0.1 -p "$CDC_TEST_PG_PORT" -U cdc -c 4 -j 2 -t 5000 -f "$work/one.sql" cdc_test >/dev/null
}
backlog() { # 1M changes in 5 transactions: peak RSS must stay bounded
    local i
    for i in 0 1 2 3 4; do
        pg -c "INSERT INTO bench SELECT g, 'name ' || g, 'e', 1 FROM generate_series($i * 200000 + 1, ($i + 1) * 200000) g"
    done
}

measure "bulk (1 x 200k rows)" 200000 w1 bulk
measure "small (20k x 1 row)" 20000 w2 small
measure "backlog (1M changes)" 1000000 w3 backlog

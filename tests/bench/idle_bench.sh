#!/usr/bin/env bash
# Idle benchmark (not a timed test): what the agent costs with nothing changing. Two-way sync of
# one table between PostgreSQL and MariaDB (two sources, two sinks), started, caught up, then left
# alone for IDLE_S seconds (default 30) while its CPU time is counted:
#  - on the mock Kafka cluster in its own process (the agent alone; the mock's CPU beside it), or
#    with BENCH_KAFKA=real on a real broker;
#  - on the embedded cluster inside the agent (kafka.brokers: embedded, as the demo runs).
# Prints % of one core and RSS for each; the agent's own target is under 1% of a core.
# IDLE_THREADS=1 also prints the CPU ticks of each kind of thread (librdkafka's are rdk:*).
#   tests/bench/idle_bench.sh [BUILD_DIR]     (BUILD_DIR defaults to ./build)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
work=$(mktemp -d)
IDLE_S=${IDLE_S:-30}
. "$root/tests/bench/lib.sh"
bench_servers pg my
pg -c "CREATE TABLE contacts (id bigint PRIMARY KEY, name text, email text)" \
   -c "INSERT INTO contacts SELECT g, 'name ' || g, 'u' || g || '@example.com' FROM generate_series(1, 100) g"
my -e "CREATE TABLE contacts (id BIGINT PRIMARY KEY, name VARCHAR(60), email VARCHAR(80))"

config() { # brokers
    cat >"$work/agent.yaml" <<EOF
agent: {name: idle, log_level: warn}
kafka: {brokers: "$1"}
sources:
  - {name: crm, type: postgresql, conninfo: "host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=cdc_test user=cdc",
     password_env: PGPASSWORD, tables: [public.contacts], slot: idle, publication: idle}
  - {name: erp, type: mysql, host: 127.0.0.1, port: $CDC_TEST_MYSQL_PORT, user: cdc, password_env: MYPW,
     database: cdc_test, server_id: 4343, tables: [cdc_test.contacts]}
sinks:
  - {name: to-erp, type: mysql, host: 127.0.0.1, port: $CDC_TEST_MYSQL_PORT, user: cdc, password_env: MYPW,
     database: cdc_test, routes: [{from: crm.public.contacts, to: cdc_test.contacts}]}
  - {name: to-crm, type: postgresql, conninfo: "host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=cdc_test user=cdc",
     password_env: PGPASSWORD, routes: [{from: erp.cdc_test.contacts, to: public.contacts}]}
EOF
}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# CPU ticks of each of PID's threads, summed by thread name ("name ticks" lines)
thread_ticks() { # and their context switches (wake-ups): "name ticks switches"
    local t
    for t in /proc/"$1"/task/*; do
        echo "$(tr ' ' '_' <"$t/comm") $(awk '{print $14 + $15}' "$t/stat")" \
            "$(awk '/ctxt_switches/ {n += $2} END {print n}' "$t/status")"
    done 2>/dev/null | awk '{n[$1] += $2; w[$1] += $3} END {for (k in n) print k, n[k], w[k]}' | sort
}
pct() { echo "scale=2; 100 * ($2 - $1) / $(getconf CLK_TCK) / $IDLE_S" | bc; }
# Starts the agent, waits for the 100 rows in MariaDB and 10 s more, then counts IDLE_S seconds;
# prints "agent% rss_mb [other%]" (other: the process OTHER_PID, when set).
idle_run() {
    my -e "DELETE FROM contacts"
    "$build/cdc-agent" run -c "$work/agent.yaml" >"$work/agent.log" 2>&1 &
    local pid=$! i
    for i in $(seq 1 300); do
        [ "$(my -N -e "SELECT COUNT(*) FROM contacts")" = 100 ] && break
        kill -0 "$pid" || { cat "$work/agent.log" >&2; exit 1; }
        sleep 0.1
    done
    [ "$(my -N -e "SELECT COUNT(*) FROM contacts")" = 100 ] || { echo "not in sync" >&2; exit 1; }
    sleep 10
    local a0 a1 o0= o1=
    a0=$(ticks "$pid")
    [ -z "${OTHER_PID:-}" ] || o0=$(ticks "$OTHER_PID")
    thread_ticks "$pid" >"$work/threads0"
    sleep "$IDLE_S"
    a1=$(ticks "$pid")
    thread_ticks "$pid" >"$work/threads1"
    # IDLE_THREADS=1: where the ticks went, by thread name (to stderr)
    [ -z "${IDLE_THREADS:-}" ] || join "$work/threads0" "$work/threads1" |
        awk -v s="$IDLE_S" '{printf "  %s %d ticks, %.1f wake-ups/s\n", $1, $4 - $2, ($5 - $3) / s}' |
        sort -k2 -rn >&2
    [ -z "${OTHER_PID:-}" ] || o1=$(ticks "$OTHER_PID")
    local rss
    rss=$(awk '/VmRSS/ {printf "%d", $2 / 1024}' "/proc/$pid/status")
    kill -TERM "$pid"
    wait "$pid" || true
    echo "$(pct "$a0" "$a1") $rss${o0:+ $(pct "$o0" "$o1")}"
}

bench_kafka "cdc._offsets 1" "cdc._schemas 1" \
    "cdc.crm.public.contacts 8" "cdc.erp.cdc_test.contacts 8" "cdc._dlq.to-erp 1" "cdc._dlq.to-crm 1"
config "$boot"
mock_pid=
[ -z "${MOCK_PID:-}" ] || mock_pid=$(pgrep -P "$MOCK_PID" | head -1) # the binary under the coprocess
read -r a rss o < <(OTHER_PID=$mock_pid idle_run)
printf "idle %ss, two-way (2 sources, 2 sinks), on %s: agent %s%% of a core (target < 1%%), RSS %s MB%s\n" \
    "$IDLE_S" "$(bench_kafka_name)" "$a" "$rss" "${o:+; the mock cluster $o%}"
bench_kafka_stop
config embedded # a new Kafka: no stored positions or sink offsets from the first run
pg -c "SELECT pg_drop_replication_slot('idle')" -c "DROP TABLE cdc_sink_offsets" >/dev/null
my -e "DROP TABLE cdc_sink_offsets"
read -r a rss < <(idle_run)
printf "idle %ss, two-way (2 sources, 2 sinks), embedded Kafka (as the demo runs): agent with its cluster %s%% of a core, RSS %s MB\n" \
    "$IDLE_S" "$a" "$rss"

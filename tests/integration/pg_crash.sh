#!/usr/bin/env bash
# Crash test: a mixed workload (inserts, updates, deletes; one-row and multi-row transactions)
# runs against PostgreSQL while the agent is killed with SIGKILL at random moments and restarted,
# while every Kafka broker is down for a few seconds (the agent must wait, not drop), and across a
# PostgreSQL restart (the agent must reconnect and resume).
# Kafka is the mock helper process, so its log outlives the agent. Afterwards the topic, after
# dropping re-sent positions, must hold every change exactly once in order per key, and rebuild
# the table exactly (tests/harness/verify_chain.c).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/harness/assert.sh"
load_harness_env
. "$here/harness/agent_lib.sh"
changes=${CDC_CRASH_CHANGES:-200000}
kills=${CDC_CRASH_KILLS:-10}
tmp=$(mktemp -d)
agent_pid=
cleanup() {
    [ -n "$agent_pid" ] && kill -9 "$agent_pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
pg_reset crash crash
pg -c "CREATE TABLE crash (id int PRIMARY KEY, v int NOT NULL, pad text)" >/dev/null

mock_start "cdc._offsets 1" "cdc._schemas 1" "cdc.crm.public.crash 8"

agent_config "$tmp/agent.yaml" crash-test crash "compression: lz4, partitions: 8"

upsert_workload "$tmp/one.sql" crash 20000
cat >"$tmp/multi.sql" <<'EOF'
\set a random(1, 20000)
\set b random(1, 20000)
BEGIN;
INSERT INTO crash VALUES (:a, 1, 'm') ON CONFLICT (id) DO UPDATE SET v = crash.v + 1;
INSERT INTO crash VALUES (:b, 1, 'm') ON CONFLICT (id) DO UPDATE SET v = crash.v + 1;
DELETE FROM crash WHERE id = :a + 1;
INSERT INTO crash VALUES (:a + 2, 1, 'm') ON CONFLICT (id) DO UPDATE SET v = crash.v + 1;
COMMIT;
EOF
start_agent
# the kills below hit the stream; crashes inside the initial snapshot are another test
wait_offsets '"snapshot_done":true' 200 && ok || bad "snapshot recorded"
# about 1.4 changes per transaction on average (80% one-row, 20% four-statement)
txns=$((changes * 10 / 14 / 4))
pgbench -n -h 127.0.0.1 -p "$CDC_TEST_PG_PORT" -U cdc -c 4 -j 2 -t "$txns" \
    -f "$tmp/one.sql@8" -f "$tmp/multi.sql@2" cdc_test >"$tmp/pgbench.log" 2>&1 &
bench=$!
# every broker down for a few seconds while the workload goes on: publishing stalls, nothing is lost
outage() {
    kill -0 "$bench" 2>/dev/null || return 0
    for b in 1 2 3; do mock_cmd "down $b"; done
    echo "brokers down at $(date +%T.%N | cut -c1-12)" >>"$tmp/agent.log"
    sleep 4
    for b in 1 2 3; do mock_cmd "up $b"; done
    echo "brokers up at $(date +%T.%N | cut -c1-12)" >>"$tmp/agent.log"
    outage=1
}
for i in $(seq 1 "$kills"); do
    [ "$i" = 2 ] && outage # early: a fast machine finishes the workload in a few seconds
    sleep "0.$((RANDOM % 9 + 1))$((RANDOM % 10))"
    sleep $((RANDOM % 3))
    kill -9 "$agent_pid" 2>/dev/null || true
    wait "$agent_pid" 2>/dev/null || true
    echo "kill $i at $(date +%T.%N | cut -c1-12)" >>"$tmp/agent.log"
    start_agent
done
wait "$bench"
assert_eq 0 "$?" "pgbench finished"
assert_eq 1 "${outage:-0}" "the outage happened during the workload"
# PostgreSQL restarts under the running agent: it reconnects and resumes, then more changes flow
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
as_pg /usr/lib/postgresql/15/bin/pg_ctl -D "$CDC_TEST_PG_DATA" -m fast -w restart >/dev/null
echo "postgres restarted at $(date +%T.%N | cut -c1-12)" >>"$tmp/agent.log"
pgbench -n -h 127.0.0.1 -p "$CDC_TEST_PG_PORT" -U cdc -c 2 -t 2000 -f "$tmp/one.sql" cdc_test \
    >>"$tmp/pgbench.log" 2>&1
assert_eq 0 "$?" "pgbench after the restart"
# let the agent catch up with everything written, then stop it gracefully
if wait_caught_up crash; then ok; else # the log kept for a look, with where the slot stands
    bad "agent caught up with the source"
    cp "$tmp/agent.log" "/tmp/pg_crash_failed.$$.log"
    pg -Atc "SELECT confirmed_flush_lsn, pg_current_wal_insert_lsn() FROM pg_replication_slots
             WHERE slot_name = 'crash'" >>"/tmp/pg_crash_failed.$$.log"
    echo "# agent log kept in /tmp/pg_crash_failed.$$.log" >&2
fi
agent_stop
assert_eq 0 "$rc" "graceful stop exit code"

pg -Atc "SELECT id, v FROM crash" -F ' ' >"$tmp/expected"
run "$CDC_VERIFY_CHAIN" "$boot" cdc.crm.public.crash "$tmp/expected"
echo "$out"
assert_eq 0 "$rc" "exactly once after $kills kills"
assert_contains "$out" "3 passed, 0 failed" "verifier"
assert_real_no_resend "$out"
grep -E "error|warn" "$tmp/agent.log" | grep -v "facility=" | cut -c26- | sort | uniq -c | sort -rn | head -5 || true
finish

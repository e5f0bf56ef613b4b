#!/usr/bin/env bash
# Snapshot consistency: 100k rows loaded, the agent takes its initial snapshot while a workload
# keeps updating, inserting and deleting. The topic must rebuild the table exactly (snapshot
# reads then streamed changes chain per key) and hold no position twice. The snapshot reports
# its progress in JSON log lines (fields source, table, rows, estimated) and in /metrics.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/harness/assert.sh"
load_harness_env
. "$here/harness/agent_lib.sh"
rows=${CDC_SNAPSHOT_ROWS:-100000}
tmp=$(mktemp -d)
agent_pid=
trap '[ -z "$agent_pid" ] || kill -9 $agent_pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
pg_reset snap snap
pg -c "CREATE TABLE snap (id int PRIMARY KEY, v int NOT NULL, pad text)" \
   -c "INSERT INTO snap SELECT g, 1, repeat('s', 50) FROM generate_series(1, $rows) g" -c "ANALYZE snap" >/dev/null

mock_start "cdc._offsets 1" "cdc._schemas 1" "cdc.crm.public.snap 8"
agent_config "$tmp/agent.yaml" snapshot-test snap
. "$here/harness/lib.sh"
http=$(free_port)
sed -i "s/agent: {name: snapshot-test}/agent: {name: snapshot-test, log_format: json, http: \"127.0.0.1:$http\"}/" "$tmp/agent.yaml"
export CDC_SNAPSHOT_PROGRESS_MS=100
upsert_workload "$tmp/w.sql" snap $((rows + 20000))
# writes before, during and after the snapshot
pgbench -n -h 127.0.0.1 -p "$CDC_TEST_PG_PORT" -U cdc -c 2 -T 6 -f "$tmp/w.sql" cdc_test >"$tmp/bench.log" 2>&1 &
bench=$!
sleep 1
"$CDC_AGENT" run -c "$tmp/agent.yaml" >"$tmp/agent.log" 2>&1 &
agent_pid=$!
wait "$bench"
wait_caught_up snap && ok || bad "agent caught up"
metrics=$(curl -s "http://127.0.0.1:$http/metrics")
assert_contains "$metrics" "cdc_snapshot_tables_remaining{source=\"crm\"} 0" "metric: tables remaining"
grep -q "cdc_snapshot_rows_estimated{source=\"crm\"} [1-9]" <<<"$metrics" && ok || bad "metric: estimate"
agent_stop
assert_eq 0 "$rc" "graceful stop"
assert_contains "$(cat "$tmp/agent.log")" "snapshot table=public.snap rows=" "snapshot taken"
read_rows=$(grep -o 'snapshot table=public.snap rows=[0-9]*' "$tmp/agent.log" | head -1 | cut -d= -f3)
assert_contains "$metrics" "cdc_snapshot_rows_total{source=\"crm\"} $read_rows" "metric: rows read"
progress=$(grep '"msg":"source=crm snapshot progress' "$tmp/agent.log" | head -1)
assert_contains "$progress" '"source":"crm","table":"public.snap","rows":' "progress line with its fields"
assert_contains "$progress" '"estimated":' "progress: the estimate"
assert_contains "$progress" '"eta_s":' "progress: ETA"
pg -Atc "SELECT id, v FROM snap" -F ' ' >"$tmp/expected"
run "$CDC_VERIFY_CHAIN" "$boot" cdc.crm.public.snap "$tmp/expected"
echo "$out"
assert_eq 0 "$rc" "table rebuilt from the topic"
assert_contains "$out" "resent_dropped=0 " "no position twice"
finish

#!/usr/bin/env bash
# An initial snapshot interrupted by SIGKILL while writes go on is completed after the restart
# from its recorded progress, with low/high watermarks on the same slot: no gap, only repeated
# reads, and the topic rebuilds the table exactly.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/harness/assert.sh"
load_harness_env
. "$here/harness/agent_lib.sh"
rows=${CDC_SNAPSHOT_ROWS:-300000}
tmp=$(mktemp -d)
agent_pid=
trap '[ -z "$agent_pid" ] || kill -9 $agent_pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
pg_reset resume resume
pg -c "CREATE TABLE resume (id int PRIMARY KEY, v int NOT NULL, pad text)" \
   -c "INSERT INTO resume SELECT g, 1, repeat('r', 100) FROM generate_series(1, $rows) g" >/dev/null
mock_start "cdc._offsets 1" "cdc._schemas 1" "cdc.crm.public.resume 8"
agent_config "$tmp/agent.yaml" resume-test resume
upsert_workload "$tmp/w.sql" resume $((rows + 20000))
pgbench -n -h 127.0.0.1 -p "$CDC_TEST_PG_PORT" -U cdc -c 2 -T 12 -f "$tmp/w.sql" cdc_test >"$tmp/bench.log" 2>&1 &
bench=$!
"$CDC_AGENT" run -c "$tmp/agent.yaml" >"$tmp/agent.log" 2>&1 &
agent_pid=$!
# kill once part of the snapshot is committed
for i in $(seq 1 200); do
    "$CDC_TOPIC_DUMP" "$boot" cdc._offsets 2>/dev/null >"$tmp/offsets" || true
    grep -q snapshot_progress "$tmp/offsets" && break
    sleep 0.05
done
kill -9 "$agent_pid"
wait "$agent_pid" 2>/dev/null || true
agent_pid=
assert_contains "$(cat "$tmp/offsets")" '"snapshot_progress"' "killed inside the snapshot"
assert_not_contains "$(cat "$tmp/offsets")" '"snapshot_done":true' "snapshot not finished at the kill"

"$CDC_AGENT" run -c "$tmp/agent.yaml" >"$tmp/agent2.log" 2>&1 &
agent_pid=$!
wait "$bench"
# the stream being caught up is not enough: the snapshot's remaining chunks must be done too
wait_offsets '"snapshot_done":true' 1200 || true
wait_caught_up resume && ok || bad "agent caught up"
agent_stop
assert_eq 0 "$rc" "graceful stop"
log=$(grep -v facility= "$tmp/agent2.log")
assert_contains "$log" "resuming the initial snapshot" "resumed with watermarks"
assert_contains "$log" "initial snapshot completed" "snapshot completed"
assert_contains "$("$CDC_TOPIC_DUMP" "$boot" cdc._offsets)" '"snapshot_done":true' "completion recorded"
pg -Atc "SELECT id, v FROM resume" -F ' ' >"$tmp/expected"
CDC_VERIFY_LENIENT=1 run "$CDC_VERIFY_CHAIN" "$boot" cdc.crm.public.resume "$tmp/expected"
echo "$out"
assert_eq 0 "$rc" "table rebuilt from the topic"
finish

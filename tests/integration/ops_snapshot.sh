#!/usr/bin/env bash
# `cdc-agent snapshot`: re-snapshot one table while the agent streams, in one agent with
# PostgreSQL -> Kafka -> MariaDB and MariaDB -> Kafka -> PostgreSQL, against a Kafka cluster kept
# between runs (the mock helper process):
# - a damaged target (rows deleted, values changed) is repaired by re-snapshotting the source
#   table (40k rows: four chunks) while a workload updates, inserts and deletes on it; afterwards
#   target equals source row by row: no chunk row overwrote a newer change;
# - the command follows the progress the agent commits and exits 0 when the table is done;
# - the same on the MariaDB source (signal-table requests);
# - SIGKILL during a re-snapshot: after the restart it goes on and the target is repaired;
# - a request written while the agent is stopped is taken at its next start;
# - a table added to a source's config is snapshotted at the next start while streaming;
# - refusals: a table the source does not capture, an unknown source;
# - in the source topics, every snapshot read equals the state the changes before it left
#   (cdc-verify-chain): no chunk row read in a snapshot that missed an earlier change.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/harness/assert.sh"
load_harness_env
. "$here/harness/agent_lib.sh"
. "$here/harness/lib.sh"
setup_tmp
rows=${CDC_RESNAP_ROWS:-40000}
# sources in cdc_test; targets in databases of their own (with their own cdc_sink_offsets)
pg_reset snapsrc snapsrc snapadd
pg -c "CREATE TABLE snapsrc (id int PRIMARY KEY, v int, note text)" \
   -c "INSERT INTO snapsrc SELECT g, 1, 'row ' || g FROM generate_series(1, $rows) g" \
   -c "CREATE TABLE snapadd (id int PRIMARY KEY, v int)" \
   -c "INSERT INTO snapadd SELECT g, g FROM generate_series(1, 300) g" >/dev/null
[ "$(pg -Atc "SELECT count(*) FROM pg_database WHERE datname = 'cdc_snap'")" = 1 ] ||
    pg -c "CREATE DATABASE cdc_snap" >/dev/null
pgt() { psql -q -h 127.0.0.1 -p "$CDC_TEST_PG_PORT" -U cdc -d cdc_snap -v ON_ERROR_STOP=1 "$@"; }
pgt -c "DROP TABLE IF EXISTS mysnap_t, cdc_sink_offsets" -c "CREATE TABLE mysnap_t (id int PRIMARY KEY, v int)" >/dev/null
my -e "DROP TABLE IF EXISTS mysnap; CREATE TABLE mysnap (id INT PRIMARY KEY, v INT);
       INSERT INTO mysnap SELECT seq, 1 FROM seq_1_to_12000;
       DROP DATABASE IF EXISTS cdc_snap; CREATE DATABASE cdc_snap;
       CREATE TABLE cdc_snap.snapdst (id INT PRIMARY KEY, v INT, note VARCHAR(100));
       CREATE TABLE cdc_snap.snapadd_t (id INT PRIMARY KEY, v INT)"
myt() { mariadb --no-defaults -h 127.0.0.1 -P "$CDC_TEST_MYSQL_PORT" -u cdc -p"$MYPW" cdc_snap "$@"; }
# enough partitions for the mock (about 5 MB of log each) to keep every event for the final check
mock_start "cdc._offsets 1" "cdc._schemas 1" "cdc.crm.public.snapsrc 40" "cdc.crm.public.snapadd 1" \
    "cdc.erps.cdc_test.mysnap 8" "cdc._dlq.snaperp 1" "cdc._dlq.snapcrm 1"
http_port=$(free_port)
write_config() { # crm tables
    cat >"$tmp/agent.yaml" <<EOC
agent: {name: snapshot-test, http: "127.0.0.1:$http_port"}
kafka: {brokers: "$boot", linger_ms: 20}
sources:
  - {name: crm, type: postgresql, conninfo: "host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=cdc_test user=cdc",
     password_env: PGPASSWORD, tables: [$1], slot: snapsrc, publication: snapsrc, heartbeat_ms: 1000}
  - {name: erps, type: mysql, host: 127.0.0.1, port: $CDC_TEST_MYSQL_PORT, user: cdc,
     password_env: MYPW, database: cdc_test, server_id: $MY_SERVER_ID, tables: [cdc_test.mysnap],
     snapshot: initial, heartbeat_ms: 1000}
sinks:
  - {name: snaperp, type: mysql, host: 127.0.0.1, port: $CDC_TEST_MYSQL_PORT, user: cdc, password_env: MYPW,
     database: cdc_snap, batch_ms: 20,
     routes: [{from: crm.public.snapsrc, to: cdc_snap.snapdst}, {from: crm.public.snapadd, to: cdc_snap.snapadd_t}]}
  - {name: snapcrm, type: postgresql, conninfo: "host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=cdc_snap user=cdc",
     password_env: PGPASSWORD, batch_ms: 20, routes: [{from: erps.cdc_test.mysnap, to: public.mysnap_t}]}
EOC
}
write_config public.snapsrc
pg_rows() { pg -Atc "SELECT id || '|' || coalesce(v::text, '') || '|' || coalesce(note, '') FROM $1 ORDER BY id"; }
my_rows() { myt -N -e "SELECT CONCAT(id, '|', COALESCE(v, ''), '|', COALESCE(note, '')) FROM $1 ORDER BY id"; }
# waits until the two commands print the same, up to 60 s; on a mismatch shows which rows differ
wait_same() { same_output "$2" "$3" 600 && ok || bad "$1"; } # what command1 command2
crm_src() { pg_rows snapsrc; }
crm_dst() { my_rows snapdst; }
erp_src() { my -N -e "SELECT CONCAT(id, '|', COALESCE(v, '')) FROM mysnap ORDER BY id"; }
erp_dst() { pgt -Atc "SELECT id || '|' || coalesce(v::text, '') FROM mysnap_t ORDER BY id"; }
add_src() { pg -Atc "SELECT id || '|' || v FROM snapadd ORDER BY id"; }
add_dst() { myt -N -e "SELECT CONCAT(id, '|', v) FROM snapadd_t ORDER BY id"; }
snapshot() { "$CDC_AGENT" snapshot -c "$tmp/agent.yaml" "$@" 2>&1; }

start_agent
wait_same "first sync PostgreSQL -> MariaDB" crm_src crm_dst
wait_same "first sync MariaDB -> PostgreSQL" erp_src erp_dst

# ---- PostgreSQL source: damaged target repaired under concurrent writes ----
myt -e "DELETE FROM snapdst WHERE id % 25 = 0; UPDATE snapdst SET v = -1, note = 'stale' WHERE id % 25 = 1"
upsert_workload "$tmp/w.sql" snapsrc $((rows + 1000))
PGOPTIONS="-c synchronous_commit=on" pgbench -n -h 127.0.0.1 -p "$CDC_TEST_PG_PORT" -U cdc -c 8 -j 2 -T 6 -f "$tmp/w.sql" cdc_test \
    >"$tmp/bench.log" 2>&1 &
bench=$!
sleep 1
out=$(snapshot --source crm --table public.snapsrc) && rc=0 || rc=$?
assert_eq 0 "$rc" "snapshot of public.snapsrc while the agent streams: exit 0"
assert_contains "$out" "following its progress" "the command follows the agent's progress"
assert_contains "$out" "rows (" "progress: rows done of the total"
assert_contains "$out" "re-snapshot of public.snapsrc completed" "the command waits for the end"
wait "$bench" && ok || bad "workload"
wait_same "target repaired, no row older than the source (PostgreSQL source)" crm_src crm_dst
assert_contains "$(cat "$tmp/agent.log")" "re-snapshot of public.snapsrc completed" "the agent logs it"
got=$("$CDC_TOPIC_DUMP" "$boot" cdc._offsets | grep '"source":"crm"' | tail -1)
assert_contains "$got" '"resnapshot":{"done":[{"id":"' "the offset record keeps the finished request"
assert_contains "$got" '"queue":[]' "nothing left queued"

# ---- MariaDB source: the same through a signal-table request ----
pgt -c "DELETE FROM mysnap_t WHERE id % 10 = 0" -c "UPDATE mysnap_t SET v = -1 WHERE id % 10 = 1" >/dev/null
(for i in $(seq 1 60); do
    my -e "UPDATE mysnap SET v = v + 1 WHERE id IN ($((RANDOM % 12000 + 1)), $((RANDOM % 12000 + 1)));
           DELETE FROM mysnap WHERE id = $((RANDOM % 12000 + 1));
           INSERT INTO mysnap VALUES ($((12000 + i)), 1) ON DUPLICATE KEY UPDATE v = v + 1"
    sleep 0.05
done) &
writer=$!
out=$(snapshot --source erps --table cdc_test.mysnap) && rc=0 || rc=$?
assert_eq 0 "$rc" "snapshot of cdc_test.mysnap while the agent streams: exit 0"
assert_contains "$out" "re-snapshot of cdc_test.mysnap completed" "MariaDB: the command waits for the end"
wait "$writer" && ok || bad "MariaDB writer"
wait_same "target repaired, no row older than the source (MariaDB source)" erp_src erp_dst
metrics=$(curl -s "http://127.0.0.1:$http_port/metrics")
grep -Eq '^cdc_resnapshot_rows_total\{source="erps",table="cdc_test.mysnap"\} 1[12][0-9]{3}$' <<<"$metrics" &&
    ok || bad "metrics: rows read by the re-snapshot (about 12000): $(grep resnapshot <<<"$metrics")"

# ---- killed (SIGKILL) during a re-snapshot under writes: goes on from the last chunk committed ----
myt -e "DELETE FROM snapdst WHERE id % 11 = 0; UPDATE snapdst SET v = -5 WHERE id % 11 = 1"
PGOPTIONS="-c synchronous_commit=on" pgbench -n -h 127.0.0.1 -p "$CDC_TEST_PG_PORT" -U cdc -c 8 -j 2 -T 4 -f "$tmp/w.sql" cdc_test \
    >"$tmp/bench2.log" 2>&1 &
bench=$!
out=$(snapshot --source crm --table public.snapsrc --no-wait) && rc=0 || rc=$?
assert_eq 0 "$rc" "snapshot --no-wait: exit 0 once the request is written"
assert_not_contains "$out" "following" "--no-wait does not follow"
for i in $(seq 1 50); do [ "$(grep -c 'snapshot request' "$tmp/agent.log")" -ge 3 ] && break; sleep 0.05; done
sleep 0.4
kill -9 "$agent_pid"
wait "$agent_pid" 2>/dev/null || true
done_before=$(grep -c "re-snapshot of public.snapsrc completed" "$tmp/agent.log" || true)
shown=$("$CDC_AGENT" offsets show -c "$tmp/agent.yaml" 2>&1)
lines_before=$(wc -l <"$tmp/agent.log")
start_agent
wait "$bench" && ok || bad "workload during the kill"
wait_same "killed mid re-snapshot: the target is repaired after the restart" crm_src crm_dst
# completed before the kill, or after the restart (a chunk emitted but not committed before the
# kill is read again: the last one may complete twice)
done_after=$(grep -c "re-snapshot of public.snapsrc completed" "$tmp/agent.log")
[ "$done_after" -ge 2 ] && ok ||
    bad "the re-snapshot completed (completions logged: $done_before before the restart, $done_after after)"
# when the request was committed before the kill, the restart resumes it where offsets show said
resumed=$(tail -n +"$lines_before" "$tmp/agent.log" | sed -n 's/.*re-snapshot of public.snapsrc queued (\([0-9]*\) rows read).*/\1/p')
if [ -n "$resumed" ]; then
    assert_contains "$shown" "re-snapshot public.snapsrc: reading, $resumed rows read (" "offsets show: the queue"
else
    assert_not_contains "$shown" "re-snapshot public.snapsrc" "offsets show: nothing queued yet"
fi

# ---- refusals ----
out=$(snapshot --source crm --table public.nosuch) && rc=0 || rc=$?
assert_eq 2 "$rc" "a table the source does not capture: exit 2"
assert_contains "$out" "does not capture table public.nosuch; its tables: public.snapsrc" "names the source's tables"
out=$(snapshot --source nosuch --table public.snapsrc) && rc=0 || rc=$?
assert_eq 2 "$rc" "an unknown source: exit 2"
out=$(snapshot --source crm) && rc=0 || rc=$?
assert_eq 2 "$rc" "no --table: usage, exit 2"

# ---- a request written while the agent is stopped ----
agent_stop
assert_eq 0 "$rc" "agent stops cleanly"
myt -e "DELETE FROM snapdst WHERE id % 7 = 0"
out=$(snapshot --source crm --table public.snapsrc) && rc=0 || rc=$?
assert_eq 0 "$rc" "request while the agent is stopped: exit 0"
assert_contains "$out" "the agent takes the request when it starts" "says when it runs"

# ---- a table added to the config ----
write_config "public.snapsrc, public.snapadd"
start_agent
wait_same "the stopped agent's request repaired the target at its start" crm_src crm_dst
wait_same "a table added to the config is snapshotted" add_src add_dst
pg -c "UPDATE snapadd SET v = v + 1000 WHERE id <= 10" >/dev/null
wait_same "... and streamed" add_src add_dst
assert_contains "$(cat "$tmp/agent.log")" "table public.snapadd was added to the config" "the agent says why"
assert_contains "$(cat "$tmp/agent.log")" "publication snapsrc: added public.snapadd" "the publication gains the table"
agent_stop
assert_eq 0 "$rc" "agent stops cleanly"
# a restart does not snapshot it again
start_agent
pg -c "UPDATE snapadd SET v = v + 1 WHERE id = 300" >/dev/null
wait_same "streaming after a restart" add_src add_dst
sleep 1
assert_eq 1 "$(grep -c 'table public.snapadd was added to the config' "$tmp/agent.log")" "the added table is snapshotted once"
agent_stop

# ---- every re-snapshot read in the topics states its row as the changes before it left it ----
# (a chunk read in a snapshot that missed a change already streamed shows as a read older than the
# change before it, even when a later change hides it in the target)
pg -Atc "SELECT id, v FROM snapsrc" -F ' ' >"$tmp/expected"
CDC_VERIFY_LENIENT=1 run "$CDC_VERIFY_CHAIN" "$boot" cdc.crm.public.snapsrc "$tmp/expected"
echo "$out"
assert_eq 0 "$rc" "PostgreSQL source topic: no stale snapshot read, the table rebuilt from it"
my -N -e "SELECT id, v FROM mysnap" >"$tmp/expected"
CDC_VERIFY_LENIENT=1 run "$CDC_VERIFY_CHAIN" "$boot" cdc.erps.cdc_test.mysnap "$tmp/expected"
echo "$out"
assert_eq 0 "$rc" "MariaDB source topic: no stale snapshot read, the table rebuilt from it"
assert_real_no_resend "$out" "$tmp/agent.log"
finish

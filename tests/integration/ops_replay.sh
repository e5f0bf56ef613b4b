#!/usr/bin/env bash
# `cdc-agent replay` against a Kafka cluster kept between runs (the mock helper process),
# PostgreSQL -> Kafka (4 partitions) -> PostgreSQL:
# - --dry-run from a timestamp counts the events after it per table and changes nothing (a real
#   broker answers offsets_for_times; the mock cannot, and the start is found by searching record
#   timestamps: the report says which);
#   --from-offset counts one partition; --table picks one route;
# - replay onto an up-to-date target leaves it unchanged;
# - replay from the beginning onto a damaged target (rows deleted, values changed, a row that
#   should not be there) repairs every row the history covers;
# - replay from a later timestamp repairs only what changed after it;
# - refusals: while the agent runs (the sink's lock), an unknown table, an offset outside the
#   partition, a partition the sink does not read, embedded Kafka.
. "$(dirname "$0")/../harness/agent_test.sh"
pg_reset replsrc replsrc replother
[ "$(pg -Atc "SELECT count(*) FROM pg_database WHERE datname = 'cdc_replay'")" = 1 ] ||
    pg -c "CREATE DATABASE cdc_replay" >/dev/null
pgt() { psql -q -h 127.0.0.1 -p "$CDC_TEST_PG_PORT" -U cdc -d cdc_replay -v ON_ERROR_STOP=1 "$@"; }
pgt -c "DROP TABLE IF EXISTS repldst, replother_t, cdc_sink_offsets" \
    -c "CREATE TABLE repldst (id int PRIMARY KEY, v int, note text)" \
    -c "CREATE TABLE replother_t (id int PRIMARY KEY)" >/dev/null
pg -c "CREATE TABLE replsrc (id int PRIMARY KEY, v int, note text)" \
   -c "CREATE TABLE replother (id int PRIMARY KEY)" >/dev/null
mock_start "cdc._offsets 1" "cdc._schemas 1" "cdc.crm.public.replsrc 4" "cdc.crm.public.replother 1" \
    "cdc._dlq.rep 1"
cat >"$tmp/agent.yaml" <<EOC
agent: {name: replay-test}
kafka: {brokers: "$boot", linger_ms: 20}
sources:
  - {name: crm, type: postgresql, conninfo: "host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=cdc_test user=cdc",
     password_env: PGPASSWORD, tables: [public.replsrc, public.replother], slot: replsrc,
     publication: replsrc, heartbeat_ms: 1000}
sinks:
  - {name: rep, type: postgresql, conninfo: "host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=cdc_replay user=cdc",
     password_env: PGPASSWORD, batch_ms: 20,
     routes: [{from: crm.public.replsrc, to: public.repldst}, {from: crm.public.replother, to: public.replother_t}]}
EOC
src() { pg -Atc "SELECT id, v, note FROM replsrc ORDER BY id"; }
dst() { pgt -Atc "SELECT id, v, note FROM repldst ORDER BY id"; }
wait_same() { same_output src dst; }
replay() { "$CDC_AGENT" replay -c "$tmp/agent.yaml" --sink rep "$@" 2>&1; }

# check reads the topics' settings where the cluster can describe them, and says so where not
run "$CDC_AGENT" check -c "$tmp/agent.yaml"
if real_kafka; then
    assert_contains "$out" "topic    cdc._offsets: ok, 1 partition, 1 replica, cleanup.policy=compact" "check: the offsets topic's settings"
else
    assert_contains "$out" "topic    cdc._offsets: 1 partition (settings not verified: DescribeConfigs: Local: Required feature not supported by broker)" \
        "check on the mock: settings not verified, and why"
fi

start_agent
pg -c "INSERT INTO replsrc SELECT g, 0, 'first' FROM generate_series(1, 200) g" \
   -c "INSERT INTO replother SELECT g FROM generate_series(1, 5) g" >/dev/null
wait_same && ok || bad "first sync"
sleep 1.2 # record timestamps are milliseconds: a clear gap
mid=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
sleep 0.3
pg -c "UPDATE replsrc SET v = 1, note = 'second' WHERE id <= 60" \
   -c "DELETE FROM replsrc WHERE id > 190" \
   -c "INSERT INTO replsrc SELECT g, 2, 'third' FROM generate_series(201, 230) g" >/dev/null
wait_same && ok || bad "second sync"

# offsets show, while the agent runs (it only reads)
wait_caught_up replsrc || true
# the log ends after the last record, and on a real broker after the commit marker that follows it
marker=0
real_kafka && marker=1
ends=()
for p in 0 1 2 3; do
    ends+=("$("$CDC_TOPIC_DUMP" "$boot" cdc.crm.public.replsrc | awk -F'\t' -v p=$p -v m=$marker '$1 == p {o = $2} END {print o + 1 + m}')")
done
# the sink stores a position past a commit marker once its next fetch finds nothing after it (a
# real broker holds that fetch up to half a second): wait for every partition's line
at_end() {
    local p
    for p in 0 1 2 3; do
        [[ $out == *"$(printf '%-12s %-40s %10s %10s %10s' rep "cdc.crm.public.replsrc[$p]" "${ends[$p]}" "${ends[$p]}" 0)"* ]] || return 1
    done
}
for i in $(seq 1 100); do
    out=$("$CDC_AGENT" offsets show -c "$tmp/agent.yaml" 2>&1) && rc=0 || rc=$?
    at_end && break
    sleep 0.1
done
assert_eq 0 "$rc" "offsets show while the agent runs: exit 0"
assert_contains "$out" "slot replsrc active, pid" "offsets show: the slot is in use"
assert_contains "$out" "crm          postgresql lsn " "offsets show: the source's stored LSN"
for p in 0 1 2 3; do
    end=${ends[$p]}
    assert_contains "$out" "$(printf '%-12s %-40s %10s %10s %10s' rep "cdc.crm.public.replsrc[$p]" "$end" "$end" 0)" \
        "offsets show: partition $p applied to its log end"
done
json=$("$CDC_AGENT" offsets show -c "$tmp/agent.yaml" --json)
assert_contains "$json" '"name": "rep"' "offsets show --json: the sink"
assert_contains "$json" '"lag": 0' "offsets show --json: lag per partition"
assert_contains "$json" '"acknowledged": "' "offsets show --json: the slot's acknowledged LSN"

# offsets set while the agent runs: refused (the sink's lock, the slot in use)
out=$("$CDC_AGENT" offsets set -c "$tmp/agent.yaml" --sink rep --offset cdc.crm.public.replsrc:0:0 2>&1) && rc=0 || rc=$?
assert_eq 1 "$rc" "offsets set --sink while the sink runs: exit 1"
assert_contains "$out" "--force writes it anyway" "offsets set --sink while running: refused, --force named"
lsn_now=$(pg -Atc "SELECT pg_current_wal_lsn()")
out=$("$CDC_AGENT" offsets set -c "$tmp/agent.yaml" --source crm --position "$lsn_now" 2>&1) && rc=0 || rc=$?
assert_eq 1 "$rc" "offsets set --source while the slot is in use: exit 1"
assert_contains "$out" "slot replsrc is in use by pid" "offsets set --source while running: refused"

# while the agent runs, its sink holds the lock
out=$(replay --from-timestamp 2020-01-01) && rc=0 || rc=$?
assert_eq 1 "$rc" "replay while the sink runs: exit 1"
assert_contains "$out" "another instance of the sink is running" "replay while the sink runs: refused"
agent_stop
assert_eq 0 "$rc" "agent stopped"

# dry runs
out=$(replay --from-timestamp "$mid" --dry-run)
assert_contains "$out" "crm.public.replsrc -> public.repldst: 100 events would be re-applied" \
    "dry run from the middle: 60 updates + 10 deletes + 30 inserts"
assert_contains "$out" "crm.public.replother -> public.replother_t: 0 events" "dry run: the other table had nothing after"
if real_kafka; then # a real broker answers offsets_for_times: the search is never needed
    assert_contains "$out" "found by offsets_for_times" "real broker: starts found by offsets_for_times"
    assert_not_contains "$out" "search of record timestamps" "real broker: no search of record timestamps"
else
    assert_contains "$out" "found by a search of record timestamps" "mock: starts found by searching timestamps"
fi
out=$(replay --from-timestamp 2020-01-01 --dry-run --table public.replsrc)
assert_contains "$out" "crm.public.replsrc -> public.repldst: 300 events would be re-applied" "dry run from the start, one table"
assert_not_contains "$out" "replother" "--table: only that route"
out=$(replay --from-offset cdc.crm.public.replsrc:2:0 --dry-run)
n2=$("$CDC_TOPIC_DUMP" "$boot" cdc.crm.public.replsrc | awk -F'\t' '$1 == 2 && $5 != "null"' | wc -l)
assert_contains "$out" "public.repldst: $n2 events would be re-applied from 1 partition(s)" "dry run from an offset: that partition"
assert_eq "$(src | md5sum)" "$(dst | md5sum)" "dry runs changed nothing"

# onto an up-to-date target: unchanged
before=$(dst | md5sum)
out=$(replay --from-timestamp 2020-01-01) && rc=0 || rc=$?
assert_eq 0 "$rc" "replay onto an up-to-date target: exit 0"
assert_contains "$out" "replayed: applied=" "replay reports what it applied"
assert_contains "$out" "of 305 events (" "replay shows progress (events done of the total, rate, ETA)"
assert_eq "$before" "$(dst | md5sum)" "an up-to-date target is left unchanged"

# a damaged target: repaired from the beginning
pgt -c "DELETE FROM repldst WHERE id BETWEEN 100 AND 140" -c "UPDATE repldst SET v = 99 WHERE id < 20" \
    -c "UPDATE repldst SET note = 'damaged' WHERE id = 220" >/dev/null
assert_not_contains "$(dst | md5sum)" "$before" "the target is damaged"
replay --from-timestamp 2020-01-01 >/dev/null
assert_eq "$(src | md5sum)" "$(dst | md5sum)" "replay from the beginning repairs the target"

# from the middle: repairs what changed after, leaves older damage alone
pgt -c "UPDATE repldst SET note = 'old damage' WHERE id = 150" -c "UPDATE repldst SET note = 'new damage' WHERE id = 30" >/dev/null
replay --from-timestamp "$mid" >/dev/null
assert_eq "1|second" "$(pgt -Atc "SELECT v || '|' || note FROM repldst WHERE id = 30")" "a row changed after the time is repaired"
assert_eq "old damage" "$(pgt -Atc "SELECT note FROM repldst WHERE id = 150")" "a row not changed after the time is left alone"

# offsets set --sink: a partition back to 0 (its guard cleared), then the agent re-applies it
osn() { "$CDC_AGENT" offsets set -c "$tmp/agent.yaml" "$@" 2>&1; }
out=$(osn --sink rep --offset cdc.crm.public.replsrc:0:0) && rc=0 || rc=$?
assert_eq 0 "$rc" "offsets set --sink: exit 0"
assert_contains "$out" "cdc.crm.public.replsrc[0] moves from offset " "offsets set --sink: says from where"
assert_contains "$("$CDC_AGENT" offsets show -c "$tmp/agent.yaml")" \
    "$(printf '%-12s %-40s %10s' rep "cdc.crm.public.replsrc[0]" 0)" "offsets show: partition 0 stored at 0"
out=$(osn --sink rep --offset cdc.crm.public.replsrc:0:999999) && rc=0 || rc=$?
assert_eq 2 "$rc" "offsets set --sink outside the log: exit 2"
assert_contains "$out" "is not among them" "offsets set --sink outside the log: said"
# offsets set --source: never back; forward skips what lies before the new position
out=$(osn --source crm --position 0/10) && rc=0 || rc=$?
assert_eq 2 "$rc" "offsets set --source backwards: exit 2"
assert_contains "$out" "a replication slot cannot go back" "offsets set --source backwards: said"
pg -c "INSERT INTO replsrc VALUES (500, 5, 'skipped')" >/dev/null
lsn_now=$(pg -Atc "SELECT pg_current_wal_insert_lsn()")
out=$(osn --source crm --position "$lsn_now") && rc=0 || rc=$?
assert_eq 0 "$rc" "offsets set --source forward: exit 0 ($out)"
pg -c "INSERT INTO replsrc VALUES (501, 5, 'after')" >/dev/null
start_agent
for i in $(seq 1 300); do [ "$(pgt -Atc "SELECT count(*) FROM repldst WHERE id = 501")" = 1 ] && break; sleep 0.1; done
assert_eq 1 "$(pgt -Atc "SELECT count(*) FROM repldst WHERE id = 501")" "a change after the new position arrives"
assert_eq 0 "$(pgt -Atc "SELECT count(*) FROM repldst WHERE id = 500")" "a change before it is skipped, as asked"
agent_stop
pg -c "DELETE FROM replsrc WHERE id = 500" >/dev/null

# refusals
out=$(replay --from-timestamp 2020-01-01 --table public.nothing) && rc=0 || rc=$?
assert_eq 2 "$rc" "unknown table: exit 2"
assert_contains "$out" "sink rep has no route for table public.nothing" "unknown table: said"
out=$(replay --from-offset cdc.crm.public.replsrc:1:999999) && rc=0 || rc=$?
assert_eq 2 "$rc" "offset outside the partition: exit 2"
assert_contains "$out" "is not among them" "offset outside the partition: said"
out=$(replay --from-offset cdc.crm.public.other:0:0) && rc=0 || rc=$?
assert_contains "$out" "is not a partition the routes of sink rep read" "a partition the sink does not read"
sed "s|brokers: \"$boot\"|brokers: embedded|" "$tmp/agent.yaml" >"$tmp/embedded.yaml"
out=$("$CDC_AGENT" replay -c "$tmp/embedded.yaml" --sink rep --from-timestamp 2020-01-01 2>&1) && rc=0 || rc=$?
assert_eq 2 "$rc" "embedded Kafka: exit 2"
assert_contains "$out" "nothing for replay to work on" "embedded Kafka: said"
finish

#!/usr/bin/env bash
# The explicit way to start a PostgreSQL source over: an invalidated slot (wal_status = lost) and
# a slot dropped behind the agent's back are refused (never recreated silently); `source drop` asks for confirmation, refuses while the
# agent runs, drops slot and publication, and the next start snapshots again in a new epoch.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/harness/assert.sh"
load_harness_env
. "$here/harness/agent_lib.sh"
tmp=$(mktemp -d)
agent_pid=
trap '[ -z "$agent_pid" ] || kill -9 $agent_pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
pg_reset dropme dropme filler
pg -c "CREATE TABLE dropme (id int PRIMARY KEY, v text)" -c "INSERT INTO dropme VALUES (1, 'a')" >/dev/null
mock_start "cdc._offsets 1" "cdc._schemas 1" "cdc.crm.public.dropme 2"
agent_config "$tmp/agent.yaml" drop-test dropme
slot_exists() { pg -Atc "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'dropme'"; }
start() { "$CDC_AGENT" run -c "$tmp/agent.yaml" >>"$tmp/agent.log" 2>&1 & agent_pid=$!; }

start
pg -c "INSERT INTO dropme VALUES (2, 'b')"
wait_caught_up dropme && ok || bad "first run caught up"
agent_stop

# the slot loses WAL it needed (invalidated at a checkpoint): refuse, name what was lost
pg -c "ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'" -c "SELECT pg_reload_conf()" \
   -c "CREATE TABLE filler (id int, pad text)" \
   -c "INSERT INTO filler SELECT g, repeat('x', 200) FROM generate_series(1, 200000) g" \
   -c "SELECT pg_switch_wal()" -c "CHECKPOINT" -c "DROP TABLE filler" \
   -c "ALTER SYSTEM RESET max_slot_wal_keep_size" -c "SELECT pg_reload_conf()" >/dev/null
assert_eq lost "$(pg -Atc "SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'dropme'")" \
    "slot invalidated"
run "$CDC_AGENT" run -c "$tmp/agent.yaml"
assert_eq 1 "$rc" "lost slot: exit code"
assert_contains "$out" "slot dropme is invalidated (wal_status = lost)" "lost slot: reason"
assert_contains "$out" "cdc-agent source drop -c FILE --source crm" "lost slot: the way out"

# the slot vanishes while the agent is stopped: refuse, name the way out
pg -c "SELECT pg_drop_replication_slot('dropme')" >/dev/null
run "$CDC_AGENT" run -c "$tmp/agent.yaml"
assert_eq 1 "$rc" "missing slot: exit code"
assert_contains "$out" "slot dropme is missing but a position is stored" "missing slot: reason"
assert_contains "$out" "cdc-agent source drop -c FILE --source crm" "missing slot: the way out"
assert_eq 0 "$(slot_exists)" "slot not recreated silently"

# source drop: unconfirmed, then refused while running, then done
pg -c "SELECT 1 FROM pg_create_logical_replication_slot('dropme', 'pgoutput')" >/dev/null
set +e
out=$(echo nope | "$CDC_AGENT" source drop -c "$tmp/agent.yaml" --source crm 2>&1); rc=$?
set -e
assert_eq 1 "$rc" "unconfirmed drop: exit code"
assert_contains "$out" "Type the source name to confirm" "asks to confirm"
assert_eq 1 "$(slot_exists)" "unconfirmed drop changes nothing"
# another consumer holds the slot (as a running agent would)
pg_recvlogical -h 127.0.0.1 -p "$CDC_TEST_PG_PORT" -U cdc -d cdc_test --slot dropme --start \
    -o proto_version=1 -o publication_names=dropme -f /dev/null >/dev/null 2>&1 &
holder=$!
for i in $(seq 1 50); do
    [ "$(pg -Atc "SELECT active FROM pg_replication_slots WHERE slot_name = 'dropme'")" = t ] && break
    sleep 0.1
done
run "$CDC_AGENT" source drop -c "$tmp/agent.yaml" --source crm --yes
assert_eq 1 "$rc" "drop while in use: exit code"
assert_contains "$out" "source crm is running: slot dropme is in use" "drop while in use: reason"
kill "$holder" 2>/dev/null || true
wait "$holder" 2>/dev/null || true
for i in $(seq 1 50); do
    [ "$(pg -Atc "SELECT active FROM pg_replication_slots WHERE slot_name = 'dropme'")" = f ] && break
    sleep 0.1
done
run "$CDC_AGENT" source drop -c "$tmp/agent.yaml" --source crm --yes
assert_eq 0 "$rc" "drop: exit code"
assert_contains "$out" "the next start takes a new snapshot in epoch 2" "drop: new epoch"
assert_eq 0 "$(slot_exists)" "slot dropped"
assert_eq 0 "$(pg -Atc "SELECT count(*) FROM pg_publication WHERE pubname = 'dropme'")" "publication dropped"

# the next start: a new snapshot in epoch 2
start
wait_caught_up dropme && ok || bad "restart caught up"
agent_stop
assert_contains "$(cat "$tmp/agent.log")" "starting over in epoch 2" "reset honoured"
dump=$("$CDC_TOPIC_DUMP" "$boot" cdc.crm.public.dropme | cut -f3)
assert_contains "$dump" "v1:00000002:" "events of the new snapshot carry epoch 2"
finish

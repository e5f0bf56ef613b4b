#!/usr/bin/env bash
# Limits and liveness of the PostgreSQL source through the agent: a 20 MB row published whole
# when kafka.max_event_bytes allows it; a row over the limit stops the source with a clear error
# and is published after the limit is raised (never dropped); heartbeats move the slot while only
# tables outside the publication change; a snapshot whose progress (its last key) is too long for
# the offset record says so once and still publishes every row.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/harness/assert.sh"
load_harness_env
. "$here/harness/agent_lib.sh"
tmp=$(mktemp -d)
agent_pid=
trap '[ -z "$agent_pid" ] || kill -9 $agent_pid 2>/dev/null || true; [ -n "${CDC_KEEP_TMP:-}" ] && echo "# kept $tmp" || rm -rf "$tmp"' EXIT
pg_reset lim lim other
pg_reset limkey limkey
pg -c "CREATE TABLE lim (id int PRIMARY KEY, body text)" -c "CREATE TABLE other (x int)" >/dev/null

mock_start "cdc._offsets 1" "cdc._schemas 1" "cdc.crm.public.lim 8" "cdc.crmkey.public.limkey 8"
config() { agent_config "$tmp/agent.yaml" limits-test lim "max_event_bytes: $1"; }
caught_up() { wait_caught_up lim "$1" 300; }
# 20 MB of incompressible text: md5 hex
big="SELECT string_agg(md5(g::text), '') FROM generate_series(1, 655360) g"

# "0/1E265B8" -> the 16-digit major field of a position
lsn_hex() { local hi=${1%/*} lo=${1#*/}; printf "%08x%08x" "0x$hi" "0x$lo"; }
# Whether an offsets record (written only after every data record of its Kafka transaction was
# delivered) covers a stream position with major in [from, to].
published_between() {
    "$CDC_TOPIC_DUMP" "$boot" cdc._offsets | grep -o '"pos":"v1:[0-9a-f]*:[0-9a-f]*:[0-9a-f]*:1:' | cut -d: -f4 |
        awk -v a="$1" -v b="$2" '$0 >= a && $0 <= b {found=1} END {exit !found}'
}

config 33554432
"$CDC_AGENT" run -c "$tmp/agent.yaml" >"$tmp/agent.log" 2>&1 &
agent_pid=$!
# the row goes in after the agent made its slot: before, it would be part of the initial
# snapshot (published, but not at a stream position between the two LSNs checked below)
slot_made() { grep -c "slot=lim created consistent_point" "$tmp/agent.log" || true; }
wait_value "slot created" 1 slot_made
before=$(lsn_hex "$(pg -Atc "SELECT pg_current_wal_lsn()")")
pg -c "INSERT INTO lim VALUES (1, ($big))"
after=$(pg -Atc "SELECT pg_current_wal_insert_lsn()")
caught_up "$after" && ok || bad "20 MB row acknowledged"
# (the mock broker drops segments beyond ~5 MB per partition, so the record itself may be gone)
published_between "$before" "$(lsn_hex "$after")" && ok || bad "20 MB row published in a committed transaction"

# heartbeats: only an uncaptured table changes, yet the slot advances
for i in $(seq 1 20); do pg -c "INSERT INTO other VALUES ($i)"; done
caught_up "$(pg -Atc "SELECT pg_current_wal_insert_lsn()")" && ok || bad "slot advanced past uncaptured writes"
kill -TERM "$agent_pid"
wait "$agent_pid" || true

# over the limit: a clear stop, nothing skipped
config 1048576
"$CDC_AGENT" run -c "$tmp/agent.yaml" >"$tmp/agent2.log" 2>&1 &
agent_pid=$!
# the row's own position (its commit's) lies between the end of its insert and the end of its
# commit: a heartbeat committed while the 20 MB insert ran (stored with the re-snapshot state a
# start records) lies before, and is no acknowledgement of the row
mid=$(pg -At -c "BEGIN" -c "INSERT INTO lim VALUES (2, ($big))" -c "SELECT pg_current_wal_insert_lsn()" -c "COMMIT")
after=$(pg -Atc "SELECT pg_current_wal_insert_lsn()")
wait "$agent_pid" && rc=0 || rc=$?
agent_pid=
assert_eq 1 "$rc" "over the limit: exit code"
log=$(grep -v facility= "$tmp/agent2.log")
assert_contains "$log" "above kafka.max_event_bytes=1048576" "over the limit: reason"
assert_contains "$log" "table=public.lim" "over the limit: table named"
published_between "$(lsn_hex "$mid")" "$(lsn_hex "$after")" && bad "over-limit row must not be acknowledged" || ok
# raised limit: the row comes through after the restart
config 33554432
"$CDC_AGENT" run -c "$tmp/agent.yaml" >"$tmp/agent3.log" 2>&1 &
agent_pid=$!
caught_up "$after" && ok || bad "caught up after raising the limit"
kill -TERM "$agent_pid"
wait "$agent_pid" || true
agent_pid=
published_between "$before" "$(lsn_hex "$after")" && ok || bad "over-limit row published after the restart"

# snapshot progress too long for the offset record: 2100-byte keys, two chunks
pg -c "CREATE TABLE limkey (k text PRIMARY KEY)" \
   -c "INSERT INTO limkey SELECT repeat('k', 2100) || lpad(g::text, 6, '0') FROM generate_series(1, 10001) g" >/dev/null
agent_config "$tmp/agent.yaml" limits-key limkey
sed -i 's/name: crm,/name: crmkey,/' "$tmp/agent.yaml" # offsets of its own
"$CDC_AGENT" run -c "$tmp/agent.yaml" >"$tmp/agent4.log" 2>&1 &
agent_pid=$!
wait_caught_up limkey "" 300 && ok || bad "long-key snapshot: caught up"
kill -TERM "$agent_pid"
wait "$agent_pid" || true
agent_pid=
assert_eq 1 "$(grep -c "does not fit the offset record's 2047 bytes" "$tmp/agent4.log")" "long progress: said once"
assert_eq 10001 "$("$CDC_TOPIC_DUMP" "$boot" cdc.crmkey.public.limkey | cut -f4 | sort -u | wc -l)" "long progress: every row published"
finish

#!/usr/bin/env bash
# MariaDB source against the harness MariaDB 10.11 and a mock Kafka cluster: every type of the
# value table from a real table to the event JSON, a primary-key change A->B->A, TRUNCATE, DDL
# mid-stream (new schema versions), binlog rotation, a restart that re-sends nothing, a server
# restart under the running agent, and binlogs purged past the stored position while it was
# stopped (a clear stop naming the way out, nothing skipped).
. "$(dirname "$0")/../harness/agent_test.sh"
my -e "DROP TABLE IF EXISTS fx_types, other; CREATE TABLE other (id INT PRIMARY KEY, v INT)"
mock_start "cdc._offsets 1" "cdc._schemas 1" "cdc.erp.cdc_test.fx_types 4"
my_config "$tmp/agent.yaml" my-source-test fx_types
streams() { grep -c "binlog streaming from" "$tmp/agent.log" 2>/dev/null || true; }
start_streaming() { # returns once this start streams (changes made before it are not captured)
    local before
    before=$(streams)
    start_agent
    for i in $(seq 1 100); do
        [ "$(streams)" -gt "$before" ] && return 0
        sleep 0.1
    done
}
dump() { "$CDC_TOPIC_DUMP" "$boot" cdc.erp.cdc_test.fx_types; }
start_streaming

# ---- every type (the table is created and filled while the agent streams) ----
my <"$CDC_SOURCE_DIR/tests/fixtures/mariadb_types.sql"
my_wait_caught_up && ok || bad "caught up after the inserts"
row1=$(dump | grep '"key":{"id":1}' | head -1 || true)
for want in '"op":"c"' '"connector":"mysql"' '"db":"cdc_test"' '"table":"fx_types"' '"ti":-128' \
    '"yr":2026' '"tu":255' '"si":-32768' '"su":65535' '"mi":-8388608' '"mu":16777215' \
    '"i":-2147483648' '"iu":4294967295' '"bi":"-9223372036854775808"' \
    '"bu":"18446744073709551615"' '"d1":"-1234.56"' \
    '"d2":"12345678901234567890123456789012345.123456789012345678901234567891"' '"d3":"99999"' \
    '"f":0.1' '"dbl":0.30000000000000004' '"b1":1' '"b12":2730' '"b64":"18446744073709551615"' \
    '"c":"ab"' '"vc":"héllo \"w\""' '"lat":"café €"' '"t":"text"' '"bin":"YWIAAA=="' \
    '"vb":"YQBi"' '"bl":"AP8="' '"dt":"2026-11-25"' '"tm":"-838:59:59"' '"tm3":"-00:00:01.5"' \
    '"tm6":"12:34:56.789012"' '"dtm":"2026-11-25T12:00:00"' '"dtm6":"2026-11-25T12:00:00.5"' \
    '"ts":"2026-11-25T12:00:00.123Z"' '"e":"b"' '"st":"r,x"' '"j":{"a": [1, 2.50]}' \
    '"gtid":"0-1-' '"server_id":1' '"file":"binlog.'; do
    assert_contains "$row1" "$want" "type round trip"
done
assert_contains "$(dump | grep '"key":{"id":2}' | head -1)" '"ti":null' "nulls"
row3=$(dump | grep '"key":{"id":3}' | head -1 || true)
assert_contains "$row3" '"dt":null,' "zero date -> null"
assert_contains "$row3" '"dtm":null,' "zero datetime -> null"
assert_contains "$row3" '"ts":null,' "zero timestamp -> null"
assert_contains "$(cat "$tmp/agent.log")" "zero dates are published as null" "zero dates logged"

# ---- key change A->B->A, changes of other tables are not captured ----
my -e "UPDATE fx_types SET id = 10 WHERE id = 2; INSERT INTO other VALUES (1, 1); UPDATE fx_types SET id = 2 WHERE id = 10"
my_wait_caught_up && ok || bad "caught up after the key changes"
ops=$(dump | awk -F'\t' '$4 == "{\"id\":2}" || $4 == "{\"id\":10}" {
    match($5, /"op":"[a-z]"/); printf "%s%s ", substr($5, RSTART + 6, 1), $4 }')
assert_eq 'c{"id":2} d{"id":2} c{"id":10} d{"id":10} c{"id":2} ' "$ops" "key change A->B->A as d + c"
assert_not_contains "$("$CDC_TOPIC_DUMP" "$boot" cdc._schemas)" '"other"' "other table not captured"
# each transaction repeats its TABLE_MAP: an unchanged structure is not read again
maps=$(grep -c "table=cdc_test.fx_types columns=" "$tmp/agent.log")
my -e "UPDATE fx_types SET d1 = d1 + 1 WHERE id = 1; UPDATE fx_types SET d1 = d1 - 1 WHERE id = 1;
       INSERT INTO fx_types (id) VALUES (30); DELETE FROM fx_types WHERE id = 30"
my_wait_caught_up && ok || bad "caught up after four transactions"
assert_eq "$maps" "$(grep -c "table=cdc_test.fx_types columns=" "$tmp/agent.log")" "a repeated TABLE_MAP is not read again"

# ---- DDL mid-stream, rotation ----
my -e "ALTER TABLE fx_types ADD COLUMN extra INT NOT NULL DEFAULT 7; INSERT INTO fx_types (id) VALUES (20)"
my -e "FLUSH BINARY LOGS"
my -e "ALTER TABLE fx_types DROP COLUMN extra, DROP COLUMN j; INSERT INTO fx_types (id) VALUES (21)"
my_wait_caught_up && ok || bad "caught up after DDL and rotation"
assert_contains "$(dump | grep '"key":{"id":20}')" '"extra":7' "added column flows through"
row21=$(dump | grep '"key":{"id":21}' || true)
assert_not_contains "$row21" '"extra"' "dropped column gone"
assert_contains "$row21" '"sv":3' "third schema version"
n20=$(dump | grep '"key":{"id":20}' | sed -n 's/.*"pos":"v1:[0-9a-f]*:\([0-9a-f]*\):.*/\1/p' | head -1)
n21=$(echo "$row21" | sed -n 's/.*"pos":"v1:[0-9a-f]*:\([0-9a-f]*\):.*/\1/p' | head -1)
assert_eq 1 $((16#$n21 - 16#$n20)) "position major follows the binlog file number"
schemas=$("$CDC_TOPIC_DUMP" "$boot" cdc._schemas | grep -c '"table":"fx_types"' || true)
assert_eq 3 "$schemas" "three structures of fx_types in _schemas"

# ---- TRUNCATE reaches every partition ----
my -e "TRUNCATE TABLE fx_types"
my -e "INSERT INTO fx_types (id) VALUES (30)"
my_wait_caught_up && ok || bad "caught up after truncate"
assert_eq 4 "$(dump | grep -c '"op":"t"' || true)" "truncate on all 4 partitions"

# ---- graceful restart: nothing re-sent, nothing missed ----
agent_stop
assert_eq 0 "$rc" "graceful stop"
before=$(dump | wc -l)
my -e "INSERT INTO fx_types (id) VALUES (31), (32)"
start_streaming
my_wait_caught_up && ok || bad "caught up after the restart"
assert_eq $((before + 2)) "$(dump | wc -l)" "restart publishes exactly the new changes"

run "$CDC_AGENT" source drop -c "$tmp/agent.yaml" --source erp --yes
assert_eq 1 "$rc" "source drop refused while the agent streams"
assert_contains "$out" "server_id $MY_SERVER_ID" "the running replica named"

# ---- server restart under the running agent ----
kill "$(cat "$CDC_TEST_MYSQL_ROOT/pid")"
for i in $(seq 1 100); do [ -e "$CDC_TEST_MYSQL_ROOT/pid" ] || break; sleep 0.1; done
"$here/harness/mariadb.sh" launch "$tmp" "$CDC_TEST_MYSQL_ROOT" "$CDC_TEST_MYSQL_PORT" >/dev/null
my -e "INSERT INTO fx_types (id) VALUES (33)"
my_wait_caught_up && ok || bad "caught up after the server restart"
assert_eq 1 "$(dump | grep -c '"key":{"id":33}' || true)" "change after the server restart, once"
assert_contains "$(cat "$tmp/agent.log")" "reconnecting" "the agent reconnected"

# ---- binlogs purged past the stored position while stopped ----
agent_stop
my -e "INSERT INTO fx_types (id) VALUES (40); FLUSH BINARY LOGS; INSERT INTO fx_types (id) VALUES (41); FLUSH BINARY LOGS"
# the server keeps a file a (lingering) dump thread still reads: end those threads first
dumps="SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND = 'Binlog Dump'"
for id in $(my -N -e "$dumps"); do my -e "KILL $id" 2>/dev/null || true; done
for i in $(seq 1 100); do [ -z "$(my -N -e "$dumps")" ] && break; sleep 0.1; done
stored=$("$CDC_TOPIC_DUMP" "$boot" cdc._offsets | grep '"source":"erp"' | tail -1 |
    sed -n 's/.*"source_resume":{"file":"\([^"]*\)".*/\1/p')
# and files whose transactions InnoDB has not checkpointed yet are kept too: retry a while
for i in $(seq 1 100); do
    my -e "PURGE BINARY LOGS TO '$(my -N -e "SHOW MASTER STATUS" | cut -f1)'"
    case $(my -N -e "SHOW BINARY LOGS") in *"$stored"*) sleep 0.1 ;; *) break ;; esac
done
assert_not_contains "$(my -N -e "SHOW BINARY LOGS")" "$stored" "stored binlog file purged"
run timeout 60 "$CDC_AGENT" run -c "$tmp/agent.yaml"
assert_eq 1 "$rc" "purged binlog stops the agent"
assert_contains "$out" "no longer on the server" "purge named"
assert_contains "$out" "source drop" "the way out named"
assert_eq 0 "$(dump | grep -c '"key":{"id":4[01]}' || true)" "nothing skipped ahead"
assert_not_contains "$out" "$MYPW" "no password in output"
echo "$out" | grep "stopped:" | cut -c26-
# the way out: forget the position; the next start begins a new epoch
run "$CDC_AGENT" source drop -c "$tmp/agent.yaml" --source erp --yes
assert_eq 0 "$rc" "source drop after the purge"
assert_contains "$out" "epoch 2" "next epoch"
start_streaming
my -e "INSERT INTO fx_types (id) VALUES (50)"
my_wait_caught_up && ok || bad "caught up in the new epoch"
assert_contains "$(dump | grep '"key":{"id":50}')" '"pos":"v1:00000002:' "new epoch in positions"
# offsets show: the stored binlog point, the server's, and the replica reading it
run "$CDC_AGENT" offsets show -c "$tmp/agent.yaml"
assert_eq 0 "$rc" "offsets show: exit 0"
assert_contains "$out" "erp          mysql      binlog." "offsets show: the stored binlog file and position"
assert_contains "$out" "(epoch 2)" "offsets show: the epoch"
assert_contains "$out" "a replica with server_id $MY_SERVER_ID reads it" "offsets show: the agent's binlog dump"
run "$CDC_AGENT" offsets show -c "$tmp/agent.yaml" --json
assert_contains "$out" '"lag_bytes": ' "offsets show --json: bytes behind"
agent_stop
# the start after that resumes in epoch 2 (the reset is not carried into later offset records)
: >"$tmp/agent.log"
start_agent
my -e "INSERT INTO fx_types (id) VALUES (51)"
my_wait_caught_up && ok || bad "caught up after the restart"
assert_contains "$(cat "$tmp/agent.log")" "resuming after pos=v1:00000002:" "the restart resumes in epoch 2"
assert_not_contains "$(cat "$tmp/agent.log")" "starting over" "no second fresh start"
# offsets set --source: refused while the agent reads the binlog; forward only; a change before
# the new position is skipped, one after it arrives
now=$(my -N -e "SHOW MASTER STATUS" | awk '{print $1 ":" $2}')
run "$CDC_AGENT" offsets set -c "$tmp/agent.yaml" --source erp --position "$now"
assert_eq 1 "$rc" "offsets set --source while streaming: exit 1"
assert_contains "$out" "reads the binlog; stop the agent first, or --force" "offsets set while streaming: refused"
agent_stop
run "$CDC_AGENT" offsets set -c "$tmp/agent.yaml" --source erp --position "binlog.000001:4"
assert_eq 2 "$rc" "offsets set --source backwards: exit 2"
assert_contains "$out" "positions move forward only" "offsets set backwards: said"
my -e "INSERT INTO fx_types (id) VALUES (60)"
now=$(my -N -e "SHOW MASTER STATUS" | awk '{print $1 ":" $2}')
run "$CDC_AGENT" offsets set -c "$tmp/agent.yaml" --source erp --position "$now"
assert_eq 0 "$rc" "offsets set --source forward: exit 0"
my -e "INSERT INTO fx_types (id) VALUES (61)"
start_agent
my_wait_caught_up && ok || bad "caught up after offsets set"
assert_eq 1 "$(dump | grep -c '"key":{"id":61}' || true)" "a change after the new position arrives"
assert_eq 0 "$(dump | grep -c '"key":{"id":60}' || true)" "a change before it is skipped, as asked"
agent_stop
finish

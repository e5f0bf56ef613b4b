#!/usr/bin/env bash
# MariaDB tables without a primary key: one with unique indexes over NOT NULL columns is keyed by
# the first of them in the server's key order (the one the binlog names as primary, not the first
# by name), the same in the snapshot and in the stream (a change of the index columns is a delete
# and a create, like a primary-key change). One without any such key is published with a null
# key, all of it to one partition, with whole before images; the other tables of the source go
# on; a sink route from it without a key of its own is refused with the fix, and with one it
# applies every change; `cdc-agent snapshot` re-reads it. (Both kinds used to stop the source.)
. "$(dirname "$0")/../harness/agent_test.sh"
my -e "DROP TABLE IF EXISTS ukey, nokey;
       CREATE TABLE ukey (code VARCHAR(10) NOT NULL, region INT NOT NULL, opt INT NULL, v INT,
                          alt INT NOT NULL, UNIQUE KEY a_opt (opt), UNIQUE KEY z_code (code, region),
                          UNIQUE KEY a_alt (alt));
       INSERT INTO ukey VALUES ('a', 1, NULL, 1, 10), ('b', 2, 5, 1, 20);
       CREATE TABLE nokey (x INT, v INT)"
mock_start "cdc._offsets 1" "cdc._schemas 1" "cdc.erp.cdc_test.ukey 4" "cdc.erp.cdc_test.nokey 4"
my_config "$tmp/agent.yaml" my-keys ukey
sed -i 's/snapshot: never/snapshot: initial/' "$tmp/agent.yaml"
run "$CDC_AGENT" check -c "$tmp/agent.yaml"
assert_contains "$out" "table cdc_test.ukey has no primary key: keyed by unique index z_code" "check names the key"
CDC_SNAPSHOT_PROGRESS_MS=1 start_agent
for i in $(seq 1 100); do grep -q "binlog streaming from" "$tmp/agent.log" && break; sleep 0.1; done
my -e "INSERT INTO ukey VALUES ('c', 3, NULL, 1, 30); UPDATE ukey SET v = 2 WHERE code = 'a';
       UPDATE ukey SET code = 'bb' WHERE code = 'b'; DELETE FROM ukey WHERE code = 'c'"
my_wait_caught_up && ok || bad "caught up"
agent_stop
assert_eq 0 "$rc" "graceful stop"
assert_contains "$(cat "$tmp/agent.log")" "source=erp snapshot progress table=ukey rows=2 " "the snapshot's progress logged"
dump=$("$CDC_TOPIC_DUMP" "$boot" cdc.erp.cdc_test.ukey | cut -f4,5)
keyed() { # key op
    grep -F "$1" <<<"$dump" | grep -c "\"op\":\"$2\"" || true
}
assert_eq 2 "$(grep -c '"op":"r"' <<<"$dump")" "snapshot rows"
assert_eq 1 "$(keyed '{"code":"a","region":1}' r)" "snapshot keyed by the unique index"
assert_eq 1 "$(keyed '{"code":"c","region":3}' c)" "insert keyed by the unique index"
assert_eq 1 "$(keyed '{"code":"a","region":1}' u)" "update keyed by the unique index"
assert_eq 1 "$(keyed '{"code":"b","region":2}' d)" "index change: delete of the old key"
assert_eq 1 "$(keyed '{"code":"bb","region":2}' c)" "index change: create of the new key"
assert_eq 1 "$(keyed '{"code":"c","region":3}' d)" "delete keyed by the unique index"
schema=$("$CDC_TOPIC_DUMP" "$boot" cdc._schemas | grep '"table":"ukey"' | tail -1)
assert_contains "$schema" '"name":"code","type":"string","native":"varchar","key":true' "schema marks the key"

# no key at all: null key, one partition, whole before images; a sink needs a route key
# the sink's target in a database of its own (with its own cdc_sink_offsets)
my -e "DROP DATABASE IF EXISTS keys_target; CREATE DATABASE keys_target;
       INSERT INTO nokey VALUES (1, 1), (2, 1), (2, 1);
       CREATE TABLE keys_target.nokey_copy (x INT PRIMARY KEY, v INT)"
sed -i 's/tables: \[cdc_test.ukey\]/tables: [cdc_test.nokey, cdc_test.ukey]/; s/name: erp,/name: erpnokey,/; s/name: my-keys}/name: my-keys-2}/' "$tmp/agent.yaml"
mock_cmd "topic cdc.erpnokey.cdc_test.nokey 4"
mock_cmd "topic cdc.erpnokey.cdc_test.ukey 4"
run "$CDC_AGENT" check -c "$tmp/agent.yaml"
assert_contains "$out" "table cdc_test.nokey has neither a primary key nor a unique index over NOT NULL columns: its events go out with a null key" "check: keyless table noted"
assert_not_contains "$out" "NOT READY" "check: keyless table accepted"
lines=$(wc -l <"$tmp/agent.log")
start_agent
for i in $(seq 1 100); do tail -n +$((lines + 1)) "$tmp/agent.log" | grep -q "binlog streaming from" && break; sleep 0.1; done
my -e "INSERT INTO nokey VALUES (3, 1); UPDATE nokey SET v = 2 WHERE x = 1; DELETE FROM nokey WHERE x = 3;
       INSERT INTO ukey VALUES ('d', 4, NULL, 1, 40)"
my_wait_caught_up "" 600 erpnokey && ok || bad "keyless: caught up"
agent_stop
assert_eq 0 "$rc" "keyless: graceful stop"
dump=$("$CDC_TOPIC_DUMP" "$boot" cdc.erpnokey.cdc_test.nokey)
assert_eq 6 "$(wc -l <<<"$dump")" "every keyless change published (3 snapshot rows, insert, update, delete)"
assert_eq 1 "$(cut -f1 <<<"$dump" | sort -u | wc -l)" "all in one partition"
assert_eq 6 "$(cut -f4 <<<"$dump" | grep -cx null)" "Kafka key null"
assert_contains "$dump" '"key":null,"before":{"x":1,"v":1},"after":{"x":1,"v":2}' "update: whole before image"
assert_contains "$dump" '"key":null,"before":{"x":3,"v":1},"after":null' "delete: whole before image"
assert_eq 1 "$("$CDC_TOPIC_DUMP" "$boot" cdc.erpnokey.cdc_test.ukey | grep -c '"code":"d"')" "the other table went on"

# a sink route from it without a key: that route stops at the first event with the fix (the
# agent runs on)
cat >>"$tmp/agent.yaml" <<EOC
sinks:
  - {name: copy, type: mysql, host: 127.0.0.1, port: $CDC_TEST_MYSQL_PORT, user: cdc, password_env: MYPW,
     database: keys_target, routes: [{from: erpnokey.cdc_test.nokey, to: keys_target.nokey_copy}]}
EOC
: >"$tmp/agent.log"
start_agent
stopped() { grep -c "sink=copy route erpnokey.cdc_test.nokey stopped: " "$tmp/agent.log" || true; }
wait_value "a route from a keyless table without a key stops" 1 stopped
out=$(cat "$tmp/agent.log")
assert_contains "$out" "route erpnokey.cdc_test.nokey: its table has no key" "sink: why"
assert_contains "$out" "give the route a key" "sink: the fix"
kill -0 "$agent_pid" && ok || bad "the agent runs on"
agent_stop
assert_eq 0 "$(my -N -e "SELECT COUNT(*) FROM keys_target.nokey_copy")" "nothing applied by the stopped route"
# with a route key the sink applies it
sed -i 's/to: keys_target.nokey_copy}/to: keys_target.nokey_copy, key: [x]}/' "$tmp/agent.yaml"
start_agent
copy() { my -N -e "SELECT GROUP_CONCAT(CONCAT(x, ':', v) ORDER BY x) FROM keys_target.nokey_copy"; }
wait_value "route key: the sink applies the keyless table" "1:2,2:1" copy
# a re-snapshot of the keyless table reads it whole
my -e "UPDATE keys_target.nokey_copy SET v = 9 WHERE x = 2"
run "$CDC_AGENT" snapshot -c "$tmp/agent.yaml" --source erpnokey --table cdc_test.nokey
assert_eq 0 "$rc" "re-snapshot of a keyless table"
wait_value "re-snapshot repaired the copy" "1:2,2:1" copy
agent_stop
assert_eq 0 "$rc" "graceful stop"
my -e "DROP DATABASE keys_target"
finish

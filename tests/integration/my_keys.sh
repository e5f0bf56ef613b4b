#!/usr/bin/env bash
# MariaDB tables without a primary key: one with unique indexes over NOT NULL columns is keyed by
# the first of them in the server's key order (the one the binlog names as primary, not the first
# by name), the same in the snapshot and in the stream (a change of the index columns is a delete
# and a create, like a primary-key change); one without any such key is refused with the fix, by
# `check` as by `run` (the snapshot used to refuse the first kind too).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/harness/assert.sh"
load_harness_env
. "$here/harness/agent_lib.sh"
setup_tmp
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
start_agent
for i in $(seq 1 100); do grep -q "binlog streaming from" "$tmp/agent.log" && break; sleep 0.1; done
my -e "INSERT INTO ukey VALUES ('c', 3, NULL, 1, 30); UPDATE ukey SET v = 2 WHERE code = 'a';
       UPDATE ukey SET code = 'bb' WHERE code = 'b'; DELETE FROM ukey WHERE code = 'c'"
my_wait_caught_up && ok || bad "caught up"
agent_stop
assert_eq 0 "$rc" "graceful stop"
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

# no key at all: refused with the fix
sed -i 's/tables: \[cdc_test.ukey\]/tables: [cdc_test.nokey]/; s/name: erp,/name: erpnokey,/' "$tmp/agent.yaml"
run "$CDC_AGENT" check -c "$tmp/agent.yaml"
assert_eq 1 "$rc" "check: keyless table not ready"
assert_contains "$out" "cdc_test.nokey has neither a primary key nor a unique index over NOT NULL columns" "check: why"
run timeout 60 "$CDC_AGENT" run -c "$tmp/agent.yaml"
assert_eq 1 "$rc" "run refuses the keyless table"
assert_contains "$out" "add a primary key" "run: the fix"
finish

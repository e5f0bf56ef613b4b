#!/usr/bin/env bash
# MariaDB initial snapshot: every type reads the same from the snapshot (SELECT) as from the
# binlog (a copy of the row inserted afterwards must give the same JSON), and 100k rows snapshotted
# while a workload writes, with the agent killed once mid-snapshot: the topic rebuilds the table
# and every key's chain is whole (tests/harness/verify_chain.c).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/harness/assert.sh"
load_harness_env
. "$here/harness/agent_lib.sh"
rows=${CDC_SNAPSHOT_ROWS:-100000}
setup_tmp

# ---- the same values from the snapshot and from the binlog ----
my -e "DROP TABLE IF EXISTS fxs, msnap"
my <<'SQL'
CREATE TABLE fxs (
  id INT PRIMARY KEY, ti TINYINT, yr YEAR, tu TINYINT UNSIGNED, mu MEDIUMINT UNSIGNED,
  bi BIGINT, bu BIGINT UNSIGNED, d1 DECIMAL(10,2), d2 DECIMAL(65,30), f FLOAT, dbl DOUBLE,
  b12 BIT(12), b64 BIT(64), c CHAR(5), vc VARCHAR(300), lat VARCHAR(20) CHARACTER SET latin1,
  t TEXT, bin BINARY(4), vb VARBINARY(10), bl BLOB, dt DATE, tm TIME, tm3 TIME(3),
  tm6 TIME(6), dtm DATETIME, dtm6 DATETIME(6), ts TIMESTAMP(3) NULL, e ENUM('a','b','c'),
  st SET('r','w','x'), j JSON
) DEFAULT CHARSET utf8mb4;
SET time_zone = '+00:00';
INSERT INTO fxs VALUES (1, -128, 2026, 255, 16777215, -9223372036854775808,
  18446744073709551615, -1234.56, '12345678901234567890123456789012345.123456789012345678901234567891',
  0.1, 0.30000000000000004, b'101010101010',
  b'1111111111111111111111111111111111111111111111111111111111111111', 'ab', 'héllo "w"',
  _latin1 x'636166e92080', 'text', 'ab', 'a\0b', x'00ff', '2026-11-25', '-838:59:59',
  '-00:00:01.500', '12:34:56.789012', '2026-11-25 12:00:00', '2026-11-25 12:00:00.500000',
  '2026-11-25 12:00:00.123', 'b', 'r,x', '{"a": [1, 2.50]}');
INSERT INTO fxs (id) VALUES (2);
SET sql_mode = '';
INSERT INTO fxs (id, dt, dtm, ts) VALUES (3, '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00');
SQL
mock_start "cdc._offsets 1" "cdc._schemas 1" "cdc.erp.cdc_test.fxs 4" "cdc.erp.cdc_test.msnap 8"
my_config "$tmp/agent.yaml" my-snapshot-test fxs
sed -i 's/snapshot: never/snapshot: initial/' "$tmp/agent.yaml"
start_agent
for i in $(seq 1 100); do grep -q "binlog streaming from" "$tmp/agent.log" && break; sleep 0.1; done
my -e "SET sql_mode = ''; INSERT INTO fxs SELECT id + 100, ti, yr, tu, mu, bi, bu, d1, d2, f, dbl, b12, b64, c, vc, lat, t, bin, vb, bl, dt, tm, tm3, tm6, dtm, dtm6, ts, e, st, j FROM fxs"
my_wait_caught_up && ok || bad "caught up after the snapshot"
agent_stop
dump() { "$CDC_TOPIC_DUMP" "$boot" cdc.erp.cdc_test.fxs; }
after_of() { # id: the after object of its first event, with the id taken out
    dump | grep "\"key\":{\"id\":$1}" | head -1 | sed 's/.*"after":{"id":[0-9]*,//; s/},"txn".*//'
}
for id in 1 2 3; do
    snap=$(after_of "$id")
    assert_contains "$(dump | grep "\"key\":{\"id\":$id}" | head -1)" '"op":"r"' "row $id from the snapshot"
    assert_contains "$(dump | grep "\"key\":{\"id\":$((id + 100))}" | head -1)" '"op":"c"' "row $((id + 100)) from the binlog"
    assert_eq "$snap" "$(after_of $((id + 100)))" "row $id: snapshot and binlog values equal"
done
assert_contains "$(after_of 1)" '"bu":"18446744073709551615","d1":"-1234.56"' "values"
assert_eq 1 "$("$CDC_TOPIC_DUMP" "$boot" cdc._schemas | grep -c '"table":"fxs"')" "one structure: catalog and TABLE_MAP agree"

# ---- 100k rows under concurrent writes, killed once mid-snapshot ----
my -e "CREATE TABLE msnap (id INT PRIMARY KEY, v INT NOT NULL, pad VARCHAR(100))"
my -e "INSERT INTO msnap SELECT seq, 1, REPEAT('s', 60) FROM seq_1_to_$rows"
sed -i "s/tables: \[cdc_test.fxs\]/tables: [cdc_test.msnap]/; s/name: my-snapshot-test/name: my-snapshot-2/" "$tmp/agent.yaml"
sed -i 's/- {name: erp,/- {name: erp2,/' "$tmp/agent.yaml"
awk -v n=20000 -v max="$rows" 'BEGIN { srand(7); for (i = 0; i < n; i++) { id = int(rand() * (max + 5000)) + 1;
    if (rand() < 0.9) printf "INSERT INTO msnap VALUES (%d, 1, \"w\") ON DUPLICATE KEY UPDATE v = v + 1;\n", id;
    else printf "DELETE FROM msnap WHERE id = %d;\n", id } }' >"$tmp/w.sql"
start_agent
my --force <"$tmp/w.sql" >"$tmp/w.log" 2>&1 &
w=$!
for i in $(seq 1 100); do
    grep -q '"snapshot_done":false' < <("$CDC_TOPIC_DUMP" "$boot" cdc._offsets 2>/dev/null | grep erp2) && break
    sleep 0.05
done
kill -9 "$agent_pid"
wait "$agent_pid" 2>/dev/null || true
killed_mid=$(grep -c '"snapshot_done":true' < <("$CDC_TOPIC_DUMP" "$boot" cdc._offsets | grep erp2) || true)
assert_eq 0 "$killed_mid" "killed inside the snapshot"
start_agent
wait "$w"
my -e "INSERT INTO msnap VALUES (1, 1, 'last') ON DUPLICATE KEY UPDATE v = v + 1"
for i in $(seq 1 600); do # wait for the source erp2 to store the server's position
    got=$("$CDC_TOPIC_DUMP" "$boot" cdc._offsets | grep '"source":"erp2"' | tail -1 | sed -n 's/.*"pos":\([0-9]*\).*/\1/p')
    [ -n "$got" ] && [ "$got" -ge "$(my -N -e 'SHOW MASTER STATUS' | cut -f2)" ] && break
    sleep 0.1
done
agent_stop
assert_eq 0 "$rc" "graceful stop"
assert_contains "$(cat "$tmp/agent.log")" "the initial snapshot was interrupted; taking it again" "snapshot taken again"
my -N -e "SELECT id, v FROM msnap" >"$tmp/expected"
CDC_VERIFY_LENIENT=1 run "$CDC_VERIFY_CHAIN" "$boot" cdc.erp2.cdc_test.msnap "$tmp/expected"
echo "$out"
assert_eq 0 "$rc" "table rebuilt from the topic"
finish

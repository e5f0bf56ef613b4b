#!/usr/bin/env bash
# Sink failure handling, PostgreSQL source to a MariaDB and a PostgreSQL target in one agent:
# - poison records: a name too long for the target's VARCHAR(10), and one of two rows that share
#   an email (the target has a unique index on it, the source does not), go to each sink's
#   dead-letter topic with their reason, topic, partition, offset and number of attempts (1 and
#   6); every other row is applied (on MariaDB the clash is not taken for an upsert of the
#   other row);
# - on_unknown_column: add: a column the targets lack is added and filled;
# - truncate: apply on the MariaDB route (a barrier across the topic's 4 partitions) empties the
#   table in order with the rows around it; truncate: ignore on the other route keeps them;
# - a child row arriving before its parent with fk_checks: true is held back and applied once the
#   parent is there, and nothing of it reaches the DLQ;
# - a forged record (anyone who can write to the topic): a delete keyed by a column that is no
#   unique key of the targets, which would delete every row with that name, goes to each DLQ
#   with the reason, and no row goes; a forged insert with a column name longer than the targets
#   keep (65 characters; on_unknown_column: add) goes there too instead of adding a column
#   under a shortened name again and again; forged positions (far past what the source
#   committed, in an epoch it has not started, naming another source) go to each DLQ and leave
#   the re-send guard where it was: the next real change of that partition is applied;
# - a record its route cannot apply (a column the target lacks, on_unknown_column: fail) stops
#   that route only, visibly (its error, /readyz names it, the sink's last error in the admin
#   API): the sink's other route and the other sinks go on, the agent runs on; once the column
#   is added, a restart of the sink through the API applies the record.
. "$(dirname "$0")/../harness/agent_test.sh"
# targets in their own databases: other tests' sinks keep cdc_sink_offsets in cdc_test
pg_reset dlqsrc dlqsrc fkparent fkchild
[ "$(pg -Atc "SELECT count(*) FROM pg_database WHERE datname = 'cdc_dlq'")" = 1 ] ||
    pg -c "CREATE DATABASE cdc_dlq" >/dev/null
pgt() { psql -q -h 127.0.0.1 -p "$CDC_TEST_PG_PORT" -U cdc -d cdc_dlq -v ON_ERROR_STOP=1 "$@"; }
myt() { mariadb --no-defaults -h 127.0.0.1 -P "$CDC_TEST_MYSQL_PORT" -u cdc -p"$MYPW" cdc_dlq "$@"; }
pgt -c "DROP TABLE IF EXISTS dlq_copy, fk_child_t, fk_parent_t, cdc_sink_offsets" \
    -c "CREATE TABLE dlq_copy (id int PRIMARY KEY, name varchar(10), email text UNIQUE)" \
    -c "CREATE TABLE fk_parent_t (id int PRIMARY KEY, name text)" \
    -c "CREATE TABLE fk_child_t (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES fk_parent_t (id))" \
    >/dev/null
pg -c "CREATE TABLE dlqsrc (id int PRIMARY KEY, name text, email text, note text)" \
   -c "INSERT INTO dlqsrc SELECT g, 'n' || g, 'u' || g || '@x', 'note ' || g FROM generate_series(1, 200) g" \
   -c "INSERT INTO dlqsrc VALUES (1001, 'this name is far too long', 'u1001@x', NULL),
                                 (1002, 'dup', 'u1@x', NULL)" \
   -c "CREATE TABLE fkparent (id int PRIMARY KEY, name text)" \
   -c "CREATE TABLE fkchild (id int PRIMARY KEY, parent_id int)" >/dev/null
my -e "CREATE DATABASE IF NOT EXISTS cdc_dlq"
myt -e "DROP TABLE IF EXISTS dlq_customers, cdc_sink_offsets;
       CREATE TABLE dlq_customers (id INT PRIMARY KEY, name VARCHAR(10), email VARCHAR(50) UNIQUE)"
mock_start "cdc._offsets 1" "cdc._schemas 1" "cdc.crm.public.dlqsrc 4" "cdc.crm.public.fkparent 2" \
    "cdc.crm.public.fkchild 2" "cdc._dlq.erp 1" "cdc._dlq.pgdst 1" "cdc._dlq.fk 1"
port=$(free_port)
export DLQ_API_TOKEN=$(random_secret)
cat >"$tmp/agent.yaml" <<EOC
agent: {name: dlq-test, http: "127.0.0.1:$port", api: {token_env: DLQ_API_TOKEN}}
kafka: {brokers: "$boot", linger_ms: 20}
sources:
  - {name: crm, type: postgresql, conninfo: "host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=cdc_test user=cdc",
     password_env: PGPASSWORD, tables: [public.dlqsrc, public.fkparent, public.fkchild], slot: dlqsrc,
     publication: dlqsrc, heartbeat_ms: 1000}
sinks:
  - name: erp
    type: mysql
    host: 127.0.0.1
    port: $CDC_TEST_MYSQL_PORT
    user: cdc
    password_env: MYPW
    database: cdc_dlq
    batch_size: 100
    batch_ms: 20
    routes:
      - {from: crm.public.dlqsrc, to: cdc_dlq.dlq_customers, on_unknown_column: add, truncate: apply}
  - name: pgdst
    type: postgresql
    conninfo: "host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=cdc_dlq user=cdc"
    password_env: PGPASSWORD
    batch_size: 100
    batch_ms: 20
    routes:
      - {from: crm.public.dlqsrc, to: public.dlq_copy, on_unknown_column: add}
  - name: fk
    type: postgresql
    conninfo: "host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=cdc_dlq user=cdc"
    password_env: PGPASSWORD
    batch_ms: 20
    routes:
      - {from: crm.public.fkparent, to: public.fk_parent_t, fk_checks: true}
      - {from: crm.public.fkchild, to: public.fk_child_t, fk_checks: true}
EOC
dump() { "$CDC_TOPIC_DUMP" "$boot" "$1" --headers; }
start_agent
wait_value "erp: 200 rows applied" 200 myt -N -e "SELECT COUNT(*) FROM dlq_customers"
wait_value "pgdst: 200 rows applied" 200 pgt -Atc "SELECT COUNT(*) FROM dlq_copy"
dlq_lines() { dump "cdc._dlq.$1" | wc -l; }
wait_value "erp: 2 records in the DLQ" 2 dlq_lines erp
wait_value "pgdst: 2 records in the DLQ" 2 dlq_lines pgdst
erp_dlq=$(dump cdc._dlq.erp)
pg_dlq=$(dump cdc._dlq.pgdst)
assert_contains "$erp_dlq" '"id":1001' "erp DLQ holds the long name"
assert_contains "$erp_dlq" "cdc-dlq-error=sink erp: cdc.crm.public.dlqsrc[" "erp DLQ reason names the record"
assert_contains "$erp_dlq" "Data too long for column" "erp DLQ reason says why"
assert_contains "$erp_dlq" "cdc-dlq-topic=cdc.crm.public.dlqsrc|cdc-dlq-partition=" "erp DLQ topic and partition headers"
assert_contains "$erp_dlq" "another row holds one of the row's unique values" "erp DLQ: the unique violation"
assert_contains "$erp_dlq" "cdc-dlq-attempts=6" "erp DLQ: the violation was tried 6 times"
assert_contains "$erp_dlq" "cdc-op=" "erp DLQ keeps the original headers"
assert_contains "$pg_dlq" "value too long for type character varying(10)" "pgdst DLQ: the long name"
assert_contains "$pg_dlq" "SQLSTATE 23505" "pgdst DLQ: the unique violation"
assert_contains "$pg_dlq" "cdc-dlq-attempts=6" "pgdst DLQ: tried 6 times"
assert_eq "note 7" "$(myt -N -e "SELECT note FROM dlq_customers WHERE id = 7")" "erp: column note added and filled"
assert_eq "note 7" "$(pgt -Atc "SELECT note FROM dlq_copy WHERE id = 7")" "pgdst: column note added and filled"
# rows 1 and 1002 share an email: whichever came second (they are in different partitions) is
# the dead letter
assert_eq 1 "$(myt -N -e "SELECT COUNT(*) FROM dlq_customers WHERE id IN (1, 1001, 1002)")" "erp: poison rows not applied"
assert_eq 1 "$(pgt -Atc "SELECT COUNT(*) FROM dlq_copy WHERE id IN (1, 1001, 1002)")" "pgdst: poison rows not applied"

# truncate: a barrier across the 4 partitions on the MariaDB route, ignored on the other
pg -c "UPDATE dlqsrc SET note = 'before' WHERE id BETWEEN 2 AND 50" -c "TRUNCATE dlqsrc" \
   -c "INSERT INTO dlqsrc SELECT g, 'after' || g, 'a' || g || '@x' FROM generate_series(301, 320) g" >/dev/null
wait_value "erp: truncated, then the 20 new rows" 20 myt -N -e "SELECT COUNT(*) FROM dlq_customers"
assert_eq "301 320" "$(myt -N -e "SELECT MIN(id), MAX(id) FROM dlq_customers" | tr '\t' ' ')" "erp: only the rows after the truncate"
wait_value "pgdst: truncate ignored" 220 pgt -Atc "SELECT COUNT(*) FROM dlq_copy"

# a child before its parent, foreign-key checks on: held back, then applied
pg -c "INSERT INTO fkchild VALUES (1, 77)" >/dev/null
sleep 1.5
pg -c "INSERT INTO fkparent VALUES (77, 'parent')" >/dev/null
wait_value "fk: the child row applied after its parent" 1 pgt -Atc "SELECT COUNT(*) FROM fk_child_t WHERE parent_id = 77"

# Writes a forged record to partition 0 of the dlqsrc topic: op, key, the rest of the event (JSON
# members) and, optionally, its position and source; by default the position of a real change
# just made to another table of the source (one the source committed, past everything dlqsrc's
# partitions applied), so that only what the test forges is wrong.
marks=0
forge() { # op key rest [pos [system]]
    local pos=${4:-} n=$((++marks + 1000))
    if [ -z "$pos" ]; then
        pg -c "INSERT INTO fkparent VALUES ($n, 'mark')" >/dev/null
        wait_value "the marker row $n applied" 1 pgt -Atc "SELECT COUNT(*) FROM fk_parent_t WHERE id = $n"
        pos=$(dump cdc.crm.public.fkparent | awk -F'\t' -v k="{\"id\":$n}" '$4 == k {print $3}' | tail -1)
    fi
    run "$CDC_KAFKA_ADMIN" "$boot" put cdc.crm.public.dlqsrc "$2" '{"v":1,"op":"'"$1"'","source":{"system":"'"${5:-crm}"'","connector":"postgresql","db":"cdc_test","schema":"public","table":"dlqsrc","ts_ms":1,"snapshot":false,"pos":"'"$pos"'"},"key":'"$2"','"$3"'}'
    assert_eq 0 "$rc" "a forged record is in the topic"
}
# a forged delete keyed by name (three rows share it on the targets)
myt -e "UPDATE dlq_customers SET name = 'same' WHERE id BETWEEN 301 AND 303"
pgt -c "UPDATE dlq_copy SET name = 'same' WHERE id BETWEEN 301 AND 303" >/dev/null
forge d '{"name":"same"}' '"before":{"name":"same"}'
wait_value "erp: the forged record in the DLQ" 3 dlq_lines erp
wait_value "pgdst: the forged record in the DLQ" 3 dlq_lines pgdst
assert_contains "$(dump cdc._dlq.erp)" "the event's key (name) is not a unique key of target table cdc_dlq.dlq_customers (its keys: id; email)" "erp DLQ: the forged key's reason"
assert_contains "$(dump cdc._dlq.pgdst)" "the event's key (name) is not a unique key of target table public.dlq_copy (its keys: id; email)" "pgdst DLQ: the forged key's reason"
assert_eq 3 "$(myt -N -e "SELECT COUNT(*) FROM dlq_customers WHERE name = 'same'")" "erp: no row deleted by the forged key"
assert_eq 3 "$(pgt -Atc "SELECT COUNT(*) FROM dlq_copy WHERE name = 'same'")" "pgdst: no row deleted by the forged key"
long=c$(printf 'x%.0s' $(seq 1 64))
forge c '{"id":9999}' '"after":{"id":9999,"name":"long","email":"l@x","'"$long"'":"v"}'
wait_value "erp: the long column name in the DLQ" 4 dlq_lines erp
wait_value "pgdst: the long column name in the DLQ" 4 dlq_lines pgdst
assert_contains "$(dump cdc._dlq.pgdst)" "longer than postgresql keeps (63 bytes): not added" "pgdst DLQ: the long name's reason"
assert_contains "$(dump cdc._dlq.erp)" "longer than mysql keeps (64 characters): not added" "erp DLQ: the long name's reason"
assert_eq 0 "$(pgt -Atc "SELECT COUNT(*) FROM information_schema.columns WHERE table_name = 'dlq_copy' AND column_name LIKE 'cxxx%'")" "pgdst: no column added under a shortened name"

# Positions the source never committed: a forged update far ahead (it would move the re-send
# guard past every later change of its partition: the next real change of the row, on the same
# partition, is applied on both targets, not skipped as a re-send), one in an epoch the source
# has not started, one naming another source. Each goes to both DLQs.
row=$(dump cdc.crm.public.dlqsrc | awk -F'\t' '$1 == 0 && $4 ~ /^\{"id":[0-9]+\}$/ {
    id = substr($4, 7) + 0; if (id >= 304 && id <= 320) r = $4 } END {print r}')
id=${row//[^0-9]/}
[ -n "$id" ] || { echo "no row of dlqsrc's partition 0 to forge"; exit 1; }
cur=$(dump cdc.crm.public.dlqsrc | awk -F'\t' '$1 == 0 {print $3}' | sort | tail -1)
epoch=${cur:3:8}
forge u "$row" '"after":{"id":'"$id"',"name":"forged","email":"f@x"}' "v1:$epoch:7fffffffffffffff:0000000000000000:1:00000000"
wait_value "erp: the position far ahead in the DLQ" 5 dlq_lines erp
wait_value "pgdst: the position far ahead in the DLQ" 5 dlq_lines pgdst
pg -c "UPDATE dlqsrc SET name = 'realchg' WHERE id = $id" >/dev/null
wait_value "pgdst: the real change after the forged position applied" 1 pgt -Atc "SELECT COUNT(*) FROM dlq_copy WHERE id = $id AND name = 'realchg'"
wait_value "erp: the real change after the forged position applied" 1 myt -N -e "SELECT COUNT(*) FROM dlq_customers WHERE id = $id AND name = 'realchg'"
forge u "$row" '"after":{"id":'"$id"',"name":"forged","email":"f@x"}' "$(printf 'v1:%08x:%s' $((16#$epoch + 1)) "${cur:12}")"
forge u "$row" '"after":{"id":'"$id"',"name":"forged","email":"f@x"}' "" erp
wait_value "erp: the three forged positions in the DLQ" 7 dlq_lines erp
wait_value "pgdst: the three forged positions in the DLQ" 7 dlq_lines pgdst
for d in erp pgdst; do
    assert_contains "$(dump cdc._dlq.$d)" "v1:$epoch:7fffffffffffffff:0000000000000000:1:00000000 is beyond what source crm has committed" "$d DLQ: a position past the source's"
    assert_contains "$(dump cdc._dlq.$d)" "which source crm has not started (its latest is $((16#$epoch)))" "$d DLQ: an epoch not started"
    assert_contains "$(dump cdc._dlq.$d)" "the event names source erp but its topic carries source crm's changes" "$d DLQ: another source's name"
done
assert_eq 0 "$(pgt -Atc "SELECT COUNT(*) FROM dlq_copy WHERE name = 'forged'")" "pgdst: no forged value applied"
assert_eq 0 "$(myt -N -e "SELECT COUNT(*) FROM dlq_customers WHERE name = 'forged'")" "erp: no forged value applied"

# a column fk_child_t lacks (on_unknown_column: fail): only that route stops
api() { curl -s -H "Authorization: Bearer $DLQ_API_TOKEN" "$@"; }
pg -c "ALTER TABLE fkchild ADD COLUMN extra text" -c "INSERT INTO fkchild VALUES (2, 77, 'x')" >/dev/null
stopped_lines() { grep -c "sink=fk route crm.public.fkchild stopped: .*column extra is not in target table public.fk_child_t" "$tmp/agent.log" || true; }
wait_value "the route stopped on the record" 1 stopped_lines
assert_contains "$(curl -s "http://127.0.0.1:$port/readyz")" 'component="route",name="fk:crm.public.fkchild"' "/readyz names the stopped route"
assert_contains "$(api "http://127.0.0.1:$port/v1/sinks/fk")" "route crm.public.fkchild stopped: " "the sink's last error says so"
pg -c "INSERT INTO fkparent VALUES (78, 'other route')" >/dev/null
wait_value "the sink's other route goes on" 1 pgt -Atc "SELECT COUNT(*) FROM fk_parent_t WHERE id = 78"
pg -c "UPDATE dlqsrc SET name = 'later' WHERE id = $id" >/dev/null
wait_value "the other sinks go on" 1 pgt -Atc "SELECT COUNT(*) FROM dlq_copy WHERE id = $id AND name = 'later'"
kill -0 "$agent_pid" && ok || bad "the agent runs on"
assert_eq 0 "$(pgt -Atc "SELECT COUNT(*) FROM fk_child_t WHERE id = 2")" "the record is not applied"
pgt -c "ALTER TABLE fk_child_t ADD COLUMN extra text" >/dev/null
assert_eq 202 "$(api -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/v1/sinks/fk/restart")" "restart the sink: 202"
wait_value "after the restart: the record applied" x pgt -Atc "SELECT extra FROM fk_child_t WHERE id = 2"
wait_value "after the restart: ready" ready curl -s "http://127.0.0.1:$port/readyz"
assert_eq 1 "$(stopped_lines)" "the route stopped once (a log line, not one per batch)"

agent_stop
assert_eq 0 "$rc" "graceful stop"
log=$(cat "$tmp/agent.log")
assert_not_contains "$(grep -E 'sink=[a-z]+ stopped: ' "$tmp/agent.log")" "stopped" "no sink failed"
assert_contains "$log" "holding cdc.crm.public.fkchild[" "the child was held back"
assert_contains "$log" "sink=erp stopped applied=" "erp stats"
assert_contains "$(grep 'sink=erp stopped' "$tmp/agent.log")" "dlq=7" "erp counted 7 dead letters"
assert_eq 0 "$(dlq_lines fk)" "fk: nothing in the DLQ"
assert_contains "$log" "truncating cdc_dlq.dlq_customers: every partition" "the barrier released once"
finish

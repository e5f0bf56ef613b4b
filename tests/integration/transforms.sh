#!/usr/bin/env bash
# Transforms through both sources and both sinks, in one agent: a PostgreSQL table and a MariaDB
# table with the same untidy contacts (decomposed umlauts, spaces, mixed-case emails and an IDN
# domain, phones in national styles, countries and states as names and codes, a social security
# number to hash, a note to drop) are cleaned on the way to Kafka; the PostgreSQL changes go on to
# MariaDB with the phone in international form (a route's own transform), the MariaDB changes to
# PostgreSQL as published. Checked:
# - the topic, the targets and the published structure hold the normalized values;
# - the same input gives the same output in the snapshot, in the stream, in a re-snapshot and in a
#   replay;
# - a change with an invalid phone goes to the source's dead-letter topic with the column, the
#   value and the reason, and nowhere else; another on a route under on_invalid: null lands with
#   a null; the counters of /metrics say so;
# - a transform naming a column the table does not have stops the source with file:line:col.
. "$(dirname "$0")/../harness/agent_test.sh"
mock_start "cdc._offsets 1" "cdc._schemas 1"
export TX_SALT=pepper-for-tests
http_port=$(free_port)

pg_reset txc txc
pg -c "CREATE TABLE txc (id int PRIMARY KEY, name text, email text, phone text, country text,
                         state text, ssn text, note text)" >/dev/null
my -e "DROP TABLE IF EXISTS txm; CREATE TABLE txm (id INT PRIMARY KEY, name VARCHAR(100),
       email VARCHAR(100), phone VARCHAR(40), country VARCHAR(40), state VARCHAR(40),
       ssn VARCHAR(20), note VARCHAR(20)) CHARACTER SET utf8mb4"
my -e "DROP DATABASE IF EXISTS tx_target; CREATE DATABASE tx_target CHARACTER SET utf8mb4;
       CREATE TABLE tx_target.txc (id INT PRIMARY KEY, name VARCHAR(100), email VARCHAR(100),
       phone VARCHAR(40), country CHAR(2), state VARCHAR(40), ssn CHAR(64))"
pg -c "DELETE FROM cdc_sink_offsets WHERE sink = 'txpg'" >/dev/null 2>&1 || true # an earlier run's
pg -c "DROP TABLE IF EXISTS txm_target;
       CREATE TABLE txm_target (id int PRIMARY KEY, name text, email text, phone text,
                                country text, state text, ssn text)" >/dev/null

# id, name, email, phone, country, state, ssn, note: rows 1-3 before the start (snapshot), the
# same values again as rows 11-13 once streaming
pg_rows() { # first-id
    pg -c "INSERT INTO txc VALUES
      ($1, E'  Mu\\u0308ller  \\t GmbH ', ' User1@Example.COM ', '030 1234567', 'Germany', 'Bavaria',
       '123-45-6789', 'note'),
      ($(($1 + 1)), 'ACME   Inc', 'sales@Bücher.de', '(202) 456-1111', 'united states', 'CA',
       '987-65-4321', 'note'),
      ($(($1 + 2)), 'Zoë  Müller', '<zoe@example.FR>', '01 42 68 53 00', 'FRA', 'Île-de-France',
       '555-12-3456', 'note')" >/dev/null
}
my_rows() { # first-id
    local name
    name=$(printf 'Mu\xcc\x88ller  GmbH') # decomposed
    my -e "INSERT INTO txm VALUES
      ($1, '$name', ' User1@Example.COM ', '030 1234567', 'Germany', 'Bavaria', '123-45-6789', 'n'),
      ($(($1 + 1)), 'ACME   Inc', 'sales@Bücher.de', '(202) 456-1111', 'united states', 'CA',
       '987-65-4321', 'n')"
}
pg_rows 1
my_rows 1
pg -c "INSERT INTO txc VALUES (4, 'Bad Phone', 'ok@example.com', '12', 'DE', 'BY', '000', 'n')" >/dev/null

cat >"$tmp/agent.yaml" <<EOC
agent: {name: tx-test, http: "127.0.0.1:$http_port"}
kafka: {brokers: "$boot", linger_ms: 20}
sources:
  - name: crm
    type: postgresql
    conninfo: "host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=cdc_test user=cdc"
    password_env: PGPASSWORD
    slot: txc
    publication: txc
    heartbeat_ms: 1000
    tables:
      - table: public.txc
        transforms: &clean
          - {type: text, column: name}
          - {type: email, column: email}
          - {type: country, column: country}
          - {type: phone, column: phone, region_column: country}
          - {type: subdivision, column: state, country_column: country}
          - {type: mask, column: ssn, method: hash, salt_env: TX_SALT}
          - {type: drop, column: note}
  - name: erp
    type: mysql
    host: 127.0.0.1
    port: $CDC_TEST_MYSQL_PORT
    user: cdc
    password_env: MYPW
    database: cdc_test
    server_id: $MY_SERVER_ID
    heartbeat_ms: 1000
    tables: [{table: cdc_test.txm, transforms: *clean}]
sinks:
  - name: txmy
    type: mysql
    host: 127.0.0.1
    port: $CDC_TEST_MYSQL_PORT
    user: cdc
    password_env: MYPW
    database: tx_target
    batch_ms: 50
    routes:
      - from: crm.public.txc
        to: tx_target.txc
        transforms:
          - {type: phone, column: phone, format: international}
          - {type: map, column: state, values: {DE-BY: Bavaria, US-CA: California}, strict: true,
             on_invalid: null}
  - name: txpg
    type: postgresql
    conninfo: "host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=cdc_test user=cdc"
    password_env: PGPASSWORD
    batch_ms: 50
    routes:
      - {from: erp.cdc_test.txm, to: public.txm_target}
EOC
start_agent
my_target() { my -N -e "SELECT id, name, email, phone, country, IFNULL(state, 'NULL'), ssn FROM tx_target.txc WHERE id IN ($1) ORDER BY id"; }
wait_value "the snapshot reached MariaDB" 3 my -N -e "SELECT COUNT(*) FROM tx_target.txc"
pg_rows 11
my_rows 11
wait_value "the stream reached MariaDB" 6 my -N -e "SELECT COUNT(*) FROM tx_target.txc"
wait_value "the MariaDB source reached PostgreSQL" 4 pg -Atc "SELECT count(*) FROM txm_target"

hash() { printf '%s' "$1" | openssl dgst -sha256 -hmac "$TX_SALT" | sed 's/.* //'; }
want1=$'Müller GmbH\tUser1@example.com\t+49 30 1234567\tDE\tBavaria\t'"$(hash 123-45-6789)"
want2=$'ACME Inc\tsales@xn--bcher-kva.de\t+1 202-456-1111\tUS\tCalifornia\t'"$(hash 987-65-4321)"
want3=$'Zoë Müller\tzoe@example.fr\t+33 1 42 68 53 00\tFR\tNULL\t'"$(hash 555-12-3456)"
assert_eq "$(printf '1\t%s\n2\t%s\n3\t%s' "$want1" "$want2" "$want3")" "$(my_target 1,2,3)" \
    "snapshot rows normalized on the way, the phone international on this route"
assert_eq "$(printf '11\t%s\n12\t%s\n13\t%s' "$want1" "$want2" "$want3")" "$(my_target 11,12,13)" \
    "streamed rows with the same input give the same output"
assert_eq "$(printf 'M\xc3\xbcller GmbH')" "$(my -N -e "SELECT name FROM tx_target.txc WHERE id = 1 AND name = CONVERT(X'4DC3BC6C6C657220476D6248' USING utf8mb4) COLLATE utf8mb4_bin")" \
    "the name in NFC (the precomposed ü)"
assert_eq "$(printf '1|%s\n2|%s' "$(printf '%s' "$want1" | sed 's/+49 30 1234567/+49301234567/; s/Bavaria/DE-BY/' | tr '\t' '|')" \
    "$(printf '%s' "$want2" | sed 's/+1 202-456-1111/+12024561111/; s/California/US-CA/' | tr '\t' '|')")" \
    "$(pg -Atc "SELECT id, name, email, phone, country, state, ssn FROM txm_target WHERE id < 10 ORDER BY id")" \
    "the MariaDB source's rows reach PostgreSQL normalized (E.164 as published)"
assert_eq "$(pg -Atc "SELECT id, name, email, phone, country, state, ssn FROM txm_target WHERE id < 10 ORDER BY id" | cut -d'|' -f2-)" \
    "$(pg -Atc "SELECT id, name, email, phone, country, state, ssn FROM txm_target WHERE id > 10 ORDER BY id" | cut -d'|' -f2-)" \
    "MariaDB: snapshot and stream give the same output"

# the invalid phone: the source's dead-letter topic, not the table's topic or the target
dlq=$("$CDC_TOPIC_DUMP" "$boot" cdc._dlq.source.crm)
assert_contains "$dlq" '"reason":"a local number without its area code"' "DLQ: the reason"
assert_contains "$dlq" '"transform":"phone","column":"phone","value":"12"' "DLQ: the transform, column and value"
assert_contains "$dlq" '"config":"' "DLQ: where the transform is configured"
assert_contains "$dlq" '"topic":"cdc.crm.public.txc"' "DLQ: the topic it was meant for"
assert_contains "$dlq" '"after":{"id":4,"name":"Bad Phone"' "DLQ: the change itself"
assert_not_contains "$dlq" '"ssn":"000"' "DLQ: the masked column stays masked"
assert_eq 0 "$("$CDC_TOPIC_DUMP" "$boot" cdc.crm.public.txc | grep -c '{"id":4}' || true)" "the invalid change is not in the table's topic"
assert_eq 0 "$(my -N -e "SELECT COUNT(*) FROM tx_target.txc WHERE id = 4")" "nor in the target"
topic=$("$CDC_TOPIC_DUMP" "$boot" cdc.crm.public.txc)
assert_not_contains "$topic" '"note"' "the dropped column is not published"
assert_not_contains "$topic" '123-45-6789' "the social security number is not published"
schema=$("$CDC_TOPIC_DUMP" "$boot" cdc._schemas | grep '"table":"txc"' | tail -1)
assert_not_contains "$schema" '"name":"note"' "the published structure has no dropped column"
assert_contains "$schema" '"name":"ssn","type":"string"' "a hashed column is published as text"

# the route's own map under on_invalid: null left the state of the French rows null
metrics=$(curl -fsS "http://127.0.0.1:$http_port/metrics")
assert_contains "$metrics" 'cdc_transform_values_total{side="source",name="crm",table="public.txc",column="phone",transform="phone",outcome="invalid"} 1' \
    "metrics: the invalid phone at the source (row 4)"
assert_contains "$metrics" 'cdc_transform_values_total{side="sink",name="txmy",table="crm.public.txc",column="phone",transform="phone",outcome="invalid"} 0' \
    "metrics: the sink saw no invalid phone (the source sent that change to its DLQ)"
assert_contains "$metrics" 'cdc_transform_values_total{side="sink",name="txmy",table="crm.public.txc",column="state",transform="map",outcome="invalid"} 2' \
    "metrics: the route's map found no state for the two French rows"
assert_contains "$metrics" 'cdc_transform_values_total{side="source",name="crm",table="public.txc",column="name",transform="text",outcome="normalized"}' \
    "metrics: normalized names"

# duplicates: the rows whose normalized email is the same, read as the source publishes them
run "$CDC_AGENT" duplicates -c "$tmp/agent.yaml" --source crm --table public.txc --match email
assert_eq 0 "$rc" "duplicates ran"
assert_contains "$out" "crm public.txc: 7 rows read; 6 rows in 3 groups with the same email (after the table's transforms)" \
    "duplicates: the summary"
assert_contains "$out" $'  2 rows  {"email":"User1@example.com"}\n           {"id":1}\n           {"id":11}' \
    "duplicates: spaces and case told apart nothing"
run "$CDC_AGENT" duplicates -c "$tmp/agent.yaml" --source erp --table cdc_test.txm --match name,phone --json
assert_eq 0 "$rc" "duplicates --json ran (MariaDB)"
assert_contains "$out" '"rows":4,"unmatched":0,"duplicate_rows":4,"groups":[{"count":2,"values":{"name":"ACME Inc","phone":"+12024561111"},"keys":[{"id":2},{"id":12}]}' \
    "duplicates --json: groups with values and keys"
run "$CDC_AGENT" duplicates -c "$tmp/agent.yaml" --source crm --table public.txc --match note
assert_eq 2 "$rc" "duplicates on a dropped column: usage error"
assert_contains "$out" "--match: public.txc has no column 'note' after its transforms" "says which column"

# a re-snapshot of the table while streaming: the same output again
before=$("$CDC_TOPIC_DUMP" "$boot" cdc.crm.public.txc | grep -c '"op":"r"')
run "$CDC_AGENT" snapshot -c "$tmp/agent.yaml" --source crm --table public.txc
assert_eq 0 "$rc" "re-snapshot requested"
for i in $(seq 1 300); do
    [ "$("$CDC_TOPIC_DUMP" "$boot" cdc.crm.public.txc | grep -c '"op":"r"')" -ge $((before + 6)) ] && break
    sleep 0.1
done
resnap=$("$CDC_TOPIC_DUMP" "$boot" cdc.crm.public.txc | grep '"op":"r"' | grep '{"id":1}' | cut -f5 |
    sed 's/.*"after":\({[^}]*}\).*/\1/' | sort -u)
assert_eq 1 "$(printf '%s\n' "$resnap" | grep -c .)" "snapshot and re-snapshot of row 1 publish the same values"
stream=$("$CDC_TOPIC_DUMP" "$boot" cdc.crm.public.txc | grep '{"id":11}' | head -1 | cut -f5 |
    sed 's/.*"after":\({[^}]*}\).*/\1/')
assert_eq "$(printf '%s' "$resnap" | sed 's/"id":1,/"id":11,/')" "$stream" "the stream publishes row 11 as the snapshot published row 1"

# a replay onto a damaged target gives the same rows
agent_stop
my_target 1,2,3,11,12 >"$tmp/before_replay"
my -e "UPDATE tx_target.txc SET phone = 'damaged', name = 'damaged'"
run "$CDC_AGENT" replay -c "$tmp/agent.yaml" --sink txmy --from-timestamp 2000-01-01T00:00:00Z
assert_eq 0 "$rc" "replay ran"
assert_eq "$(cat "$tmp/before_replay")" "$(my_target 1,2,3,11,12)" "a replay gives the same output"

# a transform on a column the table does not have: the source stops once it sees the table,
# saying where
sed 's/- {type: text, column: name}/- {type: text, column: nmae}/' "$tmp/agent.yaml" >"$tmp/bad.yaml"
"$CDC_AGENT" run -c "$tmp/bad.yaml" >"$tmp/bad.log" 2>&1 &
bad_pid=$!
sleep 2
pg -c "UPDATE txc SET name = 'x' WHERE id = 1" >/dev/null # the table's structure comes with a change
for i in $(seq 1 600); do kill -0 "$bad_pid" 2>/dev/null || break; sleep 0.1; done
wait "$bad_pid" && rc=0 || rc=$?
out=$(cat "$tmp/bad.log")
assert_eq 1 "$rc" "a transform on a missing column stops the agent"
assert_contains "$out" "bad.yaml:14:13: sources[0].tables[0].transforms[0].column: public.txc has no column 'nmae'" \
    "says the file, line, column and key"
my -e "DROP DATABASE tx_target; DROP TABLE txm"
pg -c "DROP TABLE txm_target" >/dev/null
pg_reset txc txc
finish

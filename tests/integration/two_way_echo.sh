#!/usr/bin/env bash
# Two-way sync without echoes: one table in PostgreSQL (CRM) and one in MariaDB (ERP), each
# captured by a source and applied to the other side by a sink, so every change could come back
# as a new change of the side that applied it, for ever. The sinks mark what they apply (a
# replication origin in PostgreSQL, a cdc_sink_txn row first in each MariaDB transaction) and the
# sources of the same agent cluster skip it. CRM writes ids 1..999 and ERP ids 1001..1999, so an
# echo shows as an id of the other range in a topic. Checked with one agent for both databases
# (killed with SIGKILL twice while both sides write) and with one agent per database (sidecars);
# and that without the mark (capture_sink_changes: true on the ERP source) the echo is there, so
# the check can see one.
. "$(dirname "$0")/../harness/agent_test.sh"
trap cleanup_tmp EXIT

pg_reset tw tw
pg -c "CREATE TABLE tw (id int PRIMARY KEY, name text, v int NOT NULL)" >/dev/null
my -e "DROP TABLE IF EXISTS tw; CREATE TABLE tw (id INT PRIMARY KEY, name VARCHAR(100), v INT NOT NULL)"
mock_start "cdc._offsets 1" "cdc._schemas 1" "cdc.crm.public.tw 4" "cdc.erp.cdc_test.tw 4" \
    "cdc._dlq.toerp 1" "cdc._dlq.tocrm 1"

crm_source="  - {name: crm, type: postgresql, conninfo: \"host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=cdc_test user=cdc\",
     password_env: PGPASSWORD, tables: [public.tw], slot: tw, publication: tw, heartbeat_ms: 1000}"
erp_source="  - {name: erp, type: mysql, host: 127.0.0.1, port: $CDC_TEST_MYSQL_PORT, user: cdc, password_env: MYPW,
     database: cdc_test, server_id: $MY_SERVER_ID, tables: [cdc_test.tw], heartbeat_ms: 1000}"
toerp_sink="  - {name: toerp, type: mysql, host: 127.0.0.1, port: $CDC_TEST_MYSQL_PORT, user: cdc, password_env: MYPW,
     database: cdc_test, batch_ms: 20, routes: [{from: crm.public.tw, to: cdc_test.tw}]}"
tocrm_sink="  - {name: tocrm, type: postgresql, conninfo: \"host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=cdc_test user=cdc\",
     password_env: PGPASSWORD, batch_ms: 20, routes: [{from: erp.cdc_test.tw, to: public.tw}]}"
two_way_config "$tmp/agent.yaml" two-way sources: "$crm_source" "$erp_source" sinks: "$toerp_sink" "$tocrm_sink"
http_port=$(free_port)
sed -i "s/^agent: {name: two-way}/agent: {name: two-way, http: \"127.0.0.1:$http_port\"}/" "$tmp/agent.yaml"

crm_rows() { pg -Atc "SELECT id || '|' || coalesce(name, '') || '|' || v FROM tw ORDER BY id"; }
erp_rows() { my -N -e "SELECT CONCAT(id, '|', COALESCE(name, ''), '|', v) FROM tw ORDER BY id"; }
# the ids in a topic's records (the key), one per line
topic_ids() { "$CDC_TOPIC_DUMP" "$boot" "$1" | sed -n 's/.*{"id":\([0-9]*\)}.*/\1/p' | sort -un; }
outside() { awk -v lo="$1" -v hi="$2" '$1 < lo || $1 > hi' | tr '\n' ' '; }
both_equal() { # what
    local i
    for i in $(seq 1 300); do [ "$(crm_rows | md5sum)" = "$(erp_rows | md5sum)" ] && break; sleep 0.1; done
    assert_eq "$(crm_rows)" "$(erp_rows)" "$1: both sides equal"
}
# A workload on each side: ROUNDS rounds of an insert, an update and every fifth round a delete,
# each its own transaction, on the side's own id range starting at BASE.
workload() { # side base rounds
    local i id
    for i in $(seq 1 "$3"); do
        id=$(($2 + i))
        echo "INSERT INTO tw VALUES ($id, 'n$id', 1);"
        echo "UPDATE tw SET v = v + 1, name = 'u$id' WHERE id = $((id > $2 + 1 ? id - 1 : id));"
        [ $((i % 5)) != 0 ] || echo "DELETE FROM tw WHERE id = $((id - 2));"
    done >"$tmp/$1.sql"
}

# ---- one agent for both databases, killed twice while both sides write ----
start_agent
wait_offsets '"source":"crm"' 300 && ok || bad "crm source started"
wait_offsets '"source":"erp"' 300 && ok || bad "erp source started"
pg -c "INSERT INTO tw VALUES (1, 'first', 1)" >/dev/null
my -e "INSERT INTO tw VALUES (1001, 'first', 1)"
both_equal "one insert on each side"
pg -c "UPDATE tw SET v = 2 WHERE id = 1" >/dev/null
my -e "UPDATE tw SET v = 2 WHERE id = 1001"
both_equal "one update on each side"
sleep 2 # an echo would be published by now
assert_eq "" "$(topic_ids cdc.crm.public.tw | outside 1 999)" "no ERP row came back in the CRM topic"
assert_eq "" "$(topic_ids cdc.erp.cdc_test.tw | outside 1001 1999)" "no CRM row came back in the ERP topic"
assert_eq 2 "$("$CDC_TOPIC_DUMP" "$boot" cdc.crm.public.tw | wc -l)" "CRM topic: the two CRM changes only"
assert_eq 2 "$("$CDC_TOPIC_DUMP" "$boot" cdc.erp.cdc_test.tw | wc -l)" "ERP topic: the two ERP changes only"
skipped() { curl -s "http://127.0.0.1:$http_port/metrics" | sed -n "s/^cdc_source_sink_transactions_skipped_total{source=\"$1\"} //p"; }
[ "$(skipped crm)" -gt 0 ] 2>/dev/null && ok || bad "metrics: the CRM source counts what it skipped ($(skipped crm))"
[ "$(skipped erp)" -gt 0 ] 2>/dev/null && ok || bad "metrics: the ERP source counts what it skipped ($(skipped erp))"

workload crm 1 300
workload erp 1001 300
both_sides_with_kills "$tmp/crm.sql" "$tmp/erp.sql" 2
both_equal "300 rounds on each side, the agent killed twice"
sleep 2
assert_eq "" "$(topic_ids cdc.crm.public.tw | outside 1 999)" "after the kills: no ERP row in the CRM topic"
assert_eq "" "$(topic_ids cdc.erp.cdc_test.tw | outside 1001 1999)" "after the kills: no CRM row in the ERP topic"
agent_stop
assert_eq 0 "$rc" "graceful stop"
assert_not_contains "$(cat "$tmp/agent.log")" "cannot mark what it applies" "both sinks mark what they apply"
assert_eq 1 "$(pg -Atc "SELECT count(*) FROM pg_replication_origin WHERE roname = 'cdc-agent/cdc/tocrm'")" \
    "the PostgreSQL sink's replication origin"
assert_eq "cdc-agent/cdc/toerp" "$(my -N -e "SELECT id FROM cdc_sink_txn WHERE id = 'cdc-agent/cdc/toerp' AND txns > 0")" "the MariaDB sink's marker row"

# ---- one agent per database (sidecars), same topic prefix ----
two_way_config "$tmp/crm.yaml" crm-side sources: "$crm_source" sinks: "$tocrm_sink"
two_way_config "$tmp/erp.yaml" erp-side sources: "$erp_source" sinks: "$toerp_sink"
"$CDC_AGENT" run -c "$tmp/crm.yaml" >"$tmp/crm.log" 2>&1 &
crm_pid=$!
"$CDC_AGENT" run -c "$tmp/erp.yaml" >"$tmp/erp.log" 2>&1 &
erp_pid=$!
workload crm 400 100
workload erp 1400 100
pg -f "$tmp/crm.sql" >/dev/null &
w1=$!
my <"$tmp/erp.sql"
wait "$w1"
both_equal "sidecars: 100 rounds on each side"
sleep 2
assert_eq "" "$(topic_ids cdc.crm.public.tw | outside 1 999)" "sidecars: no ERP row in the CRM topic"
assert_eq "" "$(topic_ids cdc.erp.cdc_test.tw | outside 1001 1999)" "sidecars: no CRM row in the ERP topic"
kill -TERM "$crm_pid" "$erp_pid"
wait "$crm_pid" && ok || bad "sidecar crm stopped cleanly"
wait "$erp_pid" && ok || bad "sidecar erp stopped cleanly"

# ---- a replay marks what it applies too: the whole ERP history into the CRM again ----
run "$CDC_AGENT" replay -c "$tmp/agent.yaml" --sink tocrm --from-timestamp 2000-01-01T00:00:00Z
assert_eq 0 "$rc" "replay of the ERP history into the CRM"
assert_contains "$out" "applied" "replay: it applied the history again"

# ---- without the mark the echo is there (the checks above can see one) ----
sed -i 's/tables: \[cdc_test.tw\], heartbeat_ms: 1000}/tables: [cdc_test.tw], heartbeat_ms: 1000, capture_sink_changes: true}/' "$tmp/agent.yaml"
start_agent
pg -c "INSERT INTO tw VALUES (900, 'echo', 1)" >/dev/null
both_equal "capture_sink_changes: the change arrived"
for i in $(seq 1 100); do topic_ids cdc.erp.cdc_test.tw | grep -qx 900 && break; sleep 0.1; done
# (and what the sidecars' ERP sink applied, read again from this agent's older position); the
# CRM source, which read the replay's transactions meanwhile, published none of them
assert_eq "" "$(topic_ids cdc.crm.public.tw | outside 1 999)" "after the replay: no ERP row in the CRM topic"
assert_contains "$(topic_ids cdc.erp.cdc_test.tw | outside 1001 1999)" "900 " \
    "capture_sink_changes: the ERP source published the CRM change again"
agent_stop
assert_eq 0 "$rc" "graceful stop"

# ---- check: the privileges the PostgreSQL sink's replication origin needs ----
pg -c "DROP ROLE IF EXISTS cdc_plain" -c "CREATE ROLE cdc_plain LOGIN PASSWORD 'plainpw'" \
    -c "GRANT ALL ON tw TO cdc_plain" >/dev/null 2>&1
two_way_config "$tmp/plain.yaml" plain sinks: "${tocrm_sink/user=cdc\",/user=cdc_plain\",}"
sed -i 's/password_env: PGPASSWORD, batch_ms/password_env: PLAINPW, batch_ms/' "$tmp/plain.yaml"
PLAINPW=plainpw run "$CDC_AGENT" check -c "$tmp/plain.yaml"
assert_contains "$out" "sink tocrm cannot set replication origin cdc-agent/cdc/tocrm" "check: a sink that cannot mark what it applies"
assert_contains "$out" "GRANT EXECUTE ON FUNCTION pg_replication_origin_create(text), pg_replication_origin_oid(text), pg_replication_origin_session_setup(text) TO cdc_plain;" \
    "check: the grant that fixes it"
pg -c "GRANT EXECUTE ON FUNCTION pg_replication_origin_create(text), pg_replication_origin_oid(text), pg_replication_origin_session_setup(text) TO cdc_plain" >/dev/null
PLAINPW=plainpw run "$CDC_AGENT" check -c "$tmp/plain.yaml"
assert_not_contains "$out" "replication origin" "check: with the grant, nothing to say"
pg -c "REVOKE ALL ON tw FROM cdc_plain" -c "DROP OWNED BY cdc_plain" -c "DROP ROLE cdc_plain" >/dev/null
finish

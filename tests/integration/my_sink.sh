#!/usr/bin/env bash
# MySQL sink: PostgreSQL source to a MariaDB target (the CRM -> ERP direction) through the mock
# Kafka cluster, in one agent, with strict sql_mode: a route renames columns and adds a constant;
# bytea -> VARBINARY, jsonb -> JSON, timestamptz -> DATETIME(6), numeric -> DECIMAL and quoted text
# land as in the source; upserts, deletes and key changes run while the agent is killed with
# SIGKILL 10 times; afterwards the target equals the source row by row. Then a second instance of
# the sink is refused by its lock.
. "$(dirname "$0")/../harness/agent_test.sh"
kills=${CDC_SINK_KILLS:-10}
sink_source_table mysinksrc
# this sink's offsets only: other tests' sinks keep theirs in cdc_test.cdc_sink_offsets meanwhile
my -e "DELETE FROM cdc_sink_offsets WHERE sink = 'erp' AND topic = 'cdc.crm.public.mysinksrc'" 2>/dev/null || true
my -e "DROP TABLE IF EXISTS customers;
       CREATE TABLE customers (crm_id INT PRIMARY KEY, full_name VARCHAR(100), v INT NOT NULL,
         data VARBINARY(64), doc JSON, ts DATETIME(6), n DECIMAL(20,5), origin VARCHAR(10)) CHARACTER SET utf8mb4"
mock_start "cdc._offsets 1" "cdc._schemas 1" "cdc.crm.public.mysinksrc 8"
agent_config "$tmp/agent.yaml" my-sink-test mysinksrc
cat >>"$tmp/agent.yaml" <<EOC
sinks:
  - name: erp
    type: mysql
    host: 127.0.0.1
    port: $CDC_TEST_MYSQL_PORT
    user: cdc
    password_env: MYPW
    database: cdc_test
    batch_size: 500
    batch_ms: 20
    routes:
      - from: crm.public.mysinksrc
        to: cdc_test.customers
        columns: {id: crm_id, name: full_name, v: v, data: data, doc: doc, ts: ts, n: n}
        constants: {origin: crm}
EOC
# both sides as "id|name|v|hex|doc|ts|n" lines, sorted
src_rows() {
    pg -Atc "SELECT format('%s|%s|%s|%s|%s|%s|%s', id, name, v, encode(data, 'hex'), doc,
               to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), n) FROM mysinksrc ORDER BY id"
}
dst_rows() {
    # --raw: tabs, newlines and backslashes as they are, as psql -A prints them; emoji in utf8mb4
    my -N --raw --default-character-set=utf8mb4 -e "SELECT CONCAT_WS('|', crm_id, IFNULL(full_name, ''), v, IFNULL(LOWER(HEX(data)), ''),
               IFNULL(doc, ''), IFNULL(DATE_FORMAT(ts, '%Y-%m-%d %H:%i:%s.%f'), ''), IFNULL(n, ''))
               FROM customers WHERE origin = 'crm' ORDER BY crm_id"
}
wait_same() { same_output src_rows dst_rows "${1:-600}"; } # [tenths]
start_agent
wait_same 600 && ok || bad "snapshot applied: target equals source"
assert_eq "$(my -N -e "SELECT full_name FROM customers WHERE crm_id = 9001")" "quote ' \" back\\\\slash" "text with quotes"
assert_eq "$(my -N -e "SELECT LOWER(HEX(data)) FROM customers WHERE crm_id = 9001")" "00ff" "bytea into VARBINARY"
assert_eq "$(my -N -e "SELECT JSON_VALUE(doc, '\$.s') FROM customers WHERE crm_id = 1")" "it's" "jsonb into JSON"

sink_workload_with_kills mysinksrc "$kills"
wait_same 900 && ok || bad "after $kills kills: target equals source"
agent_stop
assert_eq 0 "$rc" "graceful stop"
log=$(cat "$tmp/agent.log")
assert_not_contains "$log" "sink=erp stopped:" "the sink never failed"
assert_eq 8 "$(my -N -e "SELECT COUNT(*) FROM cdc_sink_offsets WHERE sink = 'erp' AND topic = 'cdc.crm.public.mysinksrc'")" "offsets stored per partition"

# a second instance of the sink: refused by its lock
applying_before=$(grep -c "applying .* partitions" "$tmp/agent.log" || true)
start_agent
second_sink_refused
agent_stop
assert_real_no_resend "" "$tmp/agent.log"

# a stored offset past the partition's end (the state a topic deleted and created again leaves):
# the sink stops naming the partition and the fix, instead of waiting on a partition the
# consumer no longer fetches
my -e "UPDATE cdc_sink_offsets SET next_offset = next_offset + 1000000 WHERE sink = 'erp' AND topic = 'cdc.crm.public.mysinksrc' AND \`partition\` = 0"
run timeout 120 "$CDC_AGENT" run -c "$tmp/agent.yaml"
assert_eq 1 "$rc" "a stored offset past the end stops the agent"
assert_contains "$out" "cdc.crm.public.mysinksrc[0]: its stored offset" "names the partition"
assert_contains "$out" "is past the partition's end" "says why"
assert_contains "$out" "offsets set -c <config> --sink erp --offset cdc.crm.public.mysinksrc:0:" "gives the fix"
finish

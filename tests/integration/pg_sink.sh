#!/usr/bin/env bash
# PostgreSQL sink, PostgreSQL source to a PostgreSQL target through the mock Kafka cluster, in one
# agent: a route renames columns and adds a constant; every type the route carries (bytea, jsonb,
# timestamptz, numeric, text with quotes) lands as in the source; a workload of upserts, deletes
# and key changes runs while the agent is killed with SIGKILL 10 times; afterwards the target
# equals the source. Then: stored sink offsets reset to nothing re-apply everything with the same
# result (idempotent), and a second instance of the sink is refused by its lock.
. "$(dirname "$0")/../harness/agent_test.sh"
kills=${CDC_SINK_KILLS:-10}
pg_reset sinksrc sinkdst
# this sink's offsets only: other tests' sinks keep theirs in cdc_test.cdc_sink_offsets meanwhile
pg -c "DELETE FROM cdc_sink_offsets WHERE sink = 'pgsink'" >/dev/null 2>&1 || true
sink_source_table sinksrc
pg -c "CREATE TABLE sinkdst (crm_id int PRIMARY KEY, full_name text, v int NOT NULL, data bytea,
         doc jsonb, ts timestamptz, n numeric(20,5), origin text)" >/dev/null
mock_start "cdc._offsets 1" "cdc._schemas 1" "cdc.crm.public.sinksrc 8"
agent_config "$tmp/agent.yaml" pg-sink-test sinksrc
cat >>"$tmp/agent.yaml" <<EOC
sinks:
  - name: pgsink
    type: postgresql
    conninfo: "host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=cdc_test user=cdc"
    password_env: PGPASSWORD
    batch_size: 500
    batch_ms: 20
    routes:
      - from: crm.public.sinksrc
        to: public.sinkdst
        columns: {id: crm_id, name: full_name, v: v, data: data, doc: doc, ts: ts, n: n}
        constants: {origin: crm}
EOC
same() { # the target equals the source (mapped); prints the first differences otherwise
    local a b
    a=$(pg -Atc "SELECT md5(coalesce(string_agg(format('%s|%s|%s|%s|%s|%s|%s', id, name, v, data, doc, ts, n), ',' ORDER BY id), '')) FROM sinksrc")
    b=$(pg -Atc "SELECT md5(coalesce(string_agg(format('%s|%s|%s|%s|%s|%s|%s', crm_id, full_name, v, data, doc, ts, n), ',' ORDER BY crm_id), '')) FROM sinkdst WHERE origin = 'crm'")
    [ "$a" = "$b" ] && [ "$(pg -Atc "SELECT count(*) FROM sinkdst WHERE origin IS DISTINCT FROM 'crm'")" = 0 ]
}
wait_same() { # tenths
    local i
    for i in $(seq 1 "${1:-600}"); do same && return 0; sleep 0.1; done
    pg -Atc "SELECT s.id, s.v, d.v FROM sinksrc s FULL JOIN sinkdst d ON d.crm_id = s.id
             WHERE s.v IS DISTINCT FROM d.v OR s.name IS DISTINCT FROM d.full_name LIMIT 10" >&2
    return 1
}
start_agent
wait_same 600 && ok || bad "snapshot applied: target equals source"
assert_eq "$(pg -Atc "SELECT full_name FROM sinkdst WHERE crm_id = 9001")" "quote ' \" back\\slash" "text with quotes"
assert_eq "$(pg -Atc "SELECT data FROM sinkdst WHERE crm_id = 9001")" '\x00ff' "bytea"
assert_eq "$(pg -Atc "SELECT doc FROM sinkdst WHERE crm_id = 9001")" '"str"' "jsonb string"
assert_eq "$(pg -Atc "SELECT doc->>'s' FROM sinkdst WHERE crm_id = 1")" "it's" "jsonb object"

# workload with key changes, killed 10 times
sink_workload_with_kills sinksrc "$kills"
wait_same 900 && ok || bad "after $kills kills: target equals source"
agent_stop
assert_eq 0 "$rc" "graceful stop"
log=$(grep -v facility= "$tmp/agent.log")
assert_contains "$log" "sink=pgsink applying 8 partitions of 1 routes" "sink assigned every partition"
assert_not_contains "$log" "sink=pgsink stopped:" "the sink never failed"
assert_eq 8 "$(pg -Atc "SELECT count(*) FROM cdc_sink_offsets WHERE sink = 'pgsink'")" "offsets stored per partition"

# idempotent: no stored offsets, everything applied again, same result
total=$(pg -Atc "SELECT sum(next_offset) FROM cdc_sink_offsets WHERE sink = 'pgsink'")
pg -c "DELETE FROM cdc_sink_offsets WHERE sink = 'pgsink'" >/dev/null
before=$(pg -Atc "SELECT md5(string_agg(format('%s', d), ',' ORDER BY crm_id)) FROM sinkdst d")
start_agent
for i in $(seq 1 600); do # until every record is applied again
    [ "$(pg -Atc "SELECT coalesce(sum(next_offset), 0) FROM cdc_sink_offsets WHERE sink = 'pgsink'")" = "$total" ] && break
    sleep 0.1
done
assert_eq "$before" "$(pg -Atc "SELECT md5(string_agg(format('%s', d), ',' ORDER BY crm_id)) FROM sinkdst d")" "re-applied from offset 0: target unchanged"

# a second instance of the sink: refused by the lock
second_sink_refused
agent_stop
assert_real_no_resend "" "$tmp/agent.log"
finish

#!/usr/bin/env bash
# A sink on a small memory budget (agent.memory_mb: 4) draining a backlog of large records: 300
# rows of a 64 KB text each (19 MB of events, already in Kafka when the sink starts) from
# PostgreSQL into MariaDB through the mock cluster. Every row arrives whole, each batch keeps to
# its quarter of the budget (1 MB: at most 16 of these records, so at least 19 batches), and
# the agent's peak RSS stays within a bound that holding the backlog would break (not checked
# in a sanitizer build, whose shadow memory counts too).
. "$(dirname "$0")/../harness/agent_test.sh"
rows=300
pg_reset memsrc memsrc
pg -c "CREATE TABLE memsrc (id int PRIMARY KEY, body text)" \
    -c "INSERT INTO memsrc SELECT g, repeat(md5(g::text), 2048) FROM generate_series(1, $rows) g" >/dev/null
my -e "DROP TABLE IF EXISTS memdst; CREATE TABLE memdst (id INT PRIMARY KEY, body MEDIUMTEXT)"
my -e "DELETE FROM cdc_sink_offsets WHERE sink = 'memerp'" 2>/dev/null || true # an earlier run's
mock_start "cdc._offsets 1" "cdc._schemas 1" "cdc.crm.public.memsrc 4"
agent_config "$tmp/agent.yaml" memory-test memsrc "compression: lz4"
start_agent # the source alone first: the backlog is in Kafka before the sink starts
in_topic() { "$CDC_TOPIC_DUMP" "$boot" cdc.crm.public.memsrc 2>/dev/null | grep -c '"op"' || true; }
wait_value "the backlog in Kafka" "$rows" in_topic
agent_stop

sed -i 's/^agent: {name: memory-test}/agent: {name: memory-test, memory_mb: 4}/' "$tmp/agent.yaml"
cat >>"$tmp/agent.yaml" <<EOC
sinks:
  - {name: memerp, type: mysql, host: 127.0.0.1, port: $CDC_TEST_MYSQL_PORT, user: cdc,
     password_env: MYPW, database: cdc_test, batch_size: 1000, batch_ms: 1000,
     routes: [{from: crm.public.memsrc, to: cdc_test.memdst}]}
EOC
start_agent
src_rows() { pg -Atc "SELECT id || ':' || md5(body) FROM memsrc ORDER BY id"; }
dst_rows() { my -N -e "SELECT CONCAT(id, ':', MD5(body)) FROM memdst ORDER BY id"; }
same_output src_rows dst_rows 600 && ok || bad "every large row arrived whole"
hwm=$(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$agent_pid/status")
agent_stop
assert_eq 0 "$rc" "graceful stop"
stopped=$(grep -o "sink=memerp stopped applied=[0-9]* skipped=0 batches=[0-9]*" "$tmp/agent.log" || true)
assert_contains "$stopped" "applied=$rows " "each record applied once"
batches=${stopped##*batches=}
[ "${batches:-0}" -ge 19 ] && ok || bad "batches within a quarter of the budget: $batches batches for $rows records"
# (grep reads a redirection: grep -q stopping early would fail a pipefail pipeline and hide it)
if grep -q libasan < <(ldd "$CDC_AGENT"); then
    ok
else
    [ "$hwm" -le 56 ] && ok || bad "peak RSS $hwm MB (bound 56 MB)"
fi
echo "# $batches batches, peak RSS $hwm MB"
finish

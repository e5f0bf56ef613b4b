#!/usr/bin/env bash
# The health and metrics endpoint (agent.http) during a workload, PostgreSQL -> Kafka ->
# PostgreSQL (a private target instance, so it can be stopped):
# - /healthz answers; /readyz is 200 once the source streams and the sink is connected;
# - /metrics is Prometheus text whose counters match the workload exactly: events per op
#   published by the source, records applied by the sink; lag, retained WAL, latency histograms
#   are there;
# - /readyz turns 503 naming the sink while its target database is down, and 200 again after it
#   is back; the same for the Kafka cluster (all brokers down, then up);
# - an address already in use stops a second agent at start with the address in the error.
. "$(dirname "$0")/../harness/agent_test.sh"
trap '"$here/harness/pg.sh" stop "$tmp/tpg" >/dev/null 2>&1 || true; cleanup_tmp' EXIT
"$here/harness/pg.sh" start "$tmp/tpg" >/dev/null
tpg_port=$(. "$tmp/tpg/pg.env" && echo "$CDC_TEST_PG_PORT")
export TPGPW=$(. "$tmp/tpg/pg.env" && echo "$CDC_TEST_PG_PASSWORD")
tpg() { PGPASSWORD=$TPGPW psql -q -h 127.0.0.1 -p "$tpg_port" -U cdc -d postgres -v ON_ERROR_STOP=1 "$@"; }
tpg -c "CREATE TABLE metdst (id int PRIMARY KEY, v int)" >/dev/null
pg_reset metsrc metsrc
pg -c "CREATE TABLE metsrc (id int PRIMARY KEY, v int)" >/dev/null

. "$here/harness/lib.sh"
http_port=$(free_port)
mock_start "cdc._offsets 1" "cdc._schemas 1" "cdc.crm.public.metsrc 4" "cdc._dlq.met 1"
cat >"$tmp/agent.yaml" <<EOC
agent: {name: metrics-test, http: "127.0.0.1:$http_port"}
kafka: {brokers: "$boot", linger_ms: 20}
sources:
  - {name: crm, type: postgresql, conninfo: "host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=cdc_test user=cdc",
     password_env: PGPASSWORD, tables: [public.metsrc], slot: metsrc, publication: metsrc, heartbeat_ms: 1000}
sinks:
  - {name: met, type: postgresql, conninfo: "host=127.0.0.1 port=$tpg_port dbname=postgres user=cdc",
     password_env: TPGPW, batch_ms: 20, routes: [{from: crm.public.metsrc, to: public.metdst}]}
EOC
get() { curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$http_port$1" || true; }
body() { curl -s "http://127.0.0.1:$http_port$1" || true; }
metric() { body /metrics | awk -v k="$1" '$1 == k {print $2}'; }

start_agent
wait_value "/healthz answers" 200 get /healthz
wait_value "/readyz: ready once the source streams and the sink is connected" 200 get /readyz
# a second agent with the same endpoint does not start, and says where (before it touches
# anything of the first one's)
out=$(timeout 20 "$CDC_AGENT" run -c "$tmp/agent.yaml" 2>&1) && rc=0 || rc=$?
assert_eq 1 "$rc" "address in use: exit 1"
assert_contains "$out" "agent.http 127.0.0.1:$http_port: cannot listen there" "the error names the address"
# the workload: 300 inserts, 120 updates, 50 deletes, in several transactions
pg -c "INSERT INTO metsrc SELECT g, 0 FROM generate_series(1, 200) g" \
   -c "INSERT INTO metsrc SELECT g, 0 FROM generate_series(201, 300) g" \
   -c "UPDATE metsrc SET v = 1 WHERE id <= 120" \
   -c "DELETE FROM metsrc WHERE id > 250" >/dev/null
wait_value "source: 300 inserts published" 300 metric 'cdc_source_events_total{source="crm",op="c"}'
wait_value "source: 120 updates published" 120 metric 'cdc_source_events_total{source="crm",op="u"}'
wait_value "source: 50 deletes published" 50 metric 'cdc_source_events_total{source="crm",op="d"}'
wait_value "sink: 470 records applied" 470 metric 'cdc_sink_applied_total{sink="met"}'
assert_eq 250 "$(tpg -Atc "SELECT count(*) FROM metdst")" "the target holds the 250 rows left"
m=$(body /metrics)
assert_contains "$m" '# TYPE cdc_source_events_total counter' "Prometheus TYPE lines"
assert_contains "$m" 'cdc_sink_dlq_total{sink="met"} 0' "no dead letters"
assert_contains "$m" 'cdc_sink_lag_records{sink="met"} 0' "the sink caught up"
assert_contains "$m" 'cdc_commit_to_kafka_seconds_bucket{source="crm",le="+Inf"}' "commit-to-Kafka latency histogram"
assert_contains "$m" 'cdc_sink_batch_seconds_count{sink="met"}' "sink batch latency histogram"
assert_contains "$m" 'cdc_slot_retained_wal_bytes{source="crm",slot="metsrc"}' "retained WAL per slot"
assert_contains "$m" 'cdc_up{component="sink",name="met"} 1' "cdc_up per component"
assert_eq 404 "$(get /nothing)" "unknown path: 404"

# the target database goes down: not ready, naming the sink; back: ready
pgd=$(. "$tmp/tpg/pg.env" && echo "$CDC_TEST_PG_DATA")
runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$pgd" -m fast -w stop >/dev/null
pg -c "INSERT INTO metsrc VALUES (1000, 1)" >/dev/null # a batch that finds the target gone
wait_value "/readyz: 503 while the target is down" 503 get /readyz
assert_contains "$(body /readyz)" 'component="sink",name="met"' "/readyz names the sink"
runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$pgd" -l "$pgd/../server.log" -w -t 60 \
    -o "-p $tpg_port -k $(dirname "$pgd") -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
wait_value "/readyz: 200 after the target is back" 200 get /readyz
wait_value "the row written meanwhile applied" 1 tpg -Atc "SELECT count(*) FROM metdst WHERE id = 1000"

# every broker down: not ready; up again: ready
mock_cmd "down 1"
mock_cmd "down 2"
mock_cmd "down 3"
wait_value "/readyz: 503 while Kafka is down" 503 get /readyz
assert_contains "$(body /readyz)" 'component="kafka"' "/readyz names Kafka"
mock_cmd "up 1"
mock_cmd "up 2"
mock_cmd "up 3"
wait_value "/readyz: 200 after Kafka is back" 200 get /readyz
agent_stop
assert_eq 0 "$rc" "graceful stop"

finish

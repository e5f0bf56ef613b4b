#!/usr/bin/env bash
# Graceful stops: a PostgreSQL source and a PostgreSQL sink in one agent while a workload runs;
# the agent gets SIGTERM 5 times mid-workload and is started again each time. Each stop exits 0
# within agent.shutdown_timeout_ms, having flushed and committed; afterwards the topic holds every
# change exactly once (no position published twice: nothing re-sent after a graceful stop) in
# order per key, it rebuilds the table, and the sink's target equals the source.
# SIGHUP reloads the file: a sink whose settings changed starts again with them, other changes
# say they need a restart, a broken file changes nothing.
# Then: a stop that cannot finish (every Kafka broker down, so nothing can be committed) exits 1
# after the timeout, naming it, and the next start loses nothing either.
. "$(dirname "$0")/../harness/agent_test.sh"
pg_reset shut shut
[ "$(pg -Atc "SELECT count(*) FROM pg_database WHERE datname = 'cdc_shut'")" = 1 ] ||
    pg -c "CREATE DATABASE cdc_shut" >/dev/null
pgt() { psql -q -h 127.0.0.1 -p "$CDC_TEST_PG_PORT" -U cdc -d cdc_shut -v ON_ERROR_STOP=1 "$@"; }
pgt -c "DROP TABLE IF EXISTS shutdst, cdc_sink_offsets" \
    -c "CREATE TABLE shutdst (id int PRIMARY KEY, v int NOT NULL, pad text)" >/dev/null
pg -c "CREATE TABLE shut (id int PRIMARY KEY, v int NOT NULL, pad text)" >/dev/null
mock_start "cdc._offsets 1" "cdc._schemas 1" "cdc.crm.public.shut 4" "cdc._dlq.shutsink 1"
cat >"$tmp/agent.yaml" <<EOC
agent: {name: shut-test, shutdown_timeout_ms: 3000}
kafka: {brokers: "$boot", linger_ms: 20}
sources:
  - {name: crm, type: postgresql, conninfo: "host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=cdc_test user=cdc",
     password_env: PGPASSWORD, tables: [public.shut], slot: shut, publication: shut, heartbeat_ms: 1000}
sinks:
  - {name: shutsink, type: postgresql, conninfo: "host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=cdc_shut user=cdc",
     password_env: PGPASSWORD, batch_ms: 20, routes: [{from: crm.public.shut, to: public.shutdst}]}
EOC
upsert_workload "$tmp/one.sql" shut 3000

start_agent
pgbench -n -h 127.0.0.1 -p "$CDC_TEST_PG_PORT" -U cdc -c 2 -T 8 -f "$tmp/one.sql" cdc_test \
    >"$tmp/pgbench.log" 2>&1 &
bench=$!
for i in 1 2 3 4 5; do
    sleep "1.$((RANDOM % 5))"
    t0=$(date +%s%N)
    agent_stop
    ms=$((($(date +%s%N) - t0) / 1000000))
    assert_eq 0 "$rc" "graceful stop $i: exit 0"
    [ "$ms" -lt 3000 ] && ok || bad "graceful stop $i took $ms ms (limit 3000)"
    start_agent
done
wait "$bench"
wait_caught_up shut && ok || bad "caught up with the source"
src() { pg -Atc "SELECT id, v, pad FROM shut ORDER BY id"; }
dst() { pgt -Atc "SELECT id, v, pad FROM shutdst ORDER BY id"; }
for i in $(seq 1 300); do [ "$(src | md5sum)" = "$(dst | md5sum)" ] && break; sleep 0.1; done
assert_eq "$(src | md5sum)" "$(dst | md5sum)" "the sink's target equals the source"

# SIGHUP: unchanged; a sink's settings changed (it starts again with them); a Kafka setting
# changed (needs a restart, says so); a broken file (nothing changes)
hup_wait() { # pattern
    local i
    for i in $(seq 1 100); do grep -q "$1" "$tmp/agent.log" && return 0; sleep 0.1; done
    return 1
}
kill -HUP "$agent_pid"
hup_wait "reload: $tmp/agent.yaml unchanged" && ok || bad "SIGHUP with the same file: unchanged"
cp "$tmp/agent.yaml" "$tmp/agent.yaml.orig"
sed -i 's/batch_ms: 20, routes/batch_ms: 30, routes/' "$tmp/agent.yaml"
kill -HUP "$agent_pid"
hup_wait "reload: sink shutsink changed: starting it again" && ok || bad "SIGHUP: the changed sink starts again"
pg -c "INSERT INTO shut VALUES (800001, 1, 'after the reload')" >/dev/null
for i in $(seq 1 300); do [ "$(pgt -Atc "SELECT count(*) FROM shutdst WHERE id = 800001")" = 1 ] && break; sleep 0.1; done
assert_eq 1 "$(pgt -Atc "SELECT count(*) FROM shutdst WHERE id = 800001")" "the restarted sink applies new changes"
sed -i 's/linger_ms: 20}/linger_ms: 25}/' "$tmp/agent.yaml"
kill -HUP "$agent_pid"
hup_wait "reload: kafka changed in $tmp/agent.yaml: restart the agent" && ok || bad "SIGHUP: a Kafka change needs a restart"
echo "sinks: [" >>"$tmp/agent.yaml"
kill -HUP "$agent_pid"
hup_wait "the running configuration stays" && ok || bad "SIGHUP with a broken file: nothing changes"
cp "$tmp/agent.yaml.orig" "$tmp/agent.yaml"
pg -c "DELETE FROM shut WHERE id = 800001" >/dev/null
for i in $(seq 1 300); do [ "$(src | md5sum)" = "$(dst | md5sum)" ] && break; sleep 0.1; done
agent_stop
assert_eq 0 "$rc" "final graceful stop"
log=$(cat "$tmp/agent.log")
assert_eq 6 "$(grep -c "agent stopped exit=0 (signal)" <<<"$log")" "every stop was clean"
assert_not_contains "$log" "stopped: " "no source or sink failed"
pg -Atc "SELECT id, v FROM shut" -F ' ' >"$tmp/expected"
run "$CDC_VERIFY_CHAIN" "$boot" cdc.crm.public.shut "$tmp/expected"
assert_eq 0 "$rc" "every change once, in order per key; the topic rebuilds the table"
assert_contains "$out" "resent_dropped=0 " "graceful stops re-send nothing"

# a stop that cannot finish: every broker down while changes wait to be committed
start_agent
for i in $(seq 1 100); do grep -q "sink=shutsink applying" <(tail -20 "$tmp/agent.log") && break; sleep 0.1; done
sleep 1
for b in 1 2 3; do mock_cmd "down $b"; done
pg -c "INSERT INTO shut VALUES (900001, 1, 'during the outage')" >/dev/null
sleep 1
t0=$(date +%s%N)
agent_stop
ms=$((($(date +%s%N) - t0) / 1000000))
assert_eq 1 "$rc" "a stop that cannot commit: exit 1"
[ "$ms" -ge 2500 ] && [ "$ms" -lt 8000 ] && ok || bad "it waited about shutdown_timeout_ms (took $ms ms)"
assert_contains "$(tail -5 "$tmp/agent.log")" "stop timed out" "the log says the stop timed out"
for b in 1 2 3; do mock_cmd "up $b"; done
start_agent
for i in $(seq 1 300); do [ "$(pgt -Atc "SELECT count(*) FROM shutdst WHERE id = 900001")" = 1 ] && break; sleep 0.1; done
assert_eq 1 "$(pgt -Atc "SELECT count(*) FROM shutdst WHERE id = 900001")" "the change made during the outage arrives after the next start"
agent_stop
assert_eq 0 "$rc" "stop after the outage"
finish

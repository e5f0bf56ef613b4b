#!/usr/bin/env bash
# Active-passive instances (agent.ha): two instances of one agent (a PostgreSQL source and a
# MariaDB source, a sink into each database: both directions) run with the same config, each with
# its own admin API. While one is active, the other is a standby: /readyz answers 200 "standby",
# /v1/status says role standby and every unit standby, cdc_standby is 1. Under a steady workload
# on both databases, the active instance is stopped CDC_STANDBY_FAILOVERS times (default 12; the
# README reports a run of 50), by SIGKILL and every fourth time by SIGTERM, and started again as
# the new standby. Each takeover is timed, from the stop to the moment every unit of the other
# instance runs. Afterwards both targets equal their sources, both topics hold every change
# exactly once and in order per key (tests/harness/verify_chain.c), and, on a real broker, no
# sink's re-send guard had to skip a change (the mock hands out records of the transactions a
# killed instance left open, which its successor publishes again). In between, the sessions holding the sinks' locks (on a real broker,
# kafka_real_standby, the sources' too) are cut by the servers four times while both run.
. "$(dirname "$0")/../harness/agent_test.sh"
. "$here/harness/lib.sh"
failovers=${CDC_STANDBY_FAILOVERS:-12}
pids=(0 0)
cleanup_standby() {
    touch "$tmp/stop"
    for p in "${pids[@]}"; do [ "$p" != 0 ] && kill -9 "$p" 2>/dev/null || true; done
    cleanup_tmp
}
trap cleanup_standby EXIT

pg_reset sby sby
pg -c "CREATE TABLE sby (id int PRIMARY KEY, v int NOT NULL, pad text);
       DROP TABLE IF EXISTS sby_from_erp;
       CREATE TABLE sby_from_erp (id int PRIMARY KEY, v int NOT NULL, pad text)" >/dev/null
my -e "DROP TABLE IF EXISTS msby; CREATE TABLE msby (id INT PRIMARY KEY, v INT NOT NULL, pad TEXT);
       DROP TABLE IF EXISTS msby_from_crm; CREATE TABLE msby_from_crm (id INT PRIMARY KEY, v INT NOT NULL, pad TEXT)"
# this test's sinks' offsets only (a fresh cluster): other tests keep theirs in the same tables
pg -c "DELETE FROM cdc_sink_offsets WHERE sink = 'topg'" >/dev/null 2>&1 || true
my -e "DELETE FROM cdc_sink_offsets WHERE sink = 'tomy'" 2>/dev/null || true
mock_start "cdc._offsets 1" "cdc._schemas 1" "cdc.crm.public.sby 4" "cdc.erp.cdc_test.msby 4" \
    "cdc._dlq.tomy 1" "cdc._dlq.topg 1"
cat >"$tmp/agent.yaml" <<EOC
agent: {name: standby-test, ha: true, http: "127.0.0.1:\${CDC_HTTP_PORT}", api: {token_env: API_TOKEN}}
kafka: {brokers: "$boot", linger_ms: 20}
sources:
  - {name: crm, type: postgresql, conninfo: "host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=cdc_test user=cdc",
     password_env: PGPASSWORD, tables: [public.sby], slot: sby, publication: sby, heartbeat_ms: 1000}
  - {name: erp, type: mysql, host: 127.0.0.1, port: $CDC_TEST_MYSQL_PORT, user: cdc, password_env: MYPW,
     database: cdc_test, server_id: $MY_SERVER_ID, tables: [cdc_test.msby], snapshot: never, heartbeat_ms: 1000}
sinks:
  - {name: tomy, type: mysql, host: 127.0.0.1, port: $CDC_TEST_MYSQL_PORT, user: cdc, password_env: MYPW,
     database: cdc_test, batch_ms: 20, routes: [{from: crm.public.sby, to: cdc_test.msby_from_crm}]}
  - {name: topg, type: postgresql, conninfo: "host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=cdc_test user=cdc",
     password_env: PGPASSWORD, batch_ms: 20, routes: [{from: erp.cdc_test.msby, to: public.sby_from_erp}]}
EOC
export API_TOKEN=standby-test-token
ports=("$(free_port)" "$(free_port)")
while [ "${ports[1]}" = "${ports[0]}" ]; do ports[1]=$(free_port); done

start() { # instance
    CDC_HTTP_PORT=${ports[$1]} "$CDC_AGENT" run -c "$tmp/agent.yaml" >>"$tmp/agent$1.log" 2>&1 &
    pids[$1]=$!
}
# The instance's role and its units' states ("active running running running running"), or "down".
role() { # instance
    curl -s -m 2 -H "Authorization: Bearer $API_TOKEN" "http://127.0.0.1:${ports[$1]}/v1/status" 2>/dev/null | python3 -c '
import json, sys
j = json.load(sys.stdin)
print(j["agent"]["role"], *[u["state"] for u in j["sources"] + j["sinks"]])' 2>/dev/null || echo down
}
all_running="active running running running running"
all_standby="standby standby standby standby standby"
wait_role() { # instance want tenths
    local i
    for i in $(seq 1 "$3"); do [ "$(role "$1")" = "$2" ] && return 0; sleep 0.1; done
    return 1
}

start 0
wait_role 0 "$all_running" 300 && ok || bad "the first instance is active (got: $(role 0))"
start 1
wait_role 1 "$all_standby" 300 && ok || bad "the second instance is a standby (got: $(role 1))"
out=$(curl -s -w ' %{http_code}' "http://127.0.0.1:${ports[1]}/readyz")
assert_contains "$out" "ready, standby for:" "/readyz of the standby says so"
assert_contains "$out" " 200" "/readyz of a healthy standby answers 200"
assert_contains "$(curl -s "http://127.0.0.1:${ports[1]}/metrics")" \
    'cdc_standby{component="sink",name="tomy"} 1' "cdc_standby of the standby's sink"
assert_contains "$(curl -s "http://127.0.0.1:${ports[0]}/readyz")" "ready" "/readyz of the active"
out=$(CDC_HTTP_PORT=${ports[1]} "$CDC_AGENT" status -c "$tmp/agent.yaml" --api "http://127.0.0.1:${ports[1]}" 2>&1 || true)
assert_contains "$out" ", role standby" "cdc-agent status names the role"
assert_eq 4 "$(grep -c ' standby: ' "$tmp/agent1.log")" \
    "the standby logs once per unit what it waits for"

# the workload, paced, on both sides until $tmp/stop: upserts (v = 1, then v + 1) and deletes
upsert_workload "$tmp/pg.sql" sby 3000
pgbench -n -h 127.0.0.1 -p "$CDC_TEST_PG_PORT" -U cdc -c 2 -j 1 -R 150 -T 100000 -f "$tmp/pg.sql" \
    cdc_test >"$tmp/pgbench.log" 2>&1 &
bench=$!
(
    while [ ! -e "$tmp/stop" ]; do
        for i in 1 2 3; do
            id=$((RANDOM % 3000 + 1))
            if [ $((RANDOM % 10)) -lt 8 ]; then
                echo "INSERT INTO msby VALUES ($id, 1, 'w') ON DUPLICATE KEY UPDATE v = v + 1;"
            else
                echo "DELETE FROM msby WHERE id = $id;"
            fi
        done
        sleep 0.02
    done
) | my &
mywriter=$!

active=0
times=()
for f in $(seq 1 "$failovers"); do
    sleep "$((RANDOM % 2 + 1)).$((RANDOM % 10))"
    other=$((1 - active))
    sig=KILL
    [ $((f % 4)) = 0 ] && sig=TERM
    t0=$(date +%s%N)
    kill -$sig "${pids[$active]}"
    if ! wait_role "$other" "$all_running" 600; then
        bad "failover $f ($sig): the standby took over (got: $(role "$other"))"
        break
    fi
    times+=($((($(date +%s%N) - t0) / 1000000)))
    wait "${pids[$active]}" 2>/dev/null || true
    echo "failover $f ($sig) at $(date +%T.%N | cut -c1-12): ${times[-1]} ms" | tee -a "$tmp/agent$other.log"
    start "$active"
    wait_role "$active" "$all_standby" 600 || bad "failover $f: the stopped instance is a standby again"
    active=$other
done
assert_eq "$failovers" "${#times[@]}" "every failover taken over"

# The sessions holding the locks cut by the servers (as a network blip would) while both instances
# run: the holder takes its lock again, or the standby gets it first and the other instance's unit
# steps down to a standby. Either way each unit then runs in one instance only. The sources' on a
# real broker only: the new holder's producer fences the old one's open transaction, whose records
# librdkafka's mock cluster still hands to read_committed readers (docs/operations.md).
units() { # instance: the units' states, one word each
    local r
    r=$(role "$1")
    echo "${r#* }"
}
one_each() { # true when every unit runs in one instance and waits in the other
    local a b i
    read -ra a <<<"$(units 0)"
    read -ra b <<<"$(units 1)"
    [ "${#a[@]}" = 4 ] && [ "${#b[@]}" = 4 ] || return 1
    for i in 0 1 2 3; do
        [ "${a[$i]} ${b[$i]}" = "running standby" ] || [ "${a[$i]} ${b[$i]}" = "standby running" ] || return 1
    done
}
pg_cut() { # lock name
    pg -Atc "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'
               AND objid::bigint = (hashtext('$1')::bigint & 4294967295)" >/dev/null
}
my_cut() { # lock name
    local holder
    holder=$(my -N -e "SELECT IS_USED_LOCK('$1')")
    [ "$holder" = NULL ] || my -e "KILL $holder"
}
for cut in 1 2 3 4; do
    pg_cut cdc-sink:topg
    my_cut cdc-sink:cdc_test.tomy
    if real_kafka; then
        pg_cut cdc-source:standby-test.crm
        my_cut cdc-source:standby-test.erp
    fi
    sleep 2
    for i in $(seq 1 150); do one_each && break; sleep 0.1; done
    one_each && ok || bad "lock sessions cut ($cut): each unit runs in one instance (got: $(units 0) / $(units 1))"
done
echo "after the cuts: instance 0: $(role 0); instance 1: $(role 1)"
printf '%s\n' "${times[@]}" | sort -n | awk '{ t[NR] = $1 } END {
    printf "takeover over %d failovers: min %d ms, median %d ms, p90 %d ms, max %d ms\n",
        NR, t[1], t[int((NR + 1) / 2)], t[int(NR * 0.9 + 0.5)], t[NR] }'

touch "$tmp/stop"
kill "$bench" 2>/dev/null || true
wait "$bench" "$mywriter" 2>/dev/null || true
# the active instance catches up with both sources; then both targets equal them
crm="SELECT count(*) || ':' || coalesce(sum(v), 0) || ':' || coalesce(sum(id), 0) FROM"
erp="SELECT CONCAT(COUNT(*), ':', COALESCE(SUM(v), 0), ':', COALESCE(SUM(id), 0)) FROM"
wait_value "the CRM's changes reached the ERP" "$(pg -Atc "$crm sby")" my -N -e "$erp msby_from_crm"
wait_value "the ERP's changes reached the CRM" "$(my -N -e "$erp msby")" pg -Atc "$crm sby_from_erp"
kill -TERM "${pids[1]}" && wait "${pids[1]}" && rc=0 || rc=$?
assert_eq 0 "$rc" "instance 1 stops gracefully"
kill -TERM "${pids[0]}" && wait "${pids[0]}" && rc=0 || rc=$?
assert_eq 0 "$rc" "instance 0 stops gracefully"
pids=(0 0)
cat "$tmp"/agent?.log >"$tmp/agent.log"

pg -Atc "SELECT id, v FROM sby" -F ' ' >"$tmp/expected"
run "$CDC_VERIFY_CHAIN" "$boot" cdc.crm.public.sby "$tmp/expected"
assert_eq 0 "$rc" "the CRM's topic: every change exactly once, in order per key"
assert_contains "$out" "3 passed, 0 failed" "verifier (CRM)"
echo "CRM topic: $(echo "$out" | grep records=)"
assert_real_no_resend "$out"
my -N -e "SELECT id, v FROM msby" | tr '\t' ' ' >"$tmp/expected"
run "$CDC_VERIFY_CHAIN" "$boot" cdc.erp.cdc_test.msby "$tmp/expected"
assert_eq 0 "$rc" "the ERP's topic: every change exactly once, in order per key"
assert_contains "$out" "3 passed, 0 failed" "verifier (ERP)"
echo "ERP topic: $(echo "$out" | grep records=)"
assert_real_no_resend "$out" "$tmp/agent.log"
finish

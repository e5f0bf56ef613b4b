#!/usr/bin/env bash
# deploy/quickstart.sh as a user runs it: the demo converges (a customer created in the ERP gets
# its CRM id, an edit of one record on both sides is resolved by ownership), prints the commands
# to connect to both databases (with their throwaway passwords), and Ctrl-C (SIGINT to its
# process group, as a terminal sends it) stops the agent and removes both databases. The same when the agent has
# already exited before Ctrl-C (the trap used to abort under set -e and leave the servers).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/harness/assert.sh"
. "$here/harness/lib.sh"
root=$(cd "$here/.." && pwd)
tmp=$(mktemp -d)
qs=
trap '[ -z "$qs" ] || kill -9 -- -"$qs" 2>/dev/null || true; "$root/tests/harness/servers.sh" stop "$tmp/state" >/dev/null 2>&1; rm -rf "$tmp"' EXIT
export CDC_BUILD_DIR=$(dirname "$CDC_AGENT") CDC_DEMO_STATE=$tmp/state

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# Starts the quickstart in its own process group ($qs) and waits for the demo to reach its end.
start_demo() { # log [quickstart args]
    local log=$1
    shift
    # with job control, as from a terminal: its own process group, SIGINT not ignored
    set -m
    CDC_HTTP_PORT=$(free_port) bash "$root/deploy/quickstart.sh" "$@" >"$log" 2>&1 </dev/null &
    qs=$!
    set +m
    for _ in $(seq 1 1800); do grep -q "Ctrl-C to stop" "$log" 2>/dev/null && return 0; kill -0 "$qs" 2>/dev/null || break; sleep 0.1; done
    bad "demo reached its end: $(tail -5 "$log")"
    return 1
}
# Waits up to 60 s for the quickstart to exit; sets rc (killed and 137 when it did not).
wait_demo() {
    for _ in $(seq 1 600); do kill -0 "$qs" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$qs" 2>/dev/null && { bad "quickstart did not exit within 60 s"; kill -9 -- -"$qs"; }
    wait "$qs" && rc=0 || rc=$?
    qs=
}
servers_gone() { # what pg_port my_port
    ! port_open "$2" && ok || bad "$1: PostgreSQL still listens on $2"
    ! port_open "$3" && ok || bad "$1: MariaDB still listens on $3"
    [ ! -f "$tmp/state/env" ] && ok || bad "$1: the demo's server state is left"
}

start_demo "$tmp/demo1.log"
. "$tmp/state/env"
pg_port=$CDC_TEST_PG_PORT my_port=$CDC_TEST_MYSQL_PORT
log=$(cat "$tmp/demo1.log")
assert_contains "$log" "== both databases agree again" "demo converged"
assert_contains "$log" "== resolved on both sides: Initech LLC, credit 500.00" \
    "two-way: an edit of one record on both sides resolved by ownership"
assert_contains "$log" "|            102 | Stark Industries | US           |     50000.00 |" \
    "two-way: a customer created in the ERP has its CRM id (102)"
assert_contains "$log" " 102 |   100" "two-way: the CRM account has its ERP id"
assert_contains "$log" "== repaired: contact 11 is back in the ERP" "drift repaired by a snapshot"
# the contacts cleaned on the way: the ERP has them normalized, the invalid phone in the DLQ, and
# duplicates finds the contact entered twice
assert_contains "$log" "|             10 | Ada        | Lovelace    | ada@acme.example             | +1 202-456-1111 | US           | US-CA |" \
    "demo: a contact normalized (name case, email, phone, country, state)"
assert_contains "$log" "|             11 | Jürgen     | Müller      | jm@globex.example            | +49 30 1234567  | DE           | DE-BY |" \
    "demo: the decomposed name in NFC, Bavaria as DE-BY"
assert_contains "$log" "phone value '555-01' of column phone: too short for its region; the change goes to cdc._dlq.source.crm" \
    "demo: the invalid phone's change to the dead-letter topic, with the reason"
assert_contains "$log" 'column="phone",transform="phone",outcome="invalid"} 1' "demo: counted in /metrics"
assert_contains "$log" $'crm public.contacts: 6 rows read; 2 rows in 1 group with the same email,phone (after the table\'s transforms); 1 row with no value to match\n  2 rows  {"email":"jm@globex.example","phone":"+49301234567"}' \
    "demo: duplicates finds the contact entered twice"
assert_contains "$log" "erp          mysql      running" "demo: the admin API's status shows the sink into the ERP running"
assert_contains "$log" "PGPASSWORD=$CDC_TEST_PG_PASSWORD psql -h 127.0.0.1 -p $pg_port -U cdc crm" "psql command with its password"
assert_contains "$log" "mariadb -h 127.0.0.1 -P $my_port -u cdc -p$CDC_TEST_MYSQL_PASSWORD erp" "mariadb command with its password"
# the printed commands work
PGPASSWORD=$CDC_TEST_PG_PASSWORD psql -h 127.0.0.1 -p "$pg_port" -U cdc crm -Atc "SELECT count(*) > 0 FROM accounts" | grep -q t && ok || bad "psql command connects"
kill -INT -- -"$qs"
wait_demo
assert_eq 130 "$rc" "Ctrl-C: exit code"
servers_gone "Ctrl-C" "$pg_port" "$my_port"
pgrep -f "cdc-agent run -c $root/config/crm-erp.yaml" >/dev/null && bad "Ctrl-C: the agent still runs" || ok
assert_contains "$(cat "$tmp/demo1.log")" "agent stopped exit=0 (signal)" "Ctrl-C: the agent stopped cleanly"

# the agent already gone when Ctrl-C comes
start_demo "$tmp/demo2.log"
. "$tmp/state/env"
pg_port=$CDC_TEST_PG_PORT my_port=$CDC_TEST_MYSQL_PORT
pkill -9 -f "cdc-agent run -c $root/config/crm-erp.yaml" || true
sleep 0.5
kill -INT -- -"$qs" 2>/dev/null || true
wait_demo
servers_gone "agent killed first" "$pg_port" "$my_port"

# --kafka: the same demo on a real broker; the agent restarts and resumes from stored positions
start_demo "$tmp/demo3.log" --kafka
. "$tmp/state/env"
pg_port=$CDC_TEST_PG_PORT my_port=$CDC_TEST_MYSQL_PORT
kafka_port=$(. "$tmp/state/kafka/kafka.env" && echo "${CDC_TEST_KAFKA_BOOTSTRAP#*:}")
log=$(cat "$tmp/demo3.log")
assert_contains "$log" "kafka ready bootstrap=127.0.0.1:$kafka_port brokers=1" "--kafka: the agent on the real broker"
assert_contains "$log" "source=crm resuming after pos=" "--kafka: the CRM source resumed after the restart"
assert_contains "$log" "source=erp resuming after pos=" "--kafka: the ERP source resumed after the restart"
assert_contains "$log" "== resumed from the positions stored in Kafka (no new snapshot): Umbrella Corporation" \
    "--kafka: the change made while stopped arrived"
assert_eq 1 "$(grep -c "source=crm snapshot table=public.accounts rows=" "$tmp/demo3.log")" "--kafka: the restart took no new snapshot"
kill -INT -- -"$qs"
wait_demo
assert_eq 130 "$rc" "--kafka Ctrl-C: exit code"
servers_gone "--kafka Ctrl-C" "$pg_port" "$my_port"
! port_open "$kafka_port" && ok || bad "--kafka Ctrl-C: the broker still listens on $kafka_port"
finish

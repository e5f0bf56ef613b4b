#!/usr/bin/env bash
# The demo on a fresh Debian 12 machine: installs what is needed, builds cdc-agent, starts a
# throwaway CRM database (PostgreSQL) and ERP database (MariaDB) on free loopback ports with the
# demo schema, checks everything with `cdc-agent check`, then runs config/crm-erp.yaml with the
# embedded (in-process, non-durable) Kafka: it waits for the initial sync, makes live changes on
# both sides, prints both databases converging, and keeps running until Ctrl-C. Ctrl-C (or the
# agent stopping by itself) stops the agent and removes both databases.
# With --kafka (or CDC_DEMO_KAFKA=real) the same demo runs on a real Apache Kafka broker started
# locally the way the tests start it (KRaft, one node, tests/harness/kafka.sh, jars from Maven
# Central on first use), and the agent is restarted once mid-demo to show that its stored
# positions survive: it resumes where it stopped, with no new snapshot.
#   CDC_BUILD_DIR   the build tree (default build/; configured without tests when new)
#   CDC_DEMO_STATE  where the demo's servers live (default .harness/demo)
#   CDC_HTTP_PORT   the agent's health and metrics port (default 8080, or a free one)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
kafka=${CDC_DEMO_KAFKA:-embedded}
case "${1:-}" in
--kafka) kafka=real ;;
"") ;;
*) echo "usage: deploy/quickstart.sh [--kafka]" >&2; exit 2 ;;
esac
build=${CDC_BUILD_DIR:-$root/build}
"$root/deploy/install-deps.sh"

echo "== building cdc-agent"
[ -f "$build/CMakeCache.txt" ] || cmake -S "$root" -B "$build" -DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" -j "${JOBS:-2}" --target cdc-agent >/dev/null
agent_bin=$build/cdc-agent

state=${CDC_DEMO_STATE:-$root/.harness/demo}
agent=
# Stops the agent (if it still runs) and removes both databases; never fails, so that it runs to
# its end whatever state the demo is in.
cleanup() {
    set +e
    if [ -n "$agent" ] && kill -0 "$agent" 2>/dev/null; then
        kill -TERM "$agent" 2>/dev/null
        # a clean stop takes at most agent.shutdown_timeout_ms (30 s); past that, it is killed
        for _ in $(seq 1 400); do kill -0 "$agent" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$agent" 2>/dev/null
        wait "$agent" 2>/dev/null
    fi
    agent=
    "$root/tests/harness/servers.sh" stop "$state" >/dev/null 2>&1
    "$root/tests/harness/kafka.sh" stop "$state/kafka" >/dev/null 2>&1
    return 0
}
trap cleanup EXIT
trap 'echo; echo "== stopping the agent and removing both databases"; cleanup; exit 130' INT TERM
cleanup # a run that was cut short may have left its servers: every run starts from fresh ones
echo "== starting the CRM (PostgreSQL) and ERP (MariaDB) databases"
"$root/tests/harness/servers.sh" start "$state"
set -a
. "$state/env"
set +a
PGPASSWORD=$CDC_TEST_PG_PASSWORD psql -q -h 127.0.0.1 -p "$CDC_TEST_PG_PORT" -U cdc -d crm \
    -v ON_ERROR_STOP=1 -f "$root/deploy/demo/crm.sql"
mariadb --no-defaults -h 127.0.0.1 -P "$CDC_TEST_MYSQL_PORT" -u cdc -p"$CDC_TEST_MYSQL_PASSWORD" erp \
    <"$root/deploy/demo/erp.sql"

if [ "$kafka" = real ]; then
    echo "== starting a real Kafka broker (KRaft, one node; the first start downloads its jars)"
    "$root/tests/harness/kafka.sh" start "$state/kafka"
    CDC_KAFKA_BROKERS=$(. "$state/kafka/kafka.env" && echo "$CDC_TEST_KAFKA_BOOTSTRAP")
    export CDC_KAFKA_BROKERS
fi

export CRM_PORT=$CDC_TEST_PG_PORT CRM_PASSWORD=$CDC_TEST_PG_PASSWORD
export ERP_PORT=$CDC_TEST_MYSQL_PORT ERP_PASSWORD=$CDC_TEST_MYSQL_PASSWORD
# the health and metrics endpoint on 8080, or a free port when 8080 is taken
if [ -z "${CDC_HTTP_PORT:-}" ] && (exec 3<>/dev/tcp/127.0.0.1/8080) 2>/dev/null; then
    . "$root/tests/harness/lib.sh"
    CDC_HTTP_PORT=$(free_port)
fi
export CDC_HTTP_PORT=${CDC_HTTP_PORT:-8080}
echo "== cdc-agent check -c config/crm-erp.yaml"
"$agent_bin" check -c "$root/config/crm-erp.yaml"
crm() { PGPASSWORD=$CRM_PASSWORD psql -q -h 127.0.0.1 -p "$CRM_PORT" -U cdc -d crm -v ON_ERROR_STOP=1 "$@"; }
erp() { mariadb --no-defaults -h 127.0.0.1 -P "$ERP_PORT" -u cdc -p"$ERP_PASSWORD" erp "$@"; }
show() {
    echo "-- CRM (PostgreSQL): accounts (erp_id learned from the ERP), contacts, orders and invoices from the ERP"
    crm -c "SELECT id, erp_id, name, country, credit_limit FROM accounts ORDER BY id" \
        -c "SELECT id, account_id, first_name, last_name, email, phone, country, state FROM contacts ORDER BY id" \
        -c "SELECT id, customer_id, total, status FROM erp_orders ORDER BY id" \
        -c "SELECT id, order_id, amount, paid FROM erp_invoices ORDER BY id"
    echo "-- ERP (MariaDB): customers (shared with the CRM), contacts from the CRM, its own orders and invoices"
    erp -t -e "SELECT erp_id, crm_account_id, company_name, country_code, credit_limit FROM customers ORDER BY 2;
               SELECT crm_contact_id, crm_account_id, given_name, family_name, email, phone, country_code, state FROM contacts ORDER BY 1;
               SELECT id, customer_id, total, status FROM orders ORDER BY 1;
               SELECT id, order_id, amount, paid FROM invoices ORDER BY 1"
}
# converged: every CRM account is an ERP customer, linked both ways with the same values; every
# CRM contact an ERP contact (but contact 16, whose phone cannot be right: its change waits in the
# dead-letter topic cdc._dlq.source.crm); every ERP order a CRM erp_order
converged() {
    [ "$(crm -Atc "SELECT string_agg(concat_ws(':', id, erp_id, name, country, credit_limit), ',' ORDER BY id) FROM accounts")" = \
      "$(erp -N -e "SELECT GROUP_CONCAT(CONCAT_WS(':', crm_account_id, erp_id, company_name, country_code, credit_limit) ORDER BY crm_account_id) FROM customers")" ] &&
    [ "$(crm -Atc "SELECT string_agg(id::text, ',' ORDER BY id) FROM contacts WHERE id <> 16")" = \
      "$(erp -N -e "SELECT GROUP_CONCAT(crm_contact_id ORDER BY crm_contact_id) FROM contacts")" ] &&
    [ "$(crm -Atc "SELECT string_agg(id || ':' || status, ',' ORDER BY id) FROM erp_orders")" = \
      "$(erp -N -e "SELECT GROUP_CONCAT(CONCAT(id, ':', status) ORDER BY id) FROM orders")" ]
}
wait_converged() {
    for _ in $(seq 1 150); do converged && return 0; sleep 0.2; done
    echo "!! not converged after 30 s: see the agent's log above" >&2
    return 1
}

echo "== cdc-agent run -c config/crm-erp.yaml (Ctrl-C stops it and removes the databases)"
"$agent_bin" run -c "$root/config/crm-erp.yaml" &
agent=$!
wait_converged && { echo "== initial sync done"; show; }
echo "== data cleaned on the way (config/crm-erp.yaml, transforms): CRM contacts as typed -> ERP contacts"
crm -c "SELECT id, first_name, last_name, email, phone, country, state FROM contacts ORDER BY id"
erp -t -e "SELECT crm_contact_id, given_name, family_name, email, phone, country_code, state FROM contacts ORDER BY 1"
echo "== contact 16's phone cannot be right: its change went to the dead-letter topic cdc._dlq.source.crm"
echo "   with the reason (see the agent's warning above), counted in /metrics:"
curl -s "http://127.0.0.1:$CDC_HTTP_PORT/metrics" | grep '^cdc_transform_values_total{side="source".*column="phone".*outcome="invalid"}' || true
echo "== cdc-agent duplicates -c config/crm-erp.yaml --source crm --table public.contacts --match email,phone"
"$agent_bin" duplicates -c "$root/config/crm-erp.yaml" --source crm --table public.contacts --match email,phone 2>/dev/null
echo "== live changes: a new CRM account and contact, a renamed account; a new ERP order, one shipped;"
echo "   the ERP raises a credit limit; a customer created in the ERP"
crm -c "INSERT INTO accounts (name, country) VALUES ('Umbrella plc', 'GB')" \
    -c "INSERT INTO contacts (id, account_id, first_name, last_name, email) SELECT 13, id, 'Alice', 'Abernathy', 'alice@umbrella.example' FROM accounts WHERE name = 'Umbrella plc'" \
    -c "UPDATE accounts SET name = 'Acme Corporation' WHERE id = 1"
erp -e "INSERT INTO orders (id, customer_id, total, status, ordered_at) VALUES (1004, 1001, 99.50, 'open', NOW(3));
        UPDATE orders SET status = 'shipped' WHERE id = (SELECT MIN(id) FROM (SELECT id FROM orders) o);
        UPDATE customers SET credit_limit = 25000 WHERE crm_account_id = 2;
        INSERT INTO customers (company_name, country_code, credit_limit) VALUES ('Stark Industries', 'US', 50000)"
wait_converged && { echo "== both databases agree again (Stark Industries has a CRM id and its ERP id in both)"; show; }
echo "== the same record edited on both sides at once: the CRM renames Initech, the ERP renames it too"
echo "   and lowers its credit limit; the CRM owns the name, the ERP the credit limit (conflict: owner)"
crm -c "UPDATE accounts SET name = 'Initech LLC' WHERE id = 3" &
edit=$!
erp -e "UPDATE customers SET company_name = 'INITECH (typo)', credit_limit = 500 WHERE crm_account_id = 3"
wait "$edit"
wait_converged && echo "== resolved on both sides: $(crm -Atc "SELECT name || ', credit ' || credit_limit FROM accounts WHERE id = 3") (conflicts, when the edits crossed: $(curl -s "http://127.0.0.1:$CDC_HTTP_PORT/metrics" | awk '/^cdc_sink_conflicts_total/ {n += $2} END {print n + 0}'), each with both versions in the Kafka topic cdc._conflicts)"
if [ "$kafka" = real ]; then
    echo "== restart: the agent stops, a change is made meanwhile, the agent starts again"
    kill -TERM "$agent"
    wait "$agent" || true
    crm -c "UPDATE accounts SET name = 'Umbrella Corporation' WHERE name = 'Umbrella plc'"
    "$agent_bin" run -c "$root/config/crm-erp.yaml" &
    agent=$!
    wait_converged && echo "== resumed from the positions stored in Kafka (no new snapshot): $(erp -N -e "SELECT company_name FROM customers WHERE company_name LIKE 'Umbrella%'")"
fi
echo "== drift: someone deletes an ERP contact by hand; cdc-agent snapshot re-reads CRM contacts while streaming"
erp -e "DELETE FROM contacts WHERE crm_contact_id = 11"
"$agent_bin" snapshot -c "$root/config/crm-erp.yaml" --source crm --table public.contacts
wait_converged && { echo "== repaired: contact 11 is back in the ERP"; erp -t -e "SELECT crm_contact_id, given_name, family_name FROM contacts ORDER BY 1"; }
echo "== metrics: curl -s http://127.0.0.1:$CDC_HTTP_PORT/metrics | grep ^cdc_ (also /healthz, /readyz)"
curl -s "http://127.0.0.1:$CDC_HTTP_PORT/metrics" | grep -E '^cdc_(source_events_total|sink_applied_total)' || true
echo "== the admin API (docs/api.md): $agent_bin status -c config/crm-erp.yaml --api http://127.0.0.1:$CDC_HTTP_PORT"
"$agent_bin" status -c "$root/config/crm-erp.yaml" --api "http://127.0.0.1:$CDC_HTTP_PORT" || true
echo "== connect to the demo databases (throwaway passwords, gone with the databases):"
echo "   PGPASSWORD=$CRM_PASSWORD psql -h 127.0.0.1 -p $CRM_PORT -U cdc crm"
echo "   mariadb -h 127.0.0.1 -P $ERP_PORT -u cdc -p$ERP_PASSWORD erp"
echo "== cdc-agent commands against the demo from another shell (README \"Five minutes with it\"):"
echo "   export CRM_PORT=$CRM_PORT CRM_PASSWORD=$CRM_PASSWORD ERP_PORT=$ERP_PORT ERP_PASSWORD=$ERP_PASSWORD${CDC_KAFKA_BROKERS:+ CDC_KAFKA_BROKERS=$CDC_KAFKA_BROKERS}"
echo "   $agent_bin offsets show -c $root/config/crm-erp.yaml"
echo "== the agent keeps running; make your own changes, Ctrl-C to stop it and remove both databases"
set +e
wait "$agent"
rc=$?
agent=
echo "== the agent stopped (exit $rc); removing both databases"
exit "$rc"

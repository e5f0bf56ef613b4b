#!/usr/bin/env bash
# The demo on a fresh Debian 12 machine: installs what is needed, builds cdc-agent, starts a
# throwaway CRM database (PostgreSQL) and ERP database (MariaDB) on free loopback ports with the
# demo schema, checks everything with `cdc-agent check`, then runs config/crm-erp.yaml with the
# embedded (in-process, non-durable) Kafka. Servers are stopped and removed on exit.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/deploy/install-deps.sh"

echo "== building cdc-agent"
cmake -S "$root" -B "$root/build" -DBUILD_TESTING=OFF >/dev/null
cmake --build "$root/build" -j "${JOBS:-2}" --target cdc-agent >/dev/null

state=$root/.harness/demo
cleanup() { "$root/tests/harness/servers.sh" stop "$state" >/dev/null 2>&1 || true; }
trap cleanup EXIT INT TERM
echo "== starting the CRM (PostgreSQL) and ERP (MariaDB) databases"
"$root/tests/harness/servers.sh" start "$state"
set -a
. "$state/env"
set +a
PGPASSWORD=$CDC_TEST_PG_PASSWORD psql -q -h 127.0.0.1 -p "$CDC_TEST_PG_PORT" -U cdc -d crm \
    -v ON_ERROR_STOP=1 -f "$root/deploy/demo/crm.sql"
mariadb --no-defaults -h 127.0.0.1 -P "$CDC_TEST_MYSQL_PORT" -u cdc -p"$CDC_TEST_MYSQL_PASSWORD" erp \
    <"$root/deploy/demo/erp.sql"

export CRM_PORT=$CDC_TEST_PG_PORT CRM_PASSWORD=$CDC_TEST_PG_PASSWORD
export ERP_PORT=$CDC_TEST_MYSQL_PORT ERP_PASSWORD=$CDC_TEST_MYSQL_PASSWORD
echo "== cdc-agent check -c config/crm-erp.yaml"
"$root/build/cdc-agent" check -c "$root/config/crm-erp.yaml"
echo "== cdc-agent run -c config/crm-erp.yaml"
exec_status=0
"$root/build/cdc-agent" run -c "$root/config/crm-erp.yaml" || exec_status=$?
exit $exec_status

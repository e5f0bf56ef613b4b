#!/usr/bin/env bash
# Records linked across systems: CRM accounts (PostgreSQL, id from a sequence, erp_id beside it)
# and ERP customers (MariaDB, erp_id AUTO_INCREMENT from 1000, crm_id beside it), synced both ways
# with link: {map: account}. A CRM account reaches the ERP as a new customer with its own erp_id
# and the CRM row learns that erp_id; an ERP customer reaches the CRM with a new id and the ERP
# row learns it; both pairs are in each side's cdc_id_map. No echo (the key set by a link is not
# published again), no second record (a row that already knows the other key is linked instead of
# inserted twice), updates and deletes find the linked row by either key; with the agent killed
# while both sides create records, every record exists once on each side, linked both ways.
# translate: ERP orders reach the CRM with customer_id (an ERP key) written as the CRM account's
# id, also for an order of a customer created in the same ERP transaction.
# match_on: CRM leads reaching ERP prospects that exist unlinked (an initial load) link the one
# prospect with the same name; a name that fits two becomes a record of its own and a conflict.
. "$(dirname "$0")/../harness/agent_test.sh"
trap cleanup_tmp EXIT

pg_reset lk lk
pg -c "DELETE FROM cdc_id_map WHERE map IN ('account', 'lead')" >/dev/null 2>&1 || true
pg -c "DROP TABLE IF EXISTS accounts, orders;
       CREATE TABLE accounts (id serial PRIMARY KEY, name text, erp_id int UNIQUE);
       CREATE TABLE orders (id int PRIMARY KEY, account_id int, total numeric(10,2));
       ALTER TABLE accounts REPLICA IDENTITY FULL" >/dev/null
my -e "DELETE FROM cdc_id_map WHERE map IN ('account', 'lead')" 2>/dev/null || true
my -e "DROP TABLE IF EXISTS customers, orders;
       CREATE TABLE orders (id INT PRIMARY KEY, customer_id INT, total DECIMAL(10,2));
       CREATE TABLE customers (erp_id INT AUTO_INCREMENT PRIMARY KEY, crm_id INT UNIQUE,
         company_name VARCHAR(100)) AUTO_INCREMENT = 1000"
mock_start "cdc._offsets 1" "cdc._schemas 1" "cdc._links 2" "cdc._conflicts 1" "cdc.crm.public.accounts 2" \
    "cdc.erp.cdc_test.customers 2" "cdc.erp.cdc_test.orders 2" "cdc._dlq.lkerp 1" "cdc._dlq.lkcrm 1" "cdc.crm2.public.leads 1" "cdc._dlq.toerp2 1"

http_port=$(free_port)
two_way_config "$tmp/agent.yaml" links sources: \
"  - {name: crm, type: postgresql, conninfo: \"host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=cdc_test user=cdc\",
     password_env: PGPASSWORD, tables: [public.accounts], slot: lk, publication: lk, heartbeat_ms: 1000}" \
"  - {name: erp, type: mysql, host: 127.0.0.1, port: $CDC_TEST_MYSQL_PORT, user: cdc, password_env: MYPW,
     database: cdc_test, server_id: $MY_SERVER_ID, tables: [cdc_test.customers, cdc_test.orders],
     heartbeat_ms: 1000}" \
sinks: \
"  - {name: lkerp, type: mysql, host: 127.0.0.1, port: $CDC_TEST_MYSQL_PORT, user: cdc, password_env: MYPW,
     database: cdc_test, batch_ms: 20, routes: [{from: crm.public.accounts, to: cdc_test.customers,
     columns: {id: crm_id, name: company_name, erp_id: erp_id}, key: [crm_id],
     link: {map: account, key: erp_id}}]}" \
"  - {name: lkcrm, type: postgresql, conninfo: \"host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=cdc_test user=cdc\",
     password_env: PGPASSWORD, batch_ms: 20, routes: [{from: erp.cdc_test.customers, to: public.accounts,
     columns: {erp_id: erp_id, crm_id: id, company_name: name}, key: [erp_id],
     link: {map: account, key: id}},
     {from: erp.cdc_test.orders, to: public.orders, columns: {id: id, customer_id: account_id, total: total},
      translate: {account_id: account}}]}"
sed -i "s/^agent: {name: links}/agent: {name: links, http: \"127.0.0.1:$http_port\"}/" "$tmp/agent.yaml"

crm_rows() { pg -Atc "SELECT concat_ws('|', id, erp_id, name) FROM accounts ORDER BY id"; }
erp_rows() { my -N -e "SELECT CONCAT_WS('|', crm_id, erp_id, company_name) FROM customers ORDER BY crm_id"; }
both_equal() { # what
    local i
    for i in $(seq 1 300); do [ "$(crm_rows | md5sum)" = "$(erp_rows | md5sum)" ] && break; sleep 0.1; done
    assert_eq "$(crm_rows)" "$(erp_rows)" "$1: both sides equal, linked"
}
events() { "$CDC_TOPIC_DUMP" "$boot" "$1" | wc -l; }

# a link this side knows before the agent runs: CRM account 50 already names ERP customer 999,
# which does not know it yet
my -e "INSERT INTO customers VALUES (999, NULL, 'known')"
pg -c "INSERT INTO accounts VALUES (50, 'known', 999); SELECT setval('accounts_id_seq', 50)" >/dev/null
start_agent
wait_offsets '"source":"crm"' 300 && ok || bad "crm source started"
wait_offsets '"source":"erp"' 300 && ok || bad "erp source started"
both_equal "a row that knew its partner"
assert_eq 1 "$(my -N -e "SELECT count(*) FROM customers")" "linked, not inserted twice"

pg -c "INSERT INTO accounts (name) VALUES ('acme')" >/dev/null
both_equal "a CRM account"
acme=$(pg -Atc "SELECT id FROM accounts WHERE name = 'acme'")
assert_eq "$acme|1000|acme" "$(crm_rows | grep acme)" "the CRM row learned its erp_id"
my -e "INSERT INTO customers (company_name) VALUES ('globex')"
both_equal "an ERP customer"
crm_id=$(pg -Atc "SELECT id FROM accounts WHERE name = 'globex'")
assert_eq "1001" "$(my -N -e "SELECT erp_id FROM customers WHERE crm_id = $crm_id")" "the ERP row learned its crm id"
assert_eq "account|crm|$acme|1000|1" "$(my -N -e "SELECT CONCAT_WS('|', map, source, source_key, target_key, published) FROM cdc_id_map WHERE map = 'account' AND source_key = '$acme'")" \
    "the ERP's cdc_id_map: the pair, published"
assert_eq "account|erp|1000|$acme|t" "$(pg -Atc "SELECT concat_ws('|', map, source, source_key, target_key, published) FROM cdc_id_map WHERE map = 'account' AND source_key = '1000'")" \
    "the CRM's cdc_id_map: the pair it learned"
assert_eq "account|erp|1001|$crm_id|t" "$(pg -Atc "SELECT concat_ws('|', map, source, source_key, target_key, published) FROM cdc_id_map WHERE map = 'account' AND source_key = '1001'")" \
    "the CRM's cdc_id_map: the pair it made"
pg -c "UPDATE accounts SET name = 'acme inc' WHERE name = 'acme'" >/dev/null
my -e "UPDATE customers SET company_name = 'globex ltd' WHERE company_name = 'globex'"
both_equal "an update on each side"
sleep 2
assert_eq 3 "$(events cdc.crm.public.accounts)" \
    "CRM topic: the snapshot of 50, acme's insert and update only (no echo of a link or an insert)"
assert_eq 3 "$(events cdc.erp.cdc_test.customers)" "ERP topic: the snapshot of 999, globex's insert and update only" 
my -e "INSERT INTO orders VALUES (1, 1000, 10.50);
       BEGIN; INSERT INTO customers (company_name) VALUES ('hooli');
       INSERT INTO orders VALUES (2, LAST_INSERT_ID(), 20.00); COMMIT"
wait_value "translate: both orders in the CRM" 2 pg -Atc "SELECT count(*) FROM orders"
assert_eq "1|$acme|10.50" "$(pg -Atc "SELECT concat_ws('|', id, account_id, total) FROM orders WHERE id = 1")" \
    "translate: the ERP customer 1000 is CRM account $acme"
assert_eq "$(pg -Atc "SELECT id FROM accounts WHERE name = 'hooli'")" "$(pg -Atc "SELECT account_id FROM orders WHERE id = 2")" \
    "translate: an order of a customer created in the same ERP transaction"
pg -c "DELETE FROM accounts WHERE name = 'acme inc'" >/dev/null
my -e "DELETE FROM customers WHERE company_name = 'globex ltd'"
both_equal "a delete on each side"

# ---- both sides create records while the agent is killed ----
for i in $(seq 1 150); do echo "INSERT INTO accounts (name) VALUES ('c$i');"; done >"$tmp/crm.sql"
for i in $(seq 1 150); do echo "INSERT INTO customers (company_name) VALUES ('e$i');"; done >"$tmp/erp.sql"
both_sides_with_kills "$tmp/crm.sql" "$tmp/erp.sql" 2
both_equal "150 records created on each side, the agent killed twice"
assert_eq 302 "$(pg -Atc "SELECT count(*) FROM accounts")" "every record once in the CRM"
assert_eq 302 "$(my -N -e "SELECT count(*) FROM customers")" "every record once in the ERP"
assert_eq 0 "$(pg -Atc "SELECT count(*) FROM accounts WHERE erp_id IS NULL")" "every CRM row linked"
assert_eq 0 "$(my -N -e "SELECT count(*) FROM customers WHERE crm_id IS NULL")" "every ERP row linked"
agent_stop
assert_eq 0 "$rc" "graceful stop"
assert_contains "$(cat "$tmp/agent.log")" "link(s) back through cdc._links" "links sent back"

# ---- match_on ----
pg -c "DROP PUBLICATION IF EXISTS lk2; SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'lk2';
       DROP TABLE IF EXISTS leads; CREATE TABLE leads (id int PRIMARY KEY, name text, erp_id int UNIQUE);
       INSERT INTO leads VALUES (60, 'initech', NULL), (61, 'dup', NULL), (62, 'fresh', NULL)" >/dev/null
my -e "DROP TABLE IF EXISTS prospects; CREATE TABLE prospects (erp_id INT AUTO_INCREMENT PRIMARY KEY,
         crm_id INT UNIQUE, company_name VARCHAR(100)) AUTO_INCREMENT = 5000;
       INSERT INTO prospects (company_name) VALUES ('initech'), ('dup'), ('dup')"
two_way_config "$tmp/match.yaml" matching sources: \
"  - {name: crm2, type: postgresql, conninfo: \"host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=cdc_test user=cdc\",
     password_env: PGPASSWORD, tables: [public.leads], slot: lk2, publication: lk2, heartbeat_ms: 1000}" \
sinks: \
"  - {name: toerp2, type: mysql, host: 127.0.0.1, port: $CDC_TEST_MYSQL_PORT, user: cdc, password_env: MYPW,
     database: cdc_test, batch_ms: 20, routes: [{from: crm2.public.leads, to: cdc_test.prospects,
     columns: {id: crm_id, name: company_name, erp_id: erp_id}, key: [crm_id],
     link: {map: lead, key: erp_id}, match_on: [company_name]}]}"
"$CDC_AGENT" run -c "$tmp/match.yaml" >"$tmp/match.log" 2>&1 &
match_pid=$!
wait_value "match_on: every lead in the ERP" 3 my -N -e "SELECT count(*) FROM prospects WHERE crm_id IS NOT NULL"
assert_eq "5000|60|initech" "$(my -N -e "SELECT CONCAT_WS('|', erp_id, crm_id, company_name) FROM prospects WHERE company_name = 'initech'")" \
    "the one unlinked prospect with the same name is linked, not inserted again"
assert_eq "3|2" "$(my -N -e "SELECT CONCAT_WS('|', count(*), sum(crm_id IS NULL)) FROM prospects WHERE company_name = 'dup'")" \
    "a name that fits two prospects: a record of its own, the two left alone"
assert_eq 1 "$(my -N -e "SELECT count(*) FROM prospects WHERE company_name = 'fresh' AND crm_id = 62")" "no match: inserted"
for i in $(seq 1 100); do "$CDC_TOPIC_DUMP" "$boot" cdc._conflicts | grep -q '"policy":"match_on"' && break; sleep 0.1; done
assert_contains "$("$CDC_TOPIC_DUMP" "$boot" cdc._conflicts)" '"policy":"match_on","resolution":"incoming","reason":"its match_on values fit 2 unlinked records' \
    "the ambiguous match is a conflict record"
kill -TERM "$match_pid"
wait "$match_pid" && ok || bad "matching agent stopped cleanly"
finish

#!/usr/bin/env bash
# `cdc-agent check` and `run` against the harness's real PostgreSQL and MariaDB and the embedded
# Kafka: reachability, named host:port and cause on failure, missing prerequisites with their
# fix, and never a password in the output.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/harness/assert.sh"
load_harness_env
agent=$CDC_AGENT
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

write_config() { # pg_port mysql_port pg_user brokers
    cat >"$tmp/c.yaml" <<EOC
agent: {name: check-test}
kafka: {brokers: "$4"}
sources:
  - name: crm
    type: postgresql
    conninfo: "host=127.0.0.1 port=$1 dbname=crm user=$3"
    password_env: PG_PW
    tables: [public.contacts]
  - name: erp
    type: mysql
    host: 127.0.0.1
    port: $2
    user: cdc
    password_env: MY_PW
    server_id: 77
    tables: [erp.orders]
sinks:
  - name: erp
    type: mysql
    host: 127.0.0.1
    port: $2
    user: cdc
    password_env: MY_PW
    database: erp
    routes: [{from: crm.public.contacts, to: erp.customers}]
EOC
}

export PG_PW=$CDC_TEST_PG_PASSWORD MY_PW=$CDC_TEST_MYSQL_PASSWORD
PGPASSWORD=$CDC_TEST_PG_PASSWORD psql -q -h 127.0.0.1 -p "$CDC_TEST_PG_PORT" -U cdc -d crm \
    -c "DROP TABLE IF EXISTS contacts" -c "CREATE TABLE contacts (id int PRIMARY KEY, name text)" \
    -c "DROP PUBLICATION IF EXISTS cdc_crm" 2>/dev/null
my_erp() { mariadb --no-defaults -h 127.0.0.1 -P "$CDC_TEST_MYSQL_PORT" -u cdc -p"$MY_PW" erp "$@"; }
my_erp -e "DROP TABLE IF EXISTS orders, customers; CREATE TABLE orders (id INT PRIMARY KEY, v INT);
           CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(50))"
write_config "$CDC_TEST_PG_PORT" "$CDC_TEST_MYSQL_PORT" cdc embedded
run "$agent" check -c "$tmp/c.yaml"
assert_eq 0 "$rc" "check ok exit"
assert_contains "$out" "kafka    embedded (in-process mock cluster, non-durable): ok, 1 broker" "kafka ok"
assert_contains "$out" "source   crm (postgresql 127.0.0.1:$CDC_TEST_PG_PORT): ok, PostgreSQL 15" "pg source ok"
assert_contains "$out" "source   erp (mysql 127.0.0.1:$CDC_TEST_MYSQL_PORT): ok, MariaDB 10.11" "mariadb source ok"
assert_contains "$out" "result   ready" "ready"
assert_not_contains "$out" "route    " "routes from this agent's sources: nothing to note"
if mariadb --no-defaults -h 127.0.0.1 -P "$CDC_TEST_MYSQL_PORT" -u cdc -p"$MY_PW" -N \
    -e "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'erp' AND TABLE_NAME = 'cdc_signal'" | grep -q 1; then
    assert_not_contains "$out" "signal table" "signal table exists: nothing to say"
else
    assert_contains "$out" "signal table erp.cdc_signal does not exist yet" "missing signal table noted, not refused"
fi
# a route from a source another agent runs (a sidecar reading its peer's topics): noted, not refused
sed 's/routes: \[{from: crm.public.contacts, to: erp.customers}\]/routes: [{from: peer.public.contacts, to: erp.customers}]/' "$tmp/c.yaml" >"$tmp/peer.yaml"
run "$agent" check -c "$tmp/peer.yaml"
assert_contains "$out" "route    peer.public.contacts of sink erp ($tmp/peer.yaml:25): source peer is not one of this agent's: another agent with topic_prefix cdc must publish it" "a route from another agent's source is noted"
# one from a table this agent's source does not capture (yet): noted with the line
sed 's/routes: \[{from: crm.public.contacts, to: erp.customers}\]/routes: [{from: crm.public.other, to: erp.customers}]/' "$tmp/c.yaml" >"$tmp/other.yaml"
run "$agent" check -c "$tmp/other.yaml"
assert_contains "$out" "route    crm.public.other of sink erp ($tmp/other.yaml:25): source crm does not capture public.other: nothing arrives until it is added to the source's tables" "a route from a table not captured is noted"

# wrong passwords: named endpoint and cause, never the password
export PG_PW=wrong-pg-secret MY_PW=wrong-my-secret
run "$agent" check -c "$tmp/c.yaml"
assert_eq 1 "$rc" "bad password exit"
assert_contains "$out" "postgresql 127.0.0.1:$CDC_TEST_PG_PORT: " "pg endpoint named"
assert_contains "$out" "password authentication failed for user \"cdc\"" "pg auth cause"
assert_contains "$out" "mysql 127.0.0.1:$CDC_TEST_MYSQL_PORT: Access denied" "mysql auth cause"
assert_not_contains "$out" "wrong-pg-secret" "no pg password in output"
assert_not_contains "$out" "wrong-my-secret" "no mysql password in output"

# unreachable servers and broker
. "$here/harness/lib.sh"
dead=$(free_port)
export PG_PW=$CDC_TEST_PG_PASSWORD MY_PW=$CDC_TEST_MYSQL_PASSWORD
write_config "$dead" "$dead" cdc "127.0.0.1:$dead"
run "$agent" check -c "$tmp/c.yaml"
assert_eq 1 "$rc" "unreachable exit"
assert_contains "$out" "postgresql 127.0.0.1:$dead: connection to server at \"127.0.0.1\", port $dead failed: Connection refused" "pg unreachable"
assert_contains "$out" "mysql 127.0.0.1:$dead: Can't connect" "mysql unreachable"
assert_contains "$out" "kafka    127.0.0.1:$dead: FAILED: kafka 127.0.0.1:$dead:" "kafka unreachable"

# MariaDB: a user without replication privileges, and the server's own server_id
my_root() { mariadb --no-defaults -uroot -S "$CDC_TEST_MYSQL_SOCKET" "$@"; }
my_root -e "DROP USER IF EXISTS plain@'%'; CREATE USER plain@'%' IDENTIFIED BY '$MY_PW';
            GRANT SELECT ON *.* TO plain@'%'"
write_config "$CDC_TEST_PG_PORT" "$CDC_TEST_MYSQL_PORT" cdc embedded
sed -i 's/    user: cdc$/    user: plain/; s/server_id: 77/server_id: 1/' "$tmp/c.yaml"
run "$agent" check -c "$tmp/c.yaml"
assert_eq 1 "$rc" "mysql prerequisites exit"
assert_contains "$out" "user lacks REPLICATION SLAVE and REPLICATION CLIENT on *.*; run GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO the user" "grants named"
assert_contains "$out" "server_id 1 is the server's own; give source erp another server_id" "server_id clash"
assert_contains "$out" "user lacks INSERT, UPDATE, CREATE on signal table erp.cdc_signal; run GRANT INSERT, UPDATE, CREATE ON erp.cdc_signal TO the user" "signal table privileges"
my_root -e "DROP USER plain@'%'"

# a missing prerequisite is reported with its fix
PGPASSWORD=$CDC_TEST_PG_PASSWORD psql -h 127.0.0.1 -p "$CDC_TEST_PG_PORT" -U cdc -d crm -q \
    -c "DROP ROLE IF EXISTS norepl" -c "CREATE ROLE norepl LOGIN PASSWORD '$CDC_TEST_PG_PASSWORD'"
write_config "$CDC_TEST_PG_PORT" "$CDC_TEST_MYSQL_PORT" norepl embedded
run "$agent" check -c "$tmp/c.yaml"
assert_eq 1 "$rc" "missing REPLICATION exit"
assert_contains "$out" "NOT READY" "not ready"
assert_contains "$out" "user norepl lacks REPLICATION; run ALTER ROLE norepl REPLICATION;" "fix named"
assert_contains "$out" "user norepl cannot create publication cdc_crm: run GRANT CREATE ON DATABASE crm TO norepl;" "publication: CREATE on the database"
assert_contains "$out" "user norepl cannot read public.contacts; run GRANT SELECT ON \"public\".\"contacts\" TO norepl;" "SELECT on the table"
assert_contains "$out" "user norepl does not own public.contacts, so it cannot add it to publication cdc_crm" "publication: table ownership"

# a table without a key, and a publication that lacks the table: each with its fix
PGPASSWORD=$CDC_TEST_PG_PASSWORD psql -q -h 127.0.0.1 -p "$CDC_TEST_PG_PORT" -U cdc -d crm \
    -c "ALTER TABLE contacts DROP CONSTRAINT contacts_pkey" -c "CREATE PUBLICATION cdc_crm"
run "$agent" check -c "$tmp/c.yaml"
assert_eq 1 "$rc" "table problems exit"
assert_contains "$out" 'ALTER TABLE "public"."contacts" REPLICA IDENTITY FULL;' "replica identity fix"
assert_contains "$out" "publication cdc_crm lacks public.contacts; run ALTER PUBLICATION cdc_crm ADD TABLE public.contacts;" "publication fix"

# MariaDB tables: missing, keyed by a unique index over NOT NULL columns (said, accepted), and
# without any key (refused, as run refuses it)
my_erp -e "DROP TABLE orders"
run "$agent" check -c "$tmp/c.yaml"
assert_contains "$out" "table erp.orders does not exist" "missing MariaDB table"
my_erp -e "CREATE TABLE orders (code VARCHAR(10) NOT NULL, alt INT NULL, v INT, UNIQUE KEY alt_u (alt), UNIQUE KEY code_u (code))"
run "$agent" check -c "$tmp/c.yaml"
assert_contains "$out" "table erp.orders has no primary key: keyed by unique index code_u" "unique NOT NULL index as key"
my_erp -e "ALTER TABLE orders DROP INDEX code_u"
run "$agent" check -c "$tmp/c.yaml"
assert_contains "$out" "table erp.orders has neither a primary key nor a unique index over NOT NULL columns" "keyless table refused"
my_erp -e "DROP TABLE orders"

# sink routes: the target table and every column the route names
sed -i 's/routes: \[{from: crm.public.contacts, to: erp.customers}\]/routes: [{from: crm.public.contacts, to: erp.customers, columns: {id: id, name: full_name}, constants: {origin: crm}, key: [id]}]/' "$tmp/c.yaml"
run "$agent" check -c "$tmp/c.yaml"
assert_contains "$out" "route crm.public.contacts: target erp.customers has no column full_name (columns: name -> full_name)" "route: a mapped column missing"
assert_contains "$out" "route crm.public.contacts: target erp.customers has no column origin (constants)" "route: a constant's column missing"
assert_not_contains "$out" "no column id" "route: present columns not named"
my_erp -e "DROP TABLE customers"
run "$agent" check -c "$tmp/c.yaml"
assert_contains "$out" "route crm.public.contacts: target table erp.customers does not exist; create it" "route: target table missing"

# every configured connector exists: run does not refuse for a missing one (it stops on the
# table problems above instead)
write_config "$CDC_TEST_PG_PORT" "$CDC_TEST_MYSQL_PORT" cdc embedded
run timeout 30 "$agent" run -c "$tmp/c.yaml"
assert_eq 1 "$rc" "run exits on the table problems"
assert_not_contains "$out" "connector is not implemented yet" "every connector exists"

finish

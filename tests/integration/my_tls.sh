#!/usr/bin/env bash
# TLS to MySQL / MariaDB against a server of its own that serves TLS (a throwaway CA made by the
# harness): a source (the binlog stream and its catalog) and a sink both connect with a client
# certificate under verify_identity and sync a table; every ssl_mode does what it says (a user
# whose account requires TLS is refused under disabled; the wrong CA is refused under verify_ca;
# a server without TLS is refused under required and accepted under preferred); the TLS keys are
# refused where they do not belong, naming file, line and key.
. "$(dirname "$0")/../harness/agent_test.sh"
plain_port=$CDC_TEST_MYSQL_PORT plain_pw=$CDC_TEST_MYSQL_PASSWORD
trap 'cleanup_tmp_tls' EXIT
cleanup_tmp_tls() { "$here/harness/mariadb.sh" stop "$tmp/tlsdb" >/dev/null 2>&1 || true; cleanup_tmp; }
CDC_MYSQL_TLS=1 "$here/harness/mariadb.sh" start "$tmp/tlsdb" >/dev/null
. "$tmp/tlsdb/mariadb.env"
tls=$CDC_TEST_MYSQL_TLS_DIR
export MYPW=$CDC_TEST_MYSQL_PASSWORD
root_sql() { mariadb --no-defaults -uroot -S "$CDC_TEST_MYSQL_SOCKET" "$@"; }
root_sql -e "CREATE USER tlsonly@'%' IDENTIFIED BY '$MYPW' REQUIRE SSL;
             CREATE USER certonly@'%' IDENTIFIED BY '$MYPW' REQUIRE SUBJECT '/CN=cdc test client';
             GRANT ALL PRIVILEGES ON *.* TO tlsonly@'%', certonly@'%';
             CREATE TABLE cdc_test.src (id INT PRIMARY KEY, v VARCHAR(20));
             CREATE TABLE erp.dst (id INT PRIMARY KEY, v VARCHAR(20))"

# one agent: a source and a sink on the TLS server, client certificate, verify_identity
mock_start "cdc._offsets 1" "cdc._schemas 1" "cdc.erp.cdc_test.src 2"
cat >"$tmp/agent.yaml" <<EOC
agent: {name: tls-test}
kafka: {brokers: "$boot", linger_ms: 20}
sources:
  - {name: erp, type: mysql, host: 127.0.0.1, port: $CDC_TEST_MYSQL_PORT, user: certonly,
     password_env: MYPW, server_id: $MY_SERVER_ID, tables: [cdc_test.src], snapshot: initial,
     ssl_mode: verify_identity, ssl_ca: $tls/ca.pem, ssl_cert: $tls/client.pem,
     ssl_key: $tls/client-key.pem}
sinks:
  - {name: copy, type: mysql, host: 127.0.0.1, port: $CDC_TEST_MYSQL_PORT, user: certonly,
     password_env: MYPW, database: erp, ssl_mode: verify_identity, ssl_ca: $tls/ca.pem,
     ssl_cert: $tls/client.pem, ssl_key: $tls/client-key.pem,
     routes: [{from: erp.cdc_test.src, to: erp.dst}]}
EOC
root_sql -e "INSERT INTO cdc_test.src VALUES (1, 'snapshot')"
run "$CDC_AGENT" check -c "$tmp/agent.yaml"
assert_eq 0 "$rc" "check over TLS with a client certificate"
assert_contains "$out" "source   erp (mysql 127.0.0.1:$CDC_TEST_MYSQL_PORT): ok, MariaDB 10.11" "source reached"
assert_contains "$out" ", TLS TLS_" "check names the TLS cipher"
start_agent
root_sql -e "INSERT INTO cdc_test.src VALUES (2, 'stream'); UPDATE cdc_test.src SET v = 'stream2' WHERE id = 2"
dst() { root_sql -N -e "SELECT GROUP_CONCAT(CONCAT(id, ':', v) ORDER BY id) FROM erp.dst"; }
wait_value "snapshot and stream synced over TLS" "1:snapshot,2:stream2" dst
agent_stop
assert_eq 0 "$rc" "graceful stop"
# the agent's sessions really were TLS: the account admits nothing else
assert_contains "$(root_sql -N -e "SELECT COUNT(*) FROM mysql.user WHERE user = 'certonly' AND ssl_type = 'SPECIFIED'")" 1 "account requires the client certificate"

# each mode, through check (the same connection code as run)
mode_config() { # file port user mode [extra keys]
    cat >"$1" <<EOC
agent: {name: tls-mode}
kafka: {brokers: embedded}
sources:
  - {name: erp, type: mysql, host: 127.0.0.1, port: $2, user: $3, password_env: MYPW,
     server_id: $MY_SERVER_ID, tables: [cdc_test.src], ssl_mode: $4${5:+, $5}}
EOC
}
mode_config "$tmp/m.yaml" "$CDC_TEST_MYSQL_PORT" tlsonly disabled
run "$CDC_AGENT" check -c "$tmp/m.yaml"
assert_contains "$out" "mysql 127.0.0.1:$CDC_TEST_MYSQL_PORT: Access denied for user 'tlsonly'" "disabled: no TLS, refused by a TLS-only account"
mode_config "$tmp/m.yaml" "$CDC_TEST_MYSQL_PORT" tlsonly preferred
run "$CDC_AGENT" check -c "$tmp/m.yaml"
assert_contains "$out" ", TLS TLS_" "preferred: TLS when offered"
mode_config "$tmp/m.yaml" "$CDC_TEST_MYSQL_PORT" tlsonly required
run "$CDC_AGENT" check -c "$tmp/m.yaml"
assert_contains "$out" ", TLS TLS_" "required: TLS"
mode_config "$tmp/m.yaml" "$CDC_TEST_MYSQL_PORT" tlsonly verify_ca "ssl_ca: $tls/other-ca.pem"
run "$CDC_AGENT" check -c "$tmp/m.yaml"
assert_eq 1 "$rc" "verify_ca: wrong CA refused"
assert_contains "$out" "mysql 127.0.0.1:$CDC_TEST_MYSQL_PORT: TLS/SSL error" "verify_ca: host:port and cause"
mode_config "$tmp/m.yaml" "$CDC_TEST_MYSQL_PORT" tlsonly verify_ca "ssl_ca: $tls/ca.pem"
run "$CDC_AGENT" check -c "$tmp/m.yaml"
assert_contains "$out" ", TLS TLS_" "verify_ca: right CA"
mode_config "$tmp/m.yaml" "$plain_port" cdc required
export MYPW=$plain_pw
run "$CDC_AGENT" check -c "$tmp/m.yaml"
assert_contains "$out" "mysql 127.0.0.1:$plain_port: the server offers no TLS, and ssl_mode requires it" "required: a server without TLS refused"
mode_config "$tmp/m.yaml" "$plain_port" cdc preferred
run "$CDC_AGENT" check -c "$tmp/m.yaml"
assert_contains "$out" "source   erp (mysql 127.0.0.1:$plain_port): " "preferred: server reached"
assert_not_contains "$out" "FAILED" "preferred: plain when the server offers no TLS"
assert_not_contains "$out" ", TLS " "preferred: no TLS claimed"

# the keys where they do not belong
mode_config "$tmp/m.yaml" "$plain_port" cdc verify_identity
run "$CDC_AGENT" check -c "$tmp/m.yaml"
assert_eq 2 "$rc" "verify_identity without ssl_ca: config error"
assert_contains "$out" "m.yaml:5:" "config error: line"
assert_contains "$out" "sources[0].ssl_mode: verify_identity needs ssl_ca" "config error: key and reason"
cat >"$tmp/p.yaml" <<EOC
agent: {name: tls-pg}
kafka: {brokers: embedded}
sources:
  - {name: crm, type: postgresql, conninfo: "host=127.0.0.1", tables: [public.t],
     ssl_mode: required}
EOC
run "$CDC_AGENT" check -c "$tmp/p.yaml"
assert_eq 2 "$rc" "ssl_mode on PostgreSQL: config error"
assert_contains "$out" "sources[0].ssl_mode: only for mysql; PostgreSQL takes sslmode" "PostgreSQL: use sslmode"
finish

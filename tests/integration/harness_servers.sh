#!/usr/bin/env bash
# The harness gives what the connectors need: PostgreSQL with logical WAL, MariaDB with a ROW /
# FULL / FULL binary log, and a mock Kafka helper that creates topics and takes brokers down.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/harness/assert.sh"
load_harness_env

export PGPASSWORD=$CDC_TEST_PG_PASSWORD
pgq() { psql -h 127.0.0.1 -p "$CDC_TEST_PG_PORT" -U cdc -d crm -At -c "$1"; }
assert_eq logical "$(pgq 'SHOW wal_level')" "postgres wal_level"
assert_eq t "$(pgq "SELECT rolreplication FROM pg_roles WHERE rolname = 'cdc'")" "cdc has REPLICATION"
assert_eq 15 "$(pgq 'SHOW server_version_num' | cut -c1-2)" "postgres major version"

myq() {
    mariadb --no-defaults -h 127.0.0.1 -P "$CDC_TEST_MYSQL_PORT" -u cdc -p"$CDC_TEST_MYSQL_PASSWORD" \
        -N -B -e "$1"
}
assert_eq "1	ROW	FULL	FULL	1" \
    "$(myq 'SELECT @@log_bin, @@binlog_format, @@binlog_row_image, @@binlog_row_metadata, @@server_id')" \
    "mariadb binlog settings"
assert_contains "$(myq 'SELECT VERSION()')" "10.11" "mariadb version"

# mock Kafka helper: bootstrap, commands, exit on end of input
coproc MOCK { "$CDC_MOCK_KAFKA" 3; }
read -r line <&"${MOCK[0]}"
assert_contains "$line" "bootstrap=127.0.0.1:" "mock prints bootstrap"
read -r line <&"${MOCK[0]}"
assert_eq ready "$line" "mock ready"
for cmd in "topic t.harness 8" "down 1" "up 1" "errors 0 90" "bogus"; do
    echo "$cmd" >&"${MOCK[1]}"
    read -r line <&"${MOCK[0]}"
    if [ "$cmd" = bogus ]; then
        assert_contains "$line" "error" "mock refuses unknown command"
    else
        assert_eq ok "$line" "mock: $cmd"
    fi
done
mock_pid=$MOCK_PID
exec {MOCK[1]}>&-
for i in $(seq 50); do kill -0 "$mock_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$mock_pid" 2>/dev/null; then bad "mock still running after end of input"; else ok; fi

finish

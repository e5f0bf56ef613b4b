#!/usr/bin/env bash
# Throwaway PostgreSQL 15 for tests: temp data dir, wal_level=logical, free loopback port.
#   pg.sh start DIR   starts it and writes DIR/pg.env (CDC_TEST_PG_* variables)
#   pg.sh stop DIR    stops it and removes its data
# PostgreSQL refuses to run as root, so as root it runs as the postgres user.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

cmd=${1:?usage: pg.sh start|stop DIR}
dir=${2:?usage: pg.sh start|stop DIR}
mkdir -p "$dir"
envfile=$dir/pg.env
pg_bin=$(ls -d /usr/lib/postgresql/15/bin 2>/dev/null || true)
[ -n "$pg_bin" ] || die "PostgreSQL 15 not installed (apt-get install -y postgresql-15)"

as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

stop() {
    [ -f "$envfile" ] || return 0
    . "$envfile"
    if [ -d "${CDC_TEST_PG_DATA:-}" ]; then
        as_pg "$pg_bin/pg_ctl" -D "$CDC_TEST_PG_DATA" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    [ -n "${CDC_TEST_PG_ROOT:-}" ] && rm -rf "$CDC_TEST_PG_ROOT"
    rm -f "$envfile"
}

start() {
    if [ -f "$envfile" ]; then
        . "$envfile"
        if as_pg "$pg_bin/pg_ctl" -D "$CDC_TEST_PG_DATA" status >/dev/null 2>&1; then
            return 0 # already running: reuse
        fi
        stop
    fi
    local root port pass
    root=$(mktemp -d /tmp/cdc-pg.XXXXXX)
    chmod 755 "$root"
    pass=$(random_secret)
    echo "$pass" >"$root/pw"
    [ "$(id -u)" = 0 ] && chown -R postgres: "$root"
    as_pg "$pg_bin/initdb" -D "$root/data" -U postgres --auth-local=trust \
        --auth-host=scram-sha-256 --pwfile="$root/pw" -E UTF8 --locale=C.UTF-8 \
        >"$root/initdb.log" 2>&1 || { cat "$root/initdb.log" >&2; die "initdb failed"; }
    rm -f "$root/pw"
    for attempt in 1 2 3; do
        port=$(free_port)
        if as_pg "$pg_bin/pg_ctl" -D "$root/data" -l "$root/server.log" -w -t 60 -o \
            "-p $port -k $root -c listen_addresses=127.0.0.1 -c wal_level=logical \
             -c max_replication_slots=64 -c max_wal_senders=32 -c fsync=off \
             -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=64MB" \
            start >/dev/null 2>&1; then
            break
        fi
        port=
    done
    [ -n "$port" ] || { cat "$root/server.log" >&2; die "postgres did not start"; }
    as_pg "$pg_bin/psql" -h "$root" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q \
        -c "CREATE ROLE cdc LOGIN SUPERUSER REPLICATION PASSWORD '$pass'" \
        -c "CREATE DATABASE crm OWNER cdc" -c "CREATE DATABASE cdc_test OWNER cdc" \
        >/dev/null || die "postgres setup failed"
    cat >"$envfile" <<EOV
CDC_TEST_PG_ROOT=$root
CDC_TEST_PG_DATA=$root/data
CDC_TEST_PG_HOST=127.0.0.1
CDC_TEST_PG_PORT=$port
CDC_TEST_PG_USER=cdc
CDC_TEST_PG_PASSWORD=$pass
CDC_TEST_PG_SOCKET=$root
EOV
    echo "postgres ready on 127.0.0.1:$port (data $root/data)"
}

case $cmd in
start) start ;;
stop) stop ;;
*) die "usage: pg.sh start|stop DIR" ;;
esac

#!/usr/bin/env bash
# Throwaway MariaDB 10.11 for tests: temp data dir, binary log in ROW format with FULL row image
# and metadata, server_id 1, free loopback port.
#   mariadb.sh start DIR   starts it and writes DIR/mariadb.env (CDC_TEST_MYSQL_* variables)
#   mariadb.sh stop DIR    stops it and removes its data
# With CDC_MYSQL_TLS=1 at start it also serves TLS, with a throwaway CA and certificates in its
# root (CDC_TEST_MYSQL_TLS_DIR: ca.pem, client.pem, client-key.pem, other-ca.pem).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

cmd=${1:?usage: mariadb.sh start|stop DIR}
dir=${2:?usage: mariadb.sh start|stop DIR}
mkdir -p "$dir"
envfile=$dir/mariadb.env
command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] ||
    die "MariaDB not installed (apt-get install -y mariadb-server)"
mariadbd=$(command -v mariadbd || echo /usr/sbin/mariadbd)

stop() {
    [ -f "$envfile" ] || return 0
    . "$envfile"
    local pid
    pid=$(cat "$CDC_TEST_MYSQL_ROOT/pid" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        wait_for "! kill -0 $pid" 30 || kill -9 "$pid" 2>/dev/null || true
    fi
    [ -n "${CDC_TEST_MYSQL_ROOT:-}" ] && rm -rf "$CDC_TEST_MYSQL_ROOT"
    rm -f "$envfile"
}

# A throwaway CA in ROOT/tls signing a server certificate for 127.0.0.1 and localhost and a
# client certificate, and a second CA that signed neither (for refusals).
make_tls() { # root
    local d=$1/tls
    mkdir -p "$d"
    (
        cd "$d"
        openssl req -x509 -newkey rsa:2048 -nodes -days 3 -subj "/CN=cdc test CA" -keyout ca-key.pem -out ca.pem
        openssl req -x509 -newkey rsa:2048 -nodes -days 3 -subj "/CN=other CA" -keyout other-key.pem -out other-ca.pem
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >server.ext
        openssl req -newkey rsa:2048 -nodes -subj "/CN=cdc test server" -keyout server-key.pem -out server.csr
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 3 -extfile server.ext -out server.pem
        openssl req -newkey rsa:2048 -nodes -subj "/CN=cdc test client" -keyout client-key.pem -out client.csr
        openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 3 -out client.pem
    ) >"$1/tls.log" 2>&1 || { cat "$1/tls.log" >&2; die "openssl failed"; }
}

# Starts the server on its data dir with the given port (used again by restart tests); with TLS
# when ROOT/tls holds certificates.
launch() {
    local root=$1 port=$2 tls=()
    mkdir -p "$root/tmp" # its own temp dir: servers side by side never touch each other's files
    [ -f "$root/tls/server.pem" ] &&
        tls=(--ssl-ca="$root/tls/ca.pem" --ssl-cert="$root/tls/server.pem" --ssl-key="$root/tls/server-key.pem")
    setsid "$mariadbd" --no-defaults "${tls[@]}" --user=root --datadir="$root/data" --tmpdir="$root/tmp" \
        --socket="$root/sock" \
        --port="$port" --bind-address=127.0.0.1 --pid-file="$root/pid" \
        --log-error="$root/error.log" --log-bin="$root/data/binlog" --binlog-format=ROW \
        --binlog-row-image=FULL --binlog-row-metadata=FULL --server-id=1 \
        --innodb-buffer-pool-size=64M --innodb-flush-log-at-trx-commit=2 --skip-name-resolve \
        --max-connections=200 </dev/null >/dev/null 2>&1 &
    wait_for "mariadb-admin --no-defaults -uroot -S '$root/sock' ping" 60
}

start() {
    if [ -f "$envfile" ]; then
        . "$envfile"
        if mariadb-admin --no-defaults -uroot -S "$CDC_TEST_MYSQL_ROOT/sock" ping >/dev/null 2>&1; then
            return 0 # already running: reuse
        fi
        stop
    fi
    local root port pass
    root=$(mktemp -d /tmp/cdc-mariadb.XXXXXX)
    pass=$(random_secret)
    mkdir -p "$root/tmp"
    [ -n "${CDC_MYSQL_TLS:-}" ] && make_tls "$root"
    mariadb-install-db --no-defaults --user=root --datadir="$root/data" --tmpdir="$root/tmp" \
        --auth-root-authentication-method=normal --skip-test-db >"$root/install.log" 2>&1 ||
        { cat "$root/install.log" >&2; die "mariadb-install-db failed"; }
    for attempt in 1 2 3; do
        port=$(free_port)
        if launch "$root" "$port"; then break; fi
        port=
    done
    [ -n "$port" ] || { cat "$root/error.log" >&2; die "mariadb did not start"; }
    mariadb --no-defaults -uroot -S "$root/sock" -e "
        CREATE USER cdc@'%' IDENTIFIED BY '$pass';
        GRANT ALL PRIVILEGES ON *.* TO cdc@'%' WITH GRANT OPTION;
        CREATE DATABASE erp; CREATE DATABASE cdc_test;" || die "mariadb setup failed"
    cat >"$envfile" <<EOV
CDC_TEST_MYSQL_ROOT=$root
CDC_TEST_MYSQL_HOST=127.0.0.1
CDC_TEST_MYSQL_PORT=$port
CDC_TEST_MYSQL_USER=cdc
CDC_TEST_MYSQL_PASSWORD=$pass
CDC_TEST_MYSQL_SOCKET=$root/sock
CDC_TEST_MYSQL_TLS_DIR=$([ -f "$root/tls/server.pem" ] && echo "$root/tls")
EOV
    echo "mariadb ready on 127.0.0.1:$port (data $root/data)"
}

case $cmd in
start) start ;;
stop) stop ;;
launch) launch "$3" "$4" ;;
*) die "usage: mariadb.sh start|stop DIR" ;;
esac

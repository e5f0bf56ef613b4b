#!/usr/bin/env bash
# Starts or stops every server the integration tests need (PostgreSQL and MariaDB) under DIR, and
# writes DIR/env with all their variables. ctest runs this as its setup and cleanup fixture.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cmd=${1:?usage: servers.sh start|stop DIR}
dir=${2:?usage: servers.sh start|stop DIR}
mkdir -p "$dir"
case $cmd in
start)
    "$here/pg.sh" start "$dir"
    "$here/mariadb.sh" start "$dir"
    cat "$dir/pg.env" "$dir/mariadb.env" >"$dir/env"
    ;;
stop)
    "$here/pg.sh" stop "$dir" || true
    "$here/mariadb.sh" stop "$dir" || true
    rm -f "$dir/env"
    ;;
*) echo "usage: servers.sh start|stop DIR" >&2; exit 2 ;;
esac

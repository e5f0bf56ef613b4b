#!/usr/bin/env bash
# End to end, both directions at once in one agent: a PostgreSQL table synced into MariaDB and a
# MariaDB table synced into PostgreSQL, through 8-partition topics with lz4, while each side
# takes 200k+ mixed changes (bulk and one-row transactions, inserts, updates, deletes, key
# changes). The agent is killed with SIGKILL at 13 moments and each target database crashes
# (MariaDB SIGKILL, PostgreSQL immediate shutdown) while batches are being applied. Afterwards
# every target table equals its source (checksum; rows that differ are printed) and the
# dead-letter topics are empty. The targets are private server instances, so crashing them does
# not disturb other tests.
. "$(dirname "$0")/../harness/agent_test.sh"
trap '"$here/harness/pg.sh" stop "$tmp/tpg" >/dev/null 2>&1 || true
      "$here/harness/mariadb.sh" stop "$tmp/tmy" >/dev/null 2>&1 || true
      cleanup_tmp' EXIT
"$here/harness/pg.sh" start "$tmp/tpg" >/dev/null
"$here/harness/mariadb.sh" start "$tmp/tmy" >/dev/null
tpg_env() { (. "$tmp/tpg/pg.env" && echo "$1"); }
tpg_port=$(. "$tmp/tpg/pg.env" && echo "$CDC_TEST_PG_PORT")
tpg_pw=$(. "$tmp/tpg/pg.env" && echo "$CDC_TEST_PG_PASSWORD")
tmy_port=$(. "$tmp/tmy/mariadb.env" && echo "$CDC_TEST_MYSQL_PORT")
tmy_root=$(. "$tmp/tmy/mariadb.env" && echo "$CDC_TEST_MYSQL_ROOT")
export TPGPW=$tpg_pw TMYPW=$(. "$tmp/tmy/mariadb.env" && echo "$CDC_TEST_MYSQL_PASSWORD")
tpg() { PGPASSWORD=$TPGPW psql -q -h 127.0.0.1 -p "$tpg_port" -U cdc -d "${TDB:-bulk}" -v ON_ERROR_STOP=1 "$@"; }
tmy() { mariadb --no-defaults -h 127.0.0.1 -P "$tmy_port" -u cdc -p"$TMYPW" bulk "$@"; }

TDB=postgres tpg -c "CREATE DATABASE bulk" >/dev/null
tpg -c "CREATE TABLE bigmy (id int PRIMARY KEY, name text, v int, amount numeric(12,2), ts timestamp)" >/dev/null
mariadb --no-defaults -h 127.0.0.1 -P "$tmy_port" -u cdc -p"$TMYPW" -e "CREATE DATABASE bulk"
tmy -e "CREATE TABLE bigsrc (id INT PRIMARY KEY, name VARCHAR(100), v INT, amount DECIMAL(12,2), ts DATETIME(6))"
pg_reset bigsrc bigsrc
pg -c "CREATE TABLE bigsrc (id int PRIMARY KEY, name text, v int, amount numeric(12,2), ts timestamptz)" >/dev/null
my -e "DROP TABLE IF EXISTS bigmy;
       CREATE TABLE bigmy (id INT PRIMARY KEY, name VARCHAR(100), v INT, amount DECIMAL(12,2), ts DATETIME(6))"

mock_start "cdc._offsets 1" "cdc._schemas 1" "cdc.crm.public.bigsrc 8" "cdc.erp.cdc_test.bigmy 8" \
    "cdc._dlq.toerp 1" "cdc._dlq.tocrm 1"
cat >"$tmp/agent.yaml" <<EOC
agent: {name: bulk-test}
kafka: {brokers: "$boot", linger_ms: 20, compression: lz4}
sources:
  - {name: crm, type: postgresql, conninfo: "host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=cdc_test user=cdc",
     password_env: PGPASSWORD, tables: [public.bigsrc], slot: bigsrc, publication: bigsrc, heartbeat_ms: 1000}
  - {name: erp, type: mysql, host: 127.0.0.1, port: $CDC_TEST_MYSQL_PORT, user: cdc, password_env: MYPW,
     database: cdc_test, server_id: $MY_SERVER_ID, tables: [cdc_test.bigmy], heartbeat_ms: 1000}
sinks:
  - {name: toerp, type: mysql, host: 127.0.0.1, port: $tmy_port, user: cdc, password_env: TMYPW,
     database: bulk, batch_size: 1000, batch_ms: 50, routes: [{from: crm.public.bigsrc, to: bulk.bigsrc}]}
  - {name: tocrm, type: postgresql, conninfo: "host=127.0.0.1 port=$tpg_port dbname=bulk user=cdc",
     password_env: TPGPW, batch_size: 1000, batch_ms: 50, routes: [{from: erp.cdc_test.bigmy, to: public.bigmy}]}
EOC

# both tables as "id|name|v|amount|ts" lines, by id
src_pg() { pg -Atc "SELECT format('%s|%s|%s|%s|%s', id, name, v, amount,
             to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')) FROM bigsrc ORDER BY id"; }
dst_my() { tmy -N -e "SELECT CONCAT_WS('|', id, name, v, amount, DATE_FORMAT(ts, '%Y-%m-%d %H:%i:%s.%f'))
             FROM bigsrc ORDER BY id"; }
src_my() { my -N -e "SELECT CONCAT_WS('|', id, name, v, amount, DATE_FORMAT(ts, '%Y-%m-%d %H:%i:%s.%f'))
             FROM bigmy ORDER BY id"; }
dst_pg() { tpg -Atc "SELECT format('%s|%s|%s|%s|%s', id, name, v, amount,
             to_char(ts, 'YYYY-MM-DD HH24:MI:SS.US')) FROM bigmy ORDER BY id"; }
wait_same() { # what source-fn target-fn topic
    local i a b
    for i in $(seq 1 "${WAIT_S:-300}"); do
        a=$("$2" | md5sum) b=$("$3" | md5sum 2>/dev/null || true)
        [ "$a" = "$b" ] && break
        sleep 1
    done
    if [ "$a" = "$b" ]; then
        ok
    else
        bad "$1: target differs from source; first rows that differ (< source, > target):"
        diff <("$2") <("$3") | head -20 >&2 || true
        local id # what the topic holds for the first keys that differ
        for id in $(diff <("$2") <("$3") | sed -n 's/^[<>] \([0-9]*\)|.*/\1/p' | head -3); do
            "$CDC_TOPIC_DUMP" "$boot" "$4" | grep "{\"id\":$id}" | cut -c1-400 >&2 || true
        done
        # kept for a look: the agent's log and the diff
        cp "$tmp/agent.log" "/tmp/sink_bulk_failed.$$.log"
        diff <("$2") <("$3") >"/tmp/sink_bulk_failed.$$.diff" || true
        echo "# the agent's log and the diff kept in /tmp/sink_bulk_failed.$$.*" >&2
    fi
}
kill_agent() {
    kill -9 "$agent_pid"
    wait "$agent_pid" 2>/dev/null || true
    start_agent
}

# the workload: ~212k changes per side
pg_steps=(
    "INSERT INTO bigsrc SELECT g, 'n' || g, 0, g * 0.01, '2026-11-25 12:00:00.5+00'::timestamptz + g * interval '1 s' FROM generate_series(1, 80000) g"
    "UPDATE bigsrc SET v = v + 1, name = name || 'u' WHERE id % 2 = 0"
    "UPDATE bigsrc SET amount = amount + 1 WHERE id % 3 = 0"
    "DELETE FROM bigsrc WHERE id % 5 = 0"
    "DO \$\$ BEGIN FOR i IN 0..19 LOOP INSERT INTO bigsrc SELECT g, 'm' || g, 1, 0.5, now() FROM generate_series(80001 + i * 1000, 81000 + i * 1000) g; COMMIT; END LOOP; END \$\$"
    "UPDATE bigsrc SET id = id + 1000000 WHERE id % 11 = 0"
    "UPDATE bigsrc SET v = v + 10 WHERE id % 4 = 1"
)
my_steps=(
    "INSERT INTO bigmy SELECT seq, CONCAT('n', seq), 0, seq * 0.01, TIMESTAMP'2026-11-25 12:00:00.5' + INTERVAL seq SECOND FROM seq_1_to_80000"
    "UPDATE bigmy SET v = v + 1, name = CONCAT(name, 'u') WHERE id % 2 = 0"
    "UPDATE bigmy SET amount = amount + 1 WHERE id % 3 = 0"
    "DELETE FROM bigmy WHERE id % 5 = 0"
    "INSERT INTO bigmy SELECT seq, CONCAT('m', seq), 1, 0.5, NOW(6) FROM seq_80001_to_100000"
    "UPDATE bigmy SET id = id + 1000000 WHERE id % 11 = 0"
    "UPDATE bigmy SET v = v + 10 WHERE id % 4 = 1"
)
for i in $(seq 1 2000); do echo "UPDATE bigsrc SET v = v + 1 WHERE id = $((i * 37 % 100000));"; done >"$tmp/pg1.sql"
for i in $(seq 1 2000); do echo "UPDATE bigmy SET v = v + 1 WHERE id = $((i * 37 % 100000));"; done >"$tmp/my1.sql"

start_agent
for i in "${!pg_steps[@]}"; do
    pg -c "${pg_steps[$i]}" >/dev/null &
    p1=$!
    my -e "${my_steps[$i]}" &
    p2=$!
    sleep "0.$((RANDOM % 6 + 2))"
    kill_agent
    wait "$p1" "$p2"
    sleep "0.$((RANDOM % 8 + 2))"
    case $i in
    2) # MariaDB target crashes while batches are applied
        kill -9 "$(cat "$tmy_root/pid")"
        sleep 1
        "$here/harness/mariadb.sh" launch "$tmp/tmy" "$tmy_root" "$tmy_port" >/dev/null ;;
    4) # PostgreSQL target: immediate shutdown (no checkpoint, crash recovery at start)
        pgd=$(. "$tmp/tpg/pg.env" && echo "$CDC_TEST_PG_DATA")
        runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$pgd" -m immediate -w stop >/dev/null
        sleep 1
        runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$pgd" -l "$pgd/../server.log" -w -t 60 \
            -o "-p $tpg_port -k $(dirname "$pgd") -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null ;;
    *) kill_agent ;;
    esac
done
psql -q -h 127.0.0.1 -p "$CDC_TEST_PG_PORT" -U cdc -d cdc_test -f "$tmp/pg1.sql" >/dev/null &
p1=$!
my <"$tmp/my1.sql" &
p2=$!
sleep 0.5
kill_agent
wait "$p1" "$p2"
changes_pg=$(pg -Atc "SELECT n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables WHERE relname = 'bigsrc'")
[ "$changes_pg" -ge 200000 ] && ok || bad "PostgreSQL source took 200k+ changes (got $changes_pg)"

wait_same "PostgreSQL -> MariaDB" src_pg dst_my cdc.crm.public.bigsrc
wait_same "MariaDB -> PostgreSQL" src_my dst_pg cdc.erp.cdc_test.bigmy
assert_eq "$(src_pg | wc -l)" "$(dst_my | wc -l)" "PostgreSQL -> MariaDB row count"
agent_stop
assert_eq 0 "$rc" "graceful stop"
log=$(grep -v facility= "$tmp/agent.log")
assert_not_contains "$log" "stopped: " "no source or sink failed"
assert_contains "$log" "sink=toerp mysql" "the MariaDB crash was seen by the sink"
assert_eq 0 "$("$CDC_TOPIC_DUMP" "$boot" cdc._dlq.toerp | wc -l)" "toerp: DLQ empty"
assert_eq 0 "$("$CDC_TOPIC_DUMP" "$boot" cdc._dlq.tocrm | wc -l)" "tocrm: DLQ empty"
finish

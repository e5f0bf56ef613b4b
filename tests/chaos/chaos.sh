#!/usr/bin/env bash
# The chaos runner: two sidecar agents sync both ways at once (agent crm: the PostgreSQL source
# and a sink into PostgreSQL; agent erp: the MariaDB source and a sink into MariaDB) on servers of
# its own (PostgreSQL, MariaDB and an Apache Kafka broker in KRaft mode, started here in temp dirs,
# so killing them disturbs no other test), under a steady workload on both databases, while it
# injects FAULTS faults one after another: every kind once in random order, then kinds picked at
# random (seed CDC_CHAOS_SEED):
#   agent_kill    kill -9 of an agent, started again
#   agent_freeze  SIGSTOP of an agent for a while (past its Kafka and database timeouts in long
#                 runs), then SIGCONT
#   agent_twin    a second instance of an agent started on the same config (slot, transactional
#                 ids, sink locks): it replaces the first, which must stop by itself
#   pg_freeze, my_freeze, kafka_freeze
#                 every process of a server stopped (SIGSTOP) for a while: to its clients a
#                 half-open connection, as a network partition leaves it
#   pg_kill, my_kill, kafka_kill
#                 kill -9 of a server, started again on its data (crash recovery)
#   target_lock   a target table locked (a slow target) for a while
#   target_drift  a column of a target table dropped, then added back and the sink restarted
#                 through the admin API (the route stops meanwhile, visibly)
#   target_retype a column of a target table widened and back (BIGINT, then INT)
#   target_disk_full  the file system of a target table (a small tmpfs: a PostgreSQL tablespace,
#                 a MariaDB DATA DIRECTORY) filled up for a while, then freed
#   kafka_disk_full   the broker's log dir (a tmpfs) filled up for a while, then freed, and the
#                 broker started again if its failed log dir stopped it
# Afterwards, with every fault healed and the workload stopped: both targets equal their sources,
# both topics hold every change exactly once and in order per key (tests/harness/verify_chain.c),
# no sink's re-send guard skipped anything, every agent stops gracefully, and each agent's peak
# RSS (sampled every second) stayed under CDC_CHAOS_RSS_MB (default 300; not checked under ASan).
#   tests/chaos/chaos.sh [FAULTS]      (FAULTS: default CDC_CHAOS_FAULTS, else 14: each kind once)
# Environment: CDC_AGENT, CDC_VERIFY_CHAIN (ctest sets them); CDC_CHAOS_KINDS: the faults to pick
# from (default all, space-separated); CDC_CHAOS_AGENT_EXTRA: more agent keys (", log_level:
# debug"); CDC_CHAOS_HOLD_S: the longest a
# freeze or lock lasts (default 8; a long run by hand: 90, past the 60 s timeouts);
# CDC_KEEP_TMP=1 keeps the work dir.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/harness/assert.sh"
. "$here/harness/lib.sh"
faults=${1:-${CDC_CHAOS_FAULTS:-14}}
hold_s=${CDC_CHAOS_HOLD_S:-8}
rss_mb=${CDC_CHAOS_RSS_MB:-300}
RANDOM=${CDC_CHAOS_SEED:-$$}
tmp=$(mktemp -d)
declare -A pid=([crm]=0 [erp]=0) port=() peak=([crm]=0 [erp]=0) count=()
disks=()
cleanup() {
    touch "$tmp/stop"
    for p in $(pgrep -f "$tmp/" || true) $(pg_group 2>/dev/null) $(cat "${CDC_TEST_MYSQL_ROOT:-/nonexistent}/pid" \
        "${CDC_TEST_KAFKA_ROOT:-/nonexistent}/pid" 2>/dev/null); do kill -CONT "$p" 2>/dev/null || true; done
    for a in crm erp; do [ "${pid[$a]}" != 0 ] && kill -9 "${pid[$a]}" 2>/dev/null || true; done
    for p in $(pgrep -f "$tmp/twin" || true); do kill -9 "$p" 2>/dev/null || true; done
    jobs -p | xargs -r kill 2>/dev/null || true
    if [ "${failed:-0}" -gt 0 ]; then
        for a in crm erp; do
            echo "--- last lines of agent $a:"
            grep -v -e ' debug ' -e facility= "$tmp/$a.log" 2>/dev/null | tail -15
        done
    fi >&2
    "$here/harness/kafka.sh" stop "$tmp/kafka" >/dev/null 2>&1 || true
    "$here/harness/pg.sh" stop "$tmp/db" >/dev/null 2>&1 || true
    "$here/harness/mariadb.sh" stop "$tmp/db" >/dev/null 2>&1 || true
    for d in "${disks[@]}" ${kdisk:-}; do umount "$d" 2>/dev/null || true; done
    [ -n "${CDC_KEEP_TMP:-}" ] && echo "# kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT
trap "exit 1" TERM INT

# ---- servers of its own ----
"$here/harness/pg.sh" start "$tmp/db" >/dev/null
"$here/harness/mariadb.sh" start "$tmp/db" >/dev/null
# the broker's log on a file system of its own (kafka_disk_full fills it)
kdisk=
mkdir -p "$tmp/kdisk"
if mount -t tmpfs -o size=512m tmpfs "$tmp/kdisk" 2>/dev/null; then
    kdisk=$tmp/kdisk
    export CDC_KAFKA_PROPS="log.dirs=$kdisk/data"
fi
CDC_KAFKA_OWNER_PID=$$ "$here/harness/kafka.sh" start "$tmp/kafka" >/dev/null
set -a
. "$tmp/db/pg.env"
. "$tmp/db/mariadb.env"
. "$tmp/kafka/kafka.env"
set +a
boot=$CDC_TEST_KAFKA_BOOTSTRAP
export PGPASSWORD=$CDC_TEST_PG_PASSWORD MYPW=$CDC_TEST_MYSQL_PASSWORD API_TOKEN=chaos-runner-token
pg() { psql -q -h 127.0.0.1 -p "$CDC_TEST_PG_PORT" -U cdc -d cdc_test -v ON_ERROR_STOP=1 "$@"; }
my() { mariadb --no-defaults -h 127.0.0.1 -P "$CDC_TEST_MYSQL_PORT" -u cdc -p"$MYPW" cdc_test "$@"; }
# the targets' tables on small file systems of their own (a tmpfs each, when this may mount one:
# target_disk_full fills them)
disks=()
chmod 755 "$tmp" # PostgreSQL (its own user) reaches its tablespace inside
for d in pgdisk mydisk; do
    mkdir -p "$tmp/$d"
    mount -t tmpfs -o size=48m tmpfs "$tmp/$d" 2>/dev/null && disks+=("$tmp/$d") || true
done
chown postgres: "$tmp/pgdisk" 2>/dev/null || true
pg -c "CREATE TABLESPACE chaos_target LOCATION '$tmp/pgdisk'" >/dev/null
pg -c "CREATE TABLE chaos (id int PRIMARY KEY, v int NOT NULL, pad text);
       CREATE TABLE from_erp (id int PRIMARY KEY, v int NOT NULL, pad text) TABLESPACE chaos_target" >/dev/null
my -e "CREATE TABLE mchaos (id INT PRIMARY KEY, v INT NOT NULL, pad TEXT);
       CREATE TABLE from_crm (id INT PRIMARY KEY, v INT NOT NULL, pad TEXT) DATA DIRECTORY = '$tmp/mydisk'"
for t in "cdc._offsets 1" "cdc._schemas 1" "cdc.crm.public.chaos 4" \
    "cdc.erp.cdc_test.mchaos 4" "cdc._dlq.tocrm 1" "cdc._dlq.toerp 1"; do
    # shellcheck disable=SC2086
    "$CDC_KAFKA_ADMIN" "$boot" recreate $t >/dev/null || bad "create topic $t"
done

# ---- the agents ----
port[crm]=$(free_port)
port[erp]=$(free_port)
while [ "${port[erp]}" = "${port[crm]}" ]; do port[erp]=$(free_port); done
pg_conn="conninfo: \"host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=cdc_test user=cdc\", password_env: PGPASSWORD"
my_conn="host: 127.0.0.1, port: $CDC_TEST_MYSQL_PORT, user: cdc, password_env: MYPW, database: cdc_test"
agent_head() { # agent
    printf 'agent: {name: %s, http: "127.0.0.1:${CDC_HTTP_PORT}", api: {token_env: API_TOKEN}, memory_mb: 16%s}\n' \
        "$1" "${CDC_CHAOS_AGENT_EXTRA:-}"
    printf 'kafka: {brokers: "%s", linger_ms: 20}\n' "$boot"
}
{
    agent_head crm
    echo "sources: [{name: crm, type: postgresql, $pg_conn, tables: [public.chaos], slot: chaos, publication: chaos, heartbeat_ms: 1000}]"
    echo "sinks: [{name: tocrm, type: postgresql, $pg_conn, batch_ms: 20, routes: [{from: erp.cdc_test.mchaos, to: public.from_erp}]}]"
} >"$tmp/crm.yaml"
{
    agent_head erp
    echo "sources: [{name: erp, type: mysql, $my_conn, server_id: 4242, tables: [cdc_test.mchaos], snapshot: never, heartbeat_ms: 1000}]"
    echo "sinks: [{name: toerp, type: mysql, $my_conn, batch_ms: 20, routes: [{from: crm.public.chaos, to: cdc_test.from_crm}]}]"
} >"$tmp/erp.yaml"
start() { # agent
    CDC_HTTP_PORT=${port[$1]} "$CDC_AGENT" run -c "$tmp/$1.yaml" >>"$tmp/$1.log" 2>&1 &
    pid[$1]=$!
}
api() { # agent method path
    curl -s -m 5 -o /dev/null -w '%{http_code}' -X "$2" -H "Authorization: Bearer $API_TOKEN" \
        "http://127.0.0.1:${port[$1]}$3" || true
}
ready() { # agent: /readyz answers 200
    [ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:${port[$1]}/readyz" || true)" = 200 ]
}
wait_ready() { # agent seconds
    local i
    for i in $(seq 1 $(($2 * 10))); do ready "$1" && return 0; sleep 0.1; done
    return 1
}
start crm
start erp
wait_ready crm 60 && ok || bad "agent crm ready"
wait_ready erp 60 && ok || bad "agent erp ready"

# ---- the workload: upserts (v = 1, then v + 1) and deletes on both sides until $tmp/stop;
# a client that loses its server starts again ----
cat >"$tmp/pg.sql" <<'EOS'
\set id random(1, 3000)
\set op random(1, 10)
\if :op <= 8
INSERT INTO chaos VALUES (:id, 1, 'w') ON CONFLICT (id) DO UPDATE SET v = chaos.v + 1;
\else
DELETE FROM chaos WHERE id = :id;
\endif
EOS
(
    while [ ! -e "$tmp/stop" ]; do
        pgbench -n -h 127.0.0.1 -p "$CDC_TEST_PG_PORT" -U cdc -c 2 -j 1 -R 100 -T 100000 \
            -f "$tmp/pg.sql" cdc_test >>"$tmp/pgbench.log" 2>&1 || sleep 1
    done
) &
(
    while [ ! -e "$tmp/stop" ]; do
        while [ ! -e "$tmp/stop" ]; do
            id=$((RANDOM % 3000 + 1))
            if [ $((RANDOM % 10)) -lt 8 ]; then
                echo "INSERT INTO mchaos VALUES ($id, 1, 'w') ON DUPLICATE KEY UPDATE v = v + 1;"
            else
                echo "DELETE FROM mchaos WHERE id = $id;"
            fi
            sleep 0.01
        done | my 2>>"$tmp/my_writer.log" || sleep 1
    done
) &
# each agent's RSS, every second
(
    while [ ! -e "$tmp/stop" ]; do
        for a in crm erp; do
            p=$(cat "$tmp/$a.pid" 2>/dev/null || true)
            [ -n "$p" ] && awk -v a="$a" '/^VmRSS/ { print a, $2 }' "/proc/$p/status" 2>/dev/null || true
        done
        sleep 1
    done >>"$tmp/rss"
) &
note_pids() { for a in crm erp; do echo "${pid[$a]}" >"$tmp/$a.pid"; done; }
note_pids

# ---- the faults ----
hold() { sleep "$((RANDOM % hold_s + 1)).$((RANDOM % 10))"; }
# PostgreSQL's processes are the postmaster and its children
pg_group() {
    local pm
    pm=$(head -1 "$CDC_TEST_PG_DATA/postmaster.pid" 2>/dev/null || true)
    [ -n "$pm" ] || return 0
    echo "$pm"
    pgrep -P "$pm" || true
}
freeze() { # pids...
    kill -STOP "$@" 2>/dev/null || true
    hold
    kill -CONT "$@" 2>/dev/null || true
}
# Waits until the processes are gone (or zombies nobody reaps: a container's init may not).
gone() { # pids...
    local p i
    for p in "$@"; do
        for i in $(seq 1 100); do
            [ -e "/proc/$p" ] && [ "$(awk '{ print $3 }' "/proc/$p/stat" 2>/dev/null)" != Z ] || break
            sleep 0.1
        done
    done
}
# After kill -9 of every process of the server (gone: dead, or zombies not reaped yet, which would
# make its lock file look taken).
pg_restart() {
    local opts
    opts=$(sed 's/^[^ ]* //; s/"-D" "[^"]*" //g' "$CDC_TEST_PG_DATA/postmaster.opts")
    local i
    for i in $(seq 1 20); do
        rm -f "$CDC_TEST_PG_DATA/postmaster.pid"
        runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$CDC_TEST_PG_DATA" \
            -l "$CDC_TEST_PG_ROOT/server.log" -w -t 60 -o "$opts" start >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    grep -E "FATAL|PANIC|ERROR" "$CDC_TEST_PG_ROOT/server.log" | tail -5 >&2
    return 1
}
other_side() { [ "$1" = crm ] && echo erp || echo crm; }
fault() { # name
    local a=$1 side t
    case $1 in
    agent_kill)
        a=$([ $((RANDOM % 2)) = 0 ] && echo crm || echo erp)
        kill -9 "${pid[$a]}"
        wait "${pid[$a]}" 2>/dev/null || true
        sleep "0.$((RANDOM % 10))"
        start "$a" ;;
    agent_freeze)
        a=$([ $((RANDOM % 2)) = 0 ] && echo crm || echo erp)
        freeze "${pid[$a]}" ;;
    agent_twin)
        a=$([ $((RANDOM % 2)) = 0 ] && echo crm || echo erp)
        local old=${pid[$a]} i
        port[$a]=$(free_port) # its own admin API; the first one's goes away with it
        start "$a"
        # the first one learns it was fenced at its next Kafka transaction (a heartbeat at most)
        for i in $(seq 1 300); do kill -0 "$old" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$old" 2>/dev/null; then
            bad "agent_twin: the replaced instance of $a still runs after 30 s"
            kill -9 "$old"
        fi
        wait "$old" 2>/dev/null || true ;;
    pg_freeze) freeze $(pg_group) ;;
    my_freeze) freeze "$(cat "$CDC_TEST_MYSQL_ROOT/pid")" ;;
    kafka_freeze) freeze "$(cat "$CDC_TEST_KAFKA_ROOT/pid")" ;;
    pg_kill)
        t=$(pg_group)
        kill -9 $t 2>/dev/null || true
        gone $t
        sleep "$((RANDOM % 3)).$((RANDOM % 10))"
        pg_restart || bad "pg_kill: PostgreSQL started again" ;;
    my_kill)
        t=$(cat "$CDC_TEST_MYSQL_ROOT/pid")
        kill -9 "$t" 2>/dev/null || true
        gone "$t"
        sleep "$((RANDOM % 3)).$((RANDOM % 10))"
        "$here/harness/mariadb.sh" launch "$tmp/db" "$CDC_TEST_MYSQL_ROOT" "$CDC_TEST_MYSQL_PORT" >/dev/null ||
            bad "my_kill: MariaDB started again" ;;
    kafka_kill)
        "$here/harness/kafka.sh" kill "$tmp/kafka" >/dev/null
        sleep "$((RANDOM % 4)).$((RANDOM % 10))"
        "$here/harness/kafka.sh" restart "$tmp/kafka" >/dev/null || bad "kafka_kill: the broker started again" ;;
    target_lock)
        if [ $((RANDOM % 2)) = 0 ]; then
            t=$((RANDOM % hold_s + 1))
            pg -c "BEGIN; LOCK TABLE from_erp IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep($t); COMMIT" >/dev/null 2>&1 || true
        else
            t=$((RANDOM % hold_s + 1))
            my -e "LOCK TABLES from_crm WRITE; SELECT SLEEP($t); UNLOCK TABLES" >/dev/null 2>&1 || true
        fi ;;
    target_drift)
        if [ $((RANDOM % 2)) = 0 ]; then
            side=crm
            pg -c "ALTER TABLE from_erp DROP COLUMN pad" >/dev/null 2>&1 || true
            sleep "$((RANDOM % 4 + 1))"
            pg -c "ALTER TABLE from_erp ADD COLUMN pad text" >/dev/null 2>&1 || true
            api crm POST /v1/sinks/tocrm/restart >/dev/null
        else
            side=erp
            my -e "ALTER TABLE from_crm DROP COLUMN pad" 2>/dev/null || true
            sleep "$((RANDOM % 4 + 1))"
            my -e "ALTER TABLE from_crm ADD COLUMN pad TEXT" 2>/dev/null || true
            api erp POST /v1/sinks/toerp/restart >/dev/null
        fi ;;
    target_disk_full)
        # a target's file system full (a filler file takes what is left), then freed
        [ ${#disks[@]} -gt 0 ] || return 0 # no tmpfs here (not root): nothing to fill
        side=${disks[$((RANDOM % ${#disks[@]}))]}
        dd if=/dev/zero of="$side/filler" bs=1M 2>/dev/null || true
        hold
        rm -f "$side/filler" ;;
    kafka_disk_full)
        # the broker's log dir full: produce requests fail, and a broker whose only log dir
        # failed shuts down; once there is room it is started again on its log if it stopped
        [ -n "$kdisk" ] || return 0
        dd if=/dev/zero of="$kdisk/filler" bs=1M 2>/dev/null || true
        hold
        rm -f "$kdisk/filler"
        t=$(cat "$CDC_TEST_KAFKA_ROOT/pid")
        if ! kill -0 "$t" 2>/dev/null || [ "$(awk '{ print $3 }' "/proc/$t/stat" 2>/dev/null)" = Z ]; then
            "$here/harness/kafka.sh" restart "$tmp/kafka" >/dev/null || bad "kafka_disk_full: the broker started again"
        fi ;;
    target_retype)
        pg -c "ALTER TABLE from_erp ALTER COLUMN v TYPE bigint" >/dev/null 2>&1 || true
        my -e "ALTER TABLE from_crm MODIFY v BIGINT NOT NULL" 2>/dev/null || true
        hold
        pg -c "ALTER TABLE from_erp ALTER COLUMN v TYPE int" >/dev/null 2>&1 || true
        my -e "ALTER TABLE from_crm MODIFY v INT NOT NULL" 2>/dev/null || true ;;
    esac
    note_pids
}
kinds=(agent_kill agent_freeze agent_twin pg_freeze my_freeze kafka_freeze pg_kill my_kill kafka_kill
    target_lock target_drift target_retype target_disk_full kafka_disk_full)
[ -z "${CDC_CHAOS_KINDS:-}" ] || read -ra kinds <<<"$CDC_CHAOS_KINDS"
sleep 3
t_start=$(date +%s)
# every kind once, in random order, then random ones: a short run covers them all
order=()
for k in "${kinds[@]}"; do order+=("$RANDOM $k"); done
mapfile -t order < <(printf '%s\n' "${order[@]}" | sort -n | cut -d' ' -f2)
for f in $(seq 1 "$faults"); do
    k=${order[$((f - 1))]:-${kinds[$((RANDOM % ${#kinds[@]}))]}}
    count[$k]=$((${count[$k]:-0} + 1))
    echo "fault $f: $k at $(date +%T.%N | cut -c1-12)" | tee -a "$tmp/crm.log" "$tmp/erp.log"
    fault "$k"
    sleep "$((RANDOM % 3)).$((RANDOM % 10))"
    for a in crm erp; do # an agent never gives up on its own: it retries, or waits
        kill -0 "${pid[$a]}" 2>/dev/null && continue
        wait "${pid[$a]}" 2>/dev/null && rc=0 || rc=$?
        bad "fault $f ($k): agent $a exited ($rc): $(grep -E ' error ' "$tmp/$a.log" | tail -1 | cut -c1-300)"
        start "$a"
        note_pids
    done
done
t_faults=$(($(date +%s) - t_start))

# ---- healed: the workload stops, both sides converge ----
touch "$tmp/stop"
sleep 2
pkill -f "pgbench.*$CDC_TEST_PG_PORT" 2>/dev/null || true
for a in crm erp; do kill -0 "${pid[$a]}" 2>/dev/null || start "$a"; done
note_pids
crm_sum="SELECT count(*) || ':' || coalesce(sum(v), 0) || ':' || coalesce(sum(id), 0) FROM"
erp_sum="SELECT CONCAT(COUNT(*), ':', COALESCE(SUM(v), 0), ':', COALESCE(SUM(id), 0)) FROM"
converged() { # what source-command target-command
    local i want got
    for i in $(seq 1 1800); do
        want=$(eval "$2" 2>/dev/null || true)
        got=$(eval "$3" 2>/dev/null || true)
        [ -n "$want" ] && [ "$want" = "$got" ] && break
        sleep 0.1
    done
    assert_eq "$want" "$got" "$1"
}
converged "the CRM's changes reached the ERP" 'pg -Atc "$crm_sum chaos"' 'my -N -e "$erp_sum from_crm"'
converged "the ERP's changes reached the CRM" 'my -N -e "$erp_sum mchaos"' 'pg -Atc "$crm_sum from_erp"'
for a in crm erp; do
    kill -TERM "${pid[$a]}" && wait "${pid[$a]}" && rc=0 || rc=$?
    assert_eq 0 "$rc" "agent $a stops gracefully"
    pid[$a]=0
done

pg -Atc "SELECT id, v FROM chaos" -F ' ' >"$tmp/expected"
run "$CDC_VERIFY_CHAIN" "$boot" cdc.crm.public.chaos "$tmp/expected"
assert_eq 0 "$rc" "the CRM's topic: every change exactly once, in order per key"
assert_contains "$out" "resent_dropped=0 " "the CRM's topic: no record of an aborted transaction"
echo "CRM topic: $(echo "$out" | grep records=)"
my -N -e "SELECT id, v FROM mchaos" | tr '\t' ' ' >"$tmp/expected"
run "$CDC_VERIFY_CHAIN" "$boot" cdc.erp.cdc_test.mchaos "$tmp/expected"
assert_eq 0 "$rc" "the ERP's topic: every change exactly once, in order per key"
assert_contains "$out" "resent_dropped=0 " "the ERP's topic: no record of an aborted transaction"
echo "ERP topic: $(echo "$out" | grep records=)"
assert_eq "" "$(grep -h "re-sent record" "$tmp/crm.log" "$tmp/erp.log" || true)" "no sink's re-send guard skipped anything"
for a in crm erp; do
    peak[$a]=$(awk -v a="$a" '$1 == a && $2 > m { m = $2 } END { print int(m / 1024) }' "$tmp/rss")
done
echo "peak RSS: crm ${peak[crm]} MB, erp ${peak[erp]} MB"
if ldd "$CDC_AGENT" 2>/dev/null | grep -q libasan; then
    echo "# ASan build: RSS not checked"
else
    [ "${peak[crm]}" -le "$rss_mb" ] && [ "${peak[erp]}" -le "$rss_mb" ] && ok ||
        bad "peak RSS within $rss_mb MB (crm ${peak[crm]}, erp ${peak[erp]})"
fi
summary=""
for k in "${kinds[@]}"; do summary+="$k=${count[$k]:-0} "; done
echo "faults: $faults in $t_faults s: $summary"
finish

# Helpers for shell tests that run the agent against the harness PostgreSQL and a mock Kafka
# helper process (sourced after assert.sh and load_harness_env).

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
export PGPASSWORD=$CDC_TEST_PG_PASSWORD
pg() { psql -q -h 127.0.0.1 -p "$CDC_TEST_PG_PORT" -U cdc -d cdc_test -v ON_ERROR_STOP=1 "$@"; }

# Drops slot SLOT, publication SLOT and the listed tables, left by an earlier run. A walsender of
# an agent that just stopped can hold the slot for a moment: wait for it (5 s), then end it.
pg_reset() { # slot table...
    local slot=$1
    shift
    pg -c "DO \$\$ BEGIN
             FOR i IN 1..100 LOOP
               EXIT WHEN NOT EXISTS (SELECT 1 FROM pg_replication_slots
                                     WHERE slot_name = '$slot' AND active);
               PERFORM pg_sleep(0.05);
             END LOOP;
             PERFORM pg_terminate_backend(active_pid) FROM pg_replication_slots
               WHERE slot_name = '$slot' AND active;
             FOR i IN 1..100 LOOP
               EXIT WHEN NOT EXISTS (SELECT 1 FROM pg_replication_slots
                                     WHERE slot_name = '$slot' AND active);
               PERFORM pg_sleep(0.05);
             END LOOP; END \$\$" \
       -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '$slot'" \
       -c "DROP PUBLICATION IF EXISTS $slot" -c "DROP TABLE IF EXISTS $(echo "$@" | tr ' ' ',')" >/dev/null
}

# The Kafka a test runs on: the mock cluster's helper process (default), or with
# CDC_TEST_KAFKA=real a real Apache Kafka broker: the cluster at CDC_TEST_KAFKA_BOOTSTRAP when it
# is set (a user's own: the test's topics are deleted and created again, so give it a cluster of
# its own and run these tests one at a time), else a broker of the test's own started by
# tests/harness/kafka.sh and stopped when the test exits.
real_kafka() { [ "${CDC_TEST_KAFKA:-mock}" = real ]; }

# Starts the real Kafka of a test (see above), sets $boot and creates "NAME PARTITIONS" topics.
real_kafka_start() { # topic-spec...
    local t specs=("$@") prev
    if [ -n "${CDC_TEST_KAFKA_BOOTSTRAP:-}" ]; then
        boot=$CDC_TEST_KAFKA_BOOTSTRAP
        real_kafka_own=
    else
        real_kafka_own=$tmp/kafka
        # stopped before the test's own exit trap runs ("trap -- 'command' EXIT")
        prev=$(trap -p EXIT)
        if [ -n "$prev" ]; then eval "set -- $prev"; prev=$3; fi
        trap "real_kafka_cmd stop >/dev/null 2>&1 || true; $prev" EXIT
        CDC_KAFKA_OWNER_PID=$$ real_kafka_cmd start >/dev/null
        boot=$(. "$real_kafka_own/kafka.env" && echo "$CDC_TEST_KAFKA_BOOTSTRAP")
    fi
    for t in "${specs[@]}"; do
        # shellcheck disable=SC2086
        "$CDC_KAFKA_ADMIN" "$boot" recreate $t || bad "create topic $t on $boot"
    done
}
real_kafka_cmd() { "$here/harness/kafka.sh" "$1" "$real_kafka_own"; }

# Starts cdc-mock-kafka as coprocess MOCK, sets $boot, and creates "NAME PARTITIONS" topics
# (on a real broker when CDC_TEST_KAFKA=real).
mock_start() { # topic-spec...
    if real_kafka; then
        real_kafka_start "$@"
        return
    fi
    mock_kafka_start "$CDC_MOCK_KAFKA" "$@" && ok || bad "the mock cluster created every topic"
}

# On a real broker: a read_committed consumer sees no record of an aborted transaction (no
# position twice in cdc-verify-chain's OUTPUT) and no sink's re-send guard skipped anything (LOG).
# The mock shows aborted records, so there both may happen and nothing is asserted.
assert_real_no_resend() { # verify-chain-output [agent log]
    real_kafka || return 0
    [ -z "$1" ] || assert_contains "$1" "resent_dropped=0 " "real broker: no record of an aborted transaction seen"
    [ -z "${2:-}" ] || assert_eq "" "$(grep "re-sent record" "$2" || true)" "real broker: the sink's re-send guard skipped nothing"
}

# Sends one command to the mock ("down 1", "up 1", ...). On a real broker of the test's own,
# "down 1" kills it with SIGKILL and "up 1" starts it again on its log (the other broker ids are
# the same broker); on a user's cluster a broker cannot be taken down and nothing happens.
mock_cmd() {
    local line
    if real_kafka; then
        case $1 in
        "topic "*) "$CDC_KAFKA_ADMIN" "$boot" create ${1#topic } ;;
        "down 1") [ -z "$real_kafka_own" ] || real_kafka_cmd kill ;;
        "up 1") [ -z "$real_kafka_own" ] || real_kafka_cmd restart >/dev/null ;;
        "down "* | "up "*) ;;
        *) bad "'$1' needs the mock cluster" ;;
        esac
        return
    fi
    echo "$1" >&"${MOCK[1]}"
    read -r line <&"${MOCK[0]}"
}

# Waits until slot SLOT has confirmed LSN TARGET (default: everything written so far).
wait_caught_up() { # slot [target] [tenths of a second]
    local slot=$1 target=${2:-$(pg -Atc "SELECT pg_current_wal_insert_lsn()")} i
    for i in $(seq 1 "${3:-600}"); do
        [ "$(pg -Atc "SELECT confirmed_flush_lsn >= '$target' FROM pg_replication_slots WHERE slot_name = '$slot'")" = t ] && return 0
        sleep 0.1
    done
    return 1
}

# Waits until the _offsets topic at $boot holds PATTERN (up to TENTHS tenths of a second); the
# dump is read through a redirection, since grep -q stopping early would fail a pipefail pipeline.
wait_offsets() { # pattern [tenths]
    local i
    for i in $(seq 1 "${2:-600}"); do
        grep -q "$1" < <("$CDC_TOPIC_DUMP" "$boot" cdc._offsets 2>/dev/null) && return 0
        sleep 0.1
    done
    return 1
}

# Asserts that COMMAND... prints EXPECTED within 30 s (polled every 0.1 s).
wait_value() { # what expected command...
    local what=$1 want=$2 i got=
    shift 2
    for i in $(seq 1 300); do
        got=$("$@" 2>/dev/null || true)
        [ "$got" = "$want" ] && break
        sleep 0.1
    done
    assert_eq "$want" "$got" "$what"
}

# Waits up to TENTHS tenths of a second (default 300) until commands A and B print the same; on a
# timeout shows the first lines that differ (< A, > B) on stderr and fails.
same_output() { # command-a command-b [tenths]
    local i
    for i in $(seq 1 "${3:-300}"); do
        [ "$($1 | md5sum)" = "$($2 | md5sum)" ] && return 0
        sleep 0.1
    done
    diff <($1) <($2) | head -10 >&2 || true
    return 1
}

# Stops the agent in $agent_pid with SIGTERM; sets $rc to its exit code.
agent_stop() {
    kill -TERM "$agent_pid"
    wait "$agent_pid" && rc=0 || rc=$?
    agent_pid=
}

# Writes an agent config to FILE: source crm capturing public.TABLE through slot and publication
# TABLE, Kafka at $boot; extra "key: value" pairs go into the kafka mapping.
agent_config() { # file name table [kafka extras]
    cat >"$1" <<EOC
agent: {name: $2}
kafka: {brokers: "$boot", linger_ms: 20${4:+, $4}}
sources:
  - {name: crm, type: postgresql, conninfo: "host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=cdc_test user=cdc",
     password_env: PGPASSWORD, tables: [public.$3], slot: $3, publication: $3, heartbeat_ms: 1000}
EOC
}

# Writes a pgbench script to FILE: 80% upserts (v = 1 on insert, v + 1 on update) and 20% deletes
# of random ids up to MAX, on a table (id int PRIMARY KEY, v int, pad text).
upsert_workload() { # file table max
    cat >"$1" <<EOS
\\set id random(1, $3)
\\set op random(1, 10)
\\if :op <= 8
INSERT INTO $2 VALUES (:id, 1, 'w') ON CONFLICT (id) DO UPDATE SET v = $2.v + 1;
\\else
DELETE FROM $2 WHERE id = :id;
\\endif
EOS
}

# ---- sinks ----
# Creates TABLE (id int PRIMARY KEY, name text, v int, data bytea, doc jsonb, ts timestamptz,
# n numeric) with 5000 rows and one of awkward values (id 9001: quotes, backslash, bytes 00ff, a
# JSON string).
sink_source_table() { # table
    pg_reset "$1" "$1"
    pg -c "CREATE TABLE $1 (id int PRIMARY KEY, name text, v int NOT NULL, data bytea, doc jsonb,
             ts timestamptz, n numeric(20,5))" \
       -c "INSERT INTO $1 SELECT g, 'name ' || g, 1, decode(md5(g::text), 'hex'),
             jsonb_build_object('g', g, 's', 'it''s'), '2026-11-25 12:00:00.5+00'::timestamptz + g * interval '1 s',
             g * 1.25 FROM generate_series(1, 5000) g" \
       -c "INSERT INTO $1 VALUES (9001, E'quote '' \" back\\\\slash', 1, '\x00ff'::bytea, '\"str\"', NULL, -0.00001)" \
       -c "INSERT INTO $1 SELECT g, E'tab\\tnl\\ncr\\r\\\\N \\\\. é 😀 ' || g, 2, NULL, '[\"a\\\\tb\"]', NULL, NULL
             FROM generate_series(9002, 9200) g" >/dev/null
}
# Runs upserts and deletes of ids up to 6000 and key changes (id <-> -id) on TABLE from 2 clients
# for 8 s in the background ($bench), while the agent is killed with SIGKILL KILLS times at random
# moments and restarted; then waits for the workload.
sink_workload_with_kills() { # table kills
    upsert_workload "$tmp/w.sql" "$1" 6000
    sed -i "s/INSERT INTO $1 VALUES (:id, 1, 'w')/INSERT INTO $1 (id, name, v) VALUES (:id, 'w', 1)/" "$tmp/w.sql"
    cat >"$tmp/k.sql" <<EOS
\\set id random(1, 6000)
DO \$\$ BEGIN UPDATE $1 SET id = -id WHERE id = :id OR id = -:id; EXCEPTION WHEN unique_violation THEN NULL; END \$\$;
EOS
    pgbench -n -h 127.0.0.1 -p "$CDC_TEST_PG_PORT" -U cdc -c 2 -T 8 -f "$tmp/w.sql@9" -f "$tmp/k.sql@1" cdc_test >"$tmp/bench.log" 2>&1 &
    local bench=$! k
    for k in $(seq 1 "$2"); do
        sleep "0.$((RANDOM % 5 + 2))"
        kill -9 "$agent_pid"
        wait "$agent_pid" 2>/dev/null || true
        start_agent
    done
    wait "$bench" && ok || bad "workload ran"
}
# A second agent with only the sinks of $tmp/agent.yaml (another agent name): waits for the
# sink's lock (lock_wait_s: 2 here) and is refused while the first runs; started again with a
# longer wait, it takes over when the first stops, and becomes $agent_pid.
second_sink_refused() {
    # the running agent holds its sink's lock first: wait for this start's "applying" line
    local i before=${applying_before:-0}
    for i in $(seq 1 300); do
        [ "$(grep -c "applying .* partitions" "$tmp/agent.log" || true)" -gt "$before" ] && break
        sleep 0.1
    done
    sed -n '/^agent:/p; /^kafka:/p; /^sinks:/,$p' "$tmp/agent.yaml" | sed 's/^agent: {name: \([^}]*\)}/agent: {name: \1-second}/' |
        sed 's/^  - name: .*/&\n    lock_wait_s: 2/' >"$tmp/second.yaml"
    run timeout 60 "$CDC_AGENT" run -c "$tmp/second.yaml"
    assert_eq 1 "$rc" "second instance exits"
    assert_contains "$out" "another instance of the sink is running" "second instance refused"
    assert_contains "$out" "waiting up to 2 s for it to stop" "second instance waited for the lock first"
    sed 's/lock_wait_s: 2/lock_wait_s: 120/' "$tmp/second.yaml" >"$tmp/standby.yaml"
    "$CDC_AGENT" run -c "$tmp/standby.yaml" >"$tmp/standby.log" 2>&1 &
    local standby=$!
    wait_value "the standby waits for the lock" 1 grep -c "waiting up to" "$tmp/standby.log"
    sleep 6 # beyond a command's wait
    agent_stop
    assert_eq 0 "$rc" "the first instance stops"
    wait_value "the standby applies once the first let go" 1 grep -c "applying .* partitions" "$tmp/standby.log"
    agent_pid=$standby
}

# A temp dir in $tmp, removed on exit with the agent ($agent_pid) and background jobs killed.
setup_tmp() {
    tmp=$(mktemp -d)
    agent_pid=
    trap cleanup_tmp EXIT
}
cleanup_tmp() {
    [ -n "${agent_pid:-}" ] && kill -9 "$agent_pid" 2>/dev/null || true
    if [ "${failed:-0}" -gt 0 ] && [ -f "$tmp/agent.log" ]; then # what the agent said, for CI
        echo "--- last lines of the agent's log:"
        grep -v -e ' debug ' -e facility= "$tmp/agent.log" | tail -25
    fi >&2
    jobs -p | xargs -r kill 2>/dev/null || true
    [ -n "${CDC_KEEP_TMP:-}" ] && echo "# kept $tmp" || rm -rf "$tmp"
}
# Starts the agent on $tmp/agent.yaml in the background, its output appended to $tmp/agent.log.
start_agent() {
    "$CDC_AGENT" run -c "$tmp/agent.yaml" >>"$tmp/agent.log" 2>&1 &
    agent_pid=$!
}

# ---- MariaDB sources ----
export MYPW=${CDC_TEST_MYSQL_PASSWORD:-}
# Our replica id: one per test process, since tests run side by side against one server, which
# disconnects one of two replicas with the same id.
MY_SERVER_ID=${MY_SERVER_ID:-$((10000 + $$))}
my() { mariadb --no-defaults -h 127.0.0.1 -P "$CDC_TEST_MYSQL_PORT" -u cdc -p"$MYPW" cdc_test "$@"; }

# Writes an agent config to FILE: source erp (type mysql) capturing cdc_test.TABLE, Kafka at
# $boot; extra "key: value" pairs go into the kafka mapping.
my_config() { # file name table [kafka extras]
    cat >"$1" <<EOC
agent: {name: $2}
kafka: {brokers: "$boot", linger_ms: 20${4:+, $4}}
sources:
  - {name: erp, type: mysql, host: 127.0.0.1, port: $CDC_TEST_MYSQL_PORT, user: cdc,
     password_env: MYPW, database: cdc_test, server_id: $MY_SERVER_ID, tables: [cdc_test.$3],
     snapshot: never, heartbeat_ms: 1000}
EOC
}

# The binlog position "FILENUMBER POS" the server has written up to.
my_master_pos() {
    my -N -e "SHOW MASTER STATUS" | awk '{n = $1; sub(/.*\./, "", n); print n + 0, $2}'
}

# Waits until source erp's stored resume point reaches "FILENUMBER POS" (default: the server's
# current position), up to TENTHS tenths of a second.
my_wait_caught_up() { # [target] [tenths] [source]
    local target=${1:-$(my_master_pos)} i got
    for i in $(seq 1 "${2:-600}"); do
        got=$("$CDC_TOPIC_DUMP" "$boot" cdc._offsets 2>/dev/null | grep "\"source\":\"${3:-erp}\"" | tail -1 |
            sed -n 's/.*"source_resume":{"file":"[^"]*\.\([0-9]*\)","gtid":"[^"]*","pos":\([0-9]*\).*/\1 \2/p')
        if [ -n "$got" ] && awk -v a="$got" -v b="$target" 'BEGIN {
                split(a, x, " "); split(b, y, " ");
                exit !((x[1] + 0 > y[1] + 0) || (x[1] + 0 == y[1] + 0 && x[2] + 0 >= y[2] + 0)) }'; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# PostgreSQL table TABLE (id, v, pad) published by agent NAME (debug log: each Kafka
# transaction's records and stored position, for a failure's look) through 4 partitions on the
# real broker at $boot and applied by sink SINK into MariaDB database TARGET; the tables are made
# afresh and the config written to $tmp/agent.yaml.
pg_to_my_config() { # name table target sink
    pg_reset "$2" "$2"
    pg -c "CREATE TABLE $2 (id int PRIMARY KEY, v int NOT NULL, pad text)" >/dev/null
    my -e "DROP DATABASE IF EXISTS $3; CREATE DATABASE $3;
           CREATE TABLE $3.$2 (id INT PRIMARY KEY, v INT NOT NULL, pad VARCHAR(20))"
    agent_config "$tmp/agent.yaml" "$1" "$2" "partitions: 4"
    sed -i "s/^agent: {name: $1}/agent: {name: $1, log_level: debug}/" "$tmp/agent.yaml"
    cat >>"$tmp/agent.yaml" <<EOC
sinks:
  - {name: $4, type: mysql, host: 127.0.0.1, port: $CDC_TEST_MYSQL_PORT, user: cdc,
     password_env: MYPW, database: $3, batch_ms: 20,
     routes: [{from: crm.public.$2, to: $3.$2}]}
EOC
}

# After a run of pg_to_my_config's agent (running as $agent_pid) through kills: once the source
# caught up, the target equals the source; the agent stops gracefully; a read_committed consumer
# sees every change exactly once and in order per key, and no record of an aborted transaction;
# the sink's re-send guard skipped nothing. On a failure the topic, the offsets, the agent's log
# and the broker's partition files are kept in KEEP.*.
pg_to_my_verify() { # table target sink what keep
    local want i skipped dst="SELECT CONCAT(COUNT(*), ':', COALESCE(SUM(v), 0), ':', COALESCE(SUM(id), 0)) FROM $2.$1"
    wait_caught_up "$1" "" 1200 && ok || bad "source caught up"
    want=$(pg -Atc "SELECT count(*) || ':' || coalesce(sum(v), 0) || ':' || coalesce(sum(id), 0) FROM $1")
    for i in $(seq 1 600); do [ "$(my -N -e "$dst")" = "$want" ] && break; sleep 0.1; done
    assert_eq "$want" "$(my -N -e "$dst")" "target equals source after $4"
    agent_stop
    assert_eq 0 "$rc" "graceful stop"
    pg -Atc "SELECT id, v FROM $1" -F ' ' >"$tmp/expected"
    run "$CDC_VERIFY_CHAIN" "$boot" "cdc.crm.public.$1" "$tmp/expected"
    skipped=$(grep -o "sink=$3 stopped applied=[0-9]* skipped=[0-9]*" "$tmp/agent.log" | sed 's/.*skipped=//' | sort -u | tr '\n' ' ')
    if [ "$rc" != 0 ] || ! echo "$out" | grep -q "resent_dropped=0 " || [ "$skipped" != "0 " ]; then
        echo "$out" | tail -25 >&2
        "$CDC_TOPIC_DUMP" "$boot" "cdc.crm.public.$1" --headers >"$5.dump" 2>&1 || true
        "$CDC_TOPIC_DUMP" "$boot" cdc._offsets >"$5.offsets" 2>&1 || true
        cp "$tmp/agent.log" "$5.log"
        # the broker's own files of the partitions involved, to read the markers and epochs
        mkdir -p "$5.data"
        cp -r "$CDC_TEST_KAFKA_ROOT"/data/cdc.* "$CDC_TEST_KAFKA_ROOT"/data/__transaction_state-* "$5.data/" 2>/dev/null || true
        cp "$CDC_TEST_KAFKA_ROOT"/broker.log "$5.data/" 2>/dev/null || true
        echo "# topic, offsets, agent log and the broker's partitions kept in $5.*" >&2
    fi
    assert_eq 0 "$rc" "every change exactly once, in order per key"
    assert_contains "$out" "resent_dropped=0 " "read_committed saw no record of an aborted transaction"
    assert_eq "0 " "$skipped" "the sink's re-send guard skipped nothing"
}

# A config of agent NAME on the Kafka at $boot with the given YAML lines (sources: and sinks: lines
# and their entries), for the two-way tests.
two_way_config() { # file agent-name lines...
    local f=$1 name=$2
    shift 2
    printf 'agent: {name: %s}\nkafka: {brokers: "%s", linger_ms: 20}\n' "$name" "$boot" >"$f"
    printf '%s\n' "$@" >>"$f"
}

# Runs the SQL files on both sides at once (psql into PostgreSQL, mariadb into MariaDB) while the
# agent in $agent_pid is killed (SIGKILL) and restarted KILLS times at random moments.
both_sides_with_kills() { # crm.sql erp.sql kills
    local w1 w2 k
    pg -f "$1" >/dev/null &
    w1=$!
    my <"$2" &
    w2=$!
    for k in $(seq 1 "$3"); do
        sleep "0.$((RANDOM % 6 + 3))"
        kill -9 "$agent_pid"
        wait "$agent_pid" 2>/dev/null || true
        start_agent
    done
    wait "$w1" "$w2"
}

# Helpers for shell tests that run the agent against the harness PostgreSQL and a mock Kafka
# helper process (sourced after assert.sh and load_harness_env).

export PGPASSWORD=$CDC_TEST_PG_PASSWORD
pg() { psql -q -h 127.0.0.1 -p "$CDC_TEST_PG_PORT" -U cdc -d cdc_test -v ON_ERROR_STOP=1 "$@"; }

# Drops slot SLOT, publication SLOT and the listed tables, left by an earlier run.
pg_reset() { # slot table...
    local slot=$1
    shift
    pg -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '$slot'" \
       -c "DROP PUBLICATION IF EXISTS $slot" -c "DROP TABLE IF EXISTS $(echo "$@" | tr ' ' ',')" >/dev/null
}

# Starts cdc-mock-kafka as coprocess MOCK, sets $boot, and creates "NAME PARTITIONS" topics.
mock_start() { # topic-spec...
    coproc MOCK { "$CDC_MOCK_KAFKA" 3; }
    local line t
    read -r line <&"${MOCK[0]}"
    boot=${line#bootstrap=}
    read -r line <&"${MOCK[0]}"
    for t in "$@"; do
        echo "topic $t" >&"${MOCK[1]}"
        read -r line <&"${MOCK[0]}"
        assert_eq ok "$line" "create topic $t"
    done
}

# Sends one command to the mock ("down 1", "up 1", ...).
mock_cmd() {
    local line
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

# Stops the agent in $agent_pid with SIGTERM; sets $rc to its exit code.
agent_stop() {
    kill -TERM "$agent_pid"
    wait "$agent_pid" && rc=0 || rc=$?
    agent_pid=
}

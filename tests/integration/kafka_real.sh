#!/usr/bin/env bash
# Exactly once on a real Apache Kafka broker (KRaft, from tests/harness/kafka.sh): PostgreSQL ->
# Kafka -> MariaDB in one agent while a workload writes, the agent is killed with SIGKILL several
# times and the broker itself is killed with SIGKILL mid-stream and restarted. Afterwards a
# read_committed consumer sees every change exactly once and in order per key, and no record of an
# aborted transaction (no position twice in the topic: the mock cluster shows those, a real
# broker must not); the sink's re-send guard skipped nothing; the target equals the source. Then
# a second agent with the same transactional id fences the first for real (no injected error).
. "$(dirname "$0")/../harness/agent_test.sh"
kills=${CDC_REAL_KILLS:-5}
kafka() { "$here/harness/kafka.sh" "$1" "$tmp/kafka"; }
trap 'kafka stop >/dev/null 2>&1 || true; cleanup_tmp' EXIT
kafka start >/dev/null
. "$tmp/kafka/kafka.env"
boot=$CDC_TEST_KAFKA_BOOTSTRAP

pg_to_my_config real-kafka realk real_target real
run "$CDC_AGENT" check -c "$tmp/agent.yaml"
assert_contains "$out" "kafka    $boot: ok, 1 broker" "check: the real broker"
assert_contains "$out" "kafka    transactions: ok (transaction.state.log.replication.factor=1, min.isr=1, 1 broker)" \
    "check: the transaction log fits the cluster"
assert_contains "$out" "topic    cdc._offsets: missing; created at start (1 partition, compacted)" "check: a missing offsets topic"
assert_contains "$out" "topic    cdc.crm.public.realk: missing; created at start (4 partitions)" "check: a missing data topic"
assert_contains "$out" "topic    cdc._dlq.real: missing; created at start (1 partition)" "check: a missing dead-letter topic"
assert_eq "" "$("$CDC_TOPIC_DUMP" "$boot" cdc._offsets 2>&1 | grep -v "does not exist" || true)" "check created nothing"

# an offsets topic that deletes old records would lose an idle source's position: refused
"$CDC_KAFKA_ADMIN" "$boot" create-delete bad._offsets 1
sed 's/kafka: {/kafka: {topic_prefix: bad, /' "$tmp/agent.yaml" >"$tmp/bad.yaml"
run "$CDC_AGENT" check -c "$tmp/bad.yaml"
assert_eq 1 "$rc" "check: a deleting offsets topic fails the check"
assert_contains "$out" "topic    bad._offsets: FAILED: topic bad._offsets has cleanup.policy=delete" "check: names the topic and its policy"
assert_contains "$out" "would lose the stored positions of an idle source. Set cleanup.policy=compact" "check: says why and the fix"
run timeout 60 "$CDC_AGENT" run -c "$tmp/bad.yaml"
assert_eq 1 "$rc" "run: refused on a deleting offsets topic"
assert_contains "$out" "cleanup.policy=compact" "run: says the fix"

upsert_workload "$tmp/w.sql" realk 5000
start_agent
wait_offsets '"source":"crm"' 300 && ok || bad "first position stored on the real broker"
pgbench -n -h 127.0.0.1 -p "$CDC_TEST_PG_PORT" -U cdc -c 2 -T 12 -f "$tmp/w.sql" cdc_test >"$tmp/bench.log" 2>&1 &
bench=$!
for k in $(seq 1 "$kills"); do
    sleep "0.$((RANDOM % 7 + 3))"
    kill -9 "$agent_pid"
    wait "$agent_pid" 2>/dev/null || true
    echo "agent killed $k" >>"$tmp/agent.log"
    start_agent
    if [ "$k" = 2 ]; then # the broker dies mid-transaction and comes back
        sleep 1
        kafka kill
        echo "broker killed" >>"$tmp/agent.log"
        sleep 2
        kafka restart >/dev/null
        echo "broker restarted" >>"$tmp/agent.log"
    fi
done
wait "$bench" && ok || bad "workload ran"
pg_to_my_verify realk real_target real "$kills agent kills and a broker kill" /tmp/kafka_real_failed.$$

# a second agent with the same name (transactional id) fences the first for real
start_agent
first=$agent_pid
wait_value "first agent streaming" t pg -Atc "SELECT active FROM pg_replication_slots WHERE slot_name = 'realk'"
"$CDC_AGENT" run -c "$tmp/agent.yaml" >"$tmp/second.log" 2>&1 &
second=$!
pg -c "INSERT INTO realk VALUES (100001, 1, 'f')" >/dev/null
for i in $(seq 1 300); do kill -0 "$first" 2>/dev/null || break; sleep 0.1; done
wait "$first" && rc=0 || rc=$?
assert_eq 1 "$rc" "the first agent stops once fenced"
assert_contains "$(grep -i fenc "$tmp/agent.log" | tail -3)" "fenced" "the first agent says it was fenced"
agent_pid=$second
wait_caught_up realk "" 600 && ok || bad "the second agent took over"
for i in $(seq 1 300); do [ "$(my -N -e "SELECT COUNT(*) FROM real_target.realk WHERE id = 100001")" = 1 ] && break; sleep 0.1; done
got=$(my -N -e "SELECT COUNT(*) FROM real_target.realk WHERE id = 100001")
assert_eq 1 "$got" "the change made during the take-over applied"
if [ "$got" != 1 ]; then # kept for a look, with the first agent's
    { echo "--- the second agent's log:"; grep -v -e ' debug ' -e facility= "$tmp/second.log" | tail -40; } >&2
    cp "$tmp/second.log" "/tmp/kafka_real_takeover.$$.second.log"; cp "$tmp/agent.log" "/tmp/kafka_real_takeover.$$.first.log"
    echo "# both agents' logs kept in /tmp/kafka_real_takeover.$$.*" >&2
fi

# a take-over while nothing changes: the idle first instance learns it was fenced from its
# keepalive transaction (every heartbeat_ms) and lets go of the slot and of the sink's lock, for
# which the new instance waits (a sink refused after its lock wait would stop the new agent)
first=$agent_pid
"$CDC_AGENT" run -c "$tmp/agent.yaml" >"$tmp/third.log" 2>&1 &
agent_pid=$!
for i in $(seq 1 300); do kill -0 "$first" 2>/dev/null || break; sleep 0.1; done
wait "$first" && rc=0 || rc=$?
assert_eq 1 "$rc" "an idle instance stops once fenced, with no change to publish"
assert_contains "$(grep -i fenc "$tmp/second.log" | tail -3)" "fenced" "it says it was fenced"
sleep 2
kill -0 "$agent_pid" 2>/dev/null && ok || bad "the new agent still runs after the idle take-over"
pg -c "INSERT INTO realk VALUES (100002, 1, 'g')" >/dev/null
for i in $(seq 1 300); do [ "$(my -N -e "SELECT COUNT(*) FROM real_target.realk WHERE id = 100002")" = 1 ] && break; sleep 0.1; done
assert_eq 1 "$(my -N -e "SELECT COUNT(*) FROM real_target.realk WHERE id = 100002")" "a change after the idle take-over applied"

# The slot is acknowledged only up to what a read_committed reader can read back, not on the word
# of a commit: a broker killed right after answering a commit once came back, completed that
# transaction without writing its markers into the partitions and later aborted its records,
# while the slot had already been acknowledged past its changes (563 changes lost). Here another
# producer's transaction holds partition 0 of cdc._offsets open, so the source's next offset
# records cannot be read yet although its commits go through (the changes are in the topic): the
# slot stays before them until the hold ends. The sink, which checks each position against the
# source's offset records, waits for them too (retrying, applying nothing the source's word does
# not back) and applies the changes once the hold ends.
wait_caught_up realk "" 600 && ok || bad "caught up before the offsets topic is held"
"$CDC_KAFKA_ADMIN" "$boot" hold-txn cdc._offsets other-source 10 >"$tmp/hold-pg.out" 2>&1 &
holder=$!
wait_value "a transaction held open on cdc._offsets" held grep -x held "$tmp/hold-pg.out"
pg -c "INSERT INTO realk SELECT g, 1, 'h' FROM generate_series(200001, 200100) g" >/dev/null
held_count() { "$CDC_TOPIC_DUMP" "$boot" cdc.crm.public.realk | grep -c '{"id":200[01][0-9][0-9]}' || true; }
wait_value "committed while the offsets topic is held" 100 held_count
commit_lsn=$("$CDC_TOPIC_DUMP" "$boot" cdc.crm.public.realk | grep -F '{"id":200001}' | head -1 | cut -f3 | cut -d: -f3)
sleep 1
slot=$(pg -Atc "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'realk'")
assert_eq 1 "$(( (0x${slot%/*} << 32 | 0x${slot#*/}) < 0x${commit_lsn:-0} ))" \
    "the slot ($slot) not acknowledged past changes whose offset record cannot be read back (commit ${commit_lsn:-?})"
wait "$holder" && ok || bad "the held transaction was aborted"
wait_caught_up realk "" 600 && ok || bad "acknowledged once the offset records can be read back"
wait_value "applied once the offset records can be read back" 100 my -N -e "SELECT COUNT(*) FROM real_target.realk WHERE id > 200000"
assert_eq 0 "$(grep -c "went to cdc._dlq.real" "$tmp/third.log" || true)" "no change of the source to the DLQ while its offset records were out of sight"
agent_stop
# the topics the agent created: offsets and schemas compacted, data topics as configured
run "$CDC_AGENT" check -c "$tmp/agent.yaml"
assert_contains "$out" "topic    cdc._offsets: ok, 1 partition, 1 replica, cleanup.policy=compact" "check: offsets topic created compacted"
assert_contains "$out" "topic    cdc._schemas: ok, 1 partition, 1 replica, cleanup.policy=compact" "check: schemas topic created compacted"
assert_contains "$out" "topic    cdc.crm.public.realk: ok, 4 partitions, 1 replica, cleanup.policy=delete" "check: data topic with the configured partitions"
assert_contains "$out" "topic    cdc._dlq.real: ok, 1 partition" "check: dead-letter topic created"

# Every source's offset records share partition 0 of cdc._offsets, where a read_committed reader
# stops at the first record of a transaction still open. A MariaDB source restarts while another
# producer's transaction is open there, with the source's own later positions after it: the
# restart waits for it to end instead of resuming from the older position before it (which
# published 415 changes a second time before it waited).
my -e "DROP TABLE IF EXISTS mshared; CREATE TABLE mshared (id INT PRIMARY KEY, v INT NOT NULL, pad TEXT)"
# Stops the MariaDB source's agent; its topic then holds every change of mshared once, in order
# per key, and no position twice.
mshared_exactly_once() { # what
    agent_stop
    my -N -e "SELECT id, v FROM mshared" >"$tmp/expected"
    run "$CDC_VERIFY_CHAIN" "$boot" cdc.erp.cdc_test.mshared "$tmp/expected"
    assert_eq 0 "$rc" "$1: every change once, in order per key"
    assert_contains "$out" "resent_dropped=0 " "$1: nothing published twice"
}
my_config "$tmp/my.yaml" real-shared mshared
"$CDC_AGENT" run -c "$tmp/my.yaml" >"$tmp/my.log" 2>&1 &
agent_pid=$!
wait_offsets '"source":"erp"' 300 && ok || bad "the MariaDB source stored its first position"
for i in $(seq 1 3000); do
    echo "INSERT INTO mshared VALUES ($((i % 500)), 1, 'x') ON DUPLICATE KEY UPDATE v = v + 1; DO SLEEP(0.003);"
done | my &
writer=$!
sleep 1
"$CDC_KAFKA_ADMIN" "$boot" hold-txn cdc._offsets other-source 6 >"$tmp/hold.out" 2>&1 &
holder=$!
wait_value "a transaction held open on cdc._offsets" held cat "$tmp/hold.out"
sleep 1.5 # the source commits positions after the open transaction's first record
kill -9 "$agent_pid"
wait "$agent_pid" 2>/dev/null || true
"$CDC_AGENT" run -c "$tmp/my.yaml" >>"$tmp/my.log" 2>&1 &
agent_pid=$!
wait "$holder" && ok || bad "the held transaction was aborted"
wait "$writer"
my_wait_caught_up && ok || bad "the restarted MariaDB source caught up"
mshared_exactly_once "shared offsets topic"
assert_contains "$(cat "$tmp/my.log")" "reading cdc._offsets[0]: waiting for the transaction open at offset" \
    "the restart waited for the open transaction"

# A broker that lost the offset record of a transaction whose data committed: an older offset
# record of the source is made the latest again. The start finds the source's changes committed
# in its topic beyond that position and resumes after them instead of publishing them again.
older=$("$CDC_TOPIC_DUMP" "$boot" cdc._offsets | awk -F'\t' '$4 == "erp"' | sed -n '3p' | cut -f5)
assert_contains "$older" '"source":"erp"' "an older offset record of the source"
"$CDC_KAFKA_ADMIN" "$boot" put cdc._offsets erp "$older" && ok || bad "the older offset record made the latest"
my -e "INSERT INTO mshared VALUES (100001, 1, 'after')"
"$CDC_AGENT" run -c "$tmp/my.yaml" >"$tmp/my2.log" 2>&1 &
agent_pid=$!
my_wait_caught_up && ok || bad "the MariaDB source caught up after the lost offset record"
mshared_exactly_once "lost offset record"
assert_contains "$(cat "$tmp/my2.log")" "are committed in its topics beyond its stored pos" \
    "the start found the changes committed beyond the stored position"
kafka stop >/dev/null

# a broker whose transaction log cannot be placed on one node: check and run say so
CDC_KAFKA_PROPS=$'transaction.state.log.replication.factor=3\nauto.create.topics.enable=true' kafka start >/dev/null
boot=$(. "$tmp/kafka/kafka.env" && echo "$CDC_TEST_KAFKA_BOOTSTRAP")
sed -i "s/brokers: \"[^\"]*\"/brokers: \"$boot\"/" "$tmp/agent.yaml"
run "$CDC_AGENT" check -c "$tmp/agent.yaml"
assert_eq 1 "$rc" "check: a transaction log above the cluster size fails"
assert_contains "$out" "kafka    transactions: FAILED: transaction.state.log.replication.factor=3 is more than the 1 broker(s)" \
    "check: names the setting and the cluster size"
assert_contains "$out" "auto.create.topics.enable=true: a topic missing when a client asks for it is created with the broker defaults" \
    "check: notes auto-creation"
run timeout 60 "$CDC_AGENT" run -c "$tmp/agent.yaml"
assert_eq 1 "$rc" "run: refused when no transaction could start"
assert_contains "$out" "transaction.state.log.replication.factor=3" "run: says which setting"
my -e "DROP DATABASE real_target"
pg_reset realk realk
finish

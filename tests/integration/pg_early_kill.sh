#!/usr/bin/env bash
# Stops before the first change: the agent is killed (SIGKILL) or stopped (SIGTERM) right after
# its slot reached its consistent point, or once it streams (its start is stored) but before any
# change was published; rows written while it is down must all be published after its next
# start, with `snapshot: never` (the slot is the only copy of those changes) and with
# `snapshot: initial`. (A slot still being created shows in pg_replication_slots, active, before
# its consistent point: what commits before that point is before the slot's start.)
. "$(dirname "$0")/../harness/agent_test.sh"
rows=${CDC_EARLY_ROWS:-1000}
cases=("never slot KILL" "never streaming KILL" "never streaming TERM" "initial slot KILL" "initial streaming KILL")
specs=("cdc._offsets 1" "cdc._schemas 1")
for i in "${!cases[@]}"; do specs+=("cdc.early$i.public.early$i 4"); done
mock_start "${specs[@]}"

# "t" once the slot exists and has its consistent point
slot_state() { pg -Atc "SELECT confirmed_flush_lsn IS NOT NULL FROM pg_replication_slots WHERE slot_name = '$1'"; }

for i in "${!cases[@]}"; do
    read -r mode when sig <<<"${cases[$i]}"
    what="case $i ($mode, stopped at $when with SIG$sig)"
    t=early$i
    pg_reset "$t" "$t"
    pg -c "CREATE TABLE $t (id int PRIMARY KEY, v int NOT NULL, pad text)" >/dev/null
    [ "$mode" = initial ] && pg -c "INSERT INTO $t SELECT g, 1, 'x' FROM generate_series(1, 100) g" >/dev/null
    agent_config "$tmp/agent.yaml" "early-$i" "$t"
    sed -i "s/name: crm,/name: $t,/; s/heartbeat_ms: 1000}/heartbeat_ms: 1000, snapshot: $mode}/" "$tmp/agent.yaml"
    start_agent
    for n in $(seq 1 3000); do [ "$(slot_state "$t")" = t ] && break; sleep 0.01; done
    [ "$(slot_state "$t")" = t ] && ok || bad "$what: slot created"
    if [ "$when" = streaming ]; then # its start (or snapshot) stored, nothing else published
        wait_offsets "\"source\":\"$t\"" && ok || bad "$what: start stored"
    fi
    kill -"$sig" "$agent_pid"
    wait "$agent_pid" 2>/dev/null || true
    agent_pid=
    pg -c "INSERT INTO $t SELECT g, 1, 'y' FROM generate_series(101, $((100 + rows))) g" \
       -c "UPDATE $t SET v = v + 1 WHERE id % 7 = 0" -c "DELETE FROM $t WHERE id % 11 = 0" >/dev/null
    start_agent
    wait_caught_up "$t" && ok || bad "$what: caught up"
    agent_stop
    assert_eq 0 "$rc" "$what: graceful stop"
    pg -Atc "SELECT id, v FROM $t" -F ' ' >"$tmp/expected"
    run "$CDC_VERIFY_CHAIN" "$boot" "cdc.$t.public.$t" "$tmp/expected"
    assert_eq 0 "$rc" "$what: every change written while it was down published"
    [ "$rc" = 0 ] || echo "$out" >&2
    pg_reset "$t" "$t" # slots are few: leave none behind
done
finish

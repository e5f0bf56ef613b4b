#!/usr/bin/env bash
# Crash test for the MariaDB source: a mixed workload (one-row upserts and deletes, multi-row
# transactions, and two 30k-row transactions that are split over several Kafka transactions) runs
# while the agent is killed with SIGKILL at random moments and restarted, and every Kafka broker
# is down for a few seconds. Afterwards the topic, after dropping re-sent positions, must hold
# every change exactly once in order per key and rebuild the table (tests/harness/verify_chain.c).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/harness/assert.sh"
load_harness_env
. "$here/harness/agent_lib.sh"
changes=${CDC_CRASH_CHANGES:-200000}
kills=${CDC_CRASH_KILLS:-10}
setup_tmp
my -e "DROP TABLE IF EXISTS mcrash; CREATE TABLE mcrash (id INT PRIMARY KEY, v INT NOT NULL, pad TEXT)"
mock_start "cdc._offsets 1" "cdc._schemas 1" "cdc.erp.cdc_test.mcrash 8"
my_config "$tmp/agent.yaml" my-crash-test mcrash "compression: lz4"
# One SQL file per client: 80% one-row upserts (insert v=1, each update v+1), 10% deletes, 10%
# transactions of four statements; keys 1..20000. Deadlocks between the clients roll a
# transaction back (--force goes on): it never reaches the binlog.
workload() { # seed statements
    awk -v seed="$1" -v n="$2" 'BEGIN {
        srand(seed);
        up = "INSERT INTO mcrash VALUES (%d, 1, \"m\") ON DUPLICATE KEY UPDATE v = v + 1;\n";
        for (i = 0; i < n;) {
            r = rand(); id = int(rand() * 20000) + 1;
            if (r < 0.8) { printf up, id; i++ }
            else if (r < 0.9) { printf "DELETE FROM mcrash WHERE id = %d;\n", id; i++ }
            else {
                printf "BEGIN;\n" up, id;
                printf up, int(rand() * 20000) + 1;
                printf "DELETE FROM mcrash WHERE id = %d;\n", int(rand() * 20000) + 1;
                printf up "COMMIT;\n", int(rand() * 20000) + 1;
                i += 4
            }
        } }'
}
workload 1 $((changes / 2 - 30000)) >"$tmp/w1.sql"
workload 2 $((changes / 2 - 30000)) >"$tmp/w2.sql"
start_agent
# snapshot: never streams from the first start that stores its position: the workload begins after
# (a real broker's first transaction creates its transaction log, which takes a moment)
wait_offsets '"source":"erp"' 300 && ok || bad "first position stored"
( my --force <"$tmp/w1.sql" >"$tmp/w1.log" 2>&1
  # two large transactions: split over Kafka transactions, resumed from their start after a kill
  my -e "INSERT INTO mcrash SELECT seq + 100000, 1, 'big' FROM seq_1_to_30000"
  my -e "UPDATE mcrash SET v = v + 1 WHERE id > 100000" ) &
w1=$!
my --force <"$tmp/w2.sql" >"$tmp/w2.log" 2>&1 &
w2=$!
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# every broker down for 4 s: outage_down, then outage_up once up_at has passed (the kills go on
# meanwhile: the workload may take less time than the outage)
outage_down() {
    for b in 1 2 3; do mock_cmd "down $b"; done
    echo "brokers down at $(date +%T.%N | cut -c1-12)" >>"$tmp/agent.log"
    up_at=$(($(now_ms) + 4000))
}
outage_up() {
    local left=$((up_at - $(now_ms)))
    [ "$left" -le 0 ] || sleep "$(echo "scale=3; $left / 1000" | bc)"
    for b in 1 2 3; do mock_cmd "up $b"; done
    echo "brokers up at $(date +%T.%N | cut -c1-12)" >>"$tmp/agent.log"
    outage=1 up_at=
}
outage() { outage_down; outage_up; }
# kill every 0.1-0.3 s for as long as the workload runs (at least $kills times)
during=0
i=0
while kill -0 "$w1" 2>/dev/null || kill -0 "$w2" 2>/dev/null; do
    i=$((i + 1))
    # a real broker takes seconds to come back: its outage comes after the kills
    if real_kafka; then
        [ "$i" != $((kills + 1)) ] || outage
    elif [ "$i" = 3 ]; then
        outage_down
    fi
    [ -z "${up_at:-}" ] || [ "$(now_ms)" -lt "$up_at" ] || outage_up
    sleep "0.$((RANDOM % 3 + 1))"
    kill -0 "$w1" 2>/dev/null || kill -0 "$w2" 2>/dev/null || break
    kill -9 "$agent_pid" 2>/dev/null || true
    wait "$agent_pid" 2>/dev/null || true
    during=$((during + 1))
    echo "kill $i at $(date +%T.%N | cut -c1-12)" >>"$tmp/agent.log"
    start_agent
done
wait "$w1" "$w2" || true
[ -z "${up_at:-}" ] || outage_up
[ -n "${outage:-}" ] || outage # the workload ended first: the broker dies while the agent catches up
echo "$during kills during the workload"
[ "$during" -ge "$kills" ] && ok || bad "only $during kills during the workload (want $kills)"
assert_eq 1 "${outage:-0}" "the outage happened"
my -e "INSERT INTO mcrash VALUES (1, 1, 'last') ON DUPLICATE KEY UPDATE v = v + 1"
my_wait_caught_up && ok || bad "agent caught up with the server"
agent_stop
assert_eq 0 "$rc" "graceful stop exit code"

my -N -e "SELECT id, v FROM mcrash" >"$tmp/expected"
run "$CDC_VERIFY_CHAIN" "$boot" cdc.erp.cdc_test.mcrash "$tmp/expected"
echo "$out"
assert_eq 0 "$rc" "exactly once after $during kills"
assert_contains "$out" "3 passed, 0 failed" "verifier"
assert_real_no_resend "$out"
grep -E "error|warn" "$tmp/agent.log" | grep -v "facility=" | cut -c26- | sort | uniq -c | sort -rn | head -5 || true
finish

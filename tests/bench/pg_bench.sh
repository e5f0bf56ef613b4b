#!/usr/bin/env bash
# PostgreSQL source benchmark (not a timed test): in one run, on the same workloads, measures
# pg_recvlogical (pgoutput v1, same publication, to /dev/null: the walsender's own ceiling) and
# cdc-agent (to a mock Kafka cluster in its own process, or a real broker with BENCH_KAFKA=real;
# transactions on), and prints rows/s, the ratio, cdc-agent's CPU seconds and peak RSS, and the
# Kafka ceiling on the same Kafka (cdc-bench-produce sending the bulk workload's records again).
# Workloads: one 200k-row transaction, 20k one-row transactions, a 1M-change backlog for peak RSS,
# and the demo's contacts (100k untidy rows in one transaction) with the demo's transforms off and
# on (BENCH_ONLY=transforms runs only that pair), and the 1M-change backlog with the admin API on,
# idle and under 50 calls/s of a client that keeps its connection (BENCH_ONLY=api runs only that).
# Each workload runs BENCH_REPS times (default 3), alternating the two clients; medians are printed.
# BENCH_SHAPE (narrow, contacts, wide: tests/bench/shapes.sh) picks the rows of the bench table.
# BENCH_ONLY=bulk runs only the bulk workload; BENCH_ONLY=peer compares cdc-agent's CPU on it with
# a Python peer's (tests/bench/pg_peer.py: wal2json, psycopg2, confluent-kafka). BENCH_PERF=DIR profiles cdc-agent's runs (perf
# record -e cpu-clock, DIR/agent.N.data), BENCH_CALLGRIND=DIR counts their instructions (valgrind,
# DIR/agent.N.out; N counts every start, the even ones are the measured runs); their CPU and RSS
# figures are then the profiler's.
#   tests/bench/pg_bench.sh [BUILD_DIR]     (BUILD_DIR defaults to ./build)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
work=$(mktemp -d)
. "$root/tests/bench/lib.sh"
bench_servers pg
lsn() { pg -Atc "SELECT pg_current_wal_insert_lsn()"; }
. "$root/tests/bench/shapes.sh"
echo "# rows: $SHAPE ($(shape_columns))"
pg -c "$(shape_pg_ddl bench)" -c "CREATE PUBLICATION bench FOR TABLE bench"
pg -c "CREATE TABLE contacts (id int PRIMARY KEY, first_name text, last_name text, email text,
         phone text, country text, state text, notes text)" \
    -c "CREATE PUBLICATION contacts FOR TABLE contacts"
table=bench # the table (and publication) a workload writes
transforms=off

REPS=${BENCH_REPS:-3}
topics=("cdc._offsets 1" "cdc._schemas 1" "ceil.pg 8")
for w in w1 w2 w3; do
    for rep in $(seq 1 "$REPS"); do topics+=("cdc.${w}r$rep.public.bench 8"); done
done
for w in w4 w5 w6 w7; do
    for rep in $(seq 1 "$REPS"); do topics+=("cdc.${w}r$rep.public.contacts 8"); done
done
for rep in $(seq 1 "$REPS"); do topics+=("cdc.a${rep}r1.public.bench 8" "cdc.b${rep}r1.public.bench 8"); done
for rep in $(seq 1 "$REPS"); do topics+=("cdc.pr$rep.public.bench 8" "peer.r$rep 8"); done
bench_kafka "${topics[@]}"
echo "# Kafka: $(bench_kafka_name)"
# one source name per workload: each has its own slot, offsets and topic
api=off
api_port=$((20000 + RANDOM % 5000))
export BENCH_API_TOKEN=bench-api-token-0123456789
agent_config() {
    local http=
    [ "$api" = on ] && http=", http: \"127.0.0.1:$api_port\", api: {token_env: BENCH_API_TOKEN, rate_per_s: 0}"
    cat >"$work/agent.yaml" <<EOF
agent: {name: bench, log_level: warn$http}
kafka: {brokers: "$boot", compression: lz4, linger_ms: 50}
sources:
  - name: $1
    type: postgresql
    conninfo: "host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=cdc_test user=cdc"
    password_env: PGPASSWORD
    slot: agent
    publication: $table
    tables:
      - table: public.$table
EOF
    [ "$transforms" = on ] && cat >>"$work/agent.yaml" <<EOF
        transforms: # the demo's (config/crm-erp.yaml)
          - {type: text, column: first_name, case: title}
          - {type: text, column: last_name}
          - {type: email, column: email, lowercase_local: true}
          - {type: country, column: country}
          - {type: phone, column: phone, region_column: country}
          - {type: subdivision, column: state, country_column: country}
          - {type: drop, column: notes}
EOF
    return 0
}

now() { date +%s.%N; }
# Waits until slot is being streamed (active); prints the time it became so.
wait_active() {
    while [ "$(pg -Atc "SELECT active FROM pg_replication_slots WHERE slot_name = '$1'")" != t ]; do
        sleep 0.01
    done
    now
}
# Runs the agent until its slot has confirmed end_lsn; prints "total_s streaming_s cpu_s rss_kb":
# total from process start; streaming from the moment its replication connection is active.
agent_catch_up() {
    local end=$1 t0 ta pid done_ cpu rss
    t0=$(now)
    local prof=()
    prof_n=$((${prof_n:-0} + 1))
    [ -z "${BENCH_PERF:-}" ] || prof=(perf record -q -e cpu-clock -F 4999 -g -o "$BENCH_PERF/agent.$prof_n.data" --)
    [ -z "${BENCH_CALLGRIND:-}" ] || prof=(valgrind -q --tool=callgrind "--callgrind-out-file=$BENCH_CALLGRIND/agent.$prof_n.out" --)
    "${prof[@]}" "$build/cdc-agent" run -c "$work/agent.yaml" >>"$work/agent.log" 2>&1 &
    pid=$!
    ta=$(wait_active agent)
    # one server-side loop instead of a psql process per poll: on two cores, forking a client and
    # a backend every few milliseconds would slow the agent being measured
    pg -c "DO \$\$ BEGIN
             FOR i IN 1..60000 LOOP
               EXIT WHEN (SELECT confirmed_flush_lsn >= '$end' FROM pg_replication_slots
                          WHERE slot_name = 'agent');
               PERFORM pg_sleep(0.005);
             END LOOP; END \$\$"
    done_=$(pg -Atc "SELECT confirmed_flush_lsn >= '$end' FROM pg_replication_slots WHERE slot_name = 'agent'")
    kill -0 "$pid" && [ "$done_" = t ] || { echo "agent did not catch up" >&2; cat "$work/agent.log" >&2; exit 1; }
    local t1 ticks
    t1=$(now)
    ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
    kill -TERM "$pid"
    wait "$pid" || true
    cpu=$(echo "scale=2; $ticks / $(getconf CLK_TCK)" | bc)
    echo "$(echo "$t1 - $t0" | bc) $(echo "$t1 - $ta" | bc) $cpu $rss"
}
# pg_recvlogical to endpos; prints "total_s streaming_s".
recvlogical() {
    local end=$1 t0 ta pid
    t0=$(now)
    pg_recvlogical -h 127.0.0.1 -p "$CDC_TEST_PG_PORT" -U cdc -d cdc_test --slot recv --start \
        -o proto_version=1 -o publication_names=$table --endpos="$end" -f /dev/null --no-loop &
    pid=$!
    ta=$(wait_active recv)
    wait "$pid"
    local t1
    t1=$(now)
    echo "$(echo "$t1 - $t0" | bc) $(echo "$t1 - $ta" | bc)"
}
make_slots() {
    pg -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots" >/dev/null
    pg -c "SELECT 1 FROM pg_create_logical_replication_slot('recv', 'pgoutput')" >/dev/null
    # the agent's slot (and its empty snapshot) before the workload
    : >"$work/agent.log"
    agent_catch_up "$(lsn)" >/dev/null
}
median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
rate() { echo "$1 / $2" | bc; }

# Runs one workload (a shell function) REPS times, each against fresh slots and a fresh source
# name (its own slot, offsets and topic), measuring both clients on the same backlog; prints the
# medians and every run's ratio, since the walsender's own speed varies from run to run.
measure() { # label rows source workload
    local rep end rt rs at as cpu rss
    local recv_s='' recv_t='' agent_s='' agent_t='' cpus='' rsss='' ratios=''
    for rep in $(seq 1 "$REPS"); do
        agent_config "$3r$rep"
        pg -c "TRUNCATE $table"
        make_slots
        "$4"
        end=$(lsn)
        read -r rt rs < <(recvlogical "$end")
        read -r at as cpu rss < <(agent_catch_up "$end")
        recv_s+=" $(rate "$2" "$rs")" recv_t+=" $(rate "$2" "$rt")"
        agent_s+=" $(rate "$2" "$as")" agent_t+=" $(rate "$2" "$at")"
        cpus+=" $cpu" rsss+=" $((rss / 1024))" ratios+=" $(echo "scale=2; $rs / $as" | bc)"
    done
    local rs_m as_m
    rs_m=$(echo "$recv_s" | median) as_m=$(echo "$agent_s" | median)
    agent_rate=$as_m
    printf "%-21s rows=%-7s median of %s, from replication start: pg_recvlogical=%7s rows/s cdc-agent=%7s rows/s ratio=%s (runs:%s) | with start-up: %s vs %s rows/s | agent cpu=%ss peak_rss=%sMB (max)\n" \
        "$1" "$2" "$REPS" "$rs_m" "$as_m" "$(echo "scale=2; $as_m / $rs_m" | bc)" "$ratios" \
        "$(echo "$recv_t" | median)" "$(echo "$agent_t" | median)" "$(echo "$cpus" | median)" \
        "$(echo "$rsss" | tr ' ' '\n' | sort -n | tail -1)"
}

bulk() { # one 200k-row transaction
    pg -c "INSERT INTO bench ($(shape_columns)) $(shape_pg_select 1 200000)"
}
small() { # 20k one-row transactions
    printf '\\set id random(1, 1000000000)\nINSERT INTO bench (%s) %s ON CONFLICT DO NOTHING;\n' \
        "$(shape_columns)" "$(shape_pg_select :id :id | tr '\n' ' ')" >"$work/one.sql"
    pgbench -n -h 127.0.0.1 -p "$CDC_TEST_PG_PORT" -U cdc -c 4 -j 2 -t 5000 -f "$work/one.sql" cdc_test >/dev/null
}
backlog() { # 1M changes in 5 transactions: peak RSS must stay bounded
    local i
    for i in 0 1 2 3 4; do
        pg -c "INSERT INTO bench ($(shape_columns)) $(shape_pg_select $((i * 200000 + 1)) $(((i + 1) * 200000)))"
    done
}

contacts() { # the demo's contacts as people type them: 100k in one transaction, every phone new
    pg -c "INSERT INTO contacts SELECT g, CASE WHEN g % 2 = 0 THEN ' ada ' ELSE 'Ju' || chr(776) || 'rgen' END,
             'Mu' || chr(776) || 'ller  ' || g, ' User' || g || '@Example.COM ', '030 ' || (1000000 + g),
             CASE WHEN g % 2 = 0 THEN 'Germany' ELSE 'DE' END,
             CASE g % 3 WHEN 0 THEN 'Bavaria' WHEN 1 THEN 'BY' ELSE 'DE-BY' END, 'a note'
           FROM generate_series(1, 100000) g"
}
contact_updates() { # CRM traffic: 1000 contacts edited 100 times each (their phone, email and
    # country come again with every change), 100k changes in one transaction
    pg -c "INSERT INTO contacts SELECT g, ' ada ', 'Mu' || chr(776) || 'ller', ' User' || g || '@Example.COM ',
             '030 ' || (1000000 + g), 'Germany', 'Bavaria', '' FROM generate_series(1, 1000) g"
    pg -c "DO \$\$ BEGIN FOR i IN 1..100 LOOP UPDATE contacts SET notes = 'edit ' || i; END LOOP; END \$\$"
}
transforms_pair() { # label rows workload off-source on-source: off, then on, then the ratio
    transforms=off
    measure "$1, transforms off" "$2" "$4" "$3"
    local off=$agent_rate
    transforms=on
    measure "$1, transforms on" "$2" "$5" "$3"
    printf "%-21s the demo's 7 transforms on %s: %s against %s rows/s without: ratio=%s\n" \
        "transforms" "$1" "$agent_rate" "$off" "$(echo "scale=2; $agent_rate / $off" | bc)"
}
# A client of the admin API at RATE calls/s over one kept connection (status, the source, its
# list, the jobs in turn) until killed; prints the calls answered 200 and the others at exit.
api_load() { # rate
    python3 - "$api_port" "$1" <<'PYEOF2' &
import http.client, os, signal, sys, time
port, rate = int(sys.argv[1]), float(sys.argv[2])
paths = ["/v1/status", "/v1/sources", "/v1/jobs", "/v1/sinks"]
ok = other = 0
def done(*_):
    print(f"{ok} {other}", flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, done)
hdr = {"Authorization": "Bearer " + os.environ["BENCH_API_TOKEN"]}
conn, i, t = None, 0, time.monotonic()
while True:
    try:
        conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", paths[i % len(paths)], headers=hdr)
        r = conn.getresponse(); r.read()
        ok, other = (ok + 1, other) if r.status == 200 else (ok, other + 1)
    except OSError:
        conn = None  # the agent between runs: connect again
    i += 1
    t += 1 / rate
    time.sleep(max(0, t - time.monotonic()))
PYEOF2
    bench_kill_pid=$!
}
if [ "${BENCH_ONLY:-}" = api ]; then
    # idle and loaded runs alternate (one of each per round), so drift of the machine hits both
    api=on
    rounds=$REPS
    REPS=1
    idles='' loads=''
    for i in $(seq 1 "$rounds"); do
        measure "1M changes, API idle" 1000000 "a$i" backlog
        idles+=" $agent_rate"
        api_load 50 >"$work/api_load.out"
        measure "1M changes, 50 API/s" 1000000 "b$i" backlog
        loads+=" $agent_rate"
        kill -TERM "$bench_kill_pid"
        wait "$bench_kill_pid" || true
        read -r ok other <"$work/api_load.out"
        calls_ok=$((${calls_ok:-0} + ok)) calls_other=$((${calls_other:-0} + other))
    done
    idle=$(echo "$idles" | median) load=$(echo "$loads" | median)
    printf "%-21s 50 API calls/s (%s answered 200, %s other) while the agent streams 1M changes: median %s against %s rows/s idle (rounds:%s |%s): ratio=%s\n" \
        "admin API" "$calls_ok" "$calls_other" "$load" "$idle" "$rounds" "$loads vs$idles" \
        "$(echo "scale=3; $load / $idle" | bc)"
    exit 0
fi
# cdc-agent against the Python peer (tests/bench/pg_peer.py: wal2json, psycopg2, confluent-kafka)
# on the bulk workload, each from its own slot and into its own 8-partition topic, alternating.
if [ "${BENCH_ONLY:-}" = peer ]; then
    agent_r='' peer_r='' agent_c='' peer_c='' cpu_ratios=''
    for rep in $(seq 1 "$REPS"); do
        agent_config "pr$rep"
        pg -c "TRUNCATE $table"
        make_slots
        pg -c "SELECT 1 FROM pg_create_logical_replication_slot('peer', 'wal2json')" >/dev/null
        bulk
        end=$(lsn)
        read -r at _ cpu _ < <(agent_catch_up "$end")
        read -r pn pt pc < <(/usr/bin/python3 "$root/tests/bench/pg_peer.py" \
            "host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=cdc_test user=cdc" peer "$boot" "peer.r$rep" 200000 |
            tr '=' ' ' | awk '{print $2, $4, $6}')
        [ "$pn" = 200000 ] || { echo "the peer sent $pn changes" >&2; exit 1; }
        agent_r+=" $(rate 200000 "$at")" peer_r+=" $(rate 200000 "$pt")"
        agent_c+=" $cpu" peer_c+=" $pc" cpu_ratios+=" $(echo "scale=2; $cpu / $pc" | bc)"
    done
    printf "%-21s rows=200000 median of %s, with start-up: cdc-agent=%s rows/s at %s CPU-s | Python peer (wal2json, psycopg2, confluent-kafka; at-least-once)=%s rows/s at %s CPU-s | agent CPU / peer CPU=%s (runs:%s)\n" \
        "peer" "$REPS" "$(echo "$agent_r" | median)" "$(echo "$agent_c" | median)" \
        "$(echo "$peer_r" | median)" "$(echo "$peer_c" | median)" \
        "$(echo "scale=2; $(echo "$agent_c" | median) / $(echo "$peer_c" | median)" | bc)" "$cpu_ratios"
    exit 0
fi
if [ "${BENCH_ONLY:-}" = transforms ]; then
    table=contacts
    transforms_pair "contact edits" 101000 contact_updates w4 w5
    transforms_pair "new contacts" 100000 contacts w6 w7
    exit 0
fi
measure "bulk (1 x 200k rows)" 200000 w1 bulk
[ "${BENCH_ONLY:-}" != bulk ] || exit 0
# the Kafka ceiling on the same broker: the bulk workload's records sent again from memory
read -r krate kcpu < <(kafka_ceiling "cdc.w1r$REPS.public.bench" ceil.pg)
printf "%-21s rows=%-7s cdc-bench-produce (the bulk records again, first send to last commit)=%7s rows/s cpu=%ss | cdc-agent bulk (from replication start) to it: ratio=%s\n" \
    "kafka ceiling" 200000 "$krate" "$kcpu" "$(echo "scale=2; $agent_rate / $krate" | bc)"
measure "small (20k x 1 row)" 20000 w2 small
measure "backlog (1M changes)" 1000000 w3 backlog

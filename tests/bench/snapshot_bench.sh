#!/usr/bin/env bash
# Initial snapshot benchmark (not a timed test): in one run, one table of BENCH_ROWS rows (default
# 200,000; BENCH_SHAPE, tests/bench/shapes.sh) in each database, read by
# - the server's own bulk read into /dev/null: PostgreSQL `COPY (SELECT * FROM t) TO STDOUT`
#   (psql), MariaDB `SELECT * FROM t` streamed by `mariadb --quick`;
# - cdc-agent's initial snapshot (snapshot: initial) into an 8-partition topic (the mock Kafka
#   cluster in its own process, or a real broker with BENCH_KAFKA=real), timed from its start to
#   the commit of the Kafka transaction that holds the last row (its debug log), then checked:
#   the topic holds every row;
# - the Kafka ceiling: cdc-bench-produce sending those records again (tests/bench/lib.sh).
# Prints rows/s, the ratios to the bulk read and to the Kafka ceiling, cdc-agent's CPU seconds and
# peak RSS; each side runs BENCH_REPS times (default 3), alternating; medians.
# The mock keeps about 5 MB a partition: 1M contacts rows need BENCH_KAFKA=real.
#   tests/bench/snapshot_bench.sh [BUILD_DIR]     (BUILD_DIR defaults to ./build)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
work=$(mktemp -d)
ROWS=${BENCH_ROWS:-200000}
REPS=${BENCH_REPS:-3}
. "$root/tests/bench/lib.sh"
bench_servers pg my
. "$root/tests/bench/shapes.sh"
echo "# rows: $SHAPE ($(shape_columns)), $ROWS in each database"
now() { date +%s.%N; }
ts() { date -d "$1" +%s.%N; } # the agent's log timestamps
median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
pg -c "$(shape_pg_ddl snap)" -c "INSERT INTO snap ($(shape_columns)) $(shape_pg_select 1 "$ROWS")" \
   -c "CREATE PUBLICATION snap FOR TABLE snap" -c "VACUUM ANALYZE snap" >/dev/null
my -e "$(shape_my_ddl snap); INSERT INTO snap ($(shape_columns)) $(shape_my_select 1 "$ROWS"); ANALYZE TABLE snap" >/dev/null

topics=("cdc._offsets 1" "cdc._schemas 1" "ceil.pg 8" "ceil.my 8")
for rep in $(seq 1 "$REPS"); do topics+=("cdc.p$rep.public.snap 8" "cdc.m$rep.cdc_test.snap 8"); done
bench_kafka "${topics[@]}"
echo "# Kafka: $(bench_kafka_name)"

config() { # pg|my source-name
    local src
    if [ "$1" = pg ]; then
        src="{name: $2, type: postgresql, conninfo: \"host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=cdc_test user=cdc\",
     password_env: PGPASSWORD, slot: $2, publication: snap, tables: [public.snap], snapshot: initial}"
    else
        src="{name: $2, type: mysql, host: 127.0.0.1, port: $CDC_TEST_MYSQL_PORT, user: cdc, password_env: MYPW,
     database: cdc_test, server_id: 4243, tables: [cdc_test.snap], snapshot: initial}"
    fi
    cat >"$work/agent.yaml" <<EOF
agent: {name: bench, log_level: debug}
kafka: {brokers: "$boot", compression: lz4, linger_ms: 50}
sources:
  - $src
EOF
}
# Runs the agent until its Kafka transactions (debug log) hold every row; prints "seconds
# snapshot_seconds cpu_s rss_kb": from the process start, and from the snapshot's start (after
# start-up), to the last commit.
published=0 last_ts=
all_published() {
    [[ $1 == *"kafka transaction records="* ]] || return 1
    local n=${1##*records=}
    published=$((published + ${n%% *}))
    last_ts=${1%% *}
    [ "$published" -ge "$ROWS" ]
}
agent_run() {
    local t0 ticks rss
    published=0 last_ts=
    : >"$work/agent.log"
    t0=$(now)
    run_until "$work/agent.log" all_published "$build/cdc-agent" run -c "$work/agent.yaml" ||
        { cat "$work/agent.log" >&2; exit 1; }
    ticks=$(awk '{print $14 + $15}' "/proc/$run_pid/stat")
    rss=$(awk '/VmHWM/ {print $2}' "/proc/$run_pid/status")
    run_stop "$work/agent.log"
    local start # the snapshot's start: the slot made (PostgreSQL), the consistent read begun (MariaDB)
    start=$(grep -m1 -e 'created consistent_point=.* snapshot=yes' -e 'initial snapshot at' "$work/agent.log" | cut -d' ' -f1)
    echo "$(echo "$(ts "$last_ts") - $t0" | bc) $(echo "$(ts "$last_ts") - $(ts "$start")" | bc)" \
        "$(echo "scale=2; $ticks / $(getconf CLK_TCK)" | bc) $rss"
}
timed() { local t0; t0=$(now); "$@" >/dev/null; echo "$(now) - $t0" | bc; }
pg_copy() { pg -c "COPY (SELECT * FROM snap) TO STDOUT"; }
my_quick() { my --quick -N -e "SELECT * FROM snap"; }

for db in pg my; do
    lim='' agent='' inner='' cpus='' rsss='' ratios=''
    for rep in $(seq 1 "$REPS"); do
        if [ "$db" = pg ]; then
            lt=$(timed pg_copy) name=p$rep topic=cdc.p$rep.public.snap
        else
            lt=$(timed my_quick) name=m$rep topic=cdc.m$rep.cdc_test.snap
        fi
        config "$db" "$name"
        read -r at st cpu rss < <(agent_run)
        got=$("$build/tests/cdc-topic-dump" "$boot" "$topic" | wc -l)
        [ "$got" -eq "$ROWS" ] || { echo "$topic holds $got records, expected $ROWS" >&2; exit 1; }
        [ "$db" != pg ] || pg -c "SELECT pg_drop_replication_slot('$name')" >/dev/null
        lim+=" $(echo "$ROWS / $lt" | bc)" agent+=" $(echo "$ROWS / $at" | bc)" inner+=" $(echo "$ROWS / $st" | bc)"
        cpus+=" $cpu" rsss+=" $((rss / 1024))" ratios+=" $(echo "scale=2; $lt / $at" | bc)"
    done
    read -r kc kcpu < <(kafka_ceiling "$topic" "ceil.$db")
    l=$(echo "$lim" | median) a=$(echo "$agent" | median)
    printf "%-10s rows=%s median of %s: bulk read=%8s rows/s cdc-agent snapshot=%7s rows/s ratio=%s (runs:%s) | from the snapshot's start: %s rows/s | Kafka ceiling=%s rows/s (ratio %s) | agent cpu=%ss peak_rss=%sMB (max)\n" \
        "$([ "$db" = pg ] && echo postgresql || echo mariadb)" "$ROWS" "$REPS" "$l" "$a" \
        "$(echo "scale=2; $a / $l" | bc)" "$ratios" "$(echo "$inner" | median)" "$kc" "$(echo "scale=2; $a / $kc" | bc)" \
        "$(echo "$cpus" | median)" "$(echo "$rsss" | tr ' ' '\n' | sort -n | tail -1)"
done

#!/usr/bin/env bash
# Sink benchmark (not a timed test): in one run, for each target database, compares the limit (a
# client streaming the same 200k rows into the target as multi-row INSERT ... ON CONFLICT / ON
# DUPLICATE KEY UPDATE statements of batch_size rows, one transaction each: psql / mariadb reading
# pre-built SQL) with cdc-agent's sink draining those 200k events from Kafka (8 partitions, lz4;
# a mock cluster in its own process) into an empty table. Prints rows/s, the ratio, the agent's
# CPU seconds and peak RSS. Each side runs BENCH_REPS times (default 3), alternating; medians.
# Also printed: the Kafka consume ceiling, a plain consumer (cdc-topic-dump) reading the topic.
#   tests/bench/sink_bench.sh [BUILD_DIR]     (BUILD_DIR defaults to ./build)
# BENCH_SHAPE (narrow, contacts, wide: tests/bench/shapes.sh) picks the rows.
# BENCH_PARTS (default "pg my lat") picks the parts: PostgreSQL target, MariaDB target, latency;
# pgcopy: the PostgreSQL target against COPY into a temporary table then one INSERT ... SELECT
# ... ON CONFLICT a batch (the limit of a bulk loader);
# pglww and mylww: the same targets with the route's conflict check on (conflict: lww, as in
# two-way sync), to set its cost against the plain sink of the same run, into an empty table (new
# rows: one lookup per statement); pglwwx and mylwwx: the same onto the rows already there (every
# row locked and compared, as for updates).
# BENCH_SINK_AGENT and BENCH_SINK_KAFKA add keys to the sink's agent and kafka sections (e.g.
# BENCH_SINK_AGENT="memory_mb: 64", BENCH_SINK_KAFKA="properties: {fetch.max.bytes: '1048576'}").
# A 1M-change backlog (the sink's peak RSS while it drains it): BENCH_ROWS=1000000 BENCH_REPS=1
# BENCH_PARTITIONS=40 BENCH_PARTS=my (the mock keeps about 5 MB per partition: 40 partitions hold
# the whole backlog; the run waits until the topic holds every row before the sink starts).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
work=$(mktemp -d)
ROWS=${BENCH_ROWS:-200000}
BATCH=${BENCH_BATCH:-1000}
REPS=${BENCH_REPS:-3}
NPART=${BENCH_PARTITIONS:-8}
PARTS=" ${BENCH_PARTS:-pg my lat} "
part() { [[ $PARTS == *" $1 "* ]]; }
. "$root/tests/bench/lib.sh"
bench_servers pg my
now() { date +%s.%N; }
median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

. "$root/tests/bench/shapes.sh"
echo "# rows: $SHAPE ($(shape_columns))"
cols=$(shape_columns)
pg -c "$(shape_pg_ddl src)" -c "INSERT INTO src ($cols) $(shape_pg_select 1 "$ROWS")" \
   -c "CREATE DATABASE sinkbench" >/dev/null
DB=sinkbench pg -c "$(shape_pg_ddl dst)" >/dev/null
my -e "$(shape_my_ddl dst)"

# the limits' input, built before anything is timed: one line of BATCH rows per statement for
# the multi-row upserts, and for PostgreSQL's COPY-then-merge the rows in COPY's text format, each
# BATCH copied into a temporary table and merged in one transaction
pg -Atc "SELECT string_agg($(shape_pg_tuple), ',' ORDER BY id)
         FROM src GROUP BY (id - 1) / $BATCH ORDER BY min(id)" >"$work/values"
awk -v cols="$cols" -v set="$(shape_set pg)" '{print "BEGIN; INSERT INTO dst (" cols ") VALUES " $0 " ON CONFLICT (id) DO UPDATE SET " set "; COMMIT;"}' \
    "$work/values" >"$work/pg.sql"
awk -v cols="$cols" -v set="$(shape_set my)" '{print "START TRANSACTION; INSERT INTO dst (" cols ") VALUES " $0 " ON DUPLICATE KEY UPDATE " set "; COMMIT;"}' \
    "$work/values" >"$work/my.sql"
pg -c "COPY (SELECT $cols FROM src ORDER BY id) TO STDOUT" |
    awk -v n="$BATCH" -v cols="$cols" -v set="$(shape_set pg)" '
        (NR - 1) % n == 0 { if (NR > 1) print "\\.\nINSERT INTO dst SELECT * FROM stage ON CONFLICT (id) DO UPDATE SET " set "; COMMIT;"
                            print "BEGIN; CREATE TEMP TABLE stage (LIKE dst) ON COMMIT DROP; COPY stage (" cols ") FROM STDIN;" }
        { print }
        END { print "\\.\nINSERT INTO dst SELECT * FROM stage ON CONFLICT (id) DO UPDATE SET " set "; COMMIT;" }' >"$work/pg_copy.sql"

# the latency runs' topics: a source and a sink of their own for each rate and direction
lat_topics() {
    local r
    for r in ${LAT_RATES:-1000 5000 10000}; do
        echo "cdc.crmone-way-$r.public.lat:8 cdc._dlq.latone-way-$r:1 cdc.erpmy-$r.cdc_test.latm:8 cdc._dlq.latmy-$r:1"
    done
    r=${LAT_RATES:-1000}
    r=${r%% *}
    echo "cdc.crmtwo-way-$r.public.lat:8 cdc.erptwo-way-$r.cdc_test.lat:8 cdc._dlq.lattwo-way-$r:1 cdc._dlq.backtwo-way-$r:1"
}
# the events: the agent's PostgreSQL source snapshots src into an 8-partition topic
mapfile -t lat_specs < <(lat_topics | tr ' ' '\n' | tr ':' ' ')
bench_kafka "cdc._offsets 1" "cdc._schemas 1" "cdc.crm.public.src $NPART" "cdc._dlq.pg 1" "cdc._dlq.my 1" \
    "cdc._conflicts 1" "${lat_specs[@]}"
echo "# Kafka: $(bench_kafka_name)"
cat >"$work/source.yaml" <<EOF
agent: {name: bench}
kafka: {brokers: "$boot", compression: lz4, linger_ms: 50}
sources:
  - {name: crm, type: postgresql, conninfo: "host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=cdc_test user=cdc",
     password_env: PGPASSWORD, tables: [public.src], slot: src, publication: src}
EOF
"$build/cdc-agent" run -c "$work/source.yaml" >"$work/source.log" 2>&1 &
pid=$!
until grep -q "snapshot table=public.src rows=$ROWS" "$work/source.log"; do
    kill -0 "$pid" || { cat "$work/source.log" >&2; exit 1; }
    sleep 0.2
done
for i in $(seq 1 600); do
    [ "$("$build/tests/cdc-topic-dump" "$boot" cdc.crm.public.src | wc -l)" -ge "$ROWS" ] && break
    sleep 0.5
done
kill -TERM "$pid"
wait "$pid" || true
# what reading the topic costs alone: a plain consumer (cdc-topic-dump) taking every record
t0=$(now)
"$build/tests/cdc-topic-dump" "$boot" cdc.crm.public.src >/dev/null
echo "# Kafka consume ceiling (cdc-topic-dump, $ROWS records): $(echo "$ROWS / ($(now) - $t0)" | bc) rows/s"

sink_config() { # name type connection target [route keys]
    cat >"$work/sink.yaml" <<EOF
agent: {name: bench${BENCH_SINK_AGENT:+, $BENCH_SINK_AGENT}}
kafka: {brokers: "$boot", compression: lz4${BENCH_SINK_KAFKA:+, $BENCH_SINK_KAFKA}}
sinks:
  - name: $1
    type: $2
$3
    batch_size: $BATCH
    batch_ms: 100
    routes:
      - {from: crm.public.src, to: $4${5:+, $5}}
EOF
}
# BENCH_PERF=DIR profiles the sink's runs (perf record -e cpu-clock, DIR/sink.TIME.data), and
# BENCH_CALLGRIND=DIR counts their instructions (valgrind, DIR/sink.TIME.out; BENCH_ROWS=20000);
# their CPU and RSS figures are then the profiler's.
# Runs the sink until it logs that it caught up; prints "seconds cpu_s rss_kb applying_s": from
# process start, and (a cross-check by the agent's own clock) from its "applying" log line to its
# "caught up" one.
caught_up() { [[ $1 == *"caught up applied=$ROWS"* ]]; }
# BENCH_RSS_TRACE=1 also prints the sink's RSS once a second (MB) to stderr: flat or growing.
rss_trace() {
    local p
    while sleep 1; do
        p=$(pgrep -f "cdc-agent run -c $work/sink.yaml") || continue
        awk '/VmRSS/ {printf " %d", $2 / 1024}' "/proc/$p/status" 2>/dev/null || true
    done
}
sink_run() {
    local t0 ticks rss t1 tracer= batches
    : >"$work/sink.log"
    [ -n "${BENCH_RSS_TRACE:-}" ] && { rss_trace >"$work/rss.trace" & tracer=$!; }
    t0=$(now)
    local prof=()
    [ -z "${BENCH_PERF:-}" ] || prof=(perf record -q -e cpu-clock -F 4999 -g -o "$BENCH_PERF/sink.$(date +%s%N).data" --)
    [ -z "${BENCH_CALLGRIND:-}" ] || prof=(valgrind -q --tool=callgrind "--callgrind-out-file=$BENCH_CALLGRIND/sink.$(date +%s%N).out" --)
    run_until "$work/sink.log" caught_up "${prof[@]}" "$build/cdc-agent" run -c "$work/sink.yaml" ||
        { cat "$work/sink.log" >&2; exit 1; }
    t1=$(now)
    [ -n "$tracer" ] && { kill "$tracer"; echo "sink RSS once a second (MB):$(cat "$work/rss.trace")" >&2; }
    ticks=$(awk '{print $14 + $15}' "/proc/$run_pid/stat")
    rss=$(awk '/VmHWM/ {print $2}' "/proc/$run_pid/status")
    run_stop "$work/sink.log"
    local a b
    a=$(date -d "$(grep -m1 ' applying ' "$work/sink.log" | cut -d' ' -f1)" +%s.%N)
    b=$(date -d "$(grep -m1 'caught up applied' "$work/sink.log" | cut -d' ' -f1)" +%s.%N)
    batches=$(grep -m1 -o 'caught up applied=.* batches=[0-9]*' "$work/sink.log" | sed 's/.*batches=//' || true)
    echo "$(echo "$t1 - $t0" | bc) $(echo "scale=2; $ticks / $(getconf CLK_TCK)" | bc) $rss $(echo "$b - $a" | bc) $batches"
}
timed() { local t0; t0=$(now); "$@" >/dev/null; echo "$(now) - $t0" | bc; }

measure() { # label reset limit-command...
    local label=$1 reset=$2 rep lt at cpu rss inner nb
    shift 2
    local lim='' agent='' cpus='' rsss='' ratios='' inners='' sizes=''
    for rep in $(seq 1 "$REPS"); do
        "$reset"
        lt=$(timed "$@")
        "$reset"
        read -r at cpu rss inner nb < <(sink_run)
        [ -z "$nb" ] || sizes+=" $((ROWS / nb))"
        inners+=" $(echo "$ROWS / $inner" | bc)"
        lim+=" $(echo "$ROWS / $lt" | bc)" agent+=" $(echo "$ROWS / $at" | bc)"
        cpus+=" $cpu" rsss+=" $((rss / 1024))" ratios+=" $(echo "scale=2; $lt / $at" | bc)"
    done
    local l_m a_m
    l_m=$(echo "$lim" | median) a_m=$(echo "$agent" | median)
    printf "%-10s rows=%s batch=%s median of %s: bulk upsert limit=%7s rows/s cdc-agent sink=%7s rows/s ratio=%s (runs:%s) | by the agent's log: %s rows/s from its first batch | agent cpu=%ss peak_rss=%sMB (max) rows/batch=%s\n" \
        "$label" "$ROWS" "$BATCH" "$REPS" "$l_m" "$a_m" "$(echo "scale=2; $a_m / $l_m" | bc)" \
        "$ratios" "$(echo "$inners" | median)" "$(echo "$cpus" | median)" \
        "$(echo "$rsss" | tr ' ' '\n' | sort -n | tail -1)" "$( [ -n "$sizes" ] && echo "$sizes" | median || echo '?')"
}
pg_reset() { DB=sinkbench pg -c "TRUNCATE dst" -c "DROP TABLE IF EXISTS cdc_sink_offsets" >/dev/null; }
my_reset() { my -e "TRUNCATE dst; DROP TABLE IF EXISTS cdc_sink_offsets"; }
pg_keep() { DB=sinkbench pg -c "DROP TABLE IF EXISTS cdc_sink_offsets" >/dev/null; }
my_keep() { my -e "DROP TABLE IF EXISTS cdc_sink_offsets"; }
pg_limit() { DB=sinkbench pg -f "$work/pg.sql"; }
pg_copy_limit() { DB=sinkbench pg -f "$work/pg_copy.sql"; }
my_limit() { my <"$work/my.sql"; }

lww="conflict: lww, lww_column: $(shape_lww_column), tie_break: [crm]"
pg_conn="    conninfo: \"host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=sinkbench user=cdc\"
    password_env: PGPASSWORD"
my_conn="    host: 127.0.0.1
    port: $CDC_TEST_MYSQL_PORT
    user: cdc
    password_env: MYPW
    database: cdc_test"
if part pg; then
    sink_config pg postgresql "$pg_conn" public.dst
    measure postgresql pg_reset pg_limit
fi
if part pgcopy; then # the same sink against COPY into a temporary table, then one merge a batch
    sink_config pg postgresql "$pg_conn" public.dst
    measure pg-vs-copy pg_reset pg_copy_limit
fi
if part pglww; then
    sink_config pg postgresql "$pg_conn" public.dst "$lww"
    measure pg+lww pg_reset pg_limit
fi
if part pglwwx; then
    sink_config pg postgresql "$pg_conn" public.dst "$lww"
    measure pg+lww-x pg_keep pg_limit
fi
if part my; then
    sink_config my mysql "$my_conn" cdc_test.dst
    measure mariadb my_reset my_limit
fi
if part mylww; then
    sink_config my mysql "$my_conn" cdc_test.dst "$lww"
    measure my+lww my_reset my_limit
fi
if part mylwwx; then
    sink_config my mysql "$my_conn" cdc_test.dst "$lww"
    measure my+lww-x my_keep my_limit
fi
part lat || exit 0

# End-to-end latency at steady rates (LAT_RATES changes/s, default "1000 5000 10000", LAT_S
# seconds each, default 20), in both directions: PostgreSQL -> Kafka -> MariaDB (pgbench writers,
# each row carrying its commit-side clock_timestamp()) and MariaDB -> Kafka -> PostgreSQL (one
# client fed at the rate, each row carrying NOW(6)); the target fills applied with its clock when
# the sink writes the row (one clock: both servers run here). Then PostgreSQL -> MariaDB two-way
# at the first rate: the same route with its conflict check (lww) and the way back configured (a
# MariaDB source reading the table the sink writes, skipping what the sink applied, and a sink
# into PostgreSQL), so the figures show what two-way sync costs the same changes. Each line gives
# p50 / p99 / max from the sorted latencies and their histogram (ms buckets). Exactly-once on:
# Kafka transactions at the source, the target's offsets row in each sink transaction.
LAT_RATES=${LAT_RATES:-1000 5000 10000}
LAT_S=${LAT_S:-20}
# The latencies (us, one a line, sorted) of FILE as "p50=.. p99=.. max=.. | histogram".
lat_report() { # file
    awk '{v[NR] = $1} END {
        if (!NR) { print "no rows"; exit }
        p99 = int(NR * 0.99)
        if (p99 < 1) p99 = 1
        printf "p50=%.0f ms p99=%.0f ms max=%.0f ms | ms:", v[int((NR + 1) * 0.5)] / 1000, v[p99] / 1000, v[NR] / 1000
        split("5 10 20 40 80 160 320", b, " ")
        for (i = 1; i <= NR; i++) { ms = v[i] / 1000; for (k = 1; k <= 7 && ms >= b[k]; k++); h[k]++ }
        for (k = 1; k <= 8; k++) printf " %s%s=%d", k == 8 ? ">=" : "<", k == 8 ? b[7] : b[k], h[k] + 0
    }' "$1"
}
lat_agent_start() { # name: starts the agent on $work/lat.yaml until sink $1 applies
    "$build/cdc-agent" run -c "$work/lat.yaml" >"$work/lat.log" 2>&1 &
    pid=$!
    until grep -q "sink=$1 applying" "$work/lat.log"; do
        kill -0 "$pid" 2>/dev/null || { grep -v debug "$work/lat.log" | tail -5 >&2; exit 1; }
        sleep 0.1
    done
    sleep 1
}
lat_agent_stop() { # sets lat_cpu: the agent's CPU seconds (not in a subshell: it waits for the agent)
    kill -0 "$pid" 2>/dev/null || { grep -v debug "$work/lat.log" | tail -5 >&2; exit 1; }
    local ticks
    ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    kill -TERM "$pid"
    wait "$pid" || true
    lat_cpu=$(echo "scale=2; $ticks / $(getconf CLK_TCK)" | bc)
}
pg_lat_run() { # one-way | two-way, rate
    local n=$1-$2 rate=$2 lww="" back=""
    pg -c "DROP TABLE IF EXISTS lat; CREATE TABLE lat (id bigserial PRIMARY KEY, t timestamptz NOT NULL);
           ALTER TABLE lat REPLICA IDENTITY FULL" >/dev/null
    my -e "DROP TABLE IF EXISTS lat; CREATE TABLE lat (id BIGINT PRIMARY KEY, t DATETIME(6) NOT NULL,
             applied DATETIME(6) NOT NULL DEFAULT NOW(6))"
    if [ "$1" = two-way ]; then
        lww=", conflict: lww, lww_column: t, tie_break: [crm$n, erp$n]"
        back="  - {name: erp$n, type: mysql, host: 127.0.0.1, port: $CDC_TEST_MYSQL_PORT, user: cdc, password_env: MYPW,
     database: cdc_test, server_id: 4343, tables: [cdc_test.lat]}"
    fi
    cat >"$work/lat.yaml" <<EOF
agent: {name: latency-$n}
kafka: {brokers: "$boot", compression: lz4, linger_ms: 5}
sources:
  - {name: crm$n, type: postgresql, conninfo: "host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=cdc_test user=cdc",
     password_env: PGPASSWORD, tables: [public.lat], slot: lat_${n//-/_}, publication: lat_${n//-/_}}
$back
sinks:
  - {name: lat$n, type: mysql, host: 127.0.0.1, port: $CDC_TEST_MYSQL_PORT, user: cdc, password_env: MYPW,
     database: cdc_test, batch_size: $BATCH, batch_ms: 10, routes: [{from: crm$n.public.lat, to: cdc_test.lat$lww}]}
EOF
    [ "$1" = one-way ] || cat >>"$work/lat.yaml" <<EOF
  - {name: back$n, type: postgresql, conninfo: "host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=cdc_test user=cdc",
     password_env: PGPASSWORD, batch_ms: 10, routes: [{from: erp$n.cdc_test.lat, to: public.lat,
     columns: {id: id, t: t}$lww}]}
EOF
    lat_agent_start "lat$n"
    echo "INSERT INTO lat (t) VALUES (clock_timestamp());" >"$work/lat.sql"
    # the harness server runs with synchronous_commit=off, which holds WAL (and so the walsender)
    # for up to wal_writer_delay (200 ms); the writers here commit as a production database does
    PGOPTIONS="-c synchronous_commit=on" pgbench -n -h 127.0.0.1 -p "$CDC_TEST_PG_PORT" -U cdc -c 4 -j 2 -R "$rate" -T "$LAT_S" -f "$work/lat.sql" \
        cdc_test >"$work/pgbench.log" 2>&1
    local want i cpu
    want=$(pg -Atc "SELECT count(*) FROM lat")
    for i in $(seq 1 300); do
        [ "$(my -N -e "SELECT COUNT(*) FROM lat")" = "$want" ] && break
        sleep 0.1
    done
    sleep 1 # an echo would be back in PostgreSQL by now
    lat_agent_stop
    cpu=$lat_cpu
    [ "$(pg -Atc "SELECT count(*) FROM lat")" = "$want" ] || { echo "$n: rows came back to PostgreSQL" >&2; exit 1; }
    my -N -e "SELECT TIMESTAMPDIFF(MICROSECOND, t, applied) FROM lat ORDER BY 1" >"$work/lat.us"
    printf "latency    PostgreSQL -> Kafka -> MariaDB %s at %s changes/s (%s written in %s s): %s of %s rows applied, %s, agent cpu=%ss\n" \
        "$1" "$rate" "$want" "$LAT_S" "$(wc -l <"$work/lat.us")" "$want" "$(lat_report "$work/lat.us")" "$cpu"
}
# Writes "INSERT INTO latm (t) VALUES (NOW(6));" at RATE a second for S seconds on stdout.
my_writer() { # rate seconds
    python3 - "$1" "$2" <<'PYEOF2'
import sys, time
rate, secs = float(sys.argv[1]), float(sys.argv[2])
out = sys.stdout
out.write("SET time_zone = '+00:00';\n")
start = time.monotonic()
sent = 0
while True:
    now = time.monotonic() - start
    if now >= secs:
        break
    due = int(now * rate)
    if due > sent:
        out.write("INSERT INTO latm (t) VALUES (NOW(6));\n" * (due - sent))
        out.flush()
        sent = due
    time.sleep(0.0005)
PYEOF2
}
my_lat_run() { # rate: MariaDB -> Kafka -> PostgreSQL, one-way
    local n=my-$1 rate=$1
    my -e "DROP TABLE IF EXISTS latm; CREATE TABLE latm (id BIGINT AUTO_INCREMENT PRIMARY KEY, t DATETIME(6) NOT NULL)"
    pg -c "DROP TABLE IF EXISTS latm; CREATE TABLE latm (id bigint PRIMARY KEY, t timestamp NOT NULL,
             applied timestamptz NOT NULL DEFAULT clock_timestamp())" >/dev/null
    cat >"$work/lat.yaml" <<EOF
agent: {name: latency-$n}
kafka: {brokers: "$boot", compression: lz4, linger_ms: 5}
sources:
  - {name: erp$n, type: mysql, host: 127.0.0.1, port: $CDC_TEST_MYSQL_PORT, user: cdc, password_env: MYPW,
     database: cdc_test, server_id: 4344, tables: [cdc_test.latm]}
sinks:
  - {name: lat$n, type: postgresql, conninfo: "host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=cdc_test user=cdc",
     password_env: PGPASSWORD, batch_size: $BATCH, batch_ms: 10, routes: [{from: erp$n.cdc_test.latm, to: public.latm}]}
EOF
    lat_agent_start "lat$n"
    my_writer "$rate" "$LAT_S" | my
    local want i cpu
    want=$(my -N -e "SELECT COUNT(*) FROM latm")
    for i in $(seq 1 300); do
        [ "$(pg -Atc "SELECT count(*) FROM latm")" = "$want" ] && break
        sleep 0.1
    done
    lat_agent_stop
    cpu=$lat_cpu
    pg -Atc "SELECT (extract(epoch FROM applied - (t AT TIME ZONE 'UTC')) * 1000000)::bigint FROM latm ORDER BY 1" >"$work/lat.us"
    printf "latency    MariaDB -> Kafka -> PostgreSQL one-way at %s changes/s (%s written in %s s): %s of %s rows applied, %s, agent cpu=%ss\n" \
        "$rate" "$want" "$LAT_S" "$(wc -l <"$work/lat.us")" "$want" "$(lat_report "$work/lat.us")" "$cpu"
}
for rate in $LAT_RATES; do
    pg_lat_run one-way "$rate"
    my_lat_run "$rate"
done
pg_lat_run two-way "${LAT_RATES%% *}"

#!/usr/bin/env bash
# Two-way sync under a random workload: one table in PostgreSQL (CRM, REPLICA IDENTITY FULL, id
# from a sequence) and one in MariaDB (ERP, erp_id AUTO_INCREMENT), each holding the other's key
# beside its own (link), synced both ways with conflict: lww by updated_at (ties to crm). Users
# name rows by a business key (uid, unique: crm-N or erp-N; a deleted one is never used again):
# both sides insert, update rows among the newest of either side and delete now and then, each
# statement its own transaction, for CDC_TWO_WAY_SECONDS (default 120) with one agent for both databases killed
# (SIGKILL) at random moments, then for half that time with one agent per database (sidecars),
# each killed at random too. Afterwards:
# - both sides are equal, row for row and column for column;
# - no echo: every c/u event in the CRM topic was written by a CRM user (origin = 'crm'), and
#   the same for the ERP;
# - conflicts happened and every record in cdc._conflicts is resolved as lww says (the newer
#   updated_at wins, a tie goes to crm, a delete beats an edit, an edit does not bring back a
#   deleted row).
# A 10-minute run by hand: CDC_TWO_WAY_SECONDS=600 ctest -R integration_two_way$
. "$(dirname "$0")/../harness/agent_test.sh"
trap 'jobs -p | xargs -r kill -9 2>/dev/null || true; cleanup_tmp' EXIT
seconds=${CDC_TWO_WAY_SECONDS:-120}

pg_reset tw2 tw2
pg -c "DELETE FROM cdc_id_map WHERE map = 'row'" >/dev/null 2>&1 || true
pg -c "CREATE TABLE tw2 (id serial PRIMARY KEY, erp_id int UNIQUE, uid text NOT NULL UNIQUE,
         name text, v int NOT NULL, origin text NOT NULL, wid int NOT NULL, updated_at timestamptz NOT NULL);
       ALTER TABLE tw2 REPLICA IDENTITY FULL" >/dev/null
my -e "DELETE FROM cdc_id_map WHERE map = 'row'" 2>/dev/null || true
my -e "DROP TABLE IF EXISTS tw2; CREATE TABLE tw2 (erp_id INT AUTO_INCREMENT PRIMARY KEY,
         crm_id INT UNIQUE, uid VARCHAR(20) NOT NULL UNIQUE, name VARCHAR(100), v INT NOT NULL,
         origin VARCHAR(10) NOT NULL, wid INT NOT NULL, updated_at DATETIME(6) NOT NULL) AUTO_INCREMENT = 100000"
mock_start "cdc._offsets 1" "cdc._schemas 1" "cdc._conflicts 1" "cdc._links 2" "cdc.crm.public.tw2 4" \
    "cdc.erp.cdc_test.tw2 4" "cdc._dlq.towerp 1" "cdc._dlq.towcrm 1"

crm_source="  - {name: crm, type: postgresql, conninfo: \"host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=cdc_test user=cdc\",
     password_env: PGPASSWORD, tables: [public.tw2], slot: tw2, publication: tw2, heartbeat_ms: 1000}"
erp_source="  - {name: erp, type: mysql, host: 127.0.0.1, port: $CDC_TEST_MYSQL_PORT, user: cdc, password_env: MYPW,
     database: cdc_test, server_id: $MY_SERVER_ID, tables: [cdc_test.tw2], heartbeat_ms: 1000}"
lww="conflict: lww, lww_column: updated_at, tie_break: [crm, erp]"
cols="uid: uid, name: name, v: v, origin: origin, wid: wid, updated_at: updated_at"
toerp_sink="  - {name: towerp, type: mysql, host: 127.0.0.1, port: $CDC_TEST_MYSQL_PORT, user: cdc, password_env: MYPW,
     database: cdc_test, batch_ms: 20, routes: [{from: crm.public.tw2, to: cdc_test.tw2, $lww,
     columns: {id: crm_id, erp_id: erp_id, $cols}, key: [crm_id], link: {map: row, key: erp_id}}]}"
tocrm_sink="  - {name: towcrm, type: postgresql, conninfo: \"host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=cdc_test user=cdc\",
     password_env: PGPASSWORD, batch_ms: 20, routes: [{from: erp.cdc_test.tw2, to: public.tw2, $lww,
     columns: {erp_id: erp_id, crm_id: id, $cols}, key: [erp_id], link: {map: row, key: id}}]}"
two_way_config "$tmp/agent.yaml" two-way sources: "$crm_source" "$erp_source" sinks: "$toerp_sink" "$tocrm_sink"
two_way_config "$tmp/crm.yaml" crm-side sources: "$crm_source" sinks: "$tocrm_sink"
two_way_config "$tmp/erp.yaml" erp-side sources: "$erp_source" sinks: "$toerp_sink"

# Statements of one side until the time is up, paced; the rows it inserts are uid <side>-<base+n>.
# Updates and deletes pick among the 40 newest rows of either side (both sides insert at about
# the same pace, so the other side's newest are near the same number). wid numbers the side's
# writes.
writer() { # side base other-side end now-expression
    local side=$1 base=$2 other=$3 end=$4 now=$5 wid=0 n=0 uid r k
    while [ "$(date +%s)" -lt "$end" ]; do
        wid=$((wid + 1))
        r=$((RANDOM % 100))
        if [ "$r" -lt 20 ] || [ "$n" -lt 40 ]; then
            n=$((n + 1))
            echo "INSERT INTO tw2 (uid, name, v, origin, wid, updated_at) VALUES ('$side-$((base + n))', '$side$wid', 1, '$side', $wid, $now);"
        else
            k=$((n - RANDOM % 40))
            uid="$([ $((RANDOM % 2)) = 0 ] && echo "$side" || echo "$other")-$((base + (k > 0 ? k : 1)))"
            if [ "$r" -lt 97 ]; then
                echo "UPDATE tw2 SET name = '$side$wid', v = v + 1, origin = '$side', wid = $wid, updated_at = $now WHERE uid = '$uid';"
            else
                echo "DELETE FROM tw2 WHERE uid = '$uid';"
            fi
        fi
        sleep 0.0$((RANDOM % 4 + 1))
    done
}
crm_rows() {
    pg -Atc "SELECT concat_ws('|', uid, id, erp_id, name, v, origin, wid, to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')) FROM tw2 ORDER BY uid"
}
erp_rows() {
    my -N -e "SELECT CONCAT_WS('|', uid, crm_id, erp_id, name, v, origin, wid, DATE_FORMAT(updated_at, '%Y-%m-%d %H:%i:%s.%f')) FROM tw2 ORDER BY uid"
}
both_equal() { # what
    local i
    for i in $(seq 1 600); do [ "$(crm_rows | md5sum)" = "$(erp_rows | md5sum)" ] && break; sleep 0.2; done
    assert_eq "$(crm_rows)" "$(erp_rows)" "$1: both sides equal"
}
# Runs both writers for $1 seconds; the agent processes named in $kill_pids get killed at random
# moments by restart_one (which restarts what it killed).
workload() { # seconds
    local end=$(($(date +%s) + $1))
    # a fresh range of ids per run, so an id is never inserted twice
    writer crm "$base" erp "$end" "clock_timestamp()" | pg >/dev/null 2>&1 &
    local w1=$!
    writer erp "$base" crm "$end" "NOW(6)" | my >/dev/null 2>&1 &
    local w2=$!
    while [ "$(date +%s)" -lt "$end" ]; do
        sleep "$((RANDOM % 8 + 4)).$((RANDOM % 10))"
        [ "$(date +%s)" -lt "$end" ] || break
        restart_one
        kills=$((kills + 1))
    done
    wait "$w1" "$w2" || true
}
kills=0

# ---- one agent for both databases ----
restart_one() {
    if ! kill -9 "$agent_pid" 2>/dev/null; then # what it said last, before a new one appends
        wait "$agent_pid" && rc=0 || rc=$?
        bad "one agent: it exited on its own (status $rc) before kill $((kills + 1))"
        grep -v -e ' debug ' -e facility= "$tmp/agent.log" | tail -25 >&2
    fi
    wait "$agent_pid" 2>/dev/null || true
    start_agent
}
start_agent
wait_offsets '"source":"crm"' 300 && ok || bad "crm source started"
wait_offsets '"source":"erp"' 300 && ok || bad "erp source started"
base=0
workload "$seconds"
both_equal "one agent, $seconds s, killed $kills times"
assert_eq 0 "$(pg -Atc "SELECT count(*) FROM tw2 WHERE erp_id IS NULL")" "one agent: every CRM row linked"
echo "one agent: $seconds s, killed $kills times, $(crm_rows | wc -l) rows"
if kill -0 "$agent_pid" 2>/dev/null; then
    agent_stop
    assert_eq 0 "$rc" "graceful stop"
else # its log's last lines come with the failures
    wait "$agent_pid" && rc=0 || rc=$?
    bad "one agent: it exited on its own (status $rc) before the end"
    agent_pid=
fi

# ---- one agent per database (sidecars) ----
side_start() { # name
    "$CDC_AGENT" run -c "$tmp/$1.yaml" >>"$tmp/$1.log" 2>&1 &
    eval "${1}_pid=$!"
}
restart_one() {
    local side=crm
    [ $((RANDOM % 2)) = 0 ] || side=erp
    eval "kill -9 \$${side}_pid; wait \$${side}_pid 2>/dev/null || true"
    side_start "$side"
}
side_start crm
side_start erp
base=50000 kills=0
workload $((seconds / 2))
both_equal "sidecars, $((seconds / 2)) s, killed $kills times"
assert_eq 0 "$(my -N -e "SELECT count(*) FROM tw2 WHERE crm_id IS NULL")" "sidecars: every ERP row linked"
echo "sidecars: $((seconds / 2)) s, killed $kills times, $(crm_rows | wc -l) rows"
kill -TERM "$crm_pid" "$erp_pid"
wait "$crm_pid" && ok || bad "crm sidecar stopped cleanly"
wait "$erp_pid" && ok || bad "erp sidecar stopped cleanly"

# ---- no echoes, conflicts resolved as lww says ----
"$CDC_TOPIC_DUMP" "$boot" cdc.crm.public.tw2 >"$tmp/crm.topic"
"$CDC_TOPIC_DUMP" "$boot" cdc.erp.cdc_test.tw2 >"$tmp/erp.topic"
"$CDC_TOPIC_DUMP" "$boot" cdc._conflicts >"$tmp/conflicts"
out=$(python3 - "$tmp" <<'EOF'
import json, sys, re
tmp = sys.argv[1]
def events(side):
    for line in open(f"{tmp}/{side}.topic"):
        value = line.rstrip("\n").split("\t")[4]
        if value != "null":
            yield json.loads(value)
for side in ("crm", "erp"):
    evs = list(events(side))
    echoes = [e for e in evs if e["op"] in ("c", "u") and e["after"]["origin"] != side]
    print(f"{side} events {len(evs)} echoes {len(echoes)}")
def ts(v):  # "2026-...T10:00:00.123456Z", "...+00:00" (PostgreSQL), "... 10:00:00.123456" (MariaDB)
    v = re.sub(r"(Z|\+00:00|\+00)$", "", v).replace("T", " ")
    d, _, f = v.partition(".")
    return d + "." + (f + "000000")[:6]
total = bad = 0
for line in open(f"{tmp}/conflicts"):
    c = json.loads(line.rstrip("\n").split("\t")[4])
    total += 1
    inc, tgt, why = c["incoming"], c["target_row"], c["reason"]
    if inc["op"] == "d":
        want = "incoming"
    elif tgt is None:
        want = "target"
    else:
        a, b = ts(inc["after"]["updated_at"]), ts(tgt["updated_at"])
        want = "incoming" if a > b or (a == b and inc["source"]["system"] == "crm") else "target"
    if c["resolution"] != want or c["policy"] != "lww":
        bad += 1
        print("wrong:", json.dumps(c)[:400])
print(f"conflicts {total} wrong {bad}")
EOF
)
echo "$out" | grep -v '^wrong' || true
assert_contains "$out" "crm events" "the CRM topic was read"
assert_eq "0" "$(sed -n 's/^erp events [0-9]* echoes //p' <<<"$out")" "no echo in the ERP topic"
assert_eq "0" "$(sed -n 's/^crm events [0-9]* echoes //p' <<<"$out")" "no echo in the CRM topic"
assert_eq "0" "$(sed -n 's/^conflicts [0-9]* wrong //p' <<<"$out")" "every conflict resolved as lww says"
n=$(sed -n 's/^conflicts \([0-9]*\) wrong.*/\1/p' <<<"$out")
[ "${n:-0}" -gt 0 ] && ok || bad "the workload made conflicts ($n)"
finish

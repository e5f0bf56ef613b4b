#!/usr/bin/env bash
# The admin API (/v1 on agent.http) of an agent that syncs both ways on two tables: PostgreSQL
# apicrm -> MariaDB cdc_api.api_erp (sink aerp) and MariaDB apiord -> PostgreSQL api_ord (sink acrm), served
# over HTTPS (a certificate made here) with a bearer token from a file:
# - the door: no token 401 (WWW-Authenticate), a wrong one 401, /healthz open, a slow client
#   dropped after 10 s without holding anything up; every error is
#   {"error": {"code", "message"}}: 404 unknown name or path, 405 method, 400 malformed JSON
#   (with the field), 413 a body over the limit; 429 with Retry-After past the rate;
# - status and lists: every source and sink with state and lag; ?limit= and ?cursor= pages;
# - a paused sink applies nothing and keeps its offsets while its source goes on; its offsets
#   move only while paused (409 while it runs) and the resumed sink applies from there; a paused
#   source publishes nothing and keeps its slot, and catches up when resumed; restart;
# - max_rows_per_s set at run time holds the apply rate of one sink;
# - a replay job repairs a damaged target while the other direction keeps flowing (its changes
#   arrive within seconds during the replay), reports progress and ends succeeded; a dry run
#   counts; a cancelled replay ends cancelled and the sink goes on from where it stood;
# - a snapshot job re-reads a table and ends succeeded with its rows; one cancelled ends cancelled;
#   a replay from outside the log ends failed with the reason;
# - the commands with --api: status, pause / resume / restart (waiting for the state), replay,
#   snapshot and jobs through the API; offsets show and set too, and offline when no agent
#   answers at the URL.
. "$(dirname "$0")/../harness/agent_test.sh"
pg_reset apicrm apicrm api_ord
pg -c "CREATE TABLE apicrm (id int PRIMARY KEY, name text, v int)" \
   -c "CREATE TABLE api_ord (id int PRIMARY KEY, item text)" >/dev/null
# the ERP target in a database of its own (other tests drop cdc_test's cdc_sink_offsets)
my -e "DROP DATABASE IF EXISTS cdc_api; CREATE DATABASE cdc_api;
       CREATE TABLE cdc_api.api_erp (id INT PRIMARY KEY, name VARCHAR(50), v INT); DROP TABLE IF EXISTS apiord;
       CREATE TABLE apiord (id INT PRIMARY KEY, item VARCHAR(50))"
pg -c "DELETE FROM cdc_sink_offsets WHERE topic LIKE 'cdc.erp.cdc_test.apiord'" >/dev/null 2>&1 || true
mock_start "cdc._offsets 1" "cdc._schemas 1" "cdc.crm.public.apicrm 4" "cdc.erp.cdc_test.apiord 2" \
    "cdc._dlq.aerp 1" "cdc._dlq.acrm 1"

# a certificate for 127.0.0.1, and the token
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
token=$(random_secret)
printf '%s\n' "$token" >"$tmp/token"
port=$(free_port)
cat >"$tmp/agent.yaml" <<EOC
agent:
  name: api-test
  http: "127.0.0.1:$port"
  api: {token_file: $tmp/token, tls_cert_file: $tmp/cert.pem, tls_key_file: $tmp/key.pem,
        rate_per_s: 20, burst: 60, max_body_bytes: 4096}
kafka: {brokers: "$boot", linger_ms: 20}
sources:
  - {name: crm, type: postgresql, conninfo: "host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=cdc_test user=cdc",
     password_env: PGPASSWORD, tables: [public.apicrm], slot: apicrm, publication: apicrm, heartbeat_ms: 1000}
  - {name: erp, type: mysql, host: 127.0.0.1, port: $CDC_TEST_MYSQL_PORT, user: cdc, password_env: MYPW,
     database: cdc_test, server_id: $MY_SERVER_ID, tables: [cdc_test.apiord], heartbeat_ms: 1000}
sinks:
  - {name: aerp, type: mysql, host: 127.0.0.1, port: $CDC_TEST_MYSQL_PORT, user: cdc, password_env: MYPW,
     database: cdc_api, batch_ms: 20, routes: [{from: crm.public.apicrm, to: cdc_api.api_erp}]}
  - {name: acrm, type: postgresql, conninfo: "host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=cdc_test user=cdc",
     password_env: PGPASSWORD, batch_ms: 20, routes: [{from: erp.cdc_test.apiord, to: public.api_ord}]}
EOC
url="https://127.0.0.1:$port"
# api METHOD PATH [BODY]: the status code on the first line, the body after it
api() {
    local out
    out=$(curl -s --cacert "$tmp/cert.pem" -H "Authorization: Bearer $token" -X "$1" -w '\n%{http_code}' \
        ${3:+-H 'Content-Type: application/json' --data-binary "$3"} "$url$2")
    printf '%s\n%s\n' "${out##*$'\n'}" "${out%$'\n'*}"
}
status_of() { api "$@" | head -1; }
# jget EXPR: evaluates EXPR on the JSON body j read from stdin (the first line, the status, skipped)
jget() { tail -n +2 | python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"; }
crm_rows() { pg -Atc "SELECT id, name, v FROM apicrm ORDER BY id" | tr '|' '\t'; }
erp_rows() { my -N -e "SELECT id, name, v FROM cdc_api.api_erp ORDER BY id" | sed 's/\tNULL/\t/g'; }
erp_count() { my -N -e "SELECT count(*) FROM cdc_api.api_erp"; }
ord_count() { pg -Atc "SELECT count(*) FROM api_ord"; }
unit_state() { api GET "/v1/$1" | jget 'j["state"]'; }
field() { api GET "$1" | jget "$2"; } # path expression
job_state() { field "/v1/jobs/$1" 'j["state"]'; }
wait_same() { same_output crm_rows erp_rows; }

start_agent
wait_value "the API answers over HTTPS" 200 status_of GET /v1/status
wait_value "sink aerp running" running unit_state sinks/aerp
wait_value "source crm running" running unit_state sources/crm

# ---- the door
out=$(curl -s -i --cacert "$tmp/cert.pem" "$url/v1/status")
assert_contains "$out" "HTTP/1.1 401" "no token: 401"
assert_contains "$out" 'WWW-Authenticate: Bearer' "no token: a Bearer challenge"
assert_contains "$out" '{"error":{"code":"unauthorized"' "no token: a JSON error"
out=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$tmp/cert.pem" -H "Authorization: Bearer x$token" "$url/v1/status")
assert_eq 401 "$out" "a wrong token: 401"
out=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$tmp/cert.pem" -X POST "$url/v1/sinks/aerp/pause")
assert_eq 401 "$out" "a write without the token: 401"
assert_eq ok "$(curl -s --cacert "$tmp/cert.pem" "$url/healthz")" "/healthz needs no token"
out=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v1/status" || true)
assert_eq 000 "$out" "plain HTTP is not served when TLS is on"
assert_eq 404 "$(status_of GET /v1/sinks/nope)" "an unknown sink: 404"
assert_contains "$(api GET /v1/sinks/nope)" '"code":"not_found","message":"no sink named nope"' "404 names it"
assert_eq 404 "$(status_of POST /v1/sinks/aerp/pauze)" "an unknown action: 404"
assert_eq 404 "$(status_of GET /v1/nothing)" "an unknown path: 404"
assert_eq 405 "$(status_of PUT /v1/status)" "a wrong method: 405"
out=$(api PATCH /v1/sinks/aerp '{"max_rows_per_s": ')
assert_eq 400 "$(head -1 <<<"$out")" "malformed JSON: 400"
assert_contains "$out" '"code":"bad_json"' "malformed JSON: its code"
out=$(api PATCH /v1/sinks/aerp '{"max_rows_per_s": -5}')
assert_contains "$out" '"field":"max_rows_per_s"' "a bad value names its field"
out=$(api PATCH /v1/sinks/aerp '{"batch_size": 5}')
assert_contains "$out" '"field":"batch_size"' "an unknown field is named"
big=$(head -c 6000 /dev/zero | tr '\0' 'x')
assert_eq 413 "$(status_of PATCH /v1/sinks/aerp "{\"x\": \"$big\"}")" "a body over max_body_bytes: 413"
out=$(api GET '/v1/sinks?limit=0')
assert_contains "$out" '"field":"limit"' "a bad limit: 400 naming it"
assert_eq 400 "$(status_of GET '/v1/sinks?cursor=zzz')" "an unknown cursor: 400"

# a slow client (half a TLS hello, then nothing) holds nothing up and is dropped after 10 s
python3 - "$port" >"$tmp/slow.out" <<'PYEOF2' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"\x16\x03")
t = time.time()
s.settimeout(40)
try:
    while s.recv(4096):
        pass
    print("closed after", round(time.time() - t))
except OSError:
    print("still open after", round(time.time() - t))
PYEOF2
slow_pid=$!
sleep 1
assert_eq 200 "$(status_of GET /v1/status)" "a slow client holds nothing up"

# ---- status and lists
pg -c "INSERT INTO apicrm SELECT g, 'n' || g, 0 FROM generate_series(1, 300) g" >/dev/null
my -e "INSERT INTO apiord SELECT seq, CONCAT('i', seq) FROM seq_1_to_50"
wait_same && ok || bad "first sync crm -> erp"
wait_value "first sync erp -> crm" 50 ord_count
out=$(api GET /v1/status)
assert_eq 200 "$(head -1 <<<"$out")" "status: 200"
assert_eq "api-test crm,erp aerp,acrm" "$(jget 'j["agent"]["name"] + " " + ",".join(s["name"] for s in j["sources"]) + " " + ",".join(s["name"] for s in j["sinks"])' <<<"$out")" \
    "status lists the agent, its sources and sinks"
assert_eq "running running" "$(jget 'j["sinks"][0]["state"], j["sources"][0]["state"]' <<<"$out" | tr -d "()',")" "states"
wait_value "sink aerp: lag 0 records once caught up" 0 field /v1/sinks/aerp 'j["lag"]["records"]'
out=$(api GET /v1/sinks/aerp)
assert_eq "300 0" "$(jget 'j["applied"], j["dead_lettered"]' <<<"$out" | tr -d "(),")" "sink aerp: applied and dead-lettered"
out=$(api GET /v1/sources)
assert_eq "crm erp None" "$(jget '" ".join(u["name"] for u in j["items"]) + " " + str(j["next_cursor"])' <<<"$out")" "the sources in one page"
out=$(api GET '/v1/sinks?limit=1')
assert_eq "aerp aerp 2" "$(jget 'j["items"][0]["name"], j["next_cursor"], j["total"]' <<<"$out" | tr -d "()',")" "page 1 of sinks"
out=$(api GET '/v1/sinks?limit=1&cursor=aerp')
assert_eq "acrm None" "$(jget 'j["items"][0]["name"], j["next_cursor"]' <<<"$out" | tr -d "()',")" "page 2 of sinks, the last"

wait "$slow_pid"
case "$(cat "$tmp/slow.out")" in
"closed after "1[0-9] | "closed after "[89]) ok ;;
*) bad "the slow client is dropped after about 10 s: $(cat "$tmp/slow.out")" ;;
esac

# ---- a paused sink: applies nothing, offsets move only while paused
assert_eq 409 "$(status_of PATCH /v1/sinks/aerp/offsets '{"offsets": [{"topic": "cdc.crm.public.apicrm", "partition": 0, "offset": 0}]}')" \
    "offsets of a running sink: 409"
assert_eq 202 "$(status_of POST /v1/sinks/aerp/pause)" "pause: 202"
wait_value "sink aerp paused" paused unit_state sinks/aerp
pg -c "UPDATE apicrm SET v = 1 WHERE id <= 100" >/dev/null
wait_value "its source goes on publishing" 400 field /v1/sources/crm 'j["events"]'
sleep 1
assert_eq 0 "$(my -N -e 'SELECT count(*) FROM cdc_api.api_erp WHERE v = 1')" "a paused sink applies nothing"
out=$(api GET /v1/sinks/aerp/offsets)
assert_eq 200 "$(head -1 <<<"$out")" "offsets: 200"
assert_eq 4 "$(jget 'len(j["partitions"])' <<<"$out")" "offsets: 4 partitions"
assert_eq 100 "$(jget 'sum(p["lag"] for p in j["partitions"])' <<<"$out")" "offsets: 100 records behind"
out=$(api PATCH /v1/sinks/aerp/offsets '{"offsets": [{"topic": "cdc.crm.public.apicrm", "partition": 9, "offset": 0}]}')
assert_contains "$out" '"field":"offsets[0]"' "a partition that does not exist: 400 naming the item"
out=$(api PATCH /v1/sinks/aerp/offsets '{"offsets": [{"topic": "cdc.crm.public.apicrm", "partition": 0, "offset": 0}, {"topic": "cdc.crm.public.apicrm", "partition": 1, "offset": 0}]}')
assert_eq 200 "$(head -1 <<<"$out")" "offsets moved while paused: 200"
assert_eq "0 0" "$(jget '" ".join(str(p["next_offset"]) for p in j["partitions"] if p["partition"] < 2)' <<<"$out")" "partitions 0 and 1 start again at 0"
out=$(api DELETE /v1/sinks/aerp/offsets)
assert_eq 200 "$(head -1 <<<"$out")" "offsets reset while paused: 200"
assert_eq "0 0 0 0" "$(jget '" ".join(str(p["next_offset"]) for p in j["partitions"])' <<<"$out")" "every partition starts again at its log's start"
my -e "DELETE FROM cdc_api.api_erp WHERE id % 2 = 0"
assert_eq 202 "$(status_of POST /v1/sinks/aerp/resume)" "resume: 202"
wait_value "sink aerp running again" running unit_state sinks/aerp
wait_value "the resumed sink applied the updates made while paused" 100 my -N -e 'SELECT count(*) FROM cdc_api.api_erp WHERE v = 1'
wait_same && ok || bad "the reset offsets re-applied every row (the deleted ones are back)"

# ---- a paused source: publishes nothing, keeps its slot, catches up
assert_eq 202 "$(status_of POST /v1/sources/crm/pause)" "pause a source: 202"
wait_value "source crm paused" paused unit_state sources/crm
before=$(api GET /v1/sources/crm | jget 'j["events"]')
pg -c "INSERT INTO apicrm SELECT g, 'n' || g, 2 FROM generate_series(301, 340) g" >/dev/null
sleep 1.5
assert_eq "$before" "$(api GET /v1/sources/crm | jget 'j["events"]')" "a paused source publishes nothing"
assert_eq 1 "$(pg -Atc "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'apicrm'")" "its slot stays"
assert_eq 202 "$(status_of POST /v1/sources/crm/resume)" "resume a source: 202"
wait_value "the resumed source published what was written meanwhile" $((before + 40)) field /v1/sources/crm 'j["events"]'
assert_eq 202 "$(status_of POST /v1/sinks/acrm/restart)" "restart a sink: 202"
wait_value "the restart is counted" 1 field /v1/sinks/acrm 'j["restarts"]'
wait_same && ok || bad "after pause, offsets, resume: the target equals the source"

# ---- the apply rate of one sink, changed at run time
out=$(api PATCH /v1/sinks/aerp '{"max_rows_per_s": 200}')
assert_eq "200 200" "$(head -1 <<<"$out") $(jget 'j["max_rows_per_s"]' <<<"$out")" "max_rows_per_s set"
t0=$(date +%s.%N)
pg -c "UPDATE apicrm SET v = 3 WHERE id <= 300" >/dev/null
wait_value "300 updates applied at 200 rows/s" 300 my -N -e 'SELECT count(*) FROM cdc_api.api_erp WHERE v = 3'
secs=$(echo "$(date +%s.%N) - $t0" | bc)
[ "$(echo "$secs >= 1.2" | bc)" = 1 ] && ok || bad "300 rows at 200 rows/s took $secs s (at least 1.2 s expected)"
api PATCH /v1/sinks/aerp '{"max_rows_per_s": 0}' >/dev/null

# ---- a replay job while the other direction flows
my -e "DELETE FROM cdc_api.api_erp WHERE id % 3 = 0; UPDATE cdc_api.api_erp SET name = 'damaged' WHERE id % 5 = 0"
out=$(api POST /v1/sinks/aerp/replay '{"from_timestamp": "2000-01-01T00:00:00Z", "dry_run": true}')
assert_eq 202 "$(head -1 <<<"$out")" "a dry-run replay: 202"
id=$(jget 'j["id"]' <<<"$out")
wait_value "the dry run ends succeeded" succeeded field /v1/jobs/$id 'j["state"]'
out=$(api GET "/v1/jobs/$id")
total=$(jget 'j["result"]["routes"][0]["events"]' <<<"$out")
[ "$total" -ge 740 ] && ok || bad "the dry run counts every event of the route ($total)"
assert_eq 202 "$(status_of POST /v1/sinks/aerp/replay '{"from_timestamp": "2000-01-01T00:00:00Z"}')" "a replay: 202"
id=$(api GET /v1/jobs | jget 'j["items"][0]["id"]')
lat_max=0
for i in $(seq 1 15); do # the other direction: an order every 0.2 s arrives within bounds
    my -e "INSERT INTO apiord VALUES ($((1000 + i)), 'during')"
    t0=$(date +%s%N)
    for k in $(seq 1 100); do
        [ "$(pg -Atc "SELECT count(*) FROM api_ord WHERE id = $((1000 + i))")" = 1 ] && break
        sleep 0.05
    done
    ms=$((($(date +%s%N) - t0) / 1000000))
    [ "$ms" -gt "$lat_max" ] && lat_max=$ms
done
[ "$lat_max" -lt 5000 ] && ok || bad "changes of the other direction arrive during the replay (max $lat_max ms)"
echo "# the other direction during the replay: max $lat_max ms from insert to row"
wait_value "the replay ends succeeded" succeeded field /v1/jobs/$id 'j["state"]'
out=$(api GET "/v1/jobs/$id")
[ "$(jget 'j["progress"]["done"]' <<<"$out")" -ge "$total" ] && ok || bad "the replay's progress reached its total: $out"
wait_same && ok || bad "the replay repaired the target"

# a cancelled replay: slow (10 rows/s), cancelled, the sink goes on from where it stood
api PATCH /v1/sinks/aerp '{"max_rows_per_s": 10}' >/dev/null
out=$(api POST /v1/sinks/aerp/replay '{"from_timestamp": "2000-01-01T00:00:00Z"}')
id=$(jget 'j["id"]' <<<"$out")
assert_eq 409 "$(status_of POST /v1/sinks/aerp/replay '{"from_timestamp": "2000-01-01T00:00:00Z"}')" "a second replay of the same sink: 409"
wait_value "the replay runs" running field /v1/jobs/$id 'j["state"]'
sleep 1
assert_eq 202 "$(status_of DELETE "/v1/jobs/$id")" "cancel: 202"
wait_value "the replay ends cancelled" cancelled field /v1/jobs/$id 'j["state"]'
assert_eq 409 "$(status_of DELETE "/v1/jobs/$id")" "cancel an ended job: 409"
api PATCH /v1/sinks/aerp '{"max_rows_per_s": 0}' >/dev/null
out=$(api GET /v1/sinks/aerp/offsets)
assert_eq 0 "$(jget 'sum(p["lag"] for p in j["partitions"])' <<<"$out")" "after the cancel the offsets are back where they stood"
pg -c "UPDATE apicrm SET v = 4 WHERE id <= 10" >/dev/null
wait_same && ok || bad "after the cancel the sink goes on"

# ---- a snapshot job
out=$(api POST /v1/sources/crm/snapshots '{"tables": ["public.nope"]}')
assert_contains "$out" '"field":"tables[0]"' "a table the source does not capture: 400"
out=$(api POST /v1/sources/crm/snapshots '{"tables": ["public.apicrm"]}')
assert_eq 202 "$(head -1 <<<"$out")" "a snapshot job: 202"
id=$(jget 'j["id"]' <<<"$out")
wait_value "the snapshot job ends succeeded" succeeded field /v1/jobs/$id 'j["state"]'
assert_eq 340 "$(api GET "/v1/jobs/$id" | jget 'j["result"]["tables"][0]["rows"]')" "it read every row"
assert_eq 3 "$(api GET '/v1/jobs?limit=3' | jget 'len(j["items"])')" "jobs: a page of 3"
# a cancelled snapshot job: asked while its source is paused (the request waits in the stream),
# cancelled, then the source reads the request and the cancel in order
api POST /v1/sources/crm/pause >/dev/null
wait_value "source crm paused for the cancel" paused unit_state sources/crm
id=$(api POST /v1/sources/crm/snapshots '{"tables": ["public.apicrm"]}' | jget 'j["id"]')
assert_eq 202 "$(status_of DELETE "/v1/jobs/$id")" "cancel a snapshot job: 202"
sleep 1 # the job writes its cancel request into the stream (it looks every 0.2 s)
api POST /v1/sources/crm/resume >/dev/null
wait_value "the snapshot job ends cancelled" cancelled job_state "$id"
assert_eq cancelled "$(field "/v1/jobs/$id" 'j["result"]["tables"][0]["state"]')" "its table: cancelled"
# a replay from an offset past the log: the job fails, saying why
out=$(api POST /v1/sinks/aerp/replay '{"from_offset": {"topic": "cdc.crm.public.apicrm", "partition": 0, "offset": 999999}}')
id=$(jget 'j["id"]' <<<"$out")
wait_value "a replay from outside the log ends failed" failed job_state "$id"
assert_contains "$(field "/v1/jobs/$id" 'j["error"]')" "is not among them" "the failed job says why"

# ---- the command line as a client of the API (token and certificate from the config)
agent_cli() { "$CDC_AGENT" "$@" -c "$tmp/agent.yaml" --api "$url" 2>&1; }
out=$(agent_cli status) && rc=0 || rc=$?
assert_eq 0 "$rc" "status --api: exit 0"
assert_contains "$out" "aerp         mysql      running" "status --api: the sink aerp runs"
assert_contains "$out" "crm          postgresql running" "status --api: the source crm runs"
assert_contains "$(agent_cli pause --sink acrm)" "sink acrm: paused" "pause --api waits for paused"
assert_contains "$(agent_cli resume --sink acrm)" "sink acrm: running" "resume --api waits for running"
assert_contains "$(agent_cli restart --source erp)" "source erp: restarted, running" "restart --api"
out=$(agent_cli replay --sink aerp --from-timestamp 2000-01-01 --dry-run) && rc=0 || rc=$?
assert_eq 0 "$rc" "replay --dry-run --api: exit 0"
assert_contains "$out" "crm.public.apicrm -> cdc_api.api_erp: " "replay --dry-run --api: events per route"
assert_contains "$out" "would be re-applied" "replay --dry-run --api: nothing changed"
out=$(agent_cli snapshot --source crm --table public.apicrm) && rc=0 || rc=$?
assert_eq 0 "$rc" "snapshot --api: exit 0"
assert_contains "$out" "re-snapshot of public.apicrm completed: 340 rows read" "snapshot --api follows the job"
assert_contains "$(agent_cli jobs)" " snapshot  crm          succeeded" "jobs --api lists the jobs"
out=$(agent_cli offsets show)
assert_contains "$out" "cdc.crm.public.apicrm[0]" "offsets show --api: the sink's partitions"
out=$(agent_cli offsets set --sink aerp --offset cdc.crm.public.apicrm:0:0) && rc=0 || rc=$?
assert_eq 1 "$rc" "offsets set --api on a running sink: exit 1"
assert_contains "$out" "pause it first" "offsets set --api on a running sink: says to pause it"
# no agent at the URL: the commands that can work offline do, the others say so
out=$("$CDC_AGENT" offsets show -c "$tmp/agent.yaml" --api https://127.0.0.1:1 2>&1) && rc=0 || rc=$?
assert_eq 0 "$rc" "offsets show with no agent at --api: exit 0"
assert_contains "$out" "no agent answers at https://127.0.0.1:1: " "it says no agent answers there"
assert_contains "$out" "working offline" "and works offline"
assert_contains "$out" "SINK" "with the offline output"
out=$("$CDC_AGENT" status -c "$tmp/agent.yaml" --api https://127.0.0.1:1 2>&1) && rc=0 || rc=$?
assert_eq 1 "$rc" "status with no agent at --api: exit 1"
out=$("$CDC_AGENT" status -c "$tmp/agent.yaml" 2>&1) && rc=0 || rc=$?
assert_eq 2 "$rc" "status without --api: a usage error"
assert_contains "$out" "give --api URL" "status without --api: says what is missing"

# ---- the rate limit (20 per second, a bucket of 60)
codes=$(seq 1 150 | xargs -P 30 -I{} curl -s -o /dev/null -w '%{http_code}\n' --cacert "$tmp/cert.pem" \
    -H "Authorization: Bearer $token" "$url/v1/status")
n429=$(grep -c 429 <<<"$codes" || true)
[ "$n429" -ge 50 ] && ok || bad "150 requests at once: at least 50 are refused with 429 ($n429)"
out=$(curl -s -i --cacert "$tmp/cert.pem" -H "Authorization: Bearer $token" "$url/v1/status")
case "$out" in *"HTTP/1.1 429"*) assert_contains "$out" "Retry-After: " "429 says when to try again" ;; *) ok ;; esac

# the token never shows in the log
assert_not_contains "$(cat "$tmp/agent.log")" "$token" "the token is not logged"
agent_stop
assert_eq 0 "$rc" "the agent stops cleanly"
finish

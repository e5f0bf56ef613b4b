#!/usr/bin/env bash
# A property-based fuzzer (schemathesis, from PyPI into a virtualenv kept under
# ${XDG_CACHE_HOME:-~/.cache}/cdc-agent) runs against the admin API of an agent that syncs a table
# PostgreSQL -> Kafka (mock) -> PostgreSQL, from the OpenAPI document the agent serves
# (docs/openapi.json): every operation with generated and mutated inputs (bad types, missing
# fields, odd strings, huge numbers), checking that no answer is a server error, every status code
# and body is the one the document declares, and the content type is JSON. Afterwards the agent
# still runs (it did not crash or hang: ASan builds abort on a memory error), answers, and a
# change made now still reaches the target. CDC_API_FUZZ_EXAMPLES sets the examples per operation
# (default 40; by hand: 1000).
. "$(dirname "$0")/../harness/agent_test.sh"
venv=${XDG_CACHE_HOME:-$HOME/.cache}/cdc-agent/schemathesis
if ! "$venv/bin/schemathesis" --version >/dev/null 2>&1; then
    python3 -m venv "$venv" && "$venv/bin/pip" install -q 'schemathesis>=4,<5' >/dev/null ||
        { echo "api_fuzz: cannot install schemathesis from PyPI" >&2; exit 1; }
fi
pg_reset apifz apifz apifz_dst
pg -c "CREATE TABLE apifz (id int PRIMARY KEY, v int)" -c "CREATE TABLE apifz_dst (id int PRIMARY KEY, v int)" >/dev/null
pg -c "DELETE FROM cdc_sink_offsets WHERE topic = 'cdc.fz.public.apifz'" >/dev/null 2>&1 || true
mock_start "cdc._offsets 1" "cdc._schemas 1" "cdc.fz.public.apifz 2" "cdc._dlq.fz 1"
token=$(random_secret)
export CDC_API_TOKEN=$token
port=$(free_port)
cat >"$tmp/agent.yaml" <<EOC
agent:
  name: api-fuzz
  http: "127.0.0.1:$port"
  api: {token_env: CDC_API_TOKEN, rate_per_s: 0}
kafka: {brokers: "$boot", linger_ms: 20}
sources:
  - {name: fz, type: postgresql, conninfo: "host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=cdc_test user=cdc",
     password_env: PGPASSWORD, tables: [public.apifz], slot: apifz, publication: apifz, heartbeat_ms: 1000}
sinks:
  - {name: fz, type: postgresql, conninfo: "host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=cdc_test user=cdc",
     password_env: PGPASSWORD, batch_ms: 20, routes: [{from: fz.public.apifz, to: public.apifz_dst}]}
EOC
start_agent
get() { curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "http://127.0.0.1:$port$1" || true; }
wait_value "the API answers" 200 get /v1/status
pg -c "INSERT INTO apifz SELECT g, 0 FROM generate_series(1, 100) g" >/dev/null
wait_value "the first rows arrive" 100 pg -Atc "SELECT count(*) FROM apifz_dst"

examples=${CDC_API_FUZZ_EXAMPLES:-40}
# a second pass with the names that exist (source and sink are both "fz"), so generated bodies
# reach the handlers behind the names
printf '[parameters]\n"path.name" = "fz"\n' >"$tmp/named.toml"
for pass in any named; do
cfg=()
[ "$pass" = named ] && cfg=(--config-file "$tmp/named.toml")
(cd "$tmp" && "$venv/bin/schemathesis" "${cfg[@]}" run "http://127.0.0.1:$port/v1/openapi.json" \
    --header "Authorization: Bearer $token" --max-examples "$examples" --seed 20261207 \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
    --mode all --request-timeout 20 --no-color) >"$tmp/fuzz-$pass.log" 2>&1 && rc=0 || rc=$?
grep -E "^={5,}|generated|^- ST|^_{5,}" "$tmp/fuzz-$pass.log" | cut -c1-120 | sed "s/^/# $pass: /"
assert_eq 0 "$rc" "schemathesis ($pass names): every check passed"
grep -q "generated" "$tmp/fuzz-$pass.log" && ok || bad "schemathesis ($pass names) generated test cases"
done

kill -0 "$agent_pid" 2>/dev/null && ok || bad "the agent still runs after the fuzzing"
wait_value "it still answers" 200 get /v1/status
# the fuzzer may have paused things or set a rate: undo, then a change still arrives
curl -s -o /dev/null -X PATCH -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    --data '{"max_rows_per_s": 0}' "http://127.0.0.1:$port/v1/sinks/fz"
for u in sources/fz sinks/fz; do
    curl -s -o /dev/null -X POST -H "Authorization: Bearer $token" "http://127.0.0.1:$port/v1/$u/resume"
done
pg -c "UPDATE apifz SET v = 7 WHERE id <= 10" >/dev/null
wait_value "a change made after the fuzzing reaches the target" 10 pg -Atc "SELECT count(*) FROM apifz_dst WHERE v = 7"
assert_not_contains "$(cat "$tmp/agent.log")" "$token" "the token is not logged"
agent_stop
assert_eq 0 "$rc" "the agent stops cleanly"
finish

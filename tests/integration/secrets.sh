#!/usr/bin/env bash
# No secret in any output. An agent whose every secret is known (PostgreSQL's password from an
# environment variable, MariaDB's from a file, the admin API token from a file, a mask
# transform's salt) is checked, runs at log_level debug through a workload, a replay dry run and
# pause/resume through the API; /metrics, /readyz, every API resource and the CLI's status are
# read; then the same config with wrong passwords fails `check` and `run`, one with a malformed
# conninfo URI carrying a password fails `check` and is refused by a SIGHUP reload. Every byte
# written (the agent's log, stdout and stderr of every command, HTTP bodies, the topics) is
# searched for each secret.
. "$(dirname "$0")/../harness/agent_test.sh"
pg_reset secsrc secsrc
pg -c "CREATE TABLE secsrc (id int PRIMARY KEY, name text, tax_id text)" >/dev/null
my -e "DROP TABLE IF EXISTS sec_copy; CREATE TABLE sec_copy (id INT PRIMARY KEY, name TEXT, tax_id TEXT)"
# this sink's offsets only: other tests' sinks keep theirs in cdc_test.cdc_sink_offsets meanwhile
my -e "DELETE FROM cdc_sink_offsets WHERE sink = 'erp' AND topic = 'cdc.crm.public.secsrc'" 2>/dev/null || true
mock_start "cdc._offsets 1" "cdc._schemas 1" "cdc.crm.public.secsrc 2" "cdc._dlq.erp 1"
port=$(free_port)
out_dir=$tmp/outputs
mkdir -p "$out_dir"
token=$(random_secret)
salt=$(random_secret)
uri_secret=$(random_secret)
wrong_secret=$(random_secret)
printf '%s\n' "$token" >"$tmp/token"
printf '%s\n' "$MYPW" >"$tmp/mypw"
export SEC_PG_PW=$PGPASSWORD SEC_SALT=$salt
write() { # file conninfo
    cat >"$1" <<EOC
agent: {name: sec-test, http: "127.0.0.1:$port", log_level: debug, api: {token_file: "$tmp/token"}}
kafka: {brokers: "$boot", linger_ms: 20}
sources:
  - name: crm
    type: postgresql
    conninfo: "$2"
    password_env: SEC_PG_PW
    slot: secsrc
    publication: secsrc
    tables:
      - table: public.secsrc
        transforms: [{type: mask, column: tax_id, method: hash, salt_env: SEC_SALT}]
sinks:
  - {name: erp, type: mysql, host: 127.0.0.1, port: $CDC_TEST_MYSQL_PORT, user: cdc,
     password_file: "$tmp/mypw", database: cdc_test, batch_ms: 20,
     routes: [{from: crm.public.secsrc, to: cdc_test.sec_copy}]}
EOC
}
good_conn="host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=cdc_test user=cdc"
write "$tmp/agent.yaml" "$good_conn"
cp "$tmp/agent.yaml" "$tmp/good.yaml"
# runs a command, keeping its stdout and stderr as outputs/<name>
keep() { # name command...
    local name=$1
    shift
    "$@" >"$out_dir/$name" 2>&1 && rc=0 || rc=$?
}
keep check "$CDC_AGENT" check -c "$tmp/agent.yaml"
assert_eq 0 "$rc" "check passes"
start_agent
pg -c "INSERT INTO secsrc SELECT g, 'n' || g, 'tax' || g FROM generate_series(1, 50) g" >/dev/null
wait_value "the rows applied" 50 my -N -e "SELECT COUNT(*) FROM sec_copy"
url="http://127.0.0.1:$port"
n=0
get() { # path [curl args]: the body and the status, kept
    local path=$1
    shift
    n=$((n + 1))
    curl -s -w '\n%{http_code}\n' "$@" "$url$path" >"$out_dir/http.$n" 2>&1 || true
}
auth=(-H "Authorization: Bearer $token")
for p in /healthz /readyz /metrics /v1/status /v1/sources/crm /v1/sinks/erp /v1/sinks/erp/offsets \
         /v1/jobs /v1/openapi.json; do
    get "$p" "${auth[@]}"
done
get /v1/status -H "Authorization: Bearer $wrong_secret" # a wrong token: 401
get /v1/status                                          # none
get /v1/sinks/erp/replay "${auth[@]}" -X POST -H 'Content-Type: application/json' \
    --data-binary '{"from_timestamp":"2020-01-01T00:00:00Z","dry_run":true}'
get /v1/sources/crm/pause "${auth[@]}" -X POST
get /v1/sources/crm/resume "${auth[@]}" -X POST
assert_contains "$(cat "$out_dir"/http.*)" 'cdc_up{component="sink",name="erp"} 1' "the metrics were read"
assert_contains "$(cat "$out_dir"/http.*)" '"name":"crm"' "the API was read"
keep status "$CDC_AGENT" status -c "$tmp/agent.yaml" --api "$url"
assert_contains "$(cat "$out_dir/status")" "erp" "status --api answered"
pg -c "UPDATE secsrc SET name = 'after' WHERE id <= 10" >/dev/null
wait_value "the updates applied" 10 my -N -e "SELECT COUNT(*) FROM sec_copy WHERE name = 'after'"

# a reload with a malformed URI that carries a password: refused, the password not quoted
write "$tmp/agent.yaml" "postgresql://cdc:$uri_secret@[127.0.0.1/cdc_test"
keep check-uri "$CDC_AGENT" check -c "$tmp/agent.yaml"
assert_eq 2 "$rc" "check: a malformed URI is a config error"
kill -HUP "$agent_pid"
wait_value "the reload refused" 1 grep -c "reload: .*the running configuration stays" "$tmp/agent.log"
cp "$tmp/good.yaml" "$tmp/agent.yaml"
agent_stop
assert_eq 0 "$rc" "graceful stop"

# wrong passwords: check and run fail naming the server, not the password
export SEC_PG_PW=$wrong_secret
printf '%s\n' "$wrong_secret" >"$tmp/mypw"
keep check-wrong "$CDC_AGENT" check -c "$tmp/agent.yaml"
assert_eq 1 "$rc" "check fails with wrong passwords"
assert_contains "$(cat "$out_dir/check-wrong")" "127.0.0.1:$CDC_TEST_PG_PORT" "names the server"
keep run-wrong timeout 60 "$CDC_AGENT" run -c "$tmp/agent.yaml"
assert_eq 1 "$rc" "run fails with a wrong password"

cp "$tmp/agent.log" "$out_dir/agent.log"
"$CDC_TOPIC_DUMP" "$boot" cdc.crm.public.secsrc --headers >"$out_dir/topic" 2>&1
"$CDC_TOPIC_DUMP" "$boot" cdc._offsets >"$out_dir/offsets" 2>&1
assert_contains "$(cat "$out_dir/agent.log")" "debug" "the log was at debug"
for name in "PostgreSQL password:$PGPASSWORD" "MariaDB password:$MYPW" "API token:$token" \
            "mask salt:$salt" "password in the URI:$uri_secret" "wrong password:$wrong_secret"; do
    secret=${name#*:}
    hits=$(grep -lF -- "$secret" "$out_dir"/* || true)
    assert_eq "" "$hits" "no ${name%%:*} in any output"
done
finish

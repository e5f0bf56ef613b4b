#!/usr/bin/env bash
# Signed records (kafka.signing_key_env): an agent holding the key signs what its source
# publishes (a cdc-sig header on every data record) and its sink applies it; a record written to
# the topic by anyone else (no header) goes to the sink's DLQ with the reason and touches no row;
# a sink-only agent holding another key sends every record there, applying none; neither key
# appears in any log.
. "$(dirname "$0")/../harness/agent_test.sh"
mock_start "cdc._offsets 1" "cdc._schemas 1" "cdc.crm.public.signsrc 4" "cdc._dlq.signed 1" \
    "cdc._dlq.other 1"
export SIGN_KEY=$(random_secret)$(random_secret) OTHER_KEY=$(random_secret)$(random_secret)
pg_to_my_config sign-test signsrc sign_target signed
sed -i 's/^kafka: {/kafka: {signing_key_env: SIGN_KEY, /' "$tmp/agent.yaml"
my -e "DELETE FROM cdc_test.cdc_sink_offsets WHERE sink IN ('signed', 'other')" 2>/dev/null || true
start_agent
pg -c "INSERT INTO signsrc SELECT g, g, 'p' FROM generate_series(1, 20) g" >/dev/null
target() { my -N -e "SELECT COUNT(*) FROM $1.signsrc"; }
wait_value "signed records applied" 20 target sign_target
dump() { "$CDC_TOPIC_DUMP" "$boot" "$1" --headers; }
assert_eq 20 "$(dump cdc.crm.public.signsrc | grep -c 'cdc-sig=[0-9a-f]\{64\}')" "every record carries its signature"
# a record put on the topic without the key
last=$(dump cdc.crm.public.signsrc | cut -f3 | sort | tail -1)
"$CDC_KAFKA_ADMIN" "$boot" put cdc.crm.public.signsrc '{"id":999}' '{"v":1,"op":"c","source":{"system":"crm","connector":"postgresql","db":"cdc_test","schema":"public","table":"signsrc","ts_ms":1,"snapshot":false,"pos":"'"$last"'"},"key":{"id":999},"before":null,"after":{"id":999,"v":1,"pad":"forged"}}' &&
    ok || bad "a record put on the topic"
dlq_lines() { dump "cdc._dlq.$1" | wc -l; }
wait_value "the unsigned record in the DLQ" 1 dlq_lines signed
assert_contains "$(dump cdc._dlq.signed)" "it has no cdc-sig header: not signed by an agent with the signing key" "the reason"
assert_eq 0 "$(my -N -e "SELECT COUNT(*) FROM sign_target.signsrc WHERE id = 999")" "the unsigned record applied nowhere"
pg -c "UPDATE signsrc SET v = 100 WHERE id <= 5" >/dev/null
wait_value "the next signed changes applied" 5 my -N -e "SELECT COUNT(*) FROM sign_target.signsrc WHERE v = 100"
agent_stop
assert_eq 0 "$rc" "graceful stop"
cp "$tmp/agent.log" "$tmp/first.log"

# a sink-only agent holding another key: every record refused
my -e "DROP DATABASE IF EXISTS sign_other; CREATE DATABASE sign_other;
       CREATE TABLE sign_other.signsrc (id INT PRIMARY KEY, v INT NOT NULL, pad VARCHAR(20))"
cat >"$tmp/agent.yaml" <<EOC
agent: {name: sign-other}
kafka: {brokers: "$boot", signing_key_env: OTHER_KEY}
sinks:
  - {name: other, type: mysql, host: 127.0.0.1, port: $CDC_TEST_MYSQL_PORT, user: cdc,
     password_env: MYPW, database: sign_other, batch_ms: 20,
     routes: [{from: crm.public.signsrc, to: sign_other.signsrc}]}
EOC
: >"$tmp/agent.log"
start_agent
wait_value "every record under another key in the DLQ" 26 dlq_lines other
assert_contains "$(dump cdc._dlq.other)" "its cdc-sig header does not match its topic, key and value under the signing key" "the reason"
assert_eq 0 "$(target sign_other)" "none applied"
agent_stop
assert_eq 0 "$rc" "graceful stop"
for k in "$SIGN_KEY" "$OTHER_KEY"; do
    assert_eq "" "$(grep -lF -- "$k" "$tmp/first.log" "$tmp/agent.log" || true)" "the key in no log"
done
finish

#!/usr/bin/env bash
# The CLI contract as a user sees it: help, version, usage errors (exit 2), config errors naming
# file:line:column (exit 2), and commands whose connectors are not built yet (exit 1, said so).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/harness/assert.sh"
agent=$CDC_AGENT
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

run "$agent" --help
assert_eq 0 "$rc" "--help exit"
assert_contains "$out" "usage: cdc-agent COMMAND" "--help text"
run "$agent" version
assert_eq 0 "$rc" "version exit"
assert_contains "$out" "librdkafka 2." "version lists libraries"
run "$agent"
assert_eq 2 "$rc" "no command"
assert_contains "$out" "missing command" "no command message"
run "$agent" frobnicate -c x
assert_eq 2 "$rc" "unknown command"
run "$agent" replay -c x --sink erp
assert_eq 2 "$rc" "replay without a start point"
assert_contains "$out" "exactly one of --from-timestamp or --from-offset" "replay usage"

run "$agent" check -c "$tmp/missing.yaml"
assert_eq 2 "$rc" "missing config file"
assert_contains "$out" "$tmp/missing.yaml: cannot open" "missing file named"

printf 'agent: {name: a}\nkafka: {brokers: embedded}\nsources:\n  - name: crm\n    type: postgresql\n    slto: x\n    tables: [public.t]\n' >"$tmp/bad.yaml"
run "$agent" check -c "$tmp/bad.yaml"
assert_eq 2 "$rc" "config error exit"
assert_contains "$out" "$tmp/bad.yaml:6:5: sources[0].slto: unknown key; did you mean 'slot'?" "config error position"

printf 'agent: {name: a}\nkafka: {brokers: embedded}\nsources:\n  - {name: crm, type: postgresql, conninfo: "host=127.0.0.1", tables: [public.t]}\n' >"$tmp/ok.yaml"
run "$agent" snapshot --source crm --table public.t -c "$tmp/ok.yaml"
assert_eq 1 "$rc" "snapshot with the source's server down: exit 1"
assert_contains "$out" "snapshot: source crm: postgresql 127.0.0.1:5432: connection" "snapshot names host:port"
run "$agent" snapshot --source crm --table t -c "$tmp/ok.yaml"
assert_eq 2 "$rc" "snapshot of a table the source does not capture: exit 2"
assert_contains "$out" "source crm does not capture table t; its tables: public.t" "snapshot names the tables"
# the offset commands name what is wrong with the config they are given
run "$agent" replay --sink erp --from-offset cdc.crm.public.t:0:5 -c "$tmp/ok.yaml"
assert_eq 2 "$rc" "replay of an unknown sink: exit 2"
assert_contains "$out" "ok.yaml: no sink named erp" "replay of an unknown sink: said"
run "$agent" offsets set --sink erp --offset cdc.crm.public.t:0:5 -c "$tmp/ok.yaml"
assert_eq 2 "$rc" "offsets set with embedded Kafka: exit 2"
assert_contains "$out" "nothing for offsets set to work on; it works with a Kafka cluster" "offsets set with embedded Kafka: said"
run "$agent" offsets set --sink erp -c "$tmp/ok.yaml"
assert_eq 2 "$rc" "offsets set --sink without --offset: usage"
assert_contains "$out" "--sink needs --offset TOPIC:PART:OFF" "offsets set --sink without --offset: said"

finish

#!/usr/bin/env bash
# PostgreSQL replica identity: a table whose REPLICA IDENTITY USING INDEX leaves out its primary
# key would publish deletes with a null key (a sink then deletes nothing). `check` and `run`
# refuse it with the exact ALTER TABLE; a table keyed only by its identity index (no primary
# key) publishes deletes under that key; an identity changed while the agent streams stops the
# source at the first change that lacks its key, and a restart does not skip it.
. "$(dirname "$0")/../harness/agent_test.sh"
pg_reset ri ri_idx
pg_reset rinopk ri_nopk
pg -c "CREATE TABLE ri_idx (id int PRIMARY KEY, email text NOT NULL UNIQUE, v int)" \
   -c "ALTER TABLE ri_idx REPLICA IDENTITY USING INDEX ri_idx_email_key" \
   -c "CREATE TABLE ri_nopk (email text NOT NULL UNIQUE, v int)" \
   -c "ALTER TABLE ri_nopk REPLICA IDENTITY USING INDEX ri_nopk_email_key" >/dev/null
mock_start "cdc._offsets 1" "cdc._schemas 1" "cdc.crm.public.ri_idx 2" "cdc.crmnopk.public.ri_nopk 2"
agent_config "$tmp/agent.yaml" ri-test ri_idx
sed -i 's/slot: ri_idx, publication: ri_idx/slot: ri, publication: ri/' "$tmp/agent.yaml"
fix='ALTER TABLE "public"."ri_idx" REPLICA IDENTITY DEFAULT;'

# refused at check and at start, with the fix
run "$CDC_AGENT" check -c "$tmp/agent.yaml"
assert_eq 1 "$rc" "check: not ready"
assert_contains "$out" "REPLICA IDENTITY USING INDEX that leaves out primary-key columns" "check: why"
assert_contains "$out" "$fix" "check: the fix"
run timeout 60 "$CDC_AGENT" run -c "$tmp/agent.yaml"
assert_eq 1 "$rc" "run refuses the table"
assert_contains "$out" "$fix" "run: the fix"

# keyed by the identity index when there is no primary key
sed 's/ri_idx/ri_nopk/; s/slot: ri, publication: ri/slot: rinopk, publication: rinopk/; s/name: crm,/name: crmnopk,/' "$tmp/agent.yaml" >"$tmp/nopk.yaml"
run "$CDC_AGENT" check -c "$tmp/nopk.yaml"
assert_not_contains "$out" "ri_nopk has" "identity index without primary key: accepted"
"$CDC_AGENT" run -c "$tmp/nopk.yaml" >"$tmp/agent.log" 2>&1 &
agent_pid=$!
wait_value "identity-index table streaming" t pg -Atc "SELECT active FROM pg_replication_slots WHERE slot_name = 'rinopk'"
pg -c "INSERT INTO ri_nopk VALUES ('a@x', 1), ('b@x', 2)" -c "UPDATE ri_nopk SET email = 'c@x' WHERE email = 'b@x'" \
   -c "DELETE FROM ri_nopk WHERE email = 'a@x'" >/dev/null
wait_caught_up rinopk && ok || bad "identity-index table: caught up"
agent_stop
dump=$("$CDC_TOPIC_DUMP" "$boot" cdc.crmnopk.public.ri_nopk | cut -f4,5)
assert_contains "$dump" $'{"email":"a@x"}\t{"v":1,"op":"d"' "delete keyed by the identity index"
assert_contains "$dump" $'{"email":"b@x"}\t{"v":1,"op":"d"' "identity change: delete of the old key"
assert_not_contains "$dump" '"email":null' "no null key"

# identity changed while streaming: the source stops at the delete that lacks its key
pg -c "ALTER TABLE ri_idx REPLICA IDENTITY DEFAULT" >/dev/null
start_agent
wait_value "table streaming" t pg -Atc "SELECT active FROM pg_replication_slots WHERE slot_name = 'ri'"
pg -c "INSERT INTO ri_idx VALUES (1, 'a@x', 1), (2, 'b@x', 2)" >/dev/null
wait_caught_up ri && ok || bad "inserts published"
pg -c "ALTER TABLE ri_idx REPLICA IDENTITY USING INDEX ri_idx_email_key" -c "DELETE FROM ri_idx WHERE id = 1" >/dev/null
for i in $(seq 1 300); do kill -0 "$agent_pid" 2>/dev/null || break; sleep 0.1; done
wait "$agent_pid" && rc=0 || rc=$?
agent_pid=
assert_eq 1 "$rc" "source stopped at the change without its key"
assert_contains "$(cat "$tmp/agent.log")" "lacks key column id" "stop: why"
# with the identity fixed, the WAL still holds that delete without its key: the restart stops
# at the same change instead of skipping it
pg -c "ALTER TABLE ri_idx REPLICA IDENTITY DEFAULT" >/dev/null
run timeout 20 "$CDC_AGENT" run -c "$tmp/agent.yaml"
assert_contains "$out" "lacks key column id" "restart stops at the same change, nothing skipped"
dump=$("$CDC_TOPIC_DUMP" "$boot" cdc.crm.public.ri_idx | cut -f4,5)
assert_not_contains "$dump" '"id":null' "no event with a null key"
assert_eq 2 "$(echo "$dump" | grep -c '"op":"c"')" "both inserts published"
pg_reset ri ri_idx # slots are few: leave none behind
pg_reset rinopk ri_nopk
finish

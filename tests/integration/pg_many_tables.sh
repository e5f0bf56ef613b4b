#!/usr/bin/env bash
# A PostgreSQL source with hundreds of tables (CRMs have them): one change per table reaches its
# topic, the Relation messages of tables altered while streaming and of every table again after a
# restart are taken in stride, and the source never loses track of a table it was told about.
. "$(dirname "$0")/../harness/agent_test.sh"
n=${CDC_MANY_TABLES:-300}
tables=$(seq -f 'many_%g' 1 "$n")
pg_reset many $tables
for t in $tables; do echo "CREATE TABLE $t (id int PRIMARY KEY, v text);"; done | pg >/dev/null

specs=("cdc._offsets 1" "cdc._schemas 1")
for t in $tables; do specs+=("cdc.crm.public.$t 1"); done
mock_start "${specs[@]}"
agent_config "$tmp/agent.yaml" many-tables many
list=$(for t in $tables; do printf 'public.%s, ' "$t"; done)
sed -i "s/tables: \[public.many\]/tables: [${list%, }]/" "$tmp/agent.yaml"
start_agent

# one insert per table, each its own transaction: a Relation message per table
for t in $tables; do echo "INSERT INTO $t VALUES (1, 'a');"; done | pg >/dev/null
wait_caught_up many && ok || bad "caught up after one insert in each of $n tables"
# a schema change on every tenth table: its Relation message comes again, with a new column
for t in $(seq -f 'many_%g' 1 10 "$n"); do
    echo "ALTER TABLE $t ADD COLUMN extra int; INSERT INTO $t VALUES (2, 'b', 7);"
done | pg >/dev/null
# every table again in one transaction
(echo "BEGIN;"; for t in $tables; do echo "UPDATE $t SET v = 'c' WHERE id = 1;"; done; echo "COMMIT;") | pg >/dev/null
wait_caught_up many && ok || bad "caught up after schema changes"
# a restart: every relation is described again to the new session
agent_stop
assert_eq 0 "$rc" "graceful stop"
start_agent
for t in $tables; do echo "DELETE FROM $t WHERE id = 1;"; done | pg >/dev/null
wait_caught_up many && ok || bad "caught up after the restart"
agent_stop
assert_eq 0 "$rc" "graceful stop after the restart"
log=$(grep -v facility= "$tmp/agent.log")
assert_not_contains "$log" "unknown relation" "every relation known"

# per table: insert, update, delete, and (every tenth) the insert of row 2 with the new column
missing=0
for i in $(seq 1 "$n"); do
    want=3
    [ $(((i - 1) % 10)) = 0 ] && want=4
    got=$("$CDC_TOPIC_DUMP" "$boot" "cdc.crm.public.many_$i" | wc -l)
    [ "$got" = "$want" ] || { missing=$((missing + 1)); echo "many_$i: $got events, expected $want" >&2; }
done
assert_eq 0 "$missing" "every change of every table published"
"$CDC_TOPIC_DUMP" "$boot" cdc.crm.public.many_11 | grep -q '"extra":7' && ok || bad "new column carried after the schema change"
pg_reset many $tables # slots are few: leave none behind
finish

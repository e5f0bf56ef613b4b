#!/usr/bin/env bash
# Two-way sync conflicts: both sides edit the same records while the agent is stopped, so each
# sink receives changes whose before image no longer matches the target row. Three table pairs,
# CRM (PostgreSQL, REPLICA IDENTITY FULL) and ERP (MariaDB), one policy each:
#   acct  lww by updated_at, ties to crm: the newer edit wins on both sides, a delete beats an edit
#   ppl   owner: CRM owns email and phone, ERP owns credit; each side's updates write its own
#   price CRM -> ERP source_wins, ERP -> CRM target_wins: the CRM's version always stays
# and one pair for deletes: CRM -> ERP deletes: {soft: deleted_at}, ERP -> CRM deletes: ignore.
# Afterwards both sides are equal, every conflict is in cdc._conflicts with both versions and the
# decision (one record per sink that saw it), cdc_sink_conflicts_total counts them, and changes
# without a conflict pass as before. Also: config errors of the policy keys name file:line.
. "$(dirname "$0")/../harness/agent_test.sh"
trap cleanup_tmp EXIT

pg_reset cf cf
pg -c "CREATE TABLE acct (id int PRIMARY KEY, name text, updated_at timestamptz NOT NULL);
       CREATE TABLE ppl (id int PRIMARY KEY, email text, phone text, credit int);
       CREATE TABLE price (id int PRIMARY KEY, amount numeric(10,2));
       ALTER TABLE acct REPLICA IDENTITY FULL; ALTER TABLE ppl REPLICA IDENTITY FULL;
       ALTER TABLE price REPLICA IDENTITY FULL;
       CREATE TABLE gone (id int PRIMARY KEY, name text, deleted_at timestamptz)" >/dev/null
my -e "DROP TABLE IF EXISTS acct, ppl, price, gone;
       CREATE TABLE gone (id INT PRIMARY KEY, name VARCHAR(20), deleted_at DATETIME(3));
       CREATE TABLE acct (id INT PRIMARY KEY, name VARCHAR(100), updated_at DATETIME(6) NOT NULL);
       CREATE TABLE ppl (id INT PRIMARY KEY, email VARCHAR(100), phone VARCHAR(40), credit INT);
       CREATE TABLE price (id INT PRIMARY KEY, amount DECIMAL(10,2))"
mock_start "cdc._offsets 1" "cdc._schemas 1" "cdc._conflicts 1" "cdc._dlq.cferp 1" "cdc._dlq.cfcrm 1" \
    "cdc.crm.public.acct 2" "cdc.crm.public.ppl 2" "cdc.crm.public.price 2" \
    "cdc.erp.cdc_test.acct 2" "cdc.erp.cdc_test.ppl 2" "cdc.erp.cdc_test.price 2" \
    "cdc.crm.public.gone 2" "cdc.erp.cdc_test.gone 2"

http_port=$(free_port)
cat >"$tmp/agent.yaml" <<EOF
agent: {name: conflicts, http: "127.0.0.1:$http_port"}
kafka: {brokers: "$boot", linger_ms: 20, partitions: 2}
sources:
  - {name: crm, type: postgresql, conninfo: "host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=cdc_test user=cdc",
     password_env: PGPASSWORD, tables: [public.acct, public.ppl, public.price, public.gone], slot: cf, publication: cf,
     heartbeat_ms: 1000}
  - {name: erp, type: mysql, host: 127.0.0.1, port: $CDC_TEST_MYSQL_PORT, user: cdc, password_env: MYPW,
     database: cdc_test, server_id: $MY_SERVER_ID, tables: [cdc_test.acct, cdc_test.ppl, cdc_test.price, cdc_test.gone],
     heartbeat_ms: 1000}
sinks:
  - name: cferp
    type: mysql
    host: 127.0.0.1
    port: $CDC_TEST_MYSQL_PORT
    user: cdc
    password_env: MYPW
    database: cdc_test
    batch_ms: 20
    routes:
      - {from: crm.public.acct, to: cdc_test.acct, conflict: lww, lww_column: updated_at, tie_break: [crm, erp]}
      - {from: crm.public.ppl, to: cdc_test.ppl, conflict: owner, owner: {crm: [email, phone], erp: [credit]}}
      - {from: crm.public.price, to: cdc_test.price, conflict: source_wins}
      - {from: crm.public.gone, to: cdc_test.gone, deletes: {soft: deleted_at}}
  - name: cfcrm
    type: postgresql
    conninfo: "host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=cdc_test user=cdc"
    password_env: PGPASSWORD
    batch_ms: 20
    routes:
      - {from: erp.cdc_test.acct, to: public.acct, conflict: lww, lww_column: updated_at, tie_break: [crm, erp]}
      - {from: erp.cdc_test.ppl, to: public.ppl, conflict: owner, owner: {crm: [email, phone], erp: [credit]}}
      - {from: erp.cdc_test.price, to: public.price, conflict: target_wins}
      - {from: erp.cdc_test.gone, to: public.gone, deletes: ignore}
EOF

# ---- the policy keys are checked at load ----
bad_route() { # yaml-route expected-message
    sed "s|{from: crm.public.price, to: cdc_test.price, conflict: source_wins}|$1|" "$tmp/agent.yaml" >"$tmp/bad.yaml"
    assert_contains "$("$CDC_AGENT" check -c "$tmp/bad.yaml" 2>&1)" "$2" "config error: $2"
}
bad_route "{from: crm.public.price, to: cdc_test.price, conflict: lww, tie_break: [crm]}" \
    "bad.yaml:22:"
bad_route "{from: crm.public.price, to: cdc_test.price, conflict: lww, tie_break: [crm]}" \
    "sinks[0].routes[2].lww_column: required with conflict: lww"
bad_route "{from: crm.public.price, to: cdc_test.price, conflict: lww, lww_column: t, tie_break: [erp]}" \
    "sinks[0].routes[2].tie_break: name this route's source 'crm'"
bad_route "{from: crm.public.price, to: cdc_test.price, conflict: owner, owner: {erp: [amount]}}" \
    "sinks[0].routes[2].owner: name this route's source 'crm'"
bad_route "{from: crm.public.price, to: cdc_test.price, conflict: owner, owner: {crm: [amount], erp: [amount]}}" \
    "column 'amount' already has an owner (crm)"
bad_route "{from: crm.public.price, to: cdc_test.price, owner: {crm: [amount]}}" \
    "sinks[0].routes[2].owner: only with conflict: owner"
bad_route "{from: crm.public.price, to: cdc_test.price, conflict: newest}" \
    "'newest' is not one of"
bad_route "{from: crm.public.price, to: cdc_test.price, deletes: {value: 1}}" \
    "sinks[0].routes[2].deletes.soft: required key missing"

rows() { # side table columns
    if [ "$1" = crm ]; then
        pg -Atc "SELECT concat_ws('|', $3) FROM $2 ORDER BY id"
    else
        my -N -e "SELECT CONCAT_WS('|', $3) FROM $2 ORDER BY id"
    fi
}
acct_cols="id, name, to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')"
acct_my="id, name, DATE_FORMAT(updated_at, '%Y-%m-%d %H:%i:%s')"
both_equal() { # table crm-columns erp-columns what
    local i
    for i in $(seq 1 300); do
        [ "$(rows crm "$1" "$2" | md5sum)" = "$(rows erp "$1" "$3" | md5sum)" ] && break
        sleep 0.1
    done
    assert_eq "$(rows crm "$1" "$2")" "$(rows erp "$1" "$3")" "$4: both sides equal"
}
conflicts() { "$CDC_TOPIC_DUMP" "$boot" cdc._conflicts; }
wait_conflicts() { # count
    local i
    for i in $(seq 1 300); do [ "$(conflicts | wc -l)" -ge "$1" ] && break; sleep 0.1; done
}

# ---- initial rows, created on both sides, synced without conflicts ----
start_agent
wait_offsets '"source":"crm"' 300 && ok || bad "crm source started"
wait_offsets '"source":"erp"' 300 && ok || bad "erp source started"
pg -c "INSERT INTO acct SELECT g, 'a' || g, '2026-01-01 10:00:00Z' FROM generate_series(1, 6) g;
       INSERT INTO ppl VALUES (1, 'p1@crm', '111', 10), (2, 'p2@crm', '222', 20);
       INSERT INTO price VALUES (1, 1.50), (2, 2.50)" >/dev/null
my -e "INSERT INTO acct VALUES (7, 'a7', '2026-01-01 10:00:00')"
both_equal acct "$acct_cols" "$acct_my" "initial accounts"
both_equal ppl "id, email, phone, credit" "id, email, phone, credit" "initial people"
both_equal price "id, amount" "id, amount" "initial prices"
pg -c "UPDATE acct SET name = 'plain', updated_at = '2026-01-02 10:00:00Z' WHERE id = 6" >/dev/null
my -e "UPDATE acct SET name = 'plain-erp', updated_at = '2026-01-02 10:00:00' WHERE id = 7"
both_equal acct "$acct_cols" "$acct_my" "an update on each side"
sleep 1
assert_eq 0 "$(conflicts | wc -l)" "no conflict without concurrent edits"
agent_stop
assert_eq 0 "$rc" "graceful stop"

# ---- concurrent edits while the agent is down ----
pg -c "UPDATE acct SET name = 'crm-old', updated_at = '2026-02-01 10:00:00Z' WHERE id = 1;
       UPDATE acct SET name = 'crm-new', updated_at = '2026-02-01 12:00:00Z' WHERE id = 2;
       UPDATE acct SET name = 'crm-tie', updated_at = '2026-02-01 11:00:00Z' WHERE id = 3;
       DELETE FROM acct WHERE id = 4;
       UPDATE acct SET name = 'crm-only', updated_at = '2026-02-01 10:00:00Z' WHERE id = 6;
       UPDATE ppl SET email = 'p1@crm-new', credit = 99 WHERE id = 1;
       UPDATE price SET amount = 10.00 WHERE id = 1" >/dev/null
my -e "UPDATE acct SET name = 'erp-new', updated_at = '2026-02-01 12:00:00' WHERE id = 1;
       UPDATE acct SET name = 'erp-old', updated_at = '2026-02-01 10:00:00' WHERE id = 2;
       UPDATE acct SET name = 'erp-tie', updated_at = '2026-02-01 11:00:00' WHERE id = 3;
       UPDATE acct SET name = 'erp-edit', updated_at = '2026-02-01 12:00:00' WHERE id = 4;
       UPDATE acct SET name = 'erp-only', updated_at = '2026-02-01 10:00:00' WHERE id = 7;
       UPDATE ppl SET phone = '999', credit = 55 WHERE id = 1;
       UPDATE price SET amount = 20.00 WHERE id = 1"
start_agent
both_equal acct "$acct_cols" "$acct_my" "lww"
assert_eq "1|erp-new|2026-02-01 12:00:00
2|crm-new|2026-02-01 12:00:00
3|crm-tie|2026-02-01 11:00:00
5|a5|2026-01-01 10:00:00
6|crm-only|2026-02-01 10:00:00
7|erp-only|2026-02-01 10:00:00" "$(rows crm acct "$acct_cols")" \
    "lww: the newer edit wins, a tie goes to crm, the delete beats the edit, lone edits pass"
both_equal ppl "id, email, phone, credit" "id, email, phone, credit" "owner"
assert_eq "1|p1@crm-new|111|55" "$(rows crm ppl "id, email, phone, credit" | head -1)" \
    "owner: email and phone from the CRM, credit from the ERP"
both_equal price "id, amount" "id, amount" "source_wins / target_wins"
assert_eq "1|10.00" "$(rows crm price "id, amount" | head -1)" "the CRM's price stays on both sides"

# 4 lww rows (1, 2, 3, 4) and 1 owner row and 1 price row, each seen by both sinks
wait_conflicts 12
out=$(conflicts)
assert_eq 12 "$(wc -l <<<"$out")" "12 conflict records"
res() { # route key-json resolution
    grep -c "\"route\":\"$1\".*\"resolution\":\"$3\".*\"key\":$2" <<<"$out"
}
assert_eq 1 "$(res crm.public.acct '{"id":1}' target)" "acct 1 in the ERP: its newer edit kept"
assert_eq 1 "$(res erp.cdc_test.acct '{"id":1}' incoming)" "acct 1 in the CRM: the ERP's newer edit applied"
assert_eq 1 "$(res crm.public.acct '{"id":2}' incoming)" "acct 2 in the ERP: the CRM's newer edit applied"
assert_eq 1 "$(res erp.cdc_test.acct '{"id":2}' target)" "acct 2 in the CRM: its newer edit kept"
assert_eq 1 "$(res crm.public.acct '{"id":3}' incoming)" "acct 3 tie in the ERP: crm wins"
assert_eq 1 "$(res erp.cdc_test.acct '{"id":3}' target)" "acct 3 tie in the CRM: crm kept"
assert_eq 1 "$(res crm.public.acct '{"id":4}' incoming)" "acct 4 in the ERP: the delete applied"
assert_eq 1 "$(grep -c '"route":"erp.cdc_test.acct".*"resolution":"target","reason":"deleted in the target".*"key":{"id":4}' <<<"$out")" \
    "acct 4 in the CRM: the edit of a deleted row not applied"
assert_eq 1 "$(res crm.public.ppl '{"id":1}' incoming)" "ppl 1 in the ERP: the owner's columns written"
assert_eq 1 "$(res erp.cdc_test.ppl '{"id":1}' incoming)" "ppl 1 in the CRM: the owner's columns written"
assert_eq 1 "$(res crm.public.price '{"id":1}' incoming)" "price 1 in the ERP: source_wins"
assert_eq 1 "$(res erp.cdc_test.price '{"id":1}' target)" "price 1 in the CRM: target_wins"
rec=$(grep '"route":"crm.public.acct".*"key":{"id":1}' <<<"$out")
assert_contains "$rec" '"target_row":{"id": 1, "name": "erp-new"' "the record holds the target's version"
assert_contains "$rec" '"incoming":{' "the record holds the incoming event"
assert_contains "$rec" '"name":"crm-old"' "the incoming event's values"
assert_contains "$rec" '"policy":"lww"' "the policy"
metric() { curl -s "http://127.0.0.1:$http_port/metrics" | sed -n "s/^cdc_sink_conflicts_total{$1} //p"; }
assert_eq 3 "$(metric 'sink="cferp",route="crm.public.acct",resolution="incoming"')" "metric: cferp acct incoming"
assert_eq 1 "$(metric 'sink="cferp",route="crm.public.acct",resolution="target"')" "metric: cferp acct target"
assert_eq 3 "$(metric 'sink="cfcrm",route="erp.cdc_test.acct",resolution="target"')" "metric: cfcrm acct target"
assert_contains "$(cat "$tmp/agent.log")" "conflict (route crm.public.acct): the target's version kept" "logged"

# deletes: soft on the ERP side, ignored on the CRM side
pg -c "INSERT INTO gone VALUES (1, 'crm-row', NULL)" >/dev/null
my -e "INSERT INTO gone VALUES (2, 'erp-row', NULL)"
both_equal gone "id, name, CASE WHEN deleted_at IS NULL THEN 1 END" "id, name, CASE WHEN deleted_at IS NULL THEN 1 END" "rows to delete"
pg -c "DELETE FROM gone WHERE id = 1" >/dev/null
my -e "DELETE FROM gone WHERE id = 2"
wait_value "soft delete in the ERP" "1|crm-row|0" \
    my -N -e "SELECT CONCAT_WS('|', id, name, deleted_at IS NULL) FROM gone WHERE id = 1"
assert_eq 1 "$(my -N -e "SELECT deleted_at > NOW() - INTERVAL 5 MINUTE FROM gone WHERE id = 1")" \
    "soft delete: deleted_at is the delete's commit time"
sleep 1
assert_eq "2|erp-row" "$(rows crm gone "id, name")" "deletes: ignore keeps the CRM row"

# a plain update after the conflicts passes without a new one
pg -c "UPDATE acct SET name = 'later', updated_at = '2026-03-01 10:00:00Z' WHERE id = 1" >/dev/null
both_equal acct "$acct_cols" "$acct_my" "an update after the conflicts"
assert_eq "1|later" "$(rows erp acct "id, name" | head -1)" "the later update applied"
sleep 1
assert_eq 12 "$(conflicts | wc -l)" "no new conflict"
agent_stop
assert_eq 0 "$rc" "graceful stop"
finish

#!/usr/bin/env bash
# The PostgreSQL <-> MySQL type table of docs/sinks.md, one check per row: a PostgreSQL source table
# with a column per type synced into a MariaDB table, and a MariaDB source table synced into a
# PostgreSQL one, in one agent. Row 1 of each source holds every value that converts; each
# refused case is a row of its own holding only the refused value, which must land in the sink's
# dead-letter topic with its reason while row 1 is applied.
#
# Cases are "name|source type|source literal|target type|expected": for a conversion the
# expected value is a target SQL expression compared with the column (JSON: a JSON text compared
# as JSON); for a refused case (its name starts with "x_") the text its DLQ reason contains.
. "$(dirname "$0")/../harness/agent_test.sh"

pg_to_my=(
    "smallint|smallint|-32768|SMALLINT|-32768"
    "integer|integer|2147483647|INT|2147483647"
    "bigint|bigint|9007199254740993|BIGINT|9007199254740993"
    "numeric|numeric(30,10)|-12345678901234567890.0123456789|DECIMAL(30,10)|-12345678901234567890.0123456789"
    "real|real|0.1|FLOAT|CAST(0.1 AS FLOAT)"
    "double|double precision|0.30000000000000004|DOUBLE|0.30000000000000004"
    "boolean|boolean|true|BOOLEAN|1"
    "int_bit|integer|5|BIT(5)|b'00101'"
    "int_year|smallint|2026|YEAR|2026"
    "text|text|E'h\\u00e9llo \"w\"\\n\\\\'|TEXT|'héllo \"w\"\\n\\\\'"
    "varchar|varchar(20)|'Zoë ''q'' 😀'|VARCHAR(20)|'Zoë ''q'' 😀'"
    "text_escapes|text|E'0123456789abcdef\\'x\\\\y\"z\\r\\n\\x1a\\tend é\\' 😀\\\\ 0123456789abcdefghij\\''|TEXT|'0123456789abcdef\\'x\\\\y\"z\\r\\n\\Z\\tend é\\' 😀\\\\ 0123456789abcdefghij\\''"
    "bytea|bytea|'\\x00ff10'|VARBINARY(16)|X'00FF10'"
    "bytea_blob|bytea|'\\x00'|BLOB|X'00'"
    "date|date|'2026-11-25'|DATE|'2026-11-25'"
    "timestamp|timestamp(6)|'2026-11-25 12:00:00.5'|DATETIME(6)|'2026-11-25 12:00:00.5'"
    "timestamptz|timestamptz|'2026-11-25 14:00:00.123456+02'|DATETIME(6)|'2026-11-25 12:00:00.123456'"
    "timestamptz_ts|timestamptz|'2026-11-25 14:00:00+02'|TIMESTAMP(6) NULL|'2026-11-25 12:00:00'"
    "time|time(6)|'12:34:56.789'|TIME(6)|'12:34:56.789'"
    "timetz|timetz|'12:00:00+05:30'|VARCHAR(32)|'12:00:00+05:30'"
    "interval|interval|'1 year 2 mons 3 days 04:05:06.789'|VARCHAR(64)|'P1Y2M3DT4H5M6.789S'"
    "uuid|uuid|'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'|UUID|'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"
    "uuid_char|uuid|'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'|CHAR(36)|'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"
    "jsonb|jsonb|'{\"a\": [1, 2.50], \"b\": \"é\"}'|JSON|JSON:{\"a\": [1, 2.50], \"b\": \"é\"}"
    "int_array|integer[]|'{{1,2},{3,NULL}}'|JSON|JSON:[[1,2],[3,null]]"
    "text_array|text[]|ARRAY['a b', 'c\"d']|JSON|JSON:[\"a b\",\"c\\\\\"d\"]"
    "enum|types_mood|'ok'|ENUM('sad','ok','happy')|'ok'"
    "x_ts_infinity|timestamp|'infinity'|DATETIME(6)|infinity cannot be stored in datetime"
    "x_date_bc|date|'0044-03-15 BC'|DATE|Incorrect date value"
    "x_numeric_nan|numeric|'NaN'|DECIMAL(10,2)|Incorrect decimal value"
    "x_double_nan|double precision|'NaN'|DOUBLE|Incorrect double value"
    "x_text_long|text|'longer than ten'|VARCHAR(10)|Data too long"
    "x_bigint_int|bigint|9223372036854775807|INT|Out of range value"
)
my_to_pg=(
    "tinyint|TINYINT|-128|smallint|-128"
    "bool|BOOLEAN|1|boolean|true"
    "usmallint|SMALLINT UNSIGNED|65535|integer|65535"
    "int|INT|-2147483648|integer|-2147483648"
    "bigint|BIGINT|-9223372036854775808|bigint|-9223372036854775808"
    "ubigint|BIGINT UNSIGNED|18446744073709551615|numeric(20,0)|18446744073709551615"
    "decimal|DECIMAL(65,30)|-12345678901234567890123456789012345.123456789012345678901234567890|numeric(65,30)|-12345678901234567890123456789012345.123456789012345678901234567890"
    "float|FLOAT|0.1|real|0.1::real"
    "double|DOUBLE|0.30000000000000004|double precision|0.30000000000000004::float8"
    "bit|BIT(5)|b'00101'|integer|5"
    "year|YEAR|2026|smallint|2026"
    "varchar|VARCHAR(20)|'Zoë \\'q\\' 😀'|text|'Zoë ''q'' 😀'"
    "latin1|VARCHAR(10) CHARACTER SET latin1|'café'|varchar(10)|'café'"
    "char|CHAR(5)|'ab'|char(5)|'ab'"
    "varbinary|VARBINARY(8)|X'00FF10'|bytea|'\\x00ff10'::bytea"
    "blob|BLOB|X'00'|bytea|'\\x00'::bytea"
    "date|DATE|'2026-11-25'|date|'2026-11-25'::date"
    "zero_date|DATE|'0000-00-00'|date|NULL"
    "datetime|DATETIME(6)|'2026-11-25 12:00:00.5'|timestamp(6)|'2026-11-25 12:00:00.5'::timestamp"
    "timestamp|TIMESTAMP(6) NULL|'2026-11-25 12:00:00.123456'|timestamptz|'2026-11-25 12:00:00.123456+00'::timestamptz"
    "time|TIME(6)|'12:34:56.5'|time(6)|'12:34:56.5'::time"
    "time_long|TIME|'-838:59:59'|interval|'-838:59:59'::interval"
    "enum|ENUM('sad','ok')|'ok'|text|'ok'"
    "set|SET('r','w','x')|'r,w'|text|'r,w'"
    "json|JSON|'{\"a\": [1, 2.50]}'|jsonb|'{\"a\": [1, 2.50]}'::jsonb"
    "json_array|JSON|'[1, 2, 3]'|integer[]|'{1,2,3}'::integer[]"
    "x_ubigint_bigint|BIGINT UNSIGNED|18446744073709551615|bigint|out of range for type bigint"
    "x_time_time|TIME|'-838:59:59'|time|out of range: \"-838:59:59\""
    "x_nul_text|VARCHAR(10)|CONCAT('a', CHAR(0), 'b')|text|a NUL character cannot be stored"
    "x_text_long|VARCHAR(20)|'longer than five'|varchar(5)|value too long for type character varying(5)"
)
field() { echo "$1" | cut -d'|' -f"$2"; }

# DDL and row inserts from a case list: table columns "c_<name> <type>" (source: field 2, target:
# field 4); row 1 holds the conversions, row 100+i refused case i.
columns() { # field case...
    local f=$1 c
    shift
    for c in "$@"; do printf ', c_%s %s' "$(field "$c" 1)" "$(field "$c" "$f")"; done
}
inserts() { # table case...
    local tbl=$1 c cols="id" vals="1" i=0
    shift
    for c in "$@"; do
        i=$((i + 1))
        case $c in
        x_*) echo "INSERT INTO $tbl (id, c_$(field "$c" 1)) VALUES ($((100 + i)), $(field "$c" 3));" ;;
        *) cols="$cols, c_$(field "$c" 1)" vals="$vals, $(field "$c" 3)" ;;
        esac
    done
    echo "INSERT INTO $tbl ($cols) VALUES ($vals);"
}
refused() { # case...: the number of refused cases
    local c n=0
    for c in "$@"; do case $c in x_*) n=$((n + 1)) ;; esac; done
    echo "$n"
}

pg_reset typessrc types_src
pg -c "DROP TYPE IF EXISTS types_mood" -c "CREATE TYPE types_mood AS ENUM ('sad', 'ok', 'happy')" \
   -c "CREATE TABLE types_src (id int PRIMARY KEY$(columns 2 "${pg_to_my[@]}"))" >/dev/null
[ "$(pg -Atc "SELECT count(*) FROM pg_database WHERE datname = 'cdc_types'")" = 1 ] ||
    pg -c "CREATE DATABASE cdc_types" >/dev/null
pgt() { psql -q -h 127.0.0.1 -p "$CDC_TEST_PG_PORT" -U cdc -d cdc_types -v ON_ERROR_STOP=1 "$@"; }
myt() { mariadb --no-defaults --default-character-set=utf8mb4 -h 127.0.0.1 -P "$CDC_TEST_MYSQL_PORT" -u cdc -p"$MYPW" cdc_types "$@"; }
my() { mariadb --no-defaults --default-character-set=utf8mb4 -h 127.0.0.1 -P "$CDC_TEST_MYSQL_PORT" -u cdc -p"$MYPW" cdc_test "$@"; }
pgt -c "DROP TABLE IF EXISTS types_dst, cdc_sink_offsets" \
    -c "CREATE TABLE types_dst (id int PRIMARY KEY$(columns 4 "${my_to_pg[@]}"))" >/dev/null
my -e "CREATE DATABASE IF NOT EXISTS cdc_types"
myt -e "DROP TABLE IF EXISTS types_dst, cdc_sink_offsets;
        CREATE TABLE types_dst (id INT PRIMARY KEY$(columns 4 "${pg_to_my[@]}")) CHARACTER SET utf8mb4"
my -e "DROP TABLE IF EXISTS types_src;
       CREATE TABLE types_src (id INT PRIMARY KEY$(columns 2 "${my_to_pg[@]}")) CHARACTER SET utf8mb4"

mock_start "cdc._offsets 1" "cdc._schemas 1" "cdc.crm.public.types_src 1" "cdc.erp.cdc_test.types_src 1" \
    "cdc._dlq.tomy 1" "cdc._dlq.topg 1"
cat >"$tmp/agent.yaml" <<EOC
agent: {name: types-test}
kafka: {brokers: "$boot", linger_ms: 20}
sources:
  - {name: crm, type: postgresql, conninfo: "host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=cdc_test user=cdc",
     password_env: PGPASSWORD, tables: [public.types_src], slot: typessrc, publication: typessrc,
     heartbeat_ms: 1000}
  - {name: erp, type: mysql, host: 127.0.0.1, port: $CDC_TEST_MYSQL_PORT, user: cdc, password_env: MYPW,
     database: cdc_test, server_id: $MY_SERVER_ID, tables: [cdc_test.types_src], heartbeat_ms: 1000}
sinks:
  - {name: tomy, type: mysql, host: 127.0.0.1, port: $CDC_TEST_MYSQL_PORT, user: cdc, password_env: MYPW,
     database: cdc_types, batch_ms: 20, routes: [{from: crm.public.types_src, to: cdc_types.types_dst}]}
  - {name: topg, type: postgresql, conninfo: "host=127.0.0.1 port=$CDC_TEST_PG_PORT dbname=cdc_types user=cdc",
     password_env: PGPASSWORD, batch_ms: 20, routes: [{from: erp.cdc_test.types_src, to: public.types_dst}]}
EOC
start_agent
# the (empty) snapshots done, the rows go through the streams
wait_offsets '"snapshot_done":true.*"source":"crm"' || true
wait_offsets '"snapshot_done":true.*"source":"erp"' || true
inserts types_src "${pg_to_my[@]}" | pg >/dev/null
{ echo "SET time_zone = '+00:00';"; inserts types_src "${my_to_pg[@]}"; } | my

dlq() { "$CDC_TOPIC_DUMP" "$boot" "cdc._dlq.$1" --headers; }
dlq_count() { dlq "$1" | wc -l; }
wait_value "PostgreSQL -> MariaDB: row 1 applied" 1 myt -N -e "SELECT COUNT(*) FROM types_dst"
wait_value "MariaDB -> PostgreSQL: row 1 applied" 1 pgt -Atc "SELECT COUNT(*) FROM types_dst"
wait_value "PostgreSQL -> MariaDB: refused cases in the DLQ" "$(refused "${pg_to_my[@]}")" dlq_count tomy
wait_value "MariaDB -> PostgreSQL: refused cases in the DLQ" "$(refused "${my_to_pg[@]}")" dlq_count topg

check_cases() { # sink direction case...
    local sink=$1 dir=$2 c name want i=0 got line dl
    shift 2
    dl=$(dlq "$sink")
    for c in "$@"; do
        i=$((i + 1))
        name=$(field "$c" 1) want=$(field "$c" 5)
        case $name in
        x_*)
            line=$(grep "{\"id\":$((100 + i))}" <<<"$dl" || true)
            assert_contains "$line" "$want" "$dir $(field "$c" 2) -> $(field "$c" 4): refused ($name)" ;;
        *)
            if [ "$dir" = "PostgreSQL -> MariaDB" ]; then
                case $want in
                JSON:*) got=$(myt -N -e "SELECT JSON_EQUALS(c_$name, '${want#JSON:}') FROM types_dst WHERE id = 1") ;;
                *) got=$(myt -N -e "SET time_zone = '+00:00'; SELECT c_$name <=> $want FROM types_dst WHERE id = 1") ;;
                esac
                [ "$got" = 1 ] || got="$got (target holds: $(myt -N -e "SELECT HEX(c_$name) FROM types_dst WHERE id = 1"))"
                assert_eq 1 "$got" "$dir $(field "$c" 2) -> $(field "$c" 4) ($name)"
            else
                got=$(pgt -Atc "SELECT c_$name IS NOT DISTINCT FROM $want FROM types_dst WHERE id = 1")
                [ "$got" = t ] || got="$got (target holds: $(pgt -Atc "SELECT c_$name FROM types_dst WHERE id = 1"))"
                assert_eq t "$got" "$dir $(field "$c" 2) -> $(field "$c" 4) ($name)"
            fi ;;
        esac
    done
}
check_cases tomy "PostgreSQL -> MariaDB" "${pg_to_my[@]}"
check_cases topg "MariaDB -> PostgreSQL" "${my_to_pg[@]}"
agent_stop
assert_eq 0 "$rc" "graceful stop"
assert_not_contains "$(cat "$tmp/agent.log")" "stopped: " "no source or sink failed"
finish

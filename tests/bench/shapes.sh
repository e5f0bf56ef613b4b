# Row shapes for the benchmarks (sourced). BENCH_SHAPE picks one:
#   narrow   (default) id, name, email, amount numeric, a timestamp: 5 short columns
#   contacts a CRM contact: bigint key, five short texts, a timestamp(6), a 64-character note
#   wide     30 columns: bigint key, a 2 KB text, and 28 more of every common kind (ints, numerics,
#            doubles, short texts, timestamps, dates)
# Each shape gives the table's DDL for PostgreSQL and MariaDB, the SELECT that makes rows FROM..TO
# (for INSERT ... SELECT) on each, and its column list; the values are the same on both sides.
SHAPE=${BENCH_SHAPE:-narrow}
case $SHAPE in narrow | contacts | wide) ;; *)
    echo "BENCH_SHAPE: unknown shape '$SHAPE' (narrow, contacts or wide)" >&2
    exit 2
    ;;
esac

# The wide shape's 28 other columns: "name pg-type mariadb-type pg-expr mariadb-expr" (g / seq is
# the row number).
wide_cols() {
    local i
    for i in 1 2 3 4; do echo "i$i int INT (g*$i)%100000 (seq*$i)%100000"; done
    for i in 1 2; do echo "b$i bigint BIGINT g*1000003+$i seq*1000003+$i"; done
    for i in 1 2 3 4; do echo "n$i numeric(12,2) DECIMAL(12,2) g*0.0$i+$i seq*0.0$i+$i"; done
    for i in 1 2 3; do echo "d$i float8 DOUBLE g/7.0+$i seq/7.0e0+$i"; done
    for i in 1 2 3 4 5 6 7 8; do
        echo "t$i text VARCHAR(60) 'text$i-'||g CONCAT('text$i-',seq)"
    done
    for i in 1 2 3; do
        echo "ts$i timestamp(6) DATETIME(6) timestamp'2026-01-0$i'+g*interval'1.000001s' TIMESTAMPADD(MICROSECOND,seq*1000001,'2026-01-0$i')"
    done
    for i in 1 2; do
        echo "dt$i date DATE date'2026-01-0$i'+(g%365)::int ADDDATE('2026-01-0$i',seq%365)"
    done
    echo "s1 smallint SMALLINT g%30000 seq%30000"
}

shape_columns() { # the column list
    case $SHAPE in
    narrow) echo "id, name, email, amount, created" ;;
    contacts) echo "id, first_name, last_name, email, phone, company, updated_at, note" ;;
    wide) echo "id, body, $(wide_cols | awk '{print $1}' | paste -sd, | sed 's/,/, /g')" ;;
    esac
}

shape_pg_ddl() { # table
    case $SHAPE in
    narrow) echo "CREATE TABLE $1 (id int PRIMARY KEY, name text, email text, amount numeric(12,2),
                  created timestamptz DEFAULT now())" ;;
    contacts) echo "CREATE TABLE $1 (id bigint PRIMARY KEY, first_name text, last_name text, email text,
                    phone text, company text, updated_at timestamp(6), note text)" ;;
    wide) echo "CREATE TABLE $1 (id bigint PRIMARY KEY, body text, $(wide_cols | awk '{printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2}'))" ;;
    esac
}

shape_my_ddl() { # table
    case $SHAPE in
    narrow) echo "CREATE TABLE $1 (id INT PRIMARY KEY, name VARCHAR(40), email VARCHAR(60),
                  amount DECIMAL(12,2), created TIMESTAMP(6) NULL)" ;;
    contacts) echo "CREATE TABLE $1 (id BIGINT PRIMARY KEY, first_name VARCHAR(40), last_name VARCHAR(40),
                    email VARCHAR(80), phone VARCHAR(30), company VARCHAR(60), updated_at DATETIME(6),
                    note VARCHAR(255))" ;;
    wide) echo "CREATE TABLE $1 (id BIGINT PRIMARY KEY, body TEXT, $(wide_cols | awk '{printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $3}'))" ;;
    esac
}

shape_pg_select() { # from to
    case $SHAPE in
    narrow) echo "SELECT g, 'name ' || g, 'user' || g || '@example.com', g * 1.5,
                  timestamptz '2026-11-25 12:00:00+00' + g * interval '1 s' FROM generate_series($1::bigint, $2) g" ;;
    contacts) echo "SELECT g, 'First' || g % 997, 'Lastname ' || g, 'first.last' || g || '@example.com',
                    '+49 30 ' || (1000000 + g), 'Company ' || g % 5000 || ' GmbH',
                    timestamp '2026-11-25 12:00:00' + g * interval '1.000123 s',
                    md5(g::text) || md5((g + 1)::text) FROM generate_series($1::bigint, $2) g" ;;
    wide) echo "SELECT g, repeat(md5(g::text), 64), $(wide_cols | awk '{printf "%s%s", (NR > 1 ? ", " : ""), $4}')
                FROM generate_series($1::bigint, $2) g" ;;
    esac
}

shape_my_select() { # from to
    case $SHAPE in
    narrow) echo "SELECT seq, CONCAT('name ', seq), CONCAT('user', seq, '@example.com'), seq * 1.5,
                  '2026-11-25 12:00:00.123456' FROM seq_$1_to_$2" ;;
    contacts) echo "SELECT seq, CONCAT('First', seq % 997), CONCAT('Lastname ', seq),
                    CONCAT('first.last', seq, '@example.com'), CONCAT('+49 30 ', 1000000 + seq),
                    CONCAT('Company ', seq % 5000, ' GmbH'),
                    TIMESTAMPADD(MICROSECOND, seq * 1000123, '2026-11-25 12:00:00'),
                    CONCAT(MD5(seq), MD5(seq + 1)) FROM seq_$1_to_$2" ;;
    wide) echo "SELECT seq, REPEAT(MD5(seq), 64), $(wide_cols | awk '{printf "%s%s", (NR > 1 ? ", " : ""), $5}')
                FROM seq_$1_to_$2" ;;
    esac
}

shape_lww_column() { # a timestamp column, for the sinks' conflict check
    case $SHAPE in narrow) echo created ;; contacts) echo updated_at ;; wide) echo ts1 ;; esac
}

# A PostgreSQL expression (over a row of a table of the shape) that writes the row as a SQL
# VALUES tuple both databases read: timestamps without a zone, everything quoted.
shape_pg_tuple() {
    local c cols=()
    for c in $(shape_columns | tr -d ','); do
        if [ "$SHAPE" = narrow ] && [ "$c" = created ]; then
            cols+=("quote_nullable(to_char(created AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'))")
        else
            cols+=("quote_nullable($c::text)")
        fi
    done
    local IFS=,
    echo "'(' || concat_ws(',', ${cols[*]}) || ')'"
}

# "c = EXCLUDED.c, ..." (PostgreSQL) or "c = VALUES(c), ..." (MariaDB) for every non-key column.
shape_set() { # pg | my
    shape_columns | tr -d ' ' | tr ',' '\n' | tail -n +2 |
        awk -v my="$([ "$1" = my ] && echo 1)" '{printf "%s%s = %s", (NR > 1 ? ", " : ""), $1, (my ? "VALUES(" $1 ")" : "EXCLUDED." $1)}'
}

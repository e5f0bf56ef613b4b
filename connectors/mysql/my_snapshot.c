/*
 * Initial snapshot of a MySQL / MariaDB source: START TRANSACTION WITH CONSISTENT SNAPSHOT gives
 * the binlog position the snapshot corresponds to (binlog_snapshot_file / _position); each table
 * is read in primary-key order, 10,000 rows per chunk (keyset pagination), as `op: r` events at
 * phase-0 positions (that file and position, then a row counter); the stream then starts exactly
 * at that position. A snapshot interrupted by a crash is taken again at a new consistent point,
 * after the stream from the first point up to the new one is published (deletes included): rows
 * at positions already published (the same point) are skipped, the others re-read (idempotent).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cdc/json.h"
#include "cdc/log.h"
#include "my_internal.h"

#define CHUNK_ROWS 10000

typedef struct {
    char *name, *data_type;
    bool is_unsigned, json, binary;
} snap_col_t;

typedef struct {
    my_table_t *tb;
    snap_col_t *cols;
    size_t n;
    size_t *key; /* indexes into cols, key order */
    size_t n_key;
    cdc_buf_t select; /* SELECT ... FROM ... (without WHERE / ORDER BY) */
    cdc_buf_t keys;   /* `k1`,`k2` */
} snap_table_t;

static cdc_err_t
q_error(MYSQL *m, cdc_errstr_t *es, const char *what)
{
    return cdc_errstr_set(es, CDC_ERR_CONNECT, "mysql: %s: %s (%u)", what, mysql_error(m),
                          mysql_errno(m));
}

static void
quote_ident(cdc_buf_t *b, const char *s)
{
    cdc_buf_putc(b, '`');
    for (; *s; s++) {
        if (*s == '`')
            cdc_buf_putc(b, '`');
        cdc_buf_putc(b, *s);
    }
    cdc_buf_putc(b, '`');
}

static void
quote_literal(MYSQL *m, cdc_buf_t *b, const char *p, size_t n)
{
    cdc_buf_reserve(b, 2 * n + 3);
    b->data[b->len++] = '\'';
    b->len += mysql_real_escape_string(m, b->data + b->len, p, (unsigned long)n);
    b->data[b->len++] = '\'';
    b->data[b->len] = '\0';
}

/* Columns (ordinal order) and primary key from information_schema. */
static cdc_err_t
load_table(cdc_source_t *s, snap_table_t *st, cdc_errstr_t *es)
{
    MYSQL *m = s->catalog;
    cdc_buf_t sql;
    cdc_buf_init(&sql);
    cdc_buf_puts(&sql, "SELECT c.COLUMN_NAME, c.DATA_TYPE, c.COLUMN_TYPE, c.CHARACTER_SET_NAME, "
                       "(SELECT COUNT(*) FROM information_schema.CHECK_CONSTRAINTS k WHERE "
                       "k.CONSTRAINT_SCHEMA = c.TABLE_SCHEMA AND k.TABLE_NAME = c.TABLE_NAME AND "
                       "k.CONSTRAINT_NAME = c.COLUMN_NAME AND k.CHECK_CLAUSE LIKE 'json_valid(%'), "
                       "(SELECT s.SEQ_IN_INDEX FROM information_schema.STATISTICS s WHERE "
                       "s.TABLE_SCHEMA = c.TABLE_SCHEMA AND s.TABLE_NAME = c.TABLE_NAME AND "
                       "s.INDEX_NAME = 'PRIMARY' AND s.COLUMN_NAME = c.COLUMN_NAME), c.IS_NULLABLE "
                       "FROM information_schema.COLUMNS c WHERE c.TABLE_SCHEMA = ");
    quote_literal(m, &sql, st->tb->db, strlen(st->tb->db));
    cdc_buf_puts(&sql, " AND c.TABLE_NAME = ");
    quote_literal(m, &sql, st->tb->name, strlen(st->tb->name));
    cdc_buf_puts(&sql, " ORDER BY c.ORDINAL_POSITION");
    cdc_err_t err =
        mysql_query(m, sql.data) ? q_error(m, es, "reading the table structure") : CDC_OK;
    cdc_buf_deinit(&sql);
    if (err)
        return err;
    MYSQL_RES *r = mysql_store_result(m);
    size_t rows = r ? (size_t)mysql_num_rows(r) : 0;
    if (rows == 0) {
        mysql_free_result(r);
        return cdc_errstr_set(es, CDC_ERR_CONFIG, "table %s.%s does not exist", st->tb->db,
                              st->tb->name);
    }
    st->cols = cdc_xcalloc(rows, sizeof(snap_col_t));
    st->key = cdc_xcalloc(rows, sizeof(size_t));
    cdc_binlog_col_t *bc = cdc_xcalloc(rows, sizeof(*bc));
    const char **names = cdc_xcalloc(rows, sizeof(char *));
    bool *binary = cdc_xcalloc(rows, sizeof(bool)), *json = cdc_xcalloc(rows, sizeof(bool));
    size_t seq_of[256] = {0};
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(r))) {
        snap_col_t *c = &st->cols[st->n];
        c->name = cdc_xstrdup(row[0]);
        c->data_type = cdc_xstrdup(row[1]);
        c->is_unsigned = row[2] && strstr(row[2], "unsigned");
        c->binary = row[3] == NULL || !strcmp(row[3], "binary");
        c->json = row[4] && strcmp(row[4], "0") != 0;
        cdc_my_col_from_data_type(c->data_type, c->is_unsigned, &bc[st->n]);
        bc[st->n].nullable = row[6] && !strcmp(row[6], "YES");
        bc[st->n].key = row[5] != NULL;
        names[st->n] = c->name;
        binary[st->n] = c->binary;
        json[st->n] = c->json;
        if (row[5]) {
            size_t seq = strtoul(row[5], NULL, 10);
            if (seq >= 1 && seq < 256) {
                seq_of[seq] = st->n + 1;
                if (seq > st->n_key)
                    st->n_key = seq;
            }
        }
        st->n++;
    }
    mysql_free_result(r);
    for (size_t k = 0; k < st->n_key; k++)
        st->key[k] = seq_of[k + 1] - 1;
    err = st->n_key ? my_announce(s, st->tb, (uint32_t)st->n, names, bc, binary, json, es)
                    : cdc_errstr_set(es, CDC_ERR_CONFIG,
                                     "%s.%s has no primary key; add one (events are keyed by it)",
                                     st->tb->db, st->tb->name);
    free(bc);
    free(names);
    free(binary);
    free(json);
    if (err)
        return err;
    cdc_buf_init(&st->keys);
    for (size_t k = 0; k < st->n_key; k++) {
        if (k)
            cdc_buf_putc(&st->keys, ',');
        quote_ident(&st->keys, st->cols[st->key[k]].name);
    }
    cdc_buf_init(&st->select);
    cdc_buf_puts(&st->select, "SELECT ");
    for (size_t i = 0; i < st->n; i++) {
        if (i)
            cdc_buf_puts(&st->select, ", ");
        quote_ident(&st->select, st->cols[i].name);
    }
    cdc_buf_puts(&st->select, " FROM ");
    quote_ident(&st->select, st->tb->db);
    cdc_buf_putc(&st->select, '.');
    quote_ident(&st->select, st->tb->name);
    return CDC_OK;
}

static void
snap_table_free(snap_table_t *st)
{
    for (size_t i = 0; i < st->n; i++) {
        free(st->cols[i].name);
        free(st->cols[i].data_type);
    }
    free(st->cols);
    free(st->key);
    cdc_buf_deinit(&st->select);
    cdc_buf_deinit(&st->keys);
}

/* ---- text values ----------------------------------------------------------------------------- */

static bool
is(const char *t, const char *a)
{
    return !strcmp(t, a);
}

static int
num(const char **p, int width)
{
    int v = 0;
    for (int i = 0; i < width && **p >= '0' && **p <= '9'; i++, (*p)++)
        v = v * 10 + (**p - '0');
    return v;
}

static uint32_t
frac(const char **p)
{
    uint32_t us = 0;
    int d = 0;
    if (**p != '.')
        return 0;
    for ((*p)++; **p >= '0' && **p <= '9'; (*p)++, d++)
        if (d < 6)
            us = us * 10 + (uint32_t)(**p - '0');
    for (; d < 6; d++)
        us *= 10;
    return us;
}

/* One column of a SELECT row (text protocol, session time_zone +00:00, utf8mb4) -> value. */
static void
text_value(const snap_col_t *c, const char *p, size_t n, cdc_value_t *out, bool *zero)
{
    memset(out, 0, sizeof(*out));
    const char *t = c->data_type;
    if (!p)
        return; /* NULL */
    if (is(t, "tinyint") || is(t, "smallint") || is(t, "mediumint") || is(t, "int") ||
        is(t, "bigint")) {
        if (c->is_unsigned) {
            out->type = CDC_VAL_UINT;
            out->u = strtoull(p, NULL, 10);
        } else {
            out->type = CDC_VAL_INT;
            out->i = strtoll(p, NULL, 10);
        }
    } else if (is(t, "year")) {
        out->type = CDC_VAL_INT;
        out->i = strtoll(p, NULL, 10);
    } else if (is(t, "decimal")) {
        *out = cdc_value_str(CDC_VAL_DECIMAL, p, n);
    } else if (is(t, "float")) {
        out->type = CDC_VAL_FLOAT32;
        out->f = strtof(p, NULL);
    } else if (is(t, "double")) {
        out->type = CDC_VAL_FLOAT64;
        out->f = strtod(p, NULL);
    } else if (is(t, "bit")) {
        out->type = CDC_VAL_UINT;
        for (size_t i = 0; i < n; i++)
            out->u = out->u << 8 | (unsigned char)p[i];
    } else if (is(t, "date") || is(t, "datetime") || is(t, "timestamp")) {
        const char *q = p;
        int y = num(&q, 4), mo = (q++, num(&q, 2)), d = (q++, num(&q, 2));
        if (mo == 0 || d == 0) {
            *zero = true;
            return; /* zero date: null */
        }
        if (is(t, "date")) {
            out->type = CDC_VAL_DATE;
            out->date = (cdc_date_t){y, (uint8_t)mo, (uint8_t)d, 0};
            return;
        }
        out->type = is(t, "timestamp") ? CDC_VAL_TIMESTAMPTZ : CDC_VAL_TIMESTAMP;
        out->ts.date = (cdc_date_t){y, (uint8_t)mo, (uint8_t)d, 0};
        q++;
        out->ts.hour = (uint8_t)num(&q, 2);
        q++;
        out->ts.minute = (uint8_t)num(&q, 2);
        q++;
        out->ts.second = (uint8_t)num(&q, 2);
        out->ts.usec = frac(&q);
    } else if (is(t, "time")) {
        const char *q = p;
        out->type = CDC_VAL_TIME;
        out->time.negative = *q == '-';
        if (*q == '-')
            q++;
        out->time.hours = (uint32_t)num(&q, 4);
        q++;
        out->time.minute = (uint8_t)num(&q, 2);
        q++;
        out->time.second = (uint8_t)num(&q, 2);
        out->time.usec = frac(&q);
    } else if (c->binary || is(t, "geometry")) {
        *out = cdc_value_str(CDC_VAL_BYTES, p, n);
    } else {
        *out = cdc_value_str(c->json && cdc_json_valid(p, n) ? CDC_VAL_JSON : CDC_VAL_STRING, p, n);
    }
}

/* ---- reading --------------------------------------------------------------------------------- */

typedef struct {
    cdc_source_t *s;
    cdc_pos_t pos; /* next row's position */
    char pos_str[CDC_POS_STRLEN];
    char native[512];
    uint64_t rows;
    bool unit_open; /* begin was called for the rows since the last commit */
} snap_t;

static cdc_err_t
emit_row(snap_t *sn, snap_table_t *st, MYSQL_ROW row, unsigned long *len, cdc_errstr_t *es)
{
    cdc_source_t *s = sn->s;
    cdc_column_t *cols = cdc_arena_alloc(&s->arena, st->n * sizeof(cdc_column_t));
    cdc_column_t *key = cdc_arena_alloc(&s->arena, st->n_key * sizeof(cdc_column_t));
    for (size_t i = 0; i < st->n; i++) {
        bool zero = false;
        cols[i].name = st->cols[i].name;
        text_value(&st->cols[i], row[i], len[i], &cols[i].value, &zero);
        if (zero && !st->tb->zero_date_logged) {
            st->tb->zero_date_logged = true;
            CDC_LOG_WARN("source=%s table=%s.%s column=%s: zero dates are published as null",
                         s->conf->name, st->tb->db, st->tb->name, st->cols[i].name);
        }
    }
    for (size_t k = 0; k < st->n_key; k++)
        key[k] = cols[st->key[k]];
    cdc_pos_format(sn->pos_str, &sn->pos);
    cdc_event_t ev = {0};
    ev.version = CDC_EVENT_VERSION;
    ev.op = CDC_OP_READ;
    ev.source = (cdc_event_source_t){.system = s->conf->name,
                                     .connector = CDC_CONNECTOR_MYSQL,
                                     .db = st->tb->db,
                                     .table = st->tb->name,
                                     .ts_ms = my_now_us() / 1000,
                                     .snapshot = true,
                                     .pos = sn->pos_str,
                                     .file = s->file,
                                     .offset = s->start_pos,
                                     .server_id = s->server_id};
    ev.key = (cdc_row_t){true, key, st->n_key};
    ev.after = (cdc_row_t){true, cols, st->n};
    ev.txn_id = "snapshot";
    ev.txn_seq = sn->pos.idx;
    ev.sv = st->tb->sv;
    cdc_err_t err = CDC_OK;
    if (!sn->unit_open && s->cb->begin) {
        /* the resume point of a unit split over Kafka transactions: the snapshot point */
        cdc_txn_info_t info = {sn->pos, 0, "snapshot", ev.source.ts_ms, false, NULL, sn->native};
        sn->unit_open = true;
        if ((err = s->cb->begin(s->ctx, &info)))
            return err;
    }
    bool skip = s->resume.has_pos && sn->pos.epoch == s->resume.pos.epoch &&
                cdc_pos_cmp(&sn->pos, &s->resume.pos) <= 0; /* published before a restart */
    if (!skip)
        err = s->cb->event(s->ctx, &ev);
    sn->pos.idx++;
    sn->rows++;
    return err;
}

/* Commits the rows read so far as one unit; the last one marks the snapshot done. */
static cdc_err_t
commit_unit(snap_t *sn, bool done)
{
    cdc_pos_t pos = sn->pos;
    if (pos.idx)
        pos.idx--;
    cdc_txn_info_t info = {pos, 0, "snapshot", my_now_us() / 1000, done, NULL, sn->native};
    sn->unit_open = false;
    return sn->s->cb->commit(sn->s->ctx, &info);
}

static cdc_err_t
read_table(snap_t *sn, snap_table_t *st, cdc_errstr_t *es)
{
    cdc_source_t *s = sn->s;
    MYSQL *m = s->catalog;
    cdc_buf_t sql, last;
    cdc_buf_init(&sql);
    cdc_buf_init(&last); /* "(v1, v2)" of the last key read, quoted */
    cdc_err_t err = CDC_OK;
    for (;;) {
        cdc_buf_reset(&sql);
        cdc_buf_append(&sql, st->select.data, st->select.len);
        if (last.len)
            cdc_buf_printf(&sql, " WHERE (%s) > %s", st->keys.data, last.data);
        cdc_buf_printf(&sql, " ORDER BY %s LIMIT %d", st->keys.data, CHUNK_ROWS);
        if (mysql_query(m, sql.data)) {
            err = q_error(m, es, "reading a snapshot chunk");
            break;
        }
        MYSQL_RES *r = mysql_use_result(m);
        MYSQL_ROW row;
        size_t got = 0;
        while (r && (row = mysql_fetch_row(r))) {
            unsigned long *len = mysql_fetch_lengths(r);
            cdc_arena_reset(&s->arena);
            if (!err)
                err = emit_row(sn, st, row, len, es);
            got++;
            cdc_buf_reset(&last);
            cdc_buf_putc(&last, '(');
            for (size_t k = 0; k < st->n_key; k++) {
                size_t i = st->key[k];
                if (k)
                    cdc_buf_putc(&last, ',');
                if (st->cols[i].binary && !is(st->cols[i].data_type, "bit"))
                    cdc_buf_puts(&last, "BINARY ");
                quote_literal(m, &last, row[i] ? row[i] : "", len[i]);
            }
            cdc_buf_putc(&last, ')');
        }
        if (mysql_errno(m) && !err)
            err = q_error(m, es, "reading a snapshot chunk");
        mysql_free_result(r);
        if (err || got < CHUNK_ROWS)
            break;
        if ((err = commit_unit(sn, false)))
            break;
    }
    cdc_buf_deinit(&sql);
    cdc_buf_deinit(&last);
    return err;
}

cdc_err_t
my_snapshot_run(cdc_source_t *s, cdc_errstr_t *es)
{
    MYSQL *m = s->catalog;
    char file[256] = "", pos[32] = "";
    if (mysql_query(m, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ") ||
        mysql_query(m, "START TRANSACTION WITH CONSISTENT SNAPSHOT"))
        return q_error(m, es, "starting the snapshot transaction");
    if (mysql_query(m, "SHOW STATUS WHERE Variable_name IN ('binlog_snapshot_file', "
                       "'binlog_snapshot_position')"))
        return q_error(m, es, "reading the snapshot's binlog position");
    MYSQL_RES *r = mysql_store_result(m);
    MYSQL_ROW row;
    while (r && (row = mysql_fetch_row(r))) {
        if (!strcasecmp(row[0], "binlog_snapshot_file"))
            snprintf(file, sizeof(file), "%s", row[1] ? row[1] : "");
        else
            snprintf(pos, sizeof(pos), "%s", row[1] ? row[1] : "");
    }
    mysql_free_result(r);
    if (!file[0] || !pos[0])
        return cdc_errstr_set(es, CDC_ERR_CONFIG,
                              "mysql: the server gives no binlog position for a consistent "
                              "snapshot (binlog_snapshot_file): is the binary log on?");
    uint64_t snap_pos = strtoull(pos, NULL, 10);
    cdc_err_t err = CDC_OK;
    if (s->resume.has_pos) { /* an interrupted snapshot: catch up to the new point first */
        CDC_LOG_INFO("source=%s publishing the stream from %s:%llu up to the new snapshot point",
                     s->conf->name, s->file, (unsigned long long)s->start_pos);
        err = my_stream_until(s, my_file_number(file), snap_pos, es);
        if (err) {
            mysql_query(m, "ROLLBACK");
            return err;
        }
    }
    memcpy(s->file, file, sizeof(s->file));
    s->start_pos = snap_pos;
    my_gtid_at(s, m, file, snap_pos); /* the GTID state at the snapshot point */
    snap_t sn = {.s = s,
                 .pos = {s->epoch, CDC_PHASE_SNAPSHOT, my_file_number(file), s->start_pos, 0}};
    my_native(s, s->start_pos, sn.native, sizeof(sn.native));
    CDC_LOG_INFO("source=%s initial snapshot at %s:%s", s->conf->name, file, pos);
    for (size_t i = 0; !err && i < s->n_tables; i++) {
        snap_table_t st = {.tb = &s->tables[i]};
        err = load_table(s, &st, es);
        if (!err)
            err = read_table(&sn, &st, es);
        snap_table_free(&st);
    }
    mysql_query(m, "COMMIT");
    if (!err)
        err = commit_unit(&sn, true);
    if (!err) {
        CDC_LOG_INFO("source=%s initial snapshot completed rows=%llu; streaming from %s:%llu",
                     s->conf->name, (unsigned long long)sn.rows, s->file,
                     (unsigned long long)s->start_pos);
        s->resume.has_pos = true; /* the stream's events all sort after the snapshot */
        s->resume.pos = sn.pos;
    }
    return err;
}

/*
 * Snapshots of a MySQL / MariaDB source. Tables are read in primary-key order, 10,000 rows per
 * keyset chunk. The initial snapshot runs inside START TRANSACTION WITH CONSISTENT SNAPSHOT, whose
 * binlog point (binlog_snapshot_file / _position) the stream then starts from; its rows are `op: r`
 * events at phase-0 positions (that file and position, then a row counter), committed in units of
 * at most one chunk (a table's last chunk is a unit of its own) whose progress (table, last key)
 * goes into _offsets. A snapshot interrupted by a crash
 * is completed by my_resnap.c from that progress, chunk by chunk between watermarks.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <strings.h>

#include "cdc/json.h"
#include "cdc/log.h"
#include "cdc/snapshot_progress.h"
#include "my_internal.h"

static bool
is_number(const char *data_type)
{
    static const char *const numbers[] = {"tinyint", "smallint", "mediumint", "int",    "bigint",
                                          "decimal", "year",     "float",     "double", NULL};
    for (size_t i = 0; numbers[i]; i++)
        if (!strcmp(data_type, numbers[i]))
            return true;
    return false;
}

/* The table's columns in order, with their key position in index (NULL when not in it), from
 * information_schema. An empty answer is asked again a few times before the table is taken as
 * missing: under concurrent DDL in the same database (other sessions creating and dropping
 * tables) CI once saw information_schema answer nothing for a table that existed. */
static cdc_err_t
query_columns(MYSQL *m, const my_table_t *tb, const char *index, MYSQL_RES **out, cdc_errstr_t *es)
{
    cdc_buf_t sql;
    cdc_buf_init(&sql);
    cdc_buf_puts(&sql, "SELECT c.COLUMN_NAME, c.DATA_TYPE, c.COLUMN_TYPE, c.CHARACTER_SET_NAME, "
                       "(SELECT COUNT(*) FROM information_schema.CHECK_CONSTRAINTS k WHERE "
                       "k.CONSTRAINT_SCHEMA = c.TABLE_SCHEMA AND k.TABLE_NAME = c.TABLE_NAME AND "
                       "k.CONSTRAINT_NAME = c.COLUMN_NAME AND k.CHECK_CLAUSE LIKE 'json_valid(%'), "
                       "(SELECT s.SEQ_IN_INDEX FROM information_schema.STATISTICS s WHERE "
                       "s.TABLE_SCHEMA = c.TABLE_SCHEMA AND s.TABLE_NAME = c.TABLE_NAME AND "
                       "s.COLUMN_NAME = c.COLUMN_NAME AND s.INDEX_NAME = ");
    cdc_mysql_literal(m, &sql, index, strlen(index));
    cdc_buf_puts(&sql,
                 "), c.IS_NULLABLE FROM information_schema.COLUMNS c WHERE c.TABLE_SCHEMA = ");
    cdc_mysql_literal(m, &sql, tb->db, strlen(tb->db));
    cdc_buf_puts(&sql, " AND c.TABLE_NAME = ");
    cdc_mysql_literal(m, &sql, tb->name, strlen(tb->name));
    cdc_buf_puts(&sql, " ORDER BY c.ORDINAL_POSITION");
    MYSQL_RES *r = NULL;
    size_t rows = 0;
    cdc_err_t err = CDC_OK;
    for (int attempt = 0; !err && rows == 0 && attempt < 4; attempt++) {
        if (attempt) {
            mysql_free_result(r);
            usleep(250000);
        }
        err = mysql_query(m, sql.data) ? my_query_error(m, es, "reading the table structure")
                                       : CDC_OK;
        r = err ? NULL : mysql_store_result(m);
        rows = r ? (size_t)mysql_num_rows(r) : 0;
    }
    cdc_buf_deinit(&sql);
    if (!err && rows == 0) {
        mysql_free_result(r);
        return cdc_errstr_set(es, CDC_ERR_CONFIG, "table %s.%s does not exist", tb->db, tb->name);
    }
    *out = r;
    return err;
}

/* Reads the columns query_columns found into st (names, types, the key's order) and announces
 * the table's structure as the binlog's TABLE_MAP would. */
static cdc_err_t
read_columns(cdc_source_t *s, my_snap_table_t *st, MYSQL_RES *r, cdc_errstr_t *es)
{
    size_t rows = (size_t)mysql_num_rows(r);
    st->cols = cdc_xcalloc(rows, sizeof(my_snap_col_t));
    st->key = cdc_xcalloc(rows, sizeof(size_t));
    cdc_binlog_col_t *bc = cdc_xcalloc(rows, sizeof(*bc));
    const char **names = cdc_xcalloc(rows, sizeof(char *));
    bool *binary = cdc_xcalloc(rows, sizeof(bool)), *json = cdc_xcalloc(rows, sizeof(bool));
    size_t seq_of[256] = {0};
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(r))) {
        my_snap_col_t *c = &st->cols[st->n];
        c->name = cdc_xstrdup(row[0]);
        c->data_type = cdc_xstrdup(row[1]);
        c->is_unsigned = row[2] && strstr(row[2], "unsigned");
        c->binary = row[3] == NULL || !strcmp(row[3], "binary");
        c->json = row[4] && strcmp(row[4], "0") != 0;
        c->number = is_number(c->data_type);
        cdc_my_col_from_data_type(c->data_type, c->is_unsigned, &bc[st->n]);
        bc[st->n].nullable = row[6] && !strcmp(row[6], "YES");
        bc[st->n].key = row[5] != NULL;
        names[st->n] = c->name;
        binary[st->n] = c->binary;
        json[st->n] = c->json;
        size_t seq = row[5] ? strtoul(row[5], NULL, 10) : 0;
        if (seq >= 1 && seq < 256) {
            seq_of[seq] = st->n + 1;
            if (seq > st->n_key)
                st->n_key = seq;
        }
        st->n++;
    }
    for (size_t k = 0; k < st->n_key; k++)
        st->key[k] = seq_of[k + 1] - 1;
    cdc_err_t err = my_announce(s, st->tb, (uint32_t)st->n, names, bc, binary, json, es);
    free(bc);
    free(names);
    free(binary);
    free(json);
    return err;
}

/* The key list and the SELECT of the table's columns every chunk starts from. */
static void
build_select(my_snap_table_t *st)
{
    cdc_buf_init(&st->keys);
    for (size_t k = 0; k < st->n_key; k++) {
        if (k)
            cdc_buf_putc(&st->keys, ',');
        cdc_mysql_ident(&st->keys, st->cols[st->key[k]].name);
    }
    cdc_buf_init(&st->select);
    cdc_buf_puts(&st->select, "SELECT ");
    for (size_t i = 0; i < st->n; i++) {
        const char *t = st->cols[i].data_type;
        /* The text protocol prints FLOAT with 6 significant digits and FLOAT(M,D) / DOUBLE(M,D)
         * with D decimals; as DOUBLE every such value prints exactly (shortest round trip), so
         * a snapshot row says what the binlog says of the same value. */
        bool as_double = !strcmp(t, "float") || !strcmp(t, "double");
        if (i)
            cdc_buf_puts(&st->select, ", ");
        if (as_double)
            cdc_buf_puts(&st->select, "CAST(");
        cdc_mysql_ident(&st->select, st->cols[i].name);
        if (as_double)
            cdc_buf_puts(&st->select, " AS DOUBLE)");
    }
    cdc_buf_puts(&st->select, " FROM ");
    cdc_mysql_ident(&st->select, st->tb->db);
    cdc_buf_putc(&st->select, '.');
    cdc_mysql_ident(&st->select, st->tb->name);
}

/* Columns (ordinal order) and key (cdc_mysql_key_index) from information_schema. */
cdc_err_t
my_snap_open(cdc_source_t *s, my_table_t *tb, my_snap_table_t *st, cdc_errstr_t *es)
{
    memset(st, 0, sizeof(*st));
    st->tb = tb;
    char index[256];
    MYSQL_RES *r = NULL;
    cdc_err_t err = cdc_mysql_key_index(s->catalog, tb->db, tb->name, index, sizeof(index), es);
    if (!err)
        err = query_columns(s->catalog, tb, index, &r, es);
    if (!err)
        err = read_columns(s, st, r, es);
    mysql_free_result(r);
    if (!err)
        build_select(st);
    return err;
}

void
my_snap_close(my_snap_table_t *st)
{
    for (size_t i = 0; i < st->n; i++) {
        free(st->cols[i].name);
        free(st->cols[i].data_type);
    }
    free(st->cols);
    free(st->key);
    cdc_buf_deinit(&st->select);
    cdc_buf_deinit(&st->keys);
    memset(st, 0, sizeof(*st));
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
text_value(const my_snap_col_t *c, const char *p, size_t n, cdc_value_t *out, bool *zero)
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
        out->f = (float)strtod(p, NULL); /* the float's exact value, printed as a double */
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

/* ---- chunks ---------------------------------------------------------------------------------- */

cdc_err_t
my_snap_query(cdc_source_t *s, const my_snap_table_t *st, const my_snap_key_t *after,
              cdc_buf_t *sql, cdc_errstr_t *es)
{
    MYSQL *m = s->catalog;
    cdc_buf_reset(sql);
    cdc_buf_append(sql, st->select.data, st->select.len);
    if (!st->n_key) /* no key to page by: the whole table is one chunk */
        return mysql_query(m, sql->data) ? my_query_error(m, es, "reading a snapshot chunk")
                                         : CDC_OK;
    if (after && after->set) {
        cdc_buf_printf(sql, " WHERE (%s) > (", st->keys.data);
        for (size_t k = 0; k < st->n_key; k++) {
            const my_snap_col_t *c = &st->cols[st->key[k]];
            if (k)
                cdc_buf_putc(sql, ',');
            const char *v = after->bytes.data + after->off[k];
            size_t n = after->len[k];
            if (c->number && n > 0 && n < 80 && strspn(v, "+-.0123456789eE") >= n)
                cdc_buf_append(sql, v, n); /* exact: a quoted number compares as a double */
            else {
                if (c->binary && !is(c->data_type, "bit"))
                    cdc_buf_puts(sql, "BINARY ");
                cdc_mysql_literal(m, sql, v, n);
            }
        }
        cdc_buf_putc(sql, ')');
    }
    cdc_buf_printf(sql, " ORDER BY %s LIMIT %d", st->keys.data, MY_CHUNK_ROWS);
    return mysql_query(m, sql->data) ? my_query_error(m, es, "reading a snapshot chunk") : CDC_OK;
}

void
my_snap_key_save(const my_snap_table_t *st, MYSQL_ROW row, const unsigned long *len,
                 my_snap_key_t *key)
{
    if (key->cap < st->n_key) {
        key->off = cdc_xrealloc(key->off, st->n_key * sizeof(size_t));
        key->len = cdc_xrealloc(key->len, st->n_key * sizeof(size_t));
        key->cap = st->n_key;
    }
    cdc_buf_reset(&key->bytes);
    for (size_t k = 0; k < st->n_key; k++) {
        size_t i = st->key[k];
        key->off[k] = key->bytes.len;
        key->len[k] = row[i] ? len[i] : 0;
        cdc_buf_append(&key->bytes, row[i] ? row[i] : "", key->len[k]);
    }
    key->set = true;
}

void
my_snap_key_free(my_snap_key_t *key)
{
    cdc_buf_deinit(&key->bytes);
    free(key->off);
    free(key->len);
    memset(key, 0, sizeof(*key));
}

static const char hexdig[] = "0123456789abcdef";

char *
my_snap_progress(const my_snap_table_t *st, size_t ordinal, const my_snap_key_t *key)
{
    if (!key || !key->set)
        return cdc_chunk_pos_format(ordinal, NULL, NULL, 0);
    /* binary keys (any bytes) as hex; one buffer, the strings' offsets fixed up after */
    cdc_buf_t text;
    cdc_buf_init(&text);
    size_t *off = cdc_xcalloc(st->n_key + 1, sizeof(size_t)),
           *len = cdc_xcalloc(st->n_key + 1, sizeof(size_t));
    const char **after = cdc_xcalloc(st->n_key + 1, sizeof(char *));
    for (size_t k = 0; k < st->n_key; k++) {
        const char *p = key->bytes.data + key->off[k];
        const my_snap_col_t *c = &st->cols[st->key[k]];
        off[k] = text.len;
        if (c->binary && !c->number)
            cdc_buf_put_hex(&text, p, key->len[k]);
        else
            cdc_buf_append(&text, p, key->len[k]);
        len[k] = text.len - off[k];
    }
    for (size_t k = 0; k < st->n_key; k++)
        after[k] = text.data ? text.data + off[k] : "";
    char *out = cdc_chunk_pos_format(ordinal, after, len, st->n_key);
    free(after);
    free(off);
    free(len);
    cdc_buf_deinit(&text);
    return out;
}

bool
my_snap_progress_key(const my_snap_table_t *st, const char *progress, my_snap_key_t *key)
{
    cdc_chunk_pos_t at;
    key->set = false;
    if (!cdc_chunk_pos_parse(progress, &at))
        return false;
    bool ok = !at.after || at.n_after == st->n_key;
    if (key->cap < st->n_key) {
        key->off = cdc_xrealloc(key->off, st->n_key * sizeof(size_t));
        key->len = cdc_xrealloc(key->len, st->n_key * sizeof(size_t));
        key->cap = st->n_key;
    }
    cdc_buf_reset(&key->bytes);
    for (size_t k = 0; ok && at.after && k < st->n_key; k++) {
        const char *v = at.after[k];
        size_t n = at.after_len[k];
        key->off[k] = key->bytes.len;
        const my_snap_col_t *c = &st->cols[st->key[k]];
        if (c->binary && !c->number) {
            ok = n % 2 == 0;
            for (size_t j = 0; ok && j < n; j += 2) {
                const char *a = strchr(hexdig, v[j]), *b = strchr(hexdig, v[j + 1]);
                ok = a && b && v[j] && v[j + 1];
                if (ok)
                    cdc_buf_putc(&key->bytes, (char)((a - hexdig) << 4 | (b - hexdig)));
            }
        } else {
            cdc_buf_append(&key->bytes, v, n);
        }
        key->len[k] = key->bytes.len - key->off[k];
    }
    key->set = ok && at.after;
    cdc_chunk_pos_free(&at);
    return ok;
}

void
my_snap_row(cdc_source_t *s, my_snap_table_t *st, MYSQL_ROW row, const unsigned long *len,
            cdc_event_t *ev)
{
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
    memset(ev, 0, sizeof(*ev));
    ev->version = CDC_EVENT_VERSION;
    ev->op = CDC_OP_READ;
    ev->source = (cdc_event_source_t){.system = s->conf->name,
                                      .connector = CDC_CONNECTOR_MYSQL,
                                      .db = st->tb->db,
                                      .table = st->tb->name,
                                      .ts_ms = cdc_wall_ms(),
                                      .snapshot = true,
                                      .file = s->file,
                                      .offset = s->start_pos,
                                      .server_id = s->server_id};
    ev->key = (cdc_row_t){st->n_key > 0, key, st->n_key}; /* null for a table without a key */
    ev->after = (cdc_row_t){true, cols, st->n};
    ev->sv = st->tb->sv;
}

/* ---- the initial snapshot -------------------------------------------------------------------- */

typedef struct {
    cdc_source_t *s;
    cdc_pos_t pos; /* next row's position */
    char pos_str[CDC_POS_STRLEN];
    char native[512];
    uint64_t rows;
    bool unit_open; /* begin was called for the rows since the last commit */
    cdc_snap_progress_t progress;
} snap_t;

/* The catalog's row counts of the captured tables (InnoDB's estimate). */
static uint64_t
estimate_rows(cdc_source_t *s)
{
    uint64_t total = 0;
    cdc_buf_t sql;
    cdc_buf_init(&sql);
    for (size_t i = 0; i < s->n_tables; i++) {
        cdc_buf_reset(&sql);
        cdc_buf_puts(&sql,
                     "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ");
        cdc_mysql_literal(s->catalog, &sql, s->tables[i].db, strlen(s->tables[i].db));
        cdc_buf_puts(&sql, " AND TABLE_NAME = ");
        cdc_mysql_literal(s->catalog, &sql, s->tables[i].name, strlen(s->tables[i].name));
        MYSQL_RES *r = mysql_query(s->catalog, sql.data) ? NULL : mysql_store_result(s->catalog);
        MYSQL_ROW row = r ? mysql_fetch_row(r) : NULL;
        if (row && row[0])
            total += strtoull(row[0], NULL, 10);
        mysql_free_result(r);
    }
    cdc_buf_deinit(&sql);
    return total;
}

static cdc_err_t
emit_row(snap_t *sn, my_snap_table_t *st, MYSQL_ROW row, unsigned long *len)
{
    cdc_source_t *s = sn->s;
    cdc_event_t ev;
    my_snap_row(s, st, row, len, &ev);
    cdc_pos_format(sn->pos_str, &sn->pos);
    ev.source.pos = sn->pos_str;
    ev.txn_id = "snapshot";
    ev.txn_seq = sn->pos.idx;
    cdc_err_t err = CDC_OK;
    if (!sn->unit_open && s->cb->begin) {
        /* the resume point of a unit split over Kafka transactions: the snapshot point */
        cdc_txn_info_t info = {sn->pos, 0,    "snapshot", ev.source.ts_ms,
                               false,   NULL, sn->native, NULL};
        sn->unit_open = true;
        if ((err = s->cb->begin(s->ctx, &info)))
            return err;
    }
    err = s->cb->event(s->ctx, &ev);
    sn->pos.idx++;
    sn->rows++;
    return err;
}

/* Commits the rows read so far as one unit with the progress after them; the last one marks
 * the snapshot done. */
static cdc_err_t
commit_unit(snap_t *sn, const char *progress, bool done)
{
    cdc_pos_t pos = sn->pos;
    if (pos.idx)
        pos.idx--;
    /* the last unit: with the tables the snapshot covered (tables added to the config later) */
    cdc_txn_info_t info = {
        pos,        0,
        "snapshot", cdc_wall_ms(),
        done,       progress,
        sn->native, done ? cdc_wm_state(&sn->s->resnap.drv.wm, sn->s->conf->name) : NULL};
    sn->unit_open = false;
    return sn->s->cb->commit(sn->s->ctx, &info);
}

static cdc_err_t
read_table(snap_t *sn, my_snap_table_t *st, size_t ordinal, cdc_errstr_t *es)
{
    cdc_source_t *s = sn->s;
    MYSQL *m = s->catalog;
    cdc_buf_t sql;
    cdc_buf_init(&sql);
    my_snap_key_t last = {0};
    cdc_err_t err = CDC_OK;
    for (;;) {
        if ((err = my_snap_query(s, st, &last, &sql, es)))
            break;
        MYSQL_RES *r = mysql_use_result(m);
        MYSQL_ROW row;
        size_t got = 0;
        while (r && (row = mysql_fetch_row(r))) {
            unsigned long *len = mysql_fetch_lengths(r);
            cdc_arena_reset(&s->arena);
            if (!err)
                err = emit_row(sn, st, row, len);
            got++;
            my_snap_key_save(st, row, len, &last);
        }
        cdc_snap_progress_rows(&sn->progress, st->tb->name, got);
        if (mysql_errno(m) && !err)
            err = my_query_error(m, es, "reading a snapshot chunk");
        mysql_free_result(r);
        if (err || got < MY_CHUNK_ROWS || !st->n_key)
            break;
        char *progress = my_snap_progress(st, ordinal, &last);
        err = commit_unit(sn, progress, false);
        free(progress);
        if (err)
            break;
    }
    cdc_buf_deinit(&sql);
    my_snap_key_free(&last);
    return err;
}

cdc_err_t
my_snapshot_run(cdc_source_t *s, cdc_errstr_t *es)
{
    MYSQL *m = s->catalog;
    char file[256] = "", pos[32] = "";
    if (mysql_query(m, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ") ||
        mysql_query(m, "START TRANSACTION WITH CONSISTENT SNAPSHOT"))
        return my_query_error(m, es, "starting the snapshot transaction");
    if (mysql_query(m, "SHOW STATUS WHERE Variable_name IN ('binlog_snapshot_file', "
                       "'binlog_snapshot_position')"))
        return my_query_error(m, es, "reading the snapshot's binlog position");
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
    memcpy(s->file, file, sizeof(s->file));
    s->start_pos = strtoull(pos, NULL, 10);
    my_gtid_at(s, m, file, s->start_pos); /* the GTID state at the snapshot point */
    snap_t sn = {.s = s,
                 .pos = {s->epoch, CDC_PHASE_SNAPSHOT, my_file_number(file), s->start_pos, 0}};
    my_native(s, s->start_pos, sn.native, sizeof(sn.native));
    CDC_LOG_INFO("source=%s initial snapshot at %s:%s", s->conf->name, file, pos);
    cdc_snap_progress_init(&sn.progress, s->conf->name, s->n_tables, estimate_rows(s));
    cdc_err_t err = CDC_OK;
    for (size_t i = 0; !err && i < s->n_tables; i++) {
        my_snap_table_t st;
        err = my_snap_open(s, &s->tables[i], &st, es);
        if (!err)
            err = read_table(&sn, &st, i, es);
        my_snap_close(&st);
        if (!err)
            cdc_snap_progress_table_done(&sn.progress);
        if (!err && i + 1 < s->n_tables) { /* a unit never spans tables: at most a chunk */
            char *progress = my_snap_progress(NULL, i + 1, NULL);
            err = commit_unit(&sn, progress, false);
            free(progress);
        }
    }
    mysql_query(m, "COMMIT");
    if (!err)
        err = commit_unit(&sn, NULL, true);
    if (!err) {
        CDC_LOG_INFO("source=%s initial snapshot completed rows=%llu; streaming from %s:%llu",
                     s->conf->name, (unsigned long long)sn.rows, s->file,
                     (unsigned long long)s->start_pos);
        s->resume.has_pos = true; /* the stream's events all sort after the snapshot */
        s->resume.pos = sn.pos;
    }
    return err;
}

/*
 * Captured tables of the MySQL / MariaDB source: the last TABLE_MAP of each (a copy of its bytes,
 * column names, character-set converters, MariaDB JSON columns), their structures announced to the
 * agent, and the table a TRUNCATE statement names.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cdc/log.h"
#include "cdc/sink_offsets.h"
#include "my_internal.h"

static my_table_t *
table_find(cdc_source_t *s, const char *db, size_t dbn, const char *name, size_t namen)
{
    for (size_t i = 0; i < s->n_tables; i++) {
        my_table_t *tb = &s->tables[i];
        if (strlen(tb->db) == dbn && !memcmp(tb->db, db, dbn) && strlen(tb->name) == namen &&
            !memcmp(tb->name, name, namen))
            return tb;
    }
    my_table_t *sig = s->resnap.signal;
    if (sig && strlen(sig->db) == dbn && !memcmp(sig->db, db, dbn) && strlen(sig->name) == namen &&
        !memcmp(sig->name, name, namen))
        return sig;
    /* a sink's marker table, in whichever database the sink writes */
    if (!s->conf->applied_by || namen != strlen(CDC_SINK_TXN_TABLE) ||
        memcmp(name, CDC_SINK_TXN_TABLE, namen))
        return NULL;
    for (size_t i = 0; i < s->n_marks; i++)
        if (strlen(s->marks[i]->db) == dbn && !memcmp(s->marks[i]->db, db, dbn))
            return s->marks[i];
    my_table_t *tb = cdc_xcalloc(1, sizeof(*tb));
    tb->db = cdc_xstrndup(db, dbn);
    tb->name = cdc_xstrdup(CDC_SINK_TXN_TABLE);
    tb->mark = true;
    s->marks = cdc_xrealloc(s->marks, (s->n_marks + 1) * sizeof(*s->marks));
    s->marks[s->n_marks++] = tb;
    return tb;
}

my_table_t *
my_table_by_id(cdc_source_t *s, uint64_t id)
{
    for (size_t i = 0; i < s->n_tables; i++)
        if (s->tables[i].table_id == id)
            return &s->tables[i];
    if (s->resnap.signal && s->resnap.signal->table_id == id)
        return s->resnap.signal;
    for (size_t i = 0; i < s->n_marks; i++)
        if (s->marks[i]->table_id == id)
            return s->marks[i];
    return NULL;
}

void
my_table_free(my_table_t *tb)
{
    my_table_clear(tb);
    cdc_binlog_table_free(&tb->t);
    free(tb->raw);
    free(tb->db);
    free(tb->name);
}

static cdc_err_t
on_mark(cdc_source_t *s, const cdc_row_t *row, cdc_errstr_t *es)
{
    (void)es;
    const cdc_column_t *id = cdc_row_find(row, "id");
    if (id && id->value.type == CDC_VAL_STRING &&
        cdc_source_applied_by(s->conf, id->value.s.p, id->value.s.n))
        s->txn.applied = true;
    return CDC_OK;
}

cdc_err_t
my_mark_rows(cdc_source_t *s, my_table_t *tb, const cdc_binlog_event_t *ev, cdc_errstr_t *es)
{
    return my_rows_after(s, tb, ev, on_mark, es);
}

void
my_table_clear(my_table_t *tb)
{
    for (uint32_t i = 0; tb->cols && i < tb->n_cols; i++) {
        free(tb->cols[i]);
        cdc_my_text_close(&tb->text[i]);
    }
    free(tb->cols);
    free(tb->text);
    free(tb->json);
    tb->cols = NULL;
    tb->text = NULL;
    tb->json = NULL;
}

/* MariaDB JSON columns are LONGTEXT with a json_valid() check named after the column. */
static bool
is_json_column(cdc_source_t *s, const my_table_t *tb, const char *col)
{
    char sql[2048], edb[300], etb[300], ecol[300];
    mysql_real_escape_string(s->catalog, edb, tb->db, strlen(tb->db));
    mysql_real_escape_string(s->catalog, etb, tb->name, strlen(tb->name));
    mysql_real_escape_string(s->catalog, ecol, col, strlen(col));
    snprintf(sql, sizeof(sql),
             "SELECT 1 FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = '%s' "
             "AND TABLE_NAME = '%s' AND CONSTRAINT_NAME = '%s' AND CHECK_CLAUSE LIKE "
             "'json_valid(%%'",
             edb, etb, ecol);
    if (mysql_query(s->catalog, sql))
        return false;
    MYSQL_RES *r = mysql_store_result(s->catalog);
    bool yes = r && mysql_num_rows(r) > 0;
    mysql_free_result(r);
    return yes;
}

cdc_err_t
my_announce(cdc_source_t *s, my_table_t *tb, uint32_t n, const char *const *names,
            const cdc_binlog_col_t *cols, const bool *binary, const bool *json, cdc_errstr_t *es)
{
    cdc_schema_column_t *sc = cdc_xcalloc(n + 1, sizeof(*sc));
    for (uint32_t i = 0; i < n; i++) {
        sc[i].name = names[i];
        sc[i].type = cdc_my_canonical_name(&cols[i], binary[i], json[i]);
        sc[i].native = cdc_my_native_name(&cols[i], binary[i]);
        sc[i].key = cols[i].key;
        sc[i].nullable = cols[i].nullable;
    }
    cdc_table_schema_t sch = {s->conf->name, tb->db, NULL, tb->name, 0, sc, n};
    cdc_err_t err = s->cb && s->cb->schema ? s->cb->schema(s->ctx, &sch, &tb->sv) : CDC_OK;
    if (err)
        cdc_errstr_set(es, err, "publishing the structure of %s.%s failed", tb->db, tb->name);
    free(sc);
    return err;
}

static cdc_err_t
announce_schema(cdc_source_t *s, my_table_t *tb, cdc_errstr_t *es)
{
    bool *binary = cdc_xcalloc(tb->t.ncols + 1, sizeof(bool));
    for (uint32_t i = 0; i < tb->t.ncols; i++)
        binary[i] = tb->text[i].kind == CDC_MY_TEXT_BINARY;
    cdc_err_t err = my_announce(s, tb, tb->t.ncols, (const char *const *)tb->cols, tb->t.cols,
                                binary, tb->json, es);
    free(binary);
    return err;
}

/* A TABLE_MAP of a captured table: keeps a copy, resolves names, character sets and JSON
 * columns, and announces the structure when it changed. */
cdc_err_t
my_table_map(cdc_source_t *s, const uint8_t *raw, size_t n, const cdc_binlog_event_t *ev,
             cdc_errstr_t *es)
{
    /* db and table name are the first fields: look them up before parsing the rest */
    const uint8_t *b = ev->body.p;
    if (ev->body.n < 10 || ev->body.n < 9u + b[8] + 2)
        return cdc_errstr_set(es, CDC_ERR_PARSE, "binlog TABLE_MAP event truncated");
    size_t dbn = b[8];
    const char *db = (const char *)b + 9;
    size_t namen = b[9 + dbn + 1];
    const char *name = (const char *)b + 9 + dbn + 2;
    if (9 + dbn + 2 + namen > ev->body.n)
        return cdc_errstr_set(es, CDC_ERR_PARSE, "binlog TABLE_MAP event truncated");
    my_table_t *tb = table_find(s, db, dbn, name, namen);
    if (!tb)
        return CDC_OK;
    /* every transaction repeats the map: the same body after the table id (the header's
     * position and time differ) is the same structure */
    size_t off = (size_t)(ev->body.p - raw) + 6, bn = ev->body.n - 6;
    if (tb->raw && tb->body_n == bn && !memcmp(tb->raw + off, ev->body.p + 6, bn)) {
        uint64_t id = 0;
        for (int i = 0; i < 6; i++)
            id |= (uint64_t)b[i] << (8 * i);
        tb->table_id = tb->t.table_id = id;
        return CDC_OK;
    }
    tb->body_n = bn;
    free(tb->raw);
    tb->raw = cdc_xmalloc(n);
    memcpy(tb->raw, raw, n);
    tb->raw_n = n;
    cdc_binlog_event_t copy;
    cdc_err_t err = cdc_binlog_event_parse(tb->raw, n, &s->fmt, &copy, es);
    if (!err)
        err = cdc_binlog_table_map(&copy, &s->fmt, &tb->t, es);
    if (err)
        return err;
    if (!tb->t.has_names)
        return cdc_errstr_set(es, CDC_ERR_CONFIG,
                              "%s.%s: the binlog carries no column names; set "
                              "binlog_row_metadata=FULL on the server",
                              tb->db, tb->name);
    /* the server takes a table's first unique index over NOT NULL columns as its primary key
     * when it has none (cdc_mysql_key_index): the binlog names it as such */
    if (tb->t.n_key == 0 && !tb->signal && !tb->mark && !tb->keyless_logged) {
        tb->keyless_logged = true;
        CDC_LOG_WARN("source=%s table=%s.%s %s", s->conf->name, tb->db, tb->name, CDC_MYSQL_NO_KEY);
    }
    /* converters follow the new map; an unchanged structure keeps its schema version (the
     * publisher compares structures) */
    tb->table_id = tb->t.table_id;
    uint32_t keep = tb->t.ncols;
    my_table_clear(tb);
    tb->n_cols = keep;
    tb->cols = cdc_xcalloc(keep + 1, sizeof(char *));
    tb->text = cdc_xcalloc(keep + 1, sizeof(cdc_my_text_t));
    tb->json = cdc_xcalloc(keep + 1, sizeof(bool));
    for (uint32_t i = 0; i < keep; i++) {
        const cdc_binlog_col_t *c = &tb->t.cols[i];
        tb->cols[i] = cdc_xstrndup((const char *)c->name.p, c->name.n);
        const char *cs = c->charset < s->n_charset && s->charset[c->charset]
                             ? s->charset[c->charset]
                             : "utf8mb4";
        if (c->charset == 0) /* numbers, dates: no character set */
            cs = "utf8mb4";
        err = cdc_my_text_for(cs, &tb->text[i], es);
        if (err) {
            cdc_errstr_prefix(es, "%s.%s.%s", tb->db, tb->name, tb->cols[i]);
            return err;
        }
        tb->json[i] = !tb->signal && !tb->mark &&
                      (c->type == CDC_MT_BLOB || c->type == CDC_MT_LONG_BLOB) &&
                      tb->text[i].kind != CDC_MY_TEXT_BINARY && is_json_column(s, tb, tb->cols[i]);
    }
    if (tb->signal || tb->mark)
        return CDC_OK; /* read for watermarks or marks, never published */
    CDC_LOG_INFO("source=%s table=%s.%s columns=%u", s->conf->name, tb->db, tb->name,
                 (unsigned)keep);
    return announce_schema(s, tb, es);
}

/* TRUNCATE [TABLE] [db.]name, identifiers possibly in backquotes. */
my_table_t *
my_truncated_table(cdc_source_t *s, const cdc_binlog_query_t *q)
{
    const char *p = (const char *)q->query.p, *end = p + q->query.n;
    while (p < end && isspace((unsigned char)*p))
        p++;
    if (end - p < 9 || strncasecmp(p, "TRUNCATE", 8) || !isspace((unsigned char)p[8]))
        return NULL;
    p += 8;
    while (p < end && isspace((unsigned char)*p))
        p++;
    if (end - p > 6 && !strncasecmp(p, "TABLE", 5) && isspace((unsigned char)p[5]))
        p += 5;
    char parts[2][200];
    int n = 0;
    while (p < end && n < 2) {
        while (p < end && isspace((unsigned char)*p))
            p++;
        size_t k = 0;
        if (p < end && *p == '`') {
            for (p++; p < end && k < sizeof(parts[0]) - 1; p++) {
                if (*p == '`' && p + 1 < end && p[1] == '`')
                    parts[n][k++] = *p++;
                else if (*p == '`')
                    break;
                else
                    parts[n][k++] = *p;
            }
            p++;
        } else {
            while (p < end && k < sizeof(parts[0]) - 1 && !isspace((unsigned char)*p) &&
                   *p != '.' && *p != ';')
                parts[n][k++] = *p++;
        }
        parts[n++][k] = '\0';
        if (p < end && *p == '.')
            p++;
        else
            break;
    }
    if (n == 0)
        return NULL;
    const char *db = n == 2 ? parts[0] : NULL;
    char dbbuf[200];
    if (!db) {
        snprintf(dbbuf, sizeof(dbbuf), "%.*s", (int)q->db.n, (const char *)q->db.p);
        db = dbbuf;
    }
    const char *name = parts[n - 1];
    return table_find(s, db, strlen(db), name, strlen(name));
}

/*
 * MySQL / MariaDB target of a sink: conflict checks (the rows an event would change, locked and
 * read).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/log.h"
#include "cdc/sink.h"
#include "my_sink_internal.h"
#include "mysql_conn.h"

/* ---- conflict checks ------------------------------------------------------------------------- */

/* " k1 = v1 AND k2 = v2" of row's key, for table t. */
static cdc_err_t
key_match(cdc_sink_target_t *t, const cdc_sink_table_t *tt, const cdc_sink_row_t *row,
          cdc_errstr_t *es)
{
    cdc_err_t err = CDC_OK;
    for (size_t k = 0; !err && k < row->n_key; k++) {
        cdc_buf_puts(&t->base.sql, k ? " AND t." : " t.");
        cdc_mysql_ident(&t->base.sql, row->key[k].name);
        cdc_buf_puts(&t->base.sql, " = ");
        err = mys_literal(t, tt, cdc_sink_table_type(tt, row->key[k].name), &row->key[k], es);
    }
    return err;
}

/* SELECT CASE WHEN key = v0 THEN 0 ... END FROM tbl t WHERE (key) IN (...) FOR UPDATE: the rows
 * that exist, locked, matched by the server's own comparison of each key. */
cdc_err_t
mys_lock_keys(cdc_sink_target_t *t, const cdc_sink_table_t *tt, const cdc_sink_row_t *const *rows,
              size_t n, bool *found, cdc_errstr_t *es)
{
    cdc_err_t err = mys_sync(t, es);
    if (err)
        return err;
    cdc_buf_t *q = &t->base.sql;
    cdc_buf_reset(q);
    cdc_buf_puts(q, "SELECT CASE");
    for (size_t r = 0; !err && r < n; r++) {
        cdc_buf_puts(q, " WHEN");
        err = key_match(t, tt, rows[r], es);
        cdc_buf_printf(q, " THEN %zu", r);
    }
    cdc_buf_puts(q, " END FROM ");
    mys_table_name(q, tt);
    cdc_buf_puts(q, " t WHERE");
    for (size_t r = 0; !err && r < n; r++) {
        cdc_buf_puts(q, r ? " OR (" : " (");
        err = key_match(t, tt, rows[r], es);
        cdc_buf_putc(q, ')');
    }
    if (err)
        return err;
    cdc_buf_puts(q, " FOR UPDATE");
    if (mysql_real_query(t->m, q->data, (unsigned long)q->len)) {
        char what[600];
        snprintf(what, sizeof(what), "locking rows of %s.%s", tt->schema, tt->table);
        return mys_error(t, what, es);
    }
    memset(found, 0, n * sizeof(bool));
    MYSQL_RES *res = mysql_store_result(t->m);
    MYSQL_ROW row;
    while (res && (row = mysql_fetch_row(res))) {
        size_t r = row[0] ? (size_t)strtoull(row[0], NULL, 10) : n;
        if (r < n)
            found[r] = true;
    }
    mysql_free_result(res);
    return CDC_OK;
}

/* CASE comparing t.<name> with the literal in lit (NULL older than any value). */
static void
order_expr(cdc_buf_t *q, const char *name, const char *lit)
{
    cdc_buf_puts(q, ", CASE WHEN t.");
    cdc_mysql_ident(q, name);
    cdc_buf_printf(q, " IS NULL AND %s IS NULL THEN 0 WHEN t.", lit);
    cdc_mysql_ident(q, name);
    cdc_buf_printf(q, " IS NULL THEN -1 WHEN %s IS NULL THEN 1 WHEN t.", lit);
    cdc_mysql_ident(q, name);
    cdc_buf_printf(q, " < %s THEN -1 WHEN t.", lit);
    cdc_mysql_ident(q, name);
    cdc_buf_printf(q, " > %s THEN 1 ELSE 0 END", lit);
}

/* One probe: (SELECT i, JSON_OBJECT(...), <same>, <order> FROM tbl t WHERE key FOR UPDATE). */
static cdc_err_t
probe_select(cdc_sink_target_t *t, const cdc_sink_table_t *tt, const cdc_sink_probe_t *p, size_t i,
             cdc_buf_t *lit, cdc_errstr_t *es)
{
    cdc_buf_t *q = &t->base.sql;
    cdc_buf_printf(q, "%s(SELECT %zu, JSON_OBJECT(", i ? " UNION ALL " : "", i);
    for (size_t c = 0; c < tt->n; c++) {
        if (c)
            cdc_buf_puts(q, ", ");
        cdc_mysql_literal(t->m, q, tt->names[c], strlen(tt->names[c]));
        cdc_buf_puts(q, mys_is_binary(tt->types[c]) ? ", TO_BASE64(t." : ", (t.");
        cdc_mysql_ident(q, tt->names[c]);
        cdc_buf_putc(q, ')');
    }
    cdc_buf_puts(q, "), TRUE");
    cdc_err_t err = CDC_OK;
    for (size_t j = 0; !err && j < p->n_cmp; j++) {
        cdc_buf_puts(q, " AND t.");
        cdc_mysql_ident(q, p->cmp[j].name);
        cdc_buf_puts(q, " <=> ");
        err = mys_literal(t, tt, cdc_sink_table_type(tt, p->cmp[j].name), &p->cmp[j], es);
    }
    if (!err && p->lww) {
        cdc_buf_reset(lit);
        err = mys_value_literal(t, lit, cdc_sink_table_type(tt, p->lww->name), p->lww, es);
        if (!err)
            order_expr(q, p->lww->name, lit->data);
    } else {
        cdc_buf_puts(q, ", 0");
    }
    cdc_buf_puts(q, " FROM ");
    mys_table_name(q, tt);
    cdc_buf_puts(q, " t");
    if (!err)
        err = mys_where_key(t, tt, p->row, es);
    cdc_buf_puts(q, " FOR UPDATE)");
    return err;
}

/* The probes' SELECTs in one UNION ALL, each locking its row. */
cdc_err_t
mys_read_locked(cdc_sink_target_t *t, const cdc_sink_table_t *tt, const cdc_sink_probe_t *probes,
                size_t n, cdc_arena_t *arena, cdc_sink_current_t *cur, cdc_errstr_t *es)
{
    cdc_err_t err = mys_sync(t, es);
    if (err)
        return err;
    cdc_buf_reset(&t->base.sql);
    cdc_buf_t lit;
    cdc_buf_init(&lit);
    for (size_t i = 0; !err && i < n; i++)
        err = probe_select(t, tt, &probes[i], i, &lit, es);
    cdc_buf_deinit(&lit);
    if (err)
        return err;
    for (size_t r = 0; r < n; r++)
        cur[r] = (cdc_sink_current_t){0};
    if (mysql_real_query(t->m, t->base.sql.data, (unsigned long)t->base.sql.len)) {
        char what[600];
        snprintf(what, sizeof(what), "checking %s.%s for conflicts", tt->schema, tt->table);
        return mys_error(t, what, es);
    }
    MYSQL_RES *res = mysql_store_result(t->m);
    MYSQL_ROW row;
    while (res && (row = mysql_fetch_row(res))) {
        unsigned long *len = mysql_fetch_lengths(res);
        size_t r = row[0] ? (size_t)strtoull(row[0], NULL, 10) : n;
        if (r >= n)
            continue;
        cur[r].found = true;
        cur[r].json = row[1] ? cdc_arena_strndup(arena, row[1], len[1]) : NULL;
        cur[r].same = row[2] && atoi(row[2]) == 1;
        cur[r].order = row[3] ? atoi(row[3]) : 0;
    }
    mysql_free_result(res);
    return CDC_OK;
}

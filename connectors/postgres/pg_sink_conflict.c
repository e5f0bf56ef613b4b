/*
 * PostgreSQL target of a sink: conflict checks (the rows an event would change, locked and read).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/log.h"
#include "cdc/sink.h"
#include "pg_internal.h"
#include "pg_sink_internal.h"

/* ---- conflict checks ------------------------------------------------------------------------- */

/* SELECT CASE WHEN key = $1 THEN 0 WHEN ... END FROM tbl t WHERE key IN ($1, ...) FOR UPDATE:
 * the rows that exist, locked; the parameters typed by the key columns. */
cdc_err_t
pgs_lock_keys(cdc_sink_target_t *t, const cdc_sink_table_t *tt, const cdc_sink_row_t *const *rows,
              size_t n, bool *found, cdc_errstr_t *es)
{
    cdc_err_t err = pgs_sync(t, es);
    if (err)
        return err;
    const cdc_sink_row_t *row0 = rows[0];
    pgs_params_reserve(t, n * row0->n_key + 1);
    size_t np = 0;
    for (size_t r = 0; !err && r < n; r++)
        for (size_t k = 0; !err && k < row0->n_key; k++)
            err = pgs_add_value(t, np++, cdc_sink_table_type(tt, rows[r]->key[k].name),
                                &rows[r]->key[k], es);
    if (err)
        return err;
    cdc_buf_t *q = &t->base.sql;
    cdc_buf_puts(q, "SELECT CASE");
    for (size_t r = 0; r < n; r++) {
        cdc_buf_puts(q, " WHEN ");
        for (size_t k = 0; k < row0->n_key; k++) {
            cdc_buf_puts(q, k ? " AND t." : "t.");
            pg_quote_ident(q, row0->key[k].name);
            cdc_buf_printf(q, " = $%zu", r * row0->n_key + k + 1);
        }
        cdc_buf_printf(q, " THEN %zu", r);
    }
    cdc_buf_puts(q, " END FROM ");
    pgs_table_ident(q, tt);
    cdc_buf_puts(q, " t WHERE (");
    for (size_t k = 0; k < row0->n_key; k++) {
        cdc_buf_puts(q, k ? ", t." : "t.");
        pg_quote_ident(q, row0->key[k].name);
    }
    cdc_buf_puts(q, ") IN (");
    for (size_t r = 0; r < n; r++) {
        cdc_buf_puts(q, r ? ", (" : "(");
        for (size_t k = 0; k < row0->n_key; k++)
            cdc_buf_printf(q, "%s$%zu", k ? ", " : "", r * row0->n_key + k + 1);
        cdc_buf_putc(q, ')');
    }
    cdc_buf_puts(q, ") FOR UPDATE OF t");
    pgs_set_params(t, np);
    PGresult *res = PQexecParams(t->c, q->data, (int)np, NULL, t->params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        char what[600];
        snprintf(what, sizeof(what), "locking rows of %s.%s", tt->schema, tt->table);
        return pgs_error(t, res, what, es);
    }
    memset(found, 0, n * sizeof(bool));
    for (int i = 0; i < PQntuples(res); i++) {
        size_t r = (size_t)strtoull(PQgetvalue(res, i, 0), NULL, 10);
        if (!PQgetisnull(res, i, 0) && r < n)
            found[r] = true;
    }
    PQclear(res);
    return CDC_OK;
}

/* Column name of t against v.<alias>: equal as the column's type prints them (json as jsonb,
 * which has an equality), so what the target stored compares to what the event carries. */
static void
same_expr(cdc_buf_t *q, const cdc_sink_table_t *tt, const char *name, size_t j)
{
    const char *type = cdc_sink_table_type(tt, name);
    const char *as = !strcmp(type, "json") || !strcmp(type, "jsonb") ? "jsonb" : "text";
    cdc_buf_puts(q, " AND t.");
    pg_quote_ident(q, name);
    cdc_buf_printf(q, "::%s IS NOT DISTINCT FROM v.c%zu::%s", as, j, as);
}

/* SELECT v.i, row_to_json(t)::text, <same>, <order> FROM tbl t JOIN (VALUES ($1::int, key...,
 * cmp..., lww), ...) v ON key FOR UPDATE OF t. */
cdc_err_t
pgs_read_locked(cdc_sink_target_t *t, const cdc_sink_table_t *tt, const cdc_sink_probe_t *probes,
                size_t n, cdc_arena_t *arena, cdc_sink_current_t *cur, cdc_errstr_t *es)
{
    cdc_err_t err = pgs_sync(t, es);
    if (err)
        return err;
    const cdc_sink_probe_t *p0 = &probes[0];
    const cdc_sink_row_t *row0 = p0->row;
    pgs_params_reserve(t, n * (2 + row0->n_key + p0->n_cmp) + 1);
    cdc_buf_t *q = &t->base.sql;
    cdc_buf_puts(q, "SELECT v.i, row_to_json(t)::text, TRUE");
    for (size_t j = 0; j < p0->n_cmp; j++)
        same_expr(q, tt, p0->cmp[j].name, j);
    if (p0->lww) {
        cdc_buf_puts(q, ", CASE WHEN t.");
        pg_quote_ident(q, p0->lww->name);
        cdc_buf_puts(q, " IS NULL AND v.w IS NULL THEN 0 WHEN t.");
        pg_quote_ident(q, p0->lww->name);
        cdc_buf_puts(q, " IS NULL THEN -1 WHEN v.w IS NULL THEN 1 WHEN t.");
        pg_quote_ident(q, p0->lww->name);
        cdc_buf_puts(q, " < v.w THEN -1 WHEN t.");
        pg_quote_ident(q, p0->lww->name);
        cdc_buf_puts(q, " > v.w THEN 1 ELSE 0 END");
    } else {
        cdc_buf_puts(q, ", 0");
    }
    cdc_buf_puts(q, " FROM ");
    pgs_table_ident(q, tt);
    cdc_buf_puts(q, " t JOIN (VALUES ");
    size_t np = 0;
    for (size_t r = 0; !err && r < n; r++) {
        const cdc_sink_probe_t *p = &probes[r];
        cdc_buf_printf(q, "%s($%zu::int", r ? ", " : "", np + 1);
        t->val_off[np++] = t->vals.len;
        cdc_buf_printf(&t->vals, "%zu", r);
        cdc_buf_putc(&t->vals, '\0');
        for (size_t k = 0; !err && k < p->row->n_key; k++) {
            cdc_buf_puts(q, ", ");
            err = pgs_typed_param(t, tt, &p->row->key[k], &np, es);
        }
        for (size_t j = 0; !err && j < p->n_cmp; j++) {
            cdc_buf_puts(q, ", ");
            err = pgs_typed_param(t, tt, &p->cmp[j], &np, es);
        }
        if (!err && p0->lww) {
            cdc_buf_puts(q, ", ");
            err = pgs_typed_param(t, tt, p->lww, &np, es);
        }
        cdc_buf_putc(q, ')');
    }
    if (err)
        return err;
    cdc_buf_puts(q, ") v(i");
    for (size_t k = 0; k < row0->n_key; k++)
        cdc_buf_printf(q, ", k%zu", k);
    for (size_t j = 0; j < p0->n_cmp; j++)
        cdc_buf_printf(q, ", c%zu", j);
    cdc_buf_puts(q, p0->lww ? ", w) ON " : ") ON ");
    for (size_t k = 0; k < row0->n_key; k++) {
        cdc_buf_puts(q, k ? " AND t." : "t.");
        pg_quote_ident(q, row0->key[k].name);
        cdc_buf_printf(q, " = v.k%zu", k);
    }
    cdc_buf_puts(q, " FOR UPDATE OF t");
    pgs_set_params(t, np);
    PGresult *res = PQexecParams(t->c, q->data, (int)np, NULL, t->params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        char what[600];
        snprintf(what, sizeof(what), "checking %s.%s for conflicts", tt->schema, tt->table);
        return pgs_error(t, res, what, es);
    }
    for (size_t r = 0; r < n; r++)
        cur[r] = (cdc_sink_current_t){0};
    for (int i = 0; i < PQntuples(res); i++) {
        size_t r = (size_t)strtoull(PQgetvalue(res, i, 0), NULL, 10);
        if (r >= n)
            continue;
        cur[r].found = true;
        cur[r].json =
            cdc_arena_strndup(arena, PQgetvalue(res, i, 1), (size_t)PQgetlength(res, i, 1));
        cur[r].same = !strcmp(PQgetvalue(res, i, 2), "t");
        cur[r].order = atoi(PQgetvalue(res, i, 3));
    }
    PQclear(res);
    return CDC_OK;
}

/*
 * PostgreSQL target of a sink: records linked across systems (cdc_id_map, link_key, match_on).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/log.h"
#include "cdc/sink.h"
#include "pg_internal.h"
#include "pg_sink_internal.h"

/* ---- records linked across systems ---------------------------------------------------------- */

cdc_err_t
pgs_links_ensure(cdc_sink_target_t *t, cdc_errstr_t *es)
{
    PGresult *r = PQexec(t->c, "SELECT to_regclass('" CDC_ID_MAP_TABLE "') IS NOT NULL");
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return pgs_error(t, r, "looking for " CDC_ID_MAP_TABLE, es);
    bool exists = !strcmp(PQgetvalue(r, 0, 0), "t");
    PQclear(r);
    if (exists)
        return CDC_OK;
    r = PQexec(t->c, "BEGIN; SELECT pg_advisory_xact_lock(hashtext('" CDC_ID_MAP_TABLE "')); "
                     "CREATE TABLE IF NOT EXISTS " CDC_ID_MAP_TABLE
                     " (map text NOT NULL, source text NOT NULL, source_key text NOT NULL, "
                     "target_key text, published boolean NOT NULL DEFAULT false, "
                     "PRIMARY KEY (map, source, source_key)); COMMIT");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        cdc_err_t err = pgs_error(t, r, "creating " CDC_ID_MAP_TABLE, es);
        PQclear(PQexec(t->c, "ROLLBACK"));
        return err;
    }
    PQclear(r);
    return CDC_OK;
}

/* UPDATE tbl t SET key = v.k FROM (VALUES ($1::type, $2::type), ...) v(k, l) WHERE t.link = v.l
 * AND t.key IS NULL, for the rows that carry a link_key value. */
cdc_err_t
pgs_link_rows(cdc_sink_target_t *t, const cdc_sink_table_t *tt, const cdc_sink_row_t *const *rows,
              size_t n, cdc_errstr_t *es)
{
    const cdc_route_conf_t *rt = rows[0]->route;
    cdc_err_t err = pgs_sync(t, es);
    if (err)
        return err;
    pgs_params_reserve(t, 2 * n + 1);
    cdc_buf_t *q = &t->base.sql;
    cdc_buf_puts(q, "UPDATE ");
    pgs_table_ident(q, tt);
    cdc_buf_puts(q, " t SET ");
    pg_quote_ident(q, rt->key[0]);
    cdc_buf_puts(q, " = v.k FROM (VALUES ");
    size_t np = 0, linked = 0;
    for (size_t r = 0; !err && r < n; r++) {
        const cdc_column_t *l = cdc_sink_link_value(rows[r]);
        if (!l)
            continue;
        cdc_buf_puts(q, linked++ ? ", (" : "(");
        err = pgs_typed_param(t, tt, &rows[r]->key[0], &np, es);
        cdc_buf_puts(q, ", ");
        if (!err)
            err = pgs_typed_param(t, tt, l, &np, es);
        cdc_buf_putc(q, ')');
    }
    if (err || !linked)
        return err;
    cdc_buf_puts(q, ") v(k, l) WHERE t.");
    pg_quote_ident(q, rt->link_key);
    cdc_buf_puts(q, " = v.l AND t.");
    pg_quote_ident(q, rt->key[0]);
    cdc_buf_puts(q, " IS NULL");
    return pgs_run(t, tt, np, NULL, es);
}

/* " AND t.m0 = $i AND ..." for the match values, added as parameters. */
static cdc_err_t
match_where(cdc_sink_target_t *t, const cdc_sink_table_t *tt, const cdc_sink_row_t *row,
            const cdc_column_t *const *match, size_t *np, cdc_errstr_t *es)
{
    cdc_buf_t *q = &t->base.sql;
    cdc_buf_puts(q, " WHERE t.");
    pg_quote_ident(q, row->route->key[0]);
    cdc_buf_puts(q, " IS NULL");
    cdc_err_t err = CDC_OK;
    for (size_t m = 0; !err && m < row->route->n_match_on; m++) {
        cdc_buf_puts(q, " AND t.");
        pg_quote_ident(q, match[m]->name);
        cdc_buf_puts(q, " = ");
        err = pgs_typed_param(t, tt, match[m], np, es);
    }
    return err;
}

/* The candidates (SELECT count(*) ... of unlinked rows with the match values, when no row has the
 * key), then, for exactly one, UPDATE ... SET key. */
cdc_err_t
pgs_match_row(cdc_sink_target_t *t, const cdc_sink_table_t *tt, const cdc_sink_row_t *row,
              const cdc_column_t *const *match, long *candidates, cdc_errstr_t *es)
{
    cdc_err_t err = pgs_sync(t, es);
    if (err)
        return err;
    const cdc_route_conf_t *rt = row->route;
    pgs_params_reserve(t, rt->n_match_on + 2);
    cdc_buf_t *q = &t->base.sql;
    size_t np = 0;
    cdc_buf_puts(q, "SELECT CASE WHEN EXISTS (SELECT 1 FROM ");
    pgs_table_ident(q, tt);
    cdc_buf_puts(q, " k WHERE k.");
    pg_quote_ident(q, rt->key[0]);
    cdc_buf_puts(q, " = ");
    if ((err = pgs_typed_param(t, tt, &row->key[0], &np, es)))
        return err;
    cdc_buf_puts(q, ") THEN 0 ELSE (SELECT count(*) FROM ");
    pgs_table_ident(q, tt);
    cdc_buf_puts(q, " t");
    if ((err = match_where(t, tt, row, match, &np, es)))
        return err;
    cdc_buf_puts(q, ") END");
    pgs_set_params(t, np);
    PGresult *r = PQexecParams(t->c, q->data, (int)np, NULL, t->params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        char what[600];
        snprintf(what, sizeof(what), "matching in %s.%s", tt->schema, tt->table);
        return pgs_error(t, r, what, es);
    }
    *candidates = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (*candidates != 1)
        return CDC_OK;
    pgs_params_reserve(t, rt->n_match_on + 2);
    np = 0;
    cdc_buf_puts(q, "UPDATE ");
    pgs_table_ident(q, tt);
    cdc_buf_puts(q, " t SET ");
    pg_quote_ident(q, rt->key[0]);
    cdc_buf_puts(q, " = ");
    if ((err = pgs_typed_param(t, tt, &row->key[0], &np, es)) ||
        (err = match_where(t, tt, row, match, &np, es)))
        return err;
    return pgs_run(t, tt, np, NULL, es);
}

/* INSERT INTO cdc_id_map SELECT map, source, t.key, t.link, whether the row carried it FROM tbl t
 * JOIN (VALUES ...) v(k, c) ON t.key = v.k ON CONFLICT DO UPDATE. */
cdc_err_t
pgs_record_links(cdc_sink_target_t *t, const cdc_sink_table_t *tt,
                 const cdc_sink_row_t *const *rows, size_t n, cdc_errstr_t *es)
{
    const cdc_route_conf_t *rt = rows[0]->route;
    cdc_err_t err = pgs_sync(t, es);
    if (err)
        return err;
    pgs_params_reserve(t, 2 * n + 3);
    cdc_buf_t *q = &t->base.sql;
    const char *names[] = {rt->link_map, rt->source};
    size_t np = 0;
    for (int i = 0; i < 2; i++) {
        t->val_off[np++] = t->vals.len;
        cdc_buf_append(&t->vals, names[i], strlen(names[i]) + 1);
    }
    cdc_buf_puts(q, "INSERT INTO " CDC_ID_MAP_TABLE " (map, source, source_key, target_key, "
                    "published) SELECT $1, $2, t.");
    pg_quote_ident(q, rt->key[0]);
    cdc_buf_puts(q, "::text, t.");
    pg_quote_ident(q, rt->link_key);
    cdc_buf_puts(q, "::text, v.c IS NOT DISTINCT FROM t.");
    pg_quote_ident(q, rt->link_key);
    cdc_buf_puts(q, "::text FROM ");
    pgs_table_ident(q, tt);
    cdc_buf_puts(q, " t JOIN (VALUES ");
    const char *ltype = cdc_sink_table_type(tt, rt->link_key);
    for (size_t r = 0; !err && r < n; r++) {
        cdc_buf_puts(q, r ? ", (" : "(");
        err = pgs_typed_param(t, tt, &rows[r]->key[0], &np, es);
        cdc_buf_puts(q, ", ");
        const cdc_column_t *l = cdc_sink_link_value(rows[r]);
        if (!err && l && ltype) {
            err = pgs_typed_param(t, tt, l, &np, es);
        } else {
            cdc_buf_printf(q, "$%zu", np + 1);
            t->val_off[np++] = SIZE_MAX;
        }
        cdc_buf_puts(q, "::text)");
    }
    if (err)
        return err;
    cdc_buf_puts(q, ") v(k, c) ON t.");
    pg_quote_ident(q, rt->key[0]);
    cdc_buf_puts(q, " = v.k ON CONFLICT (map, source, source_key) DO UPDATE SET target_key = "
                    "EXCLUDED.target_key, published = EXCLUDED.published OR (" CDC_ID_MAP_TABLE
                    ".published AND " CDC_ID_MAP_TABLE
                    ".target_key IS NOT DISTINCT FROM EXCLUDED.target_key)");
    return pgs_run(t, tt, np, NULL, es);
}

cdc_err_t
pgs_lookup_links(cdc_sink_target_t *t, const char *map, const char *source, const char *const *keys,
                 size_t n, char **out, cdc_errstr_t *es)
{
    cdc_err_t err = pgs_sync(t, es);
    if (err)
        return err;
    pgs_params_reserve(t, n + 3);
    cdc_buf_t *q = &t->base.sql;
    cdc_buf_puts(q, "SELECT source_key, target_key FROM " CDC_ID_MAP_TABLE
                    " WHERE map = $1 AND source = $2 AND source_key IN (");
    const char **params = cdc_xcalloc(n + 3, sizeof(char *));
    params[0] = map;
    params[1] = source;
    for (size_t i = 0; i < n; i++) {
        params[i + 2] = keys[i];
        cdc_buf_printf(q, "%s$%zu", i ? ", " : "", i + 3);
    }
    cdc_buf_putc(q, ')');
    PGresult *r = PQexecParams(t->c, q->data, (int)n + 2, NULL, params, NULL, NULL, 0);
    free(params);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return pgs_error(t, r, "reading " CDC_ID_MAP_TABLE, es);
    for (size_t i = 0; i < n; i++)
        out[i] = NULL;
    for (int k = 0; k < PQntuples(r); k++)
        cdc_sink_link_found(keys, n, PQgetvalue(r, k, 0),
                            PQgetisnull(r, k, 1) ? NULL : PQgetvalue(r, k, 1), out);
    PQclear(r);
    return CDC_OK;
}

cdc_err_t
pgs_links_pending(cdc_sink_target_t *t, const char *map, const char *source, size_t max,
                  cdc_sink_link_t **out, size_t *n, cdc_errstr_t *es)
{
    *out = NULL;
    *n = 0;
    cdc_err_t err = pgs_sync(t, es);
    if (err)
        return err;
    char lim[24];
    snprintf(lim, sizeof(lim), "%zu", max);
    const char *params[] = {map, source, lim};
    PGresult *r = PQexecParams(t->c, CDC_ID_MAP_PENDING_SQL "$1 AND source = $2 LIMIT $3::int", 3,
                               NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return pgs_error(t, r, "reading " CDC_ID_MAP_TABLE, es);
    *n = (size_t)PQntuples(r);
    *out = cdc_xcalloc(*n + 1, sizeof(cdc_sink_link_t));
    for (size_t i = 0; i < *n; i++)
        (*out)[i] = (cdc_sink_link_t){
            cdc_xstrdup(PQgetvalue(r, (int)i, 0)), cdc_xstrdup(PQgetvalue(r, (int)i, 1)),
            cdc_xstrdup(PQgetvalue(r, (int)i, 2)), cdc_xstrdup(PQgetvalue(r, (int)i, 3))};
    PQclear(r);
    return CDC_OK;
}

cdc_err_t
pgs_links_published(cdc_sink_target_t *t, const cdc_sink_link_t *links, size_t n, cdc_errstr_t *es)
{
    cdc_err_t err = pgs_sync(t, es);
    for (size_t i = 0; !err && i < n; i++) {
        const char *params[] = {links[i].map, links[i].source, links[i].source_key,
                                links[i].target_key};
        PGresult *r = PQexecParams(t->c,
                                   "UPDATE " CDC_ID_MAP_TABLE " SET published = true WHERE map = "
                                   "$1 AND source = $2 AND source_key = $3 AND target_key = $4",
                                   4, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            return pgs_error(t, r, "updating " CDC_ID_MAP_TABLE, es);
        PQclear(r);
    }
    return err;
}

cdc_err_t
pgs_apply_link(cdc_sink_target_t *t, const cdc_route_conf_t *rt, const char *schema,
               const char *table, const cdc_sink_link_t *l, cdc_errstr_t *es)
{
    cdc_err_t err = pgs_sync(t, es);
    if (err)
        return err;
    cdc_buf_t *q = &t->base.sql;
    cdc_buf_reset(q);
    cdc_buf_puts(q, "WITH u AS (UPDATE ");
    pg_quote_ident(q, schema);
    cdc_buf_putc(q, '.');
    pg_quote_ident(q, table);
    cdc_buf_puts(q, " t SET ");
    pg_quote_ident(q, rt->key[0]);
    cdc_buf_puts(q, " = $1 WHERE t.");
    pg_quote_ident(q, rt->link_key);
    cdc_buf_puts(q, "::text = $2 AND t.");
    pg_quote_ident(q, rt->key[0]);
    cdc_buf_puts(q, " IS NULL RETURNING 1) INSERT INTO " CDC_ID_MAP_TABLE
                    " (map, source, source_key, target_key, published) VALUES ($3, $4, $5, $6, "
                    "true) ON CONFLICT (map, source, source_key) DO UPDATE SET target_key = "
                    "EXCLUDED.target_key, published = true");
    const char *params[] = {l->target_key, l->source_key, rt->link_map,
                            rt->source,    l->target_key, l->source_key};
    PGresult *r = PQexecParams(t->c, q->data, 6, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        char what[600];
        snprintf(what, sizeof(what), "linking %s.%s", schema, table);
        return pgs_error(t, r, what, es);
    }
    PQclear(r);
    return CDC_OK;
}

/*
 * MySQL / MariaDB target of a sink: records linked across systems (cdc_id_map, link_key, match_on).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/log.h"
#include "cdc/sink.h"
#include "my_sink_internal.h"
#include "mysql_conn.h"

/* ---- records linked across systems ---------------------------------------------------------- */

cdc_err_t
mys_links_ensure(cdc_sink_target_t *t, cdc_errstr_t *es)
{
    return mys_exec(t,
                    "CREATE TABLE IF NOT EXISTS " CDC_ID_MAP_TABLE
                    " (map VARCHAR(64) NOT NULL, source VARCHAR(64) NOT NULL, source_key "
                    "VARCHAR(255) NOT NULL, target_key VARCHAR(255), published BOOLEAN NOT NULL "
                    "DEFAULT FALSE, PRIMARY KEY (map, source, source_key)) CHARACTER SET utf8mb4 "
                    "COLLATE utf8mb4_bin ENGINE=InnoDB",
                    es);
}

/* UPDATE tbl t JOIN (SELECT k, l UNION ALL ...) v ON t.link = v.l SET t.key = v.k WHERE t.key IS
 * NULL, for the rows that carry a link_key value. */
cdc_err_t
mys_link_rows(cdc_sink_target_t *t, const cdc_sink_table_t *tt, const cdc_sink_row_t *const *rows,
              size_t n, cdc_errstr_t *es)
{
    const cdc_route_conf_t *rt = rows[0]->route;
    cdc_err_t err = mys_sync(t, es);
    if (err)
        return err;
    cdc_buf_t *q = &t->base.sql;
    cdc_buf_reset(q);
    cdc_buf_puts(q, "UPDATE ");
    mys_table_name(q, tt);
    cdc_buf_puts(q, " t JOIN (");
    size_t linked = 0;
    for (size_t r = 0; !err && r < n; r++) {
        const cdc_column_t *l = cdc_sink_link_value(rows[r]);
        if (!l)
            continue;
        cdc_buf_puts(q, linked++ ? " UNION ALL SELECT " : "SELECT ");
        err =
            mys_literal(t, tt, cdc_sink_table_type(tt, rows[r]->key[0].name), &rows[r]->key[0], es);
        cdc_buf_puts(q, " AS k, ");
        if (!err)
            err = mys_literal(t, tt, cdc_sink_table_type(tt, l->name), l, es);
        cdc_buf_puts(q, " AS l");
    }
    if (err || !linked)
        return err;
    cdc_buf_puts(q, ") v ON t.");
    cdc_mysql_ident(q, rt->link_key);
    cdc_buf_puts(q, " = v.l SET t.");
    cdc_mysql_ident(q, rt->key[0]);
    cdc_buf_puts(q, " = v.k WHERE t.");
    cdc_mysql_ident(q, rt->key[0]);
    cdc_buf_puts(q, " IS NULL");
    return mys_run(t, tt, es);
}

/* " FROM tbl t WHERE t.key IS NULL AND t.m0 = v0 AND ..." */
static cdc_err_t
match_from(cdc_sink_target_t *t, const cdc_sink_table_t *tt, const cdc_sink_row_t *row,
           const cdc_column_t *const *match, cdc_errstr_t *es)
{
    cdc_buf_t *q = &t->base.sql;
    cdc_buf_puts(q, " FROM ");
    mys_table_name(q, tt);
    cdc_buf_puts(q, " t WHERE t.");
    cdc_mysql_ident(q, row->route->key[0]);
    cdc_buf_puts(q, " IS NULL");
    cdc_err_t err = CDC_OK;
    for (size_t m = 0; !err && m < row->route->n_match_on; m++) {
        cdc_buf_puts(q, " AND t.");
        cdc_mysql_ident(q, match[m]->name);
        cdc_buf_puts(q, " = ");
        err = mys_literal(t, tt, cdc_sink_table_type(tt, match[m]->name), match[m], es);
    }
    return err;
}

/* The candidates (unlinked rows with the match values, when no row has the key), then, for
 * exactly one, UPDATE ... SET key. */
cdc_err_t
mys_match_row(cdc_sink_target_t *t, const cdc_sink_table_t *tt, const cdc_sink_row_t *row,
              const cdc_column_t *const *match, long *candidates, cdc_errstr_t *es)
{
    cdc_err_t err = mys_sync(t, es);
    if (err)
        return err;
    const char *key = row->route->key[0];
    const char *ktype = cdc_sink_table_type(tt, key);
    cdc_buf_t *q = &t->base.sql;
    cdc_buf_reset(q);
    cdc_buf_puts(q, "SELECT IF(EXISTS (SELECT 1 FROM ");
    mys_table_name(q, tt);
    cdc_buf_puts(q, " WHERE ");
    cdc_mysql_ident(q, key);
    cdc_buf_puts(q, " = ");
    if ((err = mys_literal(t, tt, ktype, &row->key[0], es)))
        return err;
    cdc_buf_puts(q, "), 0, (SELECT COUNT(*)");
    if ((err = match_from(t, tt, row, match, es)))
        return err;
    cdc_buf_puts(q, "))");
    if (mysql_real_query(t->m, q->data, (unsigned long)q->len))
        return mys_error(t, "matching a new record", es);
    MYSQL_RES *r = mysql_store_result(t->m);
    MYSQL_ROW v = r ? mysql_fetch_row(r) : NULL;
    *candidates = v && v[0] ? atol(v[0]) : 0;
    mysql_free_result(r);
    if (*candidates != 1)
        return CDC_OK;
    cdc_buf_reset(q);
    cdc_buf_puts(q, "UPDATE ");
    mys_table_name(q, tt);
    cdc_buf_puts(q, " SET ");
    cdc_mysql_ident(q, key);
    cdc_buf_puts(q, " = ");
    if ((err = mys_literal(t, tt, ktype, &row->key[0], es)))
        return err;
    cdc_buf_puts(q, " WHERE ");
    cdc_mysql_ident(q, key);
    cdc_buf_puts(q, " IS NULL");
    for (size_t m = 0; !err && m < row->route->n_match_on; m++) {
        cdc_buf_puts(q, " AND ");
        cdc_mysql_ident(q, match[m]->name);
        cdc_buf_puts(q, " = ");
        err = mys_literal(t, tt, cdc_sink_table_type(tt, match[m]->name), match[m], es);
    }
    return err ? err : mys_run(t, tt, es);
}

/* INSERT INTO cdc_id_map SELECT * FROM (SELECT map, source, t.key, t.link, whether the row carried
 * it FROM tbl t WHERE t.key = k UNION ALL ...) x ON DUPLICATE KEY UPDATE. */
cdc_err_t
mys_record_links(cdc_sink_target_t *t, const cdc_sink_table_t *tt,
                 const cdc_sink_row_t *const *rows, size_t n, cdc_errstr_t *es)
{
    const cdc_route_conf_t *rt = rows[0]->route;
    cdc_err_t err = mys_sync(t, es);
    if (err)
        return err;
    cdc_buf_t *q = &t->base.sql;
    cdc_buf_reset(q);
    cdc_buf_puts(q, "INSERT INTO " CDC_ID_MAP_TABLE
                    " (map, source, source_key, target_key, published) SELECT * FROM (");
    for (size_t r = 0; !err && r < n; r++) {
        cdc_buf_puts(q, r ? " UNION ALL SELECT " : "SELECT ");
        cdc_mysql_literal(t->m, q, rt->link_map, strlen(rt->link_map));
        cdc_buf_puts(q, ", ");
        cdc_mysql_literal(t->m, q, rt->source, strlen(rt->source));
        cdc_buf_puts(q, ", CAST(t.");
        cdc_mysql_ident(q, rt->key[0]);
        cdc_buf_puts(q, " AS CHAR), CAST(t.");
        cdc_mysql_ident(q, rt->link_key);
        cdc_buf_puts(q, " AS CHAR), ");
        const cdc_column_t *l = cdc_sink_link_value(rows[r]);
        const char *ltype = cdc_sink_table_type(tt, rt->link_key);
        if (l && ltype)
            err = mys_literal(t, tt, ltype, l, es);
        else
            cdc_buf_puts(q, "NULL");
        cdc_buf_puts(q, " <=> t.");
        cdc_mysql_ident(q, rt->link_key);
        cdc_buf_puts(q, " FROM ");
        mys_table_name(q, tt);
        cdc_buf_puts(q, " t WHERE t.");
        cdc_mysql_ident(q, rt->key[0]);
        cdc_buf_puts(q, " = ");
        if (!err)
            err = mys_literal(t, tt, cdc_sink_table_type(tt, rt->key[0]), &rows[r]->key[0], es);
    }
    if (err)
        return err;
    cdc_buf_puts(q, ") x ON DUPLICATE KEY UPDATE published = IF(target_key <=> "
                    "VALUES(target_key), published OR VALUES(published), VALUES(published)), "
                    "target_key = VALUES(target_key)");
    return mys_run(t, tt, es);
}

/* " map = 'm' AND source = 's' AND source_key = 'k'" */
static void
link_where(cdc_sink_target_t *t, cdc_buf_t *q, const char *map, const char *source, const char *key)
{
    cdc_buf_puts(q, " WHERE map = ");
    cdc_mysql_literal(t->m, q, map, strlen(map));
    cdc_buf_puts(q, " AND source = ");
    cdc_mysql_literal(t->m, q, source, strlen(source));
    cdc_buf_puts(q, " AND source_key = ");
    cdc_mysql_literal(t->m, q, key, strlen(key));
}

cdc_err_t
mys_lookup_links(cdc_sink_target_t *t, const char *map, const char *source, const char *const *keys,
                 size_t n, char **out, cdc_errstr_t *es)
{
    cdc_err_t err = mys_sync(t, es);
    if (err)
        return err;
    cdc_buf_t *q = &t->base.sql;
    cdc_buf_reset(q);
    cdc_buf_puts(q, "SELECT source_key, target_key FROM " CDC_ID_MAP_TABLE);
    link_where(t, q, map, source, keys[0]);
    for (size_t i = 1; i < n; i++) {
        cdc_buf_puts(q, " UNION ALL SELECT source_key, target_key FROM " CDC_ID_MAP_TABLE);
        link_where(t, q, map, source, keys[i]);
    }
    if (mysql_real_query(t->m, q->data, (unsigned long)q->len))
        return mys_error(t, "reading " CDC_ID_MAP_TABLE, es);
    MYSQL_RES *r = mysql_store_result(t->m);
    for (size_t i = 0; i < n; i++)
        out[i] = NULL;
    MYSQL_ROW row;
    while (r && (row = mysql_fetch_row(r)))
        cdc_sink_link_found(keys, n, row[0], row[1], out);
    mysql_free_result(r);
    return CDC_OK;
}

cdc_err_t
mys_links_pending(cdc_sink_target_t *t, const char *map, const char *source, size_t max,
                  cdc_sink_link_t **out, size_t *n, cdc_errstr_t *es)
{
    *out = NULL;
    *n = 0;
    cdc_err_t err = mys_sync(t, es);
    if (err)
        return err;
    cdc_buf_t *q = &t->base.sql;
    cdc_buf_reset(q);
    cdc_buf_puts(q, CDC_ID_MAP_PENDING_SQL);
    cdc_mysql_literal(t->m, q, map, strlen(map));
    cdc_buf_puts(q, " AND source = ");
    cdc_mysql_literal(t->m, q, source, strlen(source));
    cdc_buf_printf(q, " LIMIT %zu", max);
    if (mysql_query(t->m, q->data))
        return mys_error(t, "reading " CDC_ID_MAP_TABLE, es);
    MYSQL_RES *r = mysql_store_result(t->m);
    size_t rows = r ? (size_t)mysql_num_rows(r) : 0;
    *out = cdc_xcalloc(rows + 1, sizeof(cdc_sink_link_t));
    MYSQL_ROW row;
    while (r && (row = mysql_fetch_row(r)))
        (*out)[(*n)++] = (cdc_sink_link_t){cdc_xstrdup(row[0]), cdc_xstrdup(row[1]),
                                           cdc_xstrdup(row[2]), cdc_xstrdup(row[3])};
    mysql_free_result(r);
    return CDC_OK;
}

cdc_err_t
mys_links_published(cdc_sink_target_t *t, const cdc_sink_link_t *links, size_t n, cdc_errstr_t *es)
{
    cdc_err_t err = CDC_OK;
    cdc_buf_t *q = &t->base.sql;
    for (size_t i = 0; !err && i < n; i++) {
        cdc_buf_reset(q);
        cdc_buf_puts(q, "UPDATE " CDC_ID_MAP_TABLE " SET published = TRUE");
        link_where(t, q, links[i].map, links[i].source, links[i].source_key);
        cdc_buf_puts(q, " AND target_key = ");
        cdc_mysql_literal(t->m, q, links[i].target_key, strlen(links[i].target_key));
        err = mys_exec(t, q->data, es);
    }
    return err;
}

cdc_err_t
mys_apply_link(cdc_sink_target_t *t, const cdc_route_conf_t *rt, const char *schema,
               const char *table, const cdc_sink_link_t *l, cdc_errstr_t *es)
{
    cdc_buf_t *q = &t->base.sql;
    cdc_buf_reset(q);
    cdc_buf_puts(q, "UPDATE ");
    cdc_mysql_ident(q, schema);
    cdc_buf_putc(q, '.');
    cdc_mysql_ident(q, table);
    cdc_buf_puts(q, " SET ");
    cdc_mysql_ident(q, rt->key[0]);
    cdc_buf_puts(q, " = ");
    cdc_mysql_literal(t->m, q, l->target_key, strlen(l->target_key));
    cdc_buf_puts(q, " WHERE ");
    cdc_mysql_ident(q, rt->link_key);
    cdc_buf_puts(q, " = ");
    cdc_mysql_literal(t->m, q, l->source_key, strlen(l->source_key));
    cdc_buf_puts(q, " AND ");
    cdc_mysql_ident(q, rt->key[0]);
    cdc_buf_puts(q, " IS NULL");
    cdc_err_t err = mys_exec(t, q->data, es);
    if (err)
        return err;
    cdc_buf_reset(q);
    cdc_buf_puts(q, "INSERT INTO " CDC_ID_MAP_TABLE
                    " (map, source, source_key, target_key, published) VALUES (");
    const char *v[] = {rt->link_map, rt->source, l->target_key, l->source_key};
    for (int i = 0; i < 4; i++) {
        cdc_mysql_literal(t->m, q, v[i], strlen(v[i]));
        cdc_buf_puts(q, ", ");
    }
    cdc_buf_puts(q, "TRUE) ON DUPLICATE KEY UPDATE target_key = VALUES(target_key), published = "
                    "TRUE");
    return mys_exec(t, q->data, es);
}

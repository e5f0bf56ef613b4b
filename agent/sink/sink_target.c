/*
 * What the engine does with a target through its operations (include/cdc/sink.h): the part of
 * applying rows, savepoints, truncates and added columns that is the same on every database.
 */
#include <stdlib.h>
#include <string.h>

#include "cdc/log.h"
#include "cdc/sink.h"

static const char *
savepoint_sql(cdc_sink_sp_t op)
{
    return op == CDC_SINK_SAVEPOINT ? "SAVEPOINT cdc_row"
           : op == CDC_SINK_RELEASE ? "RELEASE SAVEPOINT cdc_row"
                                    : "ROLLBACK TO SAVEPOINT cdc_row";
}

static void
qualified(cdc_buf_t *q, const char *schema, const char *table, cdc_sink_ident_fn ident)
{
    ident(q, schema);
    cdc_buf_putc(q, '.');
    ident(q, table);
}

static void
delete_all_sql(cdc_buf_t *q, const char *schema, const char *table, cdc_sink_ident_fn ident)
{
    cdc_buf_reset(q);
    cdc_buf_puts(q, "DELETE FROM ");
    qualified(q, schema, table, ident);
}

static const char *
add_column_sql(cdc_buf_t *q, const cdc_sink_new_column_t *a, cdc_sink_ident_fn ident,
               const char *const types[4])
{
    const char *type = types[a->type == CDC_VAL_NUMBER ? 0
                             : a->type == CDC_VAL_BOOL ? 1
                             : a->type == CDC_VAL_JSON ? 2
                                                       : 3];
    cdc_buf_reset(q);
    cdc_buf_puts(q, "ALTER TABLE ");
    qualified(q, a->schema, a->table, ident);
    cdc_buf_puts(q, " ADD COLUMN IF NOT EXISTS ");
    ident(q, a->column);
    cdc_buf_printf(q, " %s", type);
    return type;
}

static void
column_added(cdc_sink_tables_t *ts, const char *sink, const cdc_sink_new_column_t *a,
             const char *type)
{
    cdc_sink_tables_forget(ts, a->schema, a->table);
    CDC_LOG_INFO("sink=%s added column %s %s to %s.%s (on_unknown_column: add)", sink, a->column,
                 type, a->schema, a->table);
}

/* translate: each translated column's value (a key of the source's system) becomes the target
 * system's key of the same record, from cdc_id_map, in copies of the rows made in arena; a key
 * without a link yet is a constraint-like failure (the record is held back and tried again). */
static cdc_err_t
translate_rows(const cdc_sink_ops_t *ops, cdc_sink_target_t *t, cdc_arena_t *arena,
               const cdc_sink_row_t *const **rows, size_t n, cdc_errstr_t *es)
{
    const cdc_route_conf_t *r = (*rows)[0]->route;
    const cdc_sink_row_t **copy = cdc_arena_alloc(arena, n * sizeof(*copy));
    for (size_t i = 0; i < n; i++) {
        cdc_sink_row_t *row = cdc_arena_alloc(arena, sizeof(*row));
        *row = *(*rows)[i];
        cdc_column_t *cols = cdc_arena_alloc(arena, (row->n_cols + 1) * sizeof(*cols));
        memcpy(cols, row->cols, row->n_cols * sizeof(*cols));
        row->cols = cols;
        copy[i] = row;
    }
    const char **keys = cdc_arena_alloc(arena, (n + 1) * sizeof(*keys));
    cdc_column_t **at = cdc_arena_alloc(arena, (n + 1) * sizeof(*at)); /* where keys[k] is */
    char **out = cdc_xcalloc(n + 1, sizeof(char *));
    cdc_err_t err = CDC_OK;
    for (size_t x = 0; !err && x < r->n_translate; x++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            for (size_t c = 0; c < copy[i]->n_cols; c++) {
                cdc_column_t *col = (cdc_column_t *)&copy[i]->cols[c]; /* made above */
                if (strcmp(col->name, r->translate[x].key) || col->value.type == CDC_VAL_NULL)
                    continue;
                keys[m] = cdc_arena_strndup(arena, col->value.s.p, col->value.s.n);
                at[m++] = col;
            }
        if (m)
            err = ops->lookup_links(t, r->translate[x].value, r->source, keys, m, out, es);
        for (size_t k = 0; k < m; k++) {
            cdc_column_t *col = at[k];
            if (!err && !out[k])
                err = cdc_errstr_set(es, CDC_ERR_CONFLICT,
                                     "route %s: %s %s has no link in map %s from %s yet (its "
                                     "record has not reached this database)",
                                     r->from, col->name, keys[k], r->translate[x].value, r->source);
            if (!err) {
                const char *v = cdc_arena_strndup(arena, out[k], strlen(out[k]));
                col->value = cdc_value_str(CDC_VAL_STRING, v, strlen(v));
            }
            free(out[k]);
            out[k] = NULL;
        }
    }
    free(out);
    *rows = copy;
    return err;
}

/* match_on: each new record (not carrying the target's key) with every match value present tries
 * to link an unlinked target row. */
static cdc_err_t
match_rows(const cdc_sink_ops_t *ops, cdc_sink_target_t *t, const cdc_sink_resolver_t *res,
           const cdc_sink_table_t *tt, const cdc_sink_row_t *const *rows, size_t n,
           cdc_errstr_t *es)
{
    const cdc_route_conf_t *r = rows[0]->route;
    const cdc_column_t **match = cdc_xcalloc(r->n_match_on + 1, sizeof(*match));
    cdc_err_t err = CDC_OK;
    for (size_t i = 0; !err && i < n; i++) {
        const cdc_sink_row_t *row = rows[i];
        if (cdc_sink_link_value(row))
            continue;
        size_t found = 0;
        for (size_t m = 0; m < r->n_match_on; m++) {
            match[m] = NULL;
            for (size_t c = 0; c < row->n_cols; c++)
                if (!strcmp(row->cols[c].name, r->match_on[m]) &&
                    row->cols[c].value.type != CDC_VAL_NULL)
                    match[m] = &row->cols[c];
            found += match[m] != NULL;
        }
        long candidates = 0;
        if (found == r->n_match_on)
            err = ops->match_row(t, tt, row, match, &candidates, es);
        if (!err && candidates > 1 && res && res->ambiguous)
            res->ambiguous(res->ctx, row, candidates);
    }
    free(match);
    return err;
}

/* Whether the target would cut name short (and a column added under it would never be found
 * again: the add would repeat for every record). */
static bool
ident_too_long(const cdc_sink_ops_t *ops, const char *name)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        n += !ops->ident_chars || (*p & 0xC0) != 0x80;
    return ops->max_ident && n > ops->max_ident;
}

cdc_err_t
cdc_sink_apply(const cdc_sink_ops_t *ops, cdc_sink_target_t *t, const cdc_sink_resolver_t *res,
               const cdc_sink_row_t *const *rows, size_t n, cdc_errstr_t *es)
{
    cdc_sink_base_t *b = cdc_sink_base(t);
    const cdc_sink_row_t *row = rows[0];
    cdc_sink_table_t *tt = cdc_sink_tables_get(&b->tables, row->schema, row->table);
    /* the statement is built while the previous one runs; what queries the server waits first */
    cdc_err_t err = !tt->n || row->update_only ? ops->sync(t, es) : CDC_OK;
    if (!err && !tt->n)
        err = ops->load_columns(t, tt, es);
    if (err)
        return err;
    size_t nc = row->is_delete ? 0 : row->n_cols;
    const char **types = cdc_xcalloc(nc + row->n_key + 1, sizeof(char *));
    err = cdc_sink_check_columns(row, tt, types, &b->add, es);
    if (err == CDC_ERR_SCHEMA && ident_too_long(ops, b->add.column))
        err = cdc_errstr_set(es, CDC_ERR_DATA,
                             "column %.64s... is not in target table %s.%s, and its name is "
                             "longer than %s keeps (%zu %s): not added",
                             b->add.column, tt->schema, tt->table, ops->name, ops->max_ident,
                             ops->ident_chars ? "characters" : "bytes");
    cdc_arena_t arena;
    cdc_arena_init(&arena);
    if (!err && row->route->n_translate && !row->is_delete)
        err = translate_rows(ops, t, &arena, &rows, n, es);
    bool linked = row->route->link_map != NULL;
    if (!err && linked)
        err = ops->link_rows(t, tt, rows, n, es);
    if (!err && linked && row->route->match_on && !row->is_delete)
        err = match_rows(ops, t, res, tt, rows, n, es);
    const cdc_sink_row_t **kept = NULL;
    if (!err && res && row->route->conflict != CDC_CONFLICT_NONE) {
        kept = cdc_xcalloc(n, sizeof(*kept));
        memcpy(kept, rows, n * sizeof(*kept));
        err = res->fn(res->ctx, tt, types, kept, &n, es);
        rows = kept;
    }
    if (!err && n && row->is_delete)
        err = ops->delete_rows(t, tt, rows, n, es);
    else if (!err && n && row->update_only)
        err = ops->update(t, tt, rows, n, types, es);
    else if (!err && n)
        err = ops->upsert(t, tt, rows, n, types, es);
    if (!err && n && linked && !row->is_delete)
        err = ops->record_links(t, tt, rows, n, es);
    free(kept);
    free(types);
    cdc_arena_deinit(&arena);
    return err;
}

cdc_err_t
cdc_sink_savepoint(const cdc_sink_ops_t *ops, cdc_sink_target_t *t, cdc_sink_sp_t op,
                   cdc_errstr_t *es)
{
    return ops->exec(t, savepoint_sql(op), es);
}

cdc_err_t
cdc_sink_truncate(const cdc_sink_ops_t *ops, cdc_sink_target_t *t, const char *schema,
                  const char *table, cdc_errstr_t *es)
{
    cdc_buf_t *q = &cdc_sink_base(t)->sql;
    delete_all_sql(q, schema, table, ops->quote_ident);
    return ops->exec(t, q->data, es);
}

cdc_err_t
cdc_sink_add_column(const cdc_sink_ops_t *ops, cdc_sink_target_t *t, cdc_errstr_t *es)
{
    cdc_sink_base_t *b = cdc_sink_base(t);
    const char *type = add_column_sql(&b->sql, &b->add, ops->quote_ident, ops->added_types);
    cdc_err_t err = ops->exec(t, b->sql.data, es);
    if (!err)
        column_added(&b->tables, b->conf->name, &b->add, type);
    return err;
}

cdc_err_t
cdc_sink_move_offsets(const cdc_sink_ops_t *ops, cdc_sink_target_t *t,
                      const cdc_sink_offset_t *next, const int64_t *expected, size_t n,
                      cdc_errstr_t *es)
{
    cdc_err_t err = ops->sync(t, es);
    return err ? err : ops->move_offsets(t, next, expected, n, es);
}

cdc_err_t
cdc_sink_set_offsets(const cdc_sink_ops_t *ops, cdc_sink_target_t *t, const cdc_sink_offset_t *next,
                     size_t n, cdc_errstr_t *es)
{
    cdc_err_t err = ops->sync(t, es);
    return err ? err : ops->set_offsets(t, next, n, es);
}

cdc_err_t
cdc_sink_commit(const cdc_sink_ops_t *ops, cdc_sink_target_t *t, cdc_errstr_t *es)
{
    return ops->exec(t, "COMMIT", es);
}

void
cdc_sink_rollback(const cdc_sink_ops_t *ops, cdc_sink_target_t *t)
{
    cdc_errstr_t ignore;
    ops->sync(t, &ignore);
    ops->exec(t, "ROLLBACK", &ignore);
}

cdc_err_t
cdc_sink_target_open(const cdc_sink_ops_t *ops, const cdc_sink_conf_t *conf, bool lock,
                     cdc_sink_target_t **out, cdc_errstr_t *es)
{
    cdc_sink_target_t *t = NULL;
    cdc_err_t err = ops->connect(conf, &t, es);
    if (!err && lock)
        err = ops->lock(t, es);
    if (!err && lock && cdc_sink_fk_checks_off(conf) && ops->exec(t, ops->fk_checks_off_sql, es))
        CDC_LOG_WARN("sink=%s cannot turn foreign-key checks off (%s): a child row arriving "
                     "before its parent is retried",
                     conf->name, es->msg);
    if (!err && lock)
        err = ops->offsets_ensure(t, es);
    if (!err && lock && cdc_sink_has_links(conf))
        err = ops->links_ensure(t, es);
    if (!err && lock && conf->applied_mark)
        err = ops->mark_session(t, es);
    if (err) {
        if (t)
            ops->close(t);
        return err;
    }
    *out = t;
    return CDC_OK;
}

cdc_err_t
cdc_sink_begin(const cdc_sink_ops_t *ops, cdc_sink_target_t *t, cdc_errstr_t *es)
{
    cdc_err_t err = ops->send(t, ops->begin_sql, es);
    const cdc_buf_t *mark = &cdc_sink_base(t)->mark_sql;
    if (!err && mark->len)
        err = ops->send(t, mark->data, es);
    return err;
}

/*
 * Sink routes (agent/sink/sink_internal.h): the topic a route reads, an event mapped into target
 * terms (renamed columns, constants, key), and the helpers targets share to check rows against a
 * target table's columns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cdc/clock.h"
#include "cdc/log.h"
#include "cdc/topic.h"
#include "sink_internal.h"

cdc_err_t
cdc_sink_route_topic(const cdc_config_t *cfg, const cdc_route_conf_t *r, cdc_buf_t *out,
                     cdc_errstr_t *es)
{
    cdc_buf_reset(out);
    if (r->topic) {
        cdc_buf_puts(out, r->topic);
        return CDC_OK;
    }
    const char *dot = strchr(r->from, '.');
    char source[256], schema[256];
    snprintf(source, sizeof(source), "%.*s", dot ? (int)(dot - r->from) : 0, r->from);
    const char *table = cdc_config_split_table(dot ? dot + 1 : r->from, schema, sizeof(schema));
    return cdc_topic_for_table(out, cfg->kafka.topic_prefix, source, schema, table, es);
}

/* ---- mapping an event through its route ------------------------------------------------------ */

static const char *
target_name(const cdc_route_conf_t *r, const char *col)
{
    if (!r->n_columns)
        return col;
    for (size_t i = 0; i < r->n_columns; i++)
        if (!strcmp(r->columns[i].key, col))
            return r->columns[i].value;
    return NULL; /* not written */
}

/* Renames src's columns into the arena; constants appended when with_constants. */
static void
map_cols(cdc_arena_t *arena, const cdc_route_conf_t *r, const cdc_row_t *src, bool with_constants,
         const cdc_column_t **out, size_t *n)
{
    size_t cap = src->n + (with_constants ? r->n_constants : 0) + 1;
    cdc_column_t *cols = cdc_arena_alloc(arena, cap * sizeof(cdc_column_t));
    size_t k = 0;
    for (size_t i = 0; i < src->n; i++) {
        const char *name = target_name(r, src->cols[i].name);
        if (name)
            cols[k++] = (cdc_column_t){name, src->cols[i].value};
    }
    for (size_t i = 0; with_constants && i < r->n_constants; i++)
        cols[k++] =
            (cdc_column_t){r->constants[i].key, cdc_value_str(CDC_VAL_STRING, r->constants[i].value,
                                                              strlen(r->constants[i].value))};
    *out = cols;
    *n = k;
}

/* The key in target terms: the route's key columns (values from row), or the event's key renamed.
 */
static cdc_err_t
map_key(cdc_arena_t *arena, const cdc_route_conf_t *r, const cdc_event_t *ev,
        const cdc_column_t *row, size_t n_row, cdc_sink_row_t *out, cdc_errstr_t *es)
{
    if (!r->n_key && !ev->key.present)
        return cdc_errstr_set(es, CDC_ERR_CONFIG,
                              "route %s: its table has no key (neither a primary key nor a unique "
                              "index over NOT NULL columns), so its events carry none: give the "
                              "route a key (key: [target columns that identify a row])",
                              r->from);
    if (!r->n_key) {
        map_cols(arena, r, &ev->key, false, &out->key, &out->n_key);
        if (out->n_key != ev->key.n)
            return cdc_errstr_set(es, CDC_ERR_CONFIG,
                                  "route %s: a key column is not among the route's columns; add "
                                  "it, or give the route a key",
                                  r->from);
        return CDC_OK;
    }
    cdc_column_t *key = cdc_arena_alloc(arena, r->n_key * sizeof(cdc_column_t));
    for (size_t k = 0; k < r->n_key; k++) {
        size_t i = 0;
        while (i < n_row && strcmp(row[i].name, r->key[k]))
            i++;
        if (i == n_row)
            return cdc_errstr_set(es, CDC_ERR_CONFIG,
                                  "route %s: key column %s has no value in the event", r->from,
                                  r->key[k]);
        key[k] = row[i];
    }
    out->key = key;
    out->n_key = r->n_key;
    return CDC_OK;
}

/* A delete's image in target terms (its before image, or its key alone), kept as the row's
 * before when the event has one. */
static void
delete_image(cdc_arena_t *arena, const cdc_route_conf_t *r, const cdc_event_t *ev,
             cdc_sink_row_t *row, const cdc_column_t **img, size_t *n)
{
    map_cols(arena, r, ev->before.present ? &ev->before : &ev->key, false, img, n);
    if (ev->before.present) {
        row->before = *img;
        row->n_before = *n;
    }
}

/* A delete under deletes: {soft: column}: an update of that column alone, to its value or the
 * delete's commit time; a row already gone is no error. */
static cdc_err_t
soft_delete(cdc_arena_t *arena, const cdc_route_conf_t *r, const cdc_event_t *ev,
            cdc_sink_row_t *row, cdc_errstr_t *es)
{
    const cdc_column_t *before;
    size_t nb;
    delete_image(arena, r, ev, row, &before, &nb);
    cdc_column_t *col = cdc_arena_alloc(arena, sizeof(*col));
    const char *value = r->soft_value;
    if (!value) {
        char ts[CDC_UTC_MS_LEN];
        cdc_format_utc_ms(ts, sizeof(ts), ev->source.ts_ms);
        value = cdc_arena_strndup(arena, ts, strlen(ts));
    }
    *col = (cdc_column_t){r->soft_column, cdc_value_str(CDC_VAL_STRING, value, strlen(value))};
    row->cols = col;
    row->n_cols = 1;
    row->update_only = row->soft = true;
    return map_key(arena, r, ev, before, nb, row, es);
}

cdc_err_t
cdc_sink_map_event(cdc_arena_t *arena, const cdc_route_conf_t *r, const cdc_event_t *ev,
                   cdc_sink_row_t *row, cdc_errstr_t *es)
{
    row->op = ev->op;
    if (ev->op == CDC_OP_DELETE && r->deletes == CDC_DELETES_SOFT)
        return soft_delete(arena, r, ev, row, es);
    if (ev->op == CDC_OP_DELETE) {
        row->is_delete = true;
        const cdc_column_t *before;
        size_t nb;
        delete_image(arena, r, ev, row, &before, &nb);
        return map_key(arena, r, ev, before, nb, row, es);
    }
    if (ev->before.present && r->conflict != CDC_CONFLICT_NONE)
        map_cols(arena, r, &ev->before, false, &row->before, &row->n_before);
    map_cols(arena, r, &ev->after, true, &row->cols, &row->n_cols);
    row->update_only = ev->n_unchanged > 0;
    return map_key(arena, r, ev, row->cols, row->n_cols, row, es);
}

/* ---- helpers for targets --------------------------------------------------------------------- */

static void
table_clear(cdc_sink_table_t *tt)
{
    for (size_t k = 0; k < tt->n; k++) {
        free(tt->names[k]);
        free(tt->types[k]);
    }
    free(tt->names);
    free(tt->types);
    free(tt->key_cols);
    free(tt->key_start);
    tt->names = tt->types = NULL;
    tt->key_cols = tt->key_start = NULL;
    tt->n = tt->n_keys = tt->n_key_cols = 0;
}

cdc_sink_table_t *
cdc_sink_tables_get(cdc_sink_tables_t *ts, const char *schema, const char *table)
{
    for (size_t i = 0; i < ts->n; i++)
        if (!strcmp(ts->v[i].schema, schema) && !strcmp(ts->v[i].table, table))
            return &ts->v[i];
    ts->v = cdc_xrealloc(ts->v, (ts->n + 1) * sizeof(cdc_sink_table_t));
    cdc_sink_table_t *tt = &ts->v[ts->n++];
    memset(tt, 0, sizeof(*tt));
    tt->schema = cdc_xstrdup(schema);
    tt->table = cdc_xstrdup(table);
    return tt;
}

void
cdc_sink_table_add(cdc_sink_table_t *tt, const char *name, const char *type)
{
    tt->names = cdc_xrealloc(tt->names, (tt->n + 1) * sizeof(char *));
    tt->types = cdc_xrealloc(tt->types, (tt->n + 1) * sizeof(char *));
    tt->names[tt->n] = cdc_xstrdup(name ? name : "");
    tt->types[tt->n] = cdc_xstrdup(type ? type : "");
    tt->n++;
}

static size_t
column_index(const cdc_sink_table_t *tt, const char *name)
{
    size_t i = 0;
    while (i < tt->n && strcmp(tt->names[i], name))
        i++;
    return i;
}

const char *
cdc_sink_table_type(const cdc_sink_table_t *tt, const char *name)
{
    size_t i = column_index(tt, name);
    return i < tt->n ? tt->types[i] : NULL;
}

void
cdc_sink_table_add_key(cdc_sink_table_t *tt, bool first, const char *column)
{
    size_t i = column_index(tt, column); /* tt->n: a column not (or no longer) in the table */
    if (!first && !tt->n_keys)
        return;
    if (first) {
        tt->key_start = cdc_xrealloc(tt->key_start, (tt->n_keys + 2) * sizeof(size_t));
        tt->key_start[tt->n_keys++] = tt->n_key_cols;
    }
    tt->key_cols = cdc_xrealloc(tt->key_cols, (tt->n_key_cols + 1) * sizeof(size_t));
    tt->key_cols[tt->n_key_cols++] = i;
    tt->key_start[tt->n_keys] = tt->n_key_cols;
}

/* Whether the row's key columns are key k of the table, in any order. */
static bool
is_key(const cdc_sink_row_t *row, const cdc_sink_table_t *tt, size_t k)
{
    size_t from = tt->key_start[k], to = tt->key_start[k + 1];
    if (to - from != row->n_key)
        return false;
    for (size_t j = from; j < to; j++) {
        if (tt->key_cols[j] >= tt->n)
            return false;
        size_t c = 0;
        while (c < row->n_key && strcmp(row->key[c].name, tt->names[tt->key_cols[j]]))
            c++;
        if (c == row->n_key)
            return false;
    }
    return true;
}

static void
key_names(cdc_buf_t *b, const cdc_sink_row_t *row, const cdc_sink_table_t *tt, size_t k)
{
    size_t n = row ? row->n_key : tt->key_start[k + 1] - tt->key_start[k];
    for (size_t i = 0; i < n; i++) {
        size_t col = row ? 0 : tt->key_cols[tt->key_start[k] + i];
        const char *name = row ? row->key[i].name : col < tt->n ? tt->names[col] : "?";
        cdc_buf_printf(b, "%s%.64s", i ? ", " : "", name);
    }
}

/* A key that comes from the event names its own columns: it must be a unique key of the table,
 * or one forged record could update or delete every row matching any column. */
static cdc_err_t
check_key(const cdc_sink_row_t *row, const cdc_sink_table_t *tt, cdc_errstr_t *es)
{
    if (row->route->n_key)
        return CDC_OK; /* the route's own key, from the configuration */
    for (size_t k = 0; k < tt->n_keys; k++)
        if (is_key(row, tt, k))
            return CDC_OK;
    cdc_buf_t mine, keys;
    cdc_buf_init(&mine);
    cdc_buf_init(&keys);
    key_names(&mine, row, tt, 0);
    for (size_t k = 0; k < tt->n_keys && k < 4; k++) {
        cdc_buf_puts(&keys, k ? "; " : "");
        key_names(&keys, NULL, tt, k);
    }
    cdc_err_t err =
        !tt->n_keys
            ? cdc_errstr_set(es, CDC_ERR_CONFIG,
                             "route %s: target table %s.%s has no primary key or unique index, so "
                             "the events' key (%s) cannot be trusted to name one row: add one, or "
                             "give the route a key",
                             row->route->from, tt->schema, tt->table, mine.data ? mine.data : "")
            : cdc_errstr_set(es, CDC_ERR_DATA,
                             "route %s: the event's key (%s) is not a unique key of target table "
                             "%s.%s (its keys: %s)",
                             row->route->from, mine.data ? mine.data : "", tt->schema, tt->table,
                             keys.data ? keys.data : "");
    cdc_buf_deinit(&mine);
    cdc_buf_deinit(&keys);
    return err;
}

void
cdc_sink_tables_free(cdc_sink_tables_t *ts)
{
    for (size_t i = 0; i < ts->n; i++) {
        cdc_sink_table_t *tt = &ts->v[i];
        table_clear(tt);
        free(tt->schema);
        free(tt->table);
    }
    free(ts->v);
    ts->v = NULL;
    ts->n = 0;
}

void
cdc_sink_base_init(cdc_sink_base_t *b, const cdc_sink_conf_t *conf)
{
    memset(b, 0, sizeof(*b));
    b->conf = conf;
    cdc_buf_init(&b->sql);
    cdc_buf_init(&b->mark_sql);
}

void
cdc_sink_base_deinit(cdc_sink_base_t *b)
{
    cdc_sink_tables_free(&b->tables);
    cdc_buf_deinit(&b->sql);
    cdc_buf_deinit(&b->mark_sql);
}

bool
cdc_sink_fk_checks_off(const cdc_sink_conf_t *conf)
{
    bool off = conf->n_routes > 0;
    for (size_t i = 0; i < conf->n_routes; i++)
        off &= !conf->routes[i].fk_checks;
    return off;
}

bool
cdc_sink_row_is_key(const cdc_sink_row_t *row, const char *name)
{
    for (size_t k = 0; k < row->n_key; k++)
        if (!strcmp(row->key[k].name, name))
            return true;
    return false;
}

bool
cdc_sink_has_conflict_policy(const cdc_sink_conf_t *conf)
{
    for (size_t i = 0; i < conf->n_routes; i++)
        if (conf->routes[i].conflict != CDC_CONFLICT_NONE)
            return true;
    return false;
}

const cdc_column_t *
cdc_sink_link_value(const cdc_sink_row_t *row)
{
    const char *k = row->route->link_key;
    const cdc_column_t *cols = row->is_delete ? row->before : row->cols;
    size_t n = row->is_delete ? row->n_before : row->n_cols;
    for (size_t i = 0; k && i < n; i++)
        if (!strcmp(cols[i].name, k))
            return cols[i].value.type == CDC_VAL_NULL ? NULL : &cols[i];
    return NULL;
}

void
cdc_sink_links_free(cdc_sink_link_t *links, size_t n)
{
    for (size_t i = 0; links && i < n; i++) {
        free(links[i].map);
        free(links[i].source);
        free(links[i].source_key);
        free(links[i].target_key);
    }
    free(links);
}

void
cdc_sink_link_found(const char *const *keys, size_t n, const char *source_key,
                    const char *target_key, char **out)
{
    for (size_t i = 0; source_key && target_key && i < n; i++)
        if (!out[i] && !strcmp(keys[i], source_key))
            out[i] = cdc_xstrdup(target_key);
}

bool
cdc_sink_has_links(const cdc_sink_conf_t *conf)
{
    for (size_t i = 0; i < conf->n_routes; i++)
        if (conf->routes[i].link_map)
            return true;
    return false;
}

bool
cdc_sink_route_updates(const cdc_route_conf_t *r, const char *name)
{
    if (r->link_key && !strcmp(r->link_key, name))
        return false;
    if (r->conflict != CDC_CONFLICT_OWNER)
        return true;
    for (size_t i = 0; i < r->n_owner; i++)
        if (!strcmp(r->owner[i].key, name))
            return !strcmp(r->owner[i].value, r->source);
    return false;
}

cdc_err_t
cdc_sink_check_columns(const cdc_sink_row_t *row, const cdc_sink_table_t *tt, const char **types,
                       cdc_sink_new_column_t *add, cdc_errstr_t *es)
{
    if (!tt->n)
        return cdc_errstr_set(es, CDC_ERR_CONFIG, "target table %s.%s does not exist", tt->schema,
                              tt->table);
    size_t n = row->is_delete ? 0 : row->n_cols;
    for (size_t i = 0; i < n + row->n_key; i++) {
        const cdc_column_t *c = i < n ? &row->cols[i] : &row->key[i - n];
        types[i] = cdc_sink_table_type(tt, c->name);
        if (types[i] || row->route->on_unknown_column == CDC_UNKNOWN_COLUMN_IGNORE)
            continue;
        if (row->route->on_unknown_column == CDC_UNKNOWN_COLUMN_ADD && add) {
            snprintf(add->schema, sizeof(add->schema), "%s", tt->schema);
            snprintf(add->table, sizeof(add->table), "%s", tt->table);
            snprintf(add->column, sizeof(add->column), "%s", c->name);
            add->type = c->value.type;
            return cdc_errstr_set(es, CDC_ERR_SCHEMA, "column %s is not in target table %s.%s",
                                  c->name, tt->schema, tt->table);
        }
        return cdc_errstr_set(es, CDC_ERR_CONFIG,
                              "route %s: column %s is not in target table %s.%s; add it or set "
                              "on_unknown_column: ignore or add",
                              row->route->from, c->name, tt->schema, tt->table);
    }
    return check_key(row, tt, es);
}

void
cdc_sink_tables_forget(cdc_sink_tables_t *ts, const char *schema, const char *table)
{
    for (size_t i = 0; i < ts->n; i++) {
        cdc_sink_table_t *tt = &ts->v[i];
        if (!strcmp(tt->schema, schema) && !strcmp(tt->table, table))
            table_clear(tt);
    }
}

bool
cdc_sink_err_record(cdc_err_t err)
{
    return err == CDC_ERR_DATA || err == CDC_ERR_RANGE || err == CDC_ERR_PARSE ||
           err == CDC_ERR_UTF8 || err == CDC_ERR_NOTFOUND || err == CDC_ERR_TOOBIG;
}

void
cdc_lock_name(char *out, size_t n, const char *kind, const char *scope, const char *name)
{
    char full[256];
    int len = snprintf(full, sizeof(full), "%s:%s.%s", kind, scope, name);
    if (len < 0 || len > 64) {
        uint64_t h = cdc_sink_hash(CDC_SINK_HASH_SEED, full, strlen(full));
        snprintf(out, n, "%s:%.30s:%016llx", kind, name, (unsigned long long)h);
    } else {
        snprintf(out, n, "%s", full);
    }
}

uint64_t
cdc_sink_hash(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ c[i]) * 1099511628211ULL;
    return h;
}

/*
 * Multi-row groups (agent/sink/sink_internal.h): rows of one route, kind and column set go to the
 * target together, so a batch of upserts is one INSERT of many rows. Pending keys are kept as
 * 64-bit hashes of (target table, key values): a collision only applies the pending groups
 * earlier than needed, never out of order.
 */
#include <stdlib.h>
#include <string.h>

#include "sink_internal.h"

#define PG_MAX_PARAMS 65535 /* the most parameters one statement may carry */

void
cdc_sink_grouper_init(cdc_sink_grouper_t *gr, bool ordered, size_t max_rows,
                      const cdc_sink_resolver_t *res)
{
    memset(gr, 0, sizeof(*gr));
    gr->ordered = ordered;
    gr->res = res;
    gr->max_rows = max_rows ? max_rows : 1;
}

static uint64_t
key_hash(const cdc_sink_row_t *row)
{
    uint64_t h = cdc_sink_hash(CDC_SINK_HASH_SEED, row->route->to, strlen(row->route->to) + 1);
    for (size_t k = 0; k < row->n_key; k++) {
        const cdc_value_t *v = &row->key[k].value;
        unsigned char t = (unsigned char)v->type;
        h = cdc_sink_hash(h, &t, 1);
        if (v->type == CDC_VAL_BOOL)
            h = cdc_sink_hash(h, &v->b, sizeof(v->b));
        else if (v->type != CDC_VAL_NULL)
            h = cdc_sink_hash(h, v->s.p, v->s.n);
        h = cdc_sink_hash(h, "", 1);
    }
    return h ? h : 1;
}

/* Whether h is pending; adds it when not. */
static bool
key_seen(cdc_sink_grouper_t *gr, uint64_t h)
{
    if (2 * (gr->n_keys + 1) > gr->cap_keys) {
        size_t cap = gr->cap_keys ? 2 * gr->cap_keys : 1024;
        uint64_t *old = gr->keys;
        size_t old_cap = gr->cap_keys;
        gr->keys = cdc_xcalloc(cap, sizeof(uint64_t));
        gr->cap_keys = cap;
        gr->n_keys = 0;
        for (size_t i = 0; i < old_cap; i++)
            if (old[i])
                key_seen(gr, old[i]);
        free(old);
    }
    size_t i = (size_t)h & (gr->cap_keys - 1);
    for (; gr->keys[i]; i = (i + 1) & (gr->cap_keys - 1))
        if (gr->keys[i] == h)
            return true;
    gr->keys[i] = h;
    gr->n_keys++;
    return false;
}

static bool
same_names(const cdc_column_t *a, const cdc_column_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i].name != b[i].name && strcmp(a[i].name, b[i].name))
            return false;
    return true;
}

/* Whether row can share a statement with the group's rows. */
static bool
fits(const cdc_sink_group_t *g, const cdc_sink_row_t *row)
{
    const cdc_sink_row_t *f = g->rows[0];
    return f->route == row->route && f->is_delete == row->is_delete &&
           f->update_only == row->update_only && f->n_cols == row->n_cols &&
           f->n_key == row->n_key && same_names(f->cols, row->cols, row->n_cols) &&
           same_names(f->key, row->key, row->n_key);
}

cdc_err_t
cdc_sink_grouper_flush(cdc_sink_grouper_t *gr, const cdc_sink_ops_t *ops, cdc_sink_target_t *t,
                       cdc_errstr_t *es)
{
    cdc_err_t err = CDC_OK;
    for (size_t i = 0; !err && i < gr->n; i++) {
        cdc_sink_group_t *g = &gr->g[i];
        if (g->n)
            err = cdc_sink_apply(ops, t, gr->res, g->rows, g->n, es);
    }
    cdc_sink_grouper_reset(gr);
    return err;
}

void
cdc_sink_grouper_reset(cdc_sink_grouper_t *gr)
{
    for (size_t i = 0; i < gr->n; i++)
        gr->g[i].n = 0;
    gr->n = 0;
    if (gr->n_keys)
        memset(gr->keys, 0, gr->cap_keys * sizeof(uint64_t));
    gr->n_keys = 0;
}

cdc_err_t
cdc_sink_grouper_add(cdc_sink_grouper_t *gr, const cdc_sink_ops_t *ops, cdc_sink_target_t *t,
                     const cdc_sink_row_t *row, cdc_errstr_t *es)
{
    cdc_err_t err;
    if (key_seen(gr, key_hash(row))) {
        if ((err = cdc_sink_grouper_flush(gr, ops, t, es)))
            return err;
        key_seen(gr, key_hash(row));
    }
    cdc_sink_group_t *g = NULL;
    for (size_t i = gr->ordered && gr->n ? gr->n - 1 : 0; i < gr->n && !g; i++)
        if (fits(&gr->g[i], row))
            g = &gr->g[i];
    if (!g && gr->ordered && gr->n) { /* keep the order across tables: apply before moving on */
        if ((err = cdc_sink_grouper_flush(gr, ops, t, es)))
            return err;
        key_seen(gr, key_hash(row));
    }
    if (!g) {
        if (gr->n == gr->cap) {
            gr->cap = gr->cap ? 2 * gr->cap : 8;
            gr->g = cdc_xrealloc(gr->g, gr->cap * sizeof(cdc_sink_group_t));
            memset(gr->g + gr->n, 0, (gr->cap - gr->n) * sizeof(cdc_sink_group_t));
        }
        g = &gr->g[gr->n++];
        g->n = 0;
        size_t per_row = row->n_cols + row->n_key + 1;
        g->max = PG_MAX_PARAMS / per_row < gr->max_rows ? PG_MAX_PARAMS / per_row : gr->max_rows;
    }
    if (g->n == g->cap) {
        g->cap = g->cap ? 2 * g->cap : 64;
        g->rows = cdc_xrealloc(g->rows, g->cap * sizeof(*g->rows));
    }
    g->rows[g->n++] = row;
    if (g->n < g->max)
        return CDC_OK;
    return cdc_sink_grouper_flush(gr, ops, t, es);
}

void
cdc_sink_grouper_deinit(cdc_sink_grouper_t *gr)
{
    for (size_t i = 0; i < gr->cap; i++)
        free(gr->g[i].rows);
    free(gr->g);
    free(gr->keys);
    memset(gr, 0, sizeof(*gr));
}

/*
 * A route's transforms (docs/transforms.md) on each change it reads, before the column mapping:
 * the target's own formatting (a phone number in national form for one target, E.164 for the
 * other). The after image runs with on_invalid in force, the before image keeps an invalid value
 * as it came (it is compared, never written). Results are copied into the batch's arena, since
 * rows wait there for their multi-row statement. A record is input: a transform naming a key
 * column, or a column the route's changes do not have, stops the sink with where it was written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/log.h"
#include "sink_state.h"

struct cdc_sink_tx {
    cdc_tx_work_t after, before;
    uint8_t *outcomes;
    size_t cap;
    cdc_metric_t ***m; /* per route, 3 per transform */
    bool *checked;     /* per route: its transforms checked against a change */
};

void
cdc_sink_tx_free(sink_t *s)
{
    cdc_sink_tx_t *x = s->tx;
    if (!x)
        return;
    cdc_tx_work_deinit(&x->after);
    cdc_tx_work_deinit(&x->before);
    for (size_t r = 0; r < s->conf->n_routes; r++)
        free(x->m[r]);
    free(x->m);
    free(x->checked);
    free(x->outcomes);
    free(x);
    s->tx = NULL;
}

static cdc_sink_tx_t *
tx_of(sink_t *s)
{
    if (s->tx)
        return s->tx;
    cdc_sink_tx_t *x = cdc_xcalloc(1, sizeof(*x));
    cdc_tx_work_init(&x->after);
    cdc_tx_work_init(&x->before);
    x->m = cdc_xcalloc(s->conf->n_routes + 1, sizeof(*x->m));
    x->checked = cdc_xcalloc(s->conf->n_routes + 1, sizeof(bool));
    for (size_t r = 0; r < s->conf->n_routes; r++) {
        const cdc_transforms_t *ts = &s->conf->routes[r].transforms;
        if (ts->n > x->cap)
            x->cap = ts->n;
        x->m[r] = cdc_transforms_metrics(ts, "sink", s->conf->name, s->conf->routes[r].from);
    }
    x->outcomes = cdc_xcalloc(x->cap + 1, 1);
    s->tx = x;
    return x;
}

/* The transformed row, copied into the arena. */
static void
keep(cdc_arena_t *a, const cdc_row_t *in, cdc_row_t *out)
{
    cdc_column_t *cols = cdc_arena_alloc(a, (in->n ? in->n : 1) * sizeof(*cols));
    for (size_t i = 0; i < in->n; i++) {
        cols[i] = in->cols[i];
        if (cols[i].value.type == CDC_VAL_STRING && cols[i].value.s.p)
            cols[i].value.s.p = cdc_arena_strndup(a, cols[i].value.s.p, cols[i].value.s.n);
    }
    out->present = in->present;
    out->cols = cols;
    out->n = in->n;
}

cdc_err_t
cdc_sink_transform(sink_t *s, size_t route, cdc_event_t *ev, cdc_errstr_t *es)
{
    const cdc_route_conf_t *r = &s->conf->routes[route];
    const cdc_transforms_t *ts = &r->transforms;
    cdc_sink_tx_t *x = tx_of(s);
    /* what only the records can show, checked on the route's first full change: a key column, a
     * column the changes do not have */
    if (!x->checked[route] && ev->after.present) {
        size_t n = ev->after.n + ev->n_unchanged;
        const char **names = cdc_xcalloc(n + 1, sizeof(char *));
        bool *key = cdc_xcalloc(n + 1, sizeof(bool));
        for (size_t i = 0; i < ev->after.n; i++) {
            names[i] = ev->after.cols[i].name;
            key[i] = cdc_row_find(&ev->key, names[i]) != NULL;
        }
        for (size_t i = 0; i < ev->n_unchanged; i++)
            names[ev->after.n + i] = ev->unchanged[i];
        cdc_err_t err = cdc_transforms_check(ts, names, key, n, r->from, es);
        free(names);
        free(key);
        if (err)
            return err;
        x->checked[route] = true;
    }
    cdc_tx_invalid_t inv;
    cdc_row_t out;
    if (ev->after.present) {
        cdc_err_t err =
            cdc_transforms_apply(ts, &ev->after, true, &x->after, &out, x->outcomes, &inv);
        cdc_transforms_count(ts, x->m[route], x->outcomes, err ? &inv : NULL);
        if (err) {
            const char *value = inv.t->kind == CDC_TX_MASK ? "(masked)" : inv.value;
            return cdc_errstr_set(
                es, inv.t->on_invalid == CDC_ON_INVALID_FAIL ? CDC_ERR_CONFIG : CDC_ERR_INVAL,
                "%s: %s value '%s' of column %s: %s%s", inv.t->where, cdc_tx_kind_name(inv.t->kind),
                value, inv.column, inv.why,
                inv.t->on_invalid == CDC_ON_INVALID_FAIL ? " (on_invalid: fail)" : "");
        }
        keep(&s->arena, &out, &ev->after);
    }
    if (ev->before.present) {
        cdc_transforms_apply(ts, &ev->before, false, &x->before, &out, NULL, &inv);
        keep(&s->arena, &out, &ev->before);
    }
    if (ev->n_unchanged) {
        const char **names = cdc_arena_alloc(&s->arena, ev->n_unchanged * sizeof(char *));
        size_t n = 0;
        for (size_t i = 0; i < ev->n_unchanged; i++) {
            const char *renamed;
            if (cdc_transforms_keeps(ts, ev->unchanged[i], &renamed))
                names[n++] = renamed ? renamed : ev->unchanged[i];
        }
        ev->unchanged = names;
        ev->n_unchanged = n;
    }
    return CDC_OK;
}

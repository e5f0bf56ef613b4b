/*
 * A source table's transforms (docs/transforms.md), applied before an event is encoded, so every
 * consumer of the topic sees the cleaned values; the snapshot, the stream and a re-snapshot all
 * pass here, so the same row gives the same record. The after image is transformed with
 * on_invalid in force; the before image the same way except that an invalid value stays as it was
 * (it is compared, never written). A change with an invalid value under on_invalid: dlq goes to
 * the source's dead-letter topic "<prefix>._dlq.source.<source>" instead of its table's topic, in
 * the same Kafka transaction, as {"error": {...}, "topic": ..., "event": <the change, the other
 * transforms applied>}; under fail the source stops with the reason. The published structure
 * (_schemas) shows drops, renames, added constants, and text types for rewritten columns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/json.h"
#include "cdc/log.h"
#include "cdc/topic.h"
#include "publisher_internal.h"

cdc_err_t
cdc_publisher_transforms_setup(cdc_publisher_t *p)
{
    const cdc_source_conf_t *src = p->src;
    bool dlq = false;
    for (size_t i = 0; i < src->n_tables; i++) {
        const cdc_transforms_t *ts = src->table_transforms ? &src->table_transforms[i] : NULL;
        topic_t *t = cdc_publisher_topic_find_table(p, src->tables[i]);
        if (!ts || !ts->n || !t)
            continue;
        t->tx = ts;
        t->tx_m = cdc_transforms_metrics(ts, "source", src->name, src->tables[i]);
        for (size_t k = 0; k < ts->n; k++)
            dlq |= ts->items[k].on_invalid == CDC_ON_INVALID_DLQ;
    }
    if (dlq) {
        cdc_buf_t b;
        cdc_buf_init(&b);
        cdc_topic_internal(&b, p->cfg->kafka.topic_prefix, "dlq.source", src->name);
        p->dlq_idx = cdc_publisher_add_topic(p, NULL, b.data);
        p->topics[p->dlq_idx].dlq = true;
        cdc_buf_deinit(&b);
    }
    cdc_tx_work_init(&p->tx_after);
    cdc_tx_work_init(&p->tx_before);
    return CDC_OK;
}

void
cdc_publisher_transforms_free(cdc_publisher_t *p)
{
    for (size_t i = 0; i < p->n_topics; i++)
        free(p->topics[i].tx_m);
    cdc_tx_work_deinit(&p->tx_after);
    cdc_tx_work_deinit(&p->tx_before);
    free(p->tx_unchanged);
    free(p->tx_outcomes);
}

/* The TOAST columns an update left out, under their names after the transforms. */
static void
rename_unchanged(cdc_publisher_t *p, const cdc_transforms_t *ts, cdc_event_t *ev)
{
    if (!ev->n_unchanged)
        return;
    p->tx_unchanged = cdc_xrealloc(p->tx_unchanged, ev->n_unchanged * sizeof(char *));
    size_t n = 0;
    for (size_t i = 0; i < ev->n_unchanged; i++) {
        const char *renamed;
        if (cdc_transforms_keeps(ts, ev->unchanged[i], &renamed))
            p->tx_unchanged[n++] = renamed ? renamed : ev->unchanged[i];
    }
    ev->unchanged = p->tx_unchanged;
    ev->n_unchanged = n;
}

/* Writes the dead-letter record of ev (its invalid value in inv) into the open batch. */
static cdc_err_t
dead_letter(cdc_publisher_t *p, topic_t *t, const cdc_event_t *ev, const cdc_tx_invalid_t *inv,
            cdc_errstr_t *es)
{
    cdc_event_t lenient = *ev;
    cdc_tx_invalid_t ignore;
    cdc_transforms_apply(t->tx, &ev->after, false, &p->tx_after, &lenient.after, NULL, &ignore);
    cdc_transforms_apply(t->tx, &ev->before, false, &p->tx_before, &lenient.before, NULL, &ignore);
    rename_unchanged(p, t->tx, &lenient);
    batch_t *b = p->open;
    size_t key_off = b->data.len;
    cdc_err_t err = cdc_event_key_encode(&lenient, &b->data, es);
    size_t key_len = b->data.len - key_off, val_off = b->data.len;
    cdc_buf_puts(&b->data, "{\"error\":{\"reason\":");
    cdc_json_write_string_lossy(&b->data, inv->why, strlen(inv->why));
    cdc_buf_puts(&b->data, ",\"transform\":");
    cdc_json_write_string_lossy(&b->data, cdc_tx_kind_name(inv->t->kind),
                                strlen(cdc_tx_kind_name(inv->t->kind)));
    cdc_buf_puts(&b->data, ",\"column\":");
    cdc_json_write_string_lossy(&b->data, inv->column, strlen(inv->column));
    if (inv->t->kind != CDC_TX_MASK) { /* never the value a mask was to hide */
        cdc_buf_puts(&b->data, ",\"value\":");
        cdc_json_write_string_lossy(&b->data, inv->value, strlen(inv->value));
    }
    cdc_buf_puts(&b->data, ",\"config\":");
    cdc_json_write_string_lossy(&b->data, inv->t->where, strlen(inv->t->where));
    cdc_buf_puts(&b->data, "},\"topic\":");
    cdc_json_write_string_lossy(&b->data, t->topic, strlen(t->topic));
    cdc_buf_puts(&b->data, ",\"event\":");
    if (!err)
        err = cdc_event_encode(&lenient, &b->data, es);
    cdc_buf_putc(&b->data, '}');
    if (err) {
        b->data.len = key_off;
        return err;
    }
    cdc_publisher_batch_add_span(b, p->dlq_idx, 0, key_off, key_len, val_off,
                                 (ssize_t)(b->data.len - val_off), ev->source.ts_ms, (char)ev->op,
                                 ev->source.pos);
    return CDC_OK;
}

cdc_err_t
cdc_publisher_transform(cdc_publisher_t *p, topic_t *t, const cdc_event_t *ev,
                        const cdc_event_t **out, cdc_errstr_t *es)
{
    const cdc_transforms_t *ts = t->tx;
    cdc_event_t *tev = &p->tx_event;
    *tev = *ev;
    *out = tev;
    if (ts->n > p->tx_outcomes_cap) {
        p->tx_outcomes = cdc_xrealloc(p->tx_outcomes, ts->n);
        p->tx_outcomes_cap = ts->n;
    }
    cdc_tx_invalid_t inv;
    cdc_err_t err = CDC_OK;
    if (ev->after.present) {
        err = cdc_transforms_apply(ts, &ev->after, true, &p->tx_after, &tev->after, p->tx_outcomes,
                                   &inv);
        cdc_transforms_count(ts, t->tx_m, p->tx_outcomes, err ? &inv : NULL);
    }
    if (err) {
        const char *value = inv.t->kind == CDC_TX_MASK ? "(masked)" : inv.value;
        if (inv.t->on_invalid == CDC_ON_INVALID_FAIL)
            return cdc_errstr_set(es, CDC_ERR_INVAL,
                                  "table %s pos=%s: %s: %s value '%s' of column %s: %s "
                                  "(on_invalid: fail)",
                                  t->schema_table, ev->source.pos, inv.t->where,
                                  cdc_tx_kind_name(inv.t->kind), value, inv.column, inv.why);
        CDC_LOG_WARN("source=%s table=%s pos=%s: %s value '%s' of column %s: %s; the change goes "
                     "to %s",
                     p->src->name, t->schema_table, ev->source.pos, cdc_tx_kind_name(inv.t->kind),
                     value, inv.column, inv.why, p->topics[p->dlq_idx].topic);
        *out = NULL;
        return dead_letter(p, t, ev, &inv, es);
    }
    cdc_tx_invalid_t ignore;
    if (ev->before.present)
        cdc_transforms_apply(ts, &ev->before, false, &p->tx_before, &tev->before, NULL, &ignore);
    rename_unchanged(p, ts, tev);
    return CDC_OK;
}

cdc_err_t
cdc_publisher_transform_schema(cdc_publisher_t *p, topic_t *t, const cdc_table_schema_t *s,
                               cdc_table_schema_t *out, cdc_errstr_t *es)
{
    const cdc_transforms_t *ts = t->tx;
    *out = *s;
    const char **names = cdc_xcalloc(s->ncols + ts->n + 1, sizeof(char *));
    bool *key = cdc_xcalloc(s->ncols + ts->n + 1, sizeof(bool));
    for (size_t i = 0; i < s->ncols; i++) {
        names[i] = s->cols[i].name;
        key[i] = s->cols[i].key;
    }
    cdc_err_t err = cdc_transforms_check(ts, names, key, s->ncols, t->schema_table, es);
    free(names);
    free(key);
    if (err)
        return err;
    size_t n = 0;
    p->tx_schema = cdc_xrealloc(p->tx_schema, (s->ncols + ts->n) * sizeof(*p->tx_schema));
    for (size_t i = 0; i < s->ncols; i++) {
        const char *renamed;
        if (!cdc_transforms_keeps(ts, s->cols[i].name, &renamed))
            continue;
        cdc_schema_column_t c = s->cols[i];
        if (cdc_transforms_rewrites(ts, c.name))
            c.type = "string";
        if (renamed)
            c.name = renamed;
        p->tx_schema[n++] = c;
    }
    for (size_t k = 0; k < ts->n; k++) {
        const cdc_transform_t *x = &ts->items[k];
        bool have = false;
        for (size_t i = 0; i < n && !have; i++)
            have = !strcmp(p->tx_schema[i].name, x->column);
        if (x->kind == CDC_TX_CONSTANT && !have)
            p->tx_schema[n++] = (cdc_schema_column_t){.name = x->column,
                                                      .type = "string",
                                                      .native = "constant",
                                                      .nullable = x->value == NULL};
    }
    out->cols = p->tx_schema;
    out->ncols = n;
    return CDC_OK;
}

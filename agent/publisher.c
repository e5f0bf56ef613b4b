/*
 * Publisher, source-thread side: start-up (producer, offsets, topics), the callbacks that encode
 * events into the open batch, and closing batches at source-transaction boundaries by size or
 * linger. A source transaction too large for one batch is split; its offset records then point
 * inside it, and the source skips what was already published when it resends it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "cdc/log.h"
#include "cdc/topic.h"
#include "publisher_internal.h"

#define BATCH_BYTES       (8u << 20)
#define BATCH_MAX_RECORDS 20000

static int64_t
now_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

batch_t *
batch_new(void)
{
    batch_t *b = cdc_xcalloc(1, sizeof(*b));
    cdc_buf_init(&b->data);
    b->opened_us = now_us();
    return b;
}

void
batch_free(batch_t *b)
{
    if (!b)
        return;
    cdc_buf_deinit(&b->data);
    free(b->recs);
    free(b);
}

void
batch_add(batch_t *b, uint32_t topic, int32_t partition, const cdc_buf_t *key, const cdc_buf_t *val,
          int64_t ts_ms, char op, const char *pos)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 256;
        b->recs = cdc_xrealloc(b->recs, b->cap * sizeof(rec_t));
    }
    rec_t *r = &b->recs[b->n++];
    r->topic = topic;
    r->partition = partition;
    r->key_off = b->data.len;
    r->key_len = key ? key->len : 0;
    if (key)
        cdc_buf_append(&b->data, key->data, key->len);
    r->val_off = b->data.len;
    r->val_len = val ? (ssize_t)val->len : -1;
    if (val)
        cdc_buf_append(&b->data, val->data, val->len);
    r->ts_ms = ts_ms;
    r->op = op;
    snprintf(r->pos, sizeof(r->pos), "%s", pos ? pos : "");
}

topic_t *
topic_find(cdc_publisher_t *p, const char *schema, const char *table)
{
    size_t ls = strlen(schema);
    for (size_t i = 0; i < p->n_topics; i++) {
        const char *st = p->topics[i].schema_table;
        if (st && !strncmp(st, schema, ls) && st[ls] == '.' && !strcmp(st + ls + 1, table))
            return &p->topics[i];
    }
    return NULL;
}

/* ---- callbacks ------------------------------------------------------------------------------- */

static cdc_err_t
cb_schema(void *ctx, const cdc_table_schema_t *s, int64_t *version)
{
    return schema_version(ctx, s, version);
}

static cdc_err_t
cb_begin(void *ctx, const cdc_txn_info_t *txn)
{
    return CDC_OK;
}

/* Closes the open batch: everything up to its last boundary (or all of it when split). */
static cdc_err_t
close_batch(cdc_publisher_t *p, bool split)
{
    batch_t *b = p->open;
    batch_t *rest = batch_new();
    if (split) {
        b->bound_n = b->n;
        b->bound_len = b->data.len;
        b->bound_pos = b->pos;
        b->bound_token = 0; /* not a whole source transaction: nothing to acknowledge */
        b->bound_snapshot_done = false;
    } else if (b->bound_n < b->n) { /* a partly read source transaction moves to the next batch */
        for (size_t i = b->bound_n; i < b->n; i++) {
            rec_t *r = &b->recs[i];
            cdc_buf_t k = {b->data.data + r->key_off, r->key_len, 0};
            cdc_buf_t v = {b->data.data + r->val_off, r->val_len < 0 ? 0 : (size_t)r->val_len, 0};
            batch_add(rest, r->topic, r->partition, r->key_len ? &k : NULL,
                      r->val_len < 0 ? NULL : &v, r->ts_ms, r->op, r->pos);
        }
        rest->pos = b->pos;
        rest->has_pos = b->has_pos;
    }
    p->open = rest;
    return queue_push(p, b);
}

static cdc_err_t
cb_event(void *ctx, const cdc_event_t *ev)
{
    cdc_publisher_t *p = ctx;
    cdc_errstr_t es = {{0}};
    topic_t *t =
        topic_find(p, ev->source.schema ? ev->source.schema : ev->source.db, ev->source.table);
    if (!t) {
        CDC_LOG_ERROR("source=%s table=%s.%s has no topic (not in the config)", p->src->name,
                      ev->source.schema, ev->source.table);
        return CDC_ERR_INVAL;
    }
    cdc_buf_reset(&p->key);
    cdc_buf_reset(&p->val);
    cdc_err_t err = ev->op == CDC_OP_TRUNCATE ? CDC_OK : cdc_event_key_encode(ev, &p->key, &es);
    if (!err)
        err = cdc_event_encode(ev, &p->val, &es);
    if (err) {
        CDC_LOG_ERROR("source=%s table=%s pos=%s: cannot encode event: %s", p->src->name,
                      t->schema_table, ev->source.pos, es.msg);
        return err;
    }
    if ((int64_t)p->val.len > p->cfg->kafka.max_event_bytes) {
        CDC_LOG_ERROR("source=%s table=%s key=%.200s pos=%s: event is %zu bytes, above "
                      "kafka.max_event_bytes=%lld; raise the limit (producer, topics and "
                      "consumers follow it) and restart",
                      p->src->name, t->schema_table, p->key.data ? p->key.data : "", ev->source.pos,
                      p->val.len, (long long)p->cfg->kafka.max_event_bytes);
        return CDC_ERR_TOOBIG;
    }
    batch_t *b = p->open;
    uint32_t ti = (uint32_t)(t - p->topics);
    if (ev->op == CDC_OP_TRUNCATE) {
        for (int part = 0; part < t->partitions; part++) /* every partition sees the barrier */
            batch_add(b, ti, part, NULL, &p->val, ev->source.ts_ms, (char)ev->op, ev->source.pos);
    } else {
        batch_add(b, ti, RD_KAFKA_PARTITION_UA, &p->key, &p->val, ev->source.ts_ms, (char)ev->op,
                  ev->source.pos);
        if (ev->op == CDC_OP_DELETE && p->cfg->kafka.tombstones)
            batch_add(b, ti, RD_KAFKA_PARTITION_UA, &p->key, NULL, ev->source.ts_ms, (char)ev->op,
                      ev->source.pos);
    }
    cdc_pos_parse(ev->source.pos, &b->pos);
    b->has_pos = true;
    if (b->bound_n == 0 && (b->data.len > p->max_batch_bytes || b->n > 4 * BATCH_MAX_RECORDS))
        return close_batch(p, true); /* one source transaction larger than a batch */
    return CDC_OK;
}

static cdc_err_t
cb_commit(void *ctx, const cdc_txn_info_t *txn)
{
    cdc_publisher_t *p = ctx;
    batch_t *b = p->open;
    if (txn->snapshot_done && !b->has_pos) {
        /* an empty snapshot still has to be recorded as done, or a restart would redo it */
        b->pos = txn->pos;
        b->has_pos = true;
    }
    b->bound_n = b->n;
    b->bound_len = b->data.len;
    b->bound_pos = b->pos;
    if (txn->ack_token)
        b->bound_token = txn->ack_token;
    b->bound_snapshot_done |= txn->snapshot_done;
    if (b->data.len >= p->max_batch_bytes || b->n >= BATCH_MAX_RECORDS)
        return close_batch(p, false);
    return CDC_OK;
}

static cdc_err_t
cb_idle(void *ctx, uint64_t token)
{
    cdc_publisher_t *p = ctx;
    batch_t *b = p->open;
    if (b->n == 0 && b->bound_n == 0) {
        /* nothing open: acknowledge once earlier batches are committed */
        pthread_mutex_lock(&p->mu);
        bool drained = p->queued == 0;
        if (!drained && token > p->pending_idle)
            p->pending_idle = token;
        pthread_mutex_unlock(&p->mu);
        if (drained && p->ops && p->source)
            p->ops->ack(p->source, token);
        return CDC_OK;
    }
    if (b->bound_n == b->n && token > b->bound_token)
        b->bound_token = token;
    return CDC_OK;
}

static const cdc_source_cb_t callbacks = {cb_schema, cb_begin, cb_event, cb_commit, cb_idle};

const cdc_source_cb_t *
cdc_publisher_callbacks(void)
{
    return &callbacks;
}

cdc_err_t
cdc_publisher_tick(cdc_publisher_t *p, cdc_errstr_t *es)
{
    pthread_mutex_lock(&p->mu);
    cdc_err_t fatal = p->fatal;
    if (fatal)
        cdc_errstr_set(es, fatal, "%s", p->fatal_msg);
    pthread_mutex_unlock(&p->mu);
    if (fatal)
        return fatal;
    batch_t *b = p->open;
    int64_t linger = (int64_t)p->cfg->kafka.linger_ms * 1000;
    if (b->bound_n > 0 && now_us() - b->opened_us >= linger)
        return close_batch(p, false);
    return CDC_OK;
}

cdc_source_resume_t
cdc_publisher_resume(cdc_publisher_t *p)
{
    pthread_mutex_lock(&p->mu);
    cdc_source_resume_t r = p->committed;
    pthread_mutex_unlock(&p->mu);
    return r;
}

void
cdc_publisher_discard_partial(cdc_publisher_t *p)
{
    batch_t *b = p->open;
    b->n = b->bound_n;
    b->data.len = b->bound_len;
    b->pos = b->bound_pos;
}

cdc_err_t
publisher_flush_open(cdc_publisher_t *p)
{
    cdc_publisher_discard_partial(p);
    if (p->open->bound_n == 0 && !p->open->bound_token)
        return CDC_OK;
    return close_batch(p, false);
}

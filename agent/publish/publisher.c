/*
 * Publisher, source-thread side: start-up (producer, offsets, topics), the callbacks that encode
 * events into the open batch, and closing batches at source-transaction boundaries by size or
 * linger. A source transaction too large for one batch is split; its offset records then point
 * inside it, and the source skips what was already published when it resends it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/clock.h"
#include "cdc/log.h"
#include "cdc/topic.h"
#include "cdc/watermark.h"
#include "publisher_internal.h"

_Static_assert(CDC_WM_STATE_MAX < sizeof(((batch_t *)0)->bound_resnap),
               "a source's re-snapshot queue fits a batch boundary");

#define BATCH_MAX_RECORDS 5000

/* Spent batches are kept (their buffers already paged in) instead of freed: a new batch would
 * otherwise fault in megabytes of fresh memory for every Kafka transaction. */
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static batch_t *pool;
static size_t pool_n;
#define POOL_MAX 16 /* the queue, a Kafka transaction's batches and the open one */
/* A new batch's buffer: a batch closes soon after 1 MB, so it never grows by copying. */
#define BATCH_PRESIZE ((1u << 20) + (1u << 18))

batch_t *
cdc_publisher_batch_new(void)
{
    pthread_mutex_lock(&pool_mu);
    batch_t *b = pool;
    if (b) {
        pool = b->next;
        pool_n--;
    }
    pthread_mutex_unlock(&pool_mu);
    if (!b) {
        b = cdc_xcalloc(1, sizeof(*b));
        cdc_buf_init(&b->data);
        cdc_buf_reserve(&b->data, BATCH_PRESIZE);
    }
    cdc_buf_t data = b->data;
    rec_t *recs = b->recs;
    size_t cap = b->cap;
    memset(b, 0, sizeof(*b));
    b->data = data;
    cdc_buf_reset(&b->data);
    b->recs = recs;
    b->cap = cap;
    b->opened_us = cdc_mono_us();
    return b;
}

/* Headers built for records that were never sent. */
static void
drop_headers(batch_t *b, size_t from)
{
    for (size_t i = from; i < b->n; i++)
        if (b->recs[i].hdrs) {
            rd_kafka_headers_destroy(b->recs[i].hdrs);
            b->recs[i].hdrs = NULL;
        }
}

void
cdc_publisher_batch_free(batch_t *b)
{
    if (!b)
        return;
    drop_headers(b, 0);
    pthread_mutex_lock(&pool_mu);
    bool keep = pool_n < POOL_MAX;
    if (keep) {
        b->next = pool;
        pool = b;
        pool_n++;
    }
    pthread_mutex_unlock(&pool_mu);
    if (!keep) {
        cdc_buf_deinit(&b->data);
        free(b->recs);
        free(b);
    }
}

void
cdc_publisher_batch_add_span(batch_t *b, uint32_t topic, int32_t partition, size_t key_off,
                             size_t key_len, size_t val_off, ssize_t val_len, int64_t ts_ms,
                             char op, const char *pos)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 256;
        b->recs = cdc_xrealloc(b->recs, b->cap * sizeof(rec_t));
    }
    rec_t *r = &b->recs[b->n++];
    r->topic = topic;
    r->partition = partition;
    r->key_off = key_off;
    r->key_len = key_len;
    r->val_off = val_off;
    r->val_len = val_len;
    r->ts_ms = ts_ms;
    r->op = op;
    size_t pl = pos ? strlen(pos) : 0;
    if (pl >= sizeof(r->pos))
        pl = sizeof(r->pos) - 1;
    memcpy(r->pos, pos ? pos : "", pl);
    r->pos[pl] = '\0';
    r->hdrs = NULL;
    cdc_publisher_rec_headers(
        r); /* here, on the source thread, so the publisher thread only hands it over */
}

void
cdc_publisher_rec_headers(rec_t *r)
{
    if (r->hdrs || !r->pos[0])
        return; /* built already, or a record without a position (schemas) */
    cdc_header_t h[2] = {{"cdc-op", &r->op, 1}, {"cdc-pos", r->pos, strlen(r->pos)}};
    r->hdrs = cdc_kafka_headers(h, 2);
}

void
cdc_publisher_batch_add(batch_t *b, uint32_t topic, int32_t partition, const cdc_buf_t *key,
                        const cdc_buf_t *val, int64_t ts_ms, char op, const char *pos)
{
    size_t key_off = b->data.len;
    if (key)
        cdc_buf_append(&b->data, key->data, key->len);
    size_t val_off = b->data.len;
    if (val)
        cdc_buf_append(&b->data, val->data, val->len);
    cdc_publisher_batch_add_span(b, topic, partition, key_off, key ? key->len : 0, val_off,
                                 val ? (ssize_t)val->len : -1, ts_ms, op, pos);
}

topic_t *
cdc_publisher_topic_find(cdc_publisher_t *p, const char *schema, const char *table)
{
    size_t ls = strlen(schema);
    for (size_t i = 0; i < p->n_topics; i++) {
        const char *st = p->topics[i].schema_table;
        if (st && !strncmp(st, schema, ls) && st[ls] == '.' && !strcmp(st + ls + 1, table))
            return &p->topics[i];
    }
    return NULL;
}

topic_t *
cdc_publisher_topic_find_table(cdc_publisher_t *p, const char *schema_table)
{
    for (size_t i = 0; i < p->n_topics; i++)
        if (p->topics[i].schema_table && !strcmp(p->topics[i].schema_table, schema_table))
            return &p->topics[i];
    return NULL;
}

/* A transform that cannot go on stops the source with its reason (cdc_publisher_tick). */
static cdc_err_t
stop_with(cdc_publisher_t *p, cdc_err_t err, const cdc_errstr_t *es)
{
    CDC_LOG_ERROR("source=%s %s", p->src->name, es->msg);
    pthread_mutex_lock(&p->mu);
    if (!p->fatal) {
        p->fatal = err;
        snprintf(p->fatal_msg, sizeof(p->fatal_msg), "%s", es->msg);
    }
    pthread_mutex_unlock(&p->mu);
    return err;
}

/* ---- callbacks ------------------------------------------------------------------------------- */

static cdc_err_t
cb_schema(void *ctx, const cdc_table_schema_t *s, int64_t *version)
{
    cdc_publisher_t *p = ctx;
    topic_t *t = cdc_publisher_topic_find(p, s->schema ? s->schema : s->db, s->table);
    if (!t || !t->tx)
        return cdc_publisher_schema_version(p, s, version);
    cdc_table_schema_t after;
    cdc_errstr_t es = {{0}};
    cdc_err_t err = cdc_publisher_transform_schema(p, t, s, &after, &es);
    return err ? stop_with(p, err, &es) : cdc_publisher_schema_version(p, &after, version);
}

/* Copies a source resume point into a batch field (a too-long one is a source bug: dropped). */
static void
set_native(char *dst, size_t cap, const char *native)
{
    size_t n = native ? strlen(native) : 0;
    if (n < cap) {
        memcpy(dst, native ? native : "", n);
        dst[n] = '\0';
    }
}

static cdc_err_t
cb_begin(void *ctx, const cdc_txn_info_t *txn)
{
    cdc_publisher_t *p = ctx;
    set_native(p->open->txn_native, sizeof(p->open->txn_native), txn->native);
    return CDC_OK;
}

/* The position of the batch's last event: parsed from its record only when needed, not for every
 * event. */
static const cdc_pos_t *
batch_pos(batch_t *b)
{
    if (b->pos_stale && b->n > 0)
        cdc_pos_parse(b->recs[b->n - 1].pos, &b->pos);
    b->pos_stale = false;
    return &b->pos;
}

/* Closes the open batch: everything up to its last boundary (or all of it when split). */
static cdc_err_t
close_batch(cdc_publisher_t *p, bool split)
{
    batch_t *b = p->open;
    batch_t *rest = cdc_publisher_batch_new();
    if (split) {
        b->bound_n = b->n;
        b->bound_len = b->data.len;
        b->bound_pos = *batch_pos(b);
        b->bound_token = 0; /* not a whole source transaction: nothing to acknowledge */
        b->bound_snapshot_done = false;
        memcpy(b->bound_native, b->txn_native, sizeof(b->bound_native)); /* re-read it all */
    } else if (b->bound_n < b->n) { /* a partly read source transaction moves to the next batch */
        for (size_t i = b->bound_n; i < b->n; i++) {
            rec_t *r = &b->recs[i];
            cdc_buf_t k = {b->data.data + r->key_off, r->key_len, 0};
            cdc_buf_t v = {b->data.data + r->val_off, r->val_len < 0 ? 0 : (size_t)r->val_len, 0};
            cdc_publisher_batch_add(rest, r->topic, r->partition, r->key_len ? &k : NULL,
                                    r->val_len < 0 ? NULL : &v, r->ts_ms, r->op, r->pos);
        }
        rest->pos = *batch_pos(b);
        rest->has_pos = b->has_pos;
    }
    /* the source transaction being read (if any) goes on in the next batch */
    memcpy(rest->txn_native, b->txn_native, sizeof(rest->txn_native));
    p->open = rest;
    return cdc_publisher_queue_push(p, b);
}

/* Encodes key and value straight into the batch buffer (no intermediate copy). */
static cdc_err_t
encode_into(cdc_publisher_t *p, batch_t *b, const cdc_event_t *ev, size_t *key_len, size_t *val_off,
            cdc_errstr_t *es)
{
    size_t start = b->data.len;
    cdc_err_t err = ev->op == CDC_OP_TRUNCATE ? CDC_OK : cdc_event_key_encode(ev, &b->data, es);
    *key_len = b->data.len - start;
    *val_off = b->data.len;
    if (!err)
        err = cdc_event_encode(ev, &b->data, es);
    if (!err && (int64_t)(b->data.len - *val_off) > p->cfg->kafka.max_event_bytes) {
        cdc_errstr_set(es, CDC_ERR_TOOBIG,
                       "event is %zu bytes, above kafka.max_event_bytes=%lld; raise the limit "
                       "(producer, topics and consumers follow it) and restart",
                       b->data.len - *val_off, (long long)p->cfg->kafka.max_event_bytes);
        err = CDC_ERR_TOOBIG;
    }
    if (err)
        b->data.len = start; /* roll back */
    return err;
}

/* After an event's records: the batch's position moves, and a full batch closes. */
static cdc_err_t
after_record(cdc_publisher_t *p, batch_t *b)
{
    b->has_pos = true;
    b->pos_stale = true;
    if (b->data.len > p->max_batch_bytes || b->n > 4 * BATCH_MAX_RECORDS) {
        /* full inside a source transaction: whole ones go first, the rest of it moves on to the
         * next batch; a transaction larger than a batch is split */
        return close_batch(p, b->bound_n == 0);
    }
    return CDC_OK;
}

static cdc_err_t
cb_event(void *ctx, const cdc_event_t *ev)
{
    cdc_publisher_t *p = ctx;
    cdc_errstr_t es = {{0}};
    topic_t *t = cdc_publisher_topic_find(p, ev->source.schema ? ev->source.schema : ev->source.db,
                                          ev->source.table);
    if (!t) {
        CDC_LOG_ERROR("source=%s table=%s.%s has no topic (not in the config)", p->src->name,
                      ev->source.schema, ev->source.table);
        return CDC_ERR_INVAL;
    }
    batch_t *b = p->open;
    if (t->tx && ev->op != CDC_OP_TRUNCATE) {
        cdc_err_t err = cdc_publisher_transform(p, t, ev, &ev, &es);
        if (err)
            return stop_with(p, err, &es);
        if (!ev) /* went to the dead-letter topic */
            return after_record(p, b);
    }
    size_t key_off = b->data.len, key_len, val_off;
    cdc_err_t err = encode_into(p, b, ev, &key_len, &val_off, &es);
    if (err) {
        CDC_LOG_ERROR("source=%s table=%s pos=%s: cannot publish event: %s", p->src->name,
                      t->schema_table, ev->source.pos, es.msg);
        return err;
    }
    ssize_t val_len = (ssize_t)(b->data.len - val_off);
    uint32_t ti = (uint32_t)(t - p->topics);
    char op = (char)ev->op;
    if (ev->op == CDC_OP_TRUNCATE) {
        for (int part = 0; part < t->partitions; part++) /* every partition sees the barrier */
            cdc_publisher_batch_add_span(b, ti, part, 0, 0, val_off, val_len, ev->source.ts_ms, op,
                                         ev->source.pos);
    } else {
        /* the producer's partitioner (murmur2_random), run here instead of on the publisher
         * thread; every event has a key */
        int32_t part = key_len && t->partitions > 0
                           ? rd_kafka_msg_partitioner_murmur2_random(
                                 NULL, b->data.data + key_off, key_len, t->partitions, NULL, NULL)
                           : RD_KAFKA_PARTITION_UA;
        cdc_publisher_batch_add_span(b, ti, part, key_off, key_len, val_off, val_len,
                                     ev->source.ts_ms, op, ev->source.pos);
        if (ev->op == CDC_OP_DELETE && p->cfg->kafka.tombstones)
            cdc_publisher_batch_add_span(b, ti, part, key_off, key_len, 0, -1, ev->source.ts_ms, op,
                                         ev->source.pos);
    }
    return after_record(p, b);
}

static cdc_err_t
cb_commit(void *ctx, const cdc_txn_info_t *txn)
{
    cdc_publisher_t *p = ctx;
    batch_t *b = p->open;
    if ((txn->snapshot_done || txn->native || txn->resnap) && !b->has_pos) {
        /* a commit without events still moves the stored position: an empty snapshot must be
         * recorded as done, a binlog position where streaming starts or has got to (tables not
         * captured) must be stored, and a snapshot request must not be read again */
        b->pos = txn->pos;
        b->has_pos = true;
    }
    b->bound_any = true;
    b->bound_n = b->n;
    b->bound_len = b->data.len;
    b->bound_pos = *batch_pos(b);
    if (txn->ack_token)
        b->bound_token = txn->ack_token;
    b->bound_snapshot_done |= txn->snapshot_done;
    if (txn->progress) {
        size_t len = strlen(txn->progress);
        if (len < sizeof(b->bound_progress)) {
            memcpy(b->bound_progress, txn->progress, len + 1);
        } else if (!p->progress_too_long) {
            /* the older progress stays: a restart reads more rows again, none is skipped */
            p->progress_too_long = true;
            CDC_LOG_WARN("source=%s snapshot progress of %zu bytes (its last key) does not fit "
                         "the offset record's %zu bytes: a restart re-reads the snapshot from "
                         "the last progress that fitted",
                         p->src->name, len, sizeof(b->bound_progress) - 1);
        }
    }
    if (txn->native)
        set_native(b->bound_native, sizeof(b->bound_native), txn->native);
    if (txn->resnap)
        set_native(b->bound_resnap, sizeof(b->bound_resnap), txn->resnap);
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
        /* nothing open: acknowledge once earlier batches are committed. A batch whose
         * transaction failed (fenced, fatal) also leaves the queue, uncommitted: after that
         * nothing is acknowledged, or the server would skip its changes at the next start (a
         * fenced instance acknowledged past the change it had just failed to publish, and the
         * newer instance never received it) */
        pthread_mutex_lock(&p->mu);
        bool drained = p->queued == 0 && !p->fatal;
        if (!drained && token > p->pending_idle)
            p->pending_idle = token;
        if (drained && token > p->acked)
            p->acked = token;
        if (drained) /* after the commits before it are read back */
            cdc_publisher_ack_idle(p, token);
        pthread_mutex_unlock(&p->mu);
        return CDC_OK;
    }
    if (b->bound_n == b->n && token > b->bound_token)
        b->bound_token = token;
    return CDC_OK;
}

static cdc_err_t cb_sync(void *ctx);
static const cdc_source_cb_t callbacks = {cb_schema, cb_begin, cb_event,
                                          cb_commit, cb_idle,  cb_sync};

const cdc_source_cb_t *
cdc_publisher_callbacks(void)
{
    return &callbacks;
}

/* An idle source still commits a Kafka transaction every heartbeat_ms, storing its position
 * again: an instance that another one with the same transactional id fenced learns it at once and
 * stops (letting go of its slot and of its sinks' locks, which the new instance waits for), and a
 * broker that went away shows while nothing changes. */
static cdc_err_t
keepalive(cdc_publisher_t *p, int64_t now)
{
    pthread_mutex_lock(&p->mu);
    bool due = !p->queued && p->committed.has_pos &&
               now - p->last_commit_us >= (int64_t)p->src->heartbeat_ms * 1000;
    cdc_pos_t pos = p->committed.pos;
    uint64_t token = p->acked > p->pending_idle ? p->acked : p->pending_idle;
    if (due)
        p->last_commit_us = now; /* once per interval, even while this one is retried */
    pthread_mutex_unlock(&p->mu);
    if (!due)
        return CDC_OK;
    batch_t *b = p->open;
    b->pos = b->bound_pos = pos;
    b->has_pos = b->bound_any = true;
    b->bound_token = token;
    return close_batch(p, false);
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
    int64_t linger = (int64_t)p->cfg->kafka.linger_ms * 1000, now = cdc_mono_us();
    if ((b->bound_n > 0 || b->bound_any) && now - b->opened_us >= linger)
        return close_batch(p, false);
    if (!b->n && !b->bound_any && !b->bound_token)
        return keepalive(p, now);
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
    drop_headers(b, b->bound_n);
    b->n = b->bound_n;
    b->data.len = b->bound_len;
    b->pos = b->bound_pos;
    b->pos_stale = false;
}

cdc_err_t
cdc_publisher_flush_open(cdc_publisher_t *p)
{
    cdc_publisher_discard_partial(p);
    if (p->open->bound_n == 0 && !p->open->bound_token && !p->open->bound_any)
        return CDC_OK;
    return close_batch(p, false);
}

static cdc_err_t
cb_sync(void *ctx)
{
    cdc_publisher_t *p = ctx;
    cdc_errstr_t es = {{0}};
    cdc_err_t err = cdc_publisher_flush_open(p);
    if (!err)
        err = cdc_publisher_wait_drained(p, &es);
    if (err)
        CDC_LOG_ERROR("source=%s publishing failed: %s", p->src->name, es.msg);
    return err;
}

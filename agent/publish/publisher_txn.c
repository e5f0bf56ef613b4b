/*
 * Publisher thread: one Kafka transaction per batch, in this order (contract): begin, data
 * records, wait for every delivery report, the offset record, commit; then acknowledge to the
 * source. Abortable failures abort and redo the same batch with backoff (a commit that fails
 * retriably is resumed, not redone: cdc_producer_commit); a fenced or fatal producer stops the
 * agent. Records of an aborted attempt may still reach consumers (the
 * mock broker shows them): they carry the same positions, so sinks drop them as re-sends. The
 * source is acknowledged once the commit's offset record is read back (publisher_readback.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cdc/clock.h"
#include "cdc/log.h"
#include "cdc/sign.h"
#include "publisher_internal.h"

#define TXN_TIMEOUT_MS 60000

cdc_err_t
cdc_publisher_queue_push(cdc_publisher_t *p, batch_t *b)
{
    pthread_mutex_lock(&p->mu);
    while (p->queued >= p->max_queued && !p->fatal)
        pthread_cond_wait(&p->cv, &p->mu); /* backpressure: the source stops reading */
    cdc_err_t fatal = p->fatal;
    if (!fatal) {
        b->next = NULL;
        if (p->tail)
            p->tail->next = b;
        else
            p->head = b;
        p->tail = b;
        p->queued++;
        cdc_metric_set(p->m_queue, (double)p->queued);
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    if (fatal)
        cdc_publisher_batch_free(b);
    return fatal;
}

/* Adds r's cdc-sig header (include/cdc/sign.h) unless a failed send left it there. */
static void
sign_record(cdc_publisher_t *p, const batch_t *b, rec_t *r)
{
    const void *had = NULL;
    size_t had_len = 0;
    if (!rd_kafka_header_get_last(r->hdrs, CDC_SIG_HEADER, &had, &had_len))
        return;
    char sig[CDC_SIG_LEN + 1];
    cdc_sign_record(p->signer, p->topics[r->topic].topic, b->data.data + r->key_off, r->key_len,
                    r->val_len < 0 ? NULL : b->data.data + r->val_off,
                    r->val_len < 0 ? 0 : (size_t)r->val_len, sig);
    rd_kafka_header_add(r->hdrs, CDC_SIG_HEADER, -1, sig, CDC_SIG_LEN);
}

static cdc_err_t
send_records(cdc_publisher_t *p, batch_t *b)
{
    for (size_t i = 0; i < b->bound_n; i++) {
        rec_t *r = &b->recs[i];
        cdc_publisher_rec_headers(r); /* sent ones are gone: built again for a retry */
        if (p->signer && r->hdrs && p->topics[r->topic].schema_table)
            sign_record(p, b, r);
        cdc_record_t rec = {.topic = p->topics[r->topic].topic,
                            .partition = r->partition,
                            .key = r->key_len ? b->data.data + r->key_off : NULL,
                            .key_len = r->key_len,
                            .value = r->val_len < 0 ? NULL : b->data.data + r->val_off,
                            .value_len = r->val_len < 0 ? 0 : (size_t)r->val_len,
                            .timestamp_ms = r->ts_ms,
                            .borrow = true,
                            .prebuilt = &r->hdrs};
        cdc_err_t err = cdc_producer_send(p->producer, &rec);
        if (err)
            return err;
    }
    return CDC_OK;
}

/* The acknowledgement token of the offset record of a Kafka transaction with batches first..last
 * (what the read-back pairs it by). */
static uint64_t
record_token(const cdc_publisher_t *p, const batch_t *first, const batch_t *last)
{
    uint64_t token = p->stored.ack_token;
    for (const batch_t *b = first;; b = b->next) {
        if (b->bound_token > token)
            token = b->bound_token;
        if (b == last)
            return token;
    }
}

/* The offset record closing a Kafka transaction that carries batches first..last. */
static cdc_err_t
send_offset_record(cdc_publisher_t *p, const batch_t *first, const batch_t *last)
{
    cdc_offsets_t o = p->stored;
    o.found = true;
    o.reset = false; /* the reset that started this epoch is done with: later starts resume */
    o.snapshot_done = p->committed.snapshot_done;
    o.progress = p->committed.progress[0] ? p->committed.progress : NULL;
    o.native = p->committed.native[0] ? p->committed.native : NULL;
    o.resnap = p->committed.resnap[0] ? p->committed.resnap : NULL;
    o.ack_token = record_token(p, first, last);
    for (const batch_t *b = first;; b = b->next) {
        if (b->has_pos)
            o.pos = b->bound_pos;
        o.snapshot_done |= b->bound_snapshot_done;
        if (b->bound_progress[0])
            o.progress = (char *)b->bound_progress;
        if (b->bound_native[0])
            o.native = (char *)b->bound_native;
        if (b->bound_resnap[0])
            o.resnap = (char *)b->bound_resnap;
        if (b == last)
            break;
    }
    if (o.snapshot_done)
        o.progress = NULL; /* nothing left to resume */
    cdc_buf_t v;
    cdc_buf_init(&v);
    cdc_offsets_encode(&v, p->src->name, &o);
    cdc_record_t rec = {.topic = p->offsets_topic,
                        .partition = 0,
                        .key = p->src->name,
                        .key_len = strlen(p->src->name),
                        .value = v.data,
                        .value_len = v.len};
    cdc_err_t err = cdc_producer_send(p->producer, &rec);
    cdc_buf_deinit(&v);
    return err;
}

/* The batch after b in the queue, waiting for one when wait is set; NULL when there is none
 * (or the publisher is stopping and drained). */
static batch_t *
next_batch(cdc_publisher_t *p, batch_t *b, bool wait)
{
    pthread_mutex_lock(&p->mu);
    batch_t *n = b ? b->next : p->head;
    while (wait && !n && !p->stopping) {
        pthread_cond_wait(&p->cv, &p->mu);
        n = b ? b->next : p->head;
    }
    pthread_mutex_unlock(&p->mu);
    return n;
}

/* One attempt at one Kafka transaction: the batches first..*last, then any further queued
 * batches (sent while earlier ones are in flight) up to the transaction's size; *last is
 * updated to the final batch included. On a retry the same batches are sent again. */
static cdc_err_t
publish_once(cdc_publisher_t *p, batch_t *first, batch_t **last, bool extend)
{
    int64_t t0 = cdc_mono_us(), t1 = t0;
    size_t bytes = 0, records = 0;
    cdc_err_t err = cdc_producer_begin(p->producer);
    for (batch_t *b = first; !err && b; b = b == *last ? NULL : b->next) {
        err = send_records(p, b);
        bytes += b->bound_len;
        records += b->bound_n;
        if (!err && b == *last && extend && bytes < CDC_TXN_BYTES && records < CDC_TXN_RECORDS) {
            batch_t *n = next_batch(p, b, false);
            if (n)
                *last = n;
        }
    }
    t1 = cdc_mono_us();
    if (!err)
        err = cdc_producer_wait_delivered(p->producer, TXN_TIMEOUT_MS);
    int64_t t2 = cdc_mono_us();
    bool has_pos = false;
    for (batch_t *b = first; b; b = b == *last ? NULL : b->next)
        has_pos |= b->has_pos;
    if (!err && has_pos)
        err = send_offset_record(p, first, *last);
    if (!err)
        err = cdc_producer_commit(p->producer, TXN_TIMEOUT_MS);
    if (!err && cdc_log_enabled(CDC_LOG_DEBUG)) {
        char pos[CDC_POS_STRLEN] = "-";
        for (const batch_t *b = first; b; b = b == *last ? NULL : b->next)
            if (b->has_pos)
                cdc_pos_format(pos, &b->bound_pos);
        CDC_LOG_DEBUG("source=%s kafka transaction records=%zu bytes=%zu pos=%s produce_ms=%.1f "
                      "delivery_ms=%.1f commit_ms=%.1f",
                      p->src->name, records, bytes, pos, (t1 - t0) / 1e3, (t2 - t1) / 1e3,
                      (cdc_mono_us() - t2) / 1e3);
    }
    return err;
}

static cdc_err_t
publish(cdc_publisher_t *p, batch_t *first, batch_t **last)
{
    int backoff_ms = 100;
    for (int attempt = 1;; attempt++) {
        cdc_err_t err = publish_once(p, first, last, attempt == 1);
        if (!err)
            return CDC_OK;
        if (err == CDC_ERR_FENCED || err == CDC_ERR_FATAL || err == CDC_ERR_TOOBIG)
            return err;
        CDC_LOG_WARN("source=%s kafka transaction attempt=%d failed, retrying: %s", p->src->name,
                     attempt, cdc_producer_errstr(p->producer));
        cdc_err_t aerr = cdc_producer_abort(p->producer, TXN_TIMEOUT_MS);
        if (aerr == CDC_ERR_FENCED || aerr == CDC_ERR_FATAL)
            return aerr;
        usleep((useconds_t)backoff_ms * 1000);
        backoff_ms = backoff_ms < 5000 ? backoff_ms * 2 : 5000;
    }
}

/* Metrics of a commit: events by op (a truncate once, not per partition; no tombstones, no
 * internal records), the age of the newest change, the commit latency per batch. */
static void
count_committed(cdc_publisher_t *p, batch_t *first, batch_t *last)
{
    static const char ops[] = "cudrt";
    uint64_t n[5] = {0};
    int64_t newest = 0, now = cdc_wall_ms();
    for (batch_t *b = first;; b = b->next) {
        int64_t batch_newest = 0;
        for (size_t i = 0; i < b->bound_n; i++) { /* the rest went on in the next batch */
            const rec_t *r = &b->recs[i];
            const char *op = r->op ? strchr(ops, r->op) : NULL;
            if (!op || r->val_len < 0 || r->topic == p->offsets_idx || r->topic == p->schemas_idx ||
                (r->op == 't' && r->partition > 0))
                continue;
            n[op - ops]++;
            if (r->ts_ms > batch_newest)
                batch_newest = r->ts_ms;
        }
        if (batch_newest)
            cdc_metric_observe(p->m_latency, (double)(now - batch_newest) / 1000.0);
        if (batch_newest > newest)
            newest = batch_newest;
        if (b == last)
            break;
    }
    for (int i = 0; i < 5; i++)
        if (n[i])
            cdc_metric_add(p->m_events[i], n[i]);
    if (newest)
        cdc_metric_set(p->m_lag, (double)(now - newest) / 1000.0);
    cdc_metric_add(p->m_commits, 1);
}

/* After a commit of first..last: remember the position, dequeue the batches and acknowledge
 * to the source. */
static void
committed(cdc_publisher_t *p, batch_t *first, batch_t *last)
{
    uint64_t token = 0, idle = 0;
    bool record = false; /* an offset record went with it (publish_once) */
    pthread_mutex_lock(&p->mu);
    for (batch_t *b = first;; b = b->next) {
        record |= b->has_pos;
        if (b->has_pos) {
            p->committed.has_pos = true;
            p->committed.pos = b->bound_pos;
        }
        p->committed.snapshot_done |= b->bound_snapshot_done;
        if (b->bound_progress[0])
            memcpy(p->committed.progress, b->bound_progress, sizeof(p->committed.progress));
        if (b->bound_native[0])
            memcpy(p->committed.native, b->bound_native, sizeof(p->committed.native));
        if (b->bound_resnap[0])
            memcpy(p->committed.resnap, b->bound_resnap, sizeof(p->committed.resnap));
        if (b->bound_token > token)
            token = b->bound_token;
        if (b == last)
            break;
    }
    if (!last->next) { /* the queue drains: an idle position after it may go too */
        idle = p->pending_idle;
        p->pending_idle = 0;
    }
    /* once read back; the source thread swaps p->source only with the queue empty */
    if (record)
        cdc_publisher_ack_committed(p, record_token(p, first, last), &p->committed.pos);
    else if (token)
        idle = idle > token ? idle : token;
    if (idle)
        cdc_publisher_ack_idle(p, idle);
    if (idle > token)
        token = idle;
    if (token > p->acked)
        p->acked = token;
    p->last_commit_us = cdc_mono_us();
    pthread_mutex_unlock(&p->mu);
    count_committed(p, first, last);
}

/* Takes first..last off the queue: freed, or kept for the producer when it failed. */
static void
dequeue(cdc_publisher_t *p, batch_t *first, batch_t *last, cdc_err_t err)
{
    pthread_mutex_lock(&p->mu);
    if (err) {
        p->fatal = err;
        snprintf(p->fatal_msg, sizeof(p->fatal_msg), "kafka: %s", cdc_producer_errstr(p->producer));
    }
    p->head = last->next;
    if (!p->head)
        p->tail = NULL;
    last->next = NULL;
    for (batch_t *b = first; b; b = b->next)
        p->queued--;
    cdc_metric_set(p->m_queue, (double)p->queued);
    if (err) { /* the producer may still point into them until it is destroyed */
        last->next = p->graveyard;
        p->graveyard = first;
    }
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    while (!err && first) {
        batch_t *n = first->next;
        cdc_publisher_batch_free(first);
        first = n;
    }
}

void *
cdc_publisher_thread(void *arg)
{
    cdc_publisher_t *p = arg;
    batch_t *first;
    while ((first = next_batch(p, NULL, true))) {
        batch_t *last = first;
        cdc_err_t err = first->bound_n || first->has_pos ? publish(p, first, &last) : CDC_OK;
        if (!err)
            committed(p, first, last);
        dequeue(p, first, last, err);
        if (err)
            break;
    }
    return NULL;
}

/*
 * Publisher thread: one Kafka transaction per batch, in this order (contract): begin, data
 * records, wait for every delivery report, the offset record, commit; then acknowledge to the
 * source. Abortable and retriable failures abort and redo the same batch with backoff; a fenced or
 * fatal producer stops the agent. Records of an aborted attempt may still reach consumers (the
 * mock broker shows them): they carry the same positions, so sinks drop them as re-sends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cdc/log.h"
#include "publisher_internal.h"

#define TXN_TIMEOUT_MS 60000

cdc_err_t
queue_push(cdc_publisher_t *p, batch_t *b)
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
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    if (fatal)
        batch_free(b);
    return fatal;
}

static cdc_err_t
send_records(cdc_publisher_t *p, const batch_t *b)
{
    for (size_t i = 0; i < b->bound_n; i++) {
        const rec_t *r = &b->recs[i];
        cdc_header_t h[2] = {{"cdc-op", &r->op, 1}, {"cdc-pos", r->pos, strlen(r->pos)}};
        cdc_record_t rec = {.topic = p->topics[r->topic].topic,
                            .partition = r->partition,
                            .key = r->key_len ? b->data.data + r->key_off : NULL,
                            .key_len = r->key_len,
                            .value = r->val_len < 0 ? NULL : b->data.data + r->val_off,
                            .value_len = r->val_len < 0 ? 0 : (size_t)r->val_len,
                            .headers = h,
                            .n_headers = r->pos[0] ? 2 : 0,
                            .timestamp_ms = r->ts_ms,
                            .borrow = true};
        cdc_err_t err = cdc_producer_send(p->producer, &rec);
        if (err)
            return err;
    }
    return CDC_OK;
}

static cdc_err_t
send_offset_record(cdc_publisher_t *p, const batch_t *b)
{
    cdc_offsets_t o = p->stored;
    o.found = true;
    o.pos = b->bound_pos;
    o.snapshot_done = b->bound_snapshot_done || p->committed.snapshot_done;
    o.ack_token = b->bound_token;
    o.progress = b->bound_progress[0]       ? (char *)b->bound_progress
                 : p->committed.progress[0] ? p->committed.progress
                                            : NULL;
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

/* One attempt at publishing b. */
static cdc_err_t
publish_once(cdc_publisher_t *p, const batch_t *b)
{
    cdc_err_t err = cdc_producer_begin(p->producer);
    if (!err)
        err = send_records(p, b);
    if (!err)
        err = cdc_producer_wait_delivered(p->producer, TXN_TIMEOUT_MS);
    if (!err && b->has_pos)
        err = send_offset_record(p, b);
    if (!err)
        err = cdc_producer_commit(p->producer, TXN_TIMEOUT_MS);
    return err;
}

static cdc_err_t
publish(cdc_publisher_t *p, const batch_t *b)
{
    int backoff_ms = 100;
    for (int attempt = 1;; attempt++) {
        cdc_err_t err = publish_once(p, b);
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

/* After a commit: remember the position and acknowledge to the source. */
static void
committed(cdc_publisher_t *p, const batch_t *b)
{
    pthread_mutex_lock(&p->mu);
    if (b->has_pos) {
        p->committed.has_pos = true;
        p->committed.pos = b->bound_pos;
    }
    p->committed.snapshot_done |= b->bound_snapshot_done;
    if (b->bound_progress[0])
        memcpy(p->committed.progress, b->bound_progress, sizeof(p->committed.progress));
    uint64_t idle = 0;
    if (p->queued == 1) { /* the last queued batch: an idle position after it may go too */
        idle = p->pending_idle;
        p->pending_idle = 0;
    }
    pthread_mutex_unlock(&p->mu);
    uint64_t token = b->bound_token > idle ? b->bound_token : idle;
    pthread_mutex_lock(&p->mu);
    if (token && p->ops && p->source) /* the source thread swaps it only with the queue empty */
        p->ops->ack(p->source, token);
    pthread_mutex_unlock(&p->mu);
}

void *
publisher_thread(void *arg)
{
    cdc_publisher_t *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!p->head && !p->stopping)
            pthread_cond_wait(&p->cv, &p->mu);
        batch_t *b = p->head;
        pthread_mutex_unlock(&p->mu);
        if (!b)
            break; /* stopping and drained */
        cdc_err_t err = b->bound_n || b->has_pos ? publish(p, b) : CDC_OK;
        if (!err)
            committed(p, b);
        pthread_mutex_lock(&p->mu);
        if (err) {
            p->fatal = err;
            snprintf(p->fatal_msg, sizeof(p->fatal_msg), "kafka: %s",
                     cdc_producer_errstr(p->producer));
        }
        p->head = b->next;
        if (!p->head)
            p->tail = NULL;
        p->queued--;
        if (err) { /* the producer may still point into it until it is destroyed */
            b->next = p->graveyard;
            p->graveyard = b;
        }
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        if (err)
            break;
        batch_free(b);
    }
    return NULL;
}

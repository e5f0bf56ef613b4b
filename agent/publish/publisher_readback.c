/*
 * Read-back of the source's own offset records before acknowledging to the source.
 *
 * Acknowledging a position tells PostgreSQL to drop the WAL before it: its changes are never sent
 * again. A successful Kafka commit is not proof enough for that. A single broker killed right
 * after answering a commit can come back, complete the transaction in its log without writing
 * the commit markers into the partitions, and later abort those records with the next epoch's
 * abort: the client was told "committed", read_committed readers never see the records, and the
 * source had already been acknowledged past them (seen with Apache Kafka 4.4 in KRaft mode).
 *
 * So the publisher acknowledges a committed transaction only once a read_committed reader of the
 * offsets topic has read that transaction's offset record back. A start after any crash resumes
 * from the newest readable offset record, and the source still holds everything after it.
 *
 * Matching: tokens grow with every committed transaction that is queued here, and offset records
 * are read in commit order. A record whose token is smaller than the oldest one waiting is older
 * (or, on the mock cluster, of an aborted attempt) and passes; an equal one confirms it; a larger
 * one means the waiting transaction's record will never be readable: the broker lost it. Then
 * nothing more is acknowledged and the publisher stops with an error naming the positions.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/clock.h"
#include "cdc/log.h"
#include "publisher_internal.h"

#define READBACK_POLL_MS       250 /* idle: 4 wake-ups a second, to see a stop */
#define READBACK_FETCH_WAIT_MS 50  /* on librdkafka's mock; a real broker's fetches long-poll */
#define READBACK_WARN_US       (30 * 1000000LL)
#define READBACK_DRAIN_US      (2 * 1000000LL) /* a graceful stop waits this long for the last ones */

static void
ack(cdc_publisher_t *p, uint64_t token)
{
    if (token && p->ops && p->ops->ack && p->source)
        p->ops->ack(p->source, token);
}

static void
queue_push(readback_t *r, const rb_commit_t *c)
{
    if (r->head && r->head + r->len == r->cap) { /* reuse the room before the head */
        memmove(r->q, r->q + r->head, r->len * sizeof(*r->q));
        r->head = 0;
    }
    if (r->len == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->q = cdc_xrealloc(r->q, r->cap * sizeof(*r->q));
    }
    r->q[r->head + r->len++] = *c;
}

static void
seen_push(readback_t *r, uint64_t token)
{
    if (r->seen_head && r->seen_head + r->seen_len == r->seen_cap) {
        memmove(r->seen, r->seen + r->seen_head, r->seen_len * sizeof(*r->seen));
        r->seen_head = 0;
    }
    if (r->seen_len == r->seen_cap) {
        r->seen_cap = r->seen_cap ? r->seen_cap * 2 : 16;
        r->seen = cdc_xrealloc(r->seen, r->seen_cap * sizeof(*r->seen));
    }
    r->seen[r->seen_head + r->seen_len++] = token;
}

/* The broker lost the offset record of c (and with it, possibly, its changes). */
static void
lost(cdc_publisher_t *p, const rb_commit_t *c)
{
    readback_t *r = &p->rb;
    char from[CDC_POS_STRLEN], to[CDC_POS_STRLEN];
    cdc_pos_format(from, &r->confirmed);
    cdc_pos_format(to, &c->pos);
    if (!p->fatal) {
        p->fatal = CDC_ERR_FATAL;
        snprintf(p->fatal_msg, sizeof(p->fatal_msg),
                 "kafka: the broker lost a committed transaction: the offset record of the "
                 "changes up to pos=%s never became readable while a later one did. Changes "
                 "after pos=%s may be missing from the topics; the source was not acknowledged "
                 "past it. Re-snapshot the source's tables (cdc-agent snapshot) to make sure",
                 to, from);
        pthread_cond_broadcast(&p->cv);
    }
    r->failed = true;
}

/* Pairs what was committed with what was read back; called with p->mu held. Tokens queued grow
 * strictly, and records are read in commit order. */
static void
match(cdc_publisher_t *p)
{
    readback_t *r = &p->rb;
    while (!r->failed && r->len && r->seen_len) {
        rb_commit_t *c = &r->q[r->head];
        uint64_t s = r->seen[r->seen_head];
        if (s < c->token) { /* older, or an aborted attempt on the mock cluster */
            r->seen_head++, r->seen_len--;
            continue;
        }
        if (s > c->token) {
            lost(p, c);
            return;
        }
        r->seen_head++, r->seen_len--;
        ack(p, c->token > c->idle ? c->token : c->idle);
        r->confirmed = c->pos;
        r->head++, r->len--;
    }
    if (!r->len)
        r->head = 0;
    if (!r->seen_len)
        r->seen_head = 0;
}

void
cdc_publisher_ack_committed(cdc_publisher_t *p, uint64_t token, const cdc_pos_t *pos)
{
    readback_t *r = &p->rb;
    if (!r->c) { /* nothing to read back with: acknowledged on the commit's word */
        ack(p, token);
        return;
    }
    if (r->failed || token <= r->last) /* the same position again (a heartbeat): known */
        return;
    rb_commit_t c = {.token = token, .pos = *pos, .at_us = cdc_mono_us()};
    queue_push(r, &c);
    r->last = token;
    match(p);
}

void
cdc_publisher_ack_idle(cdc_publisher_t *p, uint64_t token)
{
    readback_t *r = &p->rb;
    if (!r->c || (!r->len && !r->failed)) { /* every commit before it is confirmed */
        ack(p, token);
        return;
    }
    if (r->len && token > r->q[r->head + r->len - 1].idle)
        r->q[r->head + r->len - 1].idle = token; /* goes with the last commit */
}

void
cdc_publisher_readback_seen(cdc_publisher_t *p, uint64_t token)
{
    seen_push(&p->rb, token);
    match(p);
}

/* Says every READBACK_WARN_US that commits are waiting (a broker that went away). */
static void
warn_stale(cdc_publisher_t *p, int64_t now)
{
    readback_t *r = &p->rb;
    if (r->failed || !r->len || now - r->q[r->head].at_us < READBACK_WARN_US ||
        now - r->warned_us < READBACK_WARN_US)
        return;
    r->warned_us = now;
    char pos[CDC_POS_STRLEN];
    cdc_pos_format(pos, &r->confirmed);
    CDC_LOG_WARN("source=%s %zu committed Kafka transactions not read back from %s after %lld s: "
                 "the source stays acknowledged at pos=%s until they are",
                 p->src->name, r->len, p->offsets_topic,
                 (long long)((now - r->q[r->head].at_us) / 1000000), pos);
}

static void *
readback_thread(void *arg)
{
    cdc_publisher_t *p = arg;
    readback_t *r = &p->rb;
    size_t klen = strlen(p->src->name);
    while (!atomic_load(&r->stop)) {
        rd_kafka_message_t *m = cdc_consumer_poll(r->c, READBACK_POLL_MS);
        bool ours =
            m && !m->err && m->key_len == klen && m->payload && !memcmp(m->key, p->src->name, klen);
        cdc_offsets_t o = {0};
        if (ours && !cdc_offsets_decode(m->payload, m->len, &o))
            ours = false;
        if (m)
            rd_kafka_message_destroy(m);
        pthread_mutex_lock(&p->mu);
        if (ours) {
            cdc_publisher_readback_seen(p, o.ack_token);
            pthread_cond_broadcast(&p->cv); /* a graceful stop waits for these */
        }
        warn_stale(p, cdc_mono_us());
        pthread_mutex_unlock(&p->mu);
        cdc_offsets_clear(&o);
    }
    return NULL;
}

cdc_err_t
cdc_publisher_readback_start(cdc_publisher_t *p, cdc_errstr_t *es)
{
    readback_t *r = &p->rb;
    if (!p->ops || !p->ops->ack)
        return CDC_OK; /* the source keeps no position on the server: nothing to hold back */
    char group[320];
    snprintf(group, sizeof(group), "%s.readback", p->txn_id);
    r->c = cdc_consumer_new_wait(&p->cfg->kafka, cdc_kafka_bus_bootstrap(p->bus), group,
                                 cdc_kafka_fetch_wait_ms() > READBACK_FETCH_WAIT_MS
                                     ? cdc_kafka_fetch_wait_ms()
                                     : READBACK_FETCH_WAIT_MS,
                                 es);
    int64_t low = 0, high = 0;
    /* from the end as it is now, before this instance commits anything */
    cdc_err_t err = r->c
                        ? cdc_consumer_watermarks(r->c, p->offsets_topic, 0, &low, &high, 10000, es)
                        : CDC_ERR_KAFKA;
    if (!err)
        err = cdc_consumer_assign(r->c, p->offsets_topic, 0, high, es);
    if (!err && pthread_create(&r->thread, NULL, readback_thread, p))
        err = cdc_errstr_set(es, CDC_ERR_FATAL, "cannot start the offsets read-back thread");
    if (err) {
        cdc_consumer_free(r->c);
        r->c = NULL;
        cdc_errstr_prefix(es, "source %s: reading back %s", p->src->name, p->offsets_topic);
        return err;
    }
    r->confirmed = p->committed.pos;
    r->started = true;
    return CDC_OK;
}

void
cdc_publisher_readback_stop(cdc_publisher_t *p)
{
    readback_t *r = &p->rb;
    if (!r->started)
        return;
    int64_t until = cdc_mono_us() + READBACK_DRAIN_US;
    pthread_mutex_lock(&p->mu); /* the last commits, so the source is acknowledged up to them */
    while (r->len && !r->failed && cdc_mono_us() < until) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L)
            ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
    }
    pthread_mutex_unlock(&p->mu);
    atomic_store(&r->stop, true);
    pthread_join(r->thread, NULL);
    r->started = false;
    cdc_consumer_free(r->c);
    r->c = NULL;
    free(r->q);
    free(r->seen);
    r->q = NULL;
    r->seen = NULL;
    r->len = r->seen_len = r->cap = r->seen_cap = 0;
}

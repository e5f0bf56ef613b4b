/*
 * Sink engine (include/cdc/sink.h): assigns every partition of the sink's route topics at the
 * offset stored in the target, collects records into a batch (batch_size records or batch_ms)
 * and applies the batch in one target transaction that also moves each touched partition's row
 * in cdc_sink_offsets with a conditional update. Rows go to the target in multi-row statements
 * (agent/sink/sink_group.c).
 *
 * Failures: a lost connection reconnects and retries the batch with backoff; a deadlock,
 * serialization failure or lock timeout retries it. When a statement fails because of a record
 * (a value the target refuses, a base row missing, a unique or foreign-key violation) the batch
 * is redone one row at a time, each inside a savepoint: a record that can never apply goes to the
 * dead-letter topic (agent/sink/sink_dlq.c) with its reason and the batch goes on; a violation
 * holds its partition back and is tried again after the other partitions advance, with backoff, and
 * goes to the DLQ after CONFLICT_ATTEMPTS tries. The DLQ's Kafka transaction commits before the
 * target transaction that moves past its records. Anything else stops the sink with the reason;
 * no record is ever skipped silently.
 *
 * A truncate (published to every partition of its topic) is a barrier: each partition stops at
 * it, and once all have reached it the table is emptied, in order with the rows around it.
 * Records at or below a partition's stored source position within the same epoch are re-sends and
 * are skipped; a new epoch resets that guard and is logged. Partitions, their offsets and metrics
 * are in agent/sink/sink_parts.c.
 */
#include "cdc/sink.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cdc/clock.h"
#include "cdc/kafka.h"
#include "cdc/log.h"
#include "cdc/metrics.h"
#include "cdc/sign.h"
#include "cdc/topic.h"
#include "cdc/witness.h"
#include "sink_internal.h"
#include "sink_state.h"

#define CONFLICT_ATTEMPTS   6   /* tries of a record that violates a constraint, then the DLQ */
#define CONFLICT_BACKOFF_MS 250 /* doubled per try: ~8 s in all */

/* ---- one record --------------------------------------------------------------------------- */

/* Whether an event at position pos (parsed as p; NULL: it has none) was applied before: at or below
 * the guard in the same epoch. */
static bool
resent(const part_t *pt, const char *pos, const cdc_pos_t *p)
{
    return p && pt->b_pos[0] && p->epoch == pt->b_epoch && strcmp(pos, pt->b_pos) <= 0;
}

/* Moves the guard to pos (parsed as p; NULL: the event has none). */
static void
guard_advance(sink_t *s, part_t *pt, const char *pos, const cdc_pos_t *p)
{
    if (!p)
        return;
    if (pt->b_pos[0] && p->epoch != pt->b_epoch)
        CDC_LOG_INFO("sink=%s %s[%d] new epoch %u (was %u): positions start over", s->conf->name,
                     pt->topic, (int)pt->partition, (unsigned)p->epoch, (unsigned)pt->b_epoch);
    pt->b_epoch = p->epoch;
    memcpy(pt->b_pos, pos, CDC_POS_STRLEN);
    pt->b_pos[CDC_POS_STRLEN - 1] = '\0';
}

static void
consumed(part_t *pt, const rd_kafka_message_t *m)
{
    pt->touched = true;
    pt->b_next = m->offset + 1;
}

static void
prefix_record(sink_t *s, const part_t *pt, const rd_kafka_message_t *m, cdc_errstr_t *es)
{
    cdc_errstr_prefix(es, "sink %s: %s[%d] offset %lld", s->conf->name, pt->topic,
                      (int)pt->partition, (long long)m->offset);
}

/* A record that failed on its own (careful mode): the DLQ, or held back to be tried later. */
static cdc_err_t
record_failed(sink_t *s, item_t *it, part_t *pt, cdc_err_t err, const cdc_errstr_t *es)
{
    int attempts = 1;
    s->diverted = true;
    if (err == CDC_ERR_CONFLICT) {
        attempts = (pt->wait_offset == it->m->offset ? pt->attempts : 0) + 1;
        if (attempts < CONFLICT_ATTEMPTS) {
            pt->wait_offset = it->m->offset;
            pt->attempts = attempts;
            pt->retry_at_ms = cdc_mono_ms() + ((int64_t)CONFLICT_BACKOFF_MS << (attempts - 1));
            pt->held = true;
            cdc_metric_add(s->m_held, 1);
            CDC_LOG_WARN("sink=%s %s; holding %s[%d] back, try %d of %d", s->conf->name, es->msg,
                         pt->topic, (int)pt->partition, attempts + 1, CONFLICT_ATTEMPTS);
            return CDC_OK;
        }
    }
    cdc_sink_dlq_add(s->dlq, it->m, es->msg, attempts);
    consumed(pt, it->m);
    return CDC_OK;
}

/* A record its route cannot apply whatever is tried (a column the target lacks under
 * on_unknown_column: fail, an invalid value under on_invalid: fail, a target table gone or
 * without a key): the route stops there, visibly (an error, cdc_up{component="route"} 0, so
 * /readyz says not ready, and the unit's last error), and holds every partition of its topic
 * where it stands; the sink's other routes go on. A restart of the sink tries it again. */
static cdc_err_t
route_stop(sink_t *s, part_t *pt, const rd_kafka_message_t *m, cdc_errstr_t *es)
{
    size_t r = pt->route;
    s->diverted = true;
    prefix_record(s, pt, m, es);
    if (!pt->stopped) {
        CDC_LOG_ERROR("sink=%s route %s stopped: %s; the sink's other routes go on. Once fixed, "
                      "restart the sink (POST /v1/sinks/%s/restart, or SIGHUP after changing its "
                      "settings)",
                      s->conf->name, s->conf->routes[r].from, es->msg, s->conf->name);
        cdc_metric_set(s->m_route_up[r], 0);
        if (s->opts && s->opts->route_stopped)
            s->opts->route_stopped(s->opts->progress_ctx, s->conf->routes[r].from, es->msg);
    }
    for (size_t k = 0; k < s->n_parts; k++)
        if (s->parts[k].route == r)
            s->parts[k].stopped = s->parts[k].held = true;
    return CDC_OK;
}

/* One row alone inside a savepoint: its failure is its own. */
static cdc_err_t
apply_careful(sink_t *s, item_t *it, part_t *pt, const cdc_sink_row_t *row, cdc_errstr_t *es)
{
    size_t queued = cdc_sink_dlq_queued(s->dlq);
    cdc_err_t err = cdc_sink_savepoint(s->ops, s->t, CDC_SINK_SAVEPOINT, es);
    if (!err)
        err = cdc_sink_apply(s->ops, s->t, &s->resolver, &row, 1, es);
    if (!err)
        err = s->ops->sync(s->t, es);
    if (!err)
        return cdc_sink_savepoint(s->ops, s->t, CDC_SINK_RELEASE, es);
    if (!cdc_sink_err_record(err) && err != CDC_ERR_CONFLICT && err != CDC_ERR_CONFIG)
        return err;
    cdc_sink_dlq_drop_from(s->dlq, queued); /* its conflict record, if any, goes with it */
    if (err != CDC_ERR_CONFIG)
        prefix_record(s, pt, it->m, es);
    cdc_errstr_t rs = {{0}};
    cdc_err_t rerr = cdc_sink_savepoint(s->ops, s->t, CDC_SINK_ROLLBACK_TO, &rs);
    if (rerr) {
        *es = rs;
        return rerr;
    }
    return err == CDC_ERR_CONFIG ? route_stop(s, pt, it->m, es) : record_failed(s, it, pt, err, es);
}

/* One record of the batch: applied (or grouped to be), skipped, sent to the DLQ or held back. */
static cdc_err_t
process(sink_t *s, size_t i, bool careful, cdc_errstr_t *es)
{
    item_t *it = &s->items[i];
    part_t *pt = &s->parts[it->part];
    rd_kafka_message_t *m = it->m;
    if (!m->payload) { /* a tombstone: the delete before it did the work */
        consumed(pt, m);
        return CDC_OK;
    }
    cdc_err_t err;
    if (pt->route == LINKS_ROUTE) {
        s->diverted = false;
        if ((err = cdc_sink_link_record(s, it, pt, es))) {
            prefix_record(s, pt, m, es);
            return cdc_sink_err_record(err) ? record_failed(s, it, pt, err, es) : err;
        }
        consumed(pt, m);
        return CDC_OK;
    }
    const char *unsigned_why;
    if (s->signer && !cdc_sign_check(s->signer, m, pt->topic, &unsigned_why)) {
        cdc_errstr_set(es, CDC_ERR_DATA, "%s", unsigned_why);
        prefix_record(s, pt, m, es);
        return record_failed(s, it, pt, CDC_ERR_DATA, es);
    }
    cdc_event_t ev;
    err = cdc_event_decode(m->payload, m->len, &ev, &s->arena, es);
    if (err) {
        prefix_record(s, pt, m, es);
        return record_failed(s, it, pt, err, es);
    }
    /* parsed by the decoder: checked, then the guard's check and its move */
    const cdc_pos_t *p = ev.source.has_pos_v ? &ev.source.pos_v : NULL;
    if (p && (err = cdc_sink_check_position(s, pt, &ev, p, es))) {
        prefix_record(s, pt, m, es);
        return err == CDC_ERR_DATA ? record_failed(s, it, pt, err, es) : err;
    }
    if (resent(pt, ev.source.pos, p)) {
        s->skipped++;
        consumed(pt, m);
        return CDC_OK;
    }
    const cdc_route_conf_t *r = &s->conf->routes[pt->route];
    if (ev.op == CDC_OP_TRUNCATE && r->truncate == CDC_TRUNCATE_APPLY) {
        pt->held = pt->barrier = true; /* until every partition is here */
        pt->barrier_item = i;
        memcpy(pt->barrier_pos, ev.source.pos ? ev.source.pos : "", CDC_POS_STRLEN);
        pt->barrier_pos[CDC_POS_STRLEN - 1] = '\0';
        return CDC_OK;
    }
    if (ev.op == CDC_OP_DELETE && r->deletes == CDC_DELETES_IGNORE) {
        consumed(pt, m); /* the target keeps its row */
        guard_advance(s, pt, ev.source.pos, p);
        return CDC_OK;
    }
    if (ev.op != CDC_OP_TRUNCATE && r->transforms.n &&
        (err = cdc_sink_transform(s, pt->route, &ev, es))) {
        if (err == CDC_ERR_CONFIG)
            return route_stop(s, pt, m, es);
        prefix_record(s, pt, m, es);
        return err == CDC_ERR_INVAL ? record_failed(s, it, pt, err, es) : err;
    }
    if (ev.op != CDC_OP_TRUNCATE) {
        cdc_sink_row_t *row = cdc_arena_alloc(&s->arena, sizeof(*row));
        memset(row, 0, sizeof(*row));
        row->route = r;
        row->schema = s->targets[pt->route].schema;
        row->table = s->targets[pt->route].table;
        row->item = i;
        if ((err = cdc_sink_map_event(&s->arena, r, &ev, row, es))) {
            if (err == CDC_ERR_CONFIG)
                return route_stop(s, pt, m, es);
            prefix_record(s, pt, m, es);
            return err;
        }
        s->diverted = false;
        if (!careful)
            err = cdc_sink_grouper_add(&s->grouper, s->ops, s->t, row, es);
        else if ((err = apply_careful(s, it, pt, row, es)) && !cdc_sink_err_record(err) &&
                 err != CDC_ERR_CONFLICT)
            prefix_record(s, pt, m, es);
        if (err || s->diverted)
            return err;
        s->applied++;
    }
    consumed(pt, m);
    guard_advance(s, pt, ev.source.pos, p);
    return CDC_OK;
}

/* Empties the tables whose every partition stopped at the same truncate. */
static cdc_err_t
release_barriers(sink_t *s, cdc_errstr_t *es)
{
    for (size_t i = 0; i < s->n_parts; i++) {
        part_t *pt = &s->parts[i];
        if (!pt->barrier || !pt->held || s->items[pt->barrier_item].m->offset < pt->b_next)
            continue;
        bool all = true;
        for (size_t k = 0; all && k < s->n_parts; k++)
            all = strcmp(s->parts[k].topic, pt->topic) ||
                  (s->parts[k].barrier && !strcmp(s->parts[k].barrier_pos, pt->barrier_pos) &&
                   s->items[s->parts[k].barrier_item].m->offset >= s->parts[k].b_next);
        if (!all)
            continue;
        const route_target_t *rt = &s->targets[pt->route];
        cdc_err_t err = cdc_sink_grouper_flush(&s->grouper, s->ops, s->t, es);
        if (!err)
            err = cdc_sink_truncate(s->ops, s->t, rt->schema, rt->table, es);
        if (err) {
            prefix_record(s, pt, s->items[pt->barrier_item].m, es);
            return err;
        }
        CDC_LOG_INFO("sink=%s truncating %s.%s: every partition of %s reached it", s->conf->name,
                     rt->schema, rt->table, pt->topic);
        for (size_t k = 0; k < s->n_parts; k++) {
            part_t *pk = &s->parts[k];
            if (strcmp(pk->topic, pt->topic))
                continue;
            consumed(pk, s->items[pk->barrier_item].m);
            pk->held = pk->barrier = false;
            memcpy(pk->b_pos, pk->barrier_pos, CDC_POS_STRLEN);
            cdc_pos_t p;
            if (cdc_pos_parse(pk->barrier_pos, &p))
                pk->b_epoch = p.epoch;
        }
    }
    return CDC_OK;
}

/* ---- batches ------------------------------------------------------------------------------- */

static bool
part_waits(const part_t *pt, int64_t now)
{
    return pt->barrier || pt->stopped || (pt->wait_offset >= 0 && now < pt->retry_at_ms);
}

/* One attempt at applying the collected batch in one target transaction. careful: one row at a
 * time inside savepoints, so a failing record is known and dealt with on its own. */
static cdc_err_t
apply_batch(sink_t *s, bool careful, cdc_errstr_t *es)
{
    int64_t now = cdc_mono_ms();
    for (size_t i = 0; i < s->n_parts; i++) {
        part_t *pt = &s->parts[i];
        pt->touched = false;
        pt->held = pt->stopped || (pt->wait_offset >= 0 && now < pt->retry_at_ms);
        pt->b_next = pt->next;
        pt->b_epoch = pt->epoch;
        memcpy(pt->b_pos, pt->pos, sizeof(pt->b_pos));
    }
    s->applied = s->skipped = 0;
    s->witness_until = 0;
    cdc_arena_reset(&s->arena);
    cdc_sink_grouper_reset(&s->grouper);
    cdc_sink_dlq_clear(s->dlq);
    cdc_err_t err = cdc_sink_begin(s->ops, s->t, es);
    for (size_t i = 0; !err && i < s->n_items; i++) {
        part_t *pt = &s->parts[s->items[i].part];
        if (!pt->held)
            err = process(s, i, careful, es);
    }
    if (!err)
        err = cdc_sink_grouper_flush(&s->grouper, s->ops, s->t, es);
    if (!err)
        err = release_barriers(s, es);
    /* A partition applied up to its end moves past the commit markers there: a real cluster
     * writes one after each transaction's records, and a stored offset short of it would show
     * a lag of 1 for ever. */
    for (size_t i = 0; i < s->n_parts; i++)
        s->parts[i].hand_max = -1;
    for (size_t i = 0; i < s->n_items; i++) {
        part_t *pt = &s->parts[s->items[i].part];
        if (s->items[i].m->offset > pt->hand_max)
            pt->hand_max = s->items[i].m->offset;
    }
    for (size_t i = 0; i < s->n_parts; i++) {
        part_t *pt = &s->parts[i];
        /* every record before the end applied, none left in hand past what the batch applied */
        if (!pt->held && !pt->barrier && pt->end > pt->b_next && pt->hand_max < pt->b_next) {
            pt->touched = true;
            pt->b_next = pt->end;
        }
    }
    size_t n_moves = 0;
    for (size_t i = 0; !err && i < s->n_parts; i++) {
        part_t *pt = &s->parts[i];
        if (!pt->touched || pt->b_next == pt->expected)
            continue;
        cdc_sink_offset_t *next = &s->moves[n_moves];
        *next = (cdc_sink_offset_t){
            .partition = pt->partition, .next_offset = pt->b_next, .epoch = pt->b_epoch};
        memcpy(next->topic, pt->topic, sizeof(next->topic));
        memcpy(next->source_pos, pt->b_pos, sizeof(next->source_pos));
        s->moves_from[n_moves++] = pt->expected;
    }
    if (!err && n_moves) /* one statement for every partition the batch moved */
        err = cdc_sink_move_offsets(s->ops, s->t, s->moves, s->moves_from, n_moves, es);
    if (!err)
        err = cdc_sink_dlq_send(s->dlq, es); /* confirmed before the target moves past it */
    if (!err)
        err = cdc_sink_commit(s->ops, s->t, es);
    if (err) {
        cdc_sink_rollback(s->ops, s->t);
        return err;
    }
    return CDC_OK;
}

/* After a commit: the partitions move on, applied records go, held ones stay in order. */
static void
batch_done(sink_t *s)
{
    s->stats->applied += s->applied;
    if (s->skipped) /* a real cluster hides aborted records: there this should never show */
        CDC_LOG_INFO("sink=%s skipped %zu re-sent record(s): positions at or below the stored ones",
                     s->conf->name, (size_t)s->skipped);
    s->stats->skipped += s->skipped;
    s->stats->dlq += cdc_sink_dlq_pending(s->dlq);
    s->stats->batches++;
    cdc_metric_add(s->m_applied, s->applied);
    cdc_metric_add(s->m_skipped, s->skipped);
    cdc_metric_add(s->m_dlq, cdc_sink_dlq_pending(s->dlq));
    cdc_sink_dlq_committed(s->dlq);
    cdc_sink_dlq_clear(s->dlq);
    for (size_t i = 0; i < s->n_parts; i++) {
        part_t *pt = &s->parts[i];
        if (pt->touched) {
            pt->next = pt->expected = pt->b_next;
            pt->epoch = pt->b_epoch;
            memcpy(pt->pos, pt->b_pos, sizeof(pt->pos));
        }
        if (pt->wait_offset >= 0 && pt->wait_offset < pt->next)
            pt->wait_offset = -1; /* applied (or dead-lettered) at last */
    }
    size_t k = 0;
    int64_t now = cdc_mono_ms(), last_ts = -1;
    s->n_ready = 0;
    s->ready_bytes = 0;
    s->next_retry_ms = 0;
    for (size_t i = 0; i < s->n_items; i++) {
        item_t *it = &s->items[i];
        if (it->m->offset < s->parts[it->part].next) {
            int64_t ts = rd_kafka_message_timestamp(it->m, NULL);
            last_ts = ts > last_ts ? ts : last_ts;
            rd_kafka_message_destroy(it->m);
            continue;
        }
        s->items[k++] = *it;
        if (!part_waits(&s->parts[it->part], now)) {
            s->n_ready++;
            s->ready_bytes += it->m->len;
        }
    }
    s->n_items = k;
    /* held partitions stop fetching until they move again */
    rd_kafka_topic_partition_list_t *pause = rd_kafka_topic_partition_list_new(4);
    rd_kafka_topic_partition_list_t *resume = rd_kafka_topic_partition_list_new(4);
    for (size_t i = 0; i < s->n_parts; i++) {
        part_t *pt = &s->parts[i];
        bool hold = pt->barrier || pt->stopped || pt->wait_offset >= 0;
        if (pt->wait_offset >= 0 && (!s->next_retry_ms || pt->retry_at_ms < s->next_retry_ms))
            s->next_retry_ms = pt->retry_at_ms;
        if (hold != pt->paused)
            rd_kafka_topic_partition_list_add(hold ? pause : resume, pt->topic, pt->partition);
        pt->paused = hold;
    }
    rd_kafka_t *rk = cdc_consumer_handle(s->c);
    if (pause->cnt)
        rd_kafka_pause_partitions(rk, pause);
    if (resume->cnt)
        rd_kafka_resume_partitions(rk, resume);
    rd_kafka_topic_partition_list_destroy(pause);
    rd_kafka_topic_partition_list_destroy(resume);
    /* records behind: the log ends the consumer last heard of, less what is applied */
    int64_t behind = 0;
    for (size_t i = 0; i < s->n_parts; i++) {
        int64_t low = 0, high = 0;
        if (!rd_kafka_get_watermark_offsets(rk, s->parts[i].topic, s->parts[i].partition, &low,
                                            &high) &&
            high > s->parts[i].next)
            behind += high - s->parts[i].next;
    }
    cdc_metric_set(s->m_lag, (double)behind);
    /* seconds behind: the oldest record in hand, else (records not fetched yet) the last applied */
    int64_t oldest = s->n_items ? rd_kafka_message_timestamp(s->items[0].m, NULL) : last_ts;
    cdc_metric_set(s->m_lag_s, behind && oldest > 0 && cdc_wall_ms() > oldest
                                   ? (double)(cdc_wall_ms() - oldest) / 1000.0
                                   : 0);
}

cdc_err_t
cdc_sink_open(const cdc_sink_ops_t *ops, const cdc_sink_conf_t *conf, int wait_s,
              bool (*stop)(void), cdc_sink_target_t **out, cdc_errstr_t *es)
{
    int64_t until = cdc_mono_ms() + (int64_t)wait_s * 1000, next_note = 0;
    for (;;) {
        cdc_err_t err = cdc_sink_target_open(ops, conf, true, out, es);
        int64_t now = cdc_mono_ms();
        if (err != CDC_ERR_FENCED || now >= until || (stop && stop()))
            return err;
        /* an instance being replaced lets go once it learns it was fenced (its next
         * transaction); one that runs on keeps it, and this one stops when the wait ends */
        if (now >= next_note) { /* the first refusal, then every 30 s */
            CDC_LOG_WARN("sink=%s %s; waiting up to %d s for it to stop", conf->name, es->msg,
                         wait_s);
            next_note = now + 30000;
        }
        usleep(200000);
    }
}

static cdc_err_t
reconnect(sink_t *s, cdc_errstr_t *es)
{
    if (s->t)
        s->ops->close(s->t);
    s->t = NULL;
    cdc_errstr_t oe = {{0}};
    cdc_err_t err = cdc_sink_open(s->ops, s->conf, CDC_SINK_LOCK_WAIT_S, NULL, &s->t, &oe);
    if (!err && (err = cdc_sink_adopt_stored(s, &oe)) == CDC_OK)
        return CDC_OK;
    if (s->t)
        s->ops->close(s->t);
    s->t = NULL;
    return cdc_errstr_set(es, err == CDC_ERR_FENCED ? CDC_ERR_FENCED : CDC_ERR_CONNECT, "%s",
                          oe.msg);
}

/* Applies the batch: again one row at a time when a record failed, after adding a missing column,
 * and with backoff while the connection, a lock or Kafka fails. */
static cdc_err_t
flush_batch(sink_t *s, bool (*stop)(void), cdc_errstr_t *es)
{
    int backoff = 200, added = 0;
    bool careful = false;
    int64_t started = cdc_mono_ms();
    for (;;) {
        cdc_err_t err = s->t ? apply_batch(s, careful, es) : CDC_ERR_CONNECT;
        if (!err) {
            batch_done(s);
            cdc_errstr_t le = {{0}};
            if (cdc_sink_links_publish(s, &le)) /* tried again after the next batch */
                CDC_LOG_WARN("sink=%s sending links back: %s", s->conf->name, le.msg);
            cdc_metric_observe(s->m_batch, (double)(cdc_mono_ms() - started) / 1000.0);
            cdc_metric_set(s->m_up, 1);
            if (s->opts && s->opts->progress)
                s->opts->progress(s->opts->progress_ctx, s->stats);
            return CDC_OK;
        }
        bool retry = err == CDC_ERR_CONNECT || err == CDC_ERR_ABORTED || err == CDC_ERR_KAFKA ||
                     err == CDC_ERR_TIMEOUT;
        if (!careful && !retry && err != CDC_ERR_SCHEMA && err != CDC_ERR_FENCED) {
            careful = true; /* which record it was: one at a time */
            continue;
        }
        if (err == CDC_ERR_SCHEMA && ++added <= 1000) {
            if ((err = cdc_sink_add_column(s->ops, s->t, es)))
                return err;
            continue;
        }
        if (!retry || stop())
            return err;
        CDC_LOG_WARN("sink=%s %s; %s in %d ms", s->conf->name, es->msg,
                     err == CDC_ERR_CONNECT ? "reconnecting" : "retrying the batch", backoff);
        s->stats->retried++;
        cdc_metric_add(s->m_retried, 1);
        if (err == CDC_ERR_CONNECT)
            cdc_metric_set(s->m_up, 0); /* not ready until it is back */
        usleep((useconds_t)backoff * 1000);
        backoff = backoff < 10000 ? backoff * 2 : 10000;
        if (err == CDC_ERR_CONNECT && reconnect(s, es) == CDC_ERR_FENCED)
            return CDC_ERR_FENCED;
        if (s->start_again) /* the worker starts the sink again from the target's offsets */
            return cdc_errstr_set(es, CDC_ERR_CONNECT,
                                  "the target lost commits it had acknowledged: starting again "
                                  "from its stored offsets");
    }
}

/* The partition of m: by the topic handle once it is known, by name the first time. */
static part_t *
msg_part(sink_t *s, const rd_kafka_message_t *m, size_t *idx)
{
    for (size_t i = 0; i < s->n_parts; i++)
        if (s->parts[i].rkt == m->rkt && s->parts[i].partition == m->partition) {
            *idx = i;
            return &s->parts[i];
        }
    part_t *pt =
        m->rkt ? cdc_sink_find_part(s, rd_kafka_topic_name(m->rkt), m->partition, idx) : NULL;
    if (pt)
        pt->rkt = m->rkt;
    return pt;
}

static void
add_item(sink_t *s, rd_kafka_message_t *m, int64_t *first_ms)
{
    size_t idx = 0;
    part_t *pt = msg_part(s, m, &idx);
    if (!pt || m->offset < pt->polled) { /* not ours, or fetched again after a pause */
        rd_kafka_message_destroy(m);
        return;
    }
    pt->polled = m->offset + 1;
    pt->eof = false;
    if (s->n_items == s->cap_items) {
        s->cap_items = s->cap_items ? 2 * s->cap_items : 256;
        s->items = cdc_xrealloc(s->items, s->cap_items * sizeof(item_t));
    }
    s->items[s->n_items++] = (item_t){m, idx};
    if (part_waits(pt, cdc_mono_ms()))
        return;
    s->ready_bytes += m->len;
    if (++s->n_ready == 1)
        *first_ms = cdc_mono_ms();
}

/* Every partition is at its end and applied. */
static bool
caught_up(const sink_t *s)
{
    for (size_t i = 0; i < s->n_parts; i++)
        if (!s->parts[i].eof)
            return false;
    return true;
}

static void
drop_items(sink_t *s)
{
    for (size_t i = 0; i < s->n_items; i++)
        rd_kafka_message_destroy(s->items[i].m);
    s->n_items = 0;
}

/* With a rate limit: the ms to wait before the next batch may go (0: now), and the batch's size
 * (a tenth of a second's rows, so the target sees a steady flow rather than bursts). */
static int
pace(sink_t *s)
{
    long long rate = s->opts && s->opts->max_rows_per_s ? atomic_load(s->opts->max_rows_per_s) : 0;
    s->batch_limit = (size_t)s->conf->batch_size;
    if (rate <= 0)
        return 0;
    if ((long long)s->batch_limit > rate / 10)
        s->batch_limit = rate >= 10 ? (size_t)(rate / 10) : 1;
    const cdc_sink_stats_t *st = s->stats;
    uint64_t done = st->applied + st->skipped + st->dlq;
    int64_t now = cdc_mono_ms();
    int64_t due =
        s->pace_from_ms + (int64_t)((double)(done - s->pace_done) * 1000.0 / (double)rate);
    /* a new limit, or idle or slower than the limit for a while: credit for at most a tenth of a
     * second (a batch), so a burst after a pause is not let through at once */
    if (rate != s->pace_rate || done < s->pace_done || now - due > 100) {
        s->pace_rate = rate;
        s->pace_from_ms = now;
        s->pace_done = done;
        return 0;
    }
    int64_t left = due - now;
    return left <= 0 ? 0 : left < 50 ? (int)left : 50;
}

/* Opens the target under the sink's lock; with opts->standby (agent.ha) waits for it as long as
 * another instance holds it. */
static cdc_err_t
open_target(sink_t *s, bool (*stop)(void), cdc_errstr_t *es)
{
    const cdc_sink_opts_t *opts = s->opts;
    if (!opts || !opts->standby) /* an agent starting may replace an instance being fenced */
        return cdc_sink_open(s->ops, s->conf,
                             !opts || opts->agent ? s->conf->lock_wait_s : CDC_SINK_LOCK_WAIT_S,
                             stop, &s->t, es);
    bool waiting = false;
    cdc_err_t err;
    /* each try holds out for the lock CDC_SINK_LOCK_TRY_S on a new session */
    while ((err = cdc_sink_target_open(s->ops, s->conf, true, &s->t, es)) == CDC_ERR_FENCED &&
           !(stop && stop())) {
        if (!waiting)
            opts->standby(opts->progress_ctx, es->msg);
        waiting = true;
    }
    if (waiting && !err)
        opts->standby(opts->progress_ctx, NULL);
    return err;
}

/* Connects the sink: the target (its lock, a replay's rewind under it), the stored offsets,
 * the consumer and its partitions; warns of a missing dead-letter topic. */
static cdc_err_t
sink_start(sink_t *s, const char *bootstrap, bool (*stop)(void), cdc_errstr_t *es)
{
    const cdc_sink_conf_t *conf = s->conf;
    const cdc_sink_opts_t *opts = s->opts;
    cdc_sink_offsets_t stored = {0};
    char group[300];
    snprintf(group, sizeof(group), "cdc-sink.%s.%s", s->cfg->agent.name, conf->name);
    cdc_err_t err = open_target(s, stop, es);
    if (!err && opts && opts->n_rewind) /* replay: under the lock, before anything is read */
        err = cdc_sink_replay_rewind(s, opts, es);
    if (!err && opts && opts->rewound)
        *opts->rewound = true;
    if (!err)
        err = s->ops->load_offsets(s->t, &stored, es);
    /* a stream: its fetches long-poll on a real cluster (a scan to a topic's end does not: each
     * fetch that finds the end would wait the whole time) */
    if (!err && !(s->c = cdc_consumer_new_wait(&s->cfg->kafka, bootstrap, group,
                                               cdc_kafka_fetch_wait_ms(), es)))
        err = CDC_ERR_KAFKA;
    if (!err)
        err = cdc_sink_assign(s, &stored, es);
    cdc_sink_offsets_free(&stored);
    s->moves = cdc_xcalloc(s->n_parts + 1, sizeof(cdc_sink_offset_t));
    s->moves_from = cdc_xcalloc(s->n_parts + 1, sizeof(int64_t));
    int n_dlq = 0;
    if (!err &&
        !cdc_kafka_partition_count(cdc_consumer_handle(s->c), cdc_sink_dlq_topic(s->dlq), 10000,
                                   &n_dlq, es) &&
        !n_dlq)
        CDC_LOG_WARN("sink=%s its dead-letter topic %s does not exist: create it (or allow "
                     "auto-creation) before a record needs it",
                     conf->name, cdc_sink_dlq_topic(s->dlq));
    cdc_errstr_t le = {{0}};
    if (!err && cdc_sink_links_publish(s, &le)) /* tried again after the first batch */
        CDC_LOG_WARN("sink=%s sending links back: %s", conf->name, le.msg);
    if (!err) {
        CDC_LOG_INFO("sink=%s applying %zu partitions of %zu routes; dead letters to %s",
                     conf->name, s->n_parts, conf->n_routes, cdc_sink_dlq_topic(s->dlq));
        cdc_metric_set(s->m_up, 1);
    }
    return err;
}

/* A consumer event rather than a record: the end of a partition (moves past the markers when
 * nothing is in hand), a transient error (logged), or one that stops the sink. */
static cdc_err_t
consumer_event(sink_t *s, const rd_kafka_message_t *m, bool (*stop)(void), cdc_errstr_t *es)
{
    size_t idx;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        if (!msg_part(s, m, &idx))
            return CDC_OK;
        s->parts[idx].eof = true;
        s->parts[idx].end = m->offset;
        /* nothing in hand: move past the markers now (see apply_batch) */
        return !s->n_items && m->offset > s->parts[idx].next ? flush_batch(s, stop, es) : CDC_OK;
    }
    if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET && msg_part(s, m, &idx)) {
        /* the partition's log no longer has the offset asked for, and the consumer stopped
         * fetching it: past the end (the topic was created again) stops the sink saying so;
         * anything else starts the sink again from the target's offsets */
        int64_t low = 0, high = 0;
        cdc_errstr_t we = {{0}};
        if (!cdc_consumer_watermarks(s->c, s->parts[idx].topic, s->parts[idx].partition, &low,
                                     &high, 10000, &we) &&
            s->parts[idx].next > high)
            return cdc_sink_past_end(s, &s->parts[idx], high, es);
        return cdc_errstr_set(es, CDC_ERR_CONNECT, "sink %s: consuming: %s", s->conf->name,
                              rd_kafka_message_errstr(m));
    }
    cdc_err_t ke = cdc_kafka_classify_code(m->err);
    if (ke != CDC_ERR_KAFKA && ke != CDC_ERR_TIMEOUT)
        return cdc_errstr_set(es, ke, "sink %s: consuming: %s", s->conf->name,
                              rd_kafka_message_errstr(m));
    CDC_LOG_WARN("sink=%s consuming: %s", s->conf->name, rd_kafka_message_errstr(m));
    return CDC_OK;
}

/* The end of a backlog is worth a line; steady traffic is not. behind_ms: since when records
 * wait to be applied (0: caught up); behind_from: records done when it started. */
static void
note_backlog(sink_t *s, bool got_record, int64_t *behind_ms, uint64_t *behind_from)
{
    const cdc_sink_stats_t *st = s->stats;
    if (got_record && !*behind_ms) {
        *behind_ms = cdc_mono_ms();
        *behind_from = st->applied + st->dlq;
    }
    if (!*behind_ms || s->n_items || !caught_up(s))
        return;
    if (cdc_mono_ms() - *behind_ms >= 1000 ||
        st->applied + st->dlq - *behind_from >= 10 * (uint64_t)s->conf->batch_size)
        CDC_LOG_INFO("sink=%s caught up applied=%llu dlq=%llu batches=%llu", s->conf->name,
                     (unsigned long long)st->applied, (unsigned long long)st->dlq,
                     (unsigned long long)st->batches);
    *behind_ms = 0;
}

static void
sink_free(sink_t *s)
{
    drop_items(s);
    free(s->items);
    free(s->parts);
    free(s->moves);
    free(s->moves_from);
    free(s->targets);
    cdc_consumer_free(s->c);
    if (s->t)
        s->ops->close(s->t);
    cdc_sink_dlq_free(s->dlq);
    cdc_sink_grouper_deinit(&s->grouper);
    cdc_arena_deinit(&s->arena);
    cdc_buf_deinit(&s->conflict_buf);
    free(s->noted_before);
    cdc_sink_tx_free(s);
    cdc_witness_free(s->witness);
    cdc_signer_free(s->signer);
    free(s->m_route_up);
}

cdc_err_t
cdc_sink_run(const cdc_config_t *cfg, const cdc_sink_conf_t *conf, const char *bootstrap,
             const cdc_sink_ops_t *ops, bool (*stop)(void), const cdc_sink_opts_t *opts,
             cdc_sink_stats_t *stats, cdc_errstr_t *es)
{
    sink_t s = {.cfg = cfg, .conf = conf, .ops = ops, .stats = stats, .opts = opts};
    /* the memory share: half queued in librdkafka, a quarter for a fetch, a quarter a batch */
    s.batch_bytes = (size_t)(cdc_consumer_memory(&cfg->kafka) / 4);
    cdc_arena_init(&s.arena);
    /* statements of a quarter batch: the target runs one while the next is prepared */
    size_t per_statement =
        conf->batch_size >= 400 ? (size_t)conf->batch_size / 4 : (size_t)conf->batch_size;
    s.resolver = (cdc_sink_resolver_t){cdc_sink_resolve, cdc_sink_ambiguous, &s};
    cdc_buf_init(&s.conflict_buf);
    s.noted_before = cdc_xcalloc(conf->n_routes + 1, sizeof(bool));
    cdc_sink_grouper_init(&s.grouper, !cdc_sink_fk_checks_off(conf), per_statement, &s.resolver);
    s.dlq = cdc_sink_dlq_new(cfg, conf, bootstrap);
    cdc_sink_register_metrics(&s);
    s.targets = cdc_xcalloc(conf->n_routes + 1, sizeof(route_target_t));
    for (size_t r = 0; r < conf->n_routes; r++)
        s.targets[r].table = cdc_config_split_table(conf->routes[r].to, s.targets[r].schema,
                                                    sizeof(s.targets[r].schema));
    s.witness = cdc_sink_witness_new(cfg, conf, bootstrap);
    if (cfg->kafka.signing_key)
        s.signer = cdc_signer_new(cfg->kafka.signing_key, strlen(cfg->kafka.signing_key));
    cdc_err_t err = cfg->kafka.signing_key && !s.signer
                        ? cdc_errstr_set(es, CDC_ERR_FATAL,
                                         "sink %s: libcrypto refused the signing key", conf->name)
                        : sink_start(&s, bootstrap, stop, es);
    int64_t first_ms = 0, behind_ms = 0;
    uint64_t behind_from = 0;
    while (!err && !stop() &&
           !(opts && opts->until_caught_up && !s.n_items && s.n_parts && caught_up(&s))) {
        int paced = pace(&s);
        if (paced > 0) { /* nothing more is fetched meanwhile: memory stays bounded */
            usleep((useconds_t)paced * 1000);
            continue;
        }
        /* a record ends the wait at once; idle, the loop wakes 4 times a second (to see a stop
         * or a pause); a pending batch waits no longer than batch_ms, a retry no longer than
         * its time */
        int wait = 250;
        int64_t now0 = cdc_mono_ms();
        if (s.n_ready) {
            int64_t left = conf->batch_ms - (now0 - first_ms);
            wait = left <= 0 ? 0 : left < wait ? (int)left : wait;
        }
        if (s.next_retry_ms) {
            int64_t left = s.next_retry_ms - now0;
            wait = left <= 0 ? 0 : left < wait ? (int)left : wait;
        }
        rd_kafka_message_t *m = cdc_consumer_poll(s.c, wait);
        if (m && m->err) {
            err = consumer_event(&s, m, stop, es);
            rd_kafka_message_destroy(m);
            m = NULL;
        }
        if (m)
            add_item(&s, m, &first_ms);
        int64_t now = cdc_mono_ms();
        bool due = s.n_ready && (s.n_ready >= s.batch_limit || s.ready_bytes >= s.batch_bytes ||
                                 now - first_ms >= conf->batch_ms || !m);
        if (!err && (due || (s.next_retry_ms && now >= s.next_retry_ms)))
            err = flush_batch(&s, stop, es);
        if (!err)
            note_backlog(&s, m != NULL, &behind_ms, &behind_from);
    }
    sink_free(&s);
    return err;
}

/*
 * The sink engine's partitions (agent/sink/sink_state.h): assignment at the stored offsets, the
 * metrics, and moving partitions to where the target's cdc_sink_offsets says they are (after a
 * reconnect, or a replay's rewind).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/clock.h"
#include "cdc/kafka.h"
#include "cdc/log.h"
#include "sink_state.h"

part_t *
cdc_sink_find_part(sink_t *s, const char *topic, int32_t partition, size_t *idx)
{
    for (size_t i = 0; i < s->n_parts; i++)
        if (s->parts[i].partition == partition && !strcmp(s->parts[i].topic, topic)) {
            *idx = i;
            return &s->parts[i];
        }
    return NULL;
}

/* Every partition of topic (read for route r; LINKS_ROUTE: the links topic) at its stored
 * offset. */
static cdc_err_t
assign_topic(sink_t *s, const char *topic, size_t r, const cdc_sink_offsets_t *stored,
             cdc_errstr_t *es)
{
    int n = 0;
    cdc_err_t err = cdc_kafka_partition_count(cdc_consumer_handle(s->c), topic, 10000, &n, es);
    if (!err && n == 0) /* its source has not created it yet: tried again */
        err = cdc_errstr_set(es, CDC_ERR_CONNECT, "sink %s: topic %s (%s%s) does not exist yet",
                             s->conf->name, topic, r == LINKS_ROUTE ? "links" : "route ",
                             r == LINKS_ROUTE ? "" : s->conf->routes[r].from);
    for (int p = 0; !err && p < n; p++) {
        s->parts = cdc_xrealloc(s->parts, (s->n_parts + 1) * sizeof(part_t));
        part_t *pt = &s->parts[s->n_parts++];
        memset(pt, 0, sizeof(*pt));
        snprintf(pt->topic, sizeof(pt->topic), "%s", topic);
        pt->partition = p;
        pt->route = r;
        pt->expected = -1;
        pt->wait_offset = -1;
        const cdc_sink_offset_t *o = cdc_sink_offsets_find(stored, topic, p);
        int64_t low = 0, high = 0;
        err = cdc_consumer_watermarks(s->c, topic, p, &low, &high, 10000, es);
        if (err)
            break;
        if (o) {
            pt->next = pt->expected = o->next_offset;
            pt->epoch = o->epoch;
            memcpy(pt->pos, o->source_pos, sizeof(pt->pos));
        } else {
            pt->next = low;
        }
        if (pt->next < low) {
            err = cdc_errstr_set(es, CDC_ERR_FATAL,
                                 "sink %s: %s[%d] offsets %lld..%lld were deleted by retention "
                                 "before they were applied; re-snapshot %s into %s",
                                 s->conf->name, topic, p, (long long)pt->next, (long long)low - 1,
                                 r == LINKS_ROUTE ? "the linked tables" : s->conf->routes[r].from,
                                 r == LINKS_ROUTE ? s->conf->name : s->conf->routes[r].to);
            break;
        }
        if (pt->next > high) {
            err = cdc_sink_past_end(s, pt, high, es);
            break;
        }
        pt->polled = pt->next;
        err = cdc_consumer_assign(s->c, topic, p, pt->next, es);
    }
    return err;
}

cdc_err_t
cdc_sink_past_end(sink_t *s, const part_t *pt, int64_t end, cdc_errstr_t *es)
{
    return cdc_errstr_set(
        es, CDC_ERR_FATAL,
        "sink %s: %s[%d]: its stored offset %lld is past the partition's end %lld (the topic was "
        "deleted and created again, or the cluster lost records the target already has): "
        "nothing is applied from it until its offset is set, e.g. cdc-agent offsets set -c "
        "<config> --sink %s --offset %s:%d:%lld, then re-snapshot %s if the target may lack "
        "changes",
        s->conf->name, pt->topic, (int)pt->partition, (long long)pt->next, (long long)end,
        s->conf->name, pt->topic, (int)pt->partition, (long long)end,
        pt->route == LINKS_ROUTE ? "the linked tables" : s->conf->routes[pt->route].from);
}

/* Every partition of every route topic, and of the links topic when a route links records, at
 * its stored offset. */
cdc_err_t
cdc_sink_assign(sink_t *s, const cdc_sink_offsets_t *stored, cdc_errstr_t *es)
{
    cdc_buf_t topic;
    cdc_buf_init(&topic);
    cdc_err_t err = CDC_OK;
    for (size_t r = 0; !err && r < s->conf->n_routes; r++)
        if (!(err = cdc_sink_route_topic(s->cfg, &s->conf->routes[r], &topic, es)))
            err = assign_topic(s, topic.data, r, stored, es);
    if (!err && cdc_sink_has_links(s->conf)) {
        cdc_topic_internal(&topic, s->cfg->kafka.topic_prefix, "links", NULL);
        err = assign_topic(s, topic.data, LINKS_ROUTE, stored, es);
    }
    cdc_buf_deinit(&topic);
    return err;
}

void
cdc_sink_register_metrics(sink_t *s)
{
    cdc_buf_t l;
    cdc_buf_init(&l);
    cdc_metric_labels(&l, "sink", s->conf->name, (const char *)NULL);
    s->m_applied = cdc_metric_counter("cdc_sink_applied_total",
                                      "Records applied to the target (committed)", l.data);
    s->m_skipped = cdc_metric_counter("cdc_sink_skipped_total",
                                      "Re-sent records skipped by the position guard", l.data);
    s->m_dlq = cdc_metric_counter("cdc_sink_dlq_total", "Records written to the dead-letter topic",
                                  l.data);
    s->m_retried = cdc_metric_counter("cdc_sink_retries_total",
                                      "Batches tried again (connection lost, deadlock)", l.data);
    s->m_held =
        cdc_metric_counter("cdc_sink_constraint_holds_total",
                           "Unique or foreign-key violations that held a partition back", l.data);
    s->m_batch = cdc_metric_histogram(
        "cdc_sink_batch_seconds", "Time to apply and commit one batch, retries included", l.data);
    s->m_lag = cdc_metric_gauge("cdc_sink_lag_records",
                                "Records in the sink's partitions not applied yet", l.data);
    s->m_lag_s = cdc_metric_gauge("cdc_sink_lag_seconds",
                                  "Age of the oldest record not applied yet (record time to now; "
                                  "0 when caught up)",
                                  l.data);
    s->m_up = cdc_metrics_up("sink", s->conf->name, false);
    s->m_route_up = cdc_xcalloc(s->conf->n_routes + 1, sizeof(cdc_metric_t *));
    for (size_t r = 0; r < s->conf->n_routes; r++) {
        cdc_buf_reset(&l);
        cdc_buf_printf(&l, "%s:%s", s->conf->name, s->conf->routes[r].from);
        s->m_route_up[r] = cdc_metrics_up("route", l.data, true);
    }
    cdc_buf_deinit(&l);
}

/* After a reconnect (the sink's lock held again): the stored offsets are the truth. A commit whose
 * answer the lost connection swallowed may have gone through; its records are then done. */
cdc_err_t
cdc_sink_adopt_stored(sink_t *s, cdc_errstr_t *es)
{
    cdc_sink_offsets_t stored = {0};
    cdc_err_t err = s->ops->load_offsets(s->t, &stored, es);
    for (size_t i = 0; !err && i < s->n_parts; i++) {
        part_t *pt = &s->parts[i];
        const cdc_sink_offset_t *o = cdc_sink_offsets_find(&stored, pt->topic, pt->partition);
        int64_t at = o ? o->next_offset : -1;
        if (at == pt->expected)
            continue;
        if (at < pt->expected) {
            /* The target lost commits it had acknowledged (synchronous_commit=off, a failover
             * to a replica behind): rows and offsets went together, so it is consistent at the
             * older offset; those records are applied again. (Another instance only ever moves
             * offsets forward.) */
            CDC_LOG_WARN("sink=%s %s[%d] the target went back from offset %lld to %lld while "
                         "the connection was lost (it lost acknowledged commits): starting again "
                         "from its offsets",
                         s->conf->name, pt->topic, (int)pt->partition, (long long)pt->expected,
                         (long long)at);
            /* Not a seek in this run: a record fetched before it could still come out of the
             * consumer's queue after it, move the partition's mark past the records to apply
             * again, and have them dropped as fetched twice (rows lost: integration_sink_bulk).
             * The run ends; the next one has a new consumer, assigned at the stored offsets. */
            s->start_again = true;
            err = cdc_errstr_set(es, CDC_ERR_CONNECT,
                                 "the target lost commits it had acknowledged: starting again "
                                 "from its stored offsets");
            break;
        }
        CDC_LOG_INFO("sink=%s %s[%d] the last commit went through before the connection was "
                     "lost: at offset %lld",
                     s->conf->name, pt->topic, (int)pt->partition, (long long)at);
        pt->next = pt->expected = at;
        pt->epoch = o->epoch;
        memcpy(pt->pos, o->source_pos, sizeof(pt->pos));
    }
    cdc_sink_offsets_free(&stored);
    if (err)
        return err;
    size_t k = 0; /* records the commit applied are done */
    for (size_t i = 0; i < s->n_items; i++) {
        if (s->items[i].m->offset < s->parts[s->items[i].part].next)
            rd_kafka_message_destroy(s->items[i].m);
        else
            s->items[k++] = s->items[i];
    }
    s->n_items = k;
    return CDC_OK;
}

/* Replay: the partitions start again at the given offsets, their guard cleared; only backwards:
 * a partition not applied that far yet (or never) stays where it is. */
cdc_err_t
cdc_sink_replay_rewind(sink_t *s, const cdc_sink_opts_t *opts, cdc_errstr_t *es)
{
    cdc_sink_offsets_t stored = {0};
    cdc_err_t err = s->ops->load_offsets(s->t, &stored, es);
    cdc_sink_offset_t *set = cdc_xcalloc(opts->n_rewind + 1, sizeof(*set));
    size_t n = 0;
    for (size_t i = 0; !err && i < opts->n_rewind; i++) {
        const cdc_sink_offset_t *want = &opts->rewind[i];
        const cdc_sink_offset_t *o = cdc_sink_offsets_find(&stored, want->topic, want->partition);
        if (!o || o->next_offset <= want->next_offset) {
            CDC_LOG_INFO("sink=%s replay: %s[%d] stays at offset %lld (not applied past %lld "
                         "yet)",
                         s->conf->name, want->topic, (int)want->partition,
                         (long long)(o ? o->next_offset : 0), (long long)want->next_offset);
            continue;
        }
        set[n] = *want;
        set[n].epoch = o->epoch;
        set[n].source_pos[0] = '\0'; /* the guard would skip everything replayed */
        CDC_LOG_INFO("sink=%s replay: %s[%d] goes back from offset %lld to %lld", s->conf->name,
                     want->topic, (int)want->partition, (long long)o->next_offset,
                     (long long)want->next_offset);
        n++;
    }
    cdc_sink_offsets_free(&stored);
    if (!err && n && !(err = cdc_sink_begin(s->ops, s->t, es)) &&
        !(err = cdc_sink_set_offsets(s->ops, s->t, set, n, es)))
        err = cdc_sink_commit(s->ops, s->t, es);
    if (err)
        cdc_sink_rollback(s->ops, s->t);
    free(set);
    return err;
}

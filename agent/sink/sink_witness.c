/*
 * What a sink checks before it takes a record at its word (agent/sink/sink.c calls these): an
 * event's position against its source's offset records in <prefix>._offsets
 * (include/cdc/witness.h), before the position can move the partition's re-send guard.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cdc/clock.h"
#include "cdc/topic.h"
#include "cdc/witness.h"
#include "sink_state.h"

#define MARKERS_SETTLE_US 2000000 /* a committed transaction's markers are on every partition */

/* The witness of the routes' sources, reading <prefix>._offsets. */
struct cdc_witness *
cdc_sink_witness_new(const cdc_config_t *cfg, const cdc_sink_conf_t *conf, const char *bootstrap)
{
    const char **names = cdc_xcalloc(conf->n_routes + 1, sizeof(char *));
    for (size_t r = 0; r < conf->n_routes; r++)
        names[r] = conf->routes[r].source;
    cdc_buf_t topic;
    cdc_buf_init(&topic);
    cdc_topic_internal(&topic, cfg->kafka.topic_prefix, "offsets", NULL);
    cdc_witness_t *w = cdc_witness_new(&cfg->kafka, bootstrap, topic.data,
                                       (const char *const *)names, conf->n_routes);
    cdc_buf_deinit(&topic);
    free(names);
    return w;
}

/* Checks an event's position before it may count: its source must be the topic's, its epoch not
 * before the partition's, and the position one its source committed (include/cdc/witness.h): a
 * record anyone could write moves no guard on its own word. When a position is past what is
 * known, the offset records are taken as they come for up to MARKERS_SETTLE_US once in a batch (a
 * transaction's commit markers reach its partitions one after another, another source's
 * transaction still open on the offsets topic hides the records after it for a moment, and the
 * mock cluster hands out records before their transaction's offset record is even written), then
 * read to the topic's end before a refusal. Refused: CDC_ERR_DATA (the DLQ); the offsets
 * topic unreadable, or a transaction still open on it after that: CDC_ERR_KAFKA or TIMEOUT (the
 * batch is retried with backoff). */
cdc_err_t
cdc_sink_check_position(sink_t *s, const part_t *pt, const cdc_event_t *ev, const cdc_pos_t *p,
                        cdc_errstr_t *es)
{
    const char *src = s->conf->routes[pt->route].source;
    if (!ev->source.system || strcmp(ev->source.system, src))
        return cdc_errstr_set(es, CDC_ERR_DATA,
                              "the event names source %s but its topic carries source %s's changes",
                              ev->source.system ? ev->source.system : "(none)", src);
    if (pt->b_pos[0] && p->epoch < pt->b_epoch)
        return cdc_errstr_set(es, CDC_ERR_DATA,
                              "position %s is in epoch %u, before the partition's epoch %u "
                              "(a source's epochs only go forward)",
                              ev->source.pos, (unsigned)p->epoch, (unsigned)pt->b_epoch);
    char why[sizeof(es->msg)];
    if (cdc_witness_judge(s->witness, src, p, why, sizeof(why)))
        return CDC_OK;
    /* what the witness's consumer has fetched meanwhile, then what comes, for up to
     * MARKERS_SETTLE_US once a batch; then a read to the topic's end (a ListOffsets request,
     * which waits behind the consumer's pending fetch: only to decide a refusal) */
    cdc_err_t err = cdc_witness_wait(s->witness, 0, es);
    if (err || cdc_witness_judge(s->witness, src, p, why, sizeof(why)))
        return err;
    if (!s->witness_until) /* one wait a batch, however many of its records need it */
        s->witness_until = cdc_mono_us() + MARKERS_SETTLE_US;
    for (int64_t now; (now = cdc_mono_us()) < s->witness_until;) {
        int64_t left = (s->witness_until - now) / 1000 + 1;
        if ((err = cdc_witness_wait(s->witness, left < 100 ? (int)left : 100, es)))
            return err;
        if (cdc_witness_judge(s->witness, src, p, why, sizeof(why)))
            return CDC_OK;
    }
    if ((err = cdc_witness_catch_up(s->witness, es)))
        return err;
    if (cdc_witness_judge(s->witness, src, p, why, sizeof(why)))
        return CDC_OK;
    bool undecided = false;
    int64_t open_at = 0;
    if ((err = cdc_witness_undecided(s->witness, &undecided, &open_at, es)))
        return err;
    if (undecided)
        return cdc_errstr_set(es, CDC_ERR_TIMEOUT,
                              "%s, as far as can be read: a transaction open on the offsets topic "
                              "at offset %lld hides the offset records after it",
                              why, (long long)open_at);
    return cdc_errstr_set(es, CDC_ERR_DATA, "%s", why);
}

/*
 * The sources' committed positions (include/cdc/witness.h). One consumer, assigned to partition 0
 * of the offsets topic from its beginning, stays open: each catch-up reads only the offset
 * records committed since the last one. It holds a small share of memory of its own (offset
 * records are a few hundred bytes).
 */
#include "cdc/witness.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cdc/buf.h"
#include "cdc/clock.h"
#include "cdc/config.h"
#include "cdc/log.h"
#include "cdc/offsets.h"

#define WITNESS_MEMORY                                                                             \
    (4 << 20)             /* the consumer's share: 2 MB queued, 1 MB a fetch (librdkafka's least) */
#define CATCH_UP_MS 10000 /* a catch-up that reads nothing new for this long fails */
/* How long its fetches wait at the topic's end. A real broker did not answer a waiting
 * read_committed fetch of the offsets topic as soon as a commit made records readable there (with
 * the sinks' 500 ms wait, end-to-end latency rose by 10 ms at the median): a sink waits for the
 * offset record of what it is about to apply, so this bounds that wait, at 40 fetches a second
 * per sink (tests/bench/idle_bench.sh measures what that costs idle). */
#define WITNESS_FETCH_WAIT_MS 25

typedef struct {
    uint32_t epoch;
    cdc_pos_t max; /* the highest position committed in it */
} epoch_t;

typedef struct {
    char *name;
    epoch_t *epochs; /* in the order first seen */
    size_t n, cap;
    uint32_t latest; /* the epoch of the last offset record (0: none yet) */
} source_t;

struct cdc_witness {
    cdc_kafka_conf_t kc;
    char *bootstrap, *topic;
    source_t *sources;
    size_t n_sources;
    cdc_consumer_t *c;
    int64_t next; /* the next offset to read */
};

cdc_witness_t *
cdc_witness_new(const cdc_kafka_conf_t *kc, const char *bootstrap, const char *topic,
                const char *const *sources, size_t n)
{
    cdc_witness_t *w = cdc_xcalloc(1, sizeof(*w));
    if (kc) {
        w->kc = *kc;
        w->kc.consumer_memory_bytes = WITNESS_MEMORY;
        w->bootstrap = cdc_xstrdup(bootstrap);
        w->topic = cdc_xstrdup(topic);
    }
    w->sources = cdc_xcalloc(n + 1, sizeof(source_t));
    for (size_t i = 0; i < n; i++) {
        bool dup = false;
        for (size_t k = 0; k < w->n_sources && !dup; k++)
            dup = !strcmp(w->sources[k].name, sources[i]);
        if (!dup)
            w->sources[w->n_sources++].name = cdc_xstrdup(sources[i]);
    }
    return w;
}

void
cdc_witness_free(cdc_witness_t *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n_sources; i++) {
        free(w->sources[i].name);
        free(w->sources[i].epochs);
    }
    free(w->sources);
    cdc_consumer_free(w->c);
    free(w->bootstrap);
    free(w->topic);
    free(w);
}

static source_t *
find_source(const cdc_witness_t *w, const char *name, size_t len)
{
    for (size_t i = 0; i < w->n_sources; i++)
        if (strlen(w->sources[i].name) == len && !memcmp(w->sources[i].name, name, len))
            return &w->sources[i];
    return NULL;
}

static epoch_t *
find_epoch(const source_t *src, uint32_t epoch)
{
    for (size_t i = 0; i < src->n; i++)
        if (src->epochs[i].epoch == epoch)
            return &src->epochs[i];
    return NULL;
}

void
cdc_witness_note(cdc_witness_t *w, const char *source, size_t len, const cdc_pos_t *pos)
{
    source_t *src = find_source(w, source, len);
    if (!src)
        return;
    src->latest = pos->epoch;
    epoch_t *e = find_epoch(src, pos->epoch);
    if (!e) {
        if (src->n == src->cap) {
            src->cap = src->cap ? 2 * src->cap : 4;
            src->epochs = cdc_xrealloc(src->epochs, src->cap * sizeof(epoch_t));
        }
        e = &src->epochs[src->n++];
        *e = (epoch_t){pos->epoch, *pos};
    } else if (cdc_pos_cmp(pos, &e->max) > 0) {
        e->max = *pos;
    }
    /* an operator's `offsets set` may store an older position: the source goes back there, and
     * what it produced beyond stays committed, so the highest one stays the bound */
}

bool
cdc_witness_judge(const cdc_witness_t *w, const char *source, const cdc_pos_t *p, char *why,
                  size_t why_len)
{
    const source_t *src = find_source(w, source, strlen(source));
    if (!src || !src->latest) {
        snprintf(why, why_len, "source %s has committed no position in %s", source,
                 w->topic ? w->topic : "its offsets topic");
        return false;
    }
    char have[CDC_POS_STRLEN], got[CDC_POS_STRLEN];
    if (p->epoch > src->latest) {
        cdc_pos_format(got, p);
        snprintf(why, why_len,
                 "position %s is in epoch %" PRIu32 ", which source %s has not started (its "
                 "latest is %" PRIu32 ")",
                 got, p->epoch, source, src->latest);
        return false;
    }
    const epoch_t *e = find_epoch(src, p->epoch);
    if (!e) /* an older epoch whose offset records compaction removed: the source ran in it */
        return true;
    if (cdc_pos_cmp(p, &e->max) <= 0)
        return true;
    cdc_pos_format(got, p);
    cdc_pos_format(have, &e->max);
    snprintf(why, why_len,
             "position %s is beyond what source %s has committed (%s): not a change it made", got,
             source, have);
    return false;
}

static void
read_record(cdc_witness_t *w, const rd_kafka_message_t *m)
{
    if (!m->key || !m->payload || !find_source(w, m->key, m->key_len))
        return;
    cdc_offsets_t o = {0};
    if (cdc_offsets_decode(m->payload, m->len, &o))
        cdc_witness_note(w, m->key, m->key_len, &o.pos);
    cdc_offsets_clear(&o);
}

/* One record or event off the consumer: read, or an error. */
static cdc_err_t
take(cdc_witness_t *w, rd_kafka_message_t *m, cdc_errstr_t *es)
{
    cdc_err_t err = CDC_OK;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        w->next = m->offset; /* past the markers after the last record */
    } else if (m->err) {
        err = cdc_kafka_classify_code(m->err);
        err = cdc_errstr_set(es, err == CDC_ERR_FATAL ? CDC_ERR_FATAL : CDC_ERR_KAFKA,
                             "reading %s: %s", w->topic, rd_kafka_message_errstr(m));
    } else {
        read_record(w, m);
        w->next = m->offset + 1;
    }
    rd_kafka_message_destroy(m);
    return err;
}

cdc_err_t
cdc_witness_catch_up(cdc_witness_t *w, cdc_errstr_t *es)
{
    if (!w->topic)
        return CDC_OK;
    if (!w->c) {
        int wait = cdc_kafka_fetch_wait_ms(); /* 10 ms on the mock, which holds every wait */
        if (!(w->c = cdc_consumer_new_wait(
                  &w->kc, w->bootstrap, "cdc-agent-witness",
                  wait < WITNESS_FETCH_WAIT_MS ? wait : WITNESS_FETCH_WAIT_MS, es)))
            return CDC_ERR_KAFKA;
    }
    if (w->next == 0) { /* not assigned yet: the topic may not exist until a source starts */
        int parts = 0;
        cdc_err_t err =
            cdc_kafka_partition_count(cdc_consumer_handle(w->c), w->topic, 10000, &parts, es);
        if (err || !parts)
            return err;
        if ((err = cdc_consumer_assign(w->c, w->topic, 0, RD_KAFKA_OFFSET_BEGINNING, es)))
            return err;
        w->next = -1;
    }
    int64_t low = 0, high = 0;
    cdc_err_t err = cdc_consumer_watermarks(w->c, w->topic, 0, &low, &high, 10000, es);
    if (err)
        return err;
    int64_t idle_from = cdc_mono_ms();
    while (w->next < high && high > low) {
        rd_kafka_message_t *m = cdc_consumer_poll(w->c, 100);
        if (!m) {
            if (cdc_mono_ms() - idle_from > CATCH_UP_MS)
                return cdc_errstr_set(es, CDC_ERR_TIMEOUT,
                                      "reading %s: nothing read for %d s up to offset %lld",
                                      w->topic, CATCH_UP_MS / 1000, (long long)high);
            continue;
        }
        idle_from = cdc_mono_ms();
        if ((err = take(w, m, es)))
            return err;
    }
    return CDC_OK;
}

cdc_err_t
cdc_witness_wait(cdc_witness_t *w, int timeout_ms, cdc_errstr_t *es)
{
    if (!w->c || w->next == 0) /* not reading yet: a catch-up starts it */
        return cdc_witness_catch_up(w, es);
    rd_kafka_message_t *m = cdc_consumer_poll(w->c, timeout_ms);
    cdc_err_t err = CDC_OK;
    while (m && !err) { /* what came, without waiting again */
        err = take(w, m, es);
        m = err ? NULL : cdc_consumer_poll(w->c, 0);
    }
    return err;
}

cdc_err_t
cdc_witness_undecided(cdc_witness_t *w, bool *undecided, int64_t *open_at, cdc_errstr_t *es)
{
    *undecided = false;
    *open_at = w->next;
    if (!w->topic || w->next <= 0)
        return CDC_OK;
    int64_t end = 0;
    cdc_err_t err = cdc_consumer_log_ends(&w->kc, w->bootstrap, w->topic, 1, &end, 10000, es);
    *undecided = !err && end > w->next;
    return err;
}

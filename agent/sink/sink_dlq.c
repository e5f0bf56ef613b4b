/*
 * A sink's dead-letter topic (agent/sink/sink_internal.h): records that can never apply are copied
 * to "<topic_prefix>._dlq.<sink>" with their original key, value, timestamp and headers, plus
 * cdc-dlq-error, cdc-dlq-topic, cdc-dlq-partition, cdc-dlq-offset and cdc-dlq-attempts. The
 * records of the conflicts a batch resolved go to "<topic_prefix>._conflicts" through the same
 * producer. They go out in one Kafka transaction per batch, committed before the target
 * transaction that moves the sink's offsets past them, so a crash in between delivers them again
 * (at least once), never not at all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/clock.h"
#include "cdc/kafka.h"
#include "cdc/log.h"
#include "cdc/metrics.h"
#include "cdc/topic.h"
#include "sink_internal.h"

#define DLQ_TIMEOUT_MS  30000
#define DLQ_MAX_HEADERS 16

typedef struct {
    cdc_buf_t data; /* key, value, then header names and values, each NUL-terminated */
    size_t key_len, value_off, value_len;
    bool tombstone;
    int64_t ts_ms;
    cdc_header_t h[DLQ_MAX_HEADERS];
    size_t h_off[DLQ_MAX_HEADERS][2];
    size_t n_h;
    char num[3][24]; /* partition, offset, attempts */
    bool conflict;   /* for the conflicts topic: */
    const char *route;
    bool incoming; /* the incoming change won */
    bool link;     /* for the links topic */
} dlq_rec_t;

struct cdc_sink_dlq {
    const cdc_config_t *cfg;
    const cdc_sink_conf_t *conf;
    char *bootstrap;
    cdc_buf_t topic, conflicts, links;
    cdc_producer_t *p;
    dlq_rec_t *v;
    size_t n, cap, n_other; /* n_other: conflict and link records, not dead letters */
};

cdc_sink_dlq_t *
cdc_sink_dlq_new(const cdc_config_t *cfg, const cdc_sink_conf_t *conf, const char *bootstrap)
{
    cdc_sink_dlq_t *d = cdc_xcalloc(1, sizeof(*d));
    d->cfg = cfg;
    d->conf = conf;
    d->bootstrap = cdc_xstrdup(bootstrap);
    cdc_buf_init(&d->topic);
    cdc_topic_internal(&d->topic, cfg->kafka.topic_prefix, "dlq", conf->name);
    cdc_buf_init(&d->conflicts);
    cdc_topic_internal(&d->conflicts, cfg->kafka.topic_prefix, "conflicts", NULL);
    cdc_buf_init(&d->links);
    cdc_topic_internal(&d->links, cfg->kafka.topic_prefix, "links", NULL);
    return d;
}

const char *
cdc_sink_dlq_topic(const cdc_sink_dlq_t *d)
{
    return d->topic.data;
}

size_t
cdc_sink_dlq_pending(const cdc_sink_dlq_t *d)
{
    return d->n - d->n_other;
}

/* Header name and value appended to r's data (offsets: the buffer may move). */
static void
add_header(dlq_rec_t *r, const char *name, const void *value, size_t len)
{
    if (r->n_h == DLQ_MAX_HEADERS)
        return;
    r->h_off[r->n_h][0] = r->data.len;
    cdc_buf_append(&r->data, name, strlen(name) + 1);
    r->h_off[r->n_h][1] = r->data.len;
    cdc_buf_append(&r->data, value, len);
    cdc_buf_putc(&r->data, '\0');
    r->h[r->n_h].len = len;
    r->n_h++;
}

static dlq_rec_t *
new_rec(cdc_sink_dlq_t *d)
{
    if (d->n == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 16;
        d->v = cdc_xrealloc(d->v, d->cap * sizeof(dlq_rec_t));
    }
    dlq_rec_t *r = &d->v[d->n++];
    memset(r, 0, sizeof(*r));
    cdc_buf_init(&r->data);
    return r;
}

/* A record of the agent's own (a conflict, a link), not a dead letter: key and json value. */
static dlq_rec_t *
new_own(cdc_sink_dlq_t *d, const void *key, size_t key_len, const char *json, size_t n)
{
    dlq_rec_t *r = new_rec(d);
    d->n_other++;
    cdc_buf_append(&r->data, key, key_len);
    r->key_len = key_len;
    r->value_off = r->data.len;
    cdc_buf_append(&r->data, json, n);
    r->value_len = n;
    r->ts_ms = cdc_wall_ms();
    return r;
}

void
cdc_sink_dlq_conflict(cdc_sink_dlq_t *d, const rd_kafka_message_t *m, const char *json, size_t n,
                      const char *route, bool incoming)
{
    dlq_rec_t *r = new_own(d, m->key ? m->key : "", m->key ? m->key_len : 0, json, n);
    r->conflict = true;
    r->route = route;
    r->incoming = incoming;
}

void
cdc_sink_dlq_link(cdc_sink_dlq_t *d, const char *key, const char *json, size_t n)
{
    new_own(d, key, strlen(key), json, n)->link = true;
}

void
cdc_sink_dlq_add(cdc_sink_dlq_t *d, const rd_kafka_message_t *m, const char *reason, int attempts)
{
    dlq_rec_t *r = new_rec(d);
    if (m->key)
        cdc_buf_append(&r->data, m->key, m->key_len);
    r->key_len = m->key ? m->key_len : 0;
    r->value_off = r->data.len;
    if (m->payload)
        cdc_buf_append(&r->data, m->payload, m->len);
    r->value_len = m->payload ? m->len : 0;
    r->tombstone = !m->payload;
    rd_kafka_timestamp_type_t tt;
    r->ts_ms = rd_kafka_message_timestamp(m, &tt);
    if (r->ts_ms < 0)
        r->ts_ms = 0;
    rd_kafka_headers_t *hs = NULL;
    if (!rd_kafka_message_headers(m, &hs) && hs) {
        const char *name;
        const void *val;
        size_t len;
        for (size_t i = 0;
             i < DLQ_MAX_HEADERS - 5 && !rd_kafka_header_get_all(hs, i, &name, &val, &len); i++)
            add_header(r, name, val ? val : "", val ? len : 0);
    }
    const char *topic = rd_kafka_topic_name(m->rkt);
    snprintf(r->num[0], sizeof(r->num[0]), "%d", (int)m->partition);
    snprintf(r->num[1], sizeof(r->num[1]), "%lld", (long long)m->offset);
    snprintf(r->num[2], sizeof(r->num[2]), "%d", attempts);
    add_header(r, "cdc-dlq-error", reason, strlen(reason));
    add_header(r, "cdc-dlq-topic", topic, strlen(topic));
    add_header(r, "cdc-dlq-partition", r->num[0], strlen(r->num[0]));
    add_header(r, "cdc-dlq-offset", r->num[1], strlen(r->num[1]));
    add_header(r, "cdc-dlq-attempts", r->num[2], strlen(r->num[2]));
}

size_t
cdc_sink_dlq_queued(const cdc_sink_dlq_t *d)
{
    return d->n;
}

void
cdc_sink_dlq_drop_from(cdc_sink_dlq_t *d, size_t n)
{
    while (d->n > n) {
        dlq_rec_t *r = &d->v[--d->n];
        d->n_other -= r->conflict || r->link;
        cdc_buf_deinit(&r->data);
    }
}

void
cdc_sink_dlq_committed(cdc_sink_dlq_t *d)
{
    cdc_buf_t l;
    cdc_buf_init(&l);
    for (size_t i = 0; i < d->n; i++) {
        const dlq_rec_t *r = &d->v[i];
        if (!r->conflict)
            continue;
        const char *resolution = r->incoming ? "incoming" : "target";
        cdc_buf_reset(&l);
        cdc_metric_labels(&l, "sink", d->conf->name, "route", r->route, "resolution", resolution,
                          (const char *)NULL);
        cdc_metric_add(cdc_metric_counter("cdc_sink_conflicts_total",
                                          "Conflicts (two-way sync) by the version that won",
                                          l.data),
                       1);
        CDC_LOG_INFO("sink=%s conflict (route %s): %s version kept; both in %s: %.*s",
                     d->conf->name, r->route, r->incoming ? "the incoming" : "the target's",
                     d->conflicts.data, (int)(r->value_len < 300 ? r->value_len : 300),
                     r->data.data + r->value_off);
    }
    cdc_buf_deinit(&l);
}

void
cdc_sink_dlq_clear(cdc_sink_dlq_t *d)
{
    for (size_t i = 0; i < d->n; i++)
        cdc_buf_deinit(&d->v[i].data);
    d->n = d->n_other = 0;
}

static void
drop_producer(cdc_sink_dlq_t *d)
{
    cdc_producer_free(d->p);
    d->p = NULL;
}

static cdc_err_t
producer_error(cdc_sink_dlq_t *d, cdc_err_t err, const char *what, cdc_errstr_t *es)
{
    cdc_errstr_set(es, err == CDC_ERR_FENCED ? CDC_ERR_FENCED : CDC_ERR_KAFKA,
                   "sink %s: dead-letter topic %s: %s: %s", d->conf->name, d->topic.data, what,
                   d->p ? cdc_producer_errstr(d->p) : "no producer");
    if (d->p && err != CDC_ERR_FENCED)
        cdc_producer_abort(d->p, DLQ_TIMEOUT_MS);
    drop_producer(d); /* a fresh one next time */
    return err == CDC_ERR_FENCED ? CDC_ERR_FENCED : CDC_ERR_KAFKA;
}

cdc_err_t
cdc_sink_dlq_send(cdc_sink_dlq_t *d, cdc_errstr_t *es)
{
    if (!d->n)
        return CDC_OK;
    if (!d->p) {
        char txn_id[300];
        snprintf(txn_id, sizeof(txn_id), "%s.sink.%s.dlq", d->cfg->agent.name, d->conf->name);
        if (!(d->p = cdc_producer_new(&d->cfg->kafka, d->bootstrap, txn_id, es)))
            return CDC_ERR_KAFKA;
        cdc_err_t err = cdc_producer_init(d->p, DLQ_TIMEOUT_MS);
        if (err) {
            cdc_errstr_set(es, CDC_ERR_KAFKA, "sink %s: dead-letter topic %s: %s", d->conf->name,
                           d->topic.data, cdc_producer_errstr(d->p));
            drop_producer(d);
            return err == CDC_ERR_FENCED ? CDC_ERR_FENCED : CDC_ERR_KAFKA;
        }
    }
    cdc_err_t err = cdc_producer_begin(d->p);
    if (err)
        return producer_error(d, err, "begin", es);
    for (size_t i = 0; i < d->n; i++) {
        dlq_rec_t *r = &d->v[i];
        for (size_t k = 0; k < r->n_h; k++) {
            r->h[k].name = r->data.data + r->h_off[k][0];
            r->h[k].value = r->data.data + r->h_off[k][1];
        }
        cdc_record_t rec = {.topic = r->link       ? d->links.data
                                     : r->conflict ? d->conflicts.data
                                                   : d->topic.data,
                            .partition = RD_KAFKA_PARTITION_UA,
                            .key = r->key_len ? r->data.data : NULL,
                            .key_len = r->key_len,
                            .value = r->tombstone ? NULL : r->data.data + r->value_off,
                            .value_len = r->value_len,
                            .headers = r->h,
                            .n_headers = r->n_h,
                            .timestamp_ms = r->ts_ms};
        if ((err = cdc_producer_send(d->p, &rec)))
            return producer_error(d, err, "produce", es);
    }
    if ((err = cdc_producer_wait_delivered(d->p, DLQ_TIMEOUT_MS)))
        return producer_error(d, err, "delivery", es);
    if ((err = cdc_producer_commit(d->p, DLQ_TIMEOUT_MS)))
        return producer_error(d, err, "commit", es);
    for (size_t i = 0; i < d->n; i++) { /* headers: original ones, then error, topic, ... */
        if (d->v[i].conflict || d->v[i].link)
            continue;
        const cdc_header_t *h = d->v[i].h + d->v[i].n_h - 5;
        CDC_LOG_WARN("sink=%s %s[%s] offset %s went to %s after %s attempt(s): %s", d->conf->name,
                     (const char *)h[1].value, (const char *)h[2].value, (const char *)h[3].value,
                     d->topic.data, (const char *)h[4].value, (const char *)h[0].value);
    }
    return CDC_OK;
}

void
cdc_sink_dlq_free(cdc_sink_dlq_t *d)
{
    if (!d)
        return;
    cdc_sink_dlq_clear(d);
    free(d->v);
    drop_producer(d);
    cdc_buf_deinit(&d->topic);
    cdc_buf_deinit(&d->conflicts);
    cdc_buf_deinit(&d->links);
    free(d->bootstrap);
    free(d);
}

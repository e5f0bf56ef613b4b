/*
 * Offset records. They are small and written once per Kafka transaction, so jansson builds and
 * parses them. Loading uses a read_committed consumer on partition 0 from the beginning to the
 * high watermark; the last record with the source's key wins.
 */
#include "cdc/offsets.h"
#include "cdc/sink_offsets.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cdc/clock.h"
#include "cdc/log.h"

void
cdc_offsets_encode(cdc_buf_t *out, const char *source, const cdc_offsets_t *o)
{
    char pos[CDC_POS_STRLEN], lsn[32];
    cdc_pos_format(pos, &o->pos);
    snprintf(lsn, sizeof(lsn), "%llu", (unsigned long long)o->ack_token);
    json_t *parts = json_object();
    for (size_t i = 0; i < o->n_topics; i++)
        json_object_set_new(parts, o->topics[i].topic, json_integer(o->topics[i].partitions));
    json_t *v = json_pack("{s:i, s:s, s:s, s:I, s:b, s:s, s:o}", "v", 1, "source", source, "pos",
                          pos, "epoch", (json_int_t)o->pos.epoch, "snapshot_done", o->snapshot_done,
                          "ack_token", lsn, "partitions", parts);
    if (o->reset)
        json_object_set_new(v, "reset", json_true());
    json_t *progress = o->progress ? json_loads(o->progress, 0, NULL) : NULL;
    if (progress)
        json_object_set_new(v, "snapshot_progress", progress);
    json_t *native = o->native ? json_loads(o->native, 0, NULL) : NULL;
    if (native)
        json_object_set_new(v, "source_resume", native);
    json_t *resnap = o->resnap ? json_loads(o->resnap, 0, NULL) : NULL;
    if (resnap)
        json_object_set_new(v, "resnapshot", resnap);
    char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    cdc_buf_puts(out, s);
    free(s);
    json_decref(v);
}

void
cdc_offsets_clear(cdc_offsets_t *o)
{
    for (size_t i = 0; i < o->n_topics; i++)
        free(o->topics[i].topic);
    free(o->topics);
    free(o->progress);
    free(o->native);
    free(o->resnap);
    memset(o, 0, sizeof(*o));
}

bool
cdc_offsets_decode(const char *p, size_t n, cdc_offsets_t *o)
{
    json_error_t jerr;
    json_t *v = json_loadb(p, n, 0, &jerr);
    int version = 0, done = 0;
    const char *pos = NULL, *token = NULL;
    json_t *parts = NULL;
    if (!v ||
        json_unpack(v, "{s:i, s:s, s:b, s:s, s:o}", "v", &version, "pos", &pos, "snapshot_done",
                    &done, "ack_token", &token, "partitions", &parts) ||
        version != 1 || !cdc_pos_parse(pos, &o->pos) || !json_is_object(parts)) {
        json_decref(v);
        return false;
    }
    cdc_offsets_clear(o);
    cdc_pos_parse(pos, &o->pos);
    o->found = true;
    o->reset = json_is_true(json_object_get(v, "reset"));
    o->snapshot_done = done;
    o->ack_token = strtoull(token, NULL, 10);
    json_t *progress = json_object_get(v, "snapshot_progress");
    if (json_is_object(progress))
        o->progress = json_dumps(progress, JSON_COMPACT | JSON_SORT_KEYS);
    json_t *native = json_object_get(v, "source_resume");
    if (json_is_object(native))
        o->native = json_dumps(native, JSON_COMPACT | JSON_SORT_KEYS);
    json_t *resnap = json_object_get(v, "resnapshot");
    if (json_is_object(resnap))
        o->resnap = json_dumps(resnap, JSON_COMPACT | JSON_SORT_KEYS);
    o->topics = cdc_xcalloc(json_object_size(parts) + 1, sizeof(cdc_topic_parts_t));
    const char *key;
    json_t *val;
    json_object_foreach(parts, key, val)
    {
        o->topics[o->n_topics].topic = cdc_xstrdup(key);
        o->topics[o->n_topics++].partitions = (int)json_integer_value(val);
    }
    json_decref(v);
    return true;
}

int
cdc_offsets_partitions(const cdc_offsets_t *o, const char *topic)
{
    for (size_t i = 0; i < o->n_topics; i++)
        if (!strcmp(o->topics[i].topic, topic))
            return o->topics[i].partitions;
    return 0;
}

typedef struct {
    int64_t high; /* read up to this offset (exclusive) */
    bool done;
} part_t;

/* Polls until every partition reached its high watermark (or its end: read_committed stops at
 * the last stable offset), calling fn for each record below it. */
static cdc_err_t
scan_assigned(cdc_consumer_t *c, const char *topic, part_t *parts, int pending, cdc_scan_fn fn,
              void *ctx, cdc_errstr_t *es)
{
    cdc_err_t err = CDC_OK;
    int idle = 0;
    while (!err && pending > 0) {
        rd_kafka_message_t *m = cdc_consumer_poll(c, 500);
        if (!m) {
            if (++idle > 120)
                err = cdc_errstr_set(es, CDC_ERR_TIMEOUT, "reading %s: no progress", topic);
            continue;
        }
        idle = 0;
        part_t *pt = &parts[m->partition];
        if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            err = cdc_errstr_set(es, CDC_ERR_KAFKA, "reading %s: %s", topic,
                                 rd_kafka_message_errstr(m));
        } else if (!pt->done) {
            if (!m->err)
                fn(ctx, m);
            if (m->err || m->offset + 1 >= pt->high) {
                pt->done = true;
                pending--;
            }
        }
        rd_kafka_message_destroy(m);
    }
    return err;
}

/* How long a scan waits for transactions open when it started to end: a producer that died
 * has its transaction aborted by the broker after the producer's transaction.timeout.ms (60 s
 * by default) and the coordinator's next check for such (every 10 s by default). */
#define DECIDE_WAIT_MS 150000

/* A read_committed reader stops at the first record of a transaction still open. On a topic
 * several producers share (every source's offset records go to partition 0 of the offsets
 * topic) that can be another source's transaction in flight, or one an instance killed a moment
 * ago left open, with this source's own later records after it: a scan that stopped there would
 * resume from an older position and publish changes a second time. So a scan first waits until
 * every record written before it started is decided (committed or aborted): the read_committed
 * end reaches the end counting open transactions. Its own producer ended its own earlier
 * transactions before (publisher_setup.c abort_stale). */
static cdc_err_t
wait_decided(cdc_consumer_t *c, const char *topic, int32_t partition, int64_t end, int64_t *low,
             int64_t *high, cdc_errstr_t *es)
{
    int64_t start = cdc_mono_us();
    for (int64_t told_ms = -1;;) {
        cdc_err_t err = cdc_consumer_watermarks(c, topic, partition, low, high, 10000, es);
        if (err || *high >= end)
            return err;
        int64_t waited_ms = (cdc_mono_us() - start) / 1000;
        if (waited_ms > DECIDE_WAIT_MS)
            return cdc_errstr_set(
                es, CDC_ERR_FATAL,
                "reading %s[%d]: the transaction open at offset %lld did not end within %d s; "
                "if no producer of it runs any more (a broker crash can leave one the broker's "
                "coordinator forgot), abort it with Kafka's tool: kafka-transactions.sh "
                "--bootstrap-server <brokers> abort --topic %s --partition %d --start-offset %lld",
                topic, (int)partition, (long long)*high, DECIDE_WAIT_MS / 1000, topic,
                (int)partition, (long long)*high);
        /* markers follow a commit or an abort by a moment: only a longer wait is news */
        if ((told_ms < 0 && waited_ms >= 2000) || (told_ms >= 0 && waited_ms - told_ms >= 30000)) {
            CDC_LOG_INFO("reading %s[%d]: waiting for the transaction open at offset %lld (another "
                         "source's, or one a stopped instance left open until the broker aborts "
                         "it) to end before reading up to offset %lld",
                         topic, (int)partition, (long long)*high, (long long)end);
            told_ms = waited_ms;
        }
        usleep(100000);
    }
}

cdc_err_t
cdc_topic_scan(const cdc_kafka_conf_t *kc, const char *bootstrap, const char *topic, cdc_scan_fn fn,
               void *ctx, cdc_errstr_t *es)
{
    int n = 0, pending = 0;
    cdc_consumer_t *c = cdc_consumer_new(kc, bootstrap, "cdc-agent-scan", es);
    if (!c)
        return CDC_ERR_KAFKA;
    cdc_err_t err = cdc_kafka_partition_count(cdc_consumer_handle(c), topic, 10000, &n, es);
    part_t *parts = cdc_xcalloc((size_t)n + 1, sizeof(part_t));
    int64_t *ends = cdc_xcalloc((size_t)n + 1, sizeof(int64_t));
    if (!err && n)
        err = cdc_kafka_log_ends(kc, bootstrap, topic, n, ends, 10000, es);
    for (int32_t i = 0; !err && i < n; i++) {
        int64_t low = 0;
        err = wait_decided(c, topic, i, ends[i], &low, &parts[i].high, es);
        parts[i].done = parts[i].high <= low;
        if (!err && !parts[i].done) {
            err = cdc_consumer_assign(c, topic, i, RD_KAFKA_OFFSET_BEGINNING, es);
            pending++;
        }
    }
    if (!err)
        err = scan_assigned(c, topic, parts, pending, fn, ctx, es);
    free(ends);
    free(parts);
    cdc_consumer_free(c);
    return err;
}

typedef struct {
    const char *source;
    size_t slen;
    cdc_offsets_t *o;
} load_ctx_t;

static void
load_one(void *ctx, const rd_kafka_message_t *m)
{
    load_ctx_t *l = ctx;
    if (m->key_len == l->slen && !memcmp(m->key, l->source, l->slen) && m->payload &&
        !cdc_offsets_decode(m->payload, m->len, l->o))
        CDC_LOG_WARN("offsets offset=%lld: unreadable record skipped", (long long)m->offset);
}

cdc_err_t
cdc_offsets_load(const cdc_kafka_conf_t *kc, const char *bootstrap, const char *topic,
                 const char *source, cdc_offsets_t *o, cdc_errstr_t *es)
{
    memset(o, 0, sizeof(*o));
    load_ctx_t l = {source, strlen(source), o};
    return cdc_topic_scan(kc, bootstrap, topic, load_one, &l, es);
}

cdc_err_t
cdc_sink_offsets_check_moves(const char *sink, const cdc_sink_offset_t *next,
                             const int64_t *expected, size_t n, size_t *existing, cdc_errstr_t *es)
{
    *existing = 0;
    for (size_t i = 0; i < n; i++) {
        if (next[i].next_offset <= expected[i])
            return cdc_errstr_set(es, CDC_ERR_INVAL, "sink %s: offsets only move forward", sink);
        *existing += expected[i] >= 0;
    }
    return CDC_OK;
}

cdc_err_t
cdc_sink_offsets_fenced(const char *sink, const cdc_sink_offset_t *next, const int64_t *expected,
                        size_t n, cdc_errstr_t *es)
{
    size_t i = 0;
    while (i + 1 < n && expected[i] < 0)
        i++;
    if (n > 1)
        return cdc_errstr_set(es, CDC_ERR_FENCED,
                              "sink %s: %s[%d] (or another of the %zu partitions moved together) "
                              "is no longer at offset %lld: another instance of the sink took over",
                              sink, next[i].topic, (int)next[i].partition, n,
                              (long long)expected[i]);
    return cdc_errstr_set(es, CDC_ERR_FENCED,
                          "sink %s: %s[%d] is no longer at offset %lld: another instance of the "
                          "sink took over",
                          sink, next[i].topic, (int)next[i].partition, (long long)expected[i]);
}

void
cdc_sink_offsets_free(cdc_sink_offsets_t *o)
{
    free(o->v);
    o->v = NULL;
    o->n = 0;
}

const cdc_sink_offset_t *
cdc_sink_offsets_find(const cdc_sink_offsets_t *o, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < o->n; i++)
        if (o->v[i].partition == partition && !strcmp(o->v[i].topic, topic))
            return &o->v[i];
    return NULL;
}

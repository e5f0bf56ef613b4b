/*
 * Reading a whole topic once, from the beginning to its end, as read_committed: the offset and
 * schema records at start-up, and the tests' topic dumps.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "cdc/buf.h"
#include "cdc/clock.h"
#include "cdc/kafka.h"
#include "cdc/log.h"

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
    return cdc_topic_scan_tail(kc, bootstrap, topic, 0, fn, ctx, es);
}

cdc_err_t
cdc_topic_scan_tail(const cdc_kafka_conf_t *kc, const char *bootstrap, const char *topic,
                    int64_t tail, cdc_scan_fn fn, void *ctx, cdc_errstr_t *es)
{
    int n = 0, pending = 0;
    cdc_consumer_t *c = cdc_consumer_new(kc, bootstrap, "cdc-agent-scan", es);
    if (!c)
        return CDC_ERR_KAFKA;
    cdc_err_t err = cdc_kafka_partition_count(cdc_consumer_handle(c), topic, 10000, &n, es);
    part_t *parts = cdc_xcalloc((size_t)n + 1, sizeof(part_t));
    int64_t *ends = cdc_xcalloc((size_t)n + 1, sizeof(int64_t));
    /* a tail is read as it stands: a data partition can hold a transaction a crashed broker
     * left without a marker, which only the producer's next write there ends */
    if (!err && n && !tail)
        err = cdc_consumer_log_ends(kc, bootstrap, topic, n, ends, 10000, es);
    for (int32_t i = 0; !err && i < n; i++) {
        int64_t low = 0;
        err = tail ? cdc_consumer_watermarks(c, topic, i, &low, &parts[i].high, 10000, es)
                   : wait_decided(c, topic, i, ends[i], &low, &parts[i].high, es);
        parts[i].done = parts[i].high <= low;
        if (!err && !parts[i].done) {
            err = cdc_consumer_assign(c, topic, i,
                                      tail > 0 && parts[i].high - tail > low
                                          ? parts[i].high - tail
                                          : RD_KAFKA_OFFSET_BEGINNING,
                                      es);
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

/*
 * The read_committed consumer of sinks, scans and commands: partitions assigned by hand (no group
 * rebalancing), positions from the caller, watermarks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/buf.h"
#include "cdc/clock.h"
#include "cdc/kafka.h"

struct cdc_consumer {
    rd_kafka_t *rk;
    rd_kafka_topic_partition_list_t *assignment;
    size_t taken;      /* bytes of records polled since the brokers were last woken */
    size_t wake_bytes; /* a quarter of librdkafka's queue of fetched records */
    int64_t woken_ms;
};

cdc_consumer_t *
cdc_consumer_new(const cdc_kafka_conf_t *kc, const char *bootstrap, const char *group_id,
                 cdc_errstr_t *es)
{
    return cdc_consumer_new_wait(kc, bootstrap, group_id, 10, es);
}

cdc_consumer_t *
cdc_consumer_new_wait(const cdc_kafka_conf_t *kc, const char *bootstrap, const char *group_id,
                      int fetch_wait_ms, cdc_errstr_t *es)
{
    rd_kafka_t *rk = cdc_kafka_reader_new_wait(kc, bootstrap, group_id, fetch_wait_ms, es);
    if (!rk)
        return NULL;
    rd_kafka_poll_set_consumer(rk);
    cdc_consumer_t *c = cdc_xcalloc(1, sizeof(*c));
    c->rk = rk;
    c->assignment = rd_kafka_topic_partition_list_new(8);
    char kb[32];
    size_t n = sizeof(kb);
    if (rd_kafka_conf_get(rd_kafka_conf(rk), "queued.max.messages.kbytes", kb, &n) ==
        RD_KAFKA_CONF_OK)
        c->wake_bytes = (size_t)strtoull(kb, NULL, 10) * 1024 / 4;
    return c;
}

void
cdc_consumer_free(cdc_consumer_t *c)
{
    if (!c)
        return;
    rd_kafka_consumer_close(c->rk);
    rd_kafka_topic_partition_list_destroy(c->assignment);
    rd_kafka_destroy(c->rk);
    free(c);
}

cdc_err_t
cdc_consumer_assign(cdc_consumer_t *c, const char *topic, int32_t partition, int64_t offset,
                    cdc_errstr_t *es)
{
    /* Incremental: re-assigning the whole set while partitions are still starting trips an
     * assertion in librdkafka 2.0.2 (rd_kafka_assignment_partition_stopped). */
    if (rd_kafka_topic_partition_list_find(c->assignment, topic, partition))
        return cdc_errstr_set(es, CDC_ERR_INVAL, "%s[%d] is already assigned", topic,
                              (int)partition);
    rd_kafka_topic_partition_list_add(c->assignment, topic, partition);
    rd_kafka_topic_partition_list_t *one = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(one, topic, partition)->offset = offset;
    rd_kafka_error_t *e = rd_kafka_incremental_assign(c->rk, one);
    rd_kafka_topic_partition_list_destroy(one);
    if (e) {
        cdc_errstr_set(es, CDC_ERR_KAFKA, "assign %s[%d]: %s", topic, (int)partition,
                       rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        return CDC_ERR_KAFKA;
    }
    return CDC_OK;
}

/* librdkafka 2.0 (Debian 12's) stops fetching from a broker once its queue of fetched records
 * holds queued.max.messages.kbytes, and looks again only when that broker's thread next wakes:
 * on I/O, on a request to send, or after up to a second; taking records off the queue does not
 * wake it (fetch.queue.backoff.ms, which bounds that wait, came with 2.3). Under a backlog that
 * second was most of the time: a sink with a 16 MB share drained 24k rows/s, 108k with 128 MB.
 * So each time the records taken make room for a quarter of the queue, and when the queue is
 * found empty after records were taken (at most every WAKE_MIN_MS), the consumer asks the
 * leaders of its partitions for their end offsets: the ListOffsets request, one a leader and
 * answered from the broker's memory, wakes each broker thread, which then sees the room and
 * fetches again. An idle consumer sends none. */
#define WAKE_MIN_MS 2
static void
wake_fetchers(cdc_consumer_t *c, const rd_kafka_message_t *m)
{
    if (m)
        c->taken += m->len + m->key_len;
    if (!c->taken || (m && c->taken < c->wake_bytes) || !c->assignment->cnt)
        return;
    int64_t now = cdc_mono_ms();
    if (now - c->woken_ms < WAKE_MIN_MS)
        return;
    c->taken = 0;
    c->woken_ms = now;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_copy(c->assignment);
    for (int i = 0; i < l->cnt; i++)
        l->elems[i].offset = RD_KAFKA_OFFSET_END;
    rd_kafka_offsets_for_times(c->rk, l, 1000);
    rd_kafka_topic_partition_list_destroy(l);
}

rd_kafka_message_t *
cdc_consumer_poll(cdc_consumer_t *c, int timeout_ms)
{
    rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, timeout_ms);
    wake_fetchers(c, m);
    return m;
}

/* A failed watermark query: what goes away by itself (a topic just created with its leader not
 * elected yet, a leader moving, a broker away) makes the caller connect again rather than fail. */
static cdc_err_t
watermark_error(const char *topic, int32_t partition, rd_kafka_resp_err_t e, cdc_errstr_t *es)
{
    cdc_err_t rc = cdc_kafka_classify_code(e);
    switch (e) {
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
        rc = CDC_ERR_CONNECT;
        break;
    default:
        break;
    }
    return cdc_errstr_set(es, rc, "watermarks of %s[%d]: %s", topic, (int)partition,
                          rd_kafka_err2str(e));
}

cdc_err_t
cdc_consumer_watermarks(cdc_consumer_t *c, const char *topic, int32_t partition, int64_t *low,
                        int64_t *high, int timeout_ms, cdc_errstr_t *es)
{
    rd_kafka_resp_err_t e =
        rd_kafka_query_watermark_offsets(c->rk, topic, partition, low, high, timeout_ms);
    return e ? watermark_error(topic, partition, e, es) : CDC_OK;
}

cdc_err_t
cdc_consumer_log_ends(const cdc_kafka_conf_t *kc, const char *bootstrap, const char *topic, int n,
                      int64_t *ends, int timeout_ms, cdc_errstr_t *es)
{
    rd_kafka_conf_t *conf = cdc_kafka_conf_new(kc, bootstrap, CDC_KAFKA_CONSUMER, es);
    if (!conf)
        return CDC_ERR_KAFKA;
    char errstr[256];
    if (cdc_kafka_conf_set(conf, "group.id", "cdc-agent-scan", es) ||
        cdc_kafka_conf_set(conf, "isolation.level", "read_uncommitted", es)) {
        rd_kafka_conf_destroy(conf);
        return CDC_ERR_KAFKA;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        return cdc_errstr_set(es, CDC_ERR_KAFKA, "kafka consumer: %s", errstr);
    }
    cdc_err_t err = CDC_OK;
    for (int32_t i = 0; !err && i < n; i++) {
        int64_t low = 0;
        rd_kafka_resp_err_t e =
            rd_kafka_query_watermark_offsets(rk, topic, i, &low, &ends[i], timeout_ms);
        if (e)
            err = watermark_error(topic, i, e, es);
    }
    rd_kafka_destroy(rk);
    return err;
}

rd_kafka_t *
cdc_consumer_handle(cdc_consumer_t *c)
{
    return c->rk;
}

/*
 * The read_committed consumer of sinks, scans and commands: partitions assigned by hand (no group
 * rebalancing), positions from the caller, watermarks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/buf.h"
#include "cdc/kafka.h"

struct cdc_consumer {
    rd_kafka_t *rk;
    rd_kafka_topic_partition_list_t *assignment;
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

rd_kafka_message_t *
cdc_consumer_poll(cdc_consumer_t *c, int timeout_ms)
{
    return rd_kafka_consumer_poll(c->rk, timeout_ms);
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

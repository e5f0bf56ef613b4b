/*
 * Topic and cluster settings read from a real Kafka cluster, and the rules they must meet
 * (include/cdc/kafka_topics.h).
 */
#include "cdc/kafka_topics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/topic.h"

#define ADMIN_TIMEOUT_MS 10000

/* DescribeConfigs of one resource; each entry goes to each(). Returns CDC_OK with *described
 * false (and the reason in *why) when the cluster does not answer it. */
static cdc_err_t
describe(rd_kafka_t *rk, rd_kafka_ResourceType_t type, const char *name,
         void (*each)(void *ctx, const char *name, const char *value), void *ctx, bool *described,
         rd_kafka_resp_err_t *why, cdc_errstr_t *es)
{
    char errstr[256];
    *described = false;
    *why = RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(type, name);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *opt = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
    rd_kafka_AdminOptions_set_request_timeout(opt, ADMIN_TIMEOUT_MS, errstr, sizeof(errstr));
    rd_kafka_DescribeConfigs(rk, &res, 1, opt, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, ADMIN_TIMEOUT_MS + 2000);
    cdc_err_t rc = CDC_OK;
    rd_kafka_resp_err_t e = ev ? rd_kafka_event_error(ev) : RD_KAFKA_RESP_ERR__TIMED_OUT;
    const rd_kafka_DescribeConfigs_result_t *r =
        ev ? rd_kafka_event_DescribeConfigs_result(ev) : NULL;
    size_t n = 0;
    const rd_kafka_ConfigResource_t **rs =
        r ? rd_kafka_DescribeConfigs_result_resources(r, &n) : NULL;
    if (!e && n == 1)
        e = rd_kafka_ConfigResource_error(rs[0]);
    if (!e && n == 1) {
        size_t nc = 0;
        const rd_kafka_ConfigEntry_t **cs = rd_kafka_ConfigResource_configs(rs[0], &nc);
        for (size_t i = 0; i < nc; i++) {
            const char *v = rd_kafka_ConfigEntry_value(cs[i]);
            each(ctx, rd_kafka_ConfigEntry_name(cs[i]), v ? v : "");
        }
        *described = true;
    } else if (e == RD_KAFKA_RESP_ERR__TRANSPORT || e == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
        rc = cdc_errstr_set(es, CDC_ERR_CONNECT, "describe %s: %s", name, rd_kafka_err2str(e));
    }
    /* anything else (unsupported by the mock, not authorized): not described */
    *why = e;
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_ConfigResource_destroy(res);
    rd_kafka_queue_destroy(q);
    return rc;
}

static int64_t
num(const char *v)
{
    return strtoll(v, NULL, 10);
}

static void
topic_entry(void *ctx, const char *name, const char *value)
{
    cdc_topic_info_t *ti = ctx;
    if (!strcmp(name, "cleanup.policy"))
        snprintf(ti->cleanup_policy, sizeof(ti->cleanup_policy), "%s", value);
    else if (!strcmp(name, "retention.ms"))
        ti->retention_ms = num(value);
    else if (!strcmp(name, "retention.bytes"))
        ti->retention_bytes = num(value);
    else if (!strcmp(name, "max.message.bytes"))
        ti->max_message_bytes = num(value);
    else if (!strcmp(name, "min.insync.replicas"))
        ti->min_isr = num(value);
}

cdc_err_t
cdc_kafka_topic_info(cdc_kafka_bus_t *bus, const char *topic, cdc_topic_info_t *out,
                     cdc_errstr_t *es)
{
    memset(out, 0, sizeof(*out));
    rd_kafka_t *rk = cdc_kafka_bus_client(bus, es);
    if (!rk)
        return CDC_ERR_KAFKA;
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, t, &md, ADMIN_TIMEOUT_MS);
    rd_kafka_topic_destroy(t);
    cdc_err_t rc = CDC_OK;
    if (e) {
        rc = cdc_errstr_set(es, CDC_ERR_CONNECT, "metadata of %s: %s", topic, rd_kafka_err2str(e));
    } else {
        if (md->topic_cnt == 1 && !md->topics[0].err) {
            out->partitions = md->topics[0].partition_cnt;
            out->replicas = out->partitions ? md->topics[0].partitions[0].replica_cnt : 0;
        }
        rd_kafka_metadata_destroy(md);
    }
    out->why_not = RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE;
    if (!rc && out->partitions && cdc_kafka_bus_has_admin(bus))
        rc = describe(rk, RD_KAFKA_RESOURCE_TOPIC, topic, topic_entry, out, &out->described,
                      &out->why_not, es);
    rd_kafka_destroy(rk);
    return rc;
}

static void
broker_entry(void *ctx, const char *name, const char *value)
{
    cdc_cluster_info_t *ci = ctx;
    if (!strcmp(name, "transaction.state.log.replication.factor"))
        ci->txn_replication = num(value);
    else if (!strcmp(name, "transaction.state.log.min.isr"))
        ci->txn_min_isr = num(value);
    else if (!strcmp(name, "min.insync.replicas"))
        ci->min_isr = num(value);
    else if (!strcmp(name, "auto.create.topics.enable"))
        ci->auto_create = !strcmp(value, "true");
}

cdc_err_t
cdc_kafka_cluster_info(cdc_kafka_bus_t *bus, cdc_cluster_info_t *out, cdc_errstr_t *es)
{
    memset(out, 0, sizeof(*out));
    rd_kafka_t *rk = cdc_kafka_bus_client(bus, es);
    if (!rk)
        return CDC_ERR_KAFKA;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, NULL, &md, ADMIN_TIMEOUT_MS);
    cdc_err_t rc = CDC_OK;
    char id[16] = "";
    if (e) {
        rc = cdc_errstr_set(es, CDC_ERR_CONNECT, "metadata: %s", rd_kafka_err2str(e));
    } else {
        out->brokers = md->broker_cnt;
        if (md->broker_cnt)
            snprintf(id, sizeof(id), "%d", (int)md->brokers[0].id);
        rd_kafka_metadata_destroy(md);
    }
    out->why_not = RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE;
    if (!rc && id[0] && cdc_kafka_bus_has_admin(bus)) {
        rc = describe(rk, RD_KAFKA_RESOURCE_BROKER, id, broker_entry, out, &out->described,
                      &out->why_not, es);
        if (out->why_not == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE) /* the mock: no Admin API */
            cdc_kafka_bus_set_no_admin(bus);
    }
    rd_kafka_destroy(rk);
    return rc;
}

cdc_err_t
cdc_kafka_topic_validate(const cdc_kafka_conf_t *kc, const char *topic, bool keep_latest,
                         const cdc_topic_info_t *ti, cdc_errstr_t *es)
{
    if (!ti->described)
        return CDC_OK;
    if (keep_latest) {
        bool compact_only = !strcmp(ti->cleanup_policy, "compact");
        bool forever = ti->retention_ms == -1 && ti->retention_bytes == -1;
        if (!compact_only && !forever)
            return cdc_errstr_set(
                es, CDC_ERR_CONFIG,
                "topic %s has cleanup.policy=%s, retention.ms=%lld, retention.bytes=%lld: it would "
                "lose the stored positions of an idle source. Set cleanup.policy=compact (alone) "
                "on it, e.g. kafka-configs.sh --alter --entity-type topics --entity-name %s "
                "--add-config cleanup.policy=compact",
                topic, ti->cleanup_policy, (long long)ti->retention_ms,
                (long long)ti->retention_bytes, topic);
    } else if (ti->max_message_bytes &&
               ti->max_message_bytes < kc->max_event_bytes + CDC_KAFKA_RECORD_OVERHEAD) {
        return cdc_errstr_set(es, CDC_ERR_CONFIG,
                              "topic %s takes records up to max.message.bytes=%lld, less than "
                              "kafka.max_event_bytes (%lld) plus %d for key and headers: raise it "
                              "to at least %lld, or lower max_event_bytes",
                              topic, (long long)ti->max_message_bytes,
                              (long long)kc->max_event_bytes, CDC_KAFKA_RECORD_OVERHEAD,
                              (long long)kc->max_event_bytes + CDC_KAFKA_RECORD_OVERHEAD);
    }
    if (ti->min_isr > ti->replicas)
        return cdc_errstr_set(es, CDC_ERR_CONFIG,
                              "topic %s has min.insync.replicas=%lld but %d replicas: no write "
                              "with acks=all can succeed. Lower min.insync.replicas to at most %d",
                              topic, (long long)ti->min_isr, ti->replicas, ti->replicas);
    return CDC_OK;
}

cdc_err_t
cdc_kafka_cluster_validate(const cdc_cluster_info_t *ci, cdc_buf_t *notes, cdc_errstr_t *es)
{
    if (!ci->described)
        return CDC_OK;
    if (ci->auto_create && notes)
        cdc_buf_printf(notes,
                       "auto.create.topics.enable=true: a topic missing when a client asks for "
                       "it is created with the broker defaults; the agent creates its own topics "
                       "(offsets and schemas compacted), so consider turning it off\n");
    if (ci->txn_replication > ci->brokers)
        return cdc_errstr_set(es, CDC_ERR_CONFIG,
                              "transaction.state.log.replication.factor=%lld is more than the %d "
                              "broker(s) of the cluster: no transaction can start. Set it to at "
                              "most %d on the brokers",
                              (long long)ci->txn_replication, ci->brokers, ci->brokers);
    if (ci->txn_min_isr > ci->brokers)
        return cdc_errstr_set(es, CDC_ERR_CONFIG,
                              "transaction.state.log.min.isr=%lld is more than the %d broker(s) "
                              "of the cluster: no transaction can commit. Set it to at most %d",
                              (long long)ci->txn_min_isr, ci->brokers, ci->brokers);
    if (ci->min_isr > ci->brokers)
        return cdc_errstr_set(es, CDC_ERR_CONFIG,
                              "min.insync.replicas=%lld (broker default) is more than the %d "
                              "broker(s): no write with acks=all can succeed",
                              (long long)ci->min_isr, ci->brokers);
    return CDC_OK;
}

cdc_err_t
cdc_source_table_topic(const cdc_config_t *cfg, const cdc_source_conf_t *src, size_t i,
                       cdc_buf_t *out, cdc_errstr_t *es)
{
    cdc_buf_reset(out);
    if (src->table_topics[i]) {
        cdc_buf_puts(out, src->table_topics[i]);
        return CDC_OK;
    }
    char schema[256];
    const char *table = cdc_config_split_table(src->tables[i], schema, sizeof(schema));
    return cdc_topic_for_table(out, cfg->kafka.topic_prefix, src->name, schema, table, es);
}

/*
 * What a real Kafka cluster says about the topics the agent uses and about itself, read through
 * metadata and the Admin API (DescribeConfigs), and the rules they must meet for exactly-once and
 * for stored positions to last:
 * - "<prefix>._offsets" and "<prefix>._schemas" never lose their latest record per key:
 *   cleanup.policy=compact alone, or retention.ms=-1 with retention.bytes=-1;
 * - data and dead-letter topics take the agent's largest record (max.message.bytes);
 * - min.insync.replicas of a topic is at most its replication factor (acks=all could never
 *   succeed otherwise);
 * - the transaction state log fits the cluster (its replication factor and min.isr at most the
 *   number of brokers), or no transaction can start.
 * The mock cluster has no DescribeConfigs: there the checks say they could not run.
 */
#ifndef CDC_KAFKA_TOPICS_H
#define CDC_KAFKA_TOPICS_H

#include <stdbool.h>
#include <stdint.h>

#include "cdc/buf.h"
#include "cdc/kafka.h"

typedef struct {
    int partitions;              /* 0: the topic does not exist */
    int replicas;                /* of its first partition */
    bool described;              /* the configs below were read */
    rd_kafka_resp_err_t why_not; /* when not: why (unsupported on the mock, not authorized...) */
    char cleanup_policy[64];
    int64_t retention_ms, retention_bytes, max_message_bytes, min_isr;
} cdc_topic_info_t;

typedef struct {
    int brokers;
    bool described; /* the configs below were read (from the first broker) */
    rd_kafka_resp_err_t why_not;
    int64_t txn_replication, txn_min_isr, min_isr;
    bool auto_create;
} cdc_cluster_info_t;

/* What the cluster says about topic. CDC_OK with described=false when it cannot describe configs
 * (the mock cluster); an error only when the cluster cannot be reached. */
cdc_err_t cdc_kafka_topic_info(cdc_kafka_bus_t *bus, const char *topic, cdc_topic_info_t *out,
                               cdc_errstr_t *es);
cdc_err_t cdc_kafka_cluster_info(cdc_kafka_bus_t *bus, cdc_cluster_info_t *out, cdc_errstr_t *es);

/* Checks topic against the rules above (keep_latest: an _offsets or _schemas topic). Returns
 * CDC_ERR_CONFIG with the problem and its fix in es; CDC_OK when it is fine or not described. */
cdc_err_t cdc_kafka_topic_validate(const cdc_kafka_conf_t *kc, const char *topic, bool keep_latest,
                                   const cdc_topic_info_t *ti, cdc_errstr_t *es);
/* Checks the cluster's transaction settings; notes (auto-creation on) go to notes, one line each
 * ending in '\n'. Returns CDC_ERR_CONFIG with the problem in es. */
cdc_err_t cdc_kafka_cluster_validate(const cdc_cluster_info_t *ci, cdc_buf_t *notes,
                                     cdc_errstr_t *es);

/* The data topic of table i of source src (its configured topic, or the contract's name). */
cdc_err_t cdc_source_table_topic(const cdc_config_t *cfg, const cdc_source_conf_t *src, size_t i,
                                 cdc_buf_t *out, cdc_errstr_t *es);

#endif

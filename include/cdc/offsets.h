/*
 * Source offset records (contract): one record per Kafka transaction in <prefix>._offsets, key =
 * source name, value = JSON with the position, epoch, snapshot progress and each topic's partition
 * count. Loading reads the topic up to its high watermark and keeps each source's last record.
 */
#ifndef CDC_OFFSETS_H
#define CDC_OFFSETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdc/buf.h"
#include "cdc/kafka.h"
#include "cdc/position.h"

typedef struct {
    char *topic;
    int partitions;
} cdc_topic_parts_t;

typedef struct cdc_offsets {
    bool found;
    bool reset; /* written by `source drop`: start over with a snapshot in epoch pos.epoch */
    cdc_pos_t pos;
    bool snapshot_done;
    uint64_t ack_token;
    char *progress; /* snapshot progress (JSON object text) or NULL */
    char *native;   /* the source's own resume point (JSON object text, e.g. binlog file, position
                       and GTIDs) or NULL */
    char *resnap;   /* the re-snapshot queue (JSON object text, include/cdc/watermark.h) or NULL */
    cdc_topic_parts_t *topics;
    size_t n_topics;
} cdc_offsets_t;

/* Appends the record value for source to out. */
void cdc_offsets_encode(cdc_buf_t *out, const char *source, const cdc_offsets_t *o);
/* Parses a record value; false when it is not an offsets record of version 1. */
bool cdc_offsets_decode(const char *p, size_t n, cdc_offsets_t *o);
void cdc_offsets_clear(cdc_offsets_t *o);
/* Reads topic (partition 0) to its high watermark and keeps source's last record in *o.
 * A missing topic means no stored offsets. */
cdc_err_t cdc_offsets_load(const cdc_kafka_conf_t *kc, const char *bootstrap, const char *topic,
                           const char *source, cdc_offsets_t *o, cdc_errstr_t *es);
/* Partition count stored for topic, or 0. */
int cdc_offsets_partitions(const cdc_offsets_t *o, const char *topic);

#endif

/*
 * The sink engine's state (agent/sink/sink.c), shared with agent/sink/sink_parts.c: partitions with
 * their offsets and re-send guard, the records in hand, the batch being applied.
 */
#ifndef CDC_SINK_STATE_H
#define CDC_SINK_STATE_H

#include "cdc/kafka.h"
#include "cdc/metrics.h"
#include "cdc/topic.h"
#include "sink_internal.h"

/* The route of a partition of the links topic (<prefix>._links): records of its routes with a
 * link_map. */
#define LINKS_ROUTE SIZE_MAX

typedef struct {
    char topic[CDC_TOPIC_MAX_LEN + 1];
    int32_t partition;
    size_t route;     /* index in the sink's routes, or LINKS_ROUTE */
    int64_t next;     /* next offset to apply */
    int64_t expected; /* what cdc_sink_offsets holds (-1: no row yet) */
    uint32_t epoch;   /* guard: last applied position */
    char pos[CDC_POS_STRLEN];
    const rd_kafka_topic_t *rkt; /* the consumer's handle of topic, once seen */
    int64_t polled;              /* next offset expected from the consumer */
    bool paused;
    bool eof;    /* the consumer reached the partition's end */
    int64_t end; /* where it did: past the transaction markers after the last record */
    /* held back between batches */
    int64_t wait_offset; /* a record that violated a constraint (-1: none) */
    int attempts;
    int64_t retry_at_ms;
    bool barrier; /* stopped at a truncate */
    bool stopped; /* its route stopped on a record it cannot apply (until the sink restarts) */
    char barrier_pos[CDC_POS_STRLEN];
    /* the batch being applied */
    bool touched, held;
    int64_t hand_max; /* the highest offset of its records in hand (-1: none) */
    size_t barrier_item;
    int64_t b_next;
    uint32_t b_epoch;
    char b_pos[CDC_POS_STRLEN];
} part_t;

/* A record polled and not applied yet: after a commit the ones below their partition's next
 * offset go, the ones a held-back partition did not reach stay for the next batch. */
typedef struct {
    rd_kafka_message_t *m;
    size_t part;
} item_t;

typedef struct {
    char schema[256];
    const char *table;
} route_target_t;

typedef struct {
    const cdc_config_t *cfg;
    const cdc_sink_conf_t *conf;
    const cdc_sink_ops_t *ops;
    cdc_sink_target_t *t;
    cdc_consumer_t *c;
    route_target_t *targets;
    part_t *parts;
    size_t n_parts;
    item_t *items;
    size_t n_items, cap_items;
    size_t n_ready;        /* items whose partition is not held back */
    size_t ready_bytes;    /* their records' bytes */
    size_t batch_bytes;    /* bytes that make a batch due: a quarter of the memory share */
    int64_t next_retry_ms; /* earliest retry of a held-back record (0: none) */
    size_t batch_limit;    /* records that make a batch due (batch_size, or less under a rate) */
    long long pace_rate;   /* the rate limit being kept, since pace_from_ms at pace_done records */
    int64_t pace_from_ms;
    uint64_t pace_done;
    cdc_arena_t arena;
    cdc_sink_grouper_t grouper;
    cdc_sink_dlq_t *dlq;
    const cdc_sink_opts_t *opts;
    cdc_metric_t *m_applied, *m_skipped, *m_dlq, *m_retried, *m_held, *m_batch, *m_lag, *m_up,
        *m_lag_s;
    cdc_sink_offset_t *moves; /* per partition: the offset moves of a batch */
    int64_t *moves_from;
    cdc_sink_stats_t *stats;
    uint64_t applied, skipped;    /* in the batch being applied */
    bool diverted;                /* the record just processed went to the DLQ or was held back */
    cdc_sink_resolver_t resolver; /* conflict checks (agent/sink/sink_conflict.c) */
    cdc_buf_t conflict_buf;       /* a conflict's record being built */
    bool *noted_before;           /* per route: said that its updates carry no before image */
    struct cdc_sink_tx *tx;       /* routes' transforms (agent/sink/sink_transform.c) */
    bool start_again; /* the target went back: this run ends, the next reads from its offsets */
    struct cdc_witness *witness; /* what the routes' sources committed (include/cdc/witness.h) */
    struct cdc_signer *signer;   /* kafka.signing_key set: records must carry its signature */
    cdc_metric_t **m_route_up;   /* per route: cdc_up{component="route"}, 0 once it stopped */
    int64_t witness_until; /* how long its records may wait for the offsets topic (0: not yet) */
} sink_t;

/* ---- transforms (agent/sink/sink_transform.c) ---- */

typedef struct cdc_sink_tx cdc_sink_tx_t;
/* ev through its route's transforms, in place (values copied into the batch's arena). An invalid
 * value under on_invalid dlq: CDC_ERR_INVAL (the record goes to the DLQ with es); under fail, or
 * a transform that does not fit the route's changes: CDC_ERR_CONFIG (the sink stops). */
cdc_err_t cdc_sink_transform(sink_t *s, size_t route, cdc_event_t *ev, cdc_errstr_t *es);
void cdc_sink_tx_free(sink_t *s);

/* ---- records linked across systems (agent/sink/sink_links.c) ---- */

/* A record of the links topic: applied to each route of the same map from the other system. */
cdc_err_t cdc_sink_link_record(sink_t *s, item_t *it, part_t *pt, cdc_errstr_t *es);
/* After a commit (and at start): sends the links cdc_id_map has not published yet to the links
 * topic, then marks them published. */
cdc_err_t cdc_sink_links_publish(sink_t *s, cdc_errstr_t *es);

/* ---- partitions and their offsets (agent/sink/sink_parts.c) ---- */

/* The partition of topic/partition, its index in *idx; NULL when the sink does not read it. */
part_t *cdc_sink_find_part(sink_t *s, const char *topic, int32_t partition, size_t *idx);
/* Every partition of the routes' topics at its stored offset (the low watermark when none); a
 * stored offset below the low watermark stops the sink. */
cdc_err_t cdc_sink_assign(sink_t *s, const cdc_sink_offsets_t *stored, cdc_errstr_t *es);
void cdc_sink_register_metrics(sink_t *s);
/* After a reconnect: the stored offsets are the truth (a swallowed commit went through; a target
 * that lost commits is consistent at older offsets, which are applied again). */
cdc_err_t cdc_sink_adopt_stored(sink_t *s, cdc_errstr_t *es);
/* The error of a partition whose stored offset lies past its log's end (a topic deleted and
 * created again): the sink stops naming the partition and the fix. */
cdc_err_t cdc_sink_past_end(sink_t *s, const part_t *pt, int64_t end, cdc_errstr_t *es);
/* ---- what a record's position is checked against (agent/sink/sink_witness.c) ---- */

/* The witness of the sink's routes' sources, reading <prefix>._offsets. */
struct cdc_witness *cdc_sink_witness_new(const cdc_config_t *cfg, const cdc_sink_conf_t *conf,
                                         const char *bootstrap);
/* Whether the event (at p) of partition pt may count: its source the topic's, its epoch not
 * before the partition's, its position one its source committed. CDC_ERR_DATA: to the DLQ with
 * es; CDC_ERR_KAFKA / TIMEOUT: the offsets topic could not be read or decided (retried). */
cdc_err_t cdc_sink_check_position(sink_t *s, const part_t *pt, const cdc_event_t *ev,
                                  const cdc_pos_t *p, cdc_errstr_t *es);
/* Replay: the partitions of opts start again at their offsets (backwards only), guard cleared. */
cdc_err_t cdc_sink_replay_rewind(sink_t *s, const cdc_sink_opts_t *opts, cdc_errstr_t *es);

#endif

/*
 * Pieces of the sink engine (agent/sink/sink.c) kept in their own files: mapping events through
 * routes (agent/sink/sink_route.c), grouping rows into multi-row statements
 * (agent/sink/sink_group.c) and the dead-letter topic (agent/sink/sink_dlq.c).
 */
#ifndef CDC_SINK_INTERNAL_H
#define CDC_SINK_INTERNAL_H

#include <librdkafka/rdkafka.h>

#include "cdc/buf.h"
#include "cdc/sink.h"

/* ---- routes (agent/sink/sink_route.c) -------------------------------------------------------- */

/* The topic a route reads: its override, or the contract's name for "source.schema.table". */
cdc_err_t cdc_sink_route_topic(const cdc_config_t *cfg, const cdc_route_conf_t *r, cdc_buf_t *out,
                               cdc_errstr_t *es);
/* Maps a row event (not a truncate) through route r into row, in arena memory; row->route,
 * schema and table are set by the caller. */
cdc_err_t cdc_sink_map_event(cdc_arena_t *arena, const cdc_route_conf_t *r, const cdc_event_t *ev,
                             cdc_sink_row_t *row, cdc_errstr_t *es);
/* Whether err means this one record can never apply (it goes to the DLQ). */
bool cdc_sink_err_record(cdc_err_t err);

/* ---- multi-row groups (agent/sink/sink_group.c) ---------------------------------------------- */

typedef struct {
    const cdc_sink_row_t **rows;
    size_t n, cap, max;
} cdc_sink_group_t;

/* Rows waiting to be applied, in groups a target applies in one statement each. A key is in at
 * most one group, so groups apply in any order without reordering changes to one key; with
 * foreign-key checks on, only the newest group takes rows, so changes also keep their order
 * across tables. */
typedef struct {
    cdc_sink_group_t *g;
    size_t n, cap;
    uint64_t *keys; /* hashes of pending (table, key); 0 = free slot */
    size_t n_keys, cap_keys;
    bool ordered;    /* foreign-key checks on */
    size_t max_rows; /* the sink's batch_size */
    const cdc_sink_resolver_t *res;
} cdc_sink_grouper_t;

/* res: the conflict check of routes with a policy (may be NULL). */
void cdc_sink_grouper_init(cdc_sink_grouper_t *gr, bool ordered, size_t max_rows,
                           const cdc_sink_resolver_t *res);
/* Adds row (kept by pointer until applied); first applies what is pending when the row's key is
 * already pending, its group is full, or (ordered) it belongs to another group than the newest. */
cdc_err_t cdc_sink_grouper_add(cdc_sink_grouper_t *gr, const cdc_sink_ops_t *ops,
                               cdc_sink_target_t *t, const cdc_sink_row_t *row, cdc_errstr_t *es);
/* Applies every pending group. */
cdc_err_t cdc_sink_grouper_flush(cdc_sink_grouper_t *gr, const cdc_sink_ops_t *ops,
                                 cdc_sink_target_t *t, cdc_errstr_t *es);
/* Forgets pending rows without applying them (the transaction was rolled back). */
void cdc_sink_grouper_reset(cdc_sink_grouper_t *gr);
void cdc_sink_grouper_deinit(cdc_sink_grouper_t *gr);

/* ---- conflicts (agent/sink/sink_conflict.c) ---------------------------------------------------
 */

/* The resolver (cdc_sink_resolver_t.fn) of a sink; ctx is its engine state. */
cdc_err_t cdc_sink_resolve(void *ctx, cdc_sink_table_t *tt, const char *const *types,
                           const cdc_sink_row_t **rows, size_t *n, cdc_errstr_t *es);

/* The resolver's ambiguous (cdc_sink_resolver_t): a conflict record for a new record whose
 * match_on values fit several unlinked rows. */
void cdc_sink_ambiguous(void *ctx, const cdc_sink_row_t *row, long candidates);

/* ---- dead-letter topic (agent/sink/sink_dlq.c) ----------------------------------------------- */

typedef struct cdc_sink_dlq cdc_sink_dlq_t;

/* The DLQ of sink conf: "<topic_prefix>._dlq.<sink>", written through its own transactional
 * producer (created when first needed). */
cdc_sink_dlq_t *cdc_sink_dlq_new(const cdc_config_t *cfg, const cdc_sink_conf_t *conf,
                                 const char *bootstrap);
/* Queues a copy of record m with the reason it failed and how often it was tried. */
void cdc_sink_dlq_add(cdc_sink_dlq_t *d, const rd_kafka_message_t *m, const char *reason,
                      int attempts);
/* Queues the record of a conflict of route (json, about record m, keyed like it) for
 * "<topic_prefix>._conflicts", sent in the same transaction as the DLQ's; incoming: whether the
 * incoming change won. */
void cdc_sink_dlq_conflict(cdc_sink_dlq_t *d, const rd_kafka_message_t *m, const char *json,
                           size_t n, const char *route, bool incoming);
/* Queues a link (json) for "<topic_prefix>._links" under key. */
void cdc_sink_dlq_link(cdc_sink_dlq_t *d, const char *key, const char *json, size_t n);
/* How many records are queued; cdc_sink_dlq_drop_from forgets the ones queued after that (a row
 * rolled back to its savepoint). */
size_t cdc_sink_dlq_queued(const cdc_sink_dlq_t *d);
void cdc_sink_dlq_drop_from(cdc_sink_dlq_t *d, size_t n);
/* After the target committed the batch: counts and logs its conflicts
 * (cdc_sink_conflicts_total{sink,route,resolution}). */
void cdc_sink_dlq_committed(cdc_sink_dlq_t *d);
/* Records queued for the DLQ (conflict records not counted). */
size_t cdc_sink_dlq_pending(const cdc_sink_dlq_t *d);
/* Delivers the queued records in one Kafka transaction and returns once it committed. */
cdc_err_t cdc_sink_dlq_send(cdc_sink_dlq_t *d, cdc_errstr_t *es);
/* Drops the queued records (the batch that queued them is tried again). */
void cdc_sink_dlq_clear(cdc_sink_dlq_t *d);
const char *cdc_sink_dlq_topic(const cdc_sink_dlq_t *d);
void cdc_sink_dlq_free(cdc_sink_dlq_t *d);

#endif

/*
 * The sinks' offsets in the target database (contract, docs/design.md "Exactly-once-style
 * offsets"): cdc_sink_offsets(sink, topic, partition, next_offset, epoch, source_pos). A sink moves
 * its rows inside the same target transaction that applies the records, with a conditional update
 * (WHERE next_offset = <expected>): no row moved means another instance took over (fenced), and
 * the caller rolls back and stops. On start a sink seeks to the stored offsets and skips re-sent
 * records at or below source_pos within the same epoch.
 */
#ifndef CDC_SINK_OFFSETS_H
#define CDC_SINK_OFFSETS_H

#include <stddef.h>
#include <stdint.h>

#include "cdc/err.h"
#include "cdc/position.h"

/* MySQL / MariaDB targets: a sink's first statement in each transaction it applies adds 1 to its
 * row here (id: its applied_mark), so that a binlog reader of the same agent cluster knows the
 * transaction and skips it (no echo). */
#define CDC_SINK_TXN_TABLE "cdc_sink_txn"
/* Records linked across systems (routes with link): map, source, source_key, target_key,
 * published (the pair was sent back to the source's side). */
#define CDC_ID_MAP_TABLE "cdc_id_map"
/* The pairs not sent back yet (the map's value, the source condition and a LIMIT follow). */
#define CDC_ID_MAP_PENDING_SQL                                                                     \
    "SELECT map, source, source_key, target_key FROM " CDC_ID_MAP_TABLE                            \
    " WHERE NOT published AND target_key IS NOT NULL AND map = "

typedef struct {
    char topic[256];
    int32_t partition;
    int64_t next_offset;             /* the next record to apply */
    uint32_t epoch;                  /* of source_pos */
    char source_pos[CDC_POS_STRLEN]; /* last applied position ("" when none) */
} cdc_sink_offset_t;

typedef struct {
    cdc_sink_offset_t *v;
    size_t n;
} cdc_sink_offsets_t;

void cdc_sink_offsets_free(cdc_sink_offsets_t *o);
/* The stored offset of topic/partition, or NULL. */
const cdc_sink_offset_t *cdc_sink_offsets_find(const cdc_sink_offsets_t *o, const char *topic,
                                               int32_t partition);

/* For the targets: checks that every move goes forward (CDC_ERR_INVAL) and counts the rows that
 * exist (expected >= 0). */
cdc_err_t cdc_sink_offsets_check_moves(const char *sink, const cdc_sink_offset_t *next,
                                       const int64_t *expected, size_t n, size_t *existing,
                                       cdc_errstr_t *es);
/* CDC_ERR_FENCED for a move of n_rows existing rows of which fewer moved; names the first. */
cdc_err_t cdc_sink_offsets_fenced(const char *sink, const cdc_sink_offset_t *next,
                                  const int64_t *expected, size_t n, cdc_errstr_t *es);

#endif

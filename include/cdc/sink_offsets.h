/*
 * The sinks' offsets in the target database (contract, DESIGN "Exactly-once-style offsets"):
 * cdc_sink_offsets(sink, topic, partition, next_offset, epoch, source_pos). A sink moves its rows
 * inside the same target transaction that applies the records, with a conditional update
 * (WHERE next_offset = <expected>): no row moved means another instance took over (fenced), and
 * the caller rolls back and stops. On start a sink seeks to the stored offsets and skips re-sent
 * records at or below source_pos within the same epoch.
 */
#ifndef CDC_SINK_OFFSETS_H
#define CDC_SINK_OFFSETS_H

#include <stddef.h>
#include <stdint.h>

#include "cdc/err.h"
#include "cdc/mysql.h"
#include "cdc/pg.h"
#include "cdc/position.h"

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

/* PostgreSQL target: creates the table when missing (CREATE on the schema needed). */
cdc_err_t cdc_pg_sink_offsets_ensure(PGconn *c, cdc_errstr_t *es);
/* Every stored offset of sink. */
cdc_err_t cdc_pg_sink_offsets_load(PGconn *c, const char *sink, cdc_sink_offsets_t *out,
                                   cdc_errstr_t *es);
/* Inside the caller's transaction: moves the rows of next[i].topic/partition from expected[i]
 * (-1: no row yet) to next[i] (next_offset > expected), the existing rows in one statement.
 * CDC_ERR_FENCED when a row is not at its expected offset: another instance of the sink moved
 * it. */
cdc_err_t cdc_pg_sink_offsets_move(PGconn *c, const char *sink, const cdc_sink_offset_t *next,
                                   const int64_t *expected, size_t n, cdc_errstr_t *es);

/* Sets the rows of next[0..n) as given, inserting missing ones (replay rewinds partitions). */
cdc_err_t cdc_pg_sink_offsets_set(PGconn *c, const char *sink, const cdc_sink_offset_t *next,
                                  size_t n, cdc_errstr_t *es);

/* The same for a MySQL / MariaDB target (in the connection's current database). */
cdc_err_t cdc_mysql_sink_offsets_ensure(MYSQL *m, cdc_errstr_t *es);
cdc_err_t cdc_mysql_sink_offsets_load(MYSQL *m, const char *sink, cdc_sink_offsets_t *out,
                                      cdc_errstr_t *es);
cdc_err_t cdc_mysql_sink_offsets_move(MYSQL *m, const char *sink, const cdc_sink_offset_t *next,
                                      const int64_t *expected, size_t n, cdc_errstr_t *es);
cdc_err_t cdc_mysql_sink_offsets_set(MYSQL *m, const char *sink, const cdc_sink_offset_t *next,
                                     size_t n, cdc_errstr_t *es);

/* For the targets: checks that every move goes forward (CDC_ERR_INVAL) and counts the rows that
 * exist (expected >= 0). */
cdc_err_t cdc_sink_offsets_check_moves(const char *sink, const cdc_sink_offset_t *next,
                                       const int64_t *expected, size_t n, size_t *existing,
                                       cdc_errstr_t *es);
/* CDC_ERR_FENCED for a move of n_rows existing rows of which fewer moved; names the first. */
cdc_err_t cdc_sink_offsets_fenced(const char *sink, const cdc_sink_offset_t *next,
                                  const int64_t *expected, size_t n, cdc_errstr_t *es);

#endif

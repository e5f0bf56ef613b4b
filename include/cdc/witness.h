/*
 * What the sources have committed, as their offset records in <prefix>._offsets say: a sink
 * checks each event's position against it before the position can move its re-send guard. A
 * record anyone could write to a data topic is not the source's word on where it has been; the
 * offset record of the Kafka transaction that carried a real change commits with it, and holds a
 * position at or past that change's.
 *
 * Judging (pure, unit-tested): a position in a source's latest epoch must be at or below the
 * latest position it committed; in an older epoch whose offset records are still in the topic,
 * at or below the highest of them; an older epoch compaction removed is accepted (the source did
 * run in it); a newer epoch than any committed is refused, as is a source with no offset record.
 */
#ifndef CDC_WITNESS_H
#define CDC_WITNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdc/err.h"
#include "cdc/kafka.h"
#include "cdc/position.h"

typedef struct cdc_witness cdc_witness_t;

/* A witness of the sources named in sources[0..n) (others' offset records are not kept). With
 * kc/bootstrap/topic it reads topic (partition 0) when asked to catch up; without (NULL kc),
 * only what cdc_witness_note tells it is known. */
cdc_witness_t *cdc_witness_new(const cdc_kafka_conf_t *kc, const char *bootstrap, const char *topic,
                               const char *const *sources, size_t n);
void cdc_witness_free(cdc_witness_t *w);
/* An offset record of source (key bytes) committed at pos. */
void cdc_witness_note(cdc_witness_t *w, const char *source, size_t len, const cdc_pos_t *pos);
/* Whether source could have produced p; false with why (a sentence) when not. */
bool cdc_witness_judge(const cdc_witness_t *w, const char *source, const cdc_pos_t *p, char *why,
                       size_t why_len);
/* Reads the offset records committed since the last catch-up, up to the topic's current end.
 * CDC_ERR_KAFKA / CDC_ERR_TIMEOUT when the topic could not be read. */
cdc_err_t cdc_witness_catch_up(cdc_witness_t *w, cdc_errstr_t *es);
/* Whether the topic holds records past what a catch-up can read yet: a transaction still open
 * there (another source's in flight, or one a stopped instance left) hides every later offset
 * record from a read_committed reader until it ends. open_at: where it begins. */
cdc_err_t cdc_witness_undecided(cdc_witness_t *w, bool *undecided, int64_t *open_at,
                                cdc_errstr_t *es);
/* Waits up to timeout_ms for offset records newer than those read and reads what came (a real
 * broker answers the waiting fetch as soon as a commit makes them readable). */
cdc_err_t cdc_witness_wait(cdc_witness_t *w, int timeout_ms, cdc_errstr_t *es);

#endif

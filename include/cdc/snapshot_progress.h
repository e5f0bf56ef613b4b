/*
 * Progress of a source's initial snapshot, for the operator: a log line every few seconds (rows
 * read of the estimate, rate, ETA, the table being read) and metrics (rows read, the estimate,
 * tables remaining). Both sources feed it from their snapshot loops.
 */
#ifndef CDC_SNAPSHOT_PROGRESS_H
#define CDC_SNAPSHOT_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

#include "cdc/metrics.h"

typedef struct {
    const char *source;
    uint64_t rows, estimated; /* estimated: the catalog's row counts (0 = unknown) */
    size_t tables, tables_done;
    int64_t started_ms, logged_ms, every_ms;
    cdc_metric_t *m_rows, *m_estimated, *m_remaining;
} cdc_snap_progress_t;

/* Starts following a snapshot of `tables` tables of about `estimated` rows; source is borrowed
 * for the life of p. Source thread. */
void cdc_snap_progress_init(cdc_snap_progress_t *p, const char *source, size_t tables,
                            uint64_t estimated);
/* n more rows read of table; logs the progress when the last line is 5 s old. */
void cdc_snap_progress_rows(cdc_snap_progress_t *p, const char *table, uint64_t n);
/* A table is read entirely. */
void cdc_snap_progress_table_done(cdc_snap_progress_t *p);

#endif

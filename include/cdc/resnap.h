/*
 * Snapshots while streaming (the DBLog / incremental-snapshot algorithm), the part both sources
 * share (docs/design.md "Snapshots"): completing an interrupted initial snapshot table by table,
 * then the re-snapshot queue (cdc/watermark.h), one chunk at a time between a low and a high
 * watermark. The driver decides which table and chunk come next, writes the watermarks through
 * the source, and at the high watermark has the source emit the chunk's unchanged rows and moves
 * on, preparing the progress that commits with that transaction. What a watermark is, how a chunk
 * is read and what identifies a row stay with each source (its ops).
 */
#ifndef CDC_RESNAP_H
#define CDC_RESNAP_H

#include <stdbool.h>
#include <stddef.h>

#include "cdc/err.h"
#include "cdc/watermark.h"

typedef struct {
    /* Opens table ordinal of the source's config for chunked reads; progress: a stored position
     * (cdc/chunk_pos.h text) to continue after, or NULL for the table's start. */
    cdc_err_t (*open)(void *src, size_t ordinal, const char *progress, cdc_errstr_t *es);
    void (*close)(void *src);
    /* Writes a watermark with label (cdc_wm_label) into the source's own stream. */
    cdc_err_t (*watermark)(void *src, const char *label, cdc_errstr_t *es);
    /* Reads the open table's next chunk and keeps it until chunk_free. */
    cdc_err_t (*read)(void *src, cdc_errstr_t *es);
    /* At the high watermark: emits the kept chunk's rows whose identity the stream did not
     * change meanwhile (cdc_wm_changed), as phase-2 reads. */
    cdc_err_t (*emit)(void *src, cdc_errstr_t *es);
    /* The kept chunk's rows (0: none), and whether they exhaust the open table. */
    size_t (*chunk_rows)(void *src, bool *exhausted);
    /* The table goes on: remembers the chunk's last key to continue after and returns the stored
     * position after it (malloc'ed cdc/chunk_pos.h text). */
    char *(*chunk_end)(void *src);
    void (*chunk_free)(void *src);
} cdc_resnap_ops_t;

typedef struct {
    cdc_wm_t wm;
    const cdc_resnap_ops_t *ops;
    void *src;
    const cdc_source_conf_t *conf;
    size_t n_tables; /* of the initial snapshot */
    size_t ordinal;  /* the table being read */
    bool table_open; /* the source has it open */
    char *resume;    /* the initial snapshot's stored progress, for its first table */
} cdc_resnap_t;

/* Prepares the driver of a source (src) of conf: the queue from the stored "resnapshot" object
 * (NULL: none), tables added to conf queued when snapshot is true. */
void cdc_resnap_init(cdc_resnap_t *r, const cdc_resnap_ops_t *ops, void *src,
                     const cdc_source_conf_t *conf, const char *stored, bool snapshot);
/* Completes the initial snapshot of n_tables tables first, at table ordinal from its stored
 * progress (NULL: that table's start). Either call may come first. */
void cdc_resnap_start_initial(cdc_resnap_t *r, size_t n_tables, size_t ordinal,
                              const char *progress);
/* When no chunk is in flight: opens the next table if needed, writes the low watermark, reads a
 * chunk and writes the high watermark. */
cdc_err_t cdc_resnap_step(cdc_resnap_t *r, cdc_errstr_t *es);
/* A watermark's text read back from the stream: at this run's high watermark of the chunk, emits
 * the chunk and moves past it. */
cdc_err_t cdc_resnap_watermark_read(cdc_resnap_t *r, const char *text, size_t len,
                                    cdc_errstr_t *es);
void cdc_resnap_free(cdc_resnap_t *r);

#endif

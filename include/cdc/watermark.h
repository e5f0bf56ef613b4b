/*
 * Bookkeeping of a snapshot completed chunk by chunk between watermarks (DESIGN "Snapshots"),
 * shared by the sources: the chunk in flight, the keys changed in the stream between its low and
 * high watermark (those rows are dropped from the chunk: the stream carries them), and what the
 * high watermark's commit carries (progress, completion). How watermarks are written and read
 * back, and what a key is, stay with each source.
 */
#ifndef CDC_WATERMARK_H
#define CDC_WATERMARK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdc/source.h"

typedef struct {
    bool active;    /* completing a snapshot */
    uint64_t nonce; /* this run's: watermarks of earlier runs, replayed from the log, never match */
    uint32_t seq;   /* watermark number of the current chunk */
    bool in_flight; /* its watermarks are written; the high one is not read back yet */
    bool low_seen;  /* its low watermark was read back: changes are tracked */
    char **changed; /* keys changed since the low watermark */
    size_t n_changed, cap_changed;
    bool sorted;
    bool commit_pending; /* the high watermark's transaction emitted the chunk */
    char *progress;      /* the progress its commit carries (NULL when finished) */
    bool finished;
} cdc_wm_t;

/* Starts completing a snapshot with a fresh nonce. */
void cdc_wm_start(cdc_wm_t *w);
/* The text a watermark of the current chunk carries: "K:nonce:seq". */
void cdc_wm_label(const cdc_wm_t *w, char kind, char *out, size_t size);
/* A watermark's text read back from the stream: true when it is this run's high watermark of the
 * current chunk after its low one, and the chunk is to be emitted (see cdc_wm_seen). */
bool cdc_wm_read(cdc_wm_t *w, const char *text, size_t len);
/* A new chunk: the next watermark number, nothing tracked. */
void cdc_wm_next(cdc_wm_t *w);
/* Whether a change read from the stream now is tracked (between our two watermarks). */
static inline bool
cdc_wm_tracking(const cdc_wm_t *w)
{
    return w->in_flight && w->low_seen;
}
/* Records a changed key (takes the malloc'ed text). */
void cdc_wm_track(cdc_wm_t *w, char *key);
/* Whether key changed between the watermarks. */
bool cdc_wm_changed(cdc_wm_t *w, const char *key);
/* A watermark of this run read back from the stream (kind 'L' or 'H', its number): true at the
 * current chunk's high watermark after its low one, when the chunk is to be emitted (tracking
 * stops). */
bool cdc_wm_seen(cdc_wm_t *w, char kind, uint32_t seq);
/* After the chunk was emitted: the progress to commit with it (taken; NULL when finished). */
void cdc_wm_done(cdc_wm_t *w, char *progress, bool finished);
/* At a commit: fills progress / snapshot_done; true when this commit must reach the agent. */
bool cdc_wm_commit_info(cdc_wm_t *w, const char *source, cdc_txn_info_t *info);
void cdc_wm_free(cdc_wm_t *w);

#endif

/*
 * Bookkeeping of a snapshot completed chunk by chunk between watermarks (docs/design.md
 * "Snapshots"), shared by the sources: the chunk in flight, the keys changed in the stream between
 * its low and high watermark (those rows are dropped from the chunk: the stream carries them), and
 * what the high watermark's commit carries (progress, completion). How watermarks are written and
 * read back, and what a key is, stay with each source.
 *
 * Two kinds of work go through it: completing an interrupted initial snapshot (tables in config
 * order, progress in the offset record's snapshot_progress), then the re-snapshot queue: tables
 * asked for by `cdc-agent snapshot` (a request written into the stream, so it is read in order
 * and survives restarts) and tables added to the source's config. The queue, the last finished
 * requests and the tables the source's snapshots cover travel in the offset record's
 * "resnapshot" object, committed with the transaction that changed them.
 */
#ifndef CDC_WATERMARK_H
#define CDC_WATERMARK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdc/source.h"

/* A table waiting for (or in) its re-snapshot. */
typedef struct {
    char *table;    /* as written in the source's config */
    char *id;       /* the request's id; "" for a table added to the config */
    uint64_t rows;  /* rows read so far */
    char *progress; /* the source's progress inside the table (JSON object), NULL at its start */
    bool cancelled; /* the head table stops after the chunk being read */
} cdc_wm_item_t;

/* The error of a request cancelled by the operator. */
#define CDC_WM_CANCELLED "cancelled by the operator"

/* A finished (or refused) request, kept so `cdc-agent snapshot` can see its outcome. */
typedef struct {
    char *id, *table;
    uint64_t rows;
    char *error; /* why it was refused, or NULL */
} cdc_wm_done_t;

#define CDC_WM_KEEP_DONE 8
#define CDC_WM_MAX_QUEUE 16
#define CDC_WM_STATE_MAX 16000 /* the encoded queue fits the offset record's slot */

typedef struct {
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
    /* the re-snapshot queue */
    bool initial; /* the initial snapshot is completed first (the source's own progress) */
    cdc_wm_item_t *queue;
    size_t n_queue;
    cdc_wm_done_t done[CDC_WM_KEEP_DONE];
    size_t n_done;
    char **tables; /* the tables the source's snapshots cover */
    size_t n_tables;
    bool tables_omitted; /* too many to list in the offset record */
    bool dirty;          /* the queue changed: the next commit carries it */
    bool urgent;         /* ... and a commit is due for it even without events (a request) */
    char *state;         /* what that commit carries */
} cdc_wm_t;

/* Whether there is snapshot work: the initial snapshot to complete, or tables queued. */
static inline bool
cdc_wm_active(const cdc_wm_t *w)
{
    return w->initial || w->n_queue > 0;
}
/* Starts completing the initial snapshot with a fresh nonce. */
void cdc_wm_start(cdc_wm_t *w);
/* At open: a fresh nonce and the queue of the stored "resnapshot" object (NULL: none). Tables of
 * conf missing from the stored covered set are queued (added to the config) when snapshot is
 * true; tables no longer in conf leave the queue. */
void cdc_wm_restore(cdc_wm_t *w, const char *stored, const cdc_source_conf_t *conf, bool snapshot);
/* A request read from the stream: queues table (false and a refusal in the done list when it is
 * not one of conf's tables or the queue is full). */
bool cdc_wm_request(cdc_wm_t *w, const cdc_source_conf_t *conf, const char *table, const char *id);
/* A request of `cdc-agent snapshot` as read from the stream (its JSON text: {"id", "snapshot":
 * table, "source"}): queued with cdc_wm_request when it names this source; unreadable text is
 * logged and ignored. A cancel request goes to cdc_wm_cancel. */
void cdc_wm_request_text(cdc_wm_t *w, const cdc_source_conf_t *conf, const char *text, size_t len);
/* A cancel request (its JSON text: {"cancel": id, "source"}, read from the stream like a
 * request): a queued table leaves the queue, the one being read stops after its chunk; both are
 * reported done with CDC_WM_CANCELLED. An id not queued changes nothing. */
void cdc_wm_cancel(cdc_wm_t *w, const char *source, const char *id);
/* The table the queue reads next (its index in conf->tables), or -1 when the queue is empty or
 * the initial snapshot comes first. */
long cdc_wm_head(const cdc_wm_t *w, const cdc_source_conf_t *conf);
/* After a chunk of the head table: rows read, and the progress inside it (taken), or NULL when
 * the table is done. */
void cdc_wm_head_advance(cdc_wm_t *w, const char *source, uint64_t rows, char *progress);
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
/* Whether the transaction being committed must reach the agent even without events: it emitted a
 * chunk, or the queue changed (a request read from it). */
static inline bool
cdc_wm_must_commit(const cdc_wm_t *w)
{
    return w->commit_pending || w->urgent;
}
/* At a commit that reaches the agent: fills progress / snapshot_done / resnap and takes them. */
void cdc_wm_commit_info(cdc_wm_t *w, const char *source, cdc_txn_info_t *info);
/* The encoded queue when a commit must carry it (taken), else NULL: for commits outside the
 * stream (the initial snapshot's last unit, a first start's position). */
const char *cdc_wm_state(cdc_wm_t *w, const char *source);
void cdc_wm_free(cdc_wm_t *w);

#endif

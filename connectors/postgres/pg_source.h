/*
 * Private state of the PostgreSQL source, shared by pg_source.c (open, stream, ack, close) and
 * pg_snapshot.c (the initial snapshot in the slot's exported snapshot).
 */
#ifndef CDC_PG_SOURCE_H
#define CDC_PG_SOURCE_H

#include <stdatomic.h>

#include "cdc/clock.h"
#include "cdc/metrics.h"
#include "cdc/chunk_pos.h"
#include "cdc/resnap.h"
#include "pg_xsnap.h"
#include "cdc/watermark.h"
#include "pg_internal.h"

/* ---- table scans (pg_scan.c) ---- */
#define PG_SCAN_CHUNK_ROWS 10000
typedef struct {
    cdc_source_t *s;
    PGconn *conn;
    size_t ordinal;         /* index of the table in the source's config */
    cdc_pgo_relation_t rel; /* built from the result columns */
    pg_relmeta_t meta;
    cdc_buf_t from;  /* "schema"."table" */
    cdc_buf_t order; /* "k1", "k2" */
    cdc_pgo_col_t *cols;
} pg_scan_t;

/* Describes the table (columns, types, key) and announces its schema to the agent. */
cdc_err_t pg_scan_open(pg_scan_t *sc, cdc_source_t *s, PGconn *conn, size_t ordinal,
                       cdc_errstr_t *es);
/* Up to PG_SCAN_CHUNK_ROWS rows after the key values in after (NULL: from the start). */
cdc_err_t pg_scan_chunk(pg_scan_t *sc, const char *const *after, PGresult **out, cdc_errstr_t *es);
/* The chunk after *last (the first when *last is NULL), which it replaces (after: n_key slots). */
cdc_err_t pg_scan_next(pg_scan_t *sc, PGresult **last, const char **after, cdc_errstr_t *es);
/* The key text values of a row (n_key pointers into r). */
void pg_scan_key(const pg_scan_t *sc, PGresult *r, int row, const char **out);
/* Builds row of r as an insert (op r at snapshot phases) and passes it to emit. */
cdc_err_t pg_scan_emit_row(pg_scan_t *sc, pg_txn_t *txn, PGresult *r, int row, pg_emit_fn emit,
                           void *ctx, cdc_errstr_t *es);
/* Progress after a chunk (cdc/chunk_pos.h text, caller frees): the next table when done, else the
 * last key read. */
char *pg_scan_progress(const pg_scan_t *sc, PGresult *last, bool table_done);
void pg_scan_close(pg_scan_t *sc);
/* The catalog's row count of a configured "schema.table" (reltuples; 0 for one never analyzed). */
uint64_t pg_estimate_rows(PGconn *conn, const char *table);

/* ---- resuming an interrupted initial snapshot (pg_resnap.c) ---- */
typedef struct {
    cdc_resnap_t drv;    /* the shared driver: table, queue, watermarks (changed keys: key_text) */
    cdc_chunk_pos_t at;  /* the table and the last key read (text values; none: its start) */
    pg_scan_t scan;      /* the open table (drv.table_open) */
    PGresult *rows;      /* the chunk read between the watermarks (NULL: none) */
    cdc_pg_xsnap_t snap; /* the snapshot it was read in, when rows is set */
    cdc_pg_recent_t recent; /* the transactions read from the stream before it */
} pg_resnap_t;

struct cdc_source {
    const cdc_source_conf_t *conf;
    cdc_source_resume_t resume;
    PGconn *repl;    /* replication=database */
    PGconn *catalog; /* catalog lookups and heartbeats */
    cdc_pgo_decoder_t *dec;
    pg_typecache_t *types;
    pg_builder_t builder;
    pg_relmeta_t *metas;
    size_t n_metas, cap_metas;
    uint32_t epoch;
    char dbname[128];
    /* snapshot */
    bool snapshot_due;
    char snapshot_name[64];
    uint64_t consistent_point;
    /* stream */
    bool streaming;
    bool committed; /* a transaction reached the agent during this poll */
    pg_txn_t txn;
    bool in_txn;
    bool applied; /* the transaction's origin is a sink of this agent cluster: not published */
    cdc_emitter_t emit; /* its delivered: events of the current txn handed to the agent */
    uint64_t received;  /* highest WAL position received */
    _Atomic uint64_t acked;
    int wake_fd; /* eventfd: an acknowledgement arrived (feedback goes out without waiting) */
    uint64_t sent_flush;
    int64_t last_status_us, last_data_us, last_heartbeat_us, last_metrics_us;
    cdc_metric_t *m_retained, *m_lag_bytes; /* the slot's retained WAL, what is not acked */
    const cdc_source_cb_t *cb;
    void *ctx;
    pg_resnap_t resnap;
};

/* Starts completing the snapshot from stored progress (JSON of pg_scan_progress). */
cdc_err_t pg_resnap_start(cdc_source_t *s, const char *progress, cdc_errstr_t *es);
/* The stored re-snapshot queue, with the tables added to the config since. */
void pg_resnap_restore(cdc_source_t *s);
/* Between receives: writes the watermarks around the next chunk when none is in flight. */
cdc_err_t pg_resnap_step(cdc_source_t *s, cdc_errstr_t *es);
/* A change of the table being read, between the watermarks: its key is dropped from the chunk. */
void pg_resnap_track(cdc_source_t *s, const pg_relmeta_t *meta, const cdc_pgo_msg_t *m);
/* A transaction read from the stream (its Begin). */
void pg_resnap_txn(cdc_source_t *s, uint32_t xid);
/* A logical message: at our high watermark the chunk's rows are emitted. */
cdc_err_t pg_resnap_message(cdc_source_t *s, const cdc_pgo_msg_t *m, cdc_errstr_t *es);
/* At a commit that reaches the agent: fills progress / snapshot_done / the re-snapshot queue. */
void pg_resnap_commit_info(cdc_source_t *s, cdc_txn_info_t *info);
void pg_resnap_free(cdc_source_t *s);
/* Whether the transaction being read was stored before a restart (re-read from the slot). */
bool pg_txn_stored(const cdc_source_t *s);
/* Hands an event to the agent (skipping what was published before a restart). */
cdc_err_t pg_source_emit(void *ctx, const cdc_event_t *ev);
/* The current transaction's begin (s->emit's begin_info). */
void pg_source_begin_info(void *src, cdc_txn_info_t *out);

/* Schema callback for a relation, filling meta->sv. */
cdc_err_t pg_announce_schema(cdc_source_t *s, pg_relmeta_t *meta, cdc_errstr_t *es);
cdc_err_t pg_stream_poll(cdc_source_t *s, int timeout_ms, const cdc_source_cb_t *cb, void *ctx,
                         cdc_errstr_t *es);
void pg_stream_ack(cdc_source_t *s, uint64_t token);
cdc_err_t pg_snapshot_run(cdc_source_t *s, const cdc_source_cb_t *cb, void *ctx, cdc_errstr_t *es);

#endif

/*
 * The source side of the connector interface. A source reads its database and hands the agent
 * whole source transactions through callbacks; the agent publishes them and acknowledges a position
 * only after the Kafka transaction holding it has committed.
 */
#ifndef CDC_SOURCE_H
#define CDC_SOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include "cdc/config.h"
#include "cdc/err.h"
#include "cdc/event.h"
#include "cdc/position.h"

/* One column of a table structure, for the _schemas topic. */
typedef struct {
    const char *name;
    const char *type;   /* canonical type name */
    const char *native; /* the source's own type name or oid text */
    bool key;
    bool nullable;
} cdc_schema_column_t;

typedef struct {
    const char *system, *db, *schema, *table;
    int64_t version;
    const cdc_schema_column_t *cols;
    size_t ncols;
} cdc_table_schema_t;

/* A source transaction boundary. pos has idx 0; ack_token is what `ack` must be given once
 * everything up to and including this transaction is committed to Kafka. */
typedef struct {
    cdc_pos_t pos;
    uint64_t ack_token; /* PostgreSQL: the Commit end_lsn */
    const char *txn_id;
    int64_t ts_ms;
    bool snapshot_done; /* the last unit of the initial snapshot */
    /* snapshot progress after this unit, a JSON object the source reads back on resume
     * (cdc/chunk_pos.h: the table's ordinal and the last key read);
     * NULL when the unit is not part of a snapshot */
    const char *progress;
    /* the source's own resume point (JSON object) at this boundary: after the unit on commit, at
     * its start on begin (used when a large unit is split); NULL when the database keeps it */
    const char *native;
    /* the re-snapshot queue after this unit (the "resnapshot" JSON object of the offset record),
     * NULL when it did not change */
    const char *resnap;
} cdc_txn_info_t;

/* Callbacks into the agent. Arguments are borrowed for the call only. Returning an error stops the
 * source's poll with that error. Called on the source's thread. */
typedef struct {
    /* A table structure seen for the first time or changed; the agent answers with the schema
     * version events of that structure carry (stable across restarts, from _schemas). */
    cdc_err_t (*schema)(void *ctx, const cdc_table_schema_t *s, int64_t *version);
    cdc_err_t (*begin)(void *ctx, const cdc_txn_info_t *txn);
    cdc_err_t (*event)(void *ctx, const cdc_event_t *ev);
    cdc_err_t (*commit)(void *ctx, const cdc_txn_info_t *txn);
    /* The source's position moved with nothing to publish (keepalive, heartbeat, skipped txn);
     * the agent may acknowledge ack_token once earlier transactions are committed. */
    cdc_err_t (*idle)(void *ctx, uint64_t ack_token);
    /* Publishes every whole transaction so far (a commit without events included) and returns
     * once it is committed to Kafka: a start position the database does not keep for us must be
     * durable before anything after it is read. */
    cdc_err_t (*sync)(void *ctx);
} cdc_source_cb_t;

/* Where to resume, from the _offsets topic; has_pos = false on a first start. */
typedef struct {
    bool has_pos;
    cdc_pos_t pos;       /* last event published: skip everything at or before it */
    bool snapshot_done;  /* the initial snapshot finished (pos may still be a phase-0 position) */
    char progress[2048]; /* snapshot progress of the last committed unit, or "" */
    char native[512];    /* the source's own resume point stored with it (txn info native), or "" */
    uint32_t epoch;      /* without a position: the epoch to start (after a reset), 0 = 1 */
    char resnap[16384];  /* the stored re-snapshot queue (include/cdc/watermark.h), or "" */
} cdc_source_resume_t;

typedef struct cdc_source cdc_source_t;

typedef struct cdc_source_ops {
    const char *name;
    /* Connects, validates prerequisites and prepares the stream (slot, publication ...). */
    cdc_err_t (*open)(const cdc_source_conf_t *conf, const cdc_source_resume_t *resume,
                      cdc_source_t **out, cdc_errstr_t *es);
    /* Initial snapshot when one is due (no-op otherwise); events carry op 'r', phase 0. */
    cdc_err_t (*snapshot)(cdc_source_t *s, const cdc_source_cb_t *cb, void *ctx, cdc_errstr_t *es);
    /* Reads for up to timeout_ms and delivers whole transactions through cb. */
    cdc_err_t (*poll)(cdc_source_t *s, int timeout_ms, const cdc_source_cb_t *cb, void *ctx,
                      cdc_errstr_t *es);
    /* Everything up to ack_token is durable in Kafka. Any thread; takes effect at the next poll. */
    void (*ack)(cdc_source_t *s, uint64_t ack_token);
    void (*close)(cdc_source_t *s);
} cdc_source_ops_t;

/* How a source hands events to the agent (agent/capture/emit.c). */
typedef struct {
    const cdc_source_resume_t *resume; /* where a restart resumes: events up to it are dropped */
    void *src;                         /* the source, for begin_info */
    void (*begin_info)(void *src, cdc_txn_info_t *out); /* the current transaction's */
    uint32_t delivered; /* events of the current source transaction handed on; the source zeroes
                         * it at each transaction's start */
    struct cdc_metric *m_applied; /* cdc_source_applied_skip's counter, registered on first use */
} cdc_emitter_t;

/* Hands ev to the agent (cb, ctx), unless may_skip and it lies at or before the resume position
 * within its epoch (published before a restart); the transaction's first event handed on is
 * preceded by cb->begin. */
cdc_err_t cdc_source_emit(const cdc_source_cb_t *cb, void *ctx, cdc_emitter_t *e, bool may_skip,
                          const cdc_event_t *ev);

/* Whether mark (n bytes, a PostgreSQL origin name or a MySQL cdc_sink_txn id) is that of a sink
 * of conf's agent cluster (conf->applied_by; never when the source captures sink changes). */
bool cdc_source_applied_by(const cdc_source_conf_t *conf, const char *mark, size_t n);

/* Counts a transaction skipped because a sink of this agent cluster applied it (no echo):
 * cdc_source_sink_transactions_skipped_total{source}. Source thread. */
void cdc_source_applied_skip(cdc_emitter_t *e, const char *source);

/* A first start's position (pos, with the source's own resume point native and the re-snapshot
 * queue resnap, either may be NULL), committed to Kafka before the source reads anything, so
 * that a stop before the first change is published resumes from it instead of from a later
 * point. Marks *resume as resuming there. Source thread. */
cdc_err_t cdc_source_store_start(const cdc_source_cb_t *cb, void *ctx, const char *source,
                                 cdc_pos_t pos, const char *native, const char *resnap,
                                 cdc_source_resume_t *resume, cdc_errstr_t *es);

#endif

/*
 * Private state of the PostgreSQL source, shared by pg_source.c (open, stream, ack, close) and
 * pg_snapshot.c (the initial snapshot in the slot's exported snapshot).
 */
#ifndef CDC_PG_SOURCE_H
#define CDC_PG_SOURCE_H

#include <stdatomic.h>

#include "pg_internal.h"

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
    pg_txn_t txn;
    bool in_txn;
    uint32_t delivered; /* events of the current txn handed to the agent */
    uint64_t received;  /* highest WAL position received */
    _Atomic uint64_t acked;
    uint64_t sent_flush;
    int64_t last_status_us, last_data_us, last_heartbeat_us;
    const cdc_source_cb_t *cb;
    void *ctx;
};

int64_t pg_now_us(void);
/* Schema callback for a relation, filling meta->sv. */
cdc_err_t pg_announce_schema(cdc_source_t *s, pg_relmeta_t *meta, cdc_errstr_t *es);
cdc_err_t pg_stream_poll(cdc_source_t *s, int timeout_ms, const cdc_source_cb_t *cb, void *ctx,
                         cdc_errstr_t *es);
void pg_stream_ack(cdc_source_t *s, uint64_t token);
cdc_err_t pg_snapshot_run(cdc_source_t *s, const cdc_source_cb_t *cb, void *ctx, cdc_errstr_t *es);

#endif

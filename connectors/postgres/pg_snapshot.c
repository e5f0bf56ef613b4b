/*
 * Initial snapshot: every configured table read in the slot's exported snapshot, so the stream
 * that follows starts exactly where the snapshot ends. Tables are read in key order in chunks
 * (keyset pagination, no OFFSET); each chunk goes to the agent as one unit with phase-0 positions
 * (major = the slot's consistent point, minor = table ordinal, idx = row number in the table).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/log.h"
#include "pg.h"
#include "cdc/snapshot_progress.h"
#include "pg_source.h"

typedef struct {
    const cdc_source_cb_t *cb;
    void *ctx;
    cdc_snap_progress_t progress;
} snap_t;

uint64_t
pg_estimate_rows(PGconn *conn, const char *table)
{
    uint64_t rows = 0;
    cdc_buf_t name;
    cdc_buf_init(&name);
    pg_quote_table(&name, table);
    const char *params[] = {name.data};
    PGresult *r = PQexecParams(conn,
                               "SELECT greatest(reltuples, 0)::bigint FROM pg_class "
                               "WHERE oid = $1::regclass",
                               1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        rows = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    cdc_buf_deinit(&name);
    return rows;
}

/* The catalog's row counts of the configured tables. */
static uint64_t
estimate_rows(PGconn *conn, const cdc_source_conf_t *conf)
{
    uint64_t total = 0;
    for (size_t i = 0; i < conf->n_tables; i++)
        total += pg_estimate_rows(conn, conf->tables[i]);
    return total;
}

static cdc_err_t
emit_row(void *ctx, const cdc_event_t *ev)
{
    snap_t *sn = ctx;
    return sn->cb->event(sn->ctx, ev);
}

/* Reads one table; each chunk is one unit for the agent. last_table: the final chunk carries
 * the consistent point as its acknowledgement token. */
static cdc_err_t
snapshot_table(cdc_source_t *s, PGconn *conn, snap_t *sn, size_t ordinal, bool last_table,
               cdc_errstr_t *es)
{
    pg_scan_t sc;
    cdc_err_t err = pg_scan_open(&sc, s, conn, ordinal, es);
    pg_txn_t txn = {.final_lsn = s->consistent_point,
                    .epoch = s->epoch,
                    .phase = CDC_PHASE_SNAPSHOT,
                    .minor = ordinal,
                    .ts_ms = cdc_wall_ms()};
    snprintf(txn.txn_id, sizeof(txn.txn_id), "snapshot");
    PGresult *last = NULL;
    const char **after = cdc_xcalloc(sc.meta.n_key + 1u, sizeof(char *));
    int rows = PG_SCAN_CHUNK_ROWS;
    uint64_t total = 0;
    while (!err && rows == PG_SCAN_CHUNK_ROWS) {
        cdc_pos_t start = {s->epoch, CDC_PHASE_SNAPSHOT, s->consistent_point, ordinal, txn.idx};
        cdc_txn_info_t info = {start, 0, txn.txn_id, txn.ts_ms, false, NULL, NULL, NULL};
        if (sn->cb->begin && (err = sn->cb->begin(sn->ctx, &info)))
            break;
        if ((err = pg_scan_next(&sc, &last, after, es)))
            break;
        rows = PQntuples(last);
        for (int row = 0; row < rows && !err; row++)
            err = pg_scan_emit_row(&sc, &txn, last, row, emit_row, sn, es);
        if (err)
            break;
        total += (uint64_t)rows;
        cdc_snap_progress_rows(&sn->progress, s->conf->tables[ordinal], (uint64_t)rows);
        info.pos.idx = txn.idx;
        char *progress = pg_scan_progress(&sc, last, rows < PG_SCAN_CHUNK_ROWS);
        info.progress = progress;
        info.snapshot_done = last_table && rows < PG_SCAN_CHUNK_ROWS;
        info.ack_token = info.snapshot_done ? s->consistent_point : 0;
        /* the tables the snapshot covered, for noticing tables added to the config later */
        info.resnap = info.snapshot_done ? cdc_wm_state(&s->resnap.drv.wm, s->conf->name) : NULL;
        err = sn->cb->commit(sn->ctx, &info);
        free(progress);
    }
    PQclear(last);
    free(after);
    if (!err) {
        cdc_snap_progress_table_done(&sn->progress);
        CDC_LOG_INFO("source=%s snapshot table=%s rows=%llu", s->conf->name,
                     s->conf->tables[ordinal], (unsigned long long)total);
    }
    pg_scan_close(&sc);
    return err;
}

cdc_err_t
pg_snapshot_run(cdc_source_t *s, const cdc_source_cb_t *cb, void *ctx, cdc_errstr_t *es)
{
    cdc_err_t err;
    s->cb = cb;
    s->ctx = ctx;
    PGconn *conn = cdc_pg_connect(&s->conf->conn, false, &err, es);
    if (!conn)
        return err;
    cdc_buf_t sql;
    cdc_buf_init(&sql);
    cdc_buf_printf(&sql, "SET TRANSACTION SNAPSHOT '%s'", s->snapshot_name);
    err = pg_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", es);
    if (!err)
        err = pg_exec(conn, sql.data, es);
    cdc_buf_deinit(&sql);
    snap_t sn = {cb, ctx, {0}};
    if (!err)
        cdc_snap_progress_init(&sn.progress, s->conf->name, s->conf->n_tables,
                               estimate_rows(conn, s->conf));
    for (size_t t = 0; !err && t < s->conf->n_tables; t++)
        err = snapshot_table(s, conn, &sn, t, t + 1 == s->conf->n_tables, es);
    if (!err)
        err = pg_exec(conn, "COMMIT", es);
    PQfinish(conn);
    if (!err && cb->idle)
        err = cb->idle(ctx, s->consistent_point);
    return err;
}

/*
 * Snapshots while streaming (the DBLog / incremental-snapshot algorithm): completing an
 * interrupted initial snapshot (the slot still stands at its consistent point, so every change
 * since then arrives in the stream), then re-snapshots of single tables: asked for by
 * `cdc-agent snapshot` (a transactional message with prefix "cdc-signal" that the stream
 * delivers in order) or added to the config (include/cdc/watermark.h keeps the queue). The
 * remaining rows are read chunk by chunk between a low and a high watermark (transactional
 * pg_logical_emit_message, prefix "cdc-watermark"). Rows whose key changed between the two
 * watermarks are dropped, since the stream carries them; the others go out as phase-2 rows inside
 * the high watermark's transaction, after every change committed before it and before every later
 * one. Progress is recorded with that transaction, so a crash repeats at most one chunk. Watermarks
 * carry a nonce of the run: the slot replays the watermarks of a run that crashed, and one of those
 * must never stand in for this run's (its chunk's rows would go out at the old position, where the
 * agent drops them as already published). A transaction becomes visible only after its commit
 * record is written, so the chunk's snapshot is checked against the stream's transactions
 * (read_chunk).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cdc/log.h"
#include "pg_source.h"

#define WATERMARK_PREFIX "cdc-watermark"
#define SIGNAL_PREFIX    "cdc-signal"
/* milliseconds a transaction read from the stream may take to become visible */
#define VISIBLE_WAIT_TRIES 10000

void
pg_resnap_free(cdc_source_t *s)
{
    pg_resnap_t *r = &s->resnap;
    cdc_resnap_free(&r->drv); /* closes the open table */
    cdc_chunk_pos_free(&r->at);
    cdc_pg_xsnap_free(&r->snap);
    PQclear(r->rows);
    memset(r, 0, sizeof(*r));
}

cdc_err_t
pg_resnap_start(cdc_source_t *s, const char *progress, cdc_errstr_t *es)
{
    pg_resnap_t *r = &s->resnap;
    cdc_chunk_pos_t at;
    if (!cdc_chunk_pos_parse(progress, &at))
        return cdc_errstr_set(es, CDC_ERR_FATAL, "source %s: unreadable snapshot progress",
                              s->conf->name);
    cdc_resnap_start_initial(&r->drv, s->conf->n_tables, at.ordinal, progress);
    cdc_chunk_pos_free(&at);
    CDC_LOG_INFO("source=%s resuming the initial snapshot at table %zu of %zu with watermarks",
                 s->conf->name, r->drv.ordinal + 1, s->conf->n_tables);
    return CDC_OK;
}

/* Ends the chunk's read-only transaction; a failure shows at the connection's next use. */
static void
rollback(cdc_source_t *s)
{
    PQclear(PQexec(s->catalog, "ROLLBACK"));
}

static cdc_err_t
watermark(void *src, const char *label, cdc_errstr_t *es)
{
    cdc_source_t *s = src;
    char content[400];
    snprintf(content, sizeof(content), "%s:%s", s->conf->slot, label);
    const char *params[] = {content};
    PGresult *res =
        PQexecParams(s->catalog, "SELECT pg_logical_emit_message(true, '" WATERMARK_PREFIX "', $1)",
                     1, NULL, params, NULL, NULL, 0);
    cdc_err_t err = PQresultStatus(res) == PGRES_TUPLES_OK
                        ? CDC_OK
                        : pg_result_error(es, CDC_ERR_CONNECT, s->catalog, res, "watermark");
    PQclear(res);
    return err;
}

/* The chunk, in a repeatable-read transaction whose snapshot is recorded: changes read from the
 * stream before the low watermark but invisible to that snapshot are tracked too (their commit
 * record was written before the watermark's, but they were not visible yet when the chunk was
 * read). A transaction read from the stream before this step that the snapshot does not see yet
 * cannot be tracked any more: the read waits until it is visible (it is committed; this takes
 * microseconds). */
static cdc_err_t
read_chunk(void *src, cdc_errstr_t *es)
{
    cdc_source_t *s = src;
    pg_resnap_t *r = &s->resnap;
    for (unsigned attempt = 0;; attempt++) {
        /* txid_current_snapshot(): the same text before PostgreSQL 13 */
        char sql[128];
        snprintf(sql, sizeof(sql),
                 "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT %s()::text",
                 PQserverVersion(s->catalog) >= 130000 ? "pg_current_snapshot"
                                                       : "txid_current_snapshot");
        PGresult *res = PQexec(s->catalog, sql);
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
            cdc_err_t err =
                pg_result_error(es, CDC_ERR_CONNECT, s->catalog, res, "starting a snapshot chunk");
            PQclear(res);
            rollback(s);
            return err;
        }
        bool parsed = cdc_pg_xsnap_parse(&r->snap, PQgetvalue(res, 0, 0));
        PQclear(res);
        if (!parsed) {
            rollback(s);
            return cdc_errstr_set(es, CDC_ERR_FATAL, "source %s: unreadable pg_current_snapshot()",
                                  s->conf->name);
        }
        uint32_t unseen = cdc_pg_xsnap_unseen(&r->snap, &r->recent);
        if (!unseen)
            break;
        rollback(s);
        if (attempt == VISIBLE_WAIT_TRIES)
            return cdc_errstr_set(es, CDC_ERR_CONNECT,
                                  "source %s: transaction %u, read from the stream, is still not "
                                  "visible to new snapshots after %d s",
                                  s->conf->name, unseen, VISIBLE_WAIT_TRIES / 1000);
        usleep(1000);
    }
    cdc_err_t err = pg_scan_chunk(&r->scan, r->at.n_after ? (const char *const *)r->at.after : NULL,
                                  &r->rows, es);
    rollback(s); /* read only: nothing to commit */
    return err;
}

/* The table to read next, continuing after progress (unreadable: from its start). */
static cdc_err_t
open_table(void *src, size_t ordinal, const char *progress, cdc_errstr_t *es)
{
    cdc_source_t *s = src;
    pg_resnap_t *r = &s->resnap;
    cdc_chunk_pos_free(&r->at);
    if (progress && !cdc_chunk_pos_parse(progress, &r->at))
        cdc_chunk_pos_free(&r->at);
    return pg_scan_open(&r->scan, s, s->catalog, ordinal, es);
}

static void
close_table(void *src)
{
    cdc_source_t *s = src;
    pg_scan_close(&s->resnap.scan);
    cdc_chunk_pos_free(&s->resnap.at);
}

cdc_err_t
pg_resnap_step(cdc_source_t *s, cdc_errstr_t *es)
{
    return cdc_resnap_step(&s->resnap.drv, es);
}

/* Key text of a row, for comparing stream changes with chunk rows. */
static void
key_text(cdc_buf_t *b, const char *const *vals, const uint32_t *lens, uint16_t n)
{
    cdc_buf_reset(b);
    for (uint16_t k = 0; k < n; k++) {
        if (vals[k])
            cdc_buf_append(b, vals[k], lens[k]);
        else
            cdc_buf_puts(b, "\x01N");
        cdc_buf_putc(b, '\x1f');
    }
}

static void
track_tuple(pg_resnap_t *r, const pg_relmeta_t *meta, const cdc_pgo_tuple_t *t)
{
    const char *vals[64];
    uint32_t lens[64];
    uint16_t n = meta->n_key < 64 ? meta->n_key : 64;
    for (uint16_t k = 0; k < n; k++) {
        const cdc_pgo_col_t *c = &t->cols[meta->key_idx[k]];
        vals[k] = c->kind == CDC_PGO_COL_TEXT ? c->data : NULL;
        lens[k] = c->len;
    }
    cdc_buf_t b;
    cdc_buf_init(&b);
    key_text(&b, vals, lens, n);
    cdc_wm_track(&r->drv.wm, b.data);
}

void
pg_resnap_txn(cdc_source_t *s, uint32_t xid)
{
    cdc_pg_recent_add(&s->resnap.recent, xid);
}

void
pg_resnap_track(cdc_source_t *s, const pg_relmeta_t *meta, const cdc_pgo_msg_t *m)
{
    pg_resnap_t *r = &s->resnap;
    if (!r->drv.wm.in_flight || !r->drv.table_open ||
        strcmp(meta->rel->nspname, r->scan.rel.nspname) ||
        strcmp(meta->rel->relname, r->scan.rel.relname))
        return;
    /* after the low watermark every change; before it, those the snapshot of the chunk read (if
     * any) missed */
    if (!cdc_wm_tracking(&r->drv.wm) && !(r->rows && cdc_pg_xsnap_invisible(&r->snap, s->txn.xid)))
        return;
    if (m->change.old_kind)
        track_tuple(r, meta, &m->change.old_tuple);
    if (m->type != CDC_PGO_DELETE)
        track_tuple(r, meta, &m->change.new_tuple);
}

/* At the high watermark: the chunk's unchanged rows, then the progress for the commit. */
static cdc_err_t
emit_chunk(void *src, cdc_errstr_t *es)
{
    cdc_source_t *s = src;
    pg_resnap_t *r = &s->resnap;
    int rows = r->rows ? PQntuples(r->rows) : 0;
    uint16_t nk = r->drv.table_open ? r->scan.meta.n_key : 0;
    const char **vals = cdc_xcalloc(nk + 1u, sizeof(char *));
    uint32_t *lens = cdc_xcalloc(nk + 1u, sizeof(uint32_t));
    cdc_buf_t key;
    cdc_buf_init(&key);
    cdc_phase_t phase = s->txn.phase;
    s->txn.phase = CDC_PHASE_RESNAPSHOT;
    cdc_err_t err = CDC_OK;
    for (int row = 0; row < rows && !err; row++) {
        pg_scan_key(&r->scan, r->rows, row, vals);
        for (uint16_t k = 0; k < nk; k++) {
            bool null = PQgetisnull(r->rows, row, r->scan.meta.key_idx[k]);
            lens[k] = (uint32_t)strlen(vals[k]);
            if (null)
                vals[k] = NULL;
        }
        key_text(&key, vals, lens, nk);
        if (!cdc_wm_changed(&r->drv.wm, key.data))
            err = pg_scan_emit_row(&r->scan, &s->txn, r->rows, row, pg_source_emit, s, es);
    }
    s->txn.phase = phase;
    free(vals);
    free(lens);
    cdc_buf_deinit(&key);
    return err;
}

static size_t
chunk_rows(void *src, bool *exhausted)
{
    cdc_source_t *s = src;
    int rows = s->resnap.rows ? PQntuples(s->resnap.rows) : 0;
    *exhausted = rows < PG_SCAN_CHUNK_ROWS;
    return (size_t)rows;
}

static char *
chunk_end(void *src)
{
    cdc_source_t *s = src;
    pg_resnap_t *r = &s->resnap;
    char *progress = pg_scan_progress(&r->scan, r->rows, false);
    cdc_chunk_pos_free(&r->at);
    if (!cdc_chunk_pos_parse(progress, &r->at)) /* the chunk's last key, as the progress has it */
        cdc_chunk_pos_free(&r->at);
    return progress;
}

static void
chunk_free(void *src)
{
    cdc_source_t *s = src;
    PQclear(s->resnap.rows);
    s->resnap.rows = NULL;
}

static const cdc_resnap_ops_t resnap_ops = {open_table, close_table, watermark, read_chunk,
                                            emit_chunk, chunk_rows,  chunk_end, chunk_free};

void
pg_resnap_restore(cdc_source_t *s)
{
    cdc_resnap_init(&s->resnap.drv, &resnap_ops, s, s->conf, s->resume.resnap,
                    s->conf->snapshot == CDC_SNAPSHOT_INITIAL);
}

cdc_err_t
pg_resnap_message(cdc_source_t *s, const cdc_pgo_msg_t *m, cdc_errstr_t *es)
{
    pg_resnap_t *r = &s->resnap;
    size_t sl = strlen(s->conf->slot);
    if (m->message.len < sl + 4 || memcmp(m->message.content, s->conf->slot, sl) ||
        m->message.content[sl] != ':')
        return CDC_OK; /* not ours */
    if (!strcmp(m->message.prefix, SIGNAL_PREFIX)) {
        /* a request of `cdc-agent snapshot`, "<slot>:<JSON>"; one already stored with the
         * transaction that carried it is not taken again */
        if (s->in_txn && !pg_txn_stored(s))
            cdc_wm_request_text(&r->drv.wm, s->conf, m->message.content + sl + 1,
                                m->message.len - sl - 1);
        return CDC_OK;
    }
    if (strcmp(m->message.prefix, WATERMARK_PREFIX))
        return CDC_OK;
    return cdc_resnap_watermark_read(&r->drv, m->message.content + sl + 1, m->message.len - sl - 1,
                                     es);
}

void
pg_resnap_commit_info(cdc_source_t *s, cdc_txn_info_t *info)
{
    cdc_wm_commit_info(&s->resnap.drv.wm, s->conf->name, info);
}

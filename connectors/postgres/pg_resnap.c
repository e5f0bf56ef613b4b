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
    cdc_chunk_pos_free(&r->at);
    cdc_wm_free(&r->wm);
    cdc_pg_xsnap_free(&r->snap);
    PQclear(r->rows);
    if (r->scan_open)
        pg_scan_close(&r->scan);
    memset(r, 0, sizeof(*r));
}

cdc_err_t
pg_resnap_start(cdc_source_t *s, const char *progress, cdc_errstr_t *es)
{
    pg_resnap_t *r = &s->resnap;
    cdc_chunk_pos_free(&r->at);
    if (!cdc_chunk_pos_parse(progress, &r->at))
        return cdc_errstr_set(es, CDC_ERR_FATAL, "source %s: unreadable snapshot progress",
                              s->conf->name);
    r->ordinal = r->at.ordinal;
    cdc_wm_start(&r->wm);
    CDC_LOG_INFO("source=%s resuming the initial snapshot at table %zu of %zu with watermarks",
                 s->conf->name, r->ordinal + 1, s->conf->n_tables);
    return CDC_OK;
}

void
pg_resnap_restore(cdc_source_t *s)
{
    cdc_wm_restore(&s->resnap.wm, s->resume.resnap, s->conf,
                   s->conf->snapshot == CDC_SNAPSHOT_INITIAL);
}

/* Ends the chunk's read-only transaction; a failure shows at the connection's next use. */
static void
rollback(cdc_source_t *s)
{
    PQclear(PQexec(s->catalog, "ROLLBACK"));
}

static cdc_err_t
watermark(cdc_source_t *s, char kind, cdc_errstr_t *es)
{
    char content[400], label[64];
    cdc_wm_label(&s->resnap.wm, kind, label, sizeof(label));
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
read_chunk(cdc_source_t *s, cdc_errstr_t *es)
{
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

cdc_err_t
pg_resnap_step(cdc_source_t *s, cdc_errstr_t *es)
{
    pg_resnap_t *r = &s->resnap;
    if (!cdc_wm_active(&r->wm) || r->wm.in_flight || r->wm.commit_pending)
        return CDC_OK;
    cdc_err_t err = CDC_OK;
    bool more = r->ordinal < s->conf->n_tables;
    if (!r->wm.initial) {
        long head = cdc_wm_head(&r->wm, s->conf);
        if (head < 0)
            return CDC_OK; /* the queue is empty */
        more = true;
        if (!r->scan_open) {
            const char *progress = r->wm.queue[0].progress;
            r->ordinal = (size_t)head;
            cdc_chunk_pos_free(&r->at);
            if (progress && !cdc_chunk_pos_parse(progress, &r->at))
                cdc_chunk_pos_free(&r->at); /* unreadable: the table is read from its start */
        }
    }
    if (more && !r->scan_open) {
        if ((err = pg_scan_open(&r->scan, s, s->catalog, r->ordinal, es)))
            return err;
        r->scan_open = true;
    }
    cdc_wm_next(&r->wm);
    if ((err = watermark(s, 'L', es)))
        return err;
    if (more && (err = read_chunk(s, es)))
        return err;
    return watermark(s, 'H', es);
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
    cdc_wm_track(&r->wm, b.data);
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
    if (!r->wm.in_flight || !r->scan_open || strcmp(meta->rel->nspname, r->scan.rel.nspname) ||
        strcmp(meta->rel->relname, r->scan.rel.relname))
        return;
    /* after the low watermark every change; before it, those the snapshot of the chunk read (if
     * any) missed */
    if (!cdc_wm_tracking(&r->wm) && !(r->rows && cdc_pg_xsnap_invisible(&r->snap, s->txn.xid)))
        return;
    if (m->change.old_kind)
        track_tuple(r, meta, &m->change.old_tuple);
    if (m->type != CDC_PGO_DELETE)
        track_tuple(r, meta, &m->change.new_tuple);
}

/* At the high watermark: the chunk's unchanged rows, then the progress for the commit. */
static cdc_err_t
emit_chunk(cdc_source_t *s, cdc_errstr_t *es)
{
    pg_resnap_t *r = &s->resnap;
    int rows = r->rows ? PQntuples(r->rows) : 0;
    uint16_t nk = r->scan_open ? r->scan.meta.n_key : 0;
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
        if (!cdc_wm_changed(&r->wm, key.data))
            err = pg_scan_emit_row(&r->scan, &s->txn, r->rows, row, pg_source_emit, s, es);
    }
    s->txn.phase = phase;
    free(vals);
    free(lens);
    cdc_buf_deinit(&key);
    return err;
}

/* Advances past the emitted chunk and prepares the progress the commit will carry. */
static void
advance(cdc_source_t *s)
{
    pg_resnap_t *r = &s->resnap;
    bool initial = r->wm.initial;
    bool more = initial ? r->ordinal < s->conf->n_tables : r->scan_open;
    int rows = r->rows ? PQntuples(r->rows) : 0;
    bool table_done = !more || rows < PG_SCAN_CHUNK_ROWS;
    char *progress =
        more && (initial || !table_done) ? pg_scan_progress(&r->scan, r->rows, table_done) : NULL;
    cdc_chunk_pos_free(&r->at);
    if (table_done) {
        if (more) {
            pg_scan_close(&r->scan);
            r->scan_open = false;
            r->ordinal += initial;
        }
    } else { /* the chunk's last key, as the progress carries it */
        if (!cdc_chunk_pos_parse(progress, &r->at))
            cdc_chunk_pos_free(&r->at);
    }
    PQclear(r->rows);
    r->rows = NULL;
    if (!initial) {
        cdc_wm_head_advance(&r->wm, s->conf->name, (uint64_t)rows, progress);
        cdc_wm_done(&r->wm, NULL, false);
        return;
    }
    bool finished = r->ordinal >= s->conf->n_tables;
    if (finished) {
        free(progress);
        progress = NULL;
    }
    cdc_wm_done(&r->wm, progress, finished);
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
            cdc_wm_request_text(&r->wm, s->conf, m->message.content + sl + 1,
                                m->message.len - sl - 1);
        return CDC_OK;
    }
    if (!cdc_wm_active(&r->wm) || strcmp(m->message.prefix, WATERMARK_PREFIX))
        return CDC_OK;
    if (!cdc_wm_read(&r->wm, m->message.content + sl + 1, m->message.len - sl - 1))
        return CDC_OK; /* a low watermark, or one of an earlier run or chunk */
    cdc_err_t err = emit_chunk(s, es);
    if (!err)
        advance(s);
    return err;
}

void
pg_resnap_commit_info(cdc_source_t *s, cdc_txn_info_t *info)
{
    cdc_wm_commit_info(&s->resnap.wm, s->conf->name, info);
}

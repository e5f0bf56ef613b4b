/*
 * PostgreSQL source: pgoutput v1 over a replication connection. The stream loop follows
 * pg_basebackup's receivelog.c: receive -> poll -> keepalive / XLogData, each a short step.
 * Positions: major = commit LSN (Begin's final LSN), idx = event index in the transaction; the
 * flush LSN reported to the server is the Commit end LSN of the last transaction the agent
 * acknowledged.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cdc/log.h"
#include "pg.h"
#include "pg_source.h"

#define STATUS_INTERVAL_US 10000000LL
#define FEEDBACK_MIN_US    100000LL /* at most this often for acknowledgements */

static void
put64(char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (char)(v & 0xff);
}

static uint64_t
get64(const char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | (unsigned char)p[i];
    return v;
}

/* ---- relation metadata ----------------------------------------------------------------------- */

static pg_relmeta_t *
meta_find(cdc_source_t *s, uint32_t relid)
{
    for (size_t i = 0; i < s->n_metas; i++)
        if (s->metas[i].rel && s->metas[i].rel->relid == relid)
            return &s->metas[i];
    return NULL;
}

static bool
table_configured(const cdc_source_conf_t *conf, const char *nsp, const char *rel)
{
    size_t ln = strlen(nsp);
    for (size_t i = 0; i < conf->n_tables; i++)
        if (!strncmp(conf->tables[i], nsp, ln) && conf->tables[i][ln] == '.' &&
            !strcmp(conf->tables[i] + ln + 1, rel))
            return true;
    return false;
}

cdc_err_t
pg_announce_schema(cdc_source_t *s, pg_relmeta_t *meta, cdc_errstr_t *es)
{
    const cdc_pgo_relation_t *rel = meta->rel;
    cdc_schema_column_t *cols = cdc_xcalloc(rel->ncols ? rel->ncols : 1, sizeof(*cols));
    char(*native)[16] = cdc_xcalloc(rel->ncols ? rel->ncols : 1, sizeof(*native));
    for (uint16_t i = 0; i < rel->ncols; i++) {
        snprintf(native[i], sizeof(native[i]), "oid:%u", rel->cols[i].type_oid);
        cols[i].name = rel->cols[i].name;
        cols[i].type =
            meta->types[i].elem_oid ? "array" : cdc_pg_canonical_name(meta->types[i].base_oid);
        cols[i].native = native[i];
        cols[i].nullable = true;
        for (uint16_t k = 0; k < meta->n_key; k++)
            if (meta->key_idx[k] == i)
                cols[i].key = true, cols[i].nullable = false;
    }
    cdc_table_schema_t sch = {s->conf->name, s->dbname, rel->nspname, rel->relname, 0,
                              cols,          rel->ncols};
    cdc_err_t err = s->cb && s->cb->schema ? s->cb->schema(s->ctx, &sch, &meta->sv) : CDC_OK;
    free(cols);
    free(native);
    if (err)
        cdc_errstr_set(es, err, "schema of %s.%s refused by the agent", rel->nspname, rel->relname);
    return err;
}

static cdc_err_t
on_relation(cdc_source_t *s, const cdc_pgo_msg_t *m, cdc_errstr_t *es)
{
    const cdc_pgo_relation_t *rel = m->relation.rel;
    pg_relmeta_t *meta = meta_find(s, rel->relid);
    if (meta && !m->relation.changed)
        return CDC_OK;
    if (!meta) {
        if (s->n_metas == s->cap_metas) {
            s->cap_metas = s->cap_metas ? 2 * s->cap_metas : 16;
            s->metas = cdc_xrealloc(s->metas, s->cap_metas * sizeof(*s->metas));
        }
        meta = &s->metas[s->n_metas++];
        memset(meta, 0, sizeof(*meta));
    }
    free(meta->types);
    free(meta->key_idx);
    meta->rel = rel;
    meta->types = cdc_xcalloc(rel->ncols ? rel->ncols : 1, sizeof(cdc_pg_type_t));
    for (uint16_t i = 0; i < rel->ncols; i++) {
        cdc_err_t err =
            pg_type_resolve(s->types, s->catalog, rel->cols[i].type_oid, &meta->types[i], es);
        if (err)
            return err;
    }
    cdc_err_t err = pg_key_columns(s->catalog, rel, &meta->key_idx, &meta->n_key, es);
    if (err)
        return err;
    if (!table_configured(s->conf, rel->nspname, rel->relname))
        return CDC_OK; /* in the publication but not ours: its changes are ignored */
    CDC_LOG_INFO("source=%s relation=%s.%s columns=%u version_changed=%s", s->conf->name,
                 rel->nspname, rel->relname, rel->ncols, m->relation.changed ? "yes" : "no");
    return pg_announce_schema(s, meta, es);
}

/* ---- events ---------------------------------------------------------------------------------- */

bool
pg_txn_stored(const cdc_source_t *s)
{
    const cdc_pos_t *stored = &s->resume.pos;
    return s->resume.has_pos && stored->epoch == s->epoch && s->txn.final_lsn <= stored->major;
}

/* Hands an event to the agent unless it was published before a restart (at or before the stored
 * position, same epoch). */
void
pg_source_begin_info(void *src, cdc_txn_info_t *out)
{
    cdc_source_t *s = src;
    *out = (cdc_txn_info_t){.pos = {s->epoch, CDC_PHASE_STREAM, s->txn.final_lsn, 0, 0},
                            .txn_id = s->txn.txn_id,
                            .ts_ms = s->txn.ts_ms};
}

cdc_err_t
pg_source_emit(void *ctx, const cdc_event_t *ev)
{
    cdc_source_t *s = ctx;
    return cdc_source_emit(s->cb, s->ctx, &s->emit, s->resume.has_pos, ev);
}

/* A delete, or an update of identity columns, carries the old row's replica identity only
 * ('K'): every key column must be in it, or the change would go out with a null key and a sink
 * would delete nothing. `check` and the start refuse such tables; this holds when the identity
 * was changed while the agent streamed (ALTER TABLE ... REPLICA IDENTITY USING INDEX). */
static cdc_err_t
key_in_old_row(const cdc_source_t *s, const pg_relmeta_t *meta, const cdc_pgo_msg_t *m,
               cdc_errstr_t *es)
{
    const cdc_pgo_relation_t *rel = meta->rel;
    if (m->change.old_kind != 'K')
        return CDC_OK;
    for (uint16_t k = 0; k < meta->n_key; k++) {
        const cdc_pgo_column_t *col = &rel->cols[meta->key_idx[k]];
        if (col->key)
            continue;
        char lsn[CDC_LSN_STRLEN];
        cdc_lsn_format(lsn, s->txn.final_lsn);
        cdc_buf_t b;
        cdc_buf_init(&b);
        pg_quote_ident(&b, rel->nspname);
        cdc_buf_putc(&b, '.');
        pg_quote_ident(&b, rel->relname);
        cdc_errstr_set(es, CDC_ERR_CONFIG,
                       "source %s: a change of %s.%s in the transaction committing at %s lacks "
                       "key column %s: it is not in the table's replica identity, so the WAL "
                       "did not carry it. The source stops at it. Fix: "
                       "ALTER TABLE %s REPLICA IDENTITY DEFAULT; then move the source past that "
                       "transaction (cdc-agent offsets set --source) and re-snapshot the table "
                       "(cdc-agent snapshot)",
                       s->conf->name, rel->nspname, rel->relname, lsn, col->name, b.data);
        cdc_buf_deinit(&b);
        return CDC_ERR_CONFIG;
    }
    return CDC_OK;
}

static cdc_err_t
on_change(cdc_source_t *s, const cdc_pgo_msg_t *m, cdc_errstr_t *es)
{
    if (!s->in_txn)
        return cdc_errstr_set(es, CDC_ERR_PARSE, "change outside a transaction");
    if (s->applied)
        return CDC_OK; /* a sink of this agent cluster applied it: no echo */
    if (m->type == CDC_PGO_TRUNCATE) {
        for (uint32_t i = 0; i < m->truncate.nrels; i++) {
            pg_relmeta_t *meta = meta_find(s, m->truncate.relids[i]);
            if (!meta || !table_configured(s->conf, meta->rel->nspname, meta->rel->relname))
                continue;
            cdc_err_t err = pg_build_truncate(&s->builder, &s->txn, meta, pg_source_emit, s, es);
            if (err)
                return err;
        }
        return CDC_OK;
    }
    pg_relmeta_t *meta = meta_find(s, m->change.relid);
    if (!meta)
        return cdc_errstr_set(es, CDC_ERR_PARSE, "change for unknown relation %u", m->change.relid);
    if (!table_configured(s->conf, meta->rel->nspname, meta->rel->relname))
        return CDC_OK;
    cdc_err_t err = key_in_old_row(s, meta, m, es);
    if (err)
        return err;
    pg_resnap_track(s, meta, m);
    return pg_build_change(&s->builder, &s->txn, meta, m, pg_source_emit, s, es);
}

static cdc_err_t
on_begin(cdc_source_t *s, const cdc_pgo_msg_t *m)
{
    s->in_txn = true;
    s->applied = false;
    s->emit.delivered = 0;
    s->txn.final_lsn = m->begin.final_lsn;
    s->txn.ts_ms = m->begin.commit_ts / 1000 + CDC_PG_EPOCH_OFFSET_S * 1000;
    s->txn.xid = m->begin.xid;
    pg_resnap_txn(s, m->begin.xid);
    s->txn.idx = 0;
    s->txn.epoch = s->epoch;
    s->txn.phase = CDC_PHASE_STREAM;
    s->txn.minor = 0;
    snprintf(s->txn.txn_id, sizeof(s->txn.txn_id), "%u", m->begin.xid);
    return CDC_OK;
}

static cdc_err_t
on_commit(cdc_source_t *s, const cdc_pgo_msg_t *m)
{
    s->in_txn = false;
    if (s->applied)
        cdc_source_applied_skip(&s->emit, s->conf->name);
    cdc_txn_info_t snap = {0};
    /* a watermark transaction with progress, or one that changed the re-snapshot queue (never
     * one re-read from before the stored position: that would move it back) */
    bool stored = pg_txn_stored(s);
    if (s->emit.delivered == 0 && (stored || !cdc_wm_must_commit(&s->resnap.drv.wm)))
        return s->cb->idle ? s->cb->idle(s->ctx, m->commit.end_lsn) : CDC_OK;
    if (!stored)
        pg_resnap_commit_info(s, &snap);
    cdc_txn_info_t info = {{s->epoch, CDC_PHASE_STREAM, s->txn.final_lsn, 0, s->txn.idx},
                           m->commit.end_lsn,
                           s->txn.txn_id,
                           s->txn.ts_ms,
                           snap.snapshot_done,
                           snap.progress,
                           NULL,
                           snap.resnap};
    s->committed = true;
    return s->cb->commit(s->ctx, &info);
}

static cdc_err_t
dispatch(cdc_source_t *s, const char *buf, size_t len, cdc_errstr_t *es)
{
    cdc_pgo_msg_t m;
    cdc_err_t err = cdc_pgo_parse(s->dec, buf, len, &m, es);
    if (err)
        return err;
    switch (m.type) {
    case CDC_PGO_BEGIN:
        return on_begin(s, &m);
    case CDC_PGO_COMMIT:
        return on_commit(s, &m);
    case CDC_PGO_RELATION:
        return on_relation(s, &m, es);
    case CDC_PGO_INSERT:
    case CDC_PGO_UPDATE:
    case CDC_PGO_DELETE:
    case CDC_PGO_TRUNCATE:
        return on_change(s, &m, es);
    case CDC_PGO_MESSAGE:
        return pg_resnap_message(s, &m, es);
    case CDC_PGO_ORIGIN: /* after Begin, before the changes */
        s->applied =
            m.origin.name && cdc_source_applied_by(s->conf, m.origin.name, strlen(m.origin.name));
        return CDC_OK;
    default:
        return CDC_OK; /* Type (resolved via the catalog) */
    }
}

/* ---- replication protocol -------------------------------------------------------------------- */

/* Standby status update: 'r', write, flush, apply, send time, reply requested. */
static cdc_err_t
send_status(cdc_source_t *s, bool force, cdc_errstr_t *es)
{
    int64_t now = cdc_wall_us();
    uint64_t flush = atomic_load(&s->acked);
    /* on the interval, or soon after an acknowledgement so the slot frees WAL promptly */
    if (!force && now - s->last_status_us < STATUS_INTERVAL_US &&
        (flush == s->sent_flush || now - s->last_status_us < FEEDBACK_MIN_US))
        return CDC_OK;
    char msg[34];
    msg[0] = 'r';
    put64(msg + 1, s->received > flush ? s->received : flush);
    put64(msg + 9, flush);
    put64(msg + 17, flush);
    put64(msg + 25, (uint64_t)(now - CDC_PG_EPOCH_OFFSET_S * 1000000));
    msg[33] = 0;
    if (PQputCopyData(s->repl, msg, sizeof(msg)) <= 0 || PQflush(s->repl))
        return cdc_errstr_set(es, CDC_ERR_CONNECT, "postgresql: sending feedback: %s",
                              PQerrorMessage(s->repl));
    if (flush != s->sent_flush) {
        char l[CDC_LSN_STRLEN];
        cdc_lsn_format(l, flush);
        CDC_LOG_DEBUG("feedback sent slot=%s flush=%s", s->conf->slot, l);
    }
    s->sent_flush = flush;
    s->last_status_us = now;
    return CDC_OK;
}

/* Keepalive 'k': walEnd, send time, reply requested. */
static cdc_err_t
on_keepalive(cdc_source_t *s, const char *buf, int len, cdc_errstr_t *es)
{
    if (len < 18)
        return cdc_errstr_set(es, CDC_ERR_PARSE, "keepalive message too short (%d bytes)", len);
    uint64_t wal_end = get64(buf + 1);
    if (wal_end > s->received)
        s->received = wal_end;
    if (!s->in_txn && s->cb->idle) {
        cdc_err_t err = s->cb->idle(s->ctx, wal_end);
        if (err)
            return err;
    }
    return buf[17] ? send_status(s, true, es) : CDC_OK;
}

/* XLogData 'w': dataStart, walEnd, send time, then one pgoutput message. */
static cdc_err_t
on_xlogdata(cdc_source_t *s, const char *buf, int len, cdc_errstr_t *es)
{
    if (len < 25)
        return cdc_errstr_set(es, CDC_ERR_PARSE, "XLogData message too short (%d bytes)", len);
    uint64_t start = get64(buf + 1);
    if (start > s->received)
        s->received = start;
    s->last_data_us = cdc_wall_us();
    return dispatch(s, buf + 25, (size_t)len - 25, es);
}

/* Every 5 s: the WAL the slot holds back (restart_lsn) and what is not acknowledged yet
 * (confirmed_flush_lsn), behind the server's current position. */
static void
slot_metrics(cdc_source_t *s)
{
    int64_t now = cdc_wall_us();
    if (now - s->last_metrics_us < 5000000)
        return;
    s->last_metrics_us = now;
    if (!s->m_retained) {
        cdc_buf_t l;
        cdc_buf_init(&l);
        cdc_metric_labels(&l, "source", s->conf->name, "slot", s->conf->slot, (const char *)NULL);
        s->m_retained = cdc_metric_gauge("cdc_slot_retained_wal_bytes",
                                         "WAL the replication slot keeps on the server", l.data);
        cdc_metric_labels(&l, "source", s->conf->name, (const char *)NULL);
        s->m_lag_bytes =
            cdc_metric_gauge("cdc_source_lag_bytes",
                             "Source log not yet committed to Kafka and acknowledged", l.data);
        cdc_buf_deinit(&l);
    }
    const char *params[] = {s->conf->slot};
    PGresult *r = PQexecParams(s->catalog,
                               "SELECT pg_current_wal_lsn() - restart_lsn, pg_current_wal_lsn() - "
                               "confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = $1",
                               1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        cdc_metric_set(s->m_retained, strtod(PQgetvalue(r, 0, 0), NULL));
        cdc_metric_set(s->m_lag_bytes, strtod(PQgetvalue(r, 0, 1), NULL));
    }
    PQclear(r); /* a failed query shows in the stream soon enough */
}

static cdc_err_t
heartbeat(cdc_source_t *s, cdc_errstr_t *es)
{
    int64_t now = cdc_wall_us(), every = (int64_t)s->conf->heartbeat_ms * 1000;
    if (now - s->last_heartbeat_us < every || now - s->last_data_us < every)
        return CDC_OK;
    s->last_heartbeat_us = now;
    /* a transactional message moves the slot even when only other tables change */
    return pg_exec(s->catalog, "SELECT pg_logical_emit_message(true, 'cdc-heartbeat', '')", es);
}

static cdc_err_t
wait_socket(cdc_source_t *s, int64_t until_us, cdc_errstr_t *es)
{
    int64_t now = cdc_wall_us();
    int64_t next = s->last_status_us + STATUS_INTERVAL_US;
    int64_t wake = until_us < next ? until_us : next;
    if (atomic_load(&s->acked) != s->sent_flush) {
        int64_t feedback = s->last_status_us + FEEDBACK_MIN_US; /* send_status's rate limit */
        if (feedback < wake)
            wake = feedback;
    }
    struct pollfd p[2] = {{PQsocket(s->repl), POLLIN, 0}, {s->wake_fd, POLLIN, 0}};
    int ms = wake > now ? (int)((wake - now + 999) / 1000) : 0;
    if (poll(p, s->wake_fd >= 0 ? 2 : 1, ms) < 0)
        return CDC_OK; /* EINTR: the caller loops */
    uint64_t n;
    if (p[1].revents && read(s->wake_fd, &n, sizeof(n)) < 0)
        n = 0; /* drained by an earlier read */
    if (p[0].revents && !PQconsumeInput(s->repl))
        return cdc_errstr_set(es, CDC_ERR_CONNECT, "postgresql: replication connection lost: %s",
                              PQerrorMessage(s->repl));
    return CDC_OK;
}

static cdc_err_t
receive(cdc_source_t *s, int64_t until_us, cdc_errstr_t *es)
{
    char *buf = NULL;
    int len = PQgetCopyData(s->repl, &buf, 1);
    if (len == 0)
        return wait_socket(s, until_us, es);
    if (len < 0) {
        PGresult *r = PQgetResult(s->repl);
        pg_result_error(es, CDC_ERR_CONNECT, s->repl, r, "replication stream ended");
        PQclear(r);
        return CDC_ERR_CONNECT;
    }
    cdc_err_t err = buf[0] == 'w'   ? on_xlogdata(s, buf, len, es)
                    : buf[0] == 'k' ? on_keepalive(s, buf, len, es)
                                    : CDC_OK;
    PQfreemem(buf);
    return err;
}

static cdc_err_t
start_streaming(cdc_source_t *s, cdc_errstr_t *es)
{
    cdc_buf_t sql;
    cdc_buf_init(&sql);
    cdc_buf_puts(&sql, "START_REPLICATION SLOT ");
    pg_quote_ident(&sql, s->conf->slot);
    cdc_buf_puts(&sql, " LOGICAL 0/0 (proto_version '1', publication_names '");
    pg_quote_ident(&sql, s->conf->publication);
    cdc_buf_puts(&sql, "', messages 'true')");
    PGresult *r = PQexec(s->repl, sql.data);
    cdc_buf_deinit(&sql);
    cdc_err_t err = CDC_OK;
    if (PQresultStatus(r) != PGRES_COPY_BOTH) {
        err = pg_result_error(es, CDC_ERR_CONNECT, s->repl, r, "START_REPLICATION");
    }
    PQclear(r);
    s->streaming = !err;
    s->last_status_us = s->last_data_us = s->last_heartbeat_us = cdc_wall_us();
    return err;
}

cdc_err_t
pg_stream_poll(cdc_source_t *s, int timeout_ms, const cdc_source_cb_t *cb, void *ctx,
               cdc_errstr_t *es)
{
    s->cb = cb;
    s->ctx = ctx;
    cdc_err_t err = s->streaming ? CDC_OK : start_streaming(s, es);
    int64_t until = cdc_wall_us() + (int64_t)timeout_ms * 1000;
    s->committed = false;
    /* back to the agent after each commit, so a lingering batch goes out on time */
    while (!err && cdc_wall_us() < until && !s->committed) {
        err = send_status(s, false, es);
        if (!err)
            err = heartbeat(s, es);
        if (!err)
            slot_metrics(s);
        if (!err)
            err = pg_resnap_step(s, es);
        if (!err)
            err = receive(s, until, es);
    }
    return err;
}

void
pg_stream_ack(cdc_source_t *s, uint64_t token)
{
    uint64_t cur = atomic_load(&s->acked);
    while (token > cur && !atomic_compare_exchange_weak(&s->acked, &cur, token))
        ;
    uint64_t one = 1;
    if (token > cur && s->wake_fd >= 0 && write(s->wake_fd, &one, sizeof(one)) < 0)
        CDC_LOG_DEBUG("slot=%s: waking the source failed", s->conf->slot); /* the timer sends it */
}

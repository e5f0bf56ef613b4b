/*
 * PostgreSQL source start-up and shutdown: connections, table and publication checks, and the
 * replication slot. A slot is created only on a first start (no stored position) or to redo an
 * unfinished initial snapshot; a stored position whose slot is missing or lost stops the source:
 * changes were lost and only an explicit re-snapshot may go on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cdc/log.h"
#include "pg.h"
#include "pg_source.h"

static cdc_err_t
identify_system(cdc_source_t *s, cdc_errstr_t *es)
{
    PGresult *r = PQexec(s->repl, "IDENTIFY_SYSTEM");
    cdc_err_t err = CDC_OK;
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQnfields(r) < 4)
        err = pg_result_error(es, CDC_ERR_CONNECT, s->repl, r, "IDENTIFY_SYSTEM");
    else
        snprintf(s->dbname, sizeof(s->dbname), "%s", PQgetvalue(r, 0, 3));
    PQclear(r);
    return err;
}

/* CREATE_REPLICATION_SLOT; with an exported snapshot when a snapshot is to be taken. */
static cdc_err_t
create_slot(cdc_source_t *s, bool export_snapshot, cdc_errstr_t *es)
{
    cdc_buf_t sql;
    cdc_buf_init(&sql);
    cdc_buf_puts(&sql, "CREATE_REPLICATION_SLOT ");
    pg_quote_ident(&sql, s->conf->slot);
    cdc_buf_printf(&sql, " LOGICAL pgoutput (SNAPSHOT '%s')",
                   export_snapshot ? "export" : "nothing");
    PGresult *r = PQexec(s->repl, sql.data);
    cdc_buf_deinit(&sql);
    cdc_err_t err = CDC_OK;
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        err = pg_result_error(es, CDC_ERR_FATAL, s->repl, r, "creating slot %s", s->conf->slot);
    } else {
        cdc_lsn_parse(PQgetvalue(r, 0, 1), &s->consistent_point);
        snprintf(s->snapshot_name, sizeof(s->snapshot_name), "%s",
                 PQgetisnull(r, 0, 2) ? "" : PQgetvalue(r, 0, 2));
        s->snapshot_due = export_snapshot;
        char l[CDC_LSN_STRLEN];
        cdc_lsn_format(l, s->consistent_point);
        CDC_LOG_INFO("source=%s slot=%s created consistent_point=%s snapshot=%s", s->conf->name,
                     s->conf->slot, l, export_snapshot ? "yes" : "no");
    }
    PQclear(r);
    return err;
}

static cdc_err_t
drop_slot(cdc_source_t *s, cdc_errstr_t *es)
{
    cdc_buf_t sql;
    cdc_buf_init(&sql);
    cdc_buf_puts(&sql, "DROP_REPLICATION_SLOT ");
    pg_quote_ident(&sql, s->conf->slot);
    cdc_err_t err = pg_exec(s->repl, sql.data, es);
    cdc_buf_deinit(&sql);
    return err;
}

static cdc_err_t
slot_unusable(cdc_source_t *s, const pg_slot_info_t *info, cdc_errstr_t *es)
{
    if (info->lost)
        return cdc_errstr_set(es, CDC_ERR_FATAL,
                              "source %s: slot %s is invalidated (wal_status = lost): WAL after "
                              "the last published position was removed and those changes are "
                              "lost. Re-snapshot: cdc-agent source drop -c FILE --source %s, then "
                              "start the agent again",
                              s->conf->name, s->conf->slot, s->conf->name);
    if (strcmp(info->plugin, "pgoutput"))
        return cdc_errstr_set(es, CDC_ERR_CONFIG, "slot %s uses plugin %s, not pgoutput",
                              s->conf->slot, info->plugin);
    if (strcmp(info->database, s->dbname))
        return cdc_errstr_set(es, CDC_ERR_CONFIG, "slot %s belongs to database %s, not %s",
                              s->conf->slot, info->database, s->dbname);
    if (info->active)
        return cdc_errstr_set(es, CDC_ERR_CONNECT,
                              "slot %s is in use by another connection (another agent running?)",
                              s->conf->slot);
    return CDC_OK;
}

static cdc_err_t
prepare_slot(cdc_source_t *s, cdc_errstr_t *es)
{
    pg_slot_info_t info;
    bool want_snapshot = s->conf->snapshot == CDC_SNAPSHOT_INITIAL;
    cdc_err_t err = pg_slot_info(s->catalog, s->conf->slot, &info, es);
    if (err)
        return err;
    /* the initial snapshot did not complete: still reading it (phase snapshot), or completing
     * it with watermarks while streaming (phases re-snapshot and stream) */
    bool unfinished_snapshot = s->resume.has_pos && want_snapshot && !s->resume.snapshot_done;
    if (!info.exists) {
        if (s->resume.has_pos && !unfinished_snapshot) {
            char pos[CDC_POS_STRLEN];
            cdc_pos_format(pos, &s->resume.pos);
            return cdc_errstr_set(es, CDC_ERR_FATAL,
                                  "source %s: slot %s is missing but a position is stored (%s): "
                                  "changes after it are lost. Re-snapshot: cdc-agent source drop "
                                  "-c FILE --source %s, then start the agent again",
                                  s->conf->name, s->conf->slot, pos, s->conf->name);
        }
        return create_slot(s, want_snapshot, es);
    }
    if ((err = slot_unusable(s, &info, es)))
        return err;
    if (unfinished_snapshot) {
        /* Complete it while streaming from the slot, which holds every change since the
         * snapshot's consistent point. Without recorded progress (the crash came before the
         * first whole chunk was committed) it is read again from the first table. */
        if (!s->resume.progress[0])
            CDC_LOG_WARN("source=%s the initial snapshot was interrupted before its progress was "
                         "recorded; reading it again from the first table",
                         s->conf->name);
        return pg_resnap_start(
            s, s->resume.progress[0] ? s->resume.progress : "{\"ordinal\": 0, \"after\": null}",
            es);
    }
    if (!s->resume.has_pos && !want_snapshot) {
        /* Nothing was published from it, but it holds every change since it was created (the
         * agent stopped before its start position was stored): streaming from it loses none.
         * A new slot would start after the changes made meanwhile. */
        s->consistent_point = info.confirmed_flush;
        CDC_LOG_INFO("source=%s slot=%s exists and nothing was published from it; streaming "
                     "from it (snapshot: never)",
                     s->conf->name, s->conf->slot);
        return CDC_OK;
    }
    if (!s->resume.has_pos) {
        /* nothing of this slot was ever committed to Kafka: start over from a new slot, whose
         * initial snapshot covers every change the old one held */
        CDC_LOG_WARN("source=%s slot=%s exists but nothing was published from it; recreating it "
                     "for a new initial snapshot",
                     s->conf->name, s->conf->slot);
        if ((err = drop_slot(s, es)))
            return err;
        return create_slot(s, want_snapshot, es);
    }
    return CDC_OK;
}

static void
pg_close(cdc_source_t *s)
{
    if (!s)
        return;
    PQfinish(s->repl);
    PQfinish(s->catalog);
    if (s->wake_fd >= 0)
        close(s->wake_fd);
    cdc_pgo_decoder_free(s->dec);
    pg_resnap_free(s);
    pg_typecache_free(s->types);
    for (size_t i = 0; i < s->n_metas; i++) {
        free(s->metas[i].types);
        free(s->metas[i].key_idx);
    }
    free(s->metas);
    cdc_arena_deinit(&s->builder.arena);
    free(s);
}

static cdc_err_t
pg_open(const cdc_source_conf_t *conf, const cdc_source_resume_t *resume, cdc_source_t **out,
        cdc_errstr_t *es)
{
    cdc_source_t *s = cdc_xcalloc(1, sizeof(*s));
    cdc_err_t err;
    s->conf = conf;
    s->resume = *resume;
    s->emit = (cdc_emitter_t){.resume = &s->resume, .src = s, .begin_info = pg_source_begin_info};
    s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    s->epoch = resume->has_pos ? resume->pos.epoch : resume->epoch ? resume->epoch : 1;
    s->dec = cdc_pgo_decoder_new();
    s->types = pg_typecache_new();
    cdc_arena_init(&s->builder.arena);
    s->catalog = cdc_pg_connect(&conf->conn, false, &err, es);
    if (s->catalog)
        s->repl = cdc_pg_connect(&conf->conn, true, &err, es);
    if (s->repl && !(err = identify_system(s, es)) &&
        !(err = pg_tables_check(s->catalog, conf, es)) &&
        !(err = pg_publication_ensure(s->catalog, conf, es)))
        err = prepare_slot(s, es);
    if (!err)
        pg_resnap_restore(s);
    if (err) {
        cdc_errstr_prefix(es, "source %s", conf->name);
        pg_close(s);
        return err;
    }
    s->builder.system = conf->name;
    s->builder.db = s->dbname;
    s->builder.types = s->types;
    s->builder.catalog = s->catalog;
    *out = s;
    return CDC_OK;
}

/* First start without a snapshot: the slot's start is stored (and committed) before anything is
 * read, so that a stop before the first change ever published finds a position at its next
 * start and streams from the same slot instead of creating another one after the changes made
 * meanwhile. The position sorts before every transaction the slot holds. */
static cdc_err_t
store_start(cdc_source_t *s, const cdc_source_cb_t *cb, void *ctx, cdc_errstr_t *es)
{
    uint64_t major = s->consistent_point ? s->consistent_point - 1 : 0;
    cdc_pos_t pos = {s->epoch, CDC_PHASE_STREAM, major, 0, 0};
    return cdc_source_store_start(cb, ctx, s->conf->name, pos, NULL,
                                  cdc_wm_state(&s->resnap.drv.wm, s->conf->name), &s->resume, es);
}

static cdc_err_t
pg_snapshot(cdc_source_t *s, const cdc_source_cb_t *cb, void *ctx, cdc_errstr_t *es)
{
    if (!s->snapshot_due)
        return s->resume.has_pos ? CDC_OK : store_start(s, cb, ctx, es);
    cdc_err_t err = pg_snapshot_run(s, cb, ctx, es);
    if (!err)
        s->snapshot_due = false;
    return err;
}

typedef struct {
    cdc_row_fn fn;
    void *ctx;
    uint64_t total;
} read_t;

static cdc_err_t
read_row(void *ctx, const cdc_event_t *ev)
{
    read_t *rd = ctx;
    return rd->fn(rd->ctx, ev, rd->total);
}

/* One table in a read-only REPEATABLE READ transaction, through the snapshot's chunked scan. */
cdc_err_t
pg_read_table(const cdc_source_conf_t *conf, const char *table, cdc_row_fn fn, void *ctx,
              cdc_errstr_t *es)
{
    size_t ordinal = 0;
    while (ordinal < conf->n_tables && strcmp(conf->tables[ordinal], table))
        ordinal++;
    if (ordinal == conf->n_tables)
        return cdc_errstr_set(es, CDC_ERR_INVAL, "source %s does not capture %s", conf->name,
                              table);
    cdc_source_t *s = cdc_xcalloc(1, sizeof(*s));
    s->conf = conf;
    s->wake_fd = -1;
    s->epoch = 1;
    s->types = pg_typecache_new();
    cdc_arena_init(&s->builder.arena);
    cdc_err_t err = CDC_OK;
    s->catalog = cdc_pg_connect(&conf->conn, false, &err, es);
    PGconn *conn = s->catalog ? cdc_pg_connect(&conf->conn, false, &err, es) : NULL;
    if (conn) {
        snprintf(s->dbname, sizeof(s->dbname), "%s", PQdb(conn));
        s->builder = (pg_builder_t){.arena = s->builder.arena,
                                    .system = conf->name,
                                    .db = s->dbname,
                                    .types = s->types,
                                    .catalog = s->catalog};
        PGresult *r = PQexec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            err = pg_result_error(es, CDC_ERR_CONNECT, conn, r, "starting a consistent read");
        PQclear(r);
    }
    pg_scan_t sc;
    bool opened = false;
    if (conn && !err)
        opened = !(err = pg_scan_open(&sc, s, conn, ordinal, es));
    read_t rd = {fn, ctx, 0};
    if (opened)
        rd.total = pg_estimate_rows(conn, table);
    pg_txn_t txn = {.epoch = 1, .phase = CDC_PHASE_SNAPSHOT, .minor = ordinal};
    snprintf(txn.txn_id, sizeof(txn.txn_id), "read");
    PGresult *last = NULL;
    const char **after = cdc_xcalloc((opened ? sc.meta.n_key : 0) + 1u, sizeof(char *));
    for (int rows = PG_SCAN_CHUNK_ROWS; opened && !err && rows == PG_SCAN_CHUNK_ROWS;) {
        err = pg_scan_next(&sc, &last, after, es);
        rows = err ? 0 : PQntuples(last);
        for (int row = 0; row < rows && !err; row++) {
            cdc_arena_reset(&s->builder.arena);
            err = pg_scan_emit_row(&sc, &txn, last, row, read_row, &rd, es);
        }
    }
    PQclear(last);
    free(after);
    if (opened)
        pg_scan_close(&sc);
    PQfinish(conn);
    pg_close(s);
    if (err)
        cdc_errstr_prefix(es, "source %s: reading %s", conf->name, table);
    return err;
}

const cdc_source_ops_t cdc_pg_source_ops = {
    .name = "postgresql",
    .open = pg_open,
    .snapshot = pg_snapshot,
    .poll = pg_stream_poll,
    .ack = pg_stream_ack,
    .close = pg_close,
};

/*
 * Snapshots of a MySQL / MariaDB source while streaming (the DBLog / incremental-snapshot
 * algorithm): completing an interrupted initial snapshot, then re-snapshots of single tables
 * asked for by `cdc-agent snapshot` (a signal-table row of type "snapshot", read in binlog order)
 * or added to the config (include/cdc/watermark.h keeps the queue). For the initial snapshot: The
 * stored resume point still stands at the snapshot's binlog point (or later, with the snapshot's
 * progress carried along), so every change since then arrives in the stream. The remaining rows are
 * read chunk by chunk between a low and a high watermark: a row of the signal table
 * (`signal_table`, one row per source, updated each time) written before and after the chunk's
 * SELECT. Rows whose key changed in the stream between the two watermarks are dropped, since the
 * stream carries them; the others go out as phase-2 rows inside the high watermark's transaction,
 * after every change committed before it and before every later one. Progress is committed with
 * that transaction, so a crash repeats at most one chunk.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/log.h"
#include "my_internal.h"

#define SIGNAL_TYPE  "watermark"
#define REQUEST_TYPE "snapshot"

void
my_resnap_free(cdc_source_t *s)
{
    my_resnap_t *r = &s->resnap;
    cdc_resnap_free(&r->drv); /* closes the open table */
    mysql_free_result(r->rows);
    my_snap_key_free(&r->after);
    if (r->signal) {
        my_table_free(r->signal);
        free(r->signal);
    }
    cdc_buf_deinit(&r->scratch);
    memset(r, 0, sizeof(*r));
}

/* `db`.`table` of the signal table into b. */
static void
signal_ident(const cdc_source_t *s, cdc_buf_t *b)
{
    cdc_mysql_ident(b, s->resnap.signal->db);
    cdc_buf_putc(b, '.');
    cdc_mysql_ident(b, s->resnap.signal->name);
}

/* The signal table the watermarks go to, created when missing (once a run). */
static cdc_err_t
signal_ready(cdc_source_t *s, cdc_errstr_t *es)
{
    my_resnap_t *r = &s->resnap;
    if (r->signal_ready)
        return CDC_OK;
    cdc_buf_reset(&r->scratch);
    cdc_mysql_signal_ddl(&r->scratch, s->conf->signal_table);
    if (mysql_query(s->catalog, r->scratch.data))
        return cdc_errstr_set(es, CDC_ERR_CONFIG,
                              "source %s: cannot create the signal table %s (signal_table) the "
                              "snapshot's watermarks are written to: %s; create it or grant "
                              "CREATE, INSERT, UPDATE on it",
                              s->conf->name, s->conf->signal_table, mysql_error(s->catalog));
    r->signal_ready = true;
    return CDC_OK;
}

cdc_err_t
my_resnap_start(cdc_source_t *s, const char *progress, cdc_errstr_t *es)
{
    my_resnap_t *r = &s->resnap;
    cdc_chunk_pos_t at = {0};
    if (progress && progress[0] && !cdc_chunk_pos_parse(progress, &at))
        return cdc_errstr_set(es, CDC_ERR_FATAL,
                              "source %s: unreadable snapshot progress in the stored offsets; "
                              "re-snapshot with `cdc-agent source drop`",
                              s->conf->name);
    cdc_resnap_start_initial(&r->drv, s->n_tables, at.ordinal,
                             progress && progress[0] ? progress : NULL);
    cdc_chunk_pos_free(&at);
    cdc_err_t err = signal_ready(s, es);
    if (err)
        return err;
    CDC_LOG_INFO("source=%s resuming the initial snapshot at table %zu of %zu with watermarks "
                 "in %s",
                 s->conf->name, r->drv.ordinal + 1, s->conf->n_tables, s->conf->signal_table);
    return CDC_OK;
}

/* Writes a watermark: the source's row of the signal table, created first when missing. */
static cdc_err_t
watermark(void *src, const char *label, cdc_errstr_t *es)
{
    cdc_source_t *s = src;
    my_resnap_t *r = &s->resnap;
    cdc_err_t err = signal_ready(s, es);
    if (err)
        return err;
    cdc_buf_t *b = &r->scratch;
    cdc_buf_reset(b);
    cdc_buf_puts(b, "INSERT INTO ");
    signal_ident(s, b);
    /* source names are [A-Za-z0-9_-]: no quoting needed */
    cdc_buf_printf(b,
                   " (id, type, data) VALUES ('%s', '" SIGNAL_TYPE "', '%s') ON "
                   "DUPLICATE KEY UPDATE type = VALUES(type), data = VALUES(data)",
                   s->conf->name, label);
    if (mysql_query(s->catalog, b->data))
        return my_query_error(s->catalog, es, "writing a snapshot watermark");
    return CDC_OK;
}

/* The table to read next, continuing after progress (which must fit its key). */
static cdc_err_t
open_table(void *src, size_t ordinal, const char *progress, cdc_errstr_t *es)
{
    cdc_source_t *s = src;
    my_resnap_t *r = &s->resnap;
    cdc_err_t err = my_snap_open(s, &s->tables[ordinal], &r->st, es);
    if (err)
        return err;
    r->after.set = false;
    if (progress && !my_snap_progress_key(&r->st, progress, &r->after)) {
        my_snap_close(&r->st);
        return cdc_errstr_set(es, CDC_ERR_FATAL,
                              "source %s: the stored snapshot progress does not fit the key "
                              "of %s.%s; re-snapshot with `cdc-agent source drop`",
                              s->conf->name, s->tables[ordinal].db, s->tables[ordinal].name);
    }
    return CDC_OK;
}

static void
close_table(void *src)
{
    cdc_source_t *s = src;
    my_snap_close(&s->resnap.st);
    s->resnap.after.set = false;
}

static cdc_err_t
read_chunk(void *src, cdc_errstr_t *es)
{
    cdc_source_t *s = src;
    my_resnap_t *r = &s->resnap;
    cdc_err_t err = my_snap_query(s, &r->st, &r->after, &r->scratch, es);
    if (err)
        return err;
    r->rows = mysql_store_result(s->catalog);
    return r->rows ? CDC_OK : my_query_error(s->catalog, es, "reading a snapshot chunk");
}

cdc_err_t
my_resnap_step(cdc_source_t *s, cdc_errstr_t *es)
{
    return cdc_resnap_step(&s->resnap.drv, es);
}

/* What identifies a row for the chunk: its key, or for a table without a key the whole row (a
 * snapshot row and a streamed row of the same values encode the same). */
static cdc_err_t
row_identity(const cdc_event_t *ev, const cdc_row_t *row, cdc_buf_t *out, cdc_errstr_t *es)
{
    cdc_event_t id = {.key = ev->key.present ? ev->key : *row};
    cdc_buf_reset(out);
    return cdc_event_key_encode(&id, out, es);
}

static void
track_row(my_resnap_t *r, const cdc_event_t *ev, const cdc_row_t *row)
{
    cdc_buf_t b;
    cdc_buf_init(&b);
    cdc_errstr_t es;
    if (row->present && !row_identity(ev, row, &b, &es))
        cdc_wm_track(&r->drv.wm, b.data); /* takes b's text */
    else
        cdc_buf_deinit(&b); /* the publisher stops on the same encoding error */
}

void
my_resnap_track(cdc_source_t *s, const cdc_event_t *ev)
{
    my_resnap_t *r = &s->resnap;
    if (!cdc_wm_tracking(&r->drv.wm) || !r->drv.table_open || strcmp(ev->source.db, r->st.tb->db) ||
        strcmp(ev->source.table, r->st.tb->name))
        return;
    if (ev->key.present) {
        track_row(r, ev, &ev->key);
        return;
    }
    /* without a key, a chunk row that is the old or the new state of a change is the stream's */
    track_row(r, ev, &ev->before);
    track_row(r, ev, &ev->after);
}

/* At the high watermark: the chunk's rows whose key did not change, as phase-2 reads. */
static cdc_err_t
emit_chunk(void *src, cdc_errstr_t *es)
{
    cdc_source_t *s = src;
    my_resnap_t *r = &s->resnap;
    const cdc_binlog_event_t *bev = r->cur_event;
    if (!r->rows)
        return CDC_OK;
    cdc_buf_t key;
    cdc_buf_init(&key);
    cdc_err_t err = CDC_OK;
    MYSQL_ROW row;
    mysql_data_seek(r->rows, 0);
    while (!err && (row = mysql_fetch_row(r->rows))) {
        unsigned long *len = mysql_fetch_lengths(r->rows);
        cdc_event_t ev;
        cdc_arena_reset(&s->arena);
        my_snap_row(s, &r->st, row, len, &ev);
        if ((err = row_identity(&ev, &ev.after, &key, es)))
            break;
        if (cdc_wm_changed(&r->drv.wm, key.data))
            continue; /* the stream carries this key's newer state */
        cdc_pos_t pos = {s->epoch, CDC_PHASE_RESNAPSHOT, s->txn.file_no, s->txn.minor, s->txn.idx};
        cdc_pos_format(s->txn.pos, &pos);
        ev.source.pos = s->txn.pos;
        ev.source.offset = bev->log_pos ? bev->log_pos - bev->size : 0;
        ev.source.gtid = s->txn.gtid[0] ? s->txn.gtid : NULL;
        ev.txn_id = s->txn.txn_id;
        ev.txn_seq = s->txn.idx++;
        err = my_emit(s, &ev);
    }
    cdc_buf_deinit(&key);
    return err;
}

static size_t
chunk_rows(void *src, bool *exhausted)
{
    cdc_source_t *s = src;
    uint64_t n = s->resnap.rows ? mysql_num_rows(s->resnap.rows) : 0;
    *exhausted = n < MY_CHUNK_ROWS || !s->resnap.st.n_key;
    return (size_t)n;
}

static char *
chunk_end(void *src)
{
    cdc_source_t *s = src;
    my_resnap_t *r = &s->resnap;
    mysql_data_seek(r->rows, mysql_num_rows(r->rows) - 1);
    MYSQL_ROW row = mysql_fetch_row(r->rows);
    my_snap_key_save(&r->st, row, mysql_fetch_lengths(r->rows), &r->after);
    return my_snap_progress(&r->st, r->drv.ordinal, &r->after);
}

static void
chunk_free(void *src)
{
    cdc_source_t *s = src;
    mysql_free_result(s->resnap.rows);
    s->resnap.rows = NULL;
}

static const cdc_resnap_ops_t resnap_ops = {open_table, close_table, watermark, read_chunk,
                                            emit_chunk, chunk_rows,  chunk_end, chunk_free};

void
my_resnap_restore(cdc_source_t *s)
{
    my_resnap_t *r = &s->resnap;
    const char *st = s->conf->signal_table, *dot = strchr(st, '.');
    r->signal = cdc_xcalloc(1, sizeof(my_table_t));
    r->signal->db = cdc_xstrndup(st, (size_t)(dot - st));
    r->signal->name = cdc_xstrdup(dot + 1);
    r->signal->signal = true;
    cdc_buf_init(&r->scratch);
    cdc_resnap_init(&r->drv, &resnap_ops, s, s->conf, s->resume.resnap,
                    s->conf->snapshot == CDC_SNAPSHOT_INITIAL);
}

static cdc_err_t
on_signal(cdc_source_t *s, const cdc_row_t *row, cdc_errstr_t *es)
{
    my_resnap_t *r = &s->resnap;
    const cdc_column_t *id = cdc_row_find(row, "id"), *data = cdc_row_find(row, "data"),
                       *type = cdc_row_find(row, "type");
    if (!id || !data || !type || id->value.type != CDC_VAL_STRING ||
        data->value.type != CDC_VAL_STRING || type->value.type != CDC_VAL_STRING)
        return CDC_OK;
    if (type->value.s.n == strlen(REQUEST_TYPE) &&
        !memcmp(type->value.s.p, REQUEST_TYPE, type->value.s.n)) {
        /* a request of `cdc-agent snapshot`; one in a transaction already stored is not taken
         * again */
        if (!s->txn.may_skip)
            cdc_wm_request_text(&r->drv.wm, s->conf, data->value.s.p, data->value.s.n);
        return CDC_OK;
    }
    if (id->value.s.n != strlen(s->conf->name) ||
        memcmp(id->value.s.p, s->conf->name, id->value.s.n))
        return CDC_OK; /* another source's */
    return cdc_resnap_watermark_read(&r->drv, data->value.s.p, data->value.s.n, es);
}

cdc_err_t
my_resnap_signal(cdc_source_t *s, const cdc_binlog_event_t *ev, cdc_errstr_t *es)
{
    my_resnap_t *r = &s->resnap;
    r->cur_event = ev;
    cdc_err_t err = my_rows_after(s, r->signal, ev, on_signal, es);
    r->cur_event = NULL;
    return err;
}

void
my_resnap_commit_info(cdc_source_t *s, cdc_txn_info_t *info)
{
    cdc_wm_commit_info(&s->resnap.drv.wm, s->conf->name, info);
}

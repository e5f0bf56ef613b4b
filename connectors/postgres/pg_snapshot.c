/*
 * Initial snapshot: every configured table read in the slot's exported snapshot, so the stream
 * that follows starts exactly where the snapshot ends. Tables are read in key order in chunks
 * (keyset pagination, no OFFSET); each chunk goes to the agent as one unit with phase-0 positions
 * (major = the slot's consistent point, minor = table ordinal, idx = row number in the table).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/log.h"
#include "cdc/pg.h"
#include "pg_source.h"

#define CHUNK_ROWS 10000

typedef struct {
    cdc_source_t *s;
    PGconn *conn;
    cdc_pgo_relation_t rel; /* synthetic relation built from the result columns */
    pg_relmeta_t meta;
    cdc_buf_t from;  /* "schema"."table" */
    cdc_buf_t order; /* "k1", "k2" */
    cdc_pgo_col_t *cols;
    const cdc_source_cb_t *cb;
    void *ctx;
} snap_t;

static cdc_err_t
emit_row(void *ctx, const cdc_event_t *ev)
{
    snap_t *sn = ctx;
    return sn->cb->event(sn->ctx, ev);
}

/* Column layout from a zero-row query, keys from the catalog, schema version from the agent. */
static cdc_err_t
describe(snap_t *sn, const char *qualified, cdc_errstr_t *es)
{
    cdc_buf_t sql;
    cdc_buf_init(&sql);
    cdc_buf_printf(&sql, "SELECT * FROM %s LIMIT 0", sn->from.data);
    PGresult *r = PQexec(sn->conn, sql.data);
    cdc_buf_deinit(&sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        cdc_errstr_set(es, CDC_ERR_CONNECT, "postgresql: reading %s: %s", qualified,
                       PQresultErrorMessage(r));
        PQclear(r);
        return CDC_ERR_CONNECT;
    }
    char schema[256];
    sn->rel.relname = cdc_xstrdup(cdc_config_split_table(qualified, schema, sizeof(schema)));
    sn->rel.nspname = cdc_xstrdup(schema);
    sn->rel.ncols = (uint16_t)PQnfields(r);
    sn->rel.cols = cdc_xcalloc(sn->rel.ncols ? sn->rel.ncols : 1, sizeof(cdc_pgo_column_t));
    sn->meta.types = cdc_xcalloc(sn->rel.ncols ? sn->rel.ncols : 1, sizeof(cdc_pg_type_t));
    sn->cols = cdc_xcalloc(sn->rel.ncols ? sn->rel.ncols : 1, sizeof(cdc_pgo_col_t));
    cdc_err_t err = CDC_OK;
    for (uint16_t i = 0; i < sn->rel.ncols && !err; i++) {
        sn->rel.cols[i].name = cdc_xstrdup(PQfname(r, i));
        sn->rel.cols[i].type_oid = PQftype(r, i);
        err = pg_type_resolve(sn->s->types, sn->s->catalog, PQftype(r, i), &sn->meta.types[i], es);
    }
    PQclear(r);
    if (err)
        return err;
    /* relid for the key lookup */
    const char *params[] = {sn->from.data};
    r = PQexecParams(sn->conn, "SELECT $1::regclass::oid", 1, NULL, params, NULL, NULL, 0);
    sn->rel.relid =
        PQresultStatus(r) == PGRES_TUPLES_OK ? (uint32_t)strtoul(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    PQclear(r);
    sn->meta.rel = &sn->rel;
    if ((err = pg_key_columns(sn->conn, &sn->rel, &sn->meta.key_idx, &sn->meta.n_key, es)))
        return err;
    for (uint16_t k = 0; k < sn->meta.n_key; k++) {
        if (k)
            cdc_buf_puts(&sn->order, ", ");
        pg_quote_ident(&sn->order, sn->rel.cols[sn->meta.key_idx[k]].name);
    }
    return pg_announce_schema(sn->s, &sn->meta, es);
}

/* One chunk: rows after the last key (all rows from the start on the first call). The last
 * row's key values go back as parameters typed like their columns. */
static cdc_err_t
read_chunk(snap_t *sn, pg_txn_t *txn, PGresult **last, int *rows, cdc_errstr_t *es)
{
    uint16_t nk = sn->meta.n_key;
    const char **params = cdc_xcalloc(nk + 1u, sizeof(char *));
    Oid *types = cdc_xcalloc(nk + 1u, sizeof(Oid));
    cdc_buf_t sql;
    cdc_buf_init(&sql);
    cdc_buf_printf(&sql, "SELECT * FROM %s", sn->from.data);
    if (*last) {
        int lr = PQntuples(*last) - 1;
        cdc_buf_printf(&sql, " WHERE (%s) > (", sn->order.data);
        for (uint16_t k = 0; k < nk; k++) {
            params[k] = PQgetvalue(*last, lr, sn->meta.key_idx[k]);
            types[k] = sn->rel.cols[sn->meta.key_idx[k]].type_oid;
            cdc_buf_printf(&sql, "%s$%u", k ? ", " : "", k + 1u);
        }
        cdc_buf_putc(&sql, ')');
    }
    cdc_buf_printf(&sql, " ORDER BY %s LIMIT %d", sn->order.data, CHUNK_ROWS);
    PGresult *r = PQexecParams(sn->conn, sql.data, *last ? nk : 0, types, params, NULL, NULL, 0);
    cdc_buf_deinit(&sql);
    free(params);
    free(types);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        cdc_errstr_set(es, CDC_ERR_CONNECT, "postgresql: snapshot of %s.%s: %s", sn->rel.nspname,
                       sn->rel.relname, PQresultErrorMessage(r));
        PQclear(r);
        return CDC_ERR_CONNECT;
    }
    PQclear(*last);
    *last = r;
    *rows = PQntuples(r);
    cdc_pgo_msg_t m = {.type = CDC_PGO_INSERT};
    m.change.new_tuple = (cdc_pgo_tuple_t){sn->rel.ncols, sn->cols};
    for (int row = 0; row < *rows; row++) {
        for (uint16_t i = 0; i < sn->rel.ncols; i++) {
            bool null = PQgetisnull(r, row, i);
            sn->cols[i] = (cdc_pgo_col_t){null ? CDC_PGO_COL_NULL : CDC_PGO_COL_TEXT,
                                          null ? NULL : PQgetvalue(r, row, i),
                                          (uint32_t)PQgetlength(r, row, i)};
        }
        cdc_err_t err = pg_build_change(&sn->s->builder, txn, &sn->meta, &m, emit_row, sn, es);
        if (err)
            return err;
    }
    return CDC_OK;
}

static void
snap_clear(snap_t *sn)
{
    free(sn->rel.nspname);
    free(sn->rel.relname);
    for (uint16_t i = 0; i < sn->rel.ncols; i++)
        free(sn->rel.cols[i].name);
    free(sn->rel.cols);
    free(sn->meta.types);
    free(sn->meta.key_idx);
    free(sn->cols);
    cdc_buf_deinit(&sn->from);
    cdc_buf_deinit(&sn->order);
}

/* Progress after a chunk: the next table once this one is exhausted, else this table's row count
 * and the last key read (text values, in key order). Caller frees. */
static char *
chunk_progress(snap_t *sn, size_t ordinal, const pg_txn_t *txn, PGresult *last, bool table_done)
{
    json_t *after = json_null();
    if (!table_done && last && PQntuples(last) > 0) {
        int lr = PQntuples(last) - 1;
        after = json_array();
        for (uint16_t k = 0; k < sn->meta.n_key; k++)
            json_array_append_new(after, json_string(PQgetvalue(last, lr, sn->meta.key_idx[k])));
    }
    json_t *p = json_pack("{s:I, s:I, s:o}", "ordinal", (json_int_t)(ordinal + table_done), "idx",
                          (json_int_t)(table_done ? 0 : txn->idx), "after", after);
    char *s = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(p);
    return s;
}

/* Reads one table; each chunk is one unit for the agent. last_table: the final chunk carries
 * the consistent point as its acknowledgement token. */
static cdc_err_t
snapshot_table(snap_t *sn, size_t ordinal, bool last_table, cdc_errstr_t *es)
{
    cdc_source_t *s = sn->s;
    const char *qualified = s->conf->tables[ordinal];
    char schema[256];
    const char *table = cdc_config_split_table(qualified, schema, sizeof(schema));
    pg_quote_ident(&sn->from, schema);
    cdc_buf_putc(&sn->from, '.');
    pg_quote_ident(&sn->from, table);
    cdc_err_t err = describe(sn, qualified, es);
    pg_txn_t txn = {.final_lsn = s->consistent_point,
                    .epoch = s->epoch,
                    .phase = CDC_PHASE_SNAPSHOT,
                    .minor = ordinal,
                    .ts_ms = pg_now_us() / 1000};
    snprintf(txn.txn_id, sizeof(txn.txn_id), "snapshot");
    PGresult *last = NULL;
    int rows = CHUNK_ROWS;
    uint64_t total = 0;
    while (!err && rows == CHUNK_ROWS) {
        cdc_pos_t start = {s->epoch, CDC_PHASE_SNAPSHOT, s->consistent_point, ordinal, txn.idx};
        cdc_txn_info_t info = {start, 0, txn.txn_id, txn.ts_ms, false, NULL};
        if (sn->cb->begin && (err = sn->cb->begin(sn->ctx, &info)))
            break;
        if ((err = read_chunk(sn, &txn, &last, &rows, es)))
            break;
        total += (uint64_t)rows;
        info.pos.idx = txn.idx;
        char *progress = chunk_progress(sn, ordinal, &txn, last, rows < CHUNK_ROWS);
        info.progress = progress;
        info.snapshot_done = last_table && rows < CHUNK_ROWS;
        info.ack_token = info.snapshot_done ? s->consistent_point : 0;
        err = sn->cb->commit(sn->ctx, &info);
        free(progress);
    }
    PQclear(last);
    if (!err)
        CDC_LOG_INFO("source=%s snapshot table=%s rows=%llu", s->conf->name, qualified,
                     (unsigned long long)total);
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
    for (size_t t = 0; !err && t < s->conf->n_tables; t++) {
        snap_t sn = {.s = s, .conn = conn, .cb = cb, .ctx = ctx};
        cdc_buf_init(&sn.from);
        cdc_buf_init(&sn.order);
        err = snapshot_table(&sn, t, t + 1 == s->conf->n_tables, es);
        snap_clear(&sn);
    }
    if (!err)
        err = pg_exec(conn, "COMMIT", es);
    PQfinish(conn);
    if (!err && cb->idle)
        err = cb->idle(ctx, s->consistent_point);
    return err;
}

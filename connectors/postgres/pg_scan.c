/*
 * Reading a table in key order, chunk by chunk (keyset pagination, no OFFSET), as the initial
 * snapshot does in the slot's exported snapshot and the snapshot resume does between watermarks.
 * Rows become events through the same builder as streamed inserts.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_source.h"

/* Column layout from a zero-row query, keys from the catalog, schema version from the agent. */
cdc_err_t
pg_scan_open(pg_scan_t *sn, cdc_source_t *s, PGconn *conn, size_t ordinal, cdc_errstr_t *es)
{
    memset(sn, 0, sizeof(*sn));
    sn->s = s;
    sn->conn = conn;
    sn->ordinal = ordinal;
    cdc_buf_init(&sn->from);
    cdc_buf_init(&sn->order);
    const char *qualified = s->conf->tables[ordinal];
    char schema[256];
    const char *table = cdc_config_split_table(qualified, schema, sizeof(schema));
    pg_quote_ident(&sn->from, schema);
    cdc_buf_putc(&sn->from, '.');
    pg_quote_ident(&sn->from, table);
    cdc_buf_t sql;
    cdc_buf_init(&sql);
    cdc_buf_printf(&sql, "SELECT * FROM %s LIMIT 0", sn->from.data);
    PGresult *r = PQexec(sn->conn, sql.data);
    cdc_buf_deinit(&sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        pg_result_error(es, CDC_ERR_CONNECT, sn->conn, r, "reading %s", qualified);
        PQclear(r);
        return CDC_ERR_CONNECT;
    }
    sn->rel.relname = cdc_xstrdup(table);
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

/* Rows after the key values in after (NULL: from the start), at most PG_SCAN_CHUNK_ROWS, in key
 * order. The values go back as parameters typed like their columns. */
cdc_err_t
pg_scan_chunk(pg_scan_t *sn, const char *const *after, PGresult **out, cdc_errstr_t *es)
{
    uint16_t nk = sn->meta.n_key;
    Oid *types = cdc_xcalloc(nk + 1u, sizeof(Oid));
    cdc_buf_t sql;
    cdc_buf_init(&sql);
    cdc_buf_printf(&sql, "SELECT * FROM %s", sn->from.data);
    if (after) {
        cdc_buf_printf(&sql, " WHERE (%s) > (", sn->order.data);
        for (uint16_t k = 0; k < nk; k++) {
            types[k] = sn->rel.cols[sn->meta.key_idx[k]].type_oid;
            cdc_buf_printf(&sql, "%s$%u", k ? ", " : "", k + 1u);
        }
        cdc_buf_putc(&sql, ')');
    }
    cdc_buf_printf(&sql, " ORDER BY %s LIMIT %d", sn->order.data, PG_SCAN_CHUNK_ROWS);
    PGresult *r = PQexecParams(sn->conn, sql.data, after ? nk : 0, types, after, NULL, NULL, 0);
    cdc_buf_deinit(&sql);
    free(types);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        pg_result_error(es, CDC_ERR_CONNECT, sn->conn, r, "reading %s.%s", sn->rel.nspname,
                        sn->rel.relname);
        PQclear(r);
        return CDC_ERR_CONNECT;
    }
    *out = r;
    return CDC_OK;
}

cdc_err_t
pg_scan_next(pg_scan_t *sn, PGresult **last, const char **after, cdc_errstr_t *es)
{
    PGresult *r = NULL;
    if (*last)
        pg_scan_key(sn, *last, PQntuples(*last) - 1, after);
    cdc_err_t err = pg_scan_chunk(sn, *last ? after : NULL, &r, es);
    PQclear(*last);
    *last = r;
    return err;
}

void
pg_scan_key(const pg_scan_t *sn, PGresult *r, int row, const char **out)
{
    for (uint16_t k = 0; k < sn->meta.n_key; k++)
        out[k] = PQgetvalue(r, row, sn->meta.key_idx[k]);
}

cdc_err_t
pg_scan_emit_row(pg_scan_t *sn, pg_txn_t *txn, PGresult *r, int row, pg_emit_fn emit, void *ctx,
                 cdc_errstr_t *es)
{
    cdc_pgo_msg_t m = {.type = CDC_PGO_INSERT};
    m.change.new_tuple = (cdc_pgo_tuple_t){sn->rel.ncols, sn->cols};
    for (uint16_t i = 0; i < sn->rel.ncols; i++) {
        bool null = PQgetisnull(r, row, i);
        sn->cols[i] =
            (cdc_pgo_col_t){null ? CDC_PGO_COL_NULL : CDC_PGO_COL_TEXT,
                            null ? NULL : PQgetvalue(r, row, i), (uint32_t)PQgetlength(r, row, i)};
    }
    return pg_build_change(&sn->s->builder, txn, &sn->meta, &m, emit, ctx, es);
}

void
pg_scan_close(pg_scan_t *sn)
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

/* Progress after a chunk: the next table once this one is exhausted, else the last key read (text
 * values, in key order). Caller frees. */
char *
pg_scan_progress(const pg_scan_t *sn, PGresult *last, bool table_done)
{
    if (table_done || !last || PQntuples(last) == 0)
        return cdc_chunk_pos_format(sn->ordinal + table_done, NULL, NULL, 0);
    const char **after = cdc_xcalloc(sn->meta.n_key + 1u, sizeof(char *));
    int lr = PQntuples(last) - 1;
    for (uint16_t k = 0; k < sn->meta.n_key; k++)
        after[k] = PQgetvalue(last, lr, sn->meta.key_idx[k]);
    char *text = cdc_chunk_pos_format(sn->ordinal, after, NULL, sn->meta.n_key);
    free(after);
    return text;
}

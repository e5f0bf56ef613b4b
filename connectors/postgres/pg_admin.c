/*
 * Administrative operations on a PostgreSQL source for the CLI: dropping its slot and publication
 * (`cdc-agent source drop`, refused while an agent streams from the slot), where the server
 * stands (`offsets show`), moving the slot forward (`offsets set`) and asking for a re-snapshot
 * (`snapshot`).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/connector.h"
#include "cdc/offsets.h"
#include "pg.h"
#include "pg_internal.h"

/* A connection to the source's server and what its slot is like; NULL (err set) on failure. */
static PGconn *
connect_slot(const cdc_source_conf_t *conf, pg_slot_info_t *info, cdc_err_t *err, cdc_errstr_t *es)
{
    PGconn *c = cdc_pg_connect(&conf->conn, false, err, es);
    if (c && (*err = pg_slot_info(c, conf->slot, info, es))) {
        PQfinish(c);
        return NULL;
    }
    return c;
}

cdc_err_t
cdc_pg_source_drop(const cdc_source_conf_t *conf, bool dry_run, cdc_errstr_t *es)
{
    cdc_err_t err;
    pg_slot_info_t info;
    PGconn *c = connect_slot(conf, &info, &err, es);
    if (!c)
        return err;
    if (info.active) {
        err = cdc_errstr_set(es, CDC_ERR_FATAL,
                             "source %s is running: slot %s is in use; stop the agent first",
                             conf->name, conf->slot);
        goto out;
    }
    if (dry_run)
        goto out;
    cdc_buf_t sql;
    cdc_buf_init(&sql);
    if (info.exists) {
        /* slot names are validated by the config loader: A-Z a-z 0-9 _ - only */
        cdc_buf_printf(&sql, "SELECT pg_drop_replication_slot('%s')", conf->slot);
        err = pg_exec(c, sql.data, es);
    }
    if (!err) {
        cdc_buf_reset(&sql);
        cdc_buf_puts(&sql, "DROP PUBLICATION IF EXISTS ");
        pg_quote_ident(&sql, conf->publication);
        err = pg_exec(c, sql.data, es);
    }
    cdc_buf_deinit(&sql);
out:
    PQfinish(c);
    return err;
}

cdc_err_t
cdc_pg_source_now(const cdc_source_conf_t *conf, const char *native, cdc_source_now_t *out,
                  cdc_errstr_t *es)
{
    (void)native; /* the slot says what was acknowledged */
    memset(out, 0, sizeof(*out));
    out->lag_bytes = out->retained_bytes = -1;
    cdc_err_t err;
    PGconn *c = cdc_pg_connect(&conf->conn, false, &err, es);
    if (!c)
        return err;
    const char *params[] = {conf->slot};
    PGresult *r = PQexecParams(
        c,
        "SELECT pg_current_wal_lsn()::text, s.confirmed_flush_lsn::text, pg_current_wal_lsn() - "
        "s.confirmed_flush_lsn, pg_current_wal_lsn() - s.restart_lsn, s.active_pid FROM (SELECT "
        "1) one LEFT JOIN pg_replication_slots s ON s.slot_name = $1",
        1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        err = pg_result_error(es, CDC_ERR_CONNECT, c, r, "reading the WAL position");
    } else {
        snprintf(out->position, sizeof(out->position), "%s", PQgetvalue(r, 0, 0));
        snprintf(out->acked, sizeof(out->acked), "%s", PQgetvalue(r, 0, 1));
        if (!PQgetisnull(r, 0, 2))
            out->lag_bytes = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
        if (!PQgetisnull(r, 0, 3))
            out->retained_bytes = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
        if (!PQgetisnull(r, 0, 4))
            snprintf(out->running, sizeof(out->running), "slot %s active, pid %s", conf->slot,
                     PQgetvalue(r, 0, 4));
        else if (PQgetisnull(r, 0, 1))
            snprintf(out->running, sizeof(out->running), "slot %s does not exist", conf->slot);
    }
    PQclear(r);
    PQfinish(c);
    return err;
}

cdc_err_t
cdc_pg_source_seek(const cdc_source_conf_t *conf, const char *position, bool force,
                   cdc_offsets_t *o, cdc_errstr_t *es)
{
    (void)force; /* a slot in use cannot be advanced at all */
    uint64_t lsn;
    if (!cdc_lsn_parse(position, &lsn))
        return cdc_errstr_set(es, CDC_ERR_INVAL,
                              "--position %s: expected a PostgreSQL LSN such as 0/1A2B3C4D",
                              position);
    if (o->pos.phase == CDC_PHASE_STREAM && lsn <= o->pos.major)
        return cdc_errstr_set(es, CDC_ERR_INVAL,
                              "source %s: %s is not ahead of the stored position; a replication "
                              "slot cannot go back: to read older changes again take a new "
                              "snapshot (cdc-agent snapshot, or cdc-agent source drop)",
                              conf->name, position);
    cdc_err_t err;
    PGconn *c = cdc_pg_connect(&conf->conn, false, &err, es);
    if (!c)
        return err;
    char lsn_txt[CDC_LSN_STRLEN];
    cdc_lsn_format(lsn_txt, lsn);
    const char *params[] = {conf->slot, lsn_txt};
    PGresult *r = PQexecParams(c,
                               "SELECT s.active_pid, s.confirmed_flush_lsn > $2::pg_lsn, "
                               "$2::pg_lsn > pg_current_wal_insert_lsn() FROM "
                               "pg_replication_slots s WHERE s.slot_name = $1",
                               2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        err = pg_result_error(es, CDC_ERR_CONNECT, c, r, "reading slot %s", conf->slot);
    else if (PQntuples(r) != 1)
        err = cdc_errstr_set(es, CDC_ERR_FATAL, "source %s: slot %s does not exist", conf->name,
                             conf->slot);
    else if (!PQgetisnull(r, 0, 0))
        err = cdc_errstr_set(es, CDC_ERR_FATAL,
                             "source %s is running: slot %s is in use by pid %s; stop the agent "
                             "first (a slot in use cannot be moved)",
                             conf->name, conf->slot, PQgetvalue(r, 0, 0));
    else if (!strcmp(PQgetvalue(r, 0, 1), "t"))
        err = cdc_errstr_set(es, CDC_ERR_INVAL,
                             "source %s: slot %s already confirmed past %s; a replication slot "
                             "cannot go back",
                             conf->name, conf->slot, position);
    else if (!strcmp(PQgetvalue(r, 0, 2), "t"))
        err = cdc_errstr_set(es, CDC_ERR_INVAL, "source %s: %s lies beyond the server's WAL",
                             conf->name, position);
    PQclear(r);
    if (!err) {
        r = PQexecParams(c, "SELECT pg_replication_slot_advance($1, $2::pg_lsn)", 2, NULL, params,
                         NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            err = pg_result_error(es, CDC_ERR_FATAL, c, r, "advancing slot %s", conf->slot);
        PQclear(r);
    }
    PQfinish(c);
    if (err)
        return err;
    /* resume after everything that committed up to lsn (the slot itself stops at what the server
     * flushed so far; the stored position skips the rest) */
    o->pos = (cdc_pos_t){o->pos.epoch, CDC_PHASE_STREAM, lsn, 0, UINT32_MAX};
    o->snapshot_done = true;
    free(o->progress);
    o->progress = NULL;
    return CDC_OK;
}

cdc_err_t
cdc_pg_source_request(const cdc_source_conf_t *conf, const char *table, const char *id,
                      const char *payload, int64_t *rows, cdc_errstr_t *es)
{
    (void)id; /* the payload carries it */
    cdc_err_t err;
    pg_slot_info_t info;
    PGconn *c = connect_slot(conf, &info, &err, es);
    if (!c)
        return err;
    if (!info.exists) {
        err = cdc_errstr_set(es, CDC_ERR_FATAL,
                             "source %s has no slot %s yet: its first start snapshots every "
                             "table; start the agent",
                             conf->name, conf->slot);
        goto out;
    }
    char schema[256];
    const char *name = cdc_config_split_table(table, schema, sizeof(schema));
    cdc_buf_t sql, content;
    cdc_buf_init(&sql);
    cdc_buf_init(&content);
    cdc_buf_puts(&sql, "SELECT count(*) FROM ");
    pg_quote_ident(&sql, schema);
    cdc_buf_putc(&sql, '.');
    pg_quote_ident(&sql, name);
    PGresult *r = PQexec(c, sql.data);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        *rows = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    else
        err = pg_result_error(es, CDC_ERR_CONNECT, c, r, "counting the rows of %s", table);
    PQclear(r);
    if (!err) {
        cdc_buf_printf(&content, "%s:%s", conf->slot, payload);
        const char *params[] = {content.data};
        r = PQexecParams(c, "SELECT pg_logical_emit_message(true, 'cdc-signal', $1)", 1, NULL,
                         params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            err = pg_result_error(es, CDC_ERR_CONNECT, c, r, "writing the request");
        PQclear(r);
    }
    cdc_buf_deinit(&sql);
    cdc_buf_deinit(&content);
out:
    PQfinish(c);
    return err;
}

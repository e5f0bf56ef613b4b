/*
 * Administrative operations on a PostgreSQL source for the CLI: dropping its slot and publication
 * (`cdc-agent source drop`), refused while an agent streams from the slot.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/connector.h"
#include "cdc/pg.h"
#include "pg_internal.h"

cdc_err_t
cdc_pg_source_drop(const cdc_source_conf_t *conf, bool dry_run, cdc_errstr_t *es)
{
    cdc_err_t err;
    PGconn *c = cdc_pg_connect(&conf->conn, false, &err, es);
    if (!c)
        return err;
    pg_slot_info_t info;
    if ((err = pg_slot_info(c, conf->slot, &info, es)))
        goto out;
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

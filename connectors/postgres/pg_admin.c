/*
 * Administrative operations on a PostgreSQL source for the CLI: dropping its slot and publication
 * (`cdc-agent source drop`), refused while an agent streams from the slot.
 */
#include <stdio.h>
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

/*
 * The PostgreSQL connector as the core sees it: one table of operations (include/cdc/connector.h).
 */
#include <stdio.h>

#include "cdc/offsets.h"
#include "cdc/position.h"
#include "pg.h"

/* A streamed position is a WAL location; a snapshot's is not yet one. */
static bool
stored_position(const cdc_offsets_t *o, char *out, size_t n)
{
    if (o->pos.phase == CDC_PHASE_SNAPSHOT)
        return false;
    char lsn[CDC_LSN_STRLEN];
    cdc_lsn_format(lsn, o->pos.major);
    snprintf(out, n, "lsn %s", lsn);
    return true;
}

static void
client_version(char *out, size_t n)
{
    snprintf(out, n, "libpq %d", PQlibVersion());
}

const cdc_connector_t cdc_pg_connector = {
    .type = CDC_DB_POSTGRESQL,
    .name = "postgresql",
    .source = &cdc_pg_source_ops,
    .sink = &cdc_pg_sink_ops,
    .probe = cdc_pg_probe,
    .source_drop = cdc_pg_source_drop,
    .source_now = cdc_pg_source_now,
    .source_read = pg_read_table,
    .source_seek = cdc_pg_source_seek,
    .source_request = cdc_pg_source_request,
    .lock_take = cdc_pg_lock_take,
    .lock_check = cdc_pg_lock_check,
    .lock_release = cdc_pg_lock_release,
    .stored_position = stored_position,
    .client_version = client_version,
    .conf = &cdc_pg_conf,
};

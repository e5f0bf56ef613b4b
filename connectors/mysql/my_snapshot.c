/*
 * Initial snapshot of a MySQL / MariaDB source.
 */
#include "my_internal.h"

cdc_err_t
my_snapshot_run(cdc_source_t *s, cdc_errstr_t *es)
{
    return cdc_errstr_set(es, CDC_ERR_NOTIMPL,
                          "source %s: the initial snapshot of MySQL sources is not built yet; "
                          "set `snapshot: never` to stream from the current binlog position",
                          s->conf->name);
}

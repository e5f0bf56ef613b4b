/*
 * The MySQL / MariaDB connector as the core sees it: one table of operations
 * (include/cdc/connector.h).
 */
#include <jansson.h>
#include <stdio.h>

#include "cdc/offsets.h"
#include "mysql_conn.h"

/* The binlog file and position stored with the offsets (the source's own resume point). */
static bool
stored_position(const cdc_offsets_t *o, char *out, size_t n)
{
    if (!o->native)
        return false;
    json_t *j = json_loads(o->native, 0, NULL);
    const char *file = json_string_value(json_object_get(j, "file"));
    snprintf(out, n, "%s:%lld", file ? file : "?",
             (long long)json_integer_value(json_object_get(j, "pos")));
    json_decref(j);
    return true;
}

static void
client_version(char *out, size_t n)
{
    snprintf(out, n, "MariaDB Connector/C %s", mysql_get_client_info());
}

const cdc_connector_t cdc_mysql_connector = {
    .type = CDC_DB_MYSQL,
    .name = "mysql",
    .source = &cdc_mysql_source_ops,
    .sink = &cdc_mysql_sink_ops,
    .probe = cdc_mysql_probe,
    .source_drop = cdc_mysql_source_drop,
    .source_now = cdc_mysql_source_now,
    .source_read = my_read_table,
    .source_seek = cdc_mysql_source_seek,
    .source_request = cdc_mysql_source_request,
    .lock_take = cdc_mysql_lock_take,
    .lock_check = cdc_mysql_lock_check,
    .lock_release = cdc_mysql_lock_release,
    .stored_position = stored_position,
    .client_version = client_version,
    .conf = &cdc_mysql_conf,
};

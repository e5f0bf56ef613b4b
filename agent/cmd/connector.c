/*
 * The static connector table: every database type with its source, sink and probe.
 */
#include "cdc/connector.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const cdc_connector_t *const connectors[] = {&cdc_pg_connector, &cdc_mysql_connector};

const cdc_connector_t *
cdc_connector_find(cdc_db_type_t type)
{
    for (size_t i = 0; i < sizeof(connectors) / sizeof(connectors[0]); i++)
        if (connectors[i]->type == type)
            return connectors[i];
    return NULL;
}

const cdc_connector_t *
cdc_connector_at(size_t i)
{
    return i < sizeof(connectors) / sizeof(connectors[0]) ? connectors[i] : NULL;
}

void
cdc_probe_note(cdc_probe_t *p, bool problem, const char *fmt, ...)
{
    if (problem)
        p->n_problems++;
    if (p->n_notes >= CDC_PROBE_MAX_NOTES)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->notes[p->n_notes++], sizeof(p->notes[0]), fmt, ap);
    va_end(ap);
}

/* Whether name is one of have. */
static bool
has_column(const char *const *have, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(have[i], name))
            return true;
    return false;
}

void
cdc_probe_route(cdc_probe_t *p, const cdc_route_conf_t *route, const char *const *have, size_t n,
                bool exists)
{
    if (!exists) {
        cdc_probe_note(p, true, "route %s: target table %s does not exist; create it", route->from,
                       route->to);
        return;
    }
    for (size_t i = 0; i < route->n_columns; i++)
        if (route->columns[i].value && !has_column(have, n, route->columns[i].value))
            cdc_probe_note(p, true, "route %s: target %s has no column %s (columns: %s -> %s)",
                           route->from, route->to, route->columns[i].value, route->columns[i].key,
                           route->columns[i].value);
    for (size_t i = 0; i < route->n_constants; i++)
        if (!has_column(have, n, route->constants[i].key))
            cdc_probe_note(p, true, "route %s: target %s has no column %s (constants)", route->from,
                           route->to, route->constants[i].key);
    for (size_t i = 0; i < route->n_key; i++)
        if (!has_column(have, n, route->key[i]))
            cdc_probe_note(p, true, "route %s: target %s has no column %s (key)", route->from,
                           route->to, route->key[i]);
}

/*
 * PostgreSQL connections: the config's conninfo and discrete keys merged into one libpq call, with
 * the contract's session options, and failures reported as "postgresql HOST:PORT: cause".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/connector.h"
#include "pg.h"
#include "pg_internal.h"

void
cdc_pg_endpoint(PGconn *c, char *out, size_t n)
{
    const char *host = c ? PQhost(c) : NULL, *port = c ? PQport(c) : NULL;
    snprintf(out, n, "%s:%s", host && *host ? host : "localhost", port && *port ? port : "5432");
}

/* libpq messages end in a newline and may span lines; keep the first line. */
static void
first_line(const char *msg, char *out, size_t n)
{
    snprintf(out, n, "%s", msg ? msg : "");
    out[strcspn(out, "\n")] = '\0';
}

static bool
auth_failure(const char *msg)
{
    return strstr(msg, "authentication failed") || strstr(msg, "no password supplied") ||
           strstr(msg, "password is required") || strstr(msg, "role \"");
}

PGconn *
cdc_pg_connect(const cdc_db_conn_t *conn, bool replication, cdc_err_t *err, cdc_errstr_t *es)
{
    char port[16];
    const char *keys[12], *vals[12];
    int k = 0;
    /* the conninfo first (expand_dbname), then discrete keys override it */
    keys[k] = "dbname", vals[k++] = conn->conninfo ? conn->conninfo : "";
    if (conn->database)
        keys[k] = "dbname", vals[k++] = conn->database;
    if (conn->host)
        keys[k] = "host", vals[k++] = conn->host;
    if (conn->port) {
        snprintf(port, sizeof(port), "%d", conn->port);
        keys[k] = "port", vals[k++] = port;
    }
    if (conn->user)
        keys[k] = "user", vals[k++] = conn->user;
    if (conn->password)
        keys[k] = "password", vals[k++] = conn->password;
    keys[k] = "options", vals[k++] = CDC_PG_SESSION_OPTIONS;
    keys[k] = "application_name", vals[k++] = "cdc-agent";
    if (!conn->conninfo || !strstr(conn->conninfo, "connect_timeout"))
        keys[k] = "connect_timeout", vals[k++] = "10";
    if (replication)
        keys[k] = "replication", vals[k++] = "database";
    keys[k] = NULL, vals[k] = NULL;

    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (c && PQstatus(c) == CONNECTION_OK) {
        *err = CDC_OK;
        return c;
    }
    char ep[300], msg[400];
    cdc_pg_endpoint(c, ep, sizeof(ep));
    first_line(c ? PQerrorMessage(c) : "out of memory", msg, sizeof(msg));
    *err = auth_failure(msg) ? CDC_ERR_AUTH : CDC_ERR_CONNECT;
    cdc_errstr_set(es, *err, "postgresql %s: %s", ep, msg);
    PQfinish(c);
    return NULL;
}

/* One-value query; returns false when it fails (the note says why). */
static bool
query_value(PGconn *c, const char *sql, char *out, size_t n)
{
    PGresult *r = PQexec(c, sql);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    snprintf(out, n, "%s", ok ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    return ok;
}

static void
probe_server(PGconn *c, cdc_probe_t *out)
{
    char v[128];
    if (query_value(c, "SHOW wal_level", v, sizeof(v)) && strcmp(v, "logical") != 0)
        cdc_probe_note(out, true,
                       "wal_level is %s; run ALTER SYSTEM SET wal_level = logical; and restart "
                       "PostgreSQL",
                       v);
    if (query_value(c,
                    "SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = "
                    "current_user",
                    v, sizeof(v)) &&
        strcmp(v, "t") != 0)
        cdc_probe_note(out, true, "user %s lacks REPLICATION; run ALTER ROLE %s REPLICATION;",
                       PQuser(c), PQuser(c));
    if (query_value(c,
                    "SELECT current_setting('max_wal_senders')::int - (SELECT count(*) FROM "
                    "pg_stat_replication)",
                    v, sizeof(v)) &&
        atoi(v) <= 0)
        cdc_probe_note(out, true,
                       "no free WAL sender; raise max_wal_senders and restart "
                       "PostgreSQL");
}

/* The slot: missing (created at start), lost, or held by another connection. */
static void
probe_slot(PGconn *c, const cdc_source_conf_t *src, cdc_probe_t *out)
{
    pg_slot_info_t info;
    cdc_errstr_t es;
    char v[64];
    if (pg_slot_info(c, src->slot, &info, &es) != CDC_OK)
        return;
    if (!info.exists) {
        if (query_value(c,
                        "SELECT current_setting('max_replication_slots')::int - (SELECT count(*) "
                        "FROM pg_replication_slots)",
                        v, sizeof(v)) &&
            atoi(v) <= 0)
            cdc_probe_note(out, true,
                           "no free replication slot for %s; raise "
                           "max_replication_slots and restart PostgreSQL",
                           src->slot);
        else
            cdc_probe_note(out, false, "slot %s will be created at start", src->slot);
    } else if (info.lost) {
        cdc_probe_note(out, true, "slot %s is invalidated (wal_status = lost); re-snapshot",
                       src->slot);
    } else if (info.active) {
        cdc_probe_note(out, false, "slot %s is in use (an agent is running)", src->slot);
    }
}

/* One boolean query with one text parameter; false when it fails. */
static bool
query_bool(PGconn *c, const char *sql, const char *param)
{
    const char *params[] = {param};
    PGresult *r = PQexecParams(c, sql, param ? 1 : 0, NULL, params, NULL, NULL, 0);
    bool yes =
        PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return yes;
}

/* What the agent does with the tables at start: reads them (SELECT) and, when it creates the
 * publication, publishes them, which takes CREATE on the database and ownership of each table. */
static void
probe_privileges(PGconn *c, const cdc_source_conf_t *src, bool publication_exists, cdc_probe_t *out)
{
    const char *user = PQuser(c);
    if (!publication_exists &&
        !query_bool(c, "SELECT has_database_privilege(current_database(), 'CREATE')", NULL))
        cdc_probe_note(out, true,
                       "user %s cannot create publication %s: run GRANT CREATE ON DATABASE %s TO "
                       "%s; or create it as the tables' owner",
                       user, src->publication, PQdb(c), user);
    cdc_buf_t name;
    cdc_buf_init(&name);
    for (size_t i = 0; i < src->n_tables; i++) {
        cdc_buf_reset(&name);
        pg_quote_table(&name, src->tables[i]);
        if (!query_bool(c, "SELECT to_regclass($1) IS NOT NULL", name.data))
            continue; /* said by the table check */
        if (!query_bool(c, "SELECT has_table_privilege($1::regclass, 'SELECT')", name.data))
            cdc_probe_note(out, true, "user %s cannot read %s; run GRANT SELECT ON %s TO %s;", user,
                           src->tables[i], name.data, user);
        if (!publication_exists &&
            !query_bool(c,
                        "SELECT pg_has_role(relowner, 'USAGE') FROM pg_class WHERE oid = "
                        "$1::regclass",
                        name.data))
            cdc_probe_note(out, true,
                           "user %s does not own %s, so it cannot add it to publication %s: "
                           "create the publication as the owner (CREATE PUBLICATION %s FOR "
                           "TABLE ...), or run ALTER TABLE %s OWNER TO %s;",
                           user, src->tables[i], src->publication, src->publication, name.data,
                           user);
    }
    cdc_buf_deinit(&name);
}

/* Every configured table: exists, can identify rows, is in the publication. */
static void
probe_tables(PGconn *c, const cdc_source_conf_t *src, cdc_probe_t *out)
{
    for (size_t i = 0; i < src->n_tables; i++) {
        cdc_source_conf_t one = *src;
        cdc_errstr_t es = {{0}};
        one.tables = &src->tables[i];
        one.n_tables = 1;
        if (pg_tables_check(c, &one, &es) != CDC_OK)
            cdc_probe_note(out, true, "%s", es.msg);
    }
    const char *params[] = {src->publication};
    PGresult *r = PQexecParams(c, "SELECT 1 FROM pg_publication WHERE pubname = $1", 1, NULL,
                               params, NULL, NULL, 0);
    bool exists = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    PQclear(r);
    probe_privileges(c, src, exists, out);
    if (!exists) {
        cdc_probe_note(out, false, "publication %s will be created at start", src->publication);
        return;
    }
    cdc_buf_t missing;
    cdc_errstr_t es = {{0}};
    cdc_buf_init(&missing);
    if (pg_publication_missing(c, src, &missing, NULL, &es) == CDC_OK && missing.len)
        cdc_probe_note(out, true, "publication %s lacks %s; run ALTER PUBLICATION %s ADD TABLE %s;",
                       src->publication, missing.data, src->publication, missing.data);
    cdc_buf_deinit(&missing);
}

/* Every route's target table and the columns the route names. */
static void
probe_routes(PGconn *c, const cdc_sink_conf_t *sink, cdc_probe_t *out)
{
    for (size_t i = 0; i < sink->n_routes; i++) {
        const cdc_route_conf_t *route = &sink->routes[i];
        char schema[256];
        const char *table = cdc_config_split_table(route->to, schema, sizeof(schema));
        const char *params[] = {schema, table};
        PGresult *r = PQexecParams(c,
                                   "SELECT column_name FROM information_schema.columns WHERE "
                                   "table_schema = $1 AND table_name = $2",
                                   2, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) == PGRES_TUPLES_OK) {
            int n = PQntuples(r);
            const char **have = cdc_xcalloc((size_t)n + 1, sizeof(char *));
            for (int k = 0; k < n; k++)
                have[k] = PQgetvalue(r, k, 0);
            cdc_probe_route(out, route, have, (size_t)n, n > 0);
            free(have);
        }
        PQclear(r);
    }
}

/* The replication origin that marks what the sink applies (no echo in two-way sync). */
static void
probe_origin(PGconn *c, const cdc_sink_conf_t *sink, cdc_probe_t *out)
{
    PGresult *r = PQexec(c, "SELECT has_function_privilege('pg_replication_origin_create(text)', "
                            "'EXECUTE') AND has_function_privilege("
                            "'pg_replication_origin_oid(text)', 'EXECUTE') AND "
                            "has_function_privilege('pg_replication_origin_session_setup(text)', "
                            "'EXECUTE')");
    if (PQresultStatus(r) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r, 0, 0), "t"))
        cdc_probe_note(out, false,
                       "sink %s cannot set replication origin %s, so a source of this agent "
                       "cluster would publish what it applies again (two-way sync echoes); "
                       "run " PG_ORIGIN_GRANT "%s;",
                       sink->name, sink->applied_mark, PQuser(c));
    PQclear(r);
}

cdc_err_t
cdc_pg_probe(const cdc_db_conn_t *conn, const cdc_source_conf_t *source,
             const cdc_sink_conf_t *sink, cdc_probe_t *out, cdc_errstr_t *es)
{
    cdc_err_t err;
    memset(out, 0, sizeof(*out));
    PGconn *c = cdc_pg_connect(conn, false, &err, es);
    if (!c)
        return err;
    cdc_pg_endpoint(c, out->endpoint, sizeof(out->endpoint));
    int v = PQserverVersion(c);
    snprintf(out->server_version, sizeof(out->server_version), "PostgreSQL %d.%d", v / 10000,
             v % 10000);
    if (source) {
        probe_server(c, out);
        probe_slot(c, source, out);
        probe_tables(c, source, out);
    }
    if (sink)
        probe_routes(c, sink, out);
    if (sink && sink->applied_mark)
        probe_origin(c, sink, out);
    PQfinish(c);
    return CDC_OK;
}

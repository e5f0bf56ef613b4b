/*
 * PostgreSQL connections: the config's conninfo and discrete keys merged into one libpq call, with
 * the contract's session options, and failures reported as "postgresql HOST:PORT: cause".
 */
#include <stdio.h>
#include <string.h>

#include "cdc/connector.h"
#include "cdc/pg.h"

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
probe_source(PGconn *c, const cdc_db_conn_t *conn, cdc_probe_t *out)
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
                    "SELECT current_setting('max_replication_slots')::int - (SELECT count(*) FROM "
                    "pg_replication_slots)",
                    v, sizeof(v)) &&
        strcmp(v, "0") == 0)
        cdc_probe_note(out, true,
                       "no free replication slot; raise max_replication_slots and "
                       "restart PostgreSQL");
}

cdc_err_t
cdc_pg_probe(const cdc_db_conn_t *conn, bool as_source, cdc_probe_t *out, cdc_errstr_t *es)
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
    if (as_source)
        probe_source(c, conn, out);
    PQfinish(c);
    return CDC_OK;
}

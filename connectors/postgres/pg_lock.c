/*
 * The lock that decides which instance of an agent runs a source (agent.ha): a session advisory
 * lock on a connection of its own. The server lets go of it when that session ends, so an
 * instance that dies (kill -9, a lost machine once the server notices) hands it on by itself.
 */
#include <stdlib.h>
#include <string.h>

#include "cdc/buf.h"
#include "cdc/connector.h"
#include "pg.h"

struct cdc_db_lock {
    PGconn *c;
    char endpoint[300];
};

/* One boolean query; CDC_ERR_CONNECT naming the server when the session failed. */
static cdc_err_t
ask(cdc_db_lock_t *l, const char *sql, const char *name, bool *yes, cdc_errstr_t *es)
{
    const char *params[] = {name};
    PGresult *r = PQexecParams(l->c, sql, name ? 1 : 0, NULL, name ? params : NULL, NULL, NULL, 0);
    cdc_err_t err = CDC_OK;
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        const char *msg = PQerrorMessage(l->c);
        err = cdc_errstr_set(es, CDC_ERR_CONNECT, "postgresql %s: %.*s", l->endpoint,
                             (int)strcspn(msg, "\n"), msg);
    } else {
        *yes = !strcmp(PQgetvalue(r, 0, 0), "t");
    }
    PQclear(r);
    return err;
}

void
cdc_pg_lock_release(cdc_db_lock_t *l)
{
    if (!l)
        return;
    PQfinish(l->c); /* the session's end lets go of the lock */
    free(l);
}

cdc_err_t
cdc_pg_lock_take(const cdc_db_conn_t *conn, const char *name, cdc_db_lock_t **out, cdc_errstr_t *es)
{
    cdc_err_t err;
    PGconn *c = cdc_pg_connect(conn, false, &err, es);
    if (!c)
        return err;
    cdc_db_lock_t *l = cdc_xcalloc(1, sizeof(*l));
    l->c = c;
    cdc_pg_endpoint(c, l->endpoint, sizeof(l->endpoint));
    bool got = false;
    err = ask(l, "SELECT pg_try_advisory_lock(hashtext($1))", name, &got, es);
    if (!err && !got)
        err = cdc_errstr_set(es, CDC_ERR_FENCED,
                             "another instance holds the lock '%s' on postgresql %s", name,
                             l->endpoint);
    if (err) {
        cdc_pg_lock_release(l);
        return err;
    }
    *out = l;
    return CDC_OK;
}

cdc_err_t
cdc_pg_lock_check(cdc_db_lock_t *l, cdc_errstr_t *es)
{
    bool alive = false;
    return ask(l, "SELECT true", NULL, &alive, es);
}

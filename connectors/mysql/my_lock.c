/*
 * The lock that decides which instance of an agent runs a source (agent.ha): GET_LOCK on a
 * session of its own (never reconnected behind our back: the lock would be gone). The server lets
 * go of it when that session ends, so an instance that dies hands it on by itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mysql_conn.h"

struct cdc_db_lock {
    MYSQL *m;
    char endpoint[300];
};

/* One query whose single value is 1 or not; CDC_ERR_CONNECT naming the server when it failed. */
static cdc_err_t
ask(cdc_db_lock_t *l, const char *sql, bool *yes, cdc_errstr_t *es)
{
    if (mysql_query(l->m, sql))
        return cdc_errstr_set(es, CDC_ERR_CONNECT, "mysql %s: %s (%u)", l->endpoint,
                              mysql_error(l->m), mysql_errno(l->m));
    MYSQL_RES *r = mysql_store_result(l->m);
    MYSQL_ROW row = r ? mysql_fetch_row(r) : NULL;
    *yes = row && row[0] && !strcmp(row[0], "1");
    mysql_free_result(r);
    if (!r)
        return cdc_errstr_set(es, CDC_ERR_CONNECT, "mysql %s: %s (%u)", l->endpoint,
                              mysql_error(l->m), mysql_errno(l->m));
    return CDC_OK;
}

void
cdc_mysql_lock_release(cdc_db_lock_t *l)
{
    if (!l)
        return;
    mysql_close(l->m); /* the session's end lets go of the lock */
    free(l);
}

cdc_err_t
cdc_mysql_lock_take(const cdc_db_conn_t *conn, const char *name, cdc_db_lock_t **out,
                    cdc_errstr_t *es)
{
    cdc_err_t err;
    MYSQL *m = cdc_mysql_connect(conn, &err, es);
    if (!m)
        return err;
    cdc_db_lock_t *l = cdc_xcalloc(1, sizeof(*l));
    l->m = m;
    snprintf(l->endpoint, sizeof(l->endpoint), "%s:%d", conn->host ? conn->host : "127.0.0.1",
             conn->port ? conn->port : 3306);
    cdc_buf_t q;
    cdc_buf_init(&q);
    cdc_buf_puts(&q, "SELECT GET_LOCK(");
    cdc_mysql_literal(m, &q, name, strlen(name));
    cdc_buf_puts(&q, ", 0)");
    bool got = false;
    err = ask(l, q.data, &got, es);
    cdc_buf_deinit(&q);
    if (!err && !got)
        err = cdc_errstr_set(es, CDC_ERR_FENCED, "another instance holds the lock '%s' on mysql %s",
                             name, l->endpoint);
    if (err) {
        cdc_mysql_lock_release(l);
        return err;
    }
    *out = l;
    return CDC_OK;
}

cdc_err_t
cdc_mysql_lock_check(cdc_db_lock_t *l, cdc_errstr_t *es)
{
    bool one = false;
    return ask(l, "SELECT 1", &one, es);
}

/*
 * PostgreSQL connection helpers shared by the PostgreSQL source and sink.
 */
#ifndef CDC_PG_H
#define CDC_PG_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "cdc/config.h"
#include "cdc/err.h"

/* Session settings of the contract (TimeZone UTC, ISO dates and intervals, exact floats, hex
 * bytea). */
#define CDC_PG_SESSION_OPTIONS                                                                     \
    "-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=iso_8601 -c extra_float_digits=3 "          \
    "-c bytea_output=hex"

/* Opens a connection (replication=database when replication is true) with the session settings.
 * On failure returns NULL; es says "postgresql HOST:PORT: cause" and the error is CDC_ERR_AUTH
 * for credentials, CDC_ERR_CONNECT otherwise. The caller PQfinish()es the result. */
PGconn *cdc_pg_connect(const cdc_db_conn_t *conn, bool replication, cdc_err_t *err,
                       cdc_errstr_t *es);
/* "host:port" of a connection (or of the attempt), into out. */
void cdc_pg_endpoint(PGconn *c, char *out, size_t n);

#endif

/*
 * PostgreSQL connection helpers shared by the PostgreSQL source and sink.
 */
#ifndef CDC_PG_H
#define CDC_PG_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "cdc/config.h"
#include "cdc/connector.h"
#include "cdc/err.h"
#include "cdc/sink.h"
#include "cdc/sink_offsets.h"
#include "cdc/source.h"

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

/* agent.ha's source lock (pg_lock.c): the connector's lock_take, lock_check, lock_release. */
cdc_err_t cdc_pg_lock_take(const cdc_db_conn_t *conn, const char *name, cdc_db_lock_t **out,
                           cdc_errstr_t *es);
cdc_err_t cdc_pg_lock_check(cdc_db_lock_t *l, cdc_errstr_t *es);
void cdc_pg_lock_release(cdc_db_lock_t *l);

/* ---- the sink's offsets table (pg_sink_offsets.c): the target's operations, for the sink in
 * cdc_sink_base(t)->conf->name, on its session (pg_sink_conn) ---- */

PGconn *pg_sink_conn(cdc_sink_target_t *t);

/* PostgreSQL target: creates the table when missing (CREATE on the schema needed). */
cdc_err_t cdc_pg_sink_offsets_ensure(cdc_sink_target_t *t, cdc_errstr_t *es);
/* Every stored offset of sink. */
cdc_err_t cdc_pg_sink_offsets_load(cdc_sink_target_t *t, cdc_sink_offsets_t *out, cdc_errstr_t *es);
/* Inside the caller's transaction: moves the rows of next[i].topic/partition from expected[i]
 * (-1: no row yet) to next[i] (next_offset > expected), the existing rows in one statement.
 * CDC_ERR_FENCED when a row is not at its expected offset: another instance of the sink moved
 * it. */
cdc_err_t cdc_pg_sink_offsets_move(cdc_sink_target_t *t, const cdc_sink_offset_t *next,
                                   const int64_t *expected, size_t n, cdc_errstr_t *es);

/* Sets the rows of next[0..n) as given, inserting missing ones (replay rewinds partitions). */
cdc_err_t cdc_pg_sink_offsets_set(cdc_sink_target_t *t, const cdc_sink_offset_t *next, size_t n,
                                  cdc_errstr_t *es);

/* ---- the connector's door (pg_connector.c lists them) ---- */

extern const cdc_source_ops_t cdc_pg_source_ops;
extern const cdc_sink_ops_t cdc_pg_sink_ops;
extern const cdc_connector_conf_t cdc_pg_conf;
cdc_err_t cdc_pg_probe(const cdc_db_conn_t *conn, const cdc_source_conf_t *source,
                       const cdc_sink_conf_t *sink, cdc_probe_t *out, cdc_errstr_t *es);
cdc_err_t cdc_pg_source_drop(const cdc_source_conf_t *conf, bool dry_run, cdc_errstr_t *es);
cdc_err_t cdc_pg_source_seek(const cdc_source_conf_t *conf, const char *position, bool force,
                             struct cdc_offsets *o, cdc_errstr_t *es);
cdc_err_t cdc_pg_source_now(const cdc_source_conf_t *conf, const char *native,
                            cdc_source_now_t *out, cdc_errstr_t *es);
/* `cdc-agent duplicates`: a table in one consistent read (pg_open.c). */
cdc_err_t pg_read_table(const cdc_source_conf_t *conf, const char *table, cdc_row_fn fn, void *ctx,
                        cdc_errstr_t *es);
cdc_err_t cdc_pg_source_request(const cdc_source_conf_t *conf, const char *table, const char *id,
                                const char *payload, int64_t *rows, cdc_errstr_t *es);

#endif

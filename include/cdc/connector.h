/*
 * The connector table: one entry per database type, listed statically (no dlopen). Each entry
 * carries its source and sink operations and a probe used by
 * `cdc-agent check` to reach the server with the contract's session settings.
 */
#ifndef CDC_CONNECTOR_H
#define CDC_CONNECTOR_H

#include <stdbool.h>

#include "cdc/config.h"
#include "cdc/err.h"

struct cdc_source_ops; /* source: open, snapshot, poll, ack, close */
struct cdc_sink_ops;   /* sink: open, apply, offsets_load, close */

/* What a probe learned; the lines are printed by `check` as they are. */
#define CDC_PROBE_MAX_NOTES 48
typedef struct {
    char endpoint[300];                   /* host:port actually reached (or tried) */
    char server_version[128];             /* e.g. "PostgreSQL 15.18" */
    int n_problems;                       /* prerequisites not met */
    char notes[CDC_PROBE_MAX_NOTES][300]; /* one line each: a problem and its exact fix */
    int n_notes;
} cdc_probe_t;

struct cdc_offsets; /* cdc/offsets.h */

/* Where a source's server is now, for `offsets show`. */
typedef struct {
    char position[160];     /* PostgreSQL: current WAL LSN; MySQL: binlog file:position */
    char acked[160];        /* PostgreSQL: the slot's confirmed_flush_lsn ("" without a slot) */
    int64_t lag_bytes;      /* log the agent has not committed yet (-1: unknown) */
    int64_t retained_bytes; /* PostgreSQL: WAL the slot keeps (-1: no slot / MySQL) */
    char running[160]; /* who reads it now ("slot active, pid 123", "replica connected") or "" */
} cdc_source_now_t;

typedef struct {
    cdc_db_type_t type;
    const char *name;
    const struct cdc_source_ops *source;
    const struct cdc_sink_ops *sink;
    /* Connects with the contract's session settings and reports the server; for a source
     * (source != NULL) also the replication prerequisites and its tables, for a sink (sink !=
     * NULL) its routes' target tables and the columns they name. es names host:port and the
     * cause; never a secret. */
    cdc_err_t (*probe)(const cdc_db_conn_t *conn, const cdc_source_conf_t *source,
                       const cdc_sink_conf_t *sink, cdc_probe_t *out, cdc_errstr_t *es);
    /* Drops the source's replication state (slot, publication); refuses while an agent streams
     * from it. dry_run only checks that. */
    cdc_err_t (*source_drop)(const cdc_source_conf_t *conf, bool dry_run, cdc_errstr_t *es);
    /* The server's current position and the lag behind it of the stored resume point (native:
     * the source_resume JSON of the stored offsets, or NULL). */
    cdc_err_t (*source_now)(const cdc_source_conf_t *conf, const char *native,
                            cdc_source_now_t *out, cdc_errstr_t *es);
    /* `offsets set --source`: checks that position (the database's own notation) lies ahead of
     * the stored one (*o) and on the server, prepares the server (a PostgreSQL slot advances;
     * refused while in use) and updates *o to resume there. force: even while a replica with
     * our server_id reads the binlog (MySQL). */
    cdc_err_t (*source_seek)(const cdc_source_conf_t *conf, const char *position, bool force,
                             struct cdc_offsets *o, cdc_errstr_t *es);
    /* `cdc-agent snapshot`: counts the rows of table (one of conf's) into *rows, then writes
     * payload (the request's JSON) into the source's stream, where the agent reads it in order:
     * PostgreSQL a transactional logical message, MySQL a row of the signal table (id names the
     * row). */
    cdc_err_t (*source_request)(const cdc_source_conf_t *conf, const char *table, const char *id,
                                const char *payload, int64_t *rows, cdc_errstr_t *es);
} cdc_connector_t;

/* The connector for type, or NULL. */
const cdc_connector_t *cdc_connector_find(cdc_db_type_t type);

/* Adds a note to a probe result (printf-style); counts it as a problem when problem is true. */
void cdc_probe_note(cdc_probe_t *p, bool problem, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A sink route's target as the probe found it: notes the missing table, or each column the route
 * names (columns, constants, key) that the table lacks. have: the table's columns (n of them;
 * exists = false when the table is missing). */
void cdc_probe_route(cdc_probe_t *p, const cdc_route_conf_t *route, const char *const *have,
                     size_t n, bool exists);

/* Probes of the built-in connectors. */
cdc_err_t cdc_pg_probe(const cdc_db_conn_t *conn, const cdc_source_conf_t *source,
                       const cdc_sink_conf_t *sink, cdc_probe_t *out, cdc_errstr_t *es);
cdc_err_t cdc_pg_source_drop(const cdc_source_conf_t *conf, bool dry_run, cdc_errstr_t *es);
cdc_err_t cdc_mysql_source_drop(const cdc_source_conf_t *conf, bool dry_run, cdc_errstr_t *es);
cdc_err_t cdc_pg_source_seek(const cdc_source_conf_t *conf, const char *position, bool force,
                             struct cdc_offsets *o, cdc_errstr_t *es);
cdc_err_t cdc_mysql_source_seek(const cdc_source_conf_t *conf, const char *position, bool force,
                                struct cdc_offsets *o, cdc_errstr_t *es);
cdc_err_t cdc_pg_source_now(const cdc_source_conf_t *conf, const char *native,
                            cdc_source_now_t *out, cdc_errstr_t *es);
cdc_err_t cdc_mysql_source_now(const cdc_source_conf_t *conf, const char *native,
                               cdc_source_now_t *out, cdc_errstr_t *es);
cdc_err_t cdc_pg_source_request(const cdc_source_conf_t *conf, const char *table, const char *id,
                                const char *payload, int64_t *rows, cdc_errstr_t *es);
cdc_err_t cdc_mysql_source_request(const cdc_source_conf_t *conf, const char *table, const char *id,
                                   const char *payload, int64_t *rows, cdc_errstr_t *es);
cdc_err_t cdc_mysql_probe(const cdc_db_conn_t *conn, const cdc_source_conf_t *source,
                          const cdc_sink_conf_t *sink, cdc_probe_t *out, cdc_errstr_t *es);

#endif

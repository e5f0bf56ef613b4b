/*
 * The connector table: one entry per database type, listed statically (no dlopen). Each entry
 * carries its source and sink operations and a probe used by
 * `cdc-agent check` to reach the server with the contract's session settings.
 */
#ifndef CDC_CONNECTOR_H
#define CDC_CONNECTOR_H

#include <stdbool.h>

#include "cdc/config.h"
#include "cdc/config_walk.h"
#include "cdc/err.h"
#include "cdc/event.h"

struct cdc_source_ops; /* source: open, snapshot, poll, ack, close */
struct cdc_sink_ops;   /* sink: open, apply, offsets_load, close */

/* What a probe learned; the lines are printed by `check` as they are. */
#define CDC_PROBE_MAX_NOTES 48
typedef struct {
    char endpoint[300];                   /* host:port actually reached (or tried) */
    char server_version[128];             /* e.g. "PostgreSQL 15.18" */
    int n_problems;                       /* prerequisites not met */
    char notes[CDC_PROBE_MAX_NOTES][512]; /* one line each: a problem and its exact fix */
    int n_notes;
} cdc_probe_t;

struct cdc_offsets; /* cdc/offsets.h */

/* A database's own part of the config (read with cdc/config_walk.h, so its errors name the file,
 * line and key like the core's). */
typedef struct {
    const char *table_form; /* what qualifies a table: "<schema>" or "<database>" */
    /* The keys only this database's sources take (NULL-terminated); another database's source
     * that sets one is refused with "only for <name> sources". */
    const char *const *source_keys;
    /* Reads one of source_keys into s. */
    cdc_err_t (*source_key)(cfg_t *c, const char *key, yaml_node_t *v, const char *path,
                            cdc_source_conf_t *s);
    /* Once a source's or sink's mapping n is read: its connection keys. */
    cdc_err_t (*conn_check)(cfg_t *c, yaml_node_t *n, const char *path, const cdc_db_conn_t *conn);
    /* Once a source's mapping is read: keys it needs, and defaults. */
    cdc_err_t (*source_check)(cfg_t *c, yaml_node_t *n, const char *path, cdc_source_conf_t *s);
    /* Whether source a would read the stream source b reads (one reader per stream): why. */
    bool (*same_stream)(const cdc_source_conf_t *a, const cdc_source_conf_t *b, char *why,
                        size_t n);
} cdc_connector_conf_t;

/* Where a source's server is now, for `offsets show`. */
typedef struct {
    char position[160];     /* PostgreSQL: current WAL LSN; MySQL: binlog file:position */
    char acked[160];        /* PostgreSQL: the slot's confirmed_flush_lsn ("" without a slot) */
    int64_t lag_bytes;      /* log the agent has not committed yet (-1: unknown) */
    int64_t retained_bytes; /* PostgreSQL: WAL the slot keeps (-1: no slot / MySQL) */
    char running[160]; /* who reads it now ("slot active, pid 123", "replica connected") or "" */
} cdc_source_now_t;

/* A server-wide lock held on a session of its own (agent.ha: which instance runs a source). */
typedef struct cdc_db_lock cdc_db_lock_t;

/* A row handed on by source_read: a snapshot event; total is the estimated number of rows. */
typedef cdc_err_t (*cdc_row_fn)(void *ctx, const cdc_event_t *ev, uint64_t total);

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
    /* `cdc-agent duplicates`: every row of table (one of conf's) in one consistent read, chunk
     * by chunk in key order as the snapshot reads it, each as a snapshot event to fn. */
    cdc_err_t (*source_read)(const cdc_source_conf_t *conf, const char *table, cdc_row_fn fn,
                             void *ctx, cdc_errstr_t *es);
    /* `offsets show`: a stored resume point in the database's own notation ("lsn 0/16B3748",
     * "mariadb-bin.000003:4567") into out; false when it has none (the position is shown). */
    bool (*stored_position)(const struct cdc_offsets *o, char *out, size_t n);
    /* agent.ha: takes the lock called name (at most 64 characters) on a new session to conn's
     * server without waiting: CDC_OK with *out held until lock_release or until the session ends,
     * CDC_ERR_FENCED while another session holds it (es says so), else the connection's error
     * (host:port and the cause). */
    cdc_err_t (*lock_take)(const cdc_db_conn_t *conn, const char *name, cdc_db_lock_t **out,
                           cdc_errstr_t *es);
    /* Whether the lock is still held: one round trip on its session; an error when the session
     * is gone (the server let go of the lock with it). */
    cdc_err_t (*lock_check)(cdc_db_lock_t *l, cdc_errstr_t *es);
    void (*lock_release)(cdc_db_lock_t *l); /* NULL: nothing */
    /* `--version`: the client library and its version ("libpq 150010"). */
    void (*client_version)(char *out, size_t n);
    const cdc_connector_conf_t *conf;
} cdc_connector_t;

/* The connector for type, or NULL. */
const cdc_connector_t *cdc_connector_find(cdc_db_type_t type);
/* The i-th connector of the table, or NULL past its end. */
const cdc_connector_t *cdc_connector_at(size_t i);

/* Adds a note to a probe result (printf-style); counts it as a problem when problem is true. */
void cdc_probe_note(cdc_probe_t *p, bool problem, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A sink route's target as the probe found it: notes the missing table, or each column the route
 * names (columns, constants, key) that the table lacks. have: the table's columns (n of them;
 * exists = false when the table is missing). */
void cdc_probe_route(cdc_probe_t *p, const cdc_route_conf_t *route, const char *const *have,
                     size_t n, bool exists);

/* The built-in connectors (connectors/postgres/pg_connector.c, connectors/mysql/my_connector.c):
 * each one's only symbol the core names. */
extern const cdc_connector_t cdc_pg_connector;
extern const cdc_connector_t cdc_mysql_connector;

#endif

/*
 * Private to the PostgreSQL connector: catalog lookups (type resolution, table checks,
 * publication and slot state) and event building from pgoutput tuples.
 */
#ifndef CDC_PG_INTERNAL_H
#define CDC_PG_INTERNAL_H

#include <libpq-fe.h>

#include "cdc/buf.h"
#include "cdc/event.h"
#include "pg_types.h"
#include "pgoutput.h"
#include "cdc/source.h"

/* ---- type cache (pg_catalog.c) ---- */
typedef struct pg_typecache pg_typecache_t;

pg_typecache_t *pg_typecache_new(void);
void pg_typecache_free(pg_typecache_t *tc);
/* Resolves oid (domains to their base, enums and unknown types to text, arrays to their element)
 * with a catalog query on conn when it is not builtin; cached. */
cdc_err_t pg_type_resolve(pg_typecache_t *tc, PGconn *conn, uint32_t oid, cdc_pg_type_t *out,
                          cdc_errstr_t *es);

/* ---- table and replication checks (pg_catalog.c) ---- */
typedef struct {
    char *schema, *table;
    char replident; /* 'd', 'f', 'i', 'n' */
    int n_pk;       /* primary-key columns */
} pg_table_info_t;

/* Looks each configured table up; refuses tables that do not exist or whose replica identity
 * cannot identify rows (with the exact ALTER TABLE to run). */
cdc_err_t pg_tables_check(PGconn *conn, const cdc_source_conf_t *conf, cdc_errstr_t *es);
/* Creates the publication for the configured tables when missing; when present, refuses it if a
 * configured table is missing from it (naming the ALTER PUBLICATION to run). */
cdc_err_t pg_publication_ensure(PGconn *conn, const cdc_source_conf_t *conf, cdc_errstr_t *es);

/* Appends the configured tables missing from the publication (comma-separated) to missing, and
 * quoted for SQL to quoted (when not NULL). */
cdc_err_t pg_publication_missing(PGconn *conn, const cdc_source_conf_t *conf, cdc_buf_t *missing,
                                 cdc_buf_t *quoted, cdc_errstr_t *es);

typedef struct {
    bool exists;
    bool active;
    bool lost; /* wal_status = 'lost' */
    char plugin[64];
    char database[128];
    uint64_t confirmed_flush;
    uint64_t restart_lsn;
} pg_slot_info_t;

cdc_err_t pg_slot_info(PGconn *conn, const char *slot, pg_slot_info_t *out, cdc_errstr_t *es);
/* Quotes an identifier for SQL ("a""b"). */
void pg_quote_ident(cdc_buf_t *b, const char *ident);
/* Appends a configured "schema.table" quoted for SQL: "schema"."table". */
void pg_quote_table(cdc_buf_t *b, const char *qualified);
/* Sets es to "postgresql: WHAT: <first line of the server's message>" (r's, or conn's when r is
 * NULL; no "WHAT: " when fmt is "") and returns err. */
/* What a sink user needs to mark what it applies with a replication origin (followed by the
 * user and, in SQL, a semicolon). */
#define PG_ORIGIN_GRANT                                                                            \
    "GRANT EXECUTE ON FUNCTION pg_replication_origin_create(text), "                               \
    "pg_replication_origin_oid(text), pg_replication_origin_session_setup(text) TO "

cdc_err_t pg_result_error(cdc_errstr_t *es, cdc_err_t err, PGconn *conn, const PGresult *r,
                          const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Runs a command that returns no rows; es gets the server's message. */
cdc_err_t pg_exec(PGconn *conn, const char *sql, cdc_errstr_t *es);

/* ---- events from tuples (pg_events.c) ---- */
typedef struct {
    const char *system; /* source name */
    const char *db;
    pg_typecache_t *types;
    PGconn *catalog;
    cdc_arena_t arena; /* reset per event */
} pg_builder_t;

/* The transaction being read. */
typedef struct {
    uint64_t final_lsn;
    int64_t ts_ms;
    uint32_t xid;
    uint32_t idx; /* next event index */
    uint32_t epoch;
    cdc_phase_t phase; /* STREAM, or SNAPSHOT for rows read by the initial snapshot */
    uint64_t minor;    /* snapshot: the table's ordinal */
    char txn_id[16];
    char pos[CDC_POS_STRLEN];
} pg_txn_t;

/* What the source knows about a relation beyond its Relation message. */
typedef struct {
    const cdc_pgo_relation_t *rel;
    cdc_pg_type_t *types; /* per column */
    uint16_t *key_idx; /* key columns in key order (primary key, else identity index, else all) */
    uint16_t n_key;
    int64_t sv; /* schema version from the agent */
} pg_relmeta_t;

/* Key columns of relid in key order, as column indexes of rel; the caller frees *idx. */
cdc_err_t pg_key_columns(PGconn *conn, const cdc_pgo_relation_t *rel, uint16_t **idx, uint16_t *n,
                         cdc_errstr_t *es);

/* Builds the events of one Insert/Update/Delete (a key change gives a delete and a create) and
 * passes each to emit. */
typedef cdc_err_t (*pg_emit_fn)(void *ctx, const cdc_event_t *ev);
cdc_err_t pg_build_change(pg_builder_t *b, pg_txn_t *txn, const pg_relmeta_t *meta,
                          const cdc_pgo_msg_t *m, pg_emit_fn emit, void *ctx, cdc_errstr_t *es);
/* A truncate event for the relation. */
cdc_err_t pg_build_truncate(pg_builder_t *b, pg_txn_t *txn, const pg_relmeta_t *meta,
                            pg_emit_fn emit, void *ctx, cdc_errstr_t *es);

#endif

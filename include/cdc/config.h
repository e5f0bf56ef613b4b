/*
 * The agent's YAML configuration (contract: README "Configuration"; every key is listed in
 * config/reference.yaml). Loading validates everything up front; each error names the file, line,
 * column and key path. Secrets arrive only through *_env or *_file keys and are never printed.
 */
#ifndef CDC_CONFIG_H
#define CDC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdc/err.h"
#include "cdc/transform.h"
#include "cdc/log.h"

/* Config files larger than this are refused before parsing. */
#define CDC_CONFIG_MAX_BYTES (1024 * 1024)

typedef struct {
    char *key;
    char *value;
} cdc_kv_t;

/* The admin API on agent.http (docs/api.md). */
typedef struct {
    char *token;    /* the bearer token (from token_env / token_file); NULL: none */
    bool read_open; /* GET endpoints answer without the token */
    char *tls_cert; /* PEM certificate chain (read from tls_cert_file): HTTPS instead of HTTP */
    char *tls_key;  /* its private key (tls_key_file) */
    int rate_per_s; /* requests per second per client address (a token bucket; 0: no limit) */
    int burst;      /* the bucket's size */
    int64_t max_body_bytes;
} cdc_api_conf_t;

typedef struct {
    char *name; /* transactional ids are <name>.<source> */
    char *http; /* host:port of the health/metrics endpoint and the admin API; NULL disables it */
    cdc_api_conf_t api;
    cdc_log_format_t log_format;
    cdc_log_level_t log_level;
    int64_t shutdown_timeout_ms; /* after SIGTERM/SIGINT, the longest a clean stop may take */
    int64_t memory_mb;           /* records buffered from Kafka, shared by the sinks' consumers */
    /* active-passive: several instances run with this name; each source and sink runs in the one
     * holding its lock (the source's on its database, the sink's on its target), the others wait
     * as standbys (docs/operations.md#standby) */
    bool ha;
} cdc_agent_conf_t;

typedef struct {
    char *brokers; /* bootstrap list, or "embedded" */
    bool embedded; /* in-process mock cluster: non-durable, demos and tests only */
    char *topic_prefix;
    bool tombstones;
    int64_t max_event_bytes;
    char *compression; /* none | gzip | snappy | lz4 | zstd */
    int linger_ms;     /* how long a Kafka transaction stays open collecting source txns */
    int partitions;    /* partitions of topics the agent creates */
    int replication_factor;
    char *security_protocol;
    char *sasl_mechanism;
    char *sasl_username;
    char *sasl_password; /* secret */
    char *signing_key;   /* secret: records are signed and checked with it (include/cdc/sign.h) */
    char *ssl_ca_location;
    char *ssl_certificate_location;
    char *ssl_key_location;
    char *ssl_key_password; /* secret */
    cdc_kv_t *properties;   /* other librdkafka properties, passed through */
    size_t n_properties;
    /* What one consumer may hold of fetched records (its share of agent.memory_mb); 0:
     * CDC_CONSUMER_MEMORY_DEFAULT */
    int64_t consumer_memory_bytes;
} cdc_kafka_conf_t;

/* A sink's memory share when agent.memory_mb is unset: its consumer keeps its full speed from
 * about 4 MB (docs/sinks.md#memory); 16 leaves room for wide rows and a farther broker. */
#define CDC_CONSUMER_MEMORY_DEFAULT (16LL << 20)

/* What one consumer may hold: its share, or the default. */
static inline int64_t
cdc_consumer_memory(const cdc_kafka_conf_t *kc)
{
    return kc->consumer_memory_bytes > 0 ? kc->consumer_memory_bytes : CDC_CONSUMER_MEMORY_DEFAULT;
}

typedef enum { CDC_DB_POSTGRESQL = 1, CDC_DB_MYSQL } cdc_db_type_t;

/* TLS to MySQL / MariaDB (ssl_mode); PostgreSQL takes libpq's sslmode in its conninfo. */
typedef enum {
    CDC_SSL_PREFERRED = 0, /* TLS when the server offers it (the default, as the mysql client) */
    CDC_SSL_DISABLED,
    CDC_SSL_REQUIRED,        /* TLS or no connection */
    CDC_SSL_VERIFY_CA,       /* and the server's certificate is signed by ssl_ca */
    CDC_SSL_VERIFY_IDENTITY, /* and names the host connected to */
} cdc_ssl_mode_t;

/* How to reach a database. PostgreSQL takes conninfo and/or the discrete keys. */
typedef struct {
    char *conninfo; /* PostgreSQL only; must not contain a password */
    char *host;
    int port; /* 0 = default */
    char *user;
    char *password; /* secret, from password_env or password_file */
    char *database;
    cdc_ssl_mode_t ssl_mode;           /* MySQL only */
    char *ssl_ca, *ssl_cert, *ssl_key; /* MySQL only: PEM files */
} cdc_db_conn_t;

typedef enum { CDC_SNAPSHOT_INITIAL = 0, CDC_SNAPSHOT_NEVER } cdc_snapshot_mode_t;

typedef struct {
    char *name;
    cdc_db_type_t type;
    cdc_db_conn_t conn;
    char **tables;                      /* "schema.table" (PostgreSQL) or "db.table" (MySQL) */
    char **table_topics;                /* per-table topic override or NULL, parallel to tables */
    cdc_transforms_t *table_transforms; /* per table, parallel to tables (n 0: none) */
    size_t n_tables;
    char *slot;         /* PostgreSQL */
    char *publication;  /* PostgreSQL */
    uint32_t server_id; /* MySQL: our replica id */
    char *signal_table; /* MySQL: "db.table" of the snapshot watermarks */
    cdc_snapshot_mode_t snapshot;
    int heartbeat_ms;
    int linger_ms; /* kafka.linger_ms, copied by the loader: how soon a read transaction is sent */
    bool capture_sink_changes; /* publish what this agent cluster's sinks applied (echoes) */
    /* The mark of a transaction a sink of this agent cluster (same topic_prefix) applied:
     * "cdc-agent/<prefix>/", the start of every such sink's applied_mark; NULL when the source
     * captures them (capture_sink_changes). Computed at load. */
    char *applied_by;
    int line; /* where it was defined, for later errors */
} cdc_source_conf_t;

typedef enum {
    CDC_UNKNOWN_COLUMN_FAIL = 0,
    CDC_UNKNOWN_COLUMN_IGNORE,
    CDC_UNKNOWN_COLUMN_ADD
} cdc_unknown_column_t;
typedef enum { CDC_TRUNCATE_IGNORE = 0, CDC_TRUNCATE_APPLY } cdc_truncate_mode_t;
/* What a route does when the target row changed since the version the incoming change started
 * from (two-way sync; docs/sinks.md "Conflicts"). */
typedef enum {
    CDC_CONFLICT_NONE = 0, /* no check: every change is applied (one-way sync) */
    CDC_CONFLICT_SOURCE_WINS,
    CDC_CONFLICT_TARGET_WINS,
    CDC_CONFLICT_LWW,  /* the newer lww_column wins; equal: the first of tie_break */
    CDC_CONFLICT_OWNER /* updates write only the columns the route's source owns */
} cdc_conflict_t;

/* What a route does with a delete. */
typedef enum {
    CDC_DELETES_APPLY = 0,
    CDC_DELETES_IGNORE, /* the target keeps the row */
    CDC_DELETES_SOFT    /* the target row's soft_column is set instead */
} cdc_deletes_t;

typedef struct {
    char *from;        /* <source>.<schema or db>.<table> */
    char *to;          /* <schema or db>.<table> */
    char *topic;       /* override of the topic read; NULL = the contract's name */
    cdc_kv_t *columns; /* source column -> target column; none = every column as is */
    size_t n_columns;
    cdc_kv_t *constants; /* target column -> constant value */
    size_t n_constants;
    char **key; /* target key columns; none = source key renamed */
    size_t n_key;
    cdc_unknown_column_t on_unknown_column;
    cdc_truncate_mode_t truncate;
    bool fk_checks;
    cdc_conflict_t conflict;
    char *lww_column; /* lww: the target column that orders versions (a timestamp) */
    char **tie_break; /* lww: source names, the first wins equal timestamps */
    size_t n_tie_break;
    cdc_kv_t *owner; /* owner: target column -> the source that owns it */
    size_t n_owner;
    /* Records linked across systems: the target makes its own key (link_key, e.g. an
     * AUTO_INCREMENT or a sequence) beside the column holding the source's key (the route's one
     * key column); the pair is kept in the target's cdc_id_map under link_map. */
    char *link_map;
    char *link_key;
    char **match_on; /* link: target columns that find an unlinked row for a new record */
    size_t n_match_on;
    cdc_kv_t *translate; /* target column -> map: a key of the source's system, written as the
                          * target system's key of the same record (cdc_id_map) */
    size_t n_translate;
    cdc_deletes_t deletes;
    char *soft_column;           /* soft: the column a delete sets */
    char *soft_value;            /* soft: its value; NULL: the delete's commit time */
    cdc_transforms_t transforms; /* on the incoming change, before the column mapping */
    char *source;                /* the source part of from (computed at load) */
    int line;
} cdc_route_conf_t;

typedef struct {
    char *name;
    cdc_db_type_t type;
    cdc_db_conn_t conn;
    cdc_route_conf_t *routes;
    size_t n_routes;
    int batch_size;
    int batch_ms;
    int lock_wait_s;        /* how long a starting sink waits for another instance to let go */
    int64_t max_rows_per_s; /* apply rate limit (0: none); the admin API changes it at run time */
    /* Marks every transaction the sink applies, so that the sources of its agent cluster do not
     * publish them again: "cdc-agent/<topic_prefix>/<sink>" (a PostgreSQL replication origin,
     * a MySQL cdc_sink_txn row). Computed at load. */
    char *applied_mark;
    int line;
} cdc_sink_conf_t;

typedef struct {
    char *path; /* as given */
    cdc_agent_conf_t agent;
    cdc_kafka_conf_t kafka;
    cdc_source_conf_t *sources;
    size_t n_sources;
    cdc_sink_conf_t *sinks;
    size_t n_sinks;
} cdc_config_t;

/* Loads and validates a config file. Returns NULL with es set ("FILE:LINE:COL: key.path: what").
 * The caller frees the result with cdc_config_free. Main thread, before others start. */
cdc_config_t *cdc_config_load(const char *path, cdc_errstr_t *es);
/* Same from memory; name stands in for the file name in errors. */
cdc_config_t *cdc_config_load_string(const char *name, const char *text, size_t n,
                                     cdc_errstr_t *es);
void cdc_config_free(cdc_config_t *cfg);

/* Splits a configured "schema.table" (or "db.table") at its first dot: the schema into
 * schema[0..n), and returns the table part (inside qualified). */
const char *cdc_config_split_table(const char *qualified, char *schema, size_t n);
const cdc_source_conf_t *cdc_config_source(const cdc_config_t *cfg, const char *name);
const cdc_sink_conf_t *cdc_config_sink(const cdc_config_t *cfg, const char *name);

#endif

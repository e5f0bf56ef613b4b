/*
 * Sinks: the engine that consumes a sink's route topics (read_committed, from the offsets stored
 * in the target) and applies their events in batches, one target transaction per batch together
 * with the conditional move of cdc_sink_offsets; and the operations a target database provides.
 * Events at or below a partition's stored source position within the same epoch are re-sends and
 * are skipped (docs/design.md "Exactly-once-style offsets").
 */
#ifndef CDC_SINK_H
#define CDC_SINK_H

#include <stdatomic.h>
#include <stdbool.h>

#include "cdc/buf.h"
#include "cdc/config.h"
#include "cdc/err.h"
#include "cdc/event.h"
#include "cdc/sink_offsets.h"

typedef struct cdc_sink_target cdc_sink_target_t;

/* One event in target terms: the target table, the row's columns renamed by the route (with its
 * constants), and the key columns. */
typedef struct {
    const cdc_route_conf_t *route;
    const char *schema, *table; /* the route's target */
    bool is_delete;
    bool update_only; /* some columns were left out (unchanged TOAST): update what is present */
    bool soft;        /* a soft delete (update_only): no row to update is no error */
    const cdc_column_t *cols; /* upsert: every column written */
    size_t n_cols;
    const cdc_column_t *key; /* key columns (target names) with their values */
    size_t n_key;
    /* the row as the change found it (target names, no constants): an update's or a delete's
     * before image when the event has one */
    const cdc_column_t *before;
    size_t n_before;
    cdc_op_t op;

    size_t item; /* the engine's: which record it came from */
} cdc_sink_row_t;

/* A row's conflict check (routes with a conflict policy): the values the target row must still
 * have for the change to apply without a conflict, under the same column names for every row of
 * one call; lww: the incoming value of the route's lww_column (NULL: none). */
typedef struct {
    const cdc_sink_row_t *row;
    const cdc_column_t *cmp;
    size_t n_cmp;
    const cdc_column_t *lww;
} cdc_sink_probe_t;

/* What the target holds for a probed row. */
typedef struct {
    bool found;
    bool same;  /* every cmp column equals the probe's value (NULL equals NULL) */
    int order;  /* the target's lww_column against the incoming one: -1 older, 0 equal, 1 newer
                 * (a NULL is older than any value, two NULLs equal) */
    char *json; /* the target row as a JSON object (the target's types) */
} cdc_sink_current_t;

/* A link between records of two systems: source's row source_key is target_key in the other
 * system (a row of cdc_id_map, or a record of <prefix>._links). */
typedef struct {
    char *map, *source, *source_key, *target_key;
} cdc_sink_link_t;

/* A target table's columns and their type names, as the target reports them, and its unique keys
 * (the primary key first, then unique indexes on plain columns): key k is the columns
 * names[key_cols[key_start[k]]] .. names[key_cols[key_start[k + 1] - 1]]. */
typedef struct {
    char *schema, *table;
    char **names, **types;
    size_t n; /* 0: not loaded yet (or the table does not exist) */
    size_t *key_cols, *key_start, n_keys, n_key_cols;
} cdc_sink_table_t;

typedef struct {
    cdc_sink_table_t *v;
    size_t n;
} cdc_sink_tables_t;

/* A column to add to a target table (on_unknown_column: add). */
typedef struct {
    char schema[256], table[256], column[256];
    cdc_vtype_t type; /* the JSON kind of the value that carried it (NULL: unknown) */
} cdc_sink_new_column_t;

/* What every target holds: the first member of each database's struct cdc_sink_target, so the
 * engine reaches it through cdc_sink_base (the shape of PostgreSQL's WalWriteMethod). */
typedef struct {
    const cdc_sink_conf_t *conf;
    cdc_sink_tables_t tables;  /* the target tables' columns, read on first use */
    cdc_buf_t sql;             /* the statement being built */
    cdc_sink_new_column_t add; /* a column to add (on_unknown_column: add) */
    cdc_buf_t mark_sql; /* sent first in each transaction (empty: none): marks it as applied */
} cdc_sink_base_t;

static inline cdc_sink_base_t *
cdc_sink_base(cdc_sink_target_t *t)
{
    return (cdc_sink_base_t *)(void *)t;
}

/* Target-side identifier quoting (PostgreSQL "x", MySQL `x`). */
typedef void (*cdc_sink_ident_fn)(cdc_buf_t *q, const char *name);

typedef enum { CDC_SINK_SAVEPOINT, CDC_SINK_RELEASE, CDC_SINK_ROLLBACK_TO } cdc_sink_sp_t;

/* What a target does. Errors are classified for the engine: CDC_ERR_CONNECT (reconnect, retry
 * the batch), CDC_ERR_ABORTED (deadlock, serialization failure, lock timeout: retry the batch),
 * CDC_ERR_CONFLICT (unique or foreign-key violation: retry the record later, then the DLQ),
 * CDC_ERR_DATA / RANGE / PARSE / UTF8 / NOTFOUND (this record can never apply: the DLQ),
 * CDC_ERR_SCHEMA (a column to add first: cdc_sink_add_column); anything else stops the sink. */
typedef struct cdc_sink_ops {
    const char *name;
    /* Connects with the sink's session settings (cdc_sink_target_open does the rest). */
    cdc_err_t (*connect)(const cdc_sink_conf_t *conf, cdc_sink_target_t **out, cdc_errstr_t *es);
    /* Takes the sink's lock (the server's session lock of cdc-sink:<name>), trying for
     * CDC_SINK_LOCK_TRY_S; another running instance holds it: CDC_ERR_FENCED. */
    cdc_err_t (*lock)(cdc_sink_target_t *t, cdc_errstr_t *es);
    /* Creates cdc_sink_offsets when missing. */
    cdc_err_t (*offsets_ensure)(cdc_sink_target_t *t, cdc_errstr_t *es);
    /* Marks what this session applies with conf->applied_mark, so that a source of the same
     * agent cluster reading this database does not publish it again (an echo): a session
     * setting, or a statement left in the base's mark_sql that cdc_sink_begin sends first in
     * each transaction. A target that refuses it (privileges) logs why and goes on unmarked. */
    cdc_err_t (*mark_session)(cdc_sink_target_t *t, cdc_errstr_t *es);
    /* The session setting that turns foreign-key checks off, and the statement that begins a
     * transaction. */
    const char *fk_checks_off_sql;
    const char *begin_sql;
    /* The longest identifier the target keeps whole: bytes (PostgreSQL truncates longer ones
     * silently) or, with ident_chars, characters (MariaDB refuses them). */
    size_t max_ident;
    bool ident_chars;
    cdc_err_t (*load_offsets)(cdc_sink_target_t *t, cdc_sink_offsets_t *out, cdc_errstr_t *es);
    /* Sends a statement that returns no rows without waiting for it, after the one left
     * running: its result is read by the next call, or by sync. */
    cdc_err_t (*send)(cdc_sink_target_t *t, const char *sql, cdc_errstr_t *es);
    /* Reads tt->schema.tt->table's columns into tt (none: the table does not exist). */
    cdc_err_t (*load_columns)(cdc_sink_target_t *t, cdc_sink_table_t *tt, cdc_errstr_t *es);
    /* The statement for n >= 1 rows of one route that share target table tt, kind and column
     * names and have distinct keys, in one statement where the target can (multi-row upsert,
     * delete by a key list); types[i]: the target type of each column (cdc_sink_check_columns).
     * It may still run on the server when this returns, so the engine prepares the next one
     * meanwhile: its failure is then reported by the target's next call, or by sync. es names
     * the table and column on failure; which row failed is not known (the engine then redoes
     * the batch one row at a time). */
    cdc_err_t (*upsert)(cdc_sink_target_t *t, const cdc_sink_table_t *tt,
                        const cdc_sink_row_t *const *rows, size_t n, const char *const *types,
                        cdc_errstr_t *es);
    /* Rows with some columns left out (unchanged TOAST): updates what is present. */
    cdc_err_t (*update)(cdc_sink_target_t *t, const cdc_sink_table_t *tt,
                        const cdc_sink_row_t *const *rows, size_t n, const char *const *types,
                        cdc_errstr_t *es);
    cdc_err_t (*delete_rows)(cdc_sink_target_t *t, const cdc_sink_table_t *tt,
                             const cdc_sink_row_t *const *rows, size_t n, cdc_errstr_t *es);
    /* Linked routes (link_map): creates cdc_id_map(map, source, source_key, target_key,
     * published) when missing. */
    cdc_err_t (*links_ensure)(cdc_sink_target_t *t, cdc_errstr_t *es);
    /* Linked routes, before rows[0..n) of tt are written: a target row that holds a row's
     * link_key value (cdc_sink_link_value) but no source key yet gets the row's key, so the
     * statement finds it by key instead of inserting a second record. */
    cdc_err_t (*link_rows)(cdc_sink_target_t *t, const cdc_sink_table_t *tt,
                           const cdc_sink_row_t *const *rows, size_t n, cdc_errstr_t *es);
    /* Linked routes with match_on, before a new record (row: not a delete, without the
     * target's key) is written: when no target row has its key and exactly one row without a
     * source key has its match_on values, that row gets its key (linked, not inserted again);
     * *candidates: how many such rows there were. */
    cdc_err_t (*match_row)(cdc_sink_target_t *t, const cdc_sink_table_t *tt,
                           const cdc_sink_row_t *row, const cdc_column_t *const *match,
                           long *candidates, cdc_errstr_t *es);
    /* Linked routes, after upserting rows[0..n): records each row's pair (its key, the target
     * row's link_key) in cdc_id_map in the same transaction; published stays false while the
     * source's row does not carry that target key (it is sent back: cdc_sink_links_publish). */
    cdc_err_t (*record_links)(cdc_sink_target_t *t, const cdc_sink_table_t *tt,
                              const cdc_sink_row_t *const *rows, size_t n, cdc_errstr_t *es);
    /* The target keys cdc_id_map holds for keys[0..n) of source's records in map: out[i]
     * (malloc'd), NULL where it has none. */
    cdc_err_t (*lookup_links)(cdc_sink_target_t *t, const char *map, const char *source,
                              const char *const *keys, size_t n, char **out, cdc_errstr_t *es);
    /* Up to max links of map from source in cdc_id_map not published yet, into out (strings
     * malloc'd): the pairs this sink recorded (another sink on the same database has its own
     * maps or sources). */
    cdc_err_t (*links_pending)(cdc_sink_target_t *t, const char *map, const char *source,
                               size_t max, cdc_sink_link_t **out, size_t *n, cdc_errstr_t *es);
    /* Outside a transaction: marks links[0..n) published (unless their target_key changed). */
    cdc_err_t (*links_published)(cdc_sink_target_t *t, const cdc_sink_link_t *links, size_t n,
                                 cdc_errstr_t *es);
    /* Inside the transaction: a link sent back by the other system's sink for route r: the row
     * whose r->link_key is l->source_key learns l->target_key in its key column (when it has
     * none yet), and the pair goes to cdc_id_map as published. */
    cdc_err_t (*apply_link)(cdc_sink_target_t *t, const cdc_route_conf_t *r, const char *schema,
                            const char *table, const cdc_sink_link_t *l, cdc_errstr_t *es);
    /* Conflict checks, first step: locks the target rows of rows[0..n) that exist (by key) until
     * the transaction ends; found[i]: whether rows[i]'s exists. One short statement, so only
     * rows that exist take the comparison below. */
    cdc_err_t (*lock_keys)(cdc_sink_target_t *t, const cdc_sink_table_t *tt,
                           const cdc_sink_row_t *const *rows, size_t n, bool *found,
                           cdc_errstr_t *es);
    /* Conflict checks, inside the transaction, once the statement left running is done: locks
     * the target rows of probes[0..n) (by key; one table tt; the same cmp names) until the
     * transaction ends, so nothing changes them between this and the write, and compares them
     * in one statement: cur[i] for probes[i], the comparisons made by the target in each
     * column's type; cur[i].json in arena. */
    cdc_err_t (*read_locked)(cdc_sink_target_t *t, const cdc_sink_table_t *tt,
                             const cdc_sink_probe_t *probes, size_t n, cdc_arena_t *arena,
                             cdc_sink_current_t *cur, cdc_errstr_t *es);
    /* Waits for the statement left running; its result. */
    cdc_err_t (*sync)(cdc_sink_target_t *t, cdc_errstr_t *es);
    /* Runs a statement that returns no rows, after the one left running. */
    cdc_err_t (*exec)(cdc_sink_target_t *t, const char *sql, cdc_errstr_t *es);
    cdc_sink_ident_fn quote_ident;
    /* Column types on_unknown_column: add gives a number, a boolean, JSON, anything else. */
    const char *added_types[4];
    /* Inside the transaction, once the statement left running is done: moves the offsets of
     * the n partitions the batch touched (cdc_sink_move_offsets). */
    cdc_err_t (*move_offsets)(cdc_sink_target_t *t, const cdc_sink_offset_t *next,
                              const int64_t *expected, size_t n, cdc_errstr_t *es);
    /* The same: sets the rows of next[0..n) as they are, inserting missing ones (replay rewinds
     * them; cdc_sink_set_offsets). */
    cdc_err_t (*set_offsets)(cdc_sink_target_t *t, const cdc_sink_offset_t *next, size_t n,
                             cdc_errstr_t *es);
    void (*close)(cdc_sink_target_t *t);
} cdc_sink_ops_t;

/* ---- helpers for targets ---- */

/* The cached entry of schema.table, added empty when new (valid until the next call). */
cdc_sink_table_t *cdc_sink_tables_get(cdc_sink_tables_t *ts, const char *schema, const char *table);
void cdc_sink_table_add(cdc_sink_table_t *tt, const char *name, const char *type);
/* Adds a column (added before by cdc_sink_table_add) to the table's last unique key, or to a new
 * one when first is true. */
void cdc_sink_table_add_key(cdc_sink_table_t *tt, bool first, const char *column);
/* The type of column name, or NULL when the target has no such column. */
const char *cdc_sink_table_type(const cdc_sink_table_t *tt, const char *name);
void cdc_sink_tables_free(cdc_sink_tables_t *ts);
/* The engine's part of a target (cdc_sink_base_t): made empty for conf when the target connects,
 * released when it closes. */
void cdc_sink_base_init(cdc_sink_base_t *b, const cdc_sink_conf_t *conf);
void cdc_sink_base_deinit(cdc_sink_base_t *b);
bool cdc_sink_row_is_key(const cdc_sink_row_t *row, const char *name);
/* The value a row carries for its route's link_key (an upsert's, or a delete's before image);
 * NULL when it has none or it is NULL. */
const cdc_column_t *cdc_sink_link_value(const cdc_sink_row_t *row);
void cdc_sink_links_free(cdc_sink_link_t *links, size_t n);
/* A row (source_key, target_key) a target read from cdc_id_map for keys[0..n): out[i] gets a copy
 * of target_key where keys[i] is source_key and out[i] is still NULL (lookup_links). */
void cdc_sink_link_found(const char *const *keys, size_t n, const char *source_key,
                         const char *target_key, char **out);
/* Whether a route of conf links records (link_map). */
bool cdc_sink_has_links(const cdc_sink_conf_t *conf);
/* Whether a route of conf has a conflict policy (its sink writes "<prefix>._conflicts"). */
bool cdc_sink_has_conflict_policy(const cdc_sink_conf_t *conf);
/* Whether an update of the row's route writes column name: always, except the target's own key
 * of a linked route and, under conflict: owner, a column the route's source does not own (set
 * only when the row is inserted). */
bool cdc_sink_route_updates(const cdc_route_conf_t *r, const char *name);
/* Whether the sink's session turns foreign-key checks off: every route has fk_checks: false. */
bool cdc_sink_fk_checks_off(const cdc_sink_conf_t *conf);
/* Checks the row's columns, then its key columns, against the target table: types[i] is the
 * target type of each, NULL for one the target lacks when the route ignores unknown columns; when
 * it adds them, CDC_ERR_SCHEMA with *add filled in; otherwise CDC_ERR_CONFIG naming it. A table
 * without columns does not exist: CDC_ERR_CONFIG. A key taken from the event (the route has no
 * key of its own) must be one of the table's unique keys, column for column: else CDC_ERR_DATA
 * (the record is refused), or CDC_ERR_CONFIG when the table has no unique key at all. */
cdc_err_t cdc_sink_check_columns(const cdc_sink_row_t *row, const cdc_sink_table_t *tt,
                                 const char **types, cdc_sink_new_column_t *add, cdc_errstr_t *es);
/* Forgets the cached columns of schema.table (after adding one). */
void cdc_sink_tables_forget(cdc_sink_tables_t *ts, const char *schema, const char *table);

/* A target's lock op tries the sink's lock (the server's session lock of cdc-sink:<name>) for
 * CDC_SINK_LOCK_TRY_S and then fails with CDC_ERR_FENCED; cdc_sink_open tries again until its
 * wait ends. Commands wait CDC_SINK_LOCK_WAIT_S (the session of an instance just killed may hold
 * the lock a little longer); a starting agent waits the sink's lock_wait_s. */
#define CDC_SINK_LOCK_TRY_S  1
#define CDC_SINK_LOCK_WAIT_S 5

/* Opens a session on the sink's target (ops->connect); with lock, also takes the sink's lock,
 * turns foreign-key checks off when every route asks (a refusal is logged: a child row arriving
 * before its parent is then retried) and creates cdc_sink_offsets when missing. Without, a plain
 * session for commands that read the offsets or force them. */
cdc_err_t cdc_sink_target_open(const cdc_sink_ops_t *ops, const cdc_sink_conf_t *conf, bool lock,
                               cdc_sink_target_t **out, cdc_errstr_t *es);
/* Begins the target's transaction without waiting (the batch's first statement reads its
 * result). */
cdc_err_t cdc_sink_begin(const cdc_sink_ops_t *ops, cdc_sink_target_t *t, cdc_errstr_t *es);

/* Opens the sink's target session under its lock, trying again while another instance holds it,
 * up to wait_s seconds or until stop() (may be NULL) says so; a refusal is logged every 30 s. */
cdc_err_t cdc_sink_open(const cdc_sink_ops_t *ops, const cdc_sink_conf_t *conf, int wait_s,
                        bool (*stop)(void), cdc_sink_target_t **out, cdc_errstr_t *es);

/* FNV-1a over n bytes, continuing from h (start with CDC_SINK_HASH_SEED). */
#define CDC_SINK_HASH_SEED 14695981039346656037ULL
uint64_t cdc_sink_hash(uint64_t h, const void *p, size_t n);

/* A server-wide lock's name, "<kind>:<scope>.<name>", into out (n >= 65): MariaDB's GET_LOCK takes
 * 64 characters, so a longer one becomes "<kind>:<name, 30 characters>:<its hash in hex>". */
void cdc_lock_name(char *out, size_t n, const char *kind, const char *scope, const char *name);

/* Decides, for rows of a route with a conflict policy, which apply (the engine's conflict check,
 * agent/sink/sink_conflict.c): keeps those in rows[0..*n) in order, *n updated. */
typedef struct {
    cdc_err_t (*fn)(void *ctx, cdc_sink_table_t *tt, const char *const *types,
                    const cdc_sink_row_t **rows, size_t *n, cdc_errstr_t *es);
    /* A new record of a linked route whose match_on values fit several unlinked rows: it is
     * inserted as a record of its own, and this records the conflict. */
    void (*ambiguous)(void *ctx, const cdc_sink_row_t *row, long candidates);
    void *ctx;
} cdc_sink_resolver_t;

/* What the engine does with a target (agent/sink/sink_target.c). Applies n >= 1 rows of one
 * route that share target table, kind and column names and have distinct keys: reads the
 * table's columns once, checks the rows against them (cdc_sink_check_columns), lets res (may be
 * NULL) drop the ones that lose a conflict and has the target build the statement. */
cdc_err_t cdc_sink_apply(const cdc_sink_ops_t *ops, cdc_sink_target_t *t,
                         const cdc_sink_resolver_t *res, const cdc_sink_row_t *const *rows,
                         size_t n, cdc_errstr_t *es);
/* One savepoint around a single row inside the transaction. */
cdc_err_t cdc_sink_savepoint(const cdc_sink_ops_t *ops, cdc_sink_target_t *t, cdc_sink_sp_t op,
                             cdc_errstr_t *es);
/* Empties schema.table inside the transaction. */
cdc_err_t cdc_sink_truncate(const cdc_sink_ops_t *ops, cdc_sink_target_t *t, const char *schema,
                            const char *table, cdc_errstr_t *es);
/* Outside a transaction: adds the column an apply reported missing with CDC_ERR_SCHEMA, nullable,
 * typed from the value it carried. */
cdc_err_t cdc_sink_add_column(const cdc_sink_ops_t *ops, cdc_sink_target_t *t, cdc_errstr_t *es);
/* The batch's end: the offsets of the partitions it touched moved (or set) in its transaction,
 * then COMMIT; ROLLBACK when something failed (its own error ignored). */
cdc_err_t cdc_sink_move_offsets(const cdc_sink_ops_t *ops, cdc_sink_target_t *t,
                                const cdc_sink_offset_t *next, const int64_t *expected, size_t n,
                                cdc_errstr_t *es);
cdc_err_t cdc_sink_set_offsets(const cdc_sink_ops_t *ops, cdc_sink_target_t *t,
                               const cdc_sink_offset_t *next, size_t n, cdc_errstr_t *es);
cdc_err_t cdc_sink_commit(const cdc_sink_ops_t *ops, cdc_sink_target_t *t, cdc_errstr_t *es);
void cdc_sink_rollback(const cdc_sink_ops_t *ops, cdc_sink_target_t *t);

/* Counters of a running sink. */
typedef struct cdc_sink_stats {
    uint64_t applied, skipped, batches, retried, dlq;
} cdc_sink_stats_t;

/* What a run asks beyond applying (a replay; the agent's worker). */
typedef struct {
    /* partitions that start again at these offsets, their re-send guard cleared, set in the
     * target under the sink's lock before anything is read */
    const cdc_sink_offset_t *rewind;
    size_t n_rewind;
    bool until_caught_up; /* return once every partition reached its log end */
    /* called after each applied batch with the running totals (progress display) */
    void (*progress)(void *ctx, const struct cdc_sink_stats *stats);
    void *progress_ctx;
    bool agent;    /* run by the agent: waits the sink's lock_wait_s for its lock (else 5 s) */
    bool *rewound; /* set once the rewind is in the target (may be NULL) */
    /* records applied per second at most (0: no limit), read before each batch (may be NULL) */
    const atomic_llong *max_rows_per_s;
    /* called (with progress_ctx) when a route stops on a record it cannot apply (may be NULL) */
    void (*route_stopped)(void *ctx, const char *route, const char *why);
    /* agent.ha (may be NULL): the run waits for the sink's lock as long as another instance
     * holds it, and calls this (with progress_ctx) when it starts waiting (why: who holds it)
     * and when it got the lock (why NULL) */
    void (*standby)(void *ctx, const char *why);
} cdc_sink_opts_t;

/* Runs sink conf until stop() returns true or a non-retriable error; Kafka at bootstrap. opts may
 * be NULL (as the agent's run without a rate limit). */
cdc_err_t cdc_sink_run(const cdc_config_t *cfg, const cdc_sink_conf_t *conf, const char *bootstrap,
                       const cdc_sink_ops_t *ops, bool (*stop)(void), const cdc_sink_opts_t *opts,
                       cdc_sink_stats_t *stats, cdc_errstr_t *es);

#endif

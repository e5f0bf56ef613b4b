/*
 * Private to the MySQL / MariaDB source: the source state, captured tables and the event builder.
 */
#ifndef CDC_MY_INTERNAL_H
#define CDC_MY_INTERNAL_H

#include "cdc/chunk_pos.h"
#include "cdc/clock.h"
#include "mysql_conn.h" /* mysql.h first: mariadb_rpl.h needs its types */

#include <mariadb_rpl.h>

#include "cdc/source.h"
#include "cdc/resnap.h"
#include "cdc/watermark.h"

#define MY_MAX_DOMAINS 16

/* A captured table as the last TABLE_MAP described it. */
typedef struct {
    char *db, *name;   /* as configured / as in the binlog */
    uint64_t table_id; /* of the last TABLE_MAP; 0 = none seen yet */
    uint8_t *raw;      /* copy of that TABLE_MAP event (t's spans point into it) */
    size_t raw_n;
    size_t body_n; /* its body's length after the table id (what identifies the structure) */
    cdc_binlog_table_t t;
    uint32_t n_cols;       /* entries of cols, text and json */
    char **cols;           /* column names, NUL-terminated */
    cdc_my_text_t *text;   /* per column: how its bytes become text */
    bool *json;            /* per column: MariaDB JSON (LONGTEXT checked by json_valid) */
    int64_t sv;            /* schema version */
    bool zero_date_logged; /* zero dates become null: logged once per table */
    bool keyless_logged;   /* published with a null key: logged once per table */
    bool signal;           /* the signal table: read for watermarks, never published */
    bool mark;             /* a sink's cdc_sink_txn: marks the transactions a sink applied */
} my_table_t;

#define MY_CHUNK_ROWS 10000
typedef struct {
    char *name, *data_type;
    bool is_unsigned, json, binary, number;
} my_snap_col_t;

typedef struct {
    my_table_t *tb;
    my_snap_col_t *cols;
    size_t n;
    size_t *key; /* indexes into cols, key order */
    size_t n_key;
    cdc_buf_t select; /* SELECT ... FROM ... (without WHERE / ORDER BY) */
    cdc_buf_t keys;   /* `k1`,`k2` */
} my_snap_table_t;

/* The key values of one row (text protocol bytes), where the next chunk starts after. */
typedef struct {
    bool set; /* false: from the table's start */
    cdc_buf_t bytes;
    size_t *off, *len, cap;
} my_snap_key_t;

typedef struct {
    cdc_resnap_t drv;   /* the shared driver: table, queue, watermarks (changed keys: Kafka keys) */
    my_snap_table_t st; /* the open table (drv.table_open) */
    my_snap_key_t after; /* where its next chunk starts */
    my_table_t *signal;  /* the signal table's TABLE_MAP state */
    bool signal_ready;   /* created (when missing) in this run */
    MYSQL_RES *rows;     /* the chunk read between the watermarks */
    cdc_buf_t scratch;
    const cdc_binlog_event_t *cur_event; /* the signal rows event being read */
} my_resnap_t;

typedef struct {
    uint32_t domain, server_id;
    uint64_t seq;
} my_gtid_t;

struct cdc_source {
    const cdc_source_conf_t *conf;
    cdc_source_resume_t resume;
    uint32_t epoch;
    MYSQL *catalog; /* queries: prerequisites, catalog lookups, snapshot */
    MYSQL *repl;    /* the binlog dump connection */
    MARIADB_RPL *rpl;
    MARIADB_RPL_EVENT *ev;
    cdc_binlog_format_t fmt;
    bool streaming;
    bool yield;           /* a transaction was committed or the server is idle: end the poll */
    uint32_t server_id;   /* the server's @@server_id */
    const char **charset; /* collation id -> character set name */
    size_t n_charset;
    my_table_t *tables;
    size_t n_tables;
    my_table_t **marks; /* cdc_sink_txn of each database that has one (conf->applied_by) */
    size_t n_marks;
    /* where the stream stands */
    char file[256];     /* current binlog file */
    uint64_t start_pos; /* where to (re)start reading */
    my_gtid_t gtids[MY_MAX_DOMAINS];
    size_t n_gtids;
    bool snapshot_due;
    /* the transaction being read */
    struct {
        bool open;
        bool standalone;
        bool may_skip;    /* at or before the stored position: events may have been published */
        bool applied;     /* a sink of this agent cluster applied it: not published (no echo) */
        uint64_t file_no; /* the binlog file number: major of its positions */
        uint64_t minor;   /* end position of its first (GTID) event */
        uint64_t start;   /* position of its first event */
        uint32_t idx;     /* next event index */
        int64_t ts_ms;
        char gtid[64];
        char txn_id[320];
        char pos[CDC_POS_STRLEN];
        char start_native[512]; /* resume point at its start */
    } txn;
    cdc_emitter_t emit;      /* its delivered: events of the current transaction handed on */
    int64_t last_advance_us; /* last time a skipped transaction moved the stored position */
    cdc_arena_t arena;       /* per event */
    cdc_binlog_cell_t *cells_a, *cells_b;
    size_t cap_cells;
    const cdc_source_cb_t *cb;
    void *ctx;
    my_resnap_t resnap;
};

/* my_events.c: canonical events from one rows event of a captured table. */
cdc_err_t my_rows_events(cdc_source_t *s, my_table_t *tb, const cdc_binlog_event_t *ev,
                         cdc_errstr_t *es);
/* Calls fn with each row's after image of a rows event (deleted rows skipped). */
cdc_err_t my_rows_after(cdc_source_t *s, my_table_t *tb, const cdc_binlog_event_t *ev,
                        cdc_err_t (*fn)(cdc_source_t *s, const cdc_row_t *row, cdc_errstr_t *es),
                        cdc_errstr_t *es);
/* A rows event of a cdc_sink_txn table: marks the transaction applied when the row is of a sink
 * of this agent cluster (conf->applied_by). */
cdc_err_t my_mark_rows(cdc_source_t *s, my_table_t *tb, const cdc_binlog_event_t *ev,
                       cdc_errstr_t *es);
/* Frees what tb holds (not tb itself). */
void my_table_free(my_table_t *tb);
/* Truncate event for tb. */
cdc_err_t my_truncate_event(cdc_source_t *s, my_table_t *tb, const cdc_binlog_event_t *ev);
/* Hands an event to the agent, skipping what was published before a restart. */
cdc_err_t my_emit(cdc_source_t *s, cdc_event_t *ev);
/* Loads the GTID state at file:pos (MariaDB BINLOG_GTID_POS) into s. */
void my_gtid_at(cdc_source_t *s, MYSQL *m, const char *file, uint64_t pos);
/* The resume point JSON after (or at) pos in the current file. */
void my_native(cdc_source_t *s, uint64_t pos, char *out, size_t cap);
/* "mysql: what: error (errno)" as a connection error. */
cdc_err_t my_query_error(MYSQL *m, cdc_errstr_t *es, const char *what);
cdc_err_t my_exec(MYSQL *m, const char *sql, cdc_errstr_t *es);
/* The number of a binlog file name ("binlog.000042" -> 42): the major of positions. */
uint64_t my_file_number(const char *file);
/* my_tables.c: the captured table with that TABLE_MAP id, or NULL. */
my_table_t *my_table_by_id(cdc_source_t *s, uint64_t id);
/* Frees the per-column state of a table's last TABLE_MAP. */
void my_table_clear(my_table_t *tb);
/* A TABLE_MAP (raw bytes and parsed header): for a captured table, keeps a copy, resolves
 * column names, converters and JSON columns, and announces the structure. */
cdc_err_t my_table_map(cdc_source_t *s, const uint8_t *raw, size_t n, const cdc_binlog_event_t *ev,
                       cdc_errstr_t *es);
/* The captured table a TRUNCATE statement names, or NULL. */
my_table_t *my_truncated_table(cdc_source_t *s, const cdc_binlog_query_t *q);
/* Publishes a table structure (names, columns, per column binary / MariaDB JSON); sets tb->sv. */
cdc_err_t my_announce(cdc_source_t *s, my_table_t *tb, uint32_t n, const char *const *names,
                      const cdc_binlog_col_t *cols, const bool *binary, const bool *json,
                      cdc_errstr_t *es);
cdc_err_t my_start_streaming(cdc_source_t *s, cdc_errstr_t *es);

/* ---- my_snapshot.c: tables read in primary-key chunks; the initial snapshot ---- */
/* Reads tb's columns and key from information_schema and announces its structure. */
cdc_err_t my_snap_open(cdc_source_t *s, my_table_t *tb, my_snap_table_t *st, cdc_errstr_t *es);
void my_snap_close(my_snap_table_t *st);
/* Sends the query for the next MY_CHUNK_ROWS rows after key (sql is scratch); the caller takes
 * the result from s->catalog. */
cdc_err_t my_snap_query(cdc_source_t *s, const my_snap_table_t *st, const my_snap_key_t *after,
                        cdc_buf_t *sql, cdc_errstr_t *es);
void my_snap_key_save(const my_snap_table_t *st, MYSQL_ROW row, const unsigned long *len,
                      my_snap_key_t *key);
void my_snap_key_free(my_snap_key_t *key);
/* Snapshot progress (cdc/chunk_pos.h text, caller frees): the table's ordinal and its last key
 * read, binary key columns in hex. */
char *my_snap_progress(const my_snap_table_t *st, size_t ordinal, const my_snap_key_t *key);
/* The key a progress record resumes after (for the table st is open on); false if unreadable. */
bool my_snap_progress_key(const my_snap_table_t *st, const char *progress, my_snap_key_t *key);
/* A row as an `op: r` event (columns in s->arena); the caller sets pos, txn_id and txn_seq. */
void my_snap_row(cdc_source_t *s, my_snap_table_t *st, MYSQL_ROW row, const unsigned long *len,
                 cdc_event_t *ev);
/* The initial snapshot in a consistent snapshot; streaming then starts at its binlog point. */
cdc_err_t my_snapshot_run(cdc_source_t *s, cdc_errstr_t *es);

/* ---- my_resnap.c: completing an interrupted snapshot between watermarks ---- */
/* Starts completing the snapshot from stored progress ("" = from the first table). */
cdc_err_t my_resnap_start(cdc_source_t *s, const char *progress, cdc_errstr_t *es);
/* At open: the signal table is watched (requests) and the stored re-snapshot queue restored. */
void my_resnap_restore(cdc_source_t *s);
/* Between events: writes the watermarks around the next chunk when none is in flight. */
cdc_err_t my_resnap_step(cdc_source_t *s, cdc_errstr_t *es);
/* An event about to be published: a change of the table being read between the watermarks
 * drops its key from the chunk. */
void my_resnap_track(cdc_source_t *s, const cdc_event_t *ev);
/* A rows event of the signal table: at our high watermark the chunk's rows are emitted. */
cdc_err_t my_resnap_signal(cdc_source_t *s, const cdc_binlog_event_t *ev, cdc_errstr_t *es);
/* At commit: fills progress / snapshot_done; true when this commit must reach the agent. */
void my_resnap_commit_info(cdc_source_t *s, cdc_txn_info_t *info);
void my_resnap_free(cdc_source_t *s);

#endif

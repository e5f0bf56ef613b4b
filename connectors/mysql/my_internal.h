/*
 * Private to the MySQL / MariaDB source: the source state, captured tables and the event builder.
 */
#ifndef CDC_MY_INTERNAL_H
#define CDC_MY_INTERNAL_H

#include "cdc/mysql.h" /* mysql.h first: mariadb_rpl.h needs its types */

#include <mariadb_rpl.h>

#include "cdc/source.h"

#define MY_MAX_DOMAINS 16

/* A captured table as the last TABLE_MAP described it. */
typedef struct {
    char *db, *name;   /* as configured / as in the binlog */
    uint64_t table_id; /* of the last TABLE_MAP; 0 = none seen yet */
    uint8_t *raw;      /* copy of that TABLE_MAP event (t's spans point into it) */
    size_t raw_n;
    cdc_binlog_table_t t;
    uint32_t n_cols;       /* entries of cols, text and json */
    char **cols;           /* column names, NUL-terminated */
    cdc_my_text_t *text;   /* per column: how its bytes become text */
    bool *json;            /* per column: MariaDB JSON (LONGTEXT checked by json_valid) */
    int64_t sv;            /* schema version */
    bool zero_date_logged; /* zero dates become null: logged once per table */
} my_table_t;

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
    uint32_t server_id;   /* the server's @@server_id */
    const char **charset; /* collation id -> character set name */
    size_t n_charset;
    my_table_t *tables;
    size_t n_tables;
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
        uint64_t minor; /* end position of its first (GTID) event */
        uint64_t start; /* position of its first event */
        uint32_t idx;   /* next event index */
        uint32_t delivered;
        int64_t ts_ms;
        char gtid[64];
        char txn_id[320];
        char pos[CDC_POS_STRLEN];
        char start_native[512]; /* resume point at its start */
    } txn;
    int64_t last_advance_us; /* last time a skipped transaction moved the stored position */
    cdc_arena_t arena;       /* per event */
    cdc_binlog_cell_t *cells_a, *cells_b;
    size_t cap_cells;
    const cdc_source_cb_t *cb;
    void *ctx;
};

/* my_events.c: canonical events from one rows event of a captured table. */
cdc_err_t my_rows_events(cdc_source_t *s, my_table_t *tb, const cdc_binlog_event_t *ev,
                         cdc_errstr_t *es);
/* Truncate event for tb. */
cdc_err_t my_truncate_event(cdc_source_t *s, my_table_t *tb, const cdc_binlog_event_t *ev);
/* Hands an event to the agent, skipping what was published before a restart. */
cdc_err_t my_emit(cdc_source_t *s, cdc_event_t *ev);
/* Loads the GTID state at file:pos (MariaDB BINLOG_GTID_POS) into s. */
void my_gtid_at(cdc_source_t *s, MYSQL *m, const char *file, uint64_t pos);
/* The resume point JSON after (or at) pos in the current file. */
void my_native(cdc_source_t *s, uint64_t pos, char *out, size_t cap);
int64_t my_now_us(void);
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
/* Publishes the stream up to binlog file number file_no, position pos (a consistent snapshot's
 * point), starting from s->file / s->start_pos. */
cdc_err_t my_stream_until(cdc_source_t *s, uint64_t file_no, uint64_t pos, cdc_errstr_t *es);
/* my_snapshot.c: the initial snapshot, then streaming from its binlog position. */
cdc_err_t my_snapshot_run(cdc_source_t *s, cdc_errstr_t *es);

#endif

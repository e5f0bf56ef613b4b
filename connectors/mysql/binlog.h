/*
 * MySQL / MariaDB binlog events, parsed from their raw bytes (the header, the event bodies the
 * source needs, TABLE_MAP optional metadata and row images). Pure functions over byte spans: the
 * connection reads events with MariaDB Connector/C, whose own row extraction is not used (broken in
 * 3.3: it fails on INT-only tables, DECIMAL, ENUM/SET). Spans returned point into the event and
 * live as long as it does.
 */
#ifndef CDC_BINLOG_H
#define CDC_BINLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdc/err.h"

enum {
    CDC_BL_QUERY = 2,
    CDC_BL_ROTATE = 4,
    CDC_BL_FORMAT_DESCRIPTION = 15,
    CDC_BL_XID = 16,
    CDC_BL_TABLE_MAP = 19,
    CDC_BL_WRITE_ROWS_V1 = 23,
    CDC_BL_UPDATE_ROWS_V1 = 24,
    CDC_BL_DELETE_ROWS_V1 = 25,
    CDC_BL_HEARTBEAT = 27,
    CDC_BL_WRITE_ROWS = 30,
    CDC_BL_UPDATE_ROWS = 31,
    CDC_BL_DELETE_ROWS = 32,
    CDC_BL_GTID_MYSQL = 33,          /* MySQL 8: not handled yet (README) */
    CDC_BL_TRANSACTION_PAYLOAD = 40, /* MySQL 8 compression: refused */
    CDC_BL_ANNOTATE_ROWS = 160,
    CDC_BL_GTID_MARIADB = 162,
    CDC_BL_GTID_LIST = 163,
};

/* Column types of TABLE_MAP (enum_field_types). */
enum {
    CDC_MT_DECIMAL = 0,
    CDC_MT_TINY = 1,
    CDC_MT_SHORT = 2,
    CDC_MT_LONG = 3,
    CDC_MT_FLOAT = 4,
    CDC_MT_DOUBLE = 5,
    CDC_MT_NULL = 6,
    CDC_MT_TIMESTAMP = 7,
    CDC_MT_LONGLONG = 8,
    CDC_MT_INT24 = 9,
    CDC_MT_DATE = 10,
    CDC_MT_TIME = 11,
    CDC_MT_DATETIME = 12,
    CDC_MT_YEAR = 13,
    CDC_MT_NEWDATE = 14,
    CDC_MT_VARCHAR = 15,
    CDC_MT_BIT = 16,
    CDC_MT_TIMESTAMP2 = 17,
    CDC_MT_DATETIME2 = 18,
    CDC_MT_TIME2 = 19,
    CDC_MT_JSON = 245,
    CDC_MT_NEWDECIMAL = 246,
    CDC_MT_ENUM = 247,
    CDC_MT_SET = 248,
    CDC_MT_TINY_BLOB = 249,
    CDC_MT_MEDIUM_BLOB = 250,
    CDC_MT_LONG_BLOB = 251,
    CDC_MT_BLOB = 252,
    CDC_MT_VAR_STRING = 253,
    CDC_MT_STRING = 254,
    CDC_MT_GEOMETRY = 255,
};

typedef struct {
    const uint8_t *p;
    size_t n;
} cdc_bspan_t;

/* Per-connection state the parser needs: whether events end in a CRC32 (from the
 * FORMAT_DESCRIPTION, or the server's binlog_checksum before the first one). */
typedef struct {
    bool checksum;
    bool mariadb; /* server version from the FORMAT_DESCRIPTION */
} cdc_binlog_format_t;

typedef struct {
    uint32_t timestamp;
    uint8_t type;
    uint32_t server_id;
    uint32_t size;    /* whole event, header and checksum included */
    uint32_t log_pos; /* position of the next event in the binlog (0 for artificial events) */
    uint16_t flags;
    cdc_bspan_t body; /* after the 19-byte header, without the checksum */
} cdc_binlog_event_t;

/* Splits one raw event (p[0..n), header first). */
cdc_err_t cdc_binlog_event_parse(const uint8_t *p, size_t n, const cdc_binlog_format_t *fmt,
                                 cdc_binlog_event_t *ev, cdc_errstr_t *es);
/* FORMAT_DESCRIPTION: updates fmt->checksum from its checksum-algorithm byte and fmt->mariadb. The
 * event must have been split with the checksum assumed present when the server announced one. */
cdc_err_t cdc_binlog_fde(const uint8_t *p, size_t n, cdc_binlog_format_t *fmt, cdc_errstr_t *es);

typedef struct {
    uint64_t position;
    cdc_bspan_t file;
} cdc_binlog_rotate_t;
cdc_err_t cdc_binlog_rotate(const cdc_binlog_event_t *ev, cdc_binlog_rotate_t *out,
                            cdc_errstr_t *es);

/* MariaDB GTID event: starts an event group (a transaction, or one statement when standalone). */
typedef struct {
    uint32_t domain;
    uint32_t server_id; /* from the event header */
    uint64_t seq;
    bool standalone; /* no BEGIN / COMMIT follows (DDL) */
} cdc_binlog_gtid_t;
cdc_err_t cdc_binlog_gtid(const cdc_binlog_event_t *ev, cdc_binlog_gtid_t *out, cdc_errstr_t *es);

/* GTID_LIST: the binlog state at the start of a file; n entries read into out (up to cap). */
cdc_err_t cdc_binlog_gtid_list(const cdc_binlog_event_t *ev, cdc_binlog_gtid_t *out, size_t cap,
                               size_t *n, cdc_errstr_t *es);

typedef struct {
    cdc_bspan_t db;
    cdc_bspan_t query;
    uint16_t error_code;
} cdc_binlog_query_t;
cdc_err_t cdc_binlog_query(const cdc_binlog_event_t *ev, cdc_binlog_query_t *out, cdc_errstr_t *es);

/* One column of a TABLE_MAP with its optional metadata applied. */
typedef struct {
    uint8_t type;  /* CDC_MT_*; for STRING the real type (ENUM / SET / STRING) */
    uint16_t meta; /* type-specific: see binlog.c column_meta */
    bool nullable;
    bool is_unsigned;  /* numeric columns: SIGNEDNESS bit */
    uint16_t charset;  /* collation id of character / ENUM / SET columns; 63 = binary; 0 unknown */
    cdc_bspan_t name;  /* COLUMN_NAME; empty when the server did not send names */
    bool key;          /* in SIMPLE_PRIMARY_KEY / PRIMARY_KEY_WITH_PREFIX */
    uint32_t n_values; /* ENUM / SET: the value list */
    cdc_bspan_t *values;
} cdc_binlog_col_t;

typedef struct {
    uint64_t table_id;
    cdc_bspan_t db, table;
    uint32_t ncols;
    cdc_binlog_col_t *cols;
    uint32_t *key_order; /* column indexes of the primary key, in key order */
    uint32_t n_key;
    bool has_names; /* binlog_row_metadata=FULL sent names */
    bool mariadb;
    /* storage behind the arrays above, reused across parses */
    size_t cap_cols, cap_values, cap_key;
    cdc_bspan_t *value_store;
} cdc_binlog_table_t;

/* Parses a TABLE_MAP into t (arrays reused; spans point into ev, so a caller that keeps t keeps
 * its own copy of the event bytes). */
cdc_err_t cdc_binlog_table_map(const cdc_binlog_event_t *ev, const cdc_binlog_format_t *fmt,
                               cdc_binlog_table_t *t, cdc_errstr_t *es);
void cdc_binlog_table_free(cdc_binlog_table_t *t);

/* A rows event: the rows are read one image at a time with cdc_binlog_row_next. */
typedef struct {
    uint8_t kind; /* 'w' write, 'u' update, 'd' delete */
    uint64_t table_id;
    uint16_t flags;
    uint32_t ncols;
    cdc_bspan_t present;       /* bitmap of columns in the (before) image */
    cdc_bspan_t present_after; /* UPDATE: bitmap of the after image */
    cdc_bspan_t rows;          /* row images */
    size_t pos;                /* cursor into rows */
} cdc_binlog_rows_t;
cdc_err_t cdc_binlog_rows(const cdc_binlog_event_t *ev, cdc_binlog_rows_t *out, cdc_errstr_t *es);

/* One row image: per column, whether it is present and null, and its value bytes. */
typedef struct {
    bool present, null;
    cdc_bspan_t v;
} cdc_binlog_cell_t;

/* Reads the next image of r (the before and then the after image of an UPDATE are two calls) into
 * cells[0..t->ncols); *more is false (and nothing is read) when no rows are left. */
cdc_err_t cdc_binlog_row_next(cdc_binlog_rows_t *r, const cdc_binlog_table_t *t, bool after_image,
                              cdc_binlog_cell_t *cells, bool *more, cdc_errstr_t *es);

/* The number of bytes the value of col takes at p (n available) into *len. */
cdc_err_t cdc_binlog_value_len(const cdc_binlog_col_t *col, const uint8_t *p, size_t n, size_t *len,
                               cdc_errstr_t *es);

#endif

/*
 * MySQL / MariaDB connection helpers shared by the binlog source and the sink.
 */
#ifndef CDC_MYSQL_H
#define CDC_MYSQL_H

#include <mysql.h>

#include "binlog.h"
#include "cdc/buf.h"
#include "cdc/config.h"
#include "cdc/connector.h"
#include "cdc/sink.h"
#include "cdc/sink_offsets.h"
#include "cdc/source.h"
#include "cdc/err.h"
#include "cdc/value.h"

/* Opens a session with the contract's settings (time_zone '+00:00', utf8mb4). On failure returns
 * NULL, es says "mysql HOST:PORT: cause (errno)"; CDC_ERR_AUTH for credentials. The caller
 * mysql_close()s the result. */
MYSQL *cdc_mysql_connect(const cdc_db_conn_t *conn, cdc_err_t *err, cdc_errstr_t *es);

/* agent.ha's source lock (my_lock.c): the connector's lock_take, lock_check, lock_release. */
cdc_err_t cdc_mysql_lock_take(const cdc_db_conn_t *conn, const char *name, cdc_db_lock_t **out,
                              cdc_errstr_t *es);
cdc_err_t cdc_mysql_lock_check(cdc_db_lock_t *l, cdc_errstr_t *es);
void cdc_mysql_lock_release(cdc_db_lock_t *l);

/* Appends `name` (backquotes doubled) / 'text' escaped for m's character set. */
void cdc_mysql_ident(cdc_buf_t *b, const char *name);
void cdc_mysql_literal(MYSQL *m, cdc_buf_t *b, const char *p, size_t n);
/* What is said of a table without any key (log and check). */
#define CDC_MYSQL_NO_KEY                                                                           \
    "has neither a primary key nor a unique index over NOT NULL columns: its events go out with "  \
    "a null key, all to one partition, and a sink route needs a key of its own (key: [...]); a "   \
    "primary key is better"
/* The index that keys a table's events into index (index_size bytes): PRIMARY, else the first
 * unique index whose columns are all NOT NULL, in the server's key order (the index InnoDB
 * clusters by and the binlog's metadata names as the primary key); "" when the table has neither,
 * or does not exist. */
cdc_err_t cdc_mysql_key_index(MYSQL *m, const char *db, const char *table, char *index,
                              size_t index_size, cdc_errstr_t *es);
/* The CREATE TABLE IF NOT EXISTS of a source's signal table ("db.table"), appended to out. */
void cdc_mysql_signal_ddl(cdc_buf_t *out, const char *signal_table);
/* The binlog prerequisites the server does not meet, as probe notes with their fixes. */
void cdc_mysql_source_problems(MYSQL *m, cdc_probe_t *out);

/* How a column's bytes become a canonical value: UTF-8 as is, binary as bytes, or converted. */
enum { CDC_MY_TEXT_UTF8 = 0, CDC_MY_TEXT_BINARY, CDC_MY_TEXT_ICONV };
typedef struct {
    int kind;
    void *cd;   /* iconv_t to UTF-8 */
    bool ascii; /* ASCII text is the same bytes in UTF-8: converted only when it has others */
} cdc_my_text_t;

/* For a MySQL character set name (information_schema.COLLATIONS.CHARACTER_SET_NAME). */
cdc_err_t cdc_my_text_for(const char *charset, cdc_my_text_t *out, cdc_errstr_t *es);
void cdc_my_text_close(cdc_my_text_t *t);

/* One row-image cell of col -> *out (converted text in the arena). json: a MariaDB JSON column
 * (LONGTEXT checked by json_valid), embedded as JSON when valid. *zero_date is set when a zero or
 * partial date became null. */
cdc_err_t cdc_my_value(const cdc_binlog_col_t *col, const cdc_my_text_t *text, bool json,
                       const cdc_binlog_cell_t *cell, cdc_arena_t *a, cdc_value_t *out,
                       bool *zero_date, cdc_errstr_t *es);

/* The column's information_schema DATA_TYPE ("int", "varbinary", "mediumtext" ...), and back. */
const char *cdc_my_native_name(const cdc_binlog_col_t *col, bool binary);
bool cdc_my_col_from_data_type(const char *data_type, bool is_unsigned, cdc_binlog_col_t *out);
/* Canonical type name of a column for the _schemas topic. */
const char *cdc_my_canonical_name(const cdc_binlog_col_t *col, bool binary, bool json);

/* The sink's offsets table in a MySQL / MariaDB target, in the session's current database
 * (my_sink_offsets.c); as in connectors/postgres/pg.h. */
MYSQL *my_sink_conn(cdc_sink_target_t *t);
cdc_err_t cdc_mysql_sink_offsets_ensure(cdc_sink_target_t *t, cdc_errstr_t *es);
cdc_err_t cdc_mysql_sink_mark(cdc_sink_target_t *t, cdc_errstr_t *es);
cdc_err_t cdc_mysql_sink_offsets_load(cdc_sink_target_t *t, cdc_sink_offsets_t *out,
                                      cdc_errstr_t *es);
cdc_err_t cdc_mysql_sink_offsets_move(cdc_sink_target_t *t, const cdc_sink_offset_t *next,
                                      const int64_t *expected, size_t n, cdc_errstr_t *es);
cdc_err_t cdc_mysql_sink_offsets_set(cdc_sink_target_t *t, const cdc_sink_offset_t *next, size_t n,
                                     cdc_errstr_t *es);

/* ---- the connector's door (my_connector.c lists them) ---- */

extern const cdc_source_ops_t cdc_mysql_source_ops;
extern const cdc_sink_ops_t cdc_mysql_sink_ops;
extern const cdc_connector_conf_t cdc_mysql_conf;
cdc_err_t cdc_mysql_source_drop(const cdc_source_conf_t *conf, bool dry_run, cdc_errstr_t *es);
cdc_err_t cdc_mysql_source_seek(const cdc_source_conf_t *conf, const char *position, bool force,
                                struct cdc_offsets *o, cdc_errstr_t *es);
cdc_err_t cdc_mysql_source_now(const cdc_source_conf_t *conf, const char *native,
                               cdc_source_now_t *out, cdc_errstr_t *es);
/* `cdc-agent duplicates`: a table in one consistent read (my_source.c). */
cdc_err_t my_read_table(const cdc_source_conf_t *conf, const char *table, cdc_row_fn fn, void *ctx,
                        cdc_errstr_t *es);
cdc_err_t cdc_mysql_source_request(const cdc_source_conf_t *conf, const char *table, const char *id,
                                   const char *payload, int64_t *rows, cdc_errstr_t *es);
cdc_err_t cdc_mysql_probe(const cdc_db_conn_t *conn, const cdc_source_conf_t *source,
                          const cdc_sink_conf_t *sink, cdc_probe_t *out, cdc_errstr_t *es);

#endif

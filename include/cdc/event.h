/*
 * The canonical change event (contract, version 1): what sources produce, what goes to Kafka as
 * JSON, and what sinks decode. Encoding writes into a caller-owned buffer that is reused across
 * events; decoding borrows from an arena the caller resets per event.
 */
#ifndef CDC_EVENT_H
#define CDC_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdc/buf.h"
#include "cdc/err.h"
#include "cdc/position.h"
#include "cdc/value.h"

#define CDC_EVENT_VERSION 1

typedef enum {
    CDC_OP_CREATE = 'c',
    CDC_OP_UPDATE = 'u',
    CDC_OP_DELETE = 'd',
    CDC_OP_READ = 'r',
    CDC_OP_TRUNCATE = 't',
} cdc_op_t;

typedef enum { CDC_CONNECTOR_POSTGRESQL = 1, CDC_CONNECTOR_MYSQL } cdc_connector_kind_t;

typedef struct {
    const char *name; /* UTF-8 column name */
    cdc_value_t value;
} cdc_column_t;

/* An ordered set of columns. present = false encodes as JSON null ("no row"). */
typedef struct {
    bool present;
    const cdc_column_t *cols;
    size_t n;
} cdc_row_t;

typedef struct {
    const char *system; /* source name from the config */
    cdc_connector_kind_t connector;
    const char *db;
    const char *schema; /* PostgreSQL only; NULL for MySQL */
    const char *table;
    int64_t ts_ms;
    bool snapshot;
    const char *pos; /* cdc-pos string (position.h) */
    /* The same position parsed, when the source formatted pos from it (has_pos_v): the emitter
     * and the encoder use it instead of parsing the text again for every event. */
    bool has_pos_v;
    cdc_pos_t pos_v;
    /* PostgreSQL native position */
    uint64_t lsn;
    uint64_t txid;
    /* MySQL native position */
    const char *file;
    uint64_t offset;
    uint32_t server_id;
    const char *gtid; /* may be NULL */
} cdc_event_source_t;

typedef struct {
    int version; /* CDC_EVENT_VERSION */
    cdc_op_t op;
    cdc_event_source_t source;
    cdc_row_t key;    /* primary-key columns in key order; absent for truncate */
    cdc_row_t before; /* exactly the old-row columns the source sent */
    bool before_partial;
    cdc_row_t after;
    const char *const *unchanged; /* TOAST columns left out of after */
    size_t n_unchanged;
    const char *txn_id;
    uint32_t txn_seq;
    int64_t sv; /* schema version of the table */
} cdc_event_t;

/* Appends the event's JSON to out. Returns CDC_ERR_UTF8 / PARSE / RANGE / INVAL with es naming the
 * column; out is then partly written and must be reset by the caller. Any thread. */
cdc_err_t cdc_event_encode(const cdc_event_t *ev, cdc_buf_t *out, cdc_errstr_t *es);

/* Appends the Kafka key: the compact JSON object of ev->key, columns in key order. */
cdc_err_t cdc_event_key_encode(const cdc_event_t *ev, cdc_buf_t *out, cdc_errstr_t *es);

/* Parses an event. Every pointer in *ev points into the arena or into p[0..n), which must outlive
 * it. Values come back as JSON-level kinds (NULL, BOOL, NUMBER, STRING, JSON). Unknown top-level
 * fields are ignored (forward compatibility); a version other than 1 is refused. */
cdc_err_t cdc_event_decode(const char *p, size_t n, cdc_event_t *ev, cdc_arena_t *arena,
                           cdc_errstr_t *es);

/* "postgresql" / "mysql"; NULL for an unknown kind. */
const char *cdc_connector_kind_name(cdc_connector_kind_t k);

/* The column called name in row, or NULL. */
const cdc_column_t *cdc_row_find(const cdc_row_t *row, const char *name);

#endif

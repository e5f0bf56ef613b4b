/*
 * pgoutput protocol version 1 (no streaming): one parser per message, enum values that are the
 * wire bytes, a relation cache keyed by relation id. Parsing borrows from the message buffer; the
 * cache owns its strings. One decoder per replication stream; not thread-safe.
 */
#ifndef CDC_PGOUTPUT_H
#define CDC_PGOUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdc/err.h"

/* Seconds from the Unix epoch to PostgreSQL's (2000-01-01). */
#define CDC_PG_EPOCH_OFFSET_S 946684800LL

typedef enum {
    CDC_PGO_BEGIN = 'B',
    CDC_PGO_COMMIT = 'C',
    CDC_PGO_ORIGIN = 'O',
    CDC_PGO_RELATION = 'R',
    CDC_PGO_TYPE = 'Y',
    CDC_PGO_INSERT = 'I',
    CDC_PGO_UPDATE = 'U',
    CDC_PGO_DELETE = 'D',
    CDC_PGO_TRUNCATE = 'T',
    CDC_PGO_MESSAGE = 'M',
} cdc_pgo_type_t;

/* Column status in TupleData. */
typedef enum {
    CDC_PGO_COL_NULL = 'n',
    CDC_PGO_COL_UNCHANGED = 'u', /* unchanged TOAST value: not sent */
    CDC_PGO_COL_TEXT = 't',
} cdc_pgo_colkind_t;

typedef struct {
    cdc_pgo_colkind_t kind;
    const char *data; /* TEXT only; borrowed from the message, not NUL-terminated */
    uint32_t len;
} cdc_pgo_col_t;

typedef struct {
    uint16_t ncols;
    cdc_pgo_col_t *cols; /* owned by the decoder, valid until the next parse */
} cdc_pgo_tuple_t;

typedef struct {
    char *name;
    uint32_t type_oid;
    int32_t typmod;
    bool key; /* part of the replica identity */
} cdc_pgo_column_t;

/* A cached Relation message. version grows each time the relation's structure changes. */
typedef struct {
    uint32_t relid;
    char *nspname;
    char *relname;
    char replident; /* 'd' default, 'n' nothing, 'f' full, 'i' index */
    uint16_t ncols;
    cdc_pgo_column_t *cols;
    uint32_t version;
} cdc_pgo_relation_t;

typedef struct {
    cdc_pgo_type_t type;
    union {
        struct {
            uint64_t final_lsn;
            int64_t commit_ts; /* microseconds since 2000-01-01 */
            uint32_t xid;
        } begin;
        struct {
            uint8_t flags;
            uint64_t commit_lsn;
            uint64_t end_lsn;
            int64_t commit_ts;
        } commit;
        struct {
            uint64_t lsn;
            const char *name;
        } origin;
        struct {
            const cdc_pgo_relation_t *rel; /* the cache entry, already updated */
            bool changed;                  /* structure differs from the cached one */
        } relation;
        struct {
            uint32_t oid;
            const char *nspname;
            const char *typname;
        } typeinfo;
        struct {
            uint32_t relid;
            char old_kind; /* 'K' key only, 'O' whole old row, 0 none */
            cdc_pgo_tuple_t old_tuple;
            cdc_pgo_tuple_t new_tuple; /* not set for deletes */
        } change;
        struct {
            uint8_t options; /* 1 cascade, 2 restart identity */
            uint32_t nrels;
            const uint32_t *relids; /* owned by the decoder */
        } truncate;
        struct {
            uint8_t flags; /* 1 transactional */
            uint64_t lsn;
            const char *prefix;
            const char *content;
            uint32_t len;
        } message;
    };
} cdc_pgo_msg_t;

typedef struct cdc_pgo_decoder cdc_pgo_decoder_t;

cdc_pgo_decoder_t *cdc_pgo_decoder_new(void);
void cdc_pgo_decoder_free(cdc_pgo_decoder_t *d);
/* Parses one pgoutput message (the payload of an XLogData). Every length is checked before it is
 * read: truncated or garbled input returns CDC_ERR_PARSE with es naming the message and offset.
 * A change for a relation never described returns CDC_ERR_PARSE too. */
cdc_err_t cdc_pgo_parse(cdc_pgo_decoder_t *d, const char *buf, size_t len, cdc_pgo_msg_t *out,
                        cdc_errstr_t *es);
/* The cached relation, or NULL. Its address stays the same for the decoder's life: a Relation
 * message for the same id updates the entry in place, and later relations do not move it. */
const cdc_pgo_relation_t *cdc_pgo_relation(const cdc_pgo_decoder_t *d, uint32_t relid);

#endif

/*
 * PostgreSQL values in text form (pgoutput v1, the contract's session settings) converted into
 * canonical event values. Domains and enums are resolved to a builtin base before conversion;
 * types without a dedicated mapping keep their PostgreSQL text form.
 */
#ifndef CDC_PG_TYPES_H
#define CDC_PG_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdc/buf.h"
#include "cdc/err.h"
#include "cdc/value.h"

/* Builtin type OIDs used by the conversion (pg_type.dat). */
enum {
    CDC_PG_BOOL = 16,
    CDC_PG_BYTEA = 17,
    CDC_PG_CHAR = 18,
    CDC_PG_NAME = 19,
    CDC_PG_INT8 = 20,
    CDC_PG_INT2 = 21,
    CDC_PG_INT4 = 23,
    CDC_PG_TEXT = 25,
    CDC_PG_OID = 26,
    CDC_PG_JSON = 114,
    CDC_PG_FLOAT4 = 700,
    CDC_PG_FLOAT8 = 701,
    CDC_PG_BPCHAR = 1042,
    CDC_PG_VARCHAR = 1043,
    CDC_PG_DATE = 1082,
    CDC_PG_TIME = 1083,
    CDC_PG_TIMESTAMP = 1114,
    CDC_PG_TIMESTAMPTZ = 1184,
    CDC_PG_INTERVAL = 1186,
    CDC_PG_TIMETZ = 1266,
    CDC_PG_NUMERIC = 1700,
    CDC_PG_UUID = 2950,
    CDC_PG_JSONB = 3802,
};

/* How a column's values convert. */
typedef struct {
    uint32_t base_oid; /* builtin scalar used for conversion (domains unwrapped, enums = text) */
    uint32_t elem_oid; /* arrays: the element's base_oid; 0 for scalars */
    char delim;        /* array element delimiter */
} cdc_pg_type_t;

/* Fills t for a builtin scalar or array OID; false for anything else (resolve via the catalog:
 * domains to their base, enums to text, arrays to their element, the rest to text). */
bool cdc_pg_type_builtin(uint32_t oid, cdc_pg_type_t *t);

/* Canonical type name for schema records: "int16", "int32", "int64", "decimal", "float32",
 * "float64", "boolean", "string", "bytes", "date", "time", "timetz", "timestamp", "timestamptz",
 * "interval", "uuid", "json", "array<...>" is built by the caller from the element name. */
const char *cdc_pg_canonical_name(uint32_t base_oid);

/* Converts one text value. Strings and decoded bytes are placed in the arena; text that does not
 * parse as its type returns CDC_ERR_PARSE with es quoting at most 40 bytes of it. */
cdc_err_t cdc_pg_value_from_text(const cdc_pg_type_t *t, const char *p, size_t n, cdc_arena_t *a,
                                 cdc_value_t *out, cdc_errstr_t *es);

#endif

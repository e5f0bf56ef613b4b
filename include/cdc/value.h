/*
 * Column values of the canonical event (contract, version 1: the value table in the README).
 * Sources fill typed values; the encoder turns each kind into its one JSON form. Decoded events
 * carry the JSON-level kinds (NUMBER, STRING, JSON, BOOL, NULL) that sinks convert by target type.
 */
#ifndef CDC_VALUE_H
#define CDC_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdc/buf.h"
#include "cdc/err.h"

typedef enum {
    CDC_VAL_NULL = 0,
    CDC_VAL_BOOL,        /* b */
    CDC_VAL_INT,         /* i: number when |i| <= 2^53, else string */
    CDC_VAL_UINT,        /* u: same; also BIT(n) */
    CDC_VAL_FLOAT64,     /* f: shortest round-trip; NaN / Infinity as strings */
    CDC_VAL_FLOAT32,     /* f holds the float widened; shortest text that reads back as float */
    CDC_VAL_DECIMAL,     /* s: exact text [-]digits[.digits] | NaN | Infinity | -Infinity */
    CDC_VAL_STRING,      /* s: UTF-8 text (may hold NUL, written \u0000) */
    CDC_VAL_BYTES,       /* s: raw bytes, written base64 */
    CDC_VAL_DATE,        /* date */
    CDC_VAL_TIMESTAMP,   /* ts: without zone */
    CDC_VAL_TIMESTAMPTZ, /* ts: UTC instant, written with Z */
    CDC_VAL_TIME,        /* time: may be negative or > 24 h (MySQL TIME) */
    CDC_VAL_TIMETZ,      /* time + tz_offset_sec */
    CDC_VAL_INTERVAL,    /* interval: ISO-8601 duration */
    CDC_VAL_JSON,        /* s: one valid JSON value, embedded verbatim */
    CDC_VAL_ARRAY,       /* arr: elements, nested for multi-dimensional arrays */
    CDC_VAL_NUMBER,      /* s: exact JSON number text (decoded events) */
} cdc_vtype_t;

/* infinity: +1 "infinity", -1 "-infinity", 0 a finite value. year is astronomical (1 BC = 0). */
typedef struct {
    int32_t year;
    uint8_t month, day;
    int8_t infinity;
} cdc_date_t;

typedef struct {
    cdc_date_t date;
    uint8_t hour, minute, second;
    uint32_t usec;
} cdc_timestamp_t;

typedef struct {
    bool negative;
    uint32_t hours; /* MySQL TIME reaches 838 */
    uint8_t minute, second;
    uint32_t usec;
    int32_t tz_offset_sec; /* TIMETZ only: east of UTC is positive */
} cdc_time_t;

typedef struct {
    int32_t months, days;
    int64_t usec;
} cdc_interval_t;

typedef struct cdc_value {
    cdc_vtype_t type;
    union {
        bool b;
        int64_t i;
        uint64_t u;
        double f;
        struct {
            const char *p;
            size_t n;
        } s;
        cdc_date_t date;
        cdc_timestamp_t ts;
        cdc_time_t time;
        cdc_interval_t interval;
        struct {
            const struct cdc_value *items;
            size_t n;
        } arr;
    };
} cdc_value_t;

/* Appends the JSON form of v to b. On CDC_ERR_UTF8 / CDC_ERR_PARSE / CDC_ERR_RANGE, es says why. */
cdc_err_t cdc_value_write_json(cdc_buf_t *b, const cdc_value_t *v, cdc_errstr_t *es);

/* Canonical text of temporal values (no quotes), appended to b. */
void cdc_date_format(cdc_buf_t *b, const cdc_date_t *d);
void cdc_timestamp_format(cdc_buf_t *b, const cdc_timestamp_t *ts, bool utc);
void cdc_time_format(cdc_buf_t *b, const cdc_time_t *t, bool with_zone);
void cdc_interval_format(cdc_buf_t *b, const cdc_interval_t *iv);
/* Whether s is [-]digits[.digits], "NaN", "Infinity" or "-Infinity". */
bool cdc_decimal_valid(const char *s, size_t n);

/* Constructors for tests and connectors; string values borrow p. */
static inline cdc_value_t
cdc_value_str(cdc_vtype_t type, const char *p, size_t n)
{
    cdc_value_t v = {.type = type};
    v.s.p = p;
    v.s.n = n;
    return v;
}

#endif

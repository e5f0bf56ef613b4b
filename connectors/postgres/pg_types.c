/*
 * Text-form PostgreSQL values -> canonical values. The session settings of the contract fix the
 * text forms (DateStyle ISO, TimeZone UTC, IntervalStyle iso_8601, extra_float_digits 3, hex
 * bytea), so each parser accepts exactly those forms and refuses anything else loudly.
 */
#include "pg_types.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cdc/json.h"

typedef struct {
    uint32_t array_oid, elem_oid;
} array_map_t;

static const array_map_t builtin_arrays[] = {
    {1000, CDC_PG_BOOL},    {1001, CDC_PG_BYTEA},       {1002, CDC_PG_CHAR},
    {1003, CDC_PG_NAME},    {1005, CDC_PG_INT2},        {1007, CDC_PG_INT4},
    {1009, CDC_PG_TEXT},    {1014, CDC_PG_BPCHAR},      {1015, CDC_PG_VARCHAR},
    {1016, CDC_PG_INT8},    {1021, CDC_PG_FLOAT4},      {1022, CDC_PG_FLOAT8},
    {1028, CDC_PG_OID},     {1115, CDC_PG_TIMESTAMP},   {1182, CDC_PG_DATE},
    {1183, CDC_PG_TIME},    {1185, CDC_PG_TIMESTAMPTZ}, {1187, CDC_PG_INTERVAL},
    {1231, CDC_PG_NUMERIC}, {1270, CDC_PG_TIMETZ},      {2951, CDC_PG_UUID},
    {199, CDC_PG_JSON},     {3807, CDC_PG_JSONB},
};

static const uint32_t builtin_scalars[] = {
    CDC_PG_BOOL,    CDC_PG_BYTEA,     CDC_PG_CHAR,        CDC_PG_NAME,     CDC_PG_INT8,
    CDC_PG_INT2,    CDC_PG_INT4,      CDC_PG_TEXT,        CDC_PG_OID,      CDC_PG_JSON,
    CDC_PG_FLOAT4,  CDC_PG_FLOAT8,    CDC_PG_BPCHAR,      CDC_PG_VARCHAR,  CDC_PG_DATE,
    CDC_PG_TIME,    CDC_PG_TIMESTAMP, CDC_PG_TIMESTAMPTZ, CDC_PG_INTERVAL, CDC_PG_TIMETZ,
    CDC_PG_NUMERIC, CDC_PG_UUID,      CDC_PG_JSONB,
};

bool
cdc_pg_type_builtin(uint32_t oid, cdc_pg_type_t *t)
{
    t->delim = ',';
    t->elem_oid = 0;
    for (size_t i = 0; i < sizeof(builtin_scalars) / sizeof(builtin_scalars[0]); i++) {
        if (builtin_scalars[i] == oid) {
            t->base_oid = oid;
            return true;
        }
    }
    for (size_t i = 0; i < sizeof(builtin_arrays) / sizeof(builtin_arrays[0]); i++) {
        if (builtin_arrays[i].array_oid == oid) {
            t->base_oid = oid;
            t->elem_oid = builtin_arrays[i].elem_oid;
            return true;
        }
    }
    return false;
}

const char *
cdc_pg_canonical_name(uint32_t oid)
{
    switch (oid) {
    case CDC_PG_BOOL:
        return "boolean";
    case CDC_PG_BYTEA:
        return "bytes";
    case CDC_PG_INT2:
        return "int16";
    case CDC_PG_INT4:
        return "int32";
    case CDC_PG_INT8:
        return "int64";
    case CDC_PG_OID:
        return "uint32";
    case CDC_PG_FLOAT4:
        return "float32";
    case CDC_PG_FLOAT8:
        return "float64";
    case CDC_PG_NUMERIC:
        return "decimal";
    case CDC_PG_DATE:
        return "date";
    case CDC_PG_TIME:
        return "time";
    case CDC_PG_TIMETZ:
        return "timetz";
    case CDC_PG_TIMESTAMP:
        return "timestamp";
    case CDC_PG_TIMESTAMPTZ:
        return "timestamptz";
    case CDC_PG_INTERVAL:
        return "interval";
    case CDC_PG_UUID:
        return "uuid";
    case CDC_PG_JSON:
    case CDC_PG_JSONB:
        return "json";
    default:
        return "string";
    }
}

static cdc_err_t
bad(cdc_errstr_t *es, const char *type, const char *p, size_t n)
{
    return cdc_errstr_set(es, CDC_ERR_PARSE, "not a valid %s: '%.*s'", type, (int)(n > 40 ? 40 : n),
                          p);
}

/* Reads exactly `width` digits (or at least width when open) starting at *q; more than 18 is
 * no date part (refused before the 19th could overflow). */
static bool
digits(const char **q, const char *end, int width, bool open, int64_t *out)
{
    int64_t v = 0;
    int k = 0;
    while (*q < end && **q >= '0' && **q <= '9' && (open || k < width)) {
        if (k == 18)
            return false;
        v = v * 10 + (**q - '0');
        (*q)++;
        k++;
    }
    *out = v;
    return open ? k >= width : k == width;
}

static bool
lit(const char **q, const char *end, const char *s)
{
    size_t n = strlen(s);
    if ((size_t)(end - *q) < n || memcmp(*q, s, n) != 0)
        return false;
    *q += n;
    return true;
}

/* ".ffffff" -> microseconds (1 to 6 digits). */
static bool
fraction(const char **q, const char *end, uint32_t *usec)
{
    *usec = 0;
    if (*q >= end || **q != '.')
        return true;
    (*q)++;
    int k = 0;
    uint32_t v = 0;
    while (*q < end && **q >= '0' && **q <= '9') {
        if (k < 6)
            v = v * 10 + (uint32_t)(**q - '0');
        k++;
        (*q)++;
    }
    for (int i = k; i < 6; i++)
        v *= 10;
    *usec = v;
    return k >= 1 && k <= 6;
}

/* "+HH[:MM[:SS]]" or "-..." -> seconds east of UTC. */
static bool
zone(const char **q, const char *end, int32_t *off)
{
    if (*q >= end || (**q != '+' && **q != '-'))
        return false;
    int sign = **q == '-' ? -1 : 1;
    (*q)++;
    int64_t h, m = 0, s = 0;
    if (!digits(q, end, 2, false, &h))
        return false;
    if (lit(q, end, ":") && !digits(q, end, 2, false, &m))
        return false;
    if (lit(q, end, ":") && !digits(q, end, 2, false, &s))
        return false;
    *off = (int32_t)(sign * (h * 3600 + m * 60 + s));
    return true;
}

static bool
parse_date_part(const char **q, const char *end, cdc_date_t *d)
{
    int64_t y, m, day;
    if (!digits(q, end, 4, true, &y) || !lit(q, end, "-") || !digits(q, end, 2, false, &m) ||
        !lit(q, end, "-") || !digits(q, end, 2, false, &day) || m < 1 || m > 12 || day < 1 ||
        day > 31)
        return false;
    d->year = (int32_t)y;
    d->month = (uint8_t)m;
    d->day = (uint8_t)day;
    d->infinity = 0;
    return true;
}

static bool
parse_time_part(const char **q, const char *end, cdc_time_t *t)
{
    int64_t h, m, s;
    memset(t, 0, sizeof(*t));
    if (!digits(q, end, 2, false, &h) || !lit(q, end, ":") || !digits(q, end, 2, false, &m) ||
        !lit(q, end, ":") || !digits(q, end, 2, false, &s) || !fraction(q, end, &t->usec) ||
        h > 24 || m > 59 || s > 60)
        return false;
    t->hours = (uint32_t)h;
    t->minute = (uint8_t)m;
    t->second = (uint8_t)s;
    return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (astronomical years), and back. */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void
civil_from_days(int64_t z, cdc_date_t *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned day = doy - (153 * mp + 2) / 5 + 1;
    unsigned month = mp < 10 ? mp + 3 : mp - 9;
    d->year = (int32_t)((int64_t)yoe + era * 400 + (month <= 2));
    d->month = (uint8_t)month;
    d->day = (uint8_t)day;
}

/* " BC" suffix: year Y BC is astronomical 1 - Y. */
static bool
apply_bc(const char **q, const char *end, cdc_date_t *d)
{
    if (lit(q, end, " BC"))
        d->year = 1 - d->year;
    return *q == end;
}

static cdc_err_t
conv_date(const char *p, size_t n, cdc_value_t *out, cdc_errstr_t *es)
{
    const char *q = p, *end = p + n;
    out->type = CDC_VAL_DATE;
    memset(&out->date, 0, sizeof(out->date));
    if (n == 8 && !memcmp(p, "infinity", 8)) {
        out->date.infinity = 1;
        return CDC_OK;
    }
    if (n == 9 && !memcmp(p, "-infinity", 9)) {
        out->date.infinity = -1;
        return CDC_OK;
    }
    if (!parse_date_part(&q, end, &out->date) || !apply_bc(&q, end, &out->date))
        return bad(es, "date", p, n);
    return CDC_OK;
}

static cdc_err_t
conv_timestamp(const char *p, size_t n, bool tz, cdc_value_t *out, cdc_errstr_t *es)
{
    const char *q = p, *end = p + n;
    cdc_timestamp_t *ts = &out->ts;
    cdc_time_t t;
    out->type = tz ? CDC_VAL_TIMESTAMPTZ : CDC_VAL_TIMESTAMP;
    memset(ts, 0, sizeof(*ts));
    if ((n == 8 && !memcmp(p, "infinity", 8)) || (n == 9 && !memcmp(p, "-infinity", 9))) {
        ts->date.infinity = p[0] == '-' ? -1 : 1;
        return CDC_OK;
    }
    int32_t off = 0;
    if (!parse_date_part(&q, end, &ts->date) || !lit(&q, end, " ") ||
        !parse_time_part(&q, end, &t) || (tz && !zone(&q, end, &off)) ||
        !apply_bc(&q, end, &ts->date))
        return bad(es, tz ? "timestamptz" : "timestamp", p, n);
    ts->hour = (uint8_t)t.hours, ts->minute = t.minute, ts->second = t.second, ts->usec = t.usec;
    if (off) {
        /* normalise to UTC (the session asks for UTC; stay correct if it is not) */
        int64_t secs = days_from_civil(ts->date.year, ts->date.month, ts->date.day) * 86400 +
                       ts->hour * 3600 + ts->minute * 60 + ts->second - off;
        int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
        int64_t rem = secs - days * 86400;
        civil_from_days(days, &ts->date);
        ts->hour = (uint8_t)(rem / 3600), ts->minute = (uint8_t)(rem / 60 % 60);
        ts->second = (uint8_t)(rem % 60);
    }
    return CDC_OK;
}

static cdc_err_t
conv_time(const char *p, size_t n, bool tz, cdc_value_t *out, cdc_errstr_t *es)
{
    const char *q = p, *end = p + n;
    out->type = tz ? CDC_VAL_TIMETZ : CDC_VAL_TIME;
    if (!parse_time_part(&q, end, &out->time) || (tz && !zone(&q, end, &out->time.tz_offset_sec)) ||
        q != end)
        return bad(es, tz ? "timetz" : "time", p, n);
    return CDC_OK;
}

static int
hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

static cdc_err_t
conv_bytea(const char *p, size_t n, cdc_arena_t *a, cdc_value_t *out, cdc_errstr_t *es)
{
    if (n < 2 || p[0] != '\\' || p[1] != 'x' || n % 2)
        return bad(es, "hex bytea", p, n);
    size_t len = (n - 2) / 2;
    char *b = cdc_arena_alloc(a, len + 1);
    for (size_t i = 0; i < len; i++) {
        int hi = hexval(p[2 + 2 * i]), lo = hexval(p[3 + 2 * i]);
        if (hi < 0 || lo < 0)
            return bad(es, "hex bytea", p, n);
        b[i] = (char)(hi << 4 | lo);
    }
    *out = cdc_value_str(CDC_VAL_BYTES, b, len);
    return CDC_OK;
}

static cdc_err_t
conv_number(uint32_t oid, const char *p, size_t n, cdc_value_t *out, cdc_errstr_t *es)
{
    char tmp[64], *end;
    if (n == 0 || n >= sizeof(tmp))
        return bad(es, cdc_pg_canonical_name(oid), p, n);
    if (oid != CDC_PG_FLOAT4 && oid != CDC_PG_FLOAT8) {
        /* integers as PostgreSQL writes them ([-]digits), without a copy and strtoll: a key and
         * most columns of a row are integers */
        bool neg = p[0] == '-' && oid != CDC_PG_OID;
        uint64_t v, lim = oid == CDC_PG_OID ? UINT64_MAX : (uint64_t)INT64_MAX + neg;
        if (!cdc_parse_uint(p + neg, n - neg, lim, &v))
            return bad(es, cdc_pg_canonical_name(oid), p, n);
        if (oid == CDC_PG_OID) {
            out->type = CDC_VAL_UINT;
            out->u = v;
        } else {
            out->type = CDC_VAL_INT;
            out->i = neg && v ? -(int64_t)(v - 1) - 1 : (int64_t)v;
        }
        return CDC_OK;
    }
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    out->type = oid == CDC_PG_FLOAT4 ? CDC_VAL_FLOAT32 : CDC_VAL_FLOAT64;
    out->f = oid == CDC_PG_FLOAT4 ? (double)strtof(tmp, &end) : strtod(tmp, &end);
    return *end ? bad(es, "float", p, n) : CDC_OK;
}

static cdc_err_t conv_array(const cdc_pg_type_t *t, const char *p, size_t n, cdc_arena_t *a,
                            cdc_value_t *out, cdc_errstr_t *es);

cdc_err_t
cdc_pg_value_from_text(const cdc_pg_type_t *t, const char *p, size_t n, cdc_arena_t *a,
                       cdc_value_t *out, cdc_errstr_t *es)
{
    memset(out, 0, sizeof(*out));
    if (!p) /* an empty value may come without a pointer: p + 0 on NULL is undefined */
        p = "";
    if (t->elem_oid)
        return conv_array(t, p, n, a, out, es);
    switch (t->base_oid) {
    case CDC_PG_BOOL:
        if (n != 1 || (p[0] != 't' && p[0] != 'f'))
            return bad(es, "boolean", p, n);
        out->type = CDC_VAL_BOOL;
        out->b = p[0] == 't';
        return CDC_OK;
    case CDC_PG_INT2:
    case CDC_PG_INT4:
    case CDC_PG_INT8:
    case CDC_PG_OID:
    case CDC_PG_FLOAT4:
    case CDC_PG_FLOAT8:
        return conv_number(t->base_oid, p, n, out, es);
    case CDC_PG_NUMERIC:
        *out = cdc_value_str(CDC_VAL_DECIMAL, p, n);
        return cdc_decimal_valid(p, n) ? CDC_OK : bad(es, "numeric", p, n);
    case CDC_PG_BYTEA:
        return conv_bytea(p, n, a, out, es);
    case CDC_PG_DATE:
        return conv_date(p, n, out, es);
    case CDC_PG_TIMESTAMP:
    case CDC_PG_TIMESTAMPTZ:
        return conv_timestamp(p, n, t->base_oid == CDC_PG_TIMESTAMPTZ, out, es);
    case CDC_PG_TIME:
    case CDC_PG_TIMETZ:
        return conv_time(p, n, t->base_oid == CDC_PG_TIMETZ, out, es);
    case CDC_PG_JSON:
    case CDC_PG_JSONB:
        *out = cdc_value_str(CDC_VAL_JSON, p, n);
        return cdc_json_valid(p, n) ? CDC_OK : bad(es, "json", p, n);
    default: /* text-like, uuid, interval (already ISO-8601), enums, and every other type */
        *out = cdc_value_str(CDC_VAL_STRING, p, n);
        return cdc_utf8_valid(p, n, NULL) ? CDC_OK : bad(es, "utf-8 text", p, n);
    }
}

/* ---- arrays: {a,b,"c d",NULL,{nested}} with an optional [lo:hi]= dimension prefix ---------- */

typedef struct {
    const char *p, *end;
    const cdc_pg_type_t *t;
    cdc_arena_t *a;
    cdc_errstr_t *es;
    int depth;
} arr_t;

static cdc_err_t arr_list(arr_t *s, cdc_value_t *out);

/* One element: quoted (backslash escapes) or bare (NULL when it spells NULL). */
static cdc_err_t
arr_element(arr_t *s, cdc_value_t *out)
{
    cdc_pg_type_t elem = {s->t->elem_oid, 0, ','};
    char *buf = cdc_arena_alloc(s->a, (size_t)(s->end - s->p) + 1);
    size_t k = 0;
    bool quoted = *s->p == '"';
    if (quoted)
        s->p++;
    while (s->p < s->end) {
        char c = *s->p;
        if (quoted ? c == '"' : (c == s->t->delim || c == '}'))
            break;
        if (c == '\\' && s->p + 1 < s->end)
            c = *++s->p;
        buf[k++] = c;
        s->p++;
    }
    if (quoted) {
        if (s->p >= s->end)
            return cdc_errstr_set(s->es, CDC_ERR_PARSE,
                                  "not a valid array: unterminated quoted element");
        s->p++;
    } else {
        while (k && (buf[k - 1] == ' ' || buf[k - 1] == '\t'))
            k--;
        if (k == 4 && !strncasecmp(buf, "NULL", 4)) {
            memset(out, 0, sizeof(*out));
            return CDC_OK;
        }
    }
    buf[k] = '\0';
    return cdc_pg_value_from_text(&elem, buf, k, s->a, out, s->es);
}

static cdc_err_t
arr_list(arr_t *s, cdc_value_t *out)
{
    if (s->p >= s->end || *s->p != '{' || ++s->depth > 6)
        return cdc_errstr_set(s->es, CDC_ERR_PARSE, "not a valid array: expected '{'");
    s->p++;
    size_t cap = 8, n = 0;
    cdc_value_t *items = cdc_arena_alloc(s->a, cap * sizeof(*items));
    while (s->p < s->end && *s->p != '}') {
        if (n == cap) {
            cdc_value_t *grown = cdc_arena_alloc(s->a, 2 * cap * sizeof(*items));
            memcpy(grown, items, cap * sizeof(*items));
            items = grown, cap *= 2;
        }
        while (s->p < s->end && *s->p == ' ')
            s->p++;
        cdc_err_t err = *s->p == '{' ? arr_list(s, &items[n]) : arr_element(s, &items[n]);
        if (err)
            return err;
        n++;
        if (s->p < s->end && *s->p == s->t->delim)
            s->p++;
    }
    if (s->p >= s->end)
        return cdc_errstr_set(s->es, CDC_ERR_PARSE, "not a valid array: missing '}'");
    s->p++;
    s->depth--;
    memset(out, 0, sizeof(*out));
    out->type = CDC_VAL_ARRAY;
    out->arr.items = items;
    out->arr.n = n;
    return CDC_OK;
}

static cdc_err_t
conv_array(const cdc_pg_type_t *t, const char *p, size_t n, cdc_arena_t *a, cdc_value_t *out,
           cdc_errstr_t *es)
{
    arr_t s = {p, p + n, t, a, es, 0};
    if (n && p[0] == '[') { /* explicit bounds: "[0:1]={...}" */
        const char *eq = memchr(p, '=', n);
        if (!eq)
            return bad(es, "array", p, n);
        s.p = eq + 1;
    }
    cdc_err_t err = arr_list(&s, out);
    if (!err && s.p != s.end)
        return bad(es, "array", p, n);
    return err;
}

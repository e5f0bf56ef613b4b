/*
 * Row-image values -> canonical values (the value table of the canonical event, README): integers
 * with their signedness, exact DECIMAL text from the packed binary form, FLOAT / DOUBLE, BIT, text
 * converted from its character set to UTF-8, bytes, ENUM / SET by name, the packed temporal forms
 * (DATE, TIME2, DATETIME2, TIMESTAMP2 and their pre-5.6 predecessors), YEAR; zero dates become
 * null.
 */
#include <iconv.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cdc/json.h"
#include "mysql_conn.h"

/* ---- character sets -------------------------------------------------------------------------- */

/* ascii: bytes below 0x80 are the same characters in UTF-8 (not for UCS-2 / UTF-16 / UTF-32, nor
 * Shift-JIS, where iconv maps 0x5C to the yen sign) */
static const struct {
    const char *mysql, *iconv;
    bool ascii;
} charsets[] = {
    {"latin1", "CP1252", true}, /* MySQL's latin1 is Windows-1252 */
    {"ascii", "ASCII", true},       {"latin2", "ISO-8859-2", true},
    {"latin5", "ISO-8859-9", true}, {"latin7", "ISO-8859-13", true},
    {"greek", "ISO-8859-7", true},  {"hebrew", "ISO-8859-8", true},
    {"cp1250", "CP1250", true},     {"cp1251", "CP1251", true},
    {"cp1256", "CP1256", true},     {"cp1257", "CP1257", true},
    {"cp850", "CP850", true},       {"cp852", "CP852", true},
    {"cp866", "CP866", true},       {"koi8r", "KOI8-R", true},
    {"koi8u", "KOI8-U", true},      {"macroman", "MACINTOSH", true},
    {"ucs2", "UCS-2BE", false},     {"utf16", "UTF-16BE", false},
    {"utf16le", "UTF-16LE", false}, {"utf32", "UTF-32BE", false},
    {"sjis", "SHIFT_JIS", false},   {"cp932", "CP932", true},
    {"ujis", "EUC-JP", true},       {"eucjpms", "EUC-JP-MS", true},
    {"gbk", "GBK", true},           {"gb2312", "GB2312", true},
    {"big5", "BIG5", true},         {"euckr", "EUC-KR", true},
    {"tis620", "TIS-620", true},
};

cdc_err_t
cdc_my_text_for(const char *charset, cdc_my_text_t *out, cdc_errstr_t *es)
{
    memset(out, 0, sizeof(*out));
    if (!strcasecmp(charset, "binary")) {
        out->kind = CDC_MY_TEXT_BINARY;
        return CDC_OK;
    }
    if (!strcasecmp(charset, "utf8") || !strcasecmp(charset, "utf8mb3") ||
        !strcasecmp(charset, "utf8mb4")) {
        out->kind = CDC_MY_TEXT_UTF8;
        return CDC_OK;
    }
    for (size_t i = 0; i < sizeof(charsets) / sizeof(charsets[0]); i++) {
        if (strcasecmp(charset, charsets[i].mysql))
            continue;
        iconv_t cd = iconv_open("UTF-8", charsets[i].iconv);
        if (cd == (iconv_t)-1)
            break;
        out->kind = CDC_MY_TEXT_ICONV;
        out->cd = cd;
        out->ascii = charsets[i].ascii;
        return CDC_OK;
    }
    return cdc_errstr_set(es, CDC_ERR_UNSUPPORTED,
                          "character set %s cannot be converted to UTF-8 here", charset);
}

void
cdc_my_text_close(cdc_my_text_t *t)
{
    if (t->kind == CDC_MY_TEXT_ICONV && t->cd)
        iconv_close((iconv_t)t->cd);
    memset(t, 0, sizeof(*t));
}

/* Text bytes in the column's character set -> a UTF-8 string value (in the arena if converted). */
static cdc_err_t
text_value(const cdc_my_text_t *t, const uint8_t *p, size_t n, cdc_arena_t *a, cdc_value_t *out,
           cdc_errstr_t *es)
{
    if (t->kind == CDC_MY_TEXT_BINARY) {
        *out = cdc_value_str(CDC_VAL_BYTES, (const char *)p, n);
        return CDC_OK;
    }
    if (t->kind != CDC_MY_TEXT_ICONV) { /* UTF-8 (validated by the encoder) */
        *out = cdc_value_str(CDC_VAL_STRING, (const char *)p, n);
        return CDC_OK;
    }
    if (t->ascii && cdc_ascii_span((const char *)p, n) == n) {
        /* plain ASCII (the common case) needs no conversion */
        *out = cdc_value_str(CDC_VAL_STRING, (const char *)p, n);
        return CDC_OK;
    }
    size_t cap = n * 4 + 4;
    char *dst = cdc_arena_alloc(a, cap), *o = dst;
    char *in = (char *)p;
    size_t in_left = n, out_left = cap;
    iconv((iconv_t)t->cd, NULL, NULL, NULL, NULL);
    if (iconv((iconv_t)t->cd, &in, &in_left, &o, &out_left) == (size_t)-1)
        return cdc_errstr_set(es, CDC_ERR_UTF8,
                              "text is not valid in its character set at byte %zu", n - in_left);
    *out = cdc_value_str(CDC_VAL_STRING, dst, (size_t)(o - dst));
    return CDC_OK;
}

/* ---- numbers --------------------------------------------------------------------------------- */

/* The proleptic Gregorian date of a day count since 1970-01-01 (days >= 0: TIMESTAMP is unsigned),
 * without gmtime_r's locking (H. Hinnant's days_from_civil inverse). */
static cdc_date_t
civil_from_days(int64_t z)
{
    z += 719468;
    int64_t era = z / 146097;
    uint32_t doe = (uint32_t)(z - era * 146097);
    uint32_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    uint32_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    uint32_t mp = (5 * doy + 2) / 153;
    uint32_t d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = (int64_t)yoe + era * 400 + (m <= 2);
    return (cdc_date_t){(int32_t)y, (uint8_t)m, (uint8_t)d, 0};
}

/* The first n bytes little-endian (at most 8 count: a shift by 64 is undefined). */
static uint64_t
le(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n && i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static uint64_t
be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static void
int_value(const uint8_t *p, size_t n, bool is_unsigned, cdc_value_t *out)
{
    uint64_t u = le(p, n);
    if (is_unsigned) {
        out->type = CDC_VAL_UINT;
        out->u = u;
        return;
    }
    if (n && n < 8 && (u >> (8 * n - 1)) & 1) /* sign-extend */
        u |= ~0ULL << (8 * n);
    out->type = CDC_VAL_INT;
    out->i = (int64_t)u;
}

/* Packed DECIMAL(precision, scale) -> exact text: groups of 9 digits in 4 big-endian bytes, a
 * shorter leading / trailing group in 1-4 bytes; the sign bit is the first bit inverted, and a
 * negative number has every byte inverted. */
static cdc_err_t
decimal_value(const uint8_t *p, size_t n, unsigned precision, unsigned scale, cdc_arena_t *a,
              cdc_value_t *out, cdc_errstr_t *es)
{
    static const uint8_t dig2bytes[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};
    unsigned intg = precision - scale, intg0 = intg / 9, intg0x = intg % 9;
    unsigned frac0 = scale / 9, frac0x = scale % 9;
    size_t need = intg0 * 4 + dig2bytes[intg0x] + frac0 * 4 + dig2bytes[frac0x];
    if (n != need || n > 64)
        return cdc_errstr_set(es, CDC_ERR_PARSE, "DECIMAL(%u,%u) value of %zu bytes", precision,
                              scale, n);
    uint8_t buf[64];
    memcpy(buf, p, n);
    bool negative = !(buf[0] & 0x80);
    buf[0] ^= 0x80;
    if (negative)
        for (size_t i = 0; i < n; i++)
            buf[i] = (uint8_t)~buf[i];
    /* each group holds fewer digits than its bytes could: more is a corrupt value, and would
     * write past the text's precision + 3 bytes */
    static const uint32_t pow10[10] = {1,      10,      100,      1000,      10000,
                                       100000, 1000000, 10000000, 100000000, 1000000000};
    const uint8_t *grp = buf;
    bool bad = intg0x && be(grp, dig2bytes[intg0x]) >= pow10[intg0x];
    grp += dig2bytes[intg0x];
    for (unsigned i = 0; i < intg0 + frac0; i++, grp += 4)
        bad = bad || be(grp, 4) >= pow10[9];
    bad = bad || (frac0x && be(grp, dig2bytes[frac0x]) >= pow10[frac0x]);
    if (bad)
        return cdc_errstr_set(es, CDC_ERR_PARSE, "DECIMAL(%u,%u) value with a group out of range",
                              precision, scale);
    char *s = cdc_arena_alloc(a, precision + 3), *o = s;
    if (negative)
        *o++ = '-';
    const uint8_t *q = buf;
    bool leading = true;
    /* integer part (digits written without printf: a DECIMAL column is read for every row) */
    if (intg0x) {
        uint64_t v = be(q, dig2bytes[intg0x]);
        q += dig2bytes[intg0x];
        if (v) {
            o = cdc_put_uint(o, v, 0);
            leading = false;
        }
    }
    for (unsigned g = 0; g < intg0; g++, q += 4) {
        uint64_t v = be(q, 4);
        if (!leading) {
            o = cdc_put_uint(o, v, 9);
        } else if (v) {
            o = cdc_put_uint(o, v, 0);
            leading = false;
        }
    }
    if (leading)
        *o++ = '0';
    if (scale) {
        *o++ = '.';
        for (unsigned g = 0; g < frac0; g++, q += 4)
            o = cdc_put_uint(o, be(q, 4), 9);
        if (frac0x)
            o = cdc_put_uint(o, be(q, dig2bytes[frac0x]), (int)frac0x);
    }
    *out = cdc_value_str(CDC_VAL_DECIMAL, s, (size_t)(o - s));
    return CDC_OK;
}

/* ---- temporal -------------------------------------------------------------------------------- */

/* Fractional seconds of the packed temporal forms: fsp 1-2 one byte (1/100 s), 3-4 two bytes
 * (1/10000 s), 5-6 three bytes (microseconds); big-endian. */
static uint32_t
frac_usec(const uint8_t *p, unsigned fsp)
{
    switch ((fsp + 1) / 2) {
    case 1:
        return (uint32_t)p[0] * 10000;
    case 2:
        return (uint32_t)be(p, 2) * 100;
    case 3:
        return (uint32_t)be(p, 3);
    default:
        return 0;
    }
}

static bool
date_valid(int year, int month, int day)
{
    return month >= 1 && month <= 12 && day >= 1 && day <= 31 && year >= 0;
}

static cdc_err_t
temporal_value(const cdc_binlog_col_t *col, const uint8_t *p, size_t n, cdc_value_t *out,
               bool *zero_date)
{
    switch (col->type) {
    case CDC_MT_DATE:
    case CDC_MT_NEWDATE: {
        uint32_t v = (uint32_t)le(p, 3);
        int day = v & 31, month = (v >> 5) & 15, year = (int)(v >> 9);
        if (!date_valid(year, month, day)) {
            *zero_date = true;
            out->type = CDC_VAL_NULL;
            return CDC_OK;
        }
        out->type = CDC_VAL_DATE;
        out->date = (cdc_date_t){year, (uint8_t)month, (uint8_t)day, 0};
        return CDC_OK;
    }
    case CDC_MT_DATETIME2: {
        int64_t packed = (int64_t)be(p, 5) - 0x8000000000LL;
        uint64_t ymdhms = (uint64_t)packed;
        uint64_t ymd = ymdhms >> 17, ym = ymd >> 5, hms = ymdhms % (1 << 17);
        int year = (int)(ym / 13), month = (int)(ym % 13), day = (int)(ymd % 32);
        if (!date_valid(year, month, day)) {
            *zero_date = true;
            out->type = CDC_VAL_NULL;
            return CDC_OK;
        }
        out->type = CDC_VAL_TIMESTAMP;
        out->ts.date = (cdc_date_t){year, (uint8_t)month, (uint8_t)day, 0};
        out->ts.hour = (uint8_t)(hms >> 12);
        out->ts.minute = (uint8_t)((hms >> 6) % 64);
        out->ts.second = (uint8_t)(hms % 64);
        out->ts.usec = frac_usec(p + 5, col->meta);
        return CDC_OK;
    }
    case CDC_MT_DATETIME: { /* pre-5.6: YYYYMMDDhhmmss as an integer */
        uint64_t v = le(p, 8), d = v / 1000000, t = v % 1000000;
        int year = (int)(d / 10000), month = (int)(d / 100 % 100), day = (int)(d % 100);
        if (!date_valid(year, month, day)) {
            *zero_date = true;
            out->type = CDC_VAL_NULL;
            return CDC_OK;
        }
        out->type = CDC_VAL_TIMESTAMP;
        out->ts.date = (cdc_date_t){year, (uint8_t)month, (uint8_t)day, 0};
        out->ts.hour = (uint8_t)(t / 10000);
        out->ts.minute = (uint8_t)(t / 100 % 100);
        out->ts.second = (uint8_t)(t % 100);
        out->ts.usec = 0;
        return CDC_OK;
    }
    case CDC_MT_TIMESTAMP2:
    case CDC_MT_TIMESTAMP: {
        bool v2 = col->type == CDC_MT_TIMESTAMP2;
        time_t sec = (time_t)(v2 ? be(p, 4) : le(p, 4));
        uint32_t usec = v2 ? frac_usec(p + 4, col->meta) : 0;
        if (sec == 0 && usec == 0) { /* '0000-00-00 00:00:00' */
            *zero_date = true;
            out->type = CDC_VAL_NULL;
            return CDC_OK;
        }
        out->type = CDC_VAL_TIMESTAMPTZ;
        out->ts.date = civil_from_days((int64_t)sec / 86400);
        uint32_t tod = (uint32_t)((int64_t)sec % 86400);
        out->ts.hour = (uint8_t)(tod / 3600);
        out->ts.minute = (uint8_t)(tod / 60 % 60);
        out->ts.second = (uint8_t)(tod % 60);
        out->ts.usec = usec;
        return CDC_OK;
    }
    case CDC_MT_TIME2: {
        /* 3 bytes of hours/minutes/seconds offset by 0x800000, then the fraction; a negative time
         * with a fraction borrows one second (MySQL's my_time_packed_from_binary) */
        unsigned fsp = col->meta;
        int64_t packed;
        if (fsp >= 5) {
            packed = (int64_t)be(p, 6) - 0x800000000000LL;
        } else {
            int64_t intpart = (int64_t)be(p, 3) - 0x800000;
            int64_t frac = 0;
            if (fsp >= 1) {
                size_t fb = (fsp + 1) / 2;
                frac = (int64_t)be(p + 3, fb);
                if (intpart < 0 && frac) {
                    intpart++;
                    frac -= fb == 1 ? 0x100 : 0x10000;
                }
                frac *= fb == 1 ? 10000 : 100;
            }
            packed = intpart * (1LL << 24) + frac;
        }
        out->type = CDC_VAL_TIME;
        out->time.negative = packed < 0;
        if (packed < 0)
            packed = -packed;
        uint64_t hms = (uint64_t)packed >> 24;
        out->time.hours = (uint32_t)((hms >> 12) % (1 << 10));
        out->time.minute = (uint8_t)((hms >> 6) % 64);
        out->time.second = (uint8_t)(hms % 64);
        out->time.usec = (uint32_t)((uint64_t)packed % (1 << 24));
        out->time.tz_offset_sec = 0;
        return CDC_OK;
    }
    case CDC_MT_TIME: { /* pre-5.6: [-]HHMMSS as a 3-byte integer */
        int32_t v = (int32_t)le(p, 3);
        if (v & 0x800000)
            v |= ~0xffffff;
        out->type = CDC_VAL_TIME;
        out->time.negative = v < 0;
        if (v < 0)
            v = -v;
        out->time.hours = (uint32_t)(v / 10000);
        out->time.minute = (uint8_t)(v / 100 % 100);
        out->time.second = (uint8_t)(v % 100);
        out->time.usec = 0;
        out->time.tz_offset_sec = 0;
        return CDC_OK;
    }
    default:
        (void)n;
        return CDC_ERR_UNSUPPORTED;
    }
}

const char *
cdc_my_canonical_name(const cdc_binlog_col_t *col, bool binary, bool json)
{
    switch (col->type) {
    case CDC_MT_TINY:
        return col->is_unsigned ? "uint8" : "int8";
    case CDC_MT_SHORT:
        return col->is_unsigned ? "uint16" : "int16";
    case CDC_MT_INT24:
    case CDC_MT_LONG:
        return col->is_unsigned ? "uint32" : "int32";
    case CDC_MT_LONGLONG:
        return col->is_unsigned ? "uint64" : "int64";
    case CDC_MT_YEAR:
        return "year";
    case CDC_MT_FLOAT:
        return "float32";
    case CDC_MT_DOUBLE:
        return "float64";
    case CDC_MT_NEWDECIMAL:
        return "decimal";
    case CDC_MT_BIT:
        return "bits";
    case CDC_MT_DATE:
    case CDC_MT_NEWDATE:
        return "date";
    case CDC_MT_TIME:
    case CDC_MT_TIME2:
        return "time";
    case CDC_MT_DATETIME:
    case CDC_MT_DATETIME2:
        return "timestamp";
    case CDC_MT_TIMESTAMP:
    case CDC_MT_TIMESTAMP2:
        return "timestamptz";
    case CDC_MT_ENUM:
        return "enum";
    case CDC_MT_SET:
        return "set";
    case CDC_MT_GEOMETRY:
        return "bytes";
    case CDC_MT_JSON:
        return "json";
    default:
        return json ? "json" : binary ? "bytes" : "string";
    }
}

/* information_schema DATA_TYPE <-> binlog column type: the native type name of _schemas is the
 * same whether the structure came from the catalog (snapshot) or from a TABLE_MAP (stream). */
static const struct {
    const char *name;
    uint8_t type, blob_bytes; /* BLOB / TEXT: the length size */
    bool binary;
} data_types[] = {
    {"tinyint", CDC_MT_TINY, 0, false},
    {"smallint", CDC_MT_SHORT, 0, false},
    {"mediumint", CDC_MT_INT24, 0, false},
    {"int", CDC_MT_LONG, 0, false},
    {"bigint", CDC_MT_LONGLONG, 0, false},
    {"float", CDC_MT_FLOAT, 0, false},
    {"double", CDC_MT_DOUBLE, 0, false},
    {"decimal", CDC_MT_NEWDECIMAL, 0, false},
    {"bit", CDC_MT_BIT, 0, false},
    {"date", CDC_MT_DATE, 0, false},
    {"time", CDC_MT_TIME2, 0, false},
    {"datetime", CDC_MT_DATETIME2, 0, false},
    {"timestamp", CDC_MT_TIMESTAMP2, 0, false},
    {"year", CDC_MT_YEAR, 0, false},
    {"enum", CDC_MT_ENUM, 0, false},
    {"set", CDC_MT_SET, 0, false},
    {"json", CDC_MT_JSON, 0, false},
    {"geometry", CDC_MT_GEOMETRY, 0, true},
    {"varchar", CDC_MT_VARCHAR, 0, false},
    {"varbinary", CDC_MT_VARCHAR, 0, true},
    {"char", CDC_MT_STRING, 0, false},
    {"binary", CDC_MT_STRING, 0, true},
    {"tinytext", CDC_MT_BLOB, 1, false},
    {"text", CDC_MT_BLOB, 2, false},
    {"mediumtext", CDC_MT_BLOB, 3, false},
    {"longtext", CDC_MT_BLOB, 4, false},
    {"tinyblob", CDC_MT_BLOB, 1, true},
    {"blob", CDC_MT_BLOB, 2, true},
    {"mediumblob", CDC_MT_BLOB, 3, true},
    {"longblob", CDC_MT_BLOB, 4, true},
};

static uint8_t
base_type(uint8_t t)
{
    switch (t) {
    case CDC_MT_TIME:
        return CDC_MT_TIME2;
    case CDC_MT_DATETIME:
        return CDC_MT_DATETIME2;
    case CDC_MT_TIMESTAMP:
        return CDC_MT_TIMESTAMP2;
    case CDC_MT_NEWDATE:
        return CDC_MT_DATE;
    case CDC_MT_VAR_STRING:
        return CDC_MT_VARCHAR;
    case CDC_MT_TINY_BLOB:
    case CDC_MT_MEDIUM_BLOB:
    case CDC_MT_LONG_BLOB:
        return CDC_MT_BLOB;
    default:
        return t;
    }
}

const char *
cdc_my_native_name(const cdc_binlog_col_t *col, bool binary)
{
    uint8_t t = base_type(col->type);
    for (size_t i = 0; i < sizeof(data_types) / sizeof(data_types[0]); i++) {
        if (data_types[i].type != t)
            continue;
        if (t == CDC_MT_BLOB && data_types[i].blob_bytes != col->meta)
            continue;
        if ((t == CDC_MT_BLOB || t == CDC_MT_VARCHAR || t == CDC_MT_STRING) &&
            data_types[i].binary != binary)
            continue;
        return data_types[i].name;
    }
    return "unknown";
}

bool
cdc_my_col_from_data_type(const char *data_type, bool is_unsigned, cdc_binlog_col_t *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < sizeof(data_types) / sizeof(data_types[0]); i++) {
        if (strcasecmp(data_types[i].name, data_type))
            continue;
        out->type = data_types[i].type;
        out->meta = data_types[i].blob_bytes;
        out->is_unsigned = is_unsigned;
        return true;
    }
    out->type = CDC_MT_GEOMETRY; /* point, linestring ... */
    return false;
}

/* ---- one cell -------------------------------------------------------------------------------- */

/* ENUM index / SET bitmask -> the value names (SET joined by commas). */
static cdc_err_t
enum_set_value(const cdc_binlog_col_t *col, const cdc_my_text_t *text, const uint8_t *p, size_t n,
               cdc_arena_t *a, cdc_value_t *out, cdc_errstr_t *es)
{
    uint64_t v = le(p, n);
    if (col->n_values == 0)
        return cdc_errstr_set(
            es, CDC_ERR_UNSUPPORTED,
            "%s value names missing from the binlog (set binlog_row_metadata=FULL)",
            col->type == CDC_MT_ENUM ? "ENUM" : "SET");
    if (col->type == CDC_MT_ENUM) {
        if (v == 0) { /* the error value '' */
            *out = cdc_value_str(CDC_VAL_STRING, "", 0);
            return CDC_OK;
        }
        if (v > col->n_values)
            return cdc_errstr_set(es, CDC_ERR_PARSE, "ENUM index %llu of %u values",
                                  (unsigned long long)v, (unsigned)col->n_values);
        return text_value(text, col->values[v - 1].p, col->values[v - 1].n, a, out, es);
    }
    size_t len = 0;
    for (uint32_t i = 0; i < col->n_values && i < 64; i++)
        if (v >> i & 1)
            len += col->values[i].n + 1;
    char *s = cdc_arena_alloc(a, len + 1), *o = s;
    for (uint32_t i = 0; i < col->n_values && i < 64; i++) {
        if (!(v >> i & 1))
            continue;
        if (o != s)
            *o++ = ',';
        memcpy(o, col->values[i].p, col->values[i].n);
        o += col->values[i].n;
    }
    return text_value(text, (const uint8_t *)s, (size_t)(o - s), a, out, es);
}

cdc_err_t
cdc_my_value(const cdc_binlog_col_t *col, const cdc_my_text_t *text, bool json,
             const cdc_binlog_cell_t *cell, cdc_arena_t *a, cdc_value_t *out, bool *zero_date,
             cdc_errstr_t *es)
{
    memset(out, 0, sizeof(*out));
    if (cell->null || !cell->present) {
        out->type = CDC_VAL_NULL;
        return CDC_OK;
    }
    const uint8_t *p = cell->v.p;
    size_t n = cell->v.n;
    switch (col->type) {
    case CDC_MT_TINY:
    case CDC_MT_SHORT:
    case CDC_MT_INT24:
    case CDC_MT_LONG:
    case CDC_MT_LONGLONG:
        int_value(p, n, col->is_unsigned, out);
        return CDC_OK;
    case CDC_MT_YEAR:
        out->type = CDC_VAL_INT;
        out->i = p[0] ? 1900 + p[0] : 0;
        return CDC_OK;
    case CDC_MT_FLOAT: {
        float f;
        uint32_t u = (uint32_t)le(p, 4);
        memcpy(&f, &u, 4);
        out->type = CDC_VAL_FLOAT32;
        out->f = f;
        return CDC_OK;
    }
    case CDC_MT_DOUBLE: {
        double d;
        uint64_t u = le(p, 8);
        memcpy(&d, &u, 8);
        out->type = CDC_VAL_FLOAT64;
        out->f = d;
        return CDC_OK;
    }
    case CDC_MT_NEWDECIMAL:
        return decimal_value(p, n, col->meta >> 8, col->meta & 0xff, a, out, es);
    case CDC_MT_BIT:
        out->type = CDC_VAL_UINT;
        out->u = be(p, n);
        return CDC_OK;
    case CDC_MT_ENUM:
    case CDC_MT_SET:
        return enum_set_value(col, text, p, n, a, out, es);
    case CDC_MT_VARCHAR:
    case CDC_MT_VAR_STRING:
    case CDC_MT_STRING: {
        size_t lb = col->meta > 255 ? 2 : 1;
        if (text->kind == CDC_MY_TEXT_BINARY && col->type == CDC_MT_STRING && n - lb < col->meta) {
            /* BINARY(n): the binlog drops the trailing zero bytes a SELECT returns */
            char *s = cdc_arena_alloc(a, col->meta);
            memcpy(s, p + lb, n - lb);
            memset(s + (n - lb), 0, col->meta - (n - lb));
            *out = cdc_value_str(CDC_VAL_BYTES, s, col->meta);
            return CDC_OK;
        }
        return text_value(text, p + lb, n - lb, a, out, es);
    }
    case CDC_MT_BLOB:
    case CDC_MT_TINY_BLOB:
    case CDC_MT_MEDIUM_BLOB:
    case CDC_MT_LONG_BLOB: {
        size_t lb = col->meta;
        cdc_err_t err = text_value(text, p + lb, n - lb, a, out, es);
        if (!err && json && out->type == CDC_VAL_STRING && cdc_json_valid(out->s.p, out->s.n))
            out->type = CDC_VAL_JSON; /* MariaDB JSON: text, embedded when valid */
        return err;
    }
    case CDC_MT_GEOMETRY:
        *out = cdc_value_str(CDC_VAL_BYTES, (const char *)p + col->meta, n - col->meta);
        return CDC_OK;
    case CDC_MT_JSON:
        return cdc_errstr_set(es, CDC_ERR_UNSUPPORTED,
                              "MySQL binary JSON columns are not decoded yet (MariaDB JSON is)");
    case CDC_MT_NULL:
        out->type = CDC_VAL_NULL;
        return CDC_OK;
    default:
        if (temporal_value(col, p, n, out, zero_date) == CDC_OK)
            return CDC_OK;
        return cdc_errstr_set(es, CDC_ERR_UNSUPPORTED, "column type %u is not supported",
                              (unsigned)col->type);
    }
}

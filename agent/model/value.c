/*
 * The value table of the canonical event: one JSON form per kind, identical for every source.
 * Temporal formats follow ISO-8601 with the contract's extensions (astronomical BC years, '+' for
 * years past 9999, MySQL TIME beyond 24 h, PostgreSQL iso_8601 intervals).
 */
#include "cdc/value.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/json.h"

/* v in decimal, zero-padded to width digits (no printf: this runs for every temporal value). */
static void
put_num(cdc_buf_t *b, uint32_t v, int width)
{
    cdc_buf_reserve(b, 12 + (size_t)(width > 0 ? width : 0));
    char *end = cdc_put_uint(b->data + b->len, v, width);
    b->len = (size_t)(end - b->data);
    b->data[b->len] = '\0';
}

static void
put_year(cdc_buf_t *b, int32_t year)
{
    if (year < 0)
        cdc_buf_putc(b, '-');
    else if (year > 9999)
        cdc_buf_putc(b, '+');
    put_num(b, year < 0 ? (uint32_t)(-(int64_t)year) : (uint32_t)year, 4);
}

void
cdc_date_format(cdc_buf_t *b, const cdc_date_t *d)
{
    if (d->infinity) {
        cdc_buf_puts(b, d->infinity > 0 ? "infinity" : "-infinity");
        return;
    }
    put_year(b, d->year);
    cdc_buf_putc(b, '-');
    put_num(b, d->month, 2);
    cdc_buf_putc(b, '-');
    put_num(b, d->day, 2);
}

/* ".ffffff" with trailing zeros dropped; nothing when usec is zero. */
static void
put_fraction(cdc_buf_t *b, uint32_t usec)
{
    usec %= 1000000u;
    if (!usec)
        return;
    int k = 6;
    while (usec % 10 == 0) {
        usec /= 10;
        k--;
    }
    cdc_buf_putc(b, '.');
    put_num(b, usec, k);
}

/* hh:mm:ss (hours at least two digits) */
static void
put_hms(cdc_buf_t *b, uint32_t h, unsigned m, unsigned sec)
{
    put_num(b, h, 2);
    cdc_buf_putc(b, ':');
    put_num(b, m, 2);
    cdc_buf_putc(b, ':');
    put_num(b, sec, 2);
}

/* The usual timestamp (years 0-9999) written straight into the buffer, two digits at a time: one
 * is formatted for nearly every row. Returns false for what the general path writes. */
static bool
timestamp_fast(cdc_buf_t *b, const cdc_timestamp_t *ts, bool utc)
{
    const cdc_date_t *d = &ts->date;
    if (d->infinity || d->year < 0 || d->year > 9999 || d->month > 99 || d->day > 99 ||
        ts->hour > 99 || ts->minute > 99 || ts->second > 99)
        return false;
    cdc_buf_reserve(b, 32);
    char *o = b->data + b->len;
    o = cdc_put2(o, (unsigned)d->year / 100);
    o = cdc_put2(o, (unsigned)d->year % 100);
    *o++ = '-';
    o = cdc_put2(o, d->month);
    *o++ = '-';
    o = cdc_put2(o, d->day);
    *o++ = 'T';
    o = cdc_put2(o, ts->hour);
    *o++ = ':';
    o = cdc_put2(o, ts->minute);
    *o++ = ':';
    o = cdc_put2(o, ts->second);
    uint32_t usec = ts->usec % 1000000u;
    if (usec) { /* ".ffffff" without its trailing zeros */
        *o++ = '.';
        o = cdc_put2(o, usec / 10000);
        o = cdc_put2(o, usec / 100 % 100);
        o = cdc_put2(o, usec % 100);
        while (o[-1] == '0')
            o--;
    }
    if (utc)
        *o++ = 'Z';
    *o = '\0';
    b->len = (size_t)(o - b->data);
    return true;
}

void
cdc_timestamp_format(cdc_buf_t *b, const cdc_timestamp_t *ts, bool utc)
{
    if (timestamp_fast(b, ts, utc))
        return;
    if (ts->date.infinity) {
        cdc_date_format(b, &ts->date);
        return;
    }
    cdc_date_format(b, &ts->date);
    cdc_buf_putc(b, 'T');
    put_hms(b, ts->hour, ts->minute, ts->second);
    put_fraction(b, ts->usec);
    if (utc)
        cdc_buf_putc(b, 'Z');
}

void
cdc_time_format(cdc_buf_t *b, const cdc_time_t *t, bool with_zone)
{
    if (t->negative)
        cdc_buf_putc(b, '-');
    put_hms(b, t->hours, t->minute, t->second);
    put_fraction(b, t->usec);
    if (!with_zone)
        return;
    int32_t off = t->tz_offset_sec;
    uint32_t mag = off < 0 ? (uint32_t)(-(int64_t)off) : (uint32_t)off;
    cdc_buf_putc(b, off < 0 ? '-' : '+');
    put_num(b, mag / 3600, 2);
    cdc_buf_putc(b, ':');
    put_num(b, (mag / 60) % 60, 2);
    if (mag % 60) {
        cdc_buf_putc(b, ':');
        put_num(b, mag % 60, 2);
    }
}

static void
iso_part(cdc_buf_t *b, int64_t v, char unit)
{
    if (v)
        cdc_buf_printf(b, "%" PRId64 "%c", v, unit);
}

/* Same text as PostgreSQL's IntervalStyle=iso_8601, so both paths agree. */
void
cdc_interval_format(cdc_buf_t *b, const cdc_interval_t *iv)
{
    int64_t year = iv->months / 12, mon = iv->months % 12;
    int64_t usec = iv->usec;
    int64_t hour = usec / 3600000000LL;
    usec -= hour * 3600000000LL;
    int64_t min = usec / 60000000LL;
    usec -= min * 60000000LL;
    if (!year && !mon && !iv->days && !hour && !min && !usec) {
        cdc_buf_puts(b, "PT0S");
        return;
    }
    cdc_buf_putc(b, 'P');
    iso_part(b, year, 'Y');
    iso_part(b, mon, 'M');
    iso_part(b, iv->days, 'D');
    if (hour || min || usec)
        cdc_buf_putc(b, 'T');
    iso_part(b, hour, 'H');
    iso_part(b, min, 'M');
    if (usec) {
        uint64_t mag = usec < 0 ? (uint64_t)(-usec) : (uint64_t)usec;
        cdc_buf_printf(b, "%s%" PRIu64, usec < 0 ? "-" : "", mag / 1000000);
        put_fraction(b, (uint32_t)(mag % 1000000));
        cdc_buf_putc(b, 'S');
    }
}

bool
cdc_decimal_valid(const char *s, size_t n)
{
    if ((n == 3 && memcmp(s, "NaN", 3) == 0) || (n == 8 && memcmp(s, "Infinity", 8) == 0) ||
        (n == 9 && memcmp(s, "-Infinity", 9) == 0))
        return true;
    size_t i = 0, d = 0;
    if (i < n && s[i] == '-')
        i++;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++, d++;
    if (!d)
        return false;
    if (i < n && s[i] == '.') {
        i++;
        size_t f = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++, f++;
        if (!f)
            return false;
    }
    return i == n;
}

static cdc_err_t
write_text_kind(cdc_buf_t *b, const cdc_value_t *v, cdc_errstr_t *es)
{
    size_t bad = 0;
    switch (v->type) {
    case CDC_VAL_DECIMAL:
        if (!cdc_decimal_valid(v->s.p, v->s.n))
            return cdc_errstr_set(es, CDC_ERR_PARSE, "not a decimal: '%.*s'",
                                  (int)(v->s.n > 40 ? 40 : v->s.n), v->s.p);
        cdc_buf_putc(b, '"');
        cdc_buf_append(b, v->s.p, v->s.n);
        cdc_buf_putc(b, '"');
        return CDC_OK;
    case CDC_VAL_STRING:
        if (cdc_json_write_string(b, v->s.p, v->s.n, &bad))
            return cdc_errstr_set(es, CDC_ERR_UTF8, "invalid utf-8 at byte %zu", bad);
        return CDC_OK;
    case CDC_VAL_BYTES:
        cdc_json_write_base64(b, v->s.p, v->s.n);
        return CDC_OK;
    case CDC_VAL_JSON:
        if (!cdc_json_valid(v->s.p, v->s.n))
            return cdc_errstr_set(es, CDC_ERR_PARSE, "not a valid json value");
        cdc_buf_append(b, v->s.p, v->s.n);
        return CDC_OK;
    case CDC_VAL_NUMBER: {
        cdc_jr_t r;
        const char *s;
        size_t n;
        cdc_jr_init(&r, v->s.p, v->s.n, NULL);
        if (cdc_jr_number(&r, &s, &n) || cdc_jr_end(&r))
            return cdc_errstr_set(es, CDC_ERR_PARSE, "not a json number");
        cdc_buf_append(b, v->s.p, v->s.n);
        return CDC_OK;
    }
    default:
        return cdc_errstr_set(es, CDC_ERR_INVAL, "unknown value type %d", (int)v->type);
    }
}

static cdc_err_t
write_array(cdc_buf_t *b, const cdc_value_t *v, cdc_errstr_t *es, int depth)
{
    if (depth > 16)
        return cdc_errstr_set(es, CDC_ERR_RANGE, "array nesting deeper than 16");
    cdc_buf_putc(b, '[');
    for (size_t i = 0; i < v->arr.n; i++) {
        if (i)
            cdc_buf_putc(b, ',');
        const cdc_value_t *e = &v->arr.items[i];
        cdc_err_t err = e->type == CDC_VAL_ARRAY ? write_array(b, e, es, depth + 1)
                                                 : cdc_value_write_json(b, e, es);
        if (err)
            return err;
    }
    cdc_buf_putc(b, ']');
    return CDC_OK;
}

cdc_err_t
cdc_value_write_json(cdc_buf_t *b, const cdc_value_t *v, cdc_errstr_t *es)
{
    switch (v->type) {
    case CDC_VAL_NULL:
        cdc_buf_puts(b, "null");
        return CDC_OK;
    case CDC_VAL_BOOL:
        cdc_buf_puts(b, v->b ? "true" : "false");
        return CDC_OK;
    case CDC_VAL_INT:
        cdc_json_write_int(b, v->i);
        return CDC_OK;
    case CDC_VAL_UINT:
        cdc_json_write_uint(b, v->u);
        return CDC_OK;
    case CDC_VAL_FLOAT64:
        cdc_json_write_double(b, v->f, false);
        return CDC_OK;
    case CDC_VAL_FLOAT32:
        cdc_json_write_double(b, v->f, true);
        return CDC_OK;
    case CDC_VAL_ARRAY:
        return write_array(b, v, es, 1);
    case CDC_VAL_DATE:
    case CDC_VAL_TIMESTAMP:
    case CDC_VAL_TIMESTAMPTZ:
    case CDC_VAL_TIME:
    case CDC_VAL_TIMETZ:
    case CDC_VAL_INTERVAL:
        cdc_buf_putc(b, '"');
        if (v->type == CDC_VAL_DATE)
            cdc_date_format(b, &v->date);
        else if (v->type == CDC_VAL_INTERVAL)
            cdc_interval_format(b, &v->interval);
        else if (v->type == CDC_VAL_TIME || v->type == CDC_VAL_TIMETZ)
            cdc_time_format(b, &v->time, v->type == CDC_VAL_TIMETZ);
        else
            cdc_timestamp_format(b, &v->ts, v->type == CDC_VAL_TIMESTAMPTZ);
        cdc_buf_putc(b, '"');
        return CDC_OK;
    default:
        return write_text_kind(b, v, es);
    }
}

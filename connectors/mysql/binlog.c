/*
 * Binlog event parsing from raw bytes. A little-endian cursor (cdc/cursor.h) reads fields in the
 * order of the replication protocol documentation; a truncated event yields one clear error.
 */
#include "binlog.h"

#include <stdlib.h>
#include <string.h>

#include "cdc/buf.h"
#include "cdc/cursor.h"

#define HEADER_LEN   19
#define CHECKSUM_LEN 4

typedef cdc_cur_t cur_t;
#define need  cdc_cur_need
#define getle cdc_cur_le

static cdc_bspan_t
getspan(cur_t *c, size_t n)
{
    cdc_bspan_t s = {NULL, 0};
    if (need(c, n)) {
        s.p = c->p ? c->p + c->pos : NULL; /* NULL + 0 is undefined */
        s.n = n;
        c->pos += n;
    }
    return s;
}

/* Length-encoded integer. */
static uint64_t
getlenenc(cur_t *c)
{
    uint8_t b = (uint8_t)getle(c, 1);
    if (b < 0xfb)
        return b;
    if (b == 0xfc)
        return getle(c, 2);
    if (b == 0xfd)
        return getle(c, 3);
    if (b == 0xfe)
        return getle(c, 8);
    c->bad = true; /* 0xfb (NULL) and 0xff are not valid here */
    return 0;
}

static cdc_bspan_t
rest(cur_t *c)
{
    return getspan(c, c->len - c->pos);
}

static cdc_err_t
truncated(cdc_errstr_t *es, const char *what)
{
    return cdc_errstr_set(es, CDC_ERR_PARSE, "binlog %s event truncated or malformed", what);
}

cdc_err_t
cdc_binlog_event_parse(const uint8_t *p, size_t n, const cdc_binlog_format_t *fmt,
                       cdc_binlog_event_t *ev, cdc_errstr_t *es)
{
    cur_t c = {p, n, 0, false};
    ev->timestamp = (uint32_t)getle(&c, 4);
    ev->type = (uint8_t)getle(&c, 1);
    ev->server_id = (uint32_t)getle(&c, 4);
    ev->size = (uint32_t)getle(&c, 4);
    ev->log_pos = (uint32_t)getle(&c, 4);
    ev->flags = (uint16_t)getle(&c, 2);
    size_t trailer = fmt->checksum ? CHECKSUM_LEN : 0;
    if (c.bad || ev->size != n || n < HEADER_LEN + trailer)
        return cdc_errstr_set(es, CDC_ERR_PARSE,
                              "binlog event of %zu bytes does not match its header (size %u)", n,
                              (unsigned)ev->size);
    ev->body.p = p + HEADER_LEN;
    ev->body.n = n - HEADER_LEN - trailer;
    return CDC_OK;
}

cdc_err_t
cdc_binlog_fde(const uint8_t *p, size_t n, cdc_binlog_format_t *fmt, cdc_errstr_t *es)
{
    /* binlog_version(2) server_version(50) created(4) header_len(1) post-header lengths ...
     * checksum_alg(1) [checksum(4)]. The algorithm byte sits 5 bytes from the end when a
     * checksum follows it, 1 byte from the end otherwise; alg 1 = CRC32, 0 = off. */
    if (n < HEADER_LEN + 57 + 1)
        return truncated(es, "FORMAT_DESCRIPTION");
    uint8_t alg_if_crc = p[n - 5], alg_if_none = p[n - 1];
    if (fmt->checksum)
        fmt->checksum = alg_if_crc == 1;
    else
        fmt->checksum = alg_if_none == 1;
    fmt->mariadb = memmem(p + HEADER_LEN + 2, 50, "MariaDB", 7) != NULL;
    if (p[HEADER_LEN + 56] != HEADER_LEN)
        return cdc_errstr_set(es, CDC_ERR_PARSE, "binlog header length %u is not supported",
                              (unsigned)p[HEADER_LEN + 56]);
    return CDC_OK;
}

cdc_err_t
cdc_binlog_rotate(const cdc_binlog_event_t *ev, cdc_binlog_rotate_t *out, cdc_errstr_t *es)
{
    cur_t c = {ev->body.p, ev->body.n, 0, false};
    out->position = getle(&c, 8);
    out->file = rest(&c);
    return c.bad || out->file.n == 0 ? truncated(es, "ROTATE") : CDC_OK;
}

cdc_err_t
cdc_binlog_gtid(const cdc_binlog_event_t *ev, cdc_binlog_gtid_t *out, cdc_errstr_t *es)
{
    cur_t c = {ev->body.p, ev->body.n, 0, false};
    out->seq = getle(&c, 8);
    out->domain = (uint32_t)getle(&c, 4);
    uint8_t flags = (uint8_t)getle(&c, 1);
    out->standalone = flags & 1; /* FL_STANDALONE */
    out->server_id = ev->server_id;
    return c.bad ? truncated(es, "GTID") : CDC_OK;
}

cdc_err_t
cdc_binlog_gtid_list(const cdc_binlog_event_t *ev, cdc_binlog_gtid_t *out, size_t cap, size_t *n,
                     cdc_errstr_t *es)
{
    cur_t c = {ev->body.p, ev->body.n, 0, false};
    uint32_t count = (uint32_t)getle(&c, 4) & 0x0fffffff; /* top bits are flags */
    *n = 0;
    for (uint32_t i = 0; i < count && !c.bad; i++) {
        cdc_binlog_gtid_t g = {0};
        g.domain = (uint32_t)getle(&c, 4);
        g.server_id = (uint32_t)getle(&c, 4);
        g.seq = getle(&c, 8);
        if (*n < cap)
            out[(*n)++] = g;
    }
    return c.bad ? truncated(es, "GTID_LIST") : CDC_OK;
}

cdc_err_t
cdc_binlog_query(const cdc_binlog_event_t *ev, cdc_binlog_query_t *out, cdc_errstr_t *es)
{
    cur_t c = {ev->body.p, ev->body.n, 0, false};
    getle(&c, 4); /* thread id */
    getle(&c, 4); /* execution time */
    uint8_t db_len = (uint8_t)getle(&c, 1);
    out->error_code = (uint16_t)getle(&c, 2);
    uint16_t status_len = (uint16_t)getle(&c, 2);
    getspan(&c, status_len);
    out->db = getspan(&c, db_len);
    getle(&c, 1); /* NUL after the database name */
    out->query = rest(&c);
    return c.bad ? truncated(es, "QUERY") : CDC_OK;
}

/* ---- TABLE_MAP ------------------------------------------------------------------------------- */

/* Bytes of per-column metadata in the TABLE_MAP metadata block. */
static size_t
meta_bytes(uint8_t type)
{
    switch (type) {
    case CDC_MT_FLOAT:
    case CDC_MT_DOUBLE:
    case CDC_MT_BLOB:
    case CDC_MT_TINY_BLOB:
    case CDC_MT_MEDIUM_BLOB:
    case CDC_MT_LONG_BLOB:
    case CDC_MT_GEOMETRY:
    case CDC_MT_JSON:
    case CDC_MT_TIMESTAMP2:
    case CDC_MT_DATETIME2:
    case CDC_MT_TIME2:
        return 1;
    case CDC_MT_VARCHAR:
    case CDC_MT_VAR_STRING:
    case CDC_MT_STRING:
    case CDC_MT_NEWDECIMAL:
    case CDC_MT_BIT:
    case CDC_MT_ENUM:
    case CDC_MT_SET:
        return 2;
    default:
        return 0;
    }
}

/* Reads one column's metadata. VARCHAR: max length in bytes. STRING: the real type is taken out
 * (ENUM / SET / STRING) and meta is the max length (STRING) or pack length (ENUM / SET).
 * NEWDECIMAL: precision << 8 | scale. BIT: (bits % 8) << 8 | whole bytes. BLOB: length bytes.
 * Temporal2: fsp. FLOAT / DOUBLE: pack length. */
static void
column_meta(cur_t *c, cdc_binlog_col_t *col)
{
    size_t nb = meta_bytes(col->type);
    if (nb == 1) {
        col->meta = (uint16_t)getle(c, 1);
        return;
    }
    if (nb == 0) {
        col->meta = 0;
        return;
    }
    if (col->type == CDC_MT_VARCHAR || col->type == CDC_MT_VAR_STRING) {
        col->meta = (uint16_t)getle(c, 2);
        return;
    }
    /* big-endian pairs */
    uint8_t b0 = (uint8_t)getle(c, 1), b1 = (uint8_t)getle(c, 1);
    if (col->type == CDC_MT_STRING) {
        if ((b0 & 0x30) != 0x30) { /* a length above 255 borrows two bits of the type byte */
            col->meta = (uint16_t)(b1 | (((b0 & 0x30) ^ 0x30) << 4));
            col->type = b0 | 0x30;
        } else {
            col->type = b0;
            col->meta = b1;
        }
        return;
    }
    col->meta = (uint16_t)(b0 << 8 | b1);
}

/* Columns with a bit in SIGNEDNESS; MariaDB counts YEAR among them (a TINYINT underneath),
 * MySQL does not. */
static bool
is_numeric(uint8_t t, bool mariadb)
{
    switch (t) {
    case CDC_MT_YEAR:
        return mariadb;
    case CDC_MT_TINY:
    case CDC_MT_SHORT:
    case CDC_MT_INT24:
    case CDC_MT_LONG:
    case CDC_MT_LONGLONG:
    case CDC_MT_FLOAT:
    case CDC_MT_DOUBLE:
    case CDC_MT_NEWDECIMAL:
    case CDC_MT_DECIMAL:
        return true;
    default:
        return false;
    }
}

/* Columns that carry a character set in DEFAULT_CHARSET / COLUMN_CHARSET (BLOBs too: binary). */
static bool
is_character(uint8_t t)
{
    switch (t) {
    case CDC_MT_STRING:
    case CDC_MT_VAR_STRING:
    case CDC_MT_VARCHAR:
    case CDC_MT_BLOB:
    case CDC_MT_TINY_BLOB:
    case CDC_MT_MEDIUM_BLOB:
    case CDC_MT_LONG_BLOB:
        return true;
    default:
        return false;
    }
}

static bool
is_enum_set(uint8_t t)
{
    return t == CDC_MT_ENUM || t == CDC_MT_SET;
}

typedef bool (*col_pred)(uint8_t);

/* The i-th column (0-based) among those matching pred, or NULL. */
static cdc_binlog_col_t *
nth_col(cdc_binlog_table_t *t, col_pred pred, uint64_t i)
{
    for (uint32_t k = 0; k < t->ncols; k++)
        if (pred(t->cols[k].type) && i-- == 0)
            return &t->cols[k];
    return NULL;
}

/* DEFAULT_CHARSET: default collation, then (index, collation) pairs for the exceptions. */
static void
opt_default_charset(cur_t *c, cdc_binlog_table_t *t, col_pred pred)
{
    uint16_t def = (uint16_t)getlenenc(c);
    for (uint32_t k = 0; k < t->ncols; k++)
        if (pred(t->cols[k].type))
            t->cols[k].charset = def;
    while (!c->bad && c->pos < c->len) {
        uint64_t idx = getlenenc(c);
        uint16_t coll = (uint16_t)getlenenc(c);
        cdc_binlog_col_t *col = nth_col(t, pred, idx);
        if (col)
            col->charset = coll;
    }
}

/* COLUMN_CHARSET: one collation per matching column. */
static void
opt_column_charset(cur_t *c, cdc_binlog_table_t *t, col_pred pred)
{
    for (uint32_t k = 0; k < t->ncols && !c->bad && c->pos < c->len; k++)
        if (pred(t->cols[k].type))
            t->cols[k].charset = (uint16_t)getlenenc(c);
}

/* ENUM_STR_VALUE / SET_STR_VALUE: per column of that type, a count then the values. The values
 * of all columns share one store. */
static void
opt_values(cur_t *c, cdc_binlog_table_t *t, uint8_t type)
{
    size_t used = 0;
    for (uint32_t k = 0; k < t->ncols; k++)
        if (t->cols[k].values)
            used += t->cols[k].n_values;
    for (uint32_t k = 0; k < t->ncols && !c->bad; k++) {
        cdc_binlog_col_t *col = &t->cols[k];
        if (col->type != type)
            continue;
        uint64_t count = getlenenc(c);
        if (count > c->len - c->pos) { /* each value takes at least one byte */
            c->bad = true;
            return;
        }
        if (!count) { /* no store needed (and none to point into: NULL + 0 is undefined) */
            col->values = NULL;
            col->n_values = 0;
            continue;
        }
        if (used + count > t->cap_values) {
            /* the other columns' lists as offsets while the store moves (a pointer into the
             * freed block may not be used, even to subtract) */
            size_t *at = cdc_xcalloc(t->ncols + 1, sizeof(size_t));
            for (uint32_t j = 0; j < t->ncols; j++)
                if (t->cols[j].values)
                    at[j] = (size_t)(t->cols[j].values - t->value_store);
            t->cap_values = (used + (size_t)count) * 2;
            t->value_store = cdc_xrealloc(t->value_store, t->cap_values * sizeof(cdc_bspan_t));
            for (uint32_t j = 0; j < t->ncols; j++)
                if (t->cols[j].values)
                    t->cols[j].values = t->value_store + at[j];
            free(at);
        }
        col->values = t->value_store + used;
        col->n_values = (uint32_t)count;
        used += (size_t)count;
        for (uint64_t i = 0; i < count && !c->bad; i++)
            col->values[i] = getspan(c, (size_t)getlenenc(c));
    }
}

static void
add_key(cdc_binlog_table_t *t, uint64_t idx, cur_t *c)
{
    if (idx >= t->ncols) {
        c->bad = true;
        return;
    }
    if (t->n_key == t->cap_key) {
        t->cap_key = t->cap_key ? 2 * t->cap_key : 8;
        t->key_order = cdc_xrealloc(t->key_order, t->cap_key * sizeof(uint32_t));
    }
    t->key_order[t->n_key++] = (uint32_t)idx;
    t->cols[idx].key = true;
}

static void
optional_metadata(cur_t *c, cdc_binlog_table_t *t)
{
    while (!c->bad && c->pos < c->len) {
        uint8_t kind = (uint8_t)getle(c, 1);
        size_t len = (size_t)getlenenc(c);
        if (!need(c, len))
            return;
        cur_t f = {c->p + c->pos, len, 0, false};
        c->pos += len;
        switch (kind) {
        case 1: { /* SIGNEDNESS: one bit per numeric column, most significant first */
            uint32_t i = 0;
            for (uint32_t k = 0; k < t->ncols; k++) {
                if (!is_numeric(t->cols[k].type, t->mariadb))
                    continue;
                if (i / 8 < len)
                    t->cols[k].is_unsigned = f.p[i / 8] & (0x80 >> (i % 8));
                i++;
            }
            break;
        }
        case 2: /* DEFAULT_CHARSET */
            opt_default_charset(&f, t, is_character);
            break;
        case 3: /* COLUMN_CHARSET */
            opt_column_charset(&f, t, is_character);
            break;
        case 4: /* COLUMN_NAME */
            for (uint32_t k = 0; k < t->ncols && !f.bad; k++)
                t->cols[k].name = getspan(&f, (size_t)getlenenc(&f));
            t->has_names = !f.bad;
            break;
        case 5: /* SET_STR_VALUE */
            opt_values(&f, t, CDC_MT_SET);
            break;
        case 6: /* ENUM_STR_VALUE */
            opt_values(&f, t, CDC_MT_ENUM);
            break;
        case 8: /* SIMPLE_PRIMARY_KEY */
            while (!f.bad && f.pos < f.len)
                add_key(t, getlenenc(&f), &f);
            break;
        case 9: /* PRIMARY_KEY_WITH_PREFIX: (index, prefix length) pairs */
            while (!f.bad && f.pos < f.len) {
                add_key(t, getlenenc(&f), &f);
                getlenenc(&f);
            }
            break;
        case 10: /* ENUM_AND_SET_DEFAULT_CHARSET */
            opt_default_charset(&f, t, is_enum_set);
            break;
        case 11: /* ENUM_AND_SET_COLUMN_CHARSET */
            opt_column_charset(&f, t, is_enum_set);
            break;
        default: /* GEOMETRY_TYPE, COLUMN_VISIBILITY and later additions: not needed */
            break;
        }
        if (f.bad)
            c->bad = true;
    }
}

cdc_err_t
cdc_binlog_table_map(const cdc_binlog_event_t *ev, const cdc_binlog_format_t *fmt,
                     cdc_binlog_table_t *t, cdc_errstr_t *es)
{
    t->mariadb = fmt->mariadb;
    cur_t c = {ev->body.p, ev->body.n, 0, false};
    t->table_id = getle(&c, 6);
    getle(&c, 2); /* flags */
    t->db = getspan(&c, (size_t)getle(&c, 1));
    getle(&c, 1);
    t->table = getspan(&c, (size_t)getle(&c, 1));
    getle(&c, 1);
    uint64_t ncols = getlenenc(&c);
    if (c.bad || ncols > c.len)
        return truncated(es, "TABLE_MAP");
    t->ncols = (uint32_t)ncols;
    if (t->cap_cols < ncols) {
        t->cap_cols = (size_t)ncols;
        t->cols = cdc_xrealloc(t->cols, t->cap_cols * sizeof(cdc_binlog_col_t));
    }
    if (ncols) /* t->cols may still be NULL: memset(NULL, 0, 0) is undefined */
        memset(t->cols, 0, (size_t)ncols * sizeof(cdc_binlog_col_t));
    t->n_key = 0;
    t->has_names = false;
    cdc_bspan_t types = getspan(&c, (size_t)ncols);
    size_t meta_len = (size_t)getlenenc(&c);
    cdc_bspan_t meta = getspan(&c, meta_len);
    cdc_bspan_t nulls = getspan(&c, ((size_t)ncols + 7) / 8);
    if (c.bad)
        return truncated(es, "TABLE_MAP");
    cur_t m = {meta.p, meta.n, 0, false};
    for (uint32_t k = 0; k < t->ncols; k++) {
        cdc_binlog_col_t *col = &t->cols[k];
        col->type = types.p[k];
        column_meta(&m, col);
        col->nullable = nulls.p[k / 8] & (1u << (k % 8));
    }
    if (m.bad || m.pos != m.len)
        return cdc_errstr_set(es, CDC_ERR_PARSE,
                              "binlog TABLE_MAP of %.*s.%.*s: column metadata does not match "
                              "its column types",
                              (int)t->db.n, (const char *)t->db.p, (int)t->table.n,
                              (const char *)t->table.p);
    optional_metadata(&c, t);
    if (c.bad)
        return cdc_errstr_set(
            es, CDC_ERR_PARSE, "binlog TABLE_MAP of %.*s.%.*s: optional metadata malformed",
            (int)t->db.n, (const char *)t->db.p, (int)t->table.n, (const char *)t->table.p);
    return CDC_OK;
}

void
cdc_binlog_table_free(cdc_binlog_table_t *t)
{
    free(t->cols);
    free(t->key_order);
    free(t->value_store);
    memset(t, 0, sizeof(*t));
}

/* ---- rows ------------------------------------------------------------------------------------ */

cdc_err_t
cdc_binlog_rows(const cdc_binlog_event_t *ev, cdc_binlog_rows_t *out, cdc_errstr_t *es)
{
    bool v2 = ev->type >= CDC_BL_WRITE_ROWS && ev->type <= CDC_BL_DELETE_ROWS;
    uint8_t base = v2 ? CDC_BL_WRITE_ROWS : CDC_BL_WRITE_ROWS_V1;
    out->kind = "wud"[ev->type - base];
    cur_t c = {ev->body.p, ev->body.n, 0, false};
    out->table_id = getle(&c, 6);
    out->flags = (uint16_t)getle(&c, 2);
    if (v2) {
        uint16_t extra = (uint16_t)getle(&c, 2); /* includes its own two bytes */
        if (extra < 2)
            c.bad = true;
        else
            getspan(&c, extra - 2u);
    }
    uint64_t ncols = getlenenc(&c);
    if (c.bad || ncols > 8 * c.len)
        return truncated(es, "ROWS");
    out->ncols = (uint32_t)ncols;
    out->present = getspan(&c, ((size_t)ncols + 7) / 8);
    out->present_after = out->kind == 'u' ? getspan(&c, ((size_t)ncols + 7) / 8) : out->present;
    out->rows = rest(&c);
    out->pos = 0;
    return c.bad ? truncated(es, "ROWS") : CDC_OK;
}

/* Bytes of a packed DECIMAL(precision, scale). */
static size_t
decimal_len(unsigned precision, unsigned scale)
{
    static const uint8_t dig2bytes[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};
    unsigned intg = precision - scale;
    return (intg / 9) * 4 + dig2bytes[intg % 9] + (scale / 9) * 4 + dig2bytes[scale % 9];
}

cdc_err_t
cdc_binlog_value_len(const cdc_binlog_col_t *col, const uint8_t *p, size_t n, size_t *out,
                     cdc_errstr_t *es)
{
    size_t len = 0;
    bool sized = true; /* false: the length prefix itself is missing */
    switch (col->type) {
    case CDC_MT_TINY:
    case CDC_MT_YEAR:
        len = 1;
        break;
    case CDC_MT_SHORT:
        len = 2;
        break;
    case CDC_MT_INT24:
    case CDC_MT_DATE:
    case CDC_MT_NEWDATE:
    case CDC_MT_TIME:
        len = 3;
        break;
    case CDC_MT_LONG:
    case CDC_MT_TIMESTAMP:
        len = 4;
        break;
    case CDC_MT_LONGLONG:
    case CDC_MT_DATETIME:
        len = 8;
        break;
    case CDC_MT_FLOAT:
        len = 4;
        break;
    case CDC_MT_DOUBLE:
        len = 8;
        break;
    case CDC_MT_NULL:
        len = 0;
        break;
    case CDC_MT_TIMESTAMP2:
        len = 4 + (col->meta + 1u) / 2;
        break;
    case CDC_MT_DATETIME2:
        len = 5 + (col->meta + 1u) / 2;
        break;
    case CDC_MT_TIME2:
        len = 3 + (col->meta + 1u) / 2;
        break;
    case CDC_MT_NEWDECIMAL:
        if ((col->meta >> 8) == 0 || (col->meta & 0xff) > (col->meta >> 8))
            return cdc_errstr_set(es, CDC_ERR_PARSE, "DECIMAL(%u,%u) metadata is not valid",
                                  col->meta >> 8, col->meta & 0xff);
        len = decimal_len(col->meta >> 8, col->meta & 0xff);
        break;
    case CDC_MT_BIT:
        len = (col->meta & 0xff) + ((col->meta >> 8) ? 1u : 0u); /* whole bytes + partial */
        break;
    case CDC_MT_ENUM:
    case CDC_MT_SET:
        len = col->meta & 0xff; /* pack length */
        break;
    case CDC_MT_VARCHAR:
    case CDC_MT_VAR_STRING:
    case CDC_MT_STRING: {
        size_t lb = col->meta > 255 ? 2 : 1;
        if (n < lb) {
            sized = false;
            break;
        }
        len = lb + (lb == 1 ? p[0] : (size_t)(p[0] | p[1] << 8));
        break;
    }
    case CDC_MT_BLOB:
    case CDC_MT_TINY_BLOB:
    case CDC_MT_MEDIUM_BLOB:
    case CDC_MT_LONG_BLOB:
    case CDC_MT_GEOMETRY:
    case CDC_MT_JSON: {
        size_t lb = col->meta;
        if (lb < 1 || lb > 4)
            return cdc_errstr_set(es, CDC_ERR_PARSE, "BLOB length size %zu is not valid", lb);
        if (n < lb) {
            sized = false;
            break;
        }
        size_t v = 0;
        for (size_t i = 0; i < lb; i++)
            v |= (size_t)p[i] << (8 * i);
        len = lb + v;
        break;
    }
    default:
        return cdc_errstr_set(es, CDC_ERR_PARSE, "column type %u is not supported in row images",
                              (unsigned)col->type);
    }
    if (!sized || len > n)
        return cdc_errstr_set(es, CDC_ERR_PARSE, "row image truncated (%zu bytes left)", n);
    *out = len;
    return CDC_OK;
}

cdc_err_t
cdc_binlog_row_next(cdc_binlog_rows_t *r, const cdc_binlog_table_t *t, bool after_image,
                    cdc_binlog_cell_t *cells, bool *more, cdc_errstr_t *es)
{
    *more = r->pos < r->rows.n;
    if (!*more)
        return CDC_OK;
    if (r->ncols != t->ncols)
        return cdc_errstr_set(
            es, CDC_ERR_PARSE, "rows event has %u columns, its TABLE_MAP %u (table %.*s)",
            (unsigned)r->ncols, (unsigned)t->ncols, (int)t->table.n, (const char *)t->table.p);
    const cdc_bspan_t *present = after_image ? &r->present_after : &r->present;
    uint32_t n_present = 0;
    for (uint32_t k = 0; k < r->ncols; k++)
        n_present += (present->p[k / 8] >> (k % 8)) & 1;
    cur_t c = {r->rows.p, r->rows.n, r->pos, false};
    cdc_bspan_t nulls = getspan(&c, (n_present + 7) / 8);
    if (c.bad)
        return truncated(es, "ROWS");
    uint32_t i = 0; /* index among present columns */
    for (uint32_t k = 0; k < r->ncols; k++) {
        cdc_binlog_cell_t *cell = &cells[k];
        cell->present = (present->p[k / 8] >> (k % 8)) & 1;
        cell->null = false;
        cell->v.p = NULL;
        cell->v.n = 0;
        if (!cell->present)
            continue;
        cell->null = (nulls.p[i / 8] >> (i % 8)) & 1;
        i++;
        if (cell->null)
            continue;
        size_t len;
        cdc_err_t err = cdc_binlog_value_len(&t->cols[k], c.p + c.pos, c.len - c.pos, &len, es);
        if (err)
            return err;
        cell->v = getspan(&c, len);
    }
    r->pos = c.pos;
    return c.bad ? truncated(es, "ROWS") : CDC_OK;
}

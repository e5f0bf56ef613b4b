/*
 * JSON writer (strings, integers, shortest floats, base64) and strict pull reader. The reader never
 * builds a tree: callers walk objects and arrays and take spans, so an event decodes with one arena
 * and embedded JSON values keep their exact bytes.
 */
#include "cdc/json.h"

#include "dtoa_shim.h"

#include <math.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- UTF-8 -------------------------------------------------------------------------------- */

/* Length of the well-formed sequence at p (1..4), or 0 when it is not well-formed. */
static size_t
utf8_seq_len(const unsigned char *p, size_t avail)
{
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned min;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, min = 0x10000;
    } else {
        return 0;
    }
    if (avail < len)
        return 0;
    unsigned cp = c & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* Eight bytes at a time (SWAR: plain C, no SIMD intrinsics): most text is ASCII that needs no
 * escaping, and a byte-at-a-time loop over it was the largest single cost of encoding an event. */
#define ONES 0x0101010101010101ULL
#define HIGH 0x8080808080808080ULL

static inline uint64_t
load8(const unsigned char *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof(w));
    return w;
}

/* Whether no byte of w is 0x80 or above. */
static inline bool
word_ascii(uint64_t w)
{
    return !(w & HIGH);
}

/* Whether every byte of w is ASCII that a JSON string holds as it is: no control byte (< 0x20),
 * '"' or '\\'. A byte below 0x20 borrows in w - 0x20.., a byte equal to '"' or '\\' in the xor's
 * - 0x01..; bytes of 0x80 and above are refused by w & HIGH, so the tests are exact. */
static inline bool
word_plain(uint64_t w)
{
    uint64_t q = w ^ (ONES * '"'), s = w ^ (ONES * '\\');
    return !((((w - ONES * 0x20) & ~w) | ((q - ONES) & ~q) | ((s - ONES) & ~s) | w) & HIGH);
}

#ifdef __SSE2__
/* Sixteen bytes at a time where the machine has SSE2 (every x86-64; the words above elsewhere):
 * a bit for each byte that a JSON string cannot hold as it is (signed: below 0x20 also catches
 * 0x80 and above), or that is not ASCII. */
static inline unsigned
block_not_plain(const unsigned char *p)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i bad = _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
                               _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                            _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
    return (unsigned)_mm_movemask_epi8(bad);
}

static inline unsigned
block_not_ascii(const unsigned char *p)
{
    return (unsigned)_mm_movemask_epi8(_mm_loadu_si128((const __m128i *)(const void *)p));
}
#define SKIP_BLOCKS(test, p, i, n)                                                                 \
    while ((i) + 16 <= (n) && !test((p) + (i)))                                                    \
    (i) += 16
#else
#define SKIP_BLOCKS(test, p, i, n) (void)0
#endif

/* Whether p[0..n) needs no escaping at all: whole blocks and words, then the tail in a word
 * padded with a plain byte (short strings, such as most values, take two tests). */
static bool
all_plain(const unsigned char *p, size_t n)
{
    size_t i = 0;
    SKIP_BLOCKS(block_not_plain, p, i, n);
    for (; i + 8 <= n; i += 8)
        if (!word_plain(load8(p + i)))
            return false;
    if (i == n)
        return true;
    uint64_t w = ONES * 'a';
    memcpy(&w, p + i, n - i);
    return word_plain(w);
}

size_t
cdc_json_plain_span(const char *p, size_t n)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t i = 0;
#ifdef __SSE2__
    for (; i + 16 <= n; i += 16) { /* the block's first such byte, at once */
        unsigned bad = block_not_plain(u + i);
        if (bad)
            return i + (size_t)__builtin_ctz(bad);
    }
#endif
    while (i + 8 <= n && word_plain(load8(u + i)))
        i += 8;
    while (i < n && u[i] >= 0x20 && u[i] < 0x80 && u[i] != '"' && u[i] != '\\')
        i++;
    return i;
}

size_t
cdc_ascii_span(const char *p, size_t n)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t i = 0;
    SKIP_BLOCKS(block_not_ascii, u, i, n);
    while (i + 8 <= n && word_ascii(load8(u + i)))
        i += 8;
    while (i < n && u[i] < 0x80)
        i++;
    return i;
}

bool
cdc_utf8_valid(const char *p, size_t n, size_t *bad_at)
{
    const unsigned char *u = (const unsigned char *)p;
    for (size_t i = 0; i < n;) {
        i += cdc_ascii_span(p + i, n - i);
        if (i >= n)
            break;
        size_t len = utf8_seq_len(u + i, n - i);
        if (!len) {
            if (bad_at)
                *bad_at = i;
            return false;
        }
        i += len;
    }
    return true;
}

/* ---- writer ------------------------------------------------------------------------------- */

static const char hexdig[] = "0123456789abcdef";

static void
write_escape(cdc_buf_t *b, unsigned char c)
{
    char e[7] = {'\\', 0, 0, 0, 0, 0, 0};
    switch (c) {
    case '"':
        e[1] = '"';
        break;
    case '\\':
        e[1] = '\\';
        break;
    case '\n':
        e[1] = 'n';
        break;
    case '\r':
        e[1] = 'r';
        break;
    case '\t':
        e[1] = 't';
        break;
    case '\b':
        e[1] = 'b';
        break;
    case '\f':
        e[1] = 'f';
        break;
    default:
        memcpy(e + 1, "u00", 3);
        e[4] = hexdig[c >> 4];
        e[5] = hexdig[c & 15];
        cdc_buf_append(b, e, 6);
        return;
    }
    cdc_buf_append(b, e, 2);
}

static cdc_err_t
write_string(cdc_buf_t *b, const char *p, size_t n, size_t *bad_at, bool lossy)
{
    const unsigned char *u = (const unsigned char *)p;
    cdc_buf_reserve(b, n + 2);
    if (all_plain(u, n)) {
        char *d = b->data + b->len;
        d[0] = '"';
        memcpy(d + 1, p, n);
        d[n + 1] = '"';
        d[n + 2] = '\0';
        b->len += n + 2;
        return CDC_OK;
    }
    cdc_buf_putc(b, '"');
    size_t run = 0; /* start of the pending run of bytes that need no escaping */
    for (size_t i = 0; i < n;) {
        SKIP_BLOCKS(block_not_plain, u, i, n);
        while (i + 8 <= n && word_plain(load8(u + i)))
            i += 8;
        if (i >= n)
            break;
        unsigned char c = u[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            i++;
            continue;
        }
        size_t len = c < 0x80 ? 1 : utf8_seq_len(u + i, n - i);
        if (len > 1) {
            i += len;
            continue;
        }
        cdc_buf_append(b, p + run, i - run);
        if (len == 1) {
            write_escape(b, c);
        } else if (lossy) {
            cdc_buf_append(b, "\xEF\xBF\xBD", 3);
        } else {
            if (bad_at)
                *bad_at = i;
            return CDC_ERR_UTF8;
        }
        run = ++i;
    }
    cdc_buf_append(b, p + run, n - run);
    cdc_buf_putc(b, '"');
    return CDC_OK;
}

cdc_err_t
cdc_json_write_string(cdc_buf_t *b, const char *p, size_t n, size_t *bad_at)
{
    return write_string(b, p, n, bad_at, false);
}

void
cdc_json_write_string_lossy(cdc_buf_t *b, const char *p, size_t n)
{
    write_string(b, p, n, NULL, true);
}

const char cdc_digits2[201] = "00010203040506070809101112131415161718192021222324252627282930313233"
                              "34353637383940414243444546474849505152535455565758596061626364656667"
                              "6869707172737475767778798081828384858687888990919293949596979899";

/* Decimal digits of v, right-aligned ending at end; returns the first digit. */
static char *
utoa(uint64_t v, char *end)
{
    while (v >= 100) {
        end -= 2;
        cdc_put2(end, (unsigned)(v % 100));
        v /= 100;
    }
    if (v >= 10) {
        end -= 2;
        cdc_put2(end, (unsigned)v);
    } else {
        *--end = (char)('0' + v);
    }
    return end;
}

char *
cdc_put_uint(char *o, uint64_t v, int width)
{
    char tmp[24], *end = tmp + sizeof(tmp), *p = utoa(v, end);
    for (int pad = width - (int)(end - p); pad > 0; pad--)
        *o++ = '0';
    memcpy(o, p, (size_t)(end - p));
    return o + (end - p);
}

static void
write_magnitude(cdc_buf_t *b, bool negative, uint64_t mag)
{
    char tmp[24], *end = tmp + sizeof(tmp);
    char *p = utoa(mag, end);
    if (negative)
        *--p = '-';
    bool quoted = mag > CDC_JSON_MAX_SAFE_INT;
    cdc_buf_reserve(b, (size_t)(end - p) + 2);
    if (quoted)
        b->data[b->len++] = '"';
    memcpy(b->data + b->len, p, (size_t)(end - p));
    b->len += (size_t)(end - p);
    if (quoted)
        b->data[b->len++] = '"';
    b->data[b->len] = '\0';
}

void
cdc_json_write_uint(cdc_buf_t *b, uint64_t v)
{
    write_magnitude(b, false, v);
}

void
cdc_json_write_int(cdc_buf_t *b, int64_t v)
{
    write_magnitude(b, v < 0, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v);
}

/* Writes digits[0..nd) (the first one before the point, 10^exp) the way JavaScript prints
 * numbers: plain notation for 1e-7 <= |v| < 1e21, exponent notation otherwise, no trailing zeros.
 */
static size_t
js_style(bool neg, const char *digits, size_t nd, int exp, char *out)
{
    size_t k = 0;
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    if (neg)
        out[k++] = '-';
    if (exp >= 21 || exp < -7) {
        out[k++] = digits[0];
        if (nd > 1) {
            out[k++] = '.';
            memcpy(out + k, digits + 1, nd - 1);
            k += nd - 1;
        }
        k += (size_t)sprintf(out + k, "e%c%d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    } else if (exp < 0) {
        memcpy(out + k, "0.", 2);
        k += 2;
        for (int z = -1; z > exp; z--)
            out[k++] = '0';
        memcpy(out + k, digits, nd);
        k += nd;
    } else {
        for (int i = 0; i <= exp || (size_t)i < nd; i++) {
            if (i == exp + 1)
                out[k++] = '.';
            out[k++] = (size_t)i < nd ? digits[i] : '0';
        }
    }
    out[k] = '\0';
    return k;
}

size_t
cdc_format_double(char *out, double v, bool is_float32)
{
    /* The shortest digits that read back as v, from double-conversion (it answers in a few hundred
     * instructions what a search over printf precisions with strtod answered in 12k-57k) */
    char digits[18];
    int exp = 0;
    if (v == 0) {
        digits[0] = '0';
        return js_style(signbit(v), digits, 1, 0, out);
    }
    int nd = cdc_shortest_digits(is_float32 ? (double)(float)v : v, is_float32, digits, &exp);
    return js_style(signbit(v), digits, (size_t)nd, exp, out);
}

void
cdc_json_write_double(cdc_buf_t *b, double v, bool is_float32)
{
    if (isnan(v)) {
        cdc_buf_puts(b, "\"NaN\"");
        return;
    }
    if (isinf(v)) {
        cdc_buf_puts(b, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
        return;
    }
    char tmp[40];
    cdc_buf_append(b, tmp, cdc_format_double(tmp, v, is_float32));
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void
cdc_json_write_base64(cdc_buf_t *b, const void *p, size_t n)
{
    const unsigned char *u = p;
    cdc_buf_reserve(b, (n + 2) / 3 * 4 + 2);
    char *o = b->data + b->len;
    *o++ = '"';
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        unsigned v = (unsigned)u[i] << 16 | (unsigned)u[i + 1] << 8 | u[i + 2];
        *o++ = b64[v >> 18];
        *o++ = b64[(v >> 12) & 63];
        *o++ = b64[(v >> 6) & 63];
        *o++ = b64[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned)u[i] << 16 | (i + 1 < n ? (unsigned)u[i + 1] << 8 : 0);
        *o++ = b64[v >> 18];
        *o++ = b64[(v >> 12) & 63];
        *o++ = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
}

static int
b64_val(unsigned char c)
{
    const char *q = c ? strchr(b64, c) : NULL;
    return q ? (int)(q - b64) : -1;
}

bool
cdc_base64_decode(cdc_buf_t *b, const char *p, size_t n)
{
    if (n % 4)
        return false;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)p[i + k];
            if (c == '=' && i + 4 == n && k >= 2) {
                v[k] = 0;
                pad++;
                continue;
            }
            if (pad || (v[k] = b64_val(c)) < 0)
                return false;
        }
        unsigned w =
            (unsigned)v[0] << 18 | (unsigned)v[1] << 12 | (unsigned)v[2] << 6 | (unsigned)v[3];
        char out[3] = {(char)(w >> 16), (char)(w >> 8), (char)w};
        cdc_buf_append(b, out, (size_t)(3 - pad));
    }
    return true;
}

/* ---- reader ------------------------------------------------------------------------------- */

static cdc_err_t
jr_fail(cdc_jr_t *r, const char *what)
{
    return cdc_errstr_set(r->err, CDC_ERR_PARSE, "invalid json at byte %zu: %s", r->pos, what);
}

/* Skips whitespace; events have none, so the first test usually ends it. */
static inline void
jr_ws(cdc_jr_t *r)
{
    if (r->pos < r->n && (unsigned char)r->p[r->pos] > ' ')
        return;
    while (r->pos < r->n) {
        char c = r->p[r->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        r->pos++;
    }
}

void
cdc_jr_init(cdc_jr_t *r, const char *p, size_t n, cdc_errstr_t *err)
{
    r->p = p;
    r->n = n;
    r->pos = 0;
    r->depth = 0;
    r->err = err;
}

cdc_json_type_t
cdc_jr_peek(cdc_jr_t *r)
{
    jr_ws(r);
    if (r->pos >= r->n)
        return CDC_JSON_INVALID;
    switch (r->p[r->pos]) {
    case 'n':
        return CDC_JSON_NULL;
    case 't':
        return CDC_JSON_TRUE;
    case 'f':
        return CDC_JSON_FALSE;
    case '"':
        return CDC_JSON_STRING;
    case '[':
        return CDC_JSON_ARRAY;
    case '{':
        return CDC_JSON_OBJECT;
    default:
        if (r->p[r->pos] == '-' || (r->p[r->pos] >= '0' && r->p[r->pos] <= '9'))
            return CDC_JSON_NUMBER;
        return CDC_JSON_INVALID;
    }
}

static cdc_err_t
jr_open(cdc_jr_t *r, char c)
{
    jr_ws(r);
    if (r->pos >= r->n || r->p[r->pos] != c)
        return jr_fail(r, c == '{' ? "expected an object" : "expected an array");
    if (++r->depth > CDC_JSON_MAX_DEPTH)
        return jr_fail(r, "nesting too deep");
    r->pos++;
    return CDC_OK;
}

/* Shared by objects and arrays: consumes ',' between members or the closing bracket. */
static int
jr_next_member(cdc_jr_t *r, size_t i, char close)
{
    jr_ws(r);
    if (r->pos >= r->n)
        return jr_fail(r, "unexpected end");
    if (r->p[r->pos] == close) {
        r->pos++;
        r->depth--;
        return 0;
    }
    if (i > 0) {
        if (r->p[r->pos] != ',')
            return jr_fail(r, "expected ',' or a closing bracket");
        r->pos++;
        jr_ws(r);
    }
    return 1;
}

cdc_err_t
cdc_jr_obj_begin(cdc_jr_t *r)
{
    return jr_open(r, '{');
}

int
cdc_jr_obj_next(cdc_jr_t *r, size_t i, cdc_arena_t *a, const char **key)
{
    int rc = jr_next_member(r, i, '}');
    if (rc <= 0)
        return rc;
    size_t klen;
    cdc_err_t err = cdc_jr_string(r, a, key, &klen);
    if (err)
        return err;
    jr_ws(r);
    if (r->pos >= r->n || r->p[r->pos] != ':')
        return jr_fail(r, "expected ':'");
    r->pos++;
    return 1;
}

cdc_err_t
cdc_jr_arr_begin(cdc_jr_t *r)
{
    return jr_open(r, '[');
}

int
cdc_jr_arr_next(cdc_jr_t *r, size_t i)
{
    return jr_next_member(r, i, ']');
}

static int
hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static size_t
put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 63));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | ((cp >> 6) & 63));
        o[2] = (char)(0x80 | (cp & 63));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 63));
    o[2] = (char)(0x80 | ((cp >> 6) & 63));
    o[3] = (char)(0x80 | (cp & 63));
    return 4;
}

/* Decodes the \u escape at r->p[pos] (pointing at 'u'), joining surrogate pairs. */
static cdc_err_t
jr_unicode_escape(cdc_jr_t *r, size_t *pos, char *o, size_t *olen)
{
    if (*pos + 5 > r->n || hex4(r->p + *pos + 1) < 0)
        return jr_fail(r, "bad \\u escape");
    unsigned cp = (unsigned)hex4(r->p + *pos + 1);
    *pos += 5;
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return jr_fail(r, "lone low surrogate");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        int lo = (*pos + 6 <= r->n && r->p[*pos] == '\\' && r->p[*pos + 1] == 'u')
                     ? hex4(r->p + *pos + 2)
                     : -1;
        if (lo < 0xDC00 || lo > 0xDFFF)
            return jr_fail(r, "lone high surrogate");
        cp = 0x10000 + ((cp - 0xD800) << 10) + ((unsigned)lo - 0xDC00);
        *pos += 6;
    }
    *olen = put_utf8(o, cp);
    return CDC_OK;
}

static char
simple_unescape(char c)
{
    switch (c) {
    case '"':
        return '"';
    case '\\':
        return '\\';
    case '/':
        return '/';
    case 'b':
        return '\b';
    case 'f':
        return '\f';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    default:
        return 0;
    }
}

cdc_err_t
cdc_jr_string(cdc_jr_t *r, cdc_arena_t *a, const char **s, size_t *n)
{
    jr_ws(r);
    if (r->pos >= r->n || r->p[r->pos] != '"')
        return jr_fail(r, "expected a string");
    size_t start = ++r->pos, end = start + cdc_json_plain_span(r->p + start, r->n - start);
    if (end < r->n && r->p[end] == '"') { /* no escape, control or non-ASCII byte: as it is */
        char *out = a ? cdc_arena_alloc(a, end - start + 1) : NULL;
        if (out) {
            memcpy(out, r->p + start, end - start);
            out[end - start] = '\0';
        }
        r->pos = end + 1;
        if (s)
            *s = out;
        if (n)
            *n = end - start;
        return CDC_OK;
    }
    end = start;
    for (;;) { /* the closing quote: one not preceded by an odd run of backslashes */
        const char *q = memchr(r->p + end, '"', r->n - end);
        if (!q)
            return jr_fail(r, "unterminated string");
        end = (size_t)(q - r->p);
        size_t bs = 0;
        while (end - bs > start && r->p[end - bs - 1] == '\\')
            bs++;
        if (!(bs & 1))
            break;
        end++;
    }
    /* Unescaped output is never longer than the escaped input. */
    char *out = a ? cdc_arena_alloc(a, end - start + 1) : NULL;
    size_t o = 0;
    const unsigned char *u = (const unsigned char *)r->p;
    for (size_t i = start; i < end;) {
        size_t j = i + cdc_json_plain_span(r->p + i, end - i); /* copied at once */
        if (j > i) {
            if (out)
                memcpy(out + o, r->p + i, j - i);
            o += j - i;
            i = j;
            continue;
        }
        if (u[i] < 0x20) {
            r->pos = i;
            return jr_fail(r, "control character in string");
        }
        if (u[i] == '\\') {
            char tmp[4], c = simple_unescape(r->p[i + 1]);
            size_t len = 1;
            r->pos = i;
            if (c) {
                tmp[0] = c;
                i += 2;
            } else if (r->p[i + 1] == 'u') {
                i++;
                cdc_err_t err = jr_unicode_escape(r, &i, tmp, &len);
                if (err)
                    return err;
            } else {
                return jr_fail(r, "bad escape");
            }
            if (out)
                memcpy(out + o, tmp, len);
            o += len;
            continue;
        }
        size_t len = utf8_seq_len(u + i, end - i);
        if (!len) {
            r->pos = i;
            return cdc_errstr_set(r->err, CDC_ERR_UTF8, "invalid utf-8 in json string at byte %zu",
                                  i);
        }
        if (out)
            memcpy(out + o, r->p + i, len);
        o += len;
        i += len;
    }
    if (out)
        out[o] = '\0';
    r->pos = end + 1;
    if (s)
        *s = out;
    if (n)
        *n = o;
    return CDC_OK;
}

static size_t
digits(const char *p, size_t pos, size_t n)
{
    size_t k = pos;
    while (k < n && p[k] >= '0' && p[k] <= '9')
        k++;
    return k - pos;
}

cdc_err_t
cdc_jr_number(cdc_jr_t *r, const char **s, size_t *n)
{
    jr_ws(r);
    size_t start = r->pos, k = r->pos;
    if (k < r->n && r->p[k] == '-')
        k++;
    size_t d = digits(r->p, k, r->n);
    if (d == 0 || (d > 1 && r->p[k] == '0'))
        return jr_fail(r, "bad number");
    k += d;
    if (k < r->n && r->p[k] == '.') {
        d = digits(r->p, ++k, r->n);
        if (!d)
            return jr_fail(r, "bad number fraction");
        k += d;
    }
    if (k < r->n && (r->p[k] == 'e' || r->p[k] == 'E')) {
        k++;
        if (k < r->n && (r->p[k] == '+' || r->p[k] == '-'))
            k++;
        d = digits(r->p, k, r->n);
        if (!d)
            return jr_fail(r, "bad number exponent");
        k += d;
    }
    r->pos = k;
    *s = r->p + start;
    *n = k - start;
    return CDC_OK;
}

static cdc_err_t
jr_literal(cdc_jr_t *r, const char *lit)
{
    jr_ws(r);
    size_t len = strlen(lit);
    if (r->n - r->pos < len || memcmp(r->p + r->pos, lit, len) != 0)
        return jr_fail(r, "bad literal");
    r->pos += len;
    return CDC_OK;
}

cdc_err_t
cdc_jr_bool(cdc_jr_t *r, bool *v)
{
    cdc_json_type_t t = cdc_jr_peek(r);
    if (t != CDC_JSON_TRUE && t != CDC_JSON_FALSE)
        return jr_fail(r, "expected true or false");
    *v = t == CDC_JSON_TRUE;
    return jr_literal(r, *v ? "true" : "false");
}

cdc_err_t
cdc_jr_null(cdc_jr_t *r)
{
    return jr_literal(r, "null");
}

static cdc_err_t
jr_skip_value(cdc_jr_t *r)
{
    const char *s;
    size_t n;
    int rc;
    switch (cdc_jr_peek(r)) {
    case CDC_JSON_NULL:
        return jr_literal(r, "null");
    case CDC_JSON_TRUE:
        return jr_literal(r, "true");
    case CDC_JSON_FALSE:
        return jr_literal(r, "false");
    case CDC_JSON_NUMBER:
        return cdc_jr_number(r, &s, &n);
    case CDC_JSON_STRING:
        return cdc_jr_string(r, NULL, NULL, NULL);
    case CDC_JSON_ARRAY:
        if ((rc = cdc_jr_arr_begin(r)))
            return rc;
        for (size_t i = 0; (rc = cdc_jr_arr_next(r, i)) > 0; i++)
            if ((rc = jr_skip_value(r)))
                return rc;
        return rc;
    case CDC_JSON_OBJECT:
        if ((rc = cdc_jr_obj_begin(r)))
            return rc;
        for (size_t i = 0; (rc = cdc_jr_obj_next(r, i, NULL, NULL)) > 0; i++)
            if ((rc = jr_skip_value(r)))
                return rc;
        return rc;
    default:
        return jr_fail(r, "expected a value");
    }
}

cdc_err_t
cdc_jr_skip(cdc_jr_t *r, const char **span, size_t *n)
{
    jr_ws(r);
    size_t start = r->pos;
    cdc_err_t err = jr_skip_value(r);
    if (err)
        return err;
    if (span)
        *span = r->p + start;
    if (n)
        *n = r->pos - start;
    return CDC_OK;
}

cdc_err_t
cdc_jr_end(cdc_jr_t *r)
{
    jr_ws(r);
    return r->pos == r->n ? CDC_OK : jr_fail(r, "trailing data");
}

bool
cdc_json_valid(const char *p, size_t n)
{
    cdc_jr_t r;
    cdc_jr_init(&r, p, n, NULL);
    return cdc_jr_skip(&r, NULL, NULL) == CDC_OK && cdc_jr_end(&r) == CDC_OK;
}

/*
 * JSON writer and pull reader for the hot paths (events, keys, logs).
 *
 * jansson builds a tree with one allocation per value, prints floats with 17 digits and refuses
 * integers beyond 64 bits; events need shortest round-trip floats, one reused buffer per event, and
 * embedded JSON columns (json/jsonb) passed through byte for byte. Small cold documents (offset
 * records, schema records, `--json` output) use jansson.
 */
#ifndef CDC_JSON_H
#define CDC_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdc/buf.h"
#include "cdc/err.h"

/* Largest integer magnitude written as a JSON number; larger ones are strings. */
#define CDC_JSON_MAX_SAFE_INT 9007199254740992ULL /* 2^53 */

/* The length of p[0..n)'s leading run of ASCII bytes that a JSON string holds as they are: no
 * control byte (< 0x20), '"' or '\\'. */
size_t cdc_json_plain_span(const char *p, size_t n);
/* The length of p[0..n)'s leading run of ASCII bytes (n when it is all ASCII). */
size_t cdc_ascii_span(const char *p, size_t n);
/* Returns true when p[0..n) is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF);
 * otherwise stores the offset of the first bad byte in *bad_at (may be NULL). */
bool cdc_utf8_valid(const char *p, size_t n, size_t *bad_at);

/* Writes p[0..n) as a quoted JSON string. NUL and control bytes are escaped (\u0000).
 * Returns CDC_ERR_UTF8 (and *bad_at) when the input is not UTF-8; b is then partly written. */
cdc_err_t cdc_json_write_string(cdc_buf_t *b, const char *p, size_t n, size_t *bad_at);
/* Same, replacing invalid bytes with U+FFFD; for logs and error messages. */
void cdc_json_write_string_lossy(cdc_buf_t *b, const char *p, size_t n);
/* Integers: a number when |v| <= 2^53, else a quoted decimal string. */
void cdc_json_write_int(cdc_buf_t *b, int64_t v);

/* "00" "01" ... "99": decimal digits two at a time, for the writers of numbers and times. */
extern const char cdc_digits2[201];

/* Writes v in decimal at o, zero-padded to at least width digits (no NUL); returns the end. */
char *cdc_put_uint(char *o, uint64_t v, int width);
/* The reverse: p[0..n), decimal digits only (no sign), into *out when at most max (>= 9); false
 * when empty, not all digits or above max. Integers read in place, without a copy and strtoull. */
static inline bool
cdc_parse_uint(const char *p, size_t n, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (!n)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(p[i] - '0');
        if (d > 9 || v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* Writes v (0..99) as two digits at o; returns the end. */
static inline char *
cdc_put2(char *o, unsigned v)
{
    memcpy(o, cdc_digits2 + 2 * v, 2);
    return o + 2;
}
void cdc_json_write_uint(cdc_buf_t *b, uint64_t v);
/* Shortest text that reads back to the same double (or float when is_float32); NaN and the
 * infinities as the strings "NaN", "Infinity", "-Infinity". */
void cdc_json_write_double(cdc_buf_t *b, double v, bool is_float32);
/* Writes "<base64 of p[0..n)>" (standard alphabet, padded, no line breaks). */
void cdc_json_write_base64(cdc_buf_t *b, const void *p, size_t n);
/* Shortest round-trip decimal text of v into out (>= 32 bytes); returns its length. */
size_t cdc_format_double(char *out, double v, bool is_float32);
/* Decodes standard base64 into b; returns false on bad input. */
bool cdc_base64_decode(cdc_buf_t *b, const char *p, size_t n);

typedef enum {
    CDC_JSON_INVALID = 0,
    CDC_JSON_NULL,
    CDC_JSON_FALSE,
    CDC_JSON_TRUE,
    CDC_JSON_NUMBER,
    CDC_JSON_STRING,
    CDC_JSON_ARRAY,
    CDC_JSON_OBJECT,
} cdc_json_type_t;

/* Pull reader over one JSON text. Strict RFC 8259; nesting limited to CDC_JSON_MAX_DEPTH. */
#define CDC_JSON_MAX_DEPTH 256
typedef struct {
    const char *p;
    size_t n;
    size_t pos;
    int depth;
    cdc_errstr_t *err; /* where errors are described; may be NULL */
} cdc_jr_t;

void cdc_jr_init(cdc_jr_t *r, const char *p, size_t n, cdc_errstr_t *err);
/* Type of the next value (skipping whitespace) without consuming it. */
cdc_json_type_t cdc_jr_peek(cdc_jr_t *r);
/* Objects: begin, then call next with i = 0, 1, 2 ... Returns 1 with a key (NUL-terminated, in
 * the arena) and the reader placed on its value, 0 at the closing brace, or a negative cdc_err_t.
 */
cdc_err_t cdc_jr_obj_begin(cdc_jr_t *r);
int cdc_jr_obj_next(cdc_jr_t *r, size_t i, cdc_arena_t *a, const char **key);
/* Arrays: as objects, without keys. */
cdc_err_t cdc_jr_arr_begin(cdc_jr_t *r);
int cdc_jr_arr_next(cdc_jr_t *r, size_t i);
/* Scalars. Strings are unescaped into the arena (NUL-terminated; *n excludes the NUL and may
 * count embedded NULs). Numbers return their exact text. */
cdc_err_t cdc_jr_string(cdc_jr_t *r, cdc_arena_t *a, const char **s, size_t *n);
cdc_err_t cdc_jr_number(cdc_jr_t *r, const char **s, size_t *n);
cdc_err_t cdc_jr_bool(cdc_jr_t *r, bool *v);
cdc_err_t cdc_jr_null(cdc_jr_t *r);
/* Validates and consumes any value; returns its exact text span. */
cdc_err_t cdc_jr_skip(cdc_jr_t *r, const char **span, size_t *n);
/* Succeeds when only whitespace remains. */
cdc_err_t cdc_jr_end(cdc_jr_t *r);
/* Whether p[0..n) is exactly one valid JSON value (surrounding whitespace allowed). */
bool cdc_json_valid(const char *p, size_t n);

#endif

/*
 * libFuzzer target: the hand-written JSON reader and writer (agent/base/json.c), with oracles:
 * - the pull reader walking the input agrees with cdc_json_valid and with jansson on whether it
 *   is one valid JSON text (jansson's depth and number limits aside: only inputs it has no
 *   reason of its own to refuse are compared);
 * - a valid text written out again from what the reader returned (strings through the writer)
 *   reads back to the same text (the writer's output is the reader's fixed point);
 * - any bytes written as a JSON string read back to the same bytes, and invalid UTF-8 is refused
 *   where it starts.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/json.h"
#include "fuzz_common.h"

/* Walks one value, writing it compactly into out; false when the reader refused it. */
static bool
walk(cdc_jr_t *r, cdc_arena_t *a, cdc_buf_t *out)
{
    const char *s;
    size_t n;
    bool v;
    switch (cdc_jr_peek(r)) {
    case CDC_JSON_NULL:
        if (cdc_jr_null(r))
            return false;
        cdc_buf_puts(out, "null");
        return true;
    case CDC_JSON_FALSE:
    case CDC_JSON_TRUE:
        if (cdc_jr_bool(r, &v))
            return false;
        cdc_buf_puts(out, v ? "true" : "false");
        return true;
    case CDC_JSON_NUMBER:
        if (cdc_jr_number(r, &s, &n))
            return false;
        cdc_buf_append(out, s, n);
        return true;
    case CDC_JSON_STRING:
        return !cdc_jr_string(r, a, &s, &n) && !cdc_json_write_string(out, s, n, NULL);
    case CDC_JSON_ARRAY: {
        if (cdc_jr_arr_begin(r))
            return false;
        cdc_buf_puts(out, "[");
        for (size_t i = 0;; i++) {
            int more = cdc_jr_arr_next(r, i);
            if (more < 0)
                return false;
            if (!more)
                break;
            if (i)
                cdc_buf_puts(out, ",");
            if (!walk(r, a, out))
                return false;
        }
        cdc_buf_puts(out, "]");
        return true;
    }
    case CDC_JSON_OBJECT: {
        if (cdc_jr_obj_begin(r))
            return false;
        cdc_buf_puts(out, "{");
        for (size_t i = 0;; i++) {
            const char *key;
            int more = cdc_jr_obj_next(r, i, a, &key);
            if (more < 0)
                return false;
            if (!more)
                break;
            if (i)
                cdc_buf_puts(out, ",");
            if (cdc_json_write_string(out, key, strlen(key), NULL))
                return false;
            cdc_buf_puts(out, ":");
            if (!walk(r, a, out))
                return false;
        }
        cdc_buf_puts(out, "}");
        return true;
    }
    default:
        return false;
    }
}

static bool
read_all(const char *p, size_t n, cdc_arena_t *a, cdc_buf_t *out)
{
    cdc_jr_t r;
    cdc_jr_init(&r, p, n, NULL);
    return walk(&r, a, out) && !cdc_jr_end(&r);
}

/* Whether jansson could refuse p for a reason of its own: nesting past 200, a number of 16
 * digits or more or with an exponent (it holds integers in 64 bits and refuses a real that
 * overflows a double), an escaped NUL (refused in object keys). */
static bool
jansson_limits(const char *p, size_t n)
{
    int depth = 0, max = 0, digits = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '[' || c == '{')
            max = ++depth > max ? depth : max;
        else if (c == ']' || c == '}')
            depth--;
        digits = c >= '0' && c <= '9' ? digits + 1 : 0;
        if (digits >= 16 || ((c == 'e' || c == 'E') && i && p[i - 1] >= '0' && p[i - 1] <= '9'))
            return true;
        if (c == '\\' && i + 5 < n && !memcmp(p + i + 1, "u0000", 5))
            return true;
    }
    return max > 200;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *p = fuzz_copy(data, size);
    cdc_arena_t a;
    cdc_arena_init(&a);
    cdc_buf_t once, twice;
    cdc_buf_init(&once);
    cdc_buf_init(&twice);
    bool walked = read_all(p, size, &a, &once);
    if (walked != cdc_json_valid(p, size))
        abort(); /* the walk and the validator disagree */
    if (!jansson_limits(p, size) && !memchr(p, 0, size)) {
        json_error_t jerr;
        json_t *j = json_loadb(p, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        if ((j != NULL) != walked)
            abort(); /* jansson and the reader disagree */
        json_decref(j);
    }
    if (walked) {
        cdc_arena_reset(&a);
        if (!read_all(once.data, once.len, &a, &twice) || once.len != twice.len ||
            memcmp(once.data, twice.data, once.len))
            abort(); /* what was written does not read back the same */
    }
    /* any bytes as a string */
    cdc_buf_t s;
    cdc_buf_init(&s);
    size_t bad = 0;
    bool utf8 = cdc_utf8_valid(p, size, &bad);
    size_t bad_w = 0;
    if ((cdc_json_write_string(&s, p, size, &bad_w) == CDC_OK) != utf8 || (!utf8 && bad != bad_w))
        abort(); /* the writer and the UTF-8 check disagree */
    if (utf8) {
        cdc_jr_t r;
        const char *back;
        size_t n;
        cdc_jr_init(&r, s.data, s.len, NULL);
        if (cdc_jr_string(&r, &a, &back, &n) || n != size || memcmp(back, p, size))
            abort(); /* a string does not read back as its bytes */
    }
    cdc_buf_deinit(&s);
    cdc_buf_deinit(&once);
    cdc_buf_deinit(&twice);
    cdc_arena_deinit(&a);
    free(p);
    return 0;
}

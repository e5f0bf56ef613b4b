/* JSON writer and pull reader: escapes, UTF-8 validation, numbers, base64, strictness. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "cdc/json.h"

static void
check_json_string(const char *in, size_t n, const char *want)
{
    cdc_buf_t b;
    cdc_buf_init(&b);
    assert_int_equal(cdc_json_write_string(&b, in, n, NULL), CDC_OK);
    assert_string_equal(b.data, want);
    cdc_buf_deinit(&b);
}

static void
test_write_string_escapes(void **state)
{
    check_json_string("", 0, "\"\"");
    check_json_string("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
    check_json_string("\n\t\r\b\f\x01\x1f", 7, "\"\\n\\t\\r\\b\\f\\u0001\\u001f\"");
    check_json_string("a\0b", 3, "\"a\\u0000b\"");
    check_json_string("\xF0\x9F\x98\x80", 4, "\"\xF0\x9F\x98\x80\""); /* 4-byte UTF-8 kept as is */
    check_json_string("\xC3\xA9t\xC3\xA9", 5, "\"\xC3\xA9t\xC3\xA9\"");
}

/* The writer skips eight plain bytes at a time: every byte value, at every place in and across
 * those words, must come out as a byte-at-a-time escaper writes it. */
static void
reference_escape(cdc_buf_t *b, const unsigned char *p, size_t n)
{
    cdc_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        const char *e = c == '"'    ? "\\\""
                        : c == '\\' ? "\\\\"
                        : c == '\n' ? "\\n"
                        : c == '\r' ? "\\r"
                        : c == '\t' ? "\\t"
                        : c == '\b' ? "\\b"
                        : c == '\f' ? "\\f"
                                    : NULL;
        char u[7];
        if (!e && c < 0x20) {
            snprintf(u, sizeof(u), "\\u%04x", c);
            e = u;
        }
        if (e)
            cdc_buf_puts(b, e);
        else
            cdc_buf_putc(b, (char)c);
    }
    cdc_buf_putc(b, '"');
}

static void
test_write_string_every_byte_everywhere(void **state)
{
    unsigned char in[48];
    cdc_buf_t got, want;
    cdc_buf_init(&got);
    cdc_buf_init(&want);
    for (size_t len = 1; len <= 40; len++) { /* across 8- and 16-byte blocks */
        for (size_t at = 0; at < len; at++) {
            for (unsigned v = 0; v < 0x80; v++) {
                memset(in, 'a' + (int)(len % 26), sizeof(in));
                in[at] = (unsigned char)v;
                cdc_buf_reset(&got);
                cdc_buf_reset(&want);
                assert_int_equal(cdc_json_write_string(&got, (const char *)in, len, NULL), CDC_OK);
                reference_escape(&want, in, len);
                assert_string_equal(got.data, want.data);
                assert_true(cdc_utf8_valid((const char *)in, len, NULL));
                assert_int_equal(cdc_ascii_span((const char *)in, len), len);
            }
            for (unsigned v = 0x80; v < 0x100; v++) { /* a lone byte of 0x80 and above: not UTF-8 */
                memset(in, 'z', sizeof(in));
                in[at] = (unsigned char)v;
                size_t bad = 99;
                cdc_buf_reset(&got);
                assert_int_equal(cdc_json_write_string(&got, (const char *)in, len, &bad),
                                 CDC_ERR_UTF8);
                assert_int_equal(bad, at);
                bad = 99;
                assert_false(cdc_utf8_valid((const char *)in, len, &bad));
                assert_int_equal(bad, at);
                assert_int_equal(cdc_ascii_span((const char *)in, len), at);
            }
            /* a two-byte sequence (U+00E9) starting there, cut at the end when at is last */
            memset(in, 'q', sizeof(in));
            in[at] = 0xC3;
            in[at + 1] = 0xA9;
            cdc_buf_reset(&got);
            assert_int_equal(cdc_json_write_string(&got, (const char *)in, len, NULL),
                             at + 1 < len ? CDC_OK : CDC_ERR_UTF8);
            assert_int_equal(cdc_utf8_valid((const char *)in, len, NULL), at + 1 < len);
        }
    }
    cdc_buf_deinit(&got);
    cdc_buf_deinit(&want);
}

static void
test_write_string_rejects_invalid_utf8(void **state)
{
    static const char *const bad[] = {"\xC3",   "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80",
                                      "ok\xFF", "\xE2\x82"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cdc_buf_t b;
        size_t at = 99;
        cdc_buf_init(&b);
        assert_int_equal(cdc_json_write_string(&b, bad[i], strlen(bad[i]), &at), CDC_ERR_UTF8);
        assert_true(at < strlen(bad[i]));
        cdc_buf_deinit(&b);
    }
    cdc_buf_t b;
    cdc_buf_init(&b);
    cdc_json_write_string_lossy(&b, "a\xFF", 2);
    assert_string_equal(b.data, "\"a\xEF\xBF\xBD\"");
    cdc_buf_deinit(&b);
}

static void
check_json_double(double v, bool f32, const char *want)
{
    cdc_buf_t b;
    cdc_buf_init(&b);
    cdc_json_write_double(&b, v, f32);
    assert_string_equal(b.data, want);
    cdc_buf_deinit(&b);
}

static void
test_write_double_shortest(void **state)
{
    check_json_double(0.1 + 0.2, false, "0.30000000000000004");
    check_json_double(0.1, false, "0.1");
    check_json_double(0.1f, true, "0.1");
    check_json_double(-0.0, false, "-0");
    check_json_double(1e300, false, "1e+300");
    check_json_double(5e-324, false, "5e-324");
    check_json_double(NAN, false, "\"NaN\"");
    check_json_double(INFINITY, false, "\"Infinity\"");
    check_json_double(-INFINITY, true, "\"-Infinity\"");
    check_json_double(100.0, false, "100");
}

/* Random bit patterns: the text always reads back to the same double. */
static void
test_format_double_round_trips(void **state)
{
    srand(11);
    for (int i = 0; i < 200000; i++) {
        uint64_t bits = (uint64_t)rand() << 42 ^ (uint64_t)rand() << 21 ^ (uint64_t)rand();
        double v;
        memcpy(&v, &bits, sizeof(v));
        if (isnan(v) || isinf(v))
            continue;
        char out[40];
        cdc_format_double(out, v, false);
        assert_true(strtod(out, NULL) == v);
        assert_true(cdc_json_valid(out, strlen(out)));
        float f = (float)v;
        if (isinf(f))
            continue;
        cdc_format_double(out, f, true);
        assert_true(strtof(out, NULL) == f);
    }
}

/* The significant digits of a number's text (no sign, point, exponent, leading or trailing zeros).
 */
static void
sig_digits(const char *t, char *out)
{
    size_t n = 0;
    for (; *t && *t != 'e'; t++)
        if (*t >= '0' && *t <= '9' && (n || *t != '0'))
            out[n++] = *t;
    while (n > 1 && out[n - 1] == '0')
        n--;
    out[n] = '\0';
}

/* The search for the shortest digits starts at DBL_DIG (FLT_DIG): it must find what the search
 * from one digit up finds, the same digits, for typed decimals and any bit pattern. */
static void
test_format_double_is_shortest(void **state)
{
    srand(7);
    for (int i = 0; i < 200000; i++) {
        double v;
        if (i % 4 == 0) {
            v = (double)(rand() % 100000) / (double)(1 + rand() % 1000);
        } else if (i % 4 == 1) {
            v = (double)(rand() % 10000) * pow(10, rand() % 40 - 20);
        } else {
            uint64_t bits = (uint64_t)rand() << 42 ^ (uint64_t)rand() << 21 ^ (uint64_t)rand();
            memcpy(&v, &bits, sizeof(v));
        }
        for (int f32 = 0; f32 < 2; f32++) {
            double x = f32 ? (double)(float)v : v;
            if (!isfinite(x) || x == 0)
                continue;
            char got[40], sci[40], a[40], b[40];
            cdc_format_double(got, x, f32);
            for (int k = 1; k <= (f32 ? 9 : 17); k++) {
                snprintf(sci, sizeof(sci), "%.*e", k - 1, x);
                if (f32 ? strtof(sci, NULL) == (float)x : strtod(sci, NULL) == x)
                    break;
            }
            sig_digits(got, a);
            sig_digits(sci, b);
            assert_string_equal(a, b);
            assert_true(f32 ? strtof(got, NULL) == (float)x : strtod(got, NULL) == x);
        }
    }
}

static void
test_write_integers(void **state)
{
    cdc_buf_t b;
    cdc_buf_init(&b);
    cdc_json_write_int(&b, 9007199254740992LL);
    cdc_buf_putc(&b, ' ');
    cdc_json_write_int(&b, 9007199254740993LL);
    cdc_buf_putc(&b, ' ');
    cdc_json_write_int(&b, -9007199254740993LL);
    cdc_buf_putc(&b, ' ');
    cdc_json_write_uint(&b, 18446744073709551615ULL);
    cdc_buf_putc(&b, ' ');
    cdc_json_write_int(&b, INT64_MIN);
    assert_string_equal(b.data, "9007199254740992 \"9007199254740993\" \"-9007199254740993\" "
                                "\"18446744073709551615\" \"-9223372036854775808\"");
    /* every length of number, each side of every power of ten, as printf spells it */
    for (uint64_t p = 1, i = 0; i < 16; i++, p *= 10) {
        for (int64_t d = -1; d <= 1; d++) {
            int64_t v = (int64_t)p + d;
            char want[64];
            snprintf(want, sizeof(want), "%lld %lld", (long long)v, -(long long)v);
            cdc_buf_reset(&b);
            cdc_json_write_int(&b, v);
            cdc_buf_putc(&b, ' ');
            cdc_json_write_int(&b, -v);
            assert_string_equal(b.data, want);
        }
    }
    cdc_buf_deinit(&b);
}

static void
test_base64_round_trip(void **state)
{
    static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const out[] = {"\"\"",         "\"Zg==\"",     "\"Zm8=\"",    "\"Zm9v\"",
                                      "\"Zm9vYg==\"", "\"Zm9vYmE=\"", "\"Zm9vYmFy\""};
    for (int i = 0; i < 7; i++) {
        cdc_buf_t b, d;
        cdc_buf_init(&b);
        cdc_buf_init(&d);
        cdc_json_write_base64(&b, in[i], strlen(in[i]));
        assert_string_equal(b.data, out[i]);
        assert_true(cdc_base64_decode(&d, b.data + 1, b.len - 2));
        assert_int_equal(d.len, strlen(in[i]));
        if (d.len)
            assert_memory_equal(d.data, in[i], d.len);
        cdc_buf_deinit(&b);
        cdc_buf_deinit(&d);
    }
    cdc_buf_t d;
    cdc_buf_init(&d);
    assert_false(cdc_base64_decode(&d, "Zg=", 3));
    assert_false(cdc_base64_decode(&d, "Z=g=", 4));
    cdc_buf_deinit(&d);
}

static void
test_reader_valid_and_invalid(void **state)
{
    static const char *const good[] = {"0",
                                       "-0",
                                       "1.5e-3",
                                       "[]",
                                       "{}",
                                       "\"\\u00e9\\ud83d\\ude00\"",
                                       "{\"a\":[1,{\"b\":null}],\"c\":true}",
                                       " [ 1 , 2 ] "};
    static const char *const bad[] = {"",           "01",      "1.",          "[1,]", "{\"a\"}",
                                      "{\"a\":1,}", "\"\\x\"", "\"\\ud83d\"", "nul",  "[1] 2",
                                      "\"a\nb\"",   "{'a':1}", "\"\xFF\""};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_true(cdc_json_valid(good[i], strlen(good[i])));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(cdc_json_valid(bad[i], strlen(bad[i])));
}

static void
test_reader_depth_limit(void **state)
{
    char deep[1200];
    memset(deep, '[', 600);
    memset(deep + 600, ']', 600);
    assert_false(cdc_json_valid(deep, sizeof(deep)));
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    assert_true(cdc_json_valid(deep, 200));
}

static void
test_reader_string_unescape(void **state)
{
    const char *in = "\"a\\u0000b\\ud83d\\ude00\\n\"";
    cdc_jr_t r;
    cdc_arena_t a;
    const char *s;
    size_t n;
    cdc_arena_init(&a);
    cdc_jr_init(&r, in, strlen(in), NULL);
    assert_int_equal(cdc_jr_string(&r, &a, &s, &n), CDC_OK);
    assert_int_equal(n, 8);
    assert_memory_equal(s, "a\0b\xF0\x9F\x98\x80\n", 8);
    cdc_arena_deinit(&a);
}

/* The closing quote is found after escaped quotes and after runs of escaped backslashes. */
static void
test_reader_string_quotes_and_backslashes(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"\"a\\\"b\" ,", "a\"b"},   /* "a\"b" */
        {"\"x\\\\\" ,", "x\\"},     /* "x\\" */
        {"\"\\\\\\\"\" ,", "\\\""}, /* "\\\"" */
        {"\"\" ,", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cdc_jr_t r;
        cdc_arena_t a;
        const char *s;
        size_t n;
        cdc_arena_init(&a);
        cdc_jr_init(&r, cases[i].in, strlen(cases[i].in), NULL);
        assert_int_equal(cdc_jr_string(&r, &a, &s, &n), CDC_OK);
        assert_string_equal(s, cases[i].out);
        assert_int_equal(n, strlen(cases[i].out));
        cdc_arena_deinit(&a);
    }
    const char *open = "\"abc\\\"";
    cdc_jr_t r;
    cdc_errstr_t es = {{0}};
    cdc_jr_init(&r, open, strlen(open), &es);
    assert_int_not_equal(cdc_jr_string(&r, NULL, NULL, NULL), CDC_OK);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_string_escapes),
        cmocka_unit_test(test_write_string_every_byte_everywhere),
        cmocka_unit_test(test_write_string_rejects_invalid_utf8),
        cmocka_unit_test(test_write_double_shortest),
        cmocka_unit_test(test_format_double_round_trips),
        cmocka_unit_test(test_format_double_is_shortest),
        cmocka_unit_test(test_write_integers),
        cmocka_unit_test(test_base64_round_trip),
        cmocka_unit_test(test_reader_valid_and_invalid),
        cmocka_unit_test(test_reader_depth_limit),
        cmocka_unit_test(test_reader_string_unescape),
        cmocka_unit_test(test_reader_string_quotes_and_backslashes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

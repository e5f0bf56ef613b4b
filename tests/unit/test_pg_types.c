/* PostgreSQL text forms -> canonical values: every mapped type, edge values, refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "pg_types.h"

/* Converts text as oid and writes the JSON of the result into out (empty on failure). */
static cdc_err_t
convert(uint32_t oid, const char *text, cdc_buf_t *out, cdc_errstr_t *es)
{
    cdc_pg_type_t t;
    assert_true(cdc_pg_type_builtin(oid, &t));
    cdc_arena_t a;
    cdc_value_t v;
    cdc_arena_init(&a);
    cdc_buf_init(out);
    cdc_err_t err = cdc_pg_value_from_text(&t, text, strlen(text), &a, &v, es);
    if (!err)
        err = cdc_value_write_json(out, &v, es);
    cdc_arena_deinit(&a);
    return err;
}

static void
expect(uint32_t oid, const char *text, const char *json)
{
    cdc_buf_t b;
    cdc_errstr_t es = {{0}};
    if (convert(oid, text, &b, &es))
        fail_msg("oid %u '%s': %s", oid, text, es.msg);
    if (strcmp(b.data, json))
        fail_msg("oid %u '%s': want %s, got %s", oid, text, json, b.data);
    cdc_buf_deinit(&b);
}

static void
refuse(uint32_t oid, const char *text)
{
    cdc_buf_t b;
    cdc_errstr_t es = {{0}};
    if (convert(oid, text, &b, &es) == CDC_OK)
        fail_msg("oid %u accepted '%s'", oid, text);
    assert_non_null(strstr(es.msg, "not a valid"));
    cdc_buf_deinit(&b);
}

static void
test_numbers(void **state)
{
    expect(CDC_PG_INT2, "-32768", "-32768");
    expect(CDC_PG_INT4, "2147483647", "2147483647");
    expect(CDC_PG_INT8, "9007199254740993", "\"9007199254740993\"");
    expect(CDC_PG_INT8, "-9223372036854775808", "\"-9223372036854775808\"");
    expect(CDC_PG_OID, "4294967295", "4294967295");
    expect(CDC_PG_NUMERIC, "1234.5000", "\"1234.5000\"");
    expect(CDC_PG_NUMERIC, "-0.000000000000000000000000000001",
           "\"-0.000000000000000000000000000001\"");
    expect(CDC_PG_NUMERIC, "Infinity", "\"Infinity\"");
    expect(CDC_PG_FLOAT8, "1e+308", "1e+308");
    expect(CDC_PG_FLOAT8, "-0", "-0");
    expect(CDC_PG_FLOAT8, "NaN", "\"NaN\"");
    expect(CDC_PG_FLOAT8, "-Infinity", "\"-Infinity\"");
    expect(CDC_PG_FLOAT4, "3.4028235e+38", "3.4028235e+38");
    expect(CDC_PG_BOOL, "f", "false");
    refuse(CDC_PG_INT4, "12x");
    refuse(CDC_PG_INT8, "99999999999999999999");
    expect(CDC_PG_INT8, "9223372036854775807", "\"9223372036854775807\"");
    expect(CDC_PG_INT8, "-0", "0");
    expect(CDC_PG_INT4, "-7", "-7");
    refuse(CDC_PG_INT8, "9223372036854775808");
    refuse(CDC_PG_INT8, "-9223372036854775809");
    refuse(CDC_PG_INT8, "-");
    refuse(CDC_PG_INT8, "18446744073709551616");
    refuse(CDC_PG_OID, "-1");
    refuse(CDC_PG_INT4, "");
    refuse(CDC_PG_NUMERIC, "1e5");
    refuse(CDC_PG_BOOL, "yes");
}

static void
test_dates_and_times(void **state)
{
    expect(CDC_PG_DATE, "2026-11-25", "\"2026-11-25\"");
    expect(CDC_PG_DATE, "0044-03-15 BC", "\"-0043-03-15\"");
    expect(CDC_PG_DATE, "0001-01-01 BC", "\"0000-01-01\"");
    expect(CDC_PG_DATE, "294276-12-31", "\"+294276-12-31\"");
    expect(CDC_PG_DATE, "infinity", "\"infinity\"");
    expect(CDC_PG_DATE, "-infinity", "\"-infinity\"");
    expect(CDC_PG_TIMESTAMP, "2026-11-25 12:00:00", "\"2026-11-25T12:00:00\"");
    expect(CDC_PG_TIMESTAMP, "2026-11-25 12:00:00.000001", "\"2026-11-25T12:00:00.000001\"");
    expect(CDC_PG_TIMESTAMP, "0044-03-15 10:00:00 BC", "\"-0043-03-15T10:00:00\"");
    expect(CDC_PG_TIMESTAMPTZ, "2026-11-25 12:00:00.5+00", "\"2026-11-25T12:00:00.5Z\"");
    expect(CDC_PG_TIMESTAMPTZ, "2026-01-01 01:30:00+05:30", "\"2025-12-31T20:00:00Z\"");
    expect(CDC_PG_TIMESTAMPTZ, "-infinity", "\"-infinity\"");
    expect(CDC_PG_TIME, "24:00:00", "\"24:00:00\"");
    expect(CDC_PG_TIMETZ, "01:02:03.4-03:30", "\"01:02:03.4-03:30\"");
    expect(CDC_PG_TIMETZ, "01:02:03+05", "\"01:02:03+05:00\"");
    expect(CDC_PG_INTERVAL, "P-1Y-2M3DT-4H", "\"P-1Y-2M3DT-4H\"");
    refuse(CDC_PG_DATE, "25/11/2026");
    /* a year of 19 digits: refused before it overflows (UBSan stopped here) */
    refuse(CDC_PG_DATE, "9999999999999999999-01-01");
    refuse(CDC_PG_TIMESTAMP, "99999999999999999999-01-01 00:00:00");
    refuse(CDC_PG_TIMESTAMPTZ, "2026-11-25 12:00:00");
    refuse(CDC_PG_TIME, "12:00");
}

static void
test_text_bytes_json(void **state)
{
    { /* an empty value without a pointer (no NULL + 0) */
        cdc_pg_type_t t;
        assert_true(cdc_pg_type_builtin(CDC_PG_TEXT, &t));
        cdc_arena_t a;
        cdc_value_t v;
        cdc_errstr_t es = {{0}};
        cdc_arena_init(&a);
        assert_int_equal(cdc_pg_value_from_text(&t, NULL, 0, &a, &v, &es), CDC_OK);
        assert_int_equal(v.type, CDC_VAL_STRING);
        cdc_arena_deinit(&a);
    }
    expect(CDC_PG_TEXT, "", "\"\"");
    expect(CDC_PG_VARCHAR, "\xF0\x9F\x98\x80", "\"\xF0\x9F\x98\x80\"");
    expect(CDC_PG_UUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
           "\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"");
    expect(CDC_PG_BYTEA, "\\x", "\"\"");
    expect(CDC_PG_BYTEA, "\\xdeadBEEF", "\"3q2+7w==\"");
    expect(CDC_PG_JSONB, "[1, {\"a\": null}]", "[1, {\"a\": null}]");
    expect(CDC_PG_JSON, "\"just a string\"", "\"just a string\"");
    refuse(CDC_PG_BYTEA, "\\x0");
    refuse(CDC_PG_BYTEA, "escape\\000");
    refuse(CDC_PG_TEXT, "bad \xC3(");
    refuse(CDC_PG_JSONB, "{");
}

static void
test_arrays(void **state)
{
    expect(1007, "{}", "[]");
    expect(1007, "{1,2,3}", "[1,2,3]");
    expect(1007, "[0:1]={7,8}", "[7,8]");
    expect(1016, "{{1,NULL},{3,4}}", "[[1,null],[3,4]]");
    expect(1009, "{\"a,b\",\"\\\\\",\"NULL\",NULL, x y }",
           "[\"a,b\",\"\\\\\",\"NULL\",null,\"x y\"]");
    expect(1182, "{2026-11-25,infinity}", "[\"2026-11-25\",\"infinity\"]");
    expect(1185, "{\"2026-11-25 12:00:00+00\"}", "[\"2026-11-25T12:00:00Z\"]");
    expect(3807, "{\"{\\\"a\\\": 1}\"}", "[{\"a\": 1}]");
    expect(1231, "{1.50,NaN}", "[\"1.50\",\"NaN\"]");
    refuse(1007, "{1,2");
    refuse(1007, "{1,x}");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_dates_and_times),
        cmocka_unit_test(test_text_bytes_json),
        cmocka_unit_test(test_arrays),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

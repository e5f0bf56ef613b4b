/*
 * Canonical event: every value kind of the contract's table, edge values, encode/decode round
 * trip, error reporting, and tests/fixtures/events.golden so the format cannot drift silently
 * (regenerate deliberately with CDC_UPDATE_GOLDEN=1 and review the diff).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cdc/event.h"
#include "cdc/position.h"

#define S(t, lit) cdc_value_str(t, lit, sizeof(lit) - 1)

static char pos_pg[CDC_POS_STRLEN], pos_my[CDC_POS_STRLEN];

static cdc_value_t
v_int(int64_t i)
{
    return (cdc_value_t){.type = CDC_VAL_INT, .i = i};
}

static cdc_value_t
v_f(cdc_vtype_t t, double f)
{
    return (cdc_value_t){.type = t, .f = f};
}

static cdc_value_t
v_date(int32_t y, int m, int d, int inf)
{
    cdc_value_t v = {.type = CDC_VAL_DATE};
    v.date = (cdc_date_t){y, (uint8_t)m, (uint8_t)d, (int8_t)inf};
    return v;
}

static cdc_value_t
v_ts(cdc_vtype_t t, int32_t y, int mo, int d, int h, int mi, int s, uint32_t us)
{
    cdc_value_t v = {.type = t};
    v.ts =
        (cdc_timestamp_t){{y, (uint8_t)mo, (uint8_t)d, 0}, (uint8_t)h, (uint8_t)mi, (uint8_t)s, us};
    return v;
}

static cdc_value_t
v_time(cdc_vtype_t t, bool neg, uint32_t h, int m, int s, uint32_t us, int32_t tz)
{
    cdc_value_t v = {.type = t};
    v.time = (cdc_time_t){neg, h, (uint8_t)m, (uint8_t)s, us, tz};
    return v;
}

static cdc_value_t
v_interval(int32_t months, int32_t days, int64_t usec)
{
    cdc_value_t v = {.type = CDC_VAL_INTERVAL};
    v.interval = (cdc_interval_t){months, days, usec};
    return v;
}

static const cdc_value_t inner1[] = {{.type = CDC_VAL_INT, .i = 1}, {.type = CDC_VAL_INT, .i = 2}};
static const cdc_value_t inner2[] = {{.type = CDC_VAL_INT, .i = 3}, {.type = CDC_VAL_NULL}};

static cdc_value_t
v_array2d(void)
{
    static cdc_value_t rows[2];
    rows[0] = (cdc_value_t){.type = CDC_VAL_ARRAY};
    rows[0].arr.items = inner1, rows[0].arr.n = 2;
    rows[1] = (cdc_value_t){.type = CDC_VAL_ARRAY};
    rows[1].arr.items = inner2, rows[1].arr.n = 2;
    cdc_value_t v = {.type = CDC_VAL_ARRAY};
    v.arr.items = rows, v.arr.n = 2;
    return v;
}

/* One column per entry of the contract's value table, plus edge values. */
static cdc_column_t all_types[64];
static size_t n_all_types;

static void
add(const char *name, cdc_value_t v)
{
    all_types[n_all_types++] = (cdc_column_t){name, v};
}

static void
build_all_types(void)
{
    static const unsigned char bytes[] = {0x00, 0xFF};
    n_all_types = 0;
    add("id", v_int(42));
    add("i_neg", v_int(-7));
    add("i_2p53", v_int(9007199254740992LL));
    add("i_2p53_plus1", v_int(9007199254740993LL));
    add("u_max", (cdc_value_t){.type = CDC_VAL_UINT, .u = 18446744073709551615ULL});
    add("bit5", (cdc_value_t){.type = CDC_VAL_UINT, .u = 5});
    add("d_scale", S(CDC_VAL_DECIMAL, "1234.5000"));
    add("d_huge", S(CDC_VAL_DECIMAL, "-123456789012345678901234567890.000000000000000001"));
    add("d_nan", S(CDC_VAL_DECIMAL, "NaN"));
    add("d_ninf", S(CDC_VAL_DECIMAL, "-Infinity"));
    add("f_sum", v_f(CDC_VAL_FLOAT64, 0.1 + 0.2));
    add("f_negzero", v_f(CDC_VAL_FLOAT64, -0.0));
    add("f_nan", v_f(CDC_VAL_FLOAT64, NAN));
    add("f_inf", v_f(CDC_VAL_FLOAT64, INFINITY));
    add("f4", v_f(CDC_VAL_FLOAT32, 0.1f));
    add("b_true", (cdc_value_t){.type = CDC_VAL_BOOL, .b = true});
    add("s_empty", S(CDC_VAL_STRING, ""));
    add("s_text", S(CDC_VAL_STRING, "h\xC3\xA9llo \"w\"\n"));
    add("s_emoji", S(CDC_VAL_STRING, "\xF0\x9F\x98\x80"));
    add("s_nul", S(CDC_VAL_STRING, "a\0b"));
    add("set", S(CDC_VAL_STRING, "r,w"));
    add("bytes", cdc_value_str(CDC_VAL_BYTES, (const char *)bytes, 2));
    add("date", v_date(2026, 11, 25, 0));
    add("date_bc", v_date(-43, 3, 15, 0));
    add("date_big", v_date(10000, 1, 1, 0));
    add("date_inf", v_date(0, 0, 0, 1));
    add("date_ninf", v_date(0, 0, 0, -1));
    add("tstz", v_ts(CDC_VAL_TIMESTAMPTZ, 2026, 11, 25, 12, 0, 0, 123456));
    add("tstz_whole", v_ts(CDC_VAL_TIMESTAMPTZ, 2026, 11, 25, 12, 0, 0, 0));
    add("ts", v_ts(CDC_VAL_TIMESTAMP, 2026, 11, 25, 12, 0, 0, 500000));
    add("time", v_time(CDC_VAL_TIME, false, 12, 34, 56, 789000, 0));
    add("time_neg", v_time(CDC_VAL_TIME, true, 838, 59, 59, 0, 0));
    add("timetz", v_time(CDC_VAL_TIMETZ, false, 12, 0, 0, 0, 19800));
    add("timetz_neg", v_time(CDC_VAL_TIMETZ, false, 1, 2, 3, 4, -12600));
    add("interval", v_interval(14, 3, 4 * 3600000000LL + 5 * 60000000LL + 6789000LL));
    add("interval_zero", v_interval(0, 0, 0));
    add("interval_neg", v_interval(-1, 0, -1500000));
    add("year", v_int(2026));
    add("json", S(CDC_VAL_JSON, "{\"a\":[1,2.50,12345678901234567890123],\"b\":\"\\u00e9\"}"));
    add("arr2d", v_array2d());
    add("nothing", (cdc_value_t){.type = CDC_VAL_NULL});
}

static cdc_event_t
base_event(cdc_connector_kind_t kind)
{
    cdc_event_t ev = {.version = 1, .op = CDC_OP_CREATE};
    if (kind == CDC_CONNECTOR_POSTGRESQL) {
        cdc_pos_t p = {.epoch = 1, .phase = CDC_PHASE_STREAM, .major = 0x16B3748, .idx = 0};
        cdc_pos_format(pos_pg, &p);
        ev.source = (cdc_event_source_t){.system = "crm",
                                         .connector = kind,
                                         .db = "crm",
                                         .schema = "public",
                                         .table = "contacts",
                                         .ts_ms = 1764072000123LL,
                                         .pos = pos_pg,
                                         .lsn = 0x16B3748,
                                         .txid = 731};
        ev.txn_id = "731";
    } else {
        cdc_pos_t p = {.epoch = 2, .phase = CDC_PHASE_STREAM, .major = 3, .minor = 1234, .idx = 1};
        cdc_pos_format(pos_my, &p);
        ev.source = (cdc_event_source_t){.system = "erp",
                                         .connector = kind,
                                         .db = "erp",
                                         .table = "orders",
                                         .ts_ms = 1764072000000LL,
                                         .pos = pos_my,
                                         .file = "binlog.000003",
                                         .offset = 1234,
                                         .server_id = 1,
                                         .gtid = "0-1-77"};
        ev.txn_id = "0-1-77";
        ev.txn_seq = 1;
    }
    ev.sv = 3;
    return ev;
}

/* The golden events: insert with every type, a PostgreSQL delete under REPLICA IDENTITY DEFAULT,
 * an update with unchanged TOAST columns, a MySQL update, a truncate, a snapshot read. */
static size_t
golden_events(cdc_event_t *out)
{
    static cdc_column_t key[1], before_key[1], after_small[2], before_full[2];
    static const char *const unchanged[] = {"notes"};
    build_all_types();
    key[0] = all_types[0];
    size_t n = 0;

    out[n] = base_event(CDC_CONNECTOR_POSTGRESQL);
    out[n].key = (cdc_row_t){true, key, 1};
    out[n].after = (cdc_row_t){true, all_types, n_all_types};
    n++;

    before_key[0] = all_types[0];
    out[n] = base_event(CDC_CONNECTOR_POSTGRESQL);
    out[n].op = CDC_OP_DELETE;
    out[n].key = (cdc_row_t){true, key, 1};
    out[n].before = (cdc_row_t){true, before_key, 1};
    out[n].before_partial = true;
    n++;

    after_small[0] = all_types[0];
    after_small[1] = (cdc_column_t){"email", S(CDC_VAL_STRING, "a@example.com")};
    out[n] = base_event(CDC_CONNECTOR_POSTGRESQL);
    out[n].op = CDC_OP_UPDATE;
    out[n].key = (cdc_row_t){true, key, 1};
    out[n].after = (cdc_row_t){true, after_small, 2};
    out[n].unchanged = unchanged;
    out[n].n_unchanged = 1;
    out[n].txn_seq = 2;
    n++;

    before_full[0] = all_types[0];
    before_full[1] = (cdc_column_t){"email", S(CDC_VAL_STRING, "old@example.com")};
    out[n] = base_event(CDC_CONNECTOR_MYSQL);
    out[n].op = CDC_OP_UPDATE;
    out[n].key = (cdc_row_t){true, key, 1};
    out[n].before = (cdc_row_t){true, before_full, 2};
    out[n].after = (cdc_row_t){true, after_small, 2};
    n++;

    out[n] = base_event(CDC_CONNECTOR_MYSQL);
    out[n].op = CDC_OP_TRUNCATE;
    out[n].source.gtid = NULL;
    n++;

    static char pos_snap[CDC_POS_STRLEN];
    cdc_pos_t snap = {.epoch = 1, .phase = CDC_PHASE_SNAPSHOT, .major = 0x16B3748, .idx = 7};
    cdc_pos_format(pos_snap, &snap);
    out[n] = base_event(CDC_CONNECTOR_POSTGRESQL);
    out[n].op = CDC_OP_READ;
    out[n].source.snapshot = true;
    out[n].source.pos = pos_snap;
    out[n].key = (cdc_row_t){true, key, 1};
    out[n].after = (cdc_row_t){true, after_small, 2};
    n++;
    return n;
}

static char *
read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)len + 1);
    *n = fread(s, 1, (size_t)len, f);
    s[*n] = '\0';
    fclose(f);
    return s;
}

static void
test_golden_file(void **state)
{
    cdc_event_t evs[8];
    size_t n = golden_events(evs);
    cdc_buf_t all;
    cdc_buf_init(&all);
    for (size_t i = 0; i < n; i++) {
        cdc_errstr_t es = {{0}};
        assert_int_equal(cdc_event_encode(&evs[i], &all, &es), CDC_OK);
        cdc_buf_putc(&all, '\n');
    }
    const char *path = CDC_FIXTURES "/events.golden";
    if (getenv("CDC_UPDATE_GOLDEN")) {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        fwrite(all.data, 1, all.len, f);
        fclose(f);
    }
    size_t glen = 0;
    char *golden = read_file(path, &glen);
    assert_non_null(golden);
    assert_string_equal(all.data, golden);
    free(golden);
    cdc_buf_deinit(&all);
}

/* encode -> decode -> encode gives the same bytes, for every golden event. */
static void
test_round_trip(void **state)
{
    cdc_event_t evs[8], back;
    size_t n = golden_events(evs);
    cdc_arena_t a;
    cdc_arena_init(&a);
    for (size_t i = 0; i < n; i++) {
        cdc_buf_t one, two;
        cdc_errstr_t es = {{0}};
        cdc_buf_init(&one);
        cdc_buf_init(&two);
        assert_int_equal(cdc_event_encode(&evs[i], &one, &es), CDC_OK);
        assert_int_equal(cdc_event_decode(one.data, one.len, &back, &a, &es), CDC_OK);
        assert_int_equal(back.op, evs[i].op);
        assert_int_equal(back.source.ts_ms, evs[i].source.ts_ms);
        assert_string_equal(back.source.pos, evs[i].source.pos);
        assert_int_equal(back.source.lsn, evs[i].source.lsn);
        assert_int_equal(back.after.n, evs[i].after.n);
        assert_int_equal(back.before_partial, evs[i].before_partial);
        assert_int_equal(back.n_unchanged, evs[i].n_unchanged);
        assert_int_equal(cdc_event_encode(&back, &two, &es), CDC_OK);
        assert_string_equal(one.data, two.data);
        cdc_buf_deinit(&one);
        cdc_buf_deinit(&two);
        cdc_arena_reset(&a);
    }
    cdc_arena_deinit(&a);
}

/* Metadata integers past 2^53 are written as strings, and read back (fuzz_event's first find:
 * a ts_ms the decoder took as a number, re-encoded as a string, it then refused). */
static void
test_large_metadata_round_trip(void **state)
{
    cdc_event_t evs[8], back;
    golden_events(evs);
    evs[0].source.ts_ms = 176407000002000123LL;
    evs[0].source.txid = 18446744073709551615ULL;
    cdc_arena_t a;
    cdc_arena_init(&a);
    cdc_buf_t one, two;
    cdc_errstr_t es = {{0}};
    cdc_buf_init(&one);
    cdc_buf_init(&two);
    assert_int_equal(cdc_event_encode(&evs[0], &one, &es), CDC_OK);
    assert_non_null(strstr(one.data, "\"ts_ms\":\"176407000002000123\""));
    assert_int_equal(cdc_event_decode(one.data, one.len, &back, &a, &es), CDC_OK);
    assert_int_equal(back.source.ts_ms, 176407000002000123LL);
    assert_int_equal(back.source.txid, 18446744073709551615ULL);
    assert_int_equal(cdc_event_encode(&back, &two, &es), CDC_OK);
    assert_string_equal(one.data, two.data);
    static const char neg[] = "{\"v\":1,\"op\":\"t\",\"source\":{\"system\":\"crm\",\"ts_ms\":"
                              "\"-9007199254740993\"}}";
    cdc_arena_reset(&a);
    if (!cdc_event_decode(neg, strlen(neg), &back, &a, &es))
        assert_int_equal(back.source.ts_ms, -9007199254740993LL);
    cdc_buf_deinit(&one);
    cdc_buf_deinit(&two);
    cdc_arena_deinit(&a);
}

static const cdc_column_t *
col(const cdc_event_t *ev, const char *name)
{
    const cdc_column_t *c = cdc_row_find(&ev->after, name);
    assert_non_null(c);
    return c;
}

static void
assert_text(const cdc_column_t *c, cdc_vtype_t type, const char *text)
{
    assert_int_equal(c->value.type, type);
    assert_int_equal(c->value.s.n, strlen(text));
    assert_memory_equal(c->value.s.p, text, strlen(text));
}

/* Decoded values have the contract's JSON kinds and exact text. */
static void
test_decoded_values(void **state)
{
    cdc_event_t evs[8], back;
    golden_events(evs);
    cdc_buf_t b;
    cdc_arena_t a;
    cdc_errstr_t es = {{0}};
    cdc_buf_init(&b);
    cdc_arena_init(&a);
    assert_int_equal(cdc_event_encode(&evs[0], &b, &es), CDC_OK);
    assert_int_equal(cdc_event_decode(b.data, b.len, &back, &a, &es), CDC_OK);
    assert_text(col(&back, "i_2p53"), CDC_VAL_NUMBER, "9007199254740992");
    assert_text(col(&back, "i_2p53_plus1"), CDC_VAL_STRING, "9007199254740993");
    assert_text(col(&back, "u_max"), CDC_VAL_STRING, "18446744073709551615");
    assert_text(col(&back, "d_scale"), CDC_VAL_STRING, "1234.5000");
    assert_text(col(&back, "f_sum"), CDC_VAL_NUMBER, "0.30000000000000004");
    assert_text(col(&back, "f_negzero"), CDC_VAL_NUMBER, "-0");
    assert_text(col(&back, "f_nan"), CDC_VAL_STRING, "NaN");
    assert_text(col(&back, "f4"), CDC_VAL_NUMBER, "0.1");
    assert_int_equal(col(&back, "s_nul")->value.s.n, 3);
    assert_memory_equal(col(&back, "s_nul")->value.s.p, "a\0b", 3);
    assert_text(col(&back, "s_emoji"), CDC_VAL_STRING, "\xF0\x9F\x98\x80");
    assert_text(col(&back, "bytes"), CDC_VAL_STRING, "AP8=");
    assert_text(col(&back, "date_bc"), CDC_VAL_STRING, "-0043-03-15");
    assert_text(col(&back, "date_big"), CDC_VAL_STRING, "+10000-01-01");
    assert_text(col(&back, "date_inf"), CDC_VAL_STRING, "infinity");
    assert_text(col(&back, "tstz"), CDC_VAL_STRING, "2026-11-25T12:00:00.123456Z");
    assert_text(col(&back, "ts"), CDC_VAL_STRING, "2026-11-25T12:00:00.5");
    assert_text(col(&back, "time_neg"), CDC_VAL_STRING, "-838:59:59");
    assert_text(col(&back, "timetz"), CDC_VAL_STRING, "12:00:00+05:30");
    assert_text(col(&back, "timetz_neg"), CDC_VAL_STRING, "01:02:03.000004-03:30");
    assert_text(col(&back, "interval"), CDC_VAL_STRING, "P1Y2M3DT4H5M6.789S");
    assert_text(col(&back, "interval_zero"), CDC_VAL_STRING, "PT0S");
    assert_text(col(&back, "interval_neg"), CDC_VAL_STRING, "P-1MT-1.5S");
    assert_text(col(&back, "json"), CDC_VAL_JSON,
                "{\"a\":[1,2.50,12345678901234567890123],\"b\":\"\\u00e9\"}");
    assert_text(col(&back, "arr2d"), CDC_VAL_JSON, "[[1,2],[3,null]]");
    assert_int_equal(col(&back, "nothing")->value.type, CDC_VAL_NULL);
    assert_int_equal(col(&back, "b_true")->value.type, CDC_VAL_BOOL);
    cdc_buf_deinit(&b);
    cdc_arena_deinit(&a);
}

static void
expect_encode_error(cdc_value_t v, cdc_err_t want, const char *msg_part)
{
    cdc_column_t c[2] = {{"id", {.type = CDC_VAL_INT, .i = 1}}, {"bad", v}};
    cdc_event_t ev = base_event(CDC_CONNECTOR_POSTGRESQL);
    ev.key = (cdc_row_t){true, c, 1};
    ev.after = (cdc_row_t){true, c, 2};
    cdc_buf_t b;
    cdc_errstr_t es = {{0}};
    cdc_buf_init(&b);
    assert_int_equal(cdc_event_encode(&ev, &b, &es), want);
    assert_non_null(strstr(es.msg, "after.bad"));
    assert_non_null(strstr(es.msg, msg_part));
    cdc_buf_deinit(&b);
}

static void
test_encode_errors_name_the_column(void **state)
{
    expect_encode_error(S(CDC_VAL_STRING, "ok\xC3("), CDC_ERR_UTF8, "invalid utf-8 at byte 2");
    expect_encode_error(S(CDC_VAL_DECIMAL, "12.x"), CDC_ERR_PARSE, "not a decimal");
    expect_encode_error(S(CDC_VAL_DECIMAL, "1e5"), CDC_ERR_PARSE, "not a decimal");
    expect_encode_error(S(CDC_VAL_JSON, "{\"a\":}"), CDC_ERR_PARSE, "not a valid json");
}

static void
test_encode_refuses_bad_envelope(void **state)
{
    cdc_event_t ev = base_event(CDC_CONNECTOR_POSTGRESQL);
    cdc_buf_t b;
    cdc_errstr_t es = {{0}};
    cdc_buf_init(&b);
    ev.source.pos = "v1:bad";
    assert_int_equal(cdc_event_encode(&ev, &b, &es), CDC_ERR_INVAL);
    ev = base_event(CDC_CONNECTOR_POSTGRESQL);
    ev.op = (cdc_op_t)'x';
    cdc_buf_reset(&b);
    assert_int_equal(cdc_event_encode(&ev, &b, &es), CDC_ERR_INVAL);
    cdc_buf_deinit(&b);
}

static void
test_key_encoding(void **state)
{
    cdc_column_t key[2] = {{"tenant", S(CDC_VAL_STRING, "a b")},
                           {"id", {.type = CDC_VAL_INT, .i = 9007199254740993LL}}};
    cdc_event_t ev = base_event(CDC_CONNECTOR_POSTGRESQL);
    ev.key = (cdc_row_t){true, key, 2};
    cdc_buf_t b;
    cdc_errstr_t es = {{0}};
    cdc_buf_init(&b);
    assert_int_equal(cdc_event_key_encode(&ev, &b, &es), CDC_OK);
    assert_string_equal(b.data, "{\"tenant\":\"a b\",\"id\":\"9007199254740993\"}");
    /* names are kept encoded by address: the same address with other bytes (a table's names
     * freed and the memory reused), a name that needs escapes and one too long to keep */
    char name[80] = "tenant";
    key[0].name = name;
    for (int round = 0; round < 2; round++) {
        static const char *const spell[] = {"tenant", "ten\"ant", "région", "t"};
        static const char *const want[] = {"\"tenant\"", "\"ten\\\"ant\"", "\"région\"", "\"t\""};
        for (size_t i = 0; i < 4; i++) {
            strcpy(name, spell[i]);
            cdc_buf_reset(&b);
            assert_int_equal(cdc_event_key_encode(&ev, &b, &es), CDC_OK);
            assert_memory_equal(b.data + 1, want[i], strlen(want[i]));
        }
    }
    memset(name, 'n', 79);
    for (int round = 0; round < 2; round++) {
        cdc_buf_reset(&b);
        assert_int_equal(cdc_event_key_encode(&ev, &b, &es), CDC_OK);
        assert_int_equal(b.len, strlen("{\"\":\"a b\",\"id\":\"9007199254740993\"}") + 79);
    }
    key[0].name = "tenant";
    ev.key.present = false; /* a MySQL table without any key */
    cdc_buf_reset(&b);
    assert_int_equal(cdc_event_key_encode(&ev, &b, &es), CDC_OK);
    assert_string_equal(b.data, "null");
    cdc_buf_deinit(&b);
}

static void
test_decode_rejects_garbage(void **state)
{
    static const char *const bad[] = {
        "",
        "[]",
        "{\"v\":2,\"op\":\"c\"}",
        "{\"v\":1,\"op\":\"x\"}",
        "{\"v\":1,\"op\":\"c\"}",
        "{\"v\":1,\"op\":\"c\",\"source\":{\"connector\":\"postgresql\",\"table\":\"t\","
        "\"pos\":\"nope\"}}",
        "{\"v\":1,\"op\":\"c\",\"after\":{\"a\":\"\xFF\"}}",
        "{\"v\":1,\"op\":\"c\"} trailing",
    };
    cdc_arena_t a;
    cdc_arena_init(&a);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cdc_event_t ev;
        cdc_errstr_t es = {{0}};
        assert_int_not_equal(cdc_event_decode(bad[i], strlen(bad[i]), &ev, &a, &es), CDC_OK);
        assert_true(es.msg[0] != '\0');
    }
    cdc_arena_deinit(&a);
}

/* Timestamps and dates are written two digits at a time for the usual years and through the
 * general path for the others: both must spell what printf does (fraction without trailing
 * zeros, '+' past 9999, astronomical years before 1). */
static void
test_timestamp_text(void **state)
{
    static const int32_t years[] = {0, 1, 999, 1970, 2026, 9999, 10000, 123456, -1, -44};
    static const uint32_t usecs[] = {0,      1,      10,     100,    1000, 10000,
                                     100000, 120000, 123456, 999999, 500};
    cdc_buf_t b;
    cdc_buf_init(&b);
    for (size_t y = 0; y < sizeof(years) / sizeof(years[0]); y++) {
        for (size_t u = 0; u < sizeof(usecs) / sizeof(usecs[0]); u++) {
            for (int utc = 0; utc < 2; utc++) {
                cdc_timestamp_t ts = {.date = {.year = years[y], .month = 12, .day = 9},
                                      .hour = 23,
                                      .minute = 5,
                                      .second = 59,
                                      .usec = usecs[u]};
                char want[64], frac[16] = "";
                if (usecs[u]) {
                    snprintf(frac, sizeof(frac), ".%06u", (unsigned)usecs[u]);
                    for (size_t n = strlen(frac); frac[n - 1] == '0'; n--)
                        frac[n - 1] = '\0';
                }
                int32_t yr = years[y];
                snprintf(want, sizeof(want), "%s%04ld-12-09T23:05:59%s%s",
                         yr < 0      ? "-"
                         : yr > 9999 ? "+"
                                     : "",
                         labs((long)yr), frac, utc ? "Z" : "");
                cdc_buf_reset(&b);
                cdc_buf_puts(&b, "x"); /* after other text, as in an event */
                cdc_timestamp_format(&b, &ts, utc);
                assert_string_equal(b.data + 1, want);
                assert_int_equal(b.len, strlen(want) + 1);
            }
        }
    }
    cdc_buf_deinit(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_file),
        cmocka_unit_test(test_timestamp_text),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_large_metadata_round_trip),
        cmocka_unit_test(test_decoded_values),
        cmocka_unit_test(test_encode_errors_name_the_column),
        cmocka_unit_test(test_encode_refuses_bad_envelope),
        cmocka_unit_test(test_key_encoding),
        cmocka_unit_test(test_decode_rejects_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

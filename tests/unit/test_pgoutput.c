/*
 * pgoutput v1 parser on real captured frames (tests/fixtures/pgoutput_stream.hex, made by
 * tests/fixtures/capture_pgoutput.sh), their text values through the type conversion, and
 * truncated / garbled frames.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cdc/json.h"
#include "pg_types.h"
#include "pgoutput.h"

#define MAX_FRAMES 64

typedef struct {
    unsigned char *data;
    size_t len;
} frame_t;

static frame_t frames[MAX_FRAMES];
static size_t n_frames;

static int
load_frames(void **state)
{
    FILE *f = fopen(CDC_FIXTURES "/pgoutput_stream.hex", "r");
    if (!f)
        return -1;
    static char line[1 << 20];
    while (n_frames < MAX_FRAMES && fgets(line, sizeof(line), f)) {
        size_t hex = strcspn(line, "\r\n");
        frame_t *fr = &frames[n_frames++];
        fr->len = hex / 2;
        fr->data = malloc(fr->len + 1);
        for (size_t i = 0; i < fr->len; i++) {
            unsigned v;
            sscanf(line + 2 * i, "%2x", &v);
            fr->data[i] = (unsigned char)v;
        }
    }
    fclose(f);
    return n_frames ? 0 : -1;
}

static int
free_frames(void **state)
{
    for (size_t i = 0; i < n_frames; i++)
        free(frames[i].data);
    return 0;
}

static void
test_message_sequence(void **state)
{
    static const char want[] = "BYRICBUCBUCBRICBUCBDCBDCBMCBRTC";
    cdc_pgo_decoder_t *d = cdc_pgo_decoder_new();
    assert_int_equal(n_frames, strlen(want));
    uint64_t last_end = 0;
    for (size_t i = 0; i < n_frames; i++) {
        cdc_pgo_msg_t m;
        cdc_errstr_t es = {{0}};
        assert_int_equal(cdc_pgo_parse(d, (char *)frames[i].data, frames[i].len, &m, &es), CDC_OK);
        assert_int_equal((char)m.type, want[i]);
        if (m.type == CDC_PGO_COMMIT) {
            assert_true(m.commit.end_lsn > m.commit.commit_lsn);
            assert_true(m.commit.commit_lsn >= last_end);
            last_end = m.commit.end_lsn;
        }
    }
    cdc_pgo_decoder_free(d);
}

static void
parse_until(cdc_pgo_decoder_t *d, size_t idx, cdc_pgo_msg_t *m)
{
    cdc_errstr_t es = {{0}};
    for (size_t i = 0; i <= idx; i++)
        assert_int_equal(cdc_pgo_parse(d, (char *)frames[i].data, frames[i].len, m, &es), CDC_OK);
}

static void
test_relation_and_type(void **state)
{
    cdc_pgo_decoder_t *d = cdc_pgo_decoder_new();
    cdc_pgo_msg_t m;
    parse_until(d, 1, &m);
    assert_int_equal(m.type, CDC_PGO_TYPE);
    assert_string_equal(m.typeinfo.typname, "fx_mood");
    uint32_t mood_oid = m.typeinfo.oid;
    parse_until(d, 2, &m);
    const cdc_pgo_relation_t *r = m.relation.rel;
    assert_true(m.relation.changed);
    assert_string_equal(r->nspname, "public");
    assert_string_equal(r->relname, "fx_types");
    assert_int_equal(r->replident, 'd');
    assert_int_equal(r->ncols, 24);
    assert_string_equal(r->cols[0].name, "id");
    assert_true(r->cols[0].key);
    assert_false(r->cols[1].key);
    assert_int_equal(r->cols[0].type_oid, CDC_PG_INT4);
    assert_int_equal(r->cols[22].type_oid, mood_oid);
    assert_int_equal(r->version, 1);
    cdc_pgo_decoder_free(d);
}

/* The inserted row, converted and written as JSON, column by column. */
static void
test_insert_values(void **state)
{
    static const char *const want[] = {"1",
                                       "-32768",
                                       "\"9223372036854775807\"",
                                       "\"NaN\"",
                                       "0.1",
                                       "0.30000000000000004",
                                       "true",
                                       "\"h\xC3\xA9llo \\\"w\\\"\\n\"",
                                       "\"abc\"",
                                       "\"x  \"",
                                       "\"AP8=\"",
                                       "\"-0043-03-15\"",
                                       "\"12:34:56.789\"",
                                       "\"12:00:00+05:30\"",
                                       "\"2026-11-25T12:00:00.5\"",
                                       "\"2026-11-25T12:00:00.123456Z\"",
                                       "\"P1Y2M3DT4H5M6.789S\"",
                                       "\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\"",
                                       "{\"a\": [1, 2.50]}",
                                       "{\"b\": 12345678901234567890123}",
                                       "[[1,2],[3,null]]",
                                       "[\"a b\",\"c\",null,\"q\\\"x\"]",
                                       "\"happy\""};
    cdc_pgo_decoder_t *d = cdc_pgo_decoder_new();
    cdc_pgo_msg_t m;
    parse_until(d, 3, &m);
    assert_int_equal(m.type, CDC_PGO_INSERT);
    const cdc_pgo_relation_t *r = cdc_pgo_relation(d, m.change.relid);
    assert_int_equal(m.change.new_tuple.ncols, 24);
    cdc_arena_t a;
    cdc_arena_init(&a);
    for (size_t i = 0; i < 23; i++) {
        const cdc_pgo_col_t *c = &m.change.new_tuple.cols[i];
        cdc_pg_type_t t;
        if (!cdc_pg_type_builtin(r->cols[i].type_oid, &t))
            t = (cdc_pg_type_t){CDC_PG_TEXT, 0, ','}; /* the enum, as the catalog resolves it */
        cdc_value_t v;
        cdc_errstr_t es = {{0}};
        assert_int_equal(c->kind, CDC_PGO_COL_TEXT);
        if (cdc_pg_value_from_text(&t, c->data, c->len, &a, &v, &es) != CDC_OK)
            fail_msg("column %s: %s", r->cols[i].name, es.msg);
        cdc_buf_t b;
        cdc_buf_init(&b);
        assert_int_equal(cdc_value_write_json(&b, &v, &es), CDC_OK);
        if (strcmp(b.data, want[i]))
            fail_msg("column %s: want %s, got %s", r->cols[i].name, want[i], b.data);
        cdc_buf_deinit(&b);
    }
    cdc_arena_deinit(&a);
    cdc_pgo_decoder_free(d);
}

static void
test_update_with_unchanged_toast_and_pk_change(void **state)
{
    cdc_pgo_decoder_t *d = cdc_pgo_decoder_new();
    cdc_pgo_msg_t m;
    parse_until(d, 6, &m);
    assert_int_equal(m.type, CDC_PGO_UPDATE);
    assert_int_equal(m.change.old_kind, 0); /* DEFAULT identity, key unchanged: no old tuple */
    assert_int_equal(m.change.new_tuple.cols[23].kind, CDC_PGO_COL_UNCHANGED);
    assert_int_equal(m.change.new_tuple.cols[7].kind, CDC_PGO_COL_TEXT);
    parse_until(d, 9, &m);
    assert_int_equal(m.type, CDC_PGO_UPDATE);
    assert_int_equal(m.change.old_kind, 'K'); /* key changed: old key sent */
    assert_int_equal(m.change.old_tuple.cols[0].kind, CDC_PGO_COL_TEXT);
    assert_memory_equal(m.change.old_tuple.cols[0].data, "1", 1);
    assert_int_equal(m.change.old_tuple.cols[1].kind, CDC_PGO_COL_NULL);
    assert_memory_equal(m.change.new_tuple.cols[0].data, "2", 1);
    cdc_pgo_decoder_free(d);
}

static void
test_full_identity_delete_message_truncate(void **state)
{
    cdc_pgo_decoder_t *d = cdc_pgo_decoder_new();
    cdc_pgo_msg_t m;
    parse_until(d, 16, &m);
    assert_int_equal(m.type, CDC_PGO_UPDATE);
    assert_int_equal(m.change.old_kind, 'O'); /* FULL identity: whole old row */
    assert_memory_equal(m.change.old_tuple.cols[1].data, "one", 3);
    parse_until(d, 19, &m);
    assert_int_equal(m.type, CDC_PGO_DELETE);
    assert_int_equal(m.change.old_kind, 'O');
    parse_until(d, 22, &m);
    assert_int_equal(m.type, CDC_PGO_DELETE);
    assert_int_equal(m.change.old_kind, 'K');
    parse_until(d, 25, &m);
    assert_int_equal(m.type, CDC_PGO_MESSAGE);
    assert_int_equal(m.message.flags, 1);
    assert_string_equal(m.message.prefix, "cdc-heartbeat");
    assert_int_equal(m.message.len, 2);
    assert_memory_equal(m.message.content, "hb", 2);
    parse_until(d, 29, &m);
    assert_int_equal(m.type, CDC_PGO_TRUNCATE);
    assert_int_equal(m.truncate.nrels, 1);
    assert_non_null(cdc_pgo_relation(d, m.truncate.relids[0]));
    cdc_pgo_decoder_free(d);
}

/* Every proper prefix of every frame is refused, never read past its end. */
static void
test_truncated_frames_are_refused(void **state)
{
    for (size_t i = 0; i < n_frames; i++) {
        cdc_pgo_decoder_t *d = cdc_pgo_decoder_new();
        cdc_pgo_msg_t m;
        if (i > 2)
            parse_until(d, 2, &m); /* relation known, so changes fail only for length */
        if (frames[i].data[0] == 'R' || frames[i].data[0] == 'Y' || i <= 2) {
            cdc_pgo_decoder_free(d);
            d = cdc_pgo_decoder_new();
        }
        for (size_t len = 0; len < frames[i].len; len++) {
            unsigned char *copy = malloc(len ? len : 1); /* exact size: ASan catches overreads */
            memcpy(copy, frames[i].data, len);
            cdc_errstr_t es = {{0}};
            cdc_err_t err = cdc_pgo_parse(d, (char *)copy, len, &m, &es);
            if (err == CDC_OK && frames[i].data[0] != 'M')
                fail_msg("frame %zu ('%c') accepted at %zu of %zu bytes", i, frames[i].data[0], len,
                         frames[i].len);
            free(copy);
        }
        cdc_pgo_decoder_free(d);
    }
}

static void
test_garbled_frames(void **state)
{
    cdc_pgo_decoder_t *d = cdc_pgo_decoder_new();
    cdc_pgo_msg_t m;
    cdc_errstr_t es = {{0}};
    assert_int_equal(cdc_pgo_parse(d, "Z", 1, &m, &es), CDC_ERR_PARSE);
    assert_non_null(strstr(es.msg, "unknown pgoutput message type 0x5a"));
    assert_int_equal(cdc_pgo_parse(d, "", 0, &m, &es), CDC_ERR_PARSE);
    /* an insert before its relation */
    assert_int_equal(cdc_pgo_parse(d, (char *)frames[3].data, frames[3].len, &m, &es),
                     CDC_ERR_PARSE);
    assert_non_null(strstr(es.msg, "before its Relation"));
    /* a bad column kind */
    parse_until(d, 2, &m);
    unsigned char *bad = malloc(frames[3].len);
    memcpy(bad, frames[3].data, frames[3].len);
    bad[8] = 'z'; /* 'I' relid(4) 'N' ncols(2) -> first column kind */
    assert_int_equal(cdc_pgo_parse(d, (char *)bad, frames[3].len, &m, &es), CDC_ERR_PARSE);
    /* more columns than PostgreSQL allows (1664): refused, and no column pointer of it (nor of
     * the message before) is handed out */
    memcpy(bad, frames[3].data, frames[3].len);
    bad[6] = 0x06, bad[7] = 0x81; /* ncols 1665 */
    assert_int_equal(cdc_pgo_parse(d, (char *)bad, frames[3].len, &m, &es), CDC_ERR_PARSE);
    assert_non_null(strstr(es.msg, "malformed"));
    assert_int_equal(m.change.new_tuple.ncols, 0);
    free(bad);
    cdc_pgo_decoder_free(d);
}

static void
test_relation_change_bumps_version(void **state)
{
    cdc_pgo_decoder_t *d = cdc_pgo_decoder_new();
    cdc_pgo_msg_t m;
    parse_until(d, 12, &m); /* fx_full relation */
    assert_int_equal(m.relation.rel->version, 1);
    parse_until(d, 28, &m); /* the same relation sent again, unchanged */
    assert_int_equal(m.type, CDC_PGO_RELATION);
    assert_false(m.relation.changed);
    assert_int_equal(m.relation.rel->version, 1);
    /* same relid with a renamed column */
    unsigned char *alt = malloc(frames[28].len);
    memcpy(alt, frames[28].data, frames[28].len);
    unsigned char *v = memmem(alt, frames[28].len, "\x01v\0", 3);
    assert_non_null(v);
    v[1] = 'w';
    cdc_errstr_t es = {{0}};
    assert_int_equal(cdc_pgo_parse(d, (char *)alt, frames[28].len, &m, &es), CDC_OK);
    assert_true(m.relation.changed);
    assert_int_equal(m.relation.rel->version, 2);
    assert_string_equal(m.relation.rel->cols[1].name, "w");
    free(alt);
    cdc_pgo_decoder_free(d);
}

/* A Relation message for relid with one int4 key column named col. */
static size_t
relation_frame(unsigned char *out, uint32_t relid, const char *relname, const char *col)
{
    size_t n = 0;
    out[n++] = 'R';
    for (int b = 3; b >= 0; b--)
        out[n++] = (unsigned char)(relid >> (8 * b));
    memcpy(out + n, "public", 7), n += 7;
    n += (size_t)sprintf((char *)out + n, "%s", relname) + 1;
    out[n++] = 'd';             /* replica identity default */
    out[n++] = 0, out[n++] = 1; /* one column */
    out[n++] = 1;               /* key */
    n += (size_t)sprintf((char *)out + n, "%s", col) + 1;
    memcpy(out + n, "\0\0\0\x17\xff\xff\xff\xff", 8); /* int4, typmod -1 */
    return n + 8;
}

/* Relations handed out earlier keep their address and content while hundreds more arrive and
 * while one of them is described again (a source keeps the pointers with its tables). */
static void
test_relation_pointers_stay_valid(void **state)
{
    cdc_pgo_decoder_t *d = cdc_pgo_decoder_new();
    const cdc_pgo_relation_t *first[400];
    unsigned char buf[256];
    char name[32];
    cdc_errstr_t es = {{0}};
    cdc_pgo_msg_t m;
    for (uint32_t i = 0; i < 400; i++) {
        snprintf(name, sizeof(name), "t%u", i);
        size_t n = relation_frame(buf, 1000 + i, name, "id");
        assert_int_equal(cdc_pgo_parse(d, (char *)buf, n, &m, &es), CDC_OK);
        first[i] = m.relation.rel;
    }
    size_t n = relation_frame(buf, 1007, "t7", "renamed");
    assert_int_equal(cdc_pgo_parse(d, (char *)buf, n, &m, &es), CDC_OK);
    assert_true(m.relation.changed);
    assert_ptr_equal(m.relation.rel, first[7]);
    for (uint32_t i = 0; i < 400; i++) {
        snprintf(name, sizeof(name), "t%u", i);
        assert_ptr_equal(cdc_pgo_relation(d, 1000 + i), first[i]);
        assert_int_equal(first[i]->relid, 1000 + i);
        assert_string_equal(first[i]->relname, name);
        assert_string_equal(first[i]->cols[0].name, i == 7 ? "renamed" : "id");
        assert_int_equal(first[i]->version, i == 7 ? 2 : 1);
    }
    cdc_pgo_decoder_free(d);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_message_sequence),
        cmocka_unit_test(test_relation_and_type),
        cmocka_unit_test(test_insert_values),
        cmocka_unit_test(test_update_with_unchanged_toast_and_pk_change),
        cmocka_unit_test(test_full_identity_delete_message_truncate),
        cmocka_unit_test(test_truncated_frames_are_refused),
        cmocka_unit_test(test_garbled_frames),
        cmocka_unit_test(test_relation_change_bumps_version),
        cmocka_unit_test(test_relation_pointers_stay_valid),
    };
    return cmocka_run_group_tests(tests, load_frames, free_frames);
}

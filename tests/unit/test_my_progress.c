/* Snapshot progress (cdc/chunk_pos.h) as the MySQL source writes it: the last key of a chunk
 * survives the round trip through the offset record's JSON, binary key bytes (NUL, 0xff, invalid
 * UTF-8) as hex and numbers as text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "my_internal.h"

static my_snap_col_t cols[] = {
    {.name = "pad", .data_type = "varchar"},
    {.name = "k", .data_type = "varbinary", .binary = true},
    {.name = "n", .data_type = "bigint", .is_unsigned = true, .binary = true, .number = true},
    {.name = "t", .data_type = "varchar"},
};
static size_t key_idx[] = {1, 2, 3};
static my_snap_table_t table = {.cols = cols, .n = 4, .key = key_idx, .n_key = 3};

static void
test_round_trip(void **state)
{
    (void)state;
    char kbytes[] = {'\0', (char)0xff, 'a', (char)0xc3};
    char *row[] = {"x", kbytes, "18446744073709551615", "Zoë \"q\""};
    unsigned long len[] = {1, 4, 20, (unsigned long)strlen(row[3])};
    my_snap_key_t key = {0}, back = {0};
    my_snap_key_save(&table, row, len, &key);
    char *p = my_snap_progress(&table, 3, &key);
    assert_string_equal(
        p, "{\"ordinal\":3,\"after\":[\"00ff61c3\",\"18446744073709551615\",\"Zoë \\\"q\\\"\"]}");
    cdc_chunk_pos_t at;
    assert_true(cdc_chunk_pos_parse(p, &at));
    assert_int_equal(at.ordinal, 3);
    assert_int_equal(at.n_after, 3);
    assert_string_equal(at.after[0], "00ff61c3");
    cdc_chunk_pos_free(&at);
    assert_true(my_snap_progress_key(&table, p, &back));
    assert_true(back.set);
    assert_int_equal(back.bytes.len, key.bytes.len);
    assert_memory_equal(back.bytes.data, key.bytes.data, key.bytes.len);
    for (size_t k = 0; k < 3; k++) {
        assert_int_equal(back.off[k], key.off[k]);
        assert_int_equal(back.len[k], key.len[k]);
    }
    free(p);
    my_snap_key_free(&key);
    my_snap_key_free(&back);
}

static void
test_table_start_and_refusals(void **state)
{
    (void)state;
    my_snap_key_t key = {0};
    char *p = my_snap_progress(NULL, 1, NULL);
    assert_string_equal(p, "{\"ordinal\":1,\"after\":null}");
    assert_true(my_snap_progress_key(&table, p, &key));
    assert_false(key.set);
    free(p);
    cdc_chunk_pos_t at;
    assert_false(cdc_chunk_pos_parse("{\"after\": null}", &at));
    assert_false(cdc_chunk_pos_parse("{\"ordinal\": -1}", &at));
    assert_false(cdc_chunk_pos_parse("not json", &at));
    assert_false(cdc_chunk_pos_parse("{\"ordinal\": 0, \"after\": [1]}", &at));
    /* a key with a NUL byte keeps its length (the PostgreSQL source writes text, NUL-free) */
    const char *after[] = {"a\0b"};
    size_t len[] = {3};
    char *q = cdc_chunk_pos_format(2, after, len, 1);
    assert_true(cdc_chunk_pos_parse(q, &at));
    assert_int_equal(at.ordinal, 2);
    assert_int_equal(at.after_len[0], 3);
    assert_memory_equal(at.after[0], "a\0b", 3);
    cdc_chunk_pos_free(&at);
    free(q);
    /* a key of another shape, or hex that is not hex */
    assert_false(my_snap_progress_key(&table, "{\"ordinal\":0,\"after\":[\"00\"]}", &key));
    assert_false(
        my_snap_progress_key(&table, "{\"ordinal\":0,\"after\":[\"0g\",\"1\",\"a\"]}", &key));
    assert_false(
        my_snap_progress_key(&table, "{\"ordinal\":0,\"after\":[\"0\",\"1\",\"a\"]}", &key));
    assert_false(my_snap_progress_key(&table, "{\"ordinal\":0,\"after\":[1,\"1\",\"a\"]}", &key));
    assert_false(my_snap_progress_key(&table, "{\"ordinal\":0,\"after\":7}", &key));
    my_snap_key_free(&key);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_table_start_and_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

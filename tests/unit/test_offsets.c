/* Offset records: round trip, partition counts, refusal of foreign or damaged values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "cdc/offsets.h"
#include "cdc/witness.h"

static void
test_round_trip(void **state)
{
    cdc_topic_parts_t topics[] = {{"cdc.crm.public.a", 8}, {"cdc.crm.public.b", 3}};
    cdc_offsets_t o = {.found = true,
                       .pos = {7, CDC_PHASE_STREAM, 0x16B3748, 0, 12},
                       .snapshot_done = true,
                       .ack_token = 0x16B3800,
                       .progress = "{\"after\":[\"42\"],\"idx\":10000,\"ordinal\":1}",
                       .native = "{\"file\":\"binlog.000003\",\"gtid\":\"0-1-77\",\"pos\":1234}",
                       .topics = topics,
                       .n_topics = 2};
    cdc_buf_t b;
    cdc_buf_init(&b);
    cdc_offsets_encode(&b, "crm", &o);
    assert_non_null(strstr(b.data, "\"source\":\"crm\""));
    assert_non_null(strstr(b.data, "\"epoch\":7"));
    cdc_offsets_t back = {0};
    assert_true(cdc_offsets_decode(b.data, b.len, &back));
    assert_true(back.found);
    assert_int_equal(cdc_pos_cmp(&back.pos, &o.pos), 0);
    assert_true(back.snapshot_done);
    assert_int_equal(back.ack_token, 0x16B3800);
    assert_int_equal(cdc_offsets_partitions(&back, "cdc.crm.public.b"), 3);
    assert_int_equal(cdc_offsets_partitions(&back, "cdc.crm.public.zz"), 0);
    assert_string_equal(back.progress, o.progress);
    assert_string_equal(back.native, o.native);
    cdc_offsets_clear(&back);
    cdc_buf_deinit(&b);
}

static void
test_refuses_bad_values(void **state)
{
    static const char *const bad[] = {
        "",
        "[]",
        "{\"v\":2,\"pos\":\"v1:00000001:1:0000000000000001:0000000000000000:00000000\","
        "\"snapshot_done\":true,\"ack_token\":\"1\",\"partitions\":{}}",
        "{\"v\":1,\"pos\":\"nope\",\"snapshot_done\":true,\"ack_token\":\"1\",\"partitions\":{}}",
        "{\"v\":1,\"pos\":\"v1:00000001:1:0000000000000001:0000000000000000:00000000\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cdc_offsets_t o = {0};
        assert_false(cdc_offsets_decode(bad[i], strlen(bad[i]), &o));
        assert_false(o.found);
    }
}

static bool
judge(const cdc_witness_t *w, const char *src, uint32_t epoch, uint64_t major, uint32_t idx,
      char *why)
{
    cdc_pos_t p = {epoch, CDC_PHASE_STREAM, major, 0, idx};
    why[0] = '\0';
    return cdc_witness_judge(w, src, &p, why, 512);
}

/* What the offset records say a source could have produced: the sinks' check of each event. */
static void
test_witness(void **state)
{
    (void)state;
    static const char *const names[] = {"crm", "erp", "crm"};
    cdc_witness_t *w = cdc_witness_new(NULL, NULL, NULL, names, 3);
    char why[512];
    assert_false(judge(w, "crm", 1, 10, 0, why));
    assert_string_equal(why, "source crm has committed no position in its offsets topic");
    cdc_pos_t p1 = {1, CDC_PHASE_STREAM, 100, 0, 4}, p2 = {2, CDC_PHASE_SNAPSHOT, 50, 0, 9},
              p3 = {2, CDC_PHASE_STREAM, 80, 0, 0}, back = {2, CDC_PHASE_STREAM, 60, 0, 0};
    cdc_witness_note(w, "crm", 3, &p1);
    cdc_witness_note(w, "other", 5, &p3); /* not one of the witness's sources */
    assert_true(judge(w, "crm", 1, 100, 4, why));
    assert_true(judge(w, "crm", 1, 99, 0xffffffff, why));
    assert_false(judge(w, "crm", 1, 100, 5, why));
    assert_string_equal(why, "position v1:00000001:0000000000000064:0000000000000000:1:00000005 "
                             "is beyond what source crm has committed "
                             "(v1:00000001:0000000000000064:0000000000000000:1:00000004): not a "
                             "change it made");
    assert_false(judge(w, "crm", 1, 0x7fffffffffffffff, 0, why));
    assert_false(judge(w, "crm", 2, 1, 0, why)); /* an epoch the source has not started */
    assert_string_equal(why, "position v1:00000002:0000000000000001:0000000000000000:1:00000000 "
                             "is in epoch 2, which source crm has not started (its latest is 1)");
    assert_false(judge(w, "other", 2, 1, 0, why));
    assert_false(judge(w, "erp", 1, 1, 0, why));
    /* a new epoch: the old one keeps its bound, the new one has its own */
    cdc_witness_note(w, "crm", 3, &p2);
    cdc_witness_note(w, "crm", 3, &p3);
    cdc_witness_note(w, "crm", 3, &back); /* an operator moved it back: the highest stays */
    assert_true(judge(w, "crm", 2, 80, 0, why));
    assert_false(judge(w, "crm", 2, 80, 1, why));
    assert_true(judge(w, "crm", 1, 100, 4, why));
    assert_false(judge(w, "crm", 1, 101, 0, why));
    assert_false(judge(w, "crm", 3, 1, 0, why));
    cdc_witness_free(w);
    /* an older epoch whose records compaction removed: the source ran in it */
    w = cdc_witness_new(NULL, NULL, NULL, names, 2);
    cdc_witness_note(w, "erp", 3, &p3);
    assert_true(judge(w, "erp", 1, 0x7fffffffffffffff, 0, why));
    assert_false(judge(w, "erp", 2, 81, 0, why));
    cdc_witness_free(w);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_refuses_bad_values),
        cmocka_unit_test(test_witness),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

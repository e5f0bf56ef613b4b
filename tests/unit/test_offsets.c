/* Offset records: round trip, partition counts, refusal of foreign or damaged values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "cdc/offsets.h"

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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_refuses_bad_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

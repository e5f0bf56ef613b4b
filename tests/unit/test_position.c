/* Position strings (format, strict parse, order = string order) and PostgreSQL LSN text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cdc/position.h"

static void
test_format_fixed_width(void **state)
{
    char s[CDC_POS_STRLEN];
    cdc_pos_t p = {.epoch = 1, .phase = CDC_PHASE_STREAM, .major = 0x16B3748, .minor = 0, .idx = 5};
    cdc_pos_format(s, &p);
    assert_string_equal(s, "v1:00000001:00000000016b3748:0000000000000000:1:00000005");
    assert_int_equal(strlen(s), CDC_POS_STRLEN - 1);
}

static void
test_parse_round_trip_and_strictness(void **state)
{
    cdc_pos_t p = {.epoch = 0xffffffff,
                   .phase = CDC_PHASE_RESNAPSHOT,
                   .major = UINT64_MAX,
                   .minor = 77,
                   .idx = 0xdeadbeef},
              q;
    char s[CDC_POS_STRLEN];
    cdc_pos_format(s, &p);
    assert_true(cdc_pos_parse(s, &q));
    assert_int_equal(cdc_pos_cmp(&p, &q), 0);
    static const char *const bad[] = {
        "",
        "v1",
        "v2:00000001:1:00000000016b3748:0000000000000000:00000005",
        "v1:00000001:1:00000000016B3748:0000000000000000:00000005", /* uppercase */
        "v1:00000001:3:00000000016b3748:0000000000000000:00000005", /* phase 3 */
        "v1:0000001:1:00000000016b3748:0000000000000000:000000050", /* widths */
        "v1:00000001:1:00000000016b3748:0000000000000000:00000005x",
        "v1:00000001-1:00000000016b3748:0000000000000000:00000005"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(cdc_pos_valid(bad[i]));
}

/* Random positions: comparing structs and comparing strings always agree. */
static void
test_string_order_is_position_order(void **state)
{
    srand(7);
    for (int i = 0; i < 20000; i++) {
        cdc_pos_t a = {(uint32_t)(rand() % 3), (cdc_phase_t)(rand() % 3),
                       (uint64_t)rand() << 20 | (uint64_t)(rand() % 4), (uint64_t)(rand() % 5),
                       (uint32_t)(rand() % 4)};
        cdc_pos_t b = a;
        switch (rand() % 5) {
        case 0:
            b.epoch = (uint32_t)(rand() % 3);
            break;
        case 1:
            b.phase = (cdc_phase_t)(rand() % 3);
            break;
        case 2:
            b.major = (uint64_t)rand() << 20;
            break;
        case 3:
            b.minor = (uint64_t)(rand() % 5);
            break;
        default:
            b.idx = (uint32_t)(rand() % 4);
            break;
        }
        char sa[CDC_POS_STRLEN], sb[CDC_POS_STRLEN];
        cdc_pos_format(sa, &a);
        cdc_pos_format(sb, &b);
        int c1 = cdc_pos_cmp(&a, &b), c2 = strcmp(sa, sb);
        assert_int_equal(c1 < 0, c2 < 0);
        assert_int_equal(c1 == 0, c2 == 0);
    }
}

/* The orders the sinks' re-send guard relies on: the initial snapshot (at the slot's consistent
 * point) before every later commit; re-snapshot rows right after their high watermark's events
 * and before every later commit. */
static void
test_phase_order(void **state)
{
    cdc_pos_t snap = {1, CDC_PHASE_SNAPSHOT, 100, 3, 999},
              stream = {1, CDC_PHASE_STREAM, 101, 0, 0};
    assert_true(cdc_pos_cmp(&snap, &stream) < 0);
    cdc_pos_t hw = {1, CDC_PHASE_STREAM, 500, 0, 0}, resnap = {1, CDC_PHASE_RESNAPSHOT, 500, 0, 7},
              later = {1, CDC_PHASE_STREAM, 501, 0, 0};
    assert_true(cdc_pos_cmp(&hw, &resnap) < 0);
    assert_true(cdc_pos_cmp(&resnap, &later) < 0);
    assert_true(cdc_pos_same_epoch(&snap, &stream));
    assert_int_equal(cdc_pos_epoch_next(1), 2);
    assert_int_equal(cdc_pos_epoch_next(UINT32_MAX), 1);
}

static void
test_lsn_text(void **state)
{
    char s[CDC_LSN_STRLEN];
    uint64_t v;
    cdc_lsn_format(s, 0x16B3748);
    assert_string_equal(s, "0/16B3748");
    cdc_lsn_format(s, 0xFFFFFFFFFFFFFFFFULL);
    assert_string_equal(s, "FFFFFFFF/FFFFFFFF");
    for (int i = 0; i < 64; i++) { /* every length of either half, as printf spells it */
        uint64_t lsn = (1ULL << i) | (i ? 1ULL << (i - 1) : 0), hi = lsn >> 32,
                 lo = lsn & 0xFFFFFFFF;
        char want[CDC_LSN_STRLEN];
        snprintf(want, sizeof(want), "%X/%X", (unsigned)hi, (unsigned)lo);
        cdc_lsn_format(s, lsn);
        assert_string_equal(s, want);
    }
    assert_true(cdc_lsn_parse("0/16B3748", &v));
    assert_int_equal(v, 0x16B3748);
    assert_true(cdc_lsn_parse("A/0", &v));
    assert_int_equal(v, 0xA00000000ULL);
    assert_false(cdc_lsn_parse("16B3748", &v));
    assert_false(cdc_lsn_parse("0/", &v));
    assert_false(cdc_lsn_parse("/1", &v));
    assert_false(cdc_lsn_parse("0/123456789", &v));
    assert_false(cdc_lsn_parse("0/1g", &v));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_fixed_width),
        cmocka_unit_test(test_parse_round_trip_and_strictness),
        cmocka_unit_test(test_string_order_is_position_order),
        cmocka_unit_test(test_phase_order),
        cmocka_unit_test(test_lsn_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

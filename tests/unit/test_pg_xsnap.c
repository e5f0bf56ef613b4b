/* PostgreSQL snapshot visibility of streamed transaction ids: parsing pg_current_snapshot(),
 * in-progress and later ids, wraparound of the 32-bit stream ids, the recent-transactions ring. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "pg_xsnap.h"

static void
test_parse(void **state)
{
    (void)state;
    cdc_pg_xsnap_t s = {0};
    assert_true(cdc_pg_xsnap_parse(&s, "100:105:100,102"));
    assert_int_equal(100, s.xmin);
    assert_int_equal(105, s.xmax);
    assert_int_equal(2, s.n_xip);
    assert_true(cdc_pg_xsnap_parse(&s, "7:7:"));
    assert_int_equal(0, s.n_xip); /* the list is reused, emptied */
    /* 64-bit ids with an epoch: the low 32 bits are what the stream carries */
    assert_true(cdc_pg_xsnap_parse(&s, "4294967396:4294967400:4294967397"));
    assert_int_equal(100, s.xmin);
    assert_int_equal(104, s.xmax);
    assert_int_equal(101, s.xip[0]);
    const char *bad[] = {"", "1", "1:2", "a:2:", "1:2:3,", "1:2:3,x", "1:2:3;4", "-1:2:"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(cdc_pg_xsnap_parse(&s, bad[i]));
    assert_false(cdc_pg_xsnap_parse(&s, NULL));
    cdc_pg_xsnap_free(&s);
}

static void
test_invisible(void **state)
{
    (void)state;
    cdc_pg_xsnap_t s = {0};
    assert_true(cdc_pg_xsnap_parse(&s, "100:105:100,102"));
    assert_false(cdc_pg_xsnap_invisible(&s, 99));  /* settled before xmin */
    assert_true(cdc_pg_xsnap_invisible(&s, 100));  /* in progress */
    assert_false(cdc_pg_xsnap_invisible(&s, 101)); /* committed before the snapshot */
    assert_true(cdc_pg_xsnap_invisible(&s, 102));
    assert_false(cdc_pg_xsnap_invisible(&s, 104));
    assert_true(cdc_pg_xsnap_invisible(&s, 105)); /* xmax and after */
    assert_true(cdc_pg_xsnap_invisible(&s, 5000));
    assert_false(cdc_pg_xsnap_invisible(&s, 105u + (1u << 30))); /* from before a wraparound */
    /* across the 32-bit wraparound */
    assert_true(cdc_pg_xsnap_parse(&s, "4294967290:4294967302:4294967295"));
    assert_false(cdc_pg_xsnap_invisible(&s, 4294967289u));
    assert_true(cdc_pg_xsnap_invisible(&s, 4294967295u));
    assert_false(cdc_pg_xsnap_invisible(&s, 4294967294u));
    assert_false(cdc_pg_xsnap_invisible(&s, 5)); /* 2^32 + 5, before xmax 2^32 + 6 */
    assert_true(cdc_pg_xsnap_invisible(&s, 6));
    cdc_pg_xsnap_free(&s);
}

static void
test_recent(void **state)
{
    (void)state;
    static cdc_pg_recent_t r;
    cdc_pg_xsnap_t s = {0};
    assert_true(cdc_pg_xsnap_parse(&s, "1000:2000:1500"));
    assert_int_equal(0, cdc_pg_xsnap_unseen(&s, &r)); /* empty */
    for (uint32_t x = 1; x <= 900; x++)
        cdc_pg_recent_add(&r, x);
    assert_int_equal(0, cdc_pg_xsnap_unseen(&s, &r));
    cdc_pg_recent_add(&r, 1500); /* read from the stream, not yet visible */
    assert_int_equal(1500, cdc_pg_xsnap_unseen(&s, &r));
    assert_true(cdc_pg_xsnap_parse(&s, "1600:2000:"));
    assert_int_equal(0, cdc_pg_xsnap_unseen(&s, &r)); /* visible now */
    cdc_pg_recent_add(&r, 2500);
    assert_int_equal(2500, cdc_pg_xsnap_unseen(&s, &r));
    /* the ring keeps the newest CDC_PG_RECENT_XIDS: 2500 leaves it */
    for (uint32_t i = 0; i < CDC_PG_RECENT_XIDS; i++)
        cdc_pg_recent_add(&r, 10 + i % 100);
    assert_int_equal(CDC_PG_RECENT_XIDS, r.n);
    assert_int_equal(0, cdc_pg_xsnap_unseen(&s, &r));
    cdc_pg_xsnap_free(&s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_invisible),
        cmocka_unit_test(test_recent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

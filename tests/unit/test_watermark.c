/* Snapshot watermarks: a chunk is emitted at its own high watermark after its low one, never at
 * a watermark of an earlier run that the stream replays (same chunk number, other nonce), nor
 * at an earlier chunk's; keys changed between the two are reported. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cdc/buf.h"
#include "cdc/watermark.h"

static bool
read_label(cdc_wm_t *w, const char *label)
{
    return cdc_wm_read(w, label, strlen(label));
}

static void
test_own_watermarks(void **state)
{
    (void)state;
    cdc_wm_t w = {0};
    cdc_wm_start(&w);
    cdc_wm_next(&w);
    char low[64], high[64];
    cdc_wm_label(&w, 'L', low, sizeof(low));
    cdc_wm_label(&w, 'H', high, sizeof(high));
    assert_false(read_label(&w, high)); /* a high watermark before its low one */
    assert_false(cdc_wm_tracking(&w));
    assert_false(read_label(&w, low));
    assert_true(cdc_wm_tracking(&w));
    cdc_wm_track(&w, cdc_xstrdup("7\x1f"));
    assert_true(cdc_wm_changed(&w, "7\x1f"));
    assert_false(cdc_wm_changed(&w, "8\x1f"));
    assert_true(read_label(&w, high));
    assert_false(cdc_wm_tracking(&w));
    assert_false(read_label(&w, high)); /* once */
    cdc_wm_free(&w);
}

static void
test_earlier_run_never_matches(void **state)
{
    (void)state;
    cdc_wm_t old = {0}, w = {0};
    cdc_wm_start(&old);
    cdc_wm_next(&old);
    cdc_wm_start(&w);
    cdc_wm_next(&w);
    assert_int_equal(old.seq, w.seq);
    assert_true(old.nonce != w.nonce);
    char low[64], high[64];
    cdc_wm_label(&old, 'L', low, sizeof(low));
    cdc_wm_label(&old, 'H', high, sizeof(high));
    assert_false(read_label(&w, low));
    assert_false(read_label(&w, high));
    assert_false(cdc_wm_tracking(&w));
    /* an earlier chunk of this run */
    cdc_wm_label(&w, 'L', low, sizeof(low));
    cdc_wm_next(&w);
    assert_false(read_label(&w, low));
    assert_false(read_label(&w, "garbage"));
    cdc_wm_free(&old);
    cdc_wm_free(&w);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_own_watermarks),
        cmocka_unit_test(test_earlier_run_never_matches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

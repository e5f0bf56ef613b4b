/* Topic names of the contract: _xHH escaping per name part, length limit, internal topics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "cdc/topic.h"

static void
expect_topic(const char *schema, const char *table, const char *want)
{
    cdc_buf_t b;
    cdc_errstr_t es = {{0}};
    cdc_buf_init(&b);
    assert_int_equal(cdc_topic_for_table(&b, "cdc", "crm", schema, table, &es), CDC_OK);
    assert_string_equal(b.data, want);
    cdc_buf_deinit(&b);
}

static void
test_escaping(void **state)
{
    expect_topic("public", "contacts", "cdc.crm.public.contacts");
    expect_topic("public", "Order Lines", "cdc.crm.public.Order_x20Lines");
    expect_topic("my.schema", "t", "cdc.crm.my_x2eschema.t");
    expect_topic("public", "caf\xC3\xA9", "cdc.crm.public.caf_xc3_xa9");
    expect_topic("public", "a_b-c", "cdc.crm.public.a_b-c");
    expect_topic("public", "x/y\"z", "cdc.crm.public.x_x2fy_x22z");
}

static void
test_too_long_and_empty(void **state)
{
    char table[300];
    memset(table, 'a', sizeof(table) - 1);
    table[sizeof(table) - 1] = '\0';
    cdc_buf_t b;
    cdc_errstr_t es = {{0}};
    cdc_buf_init(&b);
    assert_int_equal(cdc_topic_for_table(&b, "cdc", "crm", "public", table, &es), CDC_ERR_TOOBIG);
    assert_non_null(strstr(es.msg, "topic override"));
    assert_int_equal(cdc_topic_for_table(&b, "cdc", "crm", "", "t", &es), CDC_ERR_INVAL);
    cdc_buf_deinit(&b);
}

static void
test_internal_topics(void **state)
{
    cdc_buf_t b;
    cdc_buf_init(&b);
    cdc_topic_internal(&b, "cdc", "offsets", NULL);
    assert_string_equal(b.data, "cdc._offsets");
    cdc_topic_internal(&b, "cdc", "dlq", "erp");
    assert_string_equal(b.data, "cdc._dlq.erp");
    cdc_buf_deinit(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_too_long_and_empty),
        cmocka_unit_test(test_internal_topics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

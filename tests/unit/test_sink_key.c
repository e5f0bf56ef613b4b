/* A sink's key check (agent/sink/sink_route.c, cdc_sink_check_columns): a key named by the event
 * must be one of the target table's unique keys, column for column, or the record is refused;
 * the route's own key is the configuration's and stands. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cdc/sink.h"

/* Table public.t (id, status, email, a, b): primary key (id), unique (email), unique (b, a). */
static void
table(cdc_sink_table_t *tt, bool with_keys)
{
    memset(tt, 0, sizeof(*tt));
    tt->schema = "public";
    tt->table = "t";
    const char *cols[] = {"id", "status", "email", "a", "b"};
    for (size_t i = 0; i < 5; i++)
        cdc_sink_table_add(tt, cols[i], "text");
    if (!with_keys)
        return;
    cdc_sink_table_add_key(tt, true, "id");
    cdc_sink_table_add_key(tt, true, "email");
    cdc_sink_table_add_key(tt, true, "b");
    cdc_sink_table_add_key(tt, false, "a");
    cdc_sink_table_add_key(tt, true, "no_such_column"); /* a key no event can match */
    cdc_sink_table_add_key(tt, false, "status");
}

static void
table_free(cdc_sink_table_t *tt)
{
    cdc_sink_tables_t ts = {.v = cdc_xcalloc(1, sizeof(*tt)), .n = 1};
    ts.v[0] = *tt;
    ts.v[0].schema = cdc_xstrdup(tt->schema);
    ts.v[0].table = cdc_xstrdup(tt->table);
    cdc_sink_tables_free(&ts);
}

/* A delete of the row with these key columns (each the value "1"); err from the check. */
static cdc_err_t
check(const cdc_sink_table_t *tt, const cdc_route_conf_t *route, const char *const *names, size_t n,
      cdc_errstr_t *es)
{
    cdc_column_t key[4];
    for (size_t i = 0; i < n; i++)
        key[i] = (cdc_column_t){names[i], cdc_value_str(CDC_VAL_NUMBER, "1", 1)};
    cdc_sink_row_t row = {.route = route,
                          .schema = "public",
                          .table = "t",
                          .is_delete = true,
                          .key = key,
                          .n_key = n};
    const char *types[8] = {0};
    memset(es, 0, sizeof(*es));
    return cdc_sink_check_columns(&row, tt, types, NULL, es);
}

static void
test_event_key_must_be_a_unique_key(void **state)
{
    (void)state;
    cdc_sink_table_t tt;
    table(&tt, true);
    cdc_route_conf_t route = {.from = "crm.public.t"};
    cdc_errstr_t es;
    assert_int_equal(check(&tt, &route, (const char *[]){"id"}, 1, &es), CDC_OK);
    assert_int_equal(check(&tt, &route, (const char *[]){"email"}, 1, &es), CDC_OK);
    assert_int_equal(check(&tt, &route, (const char *[]){"a", "b"}, 2, &es), CDC_OK);
    /* a forged key over any column: refused as the record's fault (dead-lettered) */
    assert_int_equal(check(&tt, &route, (const char *[]){"status"}, 1, &es), CDC_ERR_DATA);
    assert_non_null(strstr(es.msg, "key (status) is not a unique key of target table public.t"));
    assert_non_null(strstr(es.msg, "its keys: id; email; b, a; ?, status"));
    /* part of a key, a key with more, or one column twice: refused too */
    assert_int_equal(check(&tt, &route, (const char *[]){"a"}, 1, &es), CDC_ERR_DATA);
    assert_int_equal(check(&tt, &route, (const char *[]){"id", "status"}, 2, &es), CDC_ERR_DATA);
    assert_int_equal(check(&tt, &route, (const char *[]){"a", "a"}, 2, &es), CDC_ERR_DATA);
    /* the route's own key comes from the configuration */
    char *route_key[] = {"status"};
    route.key = route_key;
    route.n_key = 1;
    assert_int_equal(check(&tt, &route, (const char *[]){"status"}, 1, &es), CDC_OK);
    table_free(&tt);
}

static void
test_table_without_a_key(void **state)
{
    (void)state;
    cdc_sink_table_t tt;
    table(&tt, false);
    cdc_route_conf_t route = {.from = "crm.public.t"};
    cdc_errstr_t es;
    assert_int_equal(check(&tt, &route, (const char *[]){"id"}, 1, &es), CDC_ERR_CONFIG);
    assert_non_null(strstr(es.msg, "has no primary key or unique index"));
    assert_non_null(strstr(es.msg, "give the route a key"));
    table_free(&tt);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_key_must_be_a_unique_key),
        cmocka_unit_test(test_table_without_a_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

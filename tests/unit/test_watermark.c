/* Snapshot watermarks: a chunk is emitted at its own high watermark after its low one, never at
 * a watermark of an earlier run that the stream replays (same chunk number, other nonce), nor
 * at an earlier chunk's; keys changed between the two are reported. The re-snapshot queue:
 * requests in order, refusals kept with their reason, progress and outcome carried by the commit
 * that changed them and restored from it, tables added to the config queued once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
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

static char *t_tables[] = {"public.a", "public.b", "public.c"};
static cdc_source_conf_t t_conf = {.name = "crm", .tables = t_tables, .n_tables = 2};

/* What the next commit carries (NULL: nothing to carry). */
static char *
commit(cdc_wm_t *w)
{
    cdc_txn_info_t info = {0};
    cdc_wm_commit_info(w, "crm", &info);
    return info.resnap ? cdc_xstrdup(info.resnap) : NULL;
}

static void
test_queue_requests(void **state)
{
    (void)state;
    cdc_wm_t w = {0};
    cdc_wm_restore(&w, NULL, &t_conf, true);
    assert_false(cdc_wm_active(&w));
    assert_false(cdc_wm_must_commit(&w)); /* the next commit takes the tables along, none is due */
    char *first = commit(&w);             /* a first start records the tables it covers */
    assert_non_null(first);
    assert_string_equal(first, "{\"done\":[],\"queue\":[],\"tables\":[\"public.a\",\"public.b\"]}");
    free(first);
    assert_null(commit(&w)); /* nothing changed since */
    assert_true(cdc_wm_request(&w, &t_conf, "public.b", "r1"));
    assert_true(cdc_wm_must_commit(&w)); /* a request: its transaction must reach the agent */
    assert_true(cdc_wm_request(&w, &t_conf, "public.a", "r2"));
    assert_false(cdc_wm_request(&w, &t_conf, "public.zz", "r3"));
    assert_true(cdc_wm_active(&w));
    assert_int_equal(1, cdc_wm_head(&w, &t_conf)); /* public.b, in request order */
    cdc_wm_head_advance(&w, "crm", 10000, cdc_xstrdup("{\"after\":[\"10000\"]}"));
    char *mid = commit(&w);
    assert_non_null(strstr(mid,
                           "{\"id\":\"r1\",\"progress\":{\"after\":[\"10000\"]},\"rows\":10000,"
                           "\"table\":\"public.b\"}"));
    assert_non_null(strstr(mid, "\"error\":\"the table is not one of the source's tables"));
    /* a restart resumes from what the commit carried */
    cdc_wm_t again = {0};
    cdc_wm_restore(&again, mid, &t_conf, true);
    assert_int_equal(2, again.n_queue);
    assert_int_equal(10000, again.queue[0].rows);
    assert_string_equal("{\"after\":[\"10000\"]}", again.queue[0].progress);
    assert_int_equal(1, again.n_done);
    assert_null(commit(&again));                  /* restored as it was: nothing to carry */
    cdc_wm_head_advance(&again, "crm", 42, NULL); /* public.b done */
    assert_int_equal(0, cdc_wm_head(&again, &t_conf));
    cdc_wm_head_advance(&again, "crm", 7, NULL);
    char *end = commit(&again);
    assert_non_null(strstr(end, "{\"id\":\"r1\",\"rows\":10042,\"table\":\"public.b\"}"));
    assert_non_null(strstr(end, "{\"id\":\"r2\",\"rows\":7,\"table\":\"public.a\"}"));
    assert_non_null(strstr(end, "\"queue\":[]"));
    assert_false(cdc_wm_active(&again));
    free(mid);
    free(end);
    cdc_wm_free(&again);
    cdc_wm_free(&w);
}

static void
test_request_text(void **state)
{
    (void)state;
    cdc_wm_t w = {0};
    cdc_wm_restore(&w, NULL, &t_conf, true);
    const char *other = "{\"id\":\"x1\",\"snapshot\":\"public.a\",\"source\":\"erp\"}",
               *bad = "{\"id\":\"x2\"",
               *ours = "{\"id\":\"x3\",\"snapshot\":\"public.b\",\"source\":\"crm\"}";
    cdc_wm_request_text(&w, &t_conf, other, strlen(other)); /* another source's */
    cdc_wm_request_text(&w, &t_conf, bad, strlen(bad));
    assert_int_equal(0, w.n_queue);
    cdc_wm_request_text(&w, &t_conf, ours, strlen(ours));
    assert_int_equal(1, w.n_queue);
    assert_string_equal("public.b", w.queue[0].table);
    assert_string_equal("x3", w.queue[0].id);
    cdc_wm_free(&w);
}

static void
test_queue_added_tables(void **state)
{
    (void)state;
    const char *stored = "{\"done\":[],\"queue\":[],\"tables\":[\"public.a\",\"public.gone\"]}";
    cdc_source_conf_t conf = t_conf;
    conf.n_tables = 3;
    cdc_wm_t w = {0};
    cdc_wm_restore(&w, stored, &conf, true);
    assert_int_equal(2, w.n_queue); /* public.b and public.c were added */
    assert_string_equal("public.b", w.queue[0].table);
    assert_string_equal("", w.queue[0].id);
    assert_true(cdc_wm_active(&w));
    char *rec = commit(&w);
    assert_non_null(strstr(rec, "\"tables\":[\"public.a\",\"public.b\",\"public.c\"]"));
    cdc_wm_t next = {0}; /* restarting from that record queues nothing new */
    cdc_wm_restore(&next, rec, &conf, true);
    assert_int_equal(2, next.n_queue);
    assert_null(commit(&next));
    cdc_wm_free(&next);
    cdc_wm_t never = {0}; /* snapshot: never: recorded, not snapshotted */
    cdc_wm_restore(&never, stored, &conf, false);
    assert_int_equal(0, never.n_queue);
    assert_false(cdc_wm_active(&never));
    free(rec);
    cdc_wm_free(&never);
    cdc_wm_free(&w);
}

static void
test_queue_bounded(void **state)
{
    (void)state;
    cdc_wm_t w = {0};
    cdc_wm_restore(&w, "{\"done\":[],\"queue\":[],\"tables\":[\"public.a\",\"public.b\"]}", &t_conf,
                   true);
    char id[32];
    for (int i = 0; i < CDC_WM_MAX_QUEUE; i++) {
        snprintf(id, sizeof(id), "q%d", i);
        assert_true(cdc_wm_request(&w, &t_conf, "public.a", id));
    }
    assert_false(cdc_wm_request(&w, &t_conf, "public.a", "over"));
    for (int i = 0; i < CDC_WM_MAX_QUEUE; i++)
        cdc_wm_head_advance(&w, "crm", 1, NULL);
    assert_int_equal(CDC_WM_KEEP_DONE, w.n_done); /* the last ones */
    char *rec = commit(&w);
    assert_true(strlen(rec) <= CDC_WM_STATE_MAX);
    assert_non_null(strstr(rec, "\"id\":\"q15\""));
    assert_null(strstr(rec, "\"id\":\"over\""));
    free(rec);
    cdc_wm_free(&w);
}

static void
test_queue_many_tables(void **state)
{
    (void)state;
    enum { N = 600 };
    char **names = cdc_xcalloc(N, sizeof(char *));
    for (int i = 0; i < N; i++) {
        names[i] = cdc_xcalloc(64, 1);
        snprintf(names[i], 64, "public.a_rather_long_table_name_%04d", i);
    }
    cdc_source_conf_t conf = {.name = "crm", .tables = names, .n_tables = N};
    cdc_wm_t w = {0};
    cdc_wm_restore(&w, NULL, &conf, true);
    assert_true(cdc_wm_request(&w, &conf, names[7], "r1"));
    char *rec = commit(&w);
    assert_true(strlen(rec) <= CDC_WM_STATE_MAX); /* the list went, the request stayed */
    assert_non_null(strstr(rec, "\"tables_omitted\":true"));
    assert_non_null(strstr(rec, "\"id\":\"r1\""));
    cdc_wm_t next = {0};
    cdc_wm_restore(&next, rec, &conf, true);
    assert_int_equal(1, next.n_queue); /* every table counts as covered: nothing else queued */
    assert_int_equal(N, next.n_tables);
    free(rec);
    cdc_wm_free(&next);
    cdc_wm_free(&w);
    for (int i = 0; i < N; i++)
        free(names[i]);
    free(names);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_own_watermarks),     cmocka_unit_test(test_earlier_run_never_matches),
        cmocka_unit_test(test_queue_requests),     cmocka_unit_test(test_request_text),
        cmocka_unit_test(test_queue_added_tables), cmocka_unit_test(test_queue_bounded),
        cmocka_unit_test(test_queue_many_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

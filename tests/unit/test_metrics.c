/* The metrics registry: series found again by name and labels, label values escaped, the text
 * exposition format (HELP and TYPE once per family, histogram buckets cumulative with +Inf, _sum
 * and _count), and readiness from cdc_up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cdc/metrics.h"

static void
test_render(void **state)
{
    (void)state;
    cdc_buf_t l, out;
    cdc_buf_init(&l);
    cdc_buf_init(&out);
    cdc_metric_labels(&l, "source", "crm \"x\"\\", "op", "c", (const char *)NULL);
    assert_string_equal(l.data, "source=\"crm \\\"x\\\"\\\\\",op=\"c\"");
    cdc_metric_t *c = cdc_metric_counter("t_events_total", "Events", l.data);
    assert_ptr_equal(c, cdc_metric_counter("t_events_total", "Events", l.data));
    cdc_metric_add(c, 3);
    cdc_metric_add(c, 4);
    assert_true(cdc_metric_value(c) == 7);
    cdc_metric_labels(&l, "source", "erp", "op", "c", (const char *)NULL);
    cdc_metric_add(cdc_metric_counter("t_events_total", "Events", l.data), 1);
    cdc_metric_t *g = cdc_metric_gauge("t_lag_seconds", "Lag", "");
    cdc_metric_set(g, 1.5);
    cdc_metric_t *h = cdc_metric_histogram("t_batch_seconds", "Batches", "sink=\"s\"");
    cdc_metric_observe(h, 0.003);
    cdc_metric_observe(h, 0.2);
    cdc_metric_observe(h, 100);
    cdc_metrics_render(&out);
    const char *t = out.data;
    assert_non_null(strstr(t, "# HELP t_events_total Events\n# TYPE t_events_total counter\n"));
    assert_non_null(strstr(t, "t_events_total{source=\"crm \\\"x\\\"\\\\\",op=\"c\"} 7\n"));
    assert_non_null(strstr(t, "t_events_total{source=\"erp\",op=\"c\"} 1\n"));
    char *first = strstr(t, "# TYPE t_events_total");
    assert_null(strstr(first + 1, "# TYPE t_events_total")); /* once per family */
    assert_non_null(strstr(t, "# TYPE t_lag_seconds gauge\nt_lag_seconds 1.5\n"));
    assert_non_null(strstr(t, "t_batch_seconds_bucket{sink=\"s\",le=\"0.001\"} 0\n"));
    assert_non_null(strstr(t, "t_batch_seconds_bucket{sink=\"s\",le=\"0.005\"} 1\n"));
    assert_non_null(strstr(t, "t_batch_seconds_bucket{sink=\"s\",le=\"0.25\"} 2\n"));
    assert_non_null(strstr(t, "t_batch_seconds_bucket{sink=\"s\",le=\"60\"} 2\n"));
    assert_non_null(strstr(t, "t_batch_seconds_bucket{sink=\"s\",le=\"+Inf\"} 3\n"));
    assert_non_null(strstr(t, "t_batch_seconds_sum{sink=\"s\"} 100.203\n"));
    assert_non_null(strstr(t, "t_batch_seconds_count{sink=\"s\"} 3\n"));
    cdc_buf_deinit(&l);
    cdc_buf_deinit(&out);
}

static void
test_ready(void **state)
{
    (void)state;
    cdc_buf_t down;
    cdc_buf_init(&down);
    assert_false(cdc_metrics_ready(&down, NULL)); /* nothing registered */
    cdc_metrics_up("source", "crm", true);
    cdc_metrics_up("sink", "erp", false);
    cdc_buf_reset(&down);
    assert_false(cdc_metrics_ready(&down, NULL));
    assert_string_equal(down.data, "component=\"sink\",name=\"erp\"\n");
    cdc_metrics_up("sink", "erp", true);
    assert_true(cdc_metrics_ready(NULL, NULL));
    /* a standby waiting for the active instance's lock is not down (agent.ha) */
    cdc_buf_t standby;
    cdc_buf_init(&standby);
    cdc_metrics_up("sink", "erp", false);
    cdc_metrics_standby("sink", "erp", true);
    cdc_buf_reset(&down);
    assert_true(cdc_metrics_ready(&down, &standby));
    assert_string_equal(standby.data, "component=\"sink\",name=\"erp\"\n");
    cdc_metrics_standby("sink", "erp", false); /* no longer waiting, and not up: down */
    assert_false(cdc_metrics_ready(NULL, NULL));
    cdc_metrics_up("sink", "erp", true);
    assert_true(cdc_metrics_ready(NULL, NULL));
    cdc_buf_deinit(&standby);
    cdc_buf_deinit(&down);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_ready),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    cdc_metrics_free();
    return rc;
}

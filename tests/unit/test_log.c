/*
 * JSON log lines: the message's key=value pairs and the thread's component become fields beside
 * msg (integers as numbers, trailing punctuation dropped, the first of a repeated key kept), and
 * the line stays one valid JSON object whatever the message holds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "cdc/log.h"

/* The JSON object of the one line a log call writes (stderr captured in a temp file). */
static json_t *
logged(void (*write)(void))
{
    char path[] = "/tmp/cdc-test-log-XXXXXX";
    int fd = mkstemp(path);
    int saved = dup(2);
    fflush(stderr);
    dup2(fd, 2);
    write();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char buf[4096] = "";
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    close(fd);
    unlink(path);
    assert_true(n > 0 && buf[n - 1] == '\n');
    json_error_t e;
    json_t *v = json_loads(buf, 0, &e);
    if (!v)
        fail_msg("not JSON (%s): %s", e.text, buf);
    return v;
}

static void
write_fields(void)
{
    CDC_LOG_INFO("source=crm snapshot progress table=public.contacts rows=120000 pct=24 "
                 "rate=4000/s lsn=0/16B3748, offset=-3 note=\"q\" (exit=0)");
}

static void
test_message_pairs_become_fields(void **state)
{
    json_t *v = logged(write_fields);
    assert_string_equal(json_string_value(json_object_get(v, "level")), "info");
    assert_non_null(strstr(json_string_value(json_object_get(v, "msg")), "snapshot progress"));
    assert_string_equal(json_string_value(json_object_get(v, "source")), "crm");
    assert_string_equal(json_string_value(json_object_get(v, "table")), "public.contacts");
    assert_int_equal(json_integer_value(json_object_get(v, "rows")), 120000);
    assert_string_equal(json_string_value(json_object_get(v, "rate")), "4000/s");
    assert_string_equal(json_string_value(json_object_get(v, "lsn")), "0/16B3748");
    assert_int_equal(json_integer_value(json_object_get(v, "offset")), -3);
    assert_string_equal(json_string_value(json_object_get(v, "note")), "\"q\"");
    assert_int_equal(json_integer_value(json_object_get(v, "exit")), 0);
    json_decref(v);
}

static void
write_context(void)
{
    cdc_log_context("sink", "erp");
    CDC_LOG_WARN("retrying batch attempt=2 ts=x level=y msg=z sink=other");
    cdc_log_context(NULL, NULL);
}

static void
test_context_and_reserved_names(void **state)
{
    json_t *v = logged(write_context);
    assert_string_equal(json_string_value(json_object_get(v, "level")), "warn");
    assert_string_equal(json_string_value(json_object_get(v, "sink")), "other"); /* message first */
    assert_int_equal(json_integer_value(json_object_get(v, "attempt")), 2);
    assert_non_null(strstr(json_string_value(json_object_get(v, "msg")), "retrying batch"));
    assert_true(json_string_length(json_object_get(v, "ts")) >= 20); /* the line's own ts */
    json_decref(v);
}

static void
write_thread_context(void)
{
    cdc_log_context("source", "crm");
    CDC_LOG_ERROR("stopped: \"quoted\" \\ back\tslash");
    cdc_log_context(NULL, NULL);
}

static void
test_context_field_and_awkward_text(void **state)
{
    json_t *v = logged(write_thread_context);
    assert_string_equal(json_string_value(json_object_get(v, "source")), "crm");
    assert_string_equal(json_string_value(json_object_get(v, "msg")),
                        "stopped: \"quoted\" \\ back\tslash");
    json_decref(v);
}

int
main(void)
{
    cdc_log_setup(CDC_LOG_FORMAT_JSON, CDC_LOG_DEBUG);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_message_pairs_become_fields),
        cmocka_unit_test(test_context_and_reserved_names),
        cmocka_unit_test(test_context_field_and_awkward_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

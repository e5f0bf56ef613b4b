/* Command-line parsing: every command of the contract, and usage errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "cdc/cli.h"

static cdc_err_t
parse(cdc_cli_t *o, cdc_errstr_t *es, ...)
{
    char *argv[32];
    int argc = 0;
    va_list ap;
    va_start(ap, es);
    argv[argc++] = "cdc-agent";
    for (char *a; (a = va_arg(ap, char *));)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    return cdc_cli_parse(argc, argv, o, es);
}

static void
test_valid_commands(void **state)
{
    cdc_cli_t o;
    cdc_errstr_t es;
    assert_int_equal(parse(&o, &es, "run", "-c", "a.yaml", NULL), CDC_OK);
    assert_int_equal(o.cmd, CDC_CMD_RUN);
    assert_string_equal(o.config, "a.yaml");
    assert_int_equal(parse(&o, &es, "check", "--config=b.yaml", NULL), CDC_OK);
    assert_int_equal(o.cmd, CDC_CMD_CHECK);
    assert_int_equal(parse(&o, &es, "offsets", "show", "-c", "a", "--json", NULL), CDC_OK);
    assert_true(o.cmd == CDC_CMD_OFFSETS_SHOW && o.json);
    assert_int_equal(parse(&o, &es, "offsets", "set", "-c", "a", "--sink", "erp", "--offset",
                           "cdc.crm.public.t:3:100", NULL),
                     CDC_OK);
    assert_string_equal(o.topic, "cdc.crm.public.t");
    assert_int_equal(o.partition, 3);
    assert_int_equal(o.offset, 100);
    assert_int_equal(parse(&o, &es, "replay", "-c", "a", "--sink", "erp", "--from-timestamp",
                           "2026-11-25T12:00:00.5+01:00", "--table", "t", "--dry-run", NULL),
                     CDC_OK);
    assert_int_equal(o.from_ts_ms, 1795604400500LL);
    assert_true(o.dry_run);
    assert_int_equal(
        parse(&o, &es, "snapshot", "-c", "a", "--source", "crm", "--table", "public.t", NULL),
        CDC_OK);
    assert_int_equal(parse(&o, &es, "duplicates", "-c", "a", "--source", "crm", "--table",
                           "public.t", "--match", "email,phone", "--json", NULL),
                     CDC_OK);
    assert_true(o.cmd == CDC_CMD_DUPLICATES && o.json);
    assert_string_equal(o.match, "email,phone");
    assert_int_equal(parse(&o, &es, "source", "drop", "-c", "a", "--source", "crm", "--yes", NULL),
                     CDC_OK);
    assert_true(o.cmd == CDC_CMD_SOURCE_DROP && o.yes);
    assert_int_equal(parse(&o, &es, "version", NULL), CDC_OK);
    assert_int_equal(o.cmd, CDC_CMD_VERSION);
    assert_int_equal(parse(&o, &es, "--help", NULL), CDC_OK);
    assert_int_equal(o.cmd, CDC_CMD_HELP);
    assert_int_equal(parse(&o, &es, "run", "--help", NULL), CDC_OK);
    assert_int_equal(o.cmd, CDC_CMD_HELP);
}

static void
expect_usage_error(const char *part, ...)
{
    char *argv[32];
    int argc = 0;
    va_list ap;
    va_start(ap, part);
    argv[argc++] = "cdc-agent";
    for (char *a; (a = va_arg(ap, char *));)
        argv[argc++] = a;
    va_end(ap);
    cdc_cli_t o;
    cdc_errstr_t es = {{0}};
    assert_int_equal(cdc_cli_parse(argc, argv, &o, &es), CDC_ERR_INVAL);
    assert_non_null(strstr(es.msg, part));
}

static void
test_usage_errors(void **state)
{
    expect_usage_error("missing command", NULL);
    expect_usage_error("unknown command 'frobnicate'", "frobnicate", NULL);
    expect_usage_error("missing -c FILE", "run", NULL);
    expect_usage_error("unknown option", "run", "-c", "a", "--bogus", NULL);
    expect_usage_error("does not take --json", "run", "-c", "a", "--json", NULL);
    expect_usage_error("unexpected argument 'extra'", "check", "-c", "a", "extra", NULL);
    expect_usage_error("needs a subcommand", "offsets", "-c", "a", NULL);
    expect_usage_error("exactly one of", "replay", "-c", "a", "--sink", "s", NULL);
    expect_usage_error("exactly one of", "replay", "-c", "a", "--sink", "s", "--from-timestamp",
                       "2026-01-01", "--from-offset", "t:0:1", NULL);
    expect_usage_error("expected ISO-8601", "replay", "-c", "a", "--sink", "s", "--from-timestamp",
                       "yesterday", NULL);
    expect_usage_error("TOPIC:PARTITION:OFFSET", "replay", "-c", "a", "--sink", "s",
                       "--from-offset", "t:x:1", NULL);
    expect_usage_error("--source NAME and --table", "snapshot", "-c", "a", "--source", "c", NULL);
    expect_usage_error("--table T and --match COLS", "duplicates", "-c", "a", "--source", "c",
                       "--table", "public.t", NULL);
    expect_usage_error("duplicates does not take", "duplicates", "-c", "a", "--sink", "s", NULL);
    expect_usage_error("either --sink or --source", "offsets", "set", "-c", "a", NULL);
    expect_usage_error("needs --source", "source", "drop", "-c", "a", NULL);
    expect_usage_error("missing value", "run", "-c", NULL);
    expect_usage_error("takes no options", "version", "-c", "a", NULL);
}

static void
test_timestamps(void **state)
{
    int64_t ms;
    assert_true(cdc_cli_parse_timestamp("1970-01-01", &ms));
    assert_int_equal(ms, 0);
    assert_true(cdc_cli_parse_timestamp("2026-11-25T12:00:00Z", &ms));
    assert_int_equal(ms, 1795608000000LL);
    assert_true(cdc_cli_parse_timestamp("2026-11-25 12:00:00.123456", &ms));
    assert_int_equal(ms, 1795608000123LL);
    assert_true(cdc_cli_parse_timestamp("2026-11-25T12:00:00-02:30", &ms));
    assert_int_equal(ms, 1795608000000LL + 9000000LL);
    assert_false(cdc_cli_parse_timestamp("2026-11-25T12:00", &ms));
    assert_false(cdc_cli_parse_timestamp("2026-11-25T12:00:00.Z", &ms));
    assert_false(cdc_cli_parse_timestamp("2026-11-25T12:00:00Zjunk", &ms));
    /* dates and times that do not exist are refused, not carried into the next month or day */
    assert_false(cdc_cli_parse_timestamp("2026-02-31", &ms));
    assert_false(cdc_cli_parse_timestamp("2026-02-29T00:00:00Z", &ms));
    assert_true(cdc_cli_parse_timestamp("2028-02-29T00:00:00Z", &ms));
    assert_false(cdc_cli_parse_timestamp("2026-04-31T12:00:00Z", &ms));
    assert_false(cdc_cli_parse_timestamp("2026-11-25T24:00:00Z", &ms));
}

static void
test_topic_partition_offset(void **state)
{
    char topic[64];
    int32_t p;
    int64_t o;
    assert_true(cdc_cli_parse_tpo("cdc.crm.public.t-1_x:1:2", topic, sizeof(topic), &p, &o));
    assert_string_equal(topic, "cdc.crm.public.t-1_x");
    assert_int_equal(p, 1);
    assert_int_equal(o, 2);
    /* a topic name has Kafka's characters only; the numbers digits only (strtol took a space
     * or a sign: "topic: 0:1" moved the offset of topic "topic") */
    assert_false(cdc_cli_parse_tpo("a:b:1:2", topic, sizeof(topic), &p, &o));
    assert_false(cdc_cli_parse_tpo("topic: 0:1", topic, sizeof(topic), &p, &o));
    assert_false(cdc_cli_parse_tpo("t:+1:5", topic, sizeof(topic), &p, &o));
    assert_false(cdc_cli_parse_tpo("t:1: 5", topic, sizeof(topic), &p, &o));
    assert_false(cdc_cli_parse_tpo("t:1:5 ", topic, sizeof(topic), &p, &o));
    assert_false(cdc_cli_parse_tpo("t:2147483648:5", topic, sizeof(topic), &p, &o));
    assert_false(cdc_cli_parse_tpo("t:1:99999999999999999999", topic, sizeof(topic), &p, &o));
    assert_false(cdc_cli_parse_tpo(":1:2", topic, sizeof(topic), &p, &o));
    assert_false(cdc_cli_parse_tpo("t:1:", topic, sizeof(topic), &p, &o));
    assert_false(cdc_cli_parse_tpo("t:-1:5", topic, sizeof(topic), &p, &o));
    assert_false(cdc_cli_parse_tpo("t:1:-5", topic, sizeof(topic), &p, &o));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_commands),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_timestamps),
        cmocka_unit_test(test_topic_partition_offset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Publisher start-up against the mock Kafka helper: stored offsets are found and handed to the
 * source as its resume position, and a topic whose partition count differs from the stored one is
 * refused (keys would change partitions and lose their order).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cdc/offsets.h"
#include "cdc/publisher.h"
#include "harness.h"

static harness_kafka_t k;

static int
setup(void **state)
{
    if (!harness_kafka_start(&k))
        return -1;
    return harness_kafka_cmd(&k, "topic cdc._offsets 1") &&
                   harness_kafka_cmd(&k, "topic cdc._schemas 1") &&
                   harness_kafka_cmd(&k, "topic cdc.crm.public.t 4")
               ? 0
               : -1;
}

static int
teardown(void **state)
{
    harness_kafka_stop(&k);
    return 0;
}

static cdc_config_t *
config(void)
{
    char yaml[2048];
    snprintf(
        yaml, sizeof(yaml),
        "agent: {name: pub-test}\nkafka: {brokers: \"%s\"}\nsources:\n"
        "  - {name: crm, type: postgresql, conninfo: \"host=127.0.0.1\", tables: [public.t]}\n",
        k.bootstrap);
    cdc_errstr_t es = {{0}};
    cdc_config_t *cfg = cdc_config_load_string("test.yaml", yaml, strlen(yaml), &es);
    if (!cfg)
        fail_msg("%s", es.msg);
    return cfg;
}

/* Writes an offsets record for source crm, as a previous run would have. */
static void
store_offsets(const cdc_config_t *cfg, int partitions, uint32_t idx)
{
    cdc_topic_parts_t topics[] = {{"cdc.crm.public.t", partitions}};
    cdc_offsets_t o = {.found = true,
                       .pos = {1, CDC_PHASE_STREAM, 0x5000, 0, idx},
                       .snapshot_done = true,
                       .topics = topics,
                       .n_topics = 1};
    cdc_buf_t v;
    cdc_buf_init(&v);
    cdc_offsets_encode(&v, "crm", &o);
    cdc_errstr_t es = {{0}};
    cdc_producer_t *p = cdc_producer_new(&cfg->kafka, k.bootstrap, "pub-test.writer", &es);
    assert_non_null(p);
    assert_int_equal(cdc_producer_init(p, 30000), CDC_OK);
    assert_int_equal(cdc_producer_begin(p), CDC_OK);
    cdc_record_t r = {.topic = "cdc._offsets",
                      .partition = 0,
                      .key = "crm",
                      .key_len = 3,
                      .value = v.data,
                      .value_len = v.len};
    assert_int_equal(cdc_producer_send(p, &r), CDC_OK);
    assert_int_equal(cdc_producer_commit(p, 30000), CDC_OK);
    cdc_producer_free(p);
    cdc_buf_deinit(&v);
}

static void
test_resume_from_stored_offsets(void **state)
{
    cdc_config_t *cfg = config();
    store_offsets(cfg, 4, 9);
    cdc_errstr_t es = {{0}};
    cdc_kafka_bus_t *bus = cdc_kafka_bus_new(&cfg->kafka, &es);
    assert_non_null(bus);
    cdc_source_resume_t resume;
    cdc_publisher_t *p = cdc_publisher_new(cfg, &cfg->sources[0], bus, &resume, &es);
    if (!p)
        fail_msg("%s", es.msg);
    assert_true(resume.has_pos);
    assert_int_equal(resume.pos.major, 0x5000);
    assert_int_equal(resume.pos.idx, 9);
    assert_true(resume.snapshot_done);
    cdc_publisher_free(p);

    /* the latest record says the topic had 8 partitions: refuse to start */
    store_offsets(cfg, 8, 10);
    assert_null(cdc_publisher_new(cfg, &cfg->sources[0], bus, &resume, &es));
    assert_non_null(strstr(es.msg, "topic cdc.crm.public.t has 4 partitions but had 8"));
    cdc_kafka_bus_free(bus);
    cdc_config_free(cfg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume_from_stored_offsets),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

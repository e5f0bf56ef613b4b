/* Kafka client configuration: contract settings, security pass-through, consistent size limits,
 * and errors that name the property but never its value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cdc/kafka.h"

static const char *
get(rd_kafka_conf_t *conf, const char *name, char *buf, size_t n)
{
    size_t len = n;
    assert_int_equal(rd_kafka_conf_get(conf, name, buf, &len), RD_KAFKA_CONF_OK);
    return buf;
}

static void
test_security_pass_through(void **state)
{
    cdc_kv_t props[] = {{"socket.keepalive.enable", "true"}, {"client.id", "cdc-test"}};
    cdc_kafka_conf_t kc = {.max_event_bytes = 1000000,
                           .security_protocol = "sasl_ssl",
                           .sasl_mechanism = "SCRAM-SHA-512",
                           .sasl_username = "agent",
                           .sasl_password = "s3cret",
                           .ssl_ca_location = "/etc/ssl/certs",
                           .properties = props,
                           .n_properties = 2};
    cdc_errstr_t es = {{0}};
    char buf[256];
    rd_kafka_conf_t *conf = cdc_kafka_conf_new(&kc, "k1:9092,k2:9092", CDC_KAFKA_PRODUCER, &es);
    assert_non_null(conf);
    assert_string_equal(get(conf, "bootstrap.servers", buf, sizeof(buf)), "k1:9092,k2:9092");
    assert_string_equal(get(conf, "security.protocol", buf, sizeof(buf)), "sasl_ssl");
    assert_string_equal(get(conf, "sasl.mechanisms", buf, sizeof(buf)), "SCRAM-SHA-512");
    assert_string_equal(get(conf, "sasl.username", buf, sizeof(buf)), "agent");
    assert_string_equal(get(conf, "sasl.password", buf, sizeof(buf)), "s3cret");
    assert_string_equal(get(conf, "ssl.ca.location", buf, sizeof(buf)), "/etc/ssl/certs");
    assert_string_equal(get(conf, "socket.keepalive.enable", buf, sizeof(buf)), "true");
    assert_string_equal(get(conf, "client.id", buf, sizeof(buf)), "cdc-test");
    rd_kafka_conf_destroy(conf);
}

/* What a producer may send, a consumer can always fetch. */
static void
test_sizes_are_consistent(void **state)
{
    cdc_kafka_conf_t kc = {.max_event_bytes = 8388608};
    cdc_errstr_t es = {{0}};
    char buf[64];
    rd_kafka_conf_t *p = cdc_kafka_conf_new(&kc, "k:9092", CDC_KAFKA_PRODUCER, &es);
    rd_kafka_conf_t *c = cdc_kafka_conf_new(&kc, "k:9092", CDC_KAFKA_CONSUMER, &es);
    assert_non_null(p);
    assert_non_null(c);
    long produce_max = atol(get(p, "message.max.bytes", buf, sizeof(buf)));
    assert_int_equal(produce_max, 8388608 + CDC_KAFKA_RECORD_OVERHEAD);
    /* a record larger than the fetch limits still comes (the first batch of a fetch comes
     * whole): what must hold it is the largest response the consumer accepts */
    assert_true(atol(get(c, "receive.message.max.bytes", buf, sizeof(buf))) > produce_max);
    assert_true(atol(get(c, "receive.message.max.bytes", buf, sizeof(buf))) >
                atol(get(c, "fetch.max.bytes", buf, sizeof(buf))));
    rd_kafka_conf_destroy(p);
    rd_kafka_conf_destroy(c);
}

/* A consumer's buffers come from its memory share (agent.memory_mb over the sinks), and what
 * kafka.properties sets wins. */
static void
test_consumer_memory_share(void **state)
{
    cdc_kafka_conf_t kc = {.max_event_bytes = 8388608, .consumer_memory_bytes = 32 << 20};
    cdc_errstr_t es = {{0}};
    char buf[64];
    rd_kafka_conf_t *c = cdc_kafka_conf_new(&kc, "k:9092", CDC_KAFKA_CONSUMER, &es);
    assert_non_null(c);
    assert_string_equal(get(c, "queued.max.messages.kbytes", buf, sizeof(buf)), "16384");
    assert_string_equal(get(c, "fetch.max.bytes", buf, sizeof(buf)), "8388608");
    assert_string_equal(get(c, "fetch.message.max.bytes", buf, sizeof(buf)), "1048576");
    rd_kafka_conf_destroy(c);
    cdc_kv_t props[] = {{"queued.max.messages.kbytes", "4096"}};
    kc.consumer_memory_bytes = 8 << 20;
    kc.properties = props;
    kc.n_properties = 1;
    c = cdc_kafka_conf_new(&kc, "k:9092", CDC_KAFKA_CONSUMER, &es);
    assert_non_null(c);
    assert_string_equal(get(c, "queued.max.messages.kbytes", buf, sizeof(buf)), "4096");
    assert_string_equal(get(c, "fetch.max.bytes", buf, sizeof(buf)), "2097152");
    assert_string_equal(get(c, "fetch.message.max.bytes", buf, sizeof(buf)), "262144");
    rd_kafka_conf_destroy(c);
}

static void
test_bad_property_named_not_its_value(void **state)
{
    cdc_kv_t props[] = {{"no.such.property", "hunter2"}};
    cdc_kafka_conf_t kc = {.max_event_bytes = 1000000, .properties = props, .n_properties = 1};
    cdc_errstr_t es = {{0}};
    assert_null(cdc_kafka_conf_new(&kc, "k:9092", CDC_KAFKA_PRODUCER, &es));
    assert_non_null(strstr(es.msg, "kafka property no.such.property"));
    assert_null(strstr(es.msg, "hunter2"));
}

static void
test_error_classification(void **state)
{
    assert_int_equal(cdc_kafka_classify_code(RD_KAFKA_RESP_ERR_PRODUCER_FENCED), CDC_ERR_FENCED);
    assert_int_equal(cdc_kafka_classify_code(RD_KAFKA_RESP_ERR__FENCED), CDC_ERR_FENCED);
    assert_int_equal(cdc_kafka_classify_code(RD_KAFKA_RESP_ERR__TIMED_OUT), CDC_ERR_TIMEOUT);
    assert_int_equal(cdc_kafka_classify_code(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE), CDC_ERR_TOOBIG);
    assert_int_equal(cdc_kafka_classify_code(RD_KAFKA_RESP_ERR_NO_ERROR), CDC_OK);
    assert_true(cdc_err_retriable(CDC_ERR_TIMEOUT));
    assert_false(cdc_err_retriable(CDC_ERR_FENCED));
    assert_string_equal(cdc_err_name(CDC_ERR_FENCED), "CDC_ERR_FENCED");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_security_pass_through),
        cmocka_unit_test(test_sizes_are_consistent),
        cmocka_unit_test(test_consumer_memory_share),
        cmocka_unit_test(test_bad_property_named_not_its_value),
        cmocka_unit_test(test_error_classification),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

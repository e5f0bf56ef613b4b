/*
 * Transactional produce and read_committed consume through the mock Kafka helper process:
 * commit, abort, fencing injected on EndTxn and on Produce (the mock never fences by itself),
 * size limits, a broker outage, and the embedded bus.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cdc/kafka.h"
#include "harness.h"

#define API_PRODUCE         0
#define API_END_TXN         26
#define ERR_PRODUCER_FENCED 90
#define ERR_CONCURRENT_TXNS 51

typedef struct {
    harness_kafka_t k;
    cdc_kafka_conf_t kc;
} fix_t;

static int
setup(void **state)
{
    static fix_t f;
    memset(&f, 0, sizeof(f));
    if (!harness_kafka_start(&f.k))
        return -1;
    f.kc.max_event_bytes = 65536;
    f.kc.compression = "lz4";
    f.kc.linger_ms = 5;
    *state = &f;
    return 0;
}

static int
teardown(void **state)
{
    fix_t *f = *state;
    harness_kafka_stop(&f->k);
    return 0;
}

static cdc_producer_t *
producer(fix_t *f, const char *txn_id)
{
    cdc_errstr_t es = {{0}};
    cdc_producer_t *p = cdc_producer_new(&f->kc, f->k.bootstrap, txn_id, &es);
    assert_non_null(p);
    assert_int_equal(cdc_producer_init(p, 30000), CDC_OK);
    return p;
}

static void
send_n(cdc_producer_t *p, const char *topic, int from, int n)
{
    for (int i = from; i < from + n; i++) {
        char key[32], val[64];
        int kl = snprintf(key, sizeof(key), "{\"id\":%d}", i);
        int vl = snprintf(val, sizeof(val), "{\"v\":%d}", i);
        cdc_header_t h[] = {{"cdc-op", "c", 1}, {"cdc-pos", key, (size_t)kl}};
        cdc_record_t r = {.topic = topic,
                          .partition = RD_KAFKA_PARTITION_UA,
                          .key = key,
                          .key_len = (size_t)kl,
                          .value = val,
                          .value_len = (size_t)vl,
                          .headers = h,
                          .n_headers = 2,
                          .timestamp_ms = 1700000000000LL + i};
        assert_int_equal(cdc_producer_send(p, &r), CDC_OK);
    }
}

/* Reads every partition to its end; returns records seen, and sets seen[v] for each value. */
static int
consume_all(fix_t *f, const char *topic, int parts, char *seen, int max)
{
    cdc_errstr_t es = {{0}};
    cdc_consumer_t *c = cdc_consumer_new(&f->kc, f->k.bootstrap, "test", &es);
    assert_non_null(c);
    for (int p = 0; p < parts; p++)
        assert_int_equal(cdc_consumer_assign(c, topic, p, RD_KAFKA_OFFSET_BEGINNING, &es), CDC_OK);
    int eof = 0, count = 0, idle = 0;
    while (eof < parts && idle < 100) {
        rd_kafka_message_t *m = cdc_consumer_poll(c, 100);
        if (!m) {
            idle++;
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            eof++;
        } else {
            assert_int_equal(m->err, 0);
            int v = -1;
            assert_int_equal(sscanf(m->payload, "{\"v\":%d}", &v), 1);
            assert_true(v >= 0 && v < max);
            seen[v]++;
            count++;
            rd_kafka_headers_t *hdrs = NULL;
            const void *hv;
            size_t hl;
            assert_int_equal(rd_kafka_message_headers(m, &hdrs), 0);
            assert_int_equal(rd_kafka_header_get_last(hdrs, "cdc-op", &hv, &hl), 0);
            assert_memory_equal(hv, "c", 1);
            rd_kafka_timestamp_type_t tt;
            assert_int_equal(rd_kafka_message_timestamp(m, &tt), 1700000000000LL + v);
        }
        rd_kafka_message_destroy(m);
    }
    assert_int_equal(eof, parts);
    cdc_consumer_free(c);
    return count;
}

static void
test_commit_is_visible(void **state)
{
    fix_t *f = *state;
    char seen[200] = {0};
    assert_true(harness_kafka_cmd(&f->k, "topic t.commit 8"));
    cdc_producer_t *p = producer(f, "test.commit");
    assert_int_equal(cdc_producer_begin(p), CDC_OK);
    send_n(p, "t.commit", 0, 200);
    assert_int_equal(cdc_producer_wait_delivered(p, 30000), CDC_OK);
    assert_int_equal(cdc_producer_delivered(p), 200);
    assert_int_equal(cdc_producer_commit(p, 30000), CDC_OK);
    cdc_producer_free(p);
    assert_int_equal(consume_all(f, "t.commit", 8, seen, 200), 200);
    for (int i = 0; i < 200; i++)
        assert_int_equal(seen[i], 1);
}

/* The mock hands aborted records to read_committed consumers (a real broker hides them): the
 * committed ones must all be there; correctness elsewhere never relies on the hiding. */
static void
test_abort_then_commit(void **state)
{
    fix_t *f = *state;
    char seen[20] = {0};
    assert_true(harness_kafka_cmd(&f->k, "topic t.abort 4"));
    cdc_producer_t *p = producer(f, "test.abort");
    assert_int_equal(cdc_producer_begin(p), CDC_OK);
    send_n(p, "t.abort", 0, 10);
    assert_int_equal(cdc_producer_wait_delivered(p, 30000), CDC_OK);
    assert_int_equal(cdc_producer_abort(p, 30000), CDC_OK);
    assert_int_equal(cdc_producer_begin(p), CDC_OK);
    send_n(p, "t.abort", 10, 5);
    assert_int_equal(cdc_producer_wait_delivered(p, 30000), CDC_OK);
    assert_int_equal(cdc_producer_commit(p, 30000), CDC_OK);
    cdc_producer_free(p);
    int n = consume_all(f, "t.abort", 4, seen, 20);
    assert_true(n == 5 || n == 15);
    for (int i = 10; i < 15; i++)
        assert_int_equal(seen[i], 1);
}

/* A commit that fails retriably (the coordinator answers "concurrent transactions" until the
 * call times out) is still in flight: it is resumed, not aborted and redone, so each record is
 * committed once and the producer goes on with the next transaction. */
static void
test_retriable_commit_is_resumed(void **state)
{
    fix_t *f = *state;
    char seen[20] = {0};
    assert_true(harness_kafka_cmd(&f->k, "topic t.resume 2"));
    cdc_producer_t *p = producer(f, "test.resume");
    assert_int_equal(cdc_producer_begin(p), CDC_OK);
    send_n(p, "t.resume", 0, 10);
    assert_int_equal(cdc_producer_wait_delivered(p, 30000), CDC_OK);
    char cmd[512];
    int n = snprintf(cmd, sizeof(cmd), "errors %d", API_END_TXN);
    for (int i = 0; i < 25; i++)
        n += snprintf(cmd + n, sizeof(cmd) - (size_t)n, " %d", ERR_CONCURRENT_TXNS);
    assert_true(harness_kafka_cmd(&f->k, "%s", cmd));
    assert_int_equal(cdc_producer_commit(p, 500), CDC_OK);
    assert_int_equal(cdc_producer_begin(p), CDC_OK);
    send_n(p, "t.resume", 10, 5);
    assert_int_equal(cdc_producer_wait_delivered(p, 30000), CDC_OK);
    assert_int_equal(cdc_producer_commit(p, 30000), CDC_OK);
    cdc_producer_free(p);
    assert_int_equal(consume_all(f, "t.resume", 2, seen, 20), 15);
    for (int i = 0; i < 15; i++)
        assert_int_equal(seen[i], 1);
}

static void
assert_stopped(cdc_producer_t *p)
{
    /* a fenced producer cannot start another transaction */
    cdc_err_t err = cdc_producer_begin(p);
    assert_true(err == CDC_ERR_FENCED || err == CDC_ERR_FATAL);
    cdc_producer_free(p);
}

static void
test_fenced_on_end_txn(void **state)
{
    fix_t *f = *state;
    assert_true(harness_kafka_cmd(&f->k, "topic t.fence1 2"));
    cdc_producer_t *p = producer(f, "test.fence1");
    assert_int_equal(cdc_producer_begin(p), CDC_OK);
    send_n(p, "t.fence1", 0, 3);
    assert_int_equal(cdc_producer_wait_delivered(p, 30000), CDC_OK);
    assert_true(harness_kafka_cmd(&f->k, "errors %d %d", API_END_TXN, ERR_PRODUCER_FENCED));
    assert_int_equal(cdc_producer_commit(p, 30000), CDC_ERR_FENCED);
    assert_non_null(strstr(cdc_producer_errstr(p), "another instance"));
    assert_stopped(p);
}

static void
test_fenced_on_produce(void **state)
{
    fix_t *f = *state;
    assert_true(harness_kafka_cmd(&f->k, "topic t.fence2 1"));
    cdc_producer_t *p = producer(f, "test.fence2");
    assert_int_equal(cdc_producer_begin(p), CDC_OK);
    assert_true(harness_kafka_cmd(&f->k, "errors %d %d %d %d", API_PRODUCE, ERR_PRODUCER_FENCED,
                                  ERR_PRODUCER_FENCED, ERR_PRODUCER_FENCED));
    send_n(p, "t.fence2", 0, 1);
    cdc_err_t err = cdc_producer_wait_delivered(p, 30000);
    assert_int_equal(err, CDC_ERR_FENCED);
    assert_stopped(p);
}

static void
test_event_too_large_is_refused(void **state)
{
    fix_t *f = *state;
    static char big[65536 + CDC_KAFKA_RECORD_OVERHEAD + 1024];
    memset(big, 'x', sizeof(big));
    assert_true(harness_kafka_cmd(&f->k, "topic t.big 1"));
    cdc_producer_t *p = producer(f, "test.big");
    assert_int_equal(cdc_producer_begin(p), CDC_OK);
    cdc_record_t r = {.topic = "t.big",
                      .partition = RD_KAFKA_PARTITION_UA,
                      .value = big,
                      .value_len = sizeof(big)};
    assert_int_equal(cdc_producer_send(p, &r), CDC_ERR_TOOBIG);
    assert_int_equal(cdc_producer_abort(p, 30000), CDC_OK);
    cdc_producer_free(p);
}

/* A broker outage mid-transaction: delivery waits, then the transaction commits. */
static void
test_broker_outage_recovers(void **state)
{
    fix_t *f = *state;
    char seen[50] = {0};
    assert_true(harness_kafka_cmd(&f->k, "topic t.outage 3"));
    cdc_producer_t *p = producer(f, "test.outage");
    assert_int_equal(cdc_producer_begin(p), CDC_OK);
    for (int b = 1; b <= 3; b++)
        assert_true(harness_kafka_cmd(&f->k, "down %d", b));
    send_n(p, "t.outage", 0, 50);
    assert_int_equal(cdc_producer_wait_delivered(p, 1500), CDC_ERR_TIMEOUT);
    for (int b = 1; b <= 3; b++)
        assert_true(harness_kafka_cmd(&f->k, "up %d", b));
    assert_int_equal(cdc_producer_wait_delivered(p, 60000), CDC_OK);
    assert_int_equal(cdc_producer_commit(p, 60000), CDC_OK);
    cdc_producer_free(p);
    assert_int_equal(consume_all(f, "t.outage", 3, seen, 50), 50);
}

static void
test_embedded_bus(void **state)
{
    cdc_kafka_conf_t kc = {.brokers = "embedded",
                           .embedded = true,
                           .max_event_bytes = 65536,
                           .compression = "lz4",
                           .replication_factor = -1};
    cdc_errstr_t es = {{0}};
    cdc_kafka_bus_t *bus = cdc_kafka_bus_new(&kc, &es);
    assert_non_null(bus);
    assert_true(cdc_kafka_bus_embedded(bus));
    int brokers = 0;
    assert_int_equal(cdc_kafka_bus_ping(bus, 10000, &brokers, &es), CDC_OK);
    assert_int_equal(brokers, 1); /* one broker: see cdc_kafka_bus_new */
    assert_int_equal(cdc_kafka_bus_create_topic(bus, "cdc._offsets", 1, true, &es), CDC_OK);
    cdc_kafka_bus_free(bus);
}

static void
test_unreachable_broker_is_named(void **state)
{
    cdc_kafka_conf_t kc = {.brokers = "127.0.0.1:1",
                           .max_event_bytes = 65536,
                           .compression = "lz4",
                           .replication_factor = -1};
    cdc_errstr_t es = {{0}};
    cdc_kafka_bus_t *bus = cdc_kafka_bus_new(&kc, &es);
    int brokers = 0;
    assert_int_equal(cdc_kafka_bus_ping(bus, 1500, &brokers, &es), CDC_ERR_CONNECT);
    assert_non_null(strstr(es.msg, "127.0.0.1:1"));
    cdc_kafka_bus_free(bus);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_commit_is_visible, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort_then_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retriable_commit_is_resumed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fenced_on_end_txn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fenced_on_produce, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_too_large_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broker_outage_recovers, setup, teardown),
        cmocka_unit_test(test_embedded_bus),
        cmocka_unit_test(test_unreachable_broker_is_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

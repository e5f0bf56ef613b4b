/*
 * cdc-kafka-admin BOOTSTRAP COMMAND...: topic administration on a real Kafka cluster for the
 * tests that run there (the mock cluster's helper process does the same on its own).
 *   create NAME PARTITIONS     creates the topic (compacted when NAME ends in ._offsets or
 *                              ._schemas, as the agent creates them); an existing one is fine
 *   recreate NAME PARTITIONS   deletes the topic if it exists, waits until it is gone, creates it
 *                              (a test on a shared cluster starts from an empty topic)
 *   create-delete NAME PARTITIONS  creates it with cleanup.policy=delete whatever its name (to
 *                              show the agent refusing such an _offsets topic)
 *   hold-txn NAME KEY SECONDS  opens a transaction (transactional.id cdc-test-hold), writes one
 *                              record with KEY to partition 0 of NAME, prints "held" once it is
 *                              on the broker, keeps the transaction open SECONDS, then aborts it
 *                              (another source's transaction in flight on a shared topic)
 *   put NAME KEY VALUE         writes one record with KEY and VALUE to partition 0 of NAME in a
 *                              committed transaction (an older offset record made the latest again)
 * Exit status 0 on success; the reason on stderr otherwise.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cdc/kafka.h"

static bool
internal_topic(const char *name)
{
    size_t n = strlen(name);
    return (n > 9 && !strcmp(name + n - 9, "._offsets")) ||
           (n > 9 && !strcmp(name + n - 9, "._schemas"));
}

/* Deletes topic when it exists; an unknown topic is fine. */
static int
delete_topic(const cdc_kafka_conf_t *kc, const char *boot, const char *topic)
{
    cdc_errstr_t es = {{0}};
    rd_kafka_conf_t *conf = cdc_kafka_conf_new(kc, boot, CDC_KAFKA_ADMIN, &es);
    char errstr[256];
    rd_kafka_t *rk = conf ? rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr)) : NULL;
    if (!rk) {
        fprintf(stderr, "cdc-kafka-admin: %s\n", conf ? errstr : es.msg);
        return 1;
    }
    rd_kafka_DeleteTopic_t *dt = rd_kafka_DeleteTopic_new(topic);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_DeleteTopics(rk, &dt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    int rc = 0;
    rd_kafka_resp_err_t e = ev ? rd_kafka_event_error(ev) : RD_KAFKA_RESP_ERR__TIMED_OUT;
    if (!e) {
        size_t cnt = 0;
        const rd_kafka_topic_result_t **tr =
            rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &cnt);
        e = cnt == 1 ? rd_kafka_topic_result_error(tr[0]) : RD_KAFKA_RESP_ERR_NO_ERROR;
    }
    if (e && e != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
        fprintf(stderr, "cdc-kafka-admin: delete topic %s: %s\n", topic, rd_kafka_err2str(e));
        rc = 1;
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_DeleteTopic_destroy(dt);
    rd_kafka_queue_destroy(q);
    /* deletion is asynchronous on the brokers: wait until the metadata no longer has it */
    for (int i = 0; !rc && i < 300; i++) {
        int parts = -1;
        if (cdc_kafka_partition_count(rk, topic, 5000, &parts, &es) == CDC_OK && parts == 0)
            break;
        usleep(100000);
    }
    rd_kafka_destroy(rk);
    return rc;
}

/* One record to partition 0 of topic in a transaction of its own (transactional.id
 * cdc-test-hold), held open seconds and then aborted, or committed at once. */
static int
txn_write(const cdc_kafka_conf_t *kc, const char *boot, const char *topic, const char *key,
          const char *value, int seconds, bool commit)
{
    cdc_errstr_t es = {{0}};
    cdc_producer_t *p = cdc_producer_new(kc, boot, "cdc-test-hold", &es);
    cdc_err_t err = p ? cdc_producer_init(p, 30000) : CDC_ERR_KAFKA;
    cdc_record_t rec = {.topic = topic,
                        .partition = 0,
                        .key = key,
                        .key_len = strlen(key),
                        .value = value,
                        .value_len = strlen(value)};
    if (!err)
        err = cdc_producer_begin(p);
    if (!err)
        err = cdc_producer_send(p, &rec);
    if (!err)
        err = cdc_producer_wait_delivered(p, 30000);
    if (!err && commit) {
        err = cdc_producer_commit(p, 30000);
    } else if (!err) {
        printf("held\n");
        fflush(stdout);
        sleep((unsigned)seconds);
        err = cdc_producer_abort(p, 30000);
    }
    if (err)
        fprintf(stderr, "cdc-kafka-admin: %s\n", p ? cdc_producer_errstr(p) : es.msg);
    cdc_producer_free(p);
    return err ? 1 : 0;
}

int
main(int argc, char **argv)
{
    cdc_kafka_conf_t kc = {.brokers = argc > 1 ? argv[1] : "",
                           .max_event_bytes = 8388608,
                           .replication_factor = -1,
                           .compression = "none"};
    if (argc == 6 && !strcmp(argv[2], "hold-txn"))
        return txn_write(&kc, argv[1], argv[3], argv[4], "{\"v\":1,\"held\":true}", atoi(argv[5]),
                         false);
    if (argc == 6 && !strcmp(argv[2], "put"))
        return txn_write(&kc, argv[1], argv[3], argv[4], argv[5], 0, true);
    if (argc != 5 || (strcmp(argv[2], "create") && strcmp(argv[2], "recreate") &&
                      strcmp(argv[2], "create-delete"))) {
        fprintf(stderr,
                "usage: cdc-kafka-admin BOOTSTRAP create|recreate|create-delete NAME "
                "PARTITIONS\n       cdc-kafka-admin BOOTSTRAP hold-txn NAME KEY SECONDS\n       "
                "cdc-kafka-admin BOOTSTRAP put NAME KEY VALUE\n");
        return 2;
    }
    char *boot = argv[1], *topic = argv[3];
    int partitions = atoi(argv[4]);
    if (!strcmp(argv[2], "recreate") && delete_topic(&kc, boot, topic))
        return 1;
    cdc_errstr_t es = {{0}};
    cdc_kafka_bus_t *bus = cdc_kafka_bus_new(&kc, &es);
    cdc_err_t err = bus ? CDC_OK : CDC_ERR_KAFKA;
    /* a topic just deleted may still be marked for deletion for a moment */
    for (int i = 0; bus && i < 100; i++) {
        err = cdc_kafka_bus_create_topic(
            bus, topic, partitions, internal_topic(topic) && strcmp(argv[2], "create-delete"), &es);
        if (!err || !strstr(es.msg, "marked for deletion"))
            break;
        usleep(200000);
    }
    /* the controller answers before every broker's metadata has the topic: wait for it, so that
     * the next client sees what was created */
    rd_kafka_t *rk = !err ? cdc_kafka_bus_client(bus, &es) : NULL;
    int parts = 0;
    for (int i = 0; rk && i < 100 && !parts; i++) {
        if (i)
            usleep(100000);
        if (cdc_kafka_partition_count(rk, topic, 5000, &parts, &es))
            parts = 0;
    }
    if (rk && !parts)
        err =
            cdc_errstr_set(&es, CDC_ERR_TIMEOUT, "topic %s created but not in the metadata", topic);
    if (rk)
        rd_kafka_destroy(rk);
    if (err)
        fprintf(stderr, "cdc-kafka-admin: %s\n", es.msg);
    cdc_kafka_bus_free(bus);
    return err ? 1 : 0;
}

/*
 * Test-side helpers for integration tests written in C: the mock Kafka helper process, and the
 * server variables written by tests/harness/servers.sh.
 */
#ifndef CDC_TEST_HARNESS_H
#define CDC_TEST_HARNESS_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct {
    pid_t pid;
    int to_child;   /* commands */
    int from_child; /* answers */
    char bootstrap[1024];
} harness_kafka_t;

/* Starts cdc-mock-kafka (path from $CDC_MOCK_KAFKA) with 3 brokers; false on failure. */
bool harness_kafka_start(harness_kafka_t *k);
/* Sends one command line and returns true when the helper answered "ok". */
bool harness_kafka_cmd(harness_kafka_t *k, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void harness_kafka_stop(harness_kafka_t *k);

/* Value of NAME from the environment or from $CDC_HARNESS_DIR/env; NULL when unknown. The
 * returned string lives until the process exits. */
const char *harness_env(const char *name);

#endif

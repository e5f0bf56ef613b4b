/*
 * Kafka access over librdkafka: client configuration from the agent config (contract settings,
 * security pass-through, consistent size limits), the embedded in-process cluster for demos and
 * tests, topic creation, a transactional producer and a read_committed consumer.
 */
#ifndef CDC_KAFKA_H
#define CDC_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>

#include "cdc/config.h"
#include "cdc/err.h"

/* Room for key, headers and batch framing on top of max_event_bytes. */
#define CDC_KAFKA_RECORD_OVERHEAD 65536

typedef enum { CDC_KAFKA_PRODUCER, CDC_KAFKA_CONSUMER, CDC_KAFKA_ADMIN } cdc_kafka_role_t;

/* Builds a librdkafka configuration for role. Returns NULL with es naming the bad property (never
 * its value). The caller owns the result (rd_kafka_new takes it over). Any thread. */
rd_kafka_conf_t *cdc_kafka_conf_new(const cdc_kafka_conf_t *kc, const char *bootstrap,
                                    cdc_kafka_role_t role, cdc_errstr_t *es);
/* Sets one property, naming it (not its value) in es on failure. */
cdc_err_t cdc_kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value,
                             cdc_errstr_t *es);

/* Where clients connect: a real cluster, or the embedded mock cluster hosted in this process. */
typedef struct cdc_kafka_bus cdc_kafka_bus_t;

/* For kc->embedded starts a 3-broker mock cluster (non-durable: its log dies with the process);
 * otherwise only records the bootstrap list. Main thread. */
cdc_kafka_bus_t *cdc_kafka_bus_new(const cdc_kafka_conf_t *kc, cdc_errstr_t *es);
void cdc_kafka_bus_free(cdc_kafka_bus_t *bus);
/* Sets TCP_NODELAY on this process's listening TCP sockets, i.e. a mock cluster's brokers (accepted
 * connections inherit it), as real brokers do: without it a response queued behind an
 * unacknowledged one waits for the client's delayed ACK (~40 ms per Kafka transaction). */
void cdc_kafka_mock_nodelay(void);
const char *cdc_kafka_bus_bootstrap(const cdc_kafka_bus_t *bus);
bool cdc_kafka_bus_embedded(const cdc_kafka_bus_t *bus);
/* Creates a topic when missing (compacted when compact is true). The embedded cluster creates it
 * directly; a real cluster goes through the Admin API and an already existing topic is fine. */
cdc_err_t cdc_kafka_bus_create_topic(cdc_kafka_bus_t *bus, const char *topic, int partitions,
                                     bool compact, cdc_errstr_t *es);
/* The cluster has no Admin API (the mock cluster): topics are neither created nor described. */
void cdc_kafka_bus_set_no_admin(cdc_kafka_bus_t *bus);
bool cdc_kafka_bus_has_admin(const cdc_kafka_bus_t *bus);
/* A short-lived client of the bus for metadata and admin requests (the caller destroys it). */
rd_kafka_t *cdc_kafka_bus_client(cdc_kafka_bus_t *bus, cdc_errstr_t *es);
/* Asks any broker for metadata; es says which bootstrap servers failed and why. It also learns
 * whether the cluster is librdkafka's mock (its cluster id), for cdc_kafka_fetch_wait_ms. */
cdc_err_t cdc_kafka_bus_ping(cdc_kafka_bus_t *bus, int timeout_ms, int *n_brokers,
                             cdc_errstr_t *es);
/* How long a sink's fetch waits on a partition with nothing new: 500 ms on a real cluster, whose
 * broker answers as soon as a record arrives (a long poll: no latency, few wake-ups when idle);
 * 10 ms on librdkafka's mock, which holds an empty fetch for the whole wait whatever arrives
 * meanwhile (or before any cluster was pinged in this process); 50 ms on the embedded one, where
 * a demo's changes may take that much longer and the idle agent wakes 5 times less. */
int cdc_kafka_fetch_wait_ms(void);

/* Classifies a librdkafka error: FENCED (a newer instance took over; stop), FATAL (stop),
 * ABORTED (abort the transaction and redo it), TIMEOUT / KAFKA (retriable). */
cdc_err_t cdc_kafka_classify(const rd_kafka_error_t *error);
cdc_err_t cdc_kafka_classify_code(rd_kafka_resp_err_t code);

/* ---- transactional producer ---------------------------------------------------------------- */

typedef struct cdc_producer cdc_producer_t;

typedef struct {
    const char *name;
    const void *value;
    size_t len;
} cdc_header_t;

typedef struct {
    const char *topic;
    int32_t partition; /* RD_KAFKA_PARTITION_UA: the partitioner (murmur2_random) decides */
    const void *key;
    size_t key_len;
    const void *value; /* NULL for a tombstone */
    size_t value_len;
    const cdc_header_t *headers;
    size_t n_headers;
    int64_t timestamp_ms; /* 0: now */
    bool borrow;          /* key and value stay valid until delivery is confirmed: not copied */
    /* headers built ahead with cdc_kafka_headers (on another thread): taken over when the send
     * succeeds (*prebuilt is then NULL); NULL or *prebuilt NULL: built here from headers */
    rd_kafka_headers_t **prebuilt;
} cdc_record_t;

/* librdkafka headers for a record (NULL when n is 0). */
rd_kafka_headers_t *cdc_kafka_headers(const cdc_header_t *h, size_t n);

/* A producer with transactional.id = txn_id. Call cdc_producer_init before anything else. */
cdc_producer_t *cdc_producer_new(const cdc_kafka_conf_t *kc, const char *bootstrap,
                                 const char *txn_id, cdc_errstr_t *es);
void cdc_producer_free(cdc_producer_t *p);
/* init_transactions(): fences any previous instance with the same transactional id. */
cdc_err_t cdc_producer_init(cdc_producer_t *p, int timeout_ms);
cdc_err_t cdc_producer_begin(cdc_producer_t *p);
/* Queues one record (copied); blocks while the local queue is full (backpressure). */
cdc_err_t cdc_producer_send(cdc_producer_t *p, const cdc_record_t *rec);
/* Waits until every queued record has its delivery report; returns the first failure. */
cdc_err_t cdc_producer_wait_delivered(cdc_producer_t *p, int timeout_ms);
cdc_err_t cdc_producer_commit(cdc_producer_t *p, int timeout_ms);
cdc_err_t cdc_producer_abort(cdc_producer_t *p, int timeout_ms);
/* Partition count of topic through this producer (which also caches its metadata). */
cdc_err_t cdc_producer_partition_count(cdc_producer_t *p, const char *topic, int timeout_ms,
                                       int *out, cdc_errstr_t *es);
/* Detail of the last error; never NULL. */
const char *cdc_producer_errstr(const cdc_producer_t *p);
/* Records delivered since creation. */
uint64_t cdc_producer_delivered(const cdc_producer_t *p);
/* The producer's librdkafka handle (for queries such as the cluster id). */
rd_kafka_t *cdc_producer_handle(cdc_producer_t *p);

/* ---- read_committed consumer --------------------------------------------------------------- */

typedef struct cdc_consumer cdc_consumer_t;

/* A consumer handle with the settings every reader here uses: read_committed, no automatic
 * offsets (positions live in the target or are given), end-of-partition events, short fetch
 * waits. For reads by offset and metadata; cdc_consumer_t wraps one for the sinks. */
rd_kafka_t *cdc_kafka_reader_new(const cdc_kafka_conf_t *kc, const char *bootstrap,
                                 const char *group_id, cdc_errstr_t *es);
/* The same with another fetch.wait.max.ms (10 above): a reader that may lag a little and should
 * not wake the broker 100 times a second. */
rd_kafka_t *cdc_kafka_reader_new_wait(const cdc_kafka_conf_t *kc, const char *bootstrap,
                                      const char *group_id, int fetch_wait_ms, cdc_errstr_t *es);

/* A consumer with isolation.level=read_committed, no auto commit: positions live in the target
 * database, so partitions are assigned explicitly. Its fetches wait 10 ms (reads to a topic's
 * end); a sink's stream gives cdc_kafka_fetch_wait_ms to cdc_consumer_new_wait. */
cdc_consumer_t *cdc_consumer_new(const cdc_kafka_conf_t *kc, const char *bootstrap,
                                 const char *group_id, cdc_errstr_t *es);
cdc_consumer_t *cdc_consumer_new_wait(const cdc_kafka_conf_t *kc, const char *bootstrap,
                                      const char *group_id, int fetch_wait_ms, cdc_errstr_t *es);
void cdc_consumer_free(cdc_consumer_t *c);
/* Adds topic/partition at offset (or RD_KAFKA_OFFSET_BEGINNING) to the assignment; assigning the
 * same partition twice is an error. */
cdc_err_t cdc_consumer_assign(cdc_consumer_t *c, const char *topic, int32_t partition,
                              int64_t offset, cdc_errstr_t *es);
/* Next record or NULL on timeout; the caller destroys it with rd_kafka_message_destroy. Errors
 * come back as messages with err set (end of partition included). */
rd_kafka_message_t *cdc_consumer_poll(cdc_consumer_t *c, int timeout_ms);
cdc_err_t cdc_consumer_watermarks(cdc_consumer_t *c, const char *topic, int32_t partition,
                                  int64_t *low, int64_t *high, int timeout_ms, cdc_errstr_t *es);
/* The end of each of the n partitions of topic counting records of transactions still open
 * (read_uncommitted), into ends[0..n-1]. A read_committed reader stops short of it while one is. */
cdc_err_t cdc_consumer_log_ends(const cdc_kafka_conf_t *kc, const char *bootstrap,
                                const char *topic, int n, int64_t *ends, int timeout_ms,
                                cdc_errstr_t *es);
/* Reads every partition of topic from the beginning to its end (read_committed, once every
 * transaction open at the start has ended) and calls fn for each record. A missing topic is empty.
 */
typedef void (*cdc_scan_fn)(void *ctx, const rd_kafka_message_t *m);
cdc_err_t cdc_topic_scan(const cdc_kafka_conf_t *kc, const char *bootstrap, const char *topic,
                         cdc_scan_fn fn, void *ctx, cdc_errstr_t *es);
/* The same from tail records before each partition's end (0: from the beginning), without
 * waiting for open transactions: up to the end read_committed has now. */
cdc_err_t cdc_topic_scan_tail(const cdc_kafka_conf_t *kc, const char *bootstrap, const char *topic,
                              int64_t tail, cdc_scan_fn fn, void *ctx, cdc_errstr_t *es);
/* Number of partitions of topic (0 when it does not exist). */
cdc_err_t cdc_kafka_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms, int *out,
                                    cdc_errstr_t *es);
rd_kafka_t *cdc_consumer_handle(cdc_consumer_t *c);

#endif

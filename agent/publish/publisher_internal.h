/*
 * Private to the publisher: batches, the table -> topic map, schema versions, and the queue between
 * the source thread (publisher.c) and the publisher thread (publisher_txn.c).
 */
#ifndef CDC_PUBLISHER_INTERNAL_H
#define CDC_PUBLISHER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "cdc/metrics.h"
#include "cdc/offsets.h"
#include "cdc/publisher.h"
#include "cdc/source.h"
#include "cdc/transform.h"

typedef struct {
    uint32_t topic;          /* index into the publisher's topic table */
    int32_t partition;       /* RD_KAFKA_PARTITION_UA or explicit (truncate) */
    size_t key_off, key_len; /* key_len 0 = no key */
    size_t val_off;
    ssize_t val_len; /* -1 = null value (tombstone) */
    int64_t ts_ms;
    rd_kafka_headers_t *hdrs; /* cdc-op and cdc-pos, built on the source thread; NULL once sent */
    char op;
    char pos[CDC_POS_STRLEN];
} rec_t;

typedef struct batch {
    cdc_buf_t data;
    rec_t *recs;
    size_t n, cap;
    size_t bound_n, bound_len; /* records and bytes up to the last whole source transaction */
    bool has_pos;
    bool pos_stale; /* pos is the last record's, not parsed yet (see batch_pos) */
    cdc_pos_t pos, bound_pos;
    uint64_t bound_token;
    bool bound_snapshot_done;
    bool bound_any;            /* a source commit was recorded (possibly one without events) */
    char bound_progress[2048]; /* snapshot progress at the boundary, or "" */
    char bound_native[512];    /* the source's resume point at the boundary, or "" */
    char bound_resnap[16384];  /* the source's re-snapshot queue at the boundary, or "" */
    char txn_native[512];      /* ... at the start of the source transaction being read */
    int64_t opened_us;
    struct batch *next;
} batch_t;

typedef struct {
    char *schema_table; /* "schema.table" */
    char *topic;
    int partitions;
    int64_t version;            /* schema version last published */
    char *columns;              /* canonical JSON of the last published structure */
    bool dlq;                   /* the source's dead-letter topic (one partition, not compacted) */
    const cdc_transforms_t *tx; /* the table's transforms, NULL: none (publisher_transform.c) */
    cdc_metric_t **tx_m;        /* per transform: unchanged, normalized, invalid */
} topic_t;

/* A committed transaction waiting for its offset record to be read back (publisher_readback.c). */
typedef struct {
    uint64_t token; /* what the source is acknowledged once it is */
    uint64_t idle;  /* an idle position that came after it */
    cdc_pos_t pos;
    int64_t at_us;
} rb_commit_t;

typedef struct {
    cdc_consumer_t *c; /* NULL: acknowledged at commit (the source keeps no server position) */
    pthread_t thread;
    bool started, failed;
    atomic_bool stop;
    rb_commit_t *q; /* committed, in commit order, not yet read back */
    size_t head, len, cap;
    uint64_t *seen; /* tokens read back, not yet paired */
    size_t seen_head, seen_len, seen_cap;
    uint64_t last;       /* the newest token queued */
    cdc_pos_t confirmed; /* the newest position read back */
    int64_t warned_us;
} readback_t;

struct cdc_publisher {
    const cdc_config_t *cfg;
    const cdc_source_conf_t *src;
    cdc_kafka_bus_t *bus;
    cdc_producer_t *producer;
    char txn_id[300];
    char offsets_topic[300], schemas_topic[300];
    uint32_t offsets_idx, schemas_idx; /* their entries in topics[] */
    bool mock; /* librdkafka's mock cluster (shows aborted records to read_committed readers) */
    topic_t *topics;
    size_t n_topics;
    struct cdc_signer *signer; /* kafka.signing_key set: data records get a cdc-sig header */
    cdc_offsets_t stored;
    /* source thread */
    batch_t *open;
    size_t max_batch_bytes;
    /* queue */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    batch_t *head, *tail;
    batch_t *graveyard; /* failed batches, freed after the producer */
    size_t queued, max_queued;
    bool stopping, thread_started;
    cdc_err_t fatal;
    char fatal_msg[512];
    pthread_t thread;
    const cdc_source_ops_t *ops;
    cdc_source_t *source;
    cdc_source_resume_t committed; /* after the last commit */
    uint64_t pending_idle;         /* idle token waiting for the queue to drain */
    uint64_t acked;                /* the highest token acknowledged after a commit */
    int64_t last_commit_us;        /* monotonic time of the last Kafka commit (or of the start) */
    readback_t rb;                 /* under mu */
    /* transforms (source thread; publisher_transform.c) */
    uint32_t dlq_idx; /* the dead-letter topic's entry in topics[], when a table has one */
    cdc_tx_work_t tx_after, tx_before;
    cdc_event_t tx_event;
    const char **tx_unchanged;
    uint8_t *tx_outcomes;
    size_t tx_outcomes_cap;
    cdc_schema_column_t *tx_schema;
    bool progress_too_long; /* said once: a snapshot progress did not fit its slot */
    /* metrics */
    cdc_metric_t *m_events[5]; /* c u d r t */
    cdc_metric_t *m_lag, *m_latency, *m_queue, *m_commits;
};

batch_t *cdc_publisher_batch_new(void);
void cdc_publisher_batch_free(batch_t *b);
/* Hands a batch to the publisher thread, waiting while the queue is full. */
cdc_err_t cdc_publisher_queue_push(cdc_publisher_t *p, batch_t *b);
/* Builds r's Kafka headers (contract: cdc-op, cdc-pos) unless it has them or no position. */
void cdc_publisher_rec_headers(rec_t *r);
void *cdc_publisher_thread(void *arg);
/* Queues the open batch up to its last whole source transaction (graceful stop). */
cdc_err_t cdc_publisher_flush_open(cdc_publisher_t *p);
/* Waits until every queued batch is committed; the publisher thread's fatal error, if any. */
cdc_err_t cdc_publisher_wait_drained(cdc_publisher_t *p, cdc_errstr_t *es);
/* Acknowledgements through the read-back of offset records (publisher_readback.c), called with
 * mu held: a commit whose offset record carried token, and a token with no record of its own
 * (acknowledged once every commit before it is read back). */
cdc_err_t cdc_publisher_readback_start(cdc_publisher_t *p, cdc_errstr_t *es);
void cdc_publisher_readback_stop(cdc_publisher_t *p);
void cdc_publisher_ack_committed(cdc_publisher_t *p, uint64_t token, const cdc_pos_t *pos);
void cdc_publisher_ack_idle(cdc_publisher_t *p, uint64_t token);
/* An offset record of this source with token was read back (the read-back thread; tests). */
void cdc_publisher_readback_seen(cdc_publisher_t *p, uint64_t token);
/* Transforms (publisher_transform.c): the tables' transforms, their metrics and the dead-letter
 * topic, set up once the table topics are known; ev through t's transforms into *out (NULL when
 * the change went to the dead-letter topic instead); a table structure after them. */
cdc_err_t cdc_publisher_transforms_setup(cdc_publisher_t *p);
void cdc_publisher_transforms_free(cdc_publisher_t *p);
cdc_err_t cdc_publisher_transform(cdc_publisher_t *p, topic_t *t, const cdc_event_t *ev,
                                  const cdc_event_t **out, cdc_errstr_t *es);
cdc_err_t cdc_publisher_transform_schema(cdc_publisher_t *p, topic_t *t,
                                         const cdc_table_schema_t *s, cdc_table_schema_t *out,
                                         cdc_errstr_t *es);
/* A topic entry (publisher_setup.c), and the topic of a configured "schema.table". */
uint32_t cdc_publisher_add_topic(cdc_publisher_t *p, const char *schema_table, const char *name);
topic_t *cdc_publisher_topic_find_table(cdc_publisher_t *p, const char *schema_table);
/* Schema versions (publisher_schema.c). */
cdc_err_t cdc_publisher_schemas_load(cdc_publisher_t *p, cdc_errstr_t *es);
cdc_err_t cdc_publisher_schema_version(cdc_publisher_t *p, const cdc_table_schema_t *s,
                                       int64_t *version);
topic_t *cdc_publisher_topic_find(cdc_publisher_t *p, const char *schema, const char *table);
/* Appends a record to the open batch (copying key and value). */
void cdc_publisher_batch_add(batch_t *b, uint32_t topic, int32_t partition, const cdc_buf_t *key,
                             const cdc_buf_t *val, int64_t ts_ms, char op, const char *pos);
/* Appends a record whose key and value were already written into b->data. */
void cdc_publisher_batch_add_span(batch_t *b, uint32_t topic, int32_t partition, size_t key_off,
                                  size_t key_len, size_t val_off, ssize_t val_len, int64_t ts_ms,
                                  char op, const char *pos);

#endif

/*
 * Publisher start-up and shutdown: transactional producer (init_transactions fences an older
 * instance), topics (created when missing, partition counts checked against the stored ones),
 * stored offsets and schema versions, and the publisher thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cdc/clock.h"
#include "cdc/kafka_topics.h"
#include "cdc/log.h"
#include "cdc/sign.h"
#include "cdc/topic.h"
#include "publisher_internal.h"

uint32_t
cdc_publisher_add_topic(cdc_publisher_t *p, const char *schema_table, const char *name)
{
    topic_t *t = &p->topics[p->n_topics];
    memset(t, 0, sizeof(*t));
    t->schema_table = schema_table ? cdc_xstrdup(schema_table) : NULL;
    t->topic = cdc_xstrdup(name);
    return (uint32_t)p->n_topics++;
}

static cdc_err_t
build_topics(cdc_publisher_t *p, cdc_errstr_t *es)
{
    const cdc_source_conf_t *src = p->src;
    cdc_buf_t b;
    cdc_buf_init(&b);
    p->topics = cdc_xcalloc(src->n_tables + 3, sizeof(topic_t)); /* offsets, schemas, dlq */
    cdc_topic_internal(&b, p->cfg->kafka.topic_prefix, "offsets", NULL);
    snprintf(p->offsets_topic, sizeof(p->offsets_topic), "%s", b.data);
    p->offsets_idx = cdc_publisher_add_topic(p, NULL, b.data);
    cdc_topic_internal(&b, p->cfg->kafka.topic_prefix, "schemas", NULL);
    snprintf(p->schemas_topic, sizeof(p->schemas_topic), "%s", b.data);
    p->schemas_idx = cdc_publisher_add_topic(p, NULL, b.data);
    cdc_err_t err = CDC_OK;
    for (size_t i = 0; i < src->n_tables && !err; i++)
        if (!(err = cdc_source_table_topic(p->cfg, src, i, &b, es)))
            cdc_publisher_add_topic(p, src->tables[i], b.data);
    cdc_buf_deinit(&b);
    return err ? err : cdc_publisher_transforms_setup(p);
}

/* Reads t's partition count, creating the topic first when it is missing, and on a real cluster
 * checks its settings (ones that would lose stored positions or refuse records stop the start).
 * A metadata probe by a producer would auto-create a missing topic with the broker's defaults, so
 * the embedded cluster creates first and a real one is asked by a client that never
 * auto-creates. */
static cdc_err_t
ensure_topic(cdc_publisher_t *p, topic_t *t, cdc_errstr_t *es)
{
    bool internal = !t->schema_table && !t->dlq; /* compacted */
    bool real = !cdc_kafka_bus_embedded(p->bus);
    cdc_topic_info_t ti = {0};
    cdc_err_t err = real ? cdc_kafka_topic_info(p->bus, t->topic, &ti, es) : CDC_OK;
    t->partitions = ti.partitions;
    /* the producer learns the topic's partitions and leaders before its first record: producing
     * to a topic it has not asked about yet ran at a quarter of the speed (my_bench.sh: 75k
     * against 300k rows/s) */
    if (!err && t->partitions)
        err = cdc_producer_partition_count(p->producer, t->topic, 15000, &t->partitions, es);
    if (!err && !t->partitions) {
        err = cdc_kafka_bus_create_topic(
            p->bus, t->topic, t->schema_table ? p->cfg->kafka.partitions : 1, internal, es);
        if (err == CDC_ERR_TIMEOUT) {
            CDC_LOG_WARN("kafka topic=%s not created (%s); relying on broker auto-creation",
                         t->topic, es->msg);
            err = CDC_OK;
        }
        /* a real cluster answers CreateTopics before every broker's metadata has the topic */
        for (int i = 0; !err && t->partitions == 0 && i < 100; i++) {
            if (i)
                usleep(100000);
            err = cdc_producer_partition_count(p->producer, t->topic, 15000, &t->partitions, es);
        }
        if (!err && t->partitions == 0)
            err =
                cdc_errstr_set(es, CDC_ERR_KAFKA,
                               "topic %s does not exist and was not created within 10 s", t->topic);
        if (!err && real)
            err = cdc_kafka_topic_info(p->bus, t->topic, &ti, es);
    }
    if (!err && real)
        err = cdc_kafka_topic_validate(&p->cfg->kafka, t->topic, internal, &ti, es);
    return err;
}

/* Creates missing topics and reads their partition counts. */
static cdc_err_t
prepare_topics(cdc_publisher_t *p, cdc_errstr_t *es)
{
    cdc_err_t err = CDC_OK;
    for (size_t i = 0; i < p->n_topics && !err; i++)
        err = ensure_topic(p, &p->topics[i], es);
    return err;
}

/* Compares the data topics' partition counts with the stored ones; the offsets record carries
 * the current counts from then on. */
static cdc_err_t
check_partitions(cdc_publisher_t *p, cdc_errstr_t *es)
{
    cdc_err_t err = CDC_OK;
    for (size_t i = 0; i < p->n_topics && !err; i++) {
        topic_t *t = &p->topics[i];
        int stored = t->schema_table ? cdc_offsets_partitions(&p->stored, t->topic) : 0;
        if (stored && stored != t->partitions)
            err = cdc_errstr_set(es, CDC_ERR_CONFIG,
                                 "topic %s has %d partitions but had %d when the stored positions "
                                 "were written: keys would move to other partitions and lose "
                                 "their order. Restore %d partitions, or re-snapshot into a new "
                                 "topic",
                                 t->topic, t->partitions, stored, stored);
    }
    cdc_offsets_t *o = &p->stored;
    for (size_t i = 0; i < o->n_topics; i++)
        free(o->topics[i].topic);
    free(o->topics);
    o->topics = cdc_xcalloc(p->n_topics + 1, sizeof(cdc_topic_parts_t));
    o->n_topics = 0;
    for (size_t i = 0; i < p->n_topics; i++) {
        if (!p->topics[i].schema_table)
            continue;
        o->topics[o->n_topics].topic = cdc_xstrdup(p->topics[i].topic);
        o->topics[o->n_topics++].partitions = p->topics[i].partitions;
    }
    return err;
}

/* Whether the cluster is librdkafka's mock (embedded or cdc-mock-kafka), which hands aborted
 * records to read_committed consumers. The producer is connected already: its handle knows the
 * cluster id. */
static bool
mock_cluster(cdc_publisher_t *p)
{
    rd_kafka_t *rk = cdc_producer_handle(p->producer);
    char *cluster = rd_kafka_clusterid(rk, 5000);
    bool mock = !cluster || !strncmp(cluster, "mockCluster", 11);
    if (cluster)
        rd_kafka_mem_free(rk, cluster);
    return mock;
}

/* Ends, as aborted, any transaction of this producer's left open on a partition it writes: one
 * record to each, then abort. init_transactions ends the earlier instance's open transaction on
 * every partition the broker's transaction coordinator knows it wrote to, but a broker that
 * crashed can come back with records of such a transaction on a partition whose addition to it
 * the coordinator lost (seen on a single-node Kafka 4.4 killed with SIGKILL): no marker ends
 * them until this producer's next marker there, which would then end them as this producer's
 * next transaction ends. On partition 0 of the offsets topic, read_committed readers stop in
 * front of them, where this source's newer positions would be out of sight; on a data
 * partition, the next commit would make them visible, and the source publishes them again from
 * its stored position: twice in the topic. The probe's abort marker ends them as aborted, which
 * their transaction was (it never committed). Data partitions only on a real cluster: the mock
 * hands the aborted probe records to sinks. */
static cdc_err_t
abort_stale(cdc_publisher_t *p, cdc_errstr_t *es)
{
    char key[sizeof(p->txn_id) + 16];
    snprintf(key, sizeof(key), "%s/start-probe", p->src->name);
    bool data = !p->mock;
    cdc_err_t err = cdc_producer_begin(p->producer);
    size_t sent = 0;
    for (size_t i = 0; !err && i < p->n_topics; i++) {
        const topic_t *t = &p->topics[i];
        int parts = !t->schema_table ? 1 : data ? t->partitions : 0;
        for (int part = 0; !err && part < parts; part++) {
            cdc_record_t rec = {.topic = t->topic,
                                .partition = part,
                                .key = key,
                                .key_len = strlen(key),
                                .value = "{\"probe\":\"start\"}",
                                .value_len = 17};
            if (!(err = cdc_producer_send(p->producer, &rec)))
                sent++;
        }
    }
    if (!err && sent)
        err = cdc_producer_wait_delivered(p->producer, 60000);
    cdc_err_t aerr = cdc_producer_abort(p->producer, 60000);
    if (!err)
        err = aerr;
    if (err && !es->msg[0])
        cdc_errstr_set(es, err, "%s", cdc_producer_errstr(p->producer));
    CDC_LOG_DEBUG("source=%s start probe: %zu partitions", p->src->name, sent);
    return err;
}

static cdc_err_t
init_producer(cdc_publisher_t *p, cdc_errstr_t *es)
{
    const char *boot = cdc_kafka_bus_bootstrap(p->bus);
    snprintf(p->txn_id, sizeof(p->txn_id), "%s.%s", p->cfg->agent.name, p->src->name);
    p->producer = cdc_producer_new(&p->cfg->kafka, boot, p->txn_id, es);
    if (!p->producer)
        return CDC_ERR_KAFKA;
    cdc_err_t err = cdc_producer_init(p->producer, 60000);
    if (err)
        return cdc_errstr_set(es, err, "%s", cdc_producer_errstr(p->producer));
    p->mock = mock_cluster(p);
    return CDC_OK;
}

static void
register_metrics(cdc_publisher_t *p)
{
    static const char ops[] = "cudrt";
    cdc_buf_t l;
    cdc_buf_init(&l);
    for (int i = 0; i < 5; i++) {
        char op[2] = {ops[i], 0};
        cdc_metric_labels(&l, "source", p->src->name, "op", op, (const char *)NULL);
        p->m_events[i] =
            cdc_metric_counter("cdc_source_events_total",
                               "Change events committed to Kafka, by source and op", l.data);
    }
    cdc_metric_labels(&l, "source", p->src->name, (const char *)NULL);
    p->m_lag = cdc_metric_gauge("cdc_source_lag_seconds",
                                "Age of the newest change in the last Kafka commit (source "
                                "commit time to now)",
                                l.data);
    p->m_latency = cdc_metric_histogram("cdc_commit_to_kafka_seconds",
                                        "From a change's source commit to its Kafka commit (the "
                                        "newest change of each batch)",
                                        l.data);
    p->m_queue = cdc_metric_gauge("cdc_publisher_queue_batches",
                                  "Batches waiting for their Kafka transaction (bounded: the "
                                  "source waits when full)",
                                  l.data);
    p->m_commits = cdc_metric_counter("cdc_kafka_transactions_total",
                                      "Kafka transactions committed, by source", l.data);
    cdc_buf_deinit(&l);
}

/* How far back from each data partition's end the start looks for the last committed record. */
#define PUBLISHED_TAIL 64

typedef struct {
    uint32_t epoch;
    cdc_pos_t max;
    bool found;
} published_t;

static void
published_one(void *ctx, const rd_kafka_message_t *m)
{
    published_t *pb = ctx;
    rd_kafka_headers_t *h = NULL;
    const void *v = NULL;
    size_t n = 0;
    char text[CDC_POS_STRLEN + 1];
    cdc_pos_t pos;
    if (rd_kafka_message_headers(m, &h) || rd_kafka_header_get_last(h, "cdc-pos", &v, &n) ||
        n >= sizeof(text))
        return;
    memcpy(text, v, n);
    text[n] = '\0';
    if (cdc_pos_parse(text, &pos) && pos.epoch == pb->epoch && pos.phase == CDC_PHASE_STREAM &&
        (!pb->found || cdc_pos_cmp(&pos, &pb->max) > 0)) {
        pb->max = pos;
        pb->found = true;
    }
}

/* The source's changes committed in its data topics beyond its stored position. Data and offset
 * record commit together, so there are none, unless a broker that crashed lost the transaction's
 * offset record while its data committed (its coordinator forgot the offsets partition: the
 * record hung until the start's probe aborted it). Resuming at the stored position would publish
 * them again: the start resumes after the last one instead, re-reading from the stored re-read
 * point and dropping what was published. Not on librdkafka's mock cluster, which hands aborted
 * records to read_committed consumers. */
static cdc_err_t
adopt_published(cdc_publisher_t *p, cdc_errstr_t *es)
{
    if (!p->stored.found || p->stored.reset || p->stored.pos.phase != CDC_PHASE_STREAM)
        return CDC_OK;
    if (p->mock)
        return CDC_OK;
    published_t pb = {.epoch = p->stored.pos.epoch};
    cdc_err_t err = CDC_OK;
    for (size_t i = 0; !err && i < p->n_topics; i++)
        if (i != p->offsets_idx && i != p->schemas_idx)
            err = cdc_topic_scan_tail(&p->cfg->kafka, cdc_kafka_bus_bootstrap(p->bus),
                                      p->topics[i].topic, PUBLISHED_TAIL, published_one, &pb, es);
    if (err || !pb.found || cdc_pos_cmp(&pb.max, &p->stored.pos) <= 0)
        return err;
    char stored[CDC_POS_STRLEN], last[CDC_POS_STRLEN];
    cdc_pos_format(stored, &p->stored.pos);
    cdc_pos_format(last, &pb.max);
    CDC_LOG_WARN("source=%s changes up to pos=%s are committed in its topics beyond its stored "
                 "pos=%s (a broker lost the offset record of their transaction): resuming after "
                 "them",
                 p->src->name, last, stored);
    p->stored.pos = pb.max;
    return CDC_OK;
}

cdc_publisher_t *
cdc_publisher_new(const cdc_config_t *cfg, const cdc_source_conf_t *src, cdc_kafka_bus_t *bus,
                  cdc_source_resume_t *resume, cdc_errstr_t *es)
{
    cdc_publisher_t *p = NULL;
    cdc_publisher_open(cfg, src, bus, resume, &p, es);
    return p;
}

cdc_err_t
cdc_publisher_open(const cdc_config_t *cfg, const cdc_source_conf_t *src, cdc_kafka_bus_t *bus,
                   cdc_source_resume_t *resume, cdc_publisher_t **out, cdc_errstr_t *es)
{
    *out = NULL;
    cdc_publisher_t *p = cdc_xcalloc(1, sizeof(*p));
    p->cfg = cfg;
    p->src = src;
    p->bus = bus;
    /* 1 MB batches, several per Kafka transaction: later ones are produced while earlier ones
     * are delivered. 8 MB queued at most, then the source waits. */
    p->max_batch_bytes = 1u << 20;
    p->max_queued = 8;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->open = cdc_publisher_batch_new();
    if (cfg->kafka.signing_key &&
        !(p->signer = cdc_signer_new(cfg->kafka.signing_key, strlen(cfg->kafka.signing_key)))) {
        cdc_publisher_free(p);
        return cdc_errstr_set(es, CDC_ERR_FATAL, "source %s: libcrypto refused the signing key",
                              src->name);
    }
    register_metrics(p);
    cdc_err_t err = build_topics(p, es);
    if (!err)
        err = init_producer(p, es);
    CDC_LOG_DEBUG("source=%s producer initialised", src->name);
    if (!err)
        err = prepare_topics(p, es);
    if (!err)
        err = abort_stale(p, es);
    if (!err)
        err = cdc_offsets_load(&cfg->kafka, cdc_kafka_bus_bootstrap(bus), p->offsets_topic,
                               src->name, &p->stored, es);
    CDC_LOG_DEBUG("source=%s offsets loaded", src->name);
    if (!err)
        err = check_partitions(p, es);
    if (!err)
        err = adopt_published(p, es);
    CDC_LOG_DEBUG("source=%s topics ready", src->name);
    if (!err)
        err = cdc_publisher_schemas_load(p, es);
    CDC_LOG_DEBUG("source=%s schemas loaded", src->name);
    if (err) {
        cdc_errstr_prefix(es, "source %s", src->name);
        cdc_publisher_free(p);
        return err;
    }
    memset(resume, 0, sizeof(*resume));
    if (p->stored.found && p->stored.reset) {
        resume->epoch = p->stored.pos.epoch; /* `source drop` asked for a fresh start */
        CDC_LOG_INFO("source=%s starting over in epoch %u after a reset", src->name, resume->epoch);
    } else if (p->stored.found) {
        resume->has_pos = true;
        resume->pos = p->stored.pos;
        resume->snapshot_done = p->stored.snapshot_done;
        if (p->stored.progress && strlen(p->stored.progress) < sizeof(resume->progress))
            memcpy(resume->progress, p->stored.progress, strlen(p->stored.progress) + 1);
        if (p->stored.native && strlen(p->stored.native) < sizeof(resume->native))
            memcpy(resume->native, p->stored.native, strlen(p->stored.native) + 1);
        if (p->stored.resnap && strlen(p->stored.resnap) < sizeof(resume->resnap))
            memcpy(resume->resnap, p->stored.resnap, strlen(p->stored.resnap) + 1);
        char pos[CDC_POS_STRLEN];
        cdc_pos_format(pos, &resume->pos);
        CDC_LOG_INFO("source=%s resuming after pos=%s snapshot_done=%s", src->name, pos,
                     resume->snapshot_done ? "yes" : "no");
    }
    p->committed = *resume;
    p->last_commit_us = cdc_mono_us();
    *out = p;
    return CDC_OK;
}

cdc_err_t
cdc_publisher_start(cdc_publisher_t *p, const cdc_source_ops_t *ops, cdc_source_t *s,
                    cdc_errstr_t *es)
{
    p->ops = ops;
    p->source = s;
    cdc_err_t err = cdc_publisher_readback_start(p, es);
    if (err)
        return err;
    if (pthread_create(&p->thread, NULL, cdc_publisher_thread, p))
        return cdc_errstr_set(es, CDC_ERR_FATAL, "cannot start the publisher thread");
    p->thread_started = true;
    return CDC_OK;
}

cdc_err_t
cdc_publisher_wait_drained(cdc_publisher_t *p, cdc_errstr_t *es)
{
    pthread_mutex_lock(&p->mu);
    while (p->queued && !p->fatal)
        pthread_cond_wait(&p->cv, &p->mu);
    cdc_err_t fatal = p->fatal;
    if (fatal)
        cdc_errstr_set(es, fatal, "%s", p->fatal_msg);
    pthread_mutex_unlock(&p->mu);
    return fatal;
}

cdc_err_t
cdc_publisher_rebind(cdc_publisher_t *p, cdc_source_t *s, cdc_errstr_t *es)
{
    cdc_err_t fatal = cdc_publisher_wait_drained(p, es);
    pthread_mutex_lock(&p->mu); /* acknowledgements read it under the lock */
    p->source = s;
    pthread_mutex_unlock(&p->mu);
    return fatal;
}

cdc_err_t
cdc_publisher_hold(cdc_publisher_t *p, cdc_errstr_t *es)
{
    cdc_err_t err = p->thread_started ? cdc_publisher_flush_open(p) : CDC_OK;
    if (err)
        cdc_errstr_set(es, err, "source %s: publishing what was read before the pause failed",
                       p->src->name);
    cdc_errstr_t ignore;
    cdc_err_t fatal = cdc_publisher_rebind(p, NULL, err ? &ignore : es);
    return err ? err : fatal;
}

cdc_err_t
cdc_publisher_finish(cdc_publisher_t *p, cdc_errstr_t *es)
{
    cdc_err_t err = p->thread_started ? cdc_publisher_flush_open(p) : CDC_OK;
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (p->thread_started) {
        pthread_join(p->thread, NULL);
        p->thread_started = false;
    }
    cdc_publisher_readback_stop(p);
    if (p->fatal) {
        cdc_errstr_set(es, p->fatal, "%s", p->fatal_msg);
        return p->fatal;
    }
    return err;
}

void
cdc_publisher_free(cdc_publisher_t *p)
{
    if (!p)
        return;
    if (p->thread_started) {
        cdc_errstr_t es;
        cdc_publisher_finish(p, &es);
    }
    cdc_publisher_readback_stop(p);
    while (p->head) {
        batch_t *b = p->head;
        p->head = b->next;
        cdc_publisher_batch_free(b);
    }
    cdc_publisher_batch_free(p->open);
    for (size_t i = 0; i < p->n_topics; i++) {
        free(p->topics[i].schema_table);
        free(p->topics[i].topic);
        free(p->topics[i].columns);
    }
    cdc_publisher_transforms_free(p);
    free(p->topics);
    free(p->tx_schema);
    cdc_offsets_clear(&p->stored);
    cdc_producer_free(p->producer);
    cdc_signer_free(p->signer);
    while (p->graveyard) {
        batch_t *b = p->graveyard;
        p->graveyard = b->next;
        cdc_publisher_batch_free(b);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}

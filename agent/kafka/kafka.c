/*
 * librdkafka configuration, the embedded mock cluster, topic creation, error classification and
 * a read_committed consumer's settings. The consumer is in consumer.c, the transactional
 * producer in producer.c.
 */
#include "cdc/kafka.h"

#include <dirent.h>
#include <librdkafka/rdkafka_mock.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>

#include "cdc/buf.h"
#include "cdc/log.h"

static void
log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    cdc_log_level_t l = level <= 3 ? CDC_LOG_WARN : level == 4 ? CDC_LOG_INFO : CDC_LOG_DEBUG;
    cdc_log_write(l, "kafka client=%s facility=%s %s", rd_kafka_name(rk), fac, buf);
}

cdc_err_t
cdc_kafka_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, cdc_errstr_t *es)
{
    char errstr[256];
    if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
        return cdc_errstr_set(es, CDC_ERR_CONFIG, "kafka property %s: %s", name, errstr);
    return CDC_OK;
}

/* Security settings, then kafka.properties (last: what the user sets wins): passed through,
 * secrets included (never logged). */
static cdc_err_t
conf_security(rd_kafka_conf_t *conf, const cdc_kafka_conf_t *kc, cdc_errstr_t *es)
{
    const struct {
        const char *prop, *val;
    } map[] = {
        {"security.protocol", kc->security_protocol},
        {"sasl.mechanisms", kc->sasl_mechanism},
        {"sasl.username", kc->sasl_username},
        {"sasl.password", kc->sasl_password},
        {"ssl.ca.location", kc->ssl_ca_location},
        {"ssl.certificate.location", kc->ssl_certificate_location},
        {"ssl.key.location", kc->ssl_key_location},
        {"ssl.key.password", kc->ssl_key_password},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (map[i].val && cdc_kafka_conf_set(conf, map[i].prop, map[i].val, es))
            return CDC_ERR_CONFIG;
    for (size_t i = 0; i < kc->n_properties; i++)
        if (cdc_kafka_conf_set(conf, kc->properties[i].key, kc->properties[i].value, es))
            return CDC_ERR_CONFIG;
    return CDC_OK;
}

static cdc_err_t
conf_int(rd_kafka_conf_t *conf, const char *name, long long v, cdc_errstr_t *es)
{
    char s[32];
    snprintf(s, sizeof(s), "%lld", v);
    return cdc_kafka_conf_set(conf, name, s, es);
}

/* max_event_bytes applied consistently: what the producer may send, the consumer can fetch (a
 * record larger than a fetch's limits still comes whole: the broker returns the first batch of
 * a fetch whatever its size). A consumer's buffers are sized from its memory share: half of it
 * for fetched records waiting in librdkafka's queue, a quarter for one fetch in flight, at most
 * 1 MB of that per partition (before: max_event_bytes, 8 MB, a partition); the last quarter is
 * the sink's batch (sink.c). Under a backlog the process holds more than the share
 * (librdkafka's per-message overhead). A queue that fills stops that broker's fetches until its
 * thread wakes, which the consumer sees to (consumer.c, wake_fetchers). */
static cdc_err_t
conf_sizes(rd_kafka_conf_t *conf, const cdc_kafka_conf_t *kc, cdc_kafka_role_t role,
           cdc_errstr_t *es)
{
    long long record = kc->max_event_bytes + CDC_KAFKA_RECORD_OVERHEAD;
    if (role == CDC_KAFKA_PRODUCER)
        return conf_int(conf, "message.max.bytes", record, es);
    if (role != CDC_KAFKA_CONSUMER)
        return CDC_OK;
    long long mem = cdc_consumer_memory(kc);
    long long queued_kb = mem / 2 / 1024, fetch = mem / 4;
    long long part = fetch / 8 < 1048576 ? fetch / 8 : 1048576;
    if (queued_kb < 1024)
        queued_kb = 1024;
    if (part < 65536)
        part = 65536;
    if (fetch < part)
        fetch = part;
    return conf_int(conf, "queued.max.messages.kbytes", queued_kb, es) ||
                   conf_int(conf, "fetch.max.bytes", fetch, es) ||
                   conf_int(conf, "fetch.message.max.bytes", part, es) ||
                   conf_int(conf, "receive.message.max.bytes",
                            (fetch > record ? fetch : record) + 1048576, es)
               ? CDC_ERR_CONFIG
               : CDC_OK;
}

rd_kafka_conf_t *
cdc_kafka_conf_new(const cdc_kafka_conf_t *kc, const char *bootstrap, cdc_kafka_role_t role,
                   cdc_errstr_t *es)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, log_cb);
    if (cdc_kafka_conf_set(conf, "bootstrap.servers", bootstrap, es) ||
        conf_sizes(conf, kc, role, es) || conf_security(conf, kc, es)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}

cdc_err_t
cdc_kafka_classify_code(rd_kafka_resp_err_t code)
{
    switch (code) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
        return CDC_OK;
    case RD_KAFKA_RESP_ERR__FENCED:
    case RD_KAFKA_RESP_ERR_PRODUCER_FENCED:
    case RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH:
        return CDC_ERR_FENCED;
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
        return CDC_ERR_TIMEOUT;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
        return CDC_ERR_TOOBIG;
    case RD_KAFKA_RESP_ERR__FATAL:
        return CDC_ERR_FATAL;
    default:
        return CDC_ERR_KAFKA;
    }
}

cdc_err_t
cdc_kafka_classify(const rd_kafka_error_t *error)
{
    if (!error)
        return CDC_OK;
    rd_kafka_resp_err_t code = rd_kafka_error_code(error);
    cdc_err_t by_code = cdc_kafka_classify_code(code);
    if (by_code == CDC_ERR_FENCED)
        return CDC_ERR_FENCED;
    if (rd_kafka_error_is_fatal(error))
        return CDC_ERR_FATAL;
    if (rd_kafka_error_txn_requires_abort(error))
        return CDC_ERR_ABORTED;
    if (rd_kafka_error_is_retriable(error))
        return by_code == CDC_ERR_TIMEOUT ? CDC_ERR_TIMEOUT : CDC_ERR_KAFKA;
    return by_code == CDC_ERR_KAFKA ? CDC_ERR_FATAL : by_code;
}

/* ---- bus ------------------------------------------------------------------------------------ */

#define EMBEDDED_BROKERS 1

struct cdc_kafka_bus {
    const cdc_kafka_conf_t *kc;
    char *bootstrap;
    rd_kafka_t *host; /* embedded: the handle hosting the mock cluster */
    rd_kafka_mock_cluster_t *mock;
    char last_error[512];   /* from error_cb during ping */
    bool admin_unavailable; /* the Admin API timed out once: do not wait for it again */
};

void
cdc_kafka_mock_nodelay(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        int fd = atoi(e->d_name), listening = 0, type = 0, one = 1;
        socklen_t l1 = sizeof(listening), l2 = sizeof(type);
        if (fd > 2 && !getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &l1) && listening &&
            !getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l2) && type == SOCK_STREAM)
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    closedir(d);
}

cdc_kafka_bus_t *
cdc_kafka_bus_new(const cdc_kafka_conf_t *kc, cdc_errstr_t *es)
{
    cdc_kafka_bus_t *bus = cdc_xcalloc(1, sizeof(*bus));
    bus->kc = kc;
    if (!kc->embedded) {
        bus->bootstrap = cdc_xstrdup(kc->brokers);
        return bus;
    }
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, log_cb);
    bus->host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!bus->host) {
        rd_kafka_conf_destroy(conf);
        cdc_errstr_set(es, CDC_ERR_KAFKA, "embedded kafka: %s", errstr);
        free(bus);
        return NULL;
    }
    /* one broker: every client of the agent keeps a thread and a connection per broker, and an
     * in-process cluster that dies with the process gains nothing from replicas (three cost the
     * idle demo about twice the CPU) */
    bus->mock = rd_kafka_mock_cluster_new(bus->host, EMBEDDED_BROKERS);
    if (!bus->mock) {
        cdc_errstr_set(es, CDC_ERR_KAFKA, "embedded kafka: cannot start the mock cluster");
        cdc_kafka_bus_free(bus);
        return NULL;
    }
    bus->bootstrap = cdc_xstrdup(rd_kafka_mock_cluster_bootstraps(bus->mock));
    cdc_kafka_mock_nodelay();
    CDC_LOG_WARN("kafka embedded cluster started bootstrap=%s durable=false (demo and test use "
                 "only: its log dies with this process)",
                 bus->bootstrap);
    return bus;
}

void
cdc_kafka_bus_free(cdc_kafka_bus_t *bus)
{
    if (!bus)
        return;
    if (bus->mock)
        rd_kafka_mock_cluster_destroy(bus->mock);
    if (bus->host)
        rd_kafka_destroy(bus->host);
    free(bus->bootstrap);
    free(bus);
}

const char *
cdc_kafka_bus_bootstrap(const cdc_kafka_bus_t *bus)
{
    return bus->bootstrap;
}

bool
cdc_kafka_bus_embedded(const cdc_kafka_bus_t *bus)
{
    return bus->mock != NULL;
}

static void
bus_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    cdc_kafka_bus_t *bus = opaque;
    snprintf(bus->last_error, sizeof(bus->last_error), "%s", reason);
}

rd_kafka_t *
cdc_kafka_bus_client(cdc_kafka_bus_t *bus, cdc_errstr_t *es)
{
    rd_kafka_conf_t *conf = cdc_kafka_conf_new(bus->kc, bus->bootstrap, CDC_KAFKA_ADMIN, es);
    if (!conf)
        return NULL;
    char errstr[256];
    rd_kafka_conf_set_error_cb(conf, bus_error_cb);
    rd_kafka_conf_set_opaque(conf, bus);
    /* asking about a missing topic must not create it with the broker's defaults */
    cdc_kafka_conf_set(conf, "allow.auto.create.topics", "false", NULL);
    cdc_kafka_conf_set(conf, "log_level", "0", NULL); /* failures are reported by the caller */
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        cdc_errstr_set(es, CDC_ERR_KAFKA, "kafka client: %s", errstr);
    }
    return rk;
}

static _Atomic int sink_fetch_wait_ms = 10; /* see cdc_kafka_fetch_wait_ms */

cdc_err_t
cdc_kafka_bus_ping(cdc_kafka_bus_t *bus, int timeout_ms, int *n_brokers, cdc_errstr_t *es)
{
    bus->last_error[0] = '\0';
    rd_kafka_t *rk = cdc_kafka_bus_client(bus, es);
    if (!rk)
        return CDC_ERR_KAFKA;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, NULL, &md, timeout_ms);
    cdc_err_t rc = CDC_OK;
    if (err) {
        rc = cdc_errstr_set(es, CDC_ERR_CONNECT, "kafka %s: %s%s%s", bus->bootstrap,
                            rd_kafka_err2str(err), bus->last_error[0] ? ": " : "", bus->last_error);
    } else {
        *n_brokers = md->broker_cnt;
        rd_kafka_metadata_destroy(md);
        char *id = rd_kafka_clusterid(rk, timeout_ms);
        atomic_store(&sink_fetch_wait_ms, bus->mock                              ? 50
                                          : id && strncmp(id, "mockCluster", 11) ? 500
                                                                                 : 10);
        if (id)
            rd_kafka_mem_free(rk, id);
    }
    rd_kafka_destroy(rk);
    return rc;
}

int
cdc_kafka_fetch_wait_ms(void)
{
    return atomic_load(&sink_fetch_wait_ms);
}

static cdc_err_t
admin_create_topic(cdc_kafka_bus_t *bus, const char *topic, int partitions, bool compact,
                   cdc_errstr_t *es)
{
    rd_kafka_t *rk = cdc_kafka_bus_client(bus, es);
    if (!rk)
        return CDC_ERR_KAFKA;
    char errstr[256], maxb[32];
    snprintf(maxb, sizeof(maxb), "%lld",
             (long long)bus->kc->max_event_bytes + CDC_KAFKA_RECORD_OVERHEAD);
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, bus->kc->replication_factor,
                                                    errstr, sizeof(errstr));
    rd_kafka_NewTopic_set_config(nt, "max.message.bytes", maxb);
    if (compact)
        rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *opt = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(opt, 5000, errstr, sizeof(errstr));
    rd_kafka_CreateTopics(rk, &nt, 1, opt, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 7000);
    cdc_err_t rc = CDC_OK;
    if (!ev) {
        bus->admin_unavailable = true;
        rc = cdc_errstr_set(es, CDC_ERR_TIMEOUT, "create topic %s: no answer from the Admin API",
                            topic);
    } else {
        const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
        size_t cnt = 0;
        const rd_kafka_topic_result_t **tr =
            res ? rd_kafka_CreateTopics_result_topics(res, &cnt) : NULL;
        rd_kafka_resp_err_t e = rd_kafka_event_error(ev);
        if (!e && cnt == 1)
            e = rd_kafka_topic_result_error(tr[0]);
        if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
            rc = cdc_errstr_set(es, cdc_kafka_classify_code(e), "create topic %s: %s", topic,
                                rd_kafka_err2str(e));
        if (rc == CDC_ERR_TIMEOUT)
            bus->admin_unavailable = true;
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return rc;
}

void
cdc_kafka_bus_set_no_admin(cdc_kafka_bus_t *bus)
{
    bus->admin_unavailable = true;
}

bool
cdc_kafka_bus_has_admin(const cdc_kafka_bus_t *bus)
{
    return !bus->mock && !bus->admin_unavailable;
}

cdc_err_t
cdc_kafka_bus_create_topic(cdc_kafka_bus_t *bus, const char *topic, int partitions, bool compact,
                           cdc_errstr_t *es)
{
    if (!bus->mock && bus->admin_unavailable)
        return cdc_errstr_set(es, CDC_ERR_TIMEOUT, "the Admin API did not answer earlier");
    if (!bus->mock)
        return admin_create_topic(bus, topic, partitions, compact, es);
    /* The mock cluster has no cleanup policies; compaction only matters on a real cluster. */
    rd_kafka_resp_err_t e =
        rd_kafka_mock_topic_create(bus->mock, topic, partitions, EMBEDDED_BROKERS);
    if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
        return cdc_errstr_set(es, CDC_ERR_KAFKA, "create topic %s: %s", topic, rd_kafka_err2str(e));
    return CDC_OK;
}

/* ---- consumers ----------------------------------------------------------------------------- */

rd_kafka_t *
cdc_kafka_reader_new(const cdc_kafka_conf_t *kc, const char *bootstrap, const char *group_id,
                     cdc_errstr_t *es)
{
    return cdc_kafka_reader_new_wait(kc, bootstrap, group_id, 10, es);
}

rd_kafka_t *
cdc_kafka_reader_new_wait(const cdc_kafka_conf_t *kc, const char *bootstrap, const char *group_id,
                          int fetch_wait_ms, cdc_errstr_t *es)
{
    rd_kafka_conf_t *conf = cdc_kafka_conf_new(kc, bootstrap, CDC_KAFKA_CONSUMER, es);
    if (!conf)
        return NULL;
    char errstr[256], wait[16];
    snprintf(wait, sizeof(wait), "%d", fetch_wait_ms);
    if (cdc_kafka_conf_set(conf, "group.id", group_id, es) ||
        cdc_kafka_conf_set(conf, "isolation.level", "read_committed", es) ||
        cdc_kafka_conf_set(conf, "enable.auto.commit", "false", es) ||
        cdc_kafka_conf_set(conf, "enable.auto.offset.store", "false", es) ||
        cdc_kafka_conf_set(conf, "enable.partition.eof", "true", es) ||
        cdc_kafka_conf_set(conf, "fetch.wait.max.ms", wait, es) ||
        cdc_kafka_conf_set(conf, "fetch.error.backoff.ms", "10", es) ||
        cdc_kafka_conf_set(conf, "auto.offset.reset", "error", es)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        cdc_errstr_set(es, CDC_ERR_KAFKA, "kafka consumer: %s", errstr);
    }
    return rk;
}

cdc_err_t
cdc_kafka_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms, int *out,
                          cdc_errstr_t *es)
{
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, t, &md, timeout_ms);
    rd_kafka_topic_destroy(t);
    if (e)
        return cdc_errstr_set(es, cdc_kafka_classify_code(e), "metadata of %s: %s", topic,
                              rd_kafka_err2str(e));
    *out = 0;
    if (md->topic_cnt == 1 && !md->topics[0].err)
        *out = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    return CDC_OK;
}

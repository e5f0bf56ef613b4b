/*
 * Agent start-up. Everything that can be checked before touching a database is checked first:
 * Kafka reachable, internal topics present, each source's transactional producer initialised
 * (which fences a previous instance). Connectors not built yet are reported as such; the agent
 * does not pretend to run them.
 */
#include "cdc/run.h"

#include <stdio.h>

#include "cdc/buf.h"
#include "cdc/cli.h"
#include "cdc/connector.h"
#include "cdc/kafka.h"
#include "cdc/log.h"
#include "cdc/topic.h"

static cdc_err_t
create_internal_topics(cdc_kafka_bus_t *bus, const cdc_config_t *cfg, cdc_errstr_t *es)
{
    static const char *const names[] = {"offsets", "schemas"};
    cdc_buf_t t;
    cdc_buf_init(&t);
    cdc_err_t err = CDC_OK;
    for (int i = 0; i < 2 && !err; i++) {
        cdc_topic_internal(&t, cfg->kafka.topic_prefix, names[i], NULL);
        err = cdc_kafka_bus_create_topic(bus, t.data, 1, true, es);
        if (err == CDC_ERR_TIMEOUT) {
            CDC_LOG_WARN("kafka topic=%s not created: %s; relying on broker auto-creation "
                         "(check that it is compacted)",
                         t.data, es->msg);
            err = CDC_OK;
        }
    }
    cdc_buf_deinit(&t);
    return err;
}

/* Initialises the transactional producer of every source (fencing older instances). */
static cdc_err_t
init_producers(cdc_kafka_bus_t *bus, const cdc_config_t *cfg, cdc_errstr_t *es)
{
    char txn_id[512];
    for (size_t i = 0; i < cfg->n_sources; i++) {
        snprintf(txn_id, sizeof(txn_id), "%s.%s", cfg->agent.name, cfg->sources[i].name);
        cdc_producer_t *p = cdc_producer_new(&cfg->kafka, cdc_kafka_bus_bootstrap(bus), txn_id, es);
        if (!p)
            return CDC_ERR_KAFKA;
        cdc_err_t err = cdc_producer_init(p, 30000);
        if (err)
            cdc_errstr_set(es, err, "%s", cdc_producer_errstr(p));
        else
            CDC_LOG_INFO("kafka producer ready transactional_id=%s", txn_id);
        cdc_producer_free(p);
        if (err)
            return err;
    }
    return CDC_OK;
}

/* Names every configured source or sink whose connector does not exist yet. */
static int
missing_connectors(const cdc_config_t *cfg)
{
    int missing = 0;
    for (size_t i = 0; i < cfg->n_sources; i++) {
        const cdc_connector_t *c = cdc_connector_find(cfg->sources[i].type);
        if (!c->source) {
            CDC_LOG_ERROR("source=%s: the %s source connector is not implemented yet",
                          cfg->sources[i].name, c->name);
            missing++;
        }
    }
    for (size_t i = 0; i < cfg->n_sinks; i++) {
        const cdc_connector_t *c = cdc_connector_find(cfg->sinks[i].type);
        if (!c->sink) {
            CDC_LOG_ERROR("sink=%s: the %s sink connector is not implemented yet",
                          cfg->sinks[i].name, c->name);
            missing++;
        }
    }
    return missing;
}

int
cdc_run(const cdc_config_t *cfg)
{
    cdc_errstr_t es = {{0}};
    CDC_LOG_INFO("agent starting name=%s config=%s sources=%zu sinks=%zu", cfg->agent.name,
                 cfg->path, cfg->n_sources, cfg->n_sinks);
    cdc_kafka_bus_t *bus = cdc_kafka_bus_new(&cfg->kafka, &es);
    if (!bus) {
        CDC_LOG_ERROR("kafka: %s", es.msg);
        return CDC_EXIT_FAILURE;
    }
    int brokers = 0;
    cdc_err_t err = cdc_kafka_bus_ping(bus, 30000, &brokers, &es);
    if (!err)
        err = create_internal_topics(bus, cfg, &es);
    if (!err)
        err = init_producers(bus, cfg, &es);
    int rc = CDC_EXIT_OK;
    if (err) {
        CDC_LOG_ERROR("kafka: %s", es.msg);
        rc = CDC_EXIT_FAILURE;
    } else {
        CDC_LOG_INFO("kafka ready bootstrap=%s brokers=%d", cdc_kafka_bus_bootstrap(bus), brokers);
        if (missing_connectors(cfg))
            rc = CDC_EXIT_FAILURE;
    }
    cdc_kafka_bus_free(bus);
    CDC_LOG_INFO("agent stopped exit=%d", rc);
    return rc;
}

/*
 * The check command. Every component is tried even after one fails, so one run shows everything
 * an operator has to fix. Output never contains a secret: only host:port, names and causes.
 */
#include "cdc/check.h"

#include "cdc/connector.h"
#include "cdc/kafka.h"

static int
check_kafka(const cdc_config_t *cfg, FILE *out)
{
    cdc_errstr_t es = {{0}};
    cdc_kafka_bus_t *bus = cdc_kafka_bus_new(&cfg->kafka, &es);
    int brokers = 0;
    if (!bus || cdc_kafka_bus_ping(bus, 10000, &brokers, &es) != CDC_OK) {
        fprintf(out, "kafka    %s: FAILED: %s\n", cfg->kafka.brokers, es.msg);
        cdc_kafka_bus_free(bus);
        return 1;
    }
    if (cdc_kafka_bus_embedded(bus))
        fprintf(out, "kafka    embedded (in-process mock cluster, non-durable): ok, %d brokers\n",
                brokers);
    else
        fprintf(out, "kafka    %s: ok, %d brokers\n", cfg->kafka.brokers, brokers);
    cdc_kafka_bus_free(bus);
    return 0;
}

static int
check_db(const char *role, const char *name, cdc_db_type_t type, const cdc_db_conn_t *conn,
         const cdc_source_conf_t *source, const cdc_sink_conf_t *sink, FILE *out)
{
    const cdc_connector_t *c = cdc_connector_find(type);
    cdc_probe_t probe;
    cdc_errstr_t es = {{0}};
    if (c->probe(conn, source, sink, &probe, &es) != CDC_OK) {
        fprintf(out, "%-8s %s (%s): FAILED: %s\n", role, name, c->name, es.msg);
        return 1;
    }
    fprintf(out, "%-8s %s (%s %s): %s, %s\n", role, name, c->name, probe.endpoint,
            probe.n_problems ? "NOT READY" : "ok", probe.server_version);
    for (int i = 0; i < probe.n_notes; i++)
        fprintf(out, "         - %s\n", probe.notes[i]);
    return probe.n_problems ? 1 : 0;
}

int
cdc_check_run(const cdc_config_t *cfg, FILE *out)
{
    int failed = 0;
    fprintf(out, "config   %s: ok (%zu source%s, %zu sink%s)\n", cfg->path, cfg->n_sources,
            cfg->n_sources == 1 ? "" : "s", cfg->n_sinks, cfg->n_sinks == 1 ? "" : "s");
    failed += check_kafka(cfg, out);
    for (size_t i = 0; i < cfg->n_sources; i++)
        failed += check_db("source", cfg->sources[i].name, cfg->sources[i].type,
                           &cfg->sources[i].conn, &cfg->sources[i], NULL, out);
    for (size_t i = 0; i < cfg->n_sinks; i++)
        failed += check_db("sink", cfg->sinks[i].name, cfg->sinks[i].type, &cfg->sinks[i].conn,
                           NULL, &cfg->sinks[i], out);
    fprintf(out, "%s\n", failed ? "result   NOT READY" : "result   ready");
    fflush(out);
    return failed;
}

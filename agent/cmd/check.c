/*
 * The check command. Every component is tried even after one fails, so one run shows everything
 * an operator has to fix. Output never contains a secret: only host:port, names and causes.
 */
#include "cdc/check.h"

#include "cdc/connector.h"
#include <string.h>

#include "cdc/kafka.h"
#include "cdc/kafka_topics.h"
#include "cdc/sink.h"
#include "cdc/topic.h"

/* One topic the agent uses: its settings, or that the agent will create it. */
static int
check_topic(const cdc_config_t *cfg, cdc_kafka_bus_t *bus, const char *topic, bool keep_latest,
            int partitions, FILE *out)
{
    cdc_topic_info_t ti;
    cdc_errstr_t es = {{0}};
    if (cdc_kafka_topic_info(bus, topic, &ti, &es) ||
        cdc_kafka_topic_validate(&cfg->kafka, topic, keep_latest, &ti, &es)) {
        fprintf(out, "topic    %s: FAILED: %s\n", topic, es.msg);
        return 1;
    }
    if (!ti.partitions)
        fprintf(out, "topic    %s: missing; created at start (%d partition%s%s)\n", topic,
                partitions, partitions == 1 ? "" : "s", keep_latest ? ", compacted" : "");
    else if (ti.described)
        fprintf(out, "topic    %s: ok, %d partition%s, %d replica%s, cleanup.policy=%s\n", topic,
                ti.partitions, ti.partitions == 1 ? "" : "s", ti.replicas,
                ti.replicas == 1 ? "" : "s", ti.cleanup_policy);
    else
        fprintf(out, "topic    %s: %d partition%s (settings not verified: DescribeConfigs: %s)\n",
                topic, ti.partitions, ti.partitions == 1 ? "" : "s", rd_kafka_err2str(ti.why_not));
    return 0;
}

/* The cluster's transaction settings and every topic the config uses. */
static int
check_cluster(const cdc_config_t *cfg, cdc_kafka_bus_t *bus, FILE *out)
{
    cdc_cluster_info_t ci;
    cdc_errstr_t es = {{0}};
    cdc_buf_t b;
    cdc_buf_init(&b);
    int failed = 0;
    if (cdc_kafka_cluster_info(bus, &ci, &es) || cdc_kafka_cluster_validate(&ci, &b, &es)) {
        fprintf(out, "kafka    transactions: FAILED: %s\n", es.msg);
        failed++;
    } else if (ci.described) {
        fprintf(out,
                "kafka    transactions: ok (transaction.state.log.replication.factor=%lld, "
                "min.isr=%lld, %d broker%s)\n",
                (long long)ci.txn_replication, (long long)ci.txn_min_isr, ci.brokers,
                ci.brokers == 1 ? "" : "s");
    } else {
        fprintf(out, "kafka    transactions: settings not verified (DescribeConfigs: %s)\n",
                rd_kafka_err2str(ci.why_not));
    }
    for (char *l = b.data, *nl; l && (nl = strchr(l, '\n')); l = nl + 1)
        fprintf(out, "         - %.*s\n", (int)(nl - l), l);
    const char *internal[] = {"offsets", "schemas"};
    for (int i = 0; i < 2; i++) {
        cdc_topic_internal(&b, cfg->kafka.topic_prefix, internal[i], NULL);
        failed += check_topic(cfg, bus, b.data, true, 1, out);
    }
    for (size_t s = 0; s < cfg->n_sources; s++)
        for (size_t t = 0; t < cfg->sources[s].n_tables; t++) {
            if (cdc_source_table_topic(cfg, &cfg->sources[s], t, &b, &es))
                fprintf(out, "topic    of %s: FAILED: %s\n", cfg->sources[s].tables[t], es.msg);
            else
                failed += check_topic(cfg, bus, b.data, false, cfg->kafka.partitions, out);
        }
    bool conflicts = false, links = false;
    for (size_t k = 0; k < cfg->n_sinks; k++) {
        cdc_topic_internal(&b, cfg->kafka.topic_prefix, "dlq", cfg->sinks[k].name);
        failed += check_topic(cfg, bus, b.data, false, 1, out);
        conflicts |= cdc_sink_has_conflict_policy(&cfg->sinks[k]);
        links |= cdc_sink_has_links(&cfg->sinks[k]);
    }
    const char *shared[] = {conflicts ? "conflicts" : NULL, links ? "links" : NULL};
    for (int i = 0; i < 2; i++) {
        if (!shared[i])
            continue;
        cdc_topic_internal(&b, cfg->kafka.topic_prefix, shared[i], NULL);
        failed += check_topic(cfg, bus, b.data, false, 1, out);
    }
    cdc_buf_deinit(&b);
    return failed;
}

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
        fprintf(out, "kafka    embedded (in-process mock cluster, non-durable): ok, %d broker%s\n",
                brokers, brokers == 1 ? "" : "s");
    else
        fprintf(out, "kafka    %s: ok, %d broker%s\n", cfg->kafka.brokers, brokers,
                brokers == 1 ? "" : "s");
    int failed = cdc_kafka_bus_embedded(bus) ? 0 : check_cluster(cfg, bus, out);
    cdc_kafka_bus_free(bus);
    return failed;
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

/* Notes the routes whose records this agent does not publish: from a source another agent runs
 * (a sidecar reading its peer's topics), or from a table its own source does not capture (yet:
 * one added to the source later). Neither is refused. */
static void
check_routes(const cdc_config_t *cfg, FILE *out)
{
    for (size_t i = 0; i < cfg->n_sinks; i++)
        for (size_t j = 0; j < cfg->sinks[i].n_routes; j++) {
            const cdc_route_conf_t *r = &cfg->sinks[i].routes[j];
            const cdc_source_conf_t *s = cdc_config_source(cfg, r->source);
            if (!s) {
                fprintf(out,
                        "route    %s of sink %s (%s:%d): source %s is not one of this agent's: "
                        "another agent with topic_prefix %s must publish it\n",
                        r->from, cfg->sinks[i].name, cfg->path, r->line, r->source,
                        cfg->kafka.topic_prefix);
                continue;
            }
            const char *table = r->from + strlen(r->source) + (r->from[strlen(r->source)] != 0);
            bool found = r->topic != NULL; /* a topic of its own: not a table's */
            for (size_t t = 0; t < s->n_tables && !found; t++)
                found = !strcmp(s->tables[t], table);
            if (!found)
                fprintf(out,
                        "route    %s of sink %s (%s:%d): source %s does not capture %s: nothing "
                        "arrives until it is added to the source's tables\n",
                        r->from, cfg->sinks[i].name, cfg->path, r->line, s->name, table);
        }
}

int
cdc_check_run(const cdc_config_t *cfg, FILE *out)
{
    int failed = 0;
    fprintf(out, "config   %s: ok (%zu source%s, %zu sink%s)\n", cfg->path, cfg->n_sources,
            cfg->n_sources == 1 ? "" : "s", cfg->n_sinks, cfg->n_sinks == 1 ? "" : "s");
    check_routes(cfg, out);
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

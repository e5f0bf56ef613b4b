/*
 * `cdc-agent source drop`: the explicit way to start a source over (after a lost slot, or to take
 * a new snapshot). The reset record makes the next start take a snapshot in the next epoch, so
 * sinks see the new epoch and reset their re-send guard instead of skipping the new positions.
 */
#include "cdc/admin.h"

#include <string.h>
#include <unistd.h>

#include "cdc/clock.h"
#include "cdc/cli.h"
#include "cdc/connector.h"
#include "cdc/kafka.h"
#include "cdc/offsets.h"
#include "cdc/topic.h"

cdc_err_t
cdc_admin_write_offsets(const cdc_config_t *cfg, const cdc_source_conf_t *src,
                        const cdc_offsets_t *o, cdc_errstr_t *es)
{
    cdc_kafka_bus_t *bus = cdc_kafka_bus_new(&cfg->kafka, es);
    if (!bus)
        return CDC_ERR_KAFKA;
    cdc_buf_t topic, value;
    cdc_buf_init(&topic);
    cdc_buf_init(&value);
    cdc_topic_internal(&topic, cfg->kafka.topic_prefix, "offsets", NULL);
    cdc_offsets_encode(&value, src->name, o);
    /* the agent's own transactional id: a producer of an agent still running is fenced */
    char txn_id[300];
    snprintf(txn_id, sizeof(txn_id), "%s.%s", cfg->agent.name, src->name);
    cdc_producer_t *p = cdc_producer_new(&cfg->kafka, cdc_kafka_bus_bootstrap(bus), txn_id, es);
    cdc_err_t err = p ? cdc_producer_init(p, 30000) : CDC_ERR_KAFKA;
    cdc_record_t rec = {.topic = topic.data,
                        .partition = 0,
                        .key = src->name,
                        .key_len = strlen(src->name),
                        .value = value.data,
                        .value_len = value.len};
    if (!err && !(err = cdc_producer_begin(p)) && !(err = cdc_producer_send(p, &rec)))
        err = cdc_producer_commit(p, 30000);
    if (err && p)
        cdc_errstr_set(es, err, "%s", cdc_producer_errstr(p));
    cdc_producer_free(p);
    cdc_buf_deinit(&topic);
    cdc_buf_deinit(&value);
    cdc_kafka_bus_free(bus);
    return err;
}

/* Writes a reset record for source with the epoch after the stored one. */
static cdc_err_t
write_reset(const cdc_config_t *cfg, const cdc_source_conf_t *src, uint32_t *epoch,
            cdc_errstr_t *es)
{
    cdc_offsets_t stored;
    cdc_err_t err = cdc_admin_load_offsets(cfg, src, &stored, es);
    if (!err) {
        *epoch = stored.found ? cdc_pos_epoch_next(stored.pos.epoch) : 1;
        cdc_offsets_t reset = {.found = true, .reset = true, .pos = {.epoch = *epoch}};
        err = cdc_admin_write_offsets(cfg, src, &reset, es);
    }
    cdc_offsets_clear(&stored);
    return err;
}

cdc_err_t
cdc_admin_load_offsets(const cdc_config_t *cfg, const cdc_source_conf_t *src, cdc_offsets_t *o,
                       cdc_errstr_t *es)
{
    memset(o, 0, sizeof(*o));
    cdc_kafka_bus_t *bus = cdc_kafka_bus_new(&cfg->kafka, es);
    if (!bus)
        return CDC_ERR_KAFKA;
    cdc_buf_t topic;
    cdc_buf_init(&topic);
    cdc_topic_internal(&topic, cfg->kafka.topic_prefix, "offsets", NULL);
    cdc_err_t err =
        cdc_offsets_load(&cfg->kafka, cdc_kafka_bus_bootstrap(bus), topic.data, src->name, o, es);
    cdc_buf_deinit(&topic);
    cdc_kafka_bus_free(bus);
    return err;
}

static bool
confirmed(const cdc_source_conf_t *src, FILE *in, FILE *out)
{
    fprintf(out,
            "This drops replication slot %s and publication %s of source %s. The next start "
            "takes a new snapshot of %zu table(s) in a new epoch.\nType the source name to "
            "confirm: ",
            src->slot, src->publication, src->name, src->n_tables);
    fflush(out);
    char line[256];
    if (!fgets(line, sizeof(line), in))
        return false;
    line[strcspn(line, "\r\n")] = '\0';
    return strcmp(line, src->name) == 0;
}

const cdc_source_conf_t *
cdc_admin_source(const cdc_config_t *cfg, const char *name)
{
    const cdc_source_conf_t *src = cdc_config_source(cfg, name);
    if (!src)
        fprintf(stderr, "cdc-agent: %s: no source named %s\n", cfg->path, name);
    return src;
}

const cdc_sink_conf_t *
cdc_admin_sink(const cdc_config_t *cfg, const char *name)
{
    const cdc_sink_conf_t *sink = cdc_config_sink(cfg, name);
    if (!sink)
        fprintf(stderr, "cdc-agent: %s: no sink named %s\n", cfg->path, name);
    return sink;
}

bool
cdc_admin_kafka_cluster(const cdc_config_t *cfg, const char *command)
{
    if (!cfg->kafka.embedded)
        return true;
    fprintf(stderr,
            "cdc-agent: %s: kafka.brokers is embedded: its topics and stored positions live only "
            "inside a running agent, so there is nothing for %s to work on; it works with a "
            "Kafka cluster\n",
            cfg->path, command);
    return false;
}

int
cdc_admin_source_drop(const cdc_config_t *cfg, const char *source, bool yes, FILE *in, FILE *out)
{
    const cdc_source_conf_t *src = cdc_admin_source(cfg, source);
    if (!src)
        return CDC_EXIT_USAGE;
    const cdc_connector_t *c = cdc_connector_find(src->type);
    cdc_errstr_t es = {{0}};
    uint32_t epoch = 0;
    if (c->source_drop(src, true, &es)) {
        fprintf(stderr, "cdc-agent: %s\n", es.msg);
        return CDC_EXIT_FAILURE;
    }
    if (!yes && !confirmed(src, in, out)) {
        fprintf(stderr, "cdc-agent: not confirmed; nothing changed\n");
        return CDC_EXIT_FAILURE;
    }
    if (c->source_drop(src, false, &es) || write_reset(cfg, src, &epoch, &es)) {
        fprintf(stderr, "cdc-agent: %s\n", es.msg);
        return CDC_EXIT_FAILURE;
    }
    fprintf(out, "source %s dropped; the next start takes a new snapshot in epoch %u\n", src->name,
            epoch);
    return CDC_EXIT_OK;
}

void
cdc_progress_init(cdc_progress_t *p, const char *what, const char *unit, uint64_t total, FILE *out)
{
    *p = (cdc_progress_t){what, unit, total, cdc_mono_ms(), 0, isatty(fileno(out)) == 1, out};
}

void
cdc_progress_show(cdc_progress_t *p, uint64_t done, bool final)
{
    int64_t now = cdc_mono_ms();
    if (!final && now - p->last_ms < (p->tty ? 200 : 5000))
        return;
    p->last_ms = now;
    double secs = (double)(now - p->started_ms) / 1000.0;
    double rate = secs > 0 ? (double)done / secs : 0;
    double eta = rate > 0 && p->total > done ? (double)(p->total - done) / rate : 0;
    int pct = p->total ? (int)((done < p->total ? done : p->total) * 100 / p->total) : 100;
    fprintf(p->out, "%s%s: %llu of %llu %s (%d%%), %.0f/s, ETA %.0f s%s", p->tty ? "\r" : "",
            p->what, (unsigned long long)done, (unsigned long long)p->total, p->unit, pct, rate,
            eta, p->tty ? (final ? "\n" : "   ") : "\n");
    fflush(p->out);
}

/*
 * `cdc-agent snapshot`: re-snapshot one table while the agent streams (docs/design.md "Snapshots").
 * The command writes a request into the source's own stream (connector source_request), so the
 * running agent reads it in order with every change, and a stopped one at its next start; the
 * source then reads the table chunk by chunk between watermarks. Progress and the outcome come
 * back in the source's offset records (their "resnapshot" object), which this command follows
 * from the offsets topic until the request is done.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "cdc/admin.h"
#include "cdc/clock.h"
#include "cdc/connector.h"
#include "cdc/kafka.h"
#include "cdc/offsets.h"
#include "cdc/topic.h"

#define RUNNING_CHECK_MS 10000

typedef cdc_snapshot_status_t req_status_t;

void
cdc_admin_snapshot_status(const char *resnap, const char *id, cdc_snapshot_status_t *st)
{
    json_t *v = json_loads(resnap, 0, NULL), *e;
    size_t i;
    json_array_foreach(json_object_get(v, "queue"), i, e)
    {
        const char *eid = json_string_value(json_object_get(e, "id"));
        if (eid && !strcmp(eid, id)) {
            st->state = CDC_SNAP_QUEUED;
            st->rows = (uint64_t)json_integer_value(json_object_get(e, "rows"));
            st->ahead = i;
        }
    }
    json_array_foreach(json_object_get(v, "done"), i, e)
    {
        const char *eid = json_string_value(json_object_get(e, "id"));
        if (!eid || strcmp(eid, id))
            continue;
        const char *error = json_string_value(json_object_get(e, "error"));
        st->state = error ? CDC_SNAP_REFUSED : CDC_SNAP_DONE;
        st->rows = (uint64_t)json_integer_value(json_object_get(e, "rows"));
        snprintf(st->error, sizeof(st->error), "%s", error ? error : "");
    }
    json_decref(v);
}

static bool
running(const cdc_connector_t *c, const cdc_source_conf_t *src)
{
    cdc_source_now_t now;
    cdc_errstr_t es = {{0}};
    return c->source_now(src, NULL, &now, &es) == CDC_OK && now.running[0];
}

/* Follows source's offset records with cons from offset `from` until request id is done. */
static int
follow(cdc_consumer_t *cons, const cdc_source_conf_t *src, const char *topic, int64_t from,
       const char *id, const char *table, uint64_t total, FILE *out)
{
    const cdc_connector_t *c = cdc_connector_find(src->type);
    cdc_errstr_t es = {{0}};
    if (cdc_consumer_assign(cons, topic, 0, from, &es)) {
        fprintf(stderr, "cdc-agent: snapshot: reading %s: %s\n", topic, es.msg);
        return CDC_EXIT_FAILURE;
    }
    cdc_progress_t pr;
    cdc_progress_init(&pr, "snapshot", "rows", total, stderr);
    req_status_t st = {CDC_SNAP_UNSEEN, 0, 0, {0}};
    size_t slen = strlen(src->name);
    int64_t checked = cdc_mono_ms(), started = checked;
    int stopped = 0;
    bool said_queued = false, said_waiting = false;
    while (st.state == CDC_SNAP_UNSEEN || st.state == CDC_SNAP_QUEUED) {
        rd_kafka_message_t *m = cdc_consumer_poll(cons, 500);
        if (m && !m->err && m->key_len == slen && !memcmp(m->key, src->name, slen) && m->payload) {
            cdc_offsets_t o = {0};
            if (cdc_offsets_decode(m->payload, m->len, &o) && o.resnap)
                cdc_admin_snapshot_status(o.resnap, id, &st);
            cdc_offsets_clear(&o);
            if (st.state == CDC_SNAP_QUEUED && st.ahead && !said_queued) {
                fprintf(out, "queued behind %zu other table(s)\n", st.ahead);
                said_queued = true;
            }
            if (st.state == CDC_SNAP_QUEUED && !st.ahead)
                cdc_progress_show(&pr, st.rows, false);
        }
        if (m)
            rd_kafka_message_destroy(m);
        if (st.state == CDC_SNAP_UNSEEN && !said_waiting && cdc_mono_ms() - started >= 5000) {
            fprintf(out, "waiting for the agent to reach the request in its stream (it is behind; "
                         "see offsets show)\n");
            fflush(out);
            said_waiting = true;
        }
        if (cdc_mono_ms() - checked >= RUNNING_CHECK_MS) {
            checked = cdc_mono_ms();
            stopped = running(c, src) ? 0 : stopped + 1;
            if (stopped >= 2)
                break; /* twice in a row: not a restart */
        }
    }
    switch (st.state) {
    case CDC_SNAP_DONE:
        cdc_progress_show(&pr, st.rows, true);
        fprintf(out, "re-snapshot of %s completed: %llu rows read\n", table,
                (unsigned long long)st.rows);
        return CDC_EXIT_OK;
    case CDC_SNAP_REFUSED:
        fprintf(stderr, "cdc-agent: snapshot: the agent refused the request: %s\n", st.error);
        return CDC_EXIT_FAILURE;
    default:
        if (pr.tty && pr.last_ms)
            fputc('\n', stderr);
        fprintf(stderr,
                "cdc-agent: snapshot: source %s is no longer being read (the agent stopped); the "
                "request stays in its stream and the re-snapshot %s when the agent starts "
                "again\n",
                src->name, st.state == CDC_SNAP_QUEUED ? "continues" : "starts");
        return CDC_EXIT_FAILURE;
    }
}

/* Whether src captures table; says which tables it does when not. */
static bool
table_listed(const cdc_config_t *cfg, const cdc_source_conf_t *src, const char *table)
{
    for (size_t i = 0; i < src->n_tables; i++)
        if (!strcmp(src->tables[i], table))
            return true;
    fprintf(stderr, "cdc-agent: %s: source %s does not capture table %s; its tables:", cfg->path,
            src->name, table);
    for (size_t i = 0; i < src->n_tables; i++)
        fprintf(stderr, "%s %s", i ? "," : "", src->tables[i]);
    fputc('\n', stderr);
    return false;
}

/* Checks the source has streamed (its first start snapshots every table anyway) and notes where
 * its offset records stand before the request (*high): the request's outcome comes after. The
 * consumer that follows them is *cons, on *bus. */
static bool
watch_offsets(const cdc_config_t *cfg, const cdc_source_conf_t *src, const char *topic,
              cdc_kafka_bus_t **bus, cdc_consumer_t **cons, int64_t *high)
{
    cdc_errstr_t es = {{0}};
    cdc_offsets_t stored;
    cdc_err_t err = cdc_admin_load_offsets(cfg, src, &stored, &es);
    bool started = stored.found && !stored.reset;
    cdc_offsets_clear(&stored);
    if (err) {
        fprintf(stderr, "cdc-agent: snapshot: %s\n", es.msg);
        return false;
    }
    if (!started) {
        fprintf(stderr,
                "cdc-agent: snapshot: source %s has not streamed yet: its first start "
                "snapshots every table\n",
                src->name);
        return false;
    }
    int64_t low = 0;
    *bus = cdc_kafka_bus_new(&cfg->kafka, &es);
    *cons = *bus ? cdc_consumer_new(&cfg->kafka, cdc_kafka_bus_bootstrap(*bus),
                                    "cdc-agent-snapshot", &es)
                 : NULL;
    if (!*cons || cdc_consumer_watermarks(*cons, topic, 0, &low, high, 10000, &es)) {
        fprintf(stderr, "cdc-agent: snapshot: reading %s: %s\n", topic, es.msg);
        return false;
    }
    return true;
}

/* Writes the request (a fresh random id) into the source's own stream; *rows: the table's rows
 * now, as the source estimates them. */
static bool
send_request(const cdc_connector_t *c, const cdc_source_conf_t *src, const char *table, char id[32],
             int64_t *rows)
{
    uint64_t rnd = 0;
    if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        rnd = (uint64_t)cdc_wall_us();
    snprintf(id, 32, "%016llx", (unsigned long long)rnd);
    json_t *req = json_pack("{s:s, s:s, s:s}", "id", id, "snapshot", table, "source", src->name);
    char *payload = json_dumps(req, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(req);
    cdc_errstr_t es = {{0}};
    cdc_err_t err = c->source_request(src, table, id, payload, rows, &es);
    free(payload);
    if (err)
        fprintf(stderr, "cdc-agent: snapshot: source %s: %s\n", src->name, es.msg);
    return !err;
}

/* After the request: follows its progress where it can be seen (a real cluster, the agent
 * reading the source). */
static int
watch(const cdc_config_t *cfg, const cdc_connector_t *c, const cdc_source_conf_t *src,
      cdc_consumer_t *cons, const char *topic, int64_t high, const char *id, const char *table,
      int64_t rows, FILE *out)
{
    if (cfg->kafka.embedded) {
        fprintf(out, "kafka.brokers is embedded: its progress shows in the agent's log\n");
        return CDC_EXIT_OK;
    }
    if (!running(c, src)) {
        fprintf(out,
                "source %s is not being read now: the agent takes the request when it starts\n",
                src->name);
        return CDC_EXIT_OK;
    }
    fprintf(out, "following its progress (Ctrl-C stops watching; the re-snapshot goes on)\n");
    fflush(out);
    return follow(cons, src, topic, high, id, table, (uint64_t)rows, out);
}

int
cdc_admin_snapshot(const cdc_config_t *cfg, const cdc_cli_t *cli, FILE *out)
{
    const cdc_source_conf_t *src = cdc_admin_source(cfg, cli->source);
    if (!src || !table_listed(cfg, src, cli->table))
        return CDC_EXIT_USAGE;
    const cdc_connector_t *c = cdc_connector_find(src->type);
    cdc_kafka_bus_t *bus = NULL;
    cdc_consumer_t *cons = NULL;
    cdc_buf_t topic;
    cdc_buf_init(&topic);
    cdc_topic_internal(&topic, cfg->kafka.topic_prefix, "offsets", NULL);
    int64_t high = 0, rows = 0;
    char id[32];
    bool sent = (cfg->kafka.embedded || watch_offsets(cfg, src, topic.data, &bus, &cons, &high)) &&
                send_request(c, src, cli->table, id, &rows);
    int rc = sent ? CDC_EXIT_OK : CDC_EXIT_FAILURE;
    if (sent) {
        fprintf(out,
                "snapshot request %s: source %s re-reads %s (%lld rows now) while it streams\n", id,
                src->name, cli->table, (long long)rows);
        fflush(out);
    }
    if (sent && !cli->no_wait)
        rc = watch(cfg, c, src, cons, topic.data, high, id, cli->table, rows, out);
    cdc_consumer_free(cons);
    cdc_kafka_bus_free(bus);
    cdc_buf_deinit(&topic);
    return rc;
}

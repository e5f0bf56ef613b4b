/*
 * `cdc-agent offsets show`: where every source and sink stands, read without touching anything
 * (safe while the agent runs):
 *   per source: the position stored in <prefix>._offsets, the server's current position, how far
 *   behind it the agent is (bytes of log), the WAL a PostgreSQL slot retains, who reads it now;
 *   per sink and partition: the offset stored in the target's cdc_sink_offsets, the log end on
 *   the Kafka cluster and the records in between.
 * A human table by default, --json for scripts.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/admin.h"
#include "cdc/connector.h"
#include "cdc/kafka.h"
#include "cdc/offsets.h"
#include "cdc/sink_offsets.h"
#include "sink/sink_internal.h"

/* "12.3 MB" style sizes for the table. */
static const char *
human_bytes(char *out, size_t n, int64_t v)
{
    if (v < 0)
        snprintf(out, n, "?");
    else if (v < 1024)
        snprintf(out, n, "%lld B", (long long)v);
    else if (v < 1024 * 1024)
        snprintf(out, n, "%.1f kB", (double)v / 1024);
    else if (v < 1024LL * 1024 * 1024)
        snprintf(out, n, "%.1f MB", (double)v / (1024 * 1024));
    else
        snprintf(out, n, "%.1f GB", (double)v / (1024.0 * 1024 * 1024));
    return out;
}

/* The source's re-snapshot queue, one line per table (`cdc-agent snapshot`, added tables). */
static void
resnap_lines(const char *resnap, FILE *out)
{
    json_t *v = resnap ? json_loads(resnap, 0, NULL) : NULL, *e;
    size_t i;
    json_array_foreach(json_object_get(v, "queue"), i, e)
    {
        const char *id = json_string_value(json_object_get(e, "id"));
        fprintf(out, "%-12s re-snapshot %s: %s, %lld rows read (%s)\n", "",
                json_string_value(json_object_get(e, "table")), i ? "queued" : "reading",
                (long long)json_integer_value(json_object_get(e, "rows")),
                id && id[0] ? id : "added to the config");
    }
    json_decref(v);
}

static json_t *
source_json(const cdc_config_t *cfg, const cdc_source_conf_t *src, FILE *out, bool text)
{
    cdc_errstr_t es = {{0}};
    json_t *j =
        json_pack("{s:s, s:s}", "name", src->name, "type", cdc_connector_find(src->type)->name);
    cdc_offsets_t stored = {0};
    char stored_txt[700] = "none";
    if (cfg->kafka.embedded) {
        snprintf(stored_txt, sizeof(stored_txt), "? (embedded Kafka: kept inside the agent)");
    } else if (cdc_admin_load_offsets(cfg, src, &stored, &es)) {
        snprintf(stored_txt, sizeof(stored_txt), "? (%s)", es.msg);
        json_object_set_new(j, "stored_error", json_string(es.msg));
    } else if (stored.found) {
        char pos[CDC_POS_STRLEN];
        cdc_pos_format(pos, &stored.pos);
        json_t *st =
            json_pack("{s:s, s:I, s:b, s:b}", "pos", pos, "epoch", (json_int_t)stored.pos.epoch,
                      "snapshot_done", stored.snapshot_done, "reset", stored.reset);
        if (stored.native)
            json_object_set_new(st, "source_resume", json_loads(stored.native, 0, NULL));
        if (stored.resnap)
            json_object_set_new(st, "resnapshot", json_loads(stored.resnap, 0, NULL));
        json_object_set_new(j, "stored", st);
        if (!cdc_connector_find(src->type)->stored_position(&stored, stored_txt,
                                                            sizeof(stored_txt)))
            snprintf(stored_txt, sizeof(stored_txt), "%s", pos);
        size_t l = strlen(stored_txt);
        snprintf(stored_txt + l, sizeof(stored_txt) - l, " (epoch %u%s)",
                 (unsigned)stored.pos.epoch,
                 stored.reset           ? ", reset: snapshot at next start"
                 : stored.snapshot_done ? ""
                                        : ", snapshot not done");
    }
    cdc_source_now_t now;
    cdc_errstr_t nes = {{0}};
    char lag[32], kept[32], server[700];
    if (cdc_connector_find(src->type)->source_now(src, stored.native, &now, &nes)) {
        snprintf(server, sizeof(server), "? (%s)", nes.msg);
        json_object_set_new(j, "server_error", json_string(nes.msg));
        now.lag_bytes = now.retained_bytes = -1;
        now.running[0] = '\0';
    } else {
        snprintf(server, sizeof(server), "%s", now.position);
        json_t *sv = json_pack("{s:s}", "position", now.position);
        if (now.acked[0])
            json_object_set_new(sv, "acknowledged", json_string(now.acked));
        json_object_set_new(sv, "lag_bytes",
                            now.lag_bytes >= 0 ? json_integer(now.lag_bytes) : json_null());
        if (now.retained_bytes >= 0)
            json_object_set_new(sv, "retained_bytes", json_integer(now.retained_bytes));
        json_object_set_new(sv, "running", now.running[0] ? json_string(now.running) : json_null());
        json_object_set_new(j, "server", sv);
    }
    if (text) {
        fprintf(out, "%-12s %-10s %-46s %-24s %-10s %s\n", src->name,
                cdc_connector_find(src->type)->name, stored_txt, server,
                human_bytes(lag, sizeof(lag), now.lag_bytes),
                now.retained_bytes >= 0 ? human_bytes(kept, sizeof(kept), now.retained_bytes)
                                        : "-");
        if (now.running[0])
            fprintf(out, "%-12s %s\n", "", now.running);
        resnap_lines(stored.resnap, out);
    }
    cdc_offsets_clear(&stored);
    return j;
}

/* From a plain session of the sink's target (its lock not taken: the sink may run). */
static cdc_err_t
load_sink_offsets(const cdc_sink_conf_t *sink, cdc_sink_offsets_t *o, cdc_errstr_t *es)
{
    const cdc_sink_ops_t *ops = cdc_connector_find(sink->type)->sink;
    cdc_sink_target_t *t;
    cdc_err_t err = cdc_sink_target_open(ops, sink, false, &t, es);
    if (err)
        return err;
    err = ops->load_offsets(t, o, es);
    ops->close(t);
    return err;
}

json_t *
cdc_admin_sink_offsets_json(const cdc_config_t *cfg, const cdc_sink_conf_t *sink, rd_kafka_t *rk,
                            FILE *out, bool text)
{
    cdc_errstr_t es = {{0}};
    json_t *j = json_pack("{s:s, s:s, s:[]}", "name", sink->name, "type",
                          cdc_connector_find(sink->type)->name, "partitions");
    cdc_sink_offsets_t stored = {0};
    if (load_sink_offsets(sink, &stored, &es)) {
        json_object_set_new(j, "error", json_string(es.msg));
        if (text)
            fprintf(out, "%-12s ? (%s)\n", sink->name, es.msg);
        return j;
    }
    cdc_buf_t topic;
    cdc_buf_init(&topic);
    for (size_t r = 0; r < sink->n_routes; r++) {
        int n = 0;
        cdc_errstr_t tes = {{0}};
        if (cdc_sink_route_topic(cfg, &sink->routes[r], &topic, &tes) ||
            (rk && cdc_kafka_partition_count(rk, topic.data, 10000, &n, &tes)))
            n = 0;
        /* without the cluster (embedded), the stored rows are all there is to show */
        for (size_t i = 0; !rk && i < stored.n; i++) {
            if (strcmp(stored.v[i].topic, topic.data))
                continue;
            json_array_append_new(json_object_get(j, "partitions"),
                                  json_pack("{s:s, s:i, s:I}", "topic", topic.data, "partition",
                                            (int)stored.v[i].partition, "next_offset",
                                            (json_int_t)stored.v[i].next_offset));
            if (text) {
                char name[300];
                snprintf(name, sizeof(name), "%s[%d]", topic.data, (int)stored.v[i].partition);
                fprintf(out, "%-12s %-40s %10lld %10s %10s\n", sink->name, name,
                        (long long)stored.v[i].next_offset, "?", "?");
            }
        }
        for (int p = 0; p < n; p++) {
            int64_t low = 0, high = -1;
            if (rd_kafka_query_watermark_offsets(rk, topic.data, p, &low, &high, 10000))
                high = -1;
            const cdc_sink_offset_t *o = cdc_sink_offsets_find(&stored, topic.data, p);
            int64_t next = o ? o->next_offset : low; /* nothing applied: it starts at the low end */
            json_t *pj = json_pack("{s:s, s:i}", "topic", topic.data, "partition", p);
            json_object_set_new(pj, "next_offset", o ? json_integer(next) : json_null());
            json_object_set_new(pj, "log_end", high >= 0 ? json_integer(high) : json_null());
            json_object_set_new(
                pj, "lag", high >= 0 ? json_integer(high > next ? high - next : 0) : json_null());
            if (o && o->source_pos[0])
                json_object_set_new(pj, "source_pos", json_string(o->source_pos));
            json_array_append_new(json_object_get(j, "partitions"), pj);
            if (text) {
                char name[300], nxt[24], end[24], lag[24];
                snprintf(name, sizeof(name), "%s[%d]", topic.data, p);
                snprintf(nxt, sizeof(nxt), o ? "%lld" : "-", (long long)next);
                snprintf(end, sizeof(end), high >= 0 ? "%lld" : "?", (long long)high);
                snprintf(lag, sizeof(lag), high >= 0 ? "%lld" : "?",
                         (long long)(high > next ? high - next : 0));
                fprintf(out, "%-12s %-40s %10s %10s %10s\n", sink->name, name, nxt, end, lag);
            }
        }
    }
    cdc_buf_deinit(&topic);
    cdc_sink_offsets_free(&stored);
    return j;
}

int
cdc_admin_offsets_show(const cdc_config_t *cfg, bool as_json, FILE *out)
{
    cdc_errstr_t es = {{0}};
    rd_kafka_t *rk = NULL;
    if (!cfg->kafka.embedded &&
        !(rk = cdc_kafka_reader_new(&cfg->kafka, cfg->kafka.brokers, "cdc-offsets-show", &es))) {
        fprintf(stderr, "cdc-agent: offsets show: %s\n", es.msg);
        return CDC_EXIT_FAILURE;
    }
    bool text = !as_json;
    json_t *root = json_pack("{s:[], s:[]}", "sources", "sinks");
    if (text && cfg->n_sources)
        fprintf(out, "%-12s %-10s %-46s %-24s %-10s %s\n", "SOURCE", "TYPE", "STORED POSITION",
                "SERVER NOW", "BEHIND", "SLOT");
    for (size_t i = 0; i < cfg->n_sources; i++)
        json_array_append_new(json_object_get(root, "sources"),
                              source_json(cfg, &cfg->sources[i], out, text));
    if (text && cfg->n_sinks)
        fprintf(out, "%s%-12s %-40s %10s %10s %10s\n", cfg->n_sources ? "\n" : "", "SINK",
                "TOPIC[PARTITION]", "STORED", "LOG END", "LAG");
    for (size_t i = 0; i < cfg->n_sinks; i++)
        json_array_append_new(json_object_get(root, "sinks"),
                              cdc_admin_sink_offsets_json(cfg, &cfg->sinks[i], rk, out, text));
    if (as_json) {
        char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fprintf(out, "%s\n", s);
        free(s);
    } else if (cfg->kafka.embedded) {
        fprintf(out, "\n(kafka.brokers is embedded: stored source positions and log ends live "
                     "inside the running agent)\n");
    }
    json_decref(root);
    if (rk)
        rd_kafka_destroy(rk);
    return CDC_EXIT_OK;
}

/*
 * `cdc-agent replay`: re-applies a sink's history from a point in time or an offset.
 *
 * The start of each partition is found on the Kafka cluster: --from-offset names it; for
 * --from-timestamp it is the first record at or after that record timestamp, asked with
 * offsets_for_times and, where the broker cannot answer that (it returns -1, as the mock cluster
 * does), found by binary search on record timestamps between the watermarks (they follow source
 * commit order within a partition). --dry-run counts the events per table and changes nothing.
 * Otherwise the sink runs once: under its lock it moves those partitions back (never forward: a
 * partition not applied that far yet stays where it is) with their re-send guard cleared, applies
 * up to the log end and returns. Upserts and deletes are idempotent, so an up-to-date target is
 * left as it is and a damaged one gets back every row its history covers.
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cdc/admin.h"
#include "cdc/clock.h"
#include "cdc/connector.h"
#include "cdc/kafka.h"
#include "cdc/log.h"
#include "cdc/metrics.h"
#include "cdc/replay.h"
#include "sink/sink_internal.h"

typedef cdc_replay_part_t rpart_t;
typedef cdc_replay_plan_t rparts_t;

static atomic_bool interrupted; /* lock-free: set by the signal handler */

static void
on_signal(int sig)
{
    (void)sig;
    atomic_store(&interrupted, true);
}

static bool
stop_requested(void)
{
    return atomic_load(&interrupted);
}

/* Whether route r is the table asked for: its source table with or without the source name,
 * or its target table. */
static bool
route_matches(const cdc_route_conf_t *r, const char *table)
{
    if (!table || !strcmp(r->from, table) || !strcmp(r->to, table))
        return true;
    const char *dot = strchr(r->from, '.');
    return dot && !strcmp(dot + 1, table);
}

/* Reads partition p from offset on; calls each(record) until it returns false, the log end or
 * an error. */
static cdc_err_t
read_from(rd_kafka_t *rk, const rpart_t *p, int64_t offset,
          bool (*each)(void *ctx, const rd_kafka_message_t *m), void *ctx, atomic_bool *cancel,
          cdc_errstr_t *es)
{
    if (offset >= p->high)
        return CDC_OK;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, p->topic, NULL);
    if (rd_kafka_consume_start(rkt, p->partition, offset) == -1) {
        cdc_errstr_set(es, CDC_ERR_KAFKA, "reading %s[%d]: %s", p->topic, (int)p->partition,
                       rd_kafka_err2str(rd_kafka_last_error()));
        rd_kafka_topic_destroy(rkt);
        return CDC_ERR_KAFKA;
    }
    cdc_err_t err = CDC_OK;
    for (int idle = 0; !atomic_load(cancel);) {
        rd_kafka_message_t *m = rd_kafka_consume(rkt, p->partition, 1000);
        if (!m) {
            if (++idle < 30)
                continue;
            err = cdc_errstr_set(es, CDC_ERR_TIMEOUT, "reading %s[%d]: no answer for 30 s",
                                 p->topic, (int)p->partition);
            break;
        }
        idle = 0;
        bool done = false;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            done = true;
        else if (m->err)
            err = cdc_errstr_set(es, CDC_ERR_KAFKA, "reading %s[%d]: %s", p->topic,
                                 (int)p->partition, rd_kafka_message_errstr(m));
        else if (m->offset >= offset)
            done = !each(ctx, m) || m->offset + 1 >= p->high;
        rd_kafka_message_destroy(m);
        if (done || err)
            break;
    }
    rd_kafka_consume_stop(rkt, p->partition);
    rd_kafka_topic_destroy(rkt);
    return err;
}

typedef struct {
    bool found;
    int64_t offset, ts;
} probe_t;

static bool
probe_one(void *ctx, const rd_kafka_message_t *m)
{
    probe_t *pr = ctx;
    pr->found = true;
    pr->offset = m->offset;
    pr->ts = rd_kafka_message_timestamp(m, NULL);
    return false;
}

/* The first offset whose record has a timestamp at or after ts_ms. */
static cdc_err_t
offset_for_time(rd_kafka_t *rk, rpart_t *p, int64_t ts_ms, atomic_bool *cancel, cdc_errstr_t *es)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset = ts_ms;
    rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(rk, l, 10000);
    int64_t got = e ? -1 : l->elems[0].err ? -1 : l->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(l);
    p->found_by = "offsets_for_times";
    if (got >= 0) {
        p->start = got < p->low ? p->low : got;
        return CDC_OK;
    }
    /* no such record, or the broker cannot say (the mock cluster): binary search on record
     * timestamps; finding a record tells the broker could not answer */
    int64_t lo = p->low, hi = p->high;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        probe_t pr = {0};
        cdc_err_t err = read_from(rk, p, mid, probe_one, &pr, cancel, es);
        if (err)
            return err;
        if (!pr.found || pr.ts >= ts_ms)
            hi = mid;
        else
            lo = pr.offset + 1;
    }
    /* past the last record there may be only transaction markers: nothing to start from */
    probe_t last = {0};
    cdc_err_t err = read_from(rk, p, lo, probe_one, &last, cancel, es);
    if (err)
        return err;
    p->start = last.found ? lo : p->high;
    if (p->start < p->high)
        p->found_by = "a search of record timestamps (the broker did not answer offsets_for_times)";
    return CDC_OK;
}

static bool
count_one(void *ctx, const rd_kafka_message_t *m)
{
    rpart_t *p = ctx;
    if (m->payload) /* tombstones follow their delete */
        p->events++;
    return true;
}

/* The partitions of the sink's routes (those of --table), with their watermarks. */
static cdc_err_t
collect(const cdc_config_t *cfg, const cdc_sink_conf_t *sink, const char *table, rd_kafka_t *rk,
        rparts_t *out, cdc_errstr_t *es)
{
    cdc_buf_t topic;
    cdc_buf_init(&topic);
    cdc_err_t err = CDC_OK;
    bool any = false;
    for (size_t r = 0; !err && r < sink->n_routes; r++) {
        if (!route_matches(&sink->routes[r], table))
            continue;
        any = true;
        int n = 0;
        if ((err = cdc_sink_route_topic(cfg, &sink->routes[r], &topic, es)) ||
            (err = cdc_kafka_partition_count(rk, topic.data, 10000, &n, es)))
            break;
        if (!n)
            err = cdc_errstr_set(es, CDC_ERR_CONFIG, "topic %s (route %s) does not exist",
                                 topic.data, sink->routes[r].from);
        for (int p = 0; !err && p < n; p++) {
            out->v = cdc_xrealloc(out->v, (out->n + 1) * sizeof(rpart_t));
            rpart_t *rp = &out->v[out->n++];
            memset(rp, 0, sizeof(*rp));
            rp->route = r;
            snprintf(rp->topic, sizeof(rp->topic), "%s", topic.data);
            rp->partition = p;
            rd_kafka_resp_err_t e =
                rd_kafka_query_watermark_offsets(rk, topic.data, p, &rp->low, &rp->high, 10000);
            if (e)
                err = cdc_errstr_set(es, CDC_ERR_KAFKA, "%s[%d]: %s", topic.data, p,
                                     rd_kafka_err2str(e));
            rp->start = rp->high; /* nothing unless asked */
        }
    }
    cdc_buf_deinit(&topic);
    if (!err && !any)
        err = cdc_errstr_set(es, CDC_ERR_CONFIG, "sink %s has no route for table %s", sink->name,
                             table);
    return err;
}

/* Where each partition starts again. */
static cdc_err_t
find_starts(const cdc_replay_from_t *from, const cdc_sink_conf_t *sink, rd_kafka_t *rk,
            rparts_t *ps, cdc_errstr_t *es)
{
    if (from->has_from_ts) {
        for (size_t i = 0; i < ps->n; i++) {
            cdc_err_t err = offset_for_time(rk, &ps->v[i], from->from_ts_ms, from->cancel, es);
            if (err)
                return err;
        }
        return CDC_OK;
    }
    for (size_t i = 0; i < ps->n; i++) {
        rpart_t *p = &ps->v[i];
        if (strcmp(p->topic, from->topic) || p->partition != from->partition)
            continue;
        if (from->offset < p->low || from->offset > p->high)
            return cdc_errstr_set(es, CDC_ERR_INVAL,
                                  "%s[%d] holds offsets %lld..%lld; %lld is not among them",
                                  p->topic, (int)p->partition, (long long)p->low,
                                  (long long)p->high, (long long)from->offset);
        p->start = from->offset;
        return CDC_OK;
    }
    return cdc_errstr_set(es, CDC_ERR_INVAL,
                          "%s[%d] is not a partition the routes of sink %s%s%s read", from->topic,
                          (int)from->partition, sink->name, from->table ? " for table " : "",
                          from->table ? from->table : "");
}

cdc_err_t
cdc_replay_plan(const cdc_config_t *cfg, const cdc_sink_conf_t *sink, const char *bootstrap,
                const cdc_replay_from_t *from, cdc_replay_plan_t *plan, cdc_errstr_t *es)
{
    char group[300];
    snprintf(group, sizeof(group), "cdc-replay.%s", cfg->agent.name);
    memset(plan, 0, sizeof(*plan));
    rd_kafka_t *rk = cdc_kafka_reader_new(&cfg->kafka, bootstrap, group, es);
    cdc_err_t err = rk ? collect(cfg, sink, from->table, rk, plan, es) : CDC_ERR_KAFKA;
    if (!err)
        err = find_starts(from, sink, rk, plan, es);
    for (size_t i = 0; !err && i < plan->n; i++)
        err =
            read_from(rk, &plan->v[i], plan->v[i].start, count_one, &plan->v[i], from->cancel, es);
    if (rk)
        rd_kafka_destroy(rk);
    return err;
}

size_t
cdc_replay_rewind(const cdc_replay_plan_t *plan, cdc_sink_offset_t **out)
{
    size_t n = 0;
    *out = cdc_xcalloc(plan->n + 1, sizeof(**out));
    for (size_t i = 0; i < plan->n; i++) {
        if (plan->v[i].start >= plan->v[i].high)
            continue;
        cdc_sink_offset_t *o = &(*out)[n++];
        snprintf(o->topic, sizeof(o->topic), "%s", plan->v[i].topic);
        o->partition = plan->v[i].partition;
        o->next_offset = plan->v[i].start;
    }
    return n;
}

uint64_t
cdc_replay_events(const cdc_replay_plan_t *plan)
{
    uint64_t total = 0;
    for (size_t i = 0; i < plan->n; i++)
        total += plan->v[i].events;
    return total;
}

static void
progress(void *ctx, const cdc_sink_stats_t *st)
{
    cdc_progress_show(ctx, st->applied + st->skipped + st->dlq, false);
}

static void
report(const cdc_sink_conf_t *sink, const rparts_t *ps, bool dry_run, FILE *out)
{
    fprintf(out, "%s of sink %s:\n", dry_run ? "replay (dry run, nothing changed)" : "replay",
            sink->name);
    for (size_t r = 0; r < sink->n_routes; r++) {
        uint64_t events = 0;
        size_t parts = 0;
        bool selected = false;
        for (size_t i = 0; i < ps->n; i++) {
            if (ps->v[i].route != r)
                continue;
            selected = true;
            events += ps->v[i].events;
            parts += ps->v[i].start < ps->v[i].high;
        }
        if (selected)
            fprintf(out, "  %s -> %s: %llu events %s from %zu partition(s)\n", sink->routes[r].from,
                    sink->routes[r].to, (unsigned long long)events,
                    dry_run ? "would be re-applied" : "to re-apply", parts);
    }
    for (size_t i = 0; i < ps->n; i++)
        if (ps->v[i].start < ps->v[i].high)
            fprintf(out, "    %s[%d] from offset %lld to %lld%s%s\n", ps->v[i].topic,
                    (int)ps->v[i].partition, (long long)ps->v[i].start, (long long)ps->v[i].high,
                    ps->v[i].found_by ? ", found by " : "",
                    ps->v[i].found_by ? ps->v[i].found_by : "");
    fflush(out);
}

int
cdc_admin_replay(const cdc_config_t *cfg, const cdc_cli_t *cli, FILE *out)
{
    const cdc_sink_conf_t *sink = cdc_admin_sink(cfg, cli->sink);
    if (!sink || !cdc_admin_kafka_cluster(cfg, "replay"))
        return CDC_EXIT_USAGE;
    cdc_errstr_t es = {{0}};
    rparts_t ps = {0};
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    cdc_replay_from_t from = {cli->table,     cli->has_from_ts, cli->from_ts_ms, cli->topic,
                              cli->partition, cli->offset,      &interrupted};
    cdc_err_t err = cdc_replay_plan(cfg, sink, cfg->kafka.brokers, &from, &ps, &es);
    if (!err)
        report(sink, &ps, cli->dry_run, out);
    if (!err && !cli->dry_run) {
        cdc_sink_offset_t *rewind = NULL;
        size_t n = cdc_replay_rewind(&ps, &rewind);
        cdc_progress_t pr;
        cdc_progress_init(&pr, "replay", "events", cdc_replay_events(&ps), stderr);
        cdc_sink_opts_t opts = {.rewind = rewind,
                                .n_rewind = n,
                                .until_caught_up = true,
                                .progress = progress,
                                .progress_ctx = &pr};
        cdc_sink_stats_t stats = {0};
        err = cdc_sink_run(cfg, sink, cfg->kafka.brokers, cdc_connector_find(sink->type)->sink,
                           stop_requested, &opts, &stats, &es);
        if (err == CDC_ERR_FENCED)
            cdc_errstr_prefix(&es, "the sink is running elsewhere or took over meanwhile: stop it "
                                   "before a replay");
        if (pr.tty && pr.last_ms)
            fputc('\n', stderr);
        if (!err)
            fprintf(out, "replayed: applied=%llu skipped=%llu dlq=%llu%s\n",
                    (unsigned long long)stats.applied, (unsigned long long)stats.skipped,
                    (unsigned long long)stats.dlq, stop_requested() ? " (interrupted)" : "");
        free(rewind);
        cdc_metrics_free();
    }
    free(ps.v);
    if (err) {
        fprintf(stderr, "cdc-agent: replay: %s\n", es.msg);
        return err == CDC_ERR_INVAL || err == CDC_ERR_CONFIG ? CDC_EXIT_USAGE : CDC_EXIT_FAILURE;
    }
    return stop_requested() ? CDC_EXIT_FAILURE : CDC_EXIT_OK;
}

json_t *
cdc_replay_plan_json(const cdc_sink_conf_t *sink, const cdc_replay_plan_t *plan)
{
    json_t *routes = json_array(), *parts = json_array();
    for (size_t r = 0; r < sink->n_routes; r++) {
        uint64_t events = 0;
        size_t n = 0;
        bool selected = false;
        for (size_t i = 0; i < plan->n; i++) {
            if (plan->v[i].route != r)
                continue;
            selected = true;
            events += plan->v[i].events;
            n += plan->v[i].start < plan->v[i].high;
        }
        if (selected)
            json_array_append_new(routes,
                                  json_pack("{s:s, s:s, s:I, s:I}", "from", sink->routes[r].from,
                                            "to", sink->routes[r].to, "events", (json_int_t)events,
                                            "partitions", (json_int_t)n));
    }
    for (size_t i = 0; i < plan->n; i++) {
        const cdc_replay_part_t *p = &plan->v[i];
        if (p->start >= p->high)
            continue;
        json_t *o =
            json_pack("{s:s, s:i, s:I, s:I}", "topic", p->topic, "partition", (int)p->partition,
                      "from_offset", (json_int_t)p->start, "to_offset", (json_int_t)p->high);
        if (p->found_by)
            json_object_set_new(o, "found_by", json_string(p->found_by));
        json_array_append_new(parts, o);
    }
    return json_pack("{s:o, s:o}", "routes", routes, "partitions", parts);
}

/*
 * Jobs of the admin API (docs/api.md "Jobs"), each on a thread of its own while the agent runs:
 *   replay (POST /v1/sinks/{name}/replay): plans on the cluster where each partition starts again
 *     (agent/cmd/replay.c) and counts the events; a dry run ends there with the plan. Otherwise
 *     it hands the rewind to the sink's worker, which stops applying, runs the sink with the
 *     rewind until it has caught up (cdc_api_replay_run) and goes on as before; the other sinks
 *     and the sources keep running meanwhile.
 *   snapshots (POST /v1/sources/{name}/snapshots): writes one request per table into the source's
 *     stream (as `cdc-agent snapshot`) and follows their progress in the source's offset records;
 *     cancelled, it writes cancel requests the source reads in order (a queued table leaves the
 *     queue, the one being read stops after its chunk).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_internal.h"
#include "cdc/admin.h"
#include "cdc/cli.h"
#include "cdc/clock.h"
#include "cdc/connector.h"
#include "cdc/kafka.h"
#include "cdc/log.h"
#include "cdc/offsets.h"
#include "cdc/replay.h"
#include "cdc/topic.h"
#include "cdc/watermark.h"

typedef struct {
    cdc_api_t *api;
    cdc_job_t *job;
    /* replay */
    const cdc_sink_conf_t *sink;
    cdc_replay_from_t from;
    char table[256], topic[256];
    bool dry_run;
    cdc_sink_offset_t *rewind;
    size_t n_rewind;
    bool rewound;
    cdc_sink_offsets_t before; /* the stored rows when the job began */
    uint64_t applied, skipped, dlq;
    /* snapshots */
    const cdc_source_conf_t *src;
    char **tables;
    size_t n_tables;
} work_t;

static void
work_free(void *p)
{
    work_t *w = p;
    if (!w)
        return;
    free(w->rewind);
    cdc_sink_offsets_free(&w->before);
    for (size_t i = 0; i < w->n_tables; i++)
        free(w->tables[i]);
    free(w->tables);
    free(w);
}

/* Starts fn on a detached thread that holds a reference to the job; false when it cannot. */
static bool
spawn(cdc_api_t *api, cdc_job_t *job, void *(*fn)(void *), work_t *w)
{
    w->api = api;
    w->job = job;
    job->work = w;
    job->work_free = work_free;
    atomic_fetch_add(&job->refs, 1);
    atomic_fetch_add(&api->threads, 1);
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    bool ok = !pthread_create(&t, &attr, fn, w);
    pthread_attr_destroy(&attr);
    if (!ok) {
        cdc_job_end(job, CDC_JOB_FAILED, "could not start a thread for it", NULL);
        atomic_fetch_sub(&api->threads, 1);
        cdc_job_release(job);
    }
    return ok;
}

static void
thread_done(work_t *w)
{
    cdc_api_t *api = w->api;
    cdc_job_release(w->job); /* may free w */
    atomic_fetch_sub(&api->threads, 1);
}

/* A job of kind on u for request b, run by fn on w (taken): 202 with the job, or 409 when u has
 * one of that kind running. */
static void
start_job(cdc_api_t *api, cdc_unit_t *u, const char *kind, json_t *b, work_t *w,
          void *(*fn)(void *), cdc_api_resp_t *rs)
{
    char busy[24];
    cdc_job_t *job = cdc_control_job_new(api->ctl, kind, u, NULL, busy);
    if (!job) {
        api_error(rs, 409, "wrong_state", NULL, "%s %s has a %s job running: %s",
                  u->is_sink ? "sink" : "source", u->name, kind, busy);
        work_free(w);
        return;
    }
    free(job->request);
    job->request = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
    if (spawn(api, job, fn, w)) {
        rs->status = 202;
        cdc_buf_reset(&rs->body);
        cdc_job_json(job, &rs->body);
    } else {
        api_error(rs, 503, "unavailable", NULL, "could not start the job");
    }
    cdc_job_release(job);
}

/* ---- replay -------------------------------------------------------------------------------- */

static void *
replay_plan_thread(void *arg)
{
    work_t *w = arg;
    cdc_job_t *job = w->job;
    cdc_api_t *api = w->api;
    const cdc_config_t *cfg = cdc_control_config(api->ctl);
    cdc_job_start(job);
    cdc_errstr_t es = {{0}};
    cdc_replay_plan_t plan = {0};
    w->from.cancel = &job->cancel;
    cdc_err_t err = cdc_replay_plan(cfg, w->sink, api->bootstrap, &w->from, &plan, &es);
    if (!err && !w->dry_run) { /* where the partitions stand now: a cancel goes back there */
        const cdc_sink_ops_t *ops = cdc_connector_find(w->sink->type)->sink;
        cdc_sink_target_t *t = NULL;
        if (!(err = cdc_sink_target_open(ops, w->sink, false, &t, &es))) {
            err = ops->load_offsets(t, &w->before, &es);
            ops->close(t);
        }
    }
    atomic_store(&job->total, cdc_replay_events(&plan));
    if (err) {
        cdc_job_end(job, atomic_load(&job->cancel) ? CDC_JOB_CANCELLED : CDC_JOB_FAILED, es.msg,
                    NULL);
    } else if (atomic_load(&job->cancel)) {
        cdc_job_end(job, CDC_JOB_CANCELLED, NULL, NULL);
    } else if (w->dry_run || !cdc_replay_events(&plan)) {
        json_t *r = cdc_replay_plan_json(w->sink, &plan);
        json_object_set_new(r, "dry_run", json_boolean(w->dry_run));
        cdc_job_end(job, CDC_JOB_SUCCEEDED, NULL, json_dumps(r, JSON_COMPACT));
        json_decref(r);
    } else {
        w->n_rewind = cdc_replay_rewind(&plan, &w->rewind);
        json_t *r = cdc_replay_plan_json(w->sink, &plan);
        pthread_mutex_lock(&job->mu);
        free(job->result);
        job->result = json_dumps(r, JSON_COMPACT); /* the plan, until the outcome replaces it */
        pthread_mutex_unlock(&job->mu);
        json_decref(r);
        CDC_LOG_INFO("sink=%s replay job %s: %llu events from %zu partition(s)", w->sink->name,
                     job->id, (unsigned long long)cdc_replay_events(&plan), w->n_rewind);
        pthread_mutex_lock(&job->unit->mu); /* the worker takes it from here */
        atomic_fetch_add(&job->refs, 1);
        job->unit->job = job;
        pthread_mutex_unlock(&job->unit->mu);
    }
    free(plan.v);
    thread_done(w);
    return NULL;
}

/* The replay's body: exactly one of from_timestamp and from_offset; table, dry_run. */
static bool
replay_request(work_t *w, json_t *b, cdc_api_resp_t *rs)
{
    const char *key;
    json_t *v;
    json_object_foreach(b, key, v)
    {
        if (strcmp(key, "from_timestamp") && strcmp(key, "from_offset") && strcmp(key, "table") &&
            strcmp(key, "dry_run")) {
            api_error(rs, 400, "bad_request", key, "unknown field %s", key);
            return false;
        }
    }
    json_t *ts = json_object_get(b, "from_timestamp"), *off = json_object_get(b, "from_offset"),
           *table = json_object_get(b, "table"), *dry = json_object_get(b, "dry_run");
    if (!ts == !off) {
        api_error(rs, 400, "bad_request", "from_timestamp",
                  "give exactly one of from_timestamp and from_offset");
        return false;
    }
    if (ts && (!json_is_string(ts) ||
               !cdc_cli_parse_timestamp(json_string_value(ts), &w->from.from_ts_ms))) {
        api_error(rs, 400, "bad_request", "from_timestamp",
                  "from_timestamp: expected ISO-8601 like 2026-01-31T12:00:00Z");
        return false;
    }
    w->from.has_from_ts = ts != NULL;
    if (off) {
        const char *topic = json_string_value(json_object_get(off, "topic"));
        json_t *p = json_object_get(off, "partition"), *o = json_object_get(off, "offset");
        if (!json_is_object(off) || json_object_size(off) != 3 || !topic ||
            strlen(topic) >= sizeof(w->topic) || !json_is_integer(p) || !json_is_integer(o) ||
            json_integer_value(p) < 0 || json_integer_value(p) > INT32_MAX ||
            json_integer_value(o) < 0) {
            api_error(rs, 400, "bad_request", "from_offset",
                      "from_offset: expected {\"topic\": string, \"partition\": integer >= 0, "
                      "\"offset\": integer >= 0}");
            return false;
        }
        snprintf(w->topic, sizeof(w->topic), "%s", topic);
        w->from.topic = w->topic;
        w->from.partition = (int32_t)json_integer_value(p);
        w->from.offset = (int64_t)json_integer_value(o);
    }
    if (table && (!json_is_string(table) || json_string_length(table) >= sizeof(w->table))) {
        api_error(rs, 400, "bad_request", "table", "table: expected a table name");
        return false;
    }
    if (table) {
        snprintf(w->table, sizeof(w->table), "%s", json_string_value(table));
        w->from.table = w->table;
        bool routed = false;
        for (size_t r = 0; r < w->sink->n_routes && !routed; r++) {
            const cdc_route_conf_t *rt = &w->sink->routes[r];
            const char *dot = strchr(rt->from, '.');
            routed = !strcmp(rt->from, w->table) || !strcmp(rt->to, w->table) ||
                     (dot && !strcmp(dot + 1, w->table));
        }
        if (!routed) {
            api_error(rs, 400, "bad_request", "table", "sink %s has no route for table %s",
                      w->sink->name, w->table);
            return false;
        }
    }
    if (dry && !json_is_boolean(dry)) {
        api_error(rs, 400, "bad_request", "dry_run", "dry_run: expected true or false");
        return false;
    }
    w->dry_run = json_is_true(dry);
    return true;
}

void
api_replay(cdc_api_t *api, cdc_unit_t *u, const cdc_api_req_t *rq, cdc_api_resp_t *rs)
{
    json_t *b = api_body(rq, rs);
    if (!b)
        return;
    work_t *w = cdc_xcalloc(1, sizeof(*w));
    w->sink = cdc_config_sink(cdc_control_config(api->ctl), u->name);
    if (replay_request(w, b, rs))
        start_job(api, u, "replay", b, w, replay_plan_thread, rs);
    else
        work_free(w);
    json_decref(b);
}

typedef struct {
    cdc_job_t *job;
    uint64_t base; /* done by earlier runs of the job (before a pause) */
} progress_t;

static void
replay_progress(void *ctx, const cdc_sink_stats_t *st)
{
    progress_t *p = ctx;
    atomic_store(&p->job->done, p->base + st->applied + st->skipped + st->dlq);
}

/* A cancel: the partitions the replay has not reached yet (still at its start) go forward again
 * to where they stood when the job was asked for, their re-send guards as they were, under the
 * sink's lock. Those it is working through stay: stopped halfway, rows it has set back to older
 * versions would stay so; they are applied on to their log end (cdc_api_replay_run). */
typedef struct {
    const work_t *w;
    size_t n; /* rows restored */
} restore_t;

static void
restore_fill(void *ctx, const cdc_sink_offsets_t *now, cdc_sink_offset_t **rows, size_t *n)
{
    restore_t *r = ctx;
    const work_t *w = r->w;
    *rows = cdc_xcalloc(w->n_rewind + 1, sizeof(**rows));
    for (size_t i = 0; i < w->n_rewind; i++) {
        const cdc_sink_offset_t *rw = &w->rewind[i];
        const cdc_sink_offset_t *was = cdc_sink_offsets_find(&w->before, rw->topic, rw->partition);
        const cdc_sink_offset_t *is = cdc_sink_offsets_find(now, rw->topic, rw->partition);
        if (was && is && is->next_offset <= rw->next_offset && was->next_offset > is->next_offset)
            (*rows)[(*n)++] = *was;
    }
    r->n = *n;
}

static cdc_err_t
restore_untouched(const cdc_sink_conf_t *sink, const work_t *w, size_t *n_restored,
                  cdc_errstr_t *es)
{
    restore_t r = {w, 0};
    cdc_err_t err = cdc_admin_sink_rewrite(sink, restore_fill, &r, es);
    *n_restored = r.n;
    return err;
}

static cdc_err_t
replay_once(cdc_job_t *job, const cdc_config_t *cfg, const cdc_sink_conf_t *sink,
            const char *bootstrap, bool (*stop)(void), cdc_sink_stats_t *total, cdc_errstr_t *es)
{
    work_t *w = job->work;
    cdc_sink_stats_t mine = {0};
    progress_t pr = {job, atomic_load(&job->done)};
    cdc_sink_opts_t opts = {.rewind = w->rewound ? NULL : w->rewind,
                            .n_rewind = w->rewound ? 0 : w->n_rewind,
                            .until_caught_up = true,
                            .progress = replay_progress,
                            .progress_ctx = &pr,
                            .agent = true,
                            .rewound = &w->rewound,
                            .max_rows_per_s = &job->unit->max_rows_per_s};
    cdc_err_t err = cdc_sink_run(cfg, sink, bootstrap, cdc_connector_find(sink->type)->sink, stop,
                                 &opts, &mine, es);
    total->applied += mine.applied;
    total->skipped += mine.skipped;
    total->dlq += mine.dlq;
    total->batches += mine.batches;
    total->retried += mine.retried;
    w->applied += mine.applied;
    w->skipped += mine.skipped;
    w->dlq += mine.dlq;
    return err;
}

cdc_err_t
cdc_api_replay_run(cdc_job_t *job, const cdc_config_t *cfg, const cdc_sink_conf_t *sink,
                   const char *bootstrap, bool (*stop)(void), cdc_sink_stats_t *stats,
                   cdc_errstr_t *es)
{
    work_t *w = job->work;
    cdc_err_t err = replay_once(job, cfg, sink, bootstrap, stop, stats, es);
    if (!err && atomic_load(&job->cancel) && !atomic_load(&job->winding_down)) {
        size_t n = 0;
        if (w->rewound && (err = restore_untouched(sink, w, &n, es)))
            cdc_errstr_prefix(es, "cancelling the replay");
        atomic_store(&job->winding_down, true);
        if (!err && w->rewound) {
            CDC_LOG_INFO("sink=%s replay job %s cancelled: %zu partition(s) not reached go back "
                         "to where they stood, the others are applied to their end",
                         sink->name, job->id, n);
            err = replay_once(job, cfg, sink, bootstrap, stop, stats, es);
        }
    }
    if (err && cdc_err_retriable(err))
        return err; /* the worker tries again; the job stays */
    bool cancelled = atomic_load(&job->cancel);
    if (!err && !cancelled && stop())
        return CDC_OK; /* stopped for the operator or the agent: the job goes on later */
    json_t *r = json_pack("{s:I, s:I, s:I}", "applied", (json_int_t)w->applied, "skipped",
                          (json_int_t)w->skipped, "dead_lettered", (json_int_t)w->dlq);
    char *text = json_dumps(r, JSON_COMPACT);
    json_decref(r);
    if (err)
        cdc_job_end(job, CDC_JOB_FAILED, es->msg, text);
    else if (!cancelled || !stop()) /* caught up (or, cancelled, wound down) */
        cdc_job_end(job, cancelled ? CDC_JOB_CANCELLED : CDC_JOB_SUCCEEDED, NULL, text);
    else
        free(text); /* cancelled, stopped while winding down: goes on later */
    if (cdc_job_ended(job))
        CDC_LOG_INFO("sink=%s replay job %s %s: applied=%llu skipped=%llu dlq=%llu", sink->name,
                     job->id, cdc_job_state_name((cdc_job_state_t)atomic_load(&job->state)),
                     (unsigned long long)w->applied, (unsigned long long)w->skipped,
                     (unsigned long long)w->dlq);
    return err;
}

/* ---- snapshots ----------------------------------------------------------------------------- */

/* Writes a request (payload: its JSON) into the source's stream; *rows: the table's estimate. */
static cdc_err_t
source_request(const cdc_source_conf_t *src, const char *table, json_t *payload, int64_t *rows,
               cdc_errstr_t *es)
{
    char *text = json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(payload);
    char id[40];
    snprintf(id, sizeof(id), "%llx", (unsigned long long)cdc_wall_us());
    int64_t ignore = 0;
    cdc_err_t err = cdc_connector_find(src->type)->source_request(src, table, id, text,
                                                                  rows ? rows : &ignore, es);
    free(text);
    return err;
}

typedef struct {
    char id[40];
    cdc_snapshot_status_t st;
    bool cancel_sent;
} snap_req_t;

/* Reads the source's offset records after *from: updates each request's status. */
static void
snap_follow(cdc_consumer_t *cons, const cdc_source_conf_t *src, snap_req_t *reqs, size_t n)
{
    size_t slen = strlen(src->name);
    rd_kafka_message_t *m = cdc_consumer_poll(cons, 200);
    if (m && !m->err && m->key_len == slen && !memcmp(m->key, src->name, slen) && m->payload) {
        cdc_offsets_t o = {0};
        if (cdc_offsets_decode(m->payload, m->len, &o) && o.resnap)
            for (size_t i = 0; i < n; i++)
                cdc_admin_snapshot_status(o.resnap, reqs[i].id, &reqs[i].st);
        cdc_offsets_clear(&o);
    }
    if (m)
        rd_kafka_message_destroy(m);
}

/* The job's end once every request is done (or, cancelled, 30 s after the cancel requests). */
static bool
snap_ended(cdc_job_t *job, const work_t *w, snap_req_t *reqs, int64_t cancel_ms)
{
    size_t done = 0, refused = 0, cancelled = 0;
    uint64_t rows = 0;
    for (size_t i = 0; i < w->n_tables; i++) {
        rows += reqs[i].st.rows;
        done += reqs[i].st.state >= CDC_SNAP_DONE;
        refused += reqs[i].st.state == CDC_SNAP_REFUSED;
        cancelled += !strcmp(reqs[i].st.error, CDC_WM_CANCELLED);
    }
    atomic_store(&job->done, rows);
    bool waited = cancel_ms && cdc_mono_ms() - cancel_ms > 30000;
    if (done < w->n_tables && !waited)
        return false;
    json_t *tables = json_array();
    const char *why = NULL;
    for (size_t i = 0; i < w->n_tables; i++) {
        const cdc_snapshot_status_t *st = &reqs[i].st;
        const char *state = st->state == CDC_SNAP_DONE             ? "succeeded"
                            : !strcmp(st->error, CDC_WM_CANCELLED) ? "cancelled"
                            : st->state == CDC_SNAP_REFUSED        ? "refused"
                                                                   : "cancel requested";
        json_t *t = json_pack("{s:s, s:s, s:s, s:I}", "table", w->tables[i], "request", reqs[i].id,
                              "state", state, "rows", (json_int_t)st->rows);
        if (st->state == CDC_SNAP_REFUSED && strcmp(st->error, CDC_WM_CANCELLED)) {
            json_object_set_new(t, "error", json_string(st->error));
            why = why ? why : st->error;
        }
        json_array_append_new(tables, t);
    }
    json_t *r = json_pack("{s:o}", "tables", tables);
    char *text = json_dumps(r, JSON_COMPACT);
    json_decref(r);
    /* a cancel that came after every table was done changes nothing: the outcome is the tables' */
    cdc_job_state_t state = done < w->n_tables    ? CDC_JOB_CANCELLED /* waited for the cancel */
                            : refused > cancelled ? CDC_JOB_FAILED
                            : cancelled           ? CDC_JOB_CANCELLED
                                                  : CDC_JOB_SUCCEEDED;
    cdc_job_end(job, state, why, text);
    return true;
}

static void
snap_cancel(const work_t *w, snap_req_t *reqs)
{
    for (size_t i = 0; i < w->n_tables; i++) {
        if (reqs[i].st.state >= CDC_SNAP_DONE || reqs[i].cancel_sent)
            continue;
        cdc_errstr_t es = {{0}};
        if (source_request(w->src, w->tables[i],
                           json_pack("{s:s, s:s}", "cancel", reqs[i].id, "source", w->src->name),
                           NULL, &es))
            CDC_LOG_WARN("source=%s cancel of re-snapshot %s: %s", w->src->name, reqs[i].id,
                         es.msg);
        reqs[i].cancel_sent = true;
    }
}

static void *
snapshots_thread(void *arg)
{
    work_t *w = arg;
    cdc_job_t *job = w->job;
    const cdc_config_t *cfg = cdc_control_config(w->api->ctl);
    cdc_job_start(job);
    cdc_errstr_t es = {{0}};
    cdc_buf_t topic;
    cdc_buf_init(&topic);
    cdc_topic_internal(&topic, cfg->kafka.topic_prefix, "offsets", NULL);
    snap_req_t *reqs = cdc_xcalloc(w->n_tables, sizeof(*reqs));
    int64_t low = 0, high = 0, cancel_ms = 0;
    cdc_consumer_t *cons = cdc_consumer_new(&cfg->kafka, w->api->bootstrap, "cdc-api-jobs", &es);
    cdc_err_t err = cons ? cdc_consumer_watermarks(cons, topic.data, 0, &low, &high, 10000, &es)
                         : CDC_ERR_KAFKA;
    if (!err)
        err = cdc_consumer_assign(cons, topic.data, 0, high, &es);
    uint64_t total = 0;
    for (size_t i = 0; !err && i < w->n_tables; i++) {
        snprintf(reqs[i].id, sizeof(reqs[i].id), "%.24s.%u", job->id, (unsigned)i % 100u);
        int64_t rows = 0;
        err = source_request(w->src, w->tables[i],
                             json_pack("{s:s, s:s, s:s}", "id", reqs[i].id, "snapshot",
                                       w->tables[i], "source", w->src->name),
                             &rows, &es);
        total += rows > 0 ? (uint64_t)rows : 0;
        atomic_store(&job->total, total);
    }
    while (!err && !snap_ended(job, w, reqs, cancel_ms)) {
        if (!cancel_ms && atomic_load(&job->cancel)) {
            snap_cancel(w, reqs);
            cancel_ms = cdc_mono_ms();
        }
        if (atomic_load(&w->api->closing) && !cancel_ms)
            break; /* the agent stops: the requests stay in the stream */
        snap_follow(cons, w->src, reqs, w->n_tables);
    }
    if (err)
        cdc_job_end(job, CDC_JOB_FAILED, es.msg, NULL);
    else if (!cdc_job_ended(job))
        cdc_job_end(job, CDC_JOB_FAILED,
                    "the agent stopped; the requests stay in the source's stream and go on at "
                    "its next start",
                    NULL);
    cdc_consumer_free(cons);
    cdc_buf_deinit(&topic);
    free(reqs);
    thread_done(w);
    return NULL;
}

void
api_snapshots(cdc_api_t *api, cdc_unit_t *u, const cdc_api_req_t *rq, cdc_api_resp_t *rs)
{
    json_t *b = api_body(rq, rs);
    if (!b)
        return;
    const cdc_source_conf_t *src = NULL;
    const cdc_config_t *cfg = cdc_control_config(api->ctl);
    for (size_t i = 0; i < cfg->n_sources; i++)
        if (!strcmp(cfg->sources[i].name, u->name))
            src = &cfg->sources[i];
    json_t *tables = json_object_get(b, "tables"), *t;
    size_t i;
    if (json_object_size(b) != 1 || !json_is_array(tables) || !json_array_size(tables) ||
        json_array_size(tables) > CDC_WM_MAX_QUEUE) {
        api_error(rs, 400, "bad_request", "tables",
                  "expected {\"tables\": [table, ...]} with 1 to %d of the source's tables",
                  CDC_WM_MAX_QUEUE);
        json_decref(b);
        return;
    }
    json_array_foreach(tables, i, t)
    {
        bool listed = false;
        for (size_t k = 0; json_is_string(t) && k < src->n_tables && !listed; k++)
            listed = !strcmp(src->tables[k], json_string_value(t));
        if (!listed) {
            char field[32];
            snprintf(field, sizeof(field), "tables[%zu]", i);
            api_error(rs, 400, "bad_request", field, "%s: not one of source %s's tables", field,
                      src->name);
            json_decref(b);
            return;
        }
    }
    work_t *w = cdc_xcalloc(1, sizeof(*w));
    w->src = src;
    w->n_tables = json_array_size(tables);
    w->tables = cdc_xcalloc(w->n_tables, sizeof(char *));
    json_array_foreach(tables, i, t) w->tables[i] = cdc_xstrdup(json_string_value(t));
    start_job(api, u, "snapshot", b, w, snapshots_thread, rs);
    json_decref(b);
}

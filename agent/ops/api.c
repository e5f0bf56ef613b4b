/*
 * The admin API (include/cdc/api.h): the door (token bucket per client address, bearer token),
 * the routes, and the handlers that only read or flag the control plane (status, lists, pause,
 * resume, restart, a sink's rate, jobs). Handlers that reach Kafka or a target are in
 * agent/ops/api_offsets.c and agent/ops/api_jobs.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_internal.h"
#include "cdc/clock.h"
#include "cdc/json.h"
#include "cdc/metrics.h"

extern const char cdc_openapi_json[];
extern const size_t cdc_openapi_json_len;

#define N_BUCKETS  1024
#define PAGE_LIMIT 100 /* ?limit= when not given */
#define PAGE_MAX   1000

struct bucket {
    char client[64];
    double tokens;
    int64_t at_us;
};

cdc_api_t *
cdc_api_new(const cdc_api_conf_t *conf, cdc_control_t *ctl, const char *bootstrap)
{
    cdc_api_t *api = cdc_xcalloc(1, sizeof(*api));
    api->conf = conf;
    api->ctl = ctl;
    api->bootstrap = cdc_xstrdup(bootstrap);
    api->buckets = cdc_xcalloc(N_BUCKETS, sizeof(struct bucket));
    pthread_mutex_init(&api->mu, NULL);
    return api;
}

static bool
cancel_each(void *ctx, cdc_job_t *j)
{
    (void)ctx;
    atomic_store(&j->cancel, true);
    return true;
}

void
cdc_api_free(cdc_api_t *api)
{
    if (!api)
        return;
    atomic_store(&api->closing, true);
    cdc_control_jobs_each(api->ctl, cancel_each, NULL);
    for (int i = 0; i < 600 && atomic_load(&api->threads); i++) /* jobs stop within a poll */
        usleep(50000);
    pthread_mutex_destroy(&api->mu);
    free(api->buckets);
    free(api->bootstrap);
    free(api);
}

/* ---- answers ------------------------------------------------------------------------------- */

void
api_json(cdc_api_resp_t *rs, unsigned status, json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    rs->status = status;
    cdc_buf_reset(&rs->body);
    cdc_buf_puts(&rs->body, text ? text : "{}");
    free(text);
}

void
api_error(cdc_api_resp_t *rs, unsigned status, const char *code, const char *field, const char *fmt,
          ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* written here, not by jansson: the message may quote a path or value that is not UTF-8, or
     * was cut inside a character (made valid, lossy) */
    rs->status = status;
    cdc_buf_reset(&rs->body);
    cdc_buf_puts(&rs->body, "{\"error\":{\"code\":\"");
    cdc_buf_puts(&rs->body, code);
    cdc_buf_puts(&rs->body, "\",\"message\":");
    cdc_json_write_string_lossy(&rs->body, msg, strlen(msg));
    if (field) {
        cdc_buf_puts(&rs->body, ",\"field\":");
        cdc_json_write_string_lossy(&rs->body, field, strlen(field));
    }
    cdc_buf_puts(&rs->body, "}}");
}

json_t *
api_body(const cdc_api_req_t *rq, cdc_api_resp_t *rs)
{
    if (rq->body_too_big) {
        api_error(rs, 413, "body_too_large", "body",
                  "the body is longer than agent.api.max_body_bytes");
        return NULL;
    }
    if (!rq->body_len)
        return json_object();
    json_error_t je;
    json_t *v = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!v) {
        api_error(rs, 400, "bad_json", "body", "the body is not JSON: line %d column %d: %s",
                  je.line, je.column, je.text);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        api_error(rs, 400, "bad_request", "body", "the body must be a JSON object");
        return NULL;
    }
    return v;
}

/* ---- the door ------------------------------------------------------------------------------ */

/* Takes a token from the client's bucket; false with the seconds until one is there. */
static bool
admit(cdc_api_t *api, const char *client, int *retry_s)
{
    if (!api->conf->rate_per_s)
        return true;
    uint64_t h = 14695981039346656037ULL;
    for (const char *p = client; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    int64_t now = cdc_mono_us();
    double rate = api->conf->rate_per_s, burst = api->conf->burst;
    pthread_mutex_lock(&api->mu);
    struct bucket *b = &api->buckets[h % N_BUCKETS];
    if (strcmp(b->client, client)) { /* a new client (or one that shares the slot) */
        snprintf(b->client, sizeof(b->client), "%s", client);
        b->tokens = burst;
        b->at_us = now;
    }
    b->tokens += (double)(now - b->at_us) * rate / 1e6;
    if (b->tokens > burst)
        b->tokens = burst;
    b->at_us = now;
    bool ok = b->tokens >= 1;
    if (ok)
        b->tokens -= 1;
    else
        *retry_s = (int)((1 - b->tokens) / rate) + 1;
    pthread_mutex_unlock(&api->mu);
    return ok;
}

/* Equal without an early exit (the time taken says nothing of where they differ). */
static bool
same_secret(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    unsigned char d = na != nb;
    for (size_t i = 0; i < na; i++)
        d |= (unsigned char)(a[i] ^ b[i % (nb ? nb : 1)]);
    return !d;
}

/* Whether the request may go on; otherwise rs holds the 401 or 403. */
static bool
authorized(cdc_api_t *api, const cdc_api_req_t *rq, bool write, cdc_api_resp_t *rs)
{
    const char *token = api->conf->token;
    if (!write && api->conf->read_open)
        return true;
    if (!token) {
        api_error(rs, 403, "forbidden", NULL,
                  "%s: set agent.api.token_env or agent.api.token_file%s",
                  write ? "write endpoints need a token" : "read endpoints need a token",
                  write ? "" : " (or agent.api.read_open: true)");
        return false;
    }
    const char *h = rq->authorization;
    if (!h || strncasecmp(h, "Bearer ", 7)) {
        rs->auth_challenge = true;
        api_error(rs, 401, "unauthorized", NULL, "an Authorization: Bearer token is required");
        return false;
    }
    if (!same_secret(h + 7, token)) {
        rs->auth_challenge = true;
        api_error(rs, 401, "unauthorized", NULL, "the bearer token is not the agent's");
        return false;
    }
    return true;
}

/* ---- units --------------------------------------------------------------------------------- */

static json_t *
time_json(int64_t ms)
{
    if (!ms)
        return json_null();
    char t[CDC_UTC_MS_LEN];
    cdc_format_utc_ms(t, sizeof(t), ms);
    return json_string(t);
}

/* A metric's sum over the series of one source or sink (labels source="x" or sink="x"). */
static json_t *
metric(cdc_unit_t *u, const char *name, bool integer)
{
    char has[300];
    snprintf(has, sizeof(has), "%s=\"%s\"", u->is_sink ? "sink" : "source", u->name);
    bool found = false;
    double v = cdc_metrics_sum(name, has, &found);
    if (!found)
        return json_null();
    return integer ? json_integer((json_int_t)v) : json_real(v);
}

static const char *
unit_state(cdc_unit_t *u)
{
    cdc_unit_state_t st = cdc_unit_state(u);
    if (st == CDC_UNIT_RUNNING && !u->is_sink) {
        char has[300];
        snprintf(has, sizeof(has), "source=\"%s\"", u->name);
        if (cdc_metrics_sum("cdc_snapshot_tables_remaining", has, NULL) > 0)
            return "snapshotting";
    }
    return cdc_unit_state_name(st);
}

static json_t *
unit_json(cdc_unit_t *u)
{
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:o, s:b, s:I}", "name", u->name, "type", u->type, "state",
                  unit_state(u), "since", time_json(atomic_load(&u->since_ms)), "pause_requested",
                  atomic_load(&u->pause), "restarts", (json_int_t)atomic_load(&u->restarts));
    pthread_mutex_lock(&u->mu);
    json_object_set_new(
        o, "last_error",
        u->error[0] ? json_pack("{s:s, s:o}", "message", u->error, "at", time_json(u->error_ms))
                    : json_null());
    cdc_job_t *job = u->job;
    json_object_set_new(o, "replay_job", job ? json_string(job->id) : json_null());
    pthread_mutex_unlock(&u->mu);
    if (u->is_sink) {
        json_object_set_new(o, "max_rows_per_s",
                            json_integer((json_int_t)atomic_load(&u->max_rows_per_s)));
        json_object_set_new(o, "lag",
                            json_pack("{s:o, s:o}", "records",
                                      metric(u, "cdc_sink_lag_records", true), "seconds",
                                      metric(u, "cdc_sink_lag_seconds", false)));
        json_object_set_new(o, "applied", metric(u, "cdc_sink_applied_total", true));
        json_object_set_new(o, "dead_lettered", metric(u, "cdc_sink_dlq_total", true));
        json_object_set_new(o, "retries", metric(u, "cdc_sink_retries_total", true));
    } else {
        json_object_set_new(o, "lag",
                            json_pack("{s:o, s:o}", "bytes",
                                      metric(u, "cdc_source_lag_bytes", true), "seconds",
                                      metric(u, "cdc_source_lag_seconds", false)));
        json_object_set_new(o, "events", metric(u, "cdc_source_events_total", true));
        json_object_set_new(
            o, "snapshot",
            json_pack("{s:o, s:o, s:o, s:o}", "rows", metric(u, "cdc_snapshot_rows_total", true),
                      "rows_estimated", metric(u, "cdc_snapshot_rows_estimated", true),
                      "tables_remaining", metric(u, "cdc_snapshot_tables_remaining", true),
                      "resnapshot_rows", metric(u, "cdc_resnapshot_rows_total", true)));
    }
    return o;
}

/* ?limit= and ?cursor=: the page's first index in n items named by name(i); false after a 400. */
static bool
page(const cdc_api_req_t *rq, cdc_api_resp_t *rs, size_t n, const char *(*name)(void *, size_t),
     void *ctx, size_t *from, size_t *limit)
{
    const char *l = rq->arg ? rq->arg(rq->arg_ctx, "limit") : NULL,
               *c = rq->arg ? rq->arg(rq->arg_ctx, "cursor") : NULL;
    *limit = PAGE_LIMIT;
    *from = 0;
    if (l) {
        char *end;
        long v = strtol(l, &end, 10);
        if (!*l || *end || v < 1 || v > PAGE_MAX) {
            api_error(rs, 400, "bad_request", "limit", "limit must be 1..%d", PAGE_MAX);
            return false;
        }
        *limit = (size_t)v;
    }
    if (c) {
        for (*from = 0; *from < n && strcmp(name(ctx, *from), c); (*from)++)
            ;
        if (*from == n) {
            api_error(rs, 400, "bad_request", "cursor", "cursor %s is not one this list gave", c);
            return false;
        }
        (*from)++;
    }
    return true;
}

static const char *
unit_name(void *ctx, size_t i)
{
    void **a = ctx;
    return cdc_control_unit(a[0], *(bool *)a[1], i)->name;
}

static void
list_units(cdc_api_t *api, bool sinks, const cdc_api_req_t *rq, cdc_api_resp_t *rs)
{
    size_t n = cdc_control_count(api->ctl, sinks), from, limit;
    void *ctx[2] = {api->ctl, &sinks};
    if (!page(rq, rs, n, unit_name, ctx, &from, &limit))
        return;
    json_t *items = json_array();
    size_t i = from;
    for (; i < n && i - from < limit; i++)
        json_array_append_new(items, unit_json(cdc_control_unit(api->ctl, sinks, i)));
    json_t *next = i < n && i > from ? json_string(cdc_control_unit(api->ctl, sinks, i - 1)->name)
                                     : json_null();
    api_json(
        rs, 200,
        json_pack("{s:o, s:o, s:I}", "items", items, "next_cursor", next, "total", (json_int_t)n));
}

static bool
count_running(void *ctx, cdc_job_t *j)
{
    *(int *)ctx += !cdc_job_ended(j);
    return true;
}

/* The instance's role: "standby" while every unit waits for a lock the active instance holds
 * (agent.ha), "active" while none does, "partial" when some do (another instance runs those, as
 * after one of its units let go alone), "starting" before any unit knows. */
static const char *
role(cdc_api_t *api)
{
    size_t standby = 0, active = 0;
    for (int sinks = 0; sinks < 2; sinks++)
        for (size_t i = 0; i < cdc_control_count(api->ctl, sinks); i++) {
            cdc_unit_state_t st = cdc_unit_state(cdc_control_unit(api->ctl, sinks, i));
            standby += st == CDC_UNIT_STANDBY;
            active += st != CDC_UNIT_STANDBY && st != CDC_UNIT_STARTING;
        }
    return standby && active ? "partial" : standby ? "standby" : active ? "active" : "starting";
}

static void
status(cdc_api_t *api, cdc_api_resp_t *rs)
{
    const cdc_config_t *cfg = cdc_control_config(api->ctl);
    json_t *sources = json_array(), *sinks = json_array();
    for (size_t i = 0; i < cdc_control_count(api->ctl, false); i++)
        json_array_append_new(sources, unit_json(cdc_control_unit(api->ctl, false, i)));
    for (size_t i = 0; i < cdc_control_count(api->ctl, true); i++)
        json_array_append_new(sinks, unit_json(cdc_control_unit(api->ctl, true, i)));
    int running = 0;
    cdc_control_jobs_each(api->ctl, count_running, &running);
    bool kafka_found = false;
    double kafka_up = cdc_metrics_sum("cdc_up", "component=\"kafka\"", &kafka_found);
    api_json(rs, 200,
             json_pack("{s:{s:s, s:s, s:s, s:b, s:{s:s, s:b, s:o}}, s:o, s:o, s:{s:i}}", "agent",
                       "name", cfg->agent.name, "version", CDC_VERSION, "role", role(api), "ha",
                       cfg->agent.ha, "kafka", "bootstrap", api->bootstrap, "embedded",
                       cfg->kafka.embedded, "up",
                       kafka_found ? json_boolean(kafka_up > 0) : json_null(), "sources", sources,
                       "sinks", sinks, "jobs", "running", running));
}

/* POST .../pause | resume | restart. */
static void
unit_action(cdc_api_t *api, cdc_unit_t *u, const char *action, cdc_api_resp_t *rs)
{
    cdc_unit_state_t st = cdc_unit_state(u);
    if (st == CDC_UNIT_FAILED || st == CDC_UNIT_STOPPED) {
        api_error(rs, 409, "wrong_state", NULL, "%s %s is %s", u->is_sink ? "sink" : "source",
                  u->name, cdc_unit_state_name(st));
        return;
    }
    if (!strcmp(action, "pause"))
        atomic_store(&u->pause, true);
    else if (!strcmp(action, "resume"))
        atomic_store(&u->pause, false);
    else
        atomic_store(&u->restart, true);
    api_json(rs, 202, unit_json(u));
}

/* PATCH /v1/sinks/{name}: {"max_rows_per_s": n}. */
static void
sink_patch(cdc_api_t *api, cdc_unit_t *u, const cdc_api_req_t *rq, cdc_api_resp_t *rs)
{
    json_t *b = api_body(rq, rs);
    if (!b)
        return;
    const char *key;
    json_t *v;
    json_object_foreach(b, key, v)
    {
        if (strcmp(key, "max_rows_per_s")) {
            api_error(rs, 400, "bad_request", key, "%s cannot be changed here (max_rows_per_s can)",
                      key);
            json_decref(b);
            return;
        }
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 100000000) {
            api_error(rs, 400, "bad_request", key, "max_rows_per_s must be 0..100000000 (0: none)");
            json_decref(b);
            return;
        }
        atomic_store(&u->max_rows_per_s, (long long)json_integer_value(v));
    }
    json_decref(b);
    api_json(rs, 200, unit_json(u));
}

/* ---- jobs ---------------------------------------------------------------------------------- */

typedef struct {
    json_t *items;
    const char *cursor;
    bool started;
    size_t limit;
    const char *last;
    bool more;
} jobs_page_t;

static bool
job_each(void *ctx, cdc_job_t *j)
{
    jobs_page_t *p = ctx;
    if (!p->started) {
        p->started = !p->cursor || !strcmp(p->cursor, j->id);
        if (p->cursor)
            return true;
    }
    if (json_array_size(p->items) == p->limit) {
        p->more = true;
        return false;
    }
    cdc_buf_t b;
    cdc_buf_init(&b);
    cdc_job_json(j, &b);
    json_array_append_new(p->items, json_loadb(b.data, b.len, 0, NULL));
    cdc_buf_deinit(&b);
    p->last = j->id;
    return true;
}

static void
list_jobs(cdc_api_t *api, const cdc_api_req_t *rq, cdc_api_resp_t *rs)
{
    const char *l = rq->arg ? rq->arg(rq->arg_ctx, "limit") : NULL;
    jobs_page_t p = {json_array(), rq->arg ? rq->arg(rq->arg_ctx, "cursor") : NULL,
                     false,        PAGE_LIMIT,
                     NULL,         false};
    if (l) {
        char *end;
        long v = strtol(l, &end, 10);
        if (!*l || *end || v < 1 || v > PAGE_MAX) {
            json_decref(p.items);
            api_error(rs, 400, "bad_request", "limit", "limit must be 1..%d", PAGE_MAX);
            return;
        }
        p.limit = (size_t)v;
    }
    char last[24] = "";
    cdc_control_jobs_each(api->ctl, job_each, &p);
    if (p.cursor && !p.started) {
        json_decref(p.items);
        api_error(rs, 400, "bad_request", "cursor", "cursor %s is not one this list gave",
                  p.cursor);
        return;
    }
    if (p.last)
        snprintf(last, sizeof(last), "%s", p.last);
    api_json(rs, 200,
             json_pack("{s:o, s:o}", "items", p.items, "next_cursor",
                       p.more ? json_string(last) : json_null()));
}

static void
job_route(cdc_api_t *api, const char *id, const cdc_api_req_t *rq, cdc_api_resp_t *rs)
{
    cdc_job_t *j = cdc_control_job_find(api->ctl, id);
    if (!j) {
        api_error(rs, 404, "not_found", NULL, "no job %s", id);
        return;
    }
    if (!strcmp(rq->method, "DELETE")) {
        if (cdc_job_ended(j)) {
            api_error(rs, 409, "wrong_state", NULL, "job %s has ended (%s)", id,
                      cdc_job_state_name((cdc_job_state_t)atomic_load(&j->state)));
            cdc_job_release(j);
            return;
        }
        atomic_store(&j->cancel, true);
    }
    cdc_buf_t b;
    cdc_buf_init(&b);
    cdc_job_json(j, &b);
    rs->status = strcmp(rq->method, "DELETE") ? 200 : 202;
    cdc_buf_reset(&rs->body);
    cdc_buf_append(&rs->body, b.data, b.len);
    cdc_buf_deinit(&b);
    cdc_job_release(j);
}

/* ---- routes -------------------------------------------------------------------------------- */

/* Splits path into up to 5 segments after "/v1/"; their count, or -1 when it is not /v1/... */
static int
segments(const char *path, char seg[5][256])
{
    if (strncmp(path, "/v1/", 4))
        return -1;
    int n = 0;
    for (const char *p = path + 4; *p;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 5 || len >= 256 || !len)
            return -1;
        memcpy(seg[n], p, len);
        seg[n++][len] = '\0';
        p += len + (slash ? 1 : 0);
        if (slash && !slash[1])
            return -1; /* a trailing slash */
    }
    return n;
}

static bool
method_is(const cdc_api_req_t *rq, cdc_api_resp_t *rs, const char *allowed)
{
    char list[64];
    snprintf(list, sizeof(list), " %s ", allowed);
    char m[16];
    snprintf(m, sizeof(m), " %s ", rq->method);
    if (strstr(list, m) || (!strcmp(rq->method, "HEAD") && strstr(list, " GET ")))
        return true;
    api_error(rs, 405, "method_not_allowed", NULL, "%s is not allowed here (%s)", rq->method,
              allowed);
    return false;
}

static void
unit_route(cdc_api_t *api, bool sink, char seg[5][256], int n, const cdc_api_req_t *rq,
           cdc_api_resp_t *rs)
{
    if (n == 1) {
        if (method_is(rq, rs, "GET"))
            list_units(api, sink, rq, rs);
        return;
    }
    cdc_unit_t *u = cdc_control_find(api->ctl, sink, seg[1]);
    if (!u) {
        api_error(rs, 404, "not_found", NULL, "no %s named %s", sink ? "sink" : "source", seg[1]);
        return;
    }
    if (n == 2) {
        if (method_is(rq, rs, sink ? "GET PATCH" : "GET")) {
            if (!strcmp(rq->method, "PATCH"))
                sink_patch(api, u, rq, rs);
            else
                api_json(rs, 200, unit_json(u));
        }
        return;
    }
    const char *a = seg[2];
    if (n == 3 && (!strcmp(a, "pause") || !strcmp(a, "resume") || !strcmp(a, "restart"))) {
        if (method_is(rq, rs, "POST"))
            unit_action(api, u, a, rs);
    } else if (n == 3 && sink && !strcmp(a, "offsets")) {
        if (method_is(rq, rs, "GET PATCH DELETE"))
            api_sink_offsets(api, u, rq, rs);
    } else if (n == 3 && sink && !strcmp(a, "replay")) {
        if (method_is(rq, rs, "POST"))
            api_replay(api, u, rq, rs);
    } else if (n == 3 && !sink && !strcmp(a, "snapshots")) {
        if (method_is(rq, rs, "POST"))
            api_snapshots(api, u, rq, rs);
    } else {
        api_error(rs, 404, "not_found", NULL, "no such endpoint: %s", rq->path);
    }
}

static void
route(cdc_api_t *api, const cdc_api_req_t *rq, cdc_api_resp_t *rs)
{
    char seg[5][256];
    int n = segments(rq->path, seg);
    if (n >= 1 && !strcmp(seg[0], "status") && n == 1) {
        if (method_is(rq, rs, "GET"))
            status(api, rs);
    } else if (n >= 1 && (!strcmp(seg[0], "sources") || !strcmp(seg[0], "sinks")) && n <= 3) {
        unit_route(api, seg[0][1] == 'i', seg, n, rq, rs);
    } else if (n == 1 && !strcmp(seg[0], "jobs")) {
        if (method_is(rq, rs, "GET"))
            list_jobs(api, rq, rs);
    } else if (n == 2 && !strcmp(seg[0], "jobs")) {
        if (method_is(rq, rs, "GET DELETE"))
            job_route(api, seg[1], rq, rs);
    } else {
        api_error(rs, 404, "not_found", NULL, "no such endpoint: %s (see /v1/openapi.json)",
                  rq->path);
    }
}

void
cdc_api_handle(cdc_api_t *api, const cdc_api_req_t *rq, cdc_api_resp_t *rs)
{
    rs->status = 500;
    int retry = 0;
    if (!admit(api, rq->client, &retry)) {
        rs->retry_after_s = retry;
        api_error(rs, 429, "rate_limited", NULL,
                  "more than %d requests per second from %s; try again in %d s",
                  api->conf->rate_per_s, rq->client, retry);
        return;
    }
    if (!strcmp(rq->path, "/v1/openapi.json")) {
        if (method_is(rq, rs, "GET")) {
            rs->status = 200;
            cdc_buf_reset(&rs->body);
            cdc_buf_append(&rs->body, cdc_openapi_json, cdc_openapi_json_len);
        }
        return;
    }
    bool write = strcmp(rq->method, "GET") && strcmp(rq->method, "HEAD");
    if (!authorized(api, rq, write, rs))
        return;
    route(api, rq, rs);
}

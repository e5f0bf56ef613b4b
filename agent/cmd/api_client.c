/*
 * The commands as clients of a running agent's admin API (--api URL; docs/api.md): status, pause,
 * resume, restart, jobs, and offsets show / offsets set --sink / replay / snapshot, which work
 * offline as before when no agent answers there. HTTP(S) through libcurl, one connection kept
 * for the command's calls; the bearer token and the certificate to trust come from the config's
 * agent.api (the agent's own), so nothing secret goes on the command line.
 */
#include "cdc/api_client.h"

#include <curl/curl.h>
#include <jansson.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cdc/admin.h"
#include "cdc/buf.h"
#include "cdc/clock.h"

typedef struct {
    CURL *h;
    const char *base;
    struct curl_slist *headers;
    const cdc_config_t *cfg;
} client_t;

typedef struct {
    long status;
    json_t *body; /* NULL when not JSON */
} reply_t;

static atomic_bool interrupted;

static void
on_signal(int sig)
{
    (void)sig;
    atomic_store(&interrupted, true);
}

static size_t
collect(char *p, size_t size, size_t n, void *ctx)
{
    cdc_buf_append(ctx, p, size * n);
    return size * n;
}

static void
client_init(client_t *c, const cdc_config_t *cfg, const char *base)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    c->h = curl_easy_init();
    c->base = base;
    c->cfg = cfg;
    c->headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (cfg->agent.api.token) {
        cdc_buf_t auth;
        cdc_buf_init(&auth);
        cdc_buf_printf(&auth, "Authorization: Bearer %s", cfg->agent.api.token);
        c->headers = curl_slist_append(c->headers, auth.data);
        memset(auth.data, 0, auth.len); /* not left in freed heap */
        cdc_buf_deinit(&auth);
    }
}

static void
client_deinit(client_t *c)
{
    curl_slist_free_all(c->headers);
    curl_easy_cleanup(c->h);
    curl_global_cleanup();
}

/* One call: CDC_ERR_CONNECT when no agent answers at the URL, CDC_ERR_PARSE when the answer
 * is not JSON; r->status and r->body otherwise (any status). */
static cdc_err_t
call(client_t *c, const char *method, const char *path, json_t *body, reply_t *r, cdc_errstr_t *es)
{
    cdc_buf_t url, got;
    cdc_buf_init(&url);
    cdc_buf_init(&got);
    cdc_buf_printf(&url, "%s%s", c->base, path);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    CURL *h = c->h;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url.data);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &got);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 60000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (text)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, text);
    const char *cert = c->cfg->agent.api.tls_cert;
    if (cert) { /* the agent's own certificate is the one to trust */
        struct curl_blob blob = {(void *)cert, strlen(cert), CURL_BLOB_COPY};
        curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
    }
    CURLcode e = curl_easy_perform(h);
    cdc_err_t err = CDC_OK;
    memset(r, 0, sizeof(*r));
    if (e) {
        err = cdc_errstr_set(es, CDC_ERR_CONNECT, "no agent answers at %s: %s", c->base,
                             curl_easy_strerror(e));
    } else {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
        r->body = json_loadb(got.data ? got.data : "", got.len, 0, NULL);
        if (!r->body)
            err = cdc_errstr_set(es, CDC_ERR_PARSE,
                                 "%s%s answered %ld without JSON: is it a "
                                 "cdc-agent's admin API?",
                                 c->base, path, r->status);
    }
    free(text);
    cdc_buf_deinit(&url);
    cdc_buf_deinit(&got);
    return err;
}

/* A call that must succeed (2xx): the reply's body (caller decrefs), or NULL with es saying why
 * (the API's error message). */
static json_t *
must(client_t *c, const char *method, const char *path, json_t *body, cdc_err_t *err,
     cdc_errstr_t *es)
{
    reply_t r;
    if ((*err = call(c, method, path, body, &r, es)))
        return NULL;
    if (r.status >= 200 && r.status < 300)
        return r.body;
    json_t *e = json_object_get(r.body, "error");
    cdc_err_t kind = r.status == 401 || r.status == 403   ? CDC_ERR_AUTH
                     : r.status == 400 || r.status == 404 ? CDC_ERR_INVAL
                                                          : CDC_ERR_CONFLICT;
    *err = cdc_errstr_set(es, kind, "%s %s: %ld %s", method, path, r.status,
                          json_string_value(json_object_get(e, "message"))
                              ? json_string_value(json_object_get(e, "message"))
                              : "");
    json_decref(r.body);
    return NULL;
}

/* POST of body (taken) to /v1/KIND/NAME/ACTION (a job's start): the job, or NULL. */
static json_t *
post_job(client_t *c, const char *kind, const char *name, const char *action, json_t *body,
         cdc_err_t *err, cdc_errstr_t *es)
{
    cdc_buf_t path;
    cdc_buf_init(&path);
    cdc_buf_printf(&path, "/v1/%s/%s/%s", kind, name, action);
    json_t *job = must(c, "POST", path.data, body, err, es);
    json_decref(body);
    cdc_buf_deinit(&path);
    return job;
}

static const char *
str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "-";
}

static long long
num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? (long long)json_number_value(v) : -1;
}

/* ---- status -------------------------------------------------------------------------------- */

static void
print_status(json_t *st, FILE *out)
{
    json_t *u, *a = json_object_get(st, "agent");
    size_t i;
    fprintf(out, "agent %s (cdc-agent %s), kafka %s", str(a, "name"), str(a, "version"),
            str(json_object_get(a, "kafka"), "bootstrap"));
    if (json_is_true(json_object_get(a, "ha"))) /* active-passive: which one this is */
        fprintf(out, ", role %s", str(a, "role"));
    fputc('\n', out);
    fprintf(out, "%-12s %-10s %-12s %14s %10s %12s\n", "SOURCE", "TYPE", "STATE", "LAG BYTES",
            "LAG S", "EVENTS");
    json_array_foreach(json_object_get(st, "sources"), i, u)
    {
        json_t *lag = json_object_get(u, "lag");
        fprintf(out, "%-12s %-10s %-12s %14lld %10.1f %12lld\n", str(u, "name"), str(u, "type"),
                str(u, "state"), num(lag, "bytes"),
                json_number_value(json_object_get(lag, "seconds")), num(u, "events"));
        if (json_is_object(json_object_get(u, "last_error")))
            fprintf(out, "%-12s last error: %s\n", "",
                    str(json_object_get(u, "last_error"), "message"));
    }
    fprintf(out, "%-12s %-10s %-12s %14s %10s %12s %6s %8s\n", "SINK", "TYPE", "STATE",
            "LAG RECORDS", "LAG S", "APPLIED", "DLQ", "RATE");
    json_array_foreach(json_object_get(st, "sinks"), i, u)
    {
        json_t *lag = json_object_get(u, "lag");
        char rate[24] = "-";
        if (num(u, "max_rows_per_s") > 0)
            snprintf(rate, sizeof(rate), "%lld/s", num(u, "max_rows_per_s"));
        fprintf(out, "%-12s %-10s %-12s %14lld %10.1f %12lld %6lld %8s\n", str(u, "name"),
                str(u, "type"), str(u, "state"), num(lag, "records"),
                json_number_value(json_object_get(lag, "seconds")), num(u, "applied"),
                num(u, "dead_lettered"), rate);
        if (json_is_object(json_object_get(u, "last_error")))
            fprintf(out, "%-12s last error: %s\n", "",
                    str(json_object_get(u, "last_error"), "message"));
    }
    fprintf(out, "jobs running: %lld\n", num(json_object_get(st, "jobs"), "running"));
}

static void
print_json(json_t *v, FILE *out)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fprintf(out, "%s\n", s);
    free(s);
}

/* pause | resume | restart, then waits (up to 30 s) for the state it asks for. */
static cdc_err_t
unit_action(client_t *c, const cdc_cli_t *cli, FILE *out, cdc_errstr_t *es)
{
    const char *action = cli->cmd == CDC_CMD_PAUSE    ? "pause"
                         : cli->cmd == CDC_CMD_RESUME ? "resume"
                                                      : "restart";
    const char *kind = cli->sink ? "sink" : "source";
    cdc_buf_t path;
    cdc_buf_init(&path);
    cdc_buf_printf(&path, "/v1/%ss/%s", kind, cli->sink ? cli->sink : cli->source);
    size_t base = path.len;
    cdc_err_t err;
    json_t *before = must(c, "GET", path.data, NULL, &err, es);
    long long restarts = num(before, "restarts");
    json_decref(before);
    cdc_buf_printf(&path, "/%s", action);
    json_t *r = before || !err ? must(c, "POST", path.data, NULL, &err, es) : NULL;
    json_decref(r);
    path.len = base;
    path.data[base] = '\0';
    const char *want = cli->cmd == CDC_CMD_PAUSE ? "paused" : "running";
    bool reached = false;
    char state[32] = "";
    for (int i = 0; !err && !reached && i < 150; i++) {
        json_t *u = must(c, "GET", path.data, NULL, &err, es);
        snprintf(state, sizeof(state), "%s", str(u, "state"));
        reached = (!strcmp(state, want) ||
                   (!strcmp(want, "running") && !strcmp(state, "snapshotting"))) &&
                  (cli->cmd != CDC_CMD_RESTART || num(u, "restarts") > restarts);
        json_decref(u);
        if (!reached)
            usleep(200000);
    }
    if (!err)
        fprintf(out, "%s %s: %s%s\n", kind, cli->sink ? cli->sink : cli->source,
                reached ? (cli->cmd == CDC_CMD_RESTART ? "restarted, " : "") : "asked; still ",
                state);
    if (!err && !reached)
        err = cdc_errstr_set(es, CDC_ERR_TIMEOUT, "%s %s did not reach %s within 30 s (it is %s)",
                             kind, cli->sink ? cli->sink : cli->source, want, state);
    cdc_buf_deinit(&path);
    return err;
}

/* ---- jobs ---------------------------------------------------------------------------------- */

static void
print_job_line(json_t *j, FILE *out)
{
    json_t *p = json_object_get(j, "progress");
    const char *target = json_object_get(j, "sink") ? str(j, "sink") : str(j, "source");
    fprintf(out, "%-18s %-9s %-12s %-10s %10lld / %-10lld %s\n", str(j, "id"), str(j, "kind"),
            target, str(j, "state"), num(p, "done"), num(p, "total"),
            json_is_string(json_object_get(j, "error")) ? str(j, "error") : "");
}

/* Follows job id until it ends, with progress on stderr; Ctrl-C cancels it (once) and goes on
 * following until it has ended. The ended job (caller decrefs), or NULL. */
static json_t *
follow(client_t *c, const char *id, const char *what, const char *unit, cdc_err_t *err,
       cdc_errstr_t *es)
{
    cdc_buf_t path;
    cdc_buf_init(&path);
    cdc_buf_printf(&path, "/v1/jobs/%s", id);
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    cdc_progress_t pr;
    cdc_progress_init(&pr, what, unit, 0, stderr);
    bool cancelled = false;
    json_t *j = NULL;
    for (;;) {
        j = must(c, "GET", path.data, NULL, err, es);
        if (!j)
            break;
        json_t *p = json_object_get(j, "progress");
        pr.total = (uint64_t)(num(p, "total") > 0 ? num(p, "total") : 0);
        const char *state = str(j, "state");
        bool ended = strcmp(state, "queued") && strcmp(state, "running");
        cdc_progress_show(&pr, (uint64_t)(num(p, "done") > 0 ? num(p, "done") : 0), ended);
        if (ended)
            break;
        json_decref(j);
        j = NULL;
        if (atomic_load(&interrupted) && !cancelled) {
            fprintf(stderr, "\ncancelling job %s\n", id);
            json_decref(must(c, "DELETE", path.data, NULL, err, es));
            cancelled = true;
            *err = CDC_OK;
        }
        usleep(300000);
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    cdc_buf_deinit(&path);
    return j;
}

static int
job_exit(json_t *j)
{
    return !strcmp(str(j, "state"), "succeeded") ? CDC_EXIT_OK : CDC_EXIT_FAILURE;
}

static cdc_err_t
jobs(client_t *c, const cdc_cli_t *cli, FILE *out, int *rc, cdc_errstr_t *es)
{
    cdc_err_t err = CDC_OK;
    cdc_buf_t path;
    cdc_buf_init(&path);
    if (!cli->job) {
        json_t *list = must(c, "GET", "/v1/jobs?limit=1000", NULL, &err, es), *j;
        size_t i;
        if (list && cli->json)
            print_json(list, out);
        else if (list) {
            fprintf(out, "%-18s %-9s %-12s %-10s %23s\n", "ID", "KIND", "TARGET", "STATE",
                    "DONE / TOTAL");
            json_array_foreach(json_object_get(list, "items"), i, j) print_job_line(j, out);
        }
        json_decref(list);
    } else {
        cdc_buf_printf(&path, "/v1/jobs/%s", cli->job);
        json_t *j = must(c, cli->cancel ? "DELETE" : "GET", path.data, NULL, &err, es);
        if (j && cli->cancel) {
            json_decref(j);
            j = follow(c, cli->job, "cancel", "", &err, es);
        }
        if (j && cli->json)
            print_json(j, out);
        else if (j)
            print_job_line(j, out);
        if (j && cli->cancel)
            *rc = !strcmp(str(j, "state"), "cancelled") ? CDC_EXIT_OK : CDC_EXIT_FAILURE;
        json_decref(j);
    }
    cdc_buf_deinit(&path);
    return err;
}

/* ---- offsets, replay, snapshot ------------------------------------------------------------ */

static cdc_err_t
offsets_show(client_t *c, const cdc_cli_t *cli, FILE *out, cdc_errstr_t *es)
{
    cdc_err_t err;
    json_t *sinks = must(c, "GET", "/v1/sinks?limit=1000", NULL, &err, es), *s, *p;
    json_t *all = json_pack("{s:[]}", "sinks");
    size_t i, k;
    if (!cli->json && sinks)
        fprintf(out, "%-12s %-40s %10s %10s %10s\n", "SINK", "TOPIC[PARTITION]", "STORED",
                "LOG END", "LAG");
    json_array_foreach(json_object_get(sinks, "items"), i, s)
    {
        cdc_buf_t path;
        cdc_buf_init(&path);
        cdc_buf_printf(&path, "/v1/sinks/%s/offsets", str(s, "name"));
        json_t *o = must(c, "GET", path.data, NULL, &err, es);
        cdc_buf_deinit(&path);
        if (!o)
            break;
        json_array_foreach(json_object_get(o, "partitions"), k, p)
        {
            if (cli->json)
                break;
            char name[300];
            snprintf(name, sizeof(name), "%s[%lld]", str(p, "topic"), num(p, "partition"));
            fprintf(out, "%-12s %-40s %10lld %10lld %10lld\n", str(s, "name"), name,
                    num(p, "next_offset"), num(p, "log_end"), num(p, "lag"));
        }
        json_array_append_new(json_object_get(all, "sinks"), o);
    }
    if (!err && cli->json)
        print_json(all, out);
    json_decref(all);
    json_decref(sinks);
    return err;
}

static cdc_err_t
offsets_set(client_t *c, const cdc_cli_t *cli, FILE *out, cdc_errstr_t *es)
{
    cdc_buf_t path;
    cdc_buf_init(&path);
    cdc_buf_printf(&path, "/v1/sinks/%s/offsets", cli->sink);
    json_t *body = json_pack("{s:[{s:s, s:i, s:I}]}", "offsets", "topic", cli->topic, "partition",
                             (int)cli->partition, "offset", (json_int_t)cli->offset);
    cdc_err_t err;
    json_t *o = must(c, "PATCH", path.data, body, &err, es);
    json_decref(body);
    if (o)
        fprintf(out, "sink %s: %s[%d] moved to offset %lld (resume the sink to apply from there)\n",
                cli->sink, cli->topic, (int)cli->partition, (long long)cli->offset);
    json_decref(o);
    cdc_buf_deinit(&path);
    return err;
}

static void
print_routes(json_t *result, bool dry_run, FILE *out)
{
    json_t *r;
    size_t i;
    json_array_foreach(json_object_get(result, "routes"), i, r) fprintf(
        out, "  %s -> %s: %lld events %s from %lld partition(s)\n", str(r, "from"), str(r, "to"),
        num(r, "events"), dry_run ? "would be re-applied" : "to re-apply", num(r, "partitions"));
}

static cdc_err_t
replay(client_t *c, const cdc_cli_t *cli, FILE *out, int *rc, cdc_errstr_t *es)
{
    json_t *body = json_object();
    if (cli->has_from_ts) {
        char ts[CDC_UTC_MS_LEN];
        cdc_format_utc_ms(ts, sizeof(ts), cli->from_ts_ms);
        json_object_set_new(body, "from_timestamp", json_string(ts));
    } else {
        json_object_set_new(body, "from_offset",
                            json_pack("{s:s, s:i, s:I}", "topic", cli->topic, "partition",
                                      (int)cli->partition, "offset", (json_int_t)cli->offset));
    }
    if (cli->table)
        json_object_set_new(body, "table", json_string(cli->table));
    if (cli->dry_run)
        json_object_set_new(body, "dry_run", json_true());
    cdc_err_t err;
    json_t *job = post_job(c, "sinks", cli->sink, "replay", body, &err, es);
    if (!job)
        return err;
    fprintf(out, "replay job %s of sink %s (the agent keeps running; Ctrl-C cancels it)\n",
            str(job, "id"), cli->sink);
    fflush(out);
    json_t *end = follow(c, str(job, "id"), "replay", "events", &err, es);
    json_decref(job);
    if (end) {
        json_t *res = json_object_get(end, "result");
        fprintf(out, "%s of sink %s:\n",
                cli->dry_run ? "replay (dry run, nothing changed)" : "replay", cli->sink);
        if (cli->dry_run)
            print_routes(res, true, out);
        else
            fprintf(out, "replayed: applied=%lld skipped=%lld dlq=%lld (%s)\n", num(res, "applied"),
                    num(res, "skipped"), num(res, "dead_lettered"), str(end, "state"));
        if (json_is_string(json_object_get(end, "error")))
            fprintf(stderr, "cdc-agent: replay: %s\n", str(end, "error"));
        *rc = job_exit(end);
    }
    json_decref(end);
    return err;
}

static cdc_err_t
snapshot(client_t *c, const cdc_cli_t *cli, FILE *out, int *rc, cdc_errstr_t *es)
{
    cdc_err_t err;
    json_t *job = post_job(c, "sources", cli->source, "snapshots",
                           json_pack("{s:[s]}", "tables", cli->table), &err, es);
    if (!job)
        return err;
    fprintf(out, "snapshot job %s: source %s re-reads %s while it streams\n", str(job, "id"),
            cli->source, cli->table);
    fflush(out);
    json_t *end = cli->no_wait ? NULL : follow(c, str(job, "id"), "snapshot", "rows", &err, es);
    json_decref(job);
    if (end) {
        json_t *t = json_array_get(json_object_get(json_object_get(end, "result"), "tables"), 0);
        if (!strcmp(str(end, "state"), "succeeded"))
            fprintf(out, "re-snapshot of %s completed: %lld rows read\n", cli->table,
                    num(t, "rows"));
        else
            fprintf(stderr, "cdc-agent: snapshot: job %s %s%s%s\n", str(end, "id"),
                    str(end, "state"), json_is_string(json_object_get(end, "error")) ? ": " : "",
                    json_is_string(json_object_get(end, "error")) ? str(end, "error") : "");
        *rc = job_exit(end);
    }
    json_decref(end);
    return err;
}

int
cdc_api_client_run(const cdc_config_t *cfg, const cdc_cli_t *cli, FILE *out, bool *offline)
{
    *offline = false;
    if (cli->cmd == CDC_CMD_OFFSETS_SET && cli->source) {
        fprintf(stderr, "cdc-agent: offsets set --source: the admin API does not move source "
                        "positions; working offline\n");
        *offline = true;
        return CDC_EXIT_OK;
    }
    client_t c;
    client_init(&c, cfg, cli->api);
    cdc_errstr_t es = {{0}};
    cdc_err_t err = CDC_OK;
    int rc = CDC_EXIT_OK;
    json_t *st;
    switch (cli->cmd) {
    case CDC_CMD_STATUS:
        if ((st = must(&c, "GET", "/v1/status", NULL, &err, &es)) && cli->json)
            print_json(st, out);
        else if (st)
            print_status(st, out);
        json_decref(st);
        break;
    case CDC_CMD_PAUSE:
    case CDC_CMD_RESUME:
    case CDC_CMD_RESTART:
        err = unit_action(&c, cli, out, &es);
        break;
    case CDC_CMD_JOBS:
        err = jobs(&c, cli, out, &rc, &es);
        break;
    case CDC_CMD_OFFSETS_SHOW:
        err = offsets_show(&c, cli, out, &es);
        break;
    case CDC_CMD_OFFSETS_SET:
        err = offsets_set(&c, cli, out, &es);
        break;
    case CDC_CMD_REPLAY:
        err = replay(&c, cli, out, &rc, &es);
        break;
    default:
        err = snapshot(&c, cli, out, &rc, &es);
        break;
    }
    client_deinit(&c);
    bool can_offline = cli->cmd == CDC_CMD_OFFSETS_SHOW || cli->cmd == CDC_CMD_OFFSETS_SET ||
                       cli->cmd == CDC_CMD_REPLAY || cli->cmd == CDC_CMD_SNAPSHOT;
    if (err == CDC_ERR_CONNECT && can_offline) {
        fprintf(stderr, "cdc-agent: %s; working offline\n", es.msg);
        *offline = true;
        return CDC_EXIT_OK;
    }
    if (err) {
        fprintf(stderr, "cdc-agent: %s\n", es.msg);
        return err == CDC_ERR_INVAL ? CDC_EXIT_USAGE : CDC_EXIT_FAILURE;
    }
    return rc;
}

/*
 * The control plane of a running agent (include/cdc/control.h): units and jobs.
 */
#include "cdc/control.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "cdc/clock.h"
#include "cdc/connector.h"
#include "cdc/json.h"

struct cdc_control {
    const cdc_config_t *cfg;
    cdc_unit_t *units; /* sources, then sinks */
    size_t n_sources, n_sinks;
    pthread_mutex_t mu;
    cdc_job_t **jobs; /* oldest first */
    size_t n_jobs;
};

static const char *const unit_states[] = {"starting", "running", "retrying", "paused",
                                          "failed",   "stopped", "standby"};
static const char *const job_states[] = {"queued", "running", "succeeded", "failed", "cancelled"};

const char *
cdc_unit_state_name(cdc_unit_state_t s)
{
    return (unsigned)s < sizeof(unit_states) / sizeof(*unit_states) ? unit_states[s] : "unknown";
}

const char *
cdc_job_state_name(cdc_job_state_t s)
{
    return (unsigned)s < sizeof(job_states) / sizeof(*job_states) ? job_states[s] : "unknown";
}

static void
unit_init(cdc_unit_t *u, bool sink, const char *name, cdc_db_type_t type)
{
    u->is_sink = sink;
    u->name = name;
    const cdc_connector_t *c = cdc_connector_find(type);
    u->type = c ? c->name : "?";
    atomic_store(&u->state, CDC_UNIT_STARTING);
    atomic_store(&u->since_ms, cdc_wall_ms());
    pthread_mutex_init(&u->mu, NULL);
}

cdc_control_t *
cdc_control_new(const cdc_config_t *cfg)
{
    cdc_control_t *c = cdc_xcalloc(1, sizeof(*c));
    c->cfg = cfg;
    c->n_sources = cfg->n_sources;
    c->n_sinks = cfg->n_sinks;
    c->units = cdc_xcalloc(c->n_sources + c->n_sinks + 1, sizeof(cdc_unit_t));
    for (size_t i = 0; i < cfg->n_sources; i++)
        unit_init(&c->units[i], false, cfg->sources[i].name, cfg->sources[i].type);
    for (size_t i = 0; i < cfg->n_sinks; i++) {
        cdc_unit_t *u = &c->units[c->n_sources + i];
        unit_init(u, true, cfg->sinks[i].name, cfg->sinks[i].type);
        atomic_store(&u->max_rows_per_s, cfg->sinks[i].max_rows_per_s);
    }
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

static void
job_free(cdc_job_t *j)
{
    if (j->work_free)
        j->work_free(j->work);
    pthread_mutex_destroy(&j->mu);
    free(j->request);
    free(j->result);
    free(j);
}

void
cdc_job_release(cdc_job_t *j)
{
    if (j && atomic_fetch_sub(&j->refs, 1) == 1)
        job_free(j);
}

void
cdc_control_free(cdc_control_t *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_jobs; i++)
        cdc_job_release(c->jobs[i]);
    free(c->jobs);
    for (size_t i = 0; i < c->n_sources + c->n_sinks; i++) {
        cdc_job_release(c->units[i].job);
        pthread_mutex_destroy(&c->units[i].mu);
    }
    free(c->units);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

const cdc_config_t *
cdc_control_config(const cdc_control_t *c)
{
    return c->cfg;
}

size_t
cdc_control_count(const cdc_control_t *c, bool sinks)
{
    return sinks ? c->n_sinks : c->n_sources;
}

cdc_unit_t *
cdc_control_unit(cdc_control_t *c, bool sink, size_t i)
{
    return &c->units[(sink ? c->n_sources : 0) + i];
}

cdc_unit_t *
cdc_control_find(cdc_control_t *c, bool sink, const char *name)
{
    size_t n = cdc_control_count(c, sink);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(cdc_control_unit(c, sink, i)->name, name))
            return cdc_control_unit(c, sink, i);
    return NULL;
}

void
cdc_unit_set_state(cdc_unit_t *u, cdc_unit_state_t s)
{
    if (atomic_exchange(&u->state, (int)s) != (int)s)
        atomic_store(&u->since_ms, cdc_wall_ms());
}

void
cdc_unit_set_error(cdc_unit_t *u, const char *msg)
{
    pthread_mutex_lock(&u->mu);
    snprintf(u->error, sizeof(u->error), "%s", msg);
    u->error_ms = cdc_wall_ms();
    pthread_mutex_unlock(&u->mu);
}

/* ---- jobs ---------------------------------------------------------------------------------- */

/* Drops the oldest ended jobs beyond what is kept (c->mu held). */
static void
prune_jobs(cdc_control_t *c)
{
    size_t ended = 0;
    for (size_t i = 0; i < c->n_jobs; i++)
        ended += cdc_job_ended(c->jobs[i]);
    size_t k = 0;
    for (size_t i = 0; i < c->n_jobs; i++) {
        if (ended > CDC_CONTROL_KEEP_JOBS && cdc_job_ended(c->jobs[i])) {
            cdc_job_release(c->jobs[i]);
            ended--;
            continue;
        }
        c->jobs[k++] = c->jobs[i];
    }
    c->n_jobs = k;
}

cdc_job_t *
cdc_control_job_new(cdc_control_t *c, const char *kind, cdc_unit_t *unit, const char *request,
                    char busy[24])
{
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->n_jobs; i++) {
        cdc_job_t *o = c->jobs[i];
        if (o->unit == unit && !strcmp(o->kind, kind) && !cdc_job_ended(o)) {
            snprintf(busy, 24, "%s", o->id);
            pthread_mutex_unlock(&c->mu);
            return NULL;
        }
    }
    prune_jobs(c);
    cdc_job_t *j = cdc_xcalloc(1, sizeof(*j));
    uint64_t rnd = 0;
    if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        rnd = (uint64_t)cdc_wall_us();
    snprintf(j->id, sizeof(j->id), "%016llx", (unsigned long long)rnd);
    j->kind = kind;
    j->unit = unit;
    j->created_ms = cdc_wall_ms();
    j->request = cdc_xstrdup(request ? request : "{}");
    pthread_mutex_init(&j->mu, NULL);
    atomic_store(&j->refs, 2); /* the list's and the caller's */
    c->jobs = cdc_xrealloc(c->jobs, (c->n_jobs + 1) * sizeof(*c->jobs));
    c->jobs[c->n_jobs++] = j;
    pthread_mutex_unlock(&c->mu);
    return j;
}

cdc_job_t *
cdc_control_job_find(cdc_control_t *c, const char *id)
{
    cdc_job_t *found = NULL;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->n_jobs && !found; i++)
        if (!strcmp(c->jobs[i]->id, id)) {
            found = c->jobs[i];
            atomic_fetch_add(&found->refs, 1);
        }
    pthread_mutex_unlock(&c->mu);
    return found;
}

void
cdc_control_jobs_each(cdc_control_t *c, bool (*each)(void *ctx, cdc_job_t *j), void *ctx)
{
    pthread_mutex_lock(&c->mu);
    for (size_t i = c->n_jobs; i-- > 0;)
        if (!each(ctx, c->jobs[i]))
            break;
    pthread_mutex_unlock(&c->mu);
}

void
cdc_job_start(cdc_job_t *j)
{
    atomic_store(&j->started_ms, cdc_wall_ms());
    atomic_store(&j->state, CDC_JOB_RUNNING);
}

void
cdc_job_end(cdc_job_t *j, cdc_job_state_t state, const char *error, char *result)
{
    pthread_mutex_lock(&j->mu);
    snprintf(j->error, sizeof(j->error), "%s", error ? error : "");
    free(j->result);
    j->result = result;
    pthread_mutex_unlock(&j->mu);
    atomic_store(&j->ended_ms, cdc_wall_ms());
    atomic_store(&j->state, (int)state);
}

static void
json_key(cdc_buf_t *out, const char *key)
{
    cdc_buf_puts(out, ",\"");
    cdc_buf_puts(out, key);
    cdc_buf_puts(out, "\":");
}

static void
json_str(cdc_buf_t *out, const char *key, const char *v)
{
    json_key(out, key);
    cdc_json_write_string_lossy(out, v, strlen(v));
}

static void
json_time(cdc_buf_t *out, const char *key, int64_t ms)
{
    json_key(out, key);
    if (!ms) {
        cdc_buf_puts(out, "null");
        return;
    }
    char t[CDC_UTC_MS_LEN];
    cdc_format_utc_ms(t, sizeof(t), ms);
    cdc_buf_printf(out, "\"%s\"", t);
}

void
cdc_job_json(cdc_job_t *j, cdc_buf_t *out)
{
    cdc_job_state_t st = (cdc_job_state_t)atomic_load(&j->state);
    uint64_t done = atomic_load(&j->done), total = atomic_load(&j->total);
    int64_t started = atomic_load(&j->started_ms), ended = atomic_load(&j->ended_ms);
    int64_t now = cdc_wall_ms(), span = (ended ? ended : now) - started;
    double rate = started && span > 0 ? (double)done * 1000.0 / (double)span : 0;
    cdc_buf_puts(out, "{\"id\":");
    cdc_json_write_string_lossy(out, j->id, strlen(j->id));
    json_str(out, "kind", j->kind);
    json_str(out, j->unit->is_sink ? "sink" : "source", j->unit->name);
    json_str(out, "state", cdc_job_state_name(st));
    cdc_buf_printf(out, ",\"progress\":{\"done\":%llu,\"total\":%llu,\"rate_per_s\":%.1f",
                   (unsigned long long)done, (unsigned long long)total, rate);
    json_key(out, "eta_s");
    if (st == CDC_JOB_RUNNING && rate > 0 && total >= done)
        cdc_buf_printf(out, "%.1f}", (double)(total - done) / rate);
    else
        cdc_buf_puts(out, st >= CDC_JOB_SUCCEEDED ? "0}" : "null}");
    json_time(out, "created_at", j->created_ms);
    json_time(out, "started_at", started);
    json_time(out, "ended_at", ended);
    pthread_mutex_lock(&j->mu);
    json_key(out, "request");
    cdc_buf_puts(out, j->request);
    json_key(out, "result");
    cdc_buf_puts(out, j->result ? j->result : "null");
    json_key(out, "error");
    if (j->error[0])
        cdc_json_write_string_lossy(out, j->error, strlen(j->error));
    else
        cdc_buf_puts(out, "null");
    pthread_mutex_unlock(&j->mu);
    cdc_buf_putc(out, '}');
}

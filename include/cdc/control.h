/*
 * The control plane of a running agent (docs/api.md): every source and sink as a unit with its
 * state and the operator's requests (pause, resume, restart, a sink's apply rate), and the jobs
 * started through the admin API (agent/ops/api.c). Workers (agent/cmd/run.c) publish their state
 * and read the requests between steps; the API's threads read the states and make the requests.
 * Flags and numbers are atomics; text (the last error, a job's detail) is under the unit's or the
 * job's mutex.
 */
#ifndef CDC_CONTROL_H
#define CDC_CONTROL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cdc/buf.h"
#include "cdc/config.h"

typedef enum {
    CDC_UNIT_STARTING, /* connecting, or waiting for another instance to let go */
    CDC_UNIT_RUNNING,  /* streaming, or applying */
    CDC_UNIT_RETRYING, /* lost its server, reconnecting with backoff */
    CDC_UNIT_PAUSED,   /* paused by the operator; position and offsets kept */
    CDC_UNIT_FAILED,   /* stopped by an error that is not retriable (the agent stops) */
    CDC_UNIT_STOPPED,  /* the agent is stopping */
    CDC_UNIT_STANDBY,  /* agent.ha: waiting for the lock the active instance holds */
} cdc_unit_state_t;

const char *cdc_unit_state_name(cdc_unit_state_t s);

typedef struct cdc_job cdc_job_t;

typedef struct {
    bool is_sink;
    const char *name;            /* the config's (borrowed; the agent's config outlives the unit) */
    const char *type;            /* postgresql | mysql */
    atomic_int state;            /* cdc_unit_state_t */
    atomic_llong since_ms;       /* wall clock of the last state change */
    atomic_bool pause;           /* requested: stop reading or applying until resumed */
    atomic_bool restart;         /* requested: stop and start again (the worker clears it) */
    atomic_llong max_rows_per_s; /* sinks: the apply rate limit, 0 for none */
    atomic_llong restarts;       /* times the worker started again (requests, reloads) */
    pthread_mutex_t mu;
    char error[512]; /* the last error, "" for none */
    int64_t error_ms;
    cdc_job_t *job; /* sinks: the replay the worker is to run (mu) */
} cdc_unit_t;

typedef enum {
    CDC_JOB_QUEUED,
    CDC_JOB_RUNNING,
    CDC_JOB_SUCCEEDED,
    CDC_JOB_FAILED,
    CDC_JOB_CANCELLED,
} cdc_job_state_t;

const char *cdc_job_state_name(cdc_job_state_t s);

struct cdc_job {
    char id[24];
    const char *kind; /* "replay" | "snapshot" */
    cdc_unit_t *unit; /* the sink replayed, or the source re-snapshotted */
    atomic_int state; /* cdc_job_state_t */
    atomic_ullong done, total;
    atomic_bool cancel;       /* requested */
    atomic_bool winding_down; /* cancelled, finishing what cannot stop halfway */
    int64_t created_ms;       /* wall clock */
    atomic_llong started_ms, ended_ms;
    pthread_mutex_t mu;
    char *request; /* the request's JSON (owned) */
    char *result;  /* a JSON object when it ended (owned, mu), or NULL */
    char error[512];
    atomic_int refs; /* the control's list, and each holder of cdc_control_job_find's */
    void *work;      /* the kind's own state, freed with the job by work_free */
    void (*work_free)(void *work);
};

typedef struct cdc_control cdc_control_t;

/* The units of cfg's sources and sinks, in config order; cfg must outlive the control. */
cdc_control_t *cdc_control_new(const cdc_config_t *cfg);
void cdc_control_free(cdc_control_t *c);
const cdc_config_t *cdc_control_config(const cdc_control_t *c);
size_t cdc_control_count(const cdc_control_t *c, bool sinks);
cdc_unit_t *cdc_control_unit(cdc_control_t *c, bool sink, size_t i);
cdc_unit_t *cdc_control_find(cdc_control_t *c, bool sink, const char *name);

/* Worker side. */
void cdc_unit_set_state(cdc_unit_t *u, cdc_unit_state_t s);
/* Records the last error (format-checked, no secrets: the caller's text). */
void cdc_unit_set_error(cdc_unit_t *u, const char *msg);
static inline cdc_unit_state_t
cdc_unit_state(cdc_unit_t *u)
{
    return (cdc_unit_state_t)atomic_load(&u->state);
}

/* Jobs: a new job of kind on unit, queued, request copied, or NULL when unit has a job of that
 * kind that has not ended (*busy: its id). The control keeps the last CDC_CONTROL_KEEP_JOBS ended
 * jobs for GET /v1/jobs. The job returned, and one found, is held until cdc_job_release. */
#define CDC_CONTROL_KEEP_JOBS 100
cdc_job_t *cdc_control_job_new(cdc_control_t *c, const char *kind, cdc_unit_t *unit,
                               const char *request, char busy[24]);
cdc_job_t *cdc_control_job_find(cdc_control_t *c, const char *id);
void cdc_job_release(cdc_job_t *j);
/* Jobs from newest to oldest: calls each until it returns false, under the control's lock. */
void cdc_control_jobs_each(cdc_control_t *c, bool (*each)(void *ctx, cdc_job_t *j), void *ctx);
void cdc_job_start(cdc_job_t *j);
/* Ends the job: state (succeeded, failed, cancelled), error text (NULL: none), result (a JSON
 * object's text, taken; NULL: none). */
void cdc_job_end(cdc_job_t *j, cdc_job_state_t state, const char *error, char *result);
static inline bool
cdc_job_ended(cdc_job_t *j)
{
    return atomic_load(&j->state) >= CDC_JOB_SUCCEEDED;
}

/* A JSON object of the job: id, kind, target, state, progress (done, total, rate, eta_s),
 * times, request, result, error. */
void cdc_job_json(cdc_job_t *j, cdc_buf_t *out);

#endif

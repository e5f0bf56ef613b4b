/*
 * The admin API under /v1 on agent.http (docs/api.md, docs/openapi.json): status, pause, resume
 * and restart of sources and sinks, a sink's apply rate and offsets, and jobs (a sink's replay, a
 * source's re-snapshots). It answers JSON, errors as {"error": {"code", "message", "field"}};
 * checks the bearer token (agent.api) and a token bucket per client address. The transport
 * (agent/ops/http.c) hands each request over whole.
 */
#ifndef CDC_API_H
#define CDC_API_H

#include <stdbool.h>
#include <stddef.h>

#include "cdc/buf.h"
#include "cdc/config.h"
#include "cdc/control.h"
#include "cdc/sink.h"

typedef struct {
    const char *method, *path;
    /* a query argument, or NULL */
    const char *(*arg)(void *ctx, const char *key);
    void *arg_ctx;
    const char *authorization; /* the header, or NULL */
    const char *client;        /* the client's address */
    const char *body;
    size_t body_len;
    bool body_too_big; /* longer than agent.api.max_body_bytes: not kept */
} cdc_api_req_t;

typedef struct {
    unsigned status;
    cdc_buf_t body;      /* JSON (the caller inits and deinits it) */
    int retry_after_s;   /* > 0: a Retry-After header */
    bool auth_challenge; /* a WWW-Authenticate: Bearer header */
} cdc_api_resp_t;

typedef struct cdc_api cdc_api_t;

/* The API of the agent whose control is ctl, reaching Kafka at bootstrap (the agent's). */
cdc_api_t *cdc_api_new(const cdc_api_conf_t *conf, cdc_control_t *ctl, const char *bootstrap);
/* Cancels the jobs still running and waits for their threads. */
void cdc_api_free(cdc_api_t *api);
/* Any thread. */
void cdc_api_handle(cdc_api_t *api, const cdc_api_req_t *rq, cdc_api_resp_t *rs);

/* The sink worker's part of a replay job (u->job, planned by the API): runs the sink with the
 * job's rewind until every partition reaches its log end (the job's progress: records done), then
 * ends the job. Cancelled (job->cancel), the partitions the replay has not reached go forward
 * again to where they stood when the job was asked for; those it is working through are applied
 * on to their end (stopped halfway, rows set back to older versions would stay so); then the job
 * ends cancelled. stop: the worker's (true on a cancel until the job winds down). Returns the
 * run's error; after a retriable one, or a stop for the operator or the agent, the job stays to be
 * run again (the rewind is applied once). */
cdc_err_t cdc_api_replay_run(cdc_job_t *job, const cdc_config_t *cfg, const cdc_sink_conf_t *sink,
                             const char *bootstrap, bool (*stop)(void), cdc_sink_stats_t *stats,
                             cdc_errstr_t *es);

#endif

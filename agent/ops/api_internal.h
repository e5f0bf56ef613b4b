/*
 * Private to the admin API (agent/ops/api*.c): the handle, errors, and the handlers that reach
 * Kafka and the targets (agent/ops/api_offsets.c, agent/ops/api_jobs.c).
 */
#ifndef CDC_API_INTERNAL_H
#define CDC_API_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#include "cdc/api.h"

struct cdc_api {
    const cdc_api_conf_t *conf;
    cdc_control_t *ctl;
    char *bootstrap;
    pthread_mutex_t mu; /* the buckets */
    struct bucket *buckets;
    atomic_int threads; /* job threads running */
    atomic_bool closing;
};

/* An error answer: {"error": {"code", "message", "field"}} (field may be NULL). */
void api_error(cdc_api_resp_t *rs, unsigned status, const char *code, const char *field,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The request's body as a JSON object (an empty body: {}), or NULL after a 400 or 413 answer. */
json_t *api_body(const cdc_api_req_t *rq, cdc_api_resp_t *rs);
/* Sets rs to status with the JSON text of v (taken). */
void api_json(cdc_api_resp_t *rs, unsigned status, json_t *v);

/* /v1/sinks/{name}/offsets: GET, PATCH (paused only), DELETE (paused only). */
void api_sink_offsets(cdc_api_t *api, cdc_unit_t *u, const cdc_api_req_t *rq, cdc_api_resp_t *rs);
/* POST /v1/sinks/{name}/replay and POST /v1/sources/{name}/snapshots: a job. */
void api_replay(cdc_api_t *api, cdc_unit_t *u, const cdc_api_req_t *rq, cdc_api_resp_t *rs);
void api_snapshots(cdc_api_t *api, cdc_unit_t *u, const cdc_api_req_t *rq, cdc_api_resp_t *rs);

#endif

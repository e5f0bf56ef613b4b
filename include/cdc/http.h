/*
 * The HTTP endpoint (agent.http): /healthz, /readyz, /metrics, and the admin API under /v1.
 */
#ifndef CDC_HTTP_H
#define CDC_HTTP_H

#include "cdc/api.h"
#include "cdc/config.h"
#include "cdc/err.h"

typedef struct cdc_http cdc_http_t;

/* Listens on host:port ("127.0.0.1:8080", "[::1]:8080", ":8080" for every address) on threads
 * of its own, HTTPS when conf has a certificate; api answers /v1/...;
 * conf and api outlive the endpoint. NULL with the reason when it cannot. */
cdc_http_t *cdc_http_start(const char *hostport, const cdc_api_conf_t *conf, cdc_api_t *api,
                           cdc_errstr_t *es);
void cdc_http_stop(cdc_http_t *h);

#endif

/*
 * The health and metrics endpoint (agent.http): /healthz, /readyz, /metrics.
 */
#ifndef CDC_HTTP_H
#define CDC_HTTP_H

#include "cdc/err.h"

typedef struct cdc_http cdc_http_t;

/* Listens on host:port ("127.0.0.1:8080", "[::1]:8080", ":8080" for every address) on a thread
 * of its own; NULL with the reason when it cannot. */
cdc_http_t *cdc_http_start(const char *hostport, cdc_errstr_t *es);
void cdc_http_stop(cdc_http_t *h);

#endif

/*
 * Prometheus metrics (docs/design.md "Operations"): a process-wide registry of series, each a name,
 * a help text and fixed labels, updated with atomics from any thread and rendered in the text
 * exposition format for /metrics (agent/ops/http.c). Series are registered once, when a source or
 * sink starts, and looked up again by name and labels when it restarts.
 */
#ifndef CDC_METRICS_H
#define CDC_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "cdc/buf.h"

typedef struct cdc_metric cdc_metric_t;

/* The series name{labels}; labels is the text between the braces ("" for none), built with
 * cdc_metric_labels. The same name and labels give the same series. */
cdc_metric_t *cdc_metric_counter(const char *name, const char *help, const char *labels);
cdc_metric_t *cdc_metric_gauge(const char *name, const char *help, const char *labels);
/* Buckets for latencies in seconds: 1 ms to 60 s. */
cdc_metric_t *cdc_metric_histogram(const char *name, const char *help, const char *labels);

void cdc_metric_add(cdc_metric_t *m, uint64_t n);
void cdc_metric_set(cdc_metric_t *m, double v);
void cdc_metric_observe(cdc_metric_t *m, double v);
double cdc_metric_value(const cdc_metric_t *m);

/* The sum of the values of every series of name whose labels hold the text has ("" for all);
 * *found: whether there was one (may be NULL). For the admin API's status, not a hot path. */
double cdc_metrics_sum(const char *name, const char *has, bool *found);
/* Labels text from name/value pairs (NULL-terminated), values escaped: k1="v1",k2="v2". */
void cdc_metric_labels(cdc_buf_t *out, ...);

/* Every series in the text exposition format (version 0.0.4). */
void cdc_metrics_render(cdc_buf_t *out);

/* Readiness: every series of the gauge cdc_up is 1, or is 0 while the same component's
 * cdc_standby is 1 (it waits, healthy, for the active instance: agent.ha). When not, *down lists
 * the ones that are not (labels, one per line); *standby (may be NULL) lists those waiting. False
 * also when nothing registered cdc_up yet. */
bool cdc_metrics_ready(cdc_buf_t *down, cdc_buf_t *standby);

/* Frees every series (at exit, once nothing updates them any more). */
void cdc_metrics_free(void);

/* The component states behind /readyz: cdc_up{component, name} = 1 or 0. Returns the series,
 * for a component that flips it often. */
cdc_metric_t *cdc_metrics_up(const char *component, const char *name, bool up);
/* agent.ha: cdc_standby{component, name} = 1 while the component waits for the lock the active
 * instance holds, else 0. */
void cdc_metrics_standby(const char *component, const char *name, bool standby);

#endif

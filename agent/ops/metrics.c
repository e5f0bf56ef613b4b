/*
 * The metrics registry (include/cdc/metrics.h). Registration takes a lock (start-up, restarts);
 * updates are lock-free: counters and histogram buckets are atomic integers, gauges and sums
 * atomic doubles kept as their bit patterns.
 */
#include "cdc/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/json.h"

typedef enum { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM } kind_t;

static const double bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                0.5,   1,      2.5,   5,    10,    30,   60};
#define N_BOUNDS (sizeof(bounds) / sizeof(bounds[0]))

struct cdc_metric {
    char *name, *help, *labels;
    kind_t kind;
    atomic_uint_fast64_t count;        /* counter; histogram observations */
    atomic_uint_fast64_t bits;         /* gauge value; histogram sum (double bits) */
    atomic_uint_fast64_t le[N_BOUNDS]; /* histogram: observations <= bounds[i] */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static cdc_metric_t **all;
static size_t n_all, cap_all;

static uint64_t
to_bits(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof(b));
    return b;
}

static double
from_bits(uint64_t b)
{
    double v;
    memcpy(&v, &b, sizeof(v));
    return v;
}

static cdc_metric_t *
series(const char *name, const char *help, const char *labels, kind_t kind)
{
    pthread_mutex_lock(&mu);
    cdc_metric_t *m = NULL;
    for (size_t i = 0; i < n_all && !m; i++)
        if (!strcmp(all[i]->name, name) && !strcmp(all[i]->labels, labels))
            m = all[i];
    if (!m) {
        m = cdc_xcalloc(1, sizeof(*m));
        m->name = cdc_xstrdup(name);
        m->help = cdc_xstrdup(help);
        m->labels = cdc_xstrdup(labels);
        m->kind = kind;
        atomic_store(&m->bits, to_bits(0));
        if (n_all == cap_all) {
            cap_all = cap_all ? 2 * cap_all : 64;
            all = cdc_xrealloc(all, cap_all * sizeof(*all));
        }
        all[n_all++] = m;
    }
    pthread_mutex_unlock(&mu);
    return m;
}

cdc_metric_t *
cdc_metric_counter(const char *name, const char *help, const char *labels)
{
    return series(name, help, labels, KIND_COUNTER);
}

cdc_metric_t *
cdc_metric_gauge(const char *name, const char *help, const char *labels)
{
    return series(name, help, labels, KIND_GAUGE);
}

cdc_metric_t *
cdc_metric_histogram(const char *name, const char *help, const char *labels)
{
    return series(name, help, labels, KIND_HISTOGRAM);
}

void
cdc_metric_add(cdc_metric_t *m, uint64_t n)
{
    if (m)
        atomic_fetch_add(&m->count, n);
}

void
cdc_metric_set(cdc_metric_t *m, double v)
{
    if (m)
        atomic_store(&m->bits, to_bits(v));
}

static void
add_double(atomic_uint_fast64_t *bits, double v)
{
    uint_fast64_t old = atomic_load(bits);
    while (!atomic_compare_exchange_weak(bits, &old, to_bits(from_bits(old) + v)))
        ;
}

void
cdc_metric_observe(cdc_metric_t *m, double v)
{
    if (!m)
        return;
    for (size_t i = 0; i < N_BOUNDS; i++)
        if (v <= bounds[i])
            atomic_fetch_add(&m->le[i], 1);
    atomic_fetch_add(&m->count, 1);
    add_double(&m->bits, v);
}

double
cdc_metric_value(const cdc_metric_t *m)
{
    if (!m)
        return 0;
    return m->kind == KIND_GAUGE ? from_bits(atomic_load(&m->bits))
                                 : (double)atomic_load(&m->count);
}

double
cdc_metrics_sum(const char *name, const char *has, bool *found)
{
    double sum = 0;
    bool any = false;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < n_all; i++)
        if (!strcmp(all[i]->name, name) && strstr(all[i]->labels, has)) {
            sum += cdc_metric_value(all[i]);
            any = true;
        }
    pthread_mutex_unlock(&mu);
    if (found)
        *found = any;
    return sum;
}

void
cdc_metric_labels(cdc_buf_t *out, ...)
{
    va_list ap;
    va_start(ap, out);
    const char *k;
    bool first = true;
    cdc_buf_reset(out);
    while ((k = va_arg(ap, const char *))) {
        const char *v = va_arg(ap, const char *);
        cdc_buf_printf(out, "%s%s=\"", first ? "" : ",", k);
        for (const char *p = v ? v : ""; *p; p++) {
            if (*p == '\\' || *p == '"')
                cdc_buf_putc(out, '\\');
            if (*p == '\n')
                cdc_buf_puts(out, "\\n");
            else
                cdc_buf_putc(out, *p);
        }
        cdc_buf_putc(out, '"');
        first = false;
    }
    va_end(ap);
    if (first)
        cdc_buf_puts(out, "");
}

static void
number(cdc_buf_t *out, double v)
{
    if (isnan(v))
        cdc_buf_puts(out, "NaN");
    else if (isinf(v))
        cdc_buf_puts(out, v > 0 ? "+Inf" : "-Inf");
    else {
        char tmp[40];
        cdc_format_double(tmp, v, false);
        cdc_buf_puts(out, tmp);
    }
}

static void
sample(cdc_buf_t *out, const char *name, const char *suffix, const char *labels, const char *extra,
       double v)
{
    cdc_buf_printf(out, "%s%s", name, suffix);
    if (labels[0] || extra) {
        cdc_buf_putc(out, '{');
        cdc_buf_puts(out, labels);
        if (extra)
            cdc_buf_printf(out, "%s%s", labels[0] ? "," : "", extra);
        cdc_buf_putc(out, '}');
    }
    cdc_buf_putc(out, ' ');
    number(out, v);
    cdc_buf_putc(out, '\n');
}

static int
by_name(const void *a, const void *b)
{
    const cdc_metric_t *x = *(cdc_metric_t *const *)a, *y = *(cdc_metric_t *const *)b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->labels, y->labels);
}

void
cdc_metrics_render(cdc_buf_t *out)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    pthread_mutex_lock(&mu);
    cdc_metric_t **v = cdc_xcalloc(n_all + 1, sizeof(*v));
    memcpy(v, all, n_all * sizeof(*v));
    size_t n = n_all;
    pthread_mutex_unlock(&mu);
    qsort(v, n, sizeof(*v), by_name); /* a family's series together, as the format asks */
    for (size_t i = 0; i < n; i++) {
        cdc_metric_t *m = v[i];
        if (!i || strcmp(v[i - 1]->name, m->name))
            cdc_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name,
                           types[m->kind]);
        if (m->kind == KIND_COUNTER) {
            sample(out, m->name, "", m->labels, NULL, (double)atomic_load(&m->count));
        } else if (m->kind == KIND_GAUGE) {
            sample(out, m->name, "", m->labels, NULL, from_bits(atomic_load(&m->bits)));
        } else {
            char le[40];
            for (size_t b = 0; b < N_BOUNDS; b++) {
                char num[32];
                cdc_format_double(num, bounds[b], false);
                snprintf(le, sizeof(le), "le=\"%s\"", num);
                sample(out, m->name, "_bucket", m->labels, le, (double)atomic_load(&m->le[b]));
            }
            double count = (double)atomic_load(&m->count);
            sample(out, m->name, "_bucket", m->labels, "le=\"+Inf\"", count);
            sample(out, m->name, "_sum", m->labels, NULL, from_bits(atomic_load(&m->bits)));
            sample(out, m->name, "_count", m->labels, NULL, count);
        }
    }
    free(v);
}

/* The series of gauge metric for {component, name}, set to on. */
static cdc_metric_t *
component_gauge(const char *metric, const char *help, const char *component, const char *name,
                bool on)
{
    cdc_buf_t l;
    cdc_buf_init(&l);
    cdc_metric_labels(&l, "component", component, "name", name, (const char *)NULL);
    cdc_metric_t *m = cdc_metric_gauge(metric, help, l.data);
    cdc_buf_deinit(&l);
    cdc_metric_set(m, on ? 1 : 0);
    return m;
}

cdc_metric_t *
cdc_metrics_up(const char *component, const char *name, bool up)
{
    return component_gauge(
        "cdc_up",
        "1 when the component is connected and working, 0 while it reconnects or after it stopped",
        component, name, up);
}

void
cdc_metrics_standby(const char *component, const char *name, bool standby)
{
    component_gauge("cdc_standby",
                    "1 while the component waits as a standby for the lock the active instance "
                    "holds (agent.ha), else 0",
                    component, name, standby);
}

/* Whether the series of gauge name with these labels is 1 (under mu). */
static bool
is_one(const char *name, const char *labels)
{
    for (size_t i = 0; i < n_all; i++)
        if (!strcmp(all[i]->name, name) && !strcmp(all[i]->labels, labels))
            return from_bits(atomic_load(&all[i]->bits)) == 1;
    return false;
}

bool
cdc_metrics_ready(cdc_buf_t *down, cdc_buf_t *standby)
{
    bool any = false, ready = true;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < n_all; i++) {
        if (strcmp(all[i]->name, "cdc_up"))
            continue;
        any = true;
        if (from_bits(atomic_load(&all[i]->bits)) == 1)
            continue;
        if (is_one("cdc_standby", all[i]->labels)) {
            if (standby)
                cdc_buf_printf(standby, "%s\n", all[i]->labels);
            continue;
        }
        ready = false;
        if (down)
            cdc_buf_printf(down, "%s\n", all[i]->labels);
    }
    pthread_mutex_unlock(&mu);
    if (!any && down)
        cdc_buf_puts(down, "nothing started yet\n");
    return any && ready;
}

void
cdc_metrics_free(void)
{
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < n_all; i++) {
        free(all[i]->name);
        free(all[i]->help);
        free(all[i]->labels);
        free(all[i]);
    }
    free(all);
    all = NULL;
    n_all = cap_all = 0;
    pthread_mutex_unlock(&mu);
}

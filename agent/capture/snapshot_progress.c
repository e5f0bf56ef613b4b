/*
 * Initial snapshot progress: log lines every 5 s and the metrics cdc_snapshot_rows_total,
 * cdc_snapshot_rows_estimated and cdc_snapshot_tables_remaining (per source).
 */
#include "cdc/snapshot_progress.h"

#include <string.h>

#include "cdc/buf.h"
#include "cdc/clock.h"
#include "cdc/log.h"

#include <stdlib.h>

/* every 5 s; CDC_SNAPSHOT_PROGRESS_MS sets another interval (tests) */
static int64_t
log_every_ms(void)
{
    const char *v = getenv("CDC_SNAPSHOT_PROGRESS_MS");
    return v && atoll(v) > 0 ? atoll(v) : 5000;
}

void
cdc_snap_progress_init(cdc_snap_progress_t *p, const char *source, size_t tables,
                       uint64_t estimated)
{
    memset(p, 0, sizeof(*p));
    p->source = source;
    p->tables = tables;
    p->estimated = estimated;
    p->started_ms = p->logged_ms = cdc_mono_ms();
    p->every_ms = log_every_ms();
    cdc_buf_t labels;
    cdc_buf_init(&labels);
    cdc_metric_labels(&labels, "source", source, (const char *)NULL);
    p->m_rows = cdc_metric_counter("cdc_snapshot_rows_total", "Rows read by the initial snapshot.",
                                   labels.data);
    p->m_estimated = cdc_metric_gauge("cdc_snapshot_rows_estimated",
                                      "Rows the initial snapshot is estimated to read (the "
                                      "catalog's row counts).",
                                      labels.data);
    p->m_remaining =
        cdc_metric_gauge("cdc_snapshot_tables_remaining",
                         "Tables the initial snapshot has still to read.", labels.data);
    cdc_buf_deinit(&labels);
    cdc_metric_set(p->m_estimated, (double)estimated);
    cdc_metric_set(p->m_remaining, (double)tables);
}

void
cdc_snap_progress_rows(cdc_snap_progress_t *p, const char *table, uint64_t n)
{
    p->rows += n;
    cdc_metric_add(p->m_rows, n);
    int64_t now = cdc_mono_ms();
    if (now - p->logged_ms < p->every_ms)
        return;
    p->logged_ms = now;
    double secs = (double)(now - p->started_ms) / 1000.0;
    double rate = secs > 0 ? (double)p->rows / secs : 0;
    /* the estimate is the catalog's: never below what was read already */
    uint64_t total = p->estimated > p->rows ? p->estimated : p->rows;
    double eta = rate > 0 ? (double)(total - p->rows) / rate : 0;
    CDC_LOG_INFO("source=%s snapshot progress table=%s rows=%llu estimated=%llu pct=%d "
                 "rate=%.0f/s eta_s=%.0f tables_done=%zu tables=%zu",
                 p->source, table, (unsigned long long)p->rows, (unsigned long long)total,
                 total ? (int)(p->rows * 100 / total) : 100, rate, eta, p->tables_done, p->tables);
}

void
cdc_snap_progress_table_done(cdc_snap_progress_t *p)
{
    p->tables_done++;
    cdc_metric_set(p->m_remaining, (double)(p->tables - p->tables_done));
}

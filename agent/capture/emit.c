/*
 * What every source does with what it read (include/cdc/source.h): hand an event to the agent
 * unless a restart already published it, open the source transaction at its first delivered
 * event, and store a first start's position before anything is read.
 */
#include <string.h>

#include "cdc/clock.h"
#include "cdc/metrics.h"
#include "cdc/source.h"

bool
cdc_source_applied_by(const cdc_source_conf_t *conf, const char *mark, size_t n)
{
    const char *by = conf->applied_by;
    return by && mark && n >= strlen(by) && !memcmp(mark, by, strlen(by));
}

void
cdc_source_applied_skip(cdc_emitter_t *e, const char *source)
{
    if (!e->m_applied) {
        cdc_buf_t l;
        cdc_buf_init(&l);
        cdc_metric_labels(&l, "source", source, (const char *)NULL);
        e->m_applied = cdc_metric_counter("cdc_source_sink_transactions_skipped_total",
                                          "Transactions a sink of this agent cluster applied, "
                                          "not published again (no echo)",
                                          l.data);
        cdc_buf_deinit(&l);
    }
    cdc_metric_add(e->m_applied, 1);
}

cdc_err_t
cdc_source_emit(const cdc_source_cb_t *cb, void *ctx, cdc_emitter_t *e, bool may_skip,
                const cdc_event_t *ev)
{
    if (may_skip) {
        cdc_pos_t p = ev->source.pos_v;
        if (!ev->source.has_pos_v)
            cdc_pos_parse(ev->source.pos, &p);
        if (p.epoch == e->resume->pos.epoch && cdc_pos_cmp(&p, &e->resume->pos) <= 0)
            return CDC_OK; /* published before the restart */
    }
    if (e->delivered++ == 0 && cb->begin) {
        cdc_txn_info_t info;
        e->begin_info(e->src, &info);
        cdc_err_t err = cb->begin(ctx, &info);
        if (err)
            return err;
    }
    return cb->event(ctx, ev);
}

cdc_err_t
cdc_source_store_start(const cdc_source_cb_t *cb, void *ctx, const char *source, cdc_pos_t pos,
                       const char *native, const char *resnap, cdc_source_resume_t *resume,
                       cdc_errstr_t *es)
{
    cdc_txn_info_t info = {pos, 0, "start", cdc_wall_ms(), true, NULL, native, resnap};
    cdc_err_t err = cb->commit(ctx, &info);
    if (!err && cb->sync)
        err = cb->sync(ctx);
    if (err)
        return cdc_errstr_set(es, err, "source %s: storing the start position failed", source);
    resume->has_pos = true; /* skip nothing before it: it is below every event */
    resume->pos = pos;
    resume->snapshot_done = true;
    return CDC_OK;
}

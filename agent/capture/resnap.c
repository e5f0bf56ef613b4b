/*
 * The re-snapshot driver both sources run (include/cdc/resnap.h).
 */
#include "cdc/resnap.h"

#include <stdlib.h>
#include <string.h>

#include "cdc/buf.h"
#include "cdc/chunk_pos.h"

void
cdc_resnap_init(cdc_resnap_t *r, const cdc_resnap_ops_t *ops, void *src,
                const cdc_source_conf_t *conf, const char *stored, bool snapshot)
{
    r->ops = ops;
    r->src = src;
    r->conf = conf;
    cdc_wm_restore(&r->wm, stored, conf, snapshot);
}

void
cdc_resnap_start_initial(cdc_resnap_t *r, size_t n_tables, size_t ordinal, const char *progress)
{
    r->n_tables = n_tables;
    r->ordinal = ordinal;
    free(r->resume);
    r->resume = progress ? cdc_xstrdup(progress) : NULL;
    cdc_wm_start(&r->wm);
}

/* Which table, and from where: the initial snapshot's, else the queue's head (false: nothing). */
static bool
next_table(cdc_resnap_t *r, bool *more, const char **progress)
{
    *more = r->ordinal < r->n_tables;
    *progress = r->resume;
    if (r->wm.initial)
        return true;
    long head = cdc_wm_head(&r->wm, r->conf);
    if (head < 0)
        return false; /* the queue is empty */
    *more = true;
    if (!r->table_open) {
        r->ordinal = (size_t)head;
        *progress = r->wm.queue[0].progress;
    }
    return true;
}

cdc_err_t
cdc_resnap_step(cdc_resnap_t *r, cdc_errstr_t *es)
{
    if (!cdc_wm_active(&r->wm) || r->wm.in_flight || r->wm.commit_pending)
        return CDC_OK;
    bool more;
    const char *progress;
    if (!next_table(r, &more, &progress))
        return CDC_OK;
    cdc_err_t err;
    if (more && !r->table_open) {
        if ((err = r->ops->open(r->src, r->ordinal, progress, es)))
            return err;
        r->table_open = true;
        free(r->resume); /* the initial snapshot's stored progress serves its first table only */
        r->resume = NULL;
    }
    char label[64];
    cdc_wm_next(&r->wm);
    cdc_wm_label(&r->wm, 'L', label, sizeof(label));
    if ((err = r->ops->watermark(r->src, label, es)))
        return err;
    if (more && (err = r->ops->read(r->src, es)))
        return err;
    cdc_wm_label(&r->wm, 'H', label, sizeof(label));
    return r->ops->watermark(r->src, label, es);
}

/* Moves past the emitted chunk and prepares the progress its commit carries. */
static void
advance(cdc_resnap_t *r)
{
    bool initial = r->wm.initial;
    bool more = initial ? r->ordinal < r->n_tables : r->table_open;
    bool exhausted = true;
    size_t rows = r->table_open ? r->ops->chunk_rows(r->src, &exhausted) : 0;
    bool cancelled = !initial && r->wm.n_queue && r->wm.queue[0].cancelled;
    bool table_done = !more || exhausted || cancelled;
    char *progress = NULL;
    if (!table_done) {
        progress = r->ops->chunk_end(r->src);
    } else if (more) {
        r->ops->close(r->src);
        r->table_open = false;
        r->ordinal += initial;
    }
    r->ops->chunk_free(r->src);
    if (!initial) {
        cdc_wm_head_advance(&r->wm, r->conf->name, rows, progress);
        cdc_wm_done(&r->wm, NULL, false);
        return;
    }
    bool finished = r->ordinal >= r->n_tables;
    if (!finished && !progress) /* the next table, from its start */
        progress = cdc_chunk_pos_format(r->ordinal, NULL, NULL, 0);
    cdc_wm_done(&r->wm, progress, finished);
}

cdc_err_t
cdc_resnap_watermark_read(cdc_resnap_t *r, const char *text, size_t len, cdc_errstr_t *es)
{
    if (!cdc_wm_active(&r->wm) || !cdc_wm_read(&r->wm, text, len))
        return CDC_OK; /* a low watermark, or one of an earlier run or chunk */
    cdc_err_t err = r->ops->emit(r->src, es);
    if (!err)
        advance(r);
    return err;
}

void
cdc_resnap_free(cdc_resnap_t *r)
{
    if (r->table_open)
        r->ops->close(r->src);
    cdc_wm_free(&r->wm);
    free(r->resume);
    memset(r, 0, sizeof(*r));
}

/*
 * Watermark bookkeeping shared by the sources' snapshot completion (include/cdc/watermark.h).
 */
#include "cdc/watermark.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "cdc/buf.h"
#include "cdc/clock.h"
#include "cdc/log.h"

static void
clear_changed(cdc_wm_t *w)
{
    for (size_t i = 0; i < w->n_changed; i++)
        free(w->changed[i]);
    w->n_changed = 0;
    w->sorted = true;
}

void
cdc_wm_start(cdc_wm_t *w)
{
    uint64_t n = 0;
    if (getrandom(&n, sizeof(n), 0) != (ssize_t)sizeof(n))
        n = (uint64_t)cdc_wall_us() ^ ((uint64_t)getpid() << 40);
    w->nonce = n;
    w->active = true;
}

void
cdc_wm_label(const cdc_wm_t *w, char kind, char *out, size_t size)
{
    snprintf(out, size, "%c:%llx:%u", kind, (unsigned long long)w->nonce, (unsigned)w->seq);
}

bool
cdc_wm_read(cdc_wm_t *w, const char *text, size_t len)
{
    char buf[64], kind = 0;
    unsigned long long nonce = 0;
    unsigned seq = 0;
    snprintf(buf, sizeof(buf), "%.*s", (int)(len < sizeof(buf) - 1 ? len : sizeof(buf) - 1), text);
    if (sscanf(buf, "%c:%llx:%u", &kind, &nonce, &seq) != 3 || nonce != w->nonce)
        return false; /* another run's */
    return cdc_wm_seen(w, kind, seq);
}

void
cdc_wm_next(cdc_wm_t *w)
{
    w->seq++;
    clear_changed(w);
    w->low_seen = false;
    w->in_flight = true;
}

void
cdc_wm_track(cdc_wm_t *w, char *key)
{
    if (w->n_changed == w->cap_changed) {
        w->cap_changed = w->cap_changed ? 2 * w->cap_changed : 64;
        w->changed = cdc_xrealloc(w->changed, w->cap_changed * sizeof(char *));
    }
    w->changed[w->n_changed++] = key ? key : cdc_xstrdup("");
    w->sorted = false;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

bool
cdc_wm_changed(cdc_wm_t *w, const char *key)
{
    if (!w->n_changed)
        return false;
    if (!w->sorted) {
        qsort(w->changed, w->n_changed, sizeof(char *), cmp_str);
        w->sorted = true;
    }
    return bsearch(&key, w->changed, w->n_changed, sizeof(char *), cmp_str) != NULL;
}

bool
cdc_wm_seen(cdc_wm_t *w, char kind, uint32_t seq)
{
    if (!w->active || !w->in_flight || seq != w->seq)
        return false; /* a watermark of an earlier chunk */
    if (kind == 'L') {
        w->low_seen = true;
        return false;
    }
    if (kind != 'H' || !w->low_seen)
        return false;
    w->in_flight = false; /* the chunk's own rows are not tracked */
    return true;
}

void
cdc_wm_done(cdc_wm_t *w, char *progress, bool finished)
{
    free(w->progress);
    w->progress = progress;
    w->finished = finished;
    w->commit_pending = true;
}

bool
cdc_wm_commit_info(cdc_wm_t *w, const char *source, cdc_txn_info_t *info)
{
    if (!w->commit_pending)
        return false;
    w->commit_pending = false;
    info->progress = w->progress;
    info->snapshot_done = w->finished;
    if (w->finished) {
        w->active = false;
        CDC_LOG_INFO("source=%s initial snapshot completed", source);
    }
    return true;
}

void
cdc_wm_free(cdc_wm_t *w)
{
    clear_changed(w);
    free(w->changed);
    free(w->progress);
    memset(w, 0, sizeof(*w));
}

/*
 * Watermark bookkeeping shared by the sources' snapshot completion (include/cdc/watermark.h).
 */
#include "cdc/watermark.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "cdc/buf.h"
#include "cdc/clock.h"
#include "cdc/log.h"
#include "cdc/metrics.h"

static void
clear_changed(cdc_wm_t *w)
{
    for (size_t i = 0; i < w->n_changed; i++)
        free(w->changed[i]);
    w->n_changed = 0;
    w->sorted = true;
}

_Static_assert(CDC_WM_STATE_MAX < sizeof(((cdc_source_resume_t *)0)->resnap),
               "the encoded queue fits the resume point");

static void
new_nonce(cdc_wm_t *w)
{
    uint64_t n = 0;
    if (getrandom(&n, sizeof(n), 0) != (ssize_t)sizeof(n))
        n = (uint64_t)cdc_wall_us() ^ ((uint64_t)getpid() << 40);
    w->nonce = n;
}

void
cdc_wm_start(cdc_wm_t *w)
{
    if (!w->nonce)
        new_nonce(w);
    w->initial = true;
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
    if (!cdc_wm_active(w) || !w->in_flight || seq != w->seq)
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

/* ---- the re-snapshot queue --------------------------------------------------------------------
 */

static long
conf_table(const cdc_source_conf_t *conf, const char *table)
{
    for (size_t i = 0; i < conf->n_tables; i++)
        if (!strcmp(conf->tables[i], table))
            return (long)i;
    return -1;
}

static void
item_free(cdc_wm_item_t *it)
{
    free(it->table);
    free(it->id);
    free(it->progress);
}

static void
done_free(cdc_wm_done_t *d)
{
    free(d->id);
    free(d->table);
    free(d->error);
}

static void
queue_push(cdc_wm_t *w, const char *table, const char *id, uint64_t rows, const char *progress)
{
    w->queue = cdc_xrealloc(w->queue, (w->n_queue + 1) * sizeof(*w->queue));
    cdc_wm_item_t *it = &w->queue[w->n_queue++];
    it->table = cdc_xstrdup(table);
    it->id = cdc_xstrdup(id ? id : "");
    it->rows = rows;
    it->progress = progress ? cdc_xstrdup(progress) : NULL;
    it->cancelled = false;
}

static void
done_drop_oldest(cdc_wm_t *w)
{
    done_free(&w->done[0]);
    memmove(&w->done[0], &w->done[1], (w->n_done - 1) * sizeof(w->done[0]));
    w->n_done--;
}

/* Keeps the last CDC_WM_KEEP_DONE outcomes of requests (tables added to the config have none). */
static void
done_push(cdc_wm_t *w, const char *id, const char *table, uint64_t rows, const char *error)
{
    if (!id || !id[0])
        return;
    if (w->n_done == CDC_WM_KEEP_DONE)
        done_drop_oldest(w);
    cdc_wm_done_t *d = &w->done[w->n_done++];
    d->id = cdc_xstrdup(id);
    d->table = cdc_xstrdup(table);
    d->rows = rows;
    d->error = error ? cdc_xstrdup(error) : NULL;
}

static void
tables_add(cdc_wm_t *w, const char *table)
{
    for (size_t i = 0; i < w->n_tables; i++)
        if (!strcmp(w->tables[i], table))
            return;
    w->tables = cdc_xrealloc(w->tables, (w->n_tables + 1) * sizeof(char *));
    w->tables[w->n_tables++] = cdc_xstrdup(table);
}

/* The stored queue: requests for tables still in the config go on, the others are reported
 * done with the reason; and what finished before. */
static void
restore_queue(cdc_wm_t *w, json_t *q, json_t *d, const cdc_source_conf_t *conf)
{
    size_t i;
    json_t *e;
    json_array_foreach(q, i, e)
    {
        const char *table = json_string_value(json_object_get(e, "table")),
                   *id = json_string_value(json_object_get(e, "id"));
        json_t *p = json_object_get(e, "progress");
        char *ptext = json_is_object(p) ? json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        if (table && conf_table(conf, table) >= 0) {
            queue_push(w, table, id, (uint64_t)json_integer_value(json_object_get(e, "rows")),
                       ptext);
            w->queue[w->n_queue - 1].cancelled = json_is_true(json_object_get(e, "cancelled"));
        } else if (table) {
            CDC_LOG_WARN("source=%s table %s left the config: its re-snapshot is dropped",
                         conf->name, table);
            done_push(w, id, table, 0, "the table is no longer in the source's config");
            w->dirty = w->urgent = true;
        }
        free(ptext);
    }
    json_array_foreach(d, i, e)
    {
        const char *id = json_string_value(json_object_get(e, "id")),
                   *table = json_string_value(json_object_get(e, "table"));
        if (id && table)
            done_push(w, id, table, (uint64_t)json_integer_value(json_object_get(e, "rows")),
                      json_string_value(json_object_get(e, "error")));
    }
}

/* The stored table list against the config: tables that left are forgotten, tables added are
 * snapshotted while streaming (or only streamed with snapshot: never). */
static void
restore_tables(cdc_wm_t *w, json_t *t, const cdc_source_conf_t *conf, bool snapshot)
{
    size_t i;
    json_t *e;
    json_array_foreach(t, i, e)
    {
        const char *table = json_string_value(e);
        if (table && conf_table(conf, table) >= 0)
            tables_add(w, table);
        else
            w->dirty = true; /* left the config */
    }
    for (i = 0; i < conf->n_tables; i++) {
        size_t before = w->n_tables;
        tables_add(w, conf->tables[i]);
        if (w->n_tables == before)
            continue;
        w->dirty = true;
        if (!snapshot) {
            CDC_LOG_INFO("source=%s table %s was added to the config: streaming its changes (no "
                         "snapshot: snapshot is never)",
                         conf->name, conf->tables[i]);
            continue;
        }
        CDC_LOG_INFO("source=%s table %s was added to the config: snapshotting it while "
                     "streaming",
                     conf->name, conf->tables[i]);
        queue_push(w, conf->tables[i], "", 0, NULL);
        w->urgent = true;
    }
}

void
cdc_wm_restore(cdc_wm_t *w, const char *stored, const cdc_source_conf_t *conf, bool snapshot)
{
    if (!w->nonce)
        new_nonce(w);
    json_t *v = stored && stored[0] ? json_loads(stored, 0, NULL) : NULL;
    json_t *t = json_object_get(v, "tables");
    restore_queue(w, json_object_get(v, "queue"), json_object_get(v, "done"), conf);
    w->tables_omitted = json_is_true(json_object_get(v, "tables_omitted"));
    if (w->tables_omitted || !json_is_array(t)) {
        /* too many to list, or nothing stored yet (the initial snapshot, or its absence, covers
         * the config): every configured table counts as covered; a new list is recorded */
        for (size_t i = 0; i < conf->n_tables; i++)
            tables_add(w, conf->tables[i]);
        w->dirty |= !w->tables_omitted;
    } else {
        restore_tables(w, t, conf, snapshot);
    }
    json_decref(v);
    for (size_t i = 0; i < w->n_queue; i++)
        CDC_LOG_INFO("source=%s re-snapshot of %s queued%s (%llu rows read)", conf->name,
                     w->queue[i].table, w->queue[i].id[0] ? "" : " (added to the config)",
                     (unsigned long long)w->queue[i].rows);
}

bool
cdc_wm_request(cdc_wm_t *w, const cdc_source_conf_t *conf, const char *table, const char *id)
{
    w->dirty = w->urgent = true;
    const char *why = NULL;
    if (conf_table(conf, table) < 0)
        why = "the table is not one of the source's tables in the running agent's config";
    else if (w->n_queue >= CDC_WM_MAX_QUEUE)
        why = "too many re-snapshots are queued; ask again when some are done";
    if (why) {
        CDC_LOG_ERROR("source=%s snapshot request %s for %s refused: %s", conf->name, id, table,
                      why);
        done_push(w, id, table, 0, why);
        return false;
    }
    CDC_LOG_INFO("source=%s snapshot request %s: re-snapshotting %s while streaming (%zu "
                 "ahead of it)",
                 conf->name, id, table, w->n_queue);
    queue_push(w, table, id, 0, NULL);
    return true;
}

void
cdc_wm_cancel(cdc_wm_t *w, const char *source, const char *id)
{
    for (size_t i = 0; i < w->n_queue; i++) {
        cdc_wm_item_t *it = &w->queue[i];
        if (!it->id[0] || strcmp(it->id, id))
            continue;
        w->dirty = w->urgent = true;
        if (i == 0) { /* being read: it ends after the chunk in flight (cdc_wm_head_advance) */
            it->cancelled = true;
            CDC_LOG_INFO("source=%s re-snapshot of %s cancelled: stops after this chunk", source,
                         it->table);
            return;
        }
        CDC_LOG_INFO("source=%s re-snapshot of %s cancelled before it started", source, it->table);
        done_push(w, it->id, it->table, it->rows, CDC_WM_CANCELLED);
        item_free(it);
        memmove(&w->queue[i], &w->queue[i + 1], (w->n_queue - i - 1) * sizeof(*w->queue));
        w->n_queue--;
        return;
    }
}

void
cdc_wm_request_text(cdc_wm_t *w, const cdc_source_conf_t *conf, const char *text, size_t len)
{
    json_t *v = json_loadb(text, len, 0, NULL);
    const char *src = json_string_value(json_object_get(v, "source")),
               *id = json_string_value(json_object_get(v, "id")),
               *table = json_string_value(json_object_get(v, "snapshot")),
               *cancel = json_string_value(json_object_get(v, "cancel"));
    if (src && cancel) {
        if (!strcmp(src, conf->name))
            cdc_wm_cancel(w, conf->name, cancel);
    } else if (!id || !table || !src)
        CDC_LOG_WARN("source=%s unreadable snapshot request ignored: %.*s", conf->name, (int)len,
                     text);
    else if (!strcmp(src, conf->name))
        cdc_wm_request(w, conf, table, id);
    json_decref(v);
}

long
cdc_wm_head(const cdc_wm_t *w, const cdc_source_conf_t *conf)
{
    if (w->initial || !w->n_queue)
        return -1;
    return conf_table(conf, w->queue[0].table);
}

void
cdc_wm_head_advance(cdc_wm_t *w, const char *source, uint64_t rows, char *progress)
{
    if (!w->n_queue) {
        free(progress);
        return;
    }
    cdc_wm_item_t *h = &w->queue[0];
    h->rows += rows;
    cdc_buf_t l;
    cdc_buf_init(&l);
    cdc_metric_labels(&l, "source", source, "table", h->table, (const char *)NULL);
    cdc_metric_add(cdc_metric_counter("cdc_resnapshot_rows_total",
                                      "Rows read by re-snapshots while streaming (cdc-agent "
                                      "snapshot, tables added to the config)",
                                      l.data),
                   rows);
    cdc_buf_deinit(&l);
    free(h->progress);
    h->progress = progress;
    w->dirty = true;
    if (progress)
        return;
    CDC_LOG_INFO("source=%s re-snapshot of %s %s: %llu rows", source, h->table,
                 h->cancelled ? "cancelled" : "completed", (unsigned long long)h->rows);
    done_push(w, h->id, h->table, h->rows, h->cancelled ? CDC_WM_CANCELLED : NULL);
    item_free(h);
    memmove(&w->queue[0], &w->queue[1], (w->n_queue - 1) * sizeof(*w->queue));
    w->n_queue--;
}

/* The queue as the offset record's "resnapshot" object, at most CDC_WM_STATE_MAX bytes (the slot
 * it travels in). When it would not fit, in this order: the oldest finished requests go; the list
 * of covered tables goes (tables added to the config are then not noticed: said once); the head
 * table's progress goes (it is read again from its start: repeats, never gaps). A queue of
 * CDC_WM_MAX_QUEUE items of database-sized names always fits. */
static char *
encode(cdc_wm_t *w, const char *source)
{
    for (;;) {
        json_t *q = json_array(), *d = json_array();
        for (size_t i = 0; i < w->n_queue; i++) {
            const cdc_wm_item_t *it = &w->queue[i];
            json_t *e = json_pack("{s:s, s:s, s:I}", "table", it->table, "id", it->id, "rows",
                                  (json_int_t)it->rows);
            json_t *p = it->progress ? json_loads(it->progress, 0, NULL) : NULL;
            if (p)
                json_object_set_new(e, "progress", p);
            if (it->cancelled)
                json_object_set_new(e, "cancelled", json_true());
            json_array_append_new(q, e);
        }
        for (size_t i = 0; i < w->n_done; i++) {
            const cdc_wm_done_t *it = &w->done[i];
            json_t *e = json_pack("{s:s, s:s, s:I}", "id", it->id, "table", it->table, "rows",
                                  (json_int_t)it->rows);
            if (it->error)
                json_object_set_new(e, "error", json_string(it->error));
            json_array_append_new(d, e);
        }
        json_t *v = json_pack("{s:o, s:o}", "queue", q, "done", d);
        if (w->tables_omitted) {
            json_object_set_new(v, "tables_omitted", json_true());
        } else {
            json_t *t = json_array();
            for (size_t i = 0; i < w->n_tables; i++)
                json_array_append_new(t, json_string(w->tables[i]));
            json_object_set_new(v, "tables", t);
        }
        char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(v);
        if (strlen(s) <= CDC_WM_STATE_MAX)
            return s;
        free(s);
        if (w->n_done) {
            done_drop_oldest(w);
        } else if (!w->tables_omitted) {
            w->tables_omitted = true;
            CDC_LOG_WARN("source=%s too many tables to list in the offset record: tables added to "
                         "the config later are not snapshotted by themselves; ask with "
                         "cdc-agent snapshot",
                         source);
        } else if (w->n_queue && w->queue[0].progress) {
            CDC_LOG_WARN("source=%s the key of %s is too long to record the re-snapshot's "
                         "progress: after a restart the table is read again from its start",
                         source, w->queue[0].table);
            free(w->queue[0].progress);
            w->queue[0].progress = NULL;
        } else {
            return cdc_xstrdup("{\"done\":[],\"queue\":[],\"tables_omitted\":true}");
        }
    }
}

const char *
cdc_wm_state(cdc_wm_t *w, const char *source)
{
    if (!w->dirty)
        return NULL;
    w->dirty = w->urgent = false;
    free(w->state);
    w->state = encode(w, source);
    return w->state;
}

void
cdc_wm_commit_info(cdc_wm_t *w, const char *source, cdc_txn_info_t *info)
{
    if (w->commit_pending) {
        w->commit_pending = false;
        info->progress = w->progress;
        info->snapshot_done = w->finished;
        if (w->finished && w->initial) {
            w->initial = false;
            CDC_LOG_INFO("source=%s initial snapshot completed", source);
        }
    }
    info->resnap = cdc_wm_state(w, source);
}

void
cdc_wm_free(cdc_wm_t *w)
{
    clear_changed(w);
    free(w->changed);
    free(w->progress);
    for (size_t i = 0; i < w->n_queue; i++)
        item_free(&w->queue[i]);
    free(w->queue);
    for (size_t i = 0; i < w->n_done; i++)
        done_free(&w->done[i]);
    for (size_t i = 0; i < w->n_tables; i++)
        free(w->tables[i]);
    free(w->tables);
    free(w->state);
    memset(w, 0, sizeof(*w));
}

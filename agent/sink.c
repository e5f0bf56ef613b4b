/*
 * Sink engine (include/cdc/sink.h): assigns every partition of the sink's route topics at the
 * offset stored in the target, collects records into a batch (batch_size records or batch_ms),
 * and applies the batch in one target transaction that also moves each touched partition's row in
 * cdc_sink_offsets with a conditional update. A failed batch is rolled back; connection-level
 * failures reconnect and retry it with backoff, anything else stops the sink with the reason (no
 * record is ever skipped silently). Records at or below a partition's stored position within the
 * same epoch are re-sends and are skipped; a new epoch resets that guard and is logged.
 */
#include "cdc/sink.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "cdc/kafka.h"
#include "cdc/log.h"
#include "cdc/topic.h"

typedef struct {
    char topic[CDC_TOPIC_MAX_LEN + 1];
    int32_t partition;
    size_t route;
    int64_t next;     /* next offset to read and apply */
    int64_t expected; /* what cdc_sink_offsets holds (-1: no row yet) */
    uint32_t epoch;   /* guard: last applied position */
    char pos[CDC_POS_STRLEN];
    /* the batch being applied */
    bool touched;
    int64_t b_next;
    uint32_t b_epoch;
    char b_pos[CDC_POS_STRLEN];
} part_t;

typedef struct {
    rd_kafka_message_t *m;
    size_t part;
} item_t;

typedef struct {
    const cdc_config_t *cfg;
    const cdc_sink_conf_t *conf;
    const cdc_sink_ops_t *ops;
    cdc_sink_target_t *t;
    cdc_consumer_t *c;
    part_t *parts;
    size_t n_parts;
    item_t *items;
    size_t n_items, cap_items;
    cdc_arena_t arena;
    cdc_sink_stats_t *stats;
} sink_t;

static int64_t
now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* The topic a route reads: its override, or the contract's name for "source.schema.table". */
static cdc_err_t
route_topic(const cdc_config_t *cfg, const cdc_route_conf_t *r, cdc_buf_t *out, cdc_errstr_t *es)
{
    cdc_buf_reset(out);
    if (r->topic) {
        cdc_buf_puts(out, r->topic);
        return CDC_OK;
    }
    const char *dot = strchr(r->from, '.');
    char source[256], schema[256];
    snprintf(source, sizeof(source), "%.*s", dot ? (int)(dot - r->from) : 0, r->from);
    const char *table = cdc_config_split_table(dot ? dot + 1 : r->from, schema, sizeof(schema));
    return cdc_topic_for_table(out, cfg->kafka.topic_prefix, source, schema, table, es);
}

static part_t *
find_part(sink_t *s, const char *topic, int32_t partition, size_t *idx)
{
    for (size_t i = 0; i < s->n_parts; i++)
        if (s->parts[i].partition == partition && !strcmp(s->parts[i].topic, topic)) {
            *idx = i;
            return &s->parts[i];
        }
    return NULL;
}

/* Every partition of every route topic, at its stored offset. */
static cdc_err_t
assign(sink_t *s, const cdc_sink_offsets_t *stored, cdc_errstr_t *es)
{
    cdc_buf_t topic;
    cdc_buf_init(&topic);
    cdc_err_t err = CDC_OK;
    for (size_t r = 0; !err && r < s->conf->n_routes; r++) {
        if ((err = route_topic(s->cfg, &s->conf->routes[r], &topic, es)))
            break;
        int n = 0;
        err = cdc_kafka_partition_count(cdc_consumer_handle(s->c), topic.data, 10000, &n, es);
        if (!err && n == 0) /* its source has not created it yet: tried again */
            err = cdc_errstr_set(es, CDC_ERR_CONNECT,
                                 "sink %s: topic %s (route %s) does not exist yet", s->conf->name,
                                 topic.data, s->conf->routes[r].from);
        for (int p = 0; !err && p < n; p++) {
            s->parts = cdc_xrealloc(s->parts, (s->n_parts + 1) * sizeof(part_t));
            part_t *pt = &s->parts[s->n_parts++];
            memset(pt, 0, sizeof(*pt));
            snprintf(pt->topic, sizeof(pt->topic), "%s", topic.data);
            pt->partition = p;
            pt->route = r;
            pt->expected = -1;
            const cdc_sink_offset_t *o = cdc_sink_offsets_find(stored, topic.data, p);
            int64_t low = 0, high = 0;
            err = cdc_consumer_watermarks(s->c, topic.data, p, &low, &high, 10000, es);
            if (err)
                break;
            if (o) {
                pt->next = pt->expected = o->next_offset;
                pt->epoch = o->epoch;
                memcpy(pt->pos, o->source_pos, sizeof(pt->pos));
            } else {
                pt->next = low;
            }
            if (pt->next < low) {
                err = cdc_errstr_set(
                    es, CDC_ERR_FATAL,
                    "sink %s: %s[%d] offsets %lld..%lld were deleted by retention before they "
                    "were applied; re-snapshot %s into %s",
                    s->conf->name, topic.data, p, (long long)pt->next, (long long)low - 1,
                    s->conf->routes[r].from, s->conf->routes[r].to);
                break;
            }
            err = cdc_consumer_assign(s->c, topic.data, p, pt->next, es);
        }
    }
    cdc_buf_deinit(&topic);
    return err;
}

/* ---- mapping an event through its route ------------------------------------------------------ */

static const char *
target_name(const cdc_route_conf_t *r, const char *col)
{
    if (!r->n_columns)
        return col;
    for (size_t i = 0; i < r->n_columns; i++)
        if (!strcmp(r->columns[i].key, col))
            return r->columns[i].value;
    return NULL; /* not written */
}

/* Renames src's columns into the arena; constants appended when with_constants. */
static void
map_cols(sink_t *s, const cdc_route_conf_t *r, const cdc_row_t *src, bool with_constants,
         const cdc_column_t **out, size_t *n)
{
    size_t cap = src->n + (with_constants ? r->n_constants : 0) + 1;
    cdc_column_t *cols = cdc_arena_alloc(&s->arena, cap * sizeof(cdc_column_t));
    size_t k = 0;
    for (size_t i = 0; i < src->n; i++) {
        const char *name = target_name(r, src->cols[i].name);
        if (name)
            cols[k++] = (cdc_column_t){name, src->cols[i].value};
    }
    for (size_t i = 0; with_constants && i < r->n_constants; i++)
        cols[k++] =
            (cdc_column_t){r->constants[i].key, cdc_value_str(CDC_VAL_STRING, r->constants[i].value,
                                                              strlen(r->constants[i].value))};
    *out = cols;
    *n = k;
}

/* The key in target terms: the route's key columns (values from row), or the event's key renamed.
 */
static cdc_err_t
map_key(sink_t *s, const cdc_route_conf_t *r, const cdc_event_t *ev, const cdc_column_t *row,
        size_t n_row, cdc_sink_row_t *out, cdc_errstr_t *es)
{
    if (!r->n_key) {
        map_cols(s, r, &ev->key, false, &out->key, &out->n_key);
        if (out->n_key != ev->key.n)
            return cdc_errstr_set(es, CDC_ERR_CONFIG,
                                  "route %s: a key column is not among the route's columns; add "
                                  "it, or give the route a key",
                                  r->from);
        return CDC_OK;
    }
    cdc_column_t *key = cdc_arena_alloc(&s->arena, r->n_key * sizeof(cdc_column_t));
    for (size_t k = 0; k < r->n_key; k++) {
        size_t i = 0;
        while (i < n_row && strcmp(row[i].name, r->key[k]))
            i++;
        if (i == n_row)
            return cdc_errstr_set(es, CDC_ERR_CONFIG,
                                  "route %s: key column %s has no value in the event", r->from,
                                  r->key[k]);
        key[k] = row[i];
    }
    out->key = key;
    out->n_key = r->n_key;
    return CDC_OK;
}

static cdc_err_t
map_event(sink_t *s, const cdc_route_conf_t *r, const cdc_event_t *ev, cdc_sink_row_t *row,
          cdc_errstr_t *es)
{
    if (ev->op == CDC_OP_DELETE) {
        row->is_delete = true;
        const cdc_column_t *before;
        size_t nb;
        map_cols(s, r, ev->before.present ? &ev->before : &ev->key, false, &before, &nb);
        return map_key(s, r, ev, before, nb, row, es);
    }
    map_cols(s, r, &ev->after, true, &row->cols, &row->n_cols);
    row->update_only = ev->n_unchanged > 0;
    return map_key(s, r, ev, row->cols, row->n_cols, row, es);
}

/* One event through its route into the target; errors say which record. */
static cdc_err_t
apply_event(sink_t *s, const part_t *pt, const rd_kafka_message_t *m, const cdc_event_t *ev,
            cdc_errstr_t *es)
{
    const cdc_route_conf_t *r = &s->conf->routes[pt->route];
    char schema[256];
    cdc_sink_row_t row = {.route = r};
    row.table = cdc_config_split_table(r->to, schema, sizeof(schema));
    row.schema = schema;
    cdc_err_t err;
    if (ev->op != CDC_OP_TRUNCATE)
        err = map_event(s, r, ev, &row, es);
    else if (r->truncate == CDC_TRUNCATE_IGNORE)
        return CDC_OK;
    else
        err = cdc_errstr_set(es, CDC_ERR_NOTIMPL,
                             "route %s: truncate: apply is not supported yet; set truncate: ignore",
                             r->from);
    if (!err)
        err = s->ops->apply(s->t, &row, es);
    if (err)
        cdc_errstr_prefix(es, "sink %s: %s[%d] offset %lld", s->conf->name, pt->topic,
                          (int)pt->partition, (long long)m->offset);
    return err;
}

/* ---- batches --------------------------------------------------------------------------------- */

static void
drop_items(sink_t *s)
{
    for (size_t i = 0; i < s->n_items; i++)
        rd_kafka_message_destroy(s->items[i].m);
    s->n_items = 0;
}

/* Whether ev was applied before (at or below the guard in the same epoch); moves the guard. */
static bool
resent(sink_t *s, part_t *pt, const cdc_event_t *ev)
{
    cdc_pos_t p;
    if (!ev->source.pos || !cdc_pos_parse(ev->source.pos, &p))
        return false;
    if (pt->b_pos[0] && p.epoch == pt->b_epoch && strcmp(ev->source.pos, pt->b_pos) <= 0)
        return true;
    if (pt->b_pos[0] && p.epoch != pt->b_epoch)
        CDC_LOG_INFO("sink=%s %s[%d] new epoch %u (was %u): positions start over", s->conf->name,
                     pt->topic, (int)pt->partition, (unsigned)p.epoch, (unsigned)pt->b_epoch);
    pt->b_epoch = p.epoch;
    memcpy(pt->b_pos, ev->source.pos, CDC_POS_STRLEN);
    pt->b_pos[CDC_POS_STRLEN - 1] = '\0';
    return false;
}

/* One attempt at applying the collected batch in one target transaction. */
static cdc_err_t
apply_batch(sink_t *s, uint64_t *applied, uint64_t *skipped, cdc_errstr_t *es)
{
    for (size_t i = 0; i < s->n_parts; i++) {
        part_t *pt = &s->parts[i];
        pt->touched = false;
        pt->b_next = pt->next;
        pt->b_epoch = pt->epoch;
        memcpy(pt->b_pos, pt->pos, sizeof(pt->b_pos));
    }
    *applied = *skipped = 0;
    cdc_arena_reset(&s->arena);
    cdc_err_t err = s->ops->begin(s->t, es);
    for (size_t i = 0; !err && i < s->n_items; i++) {
        rd_kafka_message_t *m = s->items[i].m;
        part_t *pt = &s->parts[s->items[i].part];
        pt->touched = true;
        pt->b_next = m->offset + 1;
        if (!m->payload)
            continue; /* a tombstone: the delete before it did the work */
        cdc_event_t ev;
        if ((err = cdc_event_decode(m->payload, m->len, &ev, &s->arena, es))) {
            cdc_errstr_prefix(es, "sink %s: %s[%d] offset %lld", s->conf->name, pt->topic,
                              (int)pt->partition, (long long)m->offset);
            break;
        }
        if (resent(s, pt, &ev)) {
            (*skipped)++;
            continue;
        }
        if (!(err = apply_event(s, pt, m, &ev, es)))
            (*applied)++;
    }
    for (size_t i = 0; !err && i < s->n_parts; i++) {
        part_t *pt = &s->parts[i];
        if (!pt->touched || pt->b_next == pt->expected)
            continue;
        cdc_sink_offset_t next = {
            .partition = pt->partition, .next_offset = pt->b_next, .epoch = pt->b_epoch};
        memcpy(next.topic, pt->topic, sizeof(next.topic));
        memcpy(next.source_pos, pt->b_pos, sizeof(next.source_pos));
        err = s->ops->move_offset(s->t, &next, pt->expected, es);
    }
    if (!err)
        err = s->ops->commit(s->t, es);
    if (err) {
        s->ops->rollback(s->t);
        return err;
    }
    for (size_t i = 0; i < s->n_parts; i++) {
        part_t *pt = &s->parts[i];
        if (!pt->touched)
            continue;
        pt->next = pt->expected = pt->b_next;
        pt->epoch = pt->b_epoch;
        memcpy(pt->pos, pt->b_pos, sizeof(pt->pos));
    }
    return CDC_OK;
}

/* Applies the batch, reconnecting and retrying while the failure is the connection's. */
static cdc_err_t
flush_batch(sink_t *s, bool (*stop)(void), cdc_errstr_t *es)
{
    int backoff = 200;
    for (;;) {
        uint64_t applied, skipped;
        cdc_err_t err = s->t ? apply_batch(s, &applied, &skipped, es) : CDC_ERR_CONNECT;
        if (!err) {
            s->stats->applied += applied;
            s->stats->skipped += skipped;
            s->stats->batches++;
            drop_items(s);
            return CDC_OK;
        }
        if ((err != CDC_ERR_CONNECT && err != CDC_ERR_ABORTED) || stop())
            return err;
        CDC_LOG_WARN("sink=%s %s; %s in %d ms", s->conf->name, es->msg,
                     err == CDC_ERR_CONNECT ? "reconnecting" : "retrying the batch", backoff);
        s->stats->retried++;
        usleep((useconds_t)backoff * 1000);
        backoff = backoff < 10000 ? backoff * 2 : 10000;
        if (err == CDC_ERR_ABORTED)
            continue; /* deadlock, serialization failure, lock timeout: the same batch again */
        if (s->t)
            s->ops->close(s->t);
        s->t = NULL;
        cdc_errstr_t oe = {{0}};
        if (s->ops->open(s->conf, &s->t, &oe) != CDC_OK) {
            s->t = NULL;
            cdc_errstr_set(es, CDC_ERR_CONNECT, "%s", oe.msg);
        }
    }
}

cdc_err_t
cdc_sink_run(const cdc_config_t *cfg, const cdc_sink_conf_t *conf, const char *bootstrap,
             const cdc_sink_ops_t *ops, bool (*stop)(void), cdc_sink_stats_t *stats,
             cdc_errstr_t *es)
{
    sink_t s = {.cfg = cfg, .conf = conf, .ops = ops, .stats = stats};
    cdc_arena_init(&s.arena);
    cdc_sink_offsets_t stored = {0};
    char group[300];
    snprintf(group, sizeof(group), "cdc-sink.%s.%s", cfg->agent.name, conf->name);
    cdc_err_t err = ops->open(conf, &s.t, es);
    if (!err)
        err = ops->load_offsets(s.t, &stored, es);
    if (!err && !(s.c = cdc_consumer_new(&cfg->kafka, bootstrap, group, es)))
        err = CDC_ERR_KAFKA;
    if (!err)
        err = assign(&s, &stored, es);
    cdc_sink_offsets_free(&stored);
    if (!err)
        CDC_LOG_INFO("sink=%s applying %zu partitions of %zu routes", conf->name, s.n_parts,
                     conf->n_routes);
    int64_t first_ms = 0;
    while (!err && !stop()) {
        rd_kafka_message_t *m = cdc_consumer_poll(s.c, 50);
        if (m && m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                cdc_err_t ke = cdc_kafka_classify_code(m->err);
                if (ke != CDC_ERR_KAFKA && ke != CDC_ERR_TIMEOUT)
                    err = cdc_errstr_set(es, ke, "sink %s: consuming: %s", conf->name,
                                         rd_kafka_message_errstr(m));
                else
                    CDC_LOG_WARN("sink=%s consuming: %s", conf->name, rd_kafka_message_errstr(m));
            }
            rd_kafka_message_destroy(m);
            m = NULL;
        }
        if (m) {
            size_t idx = 0;
            if (!find_part(&s, rd_kafka_topic_name(m->rkt), m->partition, &idx)) {
                rd_kafka_message_destroy(m);
                continue;
            }
            if (s.n_items == s.cap_items) {
                s.cap_items = s.cap_items ? 2 * s.cap_items : 256;
                s.items = cdc_xrealloc(s.items, s.cap_items * sizeof(item_t));
            }
            s.items[s.n_items++] = (item_t){m, idx};
            if (s.n_items == 1)
                first_ms = now_ms();
        }
        if (!err && s.n_items &&
            (s.n_items >= (size_t)conf->batch_size || now_ms() - first_ms >= conf->batch_ms || !m))
            err = flush_batch(&s, stop, es);
    }
    drop_items(&s);
    free(s.items);
    free(s.parts);
    cdc_consumer_free(s.c);
    if (s.t)
        ops->close(s.t);
    cdc_arena_deinit(&s.arena);
    return err;
}

/* ---- helpers for targets --------------------------------------------------------------------- */

cdc_sink_table_t *
cdc_sink_tables_get(cdc_sink_tables_t *ts, const char *schema, const char *table)
{
    for (size_t i = 0; i < ts->n; i++)
        if (!strcmp(ts->v[i].schema, schema) && !strcmp(ts->v[i].table, table))
            return &ts->v[i];
    ts->v = cdc_xrealloc(ts->v, (ts->n + 1) * sizeof(cdc_sink_table_t));
    cdc_sink_table_t *tt = &ts->v[ts->n++];
    memset(tt, 0, sizeof(*tt));
    tt->schema = cdc_xstrdup(schema);
    tt->table = cdc_xstrdup(table);
    return tt;
}

void
cdc_sink_table_add(cdc_sink_table_t *tt, const char *name, const char *type)
{
    tt->names = cdc_xrealloc(tt->names, (tt->n + 1) * sizeof(char *));
    tt->types = cdc_xrealloc(tt->types, (tt->n + 1) * sizeof(char *));
    tt->names[tt->n] = cdc_xstrdup(name ? name : "");
    tt->types[tt->n] = cdc_xstrdup(type ? type : "");
    tt->n++;
}

const char *
cdc_sink_table_type(const cdc_sink_table_t *tt, const char *name)
{
    for (size_t i = 0; i < tt->n; i++)
        if (!strcmp(tt->names[i], name))
            return tt->types[i];
    return NULL;
}

void
cdc_sink_tables_free(cdc_sink_tables_t *ts)
{
    for (size_t i = 0; i < ts->n; i++) {
        cdc_sink_table_t *tt = &ts->v[i];
        for (size_t k = 0; k < tt->n; k++) {
            free(tt->names[k]);
            free(tt->types[k]);
        }
        free(tt->names);
        free(tt->types);
        free(tt->schema);
        free(tt->table);
    }
    free(ts->v);
    ts->v = NULL;
    ts->n = 0;
}

bool
cdc_sink_fk_checks_off(const cdc_sink_conf_t *conf)
{
    bool off = conf->n_routes > 0;
    for (size_t i = 0; i < conf->n_routes; i++)
        off &= !conf->routes[i].fk_checks;
    return off;
}

bool
cdc_sink_row_is_key(const cdc_sink_row_t *row, const char *name)
{
    for (size_t k = 0; k < row->n_key; k++)
        if (!strcmp(row->key[k].name, name))
            return true;
    return false;
}

cdc_err_t
cdc_sink_check_columns(const cdc_sink_row_t *row, const cdc_sink_table_t *tt, bool *keep,
                       cdc_errstr_t *es)
{
    if (!tt->n)
        return cdc_errstr_set(es, CDC_ERR_CONFIG, "target table %s.%s does not exist", tt->schema,
                              tt->table);
    size_t n = row->is_delete ? 0 : row->n_cols;
    for (size_t i = 0; i < n + row->n_key; i++) {
        const cdc_column_t *c = i < n ? &row->cols[i] : &row->key[i - n];
        keep[i] = cdc_sink_table_type(tt, c->name) != NULL;
        if (keep[i] || row->route->on_unknown_column == CDC_UNKNOWN_COLUMN_IGNORE)
            continue;
        return cdc_errstr_set(es, CDC_ERR_CONFIG,
                              "route %s: column %s is not in target table %s.%s (%s); add "
                              "it or set on_unknown_column: ignore",
                              row->route->from, c->name, tt->schema, tt->table,
                              row->route->on_unknown_column == CDC_UNKNOWN_COLUMN_ADD
                                  ? "on_unknown_column: add is not supported yet"
                                  : "on_unknown_column: fail");
    }
    return CDC_OK;
}

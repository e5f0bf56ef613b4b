/*
 * Conflict checks of routes with a conflict policy (docs/sinks.md "Two-way sync: conflicts"), the
 * resolver cdc_sink_apply calls for a group of rows before writing them. A conflict is an incoming
 * change whose starting point no longer matches the target row: an update or delete whose before
 * image (the columns the route writes) differs from the target row, an update whose row the target
 * deleted, a new row (insert or snapshot read) whose key the target already holds with other
 * values, or, under lww without a before image, a target row with a newer lww_column. Inside the
 * batch's transaction the target locks the rows that exist (ops->lock_keys, one short statement)
 * and compares those with what the changes started from (ops->read_locked), so nothing changes
 * them between the check and the write, and new rows (a bulk load) cost one lookup. The policy
 * decides which version stays; every conflict goes to "<prefix>._conflicts" with both versions and
 * the decision, and is counted and logged once its batch commits (agent/sink/sink_dlq.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/clock.h"
#include "cdc/json.h"
#include "cdc/log.h"
#include "sink_state.h"

/* Rows per lock_keys / read_locked statement: bounded so the statement stays well under the
 * targets' limits (PostgreSQL's 65535 parameters, MySQL's packet size). */
#define PROBE_PARAMS 30000
#define PROBE_ROWS   500

static const char *
policy_name(cdc_conflict_t c)
{
    switch (c) {
    case CDC_CONFLICT_SOURCE_WINS:
        return "source_wins";
    case CDC_CONFLICT_TARGET_WINS:
        return "target_wins";
    case CDC_CONFLICT_LWW:
        return "lww";
    case CDC_CONFLICT_OWNER:
        return "owner";
    default:
        return "none";
    }
}

static const cdc_column_t *
find_col(const cdc_column_t *cols, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(cols[i].name, name))
            return &cols[i];
    return NULL;
}

static bool
is_insert(const cdc_sink_row_t *row)
{
    return row->op == CDC_OP_CREATE || row->op == CDC_OP_READ;
}

/* The probe of row: the columns the route writes on an update (not the key, not ones the target
 * lacks), with the values the target row should still have: the before image's (an update or
 * delete), the incoming ones (a new row). */
static void
build_probe(sink_t *s, const cdc_sink_table_t *tt, const char *const *types,
            const cdc_sink_row_t *row, cdc_sink_probe_t *p)
{
    const cdc_route_conf_t *r = row->route;
    const cdc_column_t *src = row->is_delete ? row->before : row->cols;
    size_t n = row->is_delete ? row->n_before : row->n_cols;
    cdc_column_t *cmp = cdc_arena_alloc(&s->arena, (n + 1) * sizeof(cdc_column_t));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = src[i].name;
        if ((row->is_delete ? !cdc_sink_table_type(tt, name) : !types[i]) ||
            cdc_sink_row_is_key(row, name) || !cdc_sink_route_updates(r, name))
            continue;
        const cdc_column_t *b =
            is_insert(row) ? &src[i] : find_col(row->before, row->n_before, name);
        if (b)
            cmp[k++] = *b;
    }
    *p = (cdc_sink_probe_t){.row = row, .cmp = cmp, .n_cmp = k};
    if (r->conflict == CDC_CONFLICT_LWW && !row->is_delete &&
        cdc_sink_table_type(tt, r->lww_column))
        p->lww = find_col(row->cols, row->n_cols, r->lww_column);
}

/* Whether probes a and b can share one statement: the same compared names and lww column. */
static bool
same_shape(const cdc_sink_probe_t *a, const cdc_sink_probe_t *b)
{
    if (a->n_cmp != b->n_cmp || !a->lww != !b->lww)
        return false;
    for (size_t j = 0; j < a->n_cmp; j++)
        if (strcmp(a->cmp[j].name, b->cmp[j].name))
            return false;
    return true;
}

/* Whether the incoming change wins a conflict over a changed target row. */
static bool
incoming_wins(const cdc_route_conf_t *r, int order)
{
    switch (r->conflict) {
    case CDC_CONFLICT_TARGET_WINS:
        return false;
    case CDC_CONFLICT_LWW:
        return order < 0 || (order == 0 && !strcmp(r->tie_break[0], r->source));
    default: /* source_wins; owner: the route writes only what its source owns */
        return true;
    }
}

/* Why row conflicts with what the target holds (NULL: it does not), and whether it applies. */
static const char *
classify(const cdc_sink_row_t *row, const cdc_sink_probe_t *p, const cdc_sink_current_t *cur,
         bool *apply)
{
    const cdc_route_conf_t *r = row->route;
    *apply = true;
    if (row->is_delete) { /* a delete beats a concurrent edit, except under target_wins */
        if (!cur->found || !p->n_cmp || cur->same)
            return NULL;
        *apply = r->conflict != CDC_CONFLICT_TARGET_WINS;
        return "changed in the target since the deleted version";
    }
    if (is_insert(row)) {
        if (!cur->found || cur->same)
            return NULL;
        *apply = incoming_wins(r, cur->order);
        return "the target already holds the key with other values";
    }
    if (p->n_cmp) {        /* an update with its before image */
        if (!cur->found) { /* the target deleted it: the delete stands, except source_wins */
            *apply = r->conflict == CDC_CONFLICT_SOURCE_WINS;
            return "deleted in the target";
        }
        if (cur->same)
            return NULL;
        *apply = incoming_wins(r, cur->order);
        return "changed in the target since the version the change started from";
    }
    /* without a before image only lww can tell: a newer target row */
    if (r->conflict != CDC_CONFLICT_LWW || !cur->found || cur->order <= 0)
        return NULL;
    *apply = false;
    return "the target row is newer";
}

/* The _conflicts record: both versions and the decision. */
static void
conflict_json(sink_t *s, cdc_buf_t *b, const cdc_sink_row_t *row, const cdc_sink_current_t *cur,
              const char *policy, const char *why, bool apply, const rd_kafka_message_t *m)
{
    const cdc_route_conf_t *r = row->route;
    cdc_errstr_t ignore;
    cdc_buf_reset(b);
    cdc_buf_puts(b, "{\"sink\":");
    cdc_json_write_string_lossy(b, s->conf->name, strlen(s->conf->name));
    cdc_buf_puts(b, ",\"route\":");
    cdc_json_write_string_lossy(b, r->from, strlen(r->from));
    cdc_buf_puts(b, ",\"table\":");
    cdc_json_write_string_lossy(b, r->to, strlen(r->to));
    cdc_buf_printf(b, ",\"policy\":\"%s\",\"resolution\":\"%s\",\"reason\":", policy,
                   apply ? "incoming" : "target");
    cdc_json_write_string_lossy(b, why, strlen(why));
    cdc_buf_puts(b, ",\"key\":{");
    for (size_t k = 0; k < row->n_key; k++) {
        if (k)
            cdc_buf_putc(b, ',');
        cdc_json_write_string_lossy(b, row->key[k].name, strlen(row->key[k].name));
        cdc_buf_putc(b, ':');
        if (cdc_value_write_json(b, &row->key[k].value, &ignore))
            cdc_buf_puts(b, "null");
    }
    cdc_buf_puts(b, "},\"target_row\":");
    cdc_buf_puts(b, cur->json && cdc_json_valid(cur->json, strlen(cur->json)) ? cur->json : "null");
    cdc_buf_puts(b, ",\"incoming\":");
    if (m->payload && cdc_json_valid(m->payload, m->len))
        cdc_buf_append(b, m->payload, m->len);
    else
        cdc_buf_puts(b, "null");
    const char *topic = rd_kafka_topic_name(m->rkt);
    cdc_buf_puts(b, ",\"topic\":");
    cdc_json_write_string_lossy(b, topic, strlen(topic));
    cdc_buf_printf(b, ",\"partition\":%d,\"offset\":%lld,\"ts_ms\":%lld}", (int)m->partition,
                   (long long)m->offset, (long long)cdc_wall_ms());
}

/* Decides the rows of probes[0..n) from cur: the winners stay in keep, the conflicts queued. */
static void
decide(sink_t *s, const cdc_sink_probe_t *probes, const cdc_sink_current_t *cur, size_t n,
       const cdc_sink_row_t **keep, size_t *n_keep)
{
    for (size_t i = 0; i < n; i++) {
        const cdc_sink_row_t *row = probes[i].row;
        bool apply;
        const char *why = classify(row, &probes[i], &cur[i], &apply);
        if (why) {
            const rd_kafka_message_t *m = s->items[row->item].m;
            conflict_json(s, &s->conflict_buf, row, &cur[i], policy_name(row->route->conflict), why,
                          apply, m);
            cdc_sink_dlq_conflict(s->dlq, m, s->conflict_buf.data, s->conflict_buf.len,
                                  row->route->from, apply);
        }
        if (apply)
            keep[(*n_keep)++] = row;
    }
}

/* An update without a before image cannot show a conflict (the source table needs REPLICA
 * IDENTITY FULL on PostgreSQL, binlog_row_image FULL on MySQL): said once per route. */
static void
note_no_before(sink_t *s, const cdc_sink_row_t *row, const cdc_sink_probe_t *p)
{
    size_t r = (size_t)(row->route - s->conf->routes);
    if (row->is_delete || is_insert(row) || p->n_cmp || s->noted_before[r])
        return;
    s->noted_before[r] = true;
    CDC_LOG_WARN("sink=%s route %s (conflict: %s): its updates carry no before image, so a "
                 "change the target made meanwhile is not seen%s; on PostgreSQL set REPLICA "
                 "IDENTITY FULL on the source table",
                 s->conf->name, row->route->from, policy_name(row->route->conflict),
                 row->route->conflict == CDC_CONFLICT_LWW ? " (lww still keeps a newer target row)"
                                                          : "");
}

cdc_err_t
cdc_sink_resolve(void *ctx, cdc_sink_table_t *tt, const char *const *types,
                 const cdc_sink_row_t **rows, size_t *n, cdc_errstr_t *es)
{
    sink_t *s = ctx;
    size_t total = *n, n_keep = 0;
    cdc_sink_probe_t *probes = cdc_arena_alloc(&s->arena, total * sizeof(*probes));
    for (size_t i = 0; i < total; i++) {
        build_probe(s, tt, types, rows[i], &probes[i]);
        note_no_before(s, rows[i], &probes[i]);
    }
    cdc_sink_current_t *cur = cdc_arena_alloc(&s->arena, total * sizeof(*cur));
    memset(cur, 0, total * sizeof(*cur));
    /* which rows exist (locked), in one short statement per PROBE_ROWS; only those are compared */
    bool *found = cdc_arena_alloc(&s->arena, total * sizeof(bool));
    cdc_err_t err = CDC_OK;
    for (size_t i = 0; !err && i < total; i += PROBE_ROWS)
        err = s->ops->lock_keys(s->t, tt, rows + i, total - i < PROBE_ROWS ? total - i : PROBE_ROWS,
                                found + i, es);
    cdc_sink_probe_t *there = cdc_arena_alloc(&s->arena, total * sizeof(*there));
    size_t *at = cdc_arena_alloc(&s->arena, total * sizeof(size_t));
    size_t n_there = 0;
    for (size_t i = 0; i < total; i++)
        if (found[i]) {
            at[n_there] = i;
            there[n_there++] = probes[i];
        }
    cdc_sink_current_t *got = cdc_arena_alloc(&s->arena, (n_there + 1) * sizeof(*got));
    for (size_t i = 0; !err && i < n_there;) {
        size_t per_row = 2 + there[i].row->n_key + there[i].n_cmp, j = i + 1;
        while (j < n_there && j - i < PROBE_ROWS && (j - i + 1) * per_row < PROBE_PARAMS &&
               same_shape(&there[i], &there[j]))
            j++;
        err = s->ops->read_locked(s->t, tt, there + i, j - i, &s->arena, got + i, es);
        i = j;
    }
    for (size_t i = 0; !err && i < n_there; i++)
        cur[at[i]] = got[i];
    if (!err)
        decide(s, probes, cur, total, rows, &n_keep);
    *n = err ? total : n_keep;
    return err;
}

void
cdc_sink_ambiguous(void *ctx, const cdc_sink_row_t *row, long candidates)
{
    sink_t *s = ctx;
    char why[200];
    snprintf(why, sizeof(why),
             "its match_on values fit %ld unlinked records: inserted as a record of its own",
             candidates);
    const rd_kafka_message_t *m = s->items[row->item].m;
    cdc_sink_current_t none = {0};
    conflict_json(s, &s->conflict_buf, row, &none, "match_on", why, true, m);
    cdc_sink_dlq_conflict(s->dlq, m, s->conflict_buf.data, s->conflict_buf.len, row->route->from,
                          true);
}

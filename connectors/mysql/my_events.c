/*
 * Canonical events from binlog rows events: key in key order, `before` = the before image (FULL
 * row image: the whole row), `after` = the after image, and a primary-key change as a delete of
 * the old key followed by a create of the new one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/log.h"
#include "my_internal.h"

static cdc_err_t
convert(cdc_source_t *s, my_table_t *tb, const cdc_binlog_cell_t *cells, bool key_only,
        cdc_row_t *row, bool *partial, cdc_errstr_t *es)
{
    const cdc_binlog_table_t *t = &tb->t;
    uint32_t n = key_only ? t->n_key : t->ncols;
    cdc_column_t *cols = cdc_arena_alloc(&s->arena, (n ? n : 1) * sizeof(cdc_column_t));
    size_t k = 0;
    if (partial)
        *partial = false;
    for (uint32_t j = 0; j < n; j++) {
        uint32_t i = key_only ? t->key_order[j] : j;
        if (!cells[i].present) {
            if (partial)
                *partial = true;
            continue;
        }
        bool zero = false;
        cdc_err_t err = cdc_my_value(&t->cols[i], &tb->text[i], tb->json[i], &cells[i], &s->arena,
                                     &cols[k].value, &zero, es);
        if (err) {
            cdc_errstr_prefix(es, "%s.%s.%s", tb->db, tb->name, tb->cols[i]);
            return err;
        }
        if (zero && !tb->zero_date_logged) {
            tb->zero_date_logged = true;
            CDC_LOG_WARN("source=%s table=%s.%s column=%s: zero dates are published as null",
                         s->conf->name, tb->db, tb->name, tb->cols[i]);
        }
        cols[k++].name = tb->cols[i];
    }
    /* a table without a key publishes its events with a null key */
    *row = (cdc_row_t){!key_only || t->n_key > 0, cols, k};
    return CDC_OK;
}

static void
event_init(cdc_source_t *s, my_table_t *tb, const cdc_binlog_event_t *bev, cdc_op_t op,
           cdc_event_t *ev)
{
    cdc_pos_t pos = {s->epoch, CDC_PHASE_STREAM, s->txn.file_no, s->txn.minor, s->txn.idx};
    cdc_pos_format(s->txn.pos, &pos);
    memset(ev, 0, sizeof(*ev));
    ev->version = CDC_EVENT_VERSION;
    ev->op = op;
    ev->source = (cdc_event_source_t){.system = s->conf->name,
                                      .connector = CDC_CONNECTOR_MYSQL,
                                      .db = tb->db,
                                      .table = tb->name,
                                      .ts_ms = s->txn.ts_ms,
                                      .pos = s->txn.pos,
                                      .has_pos_v = true,
                                      .pos_v = pos,
                                      .file = s->file,
                                      .offset = bev->log_pos ? bev->log_pos - bev->size : 0,
                                      .server_id = bev->server_id,
                                      .gtid = s->txn.gtid[0] ? s->txn.gtid : NULL};
    ev->txn_id = s->txn.txn_id;
    ev->txn_seq = s->txn.idx;
    ev->sv = tb->sv;
}

static cdc_err_t
emit_one(cdc_source_t *s, cdc_event_t *ev)
{
    cdc_err_t err = my_emit(s, ev);
    s->txn.idx++;
    return err;
}

/* Whether the key cells differ between the before and the after image. */
static bool
key_changed(const my_table_t *tb, const cdc_binlog_cell_t *a, const cdc_binlog_cell_t *b)
{
    for (uint32_t j = 0; j < tb->t.n_key; j++) {
        uint32_t i = tb->t.key_order[j];
        if (a[i].null != b[i].null || a[i].v.n != b[i].v.n ||
            (a[i].v.n && memcmp(a[i].v.p, b[i].v.p, a[i].v.n)))
            return true;
    }
    return false;
}

static cdc_err_t
build(cdc_source_t *s, my_table_t *tb, const cdc_binlog_event_t *bev, cdc_op_t op,
      const cdc_binlog_cell_t *before, const cdc_binlog_cell_t *after, cdc_errstr_t *es)
{
    cdc_event_t ev;
    cdc_row_t key, brow = {0}, arow = {0};
    bool partial = false;
    cdc_err_t err = convert(s, tb, after ? after : before, true, &key, NULL, es);
    if (!err && before)
        err = convert(s, tb, before, false, &brow, &partial, es);
    if (!err && after)
        err = convert(s, tb, after, false, &arow, NULL, es);
    if (err)
        return err;
    event_init(s, tb, bev, op, &ev);
    ev.key = key;
    ev.before = brow;
    ev.before_partial = partial;
    ev.after = arow;
    return emit_one(s, &ev);
}

static void
cells_reserve(cdc_source_t *s, uint32_t n)
{
    if (s->cap_cells >= n)
        return;
    s->cap_cells = n;
    s->cells_a = cdc_xrealloc(s->cells_a, n * sizeof(cdc_binlog_cell_t));
    s->cells_b = cdc_xrealloc(s->cells_b, n * sizeof(cdc_binlog_cell_t));
}

cdc_err_t
my_rows_events(cdc_source_t *s, my_table_t *tb, const cdc_binlog_event_t *ev, cdc_errstr_t *es)
{
    cdc_binlog_rows_t r;
    cdc_err_t err = cdc_binlog_rows(ev, &r, es);
    if (err)
        return err;
    cells_reserve(s, tb->t.ncols);
    for (;;) {
        bool more;
        cdc_arena_reset(&s->arena);
        err = cdc_binlog_row_next(&r, &tb->t, false, s->cells_a, &more, es);
        if (err || !more)
            break;
        if (r.kind == 'w') {
            err = build(s, tb, ev, CDC_OP_CREATE, NULL, s->cells_a, es);
        } else if (r.kind == 'd') {
            err = build(s, tb, ev, CDC_OP_DELETE, s->cells_a, NULL, es);
        } else {
            err = cdc_binlog_row_next(&r, &tb->t, true, s->cells_b, &more, es);
            if (!err && !more)
                err = cdc_errstr_set(es, CDC_ERR_PARSE, "update row without its after image");
            if (!err && key_changed(tb, s->cells_a, s->cells_b)) {
                err = build(s, tb, ev, CDC_OP_DELETE, s->cells_a, NULL, es);
                if (!err)
                    err = build(s, tb, ev, CDC_OP_CREATE, NULL, s->cells_b, es);
            } else if (!err) {
                err = build(s, tb, ev, CDC_OP_UPDATE, s->cells_a, s->cells_b, es);
            }
        }
        if (err)
            break;
    }
    return err;
}

cdc_err_t
my_truncate_event(cdc_source_t *s, my_table_t *tb, const cdc_binlog_event_t *bev)
{
    cdc_event_t ev;
    event_init(s, tb, bev, CDC_OP_TRUNCATE, &ev);
    return emit_one(s, &ev);
}

cdc_err_t
my_rows_after(cdc_source_t *s, my_table_t *tb, const cdc_binlog_event_t *ev,
              cdc_err_t (*fn)(cdc_source_t *s, const cdc_row_t *row, cdc_errstr_t *es),
              cdc_errstr_t *es)
{
    cdc_binlog_rows_t r;
    cdc_err_t err = cdc_binlog_rows(ev, &r, es);
    cells_reserve(s, tb->t.ncols);
    while (!err) {
        bool more;
        cdc_row_t row;
        cdc_arena_reset(&s->arena);
        err = cdc_binlog_row_next(&r, &tb->t, false, s->cells_a, &more, es);
        if (err || !more)
            break;
        if (r.kind == 'u' &&
            !(err = cdc_binlog_row_next(&r, &tb->t, true, s->cells_a, &more, es)) && !more)
            err = cdc_errstr_set(es, CDC_ERR_PARSE, "update row without its after image");
        if (!err && r.kind != 'd' && !(err = convert(s, tb, s->cells_a, false, &row, NULL, es)))
            err = fn(s, &row, es);
    }
    return err;
}

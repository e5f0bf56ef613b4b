/*
 * Canonical events from pgoutput changes. Follows the contract: key in key order, `before` exactly
 * as sent (key only under REPLICA IDENTITY DEFAULT -> before_partial), unchanged TOAST columns left
 * out of `after` and listed, unless the old row (FULL) provides them, and a key change as a delete
 * of the old key followed by a create of the new one.
 */
#include <stdio.h>
#include <string.h>

#include "pg_internal.h"

typedef struct {
    cdc_column_t *cols;
    size_t n;
    const char **unchanged;
    size_t n_unchanged;
    bool partial; /* some columns were not sent */
} row_t;

/* Converts tuple columns (all, or only `only` indexes) into a row; UNCHANGED columns are taken
 * from fill when it has them, otherwise listed as unchanged. */
static cdc_err_t
convert(pg_builder_t *b, const pg_relmeta_t *meta, const cdc_pgo_tuple_t *tup, const uint16_t *only,
        uint16_t n_only, const cdc_pgo_tuple_t *fill, row_t *row, cdc_errstr_t *es)
{
    const cdc_pgo_relation_t *rel = meta->rel;
    uint16_t n = only ? n_only : tup->ncols;
    row->cols = cdc_arena_alloc(&b->arena, (n ? n : 1) * sizeof(cdc_column_t));
    row->unchanged = cdc_arena_alloc(&b->arena, (n ? n : 1) * sizeof(char *));
    row->n = row->n_unchanged = 0;
    row->partial = false;
    for (uint16_t k = 0; k < n; k++) {
        uint16_t i = only ? only[k] : k;
        if (i >= tup->ncols || i >= rel->ncols)
            return cdc_errstr_set(es, CDC_ERR_PARSE, "%s.%s: tuple has %u columns, relation %u",
                                  rel->nspname, rel->relname, tup->ncols, rel->ncols);
        const cdc_pgo_col_t *c = &tup->cols[i];
        if (c->kind == CDC_PGO_COL_UNCHANGED && fill && i < fill->ncols &&
            fill->cols[i].kind != CDC_PGO_COL_UNCHANGED)
            c = &fill->cols[i];
        if (c->kind == CDC_PGO_COL_UNCHANGED) {
            row->unchanged[row->n_unchanged++] = rel->cols[i].name;
            row->partial = true;
            continue;
        }
        cdc_column_t *out = &row->cols[row->n++];
        out->name = rel->cols[i].name;
        memset(&out->value, 0, sizeof(out->value));
        if (c->kind == CDC_PGO_COL_NULL)
            continue;
        cdc_err_t err =
            cdc_pg_value_from_text(&meta->types[i], c->data, c->len, &b->arena, &out->value, es);
        if (err) {
            cdc_errstr_prefix(es, "%s.%s.%s", rel->nspname, rel->relname, rel->cols[i].name);
            return err;
        }
    }
    return CDC_OK;
}

static void
event_init(pg_builder_t *b, pg_txn_t *txn, const pg_relmeta_t *meta, cdc_op_t op, cdc_event_t *ev)
{
    cdc_pos_t pos = {txn->epoch, txn->phase, txn->final_lsn, txn->minor, txn->idx};
    bool snapshot = txn->phase == CDC_PHASE_SNAPSHOT || txn->phase == CDC_PHASE_RESNAPSHOT;
    if (snapshot && op == CDC_OP_CREATE)
        op = CDC_OP_READ;
    cdc_pos_format(txn->pos, &pos);
    memset(ev, 0, sizeof(*ev));
    ev->version = CDC_EVENT_VERSION;
    ev->op = op;
    ev->source = (cdc_event_source_t){.system = b->system,
                                      .connector = CDC_CONNECTOR_POSTGRESQL,
                                      .db = b->db,
                                      .schema = meta->rel->nspname,
                                      .table = meta->rel->relname,
                                      .ts_ms = txn->ts_ms,
                                      .pos = txn->pos,
                                      .has_pos_v = true,
                                      .pos_v = pos,
                                      .lsn = txn->final_lsn,
                                      .txid = txn->xid};
    ev->source.snapshot = snapshot;
    ev->txn_id = txn->txn_id;
    ev->txn_seq = txn->idx;
    ev->sv = meta->sv;
}

static cdc_err_t
emit_one(pg_txn_t *txn, cdc_event_t *ev, pg_emit_fn emit, void *ctx)
{
    cdc_err_t err = emit(ctx, ev);
    txn->idx++;
    return err;
}

/* Whether the key columns differ between the old and the new tuple (a key change). A key column
 * beyond either tuple counts as changed: the conversion that follows refuses such a tuple. */
static bool
key_changed(const pg_relmeta_t *meta, const cdc_pgo_tuple_t *old, const cdc_pgo_tuple_t *new)
{
    for (uint16_t k = 0; k < meta->n_key; k++) {
        uint16_t i = meta->key_idx[k];
        if (i >= old->ncols || i >= new->ncols)
            return true;
        const cdc_pgo_col_t *a = &old->cols[i], *b = &new->cols[i];
        if (a->kind != b->kind || a->len != b->len || (a->len && memcmp(a->data, b->data, a->len)))
            return true;
    }
    return false;
}

static cdc_err_t
build_delete(pg_builder_t *b, pg_txn_t *txn, const pg_relmeta_t *meta, char old_kind,
             const cdc_pgo_tuple_t *old, pg_emit_fn emit, void *ctx, cdc_errstr_t *es)
{
    row_t key, before;
    cdc_err_t err = convert(b, meta, old, meta->key_idx, meta->n_key, NULL, &key, es);
    if (!err)
        err = old_kind == 'K' ? convert(b, meta, old, meta->key_idx, meta->n_key, NULL, &before, es)
                              : convert(b, meta, old, NULL, 0, NULL, &before, es);
    if (err)
        return err;
    cdc_event_t ev;
    event_init(b, txn, meta, CDC_OP_DELETE, &ev);
    ev.key = (cdc_row_t){true, key.cols, key.n};
    ev.before = (cdc_row_t){true, before.cols, before.n};
    ev.before_partial = old_kind == 'K' || before.partial;
    return emit_one(txn, &ev, emit, ctx);
}

/* Insert, or the create half of a key change. */
static cdc_err_t
build_upsert(pg_builder_t *b, pg_txn_t *txn, const pg_relmeta_t *meta, cdc_op_t op,
             const cdc_pgo_msg_t *m, bool with_before, pg_emit_fn emit, void *ctx, cdc_errstr_t *es)
{
    const cdc_pgo_tuple_t *old = m->change.old_kind ? &m->change.old_tuple : NULL;
    const cdc_pgo_tuple_t *fill = m->change.old_kind == 'O' ? old : NULL;
    row_t key, after, before = {0};
    cdc_err_t err =
        convert(b, meta, &m->change.new_tuple, meta->key_idx, meta->n_key, fill, &key, es);
    if (!err)
        err = convert(b, meta, &m->change.new_tuple, NULL, 0, fill, &after, es);
    if (!err && with_before && old)
        err = m->change.old_kind == 'K'
                  ? convert(b, meta, old, meta->key_idx, meta->n_key, NULL, &before, es)
                  : convert(b, meta, old, NULL, 0, NULL, &before, es);
    if (err)
        return err;
    cdc_event_t ev;
    event_init(b, txn, meta, op, &ev);
    ev.key = (cdc_row_t){true, key.cols, key.n};
    ev.after = (cdc_row_t){true, after.cols, after.n};
    ev.unchanged = after.unchanged;
    ev.n_unchanged = after.n_unchanged;
    if (with_before && old) {
        ev.before = (cdc_row_t){true, before.cols, before.n};
        ev.before_partial = m->change.old_kind == 'K' || before.partial;
    }
    return emit_one(txn, &ev, emit, ctx);
}

cdc_err_t
pg_build_change(pg_builder_t *b, pg_txn_t *txn, const pg_relmeta_t *meta, const cdc_pgo_msg_t *m,
                pg_emit_fn emit, void *ctx, cdc_errstr_t *es)
{
    cdc_arena_reset(&b->arena);
    switch (m->type) {
    case CDC_PGO_INSERT:
        return build_upsert(b, txn, meta, CDC_OP_CREATE, m, false, emit, ctx, es);
    case CDC_PGO_DELETE:
        return build_delete(b, txn, meta, m->change.old_kind, &m->change.old_tuple, emit, ctx, es);
    default:
        break;
    }
    if (m->change.old_kind && key_changed(meta, &m->change.old_tuple, &m->change.new_tuple)) {
        cdc_err_t err =
            build_delete(b, txn, meta, m->change.old_kind, &m->change.old_tuple, emit, ctx, es);
        if (!err)
            err = build_upsert(b, txn, meta, CDC_OP_CREATE, m, false, emit, ctx, es);
        return err;
    }
    return build_upsert(b, txn, meta, CDC_OP_UPDATE, m, true, emit, ctx, es);
}

cdc_err_t
pg_build_truncate(pg_builder_t *b, pg_txn_t *txn, const pg_relmeta_t *meta, pg_emit_fn emit,
                  void *ctx, cdc_errstr_t *es)
{
    cdc_arena_reset(&b->arena);
    cdc_event_t ev;
    event_init(b, txn, meta, CDC_OP_TRUNCATE, &ev);
    return emit_one(txn, &ev, emit, ctx);
}

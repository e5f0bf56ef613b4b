/*
 * pgoutput v1 parser. A cursor (cdc/cursor.h) reads big-endian fields so each parse function
 * reads like the protocol documentation; a truncated frame yields one clear error.
 */
#include "pgoutput.h"

#include <stdlib.h>
#include <string.h>

#include "cdc/buf.h"
#include "cdc/cursor.h"

#define MAX_COLS 1664 /* PostgreSQL's MaxTupleAttributeNumber */

struct cdc_pgo_decoder {
    /* Each relation is its own allocation, so the pointers handed out (the source keeps them with
     * its per-table state) stay valid while the array of them grows. */
    cdc_pgo_relation_t **rels;
    size_t nrels, caprels;
    cdc_pgo_col_t *cols_a, *cols_b; /* tuple scratch for old and new */
    uint32_t *relids;
    size_t caprelids;
};

typedef cdc_cur_t cur_t;
#define need cdc_cur_need

static uint8_t
get8(cur_t *c)
{
    return (uint8_t)cdc_cur_be(c, 1);
}

static uint16_t
get16(cur_t *c)
{
    return (uint16_t)cdc_cur_be(c, 2);
}

static uint32_t
get32(cur_t *c)
{
    return (uint32_t)cdc_cur_be(c, 4);
}

static uint64_t
get64(cur_t *c)
{
    return cdc_cur_be(c, 8);
}

/* A NUL-terminated string inside the buffer; "" on error. */
static const char *
getstr(cur_t *c)
{
    if (c->bad)
        return "";
    const void *nul = memchr(c->p + c->pos, '\0', c->len - c->pos);
    if (!nul) {
        c->bad = true;
        return "";
    }
    const char *s = (const char *)c->p + c->pos;
    c->pos = (size_t)((const unsigned char *)nul - c->p) + 1;
    return s;
}

cdc_pgo_decoder_t *
cdc_pgo_decoder_new(void)
{
    cdc_pgo_decoder_t *d = cdc_xcalloc(1, sizeof(*d));
    d->cols_a = cdc_xcalloc(MAX_COLS, sizeof(cdc_pgo_col_t));
    d->cols_b = cdc_xcalloc(MAX_COLS, sizeof(cdc_pgo_col_t));
    return d;
}

static void
relation_clear(cdc_pgo_relation_t *r)
{
    free(r->nspname);
    free(r->relname);
    for (uint16_t i = 0; i < r->ncols; i++)
        free(r->cols[i].name);
    free(r->cols);
}

void
cdc_pgo_decoder_free(cdc_pgo_decoder_t *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->nrels; i++) {
        relation_clear(d->rels[i]);
        free(d->rels[i]);
    }
    free(d->rels);
    free(d->cols_a);
    free(d->cols_b);
    free(d->relids);
    free(d);
}

const cdc_pgo_relation_t *
cdc_pgo_relation(const cdc_pgo_decoder_t *d, uint32_t relid)
{
    for (size_t i = 0; i < d->nrels; i++)
        if (d->rels[i]->relid == relid)
            return d->rels[i];
    return NULL;
}

static bool
same_structure(const cdc_pgo_relation_t *a, const cdc_pgo_relation_t *b)
{
    if (strcmp(a->nspname, b->nspname) || strcmp(a->relname, b->relname) ||
        a->replident != b->replident || a->ncols != b->ncols)
        return false;
    for (uint16_t i = 0; i < a->ncols; i++)
        if (strcmp(a->cols[i].name, b->cols[i].name) ||
            a->cols[i].type_oid != b->cols[i].type_oid || a->cols[i].typmod != b->cols[i].typmod ||
            a->cols[i].key != b->cols[i].key)
            return false;
    return true;
}

/* Relation: Int32 relid, String nspname, String relname, Int8 replident, Int16 ncols, then per
 * column Int8 flags (1 = key), String name, Int32 type oid, Int32 typmod. */
static cdc_err_t
parse_relation(cdc_pgo_decoder_t *d, cur_t *c, cdc_pgo_msg_t *out, cdc_errstr_t *es)
{
    cdc_pgo_relation_t r = {0};
    r.relid = get32(c);
    const char *nsp = getstr(c), *rel = getstr(c);
    r.replident = (char)get8(c);
    r.ncols = get16(c);
    if (c->bad || r.ncols > MAX_COLS)
        return cdc_errstr_set(es, CDC_ERR_PARSE, "relation message: truncated header");
    r.nspname = cdc_xstrdup(nsp);
    r.relname = cdc_xstrdup(rel);
    r.cols = cdc_xcalloc(r.ncols ? r.ncols : 1, sizeof(*r.cols));
    for (uint16_t i = 0; i < r.ncols; i++) {
        r.cols[i].key = get8(c) & 1;
        r.cols[i].name = cdc_xstrdup(getstr(c));
        r.cols[i].type_oid = get32(c);
        r.cols[i].typmod = (int32_t)get32(c);
    }
    if (c->bad) {
        relation_clear(&r);
        return cdc_errstr_set(es, CDC_ERR_PARSE, "relation message %u: truncated column list",
                              r.relid);
    }
    cdc_pgo_relation_t *slot = (cdc_pgo_relation_t *)cdc_pgo_relation(d, r.relid);
    out->relation.changed = !slot || !same_structure(slot, &r);
    if (!slot) {
        if (d->nrels == d->caprels) {
            d->caprels = d->caprels ? d->caprels * 2 : 16;
            d->rels = cdc_xrealloc(d->rels, d->caprels * sizeof(*d->rels));
        }
        slot = cdc_xcalloc(1, sizeof(*slot));
        d->rels[d->nrels++] = slot;
        r.version = 1;
    } else {
        r.version = slot->version + (out->relation.changed ? 1 : 0);
        relation_clear(slot);
    }
    *slot = r;
    out->relation.rel = slot;
    return CDC_OK;
}

/* TupleData: Int16 ncols, then per column Byte1 kind ('n', 'u', 't' + Int32 len + bytes). */
static bool
parse_tuple(cur_t *c, cdc_pgo_col_t *cols, cdc_pgo_tuple_t *t)
{
    t->ncols = get16(c);
    t->cols = cols;
    if (c->bad || t->ncols > MAX_COLS) { /* refused: no column of it, nor of an earlier one */
        c->bad = true;
        t->ncols = 0;
        return false;
    }
    for (uint16_t i = 0; i < t->ncols; i++) {
        cols[i].kind = (cdc_pgo_colkind_t)get8(c);
        cols[i].data = NULL;
        cols[i].len = 0;
        if (cols[i].kind == CDC_PGO_COL_TEXT) {
            cols[i].len = get32(c);
            if (!need(c, cols[i].len))
                return false;
            cols[i].data = (const char *)c->p + c->pos;
            c->pos += cols[i].len;
        } else if (cols[i].kind != CDC_PGO_COL_NULL && cols[i].kind != CDC_PGO_COL_UNCHANGED) {
            c->bad = true;
            return false;
        }
    }
    return !c->bad;
}

/* Insert: Int32 relid, 'N', TupleData. Update: Int32 relid, optional 'K'|'O' TupleData, 'N'
 * TupleData. Delete: Int32 relid, 'K'|'O', TupleData. */
static cdc_err_t
parse_change(cdc_pgo_decoder_t *d, cur_t *c, cdc_pgo_msg_t *out, cdc_errstr_t *es)
{
    const char *what = out->type == CDC_PGO_INSERT   ? "insert"
                       : out->type == CDC_PGO_UPDATE ? "update"
                                                     : "delete";
    out->change.relid = get32(c);
    out->change.old_kind = 0;
    memset(&out->change.old_tuple, 0, sizeof(out->change.old_tuple));
    memset(&out->change.new_tuple, 0, sizeof(out->change.new_tuple));
    uint8_t tag = get8(c);
    if (!c->bad && !cdc_pgo_relation(d, out->change.relid))
        return cdc_errstr_set(es, CDC_ERR_PARSE, "%s for relation %u sent before its Relation",
                              what, out->change.relid);
    if (tag == 'K' || tag == 'O') {
        if (out->type == CDC_PGO_INSERT)
            c->bad = true;
        out->change.old_kind = (char)tag;
        parse_tuple(c, d->cols_a, &out->change.old_tuple);
        if (out->type == CDC_PGO_UPDATE)
            tag = get8(c);
    }
    if (out->type != CDC_PGO_DELETE) {
        if (tag != 'N')
            c->bad = true;
        else
            parse_tuple(c, d->cols_b, &out->change.new_tuple);
    } else if (!out->change.old_kind) {
        c->bad = true;
    }
    if (c->bad)
        return cdc_errstr_set(es, CDC_ERR_PARSE,
                              "%s message for relation %u: malformed at byte %zu", what,
                              out->change.relid, c->pos);
    return CDC_OK;
}

static cdc_err_t
parse_truncate(cdc_pgo_decoder_t *d, cur_t *c, cdc_pgo_msg_t *out, cdc_errstr_t *es)
{
    uint32_t n = get32(c);
    out->truncate.options = get8(c);
    if (c->bad || !need(c, (size_t)n * 4))
        return cdc_errstr_set(es, CDC_ERR_PARSE, "truncate message: truncated");
    if (n > d->caprelids) {
        d->caprelids = n;
        d->relids = cdc_xrealloc(d->relids, n * sizeof(uint32_t));
    }
    for (uint32_t i = 0; i < n; i++)
        d->relids[i] = get32(c);
    out->truncate.nrels = n;
    out->truncate.relids = d->relids;
    return CDC_OK;
}

/* Begin, Commit, Origin, Type and Message: fixed fields only. */
static void
parse_simple(cur_t *c, cdc_pgo_msg_t *out)
{
    switch (out->type) {
    case CDC_PGO_BEGIN:
        out->begin.final_lsn = get64(c);
        out->begin.commit_ts = (int64_t)get64(c);
        out->begin.xid = get32(c);
        break;
    case CDC_PGO_COMMIT:
        out->commit.flags = get8(c);
        out->commit.commit_lsn = get64(c);
        out->commit.end_lsn = get64(c);
        out->commit.commit_ts = (int64_t)get64(c);
        break;
    case CDC_PGO_ORIGIN:
        out->origin.lsn = get64(c);
        out->origin.name = getstr(c);
        break;
    case CDC_PGO_TYPE:
        out->typeinfo.oid = get32(c);
        out->typeinfo.nspname = getstr(c);
        out->typeinfo.typname = getstr(c);
        break;
    default: /* CDC_PGO_MESSAGE */
        out->message.flags = get8(c);
        out->message.lsn = get64(c);
        out->message.prefix = getstr(c);
        out->message.len = get32(c);
        out->message.content = need(c, out->message.len) ? (const char *)c->p + c->pos : NULL;
        c->pos += c->bad ? 0 : out->message.len;
        break;
    }
}

cdc_err_t
cdc_pgo_parse(cdc_pgo_decoder_t *d, const char *buf, size_t len, cdc_pgo_msg_t *out,
              cdc_errstr_t *es)
{
    cur_t c = {(const unsigned char *)buf, len, 0, false};
    memset(out, 0, sizeof(*out));
    if (len == 0)
        return cdc_errstr_set(es, CDC_ERR_PARSE, "empty pgoutput message");
    out->type = (cdc_pgo_type_t)get8(&c);
    switch (out->type) {
    case CDC_PGO_RELATION:
        return parse_relation(d, &c, out, es);
    case CDC_PGO_INSERT:
    case CDC_PGO_UPDATE:
    case CDC_PGO_DELETE:
        return parse_change(d, &c, out, es);
    case CDC_PGO_TRUNCATE:
        return parse_truncate(d, &c, out, es);
    case CDC_PGO_BEGIN:
    case CDC_PGO_COMMIT:
    case CDC_PGO_ORIGIN:
    case CDC_PGO_TYPE:
    case CDC_PGO_MESSAGE:
        parse_simple(&c, out);
        if (c.bad)
            return cdc_errstr_set(es, CDC_ERR_PARSE, "'%c' message truncated at byte %zu",
                                  (char)out->type, c.pos);
        return CDC_OK;
    default:
        return cdc_errstr_set(es, CDC_ERR_PARSE, "unknown pgoutput message type 0x%02x",
                              (unsigned)(unsigned char)buf[0]);
    }
}

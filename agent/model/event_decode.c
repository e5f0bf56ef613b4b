/*
 * Canonical event decoder for sinks and tools. Walks the JSON once with the pull reader; values
 * stay JSON-level (a number keeps its exact text, an object or array its exact bytes) so nothing
 * is rounded on the way to the target database.
 */
#include <stdlib.h>
#include <string.h>

#include "cdc/event.h"
#include "cdc/json.h"
#include "cdc/position.h"

/* Member name k is lit: the first character decides most comparisons without a call (every event
 * compares each of its member names with the list of known ones). */
#define KEY_IS(k, lit) ((k)[0] == (lit)[0] && !strcmp((k), (lit)))

typedef struct {
    cdc_jr_t r;
    cdc_arena_t *a;
    cdc_errstr_t *es;
} dec_t;

static cdc_err_t
dec_value(dec_t *d, cdc_value_t *v)
{
    memset(v, 0, sizeof(*v));
    switch (cdc_jr_peek(&d->r)) {
    case CDC_JSON_NULL:
        v->type = CDC_VAL_NULL;
        return cdc_jr_null(&d->r);
    case CDC_JSON_TRUE:
    case CDC_JSON_FALSE:
        v->type = CDC_VAL_BOOL;
        return cdc_jr_bool(&d->r, &v->b);
    case CDC_JSON_NUMBER:
        v->type = CDC_VAL_NUMBER;
        return cdc_jr_number(&d->r, &v->s.p, &v->s.n);
    case CDC_JSON_STRING:
        v->type = CDC_VAL_STRING;
        return cdc_jr_string(&d->r, d->a, &v->s.p, &v->s.n);
    default:
        v->type = CDC_VAL_JSON;
        return cdc_jr_skip(&d->r, &v->s.p, &v->s.n);
    }
}

static cdc_err_t
dec_row(dec_t *d, cdc_row_t *row, const char *which)
{
    memset(row, 0, sizeof(*row));
    if (cdc_jr_peek(&d->r) == CDC_JSON_NULL)
        return cdc_jr_null(&d->r);
    cdc_err_t err = cdc_jr_obj_begin(&d->r);
    if (err)
        return err;
    size_t cap = 8;
    cdc_column_t *cols = cdc_arena_alloc(d->a, cap * sizeof(*cols));
    int rc;
    for (size_t i = 0; (rc = cdc_jr_obj_next(&d->r, i, d->a, &cols[i].name)) > 0; i++) {
        if ((err = dec_value(d, &cols[i].value))) {
            cdc_errstr_prefix(d->es, "%s.%s", which, cols[i].name);
            return err;
        }
        if (i + 1 == cap) {
            cdc_column_t *grown = cdc_arena_alloc(d->a, 2 * cap * sizeof(*cols));
            memcpy(grown, cols, cap * sizeof(*cols));
            cols = grown;
            cap *= 2;
        }
        row->n = i + 1;
    }
    if (rc < 0)
        return rc;
    row->present = true;
    row->cols = cols;
    return CDC_OK;
}

/* An unsigned integer that may be a JSON number or, past 2^53, a decimal string. */
static cdc_err_t
dec_u64(dec_t *d, uint64_t *out, const char *what)
{
    const char *s;
    size_t n;
    cdc_err_t err = cdc_jr_peek(&d->r) == CDC_JSON_STRING ? cdc_jr_string(&d->r, d->a, &s, &n)
                                                          : cdc_jr_number(&d->r, &s, &n);
    if (err)
        return err;
    /* read in place: three of them per event, and strtoull on a copy was 2% of a sink's work */
    if (n > 20 || !cdc_parse_uint(s, n, UINT64_MAX, out))
        return cdc_errstr_set(d->es, CDC_ERR_PARSE, "%s: expected an unsigned integer", what);
    return CDC_OK;
}

/* A signed integer: a JSON number or, past 2^53 as the encoder writes it, a decimal string. */
static cdc_err_t
dec_i64(dec_t *d, int64_t *out, const char *what)
{
    const char *s;
    size_t n;
    cdc_err_t err = cdc_jr_peek(&d->r) == CDC_JSON_STRING ? cdc_jr_string(&d->r, d->a, &s, &n)
                                                          : cdc_jr_number(&d->r, &s, &n);
    if (err)
        return err;
    bool neg = n && s[0] == '-';
    uint64_t v;
    if (n - neg > 20 || !cdc_parse_uint(s + neg, n - neg, (uint64_t)INT64_MAX + neg, &v))
        return cdc_errstr_set(d->es, CDC_ERR_PARSE, "%s: expected an integer", what);
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return CDC_OK;
}

static cdc_err_t
dec_str(dec_t *d, const char **out)
{
    if (cdc_jr_peek(&d->r) == CDC_JSON_NULL) {
        *out = NULL;
        return cdc_jr_null(&d->r);
    }
    return cdc_jr_string(&d->r, d->a, out, NULL);
}

static cdc_err_t
dec_source_field(dec_t *d, cdc_event_source_t *s, const char *k)
{
    const char *tmp;
    cdc_err_t err;
    if (KEY_IS(k, "system"))
        return dec_str(d, &s->system);
    if (KEY_IS(k, "db"))
        return dec_str(d, &s->db);
    if (KEY_IS(k, "schema"))
        return dec_str(d, &s->schema);
    if (KEY_IS(k, "table"))
        return dec_str(d, &s->table);
    if (KEY_IS(k, "pos"))
        return dec_str(d, &s->pos);
    if (KEY_IS(k, "file"))
        return dec_str(d, &s->file);
    if (KEY_IS(k, "gtid"))
        return dec_str(d, &s->gtid);
    if (KEY_IS(k, "ts_ms"))
        return dec_i64(d, &s->ts_ms, "source.ts_ms");
    if (KEY_IS(k, "snapshot"))
        return cdc_jr_bool(&d->r, &s->snapshot);
    if (KEY_IS(k, "txid"))
        return dec_u64(d, &s->txid, "source.txid");
    if (KEY_IS(k, "offset"))
        return dec_u64(d, &s->offset, "source.offset");
    if (KEY_IS(k, "server_id")) {
        uint64_t v;
        if ((err = dec_u64(d, &v, "source.server_id")))
            return err;
        s->server_id = (uint32_t)v;
        return CDC_OK;
    }
    if (KEY_IS(k, "connector")) {
        if ((err = dec_str(d, &tmp)))
            return err;
        s->connector = tmp && !strcmp(tmp, "postgresql") ? CDC_CONNECTOR_POSTGRESQL
                       : tmp && !strcmp(tmp, "mysql")    ? CDC_CONNECTOR_MYSQL
                                                         : 0;
        return s->connector ? CDC_OK
                            : cdc_errstr_set(d->es, CDC_ERR_PARSE, "source.connector: unknown");
    }
    if (KEY_IS(k, "lsn")) {
        if ((err = dec_str(d, &tmp)))
            return err;
        return tmp && cdc_lsn_parse(tmp, &s->lsn)
                   ? CDC_OK
                   : cdc_errstr_set(d->es, CDC_ERR_PARSE, "source.lsn: not an LSN");
    }
    return cdc_jr_skip(&d->r, NULL, NULL);
}

static cdc_err_t
dec_source(dec_t *d, cdc_event_source_t *s)
{
    cdc_err_t err = cdc_jr_obj_begin(&d->r);
    const char *k;
    int rc;
    if (err)
        return err;
    for (size_t i = 0; (rc = cdc_jr_obj_next(&d->r, i, d->a, &k)) > 0; i++)
        if ((err = dec_source_field(d, s, k)))
            return err;
    if (rc < 0)
        return rc;
    s->has_pos_v = s->pos && cdc_pos_parse(s->pos, &s->pos_v); /* parsed once, here */
    if (!s->connector || !s->has_pos_v || !s->table)
        return cdc_errstr_set(d->es, CDC_ERR_PARSE, "source: connector, table and pos required");
    return CDC_OK;
}

static cdc_err_t
dec_unchanged(dec_t *d, cdc_event_t *ev)
{
    cdc_err_t err = cdc_jr_arr_begin(&d->r);
    if (err)
        return err;
    size_t cap = 8;
    const char **names = cdc_arena_alloc(d->a, cap * sizeof(*names));
    int rc;
    for (size_t i = 0; (rc = cdc_jr_arr_next(&d->r, i)) > 0; i++) {
        if ((err = cdc_jr_string(&d->r, d->a, &names[i], NULL)))
            return err;
        if (i + 1 == cap) {
            const char **grown = cdc_arena_alloc(d->a, 2 * cap * sizeof(*names));
            memcpy(grown, names, cap * sizeof(*names));
            names = grown;
            cap *= 2;
        }
        ev->n_unchanged = i + 1;
    }
    ev->unchanged = names;
    return rc < 0 ? rc : CDC_OK;
}

static cdc_err_t
dec_txn(dec_t *d, cdc_event_t *ev)
{
    cdc_err_t err = cdc_jr_obj_begin(&d->r);
    const char *k;
    int rc;
    if (err)
        return err;
    for (size_t i = 0; (rc = cdc_jr_obj_next(&d->r, i, d->a, &k)) > 0; i++) {
        uint64_t seq;
        if (KEY_IS(k, "id"))
            err = dec_str(d, &ev->txn_id);
        else if (KEY_IS(k, "seq") && !(err = dec_u64(d, &seq, "txn.seq")))
            ev->txn_seq = (uint32_t)seq;
        else if (!KEY_IS(k, "seq"))
            err = cdc_jr_skip(&d->r, NULL, NULL);
        if (err)
            return err;
    }
    return rc < 0 ? rc : CDC_OK;
}

static cdc_err_t
dec_op(dec_t *d, cdc_event_t *ev)
{
    const char *s;
    size_t n;
    cdc_err_t err = cdc_jr_string(&d->r, d->a, &s, &n);
    if (err)
        return err;
    if (n != 1 || !strchr("cudrt", s[0]))
        return cdc_errstr_set(d->es, CDC_ERR_PARSE, "op: unknown op '%s'", s);
    ev->op = (cdc_op_t)s[0];
    return CDC_OK;
}

static cdc_err_t
dec_field(dec_t *d, cdc_event_t *ev, const char *k)
{
    int64_t v;
    cdc_err_t err;
    if (KEY_IS(k, "v")) {
        if ((err = dec_i64(d, &v, "v")))
            return err;
        if (v != CDC_EVENT_VERSION)
            return cdc_errstr_set(d->es, CDC_ERR_PARSE, "unsupported event version %lld",
                                  (long long)v);
        ev->version = (int)v;
        return CDC_OK;
    }
    if (KEY_IS(k, "op"))
        return dec_op(d, ev);
    if (KEY_IS(k, "source"))
        return dec_source(d, &ev->source);
    if (KEY_IS(k, "key"))
        return dec_row(d, &ev->key, "key");
    if (KEY_IS(k, "before"))
        return dec_row(d, &ev->before, "before");
    if (KEY_IS(k, "after"))
        return dec_row(d, &ev->after, "after");
    if (KEY_IS(k, "before_partial"))
        return cdc_jr_bool(&d->r, &ev->before_partial);
    if (KEY_IS(k, "unchanged"))
        return dec_unchanged(d, ev);
    if (KEY_IS(k, "txn"))
        return dec_txn(d, ev);
    if (KEY_IS(k, "sv"))
        return dec_i64(d, &ev->sv, "sv");
    return cdc_jr_skip(&d->r, NULL, NULL);
}

cdc_err_t
cdc_event_decode(const char *p, size_t n, cdc_event_t *ev, cdc_arena_t *arena, cdc_errstr_t *es)
{
    dec_t d = {.a = arena, .es = es};
    cdc_jr_init(&d.r, p, n, es);
    memset(ev, 0, sizeof(*ev));
    cdc_err_t err = cdc_jr_obj_begin(&d.r);
    const char *k;
    int rc;
    if (err)
        return err;
    for (size_t i = 0; (rc = cdc_jr_obj_next(&d.r, i, arena, &k)) > 0; i++)
        if ((err = dec_field(&d, ev, k)))
            return err;
    if (rc < 0)
        return rc;
    if ((err = cdc_jr_end(&d.r)))
        return err;
    if (ev->version != CDC_EVENT_VERSION || !ev->op || !ev->source.connector)
        return cdc_errstr_set(es, CDC_ERR_PARSE, "event: v, op and source are required");
    return CDC_OK;
}

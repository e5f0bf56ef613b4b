/*
 * The transform engine: applies a table's or route's transforms in order to a row, building the
 * output row in a reusable work area (no allocation per change once the area has grown), and
 * counting each transform's outcome. The value transforms themselves live in tx_*.c and
 * phone_shim.cc.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/metrics.h"
#include "phone_shim.h"
#include "quality.h"

/* ---- memo: the results of the dear transforms, per thread ---------------------------------------
 * A transform is a pure function of its input and context, and a change repeats most values of
 * the row it updates (an update of a contact's notes carries its phone number again): parsing a
 * phone number costs about 14 us in libphonenumber, a lookup here well under one. Direct-mapped,
 * 4096 slots of short values per thread (about 1 MB); longer values are not kept. Entries carry
 * the generation of the configuration, so a reloaded one never sees a freed transform's results
 * at a reused address. */
#define MEMO_SLOTS 4096 /* in sets of MEMO_WAYS: a value evicts one of its set, in turn */
#define MEMO_WAYS  4
#define MEMO_IN    80
#define MEMO_OUT   128

typedef struct {
    uint64_t hash;
    const cdc_transform_t *t;
    uint32_t gen;
    uint8_t in_n, out_n, outcome;
    char ctx[3];
    char in[MEMO_IN];
    char out[MEMO_OUT]; /* the result, or the reason when invalid */
} memo_t;

static _Thread_local memo_t *t_memo;
static _Thread_local unsigned t_memo_turn; /* the way the next miss replaces */
static _Atomic uint32_t memo_gen = 1;

/* The thread's work areas go with it (a source or sink restarted after a reload runs on a new
 * thread). */
static pthread_key_t thread_key;
static pthread_once_t thread_once = PTHREAD_ONCE_INIT;
static _Thread_local bool t_registered;

static void
thread_end(void *unused)
{
    (void)unused;
    free(t_memo);
    t_memo = NULL;
    cdc_tx_text_thread_free();
    cdc_tx_iso_thread_free();
}

static void
make_key(void)
{
    pthread_key_create(&thread_key, thread_end);
}

void
cdc_quality_thread(void)
{
    if (t_registered)
        return;
    pthread_once(&thread_once, make_key);
    pthread_setspecific(thread_key, &t_registered); /* any non-NULL value: the destructor runs */
    t_registered = true;
}

static uint64_t
memo_hash(const cdc_transform_t *t, const char *in, size_t n, const char *ctx)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)(uintptr_t)t;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)in[i]) * 1099511628211ULL;
    if (ctx)
        h = (h ^ ((uint64_t)(unsigned char)ctx[0] << 8 | (unsigned char)ctx[1])) * 1099511628211ULL;
    return h;
}

static bool
memoizable(const cdc_transform_t *t, size_t n)
{
    return n <= MEMO_IN && t->kind <= CDC_TX_SUBDIVISION;
}

/* One value transform through the memo. */
static cdc_tx_outcome_t
memo_text(const cdc_transform_t *t, const char *in, size_t n, const char *ctx, cdc_buf_t *out,
          char *why, size_t whyn)
{
    if (!memoizable(t, n) || (ctx && strlen(ctx) > 2))
        return cdc_transform_text(t, in, n, ctx, out, why, whyn);
    if (!t_memo) {
        cdc_quality_thread();
        t_memo = cdc_xcalloc(MEMO_SLOTS, sizeof(memo_t));
    }
    uint32_t gen = atomic_load(&memo_gen);
    uint64_t h = memo_hash(t, in, n, ctx);
    memo_t *set = &t_memo[(h & (MEMO_SLOTS / MEMO_WAYS - 1)) * MEMO_WAYS];
    char c[3] = {0};
    if (ctx)
        memcpy(c, ctx, strlen(ctx));
    for (int way = 0; way < MEMO_WAYS; way++) {
        const memo_t *m = &set[way];
        if (m->hash != h || m->t != t || m->gen != gen || m->in_n != n ||
            (n && memcmp(m->in, in, n)) || memcmp(m->ctx, c, 3))
            continue;
        if (m->outcome == CDC_TX_INVALID)
            snprintf(why, whyn, "%.*s", (int)m->out_n, m->out);
        else if (m->outcome == CDC_TX_NORMALIZED)
            cdc_buf_append(out, m->out, m->out_n);
        return (cdc_tx_outcome_t)m->outcome;
    }
    memo_t *m = &set[t_memo_turn++ % MEMO_WAYS];
    size_t start = out->len;
    cdc_tx_outcome_t o = cdc_transform_text(t, in, n, ctx, out, why, whyn);
    size_t rn = o == CDC_TX_INVALID ? strlen(why) : o == CDC_TX_NORMALIZED ? out->len - start : 0;
    const char *res = o == CDC_TX_INVALID ? why : rn ? out->data + start : "";
    if (rn <= MEMO_OUT) {
        *m = (memo_t){.hash = h,
                      .t = t,
                      .gen = gen,
                      .in_n = (uint8_t)n,
                      .out_n = (uint8_t)rn,
                      .outcome = (uint8_t)o};
        memcpy(m->ctx, c, 3);
        if (n)
            memcpy(m->in, in, n);
        if (rn)
            memcpy(m->out, res, rn);
    }
    return o;
}

static const char *const kind_names[] = {"phone", "email", "text",     "country", "subdivision",
                                         "map",   "mask",  "constant", "rename",  "drop"};
static const char *const invalid_names[] = {"dlq", "null", "keep", "fail"};

const char *
cdc_tx_kind_name(cdc_tx_kind_t k)
{
    return (size_t)k < sizeof(kind_names) / sizeof(*kind_names) ? kind_names[k] : "?";
}

const char *
cdc_on_invalid_name(cdc_on_invalid_t o)
{
    return (size_t)o < sizeof(invalid_names) / sizeof(*invalid_names) ? invalid_names[o] : "?";
}

void
cdc_tx_work_init(cdc_tx_work_t *w)
{
    memset(w, 0, sizeof(*w));
    cdc_buf_init(&w->text);
    cdc_buf_init(&w->scratch);
    cdc_buf_init(&w->scratch2);
}

void
cdc_tx_work_deinit(cdc_tx_work_t *w)
{
    free(w->cols);
    free(w->off);
    cdc_buf_deinit(&w->text);
    cdc_buf_deinit(&w->scratch);
    cdc_buf_deinit(&w->scratch2);
    memset(w, 0, sizeof(*w));
}

static void
reserve(cdc_tx_work_t *w, size_t n)
{
    if (n <= w->cap)
        return;
    size_t cap = w->cap ? w->cap : 16;
    while (cap < n)
        cap *= 2;
    w->cols = cdc_xrealloc(w->cols, cap * sizeof(*w->cols));
    w->off = cdc_xrealloc(w->off, cap * sizeof(*w->off));
    w->cap = cap;
}

/* The text of a value for a value transform; false when it has none (arrays; bytes except for
 * mask, which hashes or hides them as they are). */
static bool value_text_of(const cdc_tx_work_t *w, size_t j, const cdc_transform_t *t,
                          cdc_buf_t *scratch, const char **p, size_t *n);

/* ... and never a NULL pointer, even for an empty value */
static bool
value_text(const cdc_tx_work_t *w, size_t j, const cdc_transform_t *t, cdc_buf_t *scratch,
           const char **p, size_t *n)
{
    bool ok = value_text_of(w, j, t, scratch, p, n);
    if (ok && !*p)
        *p = "", *n = 0;
    return ok;
}

static bool
value_text_of(const cdc_tx_work_t *w, size_t j, const cdc_transform_t *t, cdc_buf_t *scratch,
              const char **p, size_t *n)
{
    const cdc_value_t *v = &w->cols[j].value;
    if (w->off[j] != SIZE_MAX) { /* written by an earlier transform */
        *p = w->text.data + w->off[j];
        *n = v->s.n;
        return true;
    }
    switch (v->type) {
    case CDC_VAL_STRING:
    case CDC_VAL_NUMBER:
    case CDC_VAL_DECIMAL:
    case CDC_VAL_JSON:
        *p = v->s.p;
        *n = v->s.n;
        return true;
    case CDC_VAL_BYTES:
        if (t->kind != CDC_TX_MASK)
            return false;
        *p = v->s.p;
        *n = v->s.n;
        return true;
    case CDC_VAL_ARRAY:
        return false;
    default: { /* numbers, booleans, dates and times: their canonical text */
        cdc_buf_reset(scratch);
        cdc_errstr_t es;
        if (cdc_value_write_json(scratch, v, &es))
            return false;
        const char *s = scratch->data;
        size_t len = scratch->len;
        if (len >= 2 && s[0] == '"' && s[len - 1] == '"')
            s++, len -= 2;
        *p = s;
        *n = len;
        return true;
    }
    }
}

static ssize_t
find(const cdc_tx_work_t *w, size_t n, const char *name)
{
    for (size_t j = 0; j < n; j++)
        if (!strcmp(w->cols[j].name, name))
            return (ssize_t)j;
    return -1;
}

/* The region or country a transform reads from another column (alpha-2), into buf. */
static const char *
context_of(const cdc_transform_t *t, cdc_tx_work_t *w, size_t n, char buf[8])
{
    const char *col = t->kind == CDC_TX_PHONE ? t->region_column : t->country_column;
    const char *fixed = t->kind == CDC_TX_PHONE ? t->region : t->country;
    if (!col)
        return fixed;
    ssize_t j = find(w, n, col);
    const char *p;
    size_t len;
    bool found = false;
    /* a country code through the memo, as the country transform would make it */
    static const cdc_transform_t as_country = {.kind = CDC_TX_COUNTRY};
    if (j >= 0 && w->cols[j].value.type != CDC_VAL_NULL &&
        value_text(w, (size_t)j, t, &w->scratch, &p, &len)) {
        char why[128];
        size_t at = w->scratch.len; /* scratch holds p only for non-text values: append past it */
        cdc_tx_outcome_t o = memo_text(&as_country, p, len, NULL, &w->scratch, why, sizeof(why));
        if (o == CDC_TX_UNCHANGED && len == 2)
            snprintf(buf, 8, "%.2s", p), found = true;
        else if (o == CDC_TX_NORMALIZED && w->scratch.len - at == 2)
            snprintf(buf, 8, "%.2s", w->scratch.data + at), found = true;
        w->scratch.len = at;
    }
    return found ? buf : fixed; /* no usable country in the row: the constant, if any */
}

cdc_tx_outcome_t
cdc_transform_text(const cdc_transform_t *t, const char *in, size_t n, const char *context,
                   cdc_buf_t *out, char *why, size_t whyn)
{
    cdc_quality_thread();
    switch (t->kind) {
    case CDC_TX_PHONE: {
        char buf[128];
        const char *region = context ? context : t->region;
        if (cdc_phone_format(in, n, region, (cdc_phone_style_t)t->phone_style, buf, sizeof(buf),
                             why, whyn))
            return CDC_TX_INVALID;
        size_t len = strlen(buf);
        if (len == n && (n == 0 || !memcmp(buf, in, n)))
            return CDC_TX_UNCHANGED;
        cdc_buf_append(out, buf, len);
        return CDC_TX_NORMALIZED;
    }
    case CDC_TX_EMAIL:
        return cdc_tx_email(t, in, n, out, why, whyn);
    case CDC_TX_TEXT:
        return cdc_tx_text(t, in, n, out, why, whyn);
    case CDC_TX_COUNTRY:
        return cdc_tx_country(t, in, n, out, why, whyn);
    case CDC_TX_SUBDIVISION:
        return cdc_tx_subdivision(t, in, n, context ? context : t->country, out, why, whyn);
    case CDC_TX_MASK:
        return cdc_tx_mask(t, in, n, out, why, whyn);
    case CDC_TX_MAP:
        for (size_t i = 0; i < t->n_map; i++) {
            size_t fn = strlen(t->map_from[i]);
            bool hit = t->ignore_case ? cdc_text_caseless_equal(in, n, t->map_from[i], fn)
                                      : fn == n && (n == 0 || !memcmp(in, t->map_from[i], n));
            if (!hit)
                continue;
            if (!t->map_to[i]) {
                snprintf(why, whyn, "mapped to null");
                return CDC_TX_SKIPPED; /* the engine writes the null */
            }
            size_t tn = strlen(t->map_to[i]);
            if (tn == n && (n == 0 || !memcmp(in, t->map_to[i], n)))
                return CDC_TX_UNCHANGED;
            cdc_buf_append(out, t->map_to[i], tn);
            return CDC_TX_NORMALIZED;
        }
        if (!t->strict)
            return CDC_TX_UNCHANGED;
        snprintf(why, whyn, "not one of the %zu values of the map", t->n_map);
        return CDC_TX_INVALID;
    default:
        snprintf(why, whyn, "%s is not a value transform", cdc_tx_kind_name(t->kind));
        return CDC_TX_INVALID;
    }
}

static void
report(cdc_tx_invalid_t *inv, const cdc_transform_t *t, const char *value, size_t n,
       const char *why)
{
    if (!inv)
        return;
    inv->t = t;
    snprintf(inv->column, sizeof(inv->column), "%s", t->column);
    size_t cut = n < sizeof(inv->value) - 1 ? n : sizeof(inv->value) - 1;
    if (cut)
        memcpy(inv->value, value, cut);
    inv->value[cut] = '\0';
    snprintf(inv->why, sizeof(inv->why), "%s", why);
}

/* One value transform on column j. */
static cdc_err_t
apply_value(const cdc_transform_t *t, cdc_tx_work_t *w, size_t j, size_t n, bool strict,
            uint8_t *outcome, cdc_tx_invalid_t *inv)
{
    cdc_value_t *v = &w->cols[j].value;
    if (v->type == CDC_VAL_NULL) {
        *outcome = CDC_TX_UNCHANGED;
        return CDC_OK;
    }
    const char *p;
    size_t len;
    char why[256] = "";
    char ctxbuf[8];
    const char *context =
        t->region_column || t->country_column ? context_of(t, w, n, ctxbuf) : NULL;
    cdc_tx_outcome_t o;
    cdc_buf_reset(&w->scratch2);
    if (!value_text(w, j, t, &w->scratch, &p, &len)) {
        snprintf(why, sizeof(why), "a %s value has no text form",
                 v->type == CDC_VAL_BYTES ? "binary" : "structured");
        p = "";
        len = 0;
        o = CDC_TX_INVALID;
    } else {
        o = memo_text(t, p, len, context, &w->scratch2, why, sizeof(why));
    }
    if (o == CDC_TX_SKIPPED) { /* a map entry to null */
        *v = (cdc_value_t){.type = CDC_VAL_NULL};
        w->off[j] = SIZE_MAX;
        *outcome = CDC_TX_NORMALIZED;
        return CDC_OK;
    }
    *outcome = (uint8_t)o;
    if (o == CDC_TX_NORMALIZED) {
        w->off[j] = w->text.len;
        cdc_buf_append(&w->text, w->scratch2.data, w->scratch2.len);
        *v = cdc_value_str(CDC_VAL_STRING, NULL, w->scratch2.len);
        return CDC_OK;
    }
    if (o != CDC_TX_INVALID)
        return CDC_OK;
    switch (t->on_invalid) {
    case CDC_ON_INVALID_NULL:
        *v = (cdc_value_t){.type = CDC_VAL_NULL};
        w->off[j] = SIZE_MAX;
        return CDC_OK;
    case CDC_ON_INVALID_KEEP:
        return CDC_OK;
    default:
        if (!strict)
            return CDC_OK;
        report(inv, t, p, len, why);
        return CDC_ERR_INVAL;
    }
}

cdc_err_t
cdc_transforms_apply(const cdc_transforms_t *ts, const cdc_row_t *in, bool strict, cdc_tx_work_t *w,
                     cdc_row_t *out, uint8_t *outcomes, cdc_tx_invalid_t *inv)
{
    size_t n = in->n;
    cdc_quality_thread();
    reserve(w, n + ts->n);
    if (n)
        memcpy(w->cols, in->cols, n * sizeof(*w->cols));
    for (size_t j = 0; j < n; j++)
        w->off[j] = SIZE_MAX;
    cdc_buf_reset(&w->text);
    for (size_t i = 0; i < ts->n; i++) {
        const cdc_transform_t *t = &ts->items[i];
        uint8_t o = CDC_TX_SKIPPED;
        ssize_t j = in->present ? find(w, n, t->column) : -1;
        switch (t->kind) {
        case CDC_TX_DROP:
            if (j >= 0) {
                memmove(w->cols + j, w->cols + j + 1, (n - (size_t)j - 1) * sizeof(*w->cols));
                memmove(w->off + j, w->off + j + 1, (n - (size_t)j - 1) * sizeof(*w->off));
                n--;
                o = CDC_TX_NORMALIZED;
            }
            break;
        case CDC_TX_RENAME:
            if (j >= 0) {
                w->cols[j].name = t->to;
                o = CDC_TX_NORMALIZED;
            }
            break;
        case CDC_TX_CONSTANT:
            if (!in->present)
                break;
            if (j < 0) {
                j = (ssize_t)n++;
                w->cols[j].name = t->column;
            }
            w->cols[j].value = t->value ? cdc_value_str(CDC_VAL_STRING, t->value, strlen(t->value))
                                        : (cdc_value_t){.type = CDC_VAL_NULL};
            w->off[j] = SIZE_MAX;
            o = CDC_TX_NORMALIZED;
            break;
        default:
            if (j >= 0) {
                cdc_err_t err = apply_value(t, w, (size_t)j, n, strict, &o, inv);
                if (err)
                    return err;
            }
        }
        if (outcomes)
            outcomes[i] = o;
    }
    for (size_t j = 0; j < n; j++)
        if (w->off[j] != SIZE_MAX)
            w->cols[j].value.s.p = w->text.data + w->off[j];
    out->present = in->present;
    out->cols = w->cols;
    out->n = n;
    return CDC_OK;
}

cdc_metric_t **
cdc_transforms_metrics(const cdc_transforms_t *ts, const char *side, const char *name,
                       const char *table)
{
    static const char *const outcomes[] = {"unchanged", "normalized", "invalid"};
    cdc_metric_t **m = cdc_xcalloc(ts->n * 3 + 1, sizeof(*m));
    cdc_buf_t labels;
    cdc_buf_init(&labels);
    for (size_t k = 0; k < ts->n; k++)
        for (int o = 0; o < 3; o++) {
            cdc_buf_reset(&labels);
            cdc_metric_labels(&labels, "side", side, "name", name, "table", table, "column",
                              ts->items[k].column, "transform", cdc_tx_kind_name(ts->items[k].kind),
                              "outcome", outcomes[o], NULL);
            m[k * 3 + o] = cdc_metric_counter("cdc_transform_values_total",
                                              "Values a transform saw, by outcome", labels.data);
        }
    cdc_buf_deinit(&labels);
    return m;
}

void
cdc_transforms_count(const cdc_transforms_t *ts, cdc_metric_t **m, const uint8_t *outcomes,
                     const cdc_tx_invalid_t *inv)
{
    for (size_t k = 0; k < ts->n; k++) {
        if (inv) {
            if (&ts->items[k] == inv->t)
                cdc_metric_add(m[k * 3 + CDC_TX_INVALID], 1);
        } else if (outcomes[k] <= CDC_TX_INVALID) {
            cdc_metric_add(m[k * 3 + outcomes[k]], 1);
        }
    }
}

bool
cdc_transforms_keeps(const cdc_transforms_t *ts, const char *name, const char **renamed)
{
    const char *cur = name;
    for (size_t i = 0; i < ts->n; i++) {
        const cdc_transform_t *t = &ts->items[i];
        if (strcmp(t->column, cur))
            continue;
        if (t->kind == CDC_TX_DROP)
            return false;
        if (t->kind == CDC_TX_RENAME)
            cur = t->to;
    }
    *renamed = cur == name ? NULL : cur;
    return true;
}

static ssize_t
name_at(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (names[i] && !strcmp(names[i], name))
            return (ssize_t)i;
    return -1;
}

cdc_err_t
cdc_transforms_check(const cdc_transforms_t *ts, const char *const *names, const bool *key,
                     size_t n, const char *table, cdc_errstr_t *es)
{
    const char **cur = cdc_xcalloc(n + ts->n + 1, sizeof(char *));
    bool *iskey = cdc_xcalloc(n + ts->n + 1, sizeof(bool));
    if (n) {
        memcpy(cur, names, n * sizeof(char *));
        memcpy(iskey, key, n * sizeof(bool));
    }
    size_t len = n;
    cdc_err_t err = CDC_OK;
    for (size_t i = 0; i < ts->n && !err; i++) {
        const cdc_transform_t *t = &ts->items[i];
        ssize_t j = name_at(cur, len, t->column);
        const char *ctx = t->region_column ? t->region_column : t->country_column;
        if (j >= 0 && iskey[j])
            err = cdc_errstr_set(es, CDC_ERR_CONFIG,
                                 "%s.column: '%s' is part of the key of %s; keys are published "
                                 "as they are (every target finds its row by them)",
                                 t->where, t->column, table);
        else if (j < 0 && t->kind != CDC_TX_CONSTANT)
            err = cdc_errstr_set(es, CDC_ERR_CONFIG, "%s.column: %s has no column '%s'%s", t->where,
                                 table, t->column, i ? " (at this point of the list)" : "");
        else if (ctx && name_at(cur, len, ctx) < 0)
            err = cdc_errstr_set(es, CDC_ERR_CONFIG, "%s.%s: %s has no column '%s'", t->where,
                                 t->region_column ? "region_column" : "country_column", table, ctx);
        else if (t->kind == CDC_TX_RENAME && name_at(cur, len, t->to) >= 0)
            err = cdc_errstr_set(es, CDC_ERR_CONFIG, "%s.to: %s already has a column '%s'",
                                 t->where, table, t->to);
        if (err)
            break;
        if (t->kind == CDC_TX_RENAME)
            cur[j] = t->to;
        else if (t->kind == CDC_TX_DROP)
            cur[j] = NULL;
        else if (t->kind == CDC_TX_CONSTANT && j < 0)
            cur[len++] = t->column;
    }
    free(cur);
    free(iskey);
    return err;
}

bool
cdc_transforms_rewrites(const cdc_transforms_t *ts, const char *name)
{
    for (size_t i = 0; i < ts->n; i++)
        if (!strcmp(ts->items[i].column, name) && ts->items[i].kind <= CDC_TX_MASK)
            return true;
    return false;
}

void
cdc_transform_free(cdc_transform_t *t)
{
    free(t->column);
    free(t->where);
    free(t->region);
    free(t->region_column);
    free(t->locale);
    free(t->country);
    free(t->country_column);
    for (size_t i = 0; i < t->n_languages; i++)
        free(t->languages[i]);
    free(t->languages);
    for (size_t i = 0; i < t->n_map; i++) {
        free(t->map_from[i]);
        free(t->map_to[i]);
    }
    free(t->map_from);
    free(t->map_to);
    free(t->redact_with);
    if (t->salt)
        memset(t->salt, 0, t->salt_len);
    free(t->salt);
    free(t->value);
    free(t->to);
    memset(t, 0, sizeof(*t));
}

void
cdc_transforms_free(cdc_transforms_t *ts)
{
    atomic_fetch_add(&memo_gen, 1); /* no memo entry outlives its transform */
    for (size_t i = 0; i < ts->n; i++)
        cdc_transform_free(&ts->items[i]);
    free(ts->items);
    ts->items = NULL;
    ts->n = 0;
}

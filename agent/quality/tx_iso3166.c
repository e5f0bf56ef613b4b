/*
 * The country and subdivision transforms: ISO 3166-1 and ISO 3166-2 from Debian's iso-codes
 * package, read at start (never copied into the source tree): /usr/share/iso-codes/json for the
 * codes and names, and its gettext catalogues (/usr/share/locale/<lang>/LC_MESSAGES/iso_3166-*.mo)
 * for names in other languages (English subdivision names always: Bayern is Bavaria). Names are
 * looked up folded (case, accents, spacing and punctuation ignored); a name that belongs to more
 * than one entry is ambiguous and matches none.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/log.h"
#include "quality.h"

#define ISO_JSON_DIR "/usr/share/iso-codes/json"
#define LOCALE_DIR   "/usr/share/locale"
#define AMBIGUOUS    UINT32_MAX

typedef struct {
    char *key; /* folded; subdivisions "<CC>|<folded>", "*|<folded>", "=<CODE>" */
    uint32_t idx;
} entry_t;

typedef struct {
    entry_t *e;
    size_t n, cap;
    bool sorted;
} index_t;

typedef struct {
    char alpha2[3], alpha3[4], numeric[4];
    char *name;
} country_t;

typedef struct {
    char code[12]; /* DE-BY */
    char *name;
} subdivision_t;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static bool loaded;
static char load_error[1024];
static country_t *countries;
static size_t n_countries;
static subdivision_t *subs;
static size_t n_subs;
static index_t cidx, sidx;
static char **languages_loaded;
static size_t n_languages_loaded;
static _Thread_local cdc_buf_t t_key; /* a lookup's key, reused */

void
cdc_tx_iso_thread_free(void)
{
    cdc_buf_deinit(&t_key);
}

static void
add(index_t *ix, const char *key, uint32_t idx)
{
    if (ix->n == ix->cap) {
        ix->cap = ix->cap ? ix->cap * 2 : 1024;
        ix->e = cdc_xrealloc(ix->e, ix->cap * sizeof(*ix->e));
    }
    ix->e[ix->n++] = (entry_t){cdc_xstrdup(key), idx};
    ix->sorted = false;
}

static int
by_key(const void *a, const void *b)
{
    const entry_t *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

/* Sorts and merges duplicate keys: one index, or AMBIGUOUS when they disagree. */
static void
finish(index_t *ix)
{
    qsort(ix->e, ix->n, sizeof(*ix->e), by_key);
    size_t w = 0;
    for (size_t i = 0; i < ix->n; i++) {
        if (w && !strcmp(ix->e[w - 1].key, ix->e[i].key)) {
            if (ix->e[w - 1].idx != ix->e[i].idx)
                ix->e[w - 1].idx = AMBIGUOUS;
            free(ix->e[i].key);
            continue;
        }
        ix->e[w++] = ix->e[i];
    }
    ix->n = w;
    ix->sorted = true;
}

static uint32_t
lookup(const index_t *ix, const char *key, bool *ambiguous)
{
    entry_t probe = {(char *)key, 0};
    size_t lo = 0, hi = ix->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(ix->e[mid].key, probe.key);
        if (c == 0) {
            if (ix->e[mid].idx == AMBIGUOUS) {
                *ambiguous = true;
                return AMBIGUOUS;
            }
            return ix->e[mid].idx;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return AMBIGUOUS;
}

static void
add_folded(index_t *ix, const char *prefix, const char *name, uint32_t idx)
{
    cdc_buf_t b;
    cdc_buf_init(&b);
    cdc_buf_puts(&b, prefix);
    cdc_text_fold(name, strlen(name), &b);
    cdc_buf_putc(&b, '\0');
    if (b.data[strlen(prefix)])
        add(ix, b.data, idx);
    cdc_buf_deinit(&b);
}

static const char *
str(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static json_t *
read_json(const char *file, const char *member)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", ISO_JSON_DIR, file);
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    json_t *list = root ? json_object_get(root, member) : NULL;
    if (!json_is_array(list)) {
        snprintf(load_error, sizeof(load_error),
                 "%s: %s (the iso-codes package: apt-get install -y iso-codes)", path,
                 root ? "no list" : je.text);
        json_decref(root);
        return NULL;
    }
    json_incref(list);
    json_decref(root);
    return list;
}

static bool
load_base(void)
{
    json_t *c = read_json("iso_3166-1.json", "3166-1"),
           *s = c ? read_json("iso_3166-2.json", "3166-2") : NULL;
    if (!c || !s) {
        json_decref(c);
        return false;
    }
    n_countries = json_array_size(c);
    countries = cdc_xcalloc(n_countries, sizeof(*countries));
    for (size_t i = 0; i < n_countries; i++) {
        json_t *o = json_array_get(c, i);
        country_t *k = &countries[i];
        snprintf(k->alpha2, sizeof(k->alpha2), "%s", str(o, "alpha_2") ? str(o, "alpha_2") : "");
        snprintf(k->alpha3, sizeof(k->alpha3), "%s", str(o, "alpha_3") ? str(o, "alpha_3") : "");
        snprintf(k->numeric, sizeof(k->numeric), "%s", str(o, "numeric") ? str(o, "numeric") : "");
        k->name = cdc_xstrdup(str(o, "name") ? str(o, "name") : k->alpha2);
        static const char *const names[] = {"alpha_2", "alpha_3",       "numeric",
                                            "name",    "official_name", "common_name"};
        for (size_t j = 0; j < sizeof(names) / sizeof(*names); j++)
            if (str(o, names[j]))
                add_folded(&cidx, "", str(o, names[j]), (uint32_t)i);
    }
    n_subs = json_array_size(s);
    subs = cdc_xcalloc(n_subs, sizeof(*subs));
    for (size_t i = 0; i < n_subs; i++) {
        json_t *o = json_array_get(s, i);
        subdivision_t *d = &subs[i];
        const char *code = str(o, "code") ? str(o, "code") : "";
        snprintf(d->code, sizeof(d->code), "%s", code);
        d->name = cdc_xstrdup(str(o, "name") ? str(o, "name") : code);
        char prefix[16], full[16];
        const char *dash = strchr(d->code, '-');
        if (!dash)
            continue;
        snprintf(prefix, sizeof(prefix), "%.*s|", (int)(dash - d->code), d->code);
        snprintf(full, sizeof(full), "=%s", d->code);
        add(&sidx, full, (uint32_t)i);
        add_folded(&sidx, prefix, dash + 1, (uint32_t)i); /* BY within DE */
        add_folded(&sidx, prefix, d->name, (uint32_t)i);
        add_folded(&sidx, "*|", d->name, (uint32_t)i);
    }
    json_decref(c);
    json_decref(s);
    return true;
}

/* A gettext catalogue: calls fn(msgid, msgstr) for each translation. */
static bool
read_mo(const char *path, void (*fn)(const char *id, const char *str))
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    cdc_buf_t b;
    cdc_buf_init(&b);
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
        cdc_buf_append(&b, chunk, got);
    fclose(f);
    const unsigned char *p = (const unsigned char *)b.data;
    bool ok = b.len >= 28;
    uint32_t magic =
        ok ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24 : 0;
    bool le = magic == 0x950412deu, be = magic == 0xde120495u;
    ok = ok && (le || be);
#define U32(o)                                                                                     \
    (le ? (uint32_t)p[o] | (uint32_t)p[(o) + 1] << 8 | (uint32_t)p[(o) + 2] << 16 |                \
              (uint32_t)p[(o) + 3] << 24                                                           \
        : (uint32_t)p[o] << 24 | (uint32_t)p[(o) + 1] << 16 | (uint32_t)p[(o) + 2] << 8 |          \
              (uint32_t)p[(o) + 3])
    uint32_t n = ok ? U32(8) : 0, orig = ok ? U32(12) : 0, trans = ok ? U32(16) : 0;
    for (uint32_t i = 0; ok && i < n; i++) {
        size_t oi = (size_t)orig + 8 * i, ti = (size_t)trans + 8 * i;
        if (ti + 8 > b.len || oi + 8 > b.len)
            break;
        uint32_t ol = U32(oi + 0), oo = U32(oi + 4), tl = U32(ti + 0), to = U32(ti + 4);
        if ((size_t)oo + ol >= b.len || (size_t)to + tl >= b.len || !ol || !tl)
            continue;
        const char *id = b.data + oo, *s = b.data + to;
        if (memchr(id, '\004', ol)) /* a message context: not a name */
            continue;
        fn(id, s);
    }
#undef U32
    cdc_buf_deinit(&b);
    return ok;
}

/* Translations map the English country name (or the subdivision's own name) to another one. */
static void
country_translation(const char *id, const char *s)
{
    for (size_t i = 0; i < n_countries; i++)
        if (!strcmp(countries[i].name, id))
            add_folded(&cidx, "", s, (uint32_t)i);
}

static void
subdivision_translation(const char *id, const char *s)
{
    for (size_t i = 0; i < n_subs; i++) {
        if (strcmp(subs[i].name, id))
            continue;
        char prefix[16];
        const char *dash = strchr(subs[i].code, '-');
        snprintf(prefix, sizeof(prefix), "%.*s|", dash ? (int)(dash - subs[i].code) : 2,
                 subs[i].code);
        add_folded(&sidx, prefix, s, (uint32_t)i);
        add_folded(&sidx, "*|", s, (uint32_t)i);
    }
}

static bool
load_language(const char *lang, char *why, size_t whyn)
{
    for (size_t i = 0; i < n_languages_loaded; i++)
        if (!strcmp(languages_loaded[i], lang))
            return true;
    char p1[160], p2[160];
    snprintf(p1, sizeof(p1), "%s/%.32s/LC_MESSAGES/iso_3166-1.mo", LOCALE_DIR, lang);
    snprintf(p2, sizeof(p2), "%s/%.32s/LC_MESSAGES/iso_3166-2.mo", LOCALE_DIR, lang);
    bool any = read_mo(p1, country_translation);
    any |= read_mo(p2, subdivision_translation);
    if (!any && strcmp(lang, "en")) {
        snprintf(why, whyn, "iso-codes has no names in language %.32s (%s)", lang, p1);
        return false;
    }
    languages_loaded = cdc_xrealloc(languages_loaded, (n_languages_loaded + 1) * sizeof(char *));
    languages_loaded[n_languages_loaded++] = cdc_xstrdup(lang);
    return true;
}

cdc_err_t
cdc_iso_load(char *const *languages, size_t n, cdc_errstr_t *es)
{
    pthread_mutex_lock(&mu);
    cdc_err_t err = CDC_OK;
    char why[512] = "";
    if (!loaded && !load_error[0]) {
        loaded = load_base() && load_language("en", why, sizeof(why));
        if (!loaded && !load_error[0])
            snprintf(load_error, sizeof(load_error), "%s", why);
    }
    if (!loaded)
        err = cdc_errstr_set(es, CDC_ERR_INVAL, "%s", load_error);
    for (size_t i = 0; !err && i < n; i++)
        if (!load_language(languages[i], why, sizeof(why)))
            err = cdc_errstr_set(es, CDC_ERR_INVAL, "%s", why);
    if (loaded) {
        finish(&cidx);
        finish(&sidx);
    }
    pthread_mutex_unlock(&mu);
    return err;
}

bool
cdc_iso_available(char *why, size_t n)
{
    cdc_errstr_t es;
    if (!cdc_iso_load(NULL, 0, &es))
        return true;
    snprintf(why, n, "%s", es.msg);
    return false;
}

/* Index of the country in[0..n) names, or AMBIGUOUS. */
static uint32_t
find_country(const char *in, size_t n, bool *ambiguous)
{
    if (!loaded || !cidx.sorted)
        return AMBIGUOUS;
    cdc_buf_t *b = &t_key;
    cdc_buf_reset(b);
    cdc_text_fold(in, n, b);
    cdc_buf_putc(b, '\0');
    return lookup(&cidx, b->data, ambiguous);
}

const char *
cdc_iso_country_alpha2(const char *in, size_t n, char *const *languages, size_t n_languages)
{
    (void)languages, (void)n_languages; /* every language loaded at start is looked up */
    bool amb = false;
    uint32_t i = find_country(in, n, &amb);
    return i == AMBIGUOUS ? NULL : countries[i].alpha2;
}

cdc_tx_outcome_t
cdc_tx_country(const cdc_transform_t *t, const char *in, size_t n, cdc_buf_t *out, char *why,
               size_t whyn)
{
    bool amb = false;
    uint32_t i = find_country(in, n, &amb);
    if (i == AMBIGUOUS) {
        snprintf(why, whyn, amb ? "names more than one country" : "not a country name or code");
        return CDC_TX_INVALID;
    }
    const country_t *c = &countries[i];
    const char *res = t->iso_out == CDC_ISO_ALPHA3    ? c->alpha3
                      : t->iso_out == CDC_ISO_NUMERIC ? c->numeric
                      : t->iso_out == CDC_ISO_NAME    ? c->name
                                                      : c->alpha2;
    size_t rn = strlen(res);
    if (rn == n && (n == 0 || !memcmp(res, in, n)))
        return CDC_TX_UNCHANGED;
    cdc_buf_append(out, res, rn);
    return CDC_TX_NORMALIZED;
}

cdc_tx_outcome_t
cdc_tx_subdivision(const cdc_transform_t *t, const char *in, size_t n, const char *country,
                   cdc_buf_t *out, char *why, size_t whyn)
{
    if (!loaded || !sidx.sorted) {
        snprintf(why, whyn, "iso-codes not loaded");
        return CDC_TX_INVALID;
    }
    bool amb = false;
    uint32_t i = AMBIGUOUS;
    cdc_buf_t *bp = &t_key;
    cdc_buf_reset(bp);
    /* a full code first (DE-BY, de-by) */
    cdc_buf_putc(bp, '=');
    for (size_t k = 0; k < n && k < 12; k++)
        cdc_buf_putc(bp, in[k] >= 'a' && in[k] <= 'z' ? (char)(in[k] - 32) : in[k]);
    cdc_buf_putc(bp, '\0');
    if (n < 12)
        i = lookup(&sidx, bp->data, &amb);
    if (i != AMBIGUOUS && country && strncmp(subs[i].code, country, strlen(country))) {
        snprintf(why, whyn, "a subdivision of another country than %s", country);
        return CDC_TX_INVALID;
    }
    if (i == AMBIGUOUS) {
        cdc_buf_reset(bp);
        cdc_buf_puts(bp, country ? country : "*");
        cdc_buf_putc(bp, '|');
        cdc_text_fold(in, n, bp);
        cdc_buf_putc(bp, '\0');
        amb = false;
        i = lookup(&sidx, bp->data, &amb);
    }
    if (i == AMBIGUOUS) {
        if (amb)
            snprintf(why, whyn, "names subdivisions of more than one country%s",
                     country ? "" : " (set country or country_column)");
        else
            snprintf(why, whyn, "not a subdivision name or code%s%s", country ? " of " : "",
                     country ? country : "");
        return CDC_TX_INVALID;
    }
    const subdivision_t *d = &subs[i];
    const char *dash = strchr(d->code, '-');
    const char *res = t->iso_out == CDC_ISO_SHORT && dash ? dash + 1
                      : t->iso_out == CDC_ISO_NAME        ? d->name
                                                          : d->code;
    size_t rn = strlen(res);
    if (rn == n && (n == 0 || !memcmp(res, in, n)))
        return CDC_TX_UNCHANGED;
    cdc_buf_append(out, res, rn);
    return CDC_TX_NORMALIZED;
}

/*
 * transforms: a list on a source table or a sink route, each a mapping with `type`, `column`,
 * `on_invalid` and the keys of its type (docs/transforms.md). Everything that can be checked
 * without the tables is checked here, with the file, line and column: the type and its keys, a
 * phone region libphonenumber knows, countries and languages iso-codes has, a salt that is set.
 * Each transform keeps where it was written, for the errors only the tables can show (a column
 * the table does not have, a key column).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../quality/phone_shim.h"
#include "cdc/transform.h"
#include "config_internal.h"

static const char *const types[] = {"phone", "email",    "text",   "country", "subdivision", "map",
                                    "mask",  "constant", "rename", "drop",    NULL};
static const char *const common_keys[] = {"type", "column", "on_invalid", NULL};
/* each type's own keys, in the order of types[] */
static const char *const *const type_keys[] = {
    (const char *const[]){"region", "region_column", "format", NULL},
    (const char *const[]){"lowercase_local", "idna", NULL},
    (const char *const[]){"trim", "collapse", "nfc", "case", "locale", NULL},
    (const char *const[]){"output", "languages", NULL},
    (const char *const[]){"country", "country_column", "output", "languages", NULL},
    (const char *const[]){"values", "ignore_case", "strict", NULL},
    (const char *const[]){"method", "keep_last", "salt_env", "salt_file", "with", NULL},
    (const char *const[]){"value", NULL},
    (const char *const[]){"to", NULL},
    (const char *const[]){NULL},
};

typedef struct {
    cdc_transform_t *t;
    yaml_node_t *node;
} item_t;

static cdc_err_t
two_letters(cfg_t *c, yaml_node_t *v, const char *path, char **out)
{
    cdc_err_t err = cfg_str(c, v, path, out);
    if (err)
        return err;
    char *s = *out;
    if (strlen(s) != 2 || !((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z') ||
        !((s[1] | 0x20) >= 'a' && (s[1] | 0x20) <= 'z'))
        return cfg_fail(c, v, path, "expected an ISO 3166-1 alpha-2 code such as DE, got '%.32s'",
                        s);
    s[0] = (char)(s[0] & ~0x20);
    s[1] = (char)(s[1] & ~0x20);
    return CDC_OK;
}

/* values: {from: to, ...}; a null `to` maps to null. */
static cdc_err_t
map_values(cfg_t *c, yaml_node_t *v, const char *path, cdc_transform_t *t)
{
    if (!v || v->type != YAML_MAPPING_NODE)
        return cfg_fail(c, v, path, "expected a mapping of values ({from: to, ...})");
    size_t n = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
    if (n == 0)
        return cfg_fail(c, v, path, "map at least one value");
    t->map_from = cdc_xcalloc(n, sizeof(char *));
    t->map_to = cdc_xcalloc(n, sizeof(char *));
    char kp[CFG_PATH_MAX];
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        yaml_node_t *val = yaml_document_get_node(c->doc, p->value);
        size_t i = t->n_map++;
        cdc_err_t err = cfg_str(c, k, path, &t->map_from[i]);
        if (err)
            return err;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(t->map_from[j], t->map_from[i]))
                return cfg_fail(c, k, path, "value '%.64s' mapped twice", t->map_from[i]);
        cfg_path_key(kp, path, t->map_from[i]);
        if (!cfg_is_null(val) && (err = cfg_str(c, val, kp, &t->map_to[i])))
            return err;
    }
    return CDC_OK;
}

static cdc_err_t
salt(cfg_t *c, const char *key, yaml_node_t *v, const char *path, cdc_transform_t *t)
{
    if (t->salt)
        return cfg_fail(c, v, path, "set either salt_env or salt_file, not both");
    char *secret = NULL;
    cdc_err_t err =
        key[5] == 'e' ? cfg_secret_env(c, v, path, &secret) : cfg_secret_file(c, v, path, &secret);
    if (err)
        return err;
    if (!*secret) {
        cfg_free_secret(secret);
        return cfg_fail(c, v, path, "the salt is empty");
    }
    t->salt = (unsigned char *)secret;
    t->salt_len = strlen(secret);
    return CDC_OK;
}

static cdc_err_t
transform_key(cfg_t *c, const char *key, yaml_node_t *v, const char *path, void *obj)
{
    cdc_transform_t *t = ((item_t *)obj)->t;
    static const char *const invalid[] = {"dlq", "null", "keep", "fail", NULL};
    static const char *const phone_formats[] = {"e164", "international", "national", "rfc3966",
                                                NULL};
    static const char *const idna[] = {"ascii", "unicode", "keep", NULL};
    static const char *const cases[] = {"none", "upper", "lower", "title", NULL};
    static const char *const country_out[] = {"alpha2", "alpha3", "numeric", "name", NULL};
    static const char *const sub_out[] = {"code", "short", "name", NULL};
    static const char *const methods[] = {"hash", "redact", "keep_last", NULL};
    int e = 0;
    cdc_err_t err = CDC_OK;
    if (!strcmp(key, "type"))
        return CDC_OK; /* read first */
    if (!strcmp(key, "column"))
        return cfg_str(c, v, path, &t->column);
    if (!strcmp(key, "on_invalid")) {
        if (cfg_is_null(v)) { /* `on_invalid: null` reads as YAML's null */
            t->on_invalid = CDC_ON_INVALID_NULL;
            return CDC_OK;
        }
        err = cfg_enum(c, v, path, invalid, &e);
        t->on_invalid = (cdc_on_invalid_t)e;
        return err;
    }
    if (!strcmp(key, "region")) {
        if ((err = two_letters(c, v, path, &t->region)))
            return err;
        return cdc_phone_region_known(t->region)
                   ? CDC_OK
                   : cfg_fail(c, v, path, "libphonenumber knows no region %s", t->region);
    }
    if (!strcmp(key, "region_column"))
        return cfg_str(c, v, path, &t->region_column);
    if (!strcmp(key, "format")) {
        err = cfg_enum(c, v, path, phone_formats, &e);
        t->phone_style = e;
        return err;
    }
    if (!strcmp(key, "lowercase_local"))
        return cfg_bool(c, v, path, &t->lowercase_local);
    if (!strcmp(key, "idna")) {
        err = cfg_enum(c, v, path, idna, &e);
        t->idna = (cdc_idna_t)e;
        return err;
    }
    if (!strcmp(key, "trim"))
        return cfg_bool(c, v, path, &t->trim);
    if (!strcmp(key, "collapse"))
        return cfg_bool(c, v, path, &t->collapse);
    if (!strcmp(key, "nfc"))
        return cfg_bool(c, v, path, &t->nfc);
    if (!strcmp(key, "case")) {
        err = cfg_enum(c, v, path, cases, &e);
        t->text_case = (cdc_case_t)e;
        return err;
    }
    if (!strcmp(key, "locale"))
        return cfg_str(c, v, path, &t->locale); /* frees the default */
    if (!strcmp(key, "output")) {
        bool sub = t->kind == CDC_TX_SUBDIVISION;
        err = cfg_enum(c, v, path, sub ? sub_out : country_out, &e);
        t->iso_out =
            sub ? (cdc_iso_out_t)(e == 2 ? CDC_ISO_NAME : CDC_ISO_CODE + e) : (cdc_iso_out_t)e;
        return err;
    }
    if (!strcmp(key, "languages"))
        return cfg_str_list(c, v, path, &t->languages, &t->n_languages);
    if (!strcmp(key, "country"))
        return two_letters(c, v, path, &t->country);
    if (!strcmp(key, "country_column"))
        return cfg_str(c, v, path, &t->country_column);
    if (!strcmp(key, "values"))
        return map_values(c, v, path, t);
    if (!strcmp(key, "ignore_case"))
        return cfg_bool(c, v, path, &t->ignore_case);
    if (!strcmp(key, "strict"))
        return cfg_bool(c, v, path, &t->strict);
    if (!strcmp(key, "method")) {
        err = cfg_enum(c, v, path, methods, &e);
        t->mask = (cdc_mask_t)e;
        return err;
    }
    if (!strcmp(key, "keep_last"))
        return cfg_int32(c, v, path, 0, 1000, &t->keep_last);
    if (!strcmp(key, "salt_env") || !strcmp(key, "salt_file"))
        return salt(c, key, v, path, t);
    if (!strcmp(key, "with"))
        return cfg_str(c, v, path, &t->redact_with);
    if (!strcmp(key, "value"))
        return cfg_is_null(v) ? CDC_OK : cfg_str(c, v, path, &t->value);
    if (!strcmp(key, "to"))
        return cfg_str(c, v, path, &t->to);
    return cfg_fail(c, v, path, "unknown key"); /* cfg_map refused it already */
}

/* What a transform's keys must add up to, once all are read. */
static cdc_err_t
transform_check(cfg_t *c, yaml_node_t *n, const char *path, cdc_transform_t *t)
{
    char kp[CFG_PATH_MAX];
    cdc_errstr_t es;
    if (t->region_column && t->kind == CDC_TX_PHONE && cdc_iso_load(NULL, 0, &es))
        return cfg_fail(c, cfg_map_get(c, n, "region_column"), path, "%s", es.msg);
    switch (t->kind) {
    case CDC_TX_COUNTRY:
    case CDC_TX_SUBDIVISION:
        if (cdc_iso_load(t->languages, t->n_languages, &es)) {
            cfg_path_key(kp, path, t->n_languages ? "languages" : "type");
            yaml_node_t *at = cfg_map_get(c, n, t->n_languages ? "languages" : "type");
            return cfg_fail(c, at, kp, "%s", es.msg);
        }
        if (t->country && !cdc_iso_country_alpha2(t->country, 2, NULL, 0)) {
            cfg_path_key(kp, path, "country");
            return cfg_fail(c, cfg_map_get(c, n, "country"), kp, "no country %s in ISO 3166-1",
                            t->country);
        }
        break;
    case CDC_TX_MAP:
        if (!t->n_map)
            return cfg_fail(c, n, path, "a map needs values: {from: to, ...}");
        break;
    case CDC_TX_MASK:
        if (t->mask == CDC_MASK_HASH && !t->salt)
            return cfg_fail(c, n, path,
                            "a hash needs a secret salt: salt_env or salt_file (without one, a "
                            "hashed email or phone number is found again by hashing candidates)");
        if (t->mask == CDC_MASK_KEEP_LAST && !cfg_map_get(c, n, "keep_last"))
            return cfg_fail(c, n, path, "keep_last needs the number of characters to keep");
        break;
    case CDC_TX_RENAME:
        if (!t->to || !*t->to)
            return cfg_fail(c, n, path, "rename needs `to`: the new column name");
        if (!strcmp(t->to, t->column)) {
            cfg_path_key(kp, path, "to");
            return cfg_fail(c, cfg_map_get(c, n, "to"), kp, "the same name as the column");
        }
        break;
    case CDC_TX_CONSTANT:
        if (!cfg_map_get(c, n, "value"))
            return cfg_fail(c, n, path, "constant needs `value` (null for a null)");
        break;
    default:
        break;
    }
    if (!*t->column)
        return cfg_fail(c, cfg_map_get(c, n, "column"), path, "an empty column name");
    return CDC_OK;
}

static cdc_err_t
transform_item(cfg_t *c, yaml_node_t *n, const char *path, size_t i, void *ctx)
{
    cdc_transforms_t *ts = ctx;
    cdc_transform_t *t = &ts->items[i];
    static const char *const required[] = {"type", "column", NULL};
    if (!n || n->type != YAML_MAPPING_NODE)
        return cfg_fail(c, n, path,
                        "expected a mapping such as {type: phone, column: phone, region: DE}");
    char kp[CFG_PATH_MAX];
    cfg_path_key(kp, path, "type");
    yaml_node_t *tn = cfg_map_get(c, n, "type");
    int kind = 0;
    cdc_err_t err = tn ? cfg_enum(c, tn, kp, types, &kind) : CDC_OK;
    if (err)
        return err;
    t->kind = (cdc_tx_kind_t)kind;
    t->trim = t->collapse = t->nfc = true; /* text: the usual cleaning unless switched off */
    t->locale = cdc_xstrdup("");
    const char *allowed[32];
    size_t na = 0;
    for (size_t k = 0; common_keys[k]; k++)
        allowed[na++] = common_keys[k];
    for (size_t k = 0; type_keys[kind][k]; k++)
        allowed[na++] = type_keys[kind][k];
    allowed[na] = NULL;
    item_t it = {t, n};
    err = cfg_map(c, n, path, allowed, required, transform_key, &it);
    if (err)
        return err;
    char where[CFG_PATH_MAX + 300];
    snprintf(where, sizeof(where), "%s:%zu:%zu: %s", c->file, n->start_mark.line + 1,
             n->start_mark.column + 1, path);
    t->where = cdc_xstrdup(where);
    return transform_check(c, n, path, t);
}

cdc_err_t
cfg_transforms(cfg_t *c, yaml_node_t *n, const char *path, cdc_transforms_t *out)
{
    return cfg_list(c, n, path, sizeof(cdc_transform_t), (void **)&out->items, &out->n,
                    transform_item, out);
}

cdc_err_t
cfg_exclude(cfg_t *c, yaml_node_t *n, const char *path, cdc_transforms_t *out)
{
    char **cols = NULL;
    size_t k = 0;
    cdc_err_t err = cfg_str_list(c, n, path, &cols, &k);
    if (err)
        return err;
    out->items = cdc_xrealloc(out->items, (out->n + k + 1) * sizeof(cdc_transform_t));
    char where[CFG_PATH_MAX + 300];
    for (size_t i = 0; i < k; i++) {
        snprintf(where, sizeof(where), "%s:%zu:%zu: %s[%zu]", c->file, n->start_mark.line + 1,
                 n->start_mark.column + 1, path, i);
        out->items[out->n++] =
            (cdc_transform_t){.kind = CDC_TX_DROP, .column = cols[i], .where = cdc_xstrdup(where)};
    }
    free(cols);
    return CDC_OK;
}

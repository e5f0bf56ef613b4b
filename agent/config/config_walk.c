/*
 * Typed reads of YAML nodes for the config loader. Each helper validates one node and fails with
 * its position and key path; nothing here knows the config's schema.
 */
#include "cdc/config_walk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cdc/buf.h"

#define CFG_MAX_VISITS   200000
#define SECRET_MAX_BYTES 65536

cdc_err_t
cfg_fail(cfg_t *c, const yaml_node_t *n, const char *path, const char *fmt, ...)
{
    char what[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    unsigned long line = n ? n->start_mark.line + 1 : 1, col = n ? n->start_mark.column + 1 : 1;
    return cdc_errstr_set(c->es, CDC_ERR_CONFIG, "%s:%lu:%lu: %s%s%s", c->file, line, col,
                          path && *path ? path : "", path && *path ? ": " : "", what);
}

void
cfg_path_key(char *out, const char *parent, const char *key)
{
    snprintf(out, CFG_PATH_MAX, "%s%s%s", parent, *parent ? "." : "", key);
}

void
cfg_path_idx(char *out, const char *parent, size_t i)
{
    snprintf(out, CFG_PATH_MAX, "%s[%zu]", parent, i);
}

static size_t
edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return 99;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *
cfg_suggest(const char *key, const char *const *allowed)
{
    const char *best = NULL;
    size_t best_d = 99, limit = strlen(key) / 3 > 2 ? strlen(key) / 3 : 2;
    for (size_t i = 0; allowed[i]; i++) {
        size_t d = edit_distance(key, allowed[i]);
        if (d < best_d) {
            best_d = d;
            best = allowed[i];
        }
    }
    return best_d <= limit ? best : NULL;
}

bool
cfg_is_null(const yaml_node_t *n)
{
    if (!n || n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = (const char *)n->data.scalar.value;
    return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

static const char *
node_kind(const yaml_node_t *n)
{
    if (cfg_is_null(n))
        return "null";
    switch (n->type) {
    case YAML_MAPPING_NODE:
        return "a mapping";
    case YAML_SEQUENCE_NODE:
        return "a list";
    default:
        return "a scalar";
    }
}

bool
cfg_in_list(const char *s, const char *const *list)
{
    for (size_t i = 0; list && list[i]; i++)
        if (!strcmp(s, list[i]))
            return true;
    return false;
}

static bool
name_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-'))
            return false;
    return true;
}

/* Names go into topics, transactional ids, lock names (MariaDB's GET_LOCK takes 64 characters
 * with the database), table rows and log lines: short ones. */
#define NAME_MAX_CHARS 48

cdc_err_t
cfg_name(cfg_t *c, yaml_node_t *n, const char *path, char **out)
{
    cdc_err_t err = cfg_str(c, n, path, out);
    if (!err && !name_ok(*out))
        return cfg_fail(c, n, path, "'%.64s' must be non-empty and use only A-Z a-z 0-9 _ -", *out);
    if (!err && strlen(*out) > NAME_MAX_CHARS)
        return cfg_fail(c, n, path, "'%.16s...' is longer than %d characters", *out,
                        NAME_MAX_CHARS);
    return err;
}

static cdc_err_t
check_keys(cfg_t *c, yaml_node_t *n, const char *path, const char *const *allowed)
{
    yaml_node_pair_t *start = n->data.mapping.pairs.start, *top = n->data.mapping.pairs.top;
    char kp[CFG_PATH_MAX];
    for (yaml_node_pair_t *p = start; p < top; p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        if (!k || k->type != YAML_SCALAR_NODE)
            return cfg_fail(c, k, path, "keys must be plain names");
        const char *key = (const char *)k->data.scalar.value;
        cfg_path_key(kp, path, key);
        if (!cfg_in_list(key, allowed)) {
            const char *hint = cfg_suggest(key, allowed);
            if (hint)
                return cfg_fail(c, k, kp, "unknown key; did you mean '%s'?", hint);
            return cfg_fail(c, k, kp, "unknown key");
        }
        for (yaml_node_pair_t *q = start; q < p; q++) {
            yaml_node_t *prev = yaml_document_get_node(c->doc, q->key);
            if (prev->type == YAML_SCALAR_NODE && !strcmp((char *)prev->data.scalar.value, key))
                return cfg_fail(c, k, kp, "duplicate key (first set on line %lu)",
                                (unsigned long)prev->start_mark.line + 1);
        }
    }
    return CDC_OK;
}

yaml_node_t *
cfg_map_get(cfg_t *c, yaml_node_t *n, const char *key)
{
    if (!n || n->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        if (k->type == YAML_SCALAR_NODE && !strcmp((char *)k->data.scalar.value, key))
            return yaml_document_get_node(c->doc, p->value);
    }
    return NULL;
}

cdc_err_t
cfg_map(cfg_t *c, yaml_node_t *n, const char *path, const char *const *allowed,
        const char *const *required, cfg_key_fn fn, void *obj)
{
    if (!n || n->type != YAML_MAPPING_NODE)
        return cfg_fail(c, n, path, "expected a mapping, got %s", n ? node_kind(n) : "nothing");
    if (++c->visits > CFG_MAX_VISITS)
        return cfg_fail(c, n, path, "document too large (too many nodes or aliases)");
    cdc_err_t err = check_keys(c, n, path, allowed);
    if (err)
        return err;
    char kp[CFG_PATH_MAX];
    for (size_t i = 0; required && required[i]; i++) {
        if (!cfg_map_get(c, n, required[i])) {
            cfg_path_key(kp, path, required[i]);
            return cfg_fail(c, n, kp, "required key missing");
        }
    }
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
        const char *key = (const char *)k->data.scalar.value;
        cfg_path_key(kp, path, key);
        if (fn && (err = fn(c, key, v, kp, obj)))
            return err;
    }
    return CDC_OK;
}

cdc_err_t
cfg_seq(cfg_t *c, yaml_node_t *n, const char *path, yaml_node_t ***items, size_t *n_out)
{
    if (!n || n->type != YAML_SEQUENCE_NODE)
        return cfg_fail(c, n, path, "expected a list, got %s", n ? node_kind(n) : "nothing");
    size_t count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    c->visits += (long)count;
    if (c->visits > CFG_MAX_VISITS)
        return cfg_fail(c, n, path, "document too large (too many nodes or aliases)");
    yaml_node_t **out = cdc_xcalloc(count ? count : 1, sizeof(*out));
    for (size_t i = 0; i < count; i++)
        out[i] = yaml_document_get_node(c->doc, n->data.sequence.items.start[i]);
    *items = out;
    *n_out = count;
    return CDC_OK;
}

cdc_err_t
cfg_list(cfg_t *c, yaml_node_t *n, const char *path, size_t elem_size, void **out, size_t *n_out,
         cfg_item_fn fn, void *ctx)
{
    yaml_node_t **items;
    size_t count;
    cdc_err_t err = cfg_seq(c, n, path, &items, &count);
    if (err)
        return err;
    *out = cdc_xcalloc(count + 1, elem_size);
    *n_out = count;
    char ip[CFG_PATH_MAX];
    for (size_t i = 0; i < count && !err; i++) {
        cfg_path_idx(ip, path, i);
        err = fn(c, items[i], ip, i, ctx);
    }
    free(items);
    return err;
}

/* Expands ${VAR}, ${VAR:-default} and $$ in s into b. */
static cdc_err_t
expand_vars(cfg_t *c, yaml_node_t *n, const char *path, const char *s, cdc_buf_t *b)
{
    for (const char *q = s; *q; q++) {
        if (q[0] != '$' || (q[1] != '{' && q[1] != '$')) {
            cdc_buf_putc(b, *q);
            continue;
        }
        if (q[1] == '$') {
            cdc_buf_putc(b, '$');
            q++;
            continue;
        }
        const char *end = strchr(q + 2, '}');
        if (!end)
            return cfg_fail(c, n, path, "unterminated ${ in value");
        char name[128];
        size_t len = (size_t)(end - q - 2);
        if (len == 0 || len >= sizeof(name))
            return cfg_fail(c, n, path, "bad variable reference");
        memcpy(name, q + 2, len);
        name[len] = '\0';
        char *dflt = strstr(name, ":-");
        if (dflt) {
            *dflt = '\0';
            dflt += 2;
        }
        const char *val = getenv(name);
        if (!val && !dflt)
            return cfg_fail(c, n, path, "environment variable %s is not set", name);
        cdc_buf_puts(b, val ? val : dflt);
        q = end;
    }
    return CDC_OK;
}

/* The scalar's text after expansion, in a buffer the caller deinits. */
static cdc_err_t
scalar_text(cfg_t *c, yaml_node_t *n, const char *path, const char *want, cdc_buf_t *b)
{
    cdc_buf_init(b);
    if (!n || n->type != YAML_SCALAR_NODE || cfg_is_null(n))
        return cfg_fail(c, n, path, "expected %s, got %s", want, n ? node_kind(n) : "nothing");
    cdc_buf_reserve(b, n->data.scalar.length);
    cdc_err_t err = expand_vars(c, n, path, (const char *)n->data.scalar.value, b);
    if (err)
        cdc_buf_deinit(b);
    return err;
}

cdc_err_t
cfg_str(cfg_t *c, yaml_node_t *n, const char *path, char **out)
{
    cdc_buf_t b;
    cdc_err_t err = scalar_text(c, n, path, "a string", &b);
    if (err)
        return err;
    free(*out);
    *out = b.data ? b.data : cdc_xstrdup("");
    return CDC_OK;
}

cdc_err_t
cfg_int(cfg_t *c, yaml_node_t *n, const char *path, int64_t min, int64_t max, int64_t *out)
{
    cdc_buf_t b;
    cdc_err_t err = scalar_text(c, n, path, "an integer", &b);
    if (err)
        return err;
    char *end;
    errno = 0;
    long long v = b.len ? strtoll(b.data, &end, 10) : 0;
    bool ok = b.len && !errno && !*end;
    cdc_buf_deinit(&b);
    if (!ok)
        return cfg_fail(c, n, path, "expected an integer");
    if (v < min || v > max)
        return cfg_fail(c, n, path, "must be between %lld and %lld", (long long)min,
                        (long long)max);
    *out = v;
    return CDC_OK;
}

cdc_err_t
cfg_int32(cfg_t *c, yaml_node_t *n, const char *path, int min, int max, int *out)
{
    int64_t v = 0; /* set by cfg_int on success; -O3 cannot see it */
    cdc_err_t err = cfg_int(c, n, path, min, max, &v);
    if (!err)
        *out = (int)v;
    return err;
}

cdc_err_t
cfg_bool(cfg_t *c, yaml_node_t *n, const char *path, bool *out)
{
    static const char *const names[] = {"false", "true", "False", "True", "FALSE", "TRUE", NULL};
    cdc_buf_t b;
    cdc_err_t err = scalar_text(c, n, path, "true or false", &b);
    if (err)
        return err;
    int found = -1;
    for (int i = 0; names[i]; i++)
        if (!strcmp(b.data ? b.data : "", names[i]))
            found = i;
    cdc_buf_deinit(&b);
    if (found < 0)
        return cfg_fail(c, n, path, "expected true or false");
    *out = found % 2 == 1;
    return CDC_OK;
}

cdc_err_t
cfg_enum(cfg_t *c, yaml_node_t *n, const char *path, const char *const *names, int *out)
{
    cdc_buf_t b, list;
    cdc_err_t err = scalar_text(c, n, path, "a string", &b);
    if (err)
        return err;
    for (int i = 0; names[i]; i++) {
        if (!strcmp(b.data ? b.data : "", names[i])) {
            *out = i;
            cdc_buf_deinit(&b);
            return CDC_OK;
        }
    }
    cdc_buf_init(&list);
    for (int i = 0; names[i]; i++)
        cdc_buf_printf(&list, "%s%s", i ? " | " : "", names[i]);
    err = cfg_fail(c, n, path, "'%.64s' is not one of %s", b.data ? b.data : "", list.data);
    cdc_buf_deinit(&b);
    cdc_buf_deinit(&list);
    return err;
}

cdc_err_t
cfg_str_list(cfg_t *c, yaml_node_t *n, const char *path, char ***out, size_t *n_out)
{
    yaml_node_t **items;
    size_t count;
    cdc_err_t err = cfg_seq(c, n, path, &items, &count);
    if (err)
        return err;
    char **list = cdc_xcalloc(count + 1, sizeof(*list));
    char ip[CFG_PATH_MAX];
    for (size_t i = 0; i < count && !err; i++) {
        cfg_path_idx(ip, path, i);
        err = cfg_str(c, items[i], ip, &list[i]);
    }
    free(items);
    *out = list; /* owned by the caller even on error, so it can be freed */
    *n_out = count;
    return err;
}

typedef struct {
    cdc_kv_t *kv;
    size_t n;
} kv_acc_t;

static cdc_err_t
kv_add(cfg_t *c, const char *key, yaml_node_t *val, const char *path, void *obj)
{
    kv_acc_t *acc = obj;
    char *v = NULL;
    cdc_err_t err = cfg_str(c, val, path, &v);
    if (err)
        return err;
    acc->kv[acc->n].key = cdc_xstrdup(key);
    acc->kv[acc->n].value = v;
    acc->n++;
    return CDC_OK;
}

cdc_err_t
cfg_str_map(cfg_t *c, yaml_node_t *n, const char *path, cdc_kv_t **out, size_t *n_out)
{
    if (!n || n->type != YAML_MAPPING_NODE)
        return cfg_fail(c, n, path, "expected a mapping, got %s", n ? node_kind(n) : "nothing");
    size_t count = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    const char **keys = cdc_xcalloc(count + 1, sizeof(*keys));
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, n->data.mapping.pairs.start[i].key);
        keys[i] = k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value : "";
    }
    kv_acc_t acc = {cdc_xcalloc(count + 1, sizeof(cdc_kv_t)), 0};
    cdc_err_t err = cfg_map(c, n, path, keys, NULL, kv_add, &acc);
    free(keys);
    *out = acc.kv;
    *n_out = acc.n;
    return err;
}

cdc_err_t
cfg_secret_env(cfg_t *c, yaml_node_t *n, const char *path, char **out)
{
    char *name = NULL;
    cdc_err_t err = cfg_str(c, n, path, &name);
    if (err)
        return err;
    const char *val = getenv(name);
    if (!val)
        err = cfg_fail(c, n, path, "environment variable %s is not set", name);
    else
        *out = cdc_xstrdup(val);
    free(name);
    return err;
}

cdc_err_t
cfg_secret_file(cfg_t *c, yaml_node_t *n, const char *path, char **out)
{
    char *fname = NULL;
    cdc_err_t err = cfg_str(c, n, path, &fname);
    if (err)
        return err;
    /* opened without blocking and read only if a regular file: a FIFO or a device would hang
     * the start (or read forever) */
    struct stat st;
    int fd = open(fname, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    bool regular = fd >= 0 && !fstat(fd, &st) && S_ISREG(st.st_mode);
    FILE *f = regular ? fdopen(fd, "rb") : NULL;
    if (!f) {
        err = cfg_fail(c, n, path, "cannot read %s: %s", fname,
                       fd < 0    ? strerror(errno)
                       : regular ? "cannot open"
                                 : "not a regular file");
        if (fd >= 0)
            close(fd);
        free(fname);
        return err;
    }
    char *buf = cdc_xmalloc(SECRET_MAX_BYTES + 1);
    size_t len = fread(buf, 1, SECRET_MAX_BYTES + 1, f);
    bool bad = ferror(f);
    fclose(f);
    if (bad || len > SECRET_MAX_BYTES) {
        err = cfg_fail(c, n, path, "cannot read %s: %s", fname,
                       bad ? "read error" : "file larger than 64 KiB");
        free(buf);
        free(fname);
        return err;
    }
    if (len && buf[len - 1] == '\n')
        len--;
    if (len && buf[len - 1] == '\r')
        len--;
    buf[len] = '\0';
    free(fname);
    *out = buf;
    return CDC_OK;
}

/* "a.b": exactly two non-empty parts split at the first dot. */
bool
cfg_two_part(const char *s)
{
    const char *dot = strchr(s, '.');
    return dot && dot != s && dot[1];
}

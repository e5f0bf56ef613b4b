/*
 * Config sections that describe databases: sources, sinks and their routes, plus the checks that
 * span them (duplicate names and server ids, topic collisions).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/buf.h"
#include "cdc/connector.h"
#include "cdc/topic.h"
#include "config_internal.h"

/* ---- database connections (sources and sinks) ----------------------------------------------- */

/* Keys shared by sources and sinks for reaching their database. */
static cdc_err_t
conn_key(cfg_t *c, const char *key, yaml_node_t *v, const char *path, cdc_db_conn_t *conn,
         bool *handled)
{
    *handled = true;
    if (!strcmp(key, "conninfo"))
        return cfg_str(c, v, path, &conn->conninfo);
    if (!strcmp(key, "host"))
        return cfg_str(c, v, path, &conn->host);
    if (!strcmp(key, "port"))
        return cfg_int32(c, v, path, 1, 65535, &conn->port);
    if (!strcmp(key, "user"))
        return cfg_str(c, v, path, &conn->user);
    if (!strcmp(key, "database"))
        return cfg_str(c, v, path, &conn->database);
    if (!strcmp(key, "ssl_mode")) {
        static const char *const modes[] = {"preferred", "disabled",        "required",
                                            "verify_ca", "verify_identity", NULL};
        int e;
        cdc_err_t err = cfg_enum(c, v, path, modes, &e);
        if (!err)
            conn->ssl_mode = (cdc_ssl_mode_t)e;
        return err;
    }
    if (!strcmp(key, "ssl_ca"))
        return cfg_str(c, v, path, &conn->ssl_ca);
    if (!strcmp(key, "ssl_cert"))
        return cfg_str(c, v, path, &conn->ssl_cert);
    if (!strcmp(key, "ssl_key"))
        return cfg_str(c, v, path, &conn->ssl_key);
    if (!strcmp(key, "password"))
        return cfg_fail(c, v, path, "secrets only through password_env or password_file");
    if (!strcmp(key, "password_env") || !strcmp(key, "password_file")) {
        if (conn->password)
            return cfg_fail(c, v, path, "set either password_env or password_file, not both");
        return key[9] == 'e' ? cfg_secret_env(c, v, path, &conn->password)
                             : cfg_secret_file(c, v, path, &conn->password);
    }
    *handled = false;
    return CDC_OK;
}

/* Checks the connection keys fit the database type once the whole mapping is read. */
static cdc_err_t
conn_validate(cfg_t *c, yaml_node_t *n, const char *path, cdc_db_type_t type, cdc_db_conn_t *conn)
{
    return cdc_connector_find(type)->conf->conn_check(c, n, path, conn);
}

static cdc_err_t
db_type(cfg_t *c, yaml_node_t *v, const char *path, cdc_db_type_t *out)
{
    const char *types[8];
    size_t n = 0;
    for (const cdc_connector_t *k; n < 7 && (k = cdc_connector_at(n));)
        types[n++] = k->name;
    types[n] = NULL;
    int e;
    cdc_err_t err = cfg_enum(c, v, path, types, &e);
    if (!err)
        *out = cdc_connector_at((size_t)e)->type;
    return err;
}

/* ---- sources -------------------------------------------------------------------------------- */

/* The keys of every source; each database adds its own (cdc_connector_conf_t). */
static const char *const source_common_keys[] = {
    "name",         "type",         "conninfo",      "host",     "port",    "user",
    "password",     "password_env", "password_file", "database", "tables",  "snapshot",
    "heartbeat_ms", "ssl_mode",     "ssl_ca",        "ssl_cert", "ssl_key", NULL};
/* ... and what it publishes */
static const char *const source_publish_keys[] = {"capture_sink_changes", NULL};
static const char *const source_required[] = {"name", "type", "tables", NULL};
#define SOURCE_KEYS_MAX 64

/* The common keys, then every database's own. */
static void
source_keys(const char **out)
{
    size_t n = 0;
    for (size_t i = 0; source_common_keys[i]; i++)
        out[n++] = source_common_keys[i];
    for (size_t i = 0; source_publish_keys[i]; i++)
        out[n++] = source_publish_keys[i];
    const cdc_connector_t *k;
    for (size_t i = 0; (k = cdc_connector_at(i)); i++)
        for (size_t j = 0; k->conf->source_keys[j] && n < SOURCE_KEYS_MAX - 1; j++)
            out[n++] = k->conf->source_keys[j];
    out[n] = NULL;
}

/* The database whose own key this is, or NULL. */
static const cdc_connector_t *
key_owner(const char *key)
{
    const cdc_connector_t *k;
    for (size_t i = 0; (k = cdc_connector_at(i)); i++)
        if (cfg_in_list(key, k->conf->source_keys))
            return k;
    return NULL;
}

static cdc_err_t
source_table(cfg_t *c, yaml_node_t *v, const char *path, cdc_source_conf_t *s, size_t i)
{
    static const char *const keys[] = {"table", "topic", "transforms", "exclude", NULL};
    static const char *const required[] = {"table", NULL};
    char kp[CFG_PATH_MAX];
    yaml_node_t *tn = v;
    if (v && v->type == YAML_MAPPING_NODE) {
        cdc_err_t err = cfg_map(c, v, path, keys, required, NULL, NULL);
        if (err)
            return err;
        tn = cfg_map_get(c, v, "table");
        cfg_path_key(kp, path, "topic");
        yaml_node_t *topic = cfg_map_get(c, v, "topic");
        if (topic && (err = cfg_str(c, topic, kp, &s->table_topics[i])))
            return err;
        cfg_path_key(kp, path, "transforms");
        yaml_node_t *tr = cfg_map_get(c, v, "transforms");
        if (tr && (err = cfg_transforms(c, tr, kp, &s->table_transforms[i])))
            return err;
        cfg_path_key(kp, path, "exclude");
        yaml_node_t *ex = cfg_map_get(c, v, "exclude");
        if (ex && (err = cfg_exclude(c, ex, kp, &s->table_transforms[i])))
            return err;
        cfg_path_key(kp, path, "table");
        path = kp;
    }
    cdc_err_t err = cfg_str(c, tn, path, &s->tables[i]);
    if (!err && !cfg_two_part(s->tables[i]))
        return cfg_fail(c, tn, path, "expected %s.<table>, got '%.64s'",
                        cdc_connector_find(s->type)->conf->table_form, s->tables[i]);
    return err;
}

static cdc_err_t
source_tables(cfg_t *c, yaml_node_t *v, const char *path, cdc_source_conf_t *s)
{
    yaml_node_t **items;
    size_t n;
    cdc_err_t err = cfg_seq(c, v, path, &items, &n);
    if (err)
        return err;
    if (n == 0) {
        free(items);
        return cfg_fail(c, v, path, "list at least one table");
    }
    s->tables = cdc_xcalloc(n, sizeof(char *));
    s->table_topics = cdc_xcalloc(n, sizeof(char *));
    s->table_transforms = cdc_xcalloc(n, sizeof(cdc_transforms_t));
    s->n_tables = n;
    char ip[CFG_PATH_MAX];
    for (size_t i = 0; i < n && !err; i++) {
        cfg_path_idx(ip, path, i);
        err = source_table(c, items[i], ip, s, i);
        for (size_t j = 0; !err && j < i; j++)
            if (!strcmp(s->tables[i], s->tables[j]))
                err = cfg_fail(c, items[i], ip, "table %s listed twice", s->tables[i]);
    }
    free(items);
    return err;
}

static cdc_err_t
source_key(cfg_t *c, const char *key, yaml_node_t *v, const char *path, void *obj)
{
    cdc_source_conf_t *s = obj;
    static const char *const modes[] = {"initial", "never", NULL};
    bool handled;
    int e;
    cdc_err_t err = conn_key(c, key, v, path, &s->conn, &handled);
    if (handled)
        return err;
    if (!strcmp(key, "name"))
        return cfg_name(c, v, path, &s->name);
    if (!strcmp(key, "type"))
        return db_type(c, v, path, &s->type);
    if (!strcmp(key, "tables"))
        return source_tables(c, v, path, s);
    const cdc_connector_t *owner = key_owner(key);
    if (owner && owner->type != s->type)
        return cfg_fail(c, v, path, "only for %s sources", owner->name);
    if (owner)
        return owner->conf->source_key(c, key, v, path, s);
    if (!strcmp(key, "heartbeat_ms"))
        return cfg_int32(c, v, path, 100, 3600000, &s->heartbeat_ms);
    if (!strcmp(key, "capture_sink_changes"))
        return cfg_bool(c, v, path, &s->capture_sink_changes);
    if (!(err = cfg_enum(c, v, path, modes, &e)))
        s->snapshot = (cdc_snapshot_mode_t)e;
    return err;
}

static cdc_err_t
source_one(cfg_t *c, yaml_node_t *n, const char *path, cdc_source_conf_t *s)
{
    char kp[CFG_PATH_MAX];
    s->heartbeat_ms = 10000;
    s->line = n ? (int)n->start_mark.line + 1 : 0;
    /* type first: other keys are checked against it */
    yaml_node_t *type = cfg_map_get(c, n, "type");
    cfg_path_key(kp, path, "type");
    cdc_err_t err = type ? db_type(c, type, kp, &s->type) : CDC_OK;
    const char *keys[SOURCE_KEYS_MAX];
    source_keys(keys);
    if (!err)
        err = cfg_map(c, n, path, keys, source_required, source_key, s);
    if (!err)
        err = conn_validate(c, n, path, s->type, &s->conn);
    if (!err)
        err = cdc_connector_find(s->type)->conf->source_check(c, n, path, s);
    return err;
}

/* One element of sources[]: read it, then compare it with the ones before it. */
static cdc_err_t
source_item(cfg_t *c, yaml_node_t *item, const char *path, size_t i, void *ctx)
{
    cdc_config_t *cfg = ctx;
    cdc_source_conf_t *s = &cfg->sources[i];
    cdc_err_t err = source_one(c, item, path, s);
    char why[300];
    for (size_t j = 0; j < i && !err; j++) {
        const cdc_source_conf_t *o = &cfg->sources[j];
        if (!strcmp(o->name, s->name))
            err = cfg_fail(c, item, path, "duplicate source name '%s' (also sources[%zu])", s->name,
                           j);
        else if (s->type == o->type &&
                 cdc_connector_find(s->type)->conf->same_stream(s, o, why, sizeof(why)))
            err = cfg_fail(c, item, path, "%s also used by sources[%zu]", why, j);
    }
    return err;
}

cdc_err_t
cfg_sources(cfg_t *c, yaml_node_t *n, const char *path, cdc_config_t *cfg)
{
    return cfg_list(c, n, path, sizeof(cdc_source_conf_t), (void **)&cfg->sources, &cfg->n_sources,
                    source_item, cfg);
}

/* ---- sinks and routes ----------------------------------------------------------------------- */

static const char *const sink_keys[] = {
    "name",     "type",       "conninfo",     "host",           "port",
    "user",     "password",   "password_env", "password_file",  "database",
    "routes",   "batch_size", "batch_ms",     "ssl_mode",       "ssl_ca",
    "ssl_cert", "ssl_key",    "lock_wait_s",  "max_rows_per_s", NULL};
static const char *const sink_required[] = {"name", "type", "routes", NULL};
static const char *const route_keys[] = {
    "from",     "to",        "topic",     "columns",    "constants", "key",   "on_unknown_column",
    "truncate", "fk_checks", "conflict",  "lww_column", "tie_break", "owner", "deletes",
    "link",     "match_on",  "translate", "transforms", NULL};
static const char *const route_required[] = {"from", "to", NULL};

/* owner: { <source>: [target columns], ... }, kept as column -> source. */
static cdc_err_t
owner_group(cfg_t *c, const char *key, yaml_node_t *v, const char *path, void *obj)
{
    cdc_route_conf_t *r = obj;
    char **cols;
    size_t n;
    cdc_err_t err = cfg_str_list(c, v, path, &cols, &n);
    for (size_t i = 0; !err && i < n; i++) {
        for (size_t j = 0; j < r->n_owner; j++)
            if (!strcmp(r->owner[j].key, cols[i])) {
                char ip[CFG_PATH_MAX];
                cfg_path_idx(ip, path, i);
                err = cfg_fail(c, v, ip, "column '%s' already has an owner (%s)", cols[i],
                               r->owner[j].value);
                break;
            }
        if (err)
            break;
        r->owner = cdc_xrealloc(r->owner, (r->n_owner + 1) * sizeof(cdc_kv_t));
        r->owner[r->n_owner++] = (cdc_kv_t){cdc_xstrdup(cols[i]), cdc_xstrdup(key)};
    }
    cfg_free_list(cols, n);
    return err;
}

static cdc_err_t
route_owner(cfg_t *c, yaml_node_t *v, const char *path, cdc_route_conf_t *r)
{
    if (!v || v->type != YAML_MAPPING_NODE)
        return cfg_fail(c, v, path, "expected a mapping of source names to target columns");
    size_t count = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
    const char **keys = cdc_xcalloc(count + 1, sizeof(*keys));
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, v->data.mapping.pairs.start[i].key);
        keys[i] = k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value : "";
    }
    cdc_err_t err = cfg_map(c, v, path, keys, NULL, owner_group, r);
    free(keys);
    return err;
}

static cdc_err_t
soft_key(cfg_t *c, const char *key, yaml_node_t *v, const char *path, void *obj)
{
    cdc_route_conf_t *r = obj;
    return cfg_str(c, v, path, !strcmp(key, "soft") ? &r->soft_column : &r->soft_value);
}

static cdc_err_t
link_key(cfg_t *c, const char *key, yaml_node_t *v, const char *path, void *obj)
{
    cdc_route_conf_t *r = obj;
    if (!strcmp(key, "map"))
        return cfg_name(c, v, path, &r->link_map);
    return cfg_str(c, v, path, &r->link_key);
}

/* link: {map: <name>, key: <the target's own key column>}, with one route key column. */
static cdc_err_t
route_link(cfg_t *c, yaml_node_t *v, const char *path, cdc_route_conf_t *r)
{
    static const char *const keys[] = {"map", "key", NULL};
    return cfg_map(c, v, path, keys, keys, link_key, r);
}

/* deletes: apply | ignore | {soft: <column>[, value: <value>]} */
static cdc_err_t
route_deletes(cfg_t *c, yaml_node_t *v, const char *path, cdc_route_conf_t *r)
{
    static const char *const modes[] = {"apply", "ignore", NULL};
    static const char *const soft_keys[] = {"soft", "value", NULL};
    static const char *const soft_required[] = {"soft", NULL};
    if (v && v->type == YAML_MAPPING_NODE) {
        r->deletes = CDC_DELETES_SOFT;
        return cfg_map(c, v, path, soft_keys, soft_required, soft_key, r);
    }
    int e;
    cdc_err_t err = cfg_enum(c, v, path, modes, &e);
    if (!err)
        r->deletes = (cdc_deletes_t)e;
    return err;
}

static cdc_err_t
route_key(cfg_t *c, const char *key, yaml_node_t *v, const char *path, void *obj)
{
    cdc_route_conf_t *r = obj;
    static const char *const unknown[] = {"fail", "ignore", "add", NULL};
    static const char *const trunc[] = {"ignore", "apply", NULL};
    static const char *const conflict[] = {"none", "source_wins", "target_wins",
                                           "lww",  "owner",       NULL};
    int e;
    cdc_err_t err;
    if (!strcmp(key, "from")) {
        if ((err = cfg_str(c, v, path, &r->from)))
            return err;
        const char *dot = strchr(r->from, '.');
        return dot && dot != r->from && cfg_two_part(dot + 1)
                   ? CDC_OK
                   : cfg_fail(c, v, path, "expected <source>.<schema or db>.<table>");
    }
    if (!strcmp(key, "to")) {
        if ((err = cfg_str(c, v, path, &r->to)))
            return err;
        return cfg_two_part(r->to) ? CDC_OK
                                   : cfg_fail(c, v, path, "expected <schema or db>.<table>");
    }
    if (!strcmp(key, "topic"))
        return cfg_str(c, v, path, &r->topic);
    if (!strcmp(key, "columns"))
        return cfg_str_map(c, v, path, &r->columns, &r->n_columns);
    if (!strcmp(key, "constants"))
        return cfg_str_map(c, v, path, &r->constants, &r->n_constants);
    if (!strcmp(key, "key"))
        return cfg_str_list(c, v, path, &r->key, &r->n_key);
    if (!strcmp(key, "transforms"))
        return cfg_transforms(c, v, path, &r->transforms);
    if (!strcmp(key, "fk_checks"))
        return cfg_bool(c, v, path, &r->fk_checks);
    if (!strcmp(key, "truncate")) {
        if (!(err = cfg_enum(c, v, path, trunc, &e)))
            r->truncate = (cdc_truncate_mode_t)e;
        return err;
    }
    if (!strcmp(key, "conflict")) {
        if (!(err = cfg_enum(c, v, path, conflict, &e)))
            r->conflict = (cdc_conflict_t)e;
        return err;
    }
    if (!strcmp(key, "lww_column"))
        return cfg_str(c, v, path, &r->lww_column);
    if (!strcmp(key, "tie_break"))
        return cfg_str_list(c, v, path, &r->tie_break, &r->n_tie_break);
    if (!strcmp(key, "owner"))
        return route_owner(c, v, path, r);
    if (!strcmp(key, "deletes"))
        return route_deletes(c, v, path, r);
    if (!strcmp(key, "link"))
        return route_link(c, v, path, r);
    if (!strcmp(key, "match_on"))
        return cfg_str_list(c, v, path, &r->match_on, &r->n_match_on);
    if (!strcmp(key, "translate"))
        return cfg_str_map(c, v, path, &r->translate, &r->n_translate);
    if (!(err = cfg_enum(c, v, path, unknown, &e)))
        r->on_unknown_column = (cdc_unknown_column_t)e;
    return err;
}

/* The keys of a conflict policy: lww needs lww_column and a tie_break naming the route's source,
 * owner needs owner; neither is taken without its policy. */
static cdc_err_t
conflict_validate(cfg_t *c, yaml_node_t *n, const char *path, const cdc_route_conf_t *r)
{
    char kp[CFG_PATH_MAX];
    bool lww = r->conflict == CDC_CONFLICT_LWW, owner = r->conflict == CDC_CONFLICT_OWNER;
    const char *stray = !lww && r->lww_column  ? "lww_column"
                        : !lww && r->tie_break ? "tie_break"
                        : !owner && r->owner   ? "owner"
                                               : NULL;
    if (stray) {
        cfg_path_key(kp, path, stray);
        return cfg_fail(c, cfg_map_get(c, n, stray), kp, "only with conflict: %s",
                        !strcmp(stray, "owner") ? "owner" : "lww");
    }
    if (lww && (!r->lww_column || !r->tie_break)) {
        cfg_path_key(kp, path, r->lww_column ? "tie_break" : "lww_column");
        return cfg_fail(c, n, kp, "required with conflict: lww (%s)",
                        r->lww_column ? "the sources in the order that wins equal timestamps, "
                                        "the same list on both directions' routes"
                                      : "the target column that orders versions, e.g. updated_at");
    }
    bool named = false;
    for (size_t i = 0; lww && i < r->n_tie_break; i++)
        named |= !strcmp(r->tie_break[i], r->source);
    if (lww && !named) {
        cfg_path_key(kp, path, "tie_break");
        return cfg_fail(c, cfg_map_get(c, n, "tie_break"), kp,
                        "name this route's source '%s' among the sources", r->source);
    }
    if (owner && !r->owner) {
        cfg_path_key(kp, path, "owner");
        return cfg_fail(c, n, kp,
                        "required with conflict: owner ({<source>: [target columns it owns]})");
    }
    named = false;
    for (size_t i = 0; owner && i < r->n_owner; i++)
        named |= !strcmp(r->owner[i].value, r->source);
    if (owner && !named) {
        cfg_path_key(kp, path, "owner");
        return cfg_fail(c, cfg_map_get(c, n, "owner"), kp,
                        "name this route's source '%s' with the columns it owns (its updates "
                        "write only those)",
                        r->source);
    }
    return CDC_OK;
}

/* A linked route names the one column holding the source's key (key) and the target's own key
 * (link.key), which differ. */
static cdc_err_t
link_validate(cfg_t *c, yaml_node_t *n, const char *path, const cdc_route_conf_t *r)
{
    char kp[CFG_PATH_MAX];
    if (r->match_on && !r->link_map) {
        cfg_path_key(kp, path, "match_on");
        return cfg_fail(c, cfg_map_get(c, n, "match_on"), kp,
                        "only with link (it links a new record to an unlinked one)");
    }
    if (!r->link_map)
        return CDC_OK;
    if (r->n_key != 1) {
        cfg_path_key(kp, path, "key");
        return cfg_fail(c, n, kp,
                        "a linked route needs key: [the one target column that holds the "
                        "source's key]");
    }
    if (!strcmp(r->key[0], r->link_key)) {
        cfg_path_key(kp, path, "link");
        return cfg_fail(c, cfg_map_get(c, n, "link"), kp,
                        "link.key is the target's own key, not the column holding the source's "
                        "key (%s)",
                        r->key[0]);
    }
    return CDC_OK;
}

/* Target names must be unique and the key must be among them. */
static cdc_err_t
route_validate(cfg_t *c, yaml_node_t *n, const char *path, const cdc_route_conf_t *r)
{
    char kp[CFG_PATH_MAX], key_path[CFG_PATH_MAX];
    cfg_path_key(key_path, path, "key");
    for (size_t i = 0; i < r->n_columns + r->n_constants; i++) {
        const char *ti =
            i < r->n_columns ? r->columns[i].value : r->constants[i - r->n_columns].key;
        for (size_t j = 0; j < i; j++) {
            const char *tj =
                j < r->n_columns ? r->columns[j].value : r->constants[j - r->n_columns].key;
            if (!strcmp(ti, tj))
                return cfg_fail(c, n, path, "target column '%s' is written twice", ti);
        }
    }
    for (size_t k = 0; r->n_columns && k < r->n_key; k++) {
        bool found = false;
        for (size_t i = 0; i < r->n_columns; i++)
            found |= !strcmp(r->columns[i].value, r->key[k]);
        for (size_t i = 0; i < r->n_constants; i++)
            found |= !strcmp(r->constants[i].key, r->key[k]);
        cfg_path_idx(kp, key_path, k);
        if (!found)
            return cfg_fail(c, n, kp, "key column '%s' is not a target of columns or constants",
                            r->key[k]);
    }
    return CDC_OK;
}

static cdc_err_t
route_item(cfg_t *c, yaml_node_t *item, const char *path, size_t i, void *ctx)
{
    cdc_sink_conf_t *s = ctx;
    cdc_route_conf_t *r = &s->routes[i];
    r->line = item ? (int)item->start_mark.line + 1 : 0;
    cdc_err_t err = cfg_map(c, item, path, route_keys, route_required, route_key, r);
    if (!err)
        r->source = cdc_xstrndup(r->from, strcspn(r->from, "."));
    if (!err)
        err = route_validate(c, item, path, r);
    if (!err)
        err = conflict_validate(c, item, path, r);
    if (!err)
        err = link_validate(c, item, path, r);
    for (size_t j = 0; !err && j < i; j++)
        if (!strcmp(r->from, s->routes[j].from) && !strcmp(r->to, s->routes[j].to))
            err = cfg_fail(c, item, path, "same route as routes[%zu]", j);
    return err;
}

static cdc_err_t
sink_routes(cfg_t *c, yaml_node_t *v, const char *path, cdc_sink_conf_t *s)
{
    cdc_err_t err = cfg_list(c, v, path, sizeof(cdc_route_conf_t), (void **)&s->routes,
                             &s->n_routes, route_item, s);
    if (!err && s->n_routes == 0)
        err = cfg_fail(c, v, path, "list at least one route");
    return err;
}

static cdc_err_t
sink_key(cfg_t *c, const char *key, yaml_node_t *v, const char *path, void *obj)
{
    cdc_sink_conf_t *s = obj;
    bool handled;
    cdc_err_t err = conn_key(c, key, v, path, &s->conn, &handled);
    if (handled)
        return err;
    if (!strcmp(key, "name"))
        return cfg_name(c, v, path, &s->name);
    if (!strcmp(key, "type"))
        return db_type(c, v, path, &s->type);
    if (!strcmp(key, "routes"))
        return sink_routes(c, v, path, s);
    if (!strcmp(key, "batch_size"))
        return cfg_int32(c, v, path, 1, 1000000, &s->batch_size);
    if (!strcmp(key, "lock_wait_s"))
        return cfg_int32(c, v, path, 0, 86400, &s->lock_wait_s);
    if (!strcmp(key, "max_rows_per_s"))
        return cfg_int(c, v, path, 0, 100000000, &s->max_rows_per_s);
    return cfg_int32(c, v, path, 0, 60000, &s->batch_ms);
}

static cdc_err_t
sink_item(cfg_t *c, yaml_node_t *item, const char *path, size_t i, void *ctx)
{
    cdc_config_t *cfg = ctx;
    cdc_sink_conf_t *s = &cfg->sinks[i];
    s->batch_size = 1000;
    s->batch_ms = 100;
    s->lock_wait_s = 60;
    s->line = item ? (int)item->start_mark.line + 1 : 0;
    cdc_err_t err = cfg_map(c, item, path, sink_keys, sink_required, sink_key, s);
    if (!err)
        err = conn_validate(c, item, path, s->type, &s->conn);
    for (size_t j = 0; !err && j < i; j++)
        if (!strcmp(cfg->sinks[j].name, s->name))
            err = cfg_fail(c, item, path, "duplicate sink name '%s' (also sinks[%zu])", s->name, j);
    return err;
}

cdc_err_t
cfg_sinks(cfg_t *c, yaml_node_t *n, const char *path, cdc_config_t *cfg)
{
    return cfg_list(c, n, path, sizeof(cdc_sink_conf_t), (void **)&cfg->sinks, &cfg->n_sinks,
                    sink_item, cfg);
}

/* ---- cross-checks and freeing --------------------------------------------------------------- */

cdc_err_t
cfg_check_topics(cfg_t *c, cdc_config_t *cfg)
{
    size_t total = 0, k = 0;
    for (size_t i = 0; i < cfg->n_sources; i++)
        total += cfg->sources[i].n_tables;
    char **names = cdc_xcalloc(total + 1, sizeof(char *));
    cdc_err_t err = CDC_OK;
    cdc_buf_t b;
    cdc_buf_init(&b);
    for (size_t i = 0; i < cfg->n_sources && !err; i++) {
        const cdc_source_conf_t *s = &cfg->sources[i];
        for (size_t t = 0; t < s->n_tables && !err; t++, k++) {
            char schema[256];
            const char *table = cdc_config_split_table(s->tables[t], schema, sizeof(schema));
            if (s->table_topics[t]) {
                cdc_buf_reset(&b);
                cdc_buf_puts(&b, s->table_topics[t]);
            } else if (cdc_topic_for_table(&b, cfg->kafka.topic_prefix, s->name, schema, table,
                                           c->es)) {
                err = cdc_errstr_set(c->es, CDC_ERR_CONFIG, "%s: sources[%zu].tables[%zu]: %s",
                                     c->file, i, t, c->es->msg);
            }
            names[k] = cdc_xstrdup(b.data ? b.data : "");
            for (size_t j = 0; !err && j < k; j++)
                if (!strcmp(names[j], names[k]))
                    err = cdc_errstr_set(c->es, CDC_ERR_CONFIG,
                                         "%s:%d: sources[%zu].tables[%zu]: topic %s is already "
                                         "used by another table; set a distinct topic",
                                         c->file, s->line, i, t, names[k]);
        }
    }
    cfg_free_list(names, k);
    cdc_buf_deinit(&b);
    return err;
}

void
cfg_free_secret(char *secret)
{
    if (!secret)
        return;
    /* do not leave the secret in freed heap */
    memset(secret, 0, strlen(secret));
    free(secret);
}

void
cfg_free_list(char **list, size_t n)
{
    if (!list)
        return;
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

void
cfg_free_kv(cdc_kv_t *kv, size_t n)
{
    if (!kv)
        return;
    for (size_t i = 0; i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(kv);
}

static void
conn_free(cdc_db_conn_t *c)
{
    free(c->conninfo);
    free(c->host);
    free(c->user);
    cfg_free_secret(c->password);
    free(c->database);
    free(c->ssl_ca);
    free(c->ssl_cert);
    free(c->ssl_key);
}

void
cfg_free_sources(cdc_config_t *cfg)
{
    for (size_t i = 0; cfg->sources && i < cfg->n_sources; i++) {
        cdc_source_conf_t *s = &cfg->sources[i];
        free(s->name);
        conn_free(&s->conn);
        cfg_free_list(s->tables, s->n_tables);
        cfg_free_list(s->table_topics, s->n_tables);
        for (size_t t = 0; s->table_transforms && t < s->n_tables; t++)
            cdc_transforms_free(&s->table_transforms[t]);
        free(s->table_transforms);
        free(s->slot);
        free(s->publication);
        free(s->signal_table);
        free(s->applied_by);
    }
    free(cfg->sources);
}

void
cfg_free_sinks(cdc_config_t *cfg)
{
    for (size_t i = 0; cfg->sinks && i < cfg->n_sinks; i++) {
        cdc_sink_conf_t *s = &cfg->sinks[i];
        free(s->name);
        free(s->applied_mark);
        conn_free(&s->conn);
        for (size_t r = 0; s->routes && r < s->n_routes; r++) {
            cdc_route_conf_t *rt = &s->routes[r];
            free(rt->from);
            free(rt->to);
            free(rt->topic);
            cfg_free_kv(rt->columns, rt->n_columns);
            cfg_free_kv(rt->constants, rt->n_constants);
            cfg_free_list(rt->key, rt->n_key);
            free(rt->lww_column);
            cfg_free_list(rt->tie_break, rt->n_tie_break);
            cfg_free_kv(rt->owner, rt->n_owner);
            free(rt->link_map);
            free(rt->link_key);
            cfg_free_list(rt->match_on, rt->n_match_on);
            cfg_free_kv(rt->translate, rt->n_translate);
            cdc_transforms_free(&rt->transforms);
            free(rt->soft_column);
            free(rt->soft_value);
            free(rt->source);
        }
        free(s->routes);
    }
    free(cfg->sinks);
}

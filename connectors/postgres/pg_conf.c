/*
 * The PostgreSQL part of the config: slot and publication, the libpq connection string, and the
 * rule that TLS goes into that string.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

#include "cdc/buf.h"
#include "pg.h"

static const char *const source_keys[] = {"slot", "publication", NULL};

static cdc_err_t
source_key(cfg_t *c, const char *key, yaml_node_t *v, const char *path, cdc_source_conf_t *s)
{
    return cfg_name(c, v, path, key[0] == 's' ? &s->slot : &s->publication);
}

/* Whether a connection string may hold a secret that libpq's parse error would quote: a
 * password or sslpassword keyword, or a URI's user:password@ part. */
static bool
may_hold_secret(const char *conninfo)
{
    if (strstr(conninfo, "pass"))
        return true;
    const char *scheme = strstr(conninfo, "://");
    if (!scheme)
        return false;
    const char *at = strchr(scheme + 3, '@'), *colon = strchr(scheme + 3, ':');
    return at && colon && colon < at;
}

static cdc_err_t
conn_check(cfg_t *c, yaml_node_t *n, const char *path, const cdc_db_conn_t *conn)
{
    static const char *const tls[] = {"ssl_mode", "ssl_ca", "ssl_cert", "ssl_key", NULL};
    char kp[CFG_PATH_MAX];
    for (size_t i = 0; tls[i]; i++) {
        yaml_node_t *v = cfg_map_get(c, n, tls[i]);
        cfg_path_key(kp, path, tls[i]);
        if (v)
            return cfg_fail(c, v, kp,
                            "only for mysql; PostgreSQL takes sslmode, sslrootcert, sslcert and "
                            "sslkey in its conninfo");
    }
    if (!conn->conninfo)
        return CDC_OK;
    cfg_path_key(kp, path, "conninfo");
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(conn->conninfo, &msg);
    if (!opts) {
        /* libpq's message can quote the string; keep it out if a secret may be there */
        bool quote = msg && !may_hold_secret(conn->conninfo);
        cdc_err_t err = cfg_fail(c, n, kp, "not a valid libpq connection string%s%s",
                                 quote ? ": " : "", quote ? msg : "");
        PQfreemem(msg);
        return err;
    }
    const char *why = NULL;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val || !*o->val)
            continue;
        if (!strcmp(o->keyword, "password"))
            why = "must not contain a password; use password_env or password_file";
        else if (!strcmp(o->keyword, "sslpassword"))
            why = "must not contain an sslpassword (a secret in the config file): give sslkey a "
                  "key file without a passphrase, readable by the agent's user only";
    }
    PQconninfoFree(opts);
    return why ? cfg_fail(c, n, kp, "%s", why) : CDC_OK;
}

/* Slot and publication default to cdc_<source name> ('-' becomes '_'). */
static cdc_err_t
source_check(cfg_t *c, yaml_node_t *n, const char *path, cdc_source_conf_t *s)
{
    char def[CFG_PATH_MAX];
    snprintf(def, sizeof(def), "cdc_%s", s->name);
    for (char *q = def; *q; q++)
        if (*q == '-')
            *q = '_';
    if (!s->slot)
        s->slot = cdc_xstrdup(def);
    if (!s->publication)
        s->publication = cdc_xstrdup(def);
    return CDC_OK;
}

/* One slot of one server has one reader. */
static bool
same_stream(const cdc_source_conf_t *a, const cdc_source_conf_t *b, char *why, size_t n)
{
    if (strcmp(a->slot, b->slot) ||
        strcmp(a->conn.conninfo ? a->conn.conninfo : "", b->conn.conninfo ? b->conn.conninfo : ""))
        return false;
    snprintf(why, n, "slot %s", a->slot);
    return true;
}

const cdc_connector_conf_t cdc_pg_conf = {"<schema>", source_keys,  source_key,
                                          conn_check, source_check, same_stream};

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
        /* libpq's message can quote parts of the string; keep it out if a password may be there */
        bool quote = msg && !strstr(conn->conninfo, "pass");
        cdc_err_t err = cfg_fail(c, n, kp, "not a valid libpq connection string%s%s",
                                 quote ? ": " : "", quote ? msg : "");
        PQfreemem(msg);
        return err;
    }
    bool has_password = false;
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (!strcmp(o->keyword, "password") && o->val && *o->val)
            has_password = true;
    PQconninfoFree(opts);
    return has_password ? cfg_fail(c, n, kp,
                                   "must not contain a password; use password_env or "
                                   "password_file")
                        : CDC_OK;
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

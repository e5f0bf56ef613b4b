/*
 * The MySQL / MariaDB part of the config: the replica id, the signal table, host-based
 * connections and their TLS keys.
 */
#include <stdio.h>
#include <string.h>

#include "cdc/buf.h"
#include "mysql_conn.h"

static const char *const source_keys[] = {"server_id", "signal_table", NULL};

static cdc_err_t
source_key(cfg_t *c, const char *key, yaml_node_t *v, const char *path, cdc_source_conf_t *s)
{
    cdc_err_t err;
    if (!strcmp(key, "server_id")) {
        int64_t id;
        if (!(err = cfg_int(c, v, path, 1, 4294967295LL, &id)))
            s->server_id = (uint32_t)id;
        return err;
    }
    err = cfg_str(c, v, path, &s->signal_table);
    if (!err && !cfg_two_part(s->signal_table))
        return cfg_fail(c, v, path, "expected <database>.<table>, got '%.64s'", s->signal_table);
    return err;
}

/* The TLS keys: each error names the key it is about. */
static cdc_err_t
tls_check(cfg_t *c, yaml_node_t *n, const char *path, const cdc_db_conn_t *conn)
{
    char kp[CFG_PATH_MAX];
    cfg_path_key(kp, path, "ssl_mode");
    yaml_node_t *mode = cfg_map_get(c, n, "ssl_mode");
    if (conn->ssl_mode >= CDC_SSL_VERIFY_CA && !conn->ssl_ca)
        return cfg_fail(c, mode, kp,
                        "%s needs ssl_ca (the CA that signed the server's certificate)",
                        conn->ssl_mode == CDC_SSL_VERIFY_CA ? "verify_ca" : "verify_identity");
    if (conn->ssl_mode == CDC_SSL_DISABLED && (conn->ssl_ca || conn->ssl_cert || conn->ssl_key))
        return cfg_fail(c, mode, kp, "disabled, yet ssl_ca, ssl_cert or ssl_key is set");
    if (!conn->ssl_cert != !conn->ssl_key) {
        const char *set = conn->ssl_cert ? "ssl_cert" : "ssl_key";
        cfg_path_key(kp, path, set);
        return cfg_fail(c, cfg_map_get(c, n, set), kp,
                        "a client certificate needs both ssl_cert and ssl_key");
    }
    return CDC_OK;
}

static cdc_err_t
conn_check(cfg_t *c, yaml_node_t *n, const char *path, const cdc_db_conn_t *conn)
{
    char kp[CFG_PATH_MAX];
    cdc_err_t err = tls_check(c, n, path, conn);
    if (err)
        return err;
    cfg_path_key(kp, path, "conninfo");
    if (conn->conninfo)
        return cfg_fail(c, n, kp, "only for postgresql; use host, port, user, database");
    if (!conn->host) {
        cfg_path_key(kp, path, "host");
        return cfg_fail(c, n, kp, "required key missing");
    }
    return CDC_OK;
}

/* server_id is required; the signal table defaults to cdc_signal in the first table's
 * database. */
static cdc_err_t
source_check(cfg_t *c, yaml_node_t *n, const char *path, cdc_source_conf_t *s)
{
    if (!s->server_id) {
        char kp[CFG_PATH_MAX];
        cfg_path_key(kp, path, "server_id");
        return cfg_fail(c, n, kp,
                        "required key missing (a replica id unique among the "
                        "server's replicas)");
    }
    if (!s->signal_table) {
        const char *t = s->tables[0], *dot = strchr(t, '.');
        cdc_buf_t b;
        cdc_buf_init(&b);
        cdc_buf_printf(&b, "%.*s.cdc_signal", (int)(dot - t), t);
        s->signal_table = b.data;
    }
    return CDC_OK;
}

/* One replica id per server. */
static bool
same_stream(const cdc_source_conf_t *a, const cdc_source_conf_t *b, char *why, size_t n)
{
    if (a->server_id != b->server_id || strcmp(a->conn.host, b->conn.host) ||
        a->conn.port != b->conn.port)
        return false;
    snprintf(why, n, "server_id %u", a->server_id);
    return true;
}

const cdc_connector_conf_t cdc_mysql_conf = {"<database>", source_keys,  source_key,
                                             conn_check,   source_check, same_stream};

/*
 * MySQL / MariaDB connections with MariaDB Connector/C, and the probe behind `cdc-agent check`:
 * binlog prerequisites of the contract (ROW format, FULL row image and metadata, no compression).
 */
#include <strings.h>
#include <stdio.h>
#include <string.h>

#include "cdc/connector.h"
#include "cdc/mysql.h"

MYSQL *
cdc_mysql_connect(const cdc_db_conn_t *conn, cdc_err_t *err, cdc_errstr_t *es)
{
    MYSQL *m = mysql_init(NULL);
    unsigned int timeout = 10;
    int port = conn->port ? conn->port : 3306;
    const char *host = conn->host ? conn->host : "127.0.0.1";
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    mysql_options(m, MYSQL_INIT_COMMAND, "SET time_zone = '+00:00'");
    if (mysql_real_connect(m, host, conn->user, conn->password, conn->database, (unsigned)port,
                           NULL, 0)) {
        *err = CDC_OK;
        return m;
    }
    unsigned int no = mysql_errno(m);
    *err = no == 1045 || no == 1044 || no == 1698 ? CDC_ERR_AUTH : CDC_ERR_CONNECT;
    cdc_errstr_set(es, *err, "mysql %s:%d: %s (%u)", host, port, mysql_error(m), no);
    mysql_close(m);
    return NULL;
}

/* @@name as text into out; false when the variable does not exist. */
static bool
sysvar(MYSQL *m, const char *name, char *out, size_t n)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT @@GLOBAL.%s", name);
    if (mysql_query(m, sql))
        return false;
    MYSQL_RES *r = mysql_store_result(m);
    MYSQL_ROW row = r ? mysql_fetch_row(r) : NULL;
    snprintf(out, n, "%s", row && row[0] ? row[0] : "");
    mysql_free_result(r);
    return row != NULL;
}

static void
require_var(MYSQL *m, cdc_probe_t *out, const char *name, const char *want)
{
    char v[64];
    if (!sysvar(m, name, v, sizeof(v)))
        cdc_probe_note(out, true, "%s is not supported by this server (needs %s)", name, want);
    else if (strcasecmp(v, want) != 0)
        cdc_probe_note(out, true, "%s is %s; set %s=%s in the server config and restart", name, v,
                       name, want);
}

static void
probe_source(MYSQL *m, cdc_probe_t *out)
{
    char v[64];
    if (sysvar(m, "log_bin", v, sizeof(v)) && strcmp(v, "1") != 0)
        cdc_probe_note(out, true,
                       "binary log is off; start the server with log_bin and "
                       "server_id set");
    require_var(m, out, "binlog_format", "ROW");
    require_var(m, out, "binlog_row_image", "FULL");
    require_var(m, out, "binlog_row_metadata", "FULL");
    if (sysvar(m, "log_bin_compress", v, sizeof(v)) && strcmp(v, "0") != 0)
        cdc_probe_note(out, true,
                       "log_bin_compress is on; set log_bin_compress=OFF (compressed "
                       "row events are not decoded)");
}

cdc_err_t
cdc_mysql_probe(const cdc_db_conn_t *conn, const cdc_source_conf_t *source, cdc_probe_t *out,
                cdc_errstr_t *es)
{
    cdc_err_t err;
    memset(out, 0, sizeof(*out));
    MYSQL *m = cdc_mysql_connect(conn, &err, es);
    if (!m)
        return err;
    snprintf(out->endpoint, sizeof(out->endpoint), "%s:%d", conn->host ? conn->host : "127.0.0.1",
             conn->port ? conn->port : 3306);
    snprintf(out->server_version, sizeof(out->server_version), "%s %s",
             strstr(mysql_get_server_info(m), "MariaDB") ? "MariaDB" : "MySQL",
             mysql_get_server_info(m));
    if (source)
        probe_source(m, out);
    mysql_close(m);
    return CDC_OK;
}

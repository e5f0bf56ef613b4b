/*
 * MySQL / MariaDB connections with MariaDB Connector/C, and the probe behind `cdc-agent check`:
 * binlog prerequisites of the contract (ROW format, FULL row image and metadata, no compression).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>
#include <unistd.h>

#include "cdc/clock.h"
#include "cdc/connector.h"
#include "cdc/offsets.h"
#include "mysql_conn.h"

#include "cdc/json.h"

/* TLS options of ssl_mode. Connector/C asks for TLS whenever the server offers it once
 * MYSQL_OPT_SSL_ENFORCE is set (it does not refuse a server that offers none: the caller checks
 * that for required and stricter), verifies the chain whenever a CA is given, and the host name
 * with MYSQL_OPT_SSL_VERIFY_SERVER_CERT. */
static void
tls_options(MYSQL *m, const cdc_db_conn_t *conn)
{
    my_bool yes = 1, identity = conn->ssl_mode == CDC_SSL_VERIFY_IDENTITY;
    if (conn->ssl_mode == CDC_SSL_DISABLED)
        return;
    mysql_options(m, MYSQL_OPT_SSL_ENFORCE, &yes);
    mysql_options(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &identity);
    if (conn->ssl_ca)
        mysql_options(m, MYSQL_OPT_SSL_CA, conn->ssl_ca);
    if (conn->ssl_cert)
        mysql_options(m, MYSQL_OPT_SSL_CERT, conn->ssl_cert);
    if (conn->ssl_key)
        mysql_options(m, MYSQL_OPT_SSL_KEY, conn->ssl_key);
}

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
    tls_options(m, conn);
    if (mysql_real_connect(m, host, conn->user, conn->password, conn->database, (unsigned)port,
                           NULL, 0)) {
        if (conn->ssl_mode < CDC_SSL_REQUIRED || mysql_get_ssl_cipher(m)) {
            *err = CDC_OK;
            return m;
        }
        *err = CDC_ERR_CONFIG;
        cdc_errstr_set(es, *err,
                       "mysql %s:%d: the server offers no TLS, and ssl_mode requires it (set "
                       "ssl_ca, ssl_cert and ssl_key on the server, or lower ssl_mode)",
                       host, port);
        mysql_close(m);
        return NULL;
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

static cdc_err_t replica_connected(MYSQL *m, uint32_t server_id, bool *yes, cdc_errstr_t *es);

/* REPLICATION SLAVE (MariaDB also says REPLICATION REPLICA) and REPLICATION CLIENT (BINLOG
 * MONITOR since MariaDB 10.5), from SHOW GRANTS of the current user. */
static void
check_grants(MYSQL *m, cdc_probe_t *out)
{
    if (mysql_query(m, "SHOW GRANTS"))
        return;
    MYSQL_RES *r = mysql_store_result(m);
    MYSQL_ROW row;
    bool all = false, slave = false, client = false;
    while (r && (row = mysql_fetch_row(r))) {
        const char *g = row[0] ? row[0] : "";
        if (strncmp(g, "GRANT ", 6) || !strstr(g, " ON *.* "))
            continue;
        all |= strstr(g, "ALL PRIVILEGES") != NULL;
        slave |= strstr(g, "REPLICATION SLAVE") || strstr(g, "REPLICATION REPLICA");
        client |= strstr(g, "REPLICATION CLIENT") || strstr(g, "BINLOG MONITOR");
    }
    mysql_free_result(r);
    if (!all && (!slave || !client))
        cdc_probe_note(out, true,
                       "user lacks %s%s%s on *.*; run GRANT REPLICATION SLAVE, REPLICATION CLIENT "
                       "ON *.* TO the user",
                       slave ? "" : "REPLICATION SLAVE", !slave && !client ? " and " : "",
                       client ? "" : "REPLICATION CLIENT");
}

void
cdc_mysql_source_problems(MYSQL *m, cdc_probe_t *out)
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
    /* MySQL only (MariaDB always commits in binlog order): snapshots while streaming read a
     * chunk right after a watermark committed, and every change before it in the binlog must be
     * visible by then */
    if (sysvar(m, "binlog_order_commits", v, sizeof(v)) &&
        (!strcmp(v, "0") || !strcasecmp(v, "OFF")))
        cdc_probe_note(out, true,
                       "binlog_order_commits is off; set binlog_order_commits=ON (snapshots "
                       "while streaming rely on commits becoming visible in binlog order)");
    check_grants(m, out);
}

/* server_id problems of a source: the server's own id, or one a connected replica uses. */
static void
check_server_id(MYSQL *m, const cdc_source_conf_t *source, cdc_probe_t *out)
{
    char v[32];
    cdc_errstr_t es = {{0}};
    bool taken = false;
    if (sysvar(m, "server_id", v, sizeof(v)) && strtoul(v, NULL, 10) == source->server_id)
        cdc_probe_note(out, true,
                       "server_id %u is the server's own; give source %s another server_id",
                       (unsigned)source->server_id, source->name);
    else if (!replica_connected(m, source->server_id, &taken, &es) && taken)
        cdc_probe_note(out, false,
                       "a replica with server_id %u is connected (this agent running, or another "
                       "replica: each needs its own server_id)",
                       (unsigned)source->server_id);
}

void
cdc_mysql_ident(cdc_buf_t *b, const char *s)
{
    cdc_buf_putc(b, '`');
    for (; *s; s++) {
        if (*s == '`')
            cdc_buf_putc(b, '`');
        cdc_buf_putc(b, *s);
    }
    cdc_buf_putc(b, '`');
}

/* The escape of a byte mysql_real_escape_string escapes (its second character), else 0. */
static char
escape_of(unsigned char c)
{
    switch (c) {
    case '\0':
        return '0';
    case '\n':
        return 'n';
    case '\r':
        return 'r';
    case 0x1a:
        return 'Z';
    case '\\':
    case '\'':
    case '"':
        return (char)c;
    default:
        return 0;
    }
}

/* What mysql_real_escape_string writes, by runs: in an ASCII-compatible character set such as
 * utf8mb4 (every session here) no byte of a multi-byte character is below 0x80, so the bytes to
 * escape are found 16 at a time (cdc_json_plain_span stops at each candidate) instead of one
 * character-set lookup per byte, which was a fifth of the MariaDB sink's CPU. Other character
 * sets, and sessions without backslash escapes, go through the library. */
void
cdc_mysql_literal(MYSQL *m, cdc_buf_t *b, const char *p, size_t n)
{
    cdc_buf_reserve(b, 2 * n + 3);
    b->data[b->len++] = '\'';
    const char *cs = mysql_character_set_name(m);
    if ((m->server_status & SERVER_STATUS_NO_BACKSLASH_ESCAPES) || !cs || strncmp(cs, "utf8", 4)) {
        b->len += mysql_real_escape_string(m, b->data + b->len, p, (unsigned long)n);
    } else {
        char *o = b->data + b->len;
        for (size_t i = 0; i < n;) {
            size_t run = cdc_json_plain_span(p + i, n - i);
            const char *q = memchr(p + i, '\'', run);
            if (q)
                run = (size_t)(q - (p + i));
            memcpy(o, p + i, run);
            o += run;
            i += run;
            for (; i < n && (unsigned char)p[i] >= 0x80; i++) /* a multi-byte character's bytes */
                *o++ = p[i];
            if (i < n) { /* below 0x80: escaped, or a plain byte after a multi-byte run */
                char e = escape_of((unsigned char)p[i]);
                if (e) {
                    *o++ = '\\';
                    *o++ = e;
                } else {
                    *o++ = p[i];
                }
                i++;
            }
        }
        b->len = (size_t)(o - b->data);
    }
    b->data[b->len++] = '\'';
    b->data[b->len] = '\0';
}

cdc_err_t
cdc_mysql_key_index(MYSQL *m, const char *db, const char *table, char *index, size_t index_size,
                    cdc_errstr_t *es)
{
    cdc_buf_t sql;
    cdc_buf_init(&sql);
    cdc_buf_puts(&sql, "SELECT INDEX_NAME, NULLABLE FROM information_schema.STATISTICS "
                       "WHERE NON_UNIQUE = 0 AND TABLE_SCHEMA = ");
    cdc_mysql_literal(m, &sql, db, strlen(db));
    cdc_buf_puts(&sql, " AND TABLE_NAME = ");
    cdc_mysql_literal(m, &sql, table, strlen(table));
    /* no ORDER BY: the rows come in the server's own key order (PRIMARY, then unique keys over
     * NOT NULL columns, ...), the order in which it picks the one it treats as primary */
    bool failed = mysql_query(m, sql.data) != 0;
    cdc_buf_deinit(&sql);
    index[0] = '\0';
    if (failed)
        return cdc_errstr_set(es, CDC_ERR_CONNECT, "mysql: reading the keys of %s.%s: %s (%u)", db,
                              table, mysql_error(m), mysql_errno(m));
    MYSQL_RES *r = mysql_store_result(m);
    MYSQL_ROW row;
    char cur[256] = "";
    bool cur_ok = false;
    /* one row per index column, grouped by index: the first group without a nullable column */
    while (r && (row = mysql_fetch_row(r))) {
        if (strcmp(cur, row[0])) {
            if (cur[0] && cur_ok)
                break;
            snprintf(cur, sizeof(cur), "%s", row[0]);
            cur_ok = true;
        }
        cur_ok &= !(row[1] && !strcmp(row[1], "YES"));
    }
    mysql_free_result(r);
    if (cur[0] && cur_ok)
        snprintf(index, index_size, "%s", cur);
    return CDC_OK;
}

void
cdc_mysql_signal_ddl(cdc_buf_t *out, const char *signal_table)
{
    char db[256];
    const char *table = cdc_config_split_table(signal_table, db, sizeof(db));
    cdc_buf_puts(out, "CREATE TABLE IF NOT EXISTS ");
    cdc_mysql_ident(out, db);
    cdc_buf_putc(out, '.');
    cdc_mysql_ident(out, table);
    cdc_buf_puts(out, " (id VARCHAR(64) NOT NULL PRIMARY KEY, type VARCHAR(32) NOT NULL, data "
                      "VARCHAR(2048) NULL) CHARACTER SET ascii");
}

/* The privileges the agent needs on the signal table (watermarks and requests are rows it writes):
 * INSERT and UPDATE, and CREATE while it does not exist, granted globally, on its database or
 * on the table (privileges held through roles are not seen here). */
static void
check_signal_grants(MYSQL *m, const char *db, const char *tb, bool exists, const char *name,
                    cdc_probe_t *out)
{
    static const char grantee[] = "CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), "
                                  "'''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')";
    cdc_buf_t sql;
    cdc_buf_init(&sql);
    cdc_buf_printf(&sql,
                   "SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES WHERE GRANTEE "
                   "= %s UNION SELECT PRIVILEGE_TYPE FROM information_schema.SCHEMA_PRIVILEGES "
                   "WHERE GRANTEE = %s AND TABLE_SCHEMA = ",
                   grantee, grantee);
    cdc_mysql_literal(m, &sql, db, strlen(db));
    cdc_buf_printf(&sql,
                   " UNION SELECT PRIVILEGE_TYPE FROM information_schema.TABLE_PRIVILEGES WHERE "
                   "GRANTEE = %s AND TABLE_SCHEMA = ",
                   grantee);
    cdc_mysql_literal(m, &sql, db, strlen(db));
    cdc_buf_puts(&sql, " AND TABLE_NAME = ");
    cdc_mysql_literal(m, &sql, tb, strlen(tb));
    MYSQL_RES *r = mysql_query(m, sql.data) ? NULL : mysql_store_result(m);
    if (!r) {
        cdc_buf_deinit(&sql);
        return;
    }
    static const char *const needed[] = {"INSERT", "UPDATE", "CREATE"};
    bool held[3] = {false, false, exists}; /* CREATE only while the table is missing */
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(r)))
        for (int i = 0; i < 3; i++)
            held[i] |= row[0] && !strcmp(row[0], needed[i]);
    mysql_free_result(r);
    cdc_buf_reset(&sql); /* now: the missing ones */
    for (int i = 0; i < 3; i++)
        if (!held[i])
            cdc_buf_printf(&sql, "%s%s", sql.len ? ", " : "", needed[i]);
    if (sql.len)
        cdc_probe_note(out, true,
                       "user lacks %s on signal table %s; run GRANT %s ON %s TO the user", sql.data,
                       name, sql.data, name);
    cdc_buf_deinit(&sql);
}

/* The signal table of snapshot watermarks and `cdc-agent snapshot` requests: noted when it does
 * not exist yet. */
static void
check_signal_table(MYSQL *m, const cdc_source_conf_t *source, cdc_probe_t *out)
{
    if (!source->signal_table)
        return;
    char db[256];
    const char *tb = cdc_config_split_table(source->signal_table, db, sizeof(db));
    cdc_buf_t sql;
    cdc_buf_init(&sql);
    cdc_buf_puts(&sql, "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ");
    cdc_mysql_literal(m, &sql, db, strlen(db));
    cdc_buf_puts(&sql, " AND TABLE_NAME = ");
    cdc_mysql_literal(m, &sql, tb, strlen(tb));
    bool failed = mysql_query(m, sql.data) != 0;
    cdc_buf_deinit(&sql);
    if (failed)
        return;
    MYSQL_RES *r = mysql_store_result(m);
    bool exists = r && mysql_num_rows(r) > 0;
    mysql_free_result(r);
    if (!exists)
        cdc_probe_note(out, false,
                       "signal table %s does not exist yet: it is created (CREATE, INSERT, UPDATE "
                       "needed) when an interrupted snapshot is resumed or a re-snapshot is asked "
                       "for (cdc-agent snapshot); or create it now",
                       source->signal_table);
    check_signal_grants(m, db, tb, exists, source->signal_table, out);
}

/* Whether a replica with server_id is connected (SHOW SLAVE HOSTS). */
static cdc_err_t
replica_connected(MYSQL *m, uint32_t server_id, bool *yes, cdc_errstr_t *es)
{
    *yes = false;
    if (mysql_query(m, "SHOW SLAVE HOSTS"))
        return cdc_errstr_set(es, CDC_ERR_CONNECT, "mysql: SHOW SLAVE HOSTS: %s (%u)",
                              mysql_error(m), mysql_errno(m));
    MYSQL_RES *r = mysql_store_result(m);
    MYSQL_ROW row;
    while (r && (row = mysql_fetch_row(r)))
        if (row[0] && strtoul(row[0], NULL, 10) == server_id)
            *yes = true;
    mysql_free_result(r);
    return CDC_OK;
}

/* replica_connected for a command that refuses while the agent runs: the binlog dump thread of an
 * agent that just stopped stays listed until the server's next heartbeat to it fails (the
 * source's heartbeat_ms), so a replica still listed is asked about again until then. */
static cdc_err_t
replica_running(MYSQL *m, const cdc_source_conf_t *conf, bool *yes, cdc_errstr_t *es)
{
    int64_t wait_ms = (conf->heartbeat_ms > 0 ? conf->heartbeat_ms : 10000) + 1000;
    int64_t until = cdc_mono_ms() + (wait_ms < 15000 ? wait_ms : 15000);
    cdc_err_t err;
    while (!(err = replica_connected(m, conf->server_id, yes, es)) && *yes && cdc_mono_ms() < until)
        usleep(100000);
    return err;
}

cdc_err_t
cdc_mysql_source_drop(const cdc_source_conf_t *conf, bool dry_run, cdc_errstr_t *es)
{
    (void)dry_run; /* nothing on the server to drop: the reset record forgets the position */
    cdc_err_t err;
    MYSQL *m = cdc_mysql_connect(&conf->conn, &err, es);
    if (!m)
        return err;
    bool running;
    err = replica_running(m, conf, &running, es);
    if (!err && running)
        err = cdc_errstr_set(es, CDC_ERR_FATAL,
                             "source %s is running: a replica with server_id %u reads the "
                             "binlog; stop the agent first",
                             conf->name, (unsigned)conf->server_id);
    mysql_close(m);
    return err;
}

/* Bytes of binlog from (file, pos) up to (now_file, now_pos), from SHOW BINARY LOGS; -1 when the
 * file is gone. */
static int64_t
binlog_distance(MYSQL *m, const char *file, uint64_t pos, const char *now_file, uint64_t now_pos)
{
    if (!strcmp(file, now_file))
        return now_pos >= pos ? (int64_t)(now_pos - pos) : 0;
    if (mysql_query(m, "SHOW BINARY LOGS"))
        return -1;
    MYSQL_RES *r = mysql_store_result(m);
    MYSQL_ROW row;
    int64_t total = -1;
    while (r && (row = mysql_fetch_row(r))) {
        if (!row[0] || !row[1])
            continue;
        int64_t size = strtoll(row[1], NULL, 10);
        if (!strcmp(row[0], file))
            total = size > (int64_t)pos ? size - (int64_t)pos : 0;
        else if (total >= 0 && !strcmp(row[0], now_file))
            total += (int64_t)now_pos;
        else if (total >= 0 && strcmp(row[0], now_file) < 0)
            total += size;
    }
    mysql_free_result(r);
    return total;
}

cdc_err_t
cdc_mysql_source_now(const cdc_source_conf_t *conf, const char *native, cdc_source_now_t *out,
                     cdc_errstr_t *es)
{
    memset(out, 0, sizeof(*out));
    out->lag_bytes = out->retained_bytes = -1;
    cdc_err_t err;
    MYSQL *m = cdc_mysql_connect(&conf->conn, &err, es);
    if (!m)
        return err;
    if (mysql_query(m, "SHOW MASTER STATUS")) {
        err = cdc_errstr_set(es, CDC_ERR_CONNECT, "mysql: SHOW MASTER STATUS: %s (%u)",
                             mysql_error(m), mysql_errno(m));
        mysql_close(m);
        return err;
    }
    MYSQL_RES *r = mysql_store_result(m);
    MYSQL_ROW row = r ? mysql_fetch_row(r) : NULL;
    char now_file[128] = "";
    uint64_t now_pos = 0;
    if (row && row[0] && row[1]) {
        snprintf(now_file, sizeof(now_file), "%s", row[0]);
        now_pos = strtoull(row[1], NULL, 10);
        snprintf(out->position, sizeof(out->position), "%s:%llu", now_file,
                 (unsigned long long)now_pos);
    }
    mysql_free_result(r);
    json_t *j = native ? json_loads(native, 0, NULL) : NULL;
    const char *file = json_string_value(json_object_get(j, "file"));
    json_int_t pos = json_integer_value(json_object_get(j, "pos"));
    if (file && now_file[0])
        out->lag_bytes = binlog_distance(m, file, (uint64_t)pos, now_file, now_pos);
    json_decref(j);
    bool running = false;
    if (!replica_connected(m, conf->server_id, &running, es) && running)
        snprintf(out->running, sizeof(out->running), "a replica with server_id %u reads it",
                 (unsigned)conf->server_id);
    mysql_close(m);
    return CDC_OK;
}

/* Whether file:pos (position as the user wrote it) lies in the server's binary logs. */
static cdc_err_t
check_in_binlogs(MYSQL *m, const cdc_source_conf_t *conf, const char *position, const char *file,
                 unsigned long long pos, cdc_errstr_t *es)
{
    if (mysql_query(m, "SHOW BINARY LOGS"))
        return cdc_errstr_set(es, CDC_ERR_CONNECT, "mysql: SHOW BINARY LOGS: %s (%u)",
                              mysql_error(m), mysql_errno(m));
    bool found = false;
    unsigned long long size = 0;
    MYSQL_RES *r = mysql_store_result(m);
    MYSQL_ROW row;
    while (r && (row = mysql_fetch_row(r)))
        if (row[0] && !strcmp(row[0], file)) {
            found = true;
            size = row[1] ? strtoull(row[1], NULL, 10) : 0;
        }
    mysql_free_result(r);
    if (!found || pos > size || pos < 4)
        return cdc_errstr_set(es, CDC_ERR_INVAL,
                              "source %s: %s is not in the server's binary logs%s", conf->name,
                              position, found ? " (past the end of that file)" : "");
    return CDC_OK;
}

/* The server's GTID position at file:pos (BINLOG_GTID_POS; "" when it has none). */
static cdc_err_t
gtid_at(MYSQL *m, const char *file, unsigned long long pos, char *gtid, size_t size,
        cdc_errstr_t *es)
{
    cdc_buf_t q;
    cdc_buf_init(&q);
    cdc_buf_puts(&q, "SELECT BINLOG_GTID_POS(");
    cdc_mysql_literal(m, &q, file, strlen(file));
    cdc_buf_printf(&q, ", %llu)", pos);
    cdc_err_t err = CDC_OK;
    if (mysql_query(m, q.data)) {
        err = cdc_errstr_set(es, CDC_ERR_CONNECT, "mysql: BINLOG_GTID_POS: %s (%u)", mysql_error(m),
                             mysql_errno(m));
    } else {
        MYSQL_RES *r = mysql_store_result(m);
        MYSQL_ROW row = r ? mysql_fetch_row(r) : NULL;
        snprintf(gtid, size, "%s", row && row[0] ? row[0] : "");
        mysql_free_result(r);
    }
    cdc_buf_deinit(&q);
    return err;
}

cdc_err_t
cdc_mysql_source_seek(const cdc_source_conf_t *conf, const char *position, bool force,
                      cdc_offsets_t *o, cdc_errstr_t *es)
{
    char file[128];
    uint64_t pos = 0;
    const char *colon = strrchr(position, ':');
    /* the position: digits only (no sign, no spaces), at most a 4 GiB binlog file's end */
    if (!colon || colon == position || (size_t)(colon - position) >= sizeof(file) ||
        !cdc_parse_uint(colon + 1, strlen(colon + 1), UINT32_MAX, &pos))
        return cdc_errstr_set(es, CDC_ERR_INVAL,
                              "--position %s: expected a binlog FILE:POSITION such as "
                              "binlog.000003:1234 (POSITION a byte offset from 0 to 4294967295)",
                              position);
    snprintf(file, sizeof(file), "%.*s", (int)(colon - position), position);
    json_t *n = o->native ? json_loads(o->native, 0, NULL) : NULL;
    const char *sfile = json_string_value(json_object_get(n, "file"));
    unsigned long long spos = (unsigned long long)json_integer_value(json_object_get(n, "pos"));
    json_int_t server_id = json_integer_value(json_object_get(n, "server_id"));
    int c = sfile ? strcmp(file, sfile) : 1;
    bool ahead = c > 0 || (c == 0 && pos > spos);
    char stored[200];
    snprintf(stored, sizeof(stored), "%s:%llu", sfile ? sfile : "?", spos);
    json_decref(n);
    cdc_err_t err;
    MYSQL *m = cdc_mysql_connect(&conf->conn, &err, es);
    if (!m)
        return err;
    bool running = false;
    if (!force && !(err = replica_running(m, conf, &running, es)) && running)
        err = cdc_errstr_set(es, CDC_ERR_FATAL,
                             "source %s is running: a replica with server_id %u reads the "
                             "binlog; stop the agent first, or --force (it then restarts from "
                             "the new position)",
                             conf->name, (unsigned)conf->server_id);
    if (!err && !ahead)
        err = cdc_errstr_set(es, CDC_ERR_INVAL,
                             "source %s: %s is not ahead of the stored position %s; positions "
                             "move forward only (re-apply history with cdc-agent replay, or "
                             "start over with cdc-agent source drop)",
                             conf->name, position, stored);
    if (!err)
        err = check_in_binlogs(m, conf, position, file, pos, es);
    char gtid[256] = "";
    if (!err)
        err = gtid_at(m, file, pos, gtid, sizeof(gtid), es);
    mysql_close(m);
    if (err)
        return err;
    const char *digits = strrchr(file, '.');
    uint64_t file_no = digits ? strtoull(digits + 1, NULL, 10) : 0;
    o->pos = (cdc_pos_t){o->pos.epoch, CDC_PHASE_STREAM, file_no, pos, UINT32_MAX};
    char native[512];
    snprintf(native, sizeof(native),
             "{\"file\":\"%s\",\"gtid\":\"%s\",\"pos\":%llu,\"server_id\":%lld}", file, gtid,
             (unsigned long long)pos, (long long)server_id);
    free(o->native);
    o->native = cdc_xstrdup(native);
    o->snapshot_done = true;
    free(o->progress);
    o->progress = NULL;
    return CDC_OK;
}

cdc_err_t
cdc_mysql_source_request(const cdc_source_conf_t *conf, const char *table, const char *id,
                         const char *payload, int64_t *rows, cdc_errstr_t *es)
{
    cdc_err_t err;
    MYSQL *m = cdc_mysql_connect(&conf->conn, &err, es);
    if (!m)
        return err;
    char db[256], sdb[256];
    const char *name = cdc_config_split_table(table, db, sizeof(db));
    const char *signal = cdc_config_split_table(conf->signal_table, sdb, sizeof(sdb));
    cdc_buf_t sql;
    cdc_buf_init(&sql);
    cdc_buf_puts(&sql, "SELECT COUNT(*) FROM ");
    cdc_mysql_ident(&sql, db);
    cdc_buf_putc(&sql, '.');
    cdc_mysql_ident(&sql, name);
    MYSQL_RES *r = NULL;
    MYSQL_ROW row;
    if (mysql_query(m, sql.data) || !(r = mysql_store_result(m)) || !(row = mysql_fetch_row(r)))
        err = cdc_errstr_set(es, CDC_ERR_CONNECT, "mysql: counting the rows of %s: %s (%u)", table,
                             mysql_error(m), mysql_errno(m));
    else
        *rows = strtoll(row[0] ? row[0] : "0", NULL, 10);
    mysql_free_result(r);
    cdc_buf_reset(&sql);
    cdc_mysql_signal_ddl(&sql, conf->signal_table);
    if (!err && mysql_query(m, sql.data))
        err = cdc_errstr_set(es, CDC_ERR_CONFIG,
                             "mysql: cannot create the signal table %s (signal_table): %s; "
                             "create it or grant CREATE, INSERT, UPDATE on it",
                             conf->signal_table, mysql_error(m));
    if (!err) {
        char rid[64];
        snprintf(rid, sizeof(rid), "snapshot:%s", id);
        cdc_buf_reset(&sql);
        cdc_buf_puts(&sql, "INSERT INTO ");
        cdc_mysql_ident(&sql, sdb);
        cdc_buf_putc(&sql, '.');
        cdc_mysql_ident(&sql, signal);
        cdc_buf_puts(&sql, " (id, type, data) VALUES (");
        cdc_mysql_literal(m, &sql, rid, strlen(rid));
        cdc_buf_puts(&sql, ", 'snapshot', ");
        cdc_mysql_literal(m, &sql, payload, strlen(payload));
        cdc_buf_putc(&sql, ')');
        if (mysql_query(m, sql.data))
            err = cdc_errstr_set(es, CDC_ERR_CONNECT, "mysql: writing the request into %s: %s (%u)",
                                 conf->signal_table, mysql_error(m), mysql_errno(m));
    }
    cdc_buf_deinit(&sql);
    mysql_close(m);
    return err;
}

/* Every captured table exists and has a key its events can be keyed by (what the source refuses
 * at start). */
static void
check_tables(MYSQL *m, const cdc_source_conf_t *source, cdc_probe_t *out)
{
    cdc_buf_t sql;
    cdc_buf_init(&sql);
    for (size_t i = 0; i < source->n_tables; i++) {
        char db[256], index[256];
        const char *tb = cdc_config_split_table(source->tables[i], db, sizeof(db));
        cdc_errstr_t es;
        if (cdc_mysql_key_index(m, db, tb, index, sizeof(index), &es))
            continue;
        cdc_buf_reset(&sql);
        cdc_buf_puts(&sql, "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ");
        cdc_mysql_literal(m, &sql, db, strlen(db));
        cdc_buf_puts(&sql, " AND TABLE_NAME = ");
        cdc_mysql_literal(m, &sql, tb, strlen(tb));
        MYSQL_RES *r = mysql_query(m, sql.data) ? NULL : mysql_store_result(m);
        bool exists = r && mysql_num_rows(r) > 0;
        mysql_free_result(r);
        if (!exists)
            cdc_probe_note(out, true, "table %s does not exist", source->tables[i]);
        else if (!index[0])
            cdc_probe_note(out, false, "table %s %s", source->tables[i], CDC_MYSQL_NO_KEY);
        else if (strcmp(index, "PRIMARY"))
            cdc_probe_note(out, false, "table %s has no primary key: keyed by unique index %s",
                           source->tables[i], index);
    }
    cdc_buf_deinit(&sql);
}

/* Every route's target table and the columns the route names. */
static void
check_routes(MYSQL *m, const cdc_sink_conf_t *sink, cdc_probe_t *out)
{
    cdc_buf_t sql;
    cdc_buf_init(&sql);
    for (size_t i = 0; i < sink->n_routes; i++) {
        const cdc_route_conf_t *route = &sink->routes[i];
        char db[256];
        const char *table = cdc_config_split_table(route->to, db, sizeof(db));
        cdc_buf_reset(&sql);
        cdc_buf_puts(&sql, "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE "
                           "TABLE_SCHEMA = ");
        cdc_mysql_literal(m, &sql, db, strlen(db));
        cdc_buf_puts(&sql, " AND TABLE_NAME = ");
        cdc_mysql_literal(m, &sql, table, strlen(table));
        MYSQL_RES *r = mysql_query(m, sql.data) ? NULL : mysql_store_result(m);
        if (!r)
            continue;
        size_t n = (size_t)mysql_num_rows(r), k = 0;
        const char **have = cdc_xcalloc(n + 1, sizeof(char *));
        MYSQL_ROW row;
        while (k < n && (row = mysql_fetch_row(r)))
            have[k++] = row[0];
        cdc_probe_route(out, route, have, k, k > 0);
        free(have);
        mysql_free_result(r);
    }
    cdc_buf_deinit(&sql);
}

cdc_err_t
cdc_mysql_probe(const cdc_db_conn_t *conn, const cdc_source_conf_t *source,
                const cdc_sink_conf_t *sink, cdc_probe_t *out, cdc_errstr_t *es)
{
    cdc_err_t err;
    memset(out, 0, sizeof(*out));
    MYSQL *m = cdc_mysql_connect(conn, &err, es);
    if (!m)
        return err;
    snprintf(out->endpoint, sizeof(out->endpoint), "%s:%d", conn->host ? conn->host : "127.0.0.1",
             conn->port ? conn->port : 3306);
    const char *cipher = mysql_get_ssl_cipher(m);
    snprintf(out->server_version, sizeof(out->server_version), "%s %s%s%s",
             strstr(mysql_get_server_info(m), "MariaDB") ? "MariaDB" : "MySQL",
             mysql_get_server_info(m), cipher ? ", TLS " : "", cipher ? cipher : "");
    if (source) {
        cdc_mysql_source_problems(m, out);
        check_server_id(m, source, out);
        check_signal_table(m, source, out);
        check_tables(m, source, out);
    }
    if (sink)
        check_routes(m, sink, out);
    mysql_close(m);
    return CDC_OK;
}

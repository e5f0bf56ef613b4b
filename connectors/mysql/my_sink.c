/*
 * MySQL / MariaDB target of a sink (include/cdc/sink.h): upserts as multi-row INSERT ... ON
 * DUPLICATE KEY UPDATE, deletes as one DELETE by a key list, rows with unchanged (left out)
 * columns as an UPDATE of the present ones, truncates as DELETE (TRUNCATE would commit). The
 * session runs in strict mode (sql_mode STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO; UTC, utf8mb4), so
 * a value the column cannot hold is refused, never truncated. Values are escaped literals converted
 * for the target column's type: bytes (base64 in events) as X'..', booleans as 1/0, UTC timestamps
 * without their Z. The session holds GET_LOCK('cdc-sink:<name>'), so a second instance refuses to
 * start.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cdc/json.h"
#include "cdc/log.h"
#include "cdc/sink.h"
#include "cdc/sink_offsets.h"
#include "my_sink_internal.h"
#include "mysql_conn.h"

/* Statements are cut before this size (max_allowed_packet is 16 MiB by default). */
#define MY_MAX_STATEMENT (4u << 20)

cdc_err_t
mys_error(cdc_sink_target_t *t, const char *what, cdc_errstr_t *es)
{
    unsigned no = mysql_errno(t->m);
    cdc_err_t err = CDC_ERR_IO;
    if (no == 2006 || no == 2013 || no == 2055 || no == 1927) /* gone, lost, killed */
        err = CDC_ERR_CONNECT;
    else if (no == 1213 || no == 1205) /* deadlock, lock wait timeout: retry */
        err = CDC_ERR_ABORTED;
    else if (no == 1021 || no == 1114 || no == 1030 || no == 1037 || no == 1041 || no == 1040)
        err = CDC_ERR_ABORTED; /* disk or table full, an engine error (28: no space), out of
                                * memory, too many connections: the server's, for a while */
    else if (no == 1062 || no == 1451 || no == 1452 || no == 1216 || no == 1217)
        err = CDC_ERR_CONFLICT; /* duplicate entry, foreign key: later, then the DLQ */
    else if (no == 1406 || no == 1264 || no == 1265 || no == 1366 || no == 1292 || no == 1048 ||
             no == 1690 || no == 1367 || no == 1411 || no == 4025 || no == 3140 || no == 1364)
        err = CDC_ERR_DATA; /* strict mode refused a value: too long, out of range, invalid */
    else if (no == 1054 || no == 1146)
        err = CDC_ERR_CONFIG; /* the target table or column is gone */
    return cdc_errstr_set(es, err, "mysql: %s: %s (%u)", what, mysql_error(t->m), no);
}

/* Whether a "Column 'x' cannot be null" message names key column key. */
static bool
key_named(const char *key, const char *msg)
{
    char want[300];
    snprintf(want, sizeof(want), "Column '%s' ", key);
    return strstr(msg, want) != NULL;
}

/* Reads the result of the statement left running, if any. */
cdc_err_t
mys_sync(cdc_sink_target_t *t, cdc_errstr_t *es)
{
    if (!t->busy)
        return CDC_OK;
    t->busy = false;
    if (!mysql_read_query_result(t->m)) {
        mysql_free_result(mysql_store_result(t->m));
        return CDC_OK;
    }
    cdc_err_t err = mys_error(t, t->busy_what, es);
    if (err == CDC_ERR_DATA && mysql_errno(t->m) == 1048 && t->busy_key[0] &&
        key_named(t->busy_key, mysql_error(t->m))) /* see on_duplicate */
        err = cdc_errstr_set(es, CDC_ERR_CONFLICT,
                             "mysql: %s: another row holds one of the row's unique values (a "
                             "unique index besides the key)",
                             t->busy_what);
    return err;
}

cdc_err_t
mys_exec(cdc_sink_target_t *t, const char *sql, cdc_errstr_t *es)
{
    cdc_err_t err = mys_sync(t, es);
    if (err)
        return err;
    if (mysql_query(t->m, sql))
        return mys_error(t, sql, es);
    MYSQL_RES *r = mysql_store_result(t->m);
    mysql_free_result(r);
    return CDC_OK;
}

static void
my_close(cdc_sink_target_t *t)
{
    if (!t)
        return;
    if (t->m)
        mysql_close(t->m); /* the named lock goes with the session */
    cdc_sink_base_deinit(&t->base);
    cdc_buf_deinit(&t->tmp);
    free(t);
}

/* The sink's lock: GET_LOCK names are server-wide (at most 64 characters), so the sink's
 * database is part of it, as it is of the PostgreSQL advisory lock and of cdc_sink_offsets. */
static cdc_err_t
take_lock(cdc_sink_target_t *t, cdc_errstr_t *es)
{
    const cdc_sink_conf_t *conf = t->base.conf;
    char lock[80];
    cdc_lock_name(lock, sizeof(lock), "cdc-sink", conf->conn.database ? conf->conn.database : "",
                  conf->name);
    cdc_buf_t *q = &t->base.sql;
    cdc_buf_reset(q);
    cdc_buf_puts(q, "SELECT GET_LOCK(");
    cdc_mysql_literal(t->m, q, lock, strlen(lock));
    cdc_buf_printf(q, ", %d)", CDC_SINK_LOCK_TRY_S);
    if (mysql_query(t->m, q->data))
        return mys_error(t, "taking the sink's lock", es);
    MYSQL_RES *r = mysql_store_result(t->m);
    MYSQL_ROW row = r ? mysql_fetch_row(r) : NULL;
    bool got = row && row[0] && !strcmp(row[0], "1");
    mysql_free_result(r);
    if (!got)
        return cdc_errstr_set(es, CDC_ERR_FENCED,
                              "sink %s: another instance of the sink is running (it holds the "
                              "lock '%s')",
                              conf->name, lock);
    return CDC_OK;
}

MYSQL *
my_sink_conn(cdc_sink_target_t *t)
{
    return t->m;
}

static cdc_err_t
my_connect(const cdc_sink_conf_t *conf, cdc_sink_target_t **out, cdc_errstr_t *es)
{
    cdc_sink_target_t *t = cdc_xcalloc(1, sizeof(*t));
    cdc_sink_base_init(&t->base, conf);
    cdc_buf_init(&t->tmp);
    cdc_err_t err;
    t->m = cdc_mysql_connect(&conf->conn, &err, es);
    if (t->m)
        err = mys_exec(t, "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO'", es);
    if (err) {
        my_close(t);
        return err;
    }
    *out = t;
    return CDC_OK;
}

static cdc_err_t
my_send(cdc_sink_target_t *t, const char *sql, cdc_errstr_t *es)
{
    cdc_err_t err = mys_sync(t, es);
    if (err)
        return err;
    snprintf(t->busy_what, sizeof(t->busy_what), "%s", sql);
    t->busy_key[0] = '\0';
    if (mysql_send_query(t->m, sql, (unsigned long)strlen(sql)))
        return mys_error(t, sql, es);
    t->busy = true;
    return CDC_OK;
}

/* ---- target tables and values ---------------------------------------------------------------- */

/* Runs "select ... WHERE c.TABLE_SCHEMA = <schema> AND c.TABLE_NAME = <table> order" for tt;
 * each row's two values go into tt as a column and its type, or (keys) as an index and one of
 * its columns, an index's columns in a row. */
static cdc_err_t
table_rows(cdc_sink_target_t *t, cdc_sink_table_t *tt, const char *select, const char *order,
           bool keys, const char *what, cdc_errstr_t *es)
{
    cdc_buf_t *q = &t->tmp;
    cdc_buf_reset(q);
    cdc_buf_puts(q, select);
    cdc_buf_puts(q, " WHERE c.TABLE_SCHEMA = ");
    cdc_mysql_literal(t->m, q, tt->schema, strlen(tt->schema));
    cdc_buf_puts(q, " AND c.TABLE_NAME = ");
    cdc_mysql_literal(t->m, q, tt->table, strlen(tt->table));
    cdc_buf_puts(q, order);
    if (mysql_query(t->m, q->data))
        return mys_error(t, what, es);
    MYSQL_RES *r = mysql_store_result(t->m);
    MYSQL_ROW row;
    char last[256] = "";
    while (r && (row = mysql_fetch_row(r))) {
        if (!keys) {
            cdc_sink_table_add(tt, row[0], row[1]);
            continue;
        }
        bool first = strcmp(last, row[0]) != 0;
        snprintf(last, sizeof(last), "%s", row[0]);
        cdc_sink_table_add_key(tt, first, row[1]);
    }
    mysql_free_result(r);
    return CDC_OK;
}

static cdc_err_t
load_columns(cdc_sink_target_t *t, cdc_sink_table_t *tt, cdc_errstr_t *es)
{
    /* MariaDB's JSON is LONGTEXT with a json_valid check named after the column */
    cdc_err_t err = table_rows(
        t, tt,
        "SELECT c.COLUMN_NAME, IF((SELECT COUNT(*) FROM information_schema.CHECK_CONSTRAINTS k "
        "WHERE k.CONSTRAINT_SCHEMA = c.TABLE_SCHEMA AND k.TABLE_NAME = c.TABLE_NAME AND "
        "k.CONSTRAINT_NAME = c.COLUMN_NAME AND k.CHECK_CLAUSE LIKE 'json_valid(%') > 0, 'json', "
        "c.DATA_TYPE) FROM information_schema.COLUMNS c",
        " ORDER BY c.ORDINAL_POSITION", false, "reading the target table's columns", es);
    /* its unique keys: the primary key first, then unique indexes */
    return err ? err
               : table_rows(t, tt,
                            "SELECT c.INDEX_NAME, c.COLUMN_NAME FROM information_schema.STATISTICS "
                            "c",
                            " AND c.NON_UNIQUE = 0 ORDER BY c.INDEX_NAME = 'PRIMARY' DESC, "
                            "c.INDEX_NAME, c.SEQ_IN_INDEX",
                            true, "reading the target table's keys", es);
}

bool
mys_is_binary(const char *type)
{
    return !strcasecmp(type, "binary") || !strcasecmp(type, "varbinary") ||
           strstr(type, "blob") != NULL;
}

/* How values go into a column of a type (information_schema DATA_TYPE, lowercase): numbers
 * unquoted for integer, decimal, floating-point, BIT and YEAR columns (so the server does not
 * convert them from text; for BIT, '5' would be the byte 0x35); bytes as X'..'; times without
 * their Z; JSON strings quoted. One switch on the first letter: this runs for every value. */
typedef enum { KIND_TEXT, KIND_NUMERIC, KIND_BINARY, KIND_TEMPORAL, KIND_JSON } value_kind_t;

static value_kind_t
kind_of(const char *type)
{
    switch (type[0]) {
    case 'i':
        return !strcmp(type, "int") ? KIND_NUMERIC : KIND_TEXT;
    case 's':
        return !strcmp(type, "smallint") ? KIND_NUMERIC : KIND_TEXT;
    case 'y':
        return !strcmp(type, "year") ? KIND_NUMERIC : KIND_TEXT;
    case 'f':
        return !strcmp(type, "float") ? KIND_NUMERIC : KIND_TEXT;
    case 'j':
        return !strcmp(type, "json") ? KIND_JSON : KIND_TEXT;
    case 'b':
        if (!strcmp(type, "bigint") || !strcmp(type, "bit"))
            return KIND_NUMERIC;
        break;
    case 'd':
        if (!strcmp(type, "decimal") || !strcmp(type, "double"))
            return KIND_NUMERIC;
        return !strcmp(type, "datetime") || !strcmp(type, "date") ? KIND_TEMPORAL : KIND_TEXT;
    case 't':
        if (!strcmp(type, "tinyint"))
            return KIND_NUMERIC;
        if (!strcmp(type, "timestamp") || !strcmp(type, "time"))
            return KIND_TEMPORAL;
        break;
    case 'm':
        if (!strcmp(type, "mediumint"))
            return KIND_NUMERIC;
        break;
    case 'v':
        return !strcmp(type, "varbinary") ? KIND_BINARY : KIND_TEXT; /* varchar */
    case 'c':
    case 'e':
    case 'u':
        return KIND_TEXT; /* char, enum, uuid */
    default:
        break;
    }
    return mys_is_binary(type) ? KIND_BINARY : KIND_TEXT;
}

/* The literal of a value for a column of type (information_schema DATA_TYPE). */
cdc_err_t
mys_value_literal(cdc_sink_target_t *t, cdc_buf_t *q, const char *type, const cdc_column_t *col,
                  cdc_errstr_t *es)
{
    const cdc_value_t *v = &col->value;
    switch (v->type) {
    case CDC_VAL_NULL:
        cdc_buf_puts(q, "NULL");
        return CDC_OK;
    case CDC_VAL_BOOL:
        if (kind_of(type) == KIND_JSON)
            cdc_buf_puts(q, v->b ? "'true'" : "'false'");
        else
            cdc_buf_puts(q, v->b ? "1" : "0");
        return CDC_OK;
    default:
        break;
    }
    value_kind_t kind = kind_of(type);
    if (v->type == CDC_VAL_NUMBER && kind == KIND_NUMERIC) {
        cdc_buf_append(q, v->s.p, v->s.n); /* JSON number text is an SQL numeric literal */
        return CDC_OK;
    }
    if (kind == KIND_BINARY && v->type == CDC_VAL_STRING) {
        cdc_buf_reset(&t->tmp);
        if (!cdc_base64_decode(&t->tmp, v->s.p, v->s.n))
            return cdc_errstr_set(es, CDC_ERR_PARSE, "column %s: not base64 bytes", col->name);
        cdc_buf_puts(q, "X'");
        cdc_buf_put_hex(q, t->tmp.data, t->tmp.len);
        cdc_buf_putc(q, '\'');
        return CDC_OK;
    }
    if (kind == KIND_TEMPORAL && v->type == CDC_VAL_STRING) {
        if (v->s.n && (v->s.p[0] == 'i' || (v->s.n > 1 && v->s.p[1] == 'i')))
            return cdc_errstr_set(es, CDC_ERR_RANGE, "column %s: %.*s cannot be stored in %s",
                                  col->name, (int)v->s.n, v->s.p, type);
        size_t n = v->s.n;
        if (n && v->s.p[n - 1] == 'Z')
            n--; /* UTC, the session's zone */
        cdc_mysql_literal(t->m, q, v->s.p, n);
        return CDC_OK;
    }
    if (kind == KIND_JSON && v->type == CDC_VAL_STRING) {
        cdc_buf_reset(&t->tmp);
        size_t bad;
        if (cdc_json_write_string(&t->tmp, v->s.p, v->s.n, &bad))
            return cdc_errstr_set(es, CDC_ERR_UTF8, "column %s: invalid utf-8", col->name);
        cdc_mysql_literal(t->m, q, t->tmp.data, t->tmp.len);
        return CDC_OK;
    }
    cdc_mysql_literal(t->m, q, v->s.p, v->s.n);
    return CDC_OK;
}

void
mys_table_name(cdc_buf_t *q, const cdc_sink_table_t *tt)
{
    cdc_mysql_ident(q, tt->schema);
    cdc_buf_putc(q, '.');
    cdc_mysql_ident(q, tt->table);
}

/* A value's literal; errors name the table. */
cdc_err_t
mys_literal(cdc_sink_target_t *t, const cdc_sink_table_t *tt, const char *type,
            const cdc_column_t *c, cdc_errstr_t *es)
{
    cdc_err_t err = mys_value_literal(t, &t->base.sql, type, c, es);
    if (err)
        cdc_errstr_prefix(es, "%s.%s", tt->schema, tt->table);
    return err;
}

cdc_err_t
mys_run(cdc_sink_target_t *t, const cdc_sink_table_t *tt, cdc_errstr_t *es)
{
    if (!mysql_query(t->m, t->base.sql.data))
        return CDC_OK;
    char what[600];
    snprintf(what, sizeof(what), "applying to %s.%s", tt->schema, tt->table);
    return mys_error(t, what, es);
}

/* Sends the statement in sql and returns while the server runs it (mys_sync reads its result);
 * key: the upsert's first key column. */
static cdc_err_t
send(cdc_sink_target_t *t, const cdc_sink_table_t *tt, const char *key, cdc_errstr_t *es)
{
    cdc_err_t err = mys_sync(t, es);
    if (err)
        return err;
    snprintf(t->busy_what, sizeof(t->busy_what), "applying to %s.%s", tt->schema, tt->table);
    snprintf(t->busy_key, sizeof(t->busy_key), "%s", key ? key : "");
    if (mysql_send_query(t->m, t->base.sql.data, (unsigned long)t->base.sql.len))
        return mys_error(t, t->busy_what, es);
    t->busy = true;
    return CDC_OK;
}

/* "WHERE k1 = v1 AND ..." for the row's key. */
cdc_err_t
mys_where_key(cdc_sink_target_t *t, const cdc_sink_table_t *tt, const cdc_sink_row_t *row,
              cdc_errstr_t *es)
{
    cdc_err_t err = CDC_OK;
    cdc_buf_puts(&t->base.sql, " WHERE ");
    for (size_t k = 0; !err && k < row->n_key; k++) {
        if (k)
            cdc_buf_puts(&t->base.sql, " AND ");
        cdc_mysql_ident(&t->base.sql, row->key[k].name);
        cdc_buf_puts(&t->base.sql, " = ");
        err = mys_literal(t, tt, cdc_sink_table_type(tt, row->key[k].name), &row->key[k], es);
    }
    return err;
}

/* Whether the row's key exists (an UPDATE that changed nothing: same values, or no row). */
static cdc_err_t
base_row_exists(cdc_sink_target_t *t, const cdc_sink_table_t *tt, const cdc_sink_row_t *row,
                cdc_errstr_t *es)
{
    cdc_buf_reset(&t->base.sql);
    cdc_buf_puts(&t->base.sql, "SELECT 1 FROM ");
    mys_table_name(&t->base.sql, tt);
    cdc_err_t err = mys_where_key(t, tt, row, es);
    if (err)
        return err;
    if (mysql_query(t->m, t->base.sql.data))
        return mys_error(t, "looking for the base row", es);
    MYSQL_RES *r = mysql_store_result(t->m);
    bool found = r && mysql_num_rows(r) > 0;
    mysql_free_result(r);
    if (found)
        return CDC_OK;
    return cdc_errstr_set(
        es, CDC_ERR_NOTFOUND,
        "base row missing in %s.%s (the event leaves unchanged columns out); re-snapshot %s",
        tt->schema, tt->table, row->route->from);
}

/* Rows with unchanged columns: an UPDATE of the present ones each. */
static cdc_err_t
update_rows(cdc_sink_target_t *t, const cdc_sink_table_t *tt, const cdc_sink_row_t *const *rows,
            size_t n, const char *const *types, cdc_errstr_t *es)
{
    cdc_buf_t *q = &t->base.sql;
    cdc_err_t err = CDC_OK;
    for (size_t r = 0; !err && r < n; r++) {
        const cdc_sink_row_t *row = rows[r];
        cdc_buf_reset(q);
        cdc_buf_puts(q, "UPDATE ");
        mys_table_name(q, tt);
        size_t set = 0;
        for (size_t i = 0; !err && i < row->n_cols; i++) {
            if (!types[i] || cdc_sink_row_is_key(row, row->cols[i].name) ||
                !cdc_sink_route_updates(row->route, row->cols[i].name))
                continue;
            cdc_buf_puts(q, set++ ? ", " : " SET ");
            cdc_mysql_ident(q, row->cols[i].name);
            cdc_buf_puts(q, " = ");
            err = mys_literal(t, tt, types[i], &row->cols[i], es);
        }
        if (!set) /* only key columns: nothing to update */
            continue;
        if (!err)
            err = mys_where_key(t, tt, row, es);
        if (!err)
            err = mys_run(t, tt, es);
        if (!err && mysql_affected_rows(t->m) == 0 && !row->soft)
            err = base_row_exists(t, tt, row, es);
    }
    return err;
}

/* DELETE ... WHERE k IN (...) (or (k1 = .. AND k2 = ..) OR ...), cut at MY_MAX_STATEMENT. */
static cdc_err_t
delete_rows(cdc_sink_target_t *t, const cdc_sink_table_t *tt, const cdc_sink_row_t *const *rows,
            size_t n, cdc_errstr_t *es)
{
    cdc_buf_t *q = &t->base.sql;
    bool one = rows[0]->n_key == 1;
    cdc_err_t err = CDC_OK;
    for (size_t r = 0; !err && r < n;) {
        cdc_buf_reset(q);
        cdc_buf_puts(q, "DELETE FROM ");
        mys_table_name(q, tt);
        cdc_buf_puts(q, " WHERE ");
        if (one) {
            cdc_mysql_ident(q, rows[0]->key[0].name);
            cdc_buf_puts(q, " IN (");
        }
        for (size_t first = r; !err && r < n && q->len < MY_MAX_STATEMENT; r++) {
            if (one) {
                if (r > first)
                    cdc_buf_puts(q, ", ");
                err = mys_literal(t, tt, cdc_sink_table_type(tt, rows[r]->key[0].name),
                                  &rows[r]->key[0], es);
                continue;
            }
            cdc_buf_puts(q, r > first ? " OR (" : "(");
            for (size_t k = 0; !err && k < rows[r]->n_key; k++) {
                if (k)
                    cdc_buf_puts(q, " AND ");
                cdc_mysql_ident(q, rows[r]->key[k].name);
                cdc_buf_puts(q, " = ");
                err = mys_literal(t, tt, cdc_sink_table_type(tt, rows[r]->key[k].name),
                                  &rows[r]->key[k], es);
            }
            cdc_buf_putc(q, ')');
        }
        if (one)
            cdc_buf_putc(q, ')');
        if (!err)
            err = send(t, tt, NULL, es);
    }
    return err;
}

/* " ON DUPLICATE KEY UPDATE k = IF(k <=> VALUES(k), k, NULL), c = VALUES(c), ...": MySQL takes a
 * clash on any unique index for a duplicate, so a row whose key differs from the one that clashed
 * must not be overwritten; its NOT NULL key set to NULL fails the statement instead (1048). */
static void
on_duplicate(cdc_buf_t *q, const cdc_sink_row_t *row, const char *const *types)
{
    cdc_buf_puts(q, " ON DUPLICATE KEY UPDATE ");
    cdc_mysql_ident(q, row->key[0].name);
    cdc_buf_puts(q, " = IF(");
    for (size_t k = 0; k < row->n_key; k++) {
        if (k)
            cdc_buf_puts(q, " AND ");
        cdc_mysql_ident(q, row->key[k].name);
        cdc_buf_puts(q, " <=> VALUES(");
        cdc_mysql_ident(q, row->key[k].name);
        cdc_buf_putc(q, ')');
    }
    cdc_buf_puts(q, ", ");
    cdc_mysql_ident(q, row->key[0].name);
    cdc_buf_puts(q, ", NULL)");
    for (size_t i = 0; i < row->n_cols; i++) {
        if (!types[i] || cdc_sink_row_is_key(row, row->cols[i].name) ||
            !cdc_sink_route_updates(row->route, row->cols[i].name))
            continue;
        cdc_buf_puts(q, ", ");
        cdc_mysql_ident(q, row->cols[i].name);
        cdc_buf_puts(q, " = VALUES(");
        cdc_mysql_ident(q, row->cols[i].name);
        cdc_buf_putc(q, ')');
    }
}

/* INSERT ... VALUES (...), (...) ON DUPLICATE KEY UPDATE c = VALUES(c), cut at MY_MAX_STATEMENT. */
static cdc_err_t
upsert_rows(cdc_sink_target_t *t, const cdc_sink_table_t *tt, const cdc_sink_row_t *const *rows,
            size_t n, const char *const *types, cdc_errstr_t *es)
{
    const cdc_sink_row_t *row = rows[0];
    cdc_buf_t *q = &t->base.sql;
    cdc_err_t err = CDC_OK;
    for (size_t r = 0; !err && r < n;) {
        cdc_buf_reset(q);
        cdc_buf_puts(q, "INSERT INTO ");
        mys_table_name(q, tt);
        cdc_buf_puts(q, " (");
        size_t k = 0;
        for (size_t i = 0; i < row->n_cols; i++) {
            if (!types[i])
                continue;
            if (k++)
                cdc_buf_puts(q, ", ");
            cdc_mysql_ident(q, row->cols[i].name);
        }
        cdc_buf_puts(q, ") VALUES ");
        for (size_t first = r; !err && r < n && q->len < MY_MAX_STATEMENT; r++) {
            cdc_buf_puts(q, r > first ? ", (" : "(");
            k = 0;
            for (size_t i = 0; !err && i < rows[r]->n_cols; i++) {
                if (!types[i])
                    continue;
                if (k++)
                    cdc_buf_puts(q, ", ");
                err = mys_literal(t, tt, types[i], &rows[r]->cols[i], es);
            }
            cdc_buf_putc(q, ')');
        }
        on_duplicate(q, row, types);
        if (!err)
            err = send(t, tt, row->key[0].name, es);
    }
    return err;
}

const cdc_sink_ops_t cdc_mysql_sink_ops = {
    .name = "mysql",
    .connect = my_connect,
    .lock = take_lock,
    .offsets_ensure = cdc_mysql_sink_offsets_ensure,
    .mark_session = cdc_mysql_sink_mark,
    .fk_checks_off_sql = "SET SESSION foreign_key_checks = 0",
    .begin_sql = "START TRANSACTION",
    .max_ident = 64,
    .ident_chars = true,
    .load_offsets = cdc_mysql_sink_offsets_load,
    .send = my_send,
    .load_columns = load_columns,
    .upsert = upsert_rows,
    .update = update_rows,
    .delete_rows = delete_rows,
    .lock_keys = mys_lock_keys,
    .read_locked = mys_read_locked,
    .links_ensure = mys_links_ensure,
    .link_rows = mys_link_rows,
    .match_row = mys_match_row,
    .record_links = mys_record_links,
    .lookup_links = mys_lookup_links,
    .links_pending = mys_links_pending,
    .links_published = mys_links_published,
    .apply_link = mys_apply_link,
    .sync = mys_sync,
    .exec = mys_exec,
    .quote_ident = cdc_mysql_ident,
    .added_types = {"DECIMAL(65,30) NULL", "BOOLEAN NULL", "JSON NULL", "LONGTEXT NULL"},
    .move_offsets = cdc_mysql_sink_offsets_move,
    .set_offsets = cdc_mysql_sink_offsets_set,
    .close = my_close,
};

/*
 * MySQL / MariaDB target of a sink (include/cdc/sink.h): upserts as INSERT ... ON DUPLICATE KEY
 * UPDATE, deletes by key, rows with unchanged (left out) columns as an UPDATE of the present
 * ones. The session runs in strict mode (sql_mode STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO; UTC,
 * utf8mb4), so a value the column cannot hold is refused, never truncated. Values are escaped
 * literals converted for the target column's type: bytes (base64 in events) as X'..', booleans as
 * 1/0, UTC timestamps without their Z. The session holds GET_LOCK('cdc-sink:<name>'), so a second
 * instance refuses to start.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cdc/json.h"
#include "cdc/log.h"
#include "cdc/sink.h"

struct cdc_sink_target {
    const cdc_sink_conf_t *conf;
    MYSQL *m;
    cdc_sink_tables_t tables;
    cdc_buf_t sql, tmp;
};

static cdc_err_t
my_error(cdc_sink_target_t *t, const char *what, cdc_errstr_t *es)
{
    unsigned no = mysql_errno(t->m);
    cdc_err_t err = CDC_ERR_IO;
    if (no == 2006 || no == 2013 || no == 2055 || no == 1927) /* gone, lost, killed */
        err = CDC_ERR_CONNECT;
    else if (no == 1213 || no == 1205) /* deadlock, lock wait timeout: retry */
        err = CDC_ERR_ABORTED;
    return cdc_errstr_set(es, err, "mysql: %s: %s (%u)", what, mysql_error(t->m), no);
}

static cdc_err_t
exec(cdc_sink_target_t *t, const char *sql, cdc_errstr_t *es)
{
    if (mysql_query(t->m, sql))
        return my_error(t, sql, es);
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
    cdc_sink_tables_free(&t->tables);
    cdc_buf_deinit(&t->sql);
    cdc_buf_deinit(&t->tmp);
    free(t);
}

static cdc_err_t
my_open(const cdc_sink_conf_t *conf, cdc_sink_target_t **out, cdc_errstr_t *es)
{
    cdc_sink_target_t *t = cdc_xcalloc(1, sizeof(*t));
    t->conf = conf;
    cdc_buf_init(&t->sql);
    cdc_buf_init(&t->tmp);
    cdc_err_t err;
    t->m = cdc_mysql_connect(&conf->conn, &err, es);
    if (!t->m) {
        my_close(t);
        return err;
    }
    cdc_buf_t *q = &t->sql;
    cdc_buf_reset(q);
    cdc_buf_puts(q, "SELECT GET_LOCK(");
    char lock[300];
    snprintf(lock, sizeof(lock), "cdc-sink:%s", conf->name);
    cdc_mysql_literal(t->m, q, lock, strlen(lock));
    cdc_buf_puts(q, ", 0)");
    err = exec(t, "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO'", es);
    if (!err && cdc_sink_fk_checks_off(conf))
        err = exec(t, "SET SESSION foreign_key_checks = 0", es);
    if (!err && mysql_query(t->m, q->data))
        err = my_error(t, "taking the sink's lock", es);
    if (!err) {
        MYSQL_RES *r = mysql_store_result(t->m);
        MYSQL_ROW row = r ? mysql_fetch_row(r) : NULL;
        bool got = row && row[0] && !strcmp(row[0], "1");
        mysql_free_result(r);
        if (!got)
            err = cdc_errstr_set(es, CDC_ERR_FENCED,
                                 "sink %s: another instance of the sink is running (it holds the "
                                 "lock '%s')",
                                 conf->name, lock);
    }
    if (!err)
        err = cdc_mysql_sink_offsets_ensure(t->m, es);
    if (err) {
        my_close(t);
        return err;
    }
    *out = t;
    return CDC_OK;
}

static cdc_err_t
my_load_offsets(cdc_sink_target_t *t, cdc_sink_offsets_t *out, cdc_errstr_t *es)
{
    return cdc_mysql_sink_offsets_load(t->m, t->conf->name, out, es);
}

static cdc_err_t
my_begin(cdc_sink_target_t *t, cdc_errstr_t *es)
{
    return exec(t, "START TRANSACTION", es);
}

static cdc_err_t
my_commit(cdc_sink_target_t *t, cdc_errstr_t *es)
{
    return exec(t, "COMMIT", es);
}

static void
my_rollback(cdc_sink_target_t *t)
{
    mysql_query(t->m, "ROLLBACK");
}

static cdc_err_t
my_move_offset(cdc_sink_target_t *t, const cdc_sink_offset_t *next, int64_t expected,
               cdc_errstr_t *es)
{
    return cdc_mysql_sink_offsets_move(t->m, t->conf->name, next, expected, es);
}

/* ---- target tables and values ---------------------------------------------------------------- */

static cdc_err_t
load_columns(cdc_sink_target_t *t, const char *schema, const char *table, cdc_sink_table_t *tt,
             cdc_errstr_t *es)
{
    cdc_buf_t *q = &t->tmp;
    cdc_buf_reset(q);
    /* MariaDB's JSON is LONGTEXT with a json_valid check named after the column */
    cdc_buf_puts(q, "SELECT c.COLUMN_NAME, IF((SELECT COUNT(*) FROM "
                    "information_schema.CHECK_CONSTRAINTS k WHERE k.CONSTRAINT_SCHEMA = "
                    "c.TABLE_SCHEMA AND k.TABLE_NAME = c.TABLE_NAME AND k.CONSTRAINT_NAME = "
                    "c.COLUMN_NAME AND k.CHECK_CLAUSE LIKE 'json_valid(%') > 0, 'json', "
                    "c.DATA_TYPE) FROM information_schema.COLUMNS c WHERE c.TABLE_SCHEMA = ");
    cdc_mysql_literal(t->m, q, schema, strlen(schema));
    cdc_buf_puts(q, " AND c.TABLE_NAME = ");
    cdc_mysql_literal(t->m, q, table, strlen(table));
    cdc_buf_puts(q, " ORDER BY c.ORDINAL_POSITION");
    if (mysql_query(t->m, q->data))
        return my_error(t, "reading the target table's columns", es);
    MYSQL_RES *r = mysql_store_result(t->m);
    MYSQL_ROW row;
    while (r && (row = mysql_fetch_row(r)))
        cdc_sink_table_add(tt, row[0], row[1]);
    mysql_free_result(r);
    return CDC_OK;
}

static bool
is_binary(const char *type)
{
    return !strcasecmp(type, "binary") || !strcasecmp(type, "varbinary") ||
           strstr(type, "blob") != NULL;
}

/* The literal of a value for a column of type (information_schema DATA_TYPE). */
static cdc_err_t
value_literal(cdc_sink_target_t *t, cdc_buf_t *q, const char *type, const cdc_column_t *col,
              cdc_errstr_t *es)
{
    const cdc_value_t *v = &col->value;
    switch (v->type) {
    case CDC_VAL_NULL:
        cdc_buf_puts(q, "NULL");
        return CDC_OK;
    case CDC_VAL_BOOL:
        if (!strcasecmp(type, "json"))
            cdc_buf_puts(q, v->b ? "'true'" : "'false'");
        else
            cdc_buf_puts(q, v->b ? "1" : "0");
        return CDC_OK;
    default:
        break;
    }
    if (is_binary(type) && v->type == CDC_VAL_STRING) {
        cdc_buf_reset(&t->tmp);
        if (!cdc_base64_decode(&t->tmp, v->s.p, v->s.n))
            return cdc_errstr_set(es, CDC_ERR_PARSE, "column %s: not base64 bytes", col->name);
        cdc_buf_puts(q, "X'");
        cdc_buf_put_hex(q, t->tmp.data, t->tmp.len);
        cdc_buf_putc(q, '\'');
        return CDC_OK;
    }
    bool temporal = !strcasecmp(type, "datetime") || !strcasecmp(type, "timestamp") ||
                    !strcasecmp(type, "date") || !strcasecmp(type, "time");
    if (temporal && v->type == CDC_VAL_STRING) {
        if (v->s.n && (v->s.p[0] == 'i' || (v->s.n > 1 && v->s.p[1] == 'i')))
            return cdc_errstr_set(es, CDC_ERR_RANGE, "column %s: %.*s cannot be stored in %s",
                                  col->name, (int)v->s.n, v->s.p, type);
        size_t n = v->s.n;
        if (n && v->s.p[n - 1] == 'Z')
            n--; /* UTC, the session's zone */
        cdc_mysql_literal(t->m, q, v->s.p, n);
        return CDC_OK;
    }
    if (!strcasecmp(type, "json") && v->type == CDC_VAL_STRING) {
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

static void
table_name(cdc_buf_t *q, const cdc_sink_table_t *tt)
{
    cdc_mysql_ident(q, tt->schema);
    cdc_buf_putc(q, '.');
    cdc_mysql_ident(q, tt->table);
}

/* "WHERE k1 = v1 AND ..." for the row's key. */
static cdc_err_t
where_key(cdc_sink_target_t *t, cdc_buf_t *q, const cdc_sink_table_t *tt, const cdc_sink_row_t *row,
          cdc_errstr_t *es)
{
    cdc_err_t err = CDC_OK;
    cdc_buf_puts(q, " WHERE ");
    for (size_t k = 0; !err && k < row->n_key; k++) {
        if (k)
            cdc_buf_puts(q, " AND ");
        cdc_mysql_ident(q, row->key[k].name);
        cdc_buf_puts(q, " = ");
        err = value_literal(t, q, cdc_sink_table_type(tt, row->key[k].name), &row->key[k], es);
    }
    return err;
}

static cdc_err_t
build(cdc_sink_target_t *t, const cdc_sink_row_t *row, const cdc_sink_table_t *tt, const bool *keep,
      cdc_errstr_t *es)
{
    cdc_buf_t *q = &t->sql;
    cdc_buf_reset(q);
    cdc_err_t err = CDC_OK;
    size_t n = row->is_delete ? 0 : row->n_cols;
    if (row->is_delete) {
        cdc_buf_puts(q, "DELETE FROM ");
        table_name(q, tt);
        return where_key(t, q, tt, row, es);
    }
    if (row->update_only) {
        cdc_buf_puts(q, "UPDATE ");
        table_name(q, tt);
        size_t set = 0;
        for (size_t i = 0; !err && i < n; i++) {
            if (!keep[i] || cdc_sink_row_is_key(row, row->cols[i].name))
                continue;
            cdc_buf_puts(q, set++ ? ", " : " SET ");
            cdc_mysql_ident(q, row->cols[i].name);
            cdc_buf_puts(q, " = ");
            err =
                value_literal(t, q, cdc_sink_table_type(tt, row->cols[i].name), &row->cols[i], es);
        }
        if (!set)
            cdc_buf_reset(q); /* only key columns: nothing to update */
        return err || !set ? err : where_key(t, q, tt, row, es);
    }
    cdc_buf_puts(q, "INSERT INTO ");
    table_name(q, tt);
    cdc_buf_puts(q, " (");
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!keep[i])
            continue;
        if (k++)
            cdc_buf_puts(q, ", ");
        cdc_mysql_ident(q, row->cols[i].name);
    }
    cdc_buf_puts(q, ") VALUES (");
    k = 0;
    for (size_t i = 0; !err && i < n; i++) {
        if (!keep[i])
            continue;
        if (k++)
            cdc_buf_puts(q, ", ");
        err = value_literal(t, q, cdc_sink_table_type(tt, row->cols[i].name), &row->cols[i], es);
    }
    cdc_buf_puts(q, ") ON DUPLICATE KEY UPDATE ");
    size_t set = 0;
    for (size_t i = 0; i < n; i++) {
        if (!keep[i] || cdc_sink_row_is_key(row, row->cols[i].name))
            continue;
        if (set++)
            cdc_buf_puts(q, ", ");
        cdc_mysql_ident(q, row->cols[i].name);
        cdc_buf_puts(q, " = VALUES(");
        cdc_mysql_ident(q, row->cols[i].name);
        cdc_buf_putc(q, ')');
    }
    if (!set) { /* only key columns: keep the row as it is */
        cdc_mysql_ident(q, row->key[0].name);
        cdc_buf_puts(q, " = ");
        cdc_mysql_ident(q, row->key[0].name);
    }
    return err;
}

static cdc_err_t
my_apply(cdc_sink_target_t *t, const cdc_sink_row_t *row, cdc_errstr_t *es)
{
    cdc_sink_table_t *tt = cdc_sink_tables_get(&t->tables, row->schema, row->table);
    cdc_err_t err = tt->n ? CDC_OK : load_columns(t, row->schema, row->table, tt, es);
    if (err)
        return err;
    size_t n = row->is_delete ? 0 : row->n_cols;
    bool *keep = cdc_xcalloc(n + row->n_key + 1, sizeof(bool));
    err = cdc_sink_check_columns(row, tt, keep, es);
    if (!err)
        err = build(t, row, tt, keep, es);
    free(keep);
    if (err) {
        cdc_errstr_prefix(es, "%s.%s", tt->schema, tt->table);
        return err;
    }
    if (!t->sql.len)
        return CDC_OK;
    if (mysql_query(t->m, t->sql.data)) {
        char what[600];
        snprintf(what, sizeof(what), "applying to %s.%s", tt->schema, tt->table);
        return my_error(t, what, es);
    }
    if (!row->update_only || mysql_affected_rows(t->m) > 0)
        return CDC_OK;
    /* no row changed: the same values again, or no row at all */
    cdc_buf_t *q = &t->sql;
    cdc_buf_reset(q);
    cdc_buf_puts(q, "SELECT 1 FROM ");
    table_name(q, tt);
    if ((err = where_key(t, q, tt, row, es)))
        return err;
    if (mysql_query(t->m, q->data))
        return my_error(t, "looking for the base row", es);
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

const cdc_sink_ops_t cdc_mysql_sink_ops = {"mysql",   my_open,     my_load_offsets,
                                           my_begin,  my_apply,    my_move_offset,
                                           my_commit, my_rollback, my_close};

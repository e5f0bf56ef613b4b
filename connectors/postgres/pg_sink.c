/*
 * PostgreSQL target of a sink (include/cdc/sink.h): upserts as one multi-row INSERT ... ON
 * CONFLICT (key) DO UPDATE, deletes as one DELETE by a key list, rows with unchanged (left out)
 * columns as an UPDATE of the present ones, truncates as DELETE (foreign keys may point at the
 * table).
 * Values are sent as text and converted by the server into the target column's type, except
 * where the event's form is not the column's input form: bytea (base64 in events), json
 * (strings quoted) and arrays (JSON arrays in events, array input text here). The session holds an
 * advisory lock named after the sink, so a second instance refuses to start, and cdc_sink_offsets
 * is moved in the same transaction as the rows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cdc/json.h"
#include "cdc/log.h"
#include "cdc/sink.h"
#include "cdc/sink_offsets.h"
#include "pg.h"
#include "pg_internal.h"

struct cdc_sink_target {
    cdc_sink_base_t base; /* first: the engine's part */
    PGconn *c;
    cdc_buf_t vals, raw; /* raw: decoded bytes, scratch */
    cdc_arena_t arena;   /* strings of an array value being converted */
    size_t *val_off;
    const char **params;
    size_t cap_params;
    bool busy;           /* a statement sent, its result not read yet */
    char busy_what[600]; /* "applying to schema.table" */
};

static cdc_err_t
pg_error(cdc_sink_target_t *t, PGresult *r, const char *what, cdc_errstr_t *es)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    cdc_err_t err = CDC_ERR_IO;
    if (PQstatus(t->c) != CONNECTION_OK || (state && !strncmp(state, "08", 2)))
        err = CDC_ERR_CONNECT; /* reconnect and retry */
    else if (state && (!strncmp(state, "40", 2) || !strcmp(state, "55P03")))
        err = CDC_ERR_ABORTED; /* serialization failure, deadlock, lock timeout: retry */
    else if (state && (!strcmp(state, "23505") || !strcmp(state, "23503")))
        err = CDC_ERR_CONFLICT; /* unique or foreign-key violation: later, then the DLQ */
    else if (state && (!strncmp(state, "22", 2) || !strncmp(state, "23", 2)))
        err = CDC_ERR_DATA; /* a value the column refuses (data exception, not null, check) */
    else if (state && (!strcmp(state, "42703") || !strcmp(state, "42P01")))
        err = CDC_ERR_CONFIG; /* the target table or column is gone */
    pg_result_error(es, err, t->c, r, "%s%s%s%s", what, state ? " (SQLSTATE " : "",
                    state ? state : "", state ? ")" : "");
    PQclear(r);
    return err;
}

/* Reads the result of the statement left running, if any. */
static cdc_err_t
pg_sync(cdc_sink_target_t *t, cdc_errstr_t *es)
{
    if (!t->busy)
        return CDC_OK;
    t->busy = false;
    PGresult *first = NULL, *r;
    while ((r = PQgetResult(t->c))) {
        if (!first)
            first = r;
        else
            PQclear(r);
    }
    if (first && PQresultStatus(first) == PGRES_COMMAND_OK) {
        PQclear(first);
        return CDC_OK;
    }
    return pg_error(t, first, t->busy_what, es);
}

static cdc_err_t
exec(cdc_sink_target_t *t, const char *sql, cdc_errstr_t *es)
{
    cdc_err_t err = pg_sync(t, es);
    if (err)
        return err;
    PGresult *r = PQexec(t->c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        return pg_error(t, r, sql, es);
    PQclear(r);
    return CDC_OK;
}

static void
quote_ident(cdc_buf_t *b, const char *s)
{
    cdc_buf_putc(b, '"');
    for (; *s; s++) {
        if (*s == '"')
            cdc_buf_putc(b, '"');
        cdc_buf_putc(b, *s);
    }
    cdc_buf_putc(b, '"');
}

static void
pg_close(cdc_sink_target_t *t)
{
    if (!t)
        return;
    if (t->c)
        PQfinish(t->c); /* the advisory lock goes with the session */
    cdc_sink_tables_free(&t->base.tables);
    cdc_buf_deinit(&t->base.sql);
    cdc_buf_deinit(&t->base.mark_sql);
    cdc_buf_deinit(&t->vals);
    cdc_buf_deinit(&t->raw);
    cdc_arena_deinit(&t->arena);
    free(t->val_off);
    free(t->params);
    free(t);
}

/* The sink's advisory lock, tried for CDC_SINK_LOCK_TRY_S. */
static cdc_err_t
take_lock(cdc_sink_target_t *t, cdc_errstr_t *es)
{
    char lock[300];
    snprintf(lock, sizeof(lock), "cdc-sink:%s", t->base.conf->name);
    const char *params[] = {lock};
    cdc_err_t err = CDC_ERR_FENCED;
    for (int tries = 0; err == CDC_ERR_FENCED && tries <= CDC_SINK_LOCK_TRY_S * 10; tries++) {
        if (tries)
            usleep(100000);
        PGresult *r = PQexecParams(t->c, "SELECT pg_try_advisory_lock(hashtext($1))", 1, NULL,
                                   params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            return pg_error(t, r, "taking the sink's lock", es);
        err = strcmp(PQgetvalue(r, 0, 0), "t") ? CDC_ERR_FENCED : CDC_OK;
        PQclear(r);
    }
    if (err == CDC_ERR_FENCED)
        cdc_errstr_set(es, CDC_ERR_FENCED,
                       "sink %s: another instance of the sink is running (it holds the advisory "
                       "lock '%s')",
                       t->base.conf->name, lock);
    return err;
}

/* The session's replication origin (created when missing): every transaction it commits carries
 * it, and a PostgreSQL source of the same agent cluster drops those (pgoutput's Origin message).
 * One session at a time may use an origin; the sink's lock makes that this one. Needs EXECUTE on
 * pg_replication_origin_create, _oid and _session_setup (superusers have it). */
static cdc_err_t
set_origin(cdc_sink_target_t *t, cdc_errstr_t *es)
{
    const char *params[] = {t->base.conf->applied_mark};
    PGresult *r = PQexecParams(t->c,
                               "SELECT pg_replication_origin_create($1) WHERE "
                               "pg_replication_origin_oid($1) IS NULL",
                               1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        PQclear(r);
        r = PQexecParams(t->c, "SELECT pg_replication_origin_session_setup($1)", 1, NULL, params,
                         NULL, NULL, 0);
    }
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        PQclear(r);
        return CDC_OK;
    }
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (state && !strcmp(state, "42501")) { /* insufficient privilege */
        CDC_LOG_WARN("sink=%s cannot mark what it applies with replication origin '%s' (%s): a "
                     "source of this agent cluster capturing the tables it writes would publish "
                     "those changes again. Grant: " PG_ORIGIN_GRANT "%s",
                     t->base.conf->name, t->base.conf->applied_mark,
                     PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY), PQuser(t->c));
        PQclear(r);
        return CDC_OK;
    }
    return pg_error(t, r, "setting the session's replication origin", es);
}

PGconn *
pg_sink_conn(cdc_sink_target_t *t)
{
    return t->c;
}

static cdc_err_t
pg_connect(const cdc_sink_conf_t *conf, cdc_sink_target_t **out, cdc_errstr_t *es)
{
    cdc_sink_target_t *t = cdc_xcalloc(1, sizeof(*t));
    t->base.conf = conf;
    cdc_buf_init(&t->base.sql);
    cdc_buf_init(&t->base.mark_sql);
    cdc_buf_init(&t->vals);
    cdc_buf_init(&t->raw);
    cdc_arena_init(&t->arena);
    cdc_err_t err;
    t->c = cdc_pg_connect(&conf->conn, false, &err, es);
    if (!t->c) {
        pg_close(t);
        return err;
    }
    *out = t;
    return CDC_OK;
}

static cdc_err_t
pg_send(cdc_sink_target_t *t, const char *sql, cdc_errstr_t *es)
{
    cdc_err_t err = pg_sync(t, es);
    if (err)
        return err;
    snprintf(t->busy_what, sizeof(t->busy_what), "%s", sql);
    if (!PQsendQuery(t->c, sql))
        return pg_error(t, NULL, sql, es);
    t->busy = true;
    return CDC_OK;
}

/* ---- target tables --------------------------------------------------------------------------- */

static cdc_err_t
load_columns(cdc_sink_target_t *t, cdc_sink_table_t *tt, cdc_errstr_t *es)
{
    const char *params[] = {tt->schema, tt->table};
    PGresult *r = PQexecParams(
        t->c,
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a JOIN "
        "pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE "
        "n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY "
        "a.attnum",
        2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return pg_error(t, r, "reading the target table's columns", es);
    for (int i = 0; i < PQntuples(r); i++)
        cdc_sink_table_add(tt, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
    PQclear(r);
    return CDC_OK;
}

/* ---- values ---------------------------------------------------------------------------------- */

/* Room for need parameters, empty buffers. */
static void
params_reserve(cdc_sink_target_t *t, size_t need)
{
    if (need > t->cap_params) {
        t->cap_params = need * 2;
        t->val_off = cdc_xrealloc(t->val_off, t->cap_params * sizeof(size_t));
        t->params = cdc_xrealloc(t->params, t->cap_params * sizeof(char *));
    }
    cdc_buf_reset(&t->vals);
    cdc_buf_reset(&t->base.sql);
}

/* Before a statement for n rows like rows[0]: room for its parameters, empty buffers. */
static void
statement_start(cdc_sink_target_t *t, const cdc_sink_row_t *const *rows, size_t n)
{
    params_reserve(t, n * ((rows[0]->is_delete ? 0 : rows[0]->n_cols) + rows[0]->n_key) + 1);
}

/* One element of an array as PostgreSQL's array input reads it: quoted with backslash escapes,
 * NULL unquoted, nested arrays in braces; bytea elements come as base64 like bytea columns. */
static cdc_err_t
array_element(cdc_sink_target_t *t, cdc_jr_t *r, bool bytea, cdc_errstr_t *es)
{
    const char *p;
    size_t n;
    cdc_err_t err = CDC_OK;
    switch (cdc_jr_peek(r)) {
    case CDC_JSON_NULL:
        cdc_buf_puts(&t->vals, "NULL");
        return cdc_jr_null(r);
    case CDC_JSON_ARRAY:
        if ((err = cdc_jr_arr_begin(r)))
            return err;
        cdc_buf_putc(&t->vals, '{');
        int more = 0;
        for (size_t i = 0; !err && (more = cdc_jr_arr_next(r, i)) > 0; i++) {
            if (i)
                cdc_buf_putc(&t->vals, ',');
            err = array_element(t, r, bytea, es);
        }
        cdc_buf_putc(&t->vals, '}');
        return err ? err : more < 0 ? (cdc_err_t)-more : CDC_OK;
    case CDC_JSON_STRING:
        if ((err = cdc_jr_string(r, &t->arena, &p, &n)))
            return err;
        if (bytea) {
            cdc_buf_reset(&t->raw);
            if (!cdc_base64_decode(&t->raw, p, n))
                return cdc_errstr_set(es, CDC_ERR_PARSE, "not base64 bytes");
            cdc_buf_puts(&t->vals, "\"\\\\x");
            cdc_buf_put_hex(&t->vals, t->raw.data, t->raw.len);
            cdc_buf_putc(&t->vals, '"');
            return CDC_OK;
        }
        if (memchr(p, '\0', n))
            return cdc_errstr_set(es, CDC_ERR_RANGE,
                                  "a NUL character cannot be stored in PostgreSQL text");
        break;
    default: /* numbers, booleans, objects (json[] elements): their JSON text */
        if ((err = cdc_jr_skip(r, &p, &n)))
            return err;
        break;
    }
    cdc_buf_putc(&t->vals, '"');
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '"' || p[i] == '\\')
            cdc_buf_putc(&t->vals, '\\');
        cdc_buf_putc(&t->vals, p[i]);
    }
    cdc_buf_putc(&t->vals, '"');
    return CDC_OK;
}

/* A JSON array (how events carry arrays) into an array column: {…} input text. */
static cdc_err_t
array_value(cdc_sink_target_t *t, const char *type, const cdc_column_t *col, cdc_errstr_t *es)
{
    cdc_errstr_t jerr = {{0}};
    cdc_jr_t r;
    cdc_jr_init(&r, col->value.s.p, col->value.s.n, &jerr);
    cdc_arena_reset(&t->arena);
    bool bytea = !strncmp(type, "bytea", 5);
    cdc_err_t err = array_element(t, &r, bytea, &jerr);
    if (!err)
        err = cdc_jr_end(&r);
    if (err)
        return cdc_errstr_set(es, err == CDC_ERR_RANGE ? CDC_ERR_RANGE : CDC_ERR_PARSE,
                              "column %s: not an array for %s: %s", col->name, type, jerr.msg);
    return CDC_OK;
}

/* Appends parameter i's text (or marks it NULL) converted for the column's type. */
static cdc_err_t
add_value(cdc_sink_target_t *t, size_t i, const char *type, const cdc_column_t *col,
          cdc_errstr_t *es)
{
    const cdc_value_t *v = &col->value;
    if (v->type == CDC_VAL_NULL) {
        t->val_off[i] = SIZE_MAX;
        return CDC_OK;
    }
    t->val_off[i] = t->vals.len;
    bool json = !strcmp(type, "json") || !strcmp(type, "jsonb");
    size_t tl = strlen(type);
    if (v->type == CDC_VAL_JSON && tl > 2 && !strcmp(type + tl - 2, "[]")) {
        cdc_err_t err = array_value(t, type, col, es);
        if (err)
            return err;
    } else if (!strcmp(type, "bytea") && v->type == CDC_VAL_STRING) {
        cdc_buf_reset(&t->raw);
        if (!cdc_base64_decode(&t->raw, v->s.p, v->s.n))
            return cdc_errstr_set(es, CDC_ERR_PARSE, "column %s: not base64 bytes", col->name);
        cdc_buf_puts(&t->vals, "\\x");
        cdc_buf_put_hex(&t->vals, t->raw.data, t->raw.len);
    } else if (v->type == CDC_VAL_BOOL) {
        cdc_buf_puts(&t->vals, v->b ? "true" : "false");
    } else if (json && v->type == CDC_VAL_STRING) {
        size_t bad;
        if (cdc_json_write_string(&t->vals, v->s.p, v->s.n, &bad))
            return cdc_errstr_set(es, CDC_ERR_UTF8, "column %s: invalid utf-8", col->name);
    } else {
        if (memchr(v->s.p, '\0', v->s.n))
            return cdc_errstr_set(es, CDC_ERR_RANGE,
                                  "column %s: a NUL character cannot be stored in PostgreSQL text",
                                  col->name);
        cdc_buf_append(&t->vals, v->s.p, v->s.n);
    }
    cdc_buf_putc(&t->vals, '\0');
    return CDC_OK;
}

static void
table_ident(cdc_buf_t *q, const cdc_sink_table_t *tt)
{
    quote_ident(q, tt->schema);
    cdc_buf_putc(q, '.');
    quote_ident(q, tt->table);
}

static void
set_params(cdc_sink_target_t *t, size_t np)
{
    for (size_t i = 0; i < np; i++)
        t->params[i] = t->val_off[i] == SIZE_MAX ? NULL : t->vals.data + t->val_off[i];
}

/* Sends sql with the np parameters collected in vals and returns while the server runs it
 * (pg_sync reads its result). */
static cdc_err_t
send(cdc_sink_target_t *t, const cdc_sink_table_t *tt, size_t np, cdc_errstr_t *es)
{
    cdc_err_t err = pg_sync(t, es); /* the previous statement's result first */
    if (err)
        return err;
    set_params(t, np);
    snprintf(t->busy_what, sizeof(t->busy_what), "applying to %s.%s", tt->schema, tt->table);
    if (!PQsendQueryParams(t->c, t->base.sql.data, (int)np, NULL, t->params, NULL, NULL, 0))
        return pg_error(t, NULL, t->busy_what, es);
    t->busy = true;
    return CDC_OK;
}

/* Runs sql with the np parameters collected in vals. */
static cdc_err_t
run(cdc_sink_target_t *t, const cdc_sink_table_t *tt, size_t np, bool *none, cdc_errstr_t *es)
{
    set_params(t, np);
    PGresult *r = PQexecParams(t->c, t->base.sql.data, (int)np, NULL, t->params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        char what[600];
        snprintf(what, sizeof(what), "applying to %s.%s", tt->schema, tt->table);
        return pg_error(t, r, what, es);
    }
    if (none)
        *none = !strcmp(PQcmdTuples(r), "0");
    PQclear(r);
    return CDC_OK;
}

/* "$i" for column c of type, its value added as parameter i. */
static cdc_err_t
param(cdc_sink_target_t *t, const cdc_sink_table_t *tt, const char *type, const cdc_column_t *c,
      size_t *np, cdc_errstr_t *es)
{
    cdc_buf_printf(&t->base.sql, "$%zu", *np + 1);
    cdc_err_t err = add_value(t, (*np)++, type, c, es);
    if (err)
        cdc_errstr_prefix(es, "%s.%s", tt->schema, tt->table);
    return err;
}

/* "$i::type" for value c of column name, its value added as parameter i. */
static cdc_err_t
typed_param(cdc_sink_target_t *t, const cdc_sink_table_t *tt, const cdc_column_t *c, size_t *np,
            cdc_errstr_t *es)
{
    const char *type = cdc_sink_table_type(tt, c->name);
    cdc_err_t err = param(t, tt, type, c, np, es);
    cdc_buf_printf(&t->base.sql, "::%s", type);
    return err;
}

/* "WHERE k1 = $1 AND ..." for one row. */
static cdc_err_t
where_key(cdc_sink_target_t *t, const cdc_sink_table_t *tt, const cdc_sink_row_t *row, size_t *np,
          cdc_errstr_t *es)
{
    cdc_err_t err = CDC_OK;
    cdc_buf_puts(&t->base.sql, " WHERE ");
    for (size_t k = 0; !err && k < row->n_key; k++) {
        if (k)
            cdc_buf_puts(&t->base.sql, " AND ");
        quote_ident(&t->base.sql, row->key[k].name);
        cdc_buf_puts(&t->base.sql, " = ");
        err = param(t, tt, cdc_sink_table_type(tt, row->key[k].name), &row->key[k], np, es);
    }
    return err;
}

/* Rows with unchanged columns: an UPDATE of the present ones each; no row matched is an error. */
static cdc_err_t
update_rows(cdc_sink_target_t *t, const cdc_sink_table_t *tt, const cdc_sink_row_t *const *rows,
            size_t n, const char *const *types, cdc_errstr_t *es)
{
    statement_start(t, rows, n);
    cdc_buf_t *q = &t->base.sql;
    cdc_err_t err = CDC_OK;
    for (size_t r = 0; !err && r < n; r++) {
        const cdc_sink_row_t *row = rows[r];
        cdc_buf_reset(q);
        cdc_buf_reset(&t->vals);
        cdc_buf_puts(q, "UPDATE ");
        table_ident(q, tt);
        size_t np = 0, set = 0;
        for (size_t i = 0; !err && i < row->n_cols; i++) {
            if (!types[i] || cdc_sink_row_is_key(row, row->cols[i].name) ||
                !cdc_sink_route_updates(row->route, row->cols[i].name))
                continue;
            cdc_buf_puts(q, set++ ? ", " : " SET ");
            quote_ident(q, row->cols[i].name);
            cdc_buf_puts(q, " = ");
            err = param(t, tt, types[i], &row->cols[i], &np, es);
        }
        if (!set) /* only key columns present: nothing to update */
            continue;
        bool none = false;
        if (!err)
            err = where_key(t, tt, row, &np, es);
        if (!err)
            err = run(t, tt, np, &none, es);
        if (!err && none && !row->soft)
            err = cdc_errstr_set(es, CDC_ERR_NOTFOUND,
                                 "base row missing in %s.%s (the event leaves unchanged columns "
                                 "out); re-snapshot %s",
                                 tt->schema, tt->table, row->route->from);
    }
    return err;
}

/* DELETE ... WHERE (k1, k2) IN (($1, $2), ...) for every row. */
static cdc_err_t
delete_rows(cdc_sink_target_t *t, const cdc_sink_table_t *tt, const cdc_sink_row_t *const *rows,
            size_t n, cdc_errstr_t *es)
{
    statement_start(t, rows, n);
    cdc_buf_t *q = &t->base.sql;
    cdc_buf_puts(q, "DELETE FROM ");
    table_ident(q, tt);
    cdc_buf_puts(q, " WHERE (");
    for (size_t k = 0; k < rows[0]->n_key; k++) {
        if (k)
            cdc_buf_puts(q, ", ");
        quote_ident(q, rows[0]->key[k].name);
    }
    cdc_buf_puts(q, ") IN (");
    size_t np = 0;
    cdc_err_t err = CDC_OK;
    for (size_t r = 0; !err && r < n; r++) {
        cdc_buf_puts(q, r ? ", (" : "(");
        for (size_t k = 0; !err && k < rows[r]->n_key; k++) {
            if (k)
                cdc_buf_puts(q, ", ");
            err = param(t, tt, cdc_sink_table_type(tt, rows[r]->key[k].name), &rows[r]->key[k], &np,
                        es);
        }
        cdc_buf_putc(q, ')');
    }
    cdc_buf_putc(q, ')');
    return err ? err : send(t, tt, np, es);
}

/* INSERT ... VALUES (...), (...) ON CONFLICT (key) DO UPDATE SET c = EXCLUDED.c for every row. */
static cdc_err_t
upsert_rows(cdc_sink_target_t *t, const cdc_sink_table_t *tt, const cdc_sink_row_t *const *rows,
            size_t n, const char *const *types, cdc_errstr_t *es)
{
    statement_start(t, rows, n);
    const cdc_sink_row_t *row = rows[0];
    cdc_buf_t *q = &t->base.sql;
    cdc_buf_puts(q, "INSERT INTO ");
    table_ident(q, tt);
    cdc_buf_puts(q, " (");
    size_t k = 0;
    for (size_t i = 0; i < row->n_cols; i++) {
        if (!types[i])
            continue;
        if (k++)
            cdc_buf_puts(q, ", ");
        quote_ident(q, row->cols[i].name);
    }
    cdc_buf_puts(q, ") VALUES ");
    size_t np = 0;
    cdc_err_t err = CDC_OK;
    for (size_t r = 0; !err && r < n; r++) {
        cdc_buf_puts(q, r ? ", (" : "(");
        k = 0;
        for (size_t i = 0; !err && i < rows[r]->n_cols; i++) {
            const cdc_column_t *c = &rows[r]->cols[i];
            if (!types[i])
                continue;
            if (k++)
                cdc_buf_puts(q, ", ");
            if (c->value.type == CDC_VAL_NULL && row->route->link_key &&
                !strcmp(c->name, row->route->link_key))
                cdc_buf_puts(q, "DEFAULT"); /* the target makes its own key */
            else
                err = param(t, tt, types[i], c, &np, es);
        }
        cdc_buf_putc(q, ')');
    }
    cdc_buf_puts(q, " ON CONFLICT (");
    for (k = 0; k < row->n_key; k++) {
        if (k)
            cdc_buf_puts(q, ", ");
        quote_ident(q, row->key[k].name);
    }
    cdc_buf_puts(q, ") DO ");
    size_t set = 0;
    for (size_t i = 0; i < row->n_cols; i++) {
        if (!types[i] || cdc_sink_row_is_key(row, row->cols[i].name) ||
            !cdc_sink_route_updates(row->route, row->cols[i].name))
            continue;
        cdc_buf_puts(q, set++ ? ", " : "UPDATE SET ");
        quote_ident(q, row->cols[i].name);
        cdc_buf_puts(q, " = EXCLUDED.");
        quote_ident(q, row->cols[i].name);
    }
    if (!set)
        cdc_buf_puts(q, "NOTHING");
    return err ? err : send(t, tt, np, es);
}

/* ---- records linked across systems ---------------------------------------------------------- */

static cdc_err_t
links_ensure(cdc_sink_target_t *t, cdc_errstr_t *es)
{
    PGresult *r = PQexec(t->c, "SELECT to_regclass('" CDC_ID_MAP_TABLE "') IS NOT NULL");
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return pg_error(t, r, "looking for " CDC_ID_MAP_TABLE, es);
    bool exists = !strcmp(PQgetvalue(r, 0, 0), "t");
    PQclear(r);
    if (exists)
        return CDC_OK;
    r = PQexec(t->c, "BEGIN; SELECT pg_advisory_xact_lock(hashtext('" CDC_ID_MAP_TABLE "')); "
                     "CREATE TABLE IF NOT EXISTS " CDC_ID_MAP_TABLE
                     " (map text NOT NULL, source text NOT NULL, source_key text NOT NULL, "
                     "target_key text, published boolean NOT NULL DEFAULT false, "
                     "PRIMARY KEY (map, source, source_key)); COMMIT");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        cdc_err_t err = pg_error(t, r, "creating " CDC_ID_MAP_TABLE, es);
        PQclear(PQexec(t->c, "ROLLBACK"));
        return err;
    }
    PQclear(r);
    return CDC_OK;
}

/* UPDATE tbl t SET key = v.k FROM (VALUES ($1::type, $2::type), ...) v(k, l) WHERE t.link = v.l
 * AND t.key IS NULL, for the rows that carry a link_key value. */
static cdc_err_t
link_rows(cdc_sink_target_t *t, const cdc_sink_table_t *tt, const cdc_sink_row_t *const *rows,
          size_t n, cdc_errstr_t *es)
{
    const cdc_route_conf_t *rt = rows[0]->route;
    cdc_err_t err = pg_sync(t, es);
    if (err)
        return err;
    params_reserve(t, 2 * n + 1);
    cdc_buf_t *q = &t->base.sql;
    cdc_buf_puts(q, "UPDATE ");
    table_ident(q, tt);
    cdc_buf_puts(q, " t SET ");
    quote_ident(q, rt->key[0]);
    cdc_buf_puts(q, " = v.k FROM (VALUES ");
    size_t np = 0, linked = 0;
    for (size_t r = 0; !err && r < n; r++) {
        const cdc_column_t *l = cdc_sink_link_value(rows[r]);
        if (!l)
            continue;
        cdc_buf_puts(q, linked++ ? ", (" : "(");
        err = typed_param(t, tt, &rows[r]->key[0], &np, es);
        cdc_buf_puts(q, ", ");
        if (!err)
            err = typed_param(t, tt, l, &np, es);
        cdc_buf_putc(q, ')');
    }
    if (err || !linked)
        return err;
    cdc_buf_puts(q, ") v(k, l) WHERE t.");
    quote_ident(q, rt->link_key);
    cdc_buf_puts(q, " = v.l AND t.");
    quote_ident(q, rt->key[0]);
    cdc_buf_puts(q, " IS NULL");
    return run(t, tt, np, NULL, es);
}

/* " AND t.m0 = $i AND ..." for the match values, added as parameters. */
static cdc_err_t
match_where(cdc_sink_target_t *t, const cdc_sink_table_t *tt, const cdc_sink_row_t *row,
            const cdc_column_t *const *match, size_t *np, cdc_errstr_t *es)
{
    cdc_buf_t *q = &t->base.sql;
    cdc_buf_puts(q, " WHERE t.");
    quote_ident(q, row->route->key[0]);
    cdc_buf_puts(q, " IS NULL");
    cdc_err_t err = CDC_OK;
    for (size_t m = 0; !err && m < row->route->n_match_on; m++) {
        cdc_buf_puts(q, " AND t.");
        quote_ident(q, match[m]->name);
        cdc_buf_puts(q, " = ");
        err = typed_param(t, tt, match[m], np, es);
    }
    return err;
}

/* The candidates (SELECT count(*) ... of unlinked rows with the match values, when no row has the
 * key), then, for exactly one, UPDATE ... SET key. */
static cdc_err_t
match_row(cdc_sink_target_t *t, const cdc_sink_table_t *tt, const cdc_sink_row_t *row,
          const cdc_column_t *const *match, long *candidates, cdc_errstr_t *es)
{
    cdc_err_t err = pg_sync(t, es);
    if (err)
        return err;
    const cdc_route_conf_t *rt = row->route;
    params_reserve(t, rt->n_match_on + 2);
    cdc_buf_t *q = &t->base.sql;
    size_t np = 0;
    cdc_buf_puts(q, "SELECT CASE WHEN EXISTS (SELECT 1 FROM ");
    table_ident(q, tt);
    cdc_buf_puts(q, " k WHERE k.");
    quote_ident(q, rt->key[0]);
    cdc_buf_puts(q, " = ");
    if ((err = typed_param(t, tt, &row->key[0], &np, es)))
        return err;
    cdc_buf_puts(q, ") THEN 0 ELSE (SELECT count(*) FROM ");
    table_ident(q, tt);
    cdc_buf_puts(q, " t");
    if ((err = match_where(t, tt, row, match, &np, es)))
        return err;
    cdc_buf_puts(q, ") END");
    set_params(t, np);
    PGresult *r = PQexecParams(t->c, q->data, (int)np, NULL, t->params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        char what[600];
        snprintf(what, sizeof(what), "matching in %s.%s", tt->schema, tt->table);
        return pg_error(t, r, what, es);
    }
    *candidates = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (*candidates != 1)
        return CDC_OK;
    params_reserve(t, rt->n_match_on + 2);
    np = 0;
    cdc_buf_puts(q, "UPDATE ");
    table_ident(q, tt);
    cdc_buf_puts(q, " t SET ");
    quote_ident(q, rt->key[0]);
    cdc_buf_puts(q, " = ");
    if ((err = typed_param(t, tt, &row->key[0], &np, es)) ||
        (err = match_where(t, tt, row, match, &np, es)))
        return err;
    return run(t, tt, np, NULL, es);
}

/* INSERT INTO cdc_id_map SELECT map, source, t.key, t.link, whether the row carried it FROM tbl t
 * JOIN (VALUES ...) v(k, c) ON t.key = v.k ON CONFLICT DO UPDATE. */
static cdc_err_t
record_links(cdc_sink_target_t *t, const cdc_sink_table_t *tt, const cdc_sink_row_t *const *rows,
             size_t n, cdc_errstr_t *es)
{
    const cdc_route_conf_t *rt = rows[0]->route;
    cdc_err_t err = pg_sync(t, es);
    if (err)
        return err;
    params_reserve(t, 2 * n + 3);
    cdc_buf_t *q = &t->base.sql;
    const char *names[] = {rt->link_map, rt->source};
    size_t np = 0;
    for (int i = 0; i < 2; i++) {
        t->val_off[np++] = t->vals.len;
        cdc_buf_append(&t->vals, names[i], strlen(names[i]) + 1);
    }
    cdc_buf_puts(q, "INSERT INTO " CDC_ID_MAP_TABLE " (map, source, source_key, target_key, "
                    "published) SELECT $1, $2, t.");
    quote_ident(q, rt->key[0]);
    cdc_buf_puts(q, "::text, t.");
    quote_ident(q, rt->link_key);
    cdc_buf_puts(q, "::text, v.c IS NOT DISTINCT FROM t.");
    quote_ident(q, rt->link_key);
    cdc_buf_puts(q, "::text FROM ");
    table_ident(q, tt);
    cdc_buf_puts(q, " t JOIN (VALUES ");
    const char *ltype = cdc_sink_table_type(tt, rt->link_key);
    for (size_t r = 0; !err && r < n; r++) {
        cdc_buf_puts(q, r ? ", (" : "(");
        err = typed_param(t, tt, &rows[r]->key[0], &np, es);
        cdc_buf_puts(q, ", ");
        const cdc_column_t *l = cdc_sink_link_value(rows[r]);
        if (!err && l && ltype) {
            err = typed_param(t, tt, l, &np, es);
        } else {
            cdc_buf_printf(q, "$%zu", np + 1);
            t->val_off[np++] = SIZE_MAX;
        }
        cdc_buf_puts(q, "::text)");
    }
    if (err)
        return err;
    cdc_buf_puts(q, ") v(k, c) ON t.");
    quote_ident(q, rt->key[0]);
    cdc_buf_puts(q, " = v.k ON CONFLICT (map, source, source_key) DO UPDATE SET target_key = "
                    "EXCLUDED.target_key, published = EXCLUDED.published OR (" CDC_ID_MAP_TABLE
                    ".published AND " CDC_ID_MAP_TABLE
                    ".target_key IS NOT DISTINCT FROM EXCLUDED.target_key)");
    return run(t, tt, np, NULL, es);
}

static cdc_err_t
lookup_links(cdc_sink_target_t *t, const char *map, const char *source, const char *const *keys,
             size_t n, char **out, cdc_errstr_t *es)
{
    cdc_err_t err = pg_sync(t, es);
    if (err)
        return err;
    params_reserve(t, n + 3);
    cdc_buf_t *q = &t->base.sql;
    cdc_buf_puts(q, "SELECT source_key, target_key FROM " CDC_ID_MAP_TABLE
                    " WHERE map = $1 AND source = $2 AND source_key IN (");
    const char **params = cdc_xcalloc(n + 3, sizeof(char *));
    params[0] = map;
    params[1] = source;
    for (size_t i = 0; i < n; i++) {
        params[i + 2] = keys[i];
        cdc_buf_printf(q, "%s$%zu", i ? ", " : "", i + 3);
    }
    cdc_buf_putc(q, ')');
    PGresult *r = PQexecParams(t->c, q->data, (int)n + 2, NULL, params, NULL, NULL, 0);
    free(params);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return pg_error(t, r, "reading " CDC_ID_MAP_TABLE, es);
    for (size_t i = 0; i < n; i++)
        out[i] = NULL;
    for (int k = 0; k < PQntuples(r); k++)
        cdc_sink_link_found(keys, n, PQgetvalue(r, k, 0),
                            PQgetisnull(r, k, 1) ? NULL : PQgetvalue(r, k, 1), out);
    PQclear(r);
    return CDC_OK;
}

static cdc_err_t
links_pending(cdc_sink_target_t *t, const char *map, const char *source, size_t max,
              cdc_sink_link_t **out, size_t *n, cdc_errstr_t *es)
{
    *out = NULL;
    *n = 0;
    cdc_err_t err = pg_sync(t, es);
    if (err)
        return err;
    char lim[24];
    snprintf(lim, sizeof(lim), "%zu", max);
    const char *params[] = {map, source, lim};
    PGresult *r = PQexecParams(t->c, CDC_ID_MAP_PENDING_SQL "$1 AND source = $2 LIMIT $3::int", 3,
                               NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return pg_error(t, r, "reading " CDC_ID_MAP_TABLE, es);
    *n = (size_t)PQntuples(r);
    *out = cdc_xcalloc(*n + 1, sizeof(cdc_sink_link_t));
    for (size_t i = 0; i < *n; i++)
        (*out)[i] = (cdc_sink_link_t){
            cdc_xstrdup(PQgetvalue(r, (int)i, 0)), cdc_xstrdup(PQgetvalue(r, (int)i, 1)),
            cdc_xstrdup(PQgetvalue(r, (int)i, 2)), cdc_xstrdup(PQgetvalue(r, (int)i, 3))};
    PQclear(r);
    return CDC_OK;
}

static cdc_err_t
links_published(cdc_sink_target_t *t, const cdc_sink_link_t *links, size_t n, cdc_errstr_t *es)
{
    cdc_err_t err = pg_sync(t, es);
    for (size_t i = 0; !err && i < n; i++) {
        const char *params[] = {links[i].map, links[i].source, links[i].source_key,
                                links[i].target_key};
        PGresult *r = PQexecParams(t->c,
                                   "UPDATE " CDC_ID_MAP_TABLE " SET published = true WHERE map = "
                                   "$1 AND source = $2 AND source_key = $3 AND target_key = $4",
                                   4, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            return pg_error(t, r, "updating " CDC_ID_MAP_TABLE, es);
        PQclear(r);
    }
    return err;
}

static cdc_err_t
apply_link(cdc_sink_target_t *t, const cdc_route_conf_t *rt, const char *schema, const char *table,
           const cdc_sink_link_t *l, cdc_errstr_t *es)
{
    cdc_err_t err = pg_sync(t, es);
    if (err)
        return err;
    cdc_buf_t *q = &t->base.sql;
    cdc_buf_reset(q);
    cdc_buf_puts(q, "WITH u AS (UPDATE ");
    quote_ident(q, schema);
    cdc_buf_putc(q, '.');
    quote_ident(q, table);
    cdc_buf_puts(q, " t SET ");
    quote_ident(q, rt->key[0]);
    cdc_buf_puts(q, " = $1 WHERE t.");
    quote_ident(q, rt->link_key);
    cdc_buf_puts(q, "::text = $2 AND t.");
    quote_ident(q, rt->key[0]);
    cdc_buf_puts(q, " IS NULL RETURNING 1) INSERT INTO " CDC_ID_MAP_TABLE
                    " (map, source, source_key, target_key, published) VALUES ($3, $4, $5, $6, "
                    "true) ON CONFLICT (map, source, source_key) DO UPDATE SET target_key = "
                    "EXCLUDED.target_key, published = true");
    const char *params[] = {l->target_key, l->source_key, rt->link_map,
                            rt->source,    l->target_key, l->source_key};
    PGresult *r = PQexecParams(t->c, q->data, 6, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        char what[600];
        snprintf(what, sizeof(what), "linking %s.%s", schema, table);
        return pg_error(t, r, what, es);
    }
    PQclear(r);
    return CDC_OK;
}

/* ---- conflict checks ------------------------------------------------------------------------- */

/* SELECT CASE WHEN key = $1 THEN 0 WHEN ... END FROM tbl t WHERE key IN ($1, ...) FOR UPDATE:
 * the rows that exist, locked; the parameters typed by the key columns. */
static cdc_err_t
lock_keys(cdc_sink_target_t *t, const cdc_sink_table_t *tt, const cdc_sink_row_t *const *rows,
          size_t n, bool *found, cdc_errstr_t *es)
{
    cdc_err_t err = pg_sync(t, es);
    if (err)
        return err;
    const cdc_sink_row_t *row0 = rows[0];
    params_reserve(t, n * row0->n_key + 1);
    size_t np = 0;
    for (size_t r = 0; !err && r < n; r++)
        for (size_t k = 0; !err && k < row0->n_key; k++)
            err = add_value(t, np++, cdc_sink_table_type(tt, rows[r]->key[k].name),
                            &rows[r]->key[k], es);
    if (err)
        return err;
    cdc_buf_t *q = &t->base.sql;
    cdc_buf_puts(q, "SELECT CASE");
    for (size_t r = 0; r < n; r++) {
        cdc_buf_puts(q, " WHEN ");
        for (size_t k = 0; k < row0->n_key; k++) {
            cdc_buf_puts(q, k ? " AND t." : "t.");
            quote_ident(q, row0->key[k].name);
            cdc_buf_printf(q, " = $%zu", r * row0->n_key + k + 1);
        }
        cdc_buf_printf(q, " THEN %zu", r);
    }
    cdc_buf_puts(q, " END FROM ");
    table_ident(q, tt);
    cdc_buf_puts(q, " t WHERE (");
    for (size_t k = 0; k < row0->n_key; k++) {
        cdc_buf_puts(q, k ? ", t." : "t.");
        quote_ident(q, row0->key[k].name);
    }
    cdc_buf_puts(q, ") IN (");
    for (size_t r = 0; r < n; r++) {
        cdc_buf_puts(q, r ? ", (" : "(");
        for (size_t k = 0; k < row0->n_key; k++)
            cdc_buf_printf(q, "%s$%zu", k ? ", " : "", r * row0->n_key + k + 1);
        cdc_buf_putc(q, ')');
    }
    cdc_buf_puts(q, ") FOR UPDATE OF t");
    set_params(t, np);
    PGresult *res = PQexecParams(t->c, q->data, (int)np, NULL, t->params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        char what[600];
        snprintf(what, sizeof(what), "locking rows of %s.%s", tt->schema, tt->table);
        return pg_error(t, res, what, es);
    }
    memset(found, 0, n * sizeof(bool));
    for (int i = 0; i < PQntuples(res); i++) {
        size_t r = (size_t)strtoull(PQgetvalue(res, i, 0), NULL, 10);
        if (!PQgetisnull(res, i, 0) && r < n)
            found[r] = true;
    }
    PQclear(res);
    return CDC_OK;
}

/* Column name of t against v.<alias>: equal as the column's type prints them (json as jsonb,
 * which has an equality), so what the target stored compares to what the event carries. */
static void
same_expr(cdc_buf_t *q, const cdc_sink_table_t *tt, const char *name, size_t j)
{
    const char *type = cdc_sink_table_type(tt, name);
    const char *as = !strcmp(type, "json") || !strcmp(type, "jsonb") ? "jsonb" : "text";
    cdc_buf_puts(q, " AND t.");
    quote_ident(q, name);
    cdc_buf_printf(q, "::%s IS NOT DISTINCT FROM v.c%zu::%s", as, j, as);
}

/* SELECT v.i, row_to_json(t)::text, <same>, <order> FROM tbl t JOIN (VALUES ($1::int, key...,
 * cmp..., lww), ...) v ON key FOR UPDATE OF t. */
static cdc_err_t
read_locked(cdc_sink_target_t *t, const cdc_sink_table_t *tt, const cdc_sink_probe_t *probes,
            size_t n, cdc_arena_t *arena, cdc_sink_current_t *cur, cdc_errstr_t *es)
{
    cdc_err_t err = pg_sync(t, es);
    if (err)
        return err;
    const cdc_sink_probe_t *p0 = &probes[0];
    const cdc_sink_row_t *row0 = p0->row;
    params_reserve(t, n * (2 + row0->n_key + p0->n_cmp) + 1);
    cdc_buf_t *q = &t->base.sql;
    cdc_buf_puts(q, "SELECT v.i, row_to_json(t)::text, TRUE");
    for (size_t j = 0; j < p0->n_cmp; j++)
        same_expr(q, tt, p0->cmp[j].name, j);
    if (p0->lww) {
        cdc_buf_puts(q, ", CASE WHEN t.");
        quote_ident(q, p0->lww->name);
        cdc_buf_puts(q, " IS NULL AND v.w IS NULL THEN 0 WHEN t.");
        quote_ident(q, p0->lww->name);
        cdc_buf_puts(q, " IS NULL THEN -1 WHEN v.w IS NULL THEN 1 WHEN t.");
        quote_ident(q, p0->lww->name);
        cdc_buf_puts(q, " < v.w THEN -1 WHEN t.");
        quote_ident(q, p0->lww->name);
        cdc_buf_puts(q, " > v.w THEN 1 ELSE 0 END");
    } else {
        cdc_buf_puts(q, ", 0");
    }
    cdc_buf_puts(q, " FROM ");
    table_ident(q, tt);
    cdc_buf_puts(q, " t JOIN (VALUES ");
    size_t np = 0;
    for (size_t r = 0; !err && r < n; r++) {
        const cdc_sink_probe_t *p = &probes[r];
        cdc_buf_printf(q, "%s($%zu::int", r ? ", " : "", np + 1);
        t->val_off[np++] = t->vals.len;
        cdc_buf_printf(&t->vals, "%zu", r);
        cdc_buf_putc(&t->vals, '\0');
        for (size_t k = 0; !err && k < p->row->n_key; k++) {
            cdc_buf_puts(q, ", ");
            err = typed_param(t, tt, &p->row->key[k], &np, es);
        }
        for (size_t j = 0; !err && j < p->n_cmp; j++) {
            cdc_buf_puts(q, ", ");
            err = typed_param(t, tt, &p->cmp[j], &np, es);
        }
        if (!err && p0->lww) {
            cdc_buf_puts(q, ", ");
            err = typed_param(t, tt, p->lww, &np, es);
        }
        cdc_buf_putc(q, ')');
    }
    if (err)
        return err;
    cdc_buf_puts(q, ") v(i");
    for (size_t k = 0; k < row0->n_key; k++)
        cdc_buf_printf(q, ", k%zu", k);
    for (size_t j = 0; j < p0->n_cmp; j++)
        cdc_buf_printf(q, ", c%zu", j);
    cdc_buf_puts(q, p0->lww ? ", w) ON " : ") ON ");
    for (size_t k = 0; k < row0->n_key; k++) {
        cdc_buf_puts(q, k ? " AND t." : "t.");
        quote_ident(q, row0->key[k].name);
        cdc_buf_printf(q, " = v.k%zu", k);
    }
    cdc_buf_puts(q, " FOR UPDATE OF t");
    set_params(t, np);
    PGresult *res = PQexecParams(t->c, q->data, (int)np, NULL, t->params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        char what[600];
        snprintf(what, sizeof(what), "checking %s.%s for conflicts", tt->schema, tt->table);
        return pg_error(t, res, what, es);
    }
    for (size_t r = 0; r < n; r++)
        cur[r] = (cdc_sink_current_t){0};
    for (int i = 0; i < PQntuples(res); i++) {
        size_t r = (size_t)strtoull(PQgetvalue(res, i, 0), NULL, 10);
        if (r >= n)
            continue;
        cur[r].found = true;
        cur[r].json =
            cdc_arena_strndup(arena, PQgetvalue(res, i, 1), (size_t)PQgetlength(res, i, 1));
        cur[r].same = !strcmp(PQgetvalue(res, i, 2), "t");
        cur[r].order = atoi(PQgetvalue(res, i, 3));
    }
    PQclear(res);
    return CDC_OK;
}

const cdc_sink_ops_t cdc_pg_sink_ops = {
    .name = "postgresql",
    .connect = pg_connect,
    .lock = take_lock,
    .offsets_ensure = cdc_pg_sink_offsets_ensure,
    .mark_session = set_origin,
    .fk_checks_off_sql = "SET session_replication_role = replica",
    .begin_sql = "BEGIN",
    .load_offsets = cdc_pg_sink_offsets_load,
    .send = pg_send,
    .load_columns = load_columns,
    .upsert = upsert_rows,
    .update = update_rows,
    .delete_rows = delete_rows,
    .lock_keys = lock_keys,
    .read_locked = read_locked,
    .links_ensure = links_ensure,
    .link_rows = link_rows,
    .match_row = match_row,
    .record_links = record_links,
    .lookup_links = lookup_links,
    .links_pending = links_pending,
    .links_published = links_published,
    .apply_link = apply_link,
    .sync = pg_sync,
    .exec = exec,
    .quote_ident = quote_ident,
    .added_types = {"numeric", "boolean", "jsonb", "text"},
    .move_offsets = cdc_pg_sink_offsets_move,
    .set_offsets = cdc_pg_sink_offsets_set,
    .close = pg_close,
};

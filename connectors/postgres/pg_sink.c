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
#include "pg_sink_internal.h"

cdc_err_t
pgs_error(cdc_sink_target_t *t, PGresult *r, const char *what, cdc_errstr_t *es)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    cdc_err_t err = CDC_ERR_IO;
    if (PQstatus(t->c) != CONNECTION_OK || (state && !strncmp(state, "08", 2)))
        err = CDC_ERR_CONNECT; /* reconnect and retry */
    else if (state && (!strncmp(state, "40", 2) || !strcmp(state, "55P03")))
        err = CDC_ERR_ABORTED; /* serialization failure, deadlock, lock timeout: retry */
    else if (state && (!strncmp(state, "53", 2) || !strcmp(state, "58030")))
        err = CDC_ERR_ABORTED; /* disk full, out of memory, too many connections, an I/O error:
                                * the server's, for a while: retry, never the DLQ or a stop */
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
cdc_err_t
pgs_sync(cdc_sink_target_t *t, cdc_errstr_t *es)
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
    return pgs_error(t, first, t->busy_what, es);
}

static cdc_err_t
exec(cdc_sink_target_t *t, const char *sql, cdc_errstr_t *es)
{
    cdc_err_t err = pgs_sync(t, es);
    if (err)
        return err;
    PGresult *r = PQexec(t->c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        return pgs_error(t, r, sql, es);
    PQclear(r);
    return CDC_OK;
}

static void
pg_close(cdc_sink_target_t *t)
{
    if (!t)
        return;
    if (t->c)
        PQfinish(t->c); /* the advisory lock goes with the session */
    cdc_sink_base_deinit(&t->base);
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
            return pgs_error(t, r, "taking the sink's lock", es);
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
    return pgs_error(t, r, "setting the session's replication origin", es);
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
    cdc_sink_base_init(&t->base, conf);
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
    cdc_err_t err = pgs_sync(t, es);
    if (err)
        return err;
    snprintf(t->busy_what, sizeof(t->busy_what), "%s", sql);
    if (!PQsendQuery(t->c, sql))
        return pgs_error(t, NULL, sql, es);
    t->busy = true;
    return CDC_OK;
}

/* ---- target tables --------------------------------------------------------------------------- */

/* Runs sql with tt's schema and table as $1 and $2; each row's two values go into tt as a column
 * and its type, or (keys) as an index and one of its columns, an index's columns in a row. */
static cdc_err_t
table_rows(cdc_sink_target_t *t, cdc_sink_table_t *tt, const char *sql, bool keys, const char *what,
           cdc_errstr_t *es)
{
    const char *params[] = {tt->schema, tt->table};
    PGresult *r = PQexecParams(t->c, sql, 2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return pgs_error(t, r, what, es);
    for (int i = 0; i < PQntuples(r); i++) {
        if (!keys)
            cdc_sink_table_add(tt, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
        else
            cdc_sink_table_add_key(tt, !i || strcmp(PQgetvalue(r, i, 0), PQgetvalue(r, i - 1, 0)),
                                   PQgetvalue(r, i, 1));
    }
    PQclear(r);
    return CDC_OK;
}

static cdc_err_t
load_columns(cdc_sink_target_t *t, cdc_sink_table_t *tt, cdc_errstr_t *es)
{
    cdc_err_t err = table_rows(
        t, tt,
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a JOIN "
        "pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE "
        "n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY "
        "a.attnum",
        false, "reading the target table's columns", es);
    /* its unique keys: the primary key first, then unique indexes on plain columns (not partial,
     * no expressions) */
    return err ? err
               : table_rows(t, tt,
                            "SELECT i.indexrelid, a.attname FROM pg_index i JOIN pg_class c ON "
                            "c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                            "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, pos) "
                            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum "
                            "WHERE n.nspname = $1 AND c.relname = $2 AND i.indisunique AND "
                            "i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL AND k.pos "
                            "<= i.indnkeyatts ORDER BY i.indisprimary DESC, i.indexrelid, k.pos",
                            true, "reading the target table's keys", es);
}

/* ---- values ---------------------------------------------------------------------------------- */

/* Room for need parameters, empty buffers. */
void
pgs_params_reserve(cdc_sink_target_t *t, size_t need)
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
    pgs_params_reserve(t, n * ((rows[0]->is_delete ? 0 : rows[0]->n_cols) + rows[0]->n_key) + 1);
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
cdc_err_t
pgs_add_value(cdc_sink_target_t *t, size_t i, const char *type, const cdc_column_t *col,
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

void
pgs_table_ident(cdc_buf_t *q, const cdc_sink_table_t *tt)
{
    pg_quote_ident(q, tt->schema);
    cdc_buf_putc(q, '.');
    pg_quote_ident(q, tt->table);
}

void
pgs_set_params(cdc_sink_target_t *t, size_t np)
{
    for (size_t i = 0; i < np; i++)
        t->params[i] = t->val_off[i] == SIZE_MAX ? NULL : t->vals.data + t->val_off[i];
}

/* Sends sql with the np parameters collected in vals and returns while the server runs it
 * (pgs_sync reads its result). */
static cdc_err_t
send(cdc_sink_target_t *t, const cdc_sink_table_t *tt, size_t np, cdc_errstr_t *es)
{
    cdc_err_t err = pgs_sync(t, es); /* the previous statement's result first */
    if (err)
        return err;
    pgs_set_params(t, np);
    snprintf(t->busy_what, sizeof(t->busy_what), "applying to %s.%s", tt->schema, tt->table);
    if (!PQsendQueryParams(t->c, t->base.sql.data, (int)np, NULL, t->params, NULL, NULL, 0))
        return pgs_error(t, NULL, t->busy_what, es);
    t->busy = true;
    return CDC_OK;
}

/* Runs sql with the np parameters collected in vals. */
cdc_err_t
pgs_run(cdc_sink_target_t *t, const cdc_sink_table_t *tt, size_t np, bool *none, cdc_errstr_t *es)
{
    pgs_set_params(t, np);
    PGresult *r = PQexecParams(t->c, t->base.sql.data, (int)np, NULL, t->params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        char what[600];
        snprintf(what, sizeof(what), "applying to %s.%s", tt->schema, tt->table);
        return pgs_error(t, r, what, es);
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
    cdc_err_t err = pgs_add_value(t, (*np)++, type, c, es);
    if (err)
        cdc_errstr_prefix(es, "%s.%s", tt->schema, tt->table);
    return err;
}

/* "$i::type" for value c of column name, its value added as parameter i. */
cdc_err_t
pgs_typed_param(cdc_sink_target_t *t, const cdc_sink_table_t *tt, const cdc_column_t *c, size_t *np,
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
        pg_quote_ident(&t->base.sql, row->key[k].name);
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
        pgs_table_ident(q, tt);
        size_t np = 0, set = 0;
        for (size_t i = 0; !err && i < row->n_cols; i++) {
            if (!types[i] || cdc_sink_row_is_key(row, row->cols[i].name) ||
                !cdc_sink_route_updates(row->route, row->cols[i].name))
                continue;
            cdc_buf_puts(q, set++ ? ", " : " SET ");
            pg_quote_ident(q, row->cols[i].name);
            cdc_buf_puts(q, " = ");
            err = param(t, tt, types[i], &row->cols[i], &np, es);
        }
        if (!set) /* only key columns present: nothing to update */
            continue;
        bool none = false;
        if (!err)
            err = where_key(t, tt, row, &np, es);
        if (!err)
            err = pgs_run(t, tt, np, &none, es);
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
    pgs_table_ident(q, tt);
    cdc_buf_puts(q, " WHERE (");
    for (size_t k = 0; k < rows[0]->n_key; k++) {
        if (k)
            cdc_buf_puts(q, ", ");
        pg_quote_ident(q, rows[0]->key[k].name);
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
    pgs_table_ident(q, tt);
    cdc_buf_puts(q, " (");
    size_t k = 0;
    for (size_t i = 0; i < row->n_cols; i++) {
        if (!types[i])
            continue;
        if (k++)
            cdc_buf_puts(q, ", ");
        pg_quote_ident(q, row->cols[i].name);
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
        pg_quote_ident(q, row->key[k].name);
    }
    cdc_buf_puts(q, ") DO ");
    size_t set = 0;
    for (size_t i = 0; i < row->n_cols; i++) {
        if (!types[i] || cdc_sink_row_is_key(row, row->cols[i].name) ||
            !cdc_sink_route_updates(row->route, row->cols[i].name))
            continue;
        cdc_buf_puts(q, set++ ? ", " : "UPDATE SET ");
        pg_quote_ident(q, row->cols[i].name);
        cdc_buf_puts(q, " = EXCLUDED.");
        pg_quote_ident(q, row->cols[i].name);
    }
    if (!set)
        cdc_buf_puts(q, "NOTHING");
    return err ? err : send(t, tt, np, es);
}

const cdc_sink_ops_t cdc_pg_sink_ops = {
    .name = "postgresql",
    .connect = pg_connect,
    .lock = take_lock,
    .offsets_ensure = cdc_pg_sink_offsets_ensure,
    .mark_session = set_origin,
    .fk_checks_off_sql = "SET session_replication_role = replica",
    .begin_sql = "BEGIN",
    .max_ident = 63, /* NAMEDATALEN - 1 */
    .load_offsets = cdc_pg_sink_offsets_load,
    .send = pg_send,
    .load_columns = load_columns,
    .upsert = upsert_rows,
    .update = update_rows,
    .delete_rows = delete_rows,
    .lock_keys = pgs_lock_keys,
    .read_locked = pgs_read_locked,
    .links_ensure = pgs_links_ensure,
    .link_rows = pgs_link_rows,
    .match_row = pgs_match_row,
    .record_links = pgs_record_links,
    .lookup_links = pgs_lookup_links,
    .links_pending = pgs_links_pending,
    .links_published = pgs_links_published,
    .apply_link = pgs_apply_link,
    .sync = pgs_sync,
    .exec = exec,
    .quote_ident = pg_quote_ident,
    .added_types = {"numeric", "boolean", "jsonb", "text"},
    .move_offsets = cdc_pg_sink_offsets_move,
    .set_offsets = cdc_pg_sink_offsets_set,
    .close = pg_close,
};

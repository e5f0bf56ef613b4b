/*
 * Catalog work of the PostgreSQL source on its normal (non-replication) connection: resolving
 * types, validating tables and replica identity, creating or validating the publication, and
 * reading the replication slot's state. Errors carry the exact SQL to fix what is wrong.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/log.h"
#include "pg_internal.h"

typedef struct {
    uint32_t oid;
    cdc_pg_type_t t;
} type_entry_t;

struct pg_typecache {
    type_entry_t *e;
    size_t n, cap;
};

pg_typecache_t *
pg_typecache_new(void)
{
    return cdc_xcalloc(1, sizeof(pg_typecache_t));
}

void
pg_typecache_free(pg_typecache_t *tc)
{
    if (!tc)
        return;
    free(tc->e);
    free(tc);
}

void
pg_quote_ident(cdc_buf_t *b, const char *ident)
{
    cdc_buf_putc(b, '"');
    for (const char *q = ident; *q; q++) {
        if (*q == '"')
            cdc_buf_putc(b, '"');
        cdc_buf_putc(b, *q);
    }
    cdc_buf_putc(b, '"');
}

cdc_err_t
pg_result_error(cdc_errstr_t *es, cdc_err_t err, PGconn *conn, const PGresult *r, const char *fmt,
                ...)
{
    char what[256], msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    snprintf(msg, sizeof(msg), "%s", r ? PQresultErrorMessage(r) : PQerrorMessage(conn));
    msg[strcspn(msg, "\n")] = '\0';
    return cdc_errstr_set(es, err, "postgresql: %s%s%s", what, what[0] ? ": " : "", msg);
}

cdc_err_t
pg_exec(PGconn *conn, const char *sql, cdc_errstr_t *es)
{
    PGresult *r = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(r);
    cdc_err_t err = CDC_OK;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        err = pg_result_error(es, PQstatus(conn) == CONNECTION_OK ? CDC_ERR_FATAL : CDC_ERR_CONNECT,
                              conn, r, "%s", "");
    PQclear(r);
    return err;
}

/* One catalog row: typtype, typbasetype, typelem, typdelim, typcategory. */
static cdc_err_t
type_row(PGconn *conn, uint32_t oid, char *typtype, uint32_t *base, uint32_t *elem, char *delim,
         char *category, cdc_errstr_t *es)
{
    char oidtxt[16];
    snprintf(oidtxt, sizeof(oidtxt), "%u", oid);
    const char *params[] = {oidtxt};
    PGresult *r = PQexecParams(conn,
                               "SELECT typtype, typbasetype, typelem, typdelim, typcategory "
                               "FROM pg_type WHERE oid = $1::oid",
                               1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        pg_result_error(es, CDC_ERR_CONNECT, conn, r, "cannot look up type %u", oid);
        PQclear(r);
        return CDC_ERR_CONNECT;
    }
    *typtype = PQgetvalue(r, 0, 0)[0];
    *base = (uint32_t)strtoul(PQgetvalue(r, 0, 1), NULL, 10);
    *elem = (uint32_t)strtoul(PQgetvalue(r, 0, 2), NULL, 10);
    *delim = PQgetvalue(r, 0, 3)[0];
    *category = PQgetvalue(r, 0, 4)[0];
    PQclear(r);
    return CDC_OK;
}

/* Follows domains to a base; anything not builtin after that converts as text. */
static cdc_err_t
resolve_scalar(PGconn *conn, uint32_t oid, uint32_t *out, cdc_errstr_t *es)
{
    for (int depth = 0; depth < 16; depth++) {
        cdc_pg_type_t bt;
        if (cdc_pg_type_builtin(oid, &bt) && !bt.elem_oid) {
            *out = oid;
            return CDC_OK;
        }
        char typtype, delim, cat;
        uint32_t base, elem;
        cdc_err_t err = type_row(conn, oid, &typtype, &base, &elem, &delim, &cat, es);
        if (err)
            return err;
        if (typtype != 'd') {
            *out = CDC_PG_TEXT; /* enums, composites, ranges, extension types: text form */
            return CDC_OK;
        }
        oid = base;
    }
    *out = CDC_PG_TEXT;
    return CDC_OK;
}

static cdc_err_t
resolve_uncached(PGconn *conn, uint32_t oid, cdc_pg_type_t *t, cdc_errstr_t *es)
{
    if (cdc_pg_type_builtin(oid, t))
        return CDC_OK;
    char typtype, delim, cat;
    uint32_t base, elem;
    cdc_err_t err = type_row(conn, oid, &typtype, &base, &elem, &delim, &cat, es);
    if (err)
        return err;
    if (typtype == 'd') { /* a domain over an array is an array */
        cdc_pg_type_t inner;
        if ((err = resolve_uncached(conn, base, &inner, es)))
            return err;
        *t = inner;
        return CDC_OK;
    }
    t->delim = delim ? delim : ',';
    t->elem_oid = 0;
    if (cat == 'A' && elem) {
        t->base_oid = oid;
        return resolve_scalar(conn, elem, &t->elem_oid, es);
    }
    return resolve_scalar(conn, oid, &t->base_oid, es);
}

cdc_err_t
pg_type_resolve(pg_typecache_t *tc, PGconn *conn, uint32_t oid, cdc_pg_type_t *out,
                cdc_errstr_t *es)
{
    if (cdc_pg_type_builtin(oid, out))
        return CDC_OK;
    for (size_t i = 0; i < tc->n; i++) {
        if (tc->e[i].oid == oid) {
            *out = tc->e[i].t;
            return CDC_OK;
        }
    }
    cdc_err_t err = resolve_uncached(conn, oid, out, es);
    if (err)
        return err;
    if (tc->n == tc->cap) {
        tc->cap = tc->cap ? tc->cap * 2 : 16;
        tc->e = cdc_xrealloc(tc->e, tc->cap * sizeof(*tc->e));
    }
    tc->e[tc->n++] = (type_entry_t){oid, *out};
    return CDC_OK;
}

/* ---- tables ---------------------------------------------------------------------------------- */

void
pg_quote_table(cdc_buf_t *b, const char *qualified)
{
    char schema[256];
    const char *table = cdc_config_split_table(qualified, schema, sizeof(schema));
    pg_quote_ident(b, schema);
    cdc_buf_putc(b, '.');
    pg_quote_ident(b, table);
}

/* Appends "schema"."table" for a configured table, after ", " when comma. */
static void
table_item(cdc_buf_t *b, const char *qualified, bool comma)
{
    if (comma)
        cdc_buf_puts(b, ", ");
    pg_quote_table(b, qualified);
}

typedef struct {
    char replident; /* 'd', 'f', 'i', 'n' */
    int n_pk;       /* primary-key columns */
    int pk_outside; /* of those, columns outside the replica identity index */
} table_ident_t;

static cdc_err_t
table_info(PGconn *conn, const char *qualified, table_ident_t *out, cdc_errstr_t *es)
{
    char schema[256];
    const char *table = cdc_config_split_table(qualified, schema, sizeof(schema));
    const char *params[] = {schema, table};
    PGresult *r = PQexecParams(
        conn,
        "SELECT c.relreplident, (SELECT count(*) FROM pg_index i, unnest(i.indkey) k "
        "WHERE i.indrelid = c.oid AND i.indisprimary), "
        "(SELECT count(*) FROM pg_index i, unnest(i.indkey) k WHERE i.indrelid = c.oid AND "
        "i.indisprimary AND k <> ALL (SELECT unnest(x.indkey) FROM pg_index x "
        "WHERE x.indrelid = c.oid AND x.indisreplident)) "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')",
        2, NULL, params, NULL, NULL, 0);
    cdc_err_t err = CDC_OK;
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        err = pg_result_error(es, CDC_ERR_CONNECT, conn, r, "%s", "");
    else if (PQntuples(r) != 1)
        err = cdc_errstr_set(es, CDC_ERR_CONFIG, "table %s does not exist in the source database",
                             qualified);
    else {
        out->replident = PQgetvalue(r, 0, 0)[0];
        out->n_pk = atoi(PQgetvalue(r, 0, 1));
        out->pk_outside = atoi(PQgetvalue(r, 0, 2));
    }
    PQclear(r);
    return err;
}

/* Why the table's updates and deletes cannot be keyed (NULL: they can), and the replica identity
 * that fixes it. A replica identity index that leaves out a primary-key column would publish
 * deletes with that key column null: the table is keyed by its primary key, which the WAL then
 * does not carry. */
static const char *
ident_problem(const table_ident_t *t, const char **fix)
{
    *fix = "FULL";
    if (t->replident == 'n')
        return "REPLICA IDENTITY NOTHING";
    if (t->replident == 'd' && t->n_pk == 0)
        return "no primary key";
    if (t->replident == 'i' && t->pk_outside > 0) {
        *fix = "DEFAULT";
        return "a REPLICA IDENTITY USING INDEX that leaves out primary-key columns (its deletes "
               "would carry a null key)";
    }
    return NULL;
}

cdc_err_t
pg_tables_check(PGconn *conn, const cdc_source_conf_t *conf, cdc_errstr_t *es)
{
    for (size_t i = 0; i < conf->n_tables; i++) {
        table_ident_t t = {'n', 0, 0};
        cdc_err_t err = table_info(conn, conf->tables[i], &t, es);
        if (err)
            return err;
        const char *fix, *problem = ident_problem(&t, &fix);
        if (!problem)
            continue;
        cdc_buf_t b;
        cdc_buf_init(&b);
        pg_quote_table(&b, conf->tables[i]);
        cdc_errstr_set(es, CDC_ERR_CONFIG,
                       "table %s has %s: its updates and deletes cannot be identified "
                       "(publishing it would also make them fail on the source). Fix: "
                       "ALTER TABLE %s REPLICA IDENTITY %s;",
                       conf->tables[i], problem, b.data, fix);
        cdc_buf_deinit(&b);
        return CDC_ERR_CONFIG;
    }
    return CDC_OK;
}

/* "schema"."table" list of the configured tables. */
static void
table_list(cdc_buf_t *b, const cdc_source_conf_t *conf)
{
    for (size_t i = 0; i < conf->n_tables; i++)
        table_item(b, conf->tables[i], i > 0);
}

cdc_err_t
pg_publication_missing(PGconn *conn, const cdc_source_conf_t *conf, cdc_buf_t *missing,
                       cdc_buf_t *quoted, cdc_errstr_t *es)
{
    for (size_t i = 0; i < conf->n_tables; i++) {
        char schema[256];
        const char *table = cdc_config_split_table(conf->tables[i], schema, sizeof(schema));
        const char *params[] = {conf->publication, schema, table};
        PGresult *r = PQexecParams(conn,
                                   "SELECT 1 FROM pg_publication_tables WHERE pubname = $1 AND "
                                   "schemaname = $2 AND tablename = $3",
                                   3, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            pg_result_error(es, CDC_ERR_CONNECT, conn, r, "%s", "");
            PQclear(r);
            return CDC_ERR_CONNECT;
        }
        if (PQntuples(r) == 0 && quoted)
            table_item(quoted, conf->tables[i], quoted->len > 0);
        if (PQntuples(r) == 0)
            cdc_buf_printf(missing, "%s%s", missing->len ? ", " : "", conf->tables[i]);
        PQclear(r);
    }
    return CDC_OK;
}

cdc_err_t
pg_publication_ensure(PGconn *conn, const cdc_source_conf_t *conf, cdc_errstr_t *es)
{
    const char *params[] = {conf->publication};
    PGresult *r = PQexecParams(conn, "SELECT 1 FROM pg_publication WHERE pubname = $1", 1, NULL,
                               params, NULL, NULL, 0);
    bool exists = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    PQclear(r);
    cdc_buf_t sql, missing, quoted;
    cdc_buf_init(&sql);
    cdc_buf_init(&missing);
    cdc_buf_init(&quoted);
    cdc_err_t err = CDC_OK;
    if (!exists) {
        cdc_buf_puts(&sql, "CREATE PUBLICATION ");
        pg_quote_ident(&sql, conf->publication);
        cdc_buf_puts(&sql, " FOR TABLE ");
        table_list(&sql, conf);
        err = pg_exec(conn, sql.data, es);
        if (err)
            cdc_errstr_prefix(es,
                              "creating publication %s (needs CREATE on the database and "
                              "ownership of the tables)",
                              conf->publication);
    } else if (!(err = pg_publication_missing(conn, conf, &missing, &quoted, es)) && missing.len) {
        /* tables added to the config go into the publication (their rows are snapshotted
         * while streaming) when we may add them */
        cdc_buf_puts(&sql, "ALTER PUBLICATION ");
        pg_quote_ident(&sql, conf->publication);
        cdc_buf_printf(&sql, " ADD TABLE %s", quoted.data);
        if (pg_exec(conn, sql.data, es) == CDC_OK) {
            CDC_LOG_INFO("publication %s: added %s", conf->publication, missing.data);
        } else {
            err = CDC_ERR_CONFIG; /* es keeps the server's reason */
            cdc_errstr_prefix(es,
                              "publication %s does not include %s and adding it failed (fix: "
                              "ALTER PUBLICATION %s ADD TABLE %s;)",
                              conf->publication, missing.data, conf->publication, quoted.data);
        }
    }
    cdc_buf_deinit(&sql);
    cdc_buf_deinit(&missing);
    cdc_buf_deinit(&quoted);
    return err;
}

cdc_err_t
pg_slot_info(PGconn *conn, const char *slot, pg_slot_info_t *out, cdc_errstr_t *es)
{
    memset(out, 0, sizeof(*out));
    const char *params[] = {slot};
    PGresult *r = PQexecParams(conn,
                               "SELECT plugin, database, active, wal_status = 'lost', "
                               "coalesce(confirmed_flush_lsn, '0/0'), "
                               "coalesce(restart_lsn, '0/0') "
                               "FROM pg_replication_slots WHERE slot_name = $1",
                               1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        pg_result_error(es, CDC_ERR_CONNECT, conn, r, "%s", "");
        PQclear(r);
        return CDC_ERR_CONNECT;
    }
    if (PQntuples(r) == 1) {
        out->exists = true;
        snprintf(out->plugin, sizeof(out->plugin), "%s", PQgetvalue(r, 0, 0));
        snprintf(out->database, sizeof(out->database), "%s", PQgetvalue(r, 0, 1));
        out->active = PQgetvalue(r, 0, 2)[0] == 't';
        out->lost = PQgetvalue(r, 0, 3)[0] == 't';
        cdc_lsn_parse(PQgetvalue(r, 0, 4), &out->confirmed_flush);
        cdc_lsn_parse(PQgetvalue(r, 0, 5), &out->restart_lsn);
    }
    PQclear(r);
    return CDC_OK;
}

cdc_err_t
pg_key_columns(PGconn *conn, const cdc_pgo_relation_t *rel, uint16_t **idx, uint16_t *n,
               cdc_errstr_t *es)
{
    char relid[16];
    snprintf(relid, sizeof(relid), "%u", rel->relid);
    const char *params[] = {relid};
    /* the primary key in its own order; else the replica identity index; else nothing */
    PGresult *r = PQexecParams(
        conn,
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
        "AND a.attnum = ANY (i.indkey) WHERE i.indrelid = $1::oid AND i.indexrelid = "
        "(SELECT indexrelid FROM pg_index WHERE indrelid = $1::oid AND (indisprimary OR "
        "indisreplident) ORDER BY indisprimary DESC LIMIT 1) "
        "ORDER BY array_position(i.indkey::int2[], a.attnum)",
        1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        pg_result_error(es, CDC_ERR_CONNECT, conn, r, "key of %s.%s", rel->nspname, rel->relname);
        PQclear(r);
        return CDC_ERR_CONNECT;
    }
    int rows = PQntuples(r);
    *idx = cdc_xcalloc(rel->ncols ? rel->ncols : 1, sizeof(uint16_t));
    *n = 0;
    for (int k = 0; k < rows; k++)
        for (uint16_t c = 0; c < rel->ncols; c++)
            if (!strcmp(rel->cols[c].name, PQgetvalue(r, k, 0)))
                (*idx)[(*n)++] = c;
    PQclear(r);
    if (*n == 0) /* REPLICA IDENTITY FULL without a key: the whole row identifies it */
        for (uint16_t c = 0; c < rel->ncols; c++)
            (*idx)[(*n)++] = c;
    return CDC_OK;
}

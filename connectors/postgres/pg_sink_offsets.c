/*
 * cdc_sink_offsets in a PostgreSQL target (include/cdc/sink_offsets.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/sink_offsets.h"
#include "pg.h"
#include "pg_internal.h"

#define TABLE "cdc_sink_offsets"

/* Sets es from a failed result and clears it. */
static cdc_err_t
result_error(PGconn *c, PGresult *r, const char *what, cdc_errstr_t *es)
{
    cdc_err_t err = PQstatus(c) == CONNECTION_OK ? CDC_ERR_IO : CDC_ERR_CONNECT;
    pg_result_error(es, err, c, r, "%s", what);
    PQclear(r);
    return err;
}

cdc_err_t
cdc_pg_sink_offsets_ensure(cdc_sink_target_t *t, cdc_errstr_t *es)
{
    PGconn *c = pg_sink_conn(t);
    PGresult *r = PQexec(c, "SELECT to_regclass('" TABLE "') IS NOT NULL");
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return result_error(c, r, "looking for " TABLE, es);
    bool exists = !strcmp(PQgetvalue(r, 0, 0), "t");
    PQclear(r);
    if (exists)
        return CDC_OK; /* no "already exists" notice in the log */
    /* sinks starting together on one database: one creates it, the others wait and see it */
    r = PQexec(c, "BEGIN; SELECT pg_advisory_xact_lock(hashtext('" TABLE "')); "
                  "CREATE TABLE IF NOT EXISTS " TABLE
                  " (sink text NOT NULL, topic text NOT NULL, partition integer NOT "
                  "NULL, next_offset bigint NOT NULL, epoch bigint NOT NULL, "
                  "source_pos text NOT NULL, PRIMARY KEY (sink, topic, partition)); COMMIT");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        cdc_err_t err = result_error(c, r, "creating " TABLE, es);
        PQclear(PQexec(c, "ROLLBACK"));
        return err;
    }
    PQclear(r);
    return CDC_OK;
}

cdc_err_t
cdc_pg_sink_offsets_load(cdc_sink_target_t *t, cdc_sink_offsets_t *out, cdc_errstr_t *es)
{
    PGconn *c = pg_sink_conn(t);
    const char *sink = cdc_sink_base(t)->conf->name;
    memset(out, 0, sizeof(*out));
    const char *params[] = {sink};
    PGresult *r = PQexecParams(c,
                               "SELECT topic, partition, next_offset, epoch, source_pos FROM " TABLE
                               " WHERE sink = $1 ORDER BY topic, partition",
                               1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return result_error(c, r, "reading " TABLE, es);
    int n = PQntuples(r);
    out->v = cdc_xcalloc((size_t)n + 1, sizeof(cdc_sink_offset_t));
    for (int i = 0; i < n; i++) {
        cdc_sink_offset_t *o = &out->v[out->n++];
        snprintf(o->topic, sizeof(o->topic), "%s", PQgetvalue(r, i, 0));
        o->partition = (int32_t)strtol(PQgetvalue(r, i, 1), NULL, 10);
        o->next_offset = strtoll(PQgetvalue(r, i, 2), NULL, 10);
        o->epoch = (uint32_t)strtoul(PQgetvalue(r, i, 3), NULL, 10);
        snprintf(o->source_pos, sizeof(o->source_pos), "%s", PQgetvalue(r, i, 4));
    }
    PQclear(r);
    return CDC_OK;
}

/* A row's values as text parameters: sink, topic, partition, next offset, epoch, position. */
typedef struct {
    char part[16], off[24], epoch[16];
    const char *v[6];
} row_params_t;

static void
row_params(row_params_t *p, const char *sink, const cdc_sink_offset_t *o)
{
    snprintf(p->part, sizeof(p->part), "%d", (int)o->partition);
    snprintf(p->off, sizeof(p->off), "%lld", (long long)o->next_offset);
    snprintf(p->epoch, sizeof(p->epoch), "%u", (unsigned)o->epoch);
    const char *v[6] = {sink, o->topic, p->part, p->off, p->epoch, o->source_pos};
    memcpy(p->v, v, sizeof(v));
}

/* INSERT of o's row, on_conflict deciding what a row already there gets; *written: whether a
 * row was inserted or updated. */
static cdc_err_t
insert_row(PGconn *c, const char *sink, const cdc_sink_offset_t *o, const char *on_conflict,
           const char *what, bool *written, cdc_errstr_t *es)
{
    row_params_t p;
    row_params(&p, sink, o);
    cdc_buf_t sql;
    cdc_buf_init(&sql);
    cdc_buf_printf(&sql,
                   "INSERT INTO " TABLE " (sink, topic, partition, next_offset, epoch, source_pos) "
                   "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT %s",
                   on_conflict);
    PGresult *r = PQexecParams(c, sql.data, 6, NULL, p.v, NULL, NULL, 0);
    cdc_buf_deinit(&sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return result_error(c, r, what, es); /* clears r */
    *written = !strcmp(PQcmdTuples(r), "1");
    PQclear(r);
    return CDC_OK;
}

cdc_err_t
cdc_pg_sink_offsets_move(cdc_sink_target_t *t, const cdc_sink_offset_t *next,
                         const int64_t *expected, size_t n, cdc_errstr_t *es)
{
    PGconn *c = pg_sink_conn(t);
    const char *sink = cdc_sink_base(t)->conf->name;
    size_t existing;
    cdc_err_t err = cdc_sink_offsets_check_moves(sink, next, expected, n, &existing, es);
    /* the first move of a partition inserts its row; a row inserted meanwhile by another
     * instance conflicts */
    for (size_t i = 0; !err && i < n; i++) {
        bool written = false;
        if (expected[i] < 0 &&
            !(err = insert_row(c, sink, &next[i], "DO NOTHING", "moving the sink's offset",
                               &written, es)) &&
            !written)
            err = cdc_sink_offsets_fenced(sink, &next[i], &expected[i], 1, es);
    }
    if (err || !existing)
        return err;
    /* the existing rows in one conditional UPDATE; each matched row moves forward. Parameters:
     * $1 the sink, then per row topic, partition, next offset, epoch, position, expected offset */
    row_params_t *rows = cdc_xcalloc(existing, sizeof(*rows));
    char(*from)[24] = cdc_xcalloc(existing, sizeof(*from));
    const char **params = cdc_xcalloc(1 + 6 * existing, sizeof(char *));
    params[0] = sink;
    cdc_buf_t sql;
    cdc_buf_init(&sql);
    cdc_buf_puts(&sql, "UPDATE " TABLE " o SET next_offset = v.n, epoch = v.e, source_pos = "
                       "v.p FROM (VALUES ");
    size_t np = 1, k = 0;
    for (size_t i = 0; i < n; i++) {
        if (expected[i] < 0)
            continue;
        row_params(&rows[k], sink, &next[i]);
        snprintf(from[k], sizeof(from[k]), "%lld", (long long)expected[i]);
        memcpy(&params[np], &rows[k].v[1], 5 * sizeof(char *));
        params[np + 5] = from[k++];
        cdc_buf_printf(&sql,
                       "%s($%zu::text, $%zu::int, $%zu::bigint, $%zu::bigint, $%zu::text, "
                       "$%zu::bigint)",
                       np > 1 ? ", " : "", np + 1, np + 2, np + 3, np + 4, np + 5, np + 6);
        np += 6;
    }
    cdc_buf_puts(&sql, ") AS v(t, part, n, e, p, x) WHERE o.sink = $1 AND o.topic = v.t AND "
                       "o.partition = v.part AND o.next_offset = v.x");
    PGresult *r = PQexecParams(c, sql.data, (int)np, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        err = result_error(c, r, "moving the sink's offsets", es); /* clears r */
    } else {
        if (strtoull(PQcmdTuples(r), NULL, 10) != existing)
            err = cdc_sink_offsets_fenced(sink, next, expected, n, es);
        PQclear(r);
    }
    cdc_buf_deinit(&sql);
    free(params);
    free(from);
    free(rows);
    return err;
}

cdc_err_t
cdc_pg_sink_offsets_set(cdc_sink_target_t *t, const cdc_sink_offset_t *next, size_t n,
                        cdc_errstr_t *es)
{
    PGconn *c = pg_sink_conn(t);
    const char *sink = cdc_sink_base(t)->conf->name;
    cdc_err_t err = CDC_OK;
    for (size_t i = 0; !err && i < n; i++) {
        bool written;
        err = insert_row(c, sink, &next[i],
                         "(sink, topic, partition) DO UPDATE SET next_offset = "
                         "EXCLUDED.next_offset, epoch = EXCLUDED.epoch, source_pos = "
                         "EXCLUDED.source_pos",
                         "setting the sink's offsets", &written, es);
    }
    return err;
}

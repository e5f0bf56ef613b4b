/*
 * cdc_sink_offsets in a PostgreSQL target (include/cdc/sink_offsets.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/sink_offsets.h"
#include "pg_internal.h"

#define TABLE "cdc_sink_offsets"

static cdc_err_t
result_error(PGconn *c, PGresult *r, const char *what, cdc_errstr_t *es)
{
    cdc_err_t err = PQstatus(c) == CONNECTION_OK ? CDC_ERR_IO : CDC_ERR_CONNECT;
    pg_result_error(es, err, c, r, "%s", what);
    PQclear(r);
    return err;
}

cdc_err_t
cdc_pg_sink_offsets_ensure(PGconn *c, cdc_errstr_t *es)
{
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
cdc_pg_sink_offsets_load(PGconn *c, const char *sink, cdc_sink_offsets_t *out, cdc_errstr_t *es)
{
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

cdc_err_t
cdc_pg_sink_offsets_move(PGconn *c, const char *sink, const cdc_sink_offset_t *next,
                         const int64_t *expected, size_t n, cdc_errstr_t *es)
{
    size_t existing;
    cdc_err_t err = cdc_sink_offsets_check_moves(sink, next, expected, n, &existing, es);
    if (err)
        return err;
    /* parameters: $1 the sink, then per row topic, partition, next offset, epoch, position,
     * expected offset */
    char(*num)[4][24] = cdc_xcalloc(n + 1, sizeof(*num));
    const char **params = cdc_xcalloc(1 + 6 * n, sizeof(char *));
    params[0] = sink;
    for (size_t i = 0; i < n; i++) {
        snprintf(num[i][0], sizeof(num[i][0]), "%d", (int)next[i].partition);
        snprintf(num[i][1], sizeof(num[i][1]), "%lld", (long long)next[i].next_offset);
        snprintf(num[i][2], sizeof(num[i][2]), "%u", (unsigned)next[i].epoch);
        snprintf(num[i][3], sizeof(num[i][3]), "%lld", (long long)expected[i]);
        const char *row[] = {next[i].topic, num[i][0],          num[i][1],
                             num[i][2],     next[i].source_pos, num[i][3]};
        memcpy(&params[1 + 6 * i], row, sizeof(row));
    }
    /* the first move of a partition inserts its row; a row inserted meanwhile by another
     * instance conflicts */
    for (size_t i = 0; !err && i < n; i++) {
        if (expected[i] >= 0)
            continue;
        PGresult *r = PQexecParams(c,
                                   "INSERT INTO " TABLE " (sink, topic, partition, next_offset, "
                                   "epoch, source_pos) VALUES ($1, $2, $3, $4, $5, $6) ON "
                                   "CONFLICT DO NOTHING",
                                   6, NULL,
                                   (const char *const[]){sink, params[1 + 6 * i], params[2 + 6 * i],
                                                         params[3 + 6 * i], params[4 + 6 * i],
                                                         params[5 + 6 * i]},
                                   NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            err = result_error(c, r, "moving the sink's offset", es);
        else if (strcmp(PQcmdTuples(r), "1"))
            err = cdc_sink_offsets_fenced(sink, &next[i], &expected[i], 1, es);
        PQclear(r);
    }
    if (!err && existing) {
        /* the existing rows in one conditional UPDATE; each matched row moves forward */
        cdc_buf_t sql;
        cdc_buf_init(&sql);
        cdc_buf_puts(&sql, "UPDATE " TABLE " o SET next_offset = v.n, epoch = v.e, source_pos = "
                           "v.p FROM (VALUES ");
        size_t np = 1;
        const char **used = cdc_xcalloc(1 + 6 * n, sizeof(char *));
        used[0] = sink;
        for (size_t i = 0; i < n; i++) {
            if (expected[i] < 0)
                continue;
            cdc_buf_printf(&sql,
                           "%s($%zu::text, $%zu::int, $%zu::bigint, $%zu::bigint, $%zu::text, "
                           "$%zu::bigint)",
                           np > 1 ? ", " : "", np + 1, np + 2, np + 3, np + 4, np + 5, np + 6);
            memcpy(&used[np], &params[1 + 6 * i], 6 * sizeof(char *));
            np += 6;
        }
        cdc_buf_puts(&sql, ") AS v(t, part, n, e, p, x) WHERE o.sink = $1 AND o.topic = v.t AND "
                           "o.partition = v.part AND o.next_offset = v.x");
        PGresult *r = PQexecParams(c, sql.data, (int)np, NULL, used, NULL, NULL, 0);
        cdc_buf_deinit(&sql);
        free(used);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            err = result_error(c, r, "moving the sink's offsets", es);
        else if (strtoull(PQcmdTuples(r), NULL, 10) != existing)
            err = cdc_sink_offsets_fenced(sink, next, expected, n, es);
        PQclear(r);
    }
    free(params);
    free(num);
    return err;
}

cdc_err_t
cdc_pg_sink_offsets_set(PGconn *c, const char *sink, const cdc_sink_offset_t *next, size_t n,
                        cdc_errstr_t *es)
{
    cdc_err_t err = CDC_OK;
    for (size_t i = 0; !err && i < n; i++) {
        char part[16], off[24], epoch[16];
        snprintf(part, sizeof(part), "%d", (int)next[i].partition);
        snprintf(off, sizeof(off), "%lld", (long long)next[i].next_offset);
        snprintf(epoch, sizeof(epoch), "%u", (unsigned)next[i].epoch);
        const char *params[] = {sink, next[i].topic, part, off, epoch, next[i].source_pos};
        PGresult *r = PQexecParams(c,
                                   "INSERT INTO " TABLE " (sink, topic, partition, next_offset, "
                                   "epoch, source_pos) VALUES ($1, $2, $3, $4, $5, $6) ON "
                                   "CONFLICT (sink, topic, partition) DO UPDATE SET next_offset "
                                   "= EXCLUDED.next_offset, epoch = EXCLUDED.epoch, source_pos = "
                                   "EXCLUDED.source_pos",
                                   6, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            err = result_error(c, r, "setting the sink's offsets", es);
        PQclear(r);
    }
    return err;
}

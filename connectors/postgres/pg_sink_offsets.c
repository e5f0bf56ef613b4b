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
                         int64_t expected, cdc_errstr_t *es)
{
    if (next->next_offset <= expected)
        return cdc_errstr_set(es, CDC_ERR_INVAL, "sink %s: offsets only move forward", sink);
    char part[16], off[24], epoch[16], exp[24];
    snprintf(part, sizeof(part), "%d", (int)next->partition);
    snprintf(off, sizeof(off), "%lld", (long long)next->next_offset);
    snprintf(epoch, sizeof(epoch), "%u", (unsigned)next->epoch);
    snprintf(exp, sizeof(exp), "%lld", (long long)expected);
    const char *params[] = {sink, next->topic, part, off, epoch, next->source_pos, exp};
    /* the first move inserts the row; a row inserted meanwhile by another instance conflicts */
    PGresult *r =
        expected < 0
            ? PQexecParams(c,
                           "INSERT INTO " TABLE " (sink, topic, partition, next_offset, epoch, "
                           "source_pos) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                           6, NULL, params, NULL, NULL, 0)
            : PQexecParams(c,
                           "UPDATE " TABLE " SET next_offset = $4, epoch = $5, source_pos = $6 "
                           "WHERE sink = $1 AND topic = $2 AND partition = $3 AND next_offset = $7",
                           7, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return result_error(c, r, "moving the sink's offset", es);
    bool moved = !strcmp(PQcmdTuples(r), "1");
    PQclear(r);
    if (!moved)
        return cdc_errstr_set(es, CDC_ERR_FENCED,
                              "sink %s: %s[%d] is no longer at offset %lld: another instance of "
                              "the sink took over",
                              sink, next->topic, (int)next->partition, (long long)expected);
    return CDC_OK;
}

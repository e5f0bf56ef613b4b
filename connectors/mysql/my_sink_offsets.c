/*
 * cdc_sink_offsets in a MySQL / MariaDB target (include/cdc/sink_offsets.h). Offsets only move
 * forward, so a conditional UPDATE that matched its row always changes it: affected rows tell.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/sink_offsets.h"

#define TABLE "cdc_sink_offsets"

static cdc_err_t
query(MYSQL *m, const char *sql, const char *what, cdc_errstr_t *es)
{
    if (!mysql_query(m, sql))
        return CDC_OK;
    unsigned no = mysql_errno(m);
    return cdc_errstr_set(es, no >= 2000 ? CDC_ERR_CONNECT : CDC_ERR_IO, "mysql: %s: %s (%u)", what,
                          mysql_error(m), no);
}

cdc_err_t
cdc_mysql_sink_offsets_ensure(MYSQL *m, cdc_errstr_t *es)
{
    return query(m,
                 "CREATE TABLE IF NOT EXISTS " TABLE " (sink VARCHAR(64) NOT NULL, topic "
                 "VARCHAR(249) NOT NULL, `partition` INT NOT NULL, next_offset BIGINT NOT NULL, "
                 "epoch BIGINT NOT NULL, source_pos VARCHAR(64) NOT NULL, PRIMARY KEY (sink, "
                 "topic, `partition`)) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin ENGINE=InnoDB",
                 "creating " TABLE, es);
}

cdc_err_t
cdc_mysql_sink_offsets_load(MYSQL *m, const char *sink, cdc_sink_offsets_t *out, cdc_errstr_t *es)
{
    memset(out, 0, sizeof(*out));
    cdc_buf_t sql;
    cdc_buf_init(&sql);
    cdc_buf_puts(&sql, "SELECT topic, `partition`, next_offset, epoch, source_pos FROM " TABLE
                       " WHERE sink = ");
    cdc_mysql_literal(m, &sql, sink, strlen(sink));
    cdc_buf_puts(&sql, " ORDER BY topic, `partition`");
    cdc_err_t err = query(m, sql.data, "reading " TABLE, es);
    cdc_buf_deinit(&sql);
    if (err)
        return err;
    MYSQL_RES *r = mysql_store_result(m);
    size_t n = r ? (size_t)mysql_num_rows(r) : 0;
    out->v = cdc_xcalloc(n + 1, sizeof(cdc_sink_offset_t));
    MYSQL_ROW row;
    while (r && (row = mysql_fetch_row(r))) {
        cdc_sink_offset_t *o = &out->v[out->n++];
        snprintf(o->topic, sizeof(o->topic), "%s", row[0] ? row[0] : "");
        o->partition = (int32_t)strtol(row[1] ? row[1] : "0", NULL, 10);
        o->next_offset = strtoll(row[2] ? row[2] : "0", NULL, 10);
        o->epoch = (uint32_t)strtoul(row[3] ? row[3] : "0", NULL, 10);
        snprintf(o->source_pos, sizeof(o->source_pos), "%s", row[4] ? row[4] : "");
    }
    mysql_free_result(r);
    return CDC_OK;
}

cdc_err_t
cdc_mysql_sink_offsets_move(MYSQL *m, const char *sink, const cdc_sink_offset_t *next,
                            int64_t expected, cdc_errstr_t *es)
{
    if (next->next_offset <= expected)
        return cdc_errstr_set(es, CDC_ERR_INVAL, "sink %s: offsets only move forward", sink);
    cdc_buf_t sql;
    cdc_buf_init(&sql);
    if (expected < 0) { /* the first move inserts the row; one inserted meanwhile is kept */
        cdc_buf_puts(&sql, "INSERT IGNORE INTO " TABLE
                           " (sink, topic, `partition`, next_offset, epoch, source_pos) VALUES (");
        cdc_mysql_literal(m, &sql, sink, strlen(sink));
        cdc_buf_putc(&sql, ',');
        cdc_mysql_literal(m, &sql, next->topic, strlen(next->topic));
        cdc_buf_printf(&sql, ",%d,%lld,%u,", (int)next->partition, (long long)next->next_offset,
                       (unsigned)next->epoch);
        cdc_mysql_literal(m, &sql, next->source_pos, strlen(next->source_pos));
        cdc_buf_putc(&sql, ')');
    } else {
        cdc_buf_printf(&sql, "UPDATE " TABLE " SET next_offset = %lld, epoch = %u, source_pos = ",
                       (long long)next->next_offset, (unsigned)next->epoch);
        cdc_mysql_literal(m, &sql, next->source_pos, strlen(next->source_pos));
        cdc_buf_puts(&sql, " WHERE sink = ");
        cdc_mysql_literal(m, &sql, sink, strlen(sink));
        cdc_buf_puts(&sql, " AND topic = ");
        cdc_mysql_literal(m, &sql, next->topic, strlen(next->topic));
        cdc_buf_printf(&sql, " AND `partition` = %d AND next_offset = %lld", (int)next->partition,
                       (long long)expected);
    }
    cdc_err_t err = query(m, sql.data, "moving the sink's offset", es);
    cdc_buf_deinit(&sql);
    if (err)
        return err;
    if (mysql_affected_rows(m) != 1)
        return cdc_errstr_set(es, CDC_ERR_FENCED,
                              "sink %s: %s[%d] is no longer at offset %lld: another instance of "
                              "the sink took over",
                              sink, next->topic, (int)next->partition, (long long)expected);
    return CDC_OK;
}

/*
 * cdc_sink_offsets in a MySQL / MariaDB target (include/cdc/sink_offsets.h). Offsets only move
 * forward, so a conditional UPDATE that matched its row always changes it: affected rows tell.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/sink_offsets.h"
#include "mysql_conn.h"

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
cdc_mysql_sink_offsets_ensure(cdc_sink_target_t *t, cdc_errstr_t *es)
{
    MYSQL *m = my_sink_conn(t);
    return query(m,
                 "CREATE TABLE IF NOT EXISTS " TABLE " (sink VARCHAR(64) NOT NULL, topic "
                 "VARCHAR(249) NOT NULL, `partition` INT NOT NULL, next_offset BIGINT NOT NULL, "
                 "epoch BIGINT NOT NULL, source_pos VARCHAR(64) NOT NULL, PRIMARY KEY (sink, "
                 "topic, `partition`)) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin ENGINE=InnoDB",
                 "creating " TABLE, es);
}

/* The marker table and the statement that begins each applied transaction (cdc_sink_txn). */
cdc_err_t
cdc_mysql_sink_mark(cdc_sink_target_t *t, cdc_errstr_t *es)
{
    MYSQL *m = my_sink_conn(t);
    cdc_err_t err = query(m,
                          "CREATE TABLE IF NOT EXISTS " CDC_SINK_TXN_TABLE
                          " (id VARCHAR(512) NOT NULL PRIMARY KEY, txns BIGINT NOT NULL) "
                          "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin ENGINE=InnoDB",
                          "creating " CDC_SINK_TXN_TABLE, es);
    cdc_sink_base_t *b = cdc_sink_base(t);
    const char *mark = b->conf->applied_mark;
    cdc_buf_reset(&b->mark_sql);
    cdc_buf_puts(&b->mark_sql, "INSERT INTO " CDC_SINK_TXN_TABLE " (id, txns) VALUES (");
    cdc_mysql_literal(m, &b->mark_sql, mark, strlen(mark));
    cdc_buf_puts(&b->mark_sql, ", 1) ON DUPLICATE KEY UPDATE txns = txns + 1");
    return err;
}

cdc_err_t
cdc_mysql_sink_offsets_load(cdc_sink_target_t *t, cdc_sink_offsets_t *out, cdc_errstr_t *es)
{
    MYSQL *m = my_sink_conn(t);
    const char *sink = cdc_sink_base(t)->conf->name;
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

/* "<verb> INTO cdc_sink_offsets (...) VALUES (<o's row>)" into sql. */
static void
insert_sql(MYSQL *m, cdc_buf_t *sql, const char *verb, const char *sink, const cdc_sink_offset_t *o)
{
    cdc_buf_reset(sql);
    cdc_buf_printf(sql,
                   "%s INTO " TABLE
                   " (sink, topic, `partition`, next_offset, epoch, source_pos) VALUES (",
                   verb);
    cdc_mysql_literal(m, sql, sink, strlen(sink));
    cdc_buf_putc(sql, ',');
    cdc_mysql_literal(m, sql, o->topic, strlen(o->topic));
    cdc_buf_printf(sql, ",%d,%lld,%u,", (int)o->partition, (long long)o->next_offset,
                   (unsigned)o->epoch);
    cdc_mysql_literal(m, sql, o->source_pos, strlen(o->source_pos));
    cdc_buf_putc(sql, ')');
}

/* The first move of a partition inserts its row; one inserted meanwhile is kept (and fences). */
static cdc_err_t
insert_row(MYSQL *m, const char *sink, const cdc_sink_offset_t *next, cdc_errstr_t *es)
{
    cdc_buf_t sql;
    cdc_buf_init(&sql);
    insert_sql(m, &sql, "INSERT IGNORE", sink, next);
    cdc_err_t err = query(m, sql.data, "moving the sink's offset", es);
    cdc_buf_deinit(&sql);
    if (!err && mysql_affected_rows(m) != 1) {
        int64_t none = -1;
        err = cdc_sink_offsets_fenced(sink, next, &none, 1, es);
    }
    return err;
}

/* "WHEN topic = '…' AND `partition` = p THEN " for row next. */
static void
when_row(MYSQL *m, cdc_buf_t *sql, const cdc_sink_offset_t *next)
{
    cdc_buf_puts(sql, " WHEN topic = ");
    cdc_mysql_literal(m, sql, next->topic, strlen(next->topic));
    cdc_buf_printf(sql, " AND `partition` = %d THEN ", (int)next->partition);
}

cdc_err_t
cdc_mysql_sink_offsets_move(cdc_sink_target_t *t, const cdc_sink_offset_t *next,
                            const int64_t *expected, size_t n, cdc_errstr_t *es)
{
    MYSQL *m = my_sink_conn(t);
    const char *sink = cdc_sink_base(t)->conf->name;
    size_t existing;
    cdc_err_t err = cdc_sink_offsets_check_moves(sink, next, expected, n, &existing, es);
    for (size_t i = 0; !err && i < n; i++)
        if (expected[i] < 0)
            err = insert_row(m, sink, &next[i], es);
    if (err || !existing)
        return err;
    /* the existing rows in one conditional UPDATE: each moves from its expected offset, so the
     * rows it changed (every matched row changes) must be all of them */
    cdc_buf_t sql;
    cdc_buf_init(&sql);
    cdc_buf_puts(&sql, "UPDATE " TABLE " SET next_offset = CASE");
    for (size_t i = 0; i < n; i++)
        if (expected[i] >= 0) {
            when_row(m, &sql, &next[i]);
            cdc_buf_printf(&sql, "%lld", (long long)next[i].next_offset);
        }
    cdc_buf_puts(&sql, " END, epoch = CASE");
    for (size_t i = 0; i < n; i++)
        if (expected[i] >= 0) {
            when_row(m, &sql, &next[i]);
            cdc_buf_printf(&sql, "%u", (unsigned)next[i].epoch);
        }
    cdc_buf_puts(&sql, " END, source_pos = CASE");
    for (size_t i = 0; i < n; i++)
        if (expected[i] >= 0) {
            when_row(m, &sql, &next[i]);
            cdc_mysql_literal(m, &sql, next[i].source_pos, strlen(next[i].source_pos));
        }
    cdc_buf_puts(&sql, " END WHERE sink = ");
    cdc_mysql_literal(m, &sql, sink, strlen(sink));
    cdc_buf_puts(&sql, " AND (");
    bool first = true;
    for (size_t i = 0; i < n; i++)
        if (expected[i] >= 0) {
            cdc_buf_puts(&sql, first ? "(topic = " : " OR (topic = ");
            cdc_mysql_literal(m, &sql, next[i].topic, strlen(next[i].topic));
            cdc_buf_printf(&sql, " AND `partition` = %d AND next_offset = %lld)",
                           (int)next[i].partition, (long long)expected[i]);
            first = false;
        }
    cdc_buf_putc(&sql, ')');
    err = query(m, sql.data, "moving the sink's offsets", es);
    cdc_buf_deinit(&sql);
    if (!err && mysql_affected_rows(m) != (my_ulonglong)existing)
        err = cdc_sink_offsets_fenced(sink, next, expected, n, es);
    return err;
}

cdc_err_t
cdc_mysql_sink_offsets_set(cdc_sink_target_t *t, const cdc_sink_offset_t *next, size_t n,
                           cdc_errstr_t *es)
{
    MYSQL *m = my_sink_conn(t);
    const char *sink = cdc_sink_base(t)->conf->name;
    cdc_err_t err = CDC_OK;
    cdc_buf_t sql;
    cdc_buf_init(&sql);
    for (size_t i = 0; !err && i < n; i++) {
        insert_sql(m, &sql, "INSERT", sink, &next[i]);
        cdc_buf_puts(&sql, " ON DUPLICATE KEY UPDATE next_offset = VALUES(next_offset), epoch = "
                           "VALUES(epoch), source_pos = VALUES(source_pos)");
        err = query(m, sql.data, "setting the sink's offsets", es);
    }
    cdc_buf_deinit(&sql);
    return err;
}

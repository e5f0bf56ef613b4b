/*
 * MySQL / MariaDB source: reads the binlog as a replica (MariaDB Connector/C's mariadb_rpl for the
 * connection; events parsed by binlog.c) and hands whole transactions to the agent. A transaction
 * starts at its GTID event and ends at XID (or COMMIT, or after its one statement when
 * standalone); its position is (binlog file number, end of the GTID event, index). The stored
 * resume point (source_resume in _offsets) is the binlog file and position after the last
 * committed transaction, with the GTID state and the server id; a server with another id refuses
 * to resume from it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cdc/connector.h"
#include "cdc/log.h"
#include "my_internal.h"

/* The server's heartbeat when idle: bounds a blocked read, so the agent closes a lingering Kafka
 * transaction (and notices a stop) within about this much: kafka.linger_ms, within 20-100 ms
 * (each one wakes the agent: 20 ms were 50 wake-ups a second of an idle agent). */
#define HEARTBEAT_MIN_MS 20
#define HEARTBEAT_MAX_MS 100

cdc_err_t
my_query_error(MYSQL *m, cdc_errstr_t *es, const char *what)
{
    return cdc_errstr_set(es, CDC_ERR_CONNECT, "mysql: %s: %s (%u)", what, mysql_error(m),
                          mysql_errno(m));
}

cdc_err_t
my_exec(MYSQL *m, const char *sql, cdc_errstr_t *es)
{
    return mysql_query(m, sql) ? my_query_error(m, es, sql) : CDC_OK;
}

uint64_t
my_file_number(const char *file)
{
    const char *dot = strrchr(file, '.');
    return dot ? strtoull(dot + 1, NULL, 10) : 0;
}

/* ---- positions and resume points ------------------------------------------------------------- */

static void
gtid_state(const cdc_source_t *s, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < s->n_gtids && n < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, "%s%u-%u-%llu", i ? "," : "", s->gtids[i].domain,
                              s->gtids[i].server_id, (unsigned long long)s->gtids[i].seq);
}

static void
gtid_set(cdc_source_t *s, const cdc_binlog_gtid_t *g)
{
    size_t i = 0;
    while (i < s->n_gtids && s->gtids[i].domain != g->domain)
        i++;
    if (i == s->n_gtids) {
        if (s->n_gtids == MY_MAX_DOMAINS)
            return;
        s->n_gtids++;
    }
    s->gtids[i] = (my_gtid_t){g->domain, g->server_id, g->seq};
}

void
my_gtid_at(cdc_source_t *s, MYSQL *m, const char *file, uint64_t pos)
{
    char sql[512], efile[300];
    mysql_real_escape_string(m, efile, file, strlen(file) < 140 ? strlen(file) : 140);
    snprintf(sql, sizeof(sql), "SELECT BINLOG_GTID_POS('%s', %llu)", efile,
             (unsigned long long)pos);
    if (mysql_query(m, sql))
        return; /* MySQL: no such function; the GTID event of each transaction still comes */
    MYSQL_RES *r = mysql_store_result(m);
    MYSQL_ROW row = r ? mysql_fetch_row(r) : NULL;
    const char *p = row && row[0] ? row[0] : "";
    while (*p) {
        unsigned d, sid;
        unsigned long long seq;
        int used = 0;
        if (sscanf(p, "%u-%u-%llu%n", &d, &sid, &seq, &used) != 3)
            break;
        cdc_binlog_gtid_t g = {d, sid, seq, false};
        gtid_set(s, &g);
        p += used;
        if (*p == ',')
            p++;
    }
    mysql_free_result(r);
}

void
my_native(cdc_source_t *s, uint64_t pos, char *out, size_t cap)
{
    char gtid[256];
    gtid_state(s, gtid, sizeof(gtid));
    snprintf(out, cap, "{\"file\":\"%s\",\"gtid\":\"%s\",\"pos\":%llu,\"server_id\":%u}", s->file,
             gtid, (unsigned long long)pos, s->server_id);
}

/* Reads file, pos, gtid and server_id back from a resume point. */
static bool
native_parse(const char *native, char *file, size_t cap, uint64_t *pos, uint32_t *server_id)
{
    const char *f = strstr(native, "\"file\":\""), *p = strstr(native, "\"pos\":"),
               *id = strstr(native, "\"server_id\":");
    if (!f || !p || !id)
        return false;
    f += 8;
    size_t n = strcspn(f, "\"");
    if (n == 0 || n >= cap)
        return false;
    memcpy(file, f, n);
    file[n] = '\0';
    *pos = strtoull(p + 6, NULL, 10);
    *server_id = (uint32_t)strtoul(id + 12, NULL, 10);
    return true;
}

/* ---- emitting -------------------------------------------------------------------------------- */

static void
begin_info(void *src, cdc_txn_info_t *out)
{
    cdc_source_t *s = src;
    *out = (cdc_txn_info_t){
        .txn_id = s->txn.txn_id, .ts_ms = s->txn.ts_ms, .native = s->txn.start_native};
    cdc_pos_parse(s->txn.pos, &out->pos);
    out->pos.idx = 0;
}

cdc_err_t
my_emit(cdc_source_t *s, cdc_event_t *ev)
{
    my_resnap_track(s, ev);
    return cdc_source_emit(s->cb, s->ctx, &s->emit, s->txn.may_skip, ev);
}

static void
txn_begin(cdc_source_t *s, const cdc_binlog_event_t *ev, const cdc_binlog_gtid_t *g)
{
    memset(&s->txn, 0, sizeof(s->txn));
    s->emit.delivered = 0;
    s->txn.open = true;
    s->txn.standalone = g ? g->standalone : false;
    s->txn.start = ev->log_pos - ev->size;
    s->txn.minor = ev->log_pos;
    s->txn.ts_ms = (int64_t)ev->timestamp * 1000;
    uint64_t file_no = s->txn.file_no = my_file_number(s->file);
    const cdc_pos_t *r = &s->resume.pos; /* only a re-read transaction compares events */
    s->txn.may_skip = s->resume.has_pos && r->epoch == s->epoch &&
                      (file_no < r->major || (file_no == r->major && s->txn.minor <= r->minor));
    my_native(s, s->txn.start, s->txn.start_native, sizeof(s->txn.start_native));
    if (g) {
        snprintf(s->txn.gtid, sizeof(s->txn.gtid), "%u-%u-%llu", g->domain, g->server_id,
                 (unsigned long long)g->seq);
        snprintf(s->txn.txn_id, sizeof(s->txn.txn_id), "%s", s->txn.gtid);
        gtid_set(s, g);
    } else {
        snprintf(s->txn.txn_id, sizeof(s->txn.txn_id), "%s:%llu", s->file,
                 (unsigned long long)s->txn.start);
    }
}

static cdc_err_t
txn_commit(cdc_source_t *s, const cdc_binlog_event_t *ev)
{
    if (!s->txn.open)
        return CDC_OK;
    s->txn.open = false;
    s->start_pos = ev->log_pos;
    if (s->txn.applied)
        cdc_source_applied_skip(&s->emit, s->conf->name);
    int64_t now = cdc_wall_us();
    cdc_txn_info_t snap = {0};
    bool chunk = s->resnap.drv.wm.commit_pending; /* a high watermark: carries progress */
    /* ... or the re-snapshot queue changed (a request) */
    if (s->emit.delivered == 0 && !cdc_wm_must_commit(&s->resnap.drv.wm)) {
        /* nothing captured: move the stored position now and then, so purged binlogs behind
         * it are never needed again */
        if (now - s->last_advance_us < (int64_t)s->conf->heartbeat_ms * 1000)
            return CDC_OK;
    }
    s->last_advance_us = now;
    cdc_pos_t pos = {s->epoch, chunk ? CDC_PHASE_RESNAPSHOT : CDC_PHASE_STREAM, s->txn.file_no,
                     s->txn.minor, s->txn.idx ? s->txn.idx - 1 : 0};
    if (s->resume.has_pos && pos.epoch == s->resume.pos.epoch &&
        cdc_pos_cmp(&pos, &s->resume.pos) <= 0)
        return CDC_OK; /* a re-read transaction that was already stored */
    my_resnap_commit_info(s, &snap);
    char native[512];
    my_native(s, ev->log_pos, native, sizeof(native));
    cdc_txn_info_t info = {pos,           0,      s->txn.txn_id, s->txn.ts_ms, snap.snapshot_done,
                           snap.progress, native, snap.resnap};
    s->yield = true; /* let the agent close a Kafka transaction whose linger is over */
    return s->cb->commit(s->ctx, &info);
}

/* ---- the stream ------------------------------------------------------------------------------ */

static cdc_err_t
on_query(cdc_source_t *s, const cdc_binlog_event_t *ev, cdc_errstr_t *es)
{
    cdc_binlog_query_t q;
    cdc_err_t err = cdc_binlog_query(ev, &q, es);
    if (err)
        return err;
    if (q.query.n == 5 && !strncasecmp((const char *)q.query.p, "BEGIN", 5))
        return CDC_OK;
    if (q.query.n == 6 && !strncasecmp((const char *)q.query.p, "COMMIT", 6))
        return txn_commit(s, ev); /* non-transactional engines */
    if (!s->txn.open)
        txn_begin(s, ev, NULL);
    my_table_t *tb = my_truncated_table(s, &q);
    if (tb)
        err = my_truncate_event(s, tb, ev);
    if (!err && s->txn.standalone)
        err = txn_commit(s, ev); /* DDL: its own group */
    return err;
}

static cdc_err_t
dispatch(cdc_source_t *s, const uint8_t *raw, size_t n, cdc_errstr_t *es)
{
    if (n > 4 && raw[4] == CDC_BL_FORMAT_DESCRIPTION) {
        cdc_err_t err = cdc_binlog_fde(raw, n, &s->fmt, es);
        if (err)
            return err;
    }
    cdc_binlog_event_t ev;
    cdc_err_t err = cdc_binlog_event_parse(raw, n, &s->fmt, &ev, es);
    if (err)
        return err;
    switch (ev.type) {
    case CDC_BL_ROTATE: {
        cdc_binlog_rotate_t r;
        err = cdc_binlog_rotate(&ev, &r, es);
        if (!err && r.file.n < sizeof(s->file)) {
            memcpy(s->file, r.file.p, r.file.n);
            s->file[r.file.n] = '\0';
            s->start_pos = r.position;
        }
        return err;
    }
    case CDC_BL_GTID_MARIADB: {
        cdc_binlog_gtid_t g;
        err = cdc_binlog_gtid(&ev, &g, es);
        if (!err)
            txn_begin(s, &ev, &g);
        return err;
    }
    case CDC_BL_GTID_LIST: {
        cdc_binlog_gtid_t g[MY_MAX_DOMAINS];
        size_t k;
        err = cdc_binlog_gtid_list(&ev, g, MY_MAX_DOMAINS, &k, es);
        for (size_t i = 0; !err && i < k; i++)
            gtid_set(s, &g[i]);
        return err;
    }
    case CDC_BL_QUERY:
        return on_query(s, &ev, es);
    case CDC_BL_XID:
        return txn_commit(s, &ev);
    case CDC_BL_TABLE_MAP:
        return my_table_map(s, raw, n, &ev, es);
    case CDC_BL_WRITE_ROWS_V1:
    case CDC_BL_UPDATE_ROWS_V1:
    case CDC_BL_DELETE_ROWS_V1:
    case CDC_BL_WRITE_ROWS:
    case CDC_BL_UPDATE_ROWS:
    case CDC_BL_DELETE_ROWS: {
        if (ev.body.n < 6)
            return cdc_errstr_set(es, CDC_ERR_PARSE, "binlog rows event truncated");
        uint64_t id = 0;
        for (int i = 0; i < 6; i++)
            id |= (uint64_t)ev.body.p[i] << (8 * i);
        my_table_t *tb = my_table_by_id(s, id);
        if (!tb)
            return CDC_OK; /* not captured */
        if (!s->txn.open)
            txn_begin(s, &ev, NULL);
        if (tb->signal)
            return my_resnap_signal(s, &ev, es);
        if (tb->mark)
            return my_mark_rows(s, tb, &ev, es);
        if (s->txn.applied)
            return CDC_OK; /* a sink of this agent cluster applied it: no echo */
        return my_rows_events(s, tb, &ev, es);
    }
    case CDC_BL_TRANSACTION_PAYLOAD:
        return cdc_errstr_set(es, CDC_ERR_UNSUPPORTED,
                              "compressed binlog transactions are not decoded; set "
                              "binlog_transaction_compression=OFF");
    case CDC_BL_HEARTBEAT:
        s->yield = true; /* idle */
        return CDC_OK;
    default:
        return CDC_OK; /* annotations, checkpoints */
    }
}

static cdc_err_t
stream_error(cdc_source_t *s, cdc_errstr_t *es)
{
    unsigned int no = mysql_errno(s->repl);
    if (no == 1236) /* ER_MASTER_FATAL_ERROR_READING_BINLOG: purged, or gone */
        return cdc_errstr_set(
            es, CDC_ERR_FATAL,
            "mysql: binlog position %s:%llu is no longer on the server (%s); the changes since "
            "then are lost to this source: re-snapshot with `cdc-agent source drop -c FILE "
            "--source %s` and a restart",
            s->file, (unsigned long long)s->start_pos, mysql_error(s->repl), s->conf->name);
    if (no)
        return cdc_errstr_set(es, CDC_ERR_CONNECT, "mysql: binlog stream: %s (%u)",
                              mysql_error(s->repl), no);
    return cdc_errstr_set(es, CDC_ERR_CONNECT, "mysql: binlog stream ended: %s",
                          s->rpl->error_msg[0] ? s->rpl->error_msg : "connection closed");
}

cdc_err_t
my_start_streaming(cdc_source_t *s, cdc_errstr_t *es)
{
    cdc_err_t err;
    s->repl = cdc_mysql_connect(&s->conf->conn, &err, es);
    if (!s->repl)
        return err;
    char sql[128];
    int beat_ms = s->conf->linger_ms;
    beat_ms = beat_ms < HEARTBEAT_MIN_MS   ? HEARTBEAT_MIN_MS
              : beat_ms > HEARTBEAT_MAX_MS ? HEARTBEAT_MAX_MS
                                           : beat_ms;
    snprintf(sql, sizeof(sql), "SET @master_heartbeat_period = %llu",
             (unsigned long long)beat_ms * 1000000ULL);
    if ((err = my_exec(s->repl, "SET @master_binlog_checksum = @@global.binlog_checksum", es)) ||
        (err = my_exec(s->repl, "SET @mariadb_slave_capability = 4", es)) ||
        (err = my_exec(s->repl, sql, es)))
        return err;
    s->rpl = mariadb_rpl_init(s->repl);
    if (!s->rpl)
        return cdc_errstr_set(es, CDC_ERR_NOMEM, "mysql: cannot start a binlog reader");
    mariadb_rpl_optionsv(s->rpl, MARIADB_RPL_FILENAME, s->file, strlen(s->file));
    mariadb_rpl_optionsv(s->rpl, MARIADB_RPL_START, (unsigned long)s->start_pos);
    mariadb_rpl_optionsv(s->rpl, MARIADB_RPL_SERVER_ID, (uint32_t)s->conf->server_id);
    mariadb_rpl_optionsv(s->rpl, MARIADB_RPL_FLAGS, (uint16_t)0);
    mariadb_rpl_optionsv(s->rpl, MARIADB_RPL_VERIFY_CHECKSUM, (uint32_t)1);
    /* registered as a replica, so SHOW SLAVE HOSTS names our server_id while we stream */
    mariadb_rpl_optionsv(s->rpl, MARIADB_RPL_HOST, "cdc-agent", (size_t)9);
    mariadb_rpl_optionsv(s->rpl, MARIADB_RPL_PORT, (uint32_t)0);
    s->fmt.checksum = true; /* from @master_binlog_checksum; the FORMAT_DESCRIPTION confirms */
    if (mariadb_rpl_open(s->rpl))
        return stream_error(s, es);
    s->streaming = true;
    CDC_LOG_INFO("source=%s binlog streaming from %s:%llu", s->conf->name, s->file,
                 (unsigned long long)s->start_pos);
    return CDC_OK;
}

/* Reads one event (blocking; heartbeats bound the wait) and handles it. */
static cdc_err_t
next_event(cdc_source_t *s, cdc_errstr_t *es)
{
    s->ev = mariadb_rpl_fetch(s->rpl, s->ev);
    if (!s->ev || mysql_errno(s->repl))
        return stream_error(s, es);
    return dispatch(s, s->ev->raw_data + s->ev->raw_data_ofs,
                    s->ev->raw_data_size - s->ev->raw_data_ofs, es);
}

static cdc_err_t
my_poll(cdc_source_t *s, int timeout_ms, const cdc_source_cb_t *cb, void *ctx, cdc_errstr_t *es)
{
    s->cb = cb;
    s->ctx = ctx;
    if (timeout_ms == 0)
        return CDC_OK; /* nothing to acknowledge to the server */
    cdc_err_t err = s->streaming ? CDC_OK : my_start_streaming(s, es);
    int64_t until = cdc_wall_us() + (int64_t)timeout_ms * 1000;
    s->yield = false;
    while (!err && !s->yield && cdc_wall_us() < until) {
        err = my_resnap_step(s, es); /* completing an interrupted snapshot */
        if (!err)
            err = next_event(s, es);
    }
    return err;
}

/* ---- open / close ---------------------------------------------------------------------------- */

static cdc_err_t
load_charsets(cdc_source_t *s, cdc_errstr_t *es)
{
    if (mysql_query(s->catalog, "SELECT ID, CHARACTER_SET_NAME FROM information_schema.COLLATIONS"))
        return my_query_error(s->catalog, es, "reading collations");
    MYSQL_RES *r = mysql_store_result(s->catalog);
    MYSQL_ROW row;
    s->n_charset = 4096;
    s->charset = cdc_xcalloc(s->n_charset, sizeof(char *));
    while (r && (row = mysql_fetch_row(r))) {
        unsigned long id = row[0] ? strtoul(row[0], NULL, 10) : 0;
        if (id < s->n_charset && row[1])
            s->charset[id] = cdc_xstrdup(row[1]);
    }
    mysql_free_result(r);
    return CDC_OK;
}

static cdc_err_t
first_row(MYSQL *m, const char *sql, char *a, size_t na, char *b, size_t nb, cdc_errstr_t *es)
{
    if (mysql_query(m, sql))
        return my_query_error(m, es, sql);
    MYSQL_RES *r = mysql_store_result(m);
    MYSQL_ROW row = r ? mysql_fetch_row(r) : NULL;
    if (row && a)
        snprintf(a, na, "%s", row[0] ? row[0] : "");
    if (row && b && mysql_num_fields(r) > 1)
        snprintf(b, nb, "%s", row[1] ? row[1] : "");
    mysql_free_result(r);
    return row ? CDC_OK : cdc_errstr_set(es, CDC_ERR_CONFIG, "mysql: %s returned nothing", sql);
}

static void
my_close(cdc_source_t *s)
{
    if (!s)
        return;
    if (s->rpl) {
        mariadb_free_rpl_event(s->ev);
        mariadb_rpl_close(s->rpl);
    }
    if (s->repl)
        mysql_close(s->repl);
    my_resnap_free(s); /* before the connection its chunk result came from */
    if (s->catalog)
        mysql_close(s->catalog);
    for (size_t i = 0; i < s->n_tables; i++)
        my_table_free(&s->tables[i]);
    free(s->tables);
    for (size_t i = 0; i < s->n_marks; i++) {
        my_table_free(s->marks[i]);
        free(s->marks[i]);
    }
    free(s->marks);
    for (size_t i = 0; i < s->n_charset; i++)
        free((char *)s->charset[i]);
    free(s->charset);
    free(s->cells_a);
    free(s->cells_b);
    cdc_arena_deinit(&s->arena);
    free(s);
}

/* One table in a consistent read (REPEATABLE READ, WITH CONSISTENT SNAPSHOT), through the
 * snapshot's chunked reads. */
cdc_err_t
my_read_table(const cdc_source_conf_t *conf, const char *table, cdc_row_fn fn, void *ctx,
              cdc_errstr_t *es)
{
    cdc_source_t *s = cdc_xcalloc(1, sizeof(*s));
    s->conf = conf;
    cdc_arena_init(&s->arena);
    s->tables = cdc_xcalloc(conf->n_tables + 1, sizeof(my_table_t));
    my_table_t *tb = NULL;
    for (size_t i = 0; i < conf->n_tables; i++) {
        const char *dot = strchr(conf->tables[i], '.');
        my_table_t *t = &s->tables[s->n_tables++];
        t->db = cdc_xstrndup(conf->tables[i], (size_t)(dot - conf->tables[i]));
        t->name = cdc_xstrdup(dot + 1);
        if (!strcmp(conf->tables[i], table))
            tb = t;
    }
    cdc_err_t err = CDC_OK;
    if (!tb)
        err = cdc_errstr_set(es, CDC_ERR_INVAL, "source %s does not capture %s", conf->name, table);
    else if (!(s->catalog = cdc_mysql_connect(&conf->conn, &err, es)))
        ;
    else if (mysql_query(s->catalog, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ") ||
             mysql_query(s->catalog, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"))
        err = my_query_error(s->catalog, es, "starting a consistent read");
    else
        err = load_charsets(s, es);
    my_snap_table_t st;
    bool opened = !err && !(err = my_snap_open(s, tb, &st, es));
    uint64_t total = 0;
    if (opened) {
        cdc_buf_t sql;
        cdc_buf_init(&sql);
        cdc_buf_puts(&sql,
                     "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ");
        cdc_mysql_literal(s->catalog, &sql, tb->db, strlen(tb->db));
        cdc_buf_puts(&sql, " AND TABLE_NAME = ");
        cdc_mysql_literal(s->catalog, &sql, tb->name, strlen(tb->name));
        MYSQL_RES *r = mysql_query(s->catalog, sql.data) ? NULL : mysql_store_result(s->catalog);
        MYSQL_ROW row = r ? mysql_fetch_row(r) : NULL;
        if (row && row[0])
            total = strtoull(row[0], NULL, 10);
        mysql_free_result(r);
        my_snap_key_t last = {0};
        for (size_t got = MY_CHUNK_ROWS; !err && got == MY_CHUNK_ROWS;) {
            if ((err = my_snap_query(s, &st, &last, &sql, es)))
                break;
            MYSQL_RES *res = mysql_use_result(s->catalog);
            got = 0;
            while (res && (row = mysql_fetch_row(res))) {
                unsigned long *len = mysql_fetch_lengths(res);
                cdc_arena_reset(&s->arena);
                cdc_event_t ev;
                my_snap_row(s, &st, row, len, &ev);
                ev.source.pos = "";
                if (!err)
                    err = fn(ctx, &ev, total);
                got++;
                my_snap_key_save(&st, row, len, &last);
            }
            if (mysql_errno(s->catalog) && !err)
                err = my_query_error(s->catalog, es, "reading a chunk");
            mysql_free_result(res);
            if (!st.n_key) /* without a key the whole table was one chunk */
                break;
        }
        my_snap_key_free(&last);
        cdc_buf_deinit(&sql);
        my_snap_close(&st);
    }
    my_close(s);
    if (err)
        cdc_errstr_prefix(es, "source %s: reading %s", conf->name, table);
    return err;
}

static cdc_err_t
my_open(const cdc_source_conf_t *conf, const cdc_source_resume_t *resume, cdc_source_t **out,
        cdc_errstr_t *es)
{
    cdc_source_t *s = cdc_xcalloc(1, sizeof(*s));
    cdc_err_t err;
    s->conf = conf;
    s->resume = *resume;
    s->emit = (cdc_emitter_t){.resume = &s->resume, .src = s, .begin_info = begin_info};
    s->epoch = resume->has_pos ? resume->pos.epoch : resume->epoch ? resume->epoch : 1;
    cdc_arena_init(&s->arena);
    s->tables = cdc_xcalloc(conf->n_tables + 1, sizeof(my_table_t));
    for (size_t i = 0; i < conf->n_tables; i++) {
        const char *dot = strchr(conf->tables[i], '.');
        my_table_t *tb = &s->tables[s->n_tables++];
        tb->db = cdc_xstrndup(conf->tables[i], (size_t)(dot - conf->tables[i]));
        tb->name = cdc_xstrdup(dot + 1);
    }
    s->catalog = cdc_mysql_connect(&conf->conn, &err, es);
    if (!s->catalog)
        goto fail;
    cdc_probe_t probe = {0};
    cdc_mysql_source_problems(s->catalog, &probe);
    if (probe.n_problems) {
        err = cdc_errstr_set(es, CDC_ERR_CONFIG, "mysql: %s", probe.notes[0]);
        goto fail;
    }
    char id[32];
    if ((err = first_row(s->catalog, "SELECT @@server_id", id, sizeof(id), NULL, 0, es)) ||
        (err = load_charsets(s, es)))
        goto fail;
    s->server_id = (uint32_t)strtoul(id, NULL, 10);
    if (conf->server_id == s->server_id) {
        err = cdc_errstr_set(es, CDC_ERR_CONFIG,
                             "source %s: server_id %u is the server's own id; give the source "
                             "a server_id no other replica uses",
                             conf->name, (unsigned)conf->server_id);
        goto fail;
    }
    my_resnap_restore(s);
    if (resume->has_pos) {
        uint32_t stored_id = 0;
        if (!resume->native[0] ||
            !native_parse(resume->native, s->file, sizeof(s->file), &s->start_pos, &stored_id)) {
            err = cdc_errstr_set(es, CDC_ERR_FATAL,
                                 "source %s: the stored offsets have no binlog position; "
                                 "re-snapshot with `cdc-agent source drop`",
                                 conf->name);
            goto fail;
        }
        if (stored_id != s->server_id) {
            err =
                cdc_errstr_set(es, CDC_ERR_FATAL,
                               "source %s: the server changed (server_id %u, stored "
                               "positions are from %u): positions could go backwards; "
                               "re-snapshot with `cdc-agent source drop -c FILE --source %s`",
                               conf->name, (unsigned)s->server_id, (unsigned)stored_id, conf->name);
            goto fail;
        }
        /* an interrupted initial snapshot: completed from its progress while streaming */
        if (!resume->snapshot_done && conf->snapshot == CDC_SNAPSHOT_INITIAL &&
            (err = my_resnap_start(s, resume->progress, es)))
            goto fail;
    } else {
        char pos[32];
        if ((err = first_row(s->catalog, "SHOW MASTER STATUS", s->file, sizeof(s->file), pos,
                             sizeof(pos), es)))
            goto fail;
        s->start_pos = strtoull(pos, NULL, 10);
        my_gtid_at(s, s->catalog, s->file, s->start_pos);
        s->snapshot_due = conf->snapshot == CDC_SNAPSHOT_INITIAL;
    }
    *out = s;
    return CDC_OK;
fail:
    my_close(s);
    return err;
}

static cdc_err_t
my_snapshot(cdc_source_t *s, const cdc_source_cb_t *cb, void *ctx, cdc_errstr_t *es)
{
    s->cb = cb;
    s->ctx = ctx;
    if (s->snapshot_due)
        return my_snapshot_run(s, es);
    if (s->resume.has_pos)
        return CDC_OK;
    /* first start without a snapshot: the binlog position streaming starts from is stored (and
     * committed) before anything is read, or a crash before the first commit would restart
     * from a later position and lose what came in between */
    char native[512];
    my_native(s, s->start_pos, native, sizeof(native));
    cdc_pos_t pos = {s->epoch, CDC_PHASE_STREAM, my_file_number(s->file), s->start_pos, 0};
    return cdc_source_store_start(cb, ctx, s->conf->name, pos, native,
                                  cdc_wm_state(&s->resnap.drv.wm, s->conf->name), &s->resume, es);
}

static void
my_ack(cdc_source_t *s, uint64_t token)
{
    (void)s; /* the binlog needs no acknowledgement: the position lives in _offsets */
    (void)token;
}

const cdc_source_ops_t cdc_mysql_source_ops = {"mysql", my_open, my_snapshot,
                                               my_poll, my_ack,  my_close};

/*
 * PostgreSQL source against a real server (tests/harness): slot and publication set-up, initial
 * snapshot in the exported snapshot, then streamed inserts, updates, deletes, key changes, TOAST,
 * REPLICA IDENTITY FULL, truncate, schema change, every mapped type, and refusals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "cdc/connector.h"
#include "cdc/source.h"
#include "harness.h"

#define MAX_EVENTS 4096

typedef struct {
    char *json[MAX_EVENTS];
    size_t n;
    int commits, schemas;
    uint64_t last_token;
    char progress[2048]; /* of the last unit that had one */
} collect_t;

static cdc_err_t
on_schema(void *ctx, const cdc_table_schema_t *s, int64_t *version)
{
    collect_t *c = ctx;
    *version = ++c->schemas;
    return CDC_OK;
}

static cdc_err_t
on_begin(void *ctx, const cdc_txn_info_t *t)
{
    return CDC_OK;
}

static cdc_err_t
on_event(void *ctx, const cdc_event_t *ev)
{
    collect_t *c = ctx;
    cdc_buf_t b;
    cdc_errstr_t es = {{0}};
    cdc_buf_init(&b);
    cdc_err_t err = cdc_event_encode(ev, &b, &es);
    if (err)
        fail_msg("encode: %s", es.msg);
    assert_true(c->n < MAX_EVENTS);
    c->json[c->n++] = b.data;
    return CDC_OK;
}

static cdc_err_t
on_commit(void *ctx, const cdc_txn_info_t *t)
{
    collect_t *c = ctx;
    c->commits++;
    if (t->ack_token)
        c->last_token = t->ack_token;
    if (t->progress)
        snprintf(c->progress, sizeof(c->progress), "%s", t->progress);
    return CDC_OK;
}

static cdc_err_t
on_idle(void *ctx, uint64_t token)
{
    return CDC_OK;
}

static const cdc_source_cb_t cb = {on_schema, on_begin, on_event, on_commit, on_idle, NULL};

static PGconn *db;
#define pg_ops (cdc_pg_connector.source)
static cdc_source_conf_t conf;
static char *tables[] = {"public.it_types", "public.it_full", "public.it_keys"};
static char *topics[3];

static void
sql(const char *q)
{
    PGresult *r = PQexec(db, q);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", q, PQresultErrorMessage(r));
    PQclear(r);
}

static int
setup(void **state)
{
    char conninfo[512];
    snprintf(conninfo, sizeof(conninfo), "host=127.0.0.1 port=%s dbname=cdc_test user=cdc",
             harness_env("CDC_TEST_PG_PORT"));
    char full[600];
    snprintf(full, sizeof(full), "%s password=%s", conninfo, harness_env("CDC_TEST_PG_PASSWORD"));
    db = PQconnectdb(full);
    if (PQstatus(db) != CONNECTION_OK)
        return -1;
    conf = (cdc_source_conf_t){.name = "crm",
                               .type = CDC_DB_POSTGRESQL,
                               .tables = tables,
                               .table_topics = topics,
                               .n_tables = 3,
                               .slot = "it_slot",
                               .publication = "it_pub",
                               .heartbeat_ms = 600000};
    conf.conn.conninfo = strdup(conninfo);
    conf.conn.password = (char *)harness_env("CDC_TEST_PG_PASSWORD");
    PQclear(PQexec(db, "SELECT pg_drop_replication_slot('it_slot') FROM pg_replication_slots "
                       "WHERE slot_name = 'it_slot'"));
    PQclear(PQexec(db, "DROP PUBLICATION IF EXISTS it_pub"));
    PQclear(PQexec(db, "DROP TABLE IF EXISTS it_types, it_full, it_keys, it_nokey"));
    PQclear(PQexec(db, "DROP TYPE IF EXISTS it_mood"));
    PQclear(PQexec(db, "DROP DOMAIN IF EXISTS it_posint"));
    return 0;
}

static int
teardown(void **state)
{
    PQfinish(db);
    return 0;
}

static void
poll_until(cdc_source_t *s, collect_t *c, int commits)
{
    cdc_errstr_t es = {{0}};
    for (int i = 0; i < 100 && c->commits < commits; i++)
        if (pg_ops->poll(s, 100, &cb, c, &es))
            fail_msg("poll: %s", es.msg);
    assert_int_equal(c->commits, commits);
}

static void
assert_has(const collect_t *c, size_t i, const char *part)
{
    assert_true(i < c->n);
    if (!strstr(c->json[i], part))
        fail_msg("event %zu lacks %s:\n%s", i, part, c->json[i]);
}

static void
test_snapshot_then_stream(void **state)
{
    sql("CREATE TYPE it_mood AS ENUM ('sad', 'ok', 'happy')");
    sql("CREATE DOMAIN it_posint AS int CHECK (VALUE > 0)");
    sql("CREATE TABLE it_types (id int PRIMARY KEY, b bigint, n numeric, f4 real, f8 float8, "
        "ok bool, t text, by bytea, d date, tm time, ttz timetz, ts timestamp, tstz timestamptz, "
        "iv interval, u uuid, j json, jb jsonb, ai int[], moods it_mood[], mood it_mood, "
        "pos it_posint, big text)");
    sql("CREATE TABLE it_full (id int PRIMARY KEY, v text, big text, addr inet, pt point)");
    sql("ALTER TABLE it_full REPLICA IDENTITY FULL");
    sql("CREATE TABLE it_keys (b int, a int, v text, PRIMARY KEY (a, b))");
    sql("INSERT INTO it_types (id, t) SELECT g, 'snap' || g FROM generate_series(1, 3) g");
    sql("INSERT INTO it_keys VALUES (1, 2, 'x')");

    cdc_source_resume_t resume = {0};
    cdc_source_t *s = NULL;
    cdc_errstr_t es = {{0}};
    if (pg_ops->open(&conf, &resume, &s, &es))
        fail_msg("open: %s", es.msg);
    collect_t *c = calloc(1, sizeof(*c));
    assert_int_equal(pg_ops->snapshot(s, &cb, c, &es), CDC_OK);
    assert_int_equal(c->n, 4);
    assert_has(c, 0, "\"op\":\"r\"");
    assert_has(c, 0, "\"snapshot\":true");
    assert_has(c, 0, ":0000000000000000:0:00000000\""); /* phase 0, first row */
    assert_has(c, 0, "\"t\":\"snap1\"");
    assert_has(c, 3, "\"key\":{\"a\":2,\"b\":1}"); /* key in primary-key order, not column order */
    assert_true(c->last_token > 0);
    /* every table read to its end: progress points past the last one */
    assert_string_equal(c->progress, "{\"ordinal\":3,\"after\":null}");

    /* written after the slot: must come through the stream, exactly once */
    sql("INSERT INTO it_types VALUES (10, 9007199254740993, 1234.5000, 0.1, 0.30000000000000004, "
        "true, 'h\xC3\xA9', '\\x00ff', '0044-03-15 BC', '12:34:56.789', '12:00:00+05:30', "
        "'2026-11-25 12:00:00.5', '2026-11-25 12:00:00.123456+00', '1 year 2 mons', "
        "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"a\": 2.50}', '{\"b\": 1}', '{{1,2},{3,4}}', "
        "'{sad,happy}', 'ok', 7, (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 200) "
        "i))");
    sql("UPDATE it_types SET t = 'changed' WHERE id = 10");
    sql("BEGIN; UPDATE it_types SET id = 11 WHERE id = 10; DELETE FROM it_types WHERE id = 1; "
        "COMMIT");
    sql("INSERT INTO it_full VALUES (1, 'one', (SELECT string_agg(md5(i::text), '') FROM "
        "generate_series(1, 200) i), '192.168.0.1/24', '(1,2)')");
    sql("UPDATE it_full SET v = 'uno' WHERE id = 1");
    sql("TRUNCATE it_keys");
    assert_int_equal(c->commits, 3); /* one unit per snapshot chunk */
    poll_until(s, c, 3 + 6);

    size_t e = 4;
    assert_has(c, e, "\"op\":\"c\"");
    assert_has(c, e,
               "\"b\":\"9007199254740993\",\"n\":\"1234.5000\",\"f4\":0.1,"
               "\"f8\":0.30000000000000004,\"ok\":true,\"t\":\"h\xC3\xA9\",\"by\":\"AP8=\","
               "\"d\":\"-0043-03-15\",\"tm\":\"12:34:56.789\",\"ttz\":\"12:00:00+05:30\","
               "\"ts\":\"2026-11-25T12:00:00.5\",\"tstz\":\"2026-11-25T12:00:00.123456Z\","
               "\"iv\":\"P1Y2M\",\"u\":\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\","
               "\"j\":{\"a\": 2.50},\"jb\":{\"b\": 1},\"ai\":[[1,2],[3,4]],"
               "\"moods\":[\"sad\",\"happy\"],\"mood\":\"ok\",\"pos\":7");
    assert_has(c, e + 1, "\"op\":\"u\"");
    assert_has(c, e + 1, "\"before\":null");
    assert_has(c, e + 1, "\"unchanged\":[\"big\"]"); /* TOAST left out under DEFAULT */
    assert_has(c, e + 2, "\"op\":\"d\"");            /* key change: delete of the old key ... */
    assert_has(c, e + 2, "\"key\":{\"id\":10}");
    assert_has(c, e + 2, "\"before_partial\":true");
    assert_has(c, e + 3, "\"op\":\"c\""); /* ... then create of the new one */
    assert_has(c, e + 3, "\"key\":{\"id\":11}");
    assert_has(c, e + 3, "\"txn\":{\"id\":");
    assert_has(c, e + 4, "\"op\":\"d\"");
    assert_has(c, e + 4, "\"key\":{\"id\":1}");
    assert_has(c, e + 4, "\"seq\":2}"); /* third event of that transaction */
    assert_has(c, e + 5, "\"table\":\"it_full\"");
    assert_has(c, e + 5, "\"addr\":\"192.168.0.1/24\",\"pt\":\"(1,2)\""); /* text form */
    assert_has(c, e + 6, "\"op\":\"u\"");
    assert_has(c, e + 6, "\"before\":{\"id\":1,\"v\":\"one\",\"big\":\"c4ca"); /* FULL: old row */
    assert_has(c, e + 6, "\"after\":{\"id\":1,\"v\":\"uno\",\"big\":\"c4ca");  /* TOAST filled */
    assert_has(c, e + 7, "\"op\":\"t\"");
    assert_has(c, e + 7, "\"table\":\"it_keys\"");
    assert_int_equal(c->n, e + 8);

    /* schema change flows through without a restart */
    int schemas = c->schemas;
    sql("ALTER TABLE it_full ADD COLUMN extra int");
    sql("INSERT INTO it_full VALUES (2, 'two', 'b', NULL, NULL, 42)");
    poll_until(s, c, 10);
    assert_int_equal(c->schemas, schemas + 1);
    assert_has(c, e + 8, "\"extra\":42");
    /* rename, type change and drop between two changes: one new structure */
    sql("ALTER TABLE it_full RENAME COLUMN extra TO more");
    sql("ALTER TABLE it_full ALTER COLUMN more TYPE numeric(10,2)");
    sql("ALTER TABLE it_full DROP COLUMN big");
    sql("INSERT INTO it_full VALUES (4, 'four', NULL, NULL, 1.5)");
    poll_until(s, c, 11);
    assert_int_equal(c->schemas, schemas + 2);
    assert_has(c, e + 9,
               "\"after\":{\"id\":4,\"v\":\"four\",\"addr\":null,\"pt\":null,"
               "\"more\":\"1.50\"}");
    pg_ops->close(s);
    for (size_t i = 0; i < c->n; i++)
        free(c->json[i]);
    free(c);
}

/* Restart from a stored position: nothing at or before it comes again. */
static void
test_resume_skips_published(void **state)
{
    cdc_source_t *s = NULL;
    cdc_errstr_t es = {{0}};
    /* pretend everything up to now was published: resume after the last streamed insert */
    PGresult *r = PQexec(db, "SELECT pg_current_wal_insert_lsn()");
    uint64_t now_lsn;
    cdc_lsn_parse(PQgetvalue(r, 0, 0), &now_lsn);
    PQclear(r);
    cdc_source_resume_t resume = {
        .has_pos = true, .pos = {1, CDC_PHASE_STREAM, now_lsn, 0, 0}, .snapshot_done = true};
    if (pg_ops->open(&conf, &resume, &s, &es))
        fail_msg("open: %s", es.msg);
    collect_t *c = calloc(1, sizeof(*c));
    sql("INSERT INTO it_full VALUES (3, 'three', NULL, NULL, 3)");
    poll_until(s, c, 1);
    assert_int_equal(c->n, 1); /* only the new insert, none of the earlier ones */
    assert_has(c, 0, "\"key\":{\"id\":3}");
    pg_ops->close(s);
    free(c->json[0]);
    free(c);
}

/* A -> B -> A in two transactions, and two keys swapped inside one. */
static void
test_key_changes(void **state)
{
    char *swap_tables[] = {"public.it_swap"};
    char *swap_topics[1] = {NULL};
    cdc_source_conf_t sc = conf;
    sc.tables = swap_tables;
    sc.table_topics = swap_topics;
    sc.n_tables = 1;
    sc.slot = "it_slot_swap";
    sc.publication = "it_pub_swap";
    PQclear(PQexec(db, "SELECT pg_drop_replication_slot('it_slot_swap') FROM pg_replication_slots "
                       "WHERE slot_name = 'it_slot_swap'"));
    PQclear(PQexec(db, "DROP PUBLICATION IF EXISTS it_pub_swap"));
    PQclear(PQexec(db, "DROP TABLE IF EXISTS it_swap"));
    sql("CREATE TABLE it_swap (id int PRIMARY KEY, v text)");
    sql("INSERT INTO it_swap VALUES (1, 'a'), (2, 'b')");
    cdc_source_t *s = NULL;
    cdc_errstr_t es = {{0}};
    cdc_source_resume_t resume = {0};
    if (pg_ops->open(&sc, &resume, &s, &es))
        fail_msg("open: %s", es.msg);
    collect_t *c = calloc(1, sizeof(*c));
    assert_int_equal(pg_ops->snapshot(s, &cb, c, &es), CDC_OK);
    size_t e = c->n;
    int commits = c->commits;
    sql("UPDATE it_swap SET id = 10 WHERE id = 1");
    sql("UPDATE it_swap SET id = 1 WHERE id = 10");
    sql("BEGIN; UPDATE it_swap SET id = -1 WHERE id = 1; UPDATE it_swap SET id = 1 WHERE id = 2; "
        "UPDATE it_swap SET id = 2 WHERE id = -1; COMMIT");
    poll_until(s, c, commits + 3);
    static const char *const want[][2] = {
        {"\"op\":\"d\"", "\"key\":{\"id\":1}"},  {"\"op\":\"c\"", "\"key\":{\"id\":10}"},
        {"\"op\":\"d\"", "\"key\":{\"id\":10}"}, {"\"op\":\"c\"", "\"key\":{\"id\":1}"},
        {"\"op\":\"d\"", "\"key\":{\"id\":1}"},  {"\"op\":\"c\"", "\"key\":{\"id\":-1}"},
        {"\"op\":\"d\"", "\"key\":{\"id\":2}"},  {"\"op\":\"c\"", "\"key\":{\"id\":1}"},
        {"\"op\":\"d\"", "\"key\":{\"id\":-1}"}, {"\"op\":\"c\"", "\"key\":{\"id\":2}"},
    };
    assert_int_equal(c->n, e + 10);
    for (size_t i = 0; i < 10; i++) {
        assert_has(c, e + i, want[i][0]);
        assert_has(c, e + i, want[i][1]);
    }
    assert_has(c, e + 7, "\"after\":{\"id\":1,\"v\":\"b\"}");
    assert_has(c, e + 9, "\"after\":{\"id\":2,\"v\":\"a\"}");
    assert_has(c, e + 9, "\"seq\":5}"); /* six events, one source transaction */
    pg_ops->close(s);
    for (size_t i = 0; i < c->n; i++)
        free(c->json[i]);
    free(c);
}

/* The walsender of a closed source may still be exiting. */
static void
wait_slot_inactive(void)
{
    for (int i = 0; i < 50; i++) {
        PGresult *r = PQexec(db, "SELECT active FROM pg_replication_slots WHERE slot_name = "
                                 "'it_slot'");
        bool active = PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
        PQclear(r);
        if (!active)
            return;
        usleep(100000);
    }
}

static void
test_refusals(void **state)
{
    cdc_source_t *s = NULL;
    cdc_errstr_t es = {{0}};
    sql("CREATE TABLE it_nokey (a int, b text)");
    char *bad_tables[] = {"public.it_nokey"};
    cdc_source_conf_t bad = conf;
    bad.tables = bad_tables;
    bad.n_tables = 1;
    bad.slot = "it_slot_bad";
    bad.publication = "it_pub_bad";
    cdc_source_resume_t resume = {0};
    assert_int_equal(pg_ops->open(&bad, &resume, &s, &es), CDC_ERR_CONFIG);
    assert_non_null(strstr(es.msg, "ALTER TABLE \"public\".\"it_nokey\" REPLICA IDENTITY FULL;"));

    /* part of an initial snapshot committed, then a crash before its progress was recorded:
     * the slot still holds every change since its consistent point, so the snapshot is read
     * again with watermarks while streaming (neither refused nor left unfinished) */
    cdc_source_resume_t partial = {.has_pos = true,
                                   .pos = {1, CDC_PHASE_SNAPSHOT, 0x1000000, 0, 7}};
    wait_slot_inactive();
    assert_int_equal(pg_ops->open(&conf, &partial, &s, &es), CDC_OK);
    pg_ops->close(s);
    s = NULL;

    /* a stored position whose slot is gone: stop, never recreate silently */
    wait_slot_inactive();
    sql("SELECT pg_drop_replication_slot('it_slot')");
    cdc_source_resume_t stored = {
        .has_pos = true, .pos = {1, CDC_PHASE_STREAM, 0x1000000, 0, 3}, .snapshot_done = true};
    assert_int_equal(pg_ops->open(&conf, &stored, &s, &es), CDC_ERR_FATAL);
    assert_non_null(strstr(es.msg, "slot it_slot is missing but a position is stored"));
    assert_non_null(strstr(es.msg, "Re-snapshot"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snapshot_then_stream),
        cmocka_unit_test(test_resume_skips_published),
        cmocka_unit_test(test_key_changes),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

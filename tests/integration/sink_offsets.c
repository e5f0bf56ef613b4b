/*
 * cdc_sink_offsets in real PostgreSQL and MariaDB targets (in a schema / database of the test's
 * own): created when missing (twice is fine), loaded per sink, moved forward inside the caller's
 * transaction; a move from an offset the row no longer has (another instance of the sink took
 * over) is refused as fenced, and so is a first insert racing an existing row; several partitions
 * move in one statement, all or none.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cdc/sink_offsets.h"
#include "harness.h"
#include "mysql_conn.h"
#include "pg.h"

static cdc_sink_offset_t
at(const char *topic, int32_t part, int64_t next, const char *pos)
{
    cdc_sink_offset_t o = {.partition = part, .next_offset = next, .epoch = 1};
    snprintf(o.topic, sizeof(o.topic), "%s", topic);
    snprintf(o.source_pos, sizeof(o.source_pos), "%s", pos);
    return o;
}

static const char *pos1 = "v1:00000001:0000000000000002:0000000000000000:1:00000003";
static const char *pos2 = "v1:00000001:0000000000000005:0000000000000000:1:00000000";

typedef struct {
    cdc_err_t (*ensure)(void *db, cdc_errstr_t *es);
    cdc_err_t (*load)(void *db, const char *sink, cdc_sink_offsets_t *out, cdc_errstr_t *es);
    cdc_err_t (*move)(void *db, const char *sink, const cdc_sink_offset_t *next, int64_t expected,
                      cdc_errstr_t *es);
    cdc_err_t (*move_many)(void *db, const char *sink, const cdc_sink_offset_t *next,
                           const int64_t *expected, size_t n, cdc_errstr_t *es);
    void (*exec)(void *db, const char *sql);
} target_t;

/* The same steps against either target. */
static void
check_target(const target_t *t, void *db, void *other)
{
    cdc_errstr_t es = {{0}};
    t->exec(db, "DROP TABLE IF EXISTS cdc_sink_offsets");
    assert_int_equal(t->ensure(db, &es), CDC_OK);
    assert_int_equal(t->ensure(db, &es), CDC_OK); /* already there */
    cdc_sink_offsets_t o;
    assert_int_equal(t->load(db, "erp", &o, &es), CDC_OK);
    assert_int_equal(o.n, 0);
    cdc_sink_offsets_free(&o);

    /* first moves insert the rows; "Order Lines" style names are plain strings here */
    cdc_sink_offset_t a = at("cdc.crm.public.contacts", 3, 10, pos1);
    t->exec(db, "BEGIN");
    assert_int_equal(t->move(db, "erp", &a, -1, &es), CDC_OK);
    cdc_sink_offset_t b = at("cdc.crm.public.it's", 0, 7, "");
    assert_int_equal(t->move(db, "erp", &b, -1, &es), CDC_OK);
    t->exec(db, "COMMIT");
    cdc_sink_offset_t c = at("cdc.crm.public.contacts", 3, 99, pos1);
    assert_int_equal(t->move(db, "crm", &c, -1, &es), CDC_OK); /* another sink's row */

    assert_int_equal(t->load(db, "erp", &o, &es), CDC_OK);
    assert_int_equal(o.n, 2);
    const cdc_sink_offset_t *got = cdc_sink_offsets_find(&o, "cdc.crm.public.contacts", 3);
    assert_non_null(got);
    assert_int_equal(got->next_offset, 10);
    assert_int_equal(got->epoch, 1);
    assert_string_equal(got->source_pos, pos1);
    assert_non_null(cdc_sink_offsets_find(&o, "cdc.crm.public.it's", 0));
    assert_null(cdc_sink_offsets_find(&o, "cdc.crm.public.contacts", 4));
    cdc_sink_offsets_free(&o);

    /* a conditional move forward, then one from a stale offset: fenced */
    a = at("cdc.crm.public.contacts", 3, 20, pos2);
    assert_int_equal(t->move(db, "erp", &a, 10, &es), CDC_OK);
    a.next_offset = 30;
    assert_int_equal(t->move(db, "erp", &a, 10, &es), CDC_ERR_FENCED);
    assert_non_null(strstr(es.msg, "another instance of the sink took over"));
    assert_int_equal(t->move(db, "erp", &a, -1, &es), CDC_ERR_FENCED); /* the row exists */
    assert_int_equal(t->move(db, "erp", &a, 30, &es), CDC_ERR_INVAL);  /* never backwards */

    /* two instances: the second moves first; the first's transaction is then fenced */
    t->exec(db, "BEGIN");
    a.next_offset = 25;
    assert_int_equal(t->move(db, "erp", &a, 20, &es), CDC_OK);
    t->exec(db, "ROLLBACK"); /* rolled back: still at 20 */
    a.next_offset = 40;
    assert_int_equal(t->move(other, "erp", &a, 20, &es), CDC_OK);
    a.next_offset = 41;
    assert_int_equal(t->move(db, "erp", &a, 20, &es), CDC_ERR_FENCED);
    assert_int_equal(t->load(db, "erp", &o, &es), CDC_OK);
    got = cdc_sink_offsets_find(&o, "cdc.crm.public.contacts", 3);
    assert_int_equal(got->next_offset, 40);
    assert_string_equal(got->source_pos, pos2);
    cdc_sink_offsets_free(&o);

    /* several partitions in one statement (new rows and existing ones): all move, or none when
     * one of them is no longer where this instance left it */
    cdc_sink_offset_t two[] = {at("t.multi", 0, 5, pos1), at("t.multi", 1, 6, pos1)};
    int64_t none[] = {-1, -1};
    assert_int_equal(t->move_many(db, "erp", two, none, 2, &es), CDC_OK);
    cdc_sink_offset_t three[] = {at("t.multi", 0, 15, pos2), at("t.multi", 1, 16, pos2),
                                 at("t.multi", 2, 3, "")};
    int64_t from[] = {5, 6, -1};
    t->exec(db, "BEGIN");
    assert_int_equal(t->move_many(db, "erp", three, from, 3, &es), CDC_OK);
    t->exec(db, "COMMIT");
    cdc_sink_offset_t one = at("t.multi", 1, 20, pos2);
    assert_int_equal(t->move(other, "erp", &one, 16, &es), CDC_OK);
    cdc_sink_offset_t again[] = {at("t.multi", 0, 25, pos2), at("t.multi", 1, 26, pos2)};
    int64_t from2[] = {15, 16};
    t->exec(db, "BEGIN");
    assert_int_equal(t->move_many(db, "erp", again, from2, 2, &es), CDC_ERR_FENCED);
    assert_non_null(strstr(es.msg, "another instance of the sink took over"));
    t->exec(db, "ROLLBACK");
    assert_int_equal(t->load(db, "erp", &o, &es), CDC_OK);
    assert_int_equal(cdc_sink_offsets_find(&o, "t.multi", 0)->next_offset, 15);
    assert_int_equal(cdc_sink_offsets_find(&o, "t.multi", 1)->next_offset, 20);
    assert_int_equal(cdc_sink_offsets_find(&o, "t.multi", 2)->next_offset, 3);
    assert_string_equal(cdc_sink_offsets_find(&o, "t.multi", 0)->source_pos, pos2);
    cdc_sink_offsets_free(&o);
}

/* ---- PostgreSQL ---- */

static void
pg_exec(void *db, const char *sql)
{
    PGresult *r = PQexec(db, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
}

static PGconn *
pg_open(void)
{
    char conninfo[512];
    snprintf(conninfo, sizeof(conninfo),
             "host=127.0.0.1 port=%s dbname=cdc_test user=cdc password=%s",
             harness_env("CDC_TEST_PG_PORT"), harness_env("CDC_TEST_PG_PASSWORD"));
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("postgresql: %s", PQerrorMessage(c));
    /* a schema of its own: the sink tests running meanwhile use cdc_test's cdc_sink_offsets */
    pg_exec(c, "CREATE SCHEMA IF NOT EXISTS cdc_it_offsets");
    pg_exec(c, "SET search_path = cdc_it_offsets");
    return c;
}

static cdc_err_t
pg_ensure(void *db, cdc_errstr_t *es)
{
    return cdc_pg_sink_offsets_ensure(db, es);
}

static cdc_err_t
pg_load(void *db, const char *sink, cdc_sink_offsets_t *out, cdc_errstr_t *es)
{
    return cdc_pg_sink_offsets_load(db, sink, out, es);
}

static cdc_err_t
pg_move(void *db, const char *sink, const cdc_sink_offset_t *next, int64_t expected,
        cdc_errstr_t *es)
{
    return cdc_pg_sink_offsets_move(db, sink, next, &expected, 1, es);
}

static cdc_err_t
pg_move_many(void *db, const char *sink, const cdc_sink_offset_t *next, const int64_t *expected,
             size_t n, cdc_errstr_t *es)
{
    return cdc_pg_sink_offsets_move(db, sink, next, expected, n, es);
}

static void
test_postgresql(void **state)
{
    (void)state;
    PGconn *a = pg_open(), *b = pg_open();
    target_t t = {pg_ensure, pg_load, pg_move, pg_move_many, pg_exec};
    check_target(&t, a, b);
    PQfinish(a);
    PQfinish(b);
}

/* ---- MariaDB ---- */

static MYSQL *
my_open(void)
{
    cdc_db_conn_t conn = {.host = "127.0.0.1",
                          .port = atoi(harness_env("CDC_TEST_MYSQL_PORT")),
                          .user = "cdc",
                          .password = (char *)harness_env("CDC_TEST_MYSQL_PASSWORD"),
                          .database = "cdc_test"};
    cdc_err_t err;
    cdc_errstr_t es = {{0}};
    MYSQL *m = cdc_mysql_connect(&conn, &err, &es);
    if (!m)
        fail_msg("%s", es.msg);
    /* a database of its own: the sink tests running meanwhile use cdc_test.cdc_sink_offsets */
    if (mysql_query(m, "CREATE DATABASE IF NOT EXISTS cdc_it_offsets") ||
        mysql_query(m, "USE cdc_it_offsets"))
        fail_msg("%s", mysql_error(m));
    return m;
}

static void
my_exec(void *db, const char *sql)
{
    if (mysql_query(db, sql))
        fail_msg("%s: %s", sql, mysql_error(db));
}

static cdc_err_t
my_ensure(void *db, cdc_errstr_t *es)
{
    return cdc_mysql_sink_offsets_ensure(db, es);
}

static cdc_err_t
my_load(void *db, const char *sink, cdc_sink_offsets_t *out, cdc_errstr_t *es)
{
    return cdc_mysql_sink_offsets_load(db, sink, out, es);
}

static cdc_err_t
my_move(void *db, const char *sink, const cdc_sink_offset_t *next, int64_t expected,
        cdc_errstr_t *es)
{
    return cdc_mysql_sink_offsets_move(db, sink, next, &expected, 1, es);
}

static cdc_err_t
my_move_many(void *db, const char *sink, const cdc_sink_offset_t *next, const int64_t *expected,
             size_t n, cdc_errstr_t *es)
{
    return cdc_mysql_sink_offsets_move(db, sink, next, expected, n, es);
}

static void
test_mariadb(void **state)
{
    (void)state;
    MYSQL *a = my_open(), *b = my_open();
    target_t t = {my_ensure, my_load, my_move, my_move_many, my_exec};
    check_target(&t, a, b);
    mysql_close(a);
    mysql_close(b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_postgresql),
        cmocka_unit_test(test_mariadb),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

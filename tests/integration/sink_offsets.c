/*
 * cdc_sink_offsets in real PostgreSQL and MariaDB targets (in a schema / database of the test's
 * own): created when missing (twice is fine), loaded per sink, moved forward inside the caller's
 * transaction; a move from an offset the row no longer has (another instance of the sink took
 * over) is refused as fenced, and so is a first insert racing an existing row; several partitions
 * move in one statement, all or none. Through each target's own operations, as the engine uses
 * them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cdc/connector.h"
#include "cdc/sink.h"
#include "cdc/sink_offsets.h"
#include "harness.h"

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

/* Sessions on one target, through the target's own operations (the connector's sink ops): two
 * of sink erp (the second plays another instance of it) and one of sink crm. */
typedef struct {
    cdc_sink_target_t *erp, *other, *crm;
} sessions_t;

static void
run(const cdc_sink_ops_t *ops, cdc_sink_target_t *t, const char *sql)
{
    cdc_errstr_t es = {{0}};
    if (ops->exec(t, sql, &es))
        fail_msg("%s: %s", sql, es.msg);
}

static cdc_err_t
move_one(const cdc_sink_ops_t *ops, cdc_sink_target_t *t, const cdc_sink_offset_t *next,
         int64_t expected, cdc_errstr_t *es)
{
    return ops->move_offsets(t, next, &expected, 1, es);
}

/* A session of the sink conf on its target that then runs use (a schema / database of the test's
 * own: the sink tests running meanwhile use cdc_test's cdc_sink_offsets). */
static cdc_sink_target_t *
session(const cdc_sink_conf_t *conf, const char *use)
{
    const cdc_sink_ops_t *ops = cdc_connector_find(conf->type)->sink;
    cdc_sink_target_t *t = NULL;
    cdc_errstr_t es = {{0}};
    if (cdc_sink_target_open(ops, conf, false, &t, &es))
        fail_msg("%s", es.msg);
    run(ops, t, use);
    return t;
}

/* The same steps against either target. */
static void
check_target(const cdc_sink_ops_t *ops, sessions_t *ss)
{
    cdc_errstr_t es = {{0}};
    cdc_sink_target_t *db = ss->erp, *other = ss->other, *crm = ss->crm;
    run(ops, db, "DROP TABLE IF EXISTS cdc_sink_offsets");
    assert_int_equal(ops->offsets_ensure(db, &es), CDC_OK);
    assert_int_equal(ops->offsets_ensure(db, &es), CDC_OK); /* already there */
    cdc_sink_offsets_t o;
    assert_int_equal(ops->load_offsets(db, &o, &es), CDC_OK);
    assert_int_equal(o.n, 0);
    cdc_sink_offsets_free(&o);

    /* first moves insert the rows; "Order Lines" style names are plain strings here */
    cdc_sink_offset_t a = at("cdc.crm.public.contacts", 3, 10, pos1);
    run(ops, db, "BEGIN");
    assert_int_equal(move_one(ops, db, &a, -1, &es), CDC_OK);
    cdc_sink_offset_t b = at("cdc.crm.public.it's", 0, 7, "");
    assert_int_equal(move_one(ops, db, &b, -1, &es), CDC_OK);
    run(ops, db, "COMMIT");
    cdc_sink_offset_t c = at("cdc.crm.public.contacts", 3, 99, pos1);
    assert_int_equal(move_one(ops, crm, &c, -1, &es), CDC_OK); /* another sink's row */

    assert_int_equal(ops->load_offsets(db, &o, &es), CDC_OK);
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
    assert_int_equal(move_one(ops, db, &a, 10, &es), CDC_OK);
    a.next_offset = 30;
    assert_int_equal(move_one(ops, db, &a, 10, &es), CDC_ERR_FENCED);
    assert_non_null(strstr(es.msg, "another instance of the sink took over"));
    assert_int_equal(move_one(ops, db, &a, -1, &es), CDC_ERR_FENCED); /* the row exists */
    assert_int_equal(move_one(ops, db, &a, 30, &es), CDC_ERR_INVAL);  /* never backwards */

    /* two instances: the second moves first; the first's transaction is then fenced */
    run(ops, db, "BEGIN");
    a.next_offset = 25;
    assert_int_equal(move_one(ops, db, &a, 20, &es), CDC_OK);
    run(ops, db, "ROLLBACK"); /* rolled back: still at 20 */
    a.next_offset = 40;
    assert_int_equal(move_one(ops, other, &a, 20, &es), CDC_OK);
    a.next_offset = 41;
    assert_int_equal(move_one(ops, db, &a, 20, &es), CDC_ERR_FENCED);
    assert_int_equal(ops->load_offsets(db, &o, &es), CDC_OK);
    got = cdc_sink_offsets_find(&o, "cdc.crm.public.contacts", 3);
    assert_int_equal(got->next_offset, 40);
    assert_string_equal(got->source_pos, pos2);
    cdc_sink_offsets_free(&o);

    /* several partitions in one statement (new rows and existing ones): all move, or none when
     * one of them is no longer where this instance left it */
    cdc_sink_offset_t two[] = {at("t.multi", 0, 5, pos1), at("t.multi", 1, 6, pos1)};
    int64_t none[] = {-1, -1};
    assert_int_equal(ops->move_offsets(db, two, none, 2, &es), CDC_OK);
    cdc_sink_offset_t three[] = {at("t.multi", 0, 15, pos2), at("t.multi", 1, 16, pos2),
                                 at("t.multi", 2, 3, "")};
    int64_t from[] = {5, 6, -1};
    run(ops, db, "BEGIN");
    assert_int_equal(ops->move_offsets(db, three, from, 3, &es), CDC_OK);
    run(ops, db, "COMMIT");
    cdc_sink_offset_t one = at("t.multi", 1, 20, pos2);
    assert_int_equal(move_one(ops, other, &one, 16, &es), CDC_OK);
    cdc_sink_offset_t again[] = {at("t.multi", 0, 25, pos2), at("t.multi", 1, 26, pos2)};
    int64_t from2[] = {15, 16};
    run(ops, db, "BEGIN");
    assert_int_equal(ops->move_offsets(db, again, from2, 2, &es), CDC_ERR_FENCED);
    assert_non_null(strstr(es.msg, "another instance of the sink took over"));
    run(ops, db, "ROLLBACK");
    assert_int_equal(ops->load_offsets(db, &o, &es), CDC_OK);
    assert_int_equal(cdc_sink_offsets_find(&o, "t.multi", 0)->next_offset, 15);
    assert_int_equal(cdc_sink_offsets_find(&o, "t.multi", 1)->next_offset, 20);
    assert_int_equal(cdc_sink_offsets_find(&o, "t.multi", 2)->next_offset, 3);
    assert_string_equal(cdc_sink_offsets_find(&o, "t.multi", 0)->source_pos, pos2);
    cdc_sink_offsets_free(&o);
}

static void
check_type(cdc_db_type_t type, const char *port, const char *password, const char *create,
           const char *use)
{
    cdc_db_conn_t conn = {.host = "127.0.0.1",
                          .port = atoi(harness_env(port)),
                          .user = "cdc",
                          .password = (char *)harness_env(password),
                          .database = "cdc_test"};
    cdc_sink_conf_t erp = {.name = "erp", .type = type, .conn = conn},
                    crm = {.name = "crm", .type = type, .conn = conn};
    const cdc_sink_ops_t *ops = cdc_connector_find(type)->sink;
    sessions_t ss = {.erp = session(&erp, create)};
    run(ops, ss.erp, use);
    ss.other = session(&erp, use);
    ss.crm = session(&crm, use);
    check_target(ops, &ss);
    ops->close(ss.erp);
    ops->close(ss.other);
    ops->close(ss.crm);
}

static void
test_postgresql(void **state)
{
    (void)state;
    check_type(CDC_DB_POSTGRESQL, "CDC_TEST_PG_PORT", "CDC_TEST_PG_PASSWORD",
               "CREATE SCHEMA IF NOT EXISTS cdc_it_offsets", "SET search_path = cdc_it_offsets");
}

static void
test_mariadb(void **state)
{
    (void)state;
    check_type(CDC_DB_MYSQL, "CDC_TEST_MYSQL_PORT", "CDC_TEST_MYSQL_PASSWORD",
               "CREATE DATABASE IF NOT EXISTS cdc_it_offsets", "USE cdc_it_offsets");
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

/* The publisher acknowledges a commit to the source only once its offset record is read back
 * (agent/publish/publisher_readback.c): pairing commits with records read, idle positions, the
 * mock cluster's visible aborted attempts, and a transaction the broker lost. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "publisher_internal.h"

static uint64_t acked;

static void
record_ack(cdc_source_t *s, uint64_t token)
{
    (void)s;
    acked = token;
}

static const cdc_source_ops_t ops = {.ack = record_ack};
static const cdc_source_conf_t src = {.name = "crm"};

static cdc_publisher_t *
publisher(void)
{
    static cdc_publisher_t p;
    memset(&p, 0, sizeof(p));
    p.ops = &ops;
    p.source = (cdc_source_t *)&p;
    p.src = &src;
    p.rb.c = (cdc_consumer_t *)&p; /* reading back (never called here) */
    acked = 0;
    return &p;
}

static void
release(cdc_publisher_t *p)
{
    free(p->rb.q);
    free(p->rb.seen);
}

static void
commit(cdc_publisher_t *p, uint64_t token)
{
    cdc_pos_t pos = {.epoch = 1, .phase = CDC_PHASE_STREAM, .major = token};
    cdc_publisher_ack_committed(p, token, &pos);
}

static void
test_in_order(void **state)
{
    (void)state;
    cdc_publisher_t *p = publisher();
    commit(p, 10);
    commit(p, 20);
    assert_int_equal(acked, 0); /* committed is not enough */
    cdc_publisher_readback_seen(p, 10);
    assert_int_equal(acked, 10);
    cdc_publisher_readback_seen(p, 20);
    assert_int_equal(acked, 20);
    commit(p, 20); /* a heartbeat at the same position */
    cdc_publisher_readback_seen(p, 20);
    assert_int_equal(p->rb.len, 0);
    assert_false(p->fatal);
    release(p);
}

static void
test_read_before_queued(void **state)
{
    (void)state;
    cdc_publisher_t *p = publisher();
    cdc_publisher_readback_seen(p, 30); /* the reader was quicker than the publisher thread */
    assert_int_equal(acked, 0);
    commit(p, 30);
    assert_int_equal(acked, 30);
    release(p);
}

static void
test_aborted_attempts_visible(void **state)
{
    (void)state;
    cdc_publisher_t *p = publisher();
    commit(p, 10);
    cdc_publisher_readback_seen(p, 5); /* an older record */
    cdc_publisher_readback_seen(p, 10);
    cdc_publisher_readback_seen(p, 20); /* the mock cluster shows an aborted attempt ... */
    cdc_publisher_readback_seen(p, 20); /* ... and the retry that committed */
    assert_int_equal(acked, 10);
    commit(p, 20);
    assert_int_equal(acked, 20);
    commit(p, 30);
    cdc_publisher_readback_seen(p, 30);
    assert_int_equal(acked, 30);
    assert_false(p->fatal);
    release(p);
}

static void
test_idle(void **state)
{
    (void)state;
    cdc_publisher_t *p = publisher();
    cdc_publisher_ack_idle(p, 5); /* nothing waiting: at once */
    assert_int_equal(acked, 5);
    commit(p, 10);
    cdc_publisher_ack_idle(p, 15); /* after a commit not read back yet: with it */
    assert_int_equal(acked, 5);
    cdc_publisher_readback_seen(p, 10);
    assert_int_equal(acked, 15);
    release(p);
}

static void
test_lost_transaction(void **state)
{
    (void)state;
    cdc_publisher_t *p = publisher();
    commit(p, 10);
    cdc_publisher_readback_seen(p, 10);
    commit(p, 20); /* the broker says committed, then loses it */
    commit(p, 30);
    cdc_publisher_readback_seen(p, 30);
    assert_int_equal(acked, 10); /* never past the lost one */
    assert_int_equal(p->fatal, CDC_ERR_FATAL);
    assert_non_null(strstr(p->fatal_msg, "the broker lost a committed transaction"));
    assert_non_null(strstr(p->fatal_msg, "changes up to pos=v1:00000001:0000000000000014"));
    assert_non_null(strstr(p->fatal_msg, "after pos=v1:00000001:000000000000000a"));
    commit(p, 40);
    cdc_publisher_readback_seen(p, 40);
    cdc_publisher_ack_idle(p, 50);
    assert_int_equal(acked, 10);
    release(p);
}

static void
test_no_reader(void **state)
{
    (void)state;
    cdc_publisher_t *p = publisher();
    p->rb.c = NULL; /* a source without a server-side position: on the commit's word */
    commit(p, 10);
    assert_int_equal(acked, 10);
    release(p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order),
        cmocka_unit_test(test_read_before_queued),
        cmocka_unit_test(test_aborted_attempts_visible),
        cmocka_unit_test(test_idle),
        cmocka_unit_test(test_lost_transaction),
        cmocka_unit_test(test_no_reader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

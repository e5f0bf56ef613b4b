/*
 * Exactly-once-style publishing of one source (README "Kafka behaviour worth knowing"): the source
 * thread encodes events into batches of whole source transactions; a publisher thread writes each
 * batch as one Kafka transaction (data records, then, after every delivery report, the offset
 * record), commits, and only then acknowledges the position to the source. While a commit is in
 * flight the next batch fills; when both are full the source thread waits (backpressure).
 */
#ifndef CDC_PUBLISHER_H
#define CDC_PUBLISHER_H

#include "cdc/config.h"
#include "cdc/kafka.h"
#include "cdc/source.h"

/* A Kafka transaction takes further queued batches while it is below these sizes (the benchmarks'
 * Kafka ceiling uses the same). */
#define CDC_TXN_BYTES   (4u << 20)
#define CDC_TXN_RECORDS 20000

typedef struct cdc_publisher cdc_publisher_t;

/* Initialises the transactional producer (fencing an older instance), loads the stored offsets
 * and schema versions, creates missing topics and checks partition counts. *resume tells the
 * source where to continue. Main thread. */
cdc_publisher_t *cdc_publisher_new(const cdc_config_t *cfg, const cdc_source_conf_t *src,
                                   cdc_kafka_bus_t *bus, cdc_source_resume_t *resume,
                                   cdc_errstr_t *es);
/* The same, with the failure's class: a retriable one (the broker went away meanwhile) may be
 * tried again. */
cdc_err_t cdc_publisher_open(const cdc_config_t *cfg, const cdc_source_conf_t *src,
                             cdc_kafka_bus_t *bus, cdc_source_resume_t *resume,
                             cdc_publisher_t **out, cdc_errstr_t *es);
/* Starts the publisher thread; acknowledgements go to ops->ack(source). */
cdc_err_t cdc_publisher_start(cdc_publisher_t *p, const cdc_source_ops_t *ops, cdc_source_t *s,
                              cdc_errstr_t *es);
/* Waits until every queued batch is committed (or the publisher failed), then points
 * acknowledgements at s (the source after a reconnect). Source thread. */
cdc_err_t cdc_publisher_rebind(cdc_publisher_t *p, cdc_source_t *s, cdc_errstr_t *es);
/* The callbacks a source calls (ctx = the publisher). */
const cdc_source_cb_t *cdc_publisher_callbacks(void);
/* Between polls: closes a batch whose linger has expired; returns the publisher thread's fatal
 * error, if any (es says which). Source thread. */
cdc_err_t cdc_publisher_tick(cdc_publisher_t *p, cdc_errstr_t *es);
/* Position after the last committed Kafka transaction, for reconnecting the source. */
cdc_source_resume_t cdc_publisher_resume(cdc_publisher_t *p);
/* Forgets a partly read source transaction (the source will send it again after reconnecting). */
void cdc_publisher_discard_partial(cdc_publisher_t *p);
/* A pause of the source (the operator's): publishes what is complete and waits for it; nothing
 * is acknowledged to the source any more (rebind it after reconnecting). Source thread. */
cdc_err_t cdc_publisher_hold(cdc_publisher_t *p, cdc_errstr_t *es);
/* Graceful stop: publishes what is complete, waits for it, stops the thread. */
cdc_err_t cdc_publisher_finish(cdc_publisher_t *p, cdc_errstr_t *es);
void cdc_publisher_free(cdc_publisher_t *p);

#endif

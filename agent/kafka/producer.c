/*
 * Transactional producer. Follows librdkafka's transactions example: every call's error is
 * classified before anything else is done with it (fenced / fatal -> stop, abortable -> abort and
 * redo, retriable -> try again). Delivery reports are counted so the caller can confirm every data
 * record of a transaction before producing that transaction's offset record.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cdc/buf.h"
#include "cdc/kafka.h"
#include "cdc/log.h"

struct cdc_producer {
    rd_kafka_t *rk;
    char *txn_id;
    uint64_t delivered;
    rd_kafka_resp_err_t first_dr_err; /* first failed delivery since the last begin */
    char first_dr_errstr[256];
    char errstr[512];
};

static void
dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    cdc_producer_t *p = opaque;
    if (!m->err) {
        p->delivered++;
    } else if (!p->first_dr_err) {
        p->first_dr_err = m->err;
        snprintf(p->first_dr_errstr, sizeof(p->first_dr_errstr), "delivery to %s[%d]: %s",
                 rd_kafka_topic_name(m->rkt), (int)m->partition, rd_kafka_err2str(m->err));
    }
}

cdc_producer_t *
cdc_producer_new(const cdc_kafka_conf_t *kc, const char *bootstrap, const char *txn_id,
                 cdc_errstr_t *es)
{
    rd_kafka_conf_t *conf = cdc_kafka_conf_new(kc, bootstrap, CDC_KAFKA_PRODUCER, es);
    if (!conf)
        return NULL;
    cdc_producer_t *p = cdc_xcalloc(1, sizeof(*p));
    char linger[16], errstr[256];
    snprintf(linger, sizeof(linger), "%d", kc->linger_ms < 5 ? kc->linger_ms : 5);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_opaque(conf, p);
    if (cdc_kafka_conf_set(conf, "transactional.id", txn_id, es) ||
        cdc_kafka_conf_set(conf, "enable.idempotence", "true", es) ||
        cdc_kafka_conf_set(conf, "partitioner", "murmur2_random", es) ||
        cdc_kafka_conf_set(conf, "compression.type", kc->compression, es) ||
        cdc_kafka_conf_set(conf, "linger.ms", linger, es) ||
        cdc_kafka_conf_set(conf, "queue.buffering.max.kbytes", "65536", es) ||
        /* records point into the publisher's batches until delivered: no second copy */
        cdc_kafka_conf_set(conf, "message.copy.max.bytes", "0", es)) {
        rd_kafka_conf_destroy(conf);
        free(p);
        return NULL;
    }
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!p->rk) {
        rd_kafka_conf_destroy(conf);
        cdc_errstr_set(es, CDC_ERR_KAFKA, "kafka producer %s: %s", txn_id, errstr);
        free(p);
        return NULL;
    }
    p->txn_id = cdc_xstrdup(txn_id);
    return p;
}

void
cdc_producer_free(cdc_producer_t *p)
{
    if (!p)
        return;
    rd_kafka_destroy(p->rk);
    free(p->txn_id);
    free(p);
}

const char *
cdc_producer_errstr(const cdc_producer_t *p)
{
    return p->errstr;
}

uint64_t
cdc_producer_delivered(const cdc_producer_t *p)
{
    return p->delivered;
}

rd_kafka_t *
cdc_producer_handle(cdc_producer_t *p)
{
    return p->rk;
}

/* Classifies and records a transactional API error; takes ownership of error. */
static cdc_err_t
txn_error(cdc_producer_t *p, const char *what, rd_kafka_error_t *error)
{
    if (!error)
        return CDC_OK;
    cdc_err_t rc = cdc_kafka_classify(error);
    if (rc == CDC_ERR_FATAL) {
        /* a fatal error may hide a fencing: look at the underlying cause */
        char reason[256];
        rd_kafka_resp_err_t fe = rd_kafka_fatal_error(p->rk, reason, sizeof(reason));
        if (cdc_kafka_classify_code(fe) == CDC_ERR_FENCED)
            rc = CDC_ERR_FENCED;
    }
    snprintf(p->errstr, sizeof(p->errstr), "%s (transactional.id %s): %s%s", what, p->txn_id,
             rd_kafka_error_string(error),
             rc == CDC_ERR_FENCED ? "; another instance with this transactional id took over" : "");
    rd_kafka_error_destroy(error);
    return rc;
}

cdc_err_t
cdc_producer_init(cdc_producer_t *p, int timeout_ms)
{
    return txn_error(p, "init_transactions", rd_kafka_init_transactions(p->rk, timeout_ms));
}

cdc_err_t
cdc_producer_begin(cdc_producer_t *p)
{
    p->first_dr_err = RD_KAFKA_RESP_ERR_NO_ERROR;
    p->first_dr_errstr[0] = '\0';
    return txn_error(p, "begin_transaction", rd_kafka_begin_transaction(p->rk));
}

rd_kafka_headers_t *
cdc_kafka_headers(const cdc_header_t *hs, size_t n)
{
    if (!n)
        return NULL;
    rd_kafka_headers_t *h = rd_kafka_headers_new(n);
    for (size_t i = 0; i < n; i++)
        rd_kafka_header_add(h, hs[i].name, -1, hs[i].value, (ssize_t)hs[i].len);
    return h;
}

cdc_err_t
cdc_producer_send(cdc_producer_t *p, const cdc_record_t *rec)
{
    for (;;) {
        bool ahead = rec->prebuilt && *rec->prebuilt;
        rd_kafka_headers_t *h =
            ahead ? *rec->prebuilt : cdc_kafka_headers(rec->headers, rec->n_headers);
        rd_kafka_resp_err_t e = rd_kafka_producev(
            p->rk, RD_KAFKA_V_TOPIC(rec->topic), RD_KAFKA_V_PARTITION(rec->partition),
            RD_KAFKA_V_MSGFLAGS(rec->borrow ? 0 : RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY((void *)rec->key, rec->key_len),
            RD_KAFKA_V_VALUE((void *)rec->value, rec->value_len), RD_KAFKA_V_HEADERS(h),
            RD_KAFKA_V_TIMESTAMP(rec->timestamp_ms), RD_KAFKA_V_END);
        if (!e) {
            if (ahead)
                *rec->prebuilt = NULL; /* librdkafka owns them now */
            return CDC_OK;
        }
        if (h && !ahead)
            rd_kafka_headers_destroy(h); /* not taken over on failure */
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(p->rk, 100); /* backpressure: wait for deliveries */
            continue;
        }
        snprintf(p->errstr, sizeof(p->errstr), "produce to %s: %s", rec->topic,
                 rd_kafka_err2str(e));
        cdc_err_t rc = cdc_kafka_classify_code(e);
        return rc == CDC_ERR_KAFKA ? CDC_ERR_ABORTED : rc;
    }
}

cdc_err_t
cdc_producer_wait_delivered(cdc_producer_t *p, int timeout_ms)
{
    rd_kafka_resp_err_t e = rd_kafka_flush(p->rk, timeout_ms);
    if (p->first_dr_err) {
        cdc_err_t rc = cdc_kafka_classify_code(p->first_dr_err);
        char reason[256];
        if (rc != CDC_ERR_FENCED && cdc_kafka_classify_code(rd_kafka_fatal_error(
                                        p->rk, reason, sizeof(reason))) == CDC_ERR_FENCED)
            rc = CDC_ERR_FENCED;
        snprintf(p->errstr, sizeof(p->errstr), "%s%s", p->first_dr_errstr,
                 rc == CDC_ERR_FENCED ? "; another instance with this transactional id took over"
                                      : "");
        /* any other failed delivery leaves the transaction unusable: abort and redo it */
        return rc == CDC_ERR_FENCED || rc == CDC_ERR_TOOBIG ? rc : CDC_ERR_ABORTED;
    }
    if (e) {
        snprintf(p->errstr, sizeof(p->errstr), "waiting for delivery reports: %s",
                 rd_kafka_err2str(e));
        return CDC_ERR_TIMEOUT;
    }
    return CDC_OK;
}

/* A retriable failure (the call timed out, the coordinator moved or is busy) leaves the commit in
 * flight, and it may already have succeeded on the broker: the call is made again, which resumes
 * it. Aborting and redoing the batch instead could commit its records twice. */
cdc_err_t
cdc_producer_commit(cdc_producer_t *p, int timeout_ms)
{
    for (int attempt = 1, backoff_ms = 100;; attempt++) {
        rd_kafka_error_t *error = rd_kafka_commit_transaction(p->rk, timeout_ms);
        if (!error || !rd_kafka_error_is_retriable(error) || rd_kafka_error_is_fatal(error) ||
            rd_kafka_error_txn_requires_abort(error))
            return txn_error(p, "commit_transaction", error);
        CDC_LOG_WARN("kafka commit_transaction (transactional.id %s) attempt=%d: %s; resuming it",
                     p->txn_id, attempt, rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        usleep((useconds_t)backoff_ms * 1000);
        backoff_ms = backoff_ms < 2000 ? backoff_ms * 2 : 2000;
    }
}

cdc_err_t
cdc_producer_abort(cdc_producer_t *p, int timeout_ms)
{
    return txn_error(p, "abort_transaction", rd_kafka_abort_transaction(p->rk, timeout_ms));
}

cdc_err_t
cdc_producer_partition_count(cdc_producer_t *p, const char *topic, int timeout_ms, int *out,
                             cdc_errstr_t *es)
{
    return cdc_kafka_partition_count(p->rk, topic, timeout_ms, out, es);
}

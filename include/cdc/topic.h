/*
 * Kafka topic names (contract): "<topic_prefix>.<system>.<schema or db>.<table>", each part with
 * bytes outside [A-Za-z0-9_-] written as _xHH (lowercase hex of each UTF-8 byte).
 */
#ifndef CDC_TOPIC_H
#define CDC_TOPIC_H

#include <stddef.h>

#include "cdc/buf.h"
#include "cdc/err.h"

/* Kafka refuses topic names longer than this. */
#define CDC_TOPIC_MAX_LEN 249

/* Appends the escaped form of one name part. */
void cdc_topic_escape(cdc_buf_t *out, const char *part, size_t n);
/* Builds the data topic for a table into out (reset first). schema_or_db is the PostgreSQL schema
 * or the MySQL database. Fails with CDC_ERR_TOOBIG when the name exceeds CDC_TOPIC_MAX_LEN. */
cdc_err_t cdc_topic_for_table(cdc_buf_t *out, const char *prefix, const char *system,
                              const char *schema_or_db, const char *table, cdc_errstr_t *es);
/* Builds an internal topic: "<prefix>._offsets", "<prefix>._schemas", "<prefix>._dlq.<sink>". */
void cdc_topic_internal(cdc_buf_t *out, const char *prefix, const char *name, const char *sink);

#endif

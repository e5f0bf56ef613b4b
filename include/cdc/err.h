/*
 * Error codes shared by every module. One X-macro table yields the enum, the names, the
 * messages and whether an error is worth retrying; human detail lives in a cdc_errstr_t that
 * the failing call fills in.
 */
#ifndef CDC_ERR_H
#define CDC_ERR_H

#include <stdbool.h>
#include <stddef.h>

/* X(name, value, message, retriable) */
#define CDC_ERR_TABLE(X)                                                                           \
    X(OK, 0, "success", false)                                                                     \
    X(NOMEM, -1, "out of memory", false)                                                           \
    X(INVAL, -2, "invalid argument", false)                                                        \
    X(CONFIG, -3, "configuration error", false)                                                    \
    X(IO, -4, "i/o error", true)                                                                   \
    X(PARSE, -5, "malformed input", false)                                                         \
    X(UTF8, -6, "invalid utf-8", false)                                                            \
    X(RANGE, -7, "value out of range", false)                                                      \
    X(CONNECT, -8, "connection failed", true)                                                      \
    X(AUTH, -9, "authentication failed", false)                                                    \
    X(TIMEOUT, -10, "timed out", true)                                                             \
    X(KAFKA, -11, "kafka error", true)                                                             \
    X(ABORTED, -12, "transaction aborted", true)                                                   \
    X(FENCED, -13, "producer fenced by a newer instance", false)                                   \
    X(FATAL, -14, "fatal error", false)                                                            \
    X(UNSUPPORTED, -15, "not supported", false)                                                    \
    X(TOOBIG, -16, "too large", false)                                                             \
    X(NOTFOUND, -17, "not found", false)                                                           \
    X(DATA, -18, "value refused by the target", false)                                             \
    X(CONFLICT, -19, "unique or foreign-key violation", true)                                      \
    X(SCHEMA, -20, "target table lacks a column", true)

typedef enum {
#define CDC_ERR_ENUM(name, value, msg, retry) CDC_ERR_##name = value,
    CDC_ERR_TABLE(CDC_ERR_ENUM)
#undef CDC_ERR_ENUM
} cdc_err_t;

#define CDC_OK CDC_ERR_OK

/* Detail for one failed call: a single human-readable line, never a secret. */
typedef struct {
    char msg[512];
} cdc_errstr_t;

/* "CDC_ERR_PARSE" style name; never NULL. */
const char *cdc_err_name(cdc_err_t err);
/* Short generic message for err; never NULL. */
const char *cdc_strerror(cdc_err_t err);
/* Whether the operation may succeed when tried again (after a reconnect or backoff). */
bool cdc_err_retriable(cdc_err_t err);

/* Sets es->msg (printf-style) and returns err, so callers can `return cdc_errstr_set(...)`.
 * es may be NULL. */
cdc_err_t cdc_errstr_set(cdc_errstr_t *es, cdc_err_t err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends "prefix: " to es->msg (printf-style). */
void cdc_errstr_prefix(cdc_errstr_t *es, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif

/*
 * Process-wide logging: one line per message on stderr, as text or one JSON object per line.
 * Messages are lowercase with key=value pairs and must never contain a secret.
 */
#ifndef CDC_LOG_H
#define CDC_LOG_H

#include <stdbool.h>

typedef enum { CDC_LOG_DEBUG, CDC_LOG_INFO, CDC_LOG_WARN, CDC_LOG_ERROR } cdc_log_level_t;
typedef enum { CDC_LOG_FORMAT_TEXT, CDC_LOG_FORMAT_JSON } cdc_log_format_t;

/* Sets the output format and the lowest level printed. Call before starting threads. */
void cdc_log_setup(cdc_log_format_t format, cdc_log_level_t min_level);
/* Whether messages of level are printed (to skip preparing what would not be). */
bool cdc_log_enabled(cdc_log_level_t level);
/* Parses "debug" / "info" / "warn" / "error"; returns false on anything else. */
bool cdc_log_level_parse(const char *s, cdc_log_level_t *out);
/* The component the calling thread works for (key "source" or "sink", its name), added to its
 * JSON lines as a field when the message does not name it. Both are borrowed: they must outlive
 * the thread's logging. NULL key: none. */
void cdc_log_context(const char *key, const char *value);
/* Writes one line; any thread. */
void cdc_log_write(cdc_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define CDC_LOG_DEBUG(...) cdc_log_write(CDC_LOG_DEBUG, __VA_ARGS__)
#define CDC_LOG_INFO(...)  cdc_log_write(CDC_LOG_INFO, __VA_ARGS__)
#define CDC_LOG_WARN(...)  cdc_log_write(CDC_LOG_WARN, __VA_ARGS__)
#define CDC_LOG_ERROR(...) cdc_log_write(CDC_LOG_ERROR, __VA_ARGS__)

#endif

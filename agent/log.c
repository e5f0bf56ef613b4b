/*
 * Logging to stderr. Each line is written with a single fwrite under the stdio lock so lines from
 * different threads never interleave.
 */
#include "cdc/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "cdc/buf.h"
#include "cdc/json.h"

static cdc_log_format_t log_format = CDC_LOG_FORMAT_TEXT;
static cdc_log_level_t log_min = CDC_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void
cdc_log_setup(cdc_log_format_t format, cdc_log_level_t min_level)
{
    log_format = format;
    log_min = min_level;
}

bool
cdc_log_level_parse(const char *s, cdc_log_level_t *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (cdc_log_level_t)i;
            return true;
        }
    }
    return false;
}

static void
format_now(char *out, size_t n)
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t k = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + k, n - k, ".%03dZ", (int)(tv.tv_usec / 1000));
}

void
cdc_log_write(cdc_log_level_t level, const char *fmt, ...)
{
    if (level < log_min)
        return;
    char msg[2048], ts[40];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    format_now(ts, sizeof(ts));

    cdc_buf_t line;
    cdc_buf_init(&line);
    if (log_format == CDC_LOG_FORMAT_JSON) {
        cdc_buf_printf(&line, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", ts, level_names[level]);
        cdc_json_write_string_lossy(&line, msg, strlen(msg));
        cdc_buf_puts(&line, "}\n");
    } else {
        cdc_buf_printf(&line, "%s %-5s %s\n", ts, level_names[level], msg);
    }
    flockfile(stderr);
    fwrite(line.data, 1, line.len, stderr);
    funlockfile(stderr);
    cdc_buf_deinit(&line);
}

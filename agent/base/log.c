/*
 * Logging to stderr. Each line is written with a single fwrite under the stdio lock so lines from
 * different threads never interleave. As JSON, a line carries its context as fields beside msg:
 * the thread's component (source or sink) and every key=value pair of the message.
 */
#include "cdc/log.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cdc/buf.h"
#include "cdc/clock.h"
#include "cdc/json.h"

static cdc_log_format_t log_format = CDC_LOG_FORMAT_TEXT;
static cdc_log_level_t log_min = CDC_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};
static _Thread_local const char *ctx_key, *ctx_value;

void
cdc_log_context(const char *key, const char *value)
{
    ctx_key = key;
    ctx_value = value;
}

void
cdc_log_setup(cdc_log_format_t format, cdc_log_level_t min_level)
{
    log_format = format;
    log_min = min_level;
}

bool
cdc_log_enabled(cdc_log_level_t level)
{
    return level >= log_min;
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
    cdc_format_utc_ms(out, n, cdc_wall_ms());
}

#define MAX_FIELDS 24

typedef struct {
    const char *names[MAX_FIELDS];
    size_t lens[MAX_FIELDS], n;
} seen_t;

/* Whether a field of that name was written already, or is one of the line's own (ts, level,
 * msg): the first one wins. Else records it. */
static bool
seen(seen_t *s, const char *name, size_t len)
{
    static const char *const own[] = {"ts", "level", "msg"};
    for (size_t i = 0; i < 3; i++)
        if (strlen(own[i]) == len && !memcmp(own[i], name, len))
            return true;
    for (size_t i = 0; i < s->n; i++)
        if (s->lens[i] == len && !memcmp(s->names[i], name, len))
            return true;
    if (s->n == MAX_FIELDS)
        return true;
    s->names[s->n] = name;
    s->lens[s->n++] = len;
    return false;
}

/* A JSON integer that a double holds exactly: optional '-', no leading zero, up to 15 digits. */
static bool
is_integer(const char *v, size_t n)
{
    size_t i = v[0] == '-' ? 1 : 0, digits = n - i;
    if (digits == 0 || digits > 15 || (v[i] == '0' && digits > 1))
        return false;
    for (; i < n; i++)
        if (!isdigit((unsigned char)v[i]))
            return false;
    return true;
}

static void
field(cdc_buf_t *line, seen_t *s, const char *name, size_t nlen, const char *v, size_t vlen)
{
    if (seen(s, name, nlen))
        return;
    cdc_buf_putc(line, ',');
    cdc_json_write_string_lossy(line, name, nlen);
    cdc_buf_putc(line, ':');
    if (is_integer(v, vlen))
        cdc_buf_append(line, v, vlen);
    else
        cdc_json_write_string_lossy(line, v, vlen);
}

/* The key=value pairs of a message as fields: a key is a lowercase word (a-z 0-9 _ .) at the
 * start or after a space or '(', its value runs to the next space, without trailing
 * punctuation. Integers become numbers. */
static void
message_fields(cdc_buf_t *line, seen_t *s, const char *msg)
{
    for (const char *p = msg; *p;) {
        const char *k = p;
        while (*p &&
               (islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_' || *p == '.'))
            p++;
        size_t klen = (size_t)(p - k);
        bool start = k == msg || k[-1] == ' ' || k[-1] == '(';
        if (start && klen && *p == '=' && islower((unsigned char)*k)) {
            const char *v = ++p;
            while (*p && *p != ' ')
                p++;
            size_t vlen = (size_t)(p - v);
            while (vlen && strchr(",;:)", v[vlen - 1]))
                vlen--;
            if (vlen)
                field(line, s, k, klen, v, vlen);
            continue;
        }
        if (p == k)
            p++;
    }
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
        seen_t s = {.n = 0};
        message_fields(&line, &s, msg);
        if (ctx_key)
            field(&line, &s, ctx_key, strlen(ctx_key), ctx_value, strlen(ctx_value));
        cdc_buf_puts(&line, "}\n");
    } else {
        cdc_buf_printf(&line, "%s %-5s %s\n", ts, level_names[level], msg);
    }
    flockfile(stderr);
    fwrite(line.data, 1, line.len, stderr);
    funlockfile(stderr);
    cdc_buf_deinit(&line);
}

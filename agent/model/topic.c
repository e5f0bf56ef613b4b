/*
 * Topic naming. The escape keeps '.' free as the separator between name parts, so a name maps back
 * to exactly one (system, schema, table) and two tables can only collide through a per-table
 * override, which start-up refuses.
 */
#include "cdc/topic.h"

#include <string.h>

static int
plain_byte(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

void
cdc_topic_escape(cdc_buf_t *out, const char *part, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)part[i];
        if (plain_byte(c)) {
            cdc_buf_putc(out, (char)c);
        } else {
            char e[4] = {'_', 'x', hex[c >> 4], hex[c & 15]};
            cdc_buf_append(out, e, 4);
        }
    }
}

cdc_err_t
cdc_topic_for_table(cdc_buf_t *out, const char *prefix, const char *system,
                    const char *schema_or_db, const char *table, cdc_errstr_t *es)
{
    const char *parts[] = {prefix, system, schema_or_db, table};
    cdc_buf_reset(out);
    for (int i = 0; i < 4; i++) {
        if (!parts[i] || !parts[i][0])
            return cdc_errstr_set(es, CDC_ERR_INVAL, "topic name part %d is empty", i + 1);
        if (i)
            cdc_buf_putc(out, '.');
        cdc_topic_escape(out, parts[i], strlen(parts[i]));
    }
    if (out->len > CDC_TOPIC_MAX_LEN)
        return cdc_errstr_set(es, CDC_ERR_TOOBIG,
                              "topic name for %s.%s is %zu bytes, Kafka allows %d; set a per-table "
                              "topic override",
                              schema_or_db, table, out->len, CDC_TOPIC_MAX_LEN);
    return CDC_OK;
}

void
cdc_topic_internal(cdc_buf_t *out, const char *prefix, const char *name, const char *sink)
{
    cdc_buf_reset(out);
    cdc_topic_escape(out, prefix, strlen(prefix));
    cdc_buf_puts(out, "._");
    cdc_buf_puts(out, name);
    if (sink) {
        cdc_buf_putc(out, '.');
        cdc_topic_escape(out, sink, strlen(sink));
    }
}

/*
 * Error names, messages and retry classification, all generated from CDC_ERR_TABLE so they can
 * never disagree.
 */
#include "cdc/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    cdc_err_t code;
    const char *name;
    const char *msg;
    bool retriable;
} err_info_t;

static const err_info_t err_infos[] = {
#define CDC_ERR_INFO(name, value, msg, retry) {CDC_ERR_##name, "CDC_ERR_" #name, msg, retry},
    CDC_ERR_TABLE(CDC_ERR_INFO)
#undef CDC_ERR_INFO
};

static const err_info_t *
err_lookup(cdc_err_t err)
{
    for (size_t i = 0; i < sizeof(err_infos) / sizeof(err_infos[0]); i++)
        if (err_infos[i].code == err)
            return &err_infos[i];
    return NULL;
}

const char *
cdc_err_name(cdc_err_t err)
{
    const err_info_t *e = err_lookup(err);
    return e ? e->name : "CDC_ERR_UNKNOWN";
}

const char *
cdc_strerror(cdc_err_t err)
{
    const err_info_t *e = err_lookup(err);
    return e ? e->msg : "unknown error";
}

bool
cdc_err_retriable(cdc_err_t err)
{
    const err_info_t *e = err_lookup(err);
    return e ? e->retriable : false;
}

cdc_err_t
cdc_errstr_set(cdc_errstr_t *es, cdc_err_t err, const char *fmt, ...)
{
    if (es) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(es->msg, sizeof(es->msg), fmt, ap);
        va_end(ap);
    }
    return err;
}

void
cdc_errstr_prefix(cdc_errstr_t *es, const char *fmt, ...)
{
    if (!es)
        return;
    char old[sizeof(es->msg)];
    memcpy(old, es->msg, sizeof(old));
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(es->msg, sizeof(es->msg), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(es->msg) - 2)
        return;
    size_t len = (size_t)n, room = sizeof(es->msg) - len - 2;
    es->msg[len] = ':';
    es->msg[len + 1] = ' ';
    memcpy(es->msg + len + 2, old, room - 1);
    es->msg[sizeof(es->msg) - 1] = '\0';
}

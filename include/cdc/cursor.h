/*
 * A bounds-checked reader over a byte span, shared by the protocol parsers (pgoutput, binlog):
 * every read checks the remaining length first and the first failure sticks (bad), so a truncated
 * message yields one clear error instead of garbage.
 */
#ifndef CDC_CURSOR_H
#define CDC_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const unsigned char *p;
    size_t len, pos;
    bool bad;
} cdc_cur_t;

/* Whether n more bytes are there; marks the cursor bad otherwise. */
static inline bool
cdc_cur_need(cdc_cur_t *c, size_t n)
{
    if (c->bad || c->len - c->pos < n) {
        c->bad = true;
        return false;
    }
    return true;
}

/* An unsigned integer of n (<= 8) bytes, big-endian or little-endian; 0 when bad. */
static inline uint64_t
cdc_cur_be(cdc_cur_t *c, size_t n)
{
    if (!cdc_cur_need(c, n))
        return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | c->p[c->pos + i];
    c->pos += n;
    return v;
}

static inline uint64_t
cdc_cur_le(cdc_cur_t *c, size_t n)
{
    if (!cdc_cur_need(c, n))
        return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)c->p[c->pos + i] << (8 * i);
    c->pos += n;
    return v;
}

#endif

/*
 * Shared by the libFuzzer targets (tests/fuzz/): copies of the input, framed inputs, the event
 * round-trip oracle.
 */
#ifndef CDC_FUZZ_COMMON_H
#define CDC_FUZZ_COMMON_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/event.h"

/* The input's bytes in a buffer of their own size, so a read past them is caught. */
static inline char *
fuzz_copy(const uint8_t *data, size_t size)
{
    char *p = malloc(size ? size : 1);
    memcpy(p, data, size);
    return p;
}

/* The next frame of a framed input (a 2-byte big-endian length, then that many bytes; the last
 * may be cut short): a copy of its bytes (freed by the caller) and its length in *len, or NULL at
 * the end. */
static inline char *
fuzz_next_frame(const uint8_t *data, size_t size, size_t *at, size_t *len)
{
    if (*at + 2 > size)
        return NULL;
    *len = (size_t)data[*at] << 8 | data[*at + 1];
    *at += 2;
    if (*len > size - *at)
        *len = size - *at;
    char *p = fuzz_copy(data + *at, *len);
    *at += *len;
    return p;
}

/* An event that encodes must decode, and encode again to the same bytes. An event the encoder
 * refuses (invalid UTF-8 in a value, a number out of range) is fine: the source sends it to the
 * dead-letter path with that error. */
static inline void
fuzz_event_round_trip(const cdc_event_t *ev)
{
    cdc_buf_t a, b;
    cdc_buf_init(&a);
    cdc_buf_init(&b);
    cdc_arena_t arena;
    cdc_arena_init(&arena);
    cdc_errstr_t es = {{0}};
    if (!cdc_event_encode(ev, &a, &es)) {
        cdc_event_t back;
        if (cdc_event_decode(a.data, a.len, &back, &arena, &es))
            abort(); /* what the encoder wrote, the decoder refused */
        if (cdc_event_encode(&back, &b, &es) || a.len != b.len || memcmp(a.data, b.data, a.len))
            abort(); /* not the same event after a round trip */
    }
    cdc_arena_deinit(&arena);
    cdc_buf_deinit(&a);
    cdc_buf_deinit(&b);
}

#endif

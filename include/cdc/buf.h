/*
 * Growable byte buffer and a scratch arena. Hot paths keep one of each per stream and reset it
 * after every event instead of allocating per field.
 */
#ifndef CDC_BUF_H
#define CDC_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cdc/err.h"

typedef struct {
    char *data; /* always NUL-terminated when cap > 0 */
    size_t len;
    size_t cap;
} cdc_buf_t;

void cdc_buf_init(cdc_buf_t *b);
void cdc_buf_deinit(cdc_buf_t *b);
/* Keeps the allocation, forgets the contents. */
void cdc_buf_reset(cdc_buf_t *b);
/* Grows the allocation for extra more bytes; aborts the process on out-of-memory (nothing sane
 * is left). The inline functions below call it only when the room is short. */
void cdc_buf_grow(cdc_buf_t *b, size_t extra);
void cdc_buf_printf(cdc_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends p[0..n) as lowercase hex, two digits a byte. */
void cdc_buf_put_hex(cdc_buf_t *b, const void *p, size_t n);

/* Makes room for extra more bytes (and the terminating NUL). */
static inline void
cdc_buf_reserve(cdc_buf_t *b, size_t extra)
{
    if (b->len + extra >= b->cap)
        cdc_buf_grow(b, extra);
}

static inline void
cdc_buf_append(cdc_buf_t *b, const void *p, size_t n)
{
    cdc_buf_reserve(b, n);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static inline void
cdc_buf_putc(cdc_buf_t *b, char c)
{
    cdc_buf_reserve(b, 1);
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}

static inline void
cdc_buf_puts(cdc_buf_t *b, const char *s)
{
    cdc_buf_append(b, s, strlen(s));
}

/* A bump allocator: many small allocations, one reset. */
typedef struct cdc_arena_block cdc_arena_block_t;
typedef struct {
    cdc_arena_block_t *head;
    size_t used; /* bytes used in head */
} cdc_arena_t;

void cdc_arena_init(cdc_arena_t *a);
void cdc_arena_deinit(cdc_arena_t *a);
/* Frees every block but the largest, which is kept for reuse. */
void cdc_arena_reset(cdc_arena_t *a);
/* Returns n bytes aligned for any type; valid until the next reset. Aborts on out-of-memory. */
void *cdc_arena_alloc(cdc_arena_t *a, size_t n);
/* Copies p[0..n) and a NUL terminator into the arena. */
char *cdc_arena_strndup(cdc_arena_t *a, const char *p, size_t n);

/* Aborting allocation helpers for long-lived objects. */
void *cdc_xmalloc(size_t n);
void *cdc_xcalloc(size_t n, size_t size);
void *cdc_xrealloc(void *p, size_t n);
char *cdc_xstrdup(const char *s);
char *cdc_xstrndup(const char *s, size_t n);

#endif

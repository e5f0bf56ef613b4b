/*
 * Byte buffer and scratch arena. Out-of-memory aborts: an agent that cannot allocate cannot keep
 * its no-data-loss promise by limping on, and its offsets make a restart safe.
 */
#include "cdc/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
oom(size_t n)
{
    fprintf(stderr, "cdc-agent: out of memory allocating %zu bytes\n", n);
    abort();
}

void *
cdc_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *
cdc_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom(n * size);
    return p;
}

void *
cdc_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *
cdc_xstrdup(const char *s)
{
    return s ? cdc_xstrndup(s, strlen(s)) : NULL;
}

char *
cdc_xstrndup(const char *s, size_t n)
{
    char *p = cdc_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void
cdc_buf_init(cdc_buf_t *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void
cdc_buf_deinit(cdc_buf_t *b)
{
    free(b->data);
    cdc_buf_init(b);
}

void
cdc_buf_reset(cdc_buf_t *b)
{
    b->len = 0;
    if (b->cap)
        b->data[0] = '\0';
}

void
cdc_buf_grow(cdc_buf_t *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    b->data = cdc_xrealloc(b->data, cap);
    b->cap = cap;
    b->data[b->len] = '\0'; /* the first allocation too: NUL-terminated whenever cap > 0 */
}

void
cdc_buf_put_hex(cdc_buf_t *b, const void *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = p;
    cdc_buf_reserve(b, 2 * n);
    for (size_t i = 0; i < n; i++) {
        b->data[b->len++] = hex[u[i] >> 4];
        b->data[b->len++] = hex[u[i] & 15];
    }
    b->data[b->len] = '\0';
}

void
cdc_buf_printf(cdc_buf_t *b, const char *fmt, ...)
{
    cdc_buf_reserve(b, 64); /* most calls fit: one formatting pass */
    va_list ap;
    va_start(ap, fmt);
    size_t room = b->cap - b->len;
    int n = vsnprintf(b->data + b->len, room, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= room) {
        cdc_buf_reserve(b, (size_t)n);
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

struct cdc_arena_block {
    cdc_arena_block_t *next;
    size_t size;
    _Alignas(16) unsigned char mem[];
};

#define ARENA_MIN_BLOCK 8192

void
cdc_arena_init(cdc_arena_t *a)
{
    a->head = NULL;
    a->used = 0;
}

void
cdc_arena_deinit(cdc_arena_t *a)
{
    cdc_arena_block_t *b = a->head;
    while (b) {
        cdc_arena_block_t *next = b->next;
        free(b);
        b = next;
    }
    cdc_arena_init(a);
}

void
cdc_arena_reset(cdc_arena_t *a)
{
    if (!a->head || !a->head->next) { /* one block: the steady state, nothing to free */
        a->used = 0;
        return;
    }
    /* several blocks: one block as large as all of them, so the next round fits in it */
    size_t total = 0;
    for (cdc_arena_block_t *b = a->head, *next; b; b = next) {
        next = b->next;
        total += b->size;
        free(b);
    }
    if (total > (1u << 26))
        total = 1u << 26; /* an outsized round does not pin its memory */
    a->head = cdc_xmalloc(sizeof(*a->head) + total);
    a->head->size = total;
    a->head->next = NULL;
    a->used = 0;
}

void *
cdc_arena_alloc(cdc_arena_t *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (!a->head || a->used + n > a->head->size) {
        size_t size = n > ARENA_MIN_BLOCK ? n : ARENA_MIN_BLOCK;
        if (a->head && a->head->size * 2 > size && a->head->size < (1u << 24))
            size = a->head->size * 2;
        cdc_arena_block_t *b = cdc_xmalloc(sizeof(*b) + size);
        b->size = size;
        b->next = a->head;
        a->head = b;
        a->used = 0;
    }
    void *p = a->head->mem + a->used;
    a->used += n;
    return p;
}

char *
cdc_arena_strndup(cdc_arena_t *a, const char *p, size_t n)
{
    char *s = cdc_arena_alloc(a, n + 1);
    if (n)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

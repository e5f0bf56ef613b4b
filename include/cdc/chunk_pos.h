/*
 * Where a chunked snapshot stands, as both sources store it with their offsets (the progress of
 * an initial snapshot, and of each queued re-snapshot): {"ordinal": the table's index in the
 * source's config, "after": the last key read, one string per key column, or null at the start
 * of the table}. A source writes its key columns as text it can read back (MySQL binary keys as
 * hex).
 */
#ifndef CDC_CHUNK_POS_H
#define CDC_CHUNK_POS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    size_t ordinal;
    char **after; /* NULL: the table's start */
    size_t *after_len;
    size_t n_after;
} cdc_chunk_pos_t;

/* The stored text (malloc'ed) of table ordinal, after the key after[0..n) (len[i] bytes each;
 * len NULL: NUL-terminated), or at its start when after is NULL. */
char *cdc_chunk_pos_format(size_t ordinal, const char *const *after, const size_t *len, size_t n);
/* Reads a stored text; false when it is not one (out is then empty). */
bool cdc_chunk_pos_parse(const char *text, cdc_chunk_pos_t *out);
void cdc_chunk_pos_free(cdc_chunk_pos_t *p);

#endif

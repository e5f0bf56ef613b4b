/*
 * Source positions (contract): "v1:<epoch>:<major>:<minor>:<phase>:<idx>" with fixed-width
 * lowercase hex fields, so comparing the strings compares the positions. The phase comes after
 * major/minor (see README "Positions": with the phase first, every re-snapshot position would
 * sort after all later stream positions). Also PostgreSQL LSN text.
 */
#ifndef CDC_POSITION_H
#define CDC_POSITION_H

#include <stdbool.h>
#include <stdint.h>

/* "v1:" + 8 + ":" + 16 + ":" + 16 + ":" + 1 + ":" + 8, plus NUL */
#define CDC_POS_STRLEN 57

typedef enum {
    CDC_PHASE_SNAPSHOT = 0,   /* initial snapshot, at the stream's starting point */
    CDC_PHASE_STREAM = 1,     /* streamed changes */
    CDC_PHASE_RESNAPSHOT = 2, /* re-snapshot rows, right after their high watermark's events */
} cdc_phase_t;

typedef struct {
    uint32_t epoch; /* changes whenever positions could go backwards */
    cdc_phase_t phase;
    uint64_t major; /* PostgreSQL commit LSN; MySQL binlog file number */
    uint64_t minor; /* PostgreSQL 0; MySQL end position of the transaction's first event */
    uint32_t idx;   /* index of the event in its source transaction */
} cdc_pos_t;

/* Writes the position string into out (CDC_POS_STRLEN bytes). */
void cdc_pos_format(char out[CDC_POS_STRLEN], const cdc_pos_t *p);
/* Parses a position string strictly (lowercase hex, exact widths); false on anything else. */
bool cdc_pos_parse(const char *s, cdc_pos_t *out);
bool cdc_pos_valid(const char *s);
/* <0, 0, >0 like strcmp, in the same order as the strings. */
int cdc_pos_cmp(const cdc_pos_t *a, const cdc_pos_t *b);
/* Whether b belongs to the same epoch as a (so a sink may compare them). */
bool cdc_pos_same_epoch(const cdc_pos_t *a, const cdc_pos_t *b);
/* The epoch that follows prev (never 0, wraps past 0xffffffff to 1). */
uint32_t cdc_pos_epoch_next(uint32_t prev);

/* PostgreSQL LSN "XXXXXXXX/XXXXXXXX" (uppercase hex, no leading zeros, as PostgreSQL prints). */
#define CDC_LSN_STRLEN 18
void cdc_lsn_format(char out[CDC_LSN_STRLEN], uint64_t lsn);
bool cdc_lsn_parse(const char *s, uint64_t *out);

#endif

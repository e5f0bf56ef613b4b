/*
 * PostgreSQL snapshot visibility, for reading a table chunk between watermarks while streaming.
 * PostgreSQL writes a transaction's commit record before the transaction becomes visible to new
 * snapshots, so a chunk read right after its low watermark committed may miss a transaction
 * whose commit precedes that watermark in the WAL (and so in the stream). The chunk records the
 * snapshot it was read in (pg_current_snapshot(): "xmin:xmax:xip,...") and asks, per transaction
 * id from the stream, whether that snapshot saw it. Transaction ids from the stream are 32 bits;
 * the snapshot's 64-bit ids are compared on their low 32 bits, modulo wraparound.
 */
#ifndef CDC_PG_XSNAP_H
#define CDC_PG_XSNAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t xmin, xmax; /* every id before xmin is settled; from xmax on, none is visible */
    uint32_t *xip;       /* in progress at the snapshot: not visible */
    size_t n_xip, cap_xip;
} cdc_pg_xsnap_t;

/* Parses pg_current_snapshot()'s text into s (its list reused); false when text is not one. */
bool cdc_pg_xsnap_parse(cdc_pg_xsnap_t *s, const char *text);
/* Whether committed transaction xid is invisible to s: in progress at s, or started at or after
 * its xmax (up to 2^30 ids after it: anything further is an id from before a wraparound). */
bool cdc_pg_xsnap_invisible(const cdc_pg_xsnap_t *s, uint32_t xid);
void cdc_pg_xsnap_free(cdc_pg_xsnap_t *s);

/* The ids of the last transactions read from the stream, newest overwriting the oldest. */
#define CDC_PG_RECENT_XIDS 4096
typedef struct {
    uint32_t xid[CDC_PG_RECENT_XIDS];
    size_t n, next;
} cdc_pg_recent_t;

void cdc_pg_recent_add(cdc_pg_recent_t *r, uint32_t xid);
/* A transaction already read from the stream that s does not see yet (its commit is written but
 * not yet visible), or 0 when s sees them all. */
uint32_t cdc_pg_xsnap_unseen(const cdc_pg_xsnap_t *s, const cdc_pg_recent_t *r);

#endif

/*
 * Position strings and LSN text. Parsing is strict (exact widths, lowercase) because positions are
 * compared as strings by sinks and by people reading logs: two spellings of one position must not
 * exist.
 */
#include "cdc/position.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void
cdc_pos_format(char out[CDC_POS_STRLEN], const cdc_pos_t *p)
{
    /* "v1:%08x:%016llx:%016llx:%1x:%08x" without printf: written for every event */
    static const char hex[] = "0123456789abcdef";
    const uint64_t fields[] = {p->epoch, p->major, p->minor, (unsigned)p->phase & 0xf, p->idx};
    static const int widths[] = {8, 16, 16, 1, 8};
    char *o = out;
    *o++ = 'v';
    *o++ = '1';
    for (int f = 0; f < 5; f++) {
        *o++ = ':';
        for (int i = widths[f] - 1; i >= 0; i--)
            *o++ = hex[(fields[f] >> (4 * i)) & 15];
    }
    *o = '\0';
}

/* Reads exactly width lowercase hex digits. */
static bool
hex_field(const char *s, int width, uint64_t *out)
{
    uint64_t v = 0;
    for (int i = 0; i < width; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return false;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return true;
}

bool
cdc_pos_parse(const char *s, cdc_pos_t *out)
{
    static const int widths[] = {8, 16, 16, 1, 8}; /* epoch, major, minor, phase, idx */
    uint64_t f[5];
    if (strlen(s) != CDC_POS_STRLEN - 1 || strncmp(s, "v1", 2) != 0)
        return false;
    const char *q = s + 2;
    for (int i = 0; i < 5; i++) {
        if (*q != ':' || !hex_field(q + 1, widths[i], &f[i]))
            return false;
        q += 1 + widths[i];
    }
    if (f[3] > CDC_PHASE_RESNAPSHOT)
        return false;
    if (out) {
        out->epoch = (uint32_t)f[0];
        out->major = f[1];
        out->minor = f[2];
        out->phase = (cdc_phase_t)f[3];
        out->idx = (uint32_t)f[4];
    }
    return true;
}

bool
cdc_pos_valid(const char *s)
{
    return cdc_pos_parse(s, NULL);
}

#define CMP(x, y)                                                                                  \
    do {                                                                                           \
        if ((x) != (y))                                                                            \
            return (x) < (y) ? -1 : 1;                                                             \
    } while (0)

int
cdc_pos_cmp(const cdc_pos_t *a, const cdc_pos_t *b)
{
    CMP(a->epoch, b->epoch);
    CMP(a->major, b->major);
    CMP(a->minor, b->minor);
    CMP(a->phase, b->phase);
    CMP(a->idx, b->idx);
    return 0;
}

bool
cdc_pos_same_epoch(const cdc_pos_t *a, const cdc_pos_t *b)
{
    return a->epoch == b->epoch;
}

uint32_t
cdc_pos_epoch_next(uint32_t prev)
{
    return prev == UINT32_MAX ? 1 : prev + 1;
}

void
cdc_lsn_format(char out[CDC_LSN_STRLEN], uint64_t lsn)
{
    snprintf(out, CDC_LSN_STRLEN, "%" PRIX32 "/%" PRIX32, (uint32_t)(lsn >> 32), (uint32_t)lsn);
}

bool
cdc_lsn_parse(const char *s, uint64_t *out)
{
    uint64_t hi = 0, lo = 0;
    int part = 0, ndig = 0;
    for (const char *q = s;; q++) {
        char c = *q;
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d >= 0 && ndig < 8) {
            uint64_t *v = part ? &lo : &hi;
            *v = *v << 4 | (uint64_t)d;
            ndig++;
        } else if (c == '/' && part == 0 && ndig > 0) {
            part = 1;
            ndig = 0;
        } else if (c == '\0' && part == 1 && ndig > 0) {
            *out = hi << 32 | lo;
            return true;
        } else {
            return false;
        }
    }
}

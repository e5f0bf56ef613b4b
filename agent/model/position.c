/*
 * Position strings and LSN text. Parsing is strict (exact widths, lowercase) because positions are
 * compared as strings by sinks and by people reading logs: two spellings of one position must not
 * exist.
 */
#include "cdc/position.h"

#include <string.h>

/* Two lowercase hex digits for each byte value, and each character's hex digit value (-1 for
 * anything but 0-9 and a-f): positions are written for every event and checked again when it is
 * encoded, so neither goes through printf or a digit at a time. */
static const char hex2[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
                           "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
                           "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
                           "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
                           "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
                           "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
                           "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
                           "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

/* Writes ':' and v as 2 * nbytes hex digits; returns the end. */
static char *
put_hex(char *o, uint64_t v, int nbytes)
{
    *o++ = ':';
    for (int i = nbytes - 1; i >= 0; i--) {
        memcpy(o, hex2 + 2 * ((v >> (8 * i)) & 0xff), 2);
        o += 2;
    }
    return o;
}

void
cdc_pos_format(char out[CDC_POS_STRLEN], const cdc_pos_t *p)
{
    /* "v1:%08x:%016llx:%016llx:%1x:%08x" */
    char *o = out;
    *o++ = 'v';
    *o++ = '1';
    o = put_hex(o, p->epoch, 4);
    o = put_hex(o, p->major, 8);
    o = put_hex(o, p->minor, 8);
    *o++ = ':';
    *o++ = hex2[2 * ((unsigned)p->phase & 0xf) + 1];
    o = put_hex(o, p->idx, 4);
    *o = '\0';
}

static const signed char hexval[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,
    ['6'] = 7,  ['7'] = 8,  ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12,
    ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16, /* value + 1: 0 is not a digit */
};

/* Reads exactly width lowercase hex digits. */
static bool
hex_field(const char *s, int width, uint64_t *out)
{
    uint64_t v = 0;
    for (int i = 0; i < width; i++) {
        int d = hexval[(unsigned char)s[i]];
        if (!d)
            return false;
        v = v << 4 | (uint64_t)(d - 1);
    }
    *out = v;
    return true;
}

bool
cdc_pos_parse(const char *s, cdc_pos_t *out)
{
    static const int widths[] = {8, 16, 16, 1, 8}; /* epoch, major, minor, phase, idx */
    uint64_t f[5];
    if (s[0] != 'v' || s[1] != '1')
        return false;
    const char *q = s + 2;
    for (int i = 0; i < 5; i++) { /* a NUL stops it at the first field it is in */
        if (*q != ':' || !hex_field(q + 1, widths[i], &f[i]))
            return false;
        q += 1 + widths[i];
    }
    if (*q || f[3] > CDC_PHASE_RESNAPSHOT)
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

/* Writes v as uppercase hex without leading zeros; returns the end. */
static char *
put_hex_upper(char *o, uint32_t v)
{
    static const char hex[] = "0123456789ABCDEF";
    int shift = 28;
    while (shift > 0 && !(v >> shift))
        shift -= 4;
    for (; shift >= 0; shift -= 4)
        *o++ = hex[(v >> shift) & 15];
    return o;
}

void
cdc_lsn_format(char out[CDC_LSN_STRLEN], uint64_t lsn)
{
    /* "%X/%X" without printf: every PostgreSQL event carries its LSN */
    char *o = put_hex_upper(out, (uint32_t)(lsn >> 32));
    *o++ = '/';
    o = put_hex_upper(o, (uint32_t)lsn);
    *o = '\0';
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

/*
 * The text transform and the Unicode helpers of the other transforms, on ICU: trimming and
 * collapsing Unicode white space, NFC (a name typed on a Mac arrives decomposed), case mapping in
 * a locale (Turkish i, German ß, title case by word), case-insensitive comparison and the folded
 * form names are looked up by. UTF-16 work buffers are per thread and reused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/ubrk.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>
#include <unicode/utf8.h>

#include "quality.h"

typedef struct {
    UChar *p;
    int32_t cap;
} ubuf_t;

static _Thread_local ubuf_t t_a, t_b;
/* title case: a word break iterator for the last locale used (opening one costs more than the
 * mapping itself) */
static _Thread_local UBreakIterator *t_words;
static _Thread_local char t_words_locale[32];

void
cdc_tx_text_thread_free(void)
{
    free(t_a.p);
    free(t_b.p);
    t_a = t_b = (ubuf_t){0};
    if (t_words)
        ubrk_close(t_words);
    t_words = NULL;
}

static UBreakIterator *
words(const char *locale)
{
    if (t_words && !strcmp(t_words_locale, locale))
        return t_words;
    if (t_words)
        ubrk_close(t_words);
    UErrorCode e = U_ZERO_ERROR;
    t_words = ubrk_open(UBRK_WORD, locale, NULL, 0, &e);
    if (U_FAILURE(e))
        t_words = NULL;
    snprintf(t_words_locale, sizeof(t_words_locale), "%s", locale);
    return t_words;
}

static UChar *
ugrow(ubuf_t *b, int32_t n)
{
    if (n > b->cap) {
        int32_t cap = b->cap ? b->cap : 256;
        while (cap < n)
            cap *= 2;
        b->p = cdc_xrealloc(b->p, (size_t)cap * sizeof(UChar));
        b->cap = cap;
    }
    return b->p;
}

/* UTF-8 -> UTF-16 into b; -1 when in is not valid UTF-8. */
static int32_t
to16(ubuf_t *b, const char *in, size_t n)
{
    if (n > INT32_MAX / 2)
        return -1;
    UErrorCode e = U_ZERO_ERROR;
    int32_t len = 0;
    ugrow(b, (int32_t)n + 1); /* never more UTF-16 units than UTF-8 bytes */
    u_strFromUTF8(b->p, b->cap, &len, in, (int32_t)n, &e);
    return U_FAILURE(e) ? -1 : len;
}

static void
to8(const UChar *s, int32_t n, cdc_buf_t *out)
{
    UErrorCode e = U_ZERO_ERROR;
    int32_t len = 0;
    size_t room = (size_t)n * 3 + 1;
    cdc_buf_reserve(out, room);
    u_strToUTF8(out->data + out->len, (int32_t)room, &len, s, n, &e);
    if (U_SUCCESS(e))
        out->len += (size_t)len;
}

bool
cdc_text_utf8_valid(const char *in, size_t n)
{
    for (int64_t i = 0; i < (int64_t)n;) { /* signed: U8_NEXT compares i with the length */
        UChar32 c;
        U8_NEXT(in, i, (int64_t)n, c);
        if (c < 0)
            return false;
    }
    return true;
}

size_t
cdc_text_length(const char *in, size_t n)
{
    size_t count = 0;
    for (int64_t i = 0; i < (int64_t)n; count++) {
        UChar32 c;
        U8_NEXT(in, i, (int64_t)n, c);
        (void)c;
    }
    return count;
}

size_t
cdc_text_offset(const char *in, size_t n, size_t k)
{
    int64_t i = 0;
    for (size_t count = 0; i < (int64_t)n && count < k; count++) {
        UChar32 c;
        U8_NEXT(in, i, (int64_t)n, c);
        (void)c;
    }
    return (size_t)i;
}

/* Trims and collapses white space in s[0..n) in place; the new length. */
static int32_t
squeeze(UChar *s, int32_t n, bool trim, bool collapse)
{
    int32_t w = 0;
    bool space = false;
    for (int32_t i = 0; i < n;) {
        UChar32 c;
        int32_t at = i;
        U16_NEXT(s, i, n, c);
        if (u_isUWhiteSpace(c) && collapse) {
            space = true;
            continue;
        }
        if (space && (w > 0 || !trim))
            s[w++] = 0x20;
        space = false;
        while (at < i)
            s[w++] = s[at++];
    }
    if (space && !trim)
        s[w++] = 0x20;
    if (trim && !collapse) { /* only the ends */
        int32_t start = 0, end = w;
        while (start < end) {
            UChar32 c;
            int32_t i = start;
            U16_NEXT(s, i, end, c);
            if (!u_isUWhiteSpace(c))
                break;
            start = i;
        }
        while (end > start) {
            UChar32 c;
            int32_t i = end;
            U16_PREV(s, start, i, c);
            if (!u_isUWhiteSpace(c))
                break;
            end = i;
        }
        memmove(s, s + start, (size_t)(end - start) * sizeof(UChar));
        w = end - start;
    }
    return w;
}

cdc_tx_outcome_t
cdc_tx_text(const cdc_transform_t *t, const char *in, size_t n, cdc_buf_t *out, char *why,
            size_t whyn)
{
    int32_t len = to16(&t_a, in, n);
    if (len < 0) {
        snprintf(why, whyn, "not valid UTF-8");
        return CDC_TX_INVALID;
    }
    UChar *s = t_a.p;
    if (t->trim || t->collapse)
        len = squeeze(s, len, t->trim, t->collapse);
    UErrorCode e = U_ZERO_ERROR;
    if (t->nfc) {
        const UNormalizer2 *nfc = unorm2_getNFCInstance(&e);
        if (U_SUCCESS(e) && !unorm2_isNormalized(nfc, s, len, &e) && U_SUCCESS(e)) {
            int32_t need = unorm2_normalize(nfc, s, len, NULL, 0, &e);
            e = U_ZERO_ERROR;
            ugrow(&t_b, need + 1);
            len = unorm2_normalize(nfc, s, len, t_b.p, t_b.cap, &e);
            s = t_b.p;
        }
        if (U_FAILURE(e)) {
            snprintf(why, whyn, "cannot be normalized: %s", u_errorName(e));
            return CDC_TX_INVALID;
        }
    }
    if (t->text_case != CDC_CASE_NONE) {
        ubuf_t *dst = s == t_a.p ? &t_b : &t_a;
        const char *loc = t->locale ? t->locale : "";
        for (int pass = 0; pass < 2; pass++) { /* again when the result needs more room */
            e = U_ZERO_ERROR;
            int32_t got;
            if (t->text_case == CDC_CASE_UPPER)
                got = u_strToUpper(dst->p, dst->cap, s, len, loc, &e);
            else if (t->text_case == CDC_CASE_LOWER)
                got = u_strToLower(dst->p, dst->cap, s, len, loc, &e);
            else
                got = u_strToTitle(dst->p, dst->cap, s, len, words(loc), loc, &e);
            if (e == U_BUFFER_OVERFLOW_ERROR || (pass == 0 && got > dst->cap)) {
                ugrow(dst, got + 1);
                continue;
            }
            if (U_FAILURE(e)) {
                snprintf(why, whyn, "case mapping failed: %s", u_errorName(e));
                return CDC_TX_INVALID;
            }
            len = got;
            s = dst->p;
            break;
        }
    }
    size_t start = out->len;
    to8(s, len, out);
    if (out->len - start == n && (n == 0 || !memcmp(out->data + start, in, n))) {
        out->len = start;
        return CDC_TX_UNCHANGED;
    }
    return CDC_TX_NORMALIZED;
}

bool
cdc_text_caseless_equal(const char *a, size_t an, const char *b, size_t bn)
{
    int32_t la = to16(&t_a, a, an), lb = to16(&t_b, b, bn);
    if (la < 0 || lb < 0)
        return an == bn && (an == 0 || !memcmp(a, b, an));
    UErrorCode e = U_ZERO_ERROR;
    return u_strCaseCompare(t_a.p, la, t_b.p, lb, U_FOLD_CASE_DEFAULT, &e) == 0 && U_SUCCESS(e);
}

void
cdc_text_fold(const char *in, size_t n, cdc_buf_t *out)
{
    int32_t len = to16(&t_a, in, n);
    if (len < 0) {
        cdc_buf_append(out, in, n);
        return;
    }
    UErrorCode e = U_ZERO_ERROR;
    const UNormalizer2 *nfkd = unorm2_getNFKDInstance(&e);
    int32_t need = U_SUCCESS(e) ? unorm2_normalize(nfkd, t_a.p, len, NULL, 0, &e) : 0;
    e = U_ZERO_ERROR;
    ugrow(&t_b, need + 1);
    int32_t dl = unorm2_normalize(nfkd, t_a.p, len, t_b.p, t_b.cap, &e);
    if (U_FAILURE(e)) {
        cdc_buf_append(out, in, n);
        return;
    }
    ugrow(&t_a, dl * 3 + 1); /* case folding may lengthen a character */
    int32_t w = 0;
    bool gap = false;
    for (int32_t i = 0; i < dl;) {
        UChar32 c;
        U16_NEXT(t_b.p, i, dl, c);
        if (u_charType(c) == U_NON_SPACING_MARK)
            continue;
        if (!u_isalnum(c)) {
            gap = w > 0;
            continue;
        }
        if (gap)
            t_a.p[w++] = 0x20;
        gap = false;
        UChar buf[4];
        int32_t k = 0;
        U16_APPEND_UNSAFE(buf, k, u_foldCase(c, U_FOLD_CASE_DEFAULT));
        for (int32_t x = 0; x < k; x++)
            t_a.p[w++] = buf[x];
    }
    to8(t_a.p, w, out);
}

/*
 * The email transform: trims, checks the syntax (a dot-atom local part of at most 64 bytes, UTF-8
 * allowed as RFC 6531 does; quoted local parts are refused), lower-cases the local part when asked
 * (ICU, through the text transform), and maps the domain with libidn2 (UTS #46 non-transitional:
 * case folding and IDNA 2008 validity) to its ASCII form (xn--) or back to Unicode.
 */
#include <idn2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quality.h"

static bool
atext(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("!#$%&'*+/=?^_`{|}~-", c) || c >= 0x80;
}

static bool
is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* The local part: dot-separated runs of atext. */
static const char *
local_error(const char *p, size_t n)
{
    if (n == 0)
        return "nothing before the @";
    if (n > 64)
        return "more than 64 bytes before the @";
    if (p[0] == '"')
        return "a quoted local part (not supported)";
    if (p[0] == '.' || p[n - 1] == '.')
        return "a dot at the start or end of the local part";
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '.' && p[i + 1] == '.')
            return "two dots in a row in the local part";
        if (p[i] != '.' && !atext((unsigned char)p[i]))
            return "a character not allowed in an address";
    }
    return NULL;
}

cdc_tx_outcome_t
cdc_tx_email(const cdc_transform_t *t, const char *in, size_t n, cdc_buf_t *out, char *why,
             size_t whyn)
{
    const char *p = in, *end = in + n;
    while (p < end && is_space((unsigned char)*p))
        p++;
    while (end > p && is_space((unsigned char)end[-1]))
        end--;
    if (p < end && *p == '<' && end[-1] == '>') /* <user@example.com> */
        p++, end--;
    if (!cdc_text_utf8_valid(p, (size_t)(end - p))) {
        snprintf(why, whyn, "not valid UTF-8");
        return CDC_TX_INVALID;
    }
    const char *at = NULL;
    for (const char *q = p; q < end; q++)
        if (*q == '@')
            at = q;
    if (!at) {
        snprintf(why, whyn, "no @");
        return CDC_TX_INVALID;
    }
    const char *err = local_error(p, (size_t)(at - p));
    if (err) {
        snprintf(why, whyn, "%s", err);
        return CDC_TX_INVALID;
    }
    size_t dn = (size_t)(end - at - 1);
    if (dn == 0 || dn > 253) {
        snprintf(why, whyn, dn ? "a domain longer than 253 bytes" : "nothing after the @");
        return CDC_TX_INVALID;
    }
    /* UTS #46 as libidn2 2.3 applies it drops some ASCII (a_b.com became ab.com): letters, digits,
     * hyphens and dots only, before it sees the domain */
    for (size_t i = 0; i < dn; i++) {
        unsigned char c = (unsigned char)at[1 + i];
        if (c < 0x80 && !((c | 0x20) >= 'a' && (c | 0x20) <= 'z') && !(c >= '0' && c <= '9') &&
            c != '-' && c != '.') {
            snprintf(why, whyn, "a character not allowed in a domain");
            return CDC_TX_INVALID;
        }
    }
    char *domain = cdc_xstrndup(at + 1, dn), *ascii = NULL, *uni = NULL;
    int rc = idn2_to_ascii_8z(domain, &ascii,
                              IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT | IDN2_USE_STD3_ASCII_RULES);
    cdc_tx_outcome_t o = CDC_TX_INVALID;
    if (rc != IDN2_OK) {
        snprintf(why, whyn, "domain: %s", idn2_strerror(rc));
        goto done;
    }
    if (!strchr(ascii, '.') || ascii[strlen(ascii) - 1] == '.') {
        snprintf(why, whyn, "a domain without a dot");
        goto done;
    }
    const char *dom = ascii;
    if (t->idna == CDC_IDNA_UNICODE) {
        rc = idn2_to_unicode_8z8z(ascii, &uni, 0);
        if (rc != IDN2_OK) {
            snprintf(why, whyn, "domain: %s", idn2_strerror(rc));
            goto done;
        }
        dom = uni;
    }
    size_t start = out->len;
    if (t->lowercase_local) {
        cdc_transform_t lower = {.kind = CDC_TX_TEXT, .text_case = CDC_CASE_LOWER, .locale = ""};
        if (cdc_tx_text(&lower, p, (size_t)(at - p), out, why, whyn) == CDC_TX_UNCHANGED)
            cdc_buf_append(out, p, (size_t)(at - p));
    } else {
        cdc_buf_append(out, p, (size_t)(at - p));
    }
    cdc_buf_putc(out, '@');
    if (t->idna == CDC_IDNA_KEEP) { /* as typed, only lower-cased (valid as checked above) */
        cdc_transform_t lower = {.kind = CDC_TX_TEXT, .text_case = CDC_CASE_LOWER, .locale = ""};
        if (cdc_tx_text(&lower, at + 1, dn, out, why, whyn) == CDC_TX_UNCHANGED)
            cdc_buf_append(out, at + 1, dn);
    } else {
        cdc_buf_puts(out, dom);
    }
    o = out->len - start == n && (n == 0 || !memcmp(out->data + start, in, n)) ? CDC_TX_UNCHANGED
                                                                               : CDC_TX_NORMALIZED;
    if (o == CDC_TX_UNCHANGED)
        out->len = start;
done:
    free(domain);
    idn2_free(ascii);
    idn2_free(uni);
    return o;
}

/*
 * The mask transform, for personal data that should not reach Kafka or a target as it is:
 *   hash       HMAC-SHA-256 of the value with a secret salt (libcrypto), as 64 hex digits: equal
 *              values stay equal (joins and duplicate checks still work), the value cannot be
 *              read back, and without the salt it cannot be guessed from a list of candidates
 *   redact     a fixed text instead ("***" unless `with` says otherwise)
 *   keep_last  every character but the last N replaced by '*' (counted in characters, not bytes)
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#include "quality.h"

cdc_tx_outcome_t
cdc_tx_mask(const cdc_transform_t *t, const char *in, size_t n, cdc_buf_t *out, char *why,
            size_t whyn)
{
    switch (t->mask) {
    case CDC_MASK_HASH: {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        if (!HMAC(EVP_sha256(), t->salt, (int)t->salt_len, (const unsigned char *)in, n, md,
                  &len)) {
            snprintf(why, whyn, "HMAC-SHA-256 failed");
            return CDC_TX_INVALID;
        }
        cdc_buf_put_hex(out, md, len);
        return CDC_TX_NORMALIZED;
    }
    case CDC_MASK_REDACT: {
        const char *with = t->redact_with ? t->redact_with : "***";
        size_t wn = strlen(with);
        if (wn == n && (n == 0 || !memcmp(with, in, n)))
            return CDC_TX_UNCHANGED;
        cdc_buf_append(out, with, wn);
        return CDC_TX_NORMALIZED;
    }
    default: {
        if (!cdc_text_utf8_valid(in, n)) {
            snprintf(why, whyn, "not valid UTF-8");
            return CDC_TX_INVALID;
        }
        size_t chars = cdc_text_length(in, n), keep = (size_t)t->keep_last;
        if (chars <= keep)
            return CDC_TX_UNCHANGED;
        for (size_t i = 0; i < chars - keep; i++)
            cdc_buf_putc(out, '*');
        size_t from = cdc_text_offset(in, n, chars - keep);
        cdc_buf_append(out, in + from, n - from);
        return CDC_TX_NORMALIZED;
    }
    }
}

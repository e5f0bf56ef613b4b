/*
 * Record signatures (include/cdc/sign.h), with libcrypto's HMAC through EVP_MAC: the context is
 * keyed once and set up again for each record without the key (no allocation per record).
 */
#include "cdc/sign.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/buf.h"

struct cdc_signer {
    EVP_MAC *mac;
    EVP_MAC_CTX *ctx;
};

cdc_signer_t *
cdc_signer_new(const char *key, size_t n)
{
    cdc_signer_t *s = cdc_xcalloc(1, sizeof(*s));
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
                           OSSL_PARAM_construct_end()};
    if (!(s->mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) || !(s->ctx = EVP_MAC_CTX_new(s->mac)) ||
        !EVP_MAC_init(s->ctx, (const unsigned char *)key, n, params)) {
        cdc_signer_free(s);
        return NULL;
    }
    return s;
}

void
cdc_signer_free(cdc_signer_t *s)
{
    if (!s)
        return;
    EVP_MAC_CTX_free(s->ctx);
    EVP_MAC_free(s->mac);
    free(s);
}

static void
put_len(cdc_signer_t *s, uint32_t n)
{
    unsigned char b[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
                          (unsigned char)(n >> 8), (unsigned char)n};
    EVP_MAC_update(s->ctx, b, 4);
}

void
cdc_sign_record(cdc_signer_t *s, const char *topic, const void *key, size_t key_len,
                const void *value, size_t value_len, char out[CDC_SIG_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    static const char label[] = "cdc-sig-v1";
    unsigned char md[EVP_MAX_MD_SIZE];
    size_t md_len = 0;
    EVP_MAC_init(s->ctx, NULL, 0, NULL); /* the same key, set up again */
    EVP_MAC_update(s->ctx, (const unsigned char *)label, sizeof(label)); /* with its NUL */
    EVP_MAC_update(s->ctx, (const unsigned char *)topic, strlen(topic) + 1);
    put_len(s, (uint32_t)key_len);
    if (key_len)
        EVP_MAC_update(s->ctx, key, key_len);
    put_len(s, value ? (uint32_t)value_len : UINT32_MAX);
    if (value && value_len)
        EVP_MAC_update(s->ctx, value, value_len);
    if (!EVP_MAC_final(s->ctx, md, &md_len, sizeof(md)) || md_len * 2 != CDC_SIG_LEN) {
        memset(out, '0', CDC_SIG_LEN); /* never valid: every record of this signer is refused */
        out[CDC_SIG_LEN] = '\0';
        return;
    }
    for (size_t i = 0; i < md_len; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[CDC_SIG_LEN] = '\0';
}

bool
cdc_sign_check(cdc_signer_t *s, const rd_kafka_message_t *m, const char *topic, const char **why)
{
    rd_kafka_headers_t *h = NULL;
    const void *sig = NULL;
    size_t sig_len = 0;
    if (rd_kafka_message_headers(m, &h) ||
        rd_kafka_header_get_last(h, CDC_SIG_HEADER, &sig, &sig_len) || !sig) {
        *why = "it has no " CDC_SIG_HEADER " header: not signed by an agent with the signing key";
        return false;
    }
    char want[CDC_SIG_LEN + 1];
    cdc_sign_record(s, topic, m->key, m->key_len, m->payload, m->len, want);
    if (sig_len != CDC_SIG_LEN || CRYPTO_memcmp(sig, want, CDC_SIG_LEN)) {
        *why = "its " CDC_SIG_HEADER " header does not match its topic, key and value under the "
               "signing key: not written by an agent with that key, or changed since";
        return false;
    }
    return true;
}

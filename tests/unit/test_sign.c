/* Record signatures (include/cdc/sign.h): the layout signed, against libcrypto's one-shot HMAC;
 * the same signature every time; what changes it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "cdc/sign.h"

static const char key[] = "0123456789abcdef0123456789abcdef-key";

/* The signed bytes built by hand, HMAC'd in one go. */
static void
expected(const char *topic, const char *k, size_t kn, const char *v, size_t vn, bool tomb,
         char out[CDC_SIG_LEN + 1])
{
    unsigned char msg[512], md[EVP_MAX_MD_SIZE];
    size_t n = 0;
    memcpy(msg, "cdc-sig-v1", 11); /* with its NUL */
    n = 11;
    memcpy(msg + n, topic, strlen(topic) + 1);
    n += strlen(topic) + 1;
    uint32_t lens[2] = {(uint32_t)kn, tomb ? UINT32_MAX : (uint32_t)vn};
    const char *parts[2] = {k, v};
    for (int i = 0; i < 2; i++) {
        msg[n++] = (unsigned char)(lens[i] >> 24);
        msg[n++] = (unsigned char)(lens[i] >> 16);
        msg[n++] = (unsigned char)(lens[i] >> 8);
        msg[n++] = (unsigned char)lens[i];
        if (!(i == 1 && tomb)) {
            memcpy(msg + n, parts[i], i ? vn : kn);
            n += i ? vn : kn;
        }
    }
    unsigned int mdn = 0;
    assert_non_null(HMAC(EVP_sha256(), key, (int)strlen(key), msg, n, md, &mdn));
    for (unsigned i = 0; i < mdn; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
}

static void
test_signatures(void **state)
{
    (void)state;
    cdc_signer_t *s = cdc_signer_new(key, strlen(key));
    assert_non_null(s);
    char got[CDC_SIG_LEN + 1], again[CDC_SIG_LEN + 1], want[CDC_SIG_LEN + 1];
    const char *k = "{\"id\":1}", *v = "{\"v\":1,\"op\":\"c\"}";
    cdc_sign_record(s, "cdc.crm.public.t", k, strlen(k), v, strlen(v), got);
    expected("cdc.crm.public.t", k, strlen(k), v, strlen(v), false, want);
    assert_string_equal(got, want);
    cdc_sign_record(s, "cdc.crm.public.t", k, strlen(k), v, strlen(v), again);
    assert_string_equal(got, again); /* the context set up again with the same key */
    /* a tombstone, an empty value, another topic, another key: all different */
    cdc_sign_record(s, "cdc.crm.public.t", k, strlen(k), NULL, 0, again);
    expected("cdc.crm.public.t", k, strlen(k), NULL, 0, true, want);
    assert_string_equal(again, want);
    assert_string_not_equal(again, got);
    char empty[CDC_SIG_LEN + 1];
    cdc_sign_record(s, "cdc.crm.public.t", k, strlen(k), "", 0, empty);
    assert_string_not_equal(empty, again);
    cdc_sign_record(s, "cdc.crm.public.u", k, strlen(k), v, strlen(v), again);
    assert_string_not_equal(again, got);
    cdc_sign_record(s, "cdc.crm.public.t", "{\"id\":2}", 8, v, strlen(v), again);
    assert_string_not_equal(again, got);
    /* the boundary between key and value is signed */
    cdc_sign_record(s, "t", "ab", 2, "c", 1, got);
    cdc_sign_record(s, "t", "a", 1, "bc", 2, again);
    assert_string_not_equal(again, got);
    cdc_signer_free(s);
    /* another key */
    s = cdc_signer_new("another key of thirty-two bytes!!", 33);
    cdc_sign_record(s, "t", "ab", 2, "c", 1, again);
    assert_string_not_equal(again, got);
    cdc_signer_free(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signatures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

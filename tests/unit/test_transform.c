/* Transforms (agent/quality/): each value transform on real-world values, and the engine on rows
 * (order, drop, rename, constant, on_invalid). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cdc/transform.h"

/* Runs t on in; returns the result ("=" + in when unchanged, "!" + reason when invalid). */
static const char *
run(const cdc_transform_t *t, const char *in, const char *context)
{
    static char res[512];
    cdc_buf_t out;
    cdc_buf_init(&out);
    char why[256] = "";
    cdc_tx_outcome_t o = cdc_transform_text(t, in, strlen(in), context, &out, why, sizeof(why));
    if (o == CDC_TX_INVALID)
        snprintf(res, sizeof(res), "!%s", why);
    else if (o == CDC_TX_UNCHANGED)
        snprintf(res, sizeof(res), "=%s", in);
    else
        snprintf(res, sizeof(res), "%.*s", (int)out.len, out.data);
    cdc_buf_deinit(&out);
    return res;
}

#define EXPECT(t, in, ctx, want) assert_string_equal(run(t, in, ctx), want)

static void
test_phone(void **state)
{
    (void)state;
    cdc_transform_t de = {.kind = CDC_TX_PHONE, .region = "DE"};
    EXPECT(&de, "030 1234567", NULL, "+49301234567");
    EXPECT(&de, "0049 30 1234567", NULL, "+49301234567");
    EXPECT(&de, "+49 (30) 123-4567", NULL, "+49301234567");
    EXPECT(&de, "+49301234567", NULL, "=+49301234567");
    EXPECT(&de, "0151 23456789", NULL, "+4915123456789"); /* a mobile number */
    EXPECT(&de, "112", NULL, "!an emergency number, not a subscriber number");
    EXPECT(&de, "115", NULL, "!a local number without its area code"); /* a service code */
    EXPECT(&de, "030 12", NULL, "!not a valid number for its region");
    EXPECT(&de, "0151 2345678901234", NULL, "!too long for its region");
    EXPECT(&de, "hello", NULL, "!not a phone number");
    EXPECT(&de, "+49 30 1234567 ext. 89", NULL, "+49301234567;ext=89");
    /* the region from another column wins over the constant */
    EXPECT(&de, "(202) 456-1111", "US", "+12024561111");
    cdc_transform_t us = {.kind = CDC_TX_PHONE, .region = "US"};
    EXPECT(&us, "202.456.1111 x12", NULL, "+12024561111;ext=12");
    EXPECT(&us, "1-202-456-11111", NULL, "!too long for its region");
    cdc_transform_t gb = {.kind = CDC_TX_PHONE, .region = "GB"};
    EXPECT(&gb, "020 7946 0018", NULL, "+442079460018");
    EXPECT(&gb, "07911 123456", NULL, "+447911123456");
    cdc_transform_t fr = {.kind = CDC_TX_PHONE, .region = "FR"};
    EXPECT(&fr, "01 42 68 53 00", NULL, "+33142685300");
    cdc_transform_t in = {.kind = CDC_TX_PHONE, .region = "IN"};
    EXPECT(&in, "098765 43210", NULL, "+919876543210");
    cdc_transform_t br = {.kind = CDC_TX_PHONE, .region = "BR"};
    EXPECT(&br, "(11) 91234-5678", NULL, "+5511912345678");
    cdc_transform_t none = {.kind = CDC_TX_PHONE};
    EXPECT(&none, "030 1234567", NULL, "!no country code, and no default region to read it in");
    cdc_transform_t national = {.kind = CDC_TX_PHONE, .region = "DE", .phone_style = 2};
    EXPECT(&national, "+49301234567", NULL, "030 1234567");
    cdc_transform_t intl = {.kind = CDC_TX_PHONE, .region = "DE", .phone_style = 1};
    EXPECT(&intl, "030 1234567", NULL, "+49 30 1234567");
}

static void
test_email(void **state)
{
    (void)state;
    cdc_transform_t e = {.kind = CDC_TX_EMAIL};
    EXPECT(&e, "  User1@Example.COM ", NULL, "User1@example.com");
    EXPECT(&e, "user1@example.com", NULL, "=user1@example.com");
    EXPECT(&e, "<info@Bücher.de>", NULL, "info@xn--bcher-kva.de");
    cdc_transform_t lower = {.kind = CDC_TX_EMAIL, .lowercase_local = true};
    EXPECT(&lower, "User1@Example.COM", NULL, "user1@example.com");
    cdc_transform_t uni = {.kind = CDC_TX_EMAIL, .idna = CDC_IDNA_UNICODE};
    EXPECT(&uni, "info@XN--BCHER-KVA.de", NULL, "info@bücher.de");
    EXPECT(&e, "no-at.example.com", NULL, "!no @");
    EXPECT(&e, "a..b@example.com", NULL, "!two dots in a row in the local part");
    EXPECT(&e, ".a@example.com", NULL, "!a dot at the start or end of the local part");
    EXPECT(&e, "a b@example.com", NULL, "!a character not allowed in an address");
    EXPECT(&e, "a@localhost", NULL, "!a domain without a dot");
    EXPECT(&e, "@example.com", NULL, "!nothing before the @");
    EXPECT(&e, "\"a b\"@example.com", NULL, "!a quoted local part (not supported)");
    EXPECT(&e, "a@exa mple.com", NULL, "!a character not allowed in a domain");
    EXPECT(&e, "a@a_b.com", NULL, "!a character not allowed in a domain");
    assert_int_equal(strncmp(run(&e, "a@-bad-.com", NULL), "!domain: ", 9), 0);
}

static void
test_text(void **state)
{
    (void)state;
    cdc_transform_t t = {.kind = CDC_TX_TEXT, .trim = true, .collapse = true, .nfc = true};
    EXPECT(&t, "  Mu\xcc\x88ller \t  GmbH ", NULL, "M\xc3\xbcller GmbH"); /* decomposed ü */
    EXPECT(&t, "M\xc3\xbcller GmbH", NULL, "=M\xc3\xbcller GmbH");
    EXPECT(&t,
           "a\xc2\xa0\xc2\xa0"
           "b",
           NULL, "a b"); /* no-break spaces */
    EXPECT(&t, "bad \xff byte", NULL, "!not valid UTF-8");
    cdc_transform_t up_tr = {.kind = CDC_TX_TEXT, .text_case = CDC_CASE_UPPER, .locale = "tr"};
    EXPECT(&up_tr, "istanbul", NULL, "\xc4\xb0STANBUL");
    cdc_transform_t up_de = {.kind = CDC_TX_TEXT, .text_case = CDC_CASE_UPPER, .locale = "de"};
    EXPECT(&up_de,
           "stra\xc3\x9f"
           "e",
           NULL, "STRASSE");
    cdc_transform_t title = {.kind = CDC_TX_TEXT, .text_case = CDC_CASE_TITLE, .locale = "en"};
    EXPECT(&title, "JEAN-LUC picard", NULL, "Jean-Luc Picard");
    cdc_transform_t keep_ends = {.kind = CDC_TX_TEXT, .trim = true};
    EXPECT(&keep_ends, "  a  b  ", NULL, "a  b");
}

static void
test_country(void **state)
{
    (void)state;
    cdc_errstr_t es;
    char *de[] = {"de"};
    assert_int_equal(cdc_iso_load(de, 1, &es), CDC_OK);
    cdc_transform_t c = {.kind = CDC_TX_COUNTRY};
    EXPECT(&c, "Germany", NULL, "DE");
    EXPECT(&c, "deu", NULL, "DE");
    EXPECT(&c, "276", NULL, "DE");
    EXPECT(&c, "Deutschland", NULL, "DE");
    EXPECT(&c, " united  states ", NULL, "US");
    EXPECT(&c, "Cote d'Ivoire", NULL, "CI");
    EXPECT(&c, "DE", NULL, "=DE");
    EXPECT(&c, "Atlantis", NULL, "!not a country name or code");
    cdc_transform_t a3 = {.kind = CDC_TX_COUNTRY, .iso_out = CDC_ISO_ALPHA3};
    EXPECT(&a3, "Germany", NULL, "DEU");
    cdc_transform_t name = {.kind = CDC_TX_COUNTRY, .iso_out = CDC_ISO_NAME};
    EXPECT(&name, "us", NULL, "United States");
    char *xx[] = {"xx-nope"};
    assert_int_not_equal(cdc_iso_load(xx, 1, &es), CDC_OK);
    assert_non_null(strstr(es.msg, "iso-codes has no names in language xx-nope"));
}

static void
test_subdivision(void **state)
{
    (void)state;
    cdc_errstr_t es;
    assert_int_equal(cdc_iso_load(NULL, 0, &es), CDC_OK);
    cdc_transform_t s = {.kind = CDC_TX_SUBDIVISION, .country = "DE"};
    EXPECT(&s, "Bavaria", NULL, "DE-BY");
    EXPECT(&s, "BY", NULL, "DE-BY");
    EXPECT(&s, "bayern", NULL, "DE-BY");
    EXPECT(&s, "de-by", NULL, "DE-BY");
    EXPECT(&s, "DE-BY", NULL, "=DE-BY");
    EXPECT(&s, "CA", "US", "US-CA");
    EXPECT(&s, "US-CA", NULL, "!a subdivision of another country than DE");
    EXPECT(&s, "Atlantis", NULL, "!not a subdivision name or code of DE");
    cdc_transform_t any = {.kind = CDC_TX_SUBDIVISION};
    EXPECT(&any, "California", NULL, "US-CA");
    cdc_transform_t shrt = {.kind = CDC_TX_SUBDIVISION, .country = "US", .iso_out = CDC_ISO_SHORT};
    EXPECT(&shrt, "california", NULL, "CA");
}

static void
test_map_mask(void **state)
{
    (void)state;
    char *from[] = {"A", "I", "X"}, *to[] = {"active", "inactive", NULL};
    cdc_transform_t m = {.kind = CDC_TX_MAP, .map_from = from, .map_to = to, .n_map = 3};
    EXPECT(&m, "A", NULL, "active");
    EXPECT(&m, "a", NULL, "=a");
    m.ignore_case = true;
    EXPECT(&m, "a", NULL, "active");
    m.strict = true;
    EXPECT(&m, "Q", NULL, "!not one of the 3 values of the map");
    /* RFC 4231 test case 2 */
    cdc_transform_t h = {
        .kind = CDC_TX_MASK, .mask = CDC_MASK_HASH, .salt = (unsigned char *)"Jefe", .salt_len = 4};
    EXPECT(&h, "what do ya want for nothing?", NULL,
           "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    cdc_transform_t k = {.kind = CDC_TX_MASK, .mask = CDC_MASK_KEEP_LAST, .keep_last = 4};
    EXPECT(&k, "4111111111111111", NULL, "************1111");
    EXPECT(&k, "M\xc3\xbcller", NULL, "**ller");
    EXPECT(&k, "abc", NULL, "=abc");
    cdc_transform_t r = {.kind = CDC_TX_MASK, .mask = CDC_MASK_REDACT};
    EXPECT(&r, "secret", NULL, "***");
}

static const cdc_value_t *
col(const cdc_row_t *r, const char *name)
{
    const cdc_column_t *c = cdc_row_find(r, name);
    return c ? &c->value : NULL;
}

static void
test_engine(void **state)
{
    (void)state;
    cdc_transform_t items[] = {
        {.kind = CDC_TX_COUNTRY, .column = "country"},
        {.kind = CDC_TX_PHONE, .column = "phone", .region_column = "country"},
        {.kind = CDC_TX_EMAIL, .column = "email", .on_invalid = CDC_ON_INVALID_NULL},
        {.kind = CDC_TX_DROP, .column = "note"},
        {.kind = CDC_TX_RENAME, .column = "email", .to = "email_address"},
        {.kind = CDC_TX_CONSTANT, .column = "origin", .value = "crm"},
        {.kind = CDC_TX_TEXT, .column = "missing", .trim = true},
    };
    cdc_transforms_t ts = {items, sizeof(items) / sizeof(*items)};
    cdc_column_t cols[] = {
        {"id", {.type = CDC_VAL_INT, .i = 7}},
        {"country", cdc_value_str(CDC_VAL_STRING, "Germany", 7)},
        {"phone", cdc_value_str(CDC_VAL_STRING, "030 1234567", 11)},
        {"email", cdc_value_str(CDC_VAL_STRING, "not an email", 12)},
        {"note", cdc_value_str(CDC_VAL_STRING, "internal", 8)},
    };
    cdc_row_t in = {true, cols, 5}, out;
    cdc_tx_work_t w;
    cdc_tx_work_init(&w);
    uint8_t outcomes[7];
    cdc_tx_invalid_t inv;
    assert_int_equal(cdc_transforms_apply(&ts, &in, true, &w, &out, outcomes, &inv), CDC_OK);
    assert_int_equal(out.n, 5); /* id country phone email_address origin */
    assert_int_equal(col(&out, "id")->i, 7);
    assert_int_equal(col(&out, "country")->s.n, 2);
    assert_memory_equal(col(&out, "country")->s.p, "DE", 2);
    assert_int_equal(col(&out, "phone")->s.n, 12);
    assert_memory_equal(col(&out, "phone")->s.p, "+49301234567", 12);
    assert_int_equal(col(&out, "email_address")->type, CDC_VAL_NULL);
    assert_null(col(&out, "note"));
    assert_null(col(&out, "email"));
    assert_memory_equal(col(&out, "origin")->s.p, "crm", 3);
    assert_int_equal(outcomes[0], CDC_TX_NORMALIZED);
    assert_int_equal(outcomes[2], CDC_TX_INVALID);
    assert_int_equal(outcomes[6], CDC_TX_SKIPPED);

    /* dlq: the change stops, saying which column, value and why */
    items[2].on_invalid = CDC_ON_INVALID_DLQ;
    assert_int_equal(cdc_transforms_apply(&ts, &in, true, &w, &out, outcomes, &inv), CDC_ERR_INVAL);
    assert_string_equal(inv.column, "email");
    assert_string_equal(inv.value, "not an email");
    assert_string_equal(inv.why, "no @");
    /* a before image is only compared: kept as it came */
    assert_int_equal(cdc_transforms_apply(&ts, &in, false, &w, &out, outcomes, &inv), CDC_OK);
    assert_memory_equal(col(&out, "email_address")->s.p, "not an email", 12);
    /* the published structure */
    const char *renamed;
    assert_false(cdc_transforms_keeps(&ts, "note", &renamed));
    assert_true(cdc_transforms_keeps(&ts, "email", &renamed));
    assert_string_equal(renamed, "email_address");
    assert_true(cdc_transforms_keeps(&ts, "id", &renamed));
    assert_null(renamed);
    assert_true(cdc_transforms_rewrites(&ts, "phone"));
    assert_false(cdc_transforms_rewrites(&ts, "id"));
    cdc_tx_work_deinit(&w);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_phone),       cmocka_unit_test(test_email),
        cmocka_unit_test(test_text),        cmocka_unit_test(test_country),
        cmocka_unit_test(test_subdivision), cmocka_unit_test(test_map_mask),
        cmocka_unit_test(test_engine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

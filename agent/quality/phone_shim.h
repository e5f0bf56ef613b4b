/*
 * libphonenumber through a thin extern "C" shim (agent/quality/phone_shim.cc).
 */
#ifndef CDC_PHONE_SHIM_H
#define CDC_PHONE_SHIM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    CDC_PHONE_E164 = 0,      /* +4930123456 (an extension as ;ext=12) */
    CDC_PHONE_INTERNATIONAL, /* +49 30 123456 */
    CDC_PHONE_NATIONAL,      /* 030 123456 */
    CDC_PHONE_RFC3966,       /* tel:+49-30-123456 */
} cdc_phone_style_t;

/* Parses in[0..n) (region: ISO 3166-1 alpha-2 for numbers without a country code, or NULL) and
 * writes it in style to out (NUL-terminated). 0 on success; 1 when the number is not valid, with
 * the reason in why. Any thread. */
int cdc_phone_format(const char *in, size_t n, const char *region, cdc_phone_style_t style,
                     char *out, size_t outn, char *why, size_t whyn);
/* Whether libphonenumber knows the region (a country calling code exists for it). */
int cdc_phone_region_known(const char *region);

#ifdef __cplusplus
}
#endif

#endif

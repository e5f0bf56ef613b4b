/*
 * Private to agent/quality/: one function per value transform. Each writes its result to out
 * (reset by the caller) and returns NORMALIZED (out holds the new text), UNCHANGED (out may be
 * left empty: the value stays as it came) or INVALID (why says what is wrong).
 */
#ifndef CDC_QUALITY_H
#define CDC_QUALITY_H

#include "cdc/transform.h"

cdc_tx_outcome_t cdc_tx_email(const cdc_transform_t *t, const char *in, size_t n, cdc_buf_t *out,
                              char *why, size_t whyn);
cdc_tx_outcome_t cdc_tx_text(const cdc_transform_t *t, const char *in, size_t n, cdc_buf_t *out,
                             char *why, size_t whyn);
cdc_tx_outcome_t cdc_tx_country(const cdc_transform_t *t, const char *in, size_t n, cdc_buf_t *out,
                                char *why, size_t whyn);
cdc_tx_outcome_t cdc_tx_subdivision(const cdc_transform_t *t, const char *in, size_t n,
                                    const char *country, cdc_buf_t *out, char *why, size_t whyn);
cdc_tx_outcome_t cdc_tx_mask(const cdc_transform_t *t, const char *in, size_t n, cdc_buf_t *out,
                             char *why, size_t whyn);

/* Text helpers on ICU (tx_text.c). */
/* Whether a and b are equal ignoring case (Unicode case folding). */
bool cdc_text_caseless_equal(const char *a, size_t an, const char *b, size_t bn);
/* The folded form used to look names up: NFKD without combining marks, case-folded, every run of
 * spaces and punctuation one space, trimmed (Côte-d'Ivoire -> cote d ivoire). */
void cdc_text_fold(const char *in, size_t n, cdc_buf_t *out);
/* Whether in[0..n) is valid UTF-8. */
bool cdc_text_utf8_valid(const char *in, size_t n);
/* Number of code points of UTF-8 text, and the byte offset of code point i. */
size_t cdc_text_length(const char *in, size_t n);
size_t cdc_text_offset(const char *in, size_t n, size_t i);

/* Per-thread work areas: each module frees its own when the thread ends (cdc_quality_thread
 * registers the thread's end once, from the first transform it runs). */
void cdc_quality_thread(void);
void cdc_tx_text_thread_free(void);
void cdc_tx_iso_thread_free(void);

#endif

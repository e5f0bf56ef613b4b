/*
 * Signed records (optional, kafka.signing_key_env / signing_key_file): the sources add a cdc-sig
 * header to every record they write to a data topic, the HMAC-SHA-256 under the agents' shared
 * key of the topic, the record's key and its value; a sink with the key refuses (to its DLQ) a
 * record of a route topic without a valid one. Anyone who can write to a topic but does not hold
 * the key can then not make a sink apply anything.
 *   cdc-sig = hex(HMAC-SHA-256(key, "cdc-sig-v1" 0x00 topic 0x00 u32be(len key) key
 *                                   u32be(len value) value))      (a null value: length 0xffffffff)
 */
#ifndef CDC_SIGN_H
#define CDC_SIGN_H

#include <stdbool.h>
#include <stddef.h>

#include "cdc/kafka.h"

#define CDC_SIG_HEADER  "cdc-sig"
#define CDC_SIG_LEN     64 /* hex digits */
#define CDC_SIG_KEY_MIN 32 /* bytes of key at least */

typedef struct cdc_signer cdc_signer_t;

/* A signer with key[0..n); one thread at a time. */
cdc_signer_t *cdc_signer_new(const char *key, size_t n);
void cdc_signer_free(cdc_signer_t *s);
/* The signature of a record (value NULL: a tombstone) into out (CDC_SIG_LEN digits and a NUL). */
void cdc_sign_record(cdc_signer_t *s, const char *topic, const void *key, size_t key_len,
                     const void *value, size_t value_len, char out[CDC_SIG_LEN + 1]);
/* Whether m carries the valid signature of its topic, key and value; false with why. */
bool cdc_sign_check(cdc_signer_t *s, const rd_kafka_message_t *m, const char *topic,
                    const char **why);

#endif

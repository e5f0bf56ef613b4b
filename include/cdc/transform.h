/*
 * Transforms (docs/transforms.md): per-column rules that clean values on the way through, on a
 * source table (what is published to Kafka) and on a sink route (what one target gets). Each is a
 * pure function of the row: the same input gives the same output in a snapshot, in the stream, in
 * a replay and in a re-snapshot.
 *   value transforms:  phone (libphonenumber), email (libidn2), text (ICU), country and subdivision
 *                      (ISO 3166 from iso-codes), map, mask
 *   row transforms:    constant, rename, drop
 * A value a transform cannot make sense of is invalid; on_invalid says what then happens.
 */
#ifndef CDC_TRANSFORM_H
#define CDC_TRANSFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cdc/buf.h"
#include "cdc/err.h"
#include "cdc/event.h"

typedef enum {
    CDC_TX_PHONE = 0,
    CDC_TX_EMAIL,
    CDC_TX_TEXT,
    CDC_TX_COUNTRY,
    CDC_TX_SUBDIVISION,
    CDC_TX_MAP,
    CDC_TX_MASK,
    CDC_TX_CONSTANT,
    CDC_TX_RENAME,
    CDC_TX_DROP,
} cdc_tx_kind_t;

/* What happens to a change with a value a transform finds invalid. */
typedef enum {
    CDC_ON_INVALID_DLQ = 0, /* the whole change goes to the dead-letter topic with the reason */
    CDC_ON_INVALID_NULL,    /* the value becomes null */
    CDC_ON_INVALID_KEEP,    /* the value stays as it came */
    CDC_ON_INVALID_FAIL,    /* the source or sink stops with the reason */
} cdc_on_invalid_t;

typedef enum { CDC_IDNA_ASCII = 0, CDC_IDNA_UNICODE, CDC_IDNA_KEEP } cdc_idna_t;
typedef enum { CDC_CASE_NONE = 0, CDC_CASE_UPPER, CDC_CASE_LOWER, CDC_CASE_TITLE } cdc_case_t;
/* country: alpha2 alpha3 numeric name; subdivision: code short name */
typedef enum {
    CDC_ISO_ALPHA2 = 0,
    CDC_ISO_ALPHA3,
    CDC_ISO_NUMERIC,
    CDC_ISO_NAME,
    CDC_ISO_CODE,
    CDC_ISO_SHORT
} cdc_iso_out_t;
typedef enum { CDC_MASK_HASH = 0, CDC_MASK_REDACT, CDC_MASK_KEEP_LAST } cdc_mask_t;

typedef struct cdc_transform {
    cdc_tx_kind_t kind;
    char *column;
    cdc_on_invalid_t on_invalid;
    char *where; /* "FILE:LINE:COL: path" of its config entry, for errors found later */
    /* phone */
    char *region;        /* default region (ISO 3166-1 alpha-2) */
    char *region_column; /* ... or the column that holds it (a code or a country name) */
    int phone_style;     /* cdc_phone_style_t (agent/quality/phone_shim.h) */
    /* email */
    bool lowercase_local;
    cdc_idna_t idna;
    /* text */
    bool trim, collapse, nfc;
    cdc_case_t text_case;
    char *locale; /* for the case mapping ("" root) */
    /* country, subdivision */
    cdc_iso_out_t iso_out;
    char *country;        /* subdivision: the country, or */
    char *country_column; /* the column that holds it */
    char **languages;     /* names also recognised in these languages (iso-codes translations) */
    size_t n_languages;
    /* map */
    char **map_from, **map_to; /* map_to[i] NULL: null */
    size_t n_map;
    bool ignore_case;
    bool strict; /* a value not in the table is invalid (else it stays) */
    /* mask */
    cdc_mask_t mask;
    int keep_last;
    char *redact_with;
    unsigned char *salt; /* hash: HMAC-SHA-256 key, read from salt_env / salt_file */
    size_t salt_len;
    /* constant */
    char *value; /* NULL: null */
    /* rename */
    char *to;
} cdc_transform_t;

typedef struct {
    cdc_transform_t *items;
    size_t n;
} cdc_transforms_t;

/* Outcome of one transform on one change: counted per transform. */
typedef enum {
    CDC_TX_UNCHANGED = 0,
    CDC_TX_NORMALIZED,
    CDC_TX_INVALID,
    CDC_TX_SKIPPED
} cdc_tx_outcome_t;

/* The value that stopped a change (on_invalid dlq or fail). */
typedef struct {
    const cdc_transform_t *t;
    char column[128];
    char value[256]; /* as it came, cut to fit */
    char why[256];
} cdc_tx_invalid_t;

/* Reusable work area of one thread: the output rows and their text. */
typedef struct {
    cdc_column_t *cols;
    size_t *off; /* per output column: offset of its text in text, or SIZE_MAX */
    size_t cap;
    cdc_buf_t text, scratch, scratch2;
    char **names; /* renamed / added column names (borrowed from the config) */
} cdc_tx_work_t;

void cdc_tx_work_init(cdc_tx_work_t *w);
void cdc_tx_work_deinit(cdc_tx_work_t *w);

/* Applies ts in order to row in: *out is the transformed row, borrowing from in, from ts and from
 * w (valid until w's next use). outcomes[i] (when not NULL) gets transform i's outcome. CDC_OK, or
 * CDC_ERR_INVAL when a value is invalid under dlq or fail: *inv says which (out is then unusable).
 * strict = false applies dlq and fail as keep (a before image: compared, not written). */
cdc_err_t cdc_transforms_apply(const cdc_transforms_t *ts, const cdc_row_t *in, bool strict,
                               cdc_tx_work_t *w, cdc_row_t *out, uint8_t *outcomes,
                               cdc_tx_invalid_t *inv);

/* One value transform on text in[0..n) (context: the region or country its *_column gave, or
 * NULL): the result in out. INVALID with the reason in why. */
cdc_tx_outcome_t cdc_transform_text(const cdc_transform_t *t, const char *in, size_t n,
                                    const char *context, cdc_buf_t *out, char *why, size_t whyn);

/* The column names a table has after ts (drops, renames, constants), for its published
 * structure: whether name survives, and under which name (*renamed, NULL: same). */
bool cdc_transforms_keeps(const cdc_transforms_t *ts, const char *name, const char **renamed);
/* Checks ts against a table's columns (names[0..n), key[i] for key columns): every column a
 * transform names exists when it runs (after earlier renames, drops and constants), no key
 * column is transformed, a rename does not take an existing name. es names the transform's place
 * in the config and the table. */
cdc_err_t cdc_transforms_check(const cdc_transforms_t *ts, const char *const *names,
                               const bool *key, size_t n, const char *table, cdc_errstr_t *es);
/* Whether a value transform rewrites column name to text (its published type becomes string). */
bool cdc_transforms_rewrites(const cdc_transforms_t *ts, const char *name);

/* cdc_transform_values_total{side, name, table, column, transform, outcome}: three counters per
 * transform (unchanged, normalized, invalid), registered once; the caller frees the array. */
struct cdc_metric **cdc_transforms_metrics(const cdc_transforms_t *ts, const char *side,
                                           const char *name, const char *table);
/* Counts one change: each transform's outcome, or (inv not NULL: the change stopped at an invalid
 * value) only that transform's invalid. */
void cdc_transforms_count(const cdc_transforms_t *ts, struct cdc_metric **m,
                          const uint8_t *outcomes, const cdc_tx_invalid_t *inv);

/* The names of the value kinds ("phone" ...), of the on_invalid choices. */
const char *cdc_tx_kind_name(cdc_tx_kind_t k);
const char *cdc_on_invalid_name(cdc_on_invalid_t o);

/* ISO 3166 (agent/quality/tx_iso3166.c), from iso-codes, loaded on first use: the alpha-2 code of a
 * country code or name (folded: case, accents, spacing), or NULL. languages: extra translations. */
const char *cdc_iso_country_alpha2(const char *in, size_t n, char *const *languages,
                                   size_t n_languages);
/* Loads the iso-codes data (once) and the names of languages (ISO 639 codes, e.g. "de"); English
 * always. Main thread, before lookups start. */
cdc_err_t cdc_iso_load(char *const *languages, size_t n, cdc_errstr_t *es);
/* Whether the iso-codes data can be read (why otherwise). */
bool cdc_iso_available(char *why, size_t n);

void cdc_transform_free(cdc_transform_t *t);
void cdc_transforms_free(cdc_transforms_t *ts);

#endif

/*
 * The stored position of a chunked snapshot (include/cdc/chunk_pos.h): one format and one reader
 * for both sources. A cold path (once per chunk): jansson.
 */
#include "cdc/chunk_pos.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/buf.h"

char *
cdc_chunk_pos_format(size_t ordinal, const char *const *after, const size_t *len, size_t n)
{
    json_t *a = json_null();
    if (after) {
        a = json_array();
        for (size_t k = 0; k < n; k++) {
            const char *v = after[k] ? after[k] : "";
            json_array_append_new(a, json_stringn(v, len ? len[k] : strlen(v)));
        }
    }
    json_t *o = json_pack("{s:I, s:o}", "ordinal", (json_int_t)ordinal, "after", a);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

void
cdc_chunk_pos_free(cdc_chunk_pos_t *p)
{
    for (size_t k = 0; k < p->n_after; k++)
        free(p->after[k]);
    free(p->after);
    free(p->after_len);
    memset(p, 0, sizeof(*p));
}

bool
cdc_chunk_pos_parse(const char *text, cdc_chunk_pos_t *out)
{
    memset(out, 0, sizeof(*out));
    json_int_t ordinal = -1;
    json_t *o = text ? json_loads(text, JSON_ALLOW_NUL, NULL) : NULL, *after = NULL;
    bool ok = o && !json_unpack(o, "{s:I, s?o}", "ordinal", &ordinal, "after", &after) &&
              ordinal >= 0 && (!after || json_is_null(after) || json_is_array(after));
    size_t n = ok && json_is_array(after) ? json_array_size(after) : 0;
    if (ok && n) {
        out->after = cdc_xcalloc(n, sizeof(char *));
        out->after_len = cdc_xcalloc(n, sizeof(size_t));
        out->n_after = n;
        for (size_t k = 0; ok && k < n; k++) {
            json_t *v = json_array_get(after, k);
            ok = json_is_string(v);
            out->after_len[k] = ok ? json_string_length(v) : 0;
            out->after[k] =
                ok ? cdc_xstrndup(json_string_value(v), out->after_len[k]) : cdc_xstrdup("");
        }
    }
    json_decref(o);
    if (!ok) {
        cdc_chunk_pos_free(out);
        return false;
    }
    out->ordinal = (size_t)ordinal;
    return true;
}

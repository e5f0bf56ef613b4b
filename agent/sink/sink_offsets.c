/*
 * The rules of a sink's stored offsets (the rows of cdc_sink_offsets in its target) that do not
 * depend on the database: moves go forward only, a move that finds a row elsewhere means another
 * instance took over.
 */
#include "cdc/sink_offsets.h"

#include <stdlib.h>
#include <string.h>

cdc_err_t
cdc_sink_offsets_check_moves(const char *sink, const cdc_sink_offset_t *next,
                             const int64_t *expected, size_t n, size_t *existing, cdc_errstr_t *es)
{
    *existing = 0;
    for (size_t i = 0; i < n; i++) {
        if (next[i].next_offset <= expected[i])
            return cdc_errstr_set(es, CDC_ERR_INVAL, "sink %s: offsets only move forward", sink);
        *existing += expected[i] >= 0;
    }
    return CDC_OK;
}

cdc_err_t
cdc_sink_offsets_fenced(const char *sink, const cdc_sink_offset_t *next, const int64_t *expected,
                        size_t n, cdc_errstr_t *es)
{
    size_t i = 0;
    while (i + 1 < n && expected[i] < 0)
        i++;
    if (n > 1)
        return cdc_errstr_set(es, CDC_ERR_FENCED,
                              "sink %s: %s[%d] (or another of the %zu partitions moved together) "
                              "is no longer at offset %lld: another instance of the sink took over",
                              sink, next[i].topic, (int)next[i].partition, n,
                              (long long)expected[i]);
    return cdc_errstr_set(es, CDC_ERR_FENCED,
                          "sink %s: %s[%d] is no longer at offset %lld: another instance of the "
                          "sink took over",
                          sink, next[i].topic, (int)next[i].partition, (long long)expected[i]);
}

void
cdc_sink_offsets_free(cdc_sink_offsets_t *o)
{
    free(o->v);
    o->v = NULL;
    o->n = 0;
}

const cdc_sink_offset_t *
cdc_sink_offsets_find(const cdc_sink_offsets_t *o, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < o->n; i++)
        if (o->v[i].partition == partition && !strcmp(o->v[i].topic, topic))
            return &o->v[i];
    return NULL;
}

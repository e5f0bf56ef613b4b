/*
 * libFuzzer target: pgoutput messages through event building and encoding, as the PostgreSQL
 * source does them. The input is a stream of messages, each a 2-byte big-endian length and its
 * bytes, read by one decoder (so Relation messages set up later changes). A Relation gets column
 * types from the built-in type table (text for others) and its key from the key flags (all
 * columns without any); each change is built into events, every event is encoded, decoded and
 * encoded again, and the two encodings must be equal (the oracle).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/event.h"
#include "fuzz_common.h"
#include "pg_internal.h"
#include "pgoutput.h"

#define MAX_RELS 16

typedef struct {
    pg_relmeta_t meta[MAX_RELS];
    size_t n;
} rels_t;

static pg_relmeta_t *
meta_for(rels_t *rs, const cdc_pgo_relation_t *rel)
{
    for (size_t i = 0; i < rs->n; i++)
        if (rs->meta[i].rel == rel)
            return &rs->meta[i];
    if (rs->n == MAX_RELS)
        return NULL;
    pg_relmeta_t *m = &rs->meta[rs->n++];
    memset(m, 0, sizeof(*m));
    m->rel = rel;
    return m;
}

static void
describe(pg_relmeta_t *m)
{
    const cdc_pgo_relation_t *rel = m->rel;
    free(m->types);
    free(m->key_idx);
    m->types = calloc(rel->ncols ? rel->ncols : 1, sizeof(cdc_pg_type_t));
    m->key_idx = calloc(rel->ncols ? rel->ncols : 1, sizeof(uint16_t));
    m->n_key = 0;
    for (uint16_t i = 0; i < rel->ncols; i++) {
        if (!cdc_pg_type_builtin(rel->cols[i].type_oid, &m->types[i]))
            cdc_pg_type_builtin(25, &m->types[i]); /* text */
        if (rel->cols[i].key)
            m->key_idx[m->n_key++] = i;
    }
    for (uint16_t i = 0; !m->n_key && i < rel->ncols; i++)
        m->key_idx[i] = i;
    if (!m->n_key)
        m->n_key = rel->ncols;
}

static cdc_err_t
emit(void *ctx, const cdc_event_t *ev)
{
    (void)ctx;
    fuzz_event_round_trip(ev);
    return CDC_OK;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cdc_pgo_decoder_t *d = cdc_pgo_decoder_new();
    rels_t rs = {0};
    pg_builder_t b = {.system = "crm", .db = "fuzz"};
    cdc_arena_init(&b.arena);
    pg_txn_t txn = {.final_lsn = 0x1000, .epoch = 1, .phase = CDC_PHASE_STREAM};
    size_t at = 0, len;
    char *msg;
    while ((msg = fuzz_next_frame(data, size, &at, &len))) {
        cdc_pgo_msg_t m;
        cdc_errstr_t es = {{0}};
        if (!cdc_pgo_parse(d, msg, len, &m, &es)) {
            if (m.type == CDC_PGO_RELATION) {
                pg_relmeta_t *meta = meta_for(&rs, m.relation.rel);
                if (meta)
                    describe(meta);
            } else if (m.type == CDC_PGO_INSERT || m.type == CDC_PGO_UPDATE ||
                       m.type == CDC_PGO_DELETE) {
                const cdc_pgo_relation_t *rel = cdc_pgo_relation(d, m.change.relid);
                pg_relmeta_t *meta = rel ? meta_for(&rs, rel) : NULL;
                if (meta && meta->types) {
                    cdc_arena_reset(&b.arena);
                    pg_build_change(&b, &txn, meta, &m, emit, NULL, &es);
                }
            } else if (m.type == CDC_PGO_TRUNCATE) {
                for (uint32_t i = 0; i < m.truncate.nrels; i++) {
                    const cdc_pgo_relation_t *rel = cdc_pgo_relation(d, m.truncate.relids[i]);
                    pg_relmeta_t *meta = rel ? meta_for(&rs, rel) : NULL;
                    if (meta && meta->types)
                        pg_build_truncate(&b, &txn, meta, emit, NULL, &es);
                }
            }
        }
        free(msg);
    }
    for (size_t i = 0; i < rs.n; i++) {
        free(rs.meta[i].types);
        free(rs.meta[i].key_idx);
    }
    cdc_arena_deinit(&b.arena);
    cdc_pgo_decoder_free(d);
    return 0;
}

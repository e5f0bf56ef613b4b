/*
 * Private to the PostgreSQL target of a sink (pg_sink.c: connection, values and row statements;
 * pg_sink_links.c: records linked across systems; pg_sink_conflict.c: conflict checks): the
 * target's state and the helpers that build and run its statements.
 */
#ifndef CDC_PG_SINK_INTERNAL_H
#define CDC_PG_SINK_INTERNAL_H

#include <libpq-fe.h>

#include "cdc/buf.h"
#include "cdc/sink.h"

struct cdc_sink_target {
    cdc_sink_base_t base; /* first: the engine's part */
    PGconn *c;
    cdc_buf_t vals, raw; /* raw: decoded bytes, scratch */
    cdc_arena_t arena;   /* strings of an array value being converted */
    size_t *val_off;
    const char **params;
    size_t cap_params;
    bool busy;           /* a statement sent, its result not read yet */
    char busy_what[600]; /* "applying to schema.table" */
};

/* Maps r's SQLSTATE (or the connection's state) to an error class, sets es to "postgresql: WHAT:
 * ..." and clears r. */
cdc_err_t pgs_error(cdc_sink_target_t *t, PGresult *r, const char *what, cdc_errstr_t *es);
/* Reads the result of the statement left running, if any. */
cdc_err_t pgs_sync(cdc_sink_target_t *t, cdc_errstr_t *es);
/* Room for need parameters, empty buffers (vals and the statement). */
void pgs_params_reserve(cdc_sink_target_t *t, size_t need);
/* Appends parameter i's text (or marks it NULL) converted for the column's type. */
cdc_err_t pgs_add_value(cdc_sink_target_t *t, size_t i, const char *type, const cdc_column_t *col,
                        cdc_errstr_t *es);
/* "$i::type" for value c of its column, its value added as parameter i. */
cdc_err_t pgs_typed_param(cdc_sink_target_t *t, const cdc_sink_table_t *tt, const cdc_column_t *c,
                          size_t *np, cdc_errstr_t *es);
/* Points params at the np values collected in vals. */
void pgs_set_params(cdc_sink_target_t *t, size_t np);
/* Runs the statement with the np parameters collected in vals; *none: no row matched. */
cdc_err_t pgs_run(cdc_sink_target_t *t, const cdc_sink_table_t *tt, size_t np, bool *none,
                  cdc_errstr_t *es);
/* Appends "schema"."table". */
void pgs_table_ident(cdc_buf_t *q, const cdc_sink_table_t *tt);

/* ---- records linked across systems (pg_sink_links.c): cdc_sink_ops_t's link members ---- */
cdc_err_t pgs_links_ensure(cdc_sink_target_t *t, cdc_errstr_t *es);
cdc_err_t pgs_link_rows(cdc_sink_target_t *t, const cdc_sink_table_t *tt,
                        const cdc_sink_row_t *const *rows, size_t n, cdc_errstr_t *es);
cdc_err_t pgs_match_row(cdc_sink_target_t *t, const cdc_sink_table_t *tt, const cdc_sink_row_t *row,
                        const cdc_column_t *const *match, long *candidates, cdc_errstr_t *es);
cdc_err_t pgs_record_links(cdc_sink_target_t *t, const cdc_sink_table_t *tt,
                           const cdc_sink_row_t *const *rows, size_t n, cdc_errstr_t *es);
cdc_err_t pgs_lookup_links(cdc_sink_target_t *t, const char *map, const char *source,
                           const char *const *keys, size_t n, char **out, cdc_errstr_t *es);
cdc_err_t pgs_links_pending(cdc_sink_target_t *t, const char *map, const char *source, size_t max,
                            cdc_sink_link_t **out, size_t *n, cdc_errstr_t *es);
cdc_err_t pgs_links_published(cdc_sink_target_t *t, const cdc_sink_link_t *links, size_t n,
                              cdc_errstr_t *es);
cdc_err_t pgs_apply_link(cdc_sink_target_t *t, const cdc_route_conf_t *rt, const char *schema,
                         const char *table, const cdc_sink_link_t *l, cdc_errstr_t *es);

/* ---- conflict checks (pg_sink_conflict.c): cdc_sink_ops_t's lock_keys and read_locked ---- */
cdc_err_t pgs_lock_keys(cdc_sink_target_t *t, const cdc_sink_table_t *tt,
                        const cdc_sink_row_t *const *rows, size_t n, bool *found, cdc_errstr_t *es);
cdc_err_t pgs_read_locked(cdc_sink_target_t *t, const cdc_sink_table_t *tt,
                          const cdc_sink_probe_t *probes, size_t n, cdc_arena_t *arena,
                          cdc_sink_current_t *cur, cdc_errstr_t *es);

#endif

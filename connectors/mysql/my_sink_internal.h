/*
 * Private to the MySQL / MariaDB target of a sink (my_sink.c: connection, values and row
 * statements; my_sink_links.c: records linked across systems; my_sink_conflict.c: conflict
 * checks): the target's state and the helpers that build and run its statements.
 */
#ifndef CDC_MY_SINK_INTERNAL_H
#define CDC_MY_SINK_INTERNAL_H

#include <mysql.h>

#include "cdc/buf.h"
#include "cdc/sink.h"

struct cdc_sink_target {
    cdc_sink_base_t base; /* first: the engine's part */
    MYSQL *m;
    cdc_buf_t tmp;
    bool busy;           /* a statement sent, its result not read yet */
    char busy_what[600]; /* "applying to db.table" */
    char busy_key[256];  /* its first key column (an upsert), for mys_sync */
};

/* Maps the session's last error to an error class and sets es to "mysql: WHAT: ...". */
cdc_err_t mys_error(cdc_sink_target_t *t, const char *what, cdc_errstr_t *es);
/* Reads the result of the statement left running, if any. */
cdc_err_t mys_sync(cdc_sink_target_t *t, cdc_errstr_t *es);
/* Runs sql, after the statement left running. */
cdc_err_t mys_exec(cdc_sink_target_t *t, const char *sql, cdc_errstr_t *es);
/* A binary, varbinary or blob type (information_schema DATA_TYPE). */
bool mys_is_binary(const char *type);
/* Appends the literal of a value for a column of type (information_schema DATA_TYPE) to q. */
cdc_err_t mys_value_literal(cdc_sink_target_t *t, cdc_buf_t *q, const char *type,
                            const cdc_column_t *col, cdc_errstr_t *es);
/* Appends `db`.`table`. */
void mys_table_name(cdc_buf_t *q, const cdc_sink_table_t *tt);
/* Appends a value's literal to the statement; errors name the table. */
cdc_err_t mys_literal(cdc_sink_target_t *t, const cdc_sink_table_t *tt, const char *type,
                      const cdc_column_t *c, cdc_errstr_t *es);
/* Runs the statement built in base.sql. */
cdc_err_t mys_run(cdc_sink_target_t *t, const cdc_sink_table_t *tt, cdc_errstr_t *es);
/* Appends "WHERE k1 = v1 AND ..." for the row's key. */
cdc_err_t mys_where_key(cdc_sink_target_t *t, const cdc_sink_table_t *tt, const cdc_sink_row_t *row,
                        cdc_errstr_t *es);

/* ---- records linked across systems (my_sink_links.c): cdc_sink_ops_t's link members ---- */
cdc_err_t mys_links_ensure(cdc_sink_target_t *t, cdc_errstr_t *es);
cdc_err_t mys_link_rows(cdc_sink_target_t *t, const cdc_sink_table_t *tt,
                        const cdc_sink_row_t *const *rows, size_t n, cdc_errstr_t *es);
cdc_err_t mys_match_row(cdc_sink_target_t *t, const cdc_sink_table_t *tt, const cdc_sink_row_t *row,
                        const cdc_column_t *const *match, long *candidates, cdc_errstr_t *es);
cdc_err_t mys_record_links(cdc_sink_target_t *t, const cdc_sink_table_t *tt,
                           const cdc_sink_row_t *const *rows, size_t n, cdc_errstr_t *es);
cdc_err_t mys_lookup_links(cdc_sink_target_t *t, const char *map, const char *source,
                           const char *const *keys, size_t n, char **out, cdc_errstr_t *es);
cdc_err_t mys_links_pending(cdc_sink_target_t *t, const char *map, const char *source, size_t max,
                            cdc_sink_link_t **out, size_t *n, cdc_errstr_t *es);
cdc_err_t mys_links_published(cdc_sink_target_t *t, const cdc_sink_link_t *links, size_t n,
                              cdc_errstr_t *es);
cdc_err_t mys_apply_link(cdc_sink_target_t *t, const cdc_route_conf_t *rt, const char *schema,
                         const char *table, const cdc_sink_link_t *l, cdc_errstr_t *es);

/* ---- conflict checks (my_sink_conflict.c): cdc_sink_ops_t's lock_keys and read_locked ---- */
cdc_err_t mys_lock_keys(cdc_sink_target_t *t, const cdc_sink_table_t *tt,
                        const cdc_sink_row_t *const *rows, size_t n, bool *found, cdc_errstr_t *es);
cdc_err_t mys_read_locked(cdc_sink_target_t *t, const cdc_sink_table_t *tt,
                          const cdc_sink_probe_t *probes, size_t n, cdc_arena_t *arena,
                          cdc_sink_current_t *cur, cdc_errstr_t *es);

#endif

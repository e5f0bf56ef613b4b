/*
 * Typed reads of libyaml document nodes for the config's sections (the core's and each
 * connector's own keys), each failing with "FILE:LINE:COL: key.path: what" so every config error
 * points at its spot.
 */
#ifndef CDC_CONFIG_WALK_H
#define CDC_CONFIG_WALK_H

#include <stdbool.h>
#include <stdint.h>
#include <yaml.h>

#include "cdc/config.h"

typedef struct {
    const char *file;
    yaml_document_t *doc;
    cdc_errstr_t *es;
    long visits; /* bounds alias expansion ("billion laughs") */
} cfg_t;

#define CFG_PATH_MAX 256

typedef cdc_err_t (*cfg_key_fn)(cfg_t *c, const char *key, yaml_node_t *val, const char *path,
                                void *obj);

cdc_err_t cfg_fail(cfg_t *c, const yaml_node_t *n, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* "parent.key" or "parent[i]" into out. */
void cfg_path_key(char *out, const char *parent, const char *key);
void cfg_path_idx(char *out, const char *parent, size_t i);
/* The closest allowed key within edit distance 2 (or a third of its length), or NULL. */
const char *cfg_suggest(const char *key, const char *const *allowed);
bool cfg_is_null(const yaml_node_t *n);

/* Walks a mapping: refuses other node kinds, duplicate and unknown keys, missing required keys,
 * and calls fn for each pair in file order. allowed and required are NULL-terminated. */
cdc_err_t cfg_map(cfg_t *c, yaml_node_t *n, const char *path, const char *const *allowed,
                  const char *const *required, cfg_key_fn fn, void *obj);
/* A sequence: n_out = its length, items[i] its nodes (borrowed from the document). */
cdc_err_t cfg_seq(cfg_t *c, yaml_node_t *n, const char *path, yaml_node_t ***items, size_t *n_out);

/* A list of structs: allocates *out (zeroed, elem_size each) and sets *n_out before calling fn
 * for each item in order, so fn can compare with earlier elements and the caller can free a
 * partly read list. */
typedef cdc_err_t (*cfg_item_fn)(cfg_t *c, yaml_node_t *item, const char *path, size_t i,
                                 void *ctx);
cdc_err_t cfg_list(cfg_t *c, yaml_node_t *n, const char *path, size_t elem_size, void **out,
                   size_t *n_out, cfg_item_fn fn, void *ctx);

/* Scalars, with ${VAR} and ${VAR:-default} expanded from the environment ($$ is a '$'). */
cdc_err_t cfg_str(cfg_t *c, yaml_node_t *n, const char *path, char **out);
cdc_err_t cfg_int(cfg_t *c, yaml_node_t *n, const char *path, int64_t min, int64_t max,
                  int64_t *out);
cdc_err_t cfg_int32(cfg_t *c, yaml_node_t *n, const char *path, int min, int max, int *out);
cdc_err_t cfg_bool(cfg_t *c, yaml_node_t *n, const char *path, bool *out);
/* names is NULL-terminated; *out = index of the match. */
cdc_err_t cfg_enum(cfg_t *c, yaml_node_t *n, const char *path, const char *const *names, int *out);
cdc_err_t cfg_str_list(cfg_t *c, yaml_node_t *n, const char *path, char ***out, size_t *n_out);
cdc_err_t cfg_str_map(cfg_t *c, yaml_node_t *n, const char *path, cdc_kv_t **out, size_t *n_out);
/* Secrets: the value names an environment variable / a file whose content is the secret
 * (one trailing newline dropped). Errors name the variable or path, never the secret. */
cdc_err_t cfg_secret_env(cfg_t *c, yaml_node_t *n, const char *path, char **out);
cdc_err_t cfg_secret_file(cfg_t *c, yaml_node_t *n, const char *path, char **out);

/* A name used in topics and transactional ids: non-empty, only A-Z a-z 0-9 _ -. */
cdc_err_t cfg_name(cfg_t *c, yaml_node_t *n, const char *path, char **out);
/* The value of key in mapping n, or NULL. */
yaml_node_t *cfg_map_get(cfg_t *c, yaml_node_t *n, const char *key);
bool cfg_in_list(const char *s, const char *const *list);
/* "a.b": exactly two non-empty parts split at the first dot. */
bool cfg_two_part(const char *s);

#endif

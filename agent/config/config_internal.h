/*
 * Private to agent/config/: the sections that describe databases (config_db.c), read by
 * config.c.
 */
#ifndef CDC_CONFIG_INTERNAL_H
#define CDC_CONFIG_INTERNAL_H

#include "cdc/config_walk.h"

/* Sections in config_db.c. */
cdc_err_t cfg_sources(cfg_t *c, yaml_node_t *n, const char *path, cdc_config_t *cfg);
cdc_err_t cfg_sinks(cfg_t *c, yaml_node_t *n, const char *path, cdc_config_t *cfg);
/* Cross-section checks once everything is read: topic collisions. */
cdc_err_t cfg_check_topics(cfg_t *c, cdc_config_t *cfg);
/* transforms: [...] of a source table or a sink route (config_transform.c). */
cdc_err_t cfg_transforms(cfg_t *c, yaml_node_t *n, const char *path, cdc_transforms_t *out);
/* exclude: [columns] of a source table: drops after its transforms (config_transform.c). */
cdc_err_t cfg_exclude(cfg_t *c, yaml_node_t *n, const char *path, cdc_transforms_t *out);
void cfg_free_sources(cdc_config_t *cfg);
void cfg_free_sinks(cdc_config_t *cfg);
void cfg_free_kv(cdc_kv_t *kv, size_t n);
void cfg_free_list(char **list, size_t n);
/* Zeroes, then frees a secret; NULL is fine. */
void cfg_free_secret(char *secret);

#endif

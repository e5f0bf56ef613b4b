/*
 * The `run` command: brings up Kafka (embedded or real), the internal topics and one transactional
 * producer per source, then runs every configured source and sink until SIGTERM.
 */
#ifndef CDC_RUN_H
#define CDC_RUN_H

#include "cdc/config.h"

/* Returns a process exit code (cli.h). Main thread; installs SIGTERM/SIGINT handlers. */
int cdc_run(const cdc_config_t *cfg);

/* A config file as canonical text per part, to tell what a reload changed
 * (agent/config/config_canon.c): equal text, equal settings. */
typedef struct {
    char *agent, *kafka, *sources;
    cdc_kv_t *sinks; /* key: the sink's name, value: its text */
    size_t n_sinks;
} cdc_config_canon_t;

cdc_err_t cdc_config_canon(const char *path, cdc_config_canon_t *out, cdc_errstr_t *es);
/* The text of sink name, or NULL when the file has no such sink. */
const char *cdc_config_canon_sink(const cdc_config_canon_t *c, const char *name);
/* Replaces the text of sink name (the reference after a reload applied it). */
void cdc_config_canon_set_sink(cdc_config_canon_t *c, const char *name, const char *text);
void cdc_config_canon_free(cdc_config_canon_t *c);

#endif

/*
 * Commands that change the state of a source or sink from the command line, while no agent runs.
 */
#ifndef CDC_ADMIN_H
#define CDC_ADMIN_H

#include <stdbool.h>
#include <stdio.h>

#include "cdc/cli.h"
#include "cdc/config.h"
#include "cdc/offsets.h"

/* `source drop`: after confirmation (the source's name typed on in, unless yes), drops the
 * source's slot and publication and records a reset in _offsets, so the next start takes a new
 * snapshot in a new epoch. Returns a process exit code. Main thread. */
int cdc_admin_source_drop(const cdc_config_t *cfg, const char *source, bool yes, FILE *in,
                          FILE *out);

/* `replay`: re-applies sink cli->sink from --from-timestamp or --from-offset (for --table only),
 * or with --dry-run prints per table how many events that would be. Refuses while the sink runs
 * elsewhere (its lock). Returns a process exit code. */
int cdc_admin_replay(const cdc_config_t *cfg, const cdc_cli_t *cli, FILE *out);

/* The named source / sink of cfg, or NULL after saying on stderr that there is none. */
const cdc_source_conf_t *cdc_admin_source(const cdc_config_t *cfg, const char *name);
const cdc_sink_conf_t *cdc_admin_sink(const cdc_config_t *cfg, const char *name);
/* False, after saying why on stderr, when kafka.brokers is embedded: command needs the history
 * and stored positions of a Kafka cluster. */
bool cdc_admin_kafka_cluster(const cdc_config_t *cfg, const char *command);

/* The stored offsets of source src (<prefix>._offsets). */
cdc_err_t cdc_admin_load_offsets(const cdc_config_t *cfg, const cdc_source_conf_t *src,
                                 cdc_offsets_t *o, cdc_errstr_t *es);
/* Writes o as source src's offsets record, with the agent's transactional id (fencing a producer
 * that still uses it). */
cdc_err_t cdc_admin_write_offsets(const cdc_config_t *cfg, const cdc_source_conf_t *src,
                                  const cdc_offsets_t *o, cdc_errstr_t *es);

/* `offsets set`: --sink moves one partition's stored offset (either way, guard cleared; within the
 * partition's log), --source moves the stored position forward (the connector checks it against
 * the server). Refused while the agent runs unless force. Returns a process exit code. */
int cdc_admin_offsets_set(const cdc_config_t *cfg, const cdc_cli_t *cli, FILE *out);

/* `offsets show`: per source the stored and the server's position and the lag; per sink and
 * partition the stored offset, the log end and the lag (--json: one JSON document). Reads only.
 */
int cdc_admin_offsets_show(const cdc_config_t *cfg, bool as_json, FILE *out);

#endif

/*
 * Commands that change the state of a source or sink from the command line (most while no agent
 * runs; `snapshot` asks the running one).
 */
#ifndef CDC_ADMIN_H
#define CDC_ADMIN_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "cdc/cli.h"
#include "cdc/sink_offsets.h"
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

/* Whether sink reads topic[partition] and offset lies within its log on the cluster rk reads
 * (CDC_ERR_INVAL saying why not). */
cdc_err_t cdc_admin_sink_partition(const cdc_config_t *cfg, const cdc_sink_conf_t *sink,
                                   rd_kafka_t *rk, const char *topic, int32_t partition,
                                   int64_t offset, cdc_errstr_t *es);
/* Sets the offset rows next[0..n) of sink (their epochs kept from the stored rows, re-send guards
 * cleared) in one transaction, under the sink's lock: CDC_ERR_FENCED while it runs. With out,
 * says what moves. */
cdc_err_t cdc_admin_sink_set(const cdc_sink_conf_t *sink, cdc_sink_offset_t *next, size_t n,
                             FILE *out, cdc_errstr_t *es);
/* Under sink's lock: loads its stored offset rows, lets fill choose the rows to write (*rows
 * malloc'd, *n of them; none: nothing is written) and writes them in one transaction. */
typedef void (*cdc_admin_offsets_fill_fn)(void *ctx, const cdc_sink_offsets_t *stored,
                                          cdc_sink_offset_t **rows, size_t *n);
cdc_err_t cdc_admin_sink_rewrite(const cdc_sink_conf_t *sink, cdc_admin_offsets_fill_fn fill,
                                 void *ctx, cdc_errstr_t *es);
/* A sink's offsets as a JSON object (name, type, partitions: topic, partition, next_offset,
 * log_end, lag, source_pos; or error); rk NULL: the stored rows only. With text, also the table
 * lines of `offsets show` on out. */
json_t *cdc_admin_sink_offsets_json(const cdc_config_t *cfg, const cdc_sink_conf_t *sink,
                                    rd_kafka_t *rk, FILE *out, bool text);

/* `offsets show`: per source the stored and the server's position and the lag; per sink and
 * partition the stored offset, the log end and the lag (--json: one JSON document). Reads only.
 */
int cdc_admin_offsets_show(const cdc_config_t *cfg, bool as_json, FILE *out);

/* `snapshot`: asks source cli->source to re-snapshot cli->table while it streams (a request in
 * its stream) and, unless --no-wait, follows the progress the agent commits to _offsets until the
 * table is done. Returns a process exit code. */
int cdc_admin_snapshot(const cdc_config_t *cfg, const cdc_cli_t *cli, FILE *out);

/* What a source's stored "resnapshot" object says of one re-snapshot request. */
typedef enum {
    CDC_SNAP_UNSEEN,
    CDC_SNAP_QUEUED,
    CDC_SNAP_DONE,
    CDC_SNAP_REFUSED
} cdc_snapshot_req_t;
typedef struct {
    cdc_snapshot_req_t state;
    uint64_t rows;
    size_t ahead; /* queued tables before it */
    char error[512];
} cdc_snapshot_status_t;
/* Updates *st from resnap (the offset record's JSON text) for request id. */
void cdc_admin_snapshot_status(const char *resnap, const char *id, cdc_snapshot_status_t *st);

/* `duplicates`: the groups of rows of cli->table with the same cli->match values after the
 * table's transforms (agent/cmd/duplicates.c). Returns a process exit code. */
int cdc_admin_duplicates(const cdc_config_t *cfg, const cdc_cli_t *cli, FILE *out);

/* Progress of a long command: on a terminal one line rewritten in place (done of total, rate,
 * ETA), otherwise a plain line every 5 s. */
typedef struct {
    const char *what, *unit;
    uint64_t total;
    int64_t started_ms, last_ms;
    bool tty;
    FILE *out;
} cdc_progress_t;

void cdc_progress_init(cdc_progress_t *p, const char *what, const char *unit, uint64_t total,
                       FILE *out);
/* Shows done (rate-limited unless final; a final line ends the terminal line). */
void cdc_progress_show(cdc_progress_t *p, uint64_t done, bool final);

#endif

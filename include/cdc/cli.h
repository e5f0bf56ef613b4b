/*
 * Command-line contract (README "Command line"): parsing into a typed command, usage text and
 * exit codes. Parsing never touches the config file or any server.
 */
#ifndef CDC_CLI_H
#define CDC_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cdc/err.h"

enum { CDC_EXIT_OK = 0, CDC_EXIT_FAILURE = 1, CDC_EXIT_USAGE = 2 };

typedef enum {
    CDC_CMD_HELP,
    CDC_CMD_VERSION,
    CDC_CMD_RUN,
    CDC_CMD_CHECK,
    CDC_CMD_OFFSETS_SHOW,
    CDC_CMD_OFFSETS_SET,
    CDC_CMD_REPLAY,
    CDC_CMD_SNAPSHOT,
    CDC_CMD_SOURCE_DROP,
    CDC_CMD_DUPLICATES,
    CDC_CMD_STATUS, /* the running agent's, through its admin API */
    CDC_CMD_PAUSE,
    CDC_CMD_RESUME,
    CDC_CMD_RESTART,
    CDC_CMD_JOBS,
} cdc_cmd_t;

typedef struct {
    cdc_cmd_t cmd;
    const char *config; /* -c FILE */
    bool json;          /* offsets show --json */
    const char *sink;
    const char *source;
    const char *table;
    bool has_from_ts;
    int64_t from_ts_ms;      /* replay --from-timestamp, as a record timestamp */
    const char *from_offset; /* replay --from-offset / offsets set --offset: TOPIC:PART:OFF */
    char topic[256];
    int32_t partition;
    int64_t offset;
    const char *position; /* offsets set --position (source) */
    bool dry_run;
    bool yes;          /* source drop: skip the confirmation prompt */
    bool force;        /* offsets set: even while the agent runs */
    bool no_wait;      /* snapshot: return once the request is written */
    const char *match; /* duplicates --match COL[,COL...] */
    const char *api;   /* --api URL: the running agent's admin API */
    const char *job;   /* jobs --job ID */
    bool cancel;       /* jobs --job ID --cancel */
} cdc_cli_t;

/* Parses argv. Returns CDC_OK or CDC_ERR_INVAL with es saying what is wrong (print usage, exit 2).
 * Borrowed strings point into argv. Not reentrant (getopt). */
cdc_err_t cdc_cli_parse(int argc, char **argv, cdc_cli_t *out, cdc_errstr_t *es);
/* Full usage text. */
void cdc_cli_usage(FILE *out);
/* Parses an ISO-8601 timestamp (date, optional time with fraction, optional Z or +HH:MM; no zone
 * means UTC) into milliseconds since the epoch. */
bool cdc_cli_parse_timestamp(const char *s, int64_t *ms);
/* Parses TOPIC:PARTITION:OFFSET (the topic may itself contain ':'; the last two fields count). */
bool cdc_cli_parse_tpo(const char *s, char *topic, size_t topic_len, int32_t *partition,
                       int64_t *offset);

#endif

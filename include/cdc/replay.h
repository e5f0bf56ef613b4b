/*
 * Replay planning, shared by `cdc-agent replay` (agent/cmd/replay.c) and the admin API's replay
 * jobs (agent/ops/api_jobs.c): the partitions of a sink's routes (those of one table), where each
 * starts again (an offset, or the first record at or after a time) and how many events lie
 * between there and the log end.
 */
#ifndef CDC_REPLAY_H
#define CDC_REPLAY_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cdc/config.h"
#include "cdc/err.h"
#include "cdc/sink_offsets.h"

typedef struct {
    size_t route; /* index in the sink's routes */
    char topic[256];
    int32_t partition;
    int64_t low, high, start; /* the log, and where the replay starts (high: not replayed) */
    uint64_t events;
    const char *found_by; /* how a from-timestamp start was found */
} cdc_replay_part_t;

typedef struct {
    cdc_replay_part_t *v;
    size_t n;
} cdc_replay_plan_t;

typedef struct {
    const char *table; /* a source or target table of the sink's routes; NULL: every route */
    bool has_from_ts;
    int64_t from_ts_ms; /* the first record at or after it */
    /* otherwise from this offset of one partition */
    const char *topic;
    int32_t partition;
    int64_t offset;
    atomic_bool *cancel; /* stops the reads when set */
} cdc_replay_from_t;

/* Plans sink's replay on the cluster at bootstrap (plan->v malloc'd; free it). */
cdc_err_t cdc_replay_plan(const cdc_config_t *cfg, const cdc_sink_conf_t *sink,
                          const char *bootstrap, const cdc_replay_from_t *from,
                          cdc_replay_plan_t *plan, cdc_errstr_t *es);
/* The partitions that move back, as the sink's rewind (*out malloc'd); their number. */
size_t cdc_replay_rewind(const cdc_replay_plan_t *plan, cdc_sink_offset_t **out);
/* The events the plan re-applies. */
uint64_t cdc_replay_events(const cdc_replay_plan_t *plan);
/* The plan as JSON: {"routes": [{from, to, events, partitions}], "partitions": [{topic,
 * partition, from_offset, to_offset, found_by}]}. */
json_t *cdc_replay_plan_json(const cdc_sink_conf_t *sink, const cdc_replay_plan_t *plan);

#endif

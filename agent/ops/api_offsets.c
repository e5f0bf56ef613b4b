/*
 * /v1/sinks/{name}/offsets (as Kafka Connect's KIP-875): GET where each partition of the sink's
 * routes stands (stored offset, log end, lag); PATCH moves the listed partitions, DELETE resets
 * every one to the start of its log, both only while the sink is paused (its worker has let go of
 * the target and its lock), each in one target transaction under the sink's lock, re-send guards
 * cleared so records moved back over are applied again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "cdc/admin.h"
#include "cdc/kafka.h"
#include "sink/sink_internal.h"

static rd_kafka_t *
reader(cdc_api_t *api, cdc_api_resp_t *rs)
{
    cdc_errstr_t es = {{0}};
    const cdc_config_t *cfg = cdc_control_config(api->ctl);
    rd_kafka_t *rk = cdc_kafka_reader_new(&cfg->kafka, api->bootstrap, "cdc-api-offsets", &es);
    if (!rk)
        api_error(rs, 503, "kafka_unavailable", NULL, "%s", es.msg);
    return rk;
}

static void
show(cdc_api_t *api, const cdc_sink_conf_t *sink, rd_kafka_t *rk, cdc_api_resp_t *rs)
{
    json_t *j = cdc_admin_sink_offsets_json(cdc_control_config(api->ctl), sink, rk, NULL, false);
    const char *e = json_string_value(json_object_get(j, "error"));
    if (e) {
        api_error(rs, 503, "target_unavailable", NULL, "sink %s: %s", sink->name, e);
        json_decref(j);
        return;
    }
    api_json(rs, 200, j);
}

/* PATCH's body: {"offsets": [{"topic", "partition", "offset"}, ...]}, each checked against the
 * sink's routes and the partition's log; *n rows in *out (malloc'd), or false after a 400. */
static bool
wanted(cdc_api_t *api, const cdc_sink_conf_t *sink, rd_kafka_t *rk, json_t *b,
       cdc_sink_offset_t **out, size_t *n, cdc_api_resp_t *rs)
{
    json_t *list = json_object_get(b, "offsets"), *e;
    if (json_object_size(b) != 1 || !json_is_array(list) || !json_array_size(list) ||
        json_array_size(list) > 10000) {
        api_error(rs, 400, "bad_request", "offsets",
                  "expected {\"offsets\": [{\"topic\", \"partition\", \"offset\"}, ...]} (1 to "
                  "10000 items)");
        return false;
    }
    *out = cdc_xcalloc(json_array_size(list), sizeof(**out));
    *n = 0;
    size_t i;
    json_array_foreach(list, i, e)
    {
        const char *topic = json_string_value(json_object_get(e, "topic"));
        json_t *p = json_object_get(e, "partition"), *o = json_object_get(e, "offset");
        char field[64];
        snprintf(field, sizeof(field), "offsets[%zu]", i);
        if (!json_is_object(e) || json_object_size(e) != 3 || !topic || !json_is_integer(p) ||
            !json_is_integer(o) || strlen(topic) >= sizeof((*out)->topic) ||
            json_integer_value(p) < 0 || json_integer_value(p) > INT32_MAX) {
            api_error(rs, 400, "bad_request", field,
                      "%s: expected {\"topic\": string, \"partition\": integer, \"offset\": "
                      "integer}",
                      field);
            return false;
        }
        cdc_errstr_t es = {{0}};
        cdc_err_t err = cdc_admin_sink_partition(cdc_control_config(api->ctl), sink, rk, topic,
                                                 (int32_t)json_integer_value(p),
                                                 (int64_t)json_integer_value(o), &es);
        if (err) {
            if (err == CDC_ERR_INVAL)
                api_error(rs, 400, "bad_request", field, "%s: %s", field, es.msg);
            else
                api_error(rs, 503, "kafka_unavailable", NULL, "%s", es.msg);
            return false;
        }
        cdc_sink_offset_t *to = &(*out)[(*n)++];
        snprintf(to->topic, sizeof(to->topic), "%s", topic);
        to->partition = (int32_t)json_integer_value(p);
        to->next_offset = (int64_t)json_integer_value(o);
    }
    return true;
}

/* DELETE: every partition of the sink's routes at the start of its log. */
static bool
log_starts(cdc_api_t *api, const cdc_sink_conf_t *sink, rd_kafka_t *rk, cdc_sink_offset_t **out,
           size_t *n, cdc_api_resp_t *rs)
{
    const cdc_config_t *cfg = cdc_control_config(api->ctl);
    cdc_buf_t topic;
    cdc_buf_init(&topic);
    cdc_errstr_t es = {{0}};
    cdc_err_t err = CDC_OK;
    *n = 0;
    for (size_t r = 0; !err && r < sink->n_routes; r++) {
        int parts = 0;
        if ((err = cdc_sink_route_topic(cfg, &sink->routes[r], &topic, &es)) ||
            (err = cdc_kafka_partition_count(rk, topic.data, 10000, &parts, &es)))
            break;
        *out = cdc_xrealloc(*out, (*n + (size_t)parts + 1) * sizeof(**out));
        for (int p = 0; !err && p < parts; p++) {
            int64_t low = 0, high = 0;
            rd_kafka_resp_err_t e =
                rd_kafka_query_watermark_offsets(rk, topic.data, p, &low, &high, 10000);
            if (e)
                err = cdc_errstr_set(&es, CDC_ERR_KAFKA, "%s[%d]: %s", topic.data, p,
                                     rd_kafka_err2str(e));
            cdc_sink_offset_t *o = &(*out)[(*n)++];
            memset(o, 0, sizeof(*o));
            snprintf(o->topic, sizeof(o->topic), "%s", topic.data);
            o->partition = p;
            o->next_offset = low;
        }
    }
    cdc_buf_deinit(&topic);
    if (err)
        api_error(rs, 503, "kafka_unavailable", NULL, "%s", es.msg);
    return !err;
}

void
api_sink_offsets(cdc_api_t *api, cdc_unit_t *u, const cdc_api_req_t *rq, cdc_api_resp_t *rs)
{
    const cdc_sink_conf_t *sink = cdc_config_sink(cdc_control_config(api->ctl), u->name);
    bool get = !strcmp(rq->method, "GET") || !strcmp(rq->method, "HEAD");
    json_t *b = NULL;
    if (!get && !(b = api_body(rq, rs)))
        return;
    if (!get && cdc_unit_state(u) != CDC_UNIT_PAUSED) {
        api_error(rs, 409, "wrong_state", NULL,
                  "sink %s is %s: pause it first (POST /v1/sinks/%s/pause) and wait for state "
                  "paused",
                  u->name, cdc_unit_state_name(cdc_unit_state(u)), u->name);
        json_decref(b);
        return;
    }
    rd_kafka_t *rk = reader(api, rs);
    if (!rk) {
        json_decref(b);
        return;
    }
    cdc_sink_offset_t *next = NULL;
    size_t n = 0;
    bool ok = get || (!strcmp(rq->method, "PATCH") ? wanted(api, sink, rk, b, &next, &n, rs)
                                                   : log_starts(api, sink, rk, &next, &n, rs));
    cdc_errstr_t es = {{0}};
    cdc_err_t err = ok && n ? cdc_admin_sink_set(sink, next, n, NULL, &es) : CDC_OK;
    if (err == CDC_ERR_FENCED)
        api_error(rs, 409, "wrong_state", NULL, "sink %s: %s", u->name, es.msg);
    else if (err)
        api_error(rs, 503, "target_unavailable", NULL, "sink %s: %s", u->name, es.msg);
    else if (ok)
        show(api, sink, rk, rs);
    free(next);
    json_decref(b);
    rd_kafka_destroy(rk);
}

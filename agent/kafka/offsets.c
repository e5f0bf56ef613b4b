/*
 * Offset records. They are small and written once per Kafka transaction, so jansson builds and
 * parses them. Loading uses a read_committed consumer on partition 0 from the beginning to the
 * high watermark; the last record with the source's key wins.
 */
#include "cdc/offsets.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/log.h"

void
cdc_offsets_encode(cdc_buf_t *out, const char *source, const cdc_offsets_t *o)
{
    char pos[CDC_POS_STRLEN], lsn[32];
    cdc_pos_format(pos, &o->pos);
    snprintf(lsn, sizeof(lsn), "%llu", (unsigned long long)o->ack_token);
    json_t *parts = json_object();
    for (size_t i = 0; i < o->n_topics; i++)
        json_object_set_new(parts, o->topics[i].topic, json_integer(o->topics[i].partitions));
    json_t *v = json_pack("{s:i, s:s, s:s, s:I, s:b, s:s, s:o}", "v", 1, "source", source, "pos",
                          pos, "epoch", (json_int_t)o->pos.epoch, "snapshot_done", o->snapshot_done,
                          "ack_token", lsn, "partitions", parts);
    if (o->reset)
        json_object_set_new(v, "reset", json_true());
    json_t *progress = o->progress ? json_loads(o->progress, 0, NULL) : NULL;
    if (progress)
        json_object_set_new(v, "snapshot_progress", progress);
    json_t *native = o->native ? json_loads(o->native, 0, NULL) : NULL;
    if (native)
        json_object_set_new(v, "source_resume", native);
    json_t *resnap = o->resnap ? json_loads(o->resnap, 0, NULL) : NULL;
    if (resnap)
        json_object_set_new(v, "resnapshot", resnap);
    char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    cdc_buf_puts(out, s);
    free(s);
    json_decref(v);
}

void
cdc_offsets_clear(cdc_offsets_t *o)
{
    for (size_t i = 0; i < o->n_topics; i++)
        free(o->topics[i].topic);
    free(o->topics);
    free(o->progress);
    free(o->native);
    free(o->resnap);
    memset(o, 0, sizeof(*o));
}

bool
cdc_offsets_decode(const char *p, size_t n, cdc_offsets_t *o)
{
    json_error_t jerr;
    json_t *v = json_loadb(p, n, 0, &jerr);
    int version = 0, done = 0;
    const char *pos = NULL, *token = NULL;
    json_t *parts = NULL;
    if (!v ||
        json_unpack(v, "{s:i, s:s, s:b, s:s, s:o}", "v", &version, "pos", &pos, "snapshot_done",
                    &done, "ack_token", &token, "partitions", &parts) ||
        version != 1 || !cdc_pos_parse(pos, &o->pos) || !json_is_object(parts)) {
        json_decref(v);
        return false;
    }
    cdc_offsets_clear(o);
    cdc_pos_parse(pos, &o->pos);
    o->found = true;
    o->reset = json_is_true(json_object_get(v, "reset"));
    o->snapshot_done = done;
    o->ack_token = strtoull(token, NULL, 10);
    json_t *progress = json_object_get(v, "snapshot_progress");
    if (json_is_object(progress))
        o->progress = json_dumps(progress, JSON_COMPACT | JSON_SORT_KEYS);
    json_t *native = json_object_get(v, "source_resume");
    if (json_is_object(native))
        o->native = json_dumps(native, JSON_COMPACT | JSON_SORT_KEYS);
    json_t *resnap = json_object_get(v, "resnapshot");
    if (json_is_object(resnap))
        o->resnap = json_dumps(resnap, JSON_COMPACT | JSON_SORT_KEYS);
    o->topics = cdc_xcalloc(json_object_size(parts) + 1, sizeof(cdc_topic_parts_t));
    const char *key;
    json_t *val;
    json_object_foreach(parts, key, val)
    {
        o->topics[o->n_topics].topic = cdc_xstrdup(key);
        o->topics[o->n_topics++].partitions = (int)json_integer_value(val);
    }
    json_decref(v);
    return true;
}

int
cdc_offsets_partitions(const cdc_offsets_t *o, const char *topic)
{
    for (size_t i = 0; i < o->n_topics; i++)
        if (!strcmp(o->topics[i].topic, topic))
            return o->topics[i].partitions;
    return 0;
}

typedef struct {
    const char *source;
    size_t slen;
    cdc_offsets_t *o;
} load_ctx_t;

static void
load_one(void *ctx, const rd_kafka_message_t *m)
{
    load_ctx_t *l = ctx;
    if (m->key_len == l->slen && !memcmp(m->key, l->source, l->slen) && m->payload &&
        !cdc_offsets_decode(m->payload, m->len, l->o))
        CDC_LOG_WARN("offsets offset=%lld: unreadable record skipped", (long long)m->offset);
}

cdc_err_t
cdc_offsets_load(const cdc_kafka_conf_t *kc, const char *bootstrap, const char *topic,
                 const char *source, cdc_offsets_t *o, cdc_errstr_t *es)
{
    memset(o, 0, sizeof(*o));
    load_ctx_t l = {source, strlen(source), o};
    return cdc_topic_scan(kc, bootstrap, topic, load_one, &l, es);
}

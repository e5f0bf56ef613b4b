/*
 * Records linked across systems (docs/sinks.md "Two-way sync: linked records"). A route with
 * link writes into a table that makes its own key (link_key: an AUTO_INCREMENT, a sequence)
 * beside the column holding the source's key (the route's key); the target records each pair in
 * its cdc_id_map in the same transaction as the row (the connectors' record_links). The source's
 * row learns the other key through the links topic, "<prefix>._links": after each commit the
 * sink sends the pairs not published yet (at least once) and marks them published; the sink of
 * the other direction reads that topic like a route topic (its offsets in cdc_sink_offsets, in
 * the same transaction) and sets the key on its side (apply_link), a change its source does not
 * publish again since the sink marks what it applies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/json.h"
#include "cdc/log.h"
#include "sink_state.h"

#define LINKS_PER_SEND 500

/* {"map": .., "source": .., "source_key": .., "target_key": ..} into l (arena strings). */
static cdc_err_t
parse_link(sink_t *s, const rd_kafka_message_t *m, cdc_sink_link_t *l, cdc_errstr_t *es)
{
    cdc_jr_t r;
    cdc_jr_init(&r, m->payload, m->len, es);
    memset(l, 0, sizeof(*l));
    cdc_err_t err = cdc_jr_obj_begin(&r);
    const char *key;
    int more = 0;
    for (size_t i = 0; !err && (more = cdc_jr_obj_next(&r, i, &s->arena, &key)) > 0; i++) {
        char **field = !strcmp(key, "map")          ? &l->map
                       : !strcmp(key, "source")     ? &l->source
                       : !strcmp(key, "source_key") ? &l->source_key
                       : !strcmp(key, "target_key") ? &l->target_key
                                                    : NULL;
        const char *v;
        size_t n;
        if (!field || cdc_jr_peek(&r) != CDC_JSON_STRING) {
            err = cdc_jr_skip(&r, &v, &n);
            continue;
        }
        if (!(err = cdc_jr_string(&r, &s->arena, &v, &n)))
            *field = cdc_arena_strndup(&s->arena, v, n);
    }
    if (!err && more < 0)
        err = (cdc_err_t)-more;
    if (!err && (!l->map || !l->source || !l->source_key || !l->target_key))
        err = cdc_errstr_set(es, CDC_ERR_PARSE,
                             "not a link: map, source, source_key and target_key are required");
    return err ? CDC_ERR_PARSE : CDC_OK;
}

cdc_err_t
cdc_sink_link_record(sink_t *s, item_t *it, part_t *pt, cdc_errstr_t *es)
{
    (void)pt;
    cdc_sink_link_t l;
    cdc_err_t err = parse_link(s, it->m, &l, es);
    if (err)
        return err;
    /* rows waiting in groups go first: a link may name one of them */
    if ((err = cdc_sink_grouper_flush(&s->grouper, s->ops, s->t, es)))
        return err;
    for (size_t r = 0; !err && r < s->conf->n_routes; r++) {
        const cdc_route_conf_t *rt = &s->conf->routes[r];
        if (!rt->link_map || strcmp(rt->link_map, l.map) || !strcmp(rt->source, l.source))
            continue;
        err = cdc_sink_savepoint(s->ops, s->t, CDC_SINK_SAVEPOINT, es);
        if (!err)
            err = s->ops->apply_link(s->t, rt, s->targets[r].schema, s->targets[r].table, &l, es);
        if (!err) {
            err = cdc_sink_savepoint(s->ops, s->t, CDC_SINK_RELEASE, es);
            continue;
        }
        cdc_errstr_t rs = {{0}};
        if (cdc_sink_err_record(err) && cdc_sink_savepoint(s->ops, s->t, CDC_SINK_ROLLBACK_TO, &rs))
            *es = rs;
    }
    return err;
}

/* The pairs of map from source not published yet, sent and marked published. */
static cdc_err_t
publish_map(sink_t *s, const char *map, const char *source, cdc_errstr_t *es)
{
    cdc_buf_t key, json;
    cdc_buf_init(&key);
    cdc_buf_init(&json);
    cdc_err_t err = CDC_OK;
    for (size_t n = LINKS_PER_SEND; !err && n == LINKS_PER_SEND;) {
        cdc_sink_link_t *links = NULL;
        n = 0;
        if ((err = s->ops->links_pending(s->t, map, source, LINKS_PER_SEND, &links, &n, es)) ||
            !n) {
            cdc_sink_links_free(links, n);
            break;
        }
        cdc_sink_dlq_clear(s->dlq);
        for (size_t i = 0; i < n; i++) {
            const cdc_sink_link_t *l = &links[i];
            cdc_buf_reset(&key);
            cdc_buf_printf(&key, "%s/%s/%s", l->map, l->source, l->source_key);
            cdc_buf_reset(&json);
            const char *names[] = {"map", "source", "source_key", "target_key"};
            const char *values[] = {l->map, l->source, l->source_key, l->target_key};
            for (int f = 0; f < 4; f++) {
                cdc_buf_printf(&json, "%s\"%s\":", f ? "," : "{", names[f]);
                cdc_json_write_string_lossy(&json, values[f], strlen(values[f]));
            }
            cdc_buf_printf(&json, ",\"sink\":");
            cdc_json_write_string_lossy(&json, s->conf->name, strlen(s->conf->name));
            cdc_buf_putc(&json, '}');
            cdc_sink_dlq_link(s->dlq, key.data, json.data, json.len);
        }
        err = cdc_sink_dlq_send(s->dlq, es);
        cdc_sink_dlq_clear(s->dlq);
        if (!err)
            err = s->ops->links_published(s->t, links, n, es);
        if (!err)
            CDC_LOG_INFO("sink=%s sent %zu link(s) back through %s._links", s->conf->name, n,
                         s->cfg->kafka.topic_prefix);
        cdc_sink_links_free(links, n);
    }
    cdc_buf_deinit(&key);
    cdc_buf_deinit(&json);
    return err;
}

cdc_err_t
cdc_sink_links_publish(sink_t *s, cdc_errstr_t *es)
{
    cdc_err_t err = CDC_OK;
    for (size_t r = 0; !err && r < s->conf->n_routes; r++) {
        const cdc_route_conf_t *rt = &s->conf->routes[r];
        bool seen = false; /* the same map and source on an earlier route */
        for (size_t e = 0; rt->link_map && e < r; e++)
            seen |= s->conf->routes[e].link_map &&
                    !strcmp(s->conf->routes[e].link_map, rt->link_map) &&
                    !strcmp(s->conf->routes[e].source, rt->source);
        if (rt->link_map && !seen)
            err = publish_map(s, rt->link_map, rt->source, es);
    }
    return err;
}

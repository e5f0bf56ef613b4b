/*
 * `cdc-agent offsets set`: moves where a sink or a source goes on from.
 *   --sink NAME --offset TOPIC:PART:OFF: the partition's row in the target's cdc_sink_offsets,
 *     either way, within the partition's log on the Kafka cluster, its re-send guard cleared (so
 *     records moved back over are applied again). Taken under the sink's lock, so refused while
 *     the sink runs; --force writes it anyway and the running sink is fenced by its next
 *     conditional offset update (it stops, and starts again from here).
 *   --source NAME --position POS: forward only, checked by the connector against the server (a
 *     PostgreSQL slot advances and cannot go back; a binlog position must still exist), recorded
 *     in <prefix>._offsets with the agent's transactional id.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/admin.h"
#include "cdc/connector.h"
#include "cdc/kafka.h"
#include "cdc/sink_offsets.h"
#include "sink/sink_internal.h"

cdc_err_t
cdc_admin_sink_partition(const cdc_config_t *cfg, const cdc_sink_conf_t *sink, rd_kafka_t *rk,
                         const char *topic_name, int32_t partition, int64_t offset,
                         cdc_errstr_t *es)
{
    bool routed = false;
    cdc_buf_t topic;
    cdc_buf_init(&topic);
    for (size_t r = 0; r < sink->n_routes && !routed; r++)
        routed = !cdc_sink_route_topic(cfg, &sink->routes[r], &topic, es) &&
                 !strcmp(topic.data, topic_name);
    cdc_buf_deinit(&topic);
    if (!routed)
        return cdc_errstr_set(es, CDC_ERR_INVAL, "sink %s reads no topic %s", sink->name,
                              topic_name);
    int64_t low = 0, high = 0;
    int n = 0;
    cdc_err_t err = cdc_kafka_partition_count(rk, topic_name, 10000, &n, es);
    if (!err && (partition < 0 || partition >= n))
        err = cdc_errstr_set(es, CDC_ERR_INVAL, "%s has %d partition(s); there is no %d",
                             topic_name, n, (int)partition);
    rd_kafka_resp_err_t e =
        err ? RD_KAFKA_RESP_ERR_NO_ERROR
            : rd_kafka_query_watermark_offsets(rk, topic_name, partition, &low, &high, 10000);
    if (e)
        err = cdc_errstr_set(es, CDC_ERR_KAFKA, "%s[%d]: %s", topic_name, (int)partition,
                             rd_kafka_err2str(e));
    else if (!err && (offset < low || offset > high))
        err = cdc_errstr_set(es, CDC_ERR_INVAL,
                             "%s[%d] holds offsets %lld..%lld; %lld is not among them", topic_name,
                             (int)partition, (long long)low, (long long)high, (long long)offset);
    return err;
}

static cdc_err_t
check_partition(const cdc_config_t *cfg, const cdc_sink_conf_t *sink, const cdc_cli_t *cli,
                cdc_errstr_t *es)
{
    rd_kafka_t *rk = cdc_kafka_reader_new(&cfg->kafka, cfg->kafka.brokers, "cdc-offsets-set", es);
    if (!rk)
        return CDC_ERR_KAFKA;
    cdc_err_t err =
        cdc_admin_sink_partition(cfg, sink, rk, cli->topic, cli->partition, cli->offset, es);
    rd_kafka_destroy(rk);
    return err;
}

/* Writes the offset rows next[0..n) in one transaction and closes the session. */
static cdc_err_t
write_offsets(const cdc_sink_ops_t *ops, cdc_sink_target_t *t, const cdc_sink_offset_t *next,
              size_t n, cdc_errstr_t *es)
{
    cdc_err_t err = cdc_sink_begin(ops, t, es);
    if (!err && !(err = cdc_sink_set_offsets(ops, t, next, n, es)))
        err = cdc_sink_commit(ops, t, es);
    if (err)
        cdc_sink_rollback(ops, t);
    ops->close(t);
    return err;
}

cdc_err_t
cdc_admin_sink_rewrite(const cdc_sink_conf_t *sink, cdc_admin_offsets_fill_fn fill, void *ctx,
                       cdc_errstr_t *es)
{
    const cdc_sink_ops_t *ops = cdc_connector_find(sink->type)->sink;
    cdc_sink_target_t *t = NULL;
    /* the sink's own session: its lock tells whether it runs */
    cdc_err_t err = cdc_sink_open(ops, sink, CDC_SINK_LOCK_WAIT_S, NULL, &t, es);
    if (err)
        return err;
    cdc_sink_offsets_t stored = {0};
    cdc_sink_offset_t *rows = NULL;
    size_t n = 0;
    if (!(err = ops->load_offsets(t, &stored, es)))
        fill(ctx, &stored, &rows, &n);
    cdc_sink_offsets_free(&stored);
    if (!err && n)
        err = write_offsets(ops, t, rows, n, es); /* closes the session */
    else
        ops->close(t);
    free(rows);
    return err;
}

typedef struct {
    const cdc_sink_conf_t *sink;
    cdc_sink_offset_t *next;
    size_t n;
    FILE *out;
} set_ctx_t;

/* The rows asked for, with the stored rows' epochs. */
static void
set_fill(void *ctx, const cdc_sink_offsets_t *stored, cdc_sink_offset_t **rows, size_t *n)
{
    set_ctx_t *c = ctx;
    for (size_t i = 0; i < c->n; i++) {
        const cdc_sink_offset_t *o =
            cdc_sink_offsets_find(stored, c->next[i].topic, c->next[i].partition);
        c->next[i].epoch = o ? o->epoch : 0;
        if (c->out)
            fprintf(c->out, "sink %s: %s[%d] moves from offset %s%lld to %lld\n", c->sink->name,
                    c->next[i].topic, (int)c->next[i].partition, o ? "" : "(none) ",
                    (long long)(o ? o->next_offset : 0), (long long)c->next[i].next_offset);
    }
    *rows = cdc_xcalloc(c->n + 1, sizeof(**rows));
    memcpy(*rows, c->next, c->n * sizeof(**rows));
    *n = c->n;
}

cdc_err_t
cdc_admin_sink_set(const cdc_sink_conf_t *sink, cdc_sink_offset_t *next, size_t n, FILE *out,
                   cdc_errstr_t *es)
{
    set_ctx_t ctx = {sink, next, n, out};
    return cdc_admin_sink_rewrite(sink, set_fill, &ctx, es);
}

static cdc_err_t
set_sink(const cdc_config_t *cfg, const cdc_sink_conf_t *sink, const cdc_cli_t *cli, FILE *out,
         cdc_errstr_t *es)
{
    cdc_err_t err = check_partition(cfg, sink, cli, es);
    if (err)
        return err;
    cdc_sink_offset_t next = {.partition = cli->partition, .next_offset = cli->offset};
    snprintf(next.topic, sizeof(next.topic), "%s", cli->topic);
    if (!cli->force) {
        err = cdc_admin_sink_set(sink, &next, 1, out, es);
        if (err == CDC_ERR_FENCED)
            cdc_errstr_prefix(es, "refused (--force writes it anyway)");
        return err;
    }
    /* --force: a plain session, the lock not taken */
    const cdc_sink_ops_t *ops = cdc_connector_find(sink->type)->sink;
    cdc_sink_target_t *t = NULL;
    if ((err = cdc_sink_target_open(ops, sink, false, &t, es)))
        return err;
    err = write_offsets(ops, t, &next, 1, es);
    if (!err)
        fprintf(out,
                "sink %s: %s[%d] set to offset %lld (forced; a running sink is fenced and "
                "starts again from there)\n",
                sink->name, cli->topic, (int)cli->partition, (long long)cli->offset);
    return err;
}

static cdc_err_t
set_source(const cdc_config_t *cfg, const cdc_source_conf_t *src, const cdc_cli_t *cli, FILE *out,
           cdc_errstr_t *es)
{
    cdc_offsets_t o;
    cdc_err_t err = cdc_admin_load_offsets(cfg, src, &o, es);
    if (!err && (!o.found || o.reset))
        err = cdc_errstr_set(es, CDC_ERR_INVAL,
                             "source %s has no stored position to move%s: its next start "
                             "decides where it begins",
                             src->name, o.reset ? " (a reset is pending)" : "");
    if (!err)
        err = cdc_connector_find(src->type)->source_seek(src, cli->position, cli->force, &o, es);
    if (!err)
        err = cdc_admin_write_offsets(cfg, src, &o, es);
    if (!err)
        fprintf(out, "source %s: goes on from %s at its next start\n", src->name, cli->position);
    cdc_offsets_clear(&o);
    return err;
}

int
cdc_admin_offsets_set(const cdc_config_t *cfg, const cdc_cli_t *cli, FILE *out)
{
    if (!cdc_admin_kafka_cluster(cfg, "offsets set"))
        return CDC_EXIT_USAGE;
    cdc_errstr_t es = {{0}};
    cdc_err_t err;
    if (cli->sink) {
        const cdc_sink_conf_t *sink = cdc_admin_sink(cfg, cli->sink);
        if (!sink)
            return CDC_EXIT_USAGE;
        err = set_sink(cfg, sink, cli, out, &es);
    } else {
        const cdc_source_conf_t *src = cdc_admin_source(cfg, cli->source);
        if (!src)
            return CDC_EXIT_USAGE;
        err = set_source(cfg, src, cli, out, &es);
    }
    if (err) {
        fprintf(stderr, "cdc-agent: offsets set: %s\n", es.msg);
        return err == CDC_ERR_INVAL ? CDC_EXIT_USAGE : CDC_EXIT_FAILURE;
    }
    return CDC_EXIT_OK;
}

/*
 * The `run` command. Every configured connector must exist before anything starts. Each source
 * runs on its own thread: publisher (producer, offsets, topics), then open -> snapshot -> poll
 * until SIGTERM; retriable failures (connection lost, server restart) reconnect with backoff and
 * resume after the last committed position; anything else stops the agent with exit code 1.
 */
#include "cdc/run.h"
#include "cdc/sink.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cdc/api.h"
#include "cdc/buf.h"
#include "cdc/cli.h"
#include "cdc/clock.h"
#include "cdc/connector.h"
#include "cdc/control.h"
#include "cdc/http.h"
#include "cdc/kafka.h"
#include "cdc/kafka_topics.h"
#include "cdc/log.h"
#include "cdc/metrics.h"
#include "cdc/publisher.h"
#include "cdc/standby.h"
#include "cdc/topic.h"

static volatile sig_atomic_t stop_signal, signals, reload_signal;
static atomic_int failed;

static volatile sig_atomic_t first_signal_s;

static void
on_signal(int sig)
{
    if (sig == SIGHUP) {
        reload_signal = 1;
        return;
    }
    /* a second signal forces the exit, but not the one that comes along with the first (Ctrl-C
     * reaches the whole process group while a wrapper script also sends SIGTERM) */
    sig_atomic_t now_s = (sig_atomic_t)(cdc_mono_us() / 1000000); /* clock_gettime: signal-safe */
    if (!signals || now_s - first_signal_s >= 2)
        signals++;
    if (!first_signal_s)
        first_signal_s = now_s;
    stop_signal = sig;
}

static bool
stopping(void)
{
    return stop_signal || atomic_load(&failed);
}

typedef struct {
    const cdc_config_t *cfg;
    const cdc_source_conf_t *src;
    const cdc_source_ops_t *ops;
    cdc_kafka_bus_t *bus;
    pthread_t thread;
    int rc;
    const cdc_sink_conf_t *sink; /* a sink worker instead */
    const cdc_sink_ops_t *sink_ops;
    atomic_bool done;
    atomic_bool restart;    /* a sink whose settings a reload changed: stop, to start again */
    cdc_unit_t *unit;       /* its state and the operator's requests (admin API) */
    cdc_standby_t *standby; /* agent.ha: a source's lock while it runs, else NULL */
} worker_t;

static __thread worker_t *current_sink; /* the sink worker of this thread */
static __thread cdc_job_t *current_job; /* the replay job it runs */

/* Whether the operator asked the unit to pause or start again. */
static bool
held(cdc_unit_t *u)
{
    return atomic_load(&u->pause) || atomic_load(&u->restart);
}

/* A sink run returns: the agent stops, a reload or the operator asks (pause, restart), a replay
 * job waits to run, or the one running is cancelled. */
static bool
sink_stopping(void)
{
    worker_t *w = current_sink;
    if (stopping() || (w && atomic_load(&w->restart)))
        return true;
    if (!w)
        return false;
    if (held(w->unit))
        return true;
    if (current_job)
        return atomic_load(&current_job->cancel) && !atomic_load(&current_job->winding_down);
    pthread_mutex_lock(&w->unit->mu);
    bool job = w->unit->job != NULL;
    pthread_mutex_unlock(&w->unit->mu);
    return job;
}

/* Paused by the operator: waits until resumed, a restart is asked or the agent stops; with pub,
 * keeps its keepalive going (a fenced instance learns it). */
static cdc_err_t
stay_paused(worker_t *w, cdc_publisher_t *pub, cdc_errstr_t *es)
{
    cdc_err_t err = CDC_OK;
    if (atomic_load(&w->unit->pause) && !stopping())
        CDC_LOG_INFO("%s=%s paused", w->sink ? "sink" : "source", w->unit->name);
    while (!err && atomic_load(&w->unit->pause) && !atomic_load(&w->unit->restart) && !stopping() &&
           !atomic_load(&w->restart)) {
        cdc_unit_set_state(w->unit, CDC_UNIT_PAUSED);
        usleep(50000);
        if (pub)
            err = cdc_publisher_tick(pub, es);
    }
    if (atomic_exchange(&w->unit->restart, false)) {
        atomic_store(&w->unit->pause, false);
        atomic_fetch_add(&w->unit->restarts, 1);
        CDC_LOG_INFO("%s=%s restarting (asked through the admin API)", w->sink ? "sink" : "source",
                     w->unit->name);
    } else if (cdc_unit_state(w->unit) == CDC_UNIT_PAUSED && !stopping()) {
        CDC_LOG_INFO("%s=%s resumed", w->sink ? "sink" : "source", w->unit->name);
    }
    return err;
}

/* Sleeps ms (in 50 ms steps, until a stop). With pub, keeps its keepalive going every 200 ms:
 * an instance that a newer one fenced while its source could not connect (the newer one may hold
 * the slot) learns it and stops, letting go of its sinks' locks; its error ends the wait. */
static cdc_err_t
wait_ms(int ms, cdc_publisher_t *pub, cdc_errstr_t *es)
{
    cdc_err_t err = CDC_OK;
    for (int i = 0; i < ms / 50 && !stopping() && !err; i++) {
        usleep(50000);
        if (pub && i % 4 == 3)
            err = cdc_publisher_tick(pub, es);
    }
    return err;
}

static void
sleep_ms(int ms)
{
    wait_ms(ms, NULL, NULL);
}

/* One connection's life: open, snapshot when due, stream until stop or error. */
static cdc_err_t
run_connection(worker_t *w, cdc_publisher_t *pub, cdc_source_resume_t *resume, cdc_errstr_t *es)
{
    cdc_source_t *s = NULL;
    cdc_err_t err = w->standby ? cdc_standby_hold(w->standby, es) : CDC_OK;
    if (!err)
        err = w->ops->open(w->src, resume, &s, es);
    if (err)
        return err;
    const cdc_source_cb_t *cb = cdc_publisher_callbacks();
    err = cdc_publisher_rebind(pub, s, es);
    if (!err) {
        cdc_metrics_up("source", w->src->name, true);
        cdc_unit_set_state(w->unit, CDC_UNIT_RUNNING);
    }
    if (!err)
        err = w->ops->snapshot(s, cb, pub, es);
    while (!err && !stopping() && !held(w->unit)) {
        err = w->ops->poll(s, 200, cb, pub, es);
        if (!err)
            err = cdc_publisher_tick(pub, es);
        if (!err && w->standby)
            err = cdc_standby_hold(w->standby, es);
    }
    if (!err && !stopping()) { /* held by the operator: the publisher stays */
        err = cdc_publisher_hold(pub, es);
        *resume = cdc_publisher_resume(pub);
    } else if (!err) {
        err = cdc_publisher_finish(pub, es); /* graceful: publish what is whole, then ack */
        if (!err)
            err = w->ops->poll(s, 0, cb, pub, es); /* send the final acknowledgement */
    } else if (cdc_err_retriable(err)) {
        /* the connection failed: the whole source transactions read so far are published and
         * waited for, as for a pause. The source resumes after the last committed position and
         * its server sends everything after its own acknowledged one again: whole transactions
         * left in the open batch would otherwise go out twice (seen when PostgreSQL was killed
         * under load); the partly read one is dropped and read again */
        cdc_errstr_t ignore;
        cdc_publisher_hold(pub, &ignore);
        *resume = cdc_publisher_resume(pub);
    } else { /* fenced, fatal: nothing more is published, the next holder reads it again */
        cdc_publisher_discard_partial(pub);
        cdc_errstr_t ignore;
        cdc_publisher_rebind(pub, NULL, &ignore); /* drain before the source goes away */
        *resume = cdc_publisher_resume(pub);
    }
    cdc_metrics_up("source", w->src->name, false);
    w->ops->close(s);
    return err;
}

/* The source's life in this instance once it may run (agent.ha: holds its lock): publisher,
 * then connections until the agent stops or an error that reconnecting does not cure. */
static cdc_err_t
run_source(worker_t *w, cdc_publisher_t **pub, cdc_errstr_t *es)
{
    cdc_source_resume_t resume;
    int backoff = 500;
    cdc_err_t err;
    /* a broker that goes away while the publisher starts (after the ping) is waited for, about
     * 90 s; what is not transient, or lasts, stops the source with the reason */
    for (int attempt = 1; (err = cdc_publisher_open(w->cfg, w->src, w->bus, &resume, pub, es)) &&
                          cdc_err_retriable(err) && attempt < 8 && !stopping();
         attempt++) {
        CDC_LOG_WARN("source=%s %s; trying again in %d ms", w->src->name, es->msg, backoff);
        sleep_ms(backoff);
        backoff = backoff < 30000 ? backoff * 2 : 30000;
    }
    backoff = 500;
    if (!err)
        err = cdc_publisher_start(*pub, w->ops, NULL, es);
    while (!err && !stopping()) {
        err = run_connection(w, *pub, &resume, es);
        if (err && cdc_err_retriable(err) && !stopping()) {
            CDC_LOG_WARN("source=%s %s; reconnecting in %d ms", w->src->name, es->msg, backoff);
            cdc_unit_set_error(w->unit, es->msg);
            cdc_unit_set_state(w->unit, CDC_UNIT_RETRYING);
            err = wait_ms(backoff, *pub, es);
            backoff = backoff < 30000 ? backoff * 2 : 30000;
        } else if (!err) {
            err = stay_paused(w, *pub, es); /* stopped for the operator: position kept */
        }
    }
    return err;
}

static void *
source_worker(void *arg)
{
    worker_t *w = arg;
    cdc_errstr_t es = {{0}};
    cdc_log_context("source", w->src->name);
    cdc_metrics_up("source", w->src->name, false);
    cdc_publisher_t *pub = NULL;
    cdc_err_t err = CDC_OK;
    cdc_standby_t sb;
    if (w->cfg->agent.ha)
        cdc_standby_init(&sb, w->cfg, w->src);
    while (!err && !stopping()) {
        if (w->cfg->agent.ha) { /* its producer would fence the active instance's: wait first */
            err = cdc_standby_wait(&sb, w->unit, stopping, &es);
            if (err || !sb.lock)
                break;
            w->standby = &sb;
        }
        err = run_source(w, &pub, &es);
        if (!w->standby || err != CDC_ERR_FENCED || stopping())
            break;
        /* another instance took over (it holds the lock, or fenced the producer): what this one
         * had not committed is that one's to publish; wait for the lock again */
        CDC_LOG_WARN("source=%s %s; standby again", w->src->name, es.msg);
        cdc_unit_set_error(w->unit, es.msg);
        cdc_publisher_free(pub);
        pub = NULL;
        cdc_standby_release(&sb);
        w->standby = NULL;
        err = CDC_OK;
    }
    if (err) {
        CDC_LOG_ERROR("source=%s stopped: %s", w->src->name, es.msg);
        cdc_unit_set_error(w->unit, es.msg);
        atomic_store(&failed, 1);
        w->rc = CDC_EXIT_FAILURE;
    }
    cdc_unit_set_state(w->unit, err ? CDC_UNIT_FAILED : CDC_UNIT_STOPPED);
    cdc_publisher_free(pub);
    if (w->cfg->agent.ha)
        cdc_standby_release(&sb);
    w->standby = NULL;
    atomic_store(&w->done, true);
    return NULL;
}

/* The cluster's transaction settings: refused when no transaction could commit; notes logged.
 * A broker that cannot be reached now is not a reason to stop: the workers wait for it. */
static cdc_err_t
check_cluster(cdc_kafka_bus_t *bus, cdc_errstr_t *es)
{
    if (cdc_kafka_bus_embedded(bus))
        return CDC_OK;
    cdc_cluster_info_t ci;
    cdc_buf_t notes;
    cdc_buf_init(&notes);
    cdc_err_t err = cdc_kafka_cluster_info(bus, &ci, es);
    if (err == CDC_ERR_CONNECT) { /* the broker went away since the ping: the workers wait for it */
        CDC_LOG_WARN("kafka cluster settings not checked: %s", es->msg);
        err = CDC_OK;
    } else if (!err) {
        err = cdc_kafka_cluster_validate(&ci, &notes, es);
        if (!ci.described && ci.why_not != RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE)
            CDC_LOG_WARN("kafka cluster and topic settings not verified (DescribeConfigs: %s)",
                         rd_kafka_err2str(ci.why_not));
    }
    for (char *l = notes.data, *nl; l && (nl = strchr(l, '\n')); l = nl + 1)
        CDC_LOG_WARN("kafka %.*s", (int)(nl - l), l);
    cdc_buf_deinit(&notes);
    return err;
}

/* A topic the sink writes besides the target (what: its role), created when missing. */
static void
sink_topic(worker_t *w, const char *topic, const char *what)
{
    cdc_errstr_t es = {{0}};
    cdc_topic_info_t ti = {0};
    if (!cdc_kafka_bus_embedded(w->bus) && !cdc_kafka_topic_info(w->bus, topic, &ti, &es) &&
        ti.partitions && cdc_kafka_topic_validate(&w->cfg->kafka, topic, false, &ti, &es))
        CDC_LOG_WARN("sink=%s %s: %s", w->sink->name, what, es.msg);
    else if (!ti.partitions && cdc_kafka_bus_create_topic(w->bus, topic, 1, false, &es))
        CDC_LOG_WARN("sink=%s cannot create its %s %s (%s); create it before a record needs it",
                     w->sink->name, what, topic, es.msg);
}

/* A route of the sink stopped on a record (the sink goes on): the unit's last error says so. */
static void
route_stopped(void *ctx, const char *route, const char *why)
{
    char msg[sizeof(((cdc_unit_t *)0)->error)];
    snprintf(msg, sizeof(msg), "route %s stopped: %s", route, why);
    cdc_unit_set_error(ctx, msg);
}

/* agent.ha: the sink waits for its lock, held by the active instance (why), or got it (NULL). */
static void
sink_standby(void *ctx, const char *why)
{
    cdc_unit_t *u = ctx;
    cdc_metrics_standby("sink", u->name, why != NULL);
    if (why) {
        CDC_LOG_INFO("sink=%s standby: %s; taking over when it lets go", u->name, why);
        cdc_unit_set_state(u, CDC_UNIT_STANDBY);
    } else {
        CDC_LOG_INFO("sink=%s active: holds its lock", u->name);
        cdc_unit_set_state(u, CDC_UNIT_RUNNING);
    }
}

/* One run of the sink until it stops for the operator, a replay job or the agent: the replay job
 * the admin API left for it, else its routes as usual (at the operator's rate). */
static cdc_err_t
run_sink_once(worker_t *w, cdc_sink_stats_t *stats, cdc_errstr_t *es)
{
    cdc_unit_t *u = w->unit;
    const char *bootstrap = cdc_kafka_bus_bootstrap(w->bus);
    pthread_mutex_lock(&u->mu);
    cdc_job_t *job = u->job;
    pthread_mutex_unlock(&u->mu);
    cdc_unit_set_state(u, CDC_UNIT_RUNNING);
    if (!job) {
        cdc_sink_opts_t opts = {.agent = true,
                                .max_rows_per_s = &u->max_rows_per_s,
                                .route_stopped = route_stopped,
                                .standby = w->cfg->agent.ha ? sink_standby : NULL,
                                .progress_ctx = u};
        return cdc_sink_run(w->cfg, w->sink, bootstrap, w->sink_ops, sink_stopping, &opts, stats,
                            es);
    }
    current_job = job;
    cdc_err_t err = cdc_api_replay_run(job, w->cfg, w->sink, bootstrap, sink_stopping, stats, es);
    current_job = NULL;
    if (cdc_job_ended(job)) {
        pthread_mutex_lock(&u->mu);
        u->job = NULL;
        pthread_mutex_unlock(&u->mu);
        cdc_job_release(job);
    }
    return err;
}

/* A sink: applies its routes until stop; a lost target connection is retried inside, a lost
 * Kafka or a failure that is not the connection's stops the agent with the reason. */
static void *
sink_worker(void *arg)
{
    worker_t *w = arg;
    current_sink = w;
    cdc_log_context("sink", w->sink->name);
    cdc_errstr_t es = {{0}};
    cdc_sink_stats_t stats = {0};
    int backoff = 500;
    cdc_buf_t topic;
    cdc_buf_init(&topic);
    cdc_topic_internal(&topic, w->cfg->kafka.topic_prefix, "dlq", w->sink->name);
    sink_topic(w, topic.data, "dead-letter topic");
    if (cdc_sink_has_conflict_policy(w->sink)) {
        cdc_topic_internal(&topic, w->cfg->kafka.topic_prefix, "conflicts", NULL);
        sink_topic(w, topic.data, "conflicts topic");
    }
    if (cdc_sink_has_links(w->sink)) {
        cdc_topic_internal(&topic, w->cfg->kafka.topic_prefix, "links", NULL);
        sink_topic(w, topic.data, "links topic");
    }
    cdc_buf_deinit(&topic);
    cdc_err_t err = CDC_OK;
    cdc_metrics_up("sink", w->sink->name, false);
    while (!stopping() && !atomic_load(&w->restart)) {
        stay_paused(w, NULL, &es);
        if (stopping() || atomic_load(&w->restart))
            break;
        err = run_sink_once(w, &stats, &es);
        if (w->cfg->agent.ha) /* no longer waiting, whatever ended the run */
            cdc_metrics_standby("sink", w->sink->name, false);
        if (err == CDC_ERR_CONNECT && !stopping() && !atomic_load(&w->restart)) {
            cdc_metrics_up("sink", w->sink->name, false);
            cdc_unit_set_error(w->unit, es.msg);
            cdc_unit_set_state(w->unit, CDC_UNIT_RETRYING);
            CDC_LOG_WARN("sink=%s %s; reconnecting in %d ms", w->sink->name, es.msg, backoff);
            sleep_ms(backoff);
            backoff = backoff < 30000 ? backoff * 2 : 30000;
            continue;
        }
        if (err == CDC_ERR_FENCED && !stopping() && sink_stopping())
            err = CDC_OK; /* the operator's request cut the wait for the target's lock short */
        if (err == CDC_ERR_FENCED && w->cfg->agent.ha) {
            cdc_metrics_up("sink", w->sink->name, false);
            if (!stopping())
                CDC_LOG_WARN("sink=%s %s; standby again", w->sink->name, es.msg);
            err = CDC_OK; /* another instance took over: wait for the lock again */
            continue;
        }
        if (err)
            break;
        backoff = 500;
    }
    if (err == CDC_ERR_CONNECT)
        err = CDC_OK; /* stopped while reconnecting */
    cdc_metrics_up("sink", w->sink->name, false);
    CDC_LOG_INFO("sink=%s stopped applied=%llu skipped=%llu batches=%llu retried=%llu dlq=%llu",
                 w->sink->name, (unsigned long long)stats.applied,
                 (unsigned long long)stats.skipped, (unsigned long long)stats.batches,
                 (unsigned long long)stats.retried, (unsigned long long)stats.dlq);
    if (err) {
        CDC_LOG_ERROR("sink=%s stopped: %s", w->sink->name, es.msg);
        cdc_unit_set_error(w->unit, es.msg);
        atomic_store(&failed, 1);
        w->rc = CDC_EXIT_FAILURE;
    }
    cdc_unit_set_state(w->unit, err ? CDC_UNIT_FAILED : CDC_UNIT_STOPPED);
    atomic_store(&w->done, true);
    return NULL;
}

typedef struct {
    const cdc_config_t *cfg; /* what the agent started with */
    worker_t *workers;
    size_t n;
    cdc_config_canon_t canon; /* the file as it was last applied */
    cdc_config_t **loaded;    /* configs of reloads, in use by restarted sinks */
    size_t n_loaded;
} run_t;

/* SIGHUP: reads the file again. Sinks whose settings (routes included) changed start again with
 * them; they resume from their stored offsets, so nothing is lost or applied twice. Any other
 * change needs a restart of the agent, and says so; a file that does not load changes nothing. */
static void
reload(run_t *r)
{
    cdc_errstr_t es = {{0}};
    cdc_config_t *next = cdc_config_load(r->cfg->path, &es);
    cdc_config_canon_t canon;
    if (!next || cdc_config_canon(r->cfg->path, &canon, &es)) {
        CDC_LOG_ERROR("reload: %s; the running configuration stays", es.msg);
        cdc_config_free(next);
        return;
    }
    bool changed = false;
    const char *const parts[] = {"agent", "kafka", "sources"};
    const char *const was[] = {r->canon.agent, r->canon.kafka, r->canon.sources};
    const char *const now[] = {canon.agent, canon.kafka, canon.sources};
    bool kafka_same = true;
    for (int i = 0; i < 3; i++) {
        if (!strcmp(was[i] ? was[i] : "", now[i] ? now[i] : ""))
            continue;
        changed = true;
        kafka_same &= i != 1;
        CDC_LOG_WARN("reload: %s changed in %s: restart the agent to apply it", parts[i],
                     r->cfg->path);
    }
    bool used = false;
    for (size_t i = 0; i < r->n; i++) {
        worker_t *w = &r->workers[i];
        if (!w->sink)
            continue;
        const char *a = cdc_config_canon_sink(&r->canon, w->sink->name),
                   *b = cdc_config_canon_sink(&canon, w->sink->name);
        const cdc_sink_conf_t *ns = cdc_config_sink(next, w->sink->name);
        if (a && b && !strcmp(a, b))
            continue;
        changed = true;
        if (!ns) {
            CDC_LOG_WARN("reload: sink %s was removed: restart the agent to stop it",
                         w->sink->name);
            continue;
        }
        if (!kafka_same || atomic_load(&w->done)) {
            CDC_LOG_WARN("reload: sink %s changed: restart the agent to apply it", w->sink->name);
            continue;
        }
        CDC_LOG_INFO("reload: sink %s changed: starting it again with its new settings",
                     w->sink->name);
        atomic_store(&w->restart, true);
        pthread_join(w->thread, NULL);
        w->cfg = next;
        w->sink = ns;
        w->sink_ops = cdc_connector_find(ns->type)->sink;
        atomic_store(&w->unit->max_rows_per_s, ns->max_rows_per_s); /* the file's, again */
        atomic_store(&w->restart, false);
        atomic_store(&w->done, false);
        pthread_create(&w->thread, NULL, sink_worker, w);
        cdc_config_canon_set_sink(&r->canon, w->sink->name, b); /* applied: the new reference */
        used = true;
    }
    for (size_t i = 0; i < next->n_sinks; i++) {
        if (cdc_config_canon_sink(&r->canon, next->sinks[i].name))
            continue;
        changed = true;
        CDC_LOG_WARN("reload: sink %s was added: restart the agent to start it",
                     next->sinks[i].name);
    }
    if (!changed)
        CDC_LOG_INFO("reload: %s unchanged", r->cfg->path);
    if (used) {
        r->loaded = cdc_xrealloc(r->loaded, (r->n_loaded + 1) * sizeof(*r->loaded));
        r->loaded[r->n_loaded++] = next;
    } else {
        cdc_config_free(next);
    }
    cdc_config_canon_free(&canon);
}

/* Until every worker is done. After SIGTERM/SIGINT they flush, commit and close; past
 * agent.shutdown_timeout_ms, or at a second signal, the process exits without waiting (nothing
 * is lost: the next start resumes from the committed offsets, as after a crash). */
static void
wait_workers(run_t *r)
{
    int64_t stop_at = 0;
    for (;;) {
        size_t running = 0;
        for (size_t i = 0; i < r->n; i++)
            running += !atomic_load(&r->workers[i].done);
        if (!running)
            return;
        if (reload_signal && !stopping()) {
            reload_signal = 0;
            reload(r);
        }
        if (stopping() && !stop_at) {
            stop_at = cdc_mono_ms();
            CDC_LOG_INFO("stopping: flushing and committing (at most %lld ms)",
                         (long long)r->cfg->agent.shutdown_timeout_ms);
        }
        if (stop_at &&
            (signals > 1 || cdc_mono_ms() - stop_at > r->cfg->agent.shutdown_timeout_ms)) {
            CDC_LOG_ERROR("stop %s: %zu worker(s) still busy; exiting without them (the next "
                          "start resumes from the committed offsets)",
                          signals > 1 ? "forced by a second signal" : "timed out", running);
            _exit(CDC_EXIT_FAILURE);
        }
        usleep(200000); /* a signal cuts it short (this thread alone takes them) */
    }
}

/* With agent.http: whether the Kafka cluster answers, for /readyz (every 3 s). */
static void *
kafka_watch(void *arg)
{
    cdc_kafka_bus_t *bus = arg;
    while (!stopping()) {
        cdc_errstr_t es = {{0}};
        int brokers = 0;
        bool up = !cdc_kafka_bus_ping(bus, 2000, &brokers, &es);
        cdc_metrics_up("kafka", cdc_kafka_bus_bootstrap(bus), up);
        sleep_ms(3000);
    }
    return NULL;
}

int
cdc_run(const cdc_config_t *cfg)
{
    cdc_errstr_t es = {{0}};
    /* Stop and reload signals reach the main thread only: every thread started from here on
     * (librdkafka's, the embedded Kafka's, libmicrohttpd's, the workers') inherits them blocked.
     * A Ctrl-C delivered to the embedded mock cluster's thread ended its poll loop: the brokers
     * vanished under the clients and destroying the cluster hung the exit. */
    sigset_t stop_set;
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGINT);
    sigaddset(&stop_set, SIGTERM);
    sigaddset(&stop_set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop_set, NULL);
    CDC_LOG_INFO("agent starting name=%s config=%s sources=%zu sinks=%zu", cfg->agent.name,
                 cfg->path, cfg->n_sources, cfg->n_sinks);
    cdc_kafka_bus_t *bus = cdc_kafka_bus_new(&cfg->kafka, &es);
    int brokers = 0;
    if (!bus || cdc_kafka_bus_ping(bus, 30000, &brokers, &es)) {
        CDC_LOG_ERROR("kafka: %s", es.msg);
        cdc_kafka_bus_free(bus);
        return CDC_EXIT_FAILURE;
    }
    CDC_LOG_INFO("kafka ready bootstrap=%s brokers=%d", cdc_kafka_bus_bootstrap(bus), brokers);
    if (check_cluster(bus, &es)) {
        CDC_LOG_ERROR("kafka %s: %s", cdc_kafka_bus_bootstrap(bus), es.msg);
        cdc_kafka_bus_free(bus);
        return CDC_EXIT_FAILURE;
    }
    cdc_http_t *http = NULL;
    cdc_control_t *ctl = cdc_control_new(cfg);
    cdc_api_t *api = NULL;
    if (cfg->agent.http) {
        api = cdc_api_new(&cfg->agent.api, ctl, cdc_kafka_bus_bootstrap(bus));
        if (!(http = cdc_http_start(cfg->agent.http, &cfg->agent.api, api, &es))) {
            CDC_LOG_ERROR("%s (config %s)", es.msg, cfg->path);
            cdc_api_free(api);
            cdc_control_free(ctl);
            cdc_kafka_bus_free(bus);
            return CDC_EXIT_FAILURE;
        }
        CDC_LOG_INFO("http listening on %s%s: /healthz /readyz /metrics, admin API /v1 (%s)",
                     cfg->agent.api.tls_cert ? "https://" : "", cfg->agent.http,
                     cfg->agent.api.token
                         ? cfg->agent.api.read_open ? "token for writes" : "token required"
                     : cfg->agent.api.read_open ? "read-only: no token set"
                                                : "off: no token set");
        cdc_metrics_up("kafka", cdc_kafka_bus_bootstrap(bus), true);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    size_t n = cfg->n_sources + cfg->n_sinks;
    worker_t *workers = cdc_xcalloc(n + 1, sizeof(worker_t));
    for (size_t i = 0; i < cfg->n_sources; i++) {
        worker_t *w = &workers[i]; /* zeroed by calloc */
        w->cfg = cfg;
        w->src = &cfg->sources[i];
        w->ops = cdc_connector_find(cfg->sources[i].type)->source;
        w->bus = bus;
        w->unit = cdc_control_unit(ctl, false, i);
        pthread_create(&workers[i].thread, NULL, source_worker, &workers[i]);
    }
    for (size_t j = 0; j < cfg->n_sinks; j++) {
        worker_t *w = &workers[cfg->n_sources + j];
        w->cfg = cfg;
        w->bus = bus;
        w->sink = &cfg->sinks[j];
        w->sink_ops = cdc_connector_find(cfg->sinks[j].type)->sink;
        w->unit = cdc_control_unit(ctl, true, j);
        pthread_create(&w->thread, NULL, sink_worker, w);
    }
    pthread_t watch;
    bool watching = http && !pthread_create(&watch, NULL, kafka_watch, bus);
    pthread_sigmask(SIG_UNBLOCK, &stop_set, NULL); /* a signal sent meanwhile arrives now */
    int rc = CDC_EXIT_OK;
    run_t r = {cfg, workers, n, {0}, NULL, 0};
    if (cdc_config_canon(cfg->path, &r.canon, &es))
        CDC_LOG_WARN("%s; SIGHUP will not reload", es.msg);
    wait_workers(&r);
    for (size_t i = 0; i < n; i++) {
        pthread_join(workers[i].thread, NULL);
        if (workers[i].rc)
            rc = workers[i].rc;
    }
    free(workers);
    cdc_config_canon_free(&r.canon);
    for (size_t i = 0; i < r.n_loaded; i++)
        cdc_config_free(r.loaded[i]);
    free(r.loaded);
    if (watching) /* workers end only once stopping() holds: so does the watch */
        pthread_join(watch, NULL);
    cdc_http_stop(http);
    cdc_api_free(api);
    cdc_control_free(ctl);
    cdc_metrics_free();
    cdc_kafka_bus_free(bus);
    CDC_LOG_INFO("agent stopped exit=%d%s", rc, stop_signal ? " (signal)" : "");
    return rc;
}

/*
 * A source's lock for active-passive instances (include/cdc/standby.h): taken on a session of its
 * own before the source's producer starts (which would fence the active instance's), tried
 * every CDC_STANDBY_TRY_MS while another instance holds it, and checked while the source runs.
 */
#include "cdc/standby.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cdc/clock.h"
#include "cdc/log.h"
#include "cdc/metrics.h"
#include "cdc/sink.h"

void
cdc_standby_init(cdc_standby_t *sb, const cdc_config_t *cfg, const cdc_source_conf_t *src)
{
    memset(sb, 0, sizeof(*sb));
    sb->db = cdc_connector_find(src->type);
    sb->src = src;
    cdc_lock_name(sb->name, sizeof(sb->name), "cdc-source", cfg->agent.name, src->name);
}

static void
set_standby(cdc_unit_t *u, const char *name, bool on)
{
    cdc_metrics_standby("source", name, on);
    if (on)
        cdc_unit_set_state(u, CDC_UNIT_STANDBY);
}

cdc_err_t
cdc_standby_wait(cdc_standby_t *sb, cdc_unit_t *u, bool (*stop)(void), cdc_errstr_t *es)
{
    bool noted = false;
    int backoff = 500;
    while (!sb->lock && !stop()) {
        cdc_err_t err = sb->db->lock_take(&sb->src->conn, sb->name, &sb->lock, es);
        if (!err)
            break;
        if (err == CDC_ERR_FENCED) {
            if (!noted)
                CDC_LOG_INFO("source=%s standby: %s; taking over when it lets go", sb->src->name,
                             es->msg);
            noted = true;
            backoff = 500;
            set_standby(u, sb->src->name, true);
            usleep(CDC_STANDBY_TRY_MS * 1000);
            continue;
        }
        if (!cdc_err_retriable(err))
            return err;
        /* a standby that cannot reach its database could not take over: not ready */
        set_standby(u, sb->src->name, false);
        cdc_unit_set_error(u, es->msg);
        cdc_unit_set_state(u, CDC_UNIT_RETRYING);
        CDC_LOG_WARN("source=%s %s; trying its lock again in %d ms", sb->src->name, es->msg,
                     backoff);
        for (int i = 0; i < backoff / 50 && !stop(); i++)
            usleep(50000);
        backoff = backoff < 5000 ? backoff * 2 : 5000;
        noted = false;
    }
    set_standby(u, sb->src->name, false);
    if (sb->lock) {
        sb->checked_ms = cdc_mono_ms();
        CDC_LOG_INFO("source=%s active: holds the lock '%s'", sb->src->name, sb->name);
        cdc_unit_set_state(u, CDC_UNIT_STARTING);
    }
    return CDC_OK;
}

cdc_err_t
cdc_standby_hold(cdc_standby_t *sb, cdc_errstr_t *es)
{
    int64_t now = cdc_mono_ms();
    if (sb->lock && now - sb->checked_ms < CDC_STANDBY_CHECK_MS)
        return CDC_OK;
    sb->checked_ms = now;
    if (sb->lock && !sb->db->lock_check(sb->lock, es))
        return CDC_OK;
    if (sb->lock) { /* its session is gone, and the lock with it: the server restarted? */
        CDC_LOG_WARN("source=%s lost the session holding its lock (%s); taking it again",
                     sb->src->name, es->msg);
        cdc_standby_release(sb);
    }
    cdc_err_t err = sb->db->lock_take(&sb->src->conn, sb->name, &sb->lock, es);
    if (err == CDC_ERR_FENCED)
        CDC_LOG_WARN("source=%s another instance took over (%s)", sb->src->name, es->msg);
    return err;
}

void
cdc_standby_release(cdc_standby_t *sb)
{
    if (sb->lock)
        sb->db->lock_release(sb->lock);
    sb->lock = NULL;
}

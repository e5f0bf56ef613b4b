/*
 * Active-passive instances (agent.ha, docs/operations.md#standby). Several instances of an agent
 * run with one config; each source and each sink runs in the instance that holds its lock, and
 * waits in the others as a standby. A sink's lock is the one on its target (cdc-sink:<name>); a
 * source's is a lock of its own on the source's database (cdc-source:<agent>.<source>, a session
 * of its own: agent/cmd/standby.c). Both are the server's session locks, so an instance that dies
 * lets go of them with its sessions, and the standby that takes one over first fences what the
 * old instance may still send (Kafka's transactional id for a source, the conditional offset
 * update for a sink). A unit that loses its lock to another instance becomes a standby again.
 */
#ifndef CDC_STANDBY_H
#define CDC_STANDBY_H

#include <stdbool.h>
#include <stdint.h>

#include "cdc/config.h"
#include "cdc/connector.h"
#include "cdc/control.h"
#include "cdc/err.h"

/* How often a standby tries the lock, and a holder checks that it still has it. */
#define CDC_STANDBY_TRY_MS   250
#define CDC_STANDBY_CHECK_MS 1000

typedef struct {
    const cdc_connector_t *db;
    const cdc_source_conf_t *src;
    char name[72]; /* the lock's: at most 64 characters (MariaDB's GET_LOCK) */
    cdc_db_lock_t *lock;
    int64_t checked_ms; /* monotonic */
} cdc_standby_t;

void cdc_standby_init(cdc_standby_t *sb, const cdc_config_t *cfg, const cdc_source_conf_t *src);

/* Waits until this instance holds the source's lock, or stop() says so (CDC_OK either way;
 * sb->lock says which). While another instance holds it the unit is a standby (state, metric
 * cdc_standby, one log line); while the database cannot be reached it is retrying (with its
 * error). Credentials refused: that error. */
cdc_err_t cdc_standby_wait(cdc_standby_t *sb, cdc_unit_t *u, bool (*stop)(void), cdc_errstr_t *es);

/* While the source runs, at most every CDC_STANDBY_CHECK_MS: whether the lock is still held,
 * taken again when its session was lost (a database restart) and no one else took it.
 * CDC_ERR_FENCED when another instance has it now; a connection error when the database cannot
 * be reached (the source's own connection fails too, and retries). */
cdc_err_t cdc_standby_hold(cdc_standby_t *sb, cdc_errstr_t *es);

void cdc_standby_release(cdc_standby_t *sb);

#endif

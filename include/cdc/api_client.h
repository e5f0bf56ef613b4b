/*
 * The command line as a client of a running agent's admin API (--api URL; docs/api.md).
 */
#ifndef CDC_API_CLIENT_H
#define CDC_API_CLIENT_H

#include <stdbool.h>
#include <stdio.h>

#include "cdc/cli.h"
#include "cdc/config.h"

/* Runs cli's command (status, pause, resume, restart, jobs, offsets show, offsets set --sink,
 * replay, snapshot) through the admin API at cli->api, with the token and certificate of cfg's
 * agent.api. When no agent answers there and the command works without one, *offline is set and
 * nothing was done (the caller runs it as without --api). Returns a process exit code. */
int cdc_api_client_run(const cdc_config_t *cfg, const cdc_cli_t *cli, FILE *out, bool *offline);

#endif

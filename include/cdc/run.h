/*
 * The `run` command: brings up Kafka (embedded or real), the internal topics and one transactional
 * producer per source, then runs every configured source and sink until SIGTERM.
 */
#ifndef CDC_RUN_H
#define CDC_RUN_H

#include "cdc/config.h"

/* Returns a process exit code (cli.h). Main thread; installs SIGTERM/SIGINT handlers. */
int cdc_run(const cdc_config_t *cfg);

#endif

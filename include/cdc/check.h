/*
 * `cdc-agent check`: reaches every configured broker and database and reports, line by line, what
 * works and exactly what to change where a prerequisite is missing.
 */
#ifndef CDC_CHECK_H
#define CDC_CHECK_H

#include <stdio.h>

#include "cdc/config.h"

/* Runs every check and prints one block per component to out. Returns the number of failed
 * components (0 = ready). Main thread. */
int cdc_check_run(const cdc_config_t *cfg, FILE *out);

#endif

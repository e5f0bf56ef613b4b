/*
 * cdc-agent entry point: parses the command line, loads the config and dispatches. The only place
 * that exits the process; exit codes: 0 ok, 1 runtime failure, 2 usage or config error.
 */
#include <librdkafka/rdkafka.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <yaml.h>
#include <jansson.h>

#include "cdc/admin.h"
#include "cdc/api_client.h"
#include "cdc/check.h"
#include "cdc/cli.h"
#include "cdc/config.h"
#include "cdc/connector.h"
#include "cdc/log.h"
#include "cdc/run.h"

static void
print_version(void)
{
    printf("cdc-agent %s (librdkafka %s", CDC_VERSION, rd_kafka_version_str());
    const cdc_connector_t *c;
    for (size_t i = 0; (c = cdc_connector_at(i)); i++) {
        char v[128];
        c->client_version(v, sizeof(v));
        printf(", %s", v);
    }
    printf(", libyaml %s, jansson %s)\n", yaml_get_version_string(), JANSSON_VERSION);
}

/* librdkafka decompresses (and compresses) every message set into a fresh buffer of a few
 * hundred kB to a few MB. Above glibc's default mmap threshold each is a new mapping, and every
 * page of it faults on first touch: a third of the sink's CPU went to page faults. From the heap,
 * the same memory is reused. 4 MB keeps those buffers on the heap; a higher threshold cost
 * one-row source transactions 20% more CPU. Trimming above 128 MB still returns what a burst
 * left behind. */
static void
malloc_setup(void)
{
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
    mallopt(M_TRIM_THRESHOLD, 128 << 20);
}

int
main(int argc, char **argv)
{
    malloc_setup();
    cdc_cli_t cli;
    cdc_errstr_t es = {{0}};
    if (cdc_cli_parse(argc, argv, &cli, &es) != CDC_OK) {
        fprintf(stderr, "cdc-agent: %s\n\n", es.msg);
        cdc_cli_usage(stderr);
        return CDC_EXIT_USAGE;
    }
    if (cli.cmd == CDC_CMD_HELP) {
        cdc_cli_usage(stdout);
        return CDC_EXIT_OK;
    }
    if (cli.cmd == CDC_CMD_VERSION) {
        print_version();
        return CDC_EXIT_OK;
    }
    cdc_config_t *cfg = cdc_config_load(cli.config, &es);
    if (!cfg) {
        fprintf(stderr, "cdc-agent: %s\n", es.msg);
        return CDC_EXIT_USAGE;
    }
    cdc_log_setup(cfg->agent.log_format, cfg->agent.log_level);
    int rc;
    bool offline = true;
    if (cli.api) { /* ask the running agent; some commands work offline when none answers */
        rc = cdc_api_client_run(cfg, &cli, stdout, &offline);
        if (!offline) {
            cdc_config_free(cfg);
            return rc;
        }
    }
    switch (cli.cmd) {
    case CDC_CMD_CHECK:
        rc = cdc_check_run(cfg, stdout) ? CDC_EXIT_FAILURE : CDC_EXIT_OK;
        break;
    case CDC_CMD_RUN:
        rc = cdc_run(cfg);
        break;
    case CDC_CMD_SOURCE_DROP:
        rc = cdc_admin_source_drop(cfg, cli.source, cli.yes, stdin, stdout);
        break;
    case CDC_CMD_REPLAY:
        rc = cdc_admin_replay(cfg, &cli, stdout);
        break;
    case CDC_CMD_OFFSETS_SHOW:
        rc = cdc_admin_offsets_show(cfg, cli.json, stdout);
        break;
    case CDC_CMD_OFFSETS_SET:
        rc = cdc_admin_offsets_set(cfg, &cli, stdout);
        break;
    case CDC_CMD_SNAPSHOT:
        rc = cdc_admin_snapshot(cfg, &cli, stdout);
        break;
    case CDC_CMD_DUPLICATES:
        rc = cdc_admin_duplicates(cfg, &cli, stdout);
        break;
    default:
        rc = CDC_EXIT_USAGE; /* help and version returned above */
        break;
    }
    cdc_config_free(cfg);
    return rc;
}

/*
 * libFuzzer target: the event decoder, as a sink reads records off Kafka, through what the sink
 * does before its statements: the route's mapping (renamed columns, constants, the route's key)
 * and the checks against the target table (its columns, its unique keys). A record that decodes
 * must encode, decode and encode again to the same bytes. The SQL text itself is built by the
 * connectors with the server's own quoting on a live connection; the integration tests cover it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/config.h"
#include "cdc/event.h"
#include "cdc/sink.h"
#include "fuzz_common.h"
#include "sink_internal.h"

static cdc_config_t *cfg;
static cdc_sink_table_t target;

static const char config[] =
    "agent: {name: fuzz}\n"
    "kafka: {brokers: embedded}\n"
    "sinks:\n"
    "  - name: erp\n"
    "    type: mysql\n"
    "    host: 127.0.0.1\n"
    "    routes:\n"
    "      - {from: crm.public.contacts, to: erp.contacts}\n"
    "      - {from: crm.public.accounts, to: erp.customers, columns: {id: crm_id, name: "
    "company, country: country_code}, constants: {origin: crm}, key: [crm_id]}\n";

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    cdc_errstr_t es = {{0}};
    cfg = cdc_config_load_string("fuzz.yaml", config, strlen(config), &es);
    if (!cfg)
        abort();
    target.schema = strdup("erp");
    target.table = strdup("contacts");
    static const char *const cols[] = {"id",           "crm_id", "name",  "company",
                                       "country_code", "origin", "email", "v"};
    for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
        cdc_sink_table_add(&target, cols[i], "text");
    cdc_sink_table_add_key(&target, true, "id");
    cdc_sink_table_add_key(&target, false, "crm_id");
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *p = fuzz_copy(data, size);
    cdc_arena_t arena;
    cdc_arena_init(&arena);
    cdc_event_t ev;
    cdc_errstr_t es = {{0}};
    if (!cdc_event_decode(p, size, &ev, &arena, &es)) {
        fuzz_event_round_trip(&ev);
        const cdc_sink_conf_t *sink = &cfg->sinks[0];
        for (size_t r = 0; r < sink->n_routes; r++) {
            cdc_sink_row_t row;
            memset(&row, 0, sizeof(row));
            row.route = &sink->routes[r];
            if (ev.op == CDC_OP_TRUNCATE ||
                cdc_sink_map_event(&arena, &sink->routes[r], &ev, &row, &es))
                continue;
            const char **types = malloc((row.n_cols + row.n_key + 1) * sizeof(char *));
            cdc_sink_new_column_t add;
            cdc_sink_check_columns(&row, &target, types, &add, &es);
            free(types);
        }
    }
    cdc_arena_deinit(&arena);
    free(p);
    return 0;
}

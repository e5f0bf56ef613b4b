/*
 * libFuzzer target: the config loader on any text (cdc_config_load_string, as from a file). A
 * config either loads or fails with an error that names the file; neither may crash, leak or
 * hang, and a secret given in the environment (the variables the seed configs name) never
 * appears in the error unless the text itself holds it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/config.h"
#include "fuzz_common.h"

#define SECRET "fuzz-Secret-9f3b2c1d7e"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* the variables the seed configs (config/crm-erp.yaml, reference.yaml) read secrets from */
    static const char *const vars[] = {"CRM_PASSWORD", "ERP_PASSWORD", "CDC_API_TOKEN",
                                       "KAFKA_SASL_PASSWORD", "KAFKA_KEY_PASSWORD"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        setenv(vars[i], SECRET, 1);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *p = fuzz_copy(data, size);
    cdc_errstr_t es = {{0}};
    cdc_config_t *cfg = cdc_config_load_string("f.yaml", p, size, &es);
    if (cfg) {
        cdc_config_free(cfg);
    } else if (strncmp(es.msg, "f.yaml", 6) ||
               (strstr(es.msg, SECRET) && !memmem(data, size, SECRET, strlen(SECRET)))) {
        abort(); /* an error that does not name the file, or shows the secret from the environment
                  */
    }
    free(p);
    return 0;
}

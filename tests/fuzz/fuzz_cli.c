/*
 * libFuzzer target: the command-line parser (cdc_cli_parse). The input is split at NUL bytes
 * into the arguments after the program name; any argument vector is parsed or refused with a
 * message, never a crash, and a timestamp either parses or is refused.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/cli.h"

#define MAX_ARGS 32

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *p = malloc(size + 1);
    memcpy(p, data, size);
    p[size] = '\0';
    char *argv[MAX_ARGS + 2] = {"cdc-agent"};
    int argc = 1;
    for (size_t at = 0; at <= size && argc <= MAX_ARGS; at += strlen(p + at) + 1)
        argv[argc++] = p + at;
    argv[argc] = NULL;
    cdc_cli_t cli;
    cdc_errstr_t es = {{0}};
    if (cdc_cli_parse(argc, argv, &cli, &es) && !es.msg[0])
        abort(); /* refused without saying why */
    int64_t ms;
    cdc_cli_parse_timestamp(argv[1], &ms);
    free(p);
    return 0;
}

/*
 * cdc-bench-produce BOOTSTRAP TOPIC FILE: the Kafka ceiling of the benchmarks. Reads records
 * already encoded (cdc-topic-dump lines: partition, offset, cdc-pos, key, value) into memory, then
 * publishes them to TOPIC as the agent does: its producer settings (transactions, idempotence,
 * compression from CDC_BENCH_COMPRESSION, default lz4), its headers (cdc-op, cdc-pos) and its
 * Kafka transaction sizes (CDC_TXN_BYTES / CDC_TXN_RECORDS), from one thread. Prints
 * "records=N seconds=S cpu=C": from the first send to the last commit, without start-up and
 * reading the file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>

#include "cdc/kafka.h"
#include "cdc/publisher.h"

typedef struct {
    char *line; /* owns the fields */
    char *pos, *key, *value;
    size_t key_len, value_len;
} rec_t;

static double
now_s(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static double
cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Splits a dump line in place; false if it has fewer than 5 fields. */
static bool
parse(char *line, rec_t *r)
{
    char *f[5];
    f[0] = line;
    for (int i = 1; i < 5; i++) {
        char *tab = strchr(f[i - 1], '\t');
        if (!tab)
            return false;
        *tab = '\0';
        f[i] = tab + 1;
    }
    size_t n = strlen(f[4]);
    if (n && f[4][n - 1] == '\n')
        f[4][--n] = '\0';
    *r = (rec_t){line, f[2], f[3], f[4], strlen(f[3]), n};
    return true;
}

static int
fail(cdc_producer_t *p, const char *what)
{
    fprintf(stderr, "cdc-bench-produce: %s: %s\n", what, p ? cdc_producer_errstr(p) : "");
    return 1;
}

int
main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: cdc-bench-produce BOOTSTRAP TOPIC FILE\n");
        return 2;
    }
    FILE *f = fopen(argv[3], "r");
    if (!f) {
        perror(argv[3]);
        return 1;
    }
    rec_t *recs = NULL;
    size_t n = 0, cap = 0;
    char *line = NULL;
    size_t lcap = 0;
    while (getline(&line, &lcap, f) > 0) {
        if (n == cap) {
            cap = cap ? 2 * cap : 4096;
            recs = realloc(recs, cap * sizeof(rec_t));
        }
        char *copy = strdup(line);
        if (parse(copy, &recs[n]))
            n++;
        else
            free(copy);
    }
    free(line);
    fclose(f);
    const char *comp = getenv("CDC_BENCH_COMPRESSION");
    cdc_kafka_conf_t kc = {
        .max_event_bytes = 8 << 20, .compression = comp ? (char *)comp : "lz4", .linger_ms = 50};
    cdc_errstr_t es = {{0}};
    cdc_producer_t *p = cdc_producer_new(&kc, argv[1], "cdc-bench-produce", &es);
    if (!p) {
        fprintf(stderr, "cdc-bench-produce: %s\n", es.msg);
        return 1;
    }
    int parts = 0;
    if (cdc_producer_init(p, 60000) || cdc_producer_partition_count(p, argv[2], 10000, &parts, &es))
        return fail(p, "start");
    double t0 = now_s(), c0 = cpu_s();
    size_t i = 0;
    while (i < n) {
        if (cdc_producer_begin(p))
            return fail(p, "begin");
        size_t bytes = 0, k = 0;
        for (; i < n && k < CDC_TXN_RECORDS && bytes < CDC_TXN_BYTES; i++, k++) {
            /* the agent's headers: cdc-op (from the value) and cdc-pos */
            const char *op = strstr(recs[i].value, "\"op\":\"");
            cdc_header_t h[2] = {{"cdc-op", op ? op + 6 : "c", 1},
                                 {"cdc-pos", recs[i].pos, strlen(recs[i].pos)}};
            cdc_record_t r = {.topic = argv[2],
                              .partition = RD_KAFKA_PARTITION_UA,
                              .key = recs[i].key,
                              .key_len = recs[i].key_len,
                              .value = recs[i].value,
                              .value_len = recs[i].value_len,
                              .headers = h,
                              .n_headers = 2,
                              .borrow = true};
            if (cdc_producer_send(p, &r))
                return fail(p, "send");
            bytes += recs[i].key_len + recs[i].value_len;
        }
        if (cdc_producer_wait_delivered(p, 60000) || cdc_producer_commit(p, 60000))
            return fail(p, "commit");
    }
    printf("records=%zu seconds=%.3f cpu=%.2f\n", n, now_s() - t0, cpu_s() - c0);
    cdc_producer_free(p);
    for (size_t j = 0; j < n; j++)
        free(recs[j].line);
    free(recs);
    return 0;
}

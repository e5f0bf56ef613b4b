/*
 * cdc-topic-dump BOOTSTRAP TOPIC: prints every committed record of TOPIC (all partitions, from the
 * beginning to the high watermark) as one line: partition, offset, cdc-pos header, key, value
 * (tab-separated; "null" for a null value). With --headers, a sixth column lists the other
 * headers as name=value joined by '|'. Integration tests read topics with it.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cdc/offsets.h"

static void
print(void *ctx, const rd_kafka_message_t *m)
{
    bool *headers = ctx;
    rd_kafka_headers_t *h = NULL;
    const void *pos = NULL;
    size_t pos_len = 0;
    if (!rd_kafka_message_headers(m, &h))
        rd_kafka_header_get_last(h, "cdc-pos", &pos, &pos_len);
    printf("%d\t%lld\t%.*s\t%.*s\t", (int)m->partition, (long long)m->offset, (int)pos_len,
           pos ? (const char *)pos : "", (int)m->key_len, m->key ? (const char *)m->key : "");
    if (m->payload)
        fwrite(m->payload, 1, m->len, stdout);
    else
        fputs("null", stdout);
    if (*headers) {
        putchar('\t');
        const char *name;
        const void *val;
        size_t len;
        for (size_t i = 0; h && !rd_kafka_header_get_all(h, i, &name, &val, &len); i++)
            if (strcmp(name, "cdc-pos"))
                printf("%s%s=%.*s", i ? "|" : "", name, (int)len, val ? (const char *)val : "");
    }
    putchar('\n');
}

int
main(int argc, char **argv)
{
    bool headers = argc == 4 && !strcmp(argv[3], "--headers");
    if (argc != 3 && !headers) {
        fprintf(stderr, "usage: cdc-topic-dump BOOTSTRAP TOPIC [--headers]\n");
        return 2;
    }
    cdc_kafka_conf_t kc = {.max_event_bytes = 64 << 20};
    cdc_errstr_t es = {{0}};
    if (cdc_topic_scan(&kc, argv[1], argv[2], print, &headers, &es)) {
        fprintf(stderr, "cdc-topic-dump: %s\n", es.msg);
        return 1;
    }
    return 0;
}

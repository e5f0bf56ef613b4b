/*
 * cdc-topic-dump BOOTSTRAP TOPIC: prints every committed record of TOPIC (all partitions, from the
 * beginning to the high watermark) as one line: partition, offset, cdc-pos header, key, value
 * (tab-separated; "null" for a null value). Integration tests read topics with it.
 */
#include <stdio.h>
#include <string.h>

#include "cdc/offsets.h"

static void
print(void *ctx, const rd_kafka_message_t *m)
{
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
    putchar('\n');
}

int
main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: cdc-topic-dump BOOTSTRAP TOPIC\n");
        return 2;
    }
    cdc_kafka_conf_t kc = {.max_event_bytes = 64 << 20};
    cdc_errstr_t es = {{0}};
    if (cdc_topic_scan(&kc, argv[1], argv[2], print, NULL, &es)) {
        fprintf(stderr, "cdc-topic-dump: %s\n", es.msg);
        return 1;
    }
    return 0;
}

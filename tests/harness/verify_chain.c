/*
 * cdc-verify-chain BOOTSTRAP TOPIC EXPECTED: checks the exactly-once result of a crash test.
 * The workload keeps a counter per row (insert v=1, each update v+1, delete removes the row), so
 * after dropping re-sent records (a position already seen), every key's events must form an
 * unbroken chain: a missing change or a duplicate breaks it. The state rebuilt from the topic must
 * equal EXPECTED ("id v" lines dumped from the source table). Prints "N passed, N failed";
 * CDC_VERIFY_VERBOSE prints the first re-sent records.
 * With CDC_VERIFY_LENIENT set (a snapshot resumed with watermarks), a key's first event may be a
 * change made before its snapshot row was read, so unknown keys are taken as they come.
 * A snapshot read (op r) of a key already seen must state the row as the events before it left
 * it: a chunk row read in a snapshot that missed a change already in the topic would overwrite
 * that change with an older value (or bring back a deleted row).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/event.h"
#include "cdc/offsets.h"

#define MAX_ID 1000000

typedef struct {
    char **slots;
    size_t cap, n;
} posset_t;

static uint64_t
hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* Inserts pos; returns false when it was already there. */
static bool
posset_add(posset_t *ps, const char *pos)
{
    if (ps->n * 2 >= ps->cap) {
        posset_t bigger = {calloc(ps->cap ? ps->cap * 2 : 1024, sizeof(char *)),
                           ps->cap ? ps->cap * 2 : 1024, 0};
        for (size_t i = 0; i < ps->cap; i++)
            if (ps->slots[i])
                posset_add(&bigger, ps->slots[i]), free(ps->slots[i]);
        free(ps->slots);
        *ps = bigger;
    }
    size_t i = hash(pos) & (ps->cap - 1);
    while (ps->slots[i]) {
        if (!strcmp(ps->slots[i], pos))
            return false;
        i = (i + 1) & (ps->cap - 1);
    }
    ps->slots[i] = strdup(pos);
    ps->n++;
    return true;
}

typedef struct {
    posset_t seen;
    int *state;           /* 0 = absent, else v */
    unsigned char *known; /* an event of the key was seen */
    long records, resent, events, broken;
    bool lenient; /* a resumed snapshot: a key's first event may be a change before its row */
    cdc_arena_t arena;
} check_t;

static long
num(const cdc_row_t *row, const char *name)
{
    const cdc_column_t *c = cdc_row_find(row, name);
    return c && (c->value.type == CDC_VAL_NUMBER || c->value.type == CDC_VAL_STRING)
               ? strtol(c->value.s.p, NULL, 10)
               : -1;
}

static void
on_record(void *ctx, const rd_kafka_message_t *m)
{
    check_t *c = ctx;
    c->records++;
    if (!m->payload)
        return; /* tombstone */
    cdc_event_t ev;
    cdc_errstr_t es = {{0}};
    cdc_arena_reset(&c->arena);
    if (cdc_event_decode(m->payload, m->len, &ev, &c->arena, &es)) {
        printf("undecodable record at %d/%lld: %s\n", (int)m->partition, (long long)m->offset,
               es.msg);
        c->broken++;
        return;
    }
    if (!posset_add(&c->seen, ev.source.pos)) {
        if (c->resent++ < 3 && getenv("CDC_VERIFY_VERBOSE"))
            printf("re-sent: %d/%lld %.*s\n", (int)m->partition, (long long)m->offset, (int)m->len,
                   (const char *)m->payload);
        return;
    }
    c->events++;
    long id = num(&ev.key, "id");
    if (id < 0 || id >= MAX_ID) {
        c->broken++;
        return;
    }
    long v = ev.op == CDC_OP_DELETE ? 0 : num(&ev.after, "v");
    bool unknown = c->state[id] == 0;
    bool ok = ev.op == CDC_OP_READ                   ? v > 0 && (!c->known[id] || v == c->state[id])
              : c->lenient && unknown                ? true
              : c->lenient && ev.op == CDC_OP_CREATE ? v == 1
              : ev.op == CDC_OP_DELETE               ? c->state[id] > 0
              : ev.op == CDC_OP_UPDATE               ? c->state[id] > 0 && v == c->state[id] + 1
                                                     : c->state[id] == 0 && v == 1;
    if (!ok && c->broken++ < 20)
        printf("broken chain: id=%ld op=%c v=%ld had=%d pos=%s (%d/%lld)\n", id, (char)ev.op, v,
               c->state[id], ev.source.pos, (int)m->partition, (long long)m->offset);
    c->state[id] = (int)v;
    c->known[id] = 1;
}

int
main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: cdc-verify-chain BOOTSTRAP TOPIC EXPECTED\n");
        return 2;
    }
    check_t c = {0};
    c.lenient = getenv("CDC_VERIFY_LENIENT") != NULL;
    c.state = calloc(MAX_ID, sizeof(int));
    c.known = calloc(MAX_ID, 1);
    cdc_arena_init(&c.arena);
    cdc_kafka_conf_t kc = {.max_event_bytes = 64 << 20};
    cdc_errstr_t es = {{0}};
    if (cdc_topic_scan(&kc, argv[1], argv[2], on_record, &c, &es)) {
        fprintf(stderr, "cdc-verify-chain: %s\n", es.msg);
        return 1;
    }
    int *want = calloc(MAX_ID, sizeof(int));
    FILE *f = fopen(argv[3], "r");
    long id, v, rows = 0, mismatched = 0;
    while (f && fscanf(f, "%ld %ld", &id, &v) == 2)
        if (id >= 0 && id < MAX_ID)
            want[id] = (int)v, rows++;
    if (f)
        fclose(f);
    for (long i = 0; i < MAX_ID; i++)
        if (want[i] != c.state[i] && mismatched++ < 20)
            printf("final state differs: id=%ld table v=%d topic v=%d\n", i, want[i], c.state[i]);
    printf("records=%ld resent_dropped=%ld events=%ld table_rows=%ld broken=%ld mismatched=%ld\n",
           c.records, c.resent, c.events, rows, c.broken, mismatched);
    int failed = (c.broken > 0) + (mismatched > 0) + (c.events == 0);
    for (size_t i = 0; i < c.seen.cap; i++)
        free(c.seen.slots[i]);
    free(c.seen.slots);
    free(c.state);
    free(c.known);
    free(want);
    cdc_arena_deinit(&c.arena);
    printf("%d passed, %d failed\n", 3 - failed, failed);
    return failed ? 1 : 0;
}

/*
 * cdc-kafka-log COMMAND...: reads (and for one test, cuts) a stopped or running Kafka broker's
 * partition files, to make and check the state a broker crash can leave behind.
 *   open DIR...            for each partition directory (e.g. DATA/cdc._offsets-0), the first
 *                          offset of every transaction still open there (transactional records
 *                          with no control record of their producer after them), as
 *                          "DIRNAME pid=P first=OFFSET" lines; nothing when none is open
 *   forget DATA TXN_ID     the broker must be stopped. Makes the transaction coordinator forget
 *                          TXN_ID's transaction in flight, as a crash that cut the end of its
 *                          log did: in the __transaction_state partition of DATA holding
 *                          TXN_ID, cuts the log before the first entry written since TXN_ID's
 *                          last completed transaction, and removes that partition's index and
 *                          producer snapshot files (the broker rebuilds them). The records the
 *                          transaction wrote to its partitions stay there, with no marker.
 *                          Prints the entries it cut.
 * Record batch layout (magic 2) and the transaction log's key and value: Kafka's
 * DefaultRecordBatch and TransactionLogKey/TransactionLogValue. Exit status 0 on success.
 */
#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BATCH_HEADER 61

typedef struct {
    unsigned char *d;
    size_t n;
} file_t;

static bool
slurp(const char *path, file_t *f)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return false;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    f->d = malloc(n > 0 ? (size_t)n : 1);
    f->n = n > 0 && fread(f->d, 1, (size_t)n, fp) == (size_t)n ? (size_t)n : 0;
    fclose(fp);
    return true;
}

static uint64_t
be(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = v << 8 | p[i];
    return v;
}

/* zig-zag varint (record fields) */
static int64_t
varint(const unsigned char **p, const unsigned char *end)
{
    uint64_t v = 0;
    for (int shift = 0; *p < end && shift < 64; shift += 7) {
        unsigned char b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            break;
    }
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

typedef struct {
    int64_t base;
    uint32_t len;  /* the whole batch, header included */
    uint16_t attr; /* bit 4 transactional, bit 5 control, bits 0-2 compression */
    int64_t pid;
    int32_t count;
} batch_t;

static bool
batch_at(const file_t *f, size_t at, batch_t *b)
{
    if (at + BATCH_HEADER > f->n)
        return false;
    const unsigned char *p = f->d + at;
    b->base = (int64_t)be(p, 8);
    b->len = (uint32_t)be(p + 8, 4) + 12;
    b->attr = (uint16_t)be(p + 21, 2);
    b->pid = (int64_t)be(p + 43, 8);
    b->count = (int32_t)be(p + 57, 4);
    return b->len >= BATCH_HEADER && at + b->len <= f->n;
}

static int
by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The segment files (*.log) of a partition directory, in offset order. */
static size_t
segments(const char *dir, char ***out)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    *out = NULL;
    if (!d)
        return 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".log"))
            continue;
        *out = realloc(*out, (n + 1) * sizeof(char *));
        (*out)[n] = malloc(strlen(dir) + l + 2);
        sprintf((*out)[n++], "%s/%s", dir, e->d_name);
    }
    closedir(d);
    qsort(*out, n, sizeof(char *), by_name);
    return n;
}

#define MAX_PIDS 256

static int
cmd_open(int argc, char **argv)
{
    for (int a = 0; a < argc; a++) {
        int64_t pid[MAX_PIDS], first[MAX_PIDS];
        int n = 0;
        char **seg;
        size_t ns = segments(argv[a], &seg);
        for (size_t s = 0; s < ns; s++) {
            file_t f;
            if (!slurp(seg[s], &f))
                continue;
            batch_t b;
            for (size_t at = 0; batch_at(&f, at, &b); at += b.len) {
                if (!(b.attr & 0x10))
                    continue;
                int i = 0;
                while (i < n && pid[i] != b.pid)
                    i++;
                if (b.attr & 0x20) { /* a marker ends its producer's transaction */
                    if (i < n) {
                        pid[i] = pid[n - 1];
                        first[i] = first[n - 1];
                        n--;
                    }
                } else if (i == n && n < MAX_PIDS) {
                    pid[n] = b.pid;
                    first[n++] = b.base;
                }
            }
            free(f.d);
            free(seg[s]);
        }
        free(seg);
        const char *name = strrchr(argv[a], '/') ? strrchr(argv[a], '/') + 1 : argv[a];
        for (int i = 0; i < n; i++)
            printf("%s pid=%lld first=%lld\n", name, (long long)pid[i], (long long)first[i]);
    }
    return 0;
}

/* One entry of the transaction log: its offset and the batch holding it, the transactional id,
 * the state (0 Empty, 1 Ongoing, 2 PrepareCommit, 3 PrepareAbort, 4 CompleteCommit,
 * 5 CompleteAbort, 6 Dead, 7 PrepareEpochFence; -1 a tombstone). */
typedef struct {
    int64_t offset;
    size_t batch_at;
    int state;
} entry_t;

static const char *const states[] = {"Empty",        "Ongoing",          "PrepareCommit",
                                     "PrepareAbort", "CompleteCommit",   "CompleteAbort",
                                     "Dead",         "PrepareEpochFence"};

/* The entries of txn in f (the records of uncompressed batches; the coordinator writes them so). */
static size_t
entries(const file_t *f, const char *txn, entry_t **out)
{
    size_t n = 0, tl = strlen(txn);
    *out = NULL;
    batch_t b;
    for (size_t at = 0; batch_at(f, at, &b); at += b.len) {
        if (b.attr & 0x07)
            continue;
        const unsigned char *p = f->d + at + BATCH_HEADER, *end = f->d + at + b.len;
        for (int32_t r = 0; r < b.count && p < end; r++) {
            int64_t len = varint(&p, end);
            const unsigned char *next = p + len;
            p++; /* attributes */
            varint(&p, end);
            int64_t delta = varint(&p, end);
            int64_t klen = varint(&p, end);
            const unsigned char *key = p;
            p += klen > 0 ? klen : 0;
            int64_t vlen = varint(&p, end);
            /* key: version int16, transactional id (int16 length, bytes) */
            if (klen == (int64_t)(4 + tl) && !memcmp(key + 4, txn, tl) && be(key + 2, 2) == tl) {
                *out = realloc(*out, (n + 1) * sizeof(entry_t));
                /* value: version int16, producer id int64, epoch int16, timeout int32, state int8
                 */
                (*out)[n++] = (entry_t){b.base + delta, at, vlen >= 17 ? p[16] : -1};
            }
            p = next;
        }
    }
    return n;
}

static int
cmd_forget(const char *data, const char *txn)
{
    DIR *d = opendir(data);
    if (!d) {
        fprintf(stderr, "cannot open %s\n", data);
        return 1;
    }
    char dir[4096] = "", log[4200] = "";
    file_t f = {0};
    entry_t *e = NULL;
    size_t n = 0;
    for (struct dirent *de; !n && (de = readdir(d));) {
        if (strncmp(de->d_name, "__transaction_state-", 20))
            continue;
        snprintf(dir, sizeof(dir), "%s/%s", data, de->d_name);
        char **seg;
        size_t ns = segments(dir, &seg);
        for (size_t s = 0; s < ns; s++) {
            if (!n && slurp(seg[s], &f)) {
                if ((n = entries(&f, txn, &e)))
                    snprintf(log, sizeof(log), "%s", seg[s]);
                else
                    free(f.d);
            }
            free(seg[s]);
        }
        free(seg);
    }
    closedir(d);
    if (!n) {
        fprintf(stderr, "no entry of %s in %s/__transaction_state-*\n", txn, data);
        return 1;
    }
    size_t cut = n;
    while (cut > 0 && e[cut - 1].state != 0 && e[cut - 1].state != 4 && e[cut - 1].state != 5)
        cut--;
    if (cut == n) {
        fprintf(stderr, "%s has no transaction in flight in %s\n", txn, log);
        return 1;
    }
    for (size_t i = cut; i < n; i++)
        printf("cut %s offset=%lld %s\n", txn, (long long)e[i].offset,
               e[i].state >= 0 && e[i].state < 8 ? states[e[i].state] : "tombstone");
    if (truncate(log, (off_t)e[cut].batch_at)) {
        perror(log);
        return 1;
    }
    /* the broker rebuilds these from the log */
    if ((d = opendir(dir))) {
        for (struct dirent *de; (de = readdir(d));) {
            const char *dot = strrchr(de->d_name, '.');
            if (dot && (!strcmp(dot, ".index") || !strcmp(dot, ".timeindex") ||
                        !strcmp(dot, ".snapshot"))) {
                char path[8192];
                snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
                unlink(path);
            }
        }
        closedir(d);
    }
    free(e);
    free(f.d);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "open"))
        return cmd_open(argc - 2, argv + 2);
    if (argc == 4 && !strcmp(argv[1], "forget"))
        return cmd_forget(argv[2], argv[3]);
    fprintf(stderr, "usage: cdc-kafka-log open PARTITION_DIR...\n"
                    "       cdc-kafka-log forget DATA_DIR TRANSACTIONAL_ID\n");
    return 2;
}

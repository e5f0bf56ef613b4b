/*
 * `cdc-agent duplicates -c FILE --source NAME --table T --match COL[,COL...] [--json]`: reads the
 * table as the source publishes it (one consistent read, chunk by chunk in key order, the table's
 * transforms applied) and prints the groups of rows whose match columns hold the same values,
 * with their keys. The same normalized values are what a linked route's match_on compares, so
 * this shows which records two-way sync would link instead of duplicating. Rows with a null or
 * empty match value are counted and left out. Progress goes to stderr every second.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/admin.h"
#include "cdc/clock.h"
#include "cdc/connector.h"
#include "cdc/json.h"
#include "cdc/transform.h"

#define SHOWN_PER_GROUP 20

typedef struct {
    const char *values; /* JSON object of the match values: the group's identity */
    const char *key;    /* JSON object of the row's key */
    size_t seq;         /* read order (key order): the order within a group */
} dup_row_t;

typedef struct {
    const cdc_transforms_t *tx;
    char **match;
    size_t n_match;
    const char *table;
    cdc_tx_work_t work;
    cdc_arena_t arena;
    cdc_buf_t buf;
    dup_row_t *rows;
    size_t n_rows, cap;
    uint64_t read, unmatched;
    int64_t next_progress_ms;
    bool progress;
    cdc_errstr_t *es;
} dup_t;

static cdc_err_t
on_row(void *ctx, const cdc_event_t *ev, uint64_t total)
{
    dup_t *d = ctx;
    cdc_row_t row = ev->after;
    cdc_tx_invalid_t inv;
    if (d->tx && d->tx->n)
        cdc_transforms_apply(d->tx, &ev->after, false, &d->work, &row, NULL, &inv);
    d->read++;
    cdc_buf_reset(&d->buf);
    cdc_buf_putc(&d->buf, '{');
    bool empty = false;
    for (size_t i = 0; i < d->n_match; i++) {
        const cdc_column_t *c = cdc_row_find(&row, d->match[i]);
        if (!c) {
            cdc_buf_t names;
            cdc_buf_init(&names);
            for (size_t k = 0; k < row.n; k++)
                cdc_buf_printf(&names, "%s%s", k ? ", " : "", row.cols[k].name);
            cdc_errstr_set(d->es, CDC_ERR_INVAL,
                           "--match: %s has no column '%s' after its transforms (it has: %s)",
                           d->table, d->match[i], names.data ? names.data : "");
            cdc_buf_deinit(&names);
            return CDC_ERR_INVAL;
        }
        empty |=
            c->value.type == CDC_VAL_NULL || (c->value.type == CDC_VAL_STRING && c->value.s.n == 0);
        if (i)
            cdc_buf_putc(&d->buf, ',');
        cdc_json_write_string_lossy(&d->buf, d->match[i], strlen(d->match[i]));
        cdc_buf_putc(&d->buf, ':');
        if (c->value.type == CDC_VAL_STRING)
            cdc_json_write_string_lossy(&d->buf, c->value.s.p, c->value.s.n);
        else
            cdc_value_write_json(&d->buf, &c->value, d->es);
    }
    cdc_buf_putc(&d->buf, '}');
    if (empty) {
        d->unmatched++;
    } else {
        if (d->n_rows == d->cap) {
            d->cap = d->cap ? d->cap * 2 : 1024;
            d->rows = cdc_xrealloc(d->rows, d->cap * sizeof(*d->rows));
        }
        dup_row_t *r = &d->rows[d->n_rows];
        r->seq = d->n_rows++;
        r->values = cdc_arena_strndup(&d->arena, d->buf.data, d->buf.len);
        cdc_buf_reset(&d->buf);
        cdc_event_key_encode(ev, &d->buf, d->es);
        r->key = cdc_arena_strndup(&d->arena, d->buf.data, d->buf.len);
    }
    int64_t now = cdc_mono_ms();
    if (d->progress && now >= d->next_progress_ms) {
        d->next_progress_ms = now + 1000;
        if (total)
            fprintf(stderr, "duplicates: read %llu of about %llu rows (%.0f%%)\n",
                    (unsigned long long)d->read, (unsigned long long)total,
                    d->read >= total ? 100.0 : 100.0 * (double)d->read / (double)total);
        else
            fprintf(stderr, "duplicates: read %llu rows\n", (unsigned long long)d->read);
    }
    return CDC_OK;
}

static int
by_values(const void *a, const void *b)
{
    const dup_row_t *x = a, *y = b;
    int c = strcmp(x->values, y->values);
    return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

typedef struct {
    size_t first, count;
} group_t;

static int
by_count(const void *a, const void *b)
{
    const group_t *x = a, *y = b;
    return x->count != y->count ? (x->count < y->count) - (x->count > y->count)
                                : (x->first > y->first) - (x->first < y->first);
}

static void
print(const dup_t *d, const cdc_cli_t *cli, const group_t *g, size_t n_groups, FILE *out)
{
    size_t in_groups = 0;
    for (size_t i = 0; i < n_groups; i++)
        in_groups += g[i].count;
    if (cli->json) {
        fprintf(out, "{\"source\":");
        cdc_buf_t b;
        cdc_buf_init(&b);
        cdc_json_write_string_lossy(&b, cli->source, strlen(cli->source));
        cdc_buf_puts(&b, ",\"table\":");
        cdc_json_write_string_lossy(&b, cli->table, strlen(cli->table));
        cdc_buf_puts(&b, ",\"match\":[");
        for (size_t i = 0; i < d->n_match; i++) {
            if (i)
                cdc_buf_putc(&b, ',');
            cdc_json_write_string_lossy(&b, d->match[i], strlen(d->match[i]));
        }
        fprintf(out, "%.*s],\"rows\":%llu,\"unmatched\":%llu,\"duplicate_rows\":%zu,\"groups\":[",
                (int)b.len, b.data, (unsigned long long)d->read, (unsigned long long)d->unmatched,
                in_groups);
        cdc_buf_deinit(&b);
        for (size_t i = 0; i < n_groups; i++) {
            fprintf(out, "%s{\"count\":%zu,\"values\":%s,\"keys\":[", i ? "," : "", g[i].count,
                    d->rows[g[i].first].values);
            for (size_t k = 0; k < g[i].count; k++)
                fprintf(out, "%s%s", k ? "," : "", d->rows[g[i].first + k].key);
            fputs("]}", out);
        }
        fputs("]}\n", out);
        return;
    }
    fprintf(out, "%s %s: %llu row%s read; %zu row%s in %zu group%s with the same %s", cli->source,
            cli->table, (unsigned long long)d->read, d->read == 1 ? "" : "s", in_groups,
            in_groups == 1 ? "" : "s", n_groups, n_groups == 1 ? "" : "s", cli->match);
    fprintf(out, " (after the table's transforms)");
    if (d->unmatched)
        fprintf(out, "; %llu row%s with no value to match", (unsigned long long)d->unmatched,
                d->unmatched == 1 ? "" : "s");
    fputc('\n', out);
    for (size_t i = 0; i < n_groups; i++) {
        fprintf(out, "  %zu rows  %s\n", g[i].count, d->rows[g[i].first].values);
        for (size_t k = 0; k < g[i].count && k < SHOWN_PER_GROUP; k++)
            fprintf(out, "           %s\n", d->rows[g[i].first + k].key);
        if (g[i].count > SHOWN_PER_GROUP)
            fprintf(out, "           ... and %zu more\n", g[i].count - SHOWN_PER_GROUP);
    }
}

int
cdc_admin_duplicates(const cdc_config_t *cfg, const cdc_cli_t *cli, FILE *out)
{
    const cdc_source_conf_t *src = cdc_admin_source(cfg, cli->source);
    if (!src)
        return CDC_EXIT_USAGE;
    size_t t = 0;
    while (t < src->n_tables && strcmp(src->tables[t], cli->table))
        t++;
    if (t == src->n_tables) {
        fprintf(stderr, "cdc-agent: source %s does not capture %s (its tables:", src->name,
                cli->table);
        for (size_t i = 0; i < src->n_tables; i++)
            fprintf(stderr, " %s", src->tables[i]);
        fprintf(stderr, ")\n");
        return CDC_EXIT_USAGE;
    }
    const cdc_connector_t *k = cdc_connector_find(src->type);
    cdc_errstr_t es = {{0}};
    dup_t d = {.tx = src->table_transforms ? &src->table_transforms[t] : NULL,
               .table = cli->table,
               .progress = true,
               .es = &es};
    for (const char *p = cli->match; *p;) { /* COL[,COL...] */
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        d.match = cdc_xrealloc(d.match, (d.n_match + 1) * sizeof(char *));
        d.match[d.n_match++] = cdc_xstrndup(p, n);
        p += n + (comma != NULL);
    }
    cdc_tx_work_init(&d.work);
    cdc_arena_init(&d.arena);
    cdc_buf_init(&d.buf);
    d.next_progress_ms = cdc_mono_ms() + 1000;
    cdc_err_t err = k && k->source_read
                        ? k->source_read(src, cli->table, on_row, &d, &es)
                        : cdc_errstr_set(&es, CDC_ERR_INVAL, "not supported for this source");
    int rc = CDC_EXIT_OK;
    if (err) {
        fprintf(stderr, "cdc-agent: duplicates: %s\n", es.msg);
        rc = err == CDC_ERR_INVAL ? CDC_EXIT_USAGE : CDC_EXIT_FAILURE;
    } else {
        qsort(d.rows, d.n_rows, sizeof(*d.rows), by_values);
        group_t *g = cdc_xcalloc(d.n_rows / 2 + 1, sizeof(*g));
        size_t n_groups = 0;
        for (size_t i = 0; i < d.n_rows;) {
            size_t j = i + 1;
            while (j < d.n_rows && !strcmp(d.rows[j].values, d.rows[i].values))
                j++;
            if (j - i > 1)
                g[n_groups++] = (group_t){i, j - i};
            i = j;
        }
        qsort(g, n_groups, sizeof(*g), by_count);
        print(&d, cli, g, n_groups, out);
        free(g);
    }
    for (size_t i = 0; i < d.n_match; i++)
        free(d.match[i]);
    free(d.match);
    free(d.rows);
    cdc_tx_work_deinit(&d.work);
    cdc_arena_deinit(&d.arena);
    cdc_buf_deinit(&d.buf);
    return rc;
}

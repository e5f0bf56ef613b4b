/*
 * Binlog parser and row-image decoder on a real MariaDB 10.11 binlog (tests/fixtures/
 * mariadb_binlog.bin, made by tests/fixtures/capture_binlog.sh): the event sequence, TABLE_MAP
 * optional metadata, every value of the type table in canonical JSON, and truncated events.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "binlog.h"
#include "mysql_conn.h"

#define MAX_EVENTS 128

typedef struct {
    const uint8_t *p;
    size_t n;
} raw_t;

static uint8_t *file;
static raw_t events[MAX_EVENTS];
static size_t n_events;

static int
load_events(void **state)
{
    FILE *f = fopen(CDC_FIXTURES "/mariadb_binlog.bin", "rb");
    if (!f)
        return -1;
    static uint8_t buf[1 << 20];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    file = buf;
    if (n < 4 || memcmp(buf,
                        "\xfe"
                        "bin",
                        4) != 0)
        return -1;
    for (size_t pos = 4; pos + 19 <= n && n_events < MAX_EVENTS;) {
        uint32_t size =
            buf[pos + 9] | buf[pos + 10] << 8 | buf[pos + 11] << 16 | (uint32_t)buf[pos + 12] << 24;
        if (size < 19 || pos + size > n)
            return -1;
        events[n_events++] = (raw_t){buf + pos, size};
        pos += size;
    }
    return n_events ? 0 : -1;
}

/* Collations of the fixture: utf8mb4 (45 default, 46, 224..), latin1 (8), binary (63). */
static const char *
charset_of(uint16_t coll)
{
    if (coll == 63)
        return "binary";
    if (coll == 8 || coll == 47 || coll == 48 || coll == 49)
        return "latin1";
    if (coll == 33 || coll == 83 || (coll >= 192 && coll <= 215))
        return "utf8mb3";
    return "utf8mb4";
}

typedef struct {
    cdc_binlog_format_t fmt;
    cdc_binlog_table_t table;
    char seq[256]; /* one letter per event handled */
    size_t n_seq;
    char rows[8192]; /* decoded rows, one per line */
    size_t n_rows;
    int zero_dates;
} walk_t;

static void
append_row(walk_t *w, char kind, const cdc_binlog_table_t *t, const cdc_binlog_cell_t *cells)
{
    cdc_buf_t b;
    cdc_buf_init(&b);
    cdc_arena_t a;
    cdc_arena_init(&a);
    cdc_buf_printf(&b, "%c %.*s {", kind, (int)t->table.n, (const char *)t->table.p);
    for (uint32_t k = 0; k < t->ncols; k++) {
        const cdc_binlog_col_t *col = &t->cols[k];
        cdc_my_text_t text;
        cdc_errstr_t es = {{0}};
        assert_int_equal(cdc_my_text_for(charset_of(col->charset), &text, &es), CDC_OK);
        bool json = col->name.n == 1 && col->name.p[0] == 'j';
        cdc_value_t v;
        bool zero = false;
        cdc_err_t err = cdc_my_value(col, &text, json, &cells[k], &a, &v, &zero, &es);
        if (err)
            fail_msg("column %.*s: %s", (int)col->name.n, (const char *)col->name.p, es.msg);
        w->zero_dates += zero;
        if (k)
            cdc_buf_putc(&b, ',');
        cdc_buf_printf(&b, "%.*s:", (int)col->name.n, (const char *)col->name.p);
        assert_int_equal(cdc_value_write_json(&b, &v, &es), CDC_OK);
        cdc_my_text_close(&text);
    }
    cdc_buf_puts(&b, "}\n");
    assert_true(w->n_rows + b.len < sizeof(w->rows));
    memcpy(w->rows + w->n_rows, b.data, b.len);
    w->n_rows += b.len;
    w->rows[w->n_rows] = '\0';
    cdc_buf_deinit(&b);
    cdc_arena_deinit(&a);
}

static void
walk(walk_t *w)
{
    memset(w, 0, sizeof(*w));
    w->fmt.checksum = true; /* the server writes CRC32 (confirmed by the FORMAT_DESCRIPTION) */
    for (size_t i = 0; i < n_events; i++) {
        cdc_binlog_event_t ev;
        cdc_errstr_t es = {{0}};
        if (events[i].p[4] == CDC_BL_FORMAT_DESCRIPTION)
            assert_int_equal(cdc_binlog_fde(events[i].p, events[i].n, &w->fmt, &es), CDC_OK);
        assert_int_equal(cdc_binlog_event_parse(events[i].p, events[i].n, &w->fmt, &ev, &es),
                         CDC_OK);
        char c = '?';
        switch (ev.type) {
        case CDC_BL_FORMAT_DESCRIPTION:
            c = 'F';
            break;
        case CDC_BL_GTID_LIST: {
            cdc_binlog_gtid_t g[4];
            size_t n;
            assert_int_equal(cdc_binlog_gtid_list(&ev, g, 4, &n, &es), CDC_OK);
            c = 'L';
            break;
        }
        case CDC_BL_GTID_MARIADB: {
            cdc_binlog_gtid_t g;
            assert_int_equal(cdc_binlog_gtid(&ev, &g, &es), CDC_OK);
            assert_int_equal(g.domain, 0);
            assert_int_equal(g.server_id, 1);
            c = g.standalone ? 'g' : 'G';
            break;
        }
        case CDC_BL_QUERY: {
            cdc_binlog_query_t q;
            assert_int_equal(cdc_binlog_query(&ev, &q, &es), CDC_OK);
            c = q.query.n >= 5 && !memcmp(q.query.p, "BEGIN", 5) ? 'B' : 'Q';
            break;
        }
        case CDC_BL_TABLE_MAP:
            assert_int_equal(cdc_binlog_table_map(&ev, &w->fmt, &w->table, &es), CDC_OK);
            assert_true(w->table.has_names); /* binlog_row_metadata=FULL */
            assert_int_equal(w->table.n_key, 1);
            assert_int_equal(w->table.key_order[0], 0);
            assert_true(w->table.cols[0].key && !w->table.cols[0].nullable);
            c = 'T';
            break;
        case CDC_BL_WRITE_ROWS_V1:
        case CDC_BL_UPDATE_ROWS_V1:
        case CDC_BL_DELETE_ROWS_V1: {
            cdc_binlog_rows_t r;
            assert_int_equal(cdc_binlog_rows(&ev, &r, &es), CDC_OK);
            assert_int_equal(r.table_id, w->table.table_id);
            cdc_binlog_cell_t cells[64];
            bool more = true;
            while (more) {
                if (cdc_binlog_row_next(&r, &w->table, false, cells, &more, &es))
                    fail_msg("%s", es.msg);
                if (!more)
                    break;
                if (r.kind == 'u') {
                    append_row(w, 'b', &w->table, cells);
                    assert_int_equal(cdc_binlog_row_next(&r, &w->table, true, cells, &more, &es),
                                     CDC_OK);
                    assert_true(more);
                }
                append_row(w, r.kind, &w->table, cells);
            }
            c = "WUD"[ev.type - CDC_BL_WRITE_ROWS_V1];
            break;
        }
        case CDC_BL_XID:
            c = 'X';
            break;
        case CDC_BL_ANNOTATE_ROWS:
            c = 'A';
            break;
        case CDC_BL_ROTATE: {
            cdc_binlog_rotate_t r;
            assert_int_equal(cdc_binlog_rotate(&ev, &r, &es), CDC_OK);
            assert_int_equal(r.position, 4);
            assert_int_equal(r.file.n, strlen("binlog.000002"));
            c = 'R';
            break;
        }
        case 161: /* BINLOG_CHECKPOINT */
            c = 'C';
            break;
        default:
            break;
        }
        w->seq[w->n_seq++] = c;
    }
    cdc_binlog_table_free(&w->table);
}

/* Every row of the fixture decoded to canonical JSON equals tests/fixtures/mariadb_binlog.rows
 * (checked by hand against the INSERTs of capture_binlog.sh). */
static void
test_decode(void **state)
{
    walk_t w;
    walk(&w);
    assert_string_equal(w.seq, "FLCCgQGATWXGATWXGATWXGATUXGATUXGATDXgQGATWATUXgQGATWXgQR");
    assert_int_equal(w.zero_dates, 3);
    if (getenv("CDC_UPDATE_GOLDEN")) { /* after capture_binlog.sh; then check the file by hand */
        FILE *g = fopen(CDC_FIXTURES "/mariadb_binlog.rows", "w");
        assert_non_null(g);
        fputs(w.rows, g);
        fclose(g);
    }
    FILE *f = fopen(CDC_FIXTURES "/mariadb_binlog.rows", "r");
    assert_non_null(f);
    static char want[8192];
    size_t n = fread(want, 1, sizeof(want) - 1, f);
    fclose(f);
    want[n] = '\0';
    assert_string_equal(w.rows, want);
}

/* Every proper prefix of every event is refused with an error, never read past (ASan build). */
static void
test_truncated(void **state)
{
    cdc_binlog_format_t fmt = {.checksum = true, .mariadb = true};
    cdc_binlog_table_t t = {0};
    for (size_t i = 0; i < n_events; i++) {
        for (size_t len = 0; len < events[i].n; len++) {
            uint8_t *copy = malloc(len ? len : 1);
            memcpy(copy, events[i].p, len);
            if (len >= 13) { /* keep the header's size consistent so the body parsers run */
                copy[9] = (uint8_t)len;
                copy[10] = (uint8_t)(len >> 8);
                copy[11] = copy[12] = 0;
            }
            cdc_binlog_event_t ev;
            cdc_errstr_t es = {{0}};
            if (cdc_binlog_event_parse(copy, len, &fmt, &ev, &es) == CDC_OK) {
                cdc_err_t err = CDC_OK;
                cdc_binlog_query_t q;
                cdc_binlog_gtid_t g;
                cdc_binlog_rows_t r;
                switch (ev.type) {
                case CDC_BL_QUERY:
                    err = cdc_binlog_query(&ev, &q, &es);
                    break;
                case CDC_BL_GTID_MARIADB:
                    err = cdc_binlog_gtid(&ev, &g, &es);
                    break;
                case CDC_BL_TABLE_MAP:
                    err = cdc_binlog_table_map(&ev, &fmt, &t, &es);
                    break;
                case CDC_BL_WRITE_ROWS_V1:
                case CDC_BL_UPDATE_ROWS_V1:
                case CDC_BL_DELETE_ROWS_V1:
                    err = cdc_binlog_rows(&ev, &r, &es);
                    break;
                default:
                    break;
                }
                (void)err; /* a shorter body may still be well-formed; it must not overrun */
            } else {
                assert_true(es.msg[0] != '\0');
            }
            free(copy);
        }
    }
    cdc_binlog_table_free(&t);
}

/* Row images cut short are refused with "truncated", not decoded from the bytes after them. */
static void
test_truncated_rows(void **state)
{
    cdc_binlog_format_t fmt = {.checksum = true, .mariadb = true};
    cdc_binlog_table_t t = {0};
    int refused = 0;
    for (size_t i = 0; i < n_events; i++) {
        cdc_binlog_event_t ev;
        cdc_errstr_t es = {{0}};
        assert_int_equal(cdc_binlog_event_parse(events[i].p, events[i].n, &fmt, &ev, &es), CDC_OK);
        if (ev.type == CDC_BL_TABLE_MAP)
            assert_int_equal(cdc_binlog_table_map(&ev, &fmt, &t, &es), CDC_OK);
        if (ev.type != CDC_BL_WRITE_ROWS_V1)
            continue;
        cdc_binlog_rows_t full;
        assert_int_equal(cdc_binlog_rows(&ev, &full, &es), CDC_OK);
        for (size_t cut = 1; cut < full.rows.n; cut++) {
            cdc_binlog_rows_t r = full;
            r.rows.n = cut;
            cdc_binlog_cell_t cells[64];
            bool more;
            cdc_err_t err = CDC_OK;
            do
                err = cdc_binlog_row_next(&r, &t, false, cells, &more, &es);
            while (!err && more);
            if (err) {
                assert_non_null(strstr(es.msg, "truncated"));
                refused++;
            }
        }
    }
    assert_true(refused > 100);
    cdc_binlog_table_free(&t);
}

/* DECIMAL's packed groups are written without printf: every digit of a group, its zeros, and a
 * group holding more than its digits (a corrupt value) refused instead of written past the text. */
static void
check_decimal(unsigned precision, unsigned scale, const uint8_t *bytes, size_t n, const char *want)
{
    cdc_binlog_col_t col = {.type = CDC_MT_NEWDECIMAL, .meta = (uint16_t)(precision << 8 | scale)};
    cdc_binlog_cell_t cell = {.present = true, .v = {bytes, n}};
    cdc_my_text_t text;
    cdc_errstr_t es = {{0}};
    assert_int_equal(cdc_my_text_for("binary", &text, &es), CDC_OK);
    cdc_arena_t a;
    cdc_arena_init(&a);
    cdc_value_t v;
    bool zero = false;
    cdc_err_t err = cdc_my_value(&col, &text, false, &cell, &a, &v, &zero, &es);
    if (!want) {
        assert_int_equal(err, CDC_ERR_PARSE);
    } else {
        assert_int_equal(err, CDC_OK);
        assert_int_equal(v.s.n, strlen(want));
        assert_memory_equal(v.s.p, want, v.s.n);
    }
    cdc_arena_deinit(&a);
    cdc_my_text_close(&text);
}

static void
test_decimal_groups(void **state)
{
    const uint8_t max9[] = {0x80, 0x3B, 0x9A, 0xC9, 0xFF}; /* DECIMAL(10,0): 0 | 999999999 */
    check_decimal(10, 0, max9, sizeof(max9), "999999999");
    const uint8_t over9[] = {0x80, 0x3B, 0x9A, 0xCA, 0x00}; /* 1000000000 in a 9-digit group */
    check_decimal(10, 0, over9, sizeof(over9), NULL);
    const uint8_t zeros[] = {0x81, 0x00, 0x00, 0x00, 0x07, 0x05}; /* DECIMAL(12,2) */
    check_decimal(12, 2, zeros, sizeof(zeros), "1000000007.05");
    const uint8_t neg[] = {0x81 ^ 0xFF, 0xFF, 0xFF, 0xFF, 0x07 ^ 0xFF, 0x05 ^ 0xFF};
    check_decimal(12, 2, neg, sizeof(neg), "-1000000007.05");
    const uint8_t frac_over[] = {0x81, 0x00, 0x00, 0x00, 0x07, 0x64}; /* .100 in two digits */
    check_decimal(12, 2, frac_over, sizeof(frac_over), NULL);
    const uint8_t lead_over[] = {0x8A, 0x00, 0x00, 0x00, 0x07, 0x05}; /* 10 in a 1-digit group */
    check_decimal(12, 2, lead_over, sizeof(lead_over), NULL);
    const uint8_t small[] = {0x80, 0x00, 0x00, 0x00, 0x00, 0x00}; /* 0.00 */
    check_decimal(12, 2, small, sizeof(small), "0.00");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_decimal_groups),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_truncated_rows),
    };
    return cmocka_run_group_tests(tests, load_events, NULL);
}

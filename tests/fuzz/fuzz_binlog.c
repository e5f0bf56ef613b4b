/*
 * libFuzzer target: binlog events and row images through event encoding, as the MariaDB / MySQL
 * source does them. The input's first byte sets the format (bit 0: MariaDB, bit 3: events end
 * in a CRC32, as a FORMAT_DESCRIPTION may also say; the replication connection checks the CRC, the
 * parser only steps over it); then come events, each a 2-byte big-endian length and its bytes
 * (the seeds are a real MariaDB binlog's events: tests/fuzz/seeds.py). TABLE_MAPs are kept by
 * table id; each row image of a rows event is read cell by cell, every present cell converted to
 * a canonical value (UTF-8 text, binary or latin1 by the first byte's bit 1 and 2), and the rows
 * built into an event that must survive an encode/decode/encode round trip unchanged.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binlog.h"
#include "cdc/event.h"
#include "fuzz_common.h"
#include "mysql_conn.h"

#define MAX_TABLES 4

typedef struct {
    bool used;
    uint8_t *raw; /* the TABLE_MAP's bytes, which the parsed table points into */
    cdc_binlog_table_t t;
} table_t;

static table_t *
table_for(table_t *ts, uint64_t id)
{
    for (int i = 0; i < MAX_TABLES; i++)
        if (ts[i].used && ts[i].t.table_id == id)
            return &ts[i];
    return NULL;
}

static void
rows_event(const cdc_binlog_event_t *ev, table_t *ts, const cdc_my_text_t *text)
{
    cdc_binlog_rows_t r;
    cdc_errstr_t es = {{0}};
    if (cdc_binlog_rows(ev, &r, &es))
        return;
    table_t *tb = table_for(ts, r.table_id);
    if (!tb)
        return;
    const cdc_binlog_table_t *t = &tb->t;
    cdc_binlog_cell_t *cells = calloc(t->ncols + 1, sizeof(*cells));
    cdc_column_t *cols = calloc(t->ncols + 1, sizeof(*cols));
    char(*names)[16] = calloc(t->ncols + 1, sizeof(*names));
    cdc_arena_t arena;
    cdc_arena_init(&arena);
    for (int image = 0; image < 64; image++) {
        bool more = false;
        bool after = r.kind == 'u' && image % 2 == 1;
        if (cdc_binlog_row_next(&r, t, after, cells, &more, &es) || !more)
            break;
        size_t n = 0;
        cdc_arena_reset(&arena);
        for (uint32_t i = 0; i < t->ncols; i++) {
            if (!cells[i].present)
                continue;
            bool zero_date = false;
            snprintf(names[n], sizeof(names[n]), "c%u", (unsigned)i);
            cols[n].name = names[n];
            if (cdc_my_value(&t->cols[i], text, false, &cells[i], &arena, &cols[n].value,
                             &zero_date, &es))
                continue; /* refused: the source stops on it with this error */
            n++;
        }
        cdc_event_t e = {
            .version = CDC_EVENT_VERSION,
            .op = r.kind == 'w'   ? CDC_OP_CREATE
                  : r.kind == 'd' ? CDC_OP_DELETE
                                  : CDC_OP_UPDATE,
            .source = {.system = "erp",
                       .connector = CDC_CONNECTOR_MYSQL,
                       .db = "fuzz",
                       .table = "t",
                       .pos = "v1:00000001:0000000000000001:0000000000000004:1:00000000",
                       .file = "binlog.000001",
                       .offset = 4},
            .key = {true, cols, n ? 1 : 0},
            .after = {r.kind != 'd', cols, n},
            .before = {r.kind == 'd', cols, n}};
        fuzz_event_round_trip(&e);
    }
    cdc_arena_deinit(&arena);
    free(names);
    free(cols);
    free(cells);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    cdc_binlog_format_t fmt = {.checksum = data[0] & 8, .mariadb = data[0] & 1};
    cdc_my_text_t text;
    cdc_errstr_t es = {{0}};
    cdc_my_text_for(data[0] & 2 ? "binary" : data[0] & 4 ? "latin1" : "utf8mb4", &text, &es);
    table_t ts[MAX_TABLES] = {{0}};
    int next_slot = 0;
    size_t at = 1, len;
    uint8_t *raw;
    while ((raw = (uint8_t *)fuzz_next_frame(data, size, &at, &len))) {
        cdc_binlog_event_t ev;
        bool kept = false;
        if (!cdc_binlog_event_parse(raw, len, &fmt, &ev, &es)) {
            switch (ev.type) {
            case CDC_BL_FORMAT_DESCRIPTION:
                cdc_binlog_fde(raw, len, &fmt, &es);
                break;
            case CDC_BL_ROTATE: {
                cdc_binlog_rotate_t rot;
                cdc_binlog_rotate(&ev, &rot, &es);
                break;
            }
            case CDC_BL_QUERY: {
                cdc_binlog_query_t q;
                cdc_binlog_query(&ev, &q, &es);
                break;
            }
            case CDC_BL_GTID_MARIADB: {
                cdc_binlog_gtid_t g;
                cdc_binlog_gtid(&ev, &g, &es);
                break;
            }
            case CDC_BL_GTID_LIST: {
                cdc_binlog_gtid_t g[8];
                size_t n = 0;
                cdc_binlog_gtid_list(&ev, g, 8, &n, &es);
                break;
            }
            case CDC_BL_TABLE_MAP: {
                table_t *tb = &ts[next_slot];
                next_slot = (next_slot + 1) % MAX_TABLES;
                if (!cdc_binlog_table_map(&ev, &fmt, &tb->t, &es)) {
                    free(tb->raw);
                    tb->raw = raw; /* the table's spans point into it */
                    tb->used = kept = true;
                } else {
                    tb->used = false;
                }
                break;
            }
            case CDC_BL_WRITE_ROWS:
            case CDC_BL_UPDATE_ROWS:
            case CDC_BL_DELETE_ROWS:
            case CDC_BL_WRITE_ROWS_V1:
            case CDC_BL_UPDATE_ROWS_V1:
            case CDC_BL_DELETE_ROWS_V1:
                rows_event(&ev, ts, &text);
                break;
            default:
                break;
            }
        }
        if (!kept)
            free(raw);
    }
    for (int i = 0; i < MAX_TABLES; i++) {
        cdc_binlog_table_free(&ts[i].t);
        free(ts[i].raw);
    }
    cdc_my_text_close(&text);
    return 0;
}

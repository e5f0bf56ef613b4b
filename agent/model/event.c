/*
 * Canonical event encoder. Field order is fixed (v, op, source, key, before, before_partial, after,
 * unchanged, txn, sv) so equal events are equal bytes; tests/fixtures/events.golden pins it.
 */
#include "cdc/event.h"

#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include "cdc/json.h"
#include "cdc/position.h"

const char *
cdc_connector_kind_name(cdc_connector_kind_t k)
{
    switch (k) {
    case CDC_CONNECTOR_POSTGRESQL:
        return "postgresql";
    case CDC_CONNECTOR_MYSQL:
        return "mysql";
    default:
        return NULL;
    }
}

const cdc_column_t *
cdc_row_find(const cdc_row_t *row, const char *name)
{
    for (size_t i = 0; i < row->n; i++)
        if (strcmp(row->cols[i].name, name) == 0)
            return &row->cols[i];
    return NULL;
}

/* Writes a quoted name that comes from the source (any UTF-8); what names it in errors. */
static cdc_err_t
put_name(cdc_buf_t *b, const char *name, cdc_errstr_t *es, const char *what)
{
    size_t bad = 0;
    if (!name)
        return cdc_errstr_set(es, CDC_ERR_INVAL, "%s missing", what);
    if (cdc_json_write_string(b, name, strlen(name), &bad))
        return cdc_errstr_set(es, CDC_ERR_UTF8, "%s: invalid utf-8 at byte %zu", what, bad);
    return CDC_OK;
}

/* Column names encoded on this thread, by the address of the name: a row writes the same names
 * again and again, and copying "\"first_name\"" costs a fraction of checking and escaping it.
 * Only names that need no escaping are kept (the text is the name in quotes), and an entry is
 * used only while its name is still the same bytes (a table's names can be freed and their
 * memory reused), so a stale address can cost a miss, never a wrong name. Open addressing: an
 * address hashes to a slot and may sit in the next NAME_PROBE ones. */
#define NAME_BITS    8
#define NAME_SLOTS   (1u << NAME_BITS)
#define NAME_PROBE   4
#define NAME_MAX_LEN 62
static _Thread_local struct {
    const char *addr;
    unsigned char len;
    char json[NAME_MAX_LEN + 2]; /* "name" */
} names[NAME_SLOTS];
static _Thread_local unsigned names_evict;

static cdc_err_t
put_column_name(cdc_buf_t *b, const char *name, cdc_errstr_t *es)
{
    if (!name)
        return put_name(b, name, es, "column name");
    /* names sit a few bytes apart in a table's memory: mix every address bit into the slot */
    size_t home = (size_t)(((uint64_t)(uintptr_t)name * 0x9E3779B97F4A7C15ULL) >> (64 - NAME_BITS));
    for (size_t k = 0; k < NAME_PROBE; k++) {
        size_t slot = (home + k) % NAME_SLOTS;
        if (names[slot].addr == name && !memcmp(names[slot].json + 1, name, names[slot].len) &&
            !name[names[slot].len]) {
            cdc_buf_append(b, names[slot].json, names[slot].len + 2u);
            return CDC_OK;
        }
    }
    size_t start = b->len, n = strlen(name);
    cdc_err_t err = put_name(b, name, es, "column name");
    if (err || n > NAME_MAX_LEN || b->len - start != n + 2)
        return err; /* escaped, or too long to keep */
    size_t slot = (home + names_evict++ % NAME_PROBE) % NAME_SLOTS;
    for (size_t k = 0; k < NAME_PROBE; k++)
        if (!names[(home + k) % NAME_SLOTS].addr) {
            slot = (home + k) % NAME_SLOTS;
            break;
        }
    names[slot].addr = name;
    names[slot].len = (unsigned char)n;
    memcpy(names[slot].json, b->data + start, n + 2);
    return CDC_OK;
}

static cdc_err_t
put_str_field(cdc_buf_t *b, const char *key, const char *val, cdc_errstr_t *es)
{
    cdc_buf_puts(b, ",\"");
    cdc_buf_puts(b, key);
    cdc_buf_puts(b, "\":");
    if (!val) {
        cdc_buf_puts(b, "null");
        return CDC_OK;
    }
    size_t bad = 0;
    if (cdc_json_write_string(b, val, strlen(val), &bad))
        return cdc_errstr_set(es, CDC_ERR_UTF8, "source.%s: invalid utf-8 at byte %zu", key, bad);
    return CDC_OK;
}

static cdc_err_t
put_row(cdc_buf_t *b, const cdc_row_t *row, cdc_errstr_t *es, const char *which)
{
    if (!row->present) {
        cdc_buf_puts(b, "null");
        return CDC_OK;
    }
    cdc_buf_putc(b, '{');
    for (size_t i = 0; i < row->n; i++) {
        const cdc_column_t *c = &row->cols[i];
        if (i)
            cdc_buf_putc(b, ',');
        cdc_err_t err = put_column_name(b, c->name, es);
        if (!err) {
            cdc_buf_putc(b, ':');
            err = cdc_value_write_json(b, &c->value, es);
        }
        if (err) {
            cdc_errstr_prefix(es, "%s.%s", which, c->name ? c->name : "?");
            return err;
        }
    }
    cdc_buf_putc(b, '}');
    return CDC_OK;
}

/* "source":{"system":..,"connector":..,"db":..[,"schema":..],"table":.. of the last table
 * encoded on this thread: the same for every event of a table, so kept encoded. */
#define PREFIX_NAME 128
static _Thread_local struct {
    cdc_connector_kind_t connector;
    char system[PREFIX_NAME], db[PREFIX_NAME], schema[PREFIX_NAME], table[PREFIX_NAME];
    size_t len;
    char text[6 * PREFIX_NAME]; /* len 0: nothing kept */
} prefix;

static bool
same(const char *kept, const char *s)
{
    return s ? !strcmp(kept, s) : !kept[0];
}

static bool
keep(char *dst, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n >= PREFIX_NAME)
        return false;
    memcpy(dst, s ? s : "", n + 1);
    return true;
}

static cdc_err_t
put_source_prefix(cdc_buf_t *b, const cdc_event_source_t *s, const char *conn, cdc_errstr_t *es)
{
    if (prefix.len && prefix.connector == s->connector && s->system && s->db && s->table &&
        same(prefix.system, s->system) && same(prefix.db, s->db) &&
        same(prefix.schema, s->schema) && same(prefix.table, s->table)) {
        cdc_buf_append(b, prefix.text, prefix.len);
        return CDC_OK;
    }
    size_t start = b->len;
    cdc_err_t err;
    cdc_buf_puts(b, "\"source\":{\"system\":");
    if ((err = put_name(b, s->system, es, "source.system")))
        return err;
    cdc_buf_puts(b, ",\"connector\":\"");
    cdc_buf_puts(b, conn);
    cdc_buf_putc(b, '"');
    if ((err = put_str_field(b, "db", s->db, es)))
        return err;
    if (s->connector == CDC_CONNECTOR_POSTGRESQL &&
        (err = put_str_field(b, "schema", s->schema, es)))
        return err;
    if ((err = put_str_field(b, "table", s->table, es)))
        return err;
    prefix.len = 0;
    if (b->len - start <= sizeof(prefix.text) && keep(prefix.system, s->system) &&
        keep(prefix.db, s->db) && keep(prefix.schema, s->schema) && keep(prefix.table, s->table)) {
        prefix.connector = s->connector;
        memcpy(prefix.text, b->data + start, b->len - start);
        prefix.len = b->len - start;
    }
    return CDC_OK;
}

static cdc_err_t
put_source(cdc_buf_t *b, const cdc_event_source_t *s, cdc_errstr_t *es)
{
    const char *conn = cdc_connector_kind_name(s->connector);
    if (!conn)
        return cdc_errstr_set(es, CDC_ERR_INVAL, "source.connector: unknown kind %d",
                              (int)s->connector);
    if (!s->pos || (!s->has_pos_v && !cdc_pos_valid(s->pos)))
        return cdc_errstr_set(es, CDC_ERR_INVAL, "source.pos: not a v1 position");
    cdc_err_t err = put_source_prefix(b, s, conn, es);
    if (err)
        return err;
    cdc_buf_puts(b, ",\"ts_ms\":");
    cdc_json_write_int(b, s->ts_ms);
    cdc_buf_puts(b,
                 s->snapshot ? ",\"snapshot\":true,\"pos\":\"" : ",\"snapshot\":false,\"pos\":\"");
    cdc_buf_puts(b, s->pos);
    cdc_buf_putc(b, '"');
    if (s->connector == CDC_CONNECTOR_POSTGRESQL) {
        char lsn[CDC_LSN_STRLEN];
        cdc_lsn_format(lsn, s->lsn);
        cdc_buf_puts(b, ",\"lsn\":\"");
        cdc_buf_puts(b, lsn);
        cdc_buf_puts(b, "\",\"txid\":");
        cdc_json_write_uint(b, s->txid);
    } else {
        if ((err = put_str_field(b, "file", s->file, es)))
            return err;
        cdc_buf_puts(b, ",\"offset\":");
        cdc_json_write_uint(b, s->offset);
        cdc_buf_puts(b, ",\"server_id\":");
        cdc_json_write_uint(b, s->server_id);
        if ((err = put_str_field(b, "gtid", s->gtid, es)))
            return err;
    }
    cdc_buf_putc(b, '}');
    return CDC_OK;
}

static bool
op_valid(cdc_op_t op)
{
    return op == CDC_OP_CREATE || op == CDC_OP_UPDATE || op == CDC_OP_DELETE || op == CDC_OP_READ ||
           op == CDC_OP_TRUNCATE;
}

cdc_err_t
cdc_event_encode(const cdc_event_t *ev, cdc_buf_t *out, cdc_errstr_t *es)
{
    cdc_err_t err;
    if (!op_valid(ev->op))
        return cdc_errstr_set(es, CDC_ERR_INVAL, "op: unknown op %d", (int)ev->op);
    _Static_assert(CDC_EVENT_VERSION == 1, "the envelope below spells version 1");
    char head[] = "{\"v\":1,\"op\":\"?\",";
    head[13] = (char)ev->op;
    cdc_buf_append(out, head, sizeof(head) - 1);
    if ((err = put_source(out, &ev->source, es)))
        return err;
    cdc_buf_puts(out, ",\"key\":");
    if ((err = put_row(out, &ev->key, es, "key")))
        return err;
    cdc_buf_puts(out, ",\"before\":");
    if ((err = put_row(out, &ev->before, es, "before")))
        return err;
    if (ev->before_partial)
        cdc_buf_puts(out, ",\"before_partial\":true");
    cdc_buf_puts(out, ",\"after\":");
    if ((err = put_row(out, &ev->after, es, "after")))
        return err;
    if (ev->n_unchanged) {
        cdc_buf_puts(out, ",\"unchanged\":[");
        for (size_t i = 0; i < ev->n_unchanged; i++) {
            if (i)
                cdc_buf_putc(out, ',');
            if ((err = put_name(out, ev->unchanged[i], es, "unchanged")))
                return err;
        }
        cdc_buf_putc(out, ']');
    }
    cdc_buf_puts(out, ",\"txn\":{\"id\":");
    if ((err = put_name(out, ev->txn_id ? ev->txn_id : "", es, "txn.id")))
        return err;
    cdc_buf_puts(out, ",\"seq\":");
    cdc_json_write_uint(out, ev->txn_seq);
    cdc_buf_puts(out, "},\"sv\":");
    cdc_json_write_int(out, ev->sv);
    cdc_buf_putc(out, '}');
    return CDC_OK;
}

cdc_err_t
cdc_event_key_encode(const cdc_event_t *ev, cdc_buf_t *out, cdc_errstr_t *es)
{
    return put_row(out, &ev->key, es, "key"); /* "null" for a table without a key */
}

/*
 * Schema versions for the _schemas topic (compacted; key = "<system>.<schema or db>.<table>").
 * Versions survive restarts: the last published structure of each table is read back at start,
 * and a structure gets a new version only when it differs. The schema record travels in the same
 * Kafka transaction as the first events that carry its version.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cdc/log.h"
#include "publisher_internal.h"

static json_t *
columns_json(const cdc_table_schema_t *s)
{
    json_t *cols = json_array();
    for (size_t i = 0; i < s->ncols; i++)
        json_array_append_new(cols, json_pack("{s:s, s:s, s:s, s:b, s:b}", "name", s->cols[i].name,
                                              "type", s->cols[i].type, "native",
                                              s->cols[i].native ? s->cols[i].native : "", "key",
                                              s->cols[i].key, "nullable", s->cols[i].nullable));
    return cols;
}

static void
schema_key(cdc_buf_t *b, const char *system, const char *schema, const char *table)
{
    cdc_buf_reset(b);
    cdc_buf_printf(b, "%s.%s.%s", system, schema, table);
}

static void
load_one(void *ctx, const rd_kafka_message_t *m)
{
    cdc_publisher_t *p = ctx;
    json_error_t jerr;
    json_t *v = m->payload ? json_loadb(m->payload, m->len, 0, &jerr) : NULL;
    const char *system = NULL, *schema = NULL, *table = NULL;
    json_int_t version = 0;
    json_t *cols = NULL;
    if (v &&
        !json_unpack(v, "{s:s, s:s, s:s, s:I, s:o}", "system", &system, "schema", &schema, "table",
                     &table, "version", &version, "columns", &cols) &&
        !strcmp(system, p->src->name)) {
        topic_t *t = cdc_publisher_topic_find(p, schema, table);
        if (t && version >= t->version) {
            free(t->columns);
            t->columns = json_dumps(cols, JSON_COMPACT);
            t->version = version;
        }
    }
    json_decref(v);
}

cdc_err_t
cdc_publisher_schemas_load(cdc_publisher_t *p, cdc_errstr_t *es)
{
    return cdc_topic_scan(&p->cfg->kafka, cdc_kafka_bus_bootstrap(p->bus), p->schemas_topic,
                          load_one, p, es);
}

cdc_err_t
cdc_publisher_schema_version(cdc_publisher_t *p, const cdc_table_schema_t *s, int64_t *version)
{
    const char *schema = s->schema ? s->schema : s->db;
    topic_t *t = cdc_publisher_topic_find(p, schema, s->table);
    if (!t)
        return CDC_ERR_INVAL;
    json_t *cols = columns_json(s);
    char *text = json_dumps(cols, JSON_COMPACT);
    if (t->columns && !strcmp(t->columns, text)) {
        *version = t->version;
        free(text);
        json_decref(cols);
        return CDC_OK;
    }
    t->version++;
    free(t->columns);
    t->columns = text;
    *version = t->version;
    json_t *key = json_array();
    for (size_t i = 0; i < s->ncols; i++)
        if (s->cols[i].key)
            json_array_append_new(key, json_string(s->cols[i].name));
    json_t *v = json_pack("{s:i, s:s, s:s, s:s, s:s, s:I, s:o, s:o}", "v", 1, "system", s->system,
                          "db", s->db ? s->db : "", "schema", schema, "table", s->table, "version",
                          (json_int_t)t->version, "columns", cols, "key", key);
    char *value = json_dumps(v, JSON_COMPACT);
    cdc_buf_t k, val = {value, strlen(value), 0};
    cdc_buf_init(&k);
    schema_key(&k, s->system, schema, s->table);
    cdc_publisher_batch_add(p->open, p->schemas_idx, RD_KAFKA_PARTITION_UA, &k, &val, 0, 's', NULL);
    CDC_LOG_INFO("source=%s table=%s.%s schema version=%lld", s->system, schema, s->table,
                 (long long)t->version);
    cdc_buf_deinit(&k);
    free(value);
    json_decref(v);
    return CDC_OK;
}

/*
 * A config file reduced to canonical text per part (agent, kafka, sources, each sink by name), so
 * SIGHUP can tell what changed: two files whose parts read the same give the same text, whatever
 * their comments, blank lines or flow/block style.
 */
#include "cdc/run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "cdc/buf.h"

static void
canon(yaml_document_t *d, yaml_node_t *n, cdc_buf_t *out)
{
    if (!n) {
        cdc_buf_puts(out, "~");
        return;
    }
    switch (n->type) {
    case YAML_SCALAR_NODE:
        cdc_buf_printf(out, "%zu:", n->data.scalar.length);
        cdc_buf_append(out, n->data.scalar.value, n->data.scalar.length);
        break;
    case YAML_SEQUENCE_NODE:
        cdc_buf_putc(out, '[');
        for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top;
             i++) {
            canon(d, yaml_document_get_node(d, *i), out);
            cdc_buf_putc(out, ',');
        }
        cdc_buf_putc(out, ']');
        break;
    case YAML_MAPPING_NODE:
        cdc_buf_putc(out, '{');
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
             p++) {
            canon(d, yaml_document_get_node(d, p->key), out);
            cdc_buf_putc(out, '=');
            canon(d, yaml_document_get_node(d, p->value), out);
            cdc_buf_putc(out, ',');
        }
        cdc_buf_putc(out, '}');
        break;
    default:
        break;
    }
}

static const char *
scalar(yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static bool
is_key(yaml_document_t *d, const yaml_node_pair_t *p, const char *key)
{
    const char *k = scalar(yaml_document_get_node(d, p->key));
    return k && !strcmp(k, key);
}

cdc_err_t
cdc_config_canon(const char *path, cdc_config_canon_t *out, cdc_errstr_t *es)
{
    memset(out, 0, sizeof(*out));
    FILE *f = fopen(path, "rb");
    if (!f)
        return cdc_errstr_set(es, CDC_ERR_CONFIG, "%s: cannot read it", path);
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    bool ok = yaml_parser_load(&parser, &doc);
    yaml_parser_delete(&parser);
    fclose(f);
    if (!ok)
        return cdc_errstr_set(es, CDC_ERR_CONFIG, "%s: not YAML", path);
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    cdc_buf_t b;
    cdc_buf_init(&b);
    for (yaml_node_pair_t *p =
             root && root->type == YAML_MAPPING_NODE ? root->data.mapping.pairs.start : NULL;
         p && p < root->data.mapping.pairs.top; p++) {
        const char *key = scalar(yaml_document_get_node(&doc, p->key));
        yaml_node_t *v = yaml_document_get_node(&doc, p->value);
        if (!key)
            continue;
        if (!strcmp(key, "sinks") && v && v->type == YAML_SEQUENCE_NODE) {
            for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top;
                 i++) {
                yaml_node_t *s = yaml_document_get_node(&doc, *i);
                const char *name = NULL;
                for (yaml_node_pair_t *q =
                         s && s->type == YAML_MAPPING_NODE ? s->data.mapping.pairs.start : NULL;
                     q && q < s->data.mapping.pairs.top; q++)
                    if (is_key(&doc, q, "name"))
                        name = scalar(yaml_document_get_node(&doc, q->value));
                cdc_buf_reset(&b);
                canon(&doc, s, &b);
                out->sinks = cdc_xrealloc(out->sinks, (out->n_sinks + 1) * sizeof(cdc_kv_t));
                out->sinks[out->n_sinks].key = cdc_xstrdup(name ? name : "");
                out->sinks[out->n_sinks++].value = cdc_xstrdup(b.data);
            }
            continue;
        }
        cdc_buf_reset(&b);
        canon(&doc, v, &b);
        char **slot = !strcmp(key, "agent")     ? &out->agent
                      : !strcmp(key, "kafka")   ? &out->kafka
                      : !strcmp(key, "sources") ? &out->sources
                                                : NULL;
        if (slot) {
            free(*slot);
            *slot = cdc_xstrdup(b.data);
        }
    }
    cdc_buf_deinit(&b);
    yaml_document_delete(&doc);
    return CDC_OK;
}

const char *
cdc_config_canon_sink(const cdc_config_canon_t *c, const char *name)
{
    for (size_t i = 0; i < c->n_sinks; i++)
        if (!strcmp(c->sinks[i].key, name))
            return c->sinks[i].value;
    return NULL;
}

void
cdc_config_canon_set_sink(cdc_config_canon_t *c, const char *name, const char *text)
{
    for (size_t i = 0; i < c->n_sinks; i++)
        if (!strcmp(c->sinks[i].key, name)) {
            free(c->sinks[i].value);
            c->sinks[i].value = cdc_xstrdup(text);
        }
}

void
cdc_config_canon_free(cdc_config_canon_t *c)
{
    free(c->agent);
    free(c->kafka);
    free(c->sources);
    for (size_t i = 0; i < c->n_sinks; i++) {
        free(c->sinks[i].key);
        free(c->sinks[i].value);
    }
    free(c->sinks);
    memset(c, 0, sizeof(*c));
}

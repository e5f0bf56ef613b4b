/*
 * Config schema: which keys exist where, their types, defaults and cross-checks (duplicate names,
 * topic collisions, secrets only from *_env / *_file). Node-level reading is in config_walk.c.
 */
#include "cdc/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <librdkafka/rdkafka.h>

#include "cdc/buf.h"
#include "cdc/json.h"
#include "cdc/sign.h"
#include "cdc/topic.h"
#include "config_internal.h"

const char *
cdc_config_split_table(const char *qualified, char *schema, size_t n)
{
    const char *dot = strchr(qualified, '.');
    size_t len = dot ? (size_t)(dot - qualified) : strlen(qualified);
    snprintf(schema, n, "%.*s", (int)len, qualified);
    return dot ? dot + 1 : "";
}

/* ---- agent ---------------------------------------------------------------------------------- */

static const char *const agent_keys[] = {"name",       "http",      "api",
                                         "log_format", "log_level", "shutdown_timeout_ms",
                                         "memory_mb",  "ha",        NULL};
static const char *const agent_required[] = {"name", NULL};
static const char *const api_keys[] = {"token_env",     "token_file",     "read_open",
                                       "tls_cert_file", "tls_key_file",   "rate_per_s",
                                       "burst",         "max_body_bytes", NULL};

static cdc_err_t
api_key(cfg_t *c, const char *key, yaml_node_t *v, const char *path, void *obj)
{
    cdc_api_conf_t *a = obj;
    if (!strcmp(key, "token_env") || !strcmp(key, "token_file")) {
        if (a->token)
            return cfg_fail(c, v, path, "set either token_env or token_file, not both");
        cdc_err_t err = key[6] == 'e' ? cfg_secret_env(c, v, path, &a->token)
                                      : cfg_secret_file(c, v, path, &a->token);
        if (!err && strlen(a->token) < 16)
            return cfg_fail(c, v, path, "the token is shorter than 16 characters");
        return err;
    }
    if (!strcmp(key, "read_open"))
        return cfg_bool(c, v, path, &a->read_open);
    if (!strcmp(key, "tls_cert_file")) /* read now: a file that cannot be read names its key */
        return cfg_secret_file(c, v, path, &a->tls_cert);
    if (!strcmp(key, "tls_key_file"))
        return cfg_secret_file(c, v, path, &a->tls_key);
    if (!strcmp(key, "rate_per_s"))
        return cfg_int32(c, v, path, 0, 100000, &a->rate_per_s);
    if (!strcmp(key, "burst"))
        return cfg_int32(c, v, path, 1, 100000, &a->burst);
    return cfg_int(c, v, path, 1024, 16777216, &a->max_body_bytes);
}

static cdc_err_t
agent_key(cfg_t *c, const char *key, yaml_node_t *v, const char *path, void *obj)
{
    cdc_agent_conf_t *a = obj;
    static const char *const formats[] = {"text", "json", NULL};
    static const char *const levels[] = {"debug", "info", "warn", "error", NULL};
    int e;
    cdc_err_t err;
    if (!strcmp(key, "name"))
        return cfg_name(c, v, path, &a->name);
    if (!strcmp(key, "http")) {
        if (cfg_is_null(v))
            return CDC_OK;
        if ((err = cfg_str(c, v, path, &a->http)))
            return err;
        const char *colon = strrchr(a->http, ':');
        uint64_t port = 0;
        return colon && cdc_parse_uint(colon + 1, strlen(colon + 1), 65535, &port) && port >= 1
                   ? CDC_OK
                   : cfg_fail(c, v, path, "expected host:port (a port from 1 to 65535)");
    }
    if (!strcmp(key, "shutdown_timeout_ms"))
        return cfg_int(c, v, path, 100, 3600000, &a->shutdown_timeout_ms);
    if (!strcmp(key, "memory_mb"))
        return cfg_int(c, v, path, 4, 1048576, &a->memory_mb);
    if (!strcmp(key, "ha"))
        return cfg_bool(c, v, path, &a->ha);
    if (!strcmp(key, "api")) {
        if ((err = cfg_map(c, v, path, api_keys, NULL, api_key, &a->api)))
            return err;
        if (!a->api.tls_cert != !a->api.tls_key)
            return cfg_fail(c, v, path, "set both tls_cert_file and tls_key_file, or neither");
        return CDC_OK;
    }
    if (!strcmp(key, "log_format")) {
        if (!(err = cfg_enum(c, v, path, formats, &e)))
            a->log_format = (cdc_log_format_t)e;
        return err;
    }
    if (!(err = cfg_enum(c, v, path, levels, &e)))
        a->log_level = (cdc_log_level_t)e;
    return err;
}

/* ---- kafka ---------------------------------------------------------------------------------- */

static const char *const kafka_keys[] = {"brokers",
                                         "topic_prefix",
                                         "tombstones",
                                         "max_event_bytes",
                                         "compression",
                                         "linger_ms",
                                         "partitions",
                                         "replication_factor",
                                         "security_protocol",
                                         "sasl_mechanism",
                                         "sasl_username",
                                         "sasl_password_env",
                                         "sasl_password_file",
                                         "ssl_ca_location",
                                         "ssl_certificate_location",
                                         "ssl_key_location",
                                         "ssl_key_password_env",
                                         "ssl_key_password_file",
                                         "signing_key_env",
                                         "signing_key_file",
                                         "properties",
                                         NULL};
static const char *const kafka_required[] = {"brokers", NULL};

/* librdkafka properties the agent sets itself (the contract depends on them) or that are secrets.
 */
static const char *const kafka_owned_props[] = {"bootstrap.servers",
                                                "metadata.broker.list",
                                                "transactional.id",
                                                "enable.idempotence",
                                                "isolation.level",
                                                "partitioner",
                                                "enable.auto.commit",
                                                "group.id",
                                                "message.max.bytes",
                                                "fetch.message.max.bytes",
                                                "max.partition.fetch.bytes",
                                                "receive.message.max.bytes",
                                                NULL};
static const char *const kafka_secret_props[] = {"sasl.password",
                                                 "ssl.key.password",
                                                 "ssl.keystore.password",
                                                 "ssl.key.pem",
                                                 "sasl.oauthbearer.client.secret",
                                                 "sasl.oauthbearer.config",
                                                 NULL};

static cdc_err_t
kafka_properties(cfg_t *c, yaml_node_t *v, const char *path, cdc_kafka_conf_t *k)
{
    cdc_err_t err = cfg_str_map(c, v, path, &k->properties, &k->n_properties);
    char kp[CFG_PATH_MAX];
    for (size_t i = 0; !err && i < k->n_properties; i++) {
        const char *p = k->properties[i].key;
        cfg_path_key(kp, path, p);
        if (cfg_in_list(p, kafka_owned_props))
            return cfg_fail(c, v, kp, "set by the agent (it is part of the delivery contract)");
        if (cfg_in_list(p, kafka_secret_props))
            return cfg_fail(c, v, kp, "secrets only through kafka.*_env or kafka.*_file keys");
    }
    /* librdkafka's own check, now rather than when a client starts; its message would quote the
     * value, which may be secret, so the reason is said without it */
    rd_kafka_conf_t *scratch = rd_kafka_conf_new();
    for (size_t i = 0; !err && i < k->n_properties; i++) {
        char why[512];
        rd_kafka_conf_res_t r = rd_kafka_conf_set(scratch, k->properties[i].key,
                                                  k->properties[i].value, why, sizeof(why));
        cfg_path_key(kp, path, k->properties[i].key);
        if (r == RD_KAFKA_CONF_UNKNOWN)
            err = cfg_fail(c, v, kp, "not a librdkafka property");
        else if (r != RD_KAFKA_CONF_OK)
            err = cfg_fail(c, v, kp, "not a valid value for this librdkafka property");
    }
    rd_kafka_conf_destroy(scratch);
    return err;
}

static cdc_err_t
kafka_strings(cfg_t *c, const char *key, yaml_node_t *v, const char *path, cdc_kafka_conf_t *k)
{
    static const char *const protocols[] = {"plaintext", "ssl", "sasl_plaintext", "sasl_ssl", NULL};
    static const char *const mechs[] = {"PLAIN",       "SCRAM-SHA-256", "SCRAM-SHA-512",
                                        "OAUTHBEARER", "GSSAPI",        NULL};
    int e;
    cdc_err_t err;
    if (!strcmp(key, "security_protocol")) {
        if (!(err = cfg_enum(c, v, path, protocols, &e)))
            k->security_protocol = cdc_xstrdup(protocols[e]);
        return err;
    }
    if (!strcmp(key, "sasl_mechanism")) {
        if (!(err = cfg_enum(c, v, path, mechs, &e)))
            k->sasl_mechanism = cdc_xstrdup(mechs[e]);
        return err;
    }
    if (!strcmp(key, "sasl_username"))
        return cfg_str(c, v, path, &k->sasl_username);
    if (!strcmp(key, "ssl_ca_location"))
        return cfg_str(c, v, path, &k->ssl_ca_location);
    if (!strcmp(key, "ssl_certificate_location"))
        return cfg_str(c, v, path, &k->ssl_certificate_location);
    if (!strcmp(key, "ssl_key_location"))
        return cfg_str(c, v, path, &k->ssl_key_location);
    char **secret = !strncmp(key, "sasl_", 5)      ? &k->sasl_password
                    : !strncmp(key, "signing_", 8) ? &k->signing_key
                                                   : &k->ssl_key_password;
    if (*secret)
        return cfg_fail(c, v, path, "set either the _env or the _file key, not both");
    err = strstr(key, "_env") ? cfg_secret_env(c, v, path, secret)
                              : cfg_secret_file(c, v, path, secret);
    if (!err && secret == &k->signing_key && strlen(k->signing_key) < CDC_SIG_KEY_MIN)
        err = cfg_fail(c, v, path, "the signing key must be %d bytes or more (it has %zu)",
                       CDC_SIG_KEY_MIN, strlen(k->signing_key));
    return err;
}

static cdc_err_t
kafka_key(cfg_t *c, const char *key, yaml_node_t *v, const char *path, void *obj)
{
    cdc_kafka_conf_t *k = obj;
    static const char *const codecs[] = {"none", "gzip", "snappy", "lz4", "zstd", NULL};
    int e;
    cdc_err_t err;
    if (!strcmp(key, "brokers")) {
        if ((err = cfg_str(c, v, path, &k->brokers)))
            return err;
        k->embedded = !strcmp(k->brokers, "embedded");
        /* The container image sets CDC_EMBEDDED_KAFKA=refuse: an in-process Kafka there loses
         * every event and offset with the container, so it runs only when asked for by name. */
        const char *embedded_policy = getenv("CDC_EMBEDDED_KAFKA");
        if (k->embedded && embedded_policy && !strcmp(embedded_policy, "refuse"))
            return cfg_fail(c, v, path,
                            "embedded (in-process, non-durable) Kafka is refused here "
                            "(CDC_EMBEDDED_KAFKA=refuse): set it to your cluster's "
                            "host:port list, or set CDC_EMBEDDED_KAFKA=allow to run the "
                            "demo Kafka anyway");
        return *k->brokers ? CDC_OK : cfg_fail(c, v, path, "expected host:port[,host:port...]");
    }
    if (!strcmp(key, "topic_prefix"))
        return cfg_name(c, v, path, &k->topic_prefix);
    if (!strcmp(key, "tombstones"))
        return cfg_bool(c, v, path, &k->tombstones);
    if (!strcmp(key, "max_event_bytes"))
        return cfg_int(c, v, path, 1024, 900000000, &k->max_event_bytes);
    if (!strcmp(key, "compression")) {
        if (!(err = cfg_enum(c, v, path, codecs, &e))) {
            free(k->compression);
            k->compression = cdc_xstrdup(codecs[e]);
        }
        return err;
    }
    if (!strcmp(key, "linger_ms"))
        return cfg_int32(c, v, path, 0, 60000, &k->linger_ms);
    if (!strcmp(key, "partitions"))
        return cfg_int32(c, v, path, 1, 10000, &k->partitions);
    if (!strcmp(key, "replication_factor"))
        return cfg_int32(c, v, path, -1, 32, &k->replication_factor);
    if (!strcmp(key, "properties"))
        return kafka_properties(c, v, path, k);
    return kafka_strings(c, key, v, path, k);
}

/* ---- root ----------------------------------------------------------------------------------- */

static const char *const root_keys[] = {"agent", "kafka", "sources", "sinks", NULL};
static const char *const root_required[] = {"agent", "kafka", NULL};

static cdc_err_t
root_key(cfg_t *c, const char *key, yaml_node_t *v, const char *path, void *obj)
{
    cdc_config_t *cfg = obj;
    if (!strcmp(key, "agent"))
        return cfg_map(c, v, path, agent_keys, agent_required, agent_key, &cfg->agent);
    if (!strcmp(key, "kafka"))
        return cfg_map(c, v, path, kafka_keys, kafka_required, kafka_key, &cfg->kafka);
    if (!strcmp(key, "sources"))
        return cfg_sources(c, v, path, cfg);
    return cfg_sinks(c, v, path, cfg);
}

static void
set_defaults(cdc_config_t *cfg)
{
    cfg->agent.log_format = CDC_LOG_FORMAT_TEXT;
    cfg->agent.log_level = CDC_LOG_INFO;
    cfg->agent.shutdown_timeout_ms = 30000;

    cfg->agent.api.rate_per_s = 20;
    cfg->agent.api.burst = 40;
    cfg->agent.api.max_body_bytes = 65536;
    cfg->kafka.topic_prefix = cdc_xstrdup("cdc");
    cfg->kafka.max_event_bytes = 8388608;
    cfg->kafka.compression = cdc_xstrdup("lz4");
    cfg->kafka.linger_ms = 50;
    cfg->kafka.partitions = 8;
    cfg->kafka.replication_factor = -1;
}

/* The marks of the transactions sinks apply, and what sources skip (cdc_sink_conf_t.applied_mark):
 * one agent cluster shares a topic prefix. */
static void
applied_marks(cdc_config_t *cfg)
{
    cdc_buf_t b;
    cdc_buf_init(&b);
    cdc_buf_printf(&b, "cdc-agent/%s/", cfg->kafka.topic_prefix);
    for (size_t i = 0; i < cfg->n_sources; i++)
        if (!cfg->sources[i].capture_sink_changes)
            cfg->sources[i].applied_by = cdc_xstrdup(b.data);
    size_t base = b.len;
    for (size_t i = 0; i < cfg->n_sinks; i++) {
        b.len = base;
        cdc_buf_puts(&b, cfg->sinks[i].name);
        cfg->sinks[i].applied_mark = cdc_xstrdup(b.data);
    }
    cdc_buf_deinit(&b);
}

static cdc_err_t
parse_document(cfg_t *c, yaml_parser_t *parser, cdc_config_t *cfg)
{
    yaml_document_t doc;
    if (!yaml_parser_load(parser, &doc)) {
        return cdc_errstr_set(c->es, CDC_ERR_CONFIG, "%s:%lu:%lu: invalid YAML: %s%s%s", c->file,
                              (unsigned long)parser->problem_mark.line + 1,
                              (unsigned long)parser->problem_mark.column + 1,
                              parser->problem ? parser->problem : "syntax error",
                              parser->context ? " " : "", parser->context ? parser->context : "");
    }
    c->doc = &doc;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    cdc_err_t err;
    if (!root || cfg_is_null(root)) {
        err = cdc_errstr_set(c->es, CDC_ERR_CONFIG,
                             "%s:1:1: empty config; expected a mapping with agent, kafka, "
                             "sources and/or sinks (see config/reference.yaml)",
                             c->file);
    } else {
        err = cfg_map(c, root, "", root_keys, root_required, root_key, cfg);
    }
    if (!err && !cfg->n_sources && !cfg->n_sinks)
        err = cfg_fail(c, root, "", "configure at least one source or sink");
    if (!err && cfg->agent.ha && cfg->kafka.embedded)
        err = cfg_fail(c, cfg_map_get(c, cfg_map_get(c, root, "agent"), "ha"), "agent.ha",
                       "the instances of an agent share its Kafka cluster: an embedded one (kafka."
                       "brokers: embedded) cannot have a standby");
    if (!err)
        err = cfg_check_topics(c, cfg);
    if (!err)
        applied_marks(cfg);
    for (size_t i = 0; !err && i < cfg->n_sources; i++)
        cfg->sources[i].linger_ms = cfg->kafka.linger_ms;
    /* each sink's consumer gets an equal share (one-off readers, scans, as much) */
    if (!err)
        cfg->kafka.consumer_memory_bytes =
            cfg->agent.memory_mb
                ? (cfg->agent.memory_mb << 20) / (int64_t)(cfg->n_sinks ? cfg->n_sinks : 1)
                : CDC_CONSUMER_MEMORY_DEFAULT;
    if (!err) {
        yaml_document_t extra;
        if (yaml_parser_load(parser, &extra) && yaml_document_get_root_node(&extra))
            err = cdc_errstr_set(c->es, CDC_ERR_CONFIG,
                                 "%s: more than one YAML document; keep one config per file",
                                 c->file);
        yaml_document_delete(&extra);
    }
    yaml_document_delete(&doc);
    return err;
}

/* libyaml takes time quadratic in the nesting of flow collections (a megabyte of '[' took
 * minutes): the text's [ and { nesting is counted first, outside quotes and comments, and a
 * config nested deeper than any real one is refused before parsing. */
#define CONFIG_MAX_DEPTH 64

static bool
nesting_ok(const char *name, const char *text, size_t n, cdc_errstr_t *es)
{
    int depth = 0;
    size_t line = 1, col = 1;
    char quote = 0;
    for (size_t i = 0; i < n; i++, col++) {
        char ch = text[i];
        if (ch == '\n') {
            line++;
            col = 0;
        }
        if (quote) {
            if (quote == '"' && ch == '\\' && i + 1 < n)
                i++, col++;
            else if (ch == quote)
                quote = 0;
        } else if (ch == '"' || ch == '\'') {
            quote = ch;
        } else if (ch == '#' &&
                   (i == 0 || text[i - 1] == ' ' || text[i - 1] == '\t' || text[i - 1] == '\n')) {
            while (i + 1 < n && text[i + 1] != '\n')
                i++;
        } else if (ch == '[' || ch == '{') {
            if (++depth > CONFIG_MAX_DEPTH) {
                cdc_errstr_set(es, CDC_ERR_CONFIG,
                               "%s:%zu:%zu: nested deeper than %d levels of [ and {", name, line,
                               col, CONFIG_MAX_DEPTH);
                return false;
            }
        } else if ((ch == ']' || ch == '}') && depth > 0) {
            depth--;
        }
    }
    return true;
}

cdc_config_t *
cdc_config_load_string(const char *name, const char *text, size_t n, cdc_errstr_t *es)
{
    cfg_t c = {.file = name, .es = es};
    if (n > CDC_CONFIG_MAX_BYTES) {
        cdc_errstr_set(es, CDC_ERR_CONFIG, "%s: file is %zu bytes; configs are limited to %d", name,
                       n, CDC_CONFIG_MAX_BYTES);
        return NULL;
    }
    if (!nesting_ok(name, text, n, es))
        return NULL;
    cdc_config_t *cfg = cdc_xcalloc(1, sizeof(*cfg));
    cfg->path = cdc_xstrdup(name);
    set_defaults(cfg);
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, n);
    cdc_err_t err = parse_document(&c, &parser, cfg);
    yaml_parser_delete(&parser);
    if (err) {
        cdc_config_free(cfg);
        return NULL;
    }
    return cfg;
}

cdc_config_t *
cdc_config_load(const char *path, cdc_errstr_t *es)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        cdc_errstr_set(es, CDC_ERR_CONFIG, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        cdc_errstr_set(es, CDC_ERR_CONFIG, "%s: is a directory", path);
        return NULL;
    }
    char *text = cdc_xmalloc(CDC_CONFIG_MAX_BYTES + 1);
    size_t n = fread(text, 1, CDC_CONFIG_MAX_BYTES + 1, f);
    bool bad = ferror(f);
    fclose(f);
    cdc_config_t *cfg = NULL;
    if (bad)
        cdc_errstr_set(es, CDC_ERR_CONFIG, "%s: read error", path);
    else if (n > CDC_CONFIG_MAX_BYTES)
        cdc_errstr_set(es, CDC_ERR_CONFIG, "%s: file is larger than %d bytes", path,
                       CDC_CONFIG_MAX_BYTES);
    else
        cfg = cdc_config_load_string(path, text, n, es);
    free(text);
    return cfg;
}

void
cdc_config_free(cdc_config_t *cfg)
{
    if (!cfg)
        return;
    free(cfg->path);
    free(cfg->agent.name);
    free(cfg->agent.http);
    cfg_free_secret(cfg->agent.api.token);
    free(cfg->agent.api.tls_cert);
    cfg_free_secret(cfg->agent.api.tls_key);
    cdc_kafka_conf_t *k = &cfg->kafka;
    free(k->brokers);
    free(k->topic_prefix);
    free(k->compression);
    free(k->security_protocol);
    free(k->sasl_mechanism);
    free(k->sasl_username);
    cfg_free_secret(k->sasl_password);
    cfg_free_secret(k->signing_key);
    free(k->ssl_ca_location);
    free(k->ssl_certificate_location);
    free(k->ssl_key_location);
    cfg_free_secret(k->ssl_key_password);
    cfg_free_kv(k->properties, k->n_properties);
    cfg_free_sources(cfg);
    cfg_free_sinks(cfg);
    free(cfg);
}

const cdc_source_conf_t *
cdc_config_source(const cdc_config_t *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_sources; i++)
        if (!strcmp(cfg->sources[i].name, name))
            return &cfg->sources[i];
    return NULL;
}

const cdc_sink_conf_t *
cdc_config_sink(const cdc_config_t *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_sinks; i++)
        if (!strcmp(cfg->sinks[i].name, name))
            return &cfg->sinks[i];
    return NULL;
}

/*
 * Config loading: the demo and reference configs load; defaults, ${VAR} expansion and secrets
 * work; and malformed configs fail with file:line:column, the key path and a useful message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cdc/config.h"
#include "cdc/sink.h"

#define HEAD      "agent: {name: a}\nkafka: {brokers: embedded}\n"
#define PG_SOURCE "  - {name: crm, type: postgresql, conninfo: \"host=x\", tables: [public.t]}\n"

typedef struct {
    const char *yaml;
    const char *want; /* substring of the error */
} bad_case_t;

static const bad_case_t bad_cases[] = {
    /* bad YAML */
    {"agent: [\n", "t.yaml:2:1: invalid YAML"},
    {"agent:\n  name: a\n name2: b\n", "invalid YAML"},
    /* structure */
    {"- a\n", "t.yaml:1:1: expected a mapping, got a list"},
    {"agnet: {name: a}\n", "t.yaml:1:1: agnet: unknown key; did you mean 'agent'?"},
    {"agent: {name: a}\nsources: []\n", "kafka: required key missing"},
    {HEAD, "configure at least one source or sink"},
    {HEAD "sources:\n" PG_SOURCE "---\nagent: {}\n", "more than one YAML document"},
    {"agent: {name: a}\nagent: {name: b}\n",
     "t.yaml:2:1: agent: duplicate key (first set on line 1)"},
    /* wrong types */
    {HEAD "sources:\n" PG_SOURCE "  - name: crm2\n    type: postgresql\n    conninfo: \"h\"\n"
          "    tables: [public.t]\n    slot: [a, b]\n",
     "t.yaml:9:11: sources[1].slot: expected a string, got a list"},
    {HEAD "sources:\n  - {name: c, type: postgres, tables: [public.t]}\n",
     "sources[0].type: 'postgres' is not one of postgresql | mysql"},
    {"agent: {name: a}\nkafka: {brokers: embedded, max_event_bytes: lots}\nsources:\n" PG_SOURCE,
     "kafka.max_event_bytes: expected an integer"},
    {"agent: {name: a}\nkafka: {brokers: embedded, tombstones: maybe}\nsources:\n" PG_SOURCE,
     "kafka.tombstones: expected true or false"},
    {HEAD "sources:\n  - {name: e, type: mysql, host: h, port: 70000, server_id: 1, "
          "tables: [erp.t]}\n",
     "sources[0].port: must be between 1 and 65535"},
    {"agent: {name: a}\nkafka: {brokers: }\nsources:\n" PG_SOURCE,
     "kafka.brokers: expected a string, got null"},
    /* an empty quoted string is an empty string (the buffer was left unterminated) */
    {"agent: {name: a}\nkafka: {brokers: \"\"}\nsources:\n" PG_SOURCE,
     "t.yaml:2:18: kafka.brokers: expected host:port[,host:port...]"},
    {"agent: {name: a, http: ''}\nkafka: {brokers: embedded}\nsources:\n" PG_SOURCE,
     "t.yaml:1:24: agent.http: expected host:port"},
    {"agent: {name: a, http: '127.0.0.1:99999'}\nkafka: {brokers: embedded}\nsources:\n" PG_SOURCE,
     "agent.http: expected host:port (a port from 1 to 65535)"},
    {"agent: {name: a, http: 'localhost:'}\nkafka: {brokers: embedded}\nsources:\n" PG_SOURCE,
     "agent.http: expected host:port"},
    /* unknown and missing keys */
    {HEAD "sources:\n  - {name: c, type: postgresql, slto: x, tables: [public.t]}\n",
     "sources[0].slto: unknown key; did you mean 'slot'?"},
    {HEAD "sources:\n  - {name: c, type: postgresql}\n", "sources[0].tables: required key missing"},
    {HEAD "sources:\n  - {name: e, type: mysql, host: h, tables: [erp.t]}\n",
     "sources[0].server_id: required key missing"},
    {HEAD "sources:\n  - {name: e, type: mysql, host: h, server_id: 1, slot: s, tables: [erp.t]}\n",
     "sources[0].slot: only for postgresql sources"},
    /* names and duplicates */
    {HEAD "sources:\n" PG_SOURCE PG_SOURCE,
     "sources[1]: duplicate source name 'crm' (also sources[0])"},
    {HEAD "sources:\n  - {name: crm erp, type: postgresql, tables: [public.t]}\n",
     "sources[0].name: 'crm erp' must be non-empty and use only A-Z a-z 0-9 _ -"},
    {HEAD "sources:\n  - {name: abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopq, type: "
          "postgresql, tables: [public.t]}\n",
     "t.yaml:4:12: sources[0].name: 'abcdefghijklmnop...' is longer than 48 characters"},
    {HEAD "sources:\n  - {name: c, type: postgresql, tables: [contacts]}\n",
     "sources[0].tables[0]: expected <schema>.<table>, got 'contacts'"},
    {HEAD "sources:\n  - {name: c, type: postgresql, tables: [public.t, public.u]}\n"
          "  - {name: d, type: postgresql, slot: s2, tables: [{table: public.x, topic: "
          "cdc.c.public.t}]}\n",
     "topic cdc.c.public.t is already used by another table"},
    /* secrets */
    {HEAD "sources:\n  - {name: c, type: postgresql, password: hunter2, tables: [public.t]}\n",
     "sources[0].password: secrets only through password_env or password_file"},
    {HEAD
     "sources:\n  - {name: c, type: postgresql, password_env: CDC_TEST_NOPE, tables: [public.t]}\n",
     "sources[0].password_env: environment variable CDC_TEST_NOPE is not set"},
    {HEAD "sources:\n  - {name: c, type: postgresql, conninfo: \"host=x password=hunter2\", "
          "tables: [public.t]}\n",
     "sources[0].conninfo: must not contain a password"},
    {HEAD "sources:\n  - {name: c, type: postgresql, conninfo: \"host=x sslpassword=hunter2\", "
          "tables: [public.t]}\n",
     "sources[0].conninfo: must not contain an sslpassword"},
    /* a URI libpq cannot parse: its message would quote the password */
    {HEAD "sources:\n  - {name: c, type: postgresql, conninfo: "
          "\"postgresql://cdc:hunter2@[host/db\", tables: [public.t]}\n",
     "sources[0].conninfo: not a valid libpq connection string"},
    {HEAD "sources:\n  - {name: c, type: postgresql, password_file: /nonexistent/pw, tables: "
          "[public.t]}\n",
     "sources[0].password_file: cannot read /nonexistent/pw: No such file or directory"},
    {"agent: {name: a}\nkafka: {brokers: embedded, properties: {sasl.password: "
     "x}}\nsources:\n" PG_SOURCE,
     "kafka.properties.sasl.password: secrets only through kafka.*_env or kafka.*_file keys"},
    {"agent: {name: a}\nkafka: {brokers: embedded, properties: {transactional.id: "
     "x}}\nsources:\n" PG_SOURCE,
     "kafka.properties.transactional.id: set by the agent"},
    {"agent: {name: a}\nkafka: {brokers: embedded, properties: {sasl.oauthbearer.client.secret: "
     "hunter2}}\nsources:\n" PG_SOURCE,
     "kafka.properties.sasl.oauthbearer.client.secret: secrets only through"},
    {"agent: {name: a}\nkafka: {brokers: embedded, properties: {ssl.key.pem: "
     "hunter2}}\nsources:\n" PG_SOURCE,
     "kafka.properties.ssl.key.pem: secrets only through"},
    {"agent: {name: a}\nkafka: {brokers: embedded, properties: {no.such.thing: "
     "hunter2}}\nsources:\n" PG_SOURCE,
     "t.yaml:2:40: kafka.properties.no.such.thing: not a librdkafka property"},
    {"agent: {name: a}\nkafka: {brokers: embedded, properties: {linger.ms: "
     "hunter2}}\nsources:\n" PG_SOURCE,
     "kafka.properties.linger.ms: not a valid value for this librdkafka property"},
    /* variables */
    {"agent: {name: \"${CDC_TEST_UNSET_VAR}\"}\nkafka: {brokers: embedded}\nsources:\n" PG_SOURCE,
     "agent.name: environment variable CDC_TEST_UNSET_VAR is not set"},
    /* routes */
    {HEAD "sinks:\n  - name: erp\n    type: mysql\n    host: h\n    routes:\n"
          "      - {from: crm.contacts, to: erp.customers}\n",
     "sinks[0].routes[0].from: expected <source>.<schema or db>.<table>"},
    {HEAD
     "sinks:\n  - name: erp\n    type: mysql\n    host: h\n    routes:\n"
     "      - {from: crm.public.contacts, to: erp.customers, columns: {id: crm_id}, key: [id]}\n",
     "sinks[0].routes[0].key[0]: key column 'id' is not a target of columns or constants"},
    {HEAD "sinks:\n  - name: erp\n    type: mysql\n    host: h\n    routes:\n"
          "      - {from: crm.public.c, to: erp.c, columns: {a: x, b: x}}\n",
     "target column 'x' is written twice"},
    {HEAD "sinks:\n  - name: erp\n    type: mysql\n    host: h\n    routes:\n"
          "      - {from: crm.public.c, to: erp.c, on_unknown_column: drop}\n",
     "on_unknown_column: 'drop' is not one of fail | ignore | add"},
    {HEAD "sinks:\n  - {name: erp, type: mysql, conninfo: x, host: h, routes: [{from: a.b.c, to: "
          "d.e}]}\n",
     "sinks[0].conninfo: only for postgresql"},
    {HEAD "sinks:\n  - {name: erp, type: mysql, host: h, max_rows_per_s: -1, routes: [{from: "
          "a.b.c, to: d.e}]}\n",
     "sinks[0].max_rows_per_s:"},
    /* the admin API */
    {"agent: {name: a, api: {token: hunter2hunter2hunter2}}\nkafka: {brokers: embedded}\n",
     "t.yaml:1:24: agent.api.token: unknown key"},
    {"agent: {name: a, api: {token_env: CDC_TEST_SHORT}}\nkafka: {brokers: embedded}\n",
     "agent.api.token_env: the token is shorter than 16 characters"},
    {"agent: {name: a, api: {token_env: CDC_TEST_NOPE}}\nkafka: {brokers: embedded}\n",
     "agent.api.token_env:"},
    {"agent: {name: a, api: {tls_cert_file: /nonexistent/c.pem}}\nkafka: {brokers: embedded}\n",
     "agent.api.tls_cert_file: cannot read /nonexistent/c.pem"},
    {"agent: {name: a, api: {rate_per_s: -3}}\nkafka: {brokers: embedded}\n",
     "agent.api.rate_per_s:"},
    {"agent: {name: a, api: {read_open: maybe}}\nkafka: {brokers: embedded}\n",
     "agent.api.read_open:"},
    /* the records' signing key */
    {"agent: {name: a}\nkafka: {brokers: embedded, signing_key_env: "
     "CDC_TEST_SHORT}\nsources:\n" PG_SOURCE,
     "t.yaml:2:45: kafka.signing_key_env: the signing key must be 32 bytes or more (it has 7)"},
    {"agent: {name: a}\nkafka: {brokers: embedded, signing_key_env: CDC_TEST_LONGKEY, "
     "signing_key_file: /x}\nsources:\n" PG_SOURCE,
     "set either the _env or the _file key, not both"},
    /* active-passive instances share their Kafka cluster */
    {"agent: {name: a, ha: true}\nkafka: {brokers: embedded}\nsources:\n" PG_SOURCE,
     "t.yaml:1:22: agent.ha: the instances of an agent share its Kafka cluster: an embedded one "
     "(kafka.brokers: embedded) cannot have a standby"},
    {"agent: {name: a, ha: sometimes}\nkafka: {brokers: embedded}\nsources:\n" PG_SOURCE,
     "agent.ha:"},
};

static void
test_malformed_configs(void **state)
{
    unsetenv("CDC_TEST_NOPE");
    unsetenv("CDC_TEST_UNSET_VAR");
    setenv("CDC_TEST_SHORT", "hunter2", 1);
    setenv("CDC_TEST_LONGKEY", "hunter2-hunter2-hunter2-hunter2-hunter2", 1);
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        cdc_errstr_t es = {{0}};
        cdc_config_t *cfg =
            cdc_config_load_string("t.yaml", bad_cases[i].yaml, strlen(bad_cases[i].yaml), &es);
        if (cfg || !strstr(es.msg, bad_cases[i].want))
            fail_msg("case %zu: want '%s', got '%s'", i, bad_cases[i].want,
                     cfg ? "(loaded)" : es.msg);
        assert_null(strstr(es.msg, "hunter2")); /* never echo a secret */
    }
    assert_true(sizeof(bad_cases) / sizeof(bad_cases[0]) >= 15);
}

static char *
write_temp(const char *content, size_t n)
{
    static char path[64];
    snprintf(path, sizeof(path), "/tmp/cdc-test-config-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, n), (ssize_t)n);
    close(fd);
    return path;
}

/* A secret file that is a FIFO or a device is refused at once (reading one would block the
 * start or never end). */
/* Deep nesting is refused before libyaml sees it (a megabyte of '[' took minutes to parse). */
static void
test_deep_nesting(void **state)
{
    (void)state;
    size_t n = CDC_CONFIG_MAX_BYTES;
    char *text = malloc(n);
    memset(text, '[', n);
    cdc_errstr_t es = {{0}};
    assert_null(cdc_config_load_string("t.yaml", text, n, &es));
    assert_non_null(strstr(es.msg, "t.yaml:1:65: nested deeper than 64 levels of [ and {"));
    size_t k = 0;
    for (int i = 0; i < 50000 && k + 4 < n; i++)
        memcpy(text + k, "{a: ", 4), k += 4;
    assert_null(cdc_config_load_string("t.yaml", text, k, &es));
    assert_non_null(strstr(es.msg, "nested deeper than 64 levels"));
    /* brackets inside quotes and comments do not count */
    const char *ok =
        HEAD "# [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n"
             "sources:\n  - {name: c, type: postgresql, slot: \"[[[[[[[[[[[[[[[[[["
             "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\", tables: [public.t]}\n";
    cdc_config_t *cfg = cdc_config_load_string("t.yaml", ok, strlen(ok), &es);
    assert_null(strstr(es.msg, "nested deeper"));
    cdc_config_free(cfg);
    free(text);
}

static void
test_secret_file_not_regular(void **state)
{
    (void)state;
    char fifo[64];
    snprintf(fifo, sizeof(fifo), "/tmp/cdc-test-fifo-%d", (int)getpid());
    unlink(fifo);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    const char *files[] = {fifo, "/dev/zero"};
    for (size_t i = 0; i < 2; i++) {
        char yaml[512];
        snprintf(yaml, sizeof(yaml),
                 HEAD "sources:\n  - {name: c, type: postgresql, password_file: %s, tables: "
                      "[public.t]}\n",
                 files[i]);
        cdc_errstr_t es = {{0}};
        assert_null(cdc_config_load_string("t.yaml", yaml, strlen(yaml), &es));
        assert_non_null(strstr(es.msg, "sources[0].password_file: cannot read"));
        assert_non_null(strstr(es.msg, "not a regular file"));
    }
    unlink(fifo);
}

static void
test_file_errors(void **state)
{
    cdc_errstr_t es = {{0}};
    assert_null(cdc_config_load("/nonexistent/cdc.yaml", &es));
    assert_non_null(strstr(es.msg, "/nonexistent/cdc.yaml: cannot open: No such file"));

    char *path = write_temp("", 0);
    assert_null(cdc_config_load(path, &es));
    assert_non_null(strstr(es.msg, ":1:1: empty config"));
    unlink(path);

    size_t big = CDC_CONFIG_MAX_BYTES + 10;
    char *huge = malloc(big);
    memset(huge, '#', big);
    path = write_temp(huge, big);
    free(huge);
    assert_null(cdc_config_load(path, &es));
    assert_non_null(strstr(es.msg, "larger than"));
    unlink(path);

    assert_null(cdc_config_load("/tmp", &es));
    assert_non_null(strstr(es.msg, "is a directory"));
}

static void
test_secrets_and_variables(void **state)
{
    char *pw = write_temp("s3cret-from-file\n", 17);
    char yaml[1024];
    setenv("CDC_TEST_PW", "s3cret-from-env", 1);
    setenv("CDC_TEST_PORT", "5433", 1);
    snprintf(
        yaml, sizeof(yaml),
        HEAD
        "sources:\n"
        "  - {name: c, type: postgresql, port: \"${CDC_TEST_PORT}\", password_env: CDC_TEST_PW, "
        "tables: [public.t]}\n"
        "sinks:\n"
        "  - {name: s, type: mysql, host: \"${CDC_TEST_HOST:-db.local}\", "
        "password_file: %s, routes: [{from: c.public.t, to: erp.t}]}\n",
        pw);
    cdc_errstr_t es = {{0}};
    cdc_config_t *cfg = cdc_config_load_string("t.yaml", yaml, strlen(yaml), &es);
    if (!cfg)
        fail_msg("%s", es.msg);
    assert_string_equal(cfg->sources[0].conn.password, "s3cret-from-env");
    assert_int_equal(cfg->sources[0].conn.port, 5433);
    assert_string_equal(cfg->sinks[0].conn.password, "s3cret-from-file");
    assert_string_equal(cfg->sinks[0].conn.host, "db.local");
    cdc_config_free(cfg);
    unlink(pw);
}

/* CDC_EMBEDDED_KAFKA=refuse (set by the container image) refuses brokers: embedded with the
 * way out; allow (or unset) runs it. */
static void
test_embedded_refused_on_request(void **state)
{
    static const char yaml[] = HEAD "sources:\n" PG_SOURCE;
    cdc_errstr_t es = {{0}};
    setenv("CDC_EMBEDDED_KAFKA", "refuse", 1);
    assert_null(cdc_config_load_string("t.yaml", yaml, strlen(yaml), &es));
    assert_non_null(strstr(es.msg, "t.yaml:2:18: kafka.brokers: embedded (in-process, "
                                   "non-durable) Kafka is refused here"));
    assert_non_null(strstr(es.msg, "CDC_EMBEDDED_KAFKA=allow"));
    setenv("CDC_EMBEDDED_KAFKA", "allow", 1);
    cdc_config_t *cfg = cdc_config_load_string("t.yaml", yaml, strlen(yaml), &es);
    assert_non_null(cfg);
    cdc_config_free(cfg);
    unsetenv("CDC_EMBEDDED_KAFKA");
}

static void
test_defaults(void **state)
{
    const char *yaml = HEAD "sources:\n" PG_SOURCE;
    cdc_errstr_t es = {{0}};
    cdc_config_t *cfg = cdc_config_load_string("t.yaml", yaml, strlen(yaml), &es);
    assert_non_null(cfg);
    assert_true(cfg->kafka.embedded);
    assert_string_equal(cfg->kafka.topic_prefix, "cdc");
    assert_int_equal(cfg->kafka.max_event_bytes, 8388608);
    assert_string_equal(cfg->kafka.compression, "lz4");
    assert_false(cfg->kafka.tombstones);
    assert_string_equal(cfg->sources[0].slot, "cdc_crm");
    assert_string_equal(cfg->sources[0].publication, "cdc_crm");
    assert_int_equal(cfg->sources[0].snapshot, CDC_SNAPSHOT_INITIAL);
    assert_int_equal(cfg->agent.log_format, CDC_LOG_FORMAT_TEXT);
    assert_false(cfg->agent.ha);
    /* what the sinks of this agent cluster applied is not published again */
    assert_false(cfg->sources[0].capture_sink_changes);
    assert_string_equal(cfg->sources[0].applied_by, "cdc-agent/cdc/");
    assert_non_null(cdc_config_source(cfg, "crm"));
    assert_null(cdc_config_source(cfg, "nope"));
    cdc_config_free(cfg);
}

/* The shipped configs load as they are (with their variables set). */
static void
test_shipped_configs_load(void **state)
{
    setenv("CRM_PASSWORD", "x", 1);
    setenv("ERP_PASSWORD", "y", 1);
    setenv("KAFKA_SASL_PASSWORD", "z", 1);
    setenv("CDC_API_TOKEN", "0123456789abcdef0123", 1);
    const char *files[] = {CDC_FIXTURES "/../../config/crm-erp.yaml",
                           CDC_FIXTURES "/../../config/reference.yaml"};
    for (int i = 0; i < 2; i++) {
        cdc_errstr_t es = {{0}};
        cdc_config_t *cfg = cdc_config_load(files[i], &es);
        if (!cfg)
            fail_msg("%s", es.msg);
        assert_true(cfg->n_sources >= 1);
        assert_true(cfg->n_sinks >= 1);
        cdc_config_free(cfg);
    }
}

static void
test_route_details(void **state)
{
    const char *yaml = HEAD "sinks:\n  - name: erp\n    type: mysql\n    host: h\n    routes:\n"
                            "      - from: crm.public.contacts\n        to: erp.customers\n"
                            "        columns: {id: crm_id, email: email}\n"
                            "        constants: {origin: crm}\n        key: [crm_id]\n"
                            "        truncate: apply\n        fk_checks: true\n";
    cdc_errstr_t es = {{0}};
    cdc_config_t *cfg = cdc_config_load_string("t.yaml", yaml, strlen(yaml), &es);
    if (!cfg)
        fail_msg("%s", es.msg);
    const cdc_route_conf_t *r = &cfg->sinks[0].routes[0];
    assert_int_equal(r->n_columns, 2);
    assert_string_equal(r->columns[0].key, "id");
    assert_string_equal(r->columns[0].value, "crm_id");
    assert_string_equal(r->constants[0].value, "crm");
    assert_int_equal(r->truncate, CDC_TRUNCATE_APPLY);
    assert_true(r->fk_checks);
    assert_int_equal(r->on_unknown_column, CDC_UNKNOWN_COLUMN_FAIL);
    assert_int_equal(cfg->sinks[0].batch_size, 1000);
    assert_string_equal(cfg->sinks[0].applied_mark, "cdc-agent/cdc/erp");
    assert_int_equal(r->conflict, CDC_CONFLICT_NONE);
    assert_string_equal(r->source, "crm");
    cdc_config_free(cfg);
}

/* Conflict policies: owner groups kept per column; what decides an update's columns. */
static void
test_route_conflict(void **state)
{
    const char *yaml = HEAD "sinks:\n  - name: erp\n    type: mysql\n    host: h\n    routes:\n"
                            "      - from: crm.public.a\n        to: erp.a\n"
                            "        conflict: owner\n"
                            "        owner: {crm: [name, email], erp: [credit]}\n"
                            "      - {from: crm.public.b, to: erp.b, conflict: lww, lww_column: u, "
                            "tie_break: [erp, crm]}\n";
    cdc_errstr_t es = {{0}};
    cdc_config_t *cfg = cdc_config_load_string("t.yaml", yaml, strlen(yaml), &es);
    if (!cfg)
        fail_msg("%s", es.msg);
    const cdc_route_conf_t *r = &cfg->sinks[0].routes[0];
    assert_int_equal(r->conflict, CDC_CONFLICT_OWNER);
    assert_int_equal(r->n_owner, 3);
    assert_string_equal(r->owner[2].key, "credit");
    assert_string_equal(r->owner[2].value, "erp");
    assert_true(cdc_sink_route_updates(r, "email"));
    assert_false(cdc_sink_route_updates(r, "credit"));
    assert_false(cdc_sink_route_updates(r, "unlisted"));
    assert_true(cdc_sink_has_conflict_policy(&cfg->sinks[0]));
    r = &cfg->sinks[0].routes[1];
    assert_int_equal(r->conflict, CDC_CONFLICT_LWW);
    assert_string_equal(r->lww_column, "u");
    assert_int_equal(r->n_tie_break, 2);
    assert_true(cdc_sink_route_updates(r, "unlisted"));
    cdc_config_free(cfg);
}

/* link: one key column, another link key; the target's own key is never updated. */
static void
test_route_link(void **state)
{
    const char *head = HEAD "sinks:\n  - name: erp\n    type: mysql\n    host: h\n    routes:\n"
                            "      - {from: crm.public.a, to: erp.a, ";
    char yaml[1024];
    snprintf(yaml, sizeof(yaml), "%skey: [crm_id], link: {map: account, key: erp_id}}\n", head);
    cdc_errstr_t es = {{0}};
    cdc_config_t *cfg = cdc_config_load_string("t.yaml", yaml, strlen(yaml), &es);
    if (!cfg)
        fail_msg("%s", es.msg);
    const cdc_route_conf_t *r = &cfg->sinks[0].routes[0];
    assert_string_equal(r->link_map, "account");
    assert_string_equal(r->link_key, "erp_id");
    assert_false(cdc_sink_route_updates(r, "erp_id"));
    assert_true(cdc_sink_route_updates(r, "name"));
    assert_true(cdc_sink_has_links(&cfg->sinks[0]));
    cdc_config_free(cfg);
    const char *bad[][2] = {
        {"link: {map: account, key: erp_id}}", "a linked route needs key"},
        {"key: [crm_id], link: {map: account, key: crm_id}}", "link.key is the target's own key"},
        {"key: [crm_id], link: {map: account}}", "routes[0].link.key: required key missing"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(yaml, sizeof(yaml), "%s%s\n", head, bad[i][0]);
        assert_null(cdc_config_load_string("t.yaml", yaml, strlen(yaml), &es));
        if (!strstr(es.msg, bad[i][1]))
            fail_msg("%s: %s", bad[i][0], es.msg);
    }
}

/* transforms on a source table and on a route: read with their settings and where they were
 * written; mistakes named with file:line:column. */
static void
test_transforms(void **state)
{
    setenv("CDC_TEST_SALT", "pepper", 1);
    const char *yaml =
        HEAD "sources:\n"
             "  - name: crm\n    type: postgresql\n    tables:\n"
             "      - table: public.contacts\n        transforms:\n"
             "          - {type: phone, column: phone, region: de, format: national}\n"
             "          - {type: email, column: email, on_invalid: null}\n"
             "          - {type: mask, column: ssn, method: hash, salt_env: CDC_TEST_SALT}\n"
             "          - {type: map, column: status, values: {A: active, X: ~}, strict: true}\n"
             "          - {type: drop, column: note}\n"
             "        exclude: [ssn_raw]\n"
             "sinks:\n  - name: erp\n    type: mysql\n    host: h\n    routes:\n"
             "      - from: crm.public.contacts\n        to: erp.contacts\n"
             "        transforms: [{type: subdivision, column: state, country_column: country,"
             " output: short}, {type: text, column: name, case: upper, locale: de}]\n";
    cdc_errstr_t es = {{0}};
    cdc_config_t *cfg = cdc_config_load_string("t.yaml", yaml, strlen(yaml), &es);
    if (!cfg)
        fail_msg("%s", es.msg);
    const cdc_transforms_t *ts = &cfg->sources[0].table_transforms[0];
    assert_int_equal(ts->n, 6);
    assert_int_equal(ts->items[5].kind, CDC_TX_DROP);
    assert_string_equal(ts->items[5].column, "ssn_raw");
    assert_non_null(strstr(ts->items[5].where, "sources[0].tables[0].exclude[0]"));
    assert_int_equal(ts->items[0].kind, CDC_TX_PHONE);
    assert_string_equal(ts->items[0].region, "DE");
    assert_int_equal(ts->items[0].phone_style, 2);
    assert_int_equal(ts->items[0].on_invalid, CDC_ON_INVALID_DLQ);
    assert_string_equal(ts->items[0].where, "t.yaml:9:13: sources[0].tables[0].transforms[0]");
    assert_int_equal(ts->items[1].on_invalid, CDC_ON_INVALID_NULL);
    assert_int_equal(ts->items[2].salt_len, 6);
    assert_memory_equal(ts->items[2].salt, "pepper", 6);
    assert_int_equal(ts->items[3].n_map, 2);
    assert_null(ts->items[3].map_to[1]);
    assert_true(ts->items[3].strict);
    const cdc_transforms_t *rt = &cfg->sinks[0].routes[0].transforms;
    assert_int_equal(rt->n, 2);
    assert_int_equal(rt->items[0].iso_out, CDC_ISO_SHORT);
    assert_string_equal(rt->items[0].country_column, "country");
    assert_int_equal(rt->items[1].text_case, CDC_CASE_UPPER);
    assert_true(rt->items[1].trim && rt->items[1].nfc);
    cdc_config_free(cfg);

    const char *head = HEAD "sources:\n  - name: crm\n    type: postgresql\n    tables:\n"
                            "      - table: public.c\n        transforms:\n          - ";
    const char *bad[][2] = {
        {"{type: phoen, column: p}",
         "t.yaml:9:20: sources[0].tables[0].transforms[0].type: 'phoen' is not one of phone |"},
        {"{type: phone}", "sources[0].tables[0].transforms[0].column: required key missing"},
        {"{type: phone, column: p, idna: ascii}", "transforms[0].idna: unknown key"},
        {"{type: phone, column: p, region: XQ}",
         "t.yaml:9:46: sources[0].tables[0].transforms[0].region: libphonenumber knows no region "
         "XQ"},
        {"{type: phone, column: p, region: Germany}", "expected an ISO 3166-1 alpha-2 code"},
        {"{type: mask, column: p, method: hash}",
         "a hash needs a secret salt: salt_env or salt_file"},
        {"{type: mask, column: p, method: hash, salt_env: CDC_TEST_NOPE}",
         "environment variable CDC_TEST_NOPE is not set"},
        {"{type: country, column: c, languages: [xx-nope]}",
         "transforms[0].languages: iso-codes has no names in language xx-nope"},
        {"{type: subdivision, column: c, country: QQ}", "no country QQ in ISO 3166-1"},
        {"{type: rename, column: a, to: a}", "transforms[0].to: the same name as the column"},
        {"{type: constant, column: a}", "constant needs `value`"},
        {"{type: email, column: e, on_invalid: drop}",
         "on_invalid: 'drop' is not one of dlq | null | keep | fail"},
        {"phone", "expected a mapping such as {type: phone, column: phone, region: DE}"},
    };
    char buf[1024];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(buf, sizeof(buf), "%s%s\n", head, bad[i][0]);
        assert_null(cdc_config_load_string("t.yaml", buf, strlen(buf), &es));
        if (!strstr(es.msg, bad[i][1]))
            fail_msg("%s: %s", bad[i][0], es.msg);
    }
}

/* capture_sink_changes: the source publishes what the sinks applied (no mark to skip). */
static void
test_capture_sink_changes(void **state)
{
    const char *yaml = "agent: {name: a}\nkafka: {brokers: embedded, topic_prefix: crmerp}\n"
                       "sources:\n  - {name: c, type: postgresql, tables: [public.t], "
                       "capture_sink_changes: true}\n  - {name: d, type: postgresql, "
                       "tables: [public.u]}\n";
    cdc_errstr_t es = {{0}};
    cdc_config_t *cfg = cdc_config_load_string("t.yaml", yaml, strlen(yaml), &es);
    if (!cfg)
        fail_msg("%s", es.msg);
    assert_true(cfg->sources[0].capture_sink_changes);
    assert_null(cfg->sources[0].applied_by);
    assert_string_equal(cfg->sources[1].applied_by, "cdc-agent/crmerp/");
    cdc_config_free(cfg);
    yaml = HEAD "sources:\n  - {name: c, type: postgresql, tables: [public.t], "
                "capture_sink_changes: yes please}\n";
    assert_null(cdc_config_load_string("t.yaml", yaml, strlen(yaml), &es));
    assert_non_null(strstr(es.msg, "sources[0].capture_sink_changes: expected true or false"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_malformed_configs),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_secret_file_not_regular),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_secrets_and_variables),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_shipped_configs_load),
        cmocka_unit_test(test_route_details),
        cmocka_unit_test(test_route_conflict),
        cmocka_unit_test(test_route_link),
        cmocka_unit_test(test_embedded_refused_on_request),
        cmocka_unit_test(test_capture_sink_changes),
        cmocka_unit_test(test_transforms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

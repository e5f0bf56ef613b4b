/*
 * The admin API's door and routes (agent/ops/api.c) without a network or workers: tokens and
 * read_open, the token bucket per client, JSON errors and their codes, paging, pause / resume
 * flags, a sink's rate, offsets refused on a running sink.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "cdc/api.h"
#include "cdc/config.h"
#include "cdc/control.h"

#define TOKEN "0123456789abcdef-token"

typedef struct {
    cdc_config_t *cfg;
    cdc_control_t *ctl;
    cdc_api_t *api;
} fixture_t;

static const char *
no_args(void *ctx, const char *key)
{
    const char *const *kv = ctx;
    for (; kv && kv[0]; kv += 2)
        if (!strcmp(kv[0], key))
            return kv[1];
    return NULL;
}

/* An agent of three sinks and one source, with the api section given. */
static fixture_t
agent(const char *api)
{
    char yaml[2048];
    snprintf(yaml, sizeof(yaml),
             "agent: {name: a, http: \"127.0.0.1:1\"%s%s}\nkafka: {brokers: embedded}\n"
             "sources:\n  - {name: crm, type: postgresql, conninfo: \"host=x\", tables: "
             "[public.t]}\nsinks:\n"
             "  - {name: s1, type: mysql, host: h, routes: [{from: crm.public.t, to: d.t}]}\n"
             "  - {name: s2, type: mysql, host: h, max_rows_per_s: 7, routes: [{from: "
             "crm.public.t, to: d.t}]}\n"
             "  - {name: s3, type: postgresql, conninfo: \"host=x\", routes: [{from: "
             "crm.public.t, to: d.t}]}\n",
             api ? ", api: " : "", api ? api : "");
    setenv("CDC_TEST_API_TOKEN", TOKEN, 1);
    cdc_errstr_t es = {{0}};
    fixture_t f = {cdc_config_load_string("t.yaml", yaml, strlen(yaml), &es), NULL, NULL};
    if (!f.cfg)
        fail_msg("%s", es.msg);
    f.ctl = cdc_control_new(f.cfg);
    f.api = cdc_api_new(&f.cfg->agent.api, f.ctl, "127.0.0.1:9");
    return f;
}

static void
fixture_free(fixture_t *f)
{
    cdc_api_free(f->api);
    cdc_control_free(f->ctl);
    cdc_config_free(f->cfg);
}

/* One request: the status, the body in *body (caller decrefs; NULL when not JSON). */
static unsigned
request(fixture_t *f, const char *method, const char *path, const char *auth, const char *body,
        const char *const *args, json_t **out)
{
    cdc_api_req_t rq = {method, path,       no_args, (void *)args,
                        auth,   "10.0.0.1", body,    body ? strlen(body) : 0,
                        false};
    cdc_api_resp_t rs = {0};
    cdc_buf_init(&rs.body);
    cdc_api_handle(f->api, &rq, &rs);
    if (out)
        *out = json_loadb(rs.body.data ? rs.body.data : "", rs.body.len, 0, NULL);
    if (rs.status >= 400) { /* every error is {"error": {"code", "message"}} */
        json_t *e = json_loadb(rs.body.data, rs.body.len, 0, NULL);
        assert_non_null(json_string_value(json_object_get(json_object_get(e, "error"), "code")));
        assert_non_null(json_string_value(json_object_get(json_object_get(e, "error"), "message")));
        json_decref(e);
    }
    cdc_buf_deinit(&rs.body);
    return rs.status;
}

static const char *
code_of(json_t *j)
{
    return json_string_value(json_object_get(json_object_get(j, "error"), "code"));
}

static void
test_token(void **state)
{
    (void)state;
    fixture_t f = agent("{token_env: CDC_TEST_API_TOKEN, rate_per_s: 0}");
    json_t *j;
    assert_int_equal(401, request(&f, "GET", "/v1/status", NULL, NULL, NULL, &j));
    assert_string_equal("unauthorized", code_of(j));
    json_decref(j);
    assert_int_equal(401, request(&f, "GET", "/v1/status", "Bearer " TOKEN "x", NULL, NULL, NULL));
    assert_int_equal(401, request(&f, "GET", "/v1/status", "Basic " TOKEN, NULL, NULL, NULL));
    assert_int_equal(200, request(&f, "GET", "/v1/status", "Bearer " TOKEN, NULL, NULL, &j));
    assert_int_equal(3, json_array_size(json_object_get(j, "sinks")));
    json_decref(j);
    assert_int_equal(401, request(&f, "POST", "/v1/sinks/s1/pause", NULL, NULL, NULL, NULL));
    /* the document needs no token */
    assert_int_equal(200, request(&f, "GET", "/v1/openapi.json", NULL, NULL, NULL, NULL));
    fixture_free(&f);
}

static void
test_read_open_and_no_token(void **state)
{
    (void)state;
    fixture_t f = agent("{read_open: true, rate_per_s: 0}");
    json_t *j;
    assert_int_equal(200, request(&f, "GET", "/v1/sinks/s1", NULL, NULL, NULL, NULL));
    assert_int_equal(403, request(&f, "POST", "/v1/sinks/s1/pause", NULL, NULL, NULL, &j));
    assert_string_equal("forbidden", code_of(j));
    json_decref(j);
    fixture_free(&f);
    f = agent(NULL); /* no api section: no token, reads closed too */
    assert_int_equal(403, request(&f, "GET", "/v1/status", NULL, NULL, NULL, NULL));
    fixture_free(&f);
}

static void
test_rate_limit(void **state)
{
    (void)state;
    fixture_t f = agent("{read_open: true, rate_per_s: 1, burst: 3}");
    int ok = 0, limited = 0;
    for (int i = 0; i < 10; i++) {
        unsigned st = request(&f, "GET", "/v1/status", NULL, NULL, NULL, NULL);
        ok += st == 200;
        limited += st == 429;
    }
    assert_int_equal(3, ok); /* the bucket, then nothing within the same second */
    assert_int_equal(7, limited);
    fixture_free(&f);
}

static void
test_errors_and_pages(void **state)
{
    (void)state;
    fixture_t f = agent("{read_open: true, token_env: CDC_TEST_API_TOKEN, rate_per_s: 0}");
    const char *a = "Bearer " TOKEN;
    json_t *j;
    assert_int_equal(404, request(&f, "GET", "/v1/sinks/nope", a, NULL, NULL, NULL));
    assert_int_equal(404, request(&f, "GET", "/v1/sinks/s1/x", a, NULL, NULL, NULL));
    assert_int_equal(404, request(&f, "GET", "/v1/sinks/", a, NULL, NULL, NULL));
    assert_int_equal(405, request(&f, "DELETE", "/v1/status", a, NULL, NULL, NULL));
    assert_int_equal(400,
                     request(&f, "PATCH", "/v1/sinks/s1", a, "{\"max_rows_per_s\":", NULL, &j));
    assert_string_equal("bad_json", code_of(j));
    json_decref(j);
    assert_int_equal(400, request(&f, "PATCH", "/v1/sinks/s1", a, "[1]", NULL, NULL));
    assert_int_equal(
        400, request(&f, "PATCH", "/v1/sinks/s1", a, "{\"max_rows_per_s\": 1.5}", NULL, NULL));
    assert_int_equal(200, request(&f, "GET", "/v1/sinks/s2", a, NULL, NULL, &j));
    assert_int_equal(7, json_integer_value(json_object_get(j, "max_rows_per_s")));
    json_decref(j);
    assert_int_equal(
        200, request(&f, "PATCH", "/v1/sinks/s2", a, "{\"max_rows_per_s\": 50}", NULL, NULL));
    assert_int_equal(50, atomic_load(&cdc_control_find(f.ctl, true, "s2")->max_rows_per_s));
    /* pages: 2, then 1, then a bad cursor */
    const char *const p1[] = {"limit", "2", NULL};
    assert_int_equal(200, request(&f, "GET", "/v1/sinks", a, NULL, p1, &j));
    assert_int_equal(2, json_array_size(json_object_get(j, "items")));
    assert_string_equal("s2", json_string_value(json_object_get(j, "next_cursor")));
    json_decref(j);
    const char *const p2[] = {"limit", "2", "cursor", "s2", NULL};
    assert_int_equal(200, request(&f, "GET", "/v1/sinks", a, NULL, p2, &j));
    assert_int_equal(1, json_array_size(json_object_get(j, "items")));
    assert_true(json_is_null(json_object_get(j, "next_cursor")));
    json_decref(j);
    const char *const p3[] = {"cursor", "zz", NULL};
    assert_int_equal(400, request(&f, "GET", "/v1/sinks", a, NULL, p3, NULL));
    const char *const p4[] = {"limit", "1001", NULL};
    assert_int_equal(400, request(&f, "GET", "/v1/sinks", a, NULL, p4, NULL));
    /* a path that is not UTF-8 still gets a JSON error */
    assert_int_equal(404, request(&f, "GET", "/v1/sinks/\xff\xfe", a, NULL, NULL, NULL));
    fixture_free(&f);
}

static void
test_pause_and_offsets(void **state)
{
    (void)state;
    fixture_t f = agent("{token_env: CDC_TEST_API_TOKEN, rate_per_s: 0}");
    const char *a = "Bearer " TOKEN;
    cdc_unit_t *u = cdc_control_find(f.ctl, true, "s1");
    cdc_unit_set_state(u, CDC_UNIT_RUNNING);
    json_t *j;
    assert_int_equal(409, request(&f, "DELETE", "/v1/sinks/s1/offsets", a, NULL, NULL, &j));
    assert_string_equal("wrong_state", code_of(j));
    json_decref(j);
    assert_int_equal(202, request(&f, "POST", "/v1/sinks/s1/pause", a, NULL, NULL, &j));
    assert_true(json_is_true(json_object_get(j, "pause_requested")));
    json_decref(j);
    assert_true(atomic_load(&u->pause));
    assert_int_equal(202, request(&f, "POST", "/v1/sinks/s1/resume", a, NULL, NULL, NULL));
    assert_false(atomic_load(&u->pause));
    assert_int_equal(202, request(&f, "POST", "/v1/sources/crm/restart", a, NULL, NULL, NULL));
    assert_true(atomic_load(&cdc_control_find(f.ctl, false, "crm")->restart));
    cdc_unit_set_state(u, CDC_UNIT_FAILED);
    assert_int_equal(409, request(&f, "POST", "/v1/sinks/s1/pause", a, NULL, NULL, NULL));
    /* a replay body with both starts, or neither */
    assert_int_equal(400, request(&f, "POST", "/v1/sinks/s2/replay", a, "{}", NULL, NULL));
    assert_int_equal(400, request(&f, "POST", "/v1/sinks/s2/replay", a,
                                  "{\"from_timestamp\": \"2026-01-01\", \"from_offset\": "
                                  "{\"topic\": \"t\", \"partition\": 0, \"offset\": 0}}",
                                  NULL, NULL));
    assert_int_equal(400, request(&f, "POST", "/v1/sinks/s2/replay", a,
                                  "{\"from_timestamp\": \"yesterday\"}", NULL, NULL));
    assert_int_equal(400, request(&f, "POST", "/v1/sources/crm/snapshots", a,
                                  "{\"tables\": [\"public.nope\"]}", NULL, NULL));
    assert_int_equal(404, request(&f, "GET", "/v1/jobs/0000", a, NULL, NULL, NULL));
    fixture_free(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token),
        cmocka_unit_test(test_read_open_and_no_token),
        cmocka_unit_test(test_rate_limit),
        cmocka_unit_test(test_errors_and_pages),
        cmocka_unit_test(test_pause_and_offsets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

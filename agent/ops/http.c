/*
 * The HTTP endpoint on agent.http (libmicrohttpd, a pool of HTTP_THREADS threads; HTTPS with
 * agent.api's certificate):
 *   /healthz  200 while the process runs;
 *   /readyz   200 when every source streams and every sink is connected (cdc_up), or waits as a
 *             standby for the active instance (agent.ha: the body says "standby"), else 503
 *             listing the ones that are not;
 *   /metrics  Prometheus text (include/cdc/metrics.h);
 *   /v1/...   the admin API (agent/ops/api.c), handed each request whole: bodies are collected
 *             here up to agent.api.max_body_bytes (a longer one is answered 413 without being
 *             kept). Slow or idle clients are dropped after HTTP_TIMEOUT_S; connections are
 *             capped in all and per client address.
 */
#include "cdc/http.h"

#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cdc/api.h"
#include "cdc/metrics.h"

#define HTTP_THREADS     4
#define HTTP_TIMEOUT_S   10u
#define HTTP_CONNECTIONS 256u
#define HTTP_PER_CLIENT  32u

struct cdc_http {
    struct MHD_Daemon *d;
    cdc_api_t *api;
    const cdc_api_conf_t *conf;
};

/* A request in progress: its body so far. */
typedef struct {
    cdc_buf_t body;
    bool too_big;
} upload_t;

static void
completed(void *cls, struct MHD_Connection *c, void **state, enum MHD_RequestTerminationCode why)
{
    (void)cls;
    (void)c;
    (void)why;
    upload_t *u = *state;
    if (u) {
        cdc_buf_deinit(&u->body);
        free(u);
        *state = NULL;
    }
}

static const char *
query_arg(void *ctx, const char *key)
{
    return MHD_lookup_connection_value(ctx, MHD_GET_ARGUMENT_KIND, key);
}

static void
client_address(struct MHD_Connection *c, char *out, size_t n)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(out, n, "?");
    if (ci && ci->client_addr) {
        socklen_t len = ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                               : sizeof(struct sockaddr_in);
        getnameinfo(ci->client_addr, len, out, (socklen_t)n, NULL, 0, NI_NUMERICHOST);
    }
}

static enum MHD_Result
api_reply(struct MHD_Connection *c, const cdc_api_resp_t *rs)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(rs->body.len, (void *)rs->body.data, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (rs->retry_after_s > 0) {
        char v[16];
        snprintf(v, sizeof(v), "%d", rs->retry_after_s);
        MHD_add_response_header(r, "Retry-After", v);
    }
    if (rs->auth_challenge)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"cdc-agent\"");
    enum MHD_Result ret = MHD_queue_response(c, rs->status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result
api_request(cdc_http_t *h, struct MHD_Connection *c, const char *url, const char *method,
            upload_t *u)
{
    char client[64];
    client_address(c, client, sizeof(client));
    cdc_api_req_t rq = {method,
                        url,
                        query_arg,
                        c,
                        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"),
                        client,
                        u->body.data,
                        u->body.len,
                        u->too_big};
    cdc_api_resp_t rs = {0};
    cdc_buf_init(&rs.body);
    cdc_api_handle(h->api, &rq, &rs);
    enum MHD_Result ret = api_reply(c, &rs);
    cdc_buf_deinit(&rs.body);
    return ret;
}

static enum MHD_Result
reply(struct MHD_Connection *c, unsigned status, const char *type, const char *body, size_t n)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(n, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
       const char *version, const char *upload, size_t *upload_size, void **state)
{
    cdc_http_t *h = cls;
    (void)version;
    upload_t *u = *state;
    if (!u) { /* the headers: the body, if any, comes in the next calls */
        *state = u = cdc_xcalloc(1, sizeof(*u));
        cdc_buf_init(&u->body);
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        u->too_big = cl && strtoll(cl, NULL, 10) > h->conf->max_body_bytes;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!u->too_big && u->body.len + *upload_size <= (size_t)h->conf->max_body_bytes)
            cdc_buf_append(&u->body, upload, *upload_size);
        else
            u->too_big = true;
        *upload_size = 0;
        return MHD_YES;
    }
    if (!strcmp(url, "/v1") || !strncmp(url, "/v1/", 4))
        return api_request(h, c, url, method, u);
    static const char text[] = "text/plain; charset=utf-8";
    if (strcmp(method, "GET") && strcmp(method, "HEAD"))
        return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, text, "GET only\n", 9);
    if (!strcmp(url, "/healthz"))
        return reply(c, MHD_HTTP_OK, text, "ok\n", 3);
    cdc_buf_t b;
    cdc_buf_init(&b);
    cdc_buf_puts(&b, "");
    enum MHD_Result ret;
    if (!strcmp(url, "/readyz")) {
        cdc_buf_t down, standby;
        cdc_buf_init(&down);
        cdc_buf_init(&standby);
        bool ready = cdc_metrics_ready(&down, &standby);
        if (!ready)
            cdc_buf_printf(&b, "not ready:\n%s", down.data ? down.data : "");
        else if (standby.len) /* agent.ha: healthy, waiting for the active instance */
            cdc_buf_printf(&b, "ready, standby for:\n%s", standby.data);
        else
            cdc_buf_puts(&b, "ready\n");
        cdc_buf_deinit(&down);
        cdc_buf_deinit(&standby);
        ret = reply(c, ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, text, b.data, b.len);
    } else if (!strcmp(url, "/metrics")) {
        cdc_metrics_render(&b);
        ret = reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
    } else {
        ret = reply(c, MHD_HTTP_NOT_FOUND, text, "not found: /healthz /readyz /metrics\n", 37);
    }
    cdc_buf_deinit(&b);
    return ret;
}

cdc_http_t *
cdc_http_start(const char *hostport, const cdc_api_conf_t *conf, cdc_api_t *api, cdc_errstr_t *es)
{
    char host[256];
    const char *colon = strrchr(hostport, ':');
    if (!colon || (size_t)(colon - hostport) >= sizeof(host)) {
        cdc_errstr_set(es, CDC_ERR_CONFIG, "agent.http %s: expected host:port", hostport);
        return NULL;
    }
    memcpy(host, hostport, (size_t)(colon - hostport));
    host[colon - hostport] = '\0';
    if (host[0] == '[' && host[strlen(host) - 1] == ']') { /* [::1]:8080 */
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int gai = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &ai);
    if (gai) {
        cdc_errstr_set(es, CDC_ERR_CONFIG, "agent.http %s: %s", hostport, gai_strerror(gai));
        return NULL;
    }
    bool tls = conf->tls_cert && conf->tls_key;
    cdc_http_t *h = cdc_xcalloc(1, sizeof(*h));
    h->api = api;
    h->conf = conf;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD |
                     (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0) | (tls ? MHD_USE_TLS : 0);
    struct MHD_OptionItem tls_opts[] = {
        {tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, conf->tls_key},
        {tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, conf->tls_cert},
        {MHD_OPTION_END, 0, NULL}};
    h->d = MHD_start_daemon(
        flags, 0, NULL, NULL, handle, h, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_CONNECTION_TIMEOUT, HTTP_TIMEOUT_S, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)HTTP_THREADS, MHD_OPTION_CONNECTION_LIMIT, HTTP_CONNECTIONS,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, HTTP_PER_CLIENT, MHD_OPTION_NOTIFY_COMPLETED, completed,
        NULL, MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!h->d) {
        cdc_errstr_set(es, CDC_ERR_CONFIG,
                       "agent.http %s: cannot listen there (address in use, or not an address "
                       "of this host)%s",
                       hostport,
                       tls ? ", or agent.api's TLS certificate and key do not load or match" : "");
        free(h);
        return NULL;
    }
    return h;
}

void
cdc_http_stop(cdc_http_t *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->d);
    free(h);
}

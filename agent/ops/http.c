/*
 * The health and metrics endpoint on agent.http (libmicrohttpd, its own thread):
 *   /healthz  200 while the process runs;
 *   /readyz   200 when every source streams and every sink is connected (cdc_up), else 503
 *             listing the ones that are not;
 *   /metrics  Prometheus text (include/cdc/metrics.h).
 */
#include "cdc/http.h"

#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cdc/metrics.h"

struct cdc_http {
    struct MHD_Daemon *d;
};

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
    (void)cls;
    (void)version;
    (void)upload;
    (void)upload_size;
    (void)state;
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
        cdc_buf_t down;
        cdc_buf_init(&down);
        bool ready = cdc_metrics_ready(&down);
        if (ready)
            cdc_buf_puts(&b, "ready\n");
        else
            cdc_buf_printf(&b, "not ready:\n%s", down.data ? down.data : "");
        cdc_buf_deinit(&down);
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
cdc_http_start(const char *hostport, cdc_errstr_t *es)
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
    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    struct MHD_Daemon *d =
        MHD_start_daemon(flags, 0, NULL, NULL, handle, NULL, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                         MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!d) {
        cdc_errstr_set(es, CDC_ERR_CONFIG,
                       "agent.http %s: cannot listen there (address in use, or not an address "
                       "of this host)",
                       hostport);
        return NULL;
    }
    cdc_http_t *h = cdc_xcalloc(1, sizeof(*h));
    h->d = d;
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

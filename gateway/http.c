/* http.c - metrics and health over HTTP with libmicrohttpd in its "external select" mode: its
 * epoll descriptor sits in the daemon's epoll and MHD_run() serves on the loop thread, so the
 * handlers read the gateway's state without locks. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "gw.h"
#include "http.h"

#define MAX_CONNECTIONS 16
#define IDLE_TIMEOUT_S 10

struct http {
    struct MHD_Daemon *d;
    struct http_routes routes;
};

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char text[256];
    vsnprintf(text, sizeof(text), fmt, ap);
    size_t n = strlen(text);
    while (n && text[n - 1] == '\n')
        text[--n] = '\0';
    log_warn("http reason=\"%s\"", text);
}

/* Answers with `body`, copied; or with `owned` (body NULL), which is freed. */
static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
                             const char *body, char *owned)
{
    struct MHD_Response *r =
        owned ? MHD_create_response_from_buffer(strlen(owned), owned, MHD_RESPMEM_MUST_FREE)
              : MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r) {
        free(owned);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    (void)upload_data;
    (void)con_cls;
    struct http *h = cls;
    char state[512];
    bool known =
        strcmp(url, "/metrics") == 0 || strcmp(url, "/health") == 0 || strcmp(url, "/ready") == 0;
    if (!known)
        return reply(c, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8",
                     "not found: /metrics, /health, /ready\n", NULL);
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        *upload_data_size = 0;
        return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8",
                     "method not allowed: GET\n", NULL);
    }
    if (strcmp(url, "/metrics") == 0) {
        char *text = h->routes.metrics(h->routes.ctx);
        if (!text)
            return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8",
                         "out of memory\n", NULL);
        return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", NULL, text);
    }
    bool ready = h->routes.state(h->routes.ctx, state, sizeof(state));
    /* /health: the loop answered, so the process is alive and serving; /ready also needs the
     * broker, without which nothing the devices say goes anywhere. */
    unsigned status =
        strcmp(url, "/ready") == 0 && !ready ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK;
    return reply(c, status, "application/json", state, NULL);
}

struct http *http_new(const struct listen_uri *where, const struct http_routes *routes)
{
    struct sockaddr_storage addr;
    socklen_t addr_len;
    if (listen_resolve(where, &addr, &addr_len) < 0)
        return NULL;
    struct http *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->routes = *routes;
    unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    if (addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h->d =
        MHD_start_daemon(flags, where->port, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER,
                         mhd_log, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                         MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_S, MHD_OPTION_END);
    if (!h->d) {
        log_error("listen-failed uri=%s reason=\"cannot listen (port in use, or no such "
                  "address)\"",
                  where->uri);
        free(h);
        return NULL;
    }
    log_info("listening uri=%s serves=/metrics,/health,/ready", where->uri);
    return h;
}

void http_free(struct http *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->d);
    free(h);
}

int http_fd(const struct http *h)
{
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
    return i ? i->epoll_fd : -1;
}

void http_process(struct http *h)
{
    MHD_run(h->d);
}

int64_t http_next_deadline(const struct http *h)
{
    MHD_UNSIGNED_LONG_LONG ms;
    if (MHD_get_timeout(h->d, &ms) != MHD_YES)
        return -1;
    return gw_now_mono_ms() + (int64_t)ms;
}

/* http.h - the daemon's small HTTP listener (libmicrohttpd, driven by the daemon's event loop,
 * never by a thread of its own): GET /metrics (Prometheus text), GET /health (the loop answers:
 * 200) and GET /ready (200 while the broker is connected, else 503). */
#ifndef HTTP_H
#define HTTP_H

#include <stdbool.h>
#include <stdint.h>

#include "lwm2m.h"

struct http_routes {
    /* The metrics text, malloc'd (the listener frees it), or NULL when out of memory. */
    char *(*metrics)(void *ctx);
    /* Writes a one-line JSON state into buf; returns true when ready to serve (the broker is
     * connected). */
    bool (*state)(void *ctx, char *buf, size_t len);
    void *ctx;
};

struct http;

/* Listens on `where` (an http:// listen URI). Returns NULL after logging why (a port that
 * cannot be bound). `routes` is copied. */
struct http *http_new(const struct listen_uri *where, const struct http_routes *routes);

/* Closes the listener and every connection. http_free(NULL) does nothing. */
void http_free(struct http *h);

/* The descriptor to wait on for readability. */
int http_fd(const struct http *h);

/* Serves what is ready. Never blocks. */
void http_process(struct http *h);

/* Milliseconds on CLOCK_MONOTONIC at which http_process() must run even if http_fd() stays
 * quiet (a connection's idle timeout), or -1 for never. */
int64_t http_next_deadline(const struct http *h);

#endif

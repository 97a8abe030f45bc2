/* listen.c - parsing of the listen URIs of the configuration ("coap://0.0.0.0:5683",
 * "coaps://[::]:5684") into scheme, host and port.
 * Pure string work, kept apart from server.c so that the config loader can validate listeners
 * without creating a libcoap context: a bad URI is a configuration problem, not a runtime one. */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw.h"
#include "lwm2m.h"

#define LISTEN_HOST_MAX 253 /* longest DNS name */

/* A DNS name or a dotted IPv4 address: labels of letters, digits and '-', not starting or
 * ending with '-'. All-numeric names must be a valid IPv4 address, so that "300.1.1.1" is
 * refused here rather than sent to the resolver. */
static int host_is_valid(const char *host, size_t len)
{
    size_t label = 0;
    int numeric = 1;

    if (len == 0 || len > LISTEN_HOST_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = host[i];
        if (c == '.') {
            if (label == 0 || host[i - 1] == '-')
                return 0;
            label = 0;
            continue;
        }
        if (c == '-') {
            if (label == 0)
                return 0;
        } else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) {
            return 0;
        }
        if (c < '0' || c > '9')
            numeric = 0;
        if (++label > 63)
            return 0;
    }
    if (label == 0 || host[len - 1] == '-')
        return 0;
    if (numeric) {
        char buf[LISTEN_HOST_MAX + 1];
        struct in_addr a;
        memcpy(buf, host, len);
        buf[len] = '\0';
        return inet_pton(AF_INET, buf, &a) == 1;
    }
    return 1;
}

int listen_parse(const char *uri, unsigned schemes, struct listen_uri *out, char *err,
                 size_t errlen)
{
    char v6[INET6_ADDRSTRLEN + 1];
    const char *p, *host, *end;
    size_t host_len;
    unsigned long port;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!uri || !*uri)
        return gw_fail(-GW_ERR_INVALID, err, errlen, "listen URI is empty");

    static const struct {
        const char *prefix;
        enum listen_scheme scheme;
        unsigned long port;
    } known[] = {{"coaps://", GW_SCHEME_COAPS, 5684},
                 {"coap://", GW_SCHEME_COAP, 5683},
                 {"http://", GW_SCHEME_HTTP, 9464}};
    size_t k = 0;
    while (k < GW_ARRAY_LEN(known) &&
           strncasecmp(uri, known[k].prefix, strlen(known[k].prefix)) != 0)
        k++;
    if (k == GW_ARRAY_LEN(known) || !(schemes & (1u << known[k].scheme)))
        return gw_fail(-GW_ERR_INVALID, err, errlen, "'%s' must start with %s", uri,
                       schemes == LISTEN_HTTP ? "http://" : "coap:// or coaps://");
    out->scheme = known[k].scheme;
    port = known[k].port;
    p = uri + strlen(known[k].prefix);

    if (*p == '[') {
        host = p + 1;
        end = strchr(host, ']');
        if (!end)
            return gw_fail(-GW_ERR_INVALID, err, errlen, "'%s' has '[' without ']'", uri);
        host_len = (size_t)(end - host);
        if (host_len == 0 || host_len >= sizeof(v6))
            return gw_fail(-GW_ERR_INVALID, err, errlen, "'%s' has an invalid IPv6 address", uri);
        memcpy(v6, host, host_len);
        v6[host_len] = '\0';
        struct in6_addr a6;
        if (inet_pton(AF_INET6, v6, &a6) != 1)
            return gw_fail(-GW_ERR_INVALID, err, errlen, "'%s' has an invalid IPv6 address '%s'",
                           uri, v6);
        p = end + 1;
    } else {
        host = p;
        while (*p && *p != ':' && *p != '/')
            p++;
        host_len = (size_t)(p - host);
        if (host_len == 0)
            return gw_fail(-GW_ERR_INVALID, err, errlen, "'%s' has no host", uri);
        if (!host_is_valid(host, host_len))
            return gw_fail(-GW_ERR_INVALID, err, errlen,
                           "'%s' has an invalid host (IPv6 addresses go in [ ])", uri);
    }

    if (*p == ':') {
        p++;
        if (*p < '0' || *p > '9')
            return gw_fail(-GW_ERR_INVALID, err, errlen, "'%s' has an invalid port", uri);
        port = 0;
        while (*p >= '0' && *p <= '9' && port <= 65535)
            port = port * 10 + (unsigned long)(*p++ - '0');
        if (port < 1 || port > 65535)
            return gw_fail(-GW_ERR_INVALID, err, errlen, "'%s' port must be 1-65535", uri);
    }
    /* A lone trailing '/' is harmless; a path, query or anything else is a mistake. */
    if (*p == '/' && p[1] == '\0')
        p++;
    if (*p != '\0')
        return gw_fail(-GW_ERR_INVALID, err, errlen,
                       "'%s' has unexpected text '%s' after the host and port", uri, p);

    out->port = (uint16_t)port;
    out->uri = strdup(uri);
    out->host = strndup(host, host_len);
    if (!out->uri || !out->host) {
        rc = -GW_ERR_NOMEM;
        goto out_clear;
    }
    return GW_OK;

out_clear:
    listen_clear(out);
    return gw_fail(rc, err, errlen, "out of memory");
}

void listen_clear(struct listen_uri *l)
{
    if (!l)
        return;
    free(l->uri);
    free(l->host);
    memset(l, 0, sizeof(*l));
}

int listen_resolve(const struct listen_uri *l, struct sockaddr_storage *out, socklen_t *len)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = l->scheme == GW_SCHEME_HTTP ? SOCK_STREAM : SOCK_DGRAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char port[8];
    snprintf(port, sizeof(port), "%u", l->port);
    int rc = getaddrinfo(l->host, port, &hints, &res);
    if (rc != 0 || !res || res->ai_addrlen > sizeof(*out)) {
        log_error("listen-failed uri=%s reason=\"%s\"", l->uri,
                  rc ? gai_strerror(rc) : "no usable address");
        if (res)
            freeaddrinfo(res);
        return -GW_ERR_INVALID;
    }
    memcpy(out, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return GW_OK;
}

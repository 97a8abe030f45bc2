/* coapwire.h - just enough CoAP on the wire (RFC 7252 section 3) for the fuzz targets that talk
 * to a real gateway server over loopback UDP (fuzz_coap.c, fuzz_mqtt_inbound.c): a client
 * socket, a reader of the datagrams the gateway sends (header, token, the options the harnesses
 * look at, payload) and a writer of the answers a device gives. Written by hand rather than with
 * libcoap, so that what the harness sends is exactly the bytes it means and nothing of the
 * library under test checks itself. Private to tests/fuzz (static inline functions). */
#ifndef COAPWIRE_H
#define COAPWIRE_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { WIRE_CON = 0, WIRE_NON = 1, WIRE_ACK = 2, WIRE_RST = 3 };

#define WIRE_CODE(c, d) ((uint8_t)(((c) << 5) | (d)))
#define WIRE_OPT_OBSERVE 6
#define WIRE_OPT_LOCATION_PATH 8
#define WIRE_OPT_URI_PATH 11
#define WIRE_OPT_CONTENT_FORMAT 12
#define WIRE_OPT_URI_QUERY 15
#define WIRE_OPT_ACCEPT 17
#define WIRE_MAX 1500 /* the largest datagram read or written */

/* One datagram as the harnesses see it. Pointers point into the buffer it was read from. */
struct wire_msg {
    uint8_t type, code, tkl;
    uint16_t mid;
    uint8_t token[8];
    char path[96];      /* the Uri-Path options joined: "/3/0/9"; "" without any */
    char location[16];  /* the last Location-Path option of up to 15 bytes ("k3v9q2ma") */
    int observe;        /* the Observe option's value, -1 without one */
    int content_format; /* -1 without the option */
    int accept;         /* -1 without the option */
    int n_query;        /* Uri-Query options */
    const uint8_t *payload;
    size_t payload_len;
};

static inline uint32_t wire_uint(const uint8_t *p, size_t len)
{
    uint32_t v = 0;
    for (size_t i = 0; i < len && i < 4; i++)
        v = v << 8 | p[i];
    return v;
}

/* Parses `buf` into `m`. Returns false when it is not a well-formed CoAP message. */
static inline bool wire_parse(const uint8_t *buf, size_t len, struct wire_msg *m)
{
    memset(m, 0, sizeof(*m));
    m->observe = m->content_format = m->accept = -1;
    if (len < 4 || (buf[0] >> 6) != 1 || (buf[0] & 0x0f) > 8 || len < 4u + (buf[0] & 0x0f))
        return false;
    m->type = (buf[0] >> 4) & 3;
    m->tkl = buf[0] & 0x0f;
    m->code = buf[1];
    m->mid = (uint16_t)(buf[2] << 8 | buf[3]);
    memcpy(m->token, buf + 4, m->tkl);
    size_t i = 4u + m->tkl, plen = 0;
    unsigned number = 0;
    while (i < len && buf[i] != 0xff) {
        unsigned delta = buf[i] >> 4, olen = buf[i] & 0x0f;
        i++;
        for (int k = 0; k < 2; k++) {
            unsigned *f = k ? &olen : &delta;
            if (*f == 13) {
                if (i >= len)
                    return false;
                *f = 13u + buf[i++];
            } else if (*f == 14) {
                if (i + 1 >= len)
                    return false;
                *f = 269u + (unsigned)(buf[i] << 8 | buf[i + 1]);
                i += 2;
            } else if (*f == 15) {
                return false;
            }
        }
        if (olen > len - i)
            return false;
        number += delta;
        const uint8_t *v = buf + i;
        i += olen;
        switch (number) {
        case WIRE_OPT_OBSERVE:
            m->observe = (int)wire_uint(v, olen);
            break;
        case WIRE_OPT_LOCATION_PATH:
            if (olen < sizeof(m->location)) {
                memcpy(m->location, v, olen);
                m->location[olen] = '\0';
            }
            break;
        case WIRE_OPT_URI_PATH:
            if (plen + 1 + olen < sizeof(m->path)) {
                m->path[plen++] = '/';
                memcpy(m->path + plen, v, olen);
                plen += olen;
                m->path[plen] = '\0';
            }
            break;
        case WIRE_OPT_CONTENT_FORMAT:
            m->content_format = (int)wire_uint(v, olen);
            break;
        case WIRE_OPT_URI_QUERY:
            m->n_query++;
            break;
        case WIRE_OPT_ACCEPT:
            m->accept = (int)wire_uint(v, olen);
            break;
        default:
            break;
        }
    }
    if (i < len) { /* the payload marker */
        if (i + 1 == len)
            return false;
        m->payload = buf + i + 1;
        m->payload_len = len - i - 1;
    }
    return true;
}

/* A message being written: wire_start, then options in ascending order, then wire_end. */
struct wire_out {
    uint8_t buf[WIRE_MAX];
    size_t len;
    unsigned last;
};

static inline void wire_start(struct wire_out *o, uint8_t type, uint8_t code, uint16_t mid,
                              const uint8_t *token, uint8_t tkl)
{
    o->buf[0] = (uint8_t)(0x40 | type << 4 | tkl);
    o->buf[1] = code;
    o->buf[2] = (uint8_t)(mid >> 8);
    o->buf[3] = (uint8_t)mid;
    if (tkl)
        memcpy(o->buf + 4, token, tkl);
    o->len = 4u + tkl;
    o->last = 0;
}

static inline void wire_option(struct wire_out *o, unsigned number, const void *value, size_t len)
{
    unsigned delta = number - o->last;
    if (len > 268 || o->len + 5 + len > sizeof(o->buf))
        return;
    uint8_t *h = o->buf + o->len++;
    unsigned dn = delta < 13 ? delta : delta < 269 ? 13 : 14;
    unsigned ln = len < 13 ? (unsigned)len : 13;
    *h = (uint8_t)(dn << 4 | ln);
    if (dn == 13)
        o->buf[o->len++] = (uint8_t)(delta - 13);
    else if (dn == 14) {
        o->buf[o->len++] = (uint8_t)((delta - 269) >> 8);
        o->buf[o->len++] = (uint8_t)(delta - 269);
    }
    if (ln == 13)
        o->buf[o->len++] = (uint8_t)(len - 13);
    memcpy(o->buf + o->len, value, len);
    o->len += len;
    o->last = number;
}

static inline void wire_option_uint(struct wire_out *o, unsigned number, uint32_t v)
{
    uint8_t b[4];
    size_t n = 0;
    for (int shift = 24; shift >= 0; shift -= 8)
        if (n || (v >> shift) & 0xff)
            b[n++] = (uint8_t)(v >> shift);
    wire_option(o, number, b, n);
}

static inline void wire_end(struct wire_out *o, const void *payload, size_t len)
{
    if (len == 0 || o->len + 1 + len > sizeof(o->buf))
        return;
    o->buf[o->len++] = 0xff;
    memcpy(o->buf + o->len, payload, len);
    o->len += len;
}

/* A non-blocking UDP socket on 127.0.0.1, any port; aborts when there is none (the harness
 * cannot run at all then). */
static inline int wire_socket(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        perror("coapwire: socket");
        abort();
    }
    return fd;
}

/* A loopback UDP port that is free now (bound, read back, released). */
static inline uint16_t wire_free_port(void)
{
    int fd = wire_socket();
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    if (getsockname(fd, (struct sockaddr *)&a, &alen) < 0)
        abort();
    close(fd);
    return ntohs(a.sin_port);
}

static inline void wire_send(int fd, uint16_t port, const uint8_t *buf, size_t len)
{
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    (void)sendto(fd, buf, len, 0, (struct sockaddr *)&a, sizeof(a));
}

/* Reads one waiting datagram into `buf` (WIRE_MAX bytes). Returns its length, or -1 when
 * nothing is waiting. */
static inline ssize_t wire_recv(int fd, uint8_t *buf)
{
    return recv(fd, buf, WIRE_MAX, MSG_DONTWAIT);
}

/* Throws away whatever is waiting on `fd`. */
static inline void wire_drain(int fd)
{
    uint8_t buf[WIRE_MAX];
    while (wire_recv(fd, buf) >= 0)
        ;
}

#endif

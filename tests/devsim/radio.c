/* radio.c - when a simulated device hears its server. With --awake a queue-mode device
 * listens for that long after each uplink (a request or a notification it sends) and is
 * asleep otherwise; a muted device (--unresponsive, the mute action) never listens. A device
 * that does not listen drops the server's requests without a word, no ACK, no RST, as a radio
 * that is off would: it takes them off its socket before libcoap reads it, so that libcoap
 * neither answers nor adds an observer. Answers to its own requests still reach libcoap.
 * libcoap 4.3.1 does not tell the descriptor of a session's socket: it is found among those
 * the context's epoll set watches (/proc/self/fdinfo), as the one bound to the session's port. */

#include "sim_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

/* Largest datagram taken off the socket; longer ones are cut, which a drop does not mind. */
#define GW_DATAGRAM_MAX 2048

void radio_uplink(struct device *dev)
{
    double awake = dev->sim->opt->awake;
    if (awake >= 0.0)
        dev->awake_until_ms = sim_now_ms() + awake * 1e3;
}

/* The local port `fd` is bound to, or 0 when it is no UDP socket. */
static uint16_t bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int type = 0;
    socklen_t tlen = sizeof(type);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0 || type != SOCK_DGRAM ||
        getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

/* Finds the socket of the session of `dev` among the descriptors its context's epoll set
 * watches ("tfd: N" lines of /proc/self/fdinfo/EPFD). Returns it, or -1. */
static int find_socket(const struct device *dev)
{
    char name[64], line[256];
    int epfd = coap_context_get_coap_fd(dev->ctx);
    uint16_t port = coap_address_get_port(coap_session_get_addr_local(dev->session));
    snprintf(name, sizeof(name), "/proc/self/fdinfo/%d", epfd);
    FILE *f = fopen(name, "r");
    if (f == NULL)
        return -1;
    int found = -1;
    while (found < 0 && fgets(line, sizeof(line), f) != NULL) {
        int fd;
        if (sscanf(line, "tfd: %d", &fd) == 1 && port != 0 && bound_port(fd) == port)
            found = fd;
    }
    fclose(f);
    return found;
}

/* Whether the first `len` bytes of a datagram are a CoAP request (or a ping): a CON or NON
 * message with a code of class 0. ACKs, RSTs and responses are not. */
static bool is_request(const uint8_t *b, size_t len)
{
    unsigned type = (b[0] >> 4) & 3u;
    return len >= 4 && (b[0] >> 6) == 1 && type <= 1 && (b[1] >> 5) == 0;
}

/* Reports a dropped request: method and path from the datagram, when it parses. */
static void report_drop(struct device *dev, const uint8_t *data, size_t len, const char *reason)
{
    struct outcome o;
    memset(&o, 0, sizeof(o));
    o.event = "dropped";
    o.reason = reason;
    o.method = data[1];
    o.path[0] = '/';
    o.path_len = 1;
    coap_pdu_t *pdu = coap_pdu_init(0, 0, 0, len);
    coap_string_t *query = NULL;
    if (pdu != NULL && coap_pdu_parse(COAP_PROTO_UDP, data, len, pdu)) {
        coap_string_t *uri = coap_get_uri_path(pdu);
        size_t n = uri ? (uri->length < GW_URI_MAX ? uri->length : GW_URI_MAX) : 0;
        if (n > 0)
            memcpy(o.path + 1, uri->s, n);
        o.path_len = n + 1;
        coap_delete_string(uri);
        query = coap_get_query(pdu);
        o.query = query && query->length > 0 ? query : NULL;
    }
    o.path[o.path_len] = '\0';
    serve_report(dev, &o);
    coap_delete_string(query);
    coap_delete_pdu(pdu);
}

void radio_drop_requests(struct device *dev)
{
    const struct sim *sim = dev->sim;
    bool asleep = sim->opt->awake >= 0.0 && sim_now_ms() >= dev->awake_until_ms;
    if (!sim->muted && !asleep)
        return;
    if (dev->fd == -2) {
        dev->fd = find_socket(dev);
        if (dev->fd < 0)
            fprintf(stderr,
                    "devsim: ep=%s: cannot find the session's socket: requests are "
                    "answered even when muted or asleep\n",
                    dev->name);
    }
    if (dev->fd < 0)
        return;
    uint8_t buf[GW_DATAGRAM_MAX];
    for (;;) {
        ssize_t n = recv(dev->fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || !is_request(buf, (size_t)n))
            return; /* nothing waits, or an answer for libcoap */
        n = recv(dev->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 4)
            return;
        report_drop(dev, buf, (size_t)n > sizeof(buf) ? sizeof(buf) : (size_t)n,
                    sim->muted ? "muted" : "asleep");
    }
}

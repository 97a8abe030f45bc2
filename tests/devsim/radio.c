/* radio.c - the device's link to its server: its client session (plain UDP for coap://,
 * DTLS 1.2 for coaps:// with PSK or X.509 credentials, and the handshake's outcome and
 * cipher), and when the device hears its server.
 *
 * With --awake a queue-mode device listens for that long after each uplink (a request or a
 * notification it sends) and is asleep otherwise; a muted device (--unresponsive, the mute
 * action) never listens. A device that does not listen drops the server's requests without
 * a word, no ACK, no RST, as a radio that is off would: it takes them off its socket before
 * libcoap reads it, so that libcoap neither answers nor adds an observer. Answers to its own
 * requests still reach libcoap. libcoap 4.3.1 does not tell the descriptor of a session's
 * socket: it is found among those the context's epoll set watches (/proc/self/fdinfo), as
 * the one bound to the session's port. Under DTLS the datagrams are encrypted: a device that
 * does not listen drops every application data record while it has no request of its own in
 * flight.
 *
 * libcoap 4.3.1 with OpenSSL offers a client no hook before its first ClientHello (the PKI
 * additional_tls_setup_call_back is only called on servers, the PSK setup has none), so
 * --ciphers is set on the session's SSL right after libcoap made it: it applies from the
 * ClientHello that answers the server's HelloVerifyRequest, which every libcoap server
 * sends; OpenSSL refuses a ServerHello with a cipher outside the list either way. */

#include "sim_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

/* Largest datagram taken off the socket; longer ones are cut, which a drop does not mind. */
#define GW_DATAGRAM_MAX 2048
/* The DTLS record content type of application data (RFC 6347, 4.1). */
#define GW_DTLS_APPLICATION_DATA 23
/* Most certificates a chain from the server may hold above its own. */
#define GW_VERIFY_DEPTH 4

/* ---- credentials ------------------------------------------------------------------------ */

/* `pattern` with every "{ep}" replaced by `ep`, malloc'd; NULL when out of memory. */
static char *expand_ep(const char *pattern, const char *ep)
{
    size_t count = 0, ep_len = strlen(ep);
    for (const char *p = strstr(pattern, "{ep}"); p != NULL; p = strstr(p + 4, "{ep}"))
        count++;
    char *out = malloc(strlen(pattern) + count * ep_len + 1);
    if (out == NULL)
        return NULL;
    char *w = out;
    for (const char *p = pattern; *p != '\0';) {
        if (strncmp(p, "{ep}", 4) == 0) {
            memcpy(w, ep, ep_len);
            w += ep_len;
            p += 4;
        } else {
            *w++ = *p++;
        }
    }
    *w = '\0';
    return out;
}

static int compare_endpoint(const void *key, const void *entry)
{
    return strcmp(key, ((const struct psk_entry *)entry)->endpoint);
}

/* Expands the file name `pattern` for `dev` into *out and checks that it can be read. */
static bool credential_file(struct device *dev, const char *option, const char *pattern, char **out)
{
    *out = expand_ep(pattern, dev->name);
    if (*out == NULL) {
        fprintf(stderr, "devsim: out of memory\n");
        return false;
    }
    if (access(*out, R_OK) != 0) {
        fprintf(stderr, "devsim: ep=%s: cannot read %s %s: %s\n", dev->name, option, *out,
                strerror(errno));
        return false;
    }
    return true;
}

bool radio_credentials(struct device *dev)
{
    const struct options *opt = dev->sim->opt;
    if (!opt->dtls)
        return true;
    if (opt->cert != NULL)
        return credential_file(dev, "--cert", opt->cert, &dev->cert_file) &&
               credential_file(dev, "--key", opt->key, &dev->key_file) &&
               (opt->ca == NULL || credential_file(dev, "--ca", opt->ca, &dev->ca_file));
    if (opt->psk_entries != NULL) {
        const struct psk_entry *e =
            bsearch(dev->name, opt->psk_entries, opt->psk_count, sizeof(*e), compare_endpoint);
        if (e == NULL) {
            fprintf(stderr, "devsim: ep=%s has no line in --psk-file\n", dev->name);
            return false;
        }
        dev->psk_identity = strdup(e->identity);
        dev->psk_key = e->key;
        dev->psk_key_len = e->key_len;
    } else {
        dev->psk_identity = expand_ep(opt->psk_identity, dev->name);
        dev->psk_key = opt->psk_key;
        dev->psk_key_len = opt->psk_key_len;
    }
    if (dev->psk_identity == NULL) {
        fprintf(stderr, "devsim: out of memory\n");
        return false;
    }
    if (strlen(dev->psk_identity) > GW_PSK_IDENTITY_MAX) {
        fprintf(stderr, "devsim: ep=%s: the PSK identity is longer than %d bytes\n", dev->name,
                GW_PSK_IDENTITY_MAX);
        return false;
    }
    return true;
}

/* ---- the session ------------------------------------------------------------------------ */

/* The OpenSSL object of a DTLS `session`, or NULL. */
static SSL *session_ssl(const coap_session_t *session)
{
    coap_tls_library_t lib = COAP_TLS_LIBRARY_NOTLS;
    void *tls = session ? coap_session_get_tls(session, &lib) : NULL;
    return lib == COAP_TLS_LIBRARY_OPENSSL ? tls : NULL;
}

/* OpenSSL info callback of every device SSL: keeps the first fatal alert as the reason of a
 * failure, then calls libcoap's own (of the SSL_CTX), which logs. */
static void on_ssl_info(const SSL *ssl, int where, int ret)
{
    if ((where & SSL_CB_ALERT) && (ret >> 8) == SSL3_AL_FATAL) {
        coap_session_t *session = SSL_get_app_data(ssl);
        struct device *dev = session ? coap_session_get_app_data(session) : NULL;
        if (dev != NULL && dev->dtls_error[0] == '\0')
            snprintf(dev->dtls_error, sizeof(dev->dtls_error), "fatal alert %s: %s",
                     (where & SSL_CB_READ) ? "received" : "sent", SSL_alert_desc_string_long(ret));
    }
    void (*libcoap_cb)(const SSL *, int, int) = SSL_CTX_get_info_callback(SSL_get_SSL_CTX(ssl));
    if (libcoap_cb != NULL)
        libcoap_cb(ssl, where, ret);
}

/* The local address of `dev`'s socket under --bind, or NULL for libcoap's choice (any
 * address, an ephemeral port). Device i gets address first + i mod count and port
 * GW_BIND_PORT_BASE + i / count: libcoap sets SO_REUSEADDR on a client socket it binds, and
 * with it the kernel may give two sockets the same ephemeral port (answers then reach the
 * wrong device), so the ports are chosen here, below the ephemeral range. Points into a
 * static buffer, valid until the next call. */
static const coap_address_t *local_address(const struct device *dev)
{
    static coap_address_t local;
    const struct options *opt = dev->sim->opt;
    if (opt->bind_count == 0)
        return NULL;
    coap_address_init(&local);
    local.size = sizeof(struct sockaddr_in);
    local.addr.sin.sin_family = AF_INET;
    local.addr.sin.sin_port = htons((uint16_t)(GW_BIND_PORT_BASE + dev->index / opt->bind_count));
    local.addr.sin.sin_addr.s_addr =
        htonl(opt->bind_first + (uint32_t)(dev->index % opt->bind_count));
    return &local;
}

static coap_session_t *new_psk_session(struct device *dev)
{
    const struct options *opt = dev->sim->opt;
    coap_dtls_cpsk_t setup;
    memset(&setup, 0, sizeof(setup));
    setup.version = COAP_DTLS_CPSK_SETUP_VERSION;
    setup.client_sni = opt->server_is_name ? (char *)opt->server_host : NULL;
    setup.psk_info.identity.s = (const uint8_t *)dev->psk_identity;
    setup.psk_info.identity.length = strlen(dev->psk_identity);
    setup.psk_info.key.s = dev->psk_key;
    setup.psk_info.key.length = dev->psk_key_len;
    return coap_new_client_session_psk2(dev->ctx, local_address(dev), &dev->sim->server,
                                        COAP_PROTO_DTLS, &setup);
}

static coap_session_t *new_pki_session(struct device *dev)
{
    const struct options *opt = dev->sim->opt;
    bool verify = dev->ca_file != NULL;
    coap_dtls_pki_t setup;
    memset(&setup, 0, sizeof(setup));
    setup.version = COAP_DTLS_PKI_SETUP_VERSION;
    /* Without --ca libcoap verifies nothing (self-signed test servers get in). With it the
     * server's chain must lead to one of its certificates: libcoap loads ca_file into the
     * trust store only with check_common_ca, which asks no more than that. */
    setup.verify_peer_cert = verify;
    setup.check_common_ca = verify;
    setup.cert_chain_validation = verify;
    setup.cert_chain_verify_depth = GW_VERIFY_DEPTH;
    setup.client_sni = opt->server_is_name ? (char *)opt->server_host : NULL;
    setup.pki_key.key_type = COAP_PKI_KEY_PEM;
    setup.pki_key.key.pem.public_cert = dev->cert_file;
    setup.pki_key.key.pem.private_key = dev->key_file;
    setup.pki_key.key.pem.ca_file = dev->ca_file;
    return coap_new_client_session_pki(dev->ctx, local_address(dev), &dev->sim->server,
                                       COAP_PROTO_DTLS, &setup);
}

bool radio_connect(struct device *dev, const char **why)
{
    const struct options *opt = dev->sim->opt;
    dev->fd = -2;
    dev->cipher = NULL;
    dev->renew = false;
    dev->dtls_error[0] = '\0';
    /* libcoap opens a socket of its own for the session, bound to the local address when
     * one is given (--bind), else to any. */
    if (!opt->dtls)
        dev->session = coap_new_client_session(dev->ctx, local_address(dev), &dev->sim->server,
                                               COAP_PROTO_UDP);
    else if (dev->cert_file != NULL)
        dev->session = new_pki_session(dev);
    else
        dev->session = new_psk_session(dev);
    if (dev->session == NULL) {
        *why = !opt->dtls ? "cannot create the session"
               : dev->cert_file != NULL
                   ? "cannot start DTLS: libcoap refused the certificate, key or CA file"
                   : "cannot start DTLS";
        return false;
    }
    coap_session_set_app_data(dev->session, dev);
    /* With NSTART 1, libcoap would hold a device's next request back behind one we
     * already reported as timed out, for as long as it keeps retransmitting that one
     * (up to 93 s), so the next action of that device would time out too. */
    coap_session_set_nstart(dev->session, GW_NSTART);
    if (!opt->dtls)
        return true;

    SSL *ssl = session_ssl(dev->session);
    if (ssl == NULL) {
        *why = "this libcoap does not run DTLS on OpenSSL";
        radio_disconnect(dev, true);
        return false;
    }
    SSL_set_info_callback(ssl, on_ssl_info);
    if (opt->ciphers != NULL && SSL_set_cipher_list(ssl, opt->ciphers) != 1) {
        *why = "OpenSSL takes none of --ciphers";
        radio_disconnect(dev, true);
        return false;
    }
    return true;
}

void radio_disconnect(struct device *dev, bool quiet)
{
    if (dev->session == NULL)
        return;
    /* libcoap sends close_notify when it frees an established session, unless told not to. */
    SSL *ssl = session_ssl(dev->session);
    if (ssl != NULL && quiet)
        SSL_set_quiet_shutdown(ssl, 1);
    /* A session without app data ignores what is still in flight, and its last events. */
    coap_session_set_app_data(dev->session, NULL);
    coap_session_release(dev->session);
    dev->session = NULL;
    dev->fd = -2;
    dev->cipher = NULL;
}

bool radio_session_dead(const struct device *dev)
{
    return dev->sim->opt->dtls && (dev->session == NULL || dev->renew ||
                                   coap_session_get_state(dev->session) == COAP_SESSION_STATE_NONE);
}

bool radio_handshaking(const struct device *dev)
{
    return dev->session != NULL &&
           coap_session_get_state(dev->session) == COAP_SESSION_STATE_HANDSHAKE;
}

/* Counts a negotiated cipher for the summary line. */
static void count_cipher(struct sim *sim, const char *name)
{
    size_t i = 0;
    while (i < sim->cipher_n && strcmp(sim->cipher_names[i], name) != 0)
        i++;
    if (i == sim->cipher_n) {
        if (i == GW_CIPHERS_MAX)
            return;
        sim->cipher_names[i] = name;
        sim->cipher_n++;
    }
    sim->cipher_counts[i]++;
}

/* Prints the stderr line (unless --quiet) and, with --trace, the JSON line of a DTLS event:
 * `state` "connected" (with `protocol` and the cipher), "failed" or "error" (with `error`),
 * or "closed". */
static void report_dtls(const struct device *dev, const char *state, const char *protocol,
                        const char *error)
{
    const struct options *opt = dev->sim->opt;
    if (!opt->quiet)
        fprintf(stderr, "devsim: ep=%s dtls=%s%s%s%s%s\n", dev->name, state,
                dev->cipher ? " cipher=" : "", dev->cipher ? dev->cipher : "",
                error ? " error=" : "", error ? error : "");
    if (!opt->trace)
        return;
    fputs("{\"ep\":", stdout);
    sim_print_json_string(stdout, dev->name, strlen(dev->name));
    printf(",\"event\":\"dtls\",\"state\":\"%s\"", state);
    if (protocol != NULL)
        printf(",\"protocol\":\"%s\"", protocol);
    if (dev->cipher != NULL)
        printf(",\"cipher\":\"%s\"", dev->cipher);
    if (error != NULL) {
        fputs(",\"error\":", stdout);
        sim_print_json_string(stdout, error, strlen(error));
    }
    printf(",\"t\":%.3f}\n", sim_elapsed(dev->sim));
    fflush(stdout);
}

void radio_handshake_expired(struct device *dev)
{
    /* A fatal alert would have ended the handshake: nothing was said. */
    snprintf(dev->dtls_error, sizeof(dev->dtls_error), "%s",
             "DTLS handshake not finished within --timeout");
    dev->sim->handshake_failures++;
    report_dtls(dev, "failed", NULL, dev->dtls_error);
}

int radio_event(coap_session_t *session, const coap_event_t event)
{
    struct device *dev = coap_session_get_app_data(session);
    if (dev == NULL || dev->session != session)
        return 0;
    SSL *ssl = session_ssl(session);
    switch (event) {
    case COAP_EVENT_DTLS_CONNECTED:
        dev->cipher = ssl ? SSL_get_cipher_name(ssl) : "?";
        dev->sim->handshakes++;
        count_cipher(dev->sim, dev->cipher);
        report_dtls(dev, "connected", ssl ? SSL_get_version(ssl) : NULL, NULL);
        break;
    case COAP_EVENT_DTLS_ERROR: {
        bool handshake = dev->cipher == NULL;
        long verify = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
        if (handshake && verify != X509_V_OK && dev->ca_file != NULL)
            snprintf(dev->dtls_error, sizeof(dev->dtls_error), "server certificate refused: %s",
                     X509_verify_cert_error_string(verify));
        else if (dev->dtls_error[0] == '\0')
            snprintf(dev->dtls_error, sizeof(dev->dtls_error), "DTLS error");
        if (handshake)
            dev->sim->handshake_failures++;
        report_dtls(dev, handshake ? "failed" : "error", NULL, dev->dtls_error);
        dev->cipher = NULL;
        break;
    }
    case COAP_EVENT_DTLS_CLOSED:
        if (dev->cipher != NULL) {
            report_dtls(dev, "closed", NULL, NULL);
            dev->cipher = NULL;
        }
        break;
    default:
        break;
    }
    return 0;
}

/* ---- listening -------------------------------------------------------------------------- */

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
    if (dev->sim->opt->dtls) { /* encrypted: neither method nor path can be told */
        o.method = 0;
        o.path[0] = '?';
        o.path[1] = '\0';
        serve_report(dev, &o);
        return;
    }
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

/* Whether a datagram taken off the socket of `dev` is one to drop: a CoAP request, or under
 * DTLS any application data while the device has no request in flight (it cannot read
 * inside; an answer to its own request passes, as an ACK to a notification does only then). */
static bool to_drop(const struct device *dev, const uint8_t *b, size_t len)
{
    if (dev->sim->opt->dtls)
        return len >= 13 && b[0] == GW_DTLS_APPLICATION_DATA && !dev->in_flight;
    return is_request(b, len);
}

void radio_drop_requests(struct device *dev)
{
    const struct sim *sim = dev->sim;
    bool asleep = sim->opt->awake >= 0.0 && sim_now_ms() >= dev->awake_until_ms;
    if ((!sim->muted && !asleep) || dev->session == NULL)
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
        if (n <= 0 || !to_drop(dev, buf, (size_t)n))
            return; /* nothing waits, or an answer for libcoap */
        n = recv(dev->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 4)
            return;
        report_drop(dev, buf, (size_t)n > sizeof(buf) ? sizeof(buf) : (size_t)n,
                    sim->muted ? "muted" : "asleep");
    }
}

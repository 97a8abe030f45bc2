/* lwm2m.h - the LwM2M server side of the gateway: CoAP listeners (libcoap), the registration
 * interface at /rd, and the registry of registered devices.
 *
 * This module knows LwM2M and nothing of MQTT. It reports what happens through the callbacks
 * handed to lwm2m_new(); those run on the loop thread, inside lwm2m_process() or
 * lwm2m_timeout(), and the data they are given lives only for the call. It is driven by the
 * daemon's event loop: wait until lwm2m_fd() is readable or lwm2m_next_deadline() is reached,
 * then call lwm2m_process(). */
#ifndef LWM2M_H
#define LWM2M_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LWM2M_EP_MAX 128  /* longest endpoint name accepted, in bytes */
#define LWM2M_ID_LEN 8    /* registration location ids are this many characters */

/* ---- configuration (filled by the daemon's config loader) ---- */

enum lwm2m_scheme { GW_SCHEME_COAP, GW_SCHEME_COAPS };

struct lwm2m_listen {
    char *uri;          /* as written, for messages */
    enum lwm2m_scheme scheme;
    char *host;         /* numeric address or name; "0.0.0.0", "::" */
    uint16_t port;
};

struct lwm2m_psk {
    char *endpoint;
    char *identity;
    uint8_t *key;
    size_t key_len;
};

struct lwm2m_rpk {
    char *endpoint;
    uint8_t *public_key; /* DER SubjectPublicKeyInfo */
    size_t public_key_len;
};

struct lwm2m_cert_endpoint {
    char *cn;           /* certificate subject common name */
    char *endpoint;     /* the endpoint name it may register as */
};

struct lwm2m_security {
    struct lwm2m_psk *psk;
    size_t n_psk;
    char *psk_file;     /* fleet key file, lines "endpoint identity hex-key" */
    struct lwm2m_rpk *rpk;
    size_t n_rpk;
    char *ca_file;      /* X.509: trust anchors for device certificates */
    char *cert_file;    /* the gateway's own certificate (X.509) */
    char *key_file;     /* the gateway's own private key (X.509 and RPK) */
    struct lwm2m_cert_endpoint *cert_endpoints;
    size_t n_cert_endpoints;
    bool allow_nosec;   /* plain coap:// registrations accepted (default true) */
};

struct lwm2m_config {
    struct lwm2m_listen *listen;
    size_t n_listen;
    uint32_t lifetime_min;   /* seconds; a requested lifetime is clamped into the bounds */
    uint32_t lifetime_max;
    struct lwm2m_security security;
};

/* ---- what the registry knows of a device ---- */

struct lwm2m_object_link {
    uint16_t oid;
    int32_t iid;        /* -1 for a link to the object itself (</3303>) */
    char ver[8];        /* the `ver` attribute, "" when absent */
};

struct lwm2m_registration {
    char ep[LWM2M_EP_MAX + 1];
    char id[LWM2M_ID_LEN + 1];   /* location is /rd/{id} */
    uint32_t lifetime;           /* seconds, after clamping */
    char lwm2m[8];               /* "1.0", "1.1", "1.2" */
    char binding[8];             /* as sent, e.g. "U", "UQ" */
    bool queue_mode;
    char sms[32];                /* "" when absent */
    char root[64];               /* alternate root path ("" for "/") */
    char ct[64];                 /* the `ct` attribute of the root link, "" when absent */
    struct lwm2m_object_link *objects;
    size_t n_objects;
    char address[64];            /* "192.0.2.1:5683", "[2001:db8::1]:5683" */
    int64_t registered_at;       /* ms since the epoch */
    int64_t updated_at;          /* ms since the epoch */
};

/* What an Update changed, as a bit set passed to on_updated. */
enum lwm2m_change {
    GW_CHANGED_LIFETIME = 1 << 0,
    GW_CHANGED_BINDING = 1 << 1,
    GW_CHANGED_OBJECTS = 1 << 2,
    GW_CHANGED_SMS = 1 << 3,
    GW_CHANGED_ADDRESS = 1 << 4,
};

enum lwm2m_gone_reason { GW_GONE_DEREGISTERED, GW_GONE_EXPIRED, GW_GONE_REPLACED };

struct lwm2m_callbacks {
    /* A Register was accepted (its 2.01 is being sent). */
    void (*on_registered)(void *ctx, const struct lwm2m_registration *reg);
    /* An Update was accepted; `changed` is a set of enum lwm2m_change (0: nothing changed). */
    void (*on_updated)(void *ctx, const struct lwm2m_registration *reg, unsigned changed);
    /* The registration ended. GW_GONE_REPLACED is reported just before on_registered of the
     * registration that replaces it (same endpoint name). */
    void (*on_gone)(void *ctx, const struct lwm2m_registration *reg, enum lwm2m_gone_reason why);
};

struct lwm2m;

/* Creates the server: binds every listener of `cfg` and installs the /rd handlers. `cfg` is
 * borrowed for the call only. Returns NULL on failure, after logging why (a port that cannot
 * be bound, a bad address). */
struct lwm2m *lwm2m_new(const struct lwm2m_config *cfg, const struct lwm2m_callbacks *cb,
                        void *cb_ctx);

/* Stops the listeners and frees everything. Registrations are dropped without callbacks.
 * lwm2m_free(NULL) does nothing. */
void lwm2m_free(struct lwm2m *lw);

/* The descriptor to wait on for readability (libcoap's epoll descriptor). */
int lwm2m_fd(const struct lwm2m *lw);

/* Handles every datagram that is ready and every timer that is due (retransmissions, lifetime
 * expiry). Never blocks. */
void lwm2m_process(struct lwm2m *lw);

/* Milliseconds on CLOCK_MONOTONIC at which lwm2m_process() must be called even if lwm2m_fd()
 * stays quiet, or -1 for never. */
int64_t lwm2m_next_deadline(struct lwm2m *lw);

/* Number of registered devices. */
size_t lwm2m_count(const struct lwm2m *lw);

/* Looks a registration up by endpoint name. Returns a borrowed pointer valid until the next
 * lwm2m_process(), or NULL. */
const struct lwm2m_registration *lwm2m_find(const struct lwm2m *lw, const char *ep);

/* Parses a listen URI ("coap://0.0.0.0:5683", "coaps://[::]:5684"; the port defaults to 5683
 * or 5684). Fills `out` (strings owned by `out`, freed with lwm2m_listen_clear). Returns GW_OK
 * or -GW_ERR_INVALID with a reason in `err`. */
int lwm2m_listen_parse(const char *uri, struct lwm2m_listen *out, char *err, size_t errlen);
void lwm2m_listen_clear(struct lwm2m_listen *l);

#endif

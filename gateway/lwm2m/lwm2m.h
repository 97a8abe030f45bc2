/* lwm2m.h - the LwM2M server side of the gateway: CoAP listeners (libcoap), the registration
 * interface at /rd, and the registry of registered devices.
 *
 * This module knows LwM2M and nothing of MQTT. It reports what happens through the callbacks
 * handed to server_new(); those run on the loop thread, inside server_process(), and the
 * data they are given lives only for the call. It is driven by the
 * daemon's event loop: wait until server_fd() is readable or server_next_deadline() is reached,
 * then call server_process(). */
#ifndef LWM2M_H
#define LWM2M_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "codec.h"
#include "data.h"
#include "model.h"

#define GW_EP_MAX 128 /* longest endpoint name accepted, in bytes */
#define GW_ID_LEN 8   /* registration location ids are this many characters */

/* ---- configuration (filled by the daemon's config loader) ---- */

enum listen_scheme { GW_SCHEME_COAP, GW_SCHEME_COAPS, GW_SCHEME_HTTP /* metrics, health */ };

struct listen_uri {
    char *uri; /* as written, for messages */
    enum listen_scheme scheme;
    char *host; /* numeric address or name; "0.0.0.0", "::" */
    uint16_t port;
};

struct psk_entry {
    char *endpoint;
    char *identity;
    uint8_t *key;
    size_t key_len;
};

struct rpk_entry {
    char *endpoint;
    uint8_t *public_key; /* DER SubjectPublicKeyInfo */
    size_t public_key_len;
};

struct cert_endpoint {
    char *cn;       /* certificate subject common name */
    char *endpoint; /* the endpoint name it may register as */
};

struct server_security {
    struct psk_entry *psk;
    size_t n_psk;
    char *psk_file; /* fleet key file, lines "endpoint identity hex-key" */
    struct rpk_entry *rpk;
    size_t n_rpk;
    char *ca_file;   /* X.509: trust anchors for device certificates */
    char *cert_file; /* the gateway's own certificate (X.509) */
    char *key_file;  /* the gateway's own private key (X.509 and RPK) */
    struct cert_endpoint *cert_endpoints;
    size_t n_cert_endpoints;
    bool allow_nosec; /* plain coap:// registrations accepted (default true) */
};

struct server_config {
    struct listen_uri *listen;
    size_t n_listen;
    uint32_t lifetime_min; /* seconds; a requested lifetime is clamped into the bounds */
    uint32_t lifetime_max;
    struct server_security security;
    const struct model *model; /* types the values devices send; borrowed, must outlive the
                                  server; may be NULL */
    const char *const *reserved_endpoints; /* NULL-terminated names no device may register
                                              with (the daemon reserves "gateway": its own
                                              topics live at {prefix}/gateway/); may be NULL */
    double ack_timeout;                    /* seconds before the first CoAP retransmission (RFC 7252
                                              ACK_TIMEOUT); 0: libcoap's default, 2 s */
    int max_retransmit;   /* CoAP retransmissions before a request times out; 0: the
                             default, 4 */
    uint32_t queue_awake; /* seconds a queue-mode device is taken to listen after it was
                             last heard from; 0: the default, 93 s (MAX_TRANSMIT_WAIT) */
    unsigned shards;      /* libcoap contexts, each with one socket on every listen URI's port;
                             0: the default, 256 (README "Listeners"); 1 suits a process that
                             makes many short-lived servers (the CoAP fuzz target) */
};

/* ---- what the registry knows of a device ---- */

struct object_link {
    uint16_t oid;
    int32_t iid; /* -1 for a link to the object itself (</3303>) */
    char ver[8]; /* the `ver` attribute, "" when absent */
};

struct registration {
    char ep[GW_EP_MAX + 1];
    char id[GW_ID_LEN + 1]; /* location is /rd/{id} */
    uint32_t lifetime;      /* seconds, after clamping */
    char lwm2m[8];          /* "1.0", "1.1", "1.2" */
    char binding[8];        /* as sent, e.g. "U", "UQ" */
    bool queue_mode;
    char sms[32];  /* "" when absent */
    char root[64]; /* alternate root path ("" for "/") */
    char ct[64];   /* the `ct` attribute of the root link, "" when absent */
    struct object_link *objects;
    size_t n_objects;
    char address[64];      /* "192.0.2.1:5683", "[2001:db8::1]:5683" */
    int64_t registered_at; /* ms since the epoch */
    int64_t updated_at;    /* ms since the epoch */
};

/* What an Update changed, as a bit set passed to on_updated. */
enum reg_change {
    GW_CHANGED_LIFETIME = 1 << 0,
    GW_CHANGED_BINDING = 1 << 1,
    GW_CHANGED_OBJECTS = 1 << 2,
    GW_CHANGED_SMS = 1 << 3,
    GW_CHANGED_ADDRESS = 1 << 4,
};

enum reg_gone { GW_GONE_DEREGISTERED, GW_GONE_EXPIRED, GW_GONE_REPLACED };

/* One observation to start: the path and the attributes to write before observing. */
struct observe_spec {
    struct data_path path;
    int32_t pmin, pmax; /* seconds, -1 when not set */
    double gt, lt, st;
    bool has_gt, has_lt, has_st;
};

#define GW_OBSERVE_MAX 32 /* observations started per registration */

/* ---- requests to devices (SPEC section 4) ---- */

enum request_op {
    GW_OP_READ,
    GW_OP_WRITE,
    GW_OP_EXECUTE,
    GW_OP_CREATE,
    GW_OP_DELETE,
    GW_OP_DISCOVER,
    GW_OP_WRITE_ATTRIBUTES,
    GW_OP_OBSERVE,
    GW_OP_CANCEL_OBSERVE,
    GW_OP_READ_COMPOSITE,
    GW_OP_WRITE_COMPOSITE,
    GW_OP_OBSERVE_COMPOSITE,
};

#define GW_COMPOSITE_MAX 32 /* paths of one composite request */

/* The op's name in requests and answers ("read", "write-attributes", ...); NULL when out of
 * range. */
const char *request_op_name(enum request_op op);

/* One operation for a device, as mappings/ builds it from an MQTT request. Everything it
 * points to is borrowed by server_submit() for the call only: the server copies what it
 * keeps. */
struct device_request {
    enum request_op op;
    struct data_path path;                    /* the target; "/" for the composite operations */
    struct data_path paths[GW_COMPOSITE_MAX]; /* read-/observe-composite: the paths */
    size_t n_paths;
    const struct data_records *values; /* write, create, write-composite: typed values with
                                          full paths (create: /oid/iid/rid, iid 65535 when the
                                          device is to choose); NULL for the other ops */
    bool partial;                      /* write: Partial Update (POST) instead of Replace (PUT) */
    const char *args;                  /* execute: the argument text; NULL for none */
    struct observe_spec attrs;         /* write-attributes: what to set (attrs.path unused) */
    bool has_format;                   /* `format` was asked for; else the server chooses */
    enum codec_format format;          /* of the payload sent, and the Accept of a read */
};

/* How a request ended. */
enum request_status {
    GW_REQ_OK,           /* the device answered 2.xx */
    GW_REQ_DEVICE_ERROR, /* the device answered 4.xx or 5.xx */
    GW_REQ_TIMEOUT,      /* no answer (retransmissions exhausted, or no separate response) */
    GW_REQ_NOT_SENT,     /* the registration ended before the request went out: hold it
                            again, it was never seen by the device */
    GW_REQ_BAD_ANSWER,   /* the device answered 2.xx with a payload that does not decode */
};

/* The outcome of one request, handed to on_result; lives for the call only. */
struct request_result {
    enum request_status status;
    int code;                          /* the CoAP code as class*100+detail (205), 0: none */
    const struct data_records *values; /* read, observe, read-composite: what the device
                                          answered; NULL for the other ops */
    const char *links;                 /* discover: the link-format text, NUL-terminated */
    const char *location;              /* create: the new instance's path ("/3303/1"), or NULL */
    const char *error;                 /* why, for every status but GW_REQ_OK (the device's
                                          diagnostic payload where it sent one); else NULL */
};

struct server_callbacks {
    /* A Register was accepted (its 2.01 is being sent). */
    void (*on_registered)(void *ctx, const struct registration *reg);
    /* An Update was accepted; `changed` is a set of enum reg_change (0: nothing changed). */
    void (*on_updated)(void *ctx, const struct registration *reg, unsigned changed);
    /* The registration ended. GW_GONE_REPLACED is reported just before on_registered of the
     * registration that replaces it (same endpoint name). */
    void (*on_gone)(void *ctx, const struct registration *reg, enum reg_gone why);
    /* Which observations to start for `reg`, asked after its Register was answered (and again
     * by server_refresh_observations()). Fills at most `cap` specs, returns how many. */
    size_t (*observations)(void *ctx, const struct registration *reg, struct observe_spec *out,
                           size_t cap);
    /* Values arrived from `reg`: a notification of `path` (split per object instance when an
     * object was observed), or a Send (`path` is "/"), received at `received_at` (ms since
     * the epoch, the same for every instance of one datagram). `records` lives for the call
     * only. */
    void (*on_values)(void *ctx, const struct registration *reg, const struct data_path *path,
                      const struct data_records *records, int64_t received_at);
    /* `reg` can take requests now: its Register answer went out, a queue-mode device was
     * heard from (Register, Update, notification, Send), or a restored registration spoke
     * for the first time since the restart. Requests submitted from here are sent. */
    void (*on_ready)(void *ctx, const struct registration *reg);
    /* The request submitted under `handle` ended. Called exactly once per accepted
     * submission, never from inside server_submit(). */
    void (*on_result)(void *ctx, const struct registration *reg, uint64_t handle,
                      const struct request_result *res);
};

struct server;

/* Creates the server: binds every listener of `cfg` and installs the /rd handlers. `cfg` is
 * borrowed for the call only. Returns NULL on failure, after logging why (a port that cannot
 * be bound, a bad address). */
struct server *server_new(const struct server_config *cfg, const struct server_callbacks *cb,
                          void *cb_ctx);

/* Stops the listeners and frees everything. Registrations are dropped without callbacks.
 * server_free(NULL) does nothing. */
void server_free(struct server *lw);

/* The descriptor to wait on for readability: an epoll descriptor holding those of the server's
 * libcoap contexts (each an epoll descriptor of its listeners and its timer). */
int server_fd(const struct server *lw);

/* Handles every datagram that is ready and every timer that is due (retransmissions, lifetime
 * expiry). Never blocks. */
void server_process(struct server *lw);

/* Milliseconds on CLOCK_MONOTONIC at which server_process() must be called even if server_fd()
 * stays quiet, or -1 for never. */
int64_t server_next_deadline(struct server *lw);

/* Adjusts the observations of every registered device to what the callbacks now ask for
 * (after a reload of the rules): those still wanted stay, the others are cancelled actively,
 * new ones start. Registrations are not touched. */
void server_refresh_observations(struct server *lw);

/* Number of observations established. */
size_t server_observation_count(const struct server *lw);

/* Sends `req` to the device registered as `ep`, after the requests already queued for it
 * (one request in flight per device, CoAP NSTART=1). `handle` comes back in on_result.
 * Returns GW_OK (on_result follows exactly once); -GW_ERR_NOTFOUND when `ep` is not
 * registered; -GW_AGAIN when it is registered but cannot take requests now (its
 * Register answer has not gone out yet, a queue-mode device asleep, a restored registration
 * not yet heard from): on_ready says when; -GW_ERR_INVALID with the reason in `err` when the
 * request cannot be sent to this device (a composite operation to an LwM2M 1.0 device, values
 * the chosen format cannot carry); -GW_ERR_NOMEM. */
int server_submit(struct server *lw, const char *ep, const struct device_request *req,
                  uint64_t handle, char *err, size_t errlen);

/* Takes back a registration the gateway held before it restarted (persisted by the daemon).
 * It expires at `expires_at` (ms since the epoch) unless updated; it has no CoAP session
 * until the device speaks, so it takes requests and gets its observations only from its next
 * Update (then on_ready). Returns GW_OK, -GW_ERR_EXISTS when the endpoint is registered,
 * -GW_ERR_NOMEM. No callback is called. */
int server_restore(struct server *lw, const struct registration *reg, int64_t expires_at);

/* Number of registered devices. */
size_t server_count(const struct server *lw);

/* What the LwM2M side counted since it started, for the metrics. */
enum server_counter {
    /* CoAP requests from devices, by kind, whatever their answer */
    SRV_IN_REGISTER,
    SRV_IN_UPDATE,
    SRV_IN_DEREGISTER,
    SRV_IN_SEND,
    SRV_IN_OTHER, /* any other method or path */
    /* of those, the ones answered with an error (4.xx, 5.xx), by kind */
    SRV_REFUSED_REGISTER,
    SRV_REFUSED_UPDATE, /* 4.04 for an unknown location included */
    SRV_REFUSED_DEREGISTER,
    SRV_REFUSED_SEND,
    SRV_REFUSED_OTHER,
    /* CoAP responses from devices */
    SRV_IN_NOTIFY,          /* notifications of established observations */
    SRV_IN_RESPONSE,        /* answers to the gateway's requests */
    SRV_NOTIFY_UNKNOWN,     /* for no observation (answered with a reset) */
    SRV_NOTIFY_STALE,       /* older than one already taken (discarded) */
    SRV_NOTIFY_UNDECODABLE, /* a payload that did not decode (logged, dropped) */
    SRV_OUT_REQUEST,        /* requests sent to devices (observe, write-attributes, ...) */
    SRV_REQUEST_UNANSWERED, /* of those, the ones that ended without an answer */
    SRV_EXPIRED,            /* registrations that ended at their lifetime */
    SRV_DATAGRAMS_DROPPED,  /* dropped by the kernel at the listeners: buffer full, or shed */
    SRV_COUNTERS
};

/* Has the kernel drop the share `share` / 2^32 of the notifications that arrive on the plain
 * CoAP listeners before they are read (0: none), for an MQTT side that cannot take them all:
 * requests, acknowledgements and everything under DTLS are still read. A period of shedding
 * is logged at its start and, SHED_QUIET_MS after it stopped (calls with 0 until then), at its
 * end with how many datagrams the kernel dropped. Returns whether that period is still open. */
bool server_shed_notifications(struct server *lw, uint32_t share);

/* Fills `out` with every counter of enum server_counter. */
void server_counters(const struct server *lw, uint64_t out[SRV_COUNTERS]);

/* Looks a registration up by endpoint name. Returns a borrowed pointer valid until the next
 * server_process(), or NULL. */
const struct registration *server_find(const struct server *lw, const char *ep);

/* Parses a listen URI ("coap://0.0.0.0:5683", "coaps://[::]:5684", "http://127.0.0.1:9464";
 * the port defaults to 5683, 5684 or 9464) whose scheme is one of `schemes`
 * (LISTEN_COAP, LISTEN_HTTP). Fills `out` (strings owned by `out`, freed with listen_clear).
 * Returns GW_OK or -GW_ERR_INVALID with a reason in `err`. */
#define LISTEN_COAP ((1u << GW_SCHEME_COAP) | (1u << GW_SCHEME_COAPS))
#define LISTEN_HTTP (1u << GW_SCHEME_HTTP)
int listen_parse(const char *uri, unsigned schemes, struct listen_uri *out, char *err,
                 size_t errlen);
void listen_clear(struct listen_uri *l);

/* The address to bind `l` to (a numeric host, or a name resolved now). Returns GW_OK, or
 * -GW_ERR_INVALID after logging `listen-failed` with the reason. */
int listen_resolve(const struct listen_uri *l, struct sockaddr_storage *out, socklen_t *len);

#endif

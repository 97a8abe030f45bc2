/* sim_internal.h - what the files of the simulator share: the device and its objects
 * (objects.c), the observations and their timing (observe.c), the answers to the server
 * (serve.c; manage.c for Create, Delete and Discover; composite.c for the composite
 * operations on the root), the device's session (UDP or DTLS) and when it listens
 * (radio.c), and the requests and event loop (sim.c). devsim.c sees only sim.h. */
#ifndef GW_DEVSIM_SIM_INTERNAL_H
#define GW_DEVSIM_SIM_INTERNAL_H

#include <stdio.h>

#include <coap3/coap.h>

#include "codec.h"
#include "sim.h"

/* Largest payload a device encodes (a read, a notification, a Send). One CoAP message. */
#define GW_PAYLOAD_MAX 1024
/* Most paths one composite request may name (as the gateway's GW_COMPOSITE_MAX). */
#define GW_COMPOSITE_PATHS 32
/* Longest reason sent back as the payload of an error answer. */
#define GW_WHY_MAX 160
/* Longest URI of a resource: root, four ids, slashes. */
#define GW_URI_MAX 300
/* NSTART of every session (radio_connect says why). */
#define GW_NSTART 4
/* Distinct negotiated ciphers counted for the summary line. */
#define GW_CIPHERS_MAX 16
/* Longest reason of a DTLS failure kept for the output lines. */
#define GW_DTLS_ERROR_MAX 160

/* ---- objects.c: what every device has ------------------------------------------------- */

/* One path that every device has: an object, an object instance, a resource or a resource
 * instance. The layout lists them in path order, so that everything below a path directly
 * follows it, up to `end`. */
struct node_def {
    struct data_path path;
    int parent;          /* index of the enclosing path; -1 for an object */
    unsigned end;        /* index past the last path below this one */
    enum data_type type; /* of the value, for nodes with one (has_value) */
    unsigned ops;        /* enum model_ops of a resource (and its instances); 0 above */
    bool has_value;      /* a single resource or a resource instance */
    bool registered;     /* an object, or in an instance of --objects (not one a Create added) */
};

/* The paths of every device, built once from --objects; a device that creates an instance
 * the layout has no place for gets a layout of its own. */
struct layout {
    struct node_def *defs;
    size_t n;
};

/* Write-Attributes of one path (TS Core 5.1.2). */
enum {
    GW_ATTR_PMIN = 1 << 0,
    GW_ATTR_PMAX = 1 << 1,
    GW_ATTR_GT = 1 << 2,
    GW_ATTR_LT = 1 << 3,
    GW_ATTR_ST = 1 << 4,
};
struct attrs {
    unsigned has; /* set of GW_ATTR_* */
    double pmin, pmax, gt, lt, st;
};

/* One path of one device: its value, attributes and observation. */
struct node {
    coap_resource_t *resource; /* owned by the device's context; NULL while absent */
    bool present;              /* an object, or in an instance the device has now */
    struct data_value value;   /* when the def has_value; a STRING points into `text` */
    char *text;                /* owned bytes of a STRING value */
    double changed_s;          /* wall clock of the last change, for the times of Send */
    struct attrs attrs;
    /* Observation (observe.c). `observed` stays set until a notification finds no observer
     * left: libcoap drops observers itself (Observe=1, RST, failed confirmable). */
    bool observed;
    bool pending;       /* a change worth notifying waits for pmin */
    bool armed;         /* libcoap was told to notify; cleared after the device's I/O */
    double last_ms;     /* when the last notification (or the first answer) went out */
    double last_number; /* the value then, for st */
};

struct sim;

/* One simulated device. */
struct device {
    struct sim *sim;
    size_t index;
    char *name;
    /* A context of its own: libcoap keeps resources per context and notifies every observer
     * of a resource at once, while pmin and pmax are each device's own. */
    coap_context_t *ctx;
    coap_session_t *session;
    char *location; /* "/rd/..." from the last successful Register, or NULL */

    /* The request in flight, if in_flight. Answers are matched by session and token. */
    bool in_flight;
    enum gw_op op;
    uint8_t token[8];
    size_t token_len;
    double sent_ms;
    /* Links in the simulator's in-flight list, oldest request first. All requests share
     * one timeout, so the head of that list is always the next one to expire. */
    struct device *older;
    struct device *newer;

    struct layout *layout; /* sim->layout, or its own (own_layout) after a Create */
    bool own_layout;
    struct node *nodes; /* one per path of its layout */
    uint64_t rng;       /* xorshift state of the random walks */
    double time_offset; /* seconds a Write of /3/0/13 put between the clock and Current Time */

    /* Observation timing (observe.c). */
    double due_ms;   /* next pmin or pmax deadline, INFINITY for none */
    size_t heap_pos; /* place in sim->heap, SIZE_MAX when not there */
    bool io_wanted;  /* notifications were asked for: run the context's I/O */

    /* The root path (composite.c): its resource takes Read-, Write- and Observe-Composite;
     * `root` holds the observation state of every Observe-Composite at once, `composite`
     * the nodes they name (SIZE_MAX: the whole device). */
    struct node root;
    size_t composite[GW_COMPOSITE_PATHS];
    size_t composite_n;
    bool reap; /* deleted instances still have their libcoap resources (manage.c) */

    /* When it listens (radio.c). */
    double awake_until_ms; /* with --awake: requests are answered until then */
    int fd;                /* the session's socket: -2 not looked for yet, -1 not found */
    int timer_fd;          /* libcoap's timer of `ctx` (sim.c, find_timer), -1 not found */

    /* DTLS (radio.c): the credentials with {ep} replaced, kept for every new session. */
    char *psk_identity;
    const uint8_t *psk_key; /* in the options, or in the device's --psk-file entry */
    size_t psk_key_len;
    char *cert_file, *key_file, *ca_file;
    const char *cipher;                 /* negotiated by the current session, NULL until then */
    bool renew;                         /* a request timed out: the next one starts a new session */
    char dtls_error[GW_DTLS_ERROR_MAX]; /* why DTLS failed, "" when nothing was said */
};

struct sim {
    const struct options *opt;
    struct model *model;
    struct layout layout;
    enum codec_format format; /* of reads and notifications without Accept */
    bool text_single;         /* --format text: text/plain for single values only */
    enum codec_format send_format;
    int epfd;               /* every device context's own epoll descriptor */
    bool muted;             /* --unresponsive or the mute action: requests are dropped */
    bool silent;            /* the silent action: sim_free lets the sessions go without a word */
    char *register_payload; /* owned */
    struct device *devices;
    size_t device_count;
    struct device *oldest; /* in-flight list */
    struct device *newest;
    size_t in_flight;
    unsigned long ok;
    unsigned long failed;
    unsigned long notifications; /* built by serve.c's GET handler */
    double started_ms;

    /* Value changes: device i changes at tick_round_ms + i * tick_ms / count. */
    double tick_ms; /* 0: values do not change */
    double tick_round_ms;
    size_t tick_next;

    /* Devices with an observation deadline, a binary min-heap on due_ms. */
    struct device **heap;
    size_t heap_n;

    /* The server, for the sessions made when needed (DTLS: at the first request). */
    coap_address_t server;
    /* DTLS handshakes that finished and that failed, and the ciphers they negotiated. */
    unsigned long handshakes;
    unsigned long handshake_failures;
    const char *cipher_names[GW_CIPHERS_MAX];
    unsigned long cipher_counts[GW_CIPHERS_MAX];
    size_t cipher_n;

    /* Reused for every answer, notification and Send. */
    struct data_records records;
    uint8_t payload[GW_PAYLOAD_MAX];
};

/* Builds the layout from the object links `links` (the --objects text): every </oid/iid> of
 * an object devsim simulates (1 Server, 3 Device, 3303 Temperature) becomes an instance with
 * devsim's resources, typed by `model`. Returns false when out of memory. */
bool objects_layout(struct layout *l, const struct model *model, const char *links);
void objects_layout_clear(struct layout *l);

/* Whether node `idx` is one of the values that change by themselves (objects_tick): what a
 * Send without paths reports. */
bool objects_changing(const struct layout *l, unsigned idx);

/* Index of the node at `path`, or -1. */
int objects_find(const struct layout *l, const struct data_path *path);

/* Gives `dev` a layout of its own: its current one with the absent instance `inst` (of an
 * object the layout has) added, the nodes moved to their new places and libcoap's pointers
 * to them updated. Returns the index of the instance, or -1 when out of memory (nothing
 * changed then). Node indices held across the call are stale. */
int objects_add_instance(struct device *dev, const struct data_path *inst);

/* Index of the node at `path` when `dev` has it now (its instance is present), or -1. */
int objects_find_present(const struct device *dev, const struct data_path *path);

/* Gives `dev` the simulator's layout and its nodes with their first values. Returns false
 * when out of memory; objects_free cleans up either way. */
bool objects_init(struct device *dev);
void objects_free(struct device *dev);

/* Changes the changing resources of `dev`: each Temperature's Sensor Value walks (and its
 * Min and Max Measured Values follow), the Battery Level drains, the Current Time runs. */
void objects_tick(struct device *dev, double now_ms);

/* Appends a record for every readable value at or below node `idx` that the device has to
 * `out`, with its time of last change when `with_time`. Returns GW_OK or the error of
 * data_records_add. */
int objects_read(const struct device *dev, unsigned idx, bool with_time, struct data_records *out);

/* Writes the records `in` into the values; each must lie at or below node `idx`, or anywhere
 * when `idx` is negative (Write-Composite). Returns the CoAP code of the answer: 2.04, or 4.04
 * (no such resource), 4.05 (not writable), 4.00 (a record without value, a value of the wrong
 * type), with the reason in `why`. Nothing is written unless all can be. */
coap_pdu_code_t objects_write(struct device *dev, int idx, const struct data_records *in,
                              double now_ms, char *why, size_t whylen);

/* Makes the absent instance at node `inst` present with the values of `in` (paths in that
 * instance; any resource with a value, writable or not) and the first values elsewhere.
 * Returns 2.01, or 4.00 with the reason in `why` (nothing changes then). */
coap_pdu_code_t objects_create(struct device *dev, unsigned inst, const struct data_records *in,
                               double now_ms, char *why, size_t whylen);

/* Makes the instance at node `inst` absent, with its observations and attributes gone. */
void objects_delete(struct device *dev, unsigned inst, double now_ms);

/* Executes the resource at node `idx` (an E resource): Reset Min and Max Measured Values
 * acts, the others are only logged. */
void objects_execute(struct device *dev, unsigned idx, double now_ms);

/* The numeric value of node `idx`, or NAN when it has none. */
double objects_number(const struct device *dev, unsigned idx);

/* ---- observe.c: Write-Attributes, pmin/pmax/gt/lt/st, the notification timetable -------- */

/* Applies Write-Attributes `query` ("pmin=1&pmax=5", "st" alone removes st) to node `idx`.
 * Returns 2.04, or 4.00 with the reason in `why`. */
coap_pdu_code_t observe_write_attributes(struct device *dev, unsigned idx, const char *query,
                                         size_t len, char *why, size_t whylen);

/* A GET with Observe=0 on node `idx` was answered with 2.05 at `now_ms`. */
void observe_started(struct device *dev, unsigned idx, double now_ms);

/* The value of node `idx` changed from `before` to `after` (NAN when not numeric): marks
 * the observations it concerns, under the rules of their gt, lt and st. Call
 * observe_flush once the batch of changes is done. */
void observe_changed(struct device *dev, unsigned idx, double before, double after);

/* Notifies every observation of `dev` that is due at `now_ms` (a change and pmin passed, or
 * pmax reached) and files the device's next deadline. Sets dev->io_wanted when libcoap has
 * notifications to send. */
void observe_flush(struct device *dev, double now_ms);

/* The earliest observation deadline of all devices, INFINITY for none. */
double observe_next_due(const struct sim *sim);

/* Flushes every device whose deadline has come. */
void observe_run_due(struct sim *sim, double now_ms);

/* Takes `dev` out of the timetable (before it is freed). */
void observe_unschedule(struct device *dev);

/* Forgets the observation state of node `idx` (its instance was deleted). */
void observe_forget(struct device *dev, unsigned idx);

/* ---- serve.c: answering the server ---------------------------------------------------- */

/* What one served request or notification looked like, for the output lines. */
struct outcome {
    const char *event; /* "request", "notify" or "dropped" */
    coap_pdu_code_t method;
    char path[GW_URI_MAX + 2]; /* as the server wrote it, "/3303/0" */
    size_t path_len;
    const coap_string_t *query;
    coap_pdu_code_t code;
    const char *format; /* codec name of the payload sent, or NULL */
    bool has_observe;
    unsigned observe; /* the request's Observe, or the notification's sequence number */
    bool con;         /* a confirmable notification */
    bool has_content_format, has_accept;
    unsigned content_format, accept; /* the request's options */
    bool separate;                   /* answered late, after an empty ACK (--delay-ms) */
    const char *args;                /* Execute: the arguments, `args_len` bytes */
    size_t args_len;
    char location[32];                          /* Create: "/3303/1", or "" */
    struct data_path paths[GW_COMPOSITE_PATHS]; /* composite: the paths named */
    size_t path_count;
    const char *reason; /* dropped: "asleep" or "muted" */
};

/* Registers a libcoap resource for every node `dev` has (and the root and the catch-all for
 * other paths) on the device's context. Returns false when out of memory. */
bool serve_setup(struct device *dev);

/* Registers the resources of nodes [from, to) that `dev` has and that have none yet.
 * Returns false when out of memory. */
bool serve_add_resources(struct device *dev, unsigned from, unsigned to);

/* Makes the resources of `dev` unobservable, so that freeing its context sends nothing. */
void serve_silence(struct device *dev);

/* Fills the common part of `o` for `request` on `resource`. */
void serve_outcome(struct outcome *o, coap_resource_t *resource, const coap_pdu_t *request,
                   const coap_string_t *query);

/* Prints the stderr line of a served or dropped request (unless --quiet) and, with --trace,
 * the JSON line of a request, a notification or a drop on stdout. */
void serve_report(const struct device *dev, const struct outcome *o);

/* Sets an error answer with `why` as its diagnostic payload. */
void serve_fail(coap_pdu_t *response, coap_pdu_code_t code, const char *why);

/* Reads an unsigned option of `pdu` (Observe, Accept, Content-Format). */
bool serve_uint_option(const coap_pdu_t *pdu, coap_option_num_t number, unsigned *out);

/* Adds the Content-Format option and `len` bytes of sim->payload to `response`. Returns the
 * code to answer: 2.05, or 5.00 when the payload does not fit into one message. */
coap_pdu_code_t serve_content(struct device *dev, coap_pdu_t *response, unsigned format, size_t len,
                              const char *path);

/* With --delay-ms: true when the handler must return at once, leaving libcoap to send an
 * empty ACK now and to call it again with the request when the delay is over; sets
 * o->separate on that second call. */
bool serve_postpone(struct device *dev, coap_session_t *session, const coap_pdu_t *request,
                    struct outcome *o);

/* Whether libcoap calls a GET or FETCH handler of `node` to build a notification rather than
 * to answer a request. */
bool serve_is_notification(const struct node *node, coap_session_t *session,
                           const coap_pdu_t *request, const coap_pdu_t *response);

/* ---- manage.c: Create, Delete, Discover ----------------------------------------------- */

/* Create: POST with a payload on object node `obj`. Returns the code set on `response`;
 * on 2.01 the Location-Path is added and o->location filled. */
coap_pdu_code_t manage_create(struct device *dev, unsigned obj, const coap_pdu_t *request,
                              coap_pdu_t *response, struct outcome *o);

/* Delete: DELETE on node `idx`. Returns the code set on `response`. The instance's libcoap
 * resources go at the next manage_reap (a handler must not free its own resource). */
coap_pdu_code_t manage_delete(struct device *dev, unsigned idx, coap_pdu_t *response);

/* Frees the libcoap resources of deleted instances; their observers get 4.04 from libcoap.
 * Never call it from inside a libcoap handler. */
void manage_reap(struct device *dev);

/* Discover: GET with Accept 40 on node `idx`. Returns the code set on `response`. */
coap_pdu_code_t manage_discover(struct device *dev, unsigned idx, coap_pdu_t *response,
                                struct outcome *o);

/* Whether `len` bytes of `args` are Execute arguments as TS Core 5.4.5 writes them:
 * 0='now',1 (a digit, optionally ='text' without quote), comma separated. */
bool manage_args_valid(const char *args, size_t len);

/* ---- composite.c: the root path --------------------------------------------------------- */

/* Registers the root resource ("/" or --root) of `dev`. Returns false when out of memory. */
bool composite_setup(struct device *dev);

/* Whether a change of node `idx` concerns an Observe-Composite of `dev`. */
bool composite_concerns(const struct device *dev, unsigned idx);

/* ---- radio.c: the device's session, and when it listens ------------------------------- */

/* Resolves the DTLS credentials of `dev` ({ep} replaced, its --psk-file line) and checks
 * that its certificate files can be read. Returns false with a message on stderr. */
bool radio_credentials(struct device *dev);

/* Gives `dev` a new client session to the server: UDP for coap://, for coaps:// DTLS with its
 * credentials, whose handshake starts at once (requests wait in libcoap until it is done).
 * Returns false with the reason in `why`. */
bool radio_connect(struct device *dev, const char **why);

/* Releases the session of `dev`; anything still in flight on it is forgotten. An established
 * DTLS session ends with a close_notify to the server, unless `quiet` (a device that loses
 * power says nothing; the server keeps the session until it expires, and a later device
 * that happens to get the same port cannot get through to it meanwhile). Never call it
 * from inside a libcoap handler. */
void radio_disconnect(struct device *dev, bool quiet);

/* Whether the DTLS session of `dev` is gone (handshake failed, closed) or to be renewed
 * after a timeout: the next request needs a new one. Always false for coap://. */
bool radio_session_dead(const struct device *dev);

/* Whether the DTLS handshake of `dev` is still going on. */
bool radio_handshaking(const struct device *dev);

/* The DTLS handshake of `dev` did not finish within --timeout: counts and reports the
 * failure, with the reason in dev->dtls_error. */
void radio_handshake_expired(struct device *dev);

/* libcoap event handler of every device context: DTLS connected, failed, closed. */
int radio_event(coap_session_t *session, const coap_event_t event);

/* `dev` sent something (a request or a notification): with --awake it listens from now. */
void radio_uplink(struct device *dev);

/* Drops, without an answer, the requests waiting on the socket of `dev` while it is muted
 * or asleep, and reports each one. Responses stay for libcoap. */
void radio_drop_requests(struct device *dev);

/* ---- sim.c ---------------------------------------------------------------------------- */

/* Runs the I/O of the device's context: due notifications and retransmissions, then what
 * arrived on its socket. Never call it from inside a libcoap handler. */
void sim_device_io(struct device *dev);

/* Has libcoap send what the device was told to (notifications that became due, a value that
 * changed) without reading: what arrives meanwhile waits for the simulator's epoll set, which
 * calls sim_device_io(). That saves an epoll_wait per notification. Like sim_device_io(),
 * never call it from inside a libcoap handler. */
void sim_device_send(struct device *dev);

/* Seconds since the simulator started, for the "t" of output lines. */
double sim_elapsed(const struct sim *sim);

/* Writes `len` bytes of `text` as a JSON string, escaping all but printable ASCII. */
void sim_print_json_string(FILE *out, const char *text, size_t len);

#endif

/* sim_internal.h - what the files of the simulator share: the device and its objects
 * (objects.c), the observations and their timing (observe.c), the answers to the server
 * (serve.c) and the sessions, requests and event loop (sim.c). devsim.c sees only sim.h. */
#ifndef GW_DEVSIM_SIM_INTERNAL_H
#define GW_DEVSIM_SIM_INTERNAL_H

#include <stdio.h>

#include <coap3/coap.h>

#include "codec.h"
#include "sim.h"

/* Largest payload a device encodes (a read, a notification, a Send). One CoAP message. */
#define GW_PAYLOAD_MAX 1024

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
};

/* The paths of every device, built once from --objects. */
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
    coap_resource_t *resource; /* owned by the device's context */
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

    struct node *nodes; /* one per path of the layout */
    uint64_t rng;       /* xorshift state of the random walks */
    double time_offset; /* seconds a Write of /3/0/13 put between the clock and Current Time */

    /* Observation timing (observe.c). */
    double due_ms;   /* next pmin or pmax deadline, INFINITY for none */
    size_t heap_pos; /* place in sim->heap, SIZE_MAX when not there */
    bool io_wanted;  /* notifications were asked for: run the context's I/O */
};

struct sim {
    const struct options *opt;
    struct model *model;
    struct layout layout;
    enum codec_format format; /* of reads and notifications without Accept */
    bool text_single;         /* --format text: text/plain for single values only */
    enum codec_format send_format;
    int epfd;               /* every device context's own epoll descriptor */
    char *register_payload; /* owned */
    struct device *devices;
    size_t device_count;
    struct device *oldest; /* in-flight list */
    struct device *newest;
    size_t in_flight;
    unsigned long ok;
    unsigned long failed;
    double started_ms;

    /* Value changes: device i changes at tick_round_ms + i * tick_ms / count. */
    double tick_ms; /* 0: values do not change */
    double tick_round_ms;
    size_t tick_next;

    /* Devices with an observation deadline, a binary min-heap on due_ms. */
    struct device **heap;
    size_t heap_n;

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

/* Gives `dev` its nodes with their first values. Returns false when out of memory;
 * objects_free cleans up either way. */
bool objects_init(struct device *dev);
void objects_free(struct device *dev);

/* Changes the changing resources of `dev`: each Temperature's Sensor Value walks (and its
 * Min and Max Measured Values follow), the Battery Level drains, the Current Time runs. */
void objects_tick(struct device *dev, double now_ms);

/* Appends a record for every readable value at or below node `idx` to `out`, with its time
 * of last change when `with_time`. Returns GW_OK or the error of data_records_add. */
int objects_read(const struct device *dev, unsigned idx, bool with_time, struct data_records *out);

/* Writes the records `in` (decoded relative to node `idx`) into the values. Returns the CoAP
 * code of the answer: 2.04, or 4.04 (no such resource), 4.05 (not writable), 4.00 (a value
 * of the wrong type), with the reason in `why`. Nothing is written unless all can be. */
coap_pdu_code_t objects_write(struct device *dev, unsigned idx, const struct data_records *in,
                              double now_ms, char *why, size_t whylen);

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

/* ---- serve.c: answering the server ---------------------------------------------------- */

/* Registers a libcoap resource for every node of `dev` (and the catch-all for other paths)
 * on the device's context. Returns false when out of memory. */
bool serve_setup(struct device *dev);

/* Makes the resources of `dev` unobservable, so that freeing its context sends nothing. */
void serve_silence(struct device *dev);

/* ---- sim.c ---------------------------------------------------------------------------- */

/* Runs the I/O of the device's context: due notifications and retransmissions, then what
 * arrived on its socket. Never call it from inside a libcoap handler. */
void sim_device_io(struct device *dev);

/* Seconds since the simulator started, for the "t" of output lines. */
double sim_elapsed(const struct sim *sim);

/* Writes `len` bytes of `text` as a JSON string, escaping all but printable ASCII. */
void sim_print_json_string(FILE *out, const char *text, size_t len);

#endif

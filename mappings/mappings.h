/* mappings.h - the pure translation layer between LwM2M and MQTT.
 * No sockets, no clocks, no globals: every rule of SPEC sections 2-4 about topics and JSON lives
 * here, so that it can be unit-tested without a network. Times are passed in by the caller. */
#ifndef MAPPINGS_H
#define MAPPINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lwm2m.h"

/* ---- the rules of the configuration file (filled by the daemon's config loader) ---- */

enum mapping_payload { GW_PAYLOAD_JSON, GW_PAYLOAD_VALUE, GW_PAYLOAD_INSTANCE, GW_PAYLOAD_SENML };

struct observe_rule {
    char *path;         /* /oid, /oid/iid or /oid/iid/rid; no wildcards */
    char *endpoint;     /* glob on the endpoint name, NULL for every device */
    int32_t pmin, pmax; /* seconds, -1 when not set */
    double gt, lt, st;
    bool has_gt, has_lt, has_st;
    int line; /* where it was written, for messages */
};

struct mapping_rule {
    char *path;     /* may use `*` for one level */
    char *endpoint; /* glob, NULL for every device */
    char *topic;    /* template with {prefix} {ep} {oid} {iid} {rid} {riid} {object} {resource} */
    enum mapping_payload payload;
    bool retain;
    int qos; /* -1: mqtt.qos */
    int line;
};

struct command_rule {
    char *topic; /* template; must contain {ep}; {iid} {rid} {riid} may be used */
    enum request_op op;
    char *path;   /* may use the variables the topic binds */
    char *format; /* content format name, NULL for the default */
    int line;
};

struct mappings_config {
    struct observe_rule *observe;
    size_t n_observe;
    struct mapping_rule *mappings;
    size_t n_mappings;
    struct command_rule *commands;
    size_t n_commands;
};

/* Frees every rule and zeroes `cfg`. Harmless on a zeroed struct. */
void mappings_config_clear(struct mappings_config *cfg);

/* ---- checks used when the configuration is loaded ---- */

enum mappings_path_flags {
    GW_PATH_WILDCARD = 1 << 0, /* `*` allowed as a whole level */
    GW_PATH_VARS = 1 << 1,     /* {iid} {rid} {riid} allowed as a whole level */
};

/* Checks an LwM2M path (/oid[/iid[/rid[/riid]]]) against the flags. Returns GW_OK or
 * -GW_ERR_INVALID with the reason in `err`. */
int mappings_check_path(const char *path, unsigned flags, char *err, size_t errlen);

/* Checks a topic template: known variables only, balanced braces, no MQTT wildcards, no empty
 * level. Returns GW_OK or -GW_ERR_INVALID with the reason in `err`. */
int mappings_check_template(const char *tmpl, char *err, size_t errlen);

/* Name <-> enum for ops ("read", "write-attributes", ...) and payload kinds ("value", ...).
 * The parsers return GW_OK or -GW_ERR_INVALID. */
int mappings_parse_op(const char *name, enum request_op *out);
const char *mappings_op_name(enum request_op op);
int mappings_parse_payload(const char *name, enum mapping_payload *out);

/* ---- lifecycle topics and payloads (SPEC section 3) ---- */

/* Writes "{prefix}/{ep}/{leaf}" (leaf may be NULL: "{prefix}/{ep}") into `buf`. Returns GW_OK
 * or -GW_ERR_FULL when it does not fit. */
int mappings_device_topic(const char *prefix, const char *ep, const char *leaf, char *buf,
                          size_t len);

/* The retained registration document of SPEC section 3. Returns a malloc'd NUL-terminated JSON
 * text the caller frees, or NULL when out of memory. */
char *mappings_registration_json(const struct registration *reg);

/* The event document: `event` is "registered", "updated", "deregistered" or "expired"; `ts` in
 * ms since the epoch; for "updated" the fields named by `changed` (enum reg_change) are
 * included with their new values. Returns malloc'd JSON the caller frees, or NULL. */
char *mappings_event_json(const char *event, const struct registration *reg, unsigned changed,
                          int64_t ts);

/* ---- observations and notifications (SPEC sections 2 and 3) ---- */

/* The rules in force, built once from the configuration (and again on SIGHUP): compiled
 * path patterns, endpoint globs and topic templates, so that rendering a notification does no
 * parsing. */
struct mappings;

/* Builds the rules of `cfg` (borrowed; everything needed is copied). `prefix` is
 * mqtt.topic_prefix, `default_qos` mqtt.qos. Returns NULL when out of memory, or when a rule
 * cannot be compiled (say, a topic using {rid} with payload "instance", where an instance has
 * no single resource), with the reason naming the rule's line in `err`. */
struct mappings *mappings_new(const struct mappings_config *cfg, const char *prefix,
                              int default_qos, char *err, size_t errlen);

/* Frees the rules. mappings_free(NULL) does nothing. */
void mappings_free(struct mappings *m);

/* struct observe_spec (one observation to start) is declared in lwm2m.h. */

/* The observations to start for a registration: every observe rule whose endpoint glob
 * matches reg->ep and whose object the device registered (an object link with that oid; for
 * a path with an instance, that instance or the bare object link). Writes at most `cap` into
 * `out`, in rule order, and returns how many there are (which may exceed `cap`). */
size_t mappings_observations(const struct mappings *m, const struct registration *reg,
                             struct observe_spec *out, size_t cap);

/* One MQTT message to publish. */
struct publication {
    const char *topic;   /* NUL-terminated; owned by the list */
    const char *payload; /* owned by the list; not NUL-terminated */
    size_t len;
    int qos;
    bool retain;
};

/* A reusable list of publications: reset keeps its memory for the next notification. A
 * zeroed struct is an empty list. */
struct publications {
    struct publication *v;
    size_t n;
    size_t cap;
    struct pub_buffer *buf; /* private: the bytes the publications point into */
};
void publications_reset(struct publications *p);
void publications_clear(struct publications *p);

/* Turns values that endpoint `ep` notified (or sent) into publications, appended to `out`:
 * for each record the first mapping whose endpoint glob matches `ep` and whose path pattern
 * matches the record's path (a pattern matches its own level and everything below; `*` is
 * one level) decides topic, payload kind, retain and QoS; records no mapping takes go to the
 * default topic {prefix}/{ep}/data/{oid}/{iid}/{rid}[/{riid}] as "json". Payload kinds, JSON
 * typing and `ts` (the record's SenML time resolved against `now_ms`, else `now_ms`) are as
 * SPEC section 3 says; names and units come from `model` (may be NULL). Returns GW_OK,
 * -GW_ERR_NOMEM, or -GW_ERR_FULL for a topic longer than MQTT allows. On an error the
 * publications that could be rendered are still in `out`; the failing ones are left out. */
int mappings_render(const struct mappings *m, const struct model *model, const char *ep,
                    const struct data_records *records, int64_t now_ms,
                    struct publications *out);

/* ---- requests from MQTT and their answers (SPEC section 4) ---- */

#define GW_REQUEST_ID_MAX 256 /* longest "id" accepted, as JSON text */

/* One request taken from an MQTT message: addressed, parsed and typed by the object model.
 * A zeroed struct is empty; request_clear() frees what parsing filled in. */
struct request {
    char ep[GW_EP_MAX + 1]; /* the endpoint the topic names ("" when it could not be read) */
    char *id;               /* the request's "id" as JSON text ("\"42\"", 42), or NULL */
    struct device_request dev; /* what to send; dev.values points at `values` */
    struct data_records values;
    char *args;  /* owned copy of dev.args */
    int64_t ttl; /* seconds to hold, from the "ttl" field; -1 when absent */
};

void request_clear(struct request *r);

/* Where an inbound topic comes from (the subscriptions the bridge makes). */
enum request_source {
    GW_SRC_JSON,    /* {prefix}/{ep}/request: the payload is a JSON request */
    GW_SRC_WRITE,   /* {prefix}/{ep}/write/{oid}/{iid}/{rid}[/{riid}]: the payload is the value */
    GW_SRC_EXECUTE, /* {prefix}/{ep}/execute/{oid}/{iid}/{rid}: the payload is the arguments */
    GW_SRC_COMMAND, /* a topic of the `commands` rules */
};

/* The MQTT topic filters to subscribe to for the generic request topics and every command
 * rule ({ep} and the other variables become `+`). Fills at most `cap` malloc'd strings into
 * `out` (the caller frees each) and returns how many there are, or -GW_ERR_NOMEM. */
int mappings_request_filters(const struct mappings *m, char **out, size_t cap);

/* Turns an MQTT message (`topic`, `payload` of `len` bytes) into a request: finds the
 * endpoint and the kind from the topic (the generic topics first, then the commands rules in
 * order), parses the payload (JSON for {prefix}/{ep}/request, text for write/execute and the
 * commands; a command rule's payload is the value for a write, the arguments for an execute,
 * JSON where the rule's path is not all the op needs (the "paths" array of read-/observe-
 * composite, the "values" object of write-composite, the "attributes" object of
 * write-attributes and, when not empty, of observe), ignored for the others), checks the path
 * and op, and types every value by `model` (may be NULL: values are then typed from JSON).
 * Returns GW_OK; -GW_ERR_NOTFOUND when the topic is none of ours; -GW_ERR_INVALID with a
 * reason naming the field in `err` ("'path' must look like /oid/iid/rid"), `out->ep` and
 * `out->id` filled as far as they could be read, so that the answer can be addressed;
 * -GW_ERR_NOMEM. `out` must be zeroed or cleared, and request_clear()ed after any return. */
int mappings_request_parse(const struct mappings *m, const struct model *model, const char *topic,
                           const void *payload, size_t len, struct request *out, char *err,
                           size_t errlen);

/* The canonical JSON text of `r` (the JSON request form of SPEC section 4, with "ep"),
 * which mappings_request_load() reads back into the same request: what the hold store
 * keeps. Returns a malloc'd NUL-terminated text, or NULL when out of memory. */
char *mappings_request_json(const struct request *r);

/* Reads a text made by mappings_request_json(). Same returns as mappings_request_parse(). */
int mappings_request_load(const struct model *model, const char *json, struct request *out,
                          char *err, size_t errlen);

/* The `status` of an answer (SPEC section 4). */
enum response_status {
    GW_STATUS_OK,
    GW_STATUS_DEVICE_ERROR,
    GW_STATUS_TIMEOUT,
    GW_STATUS_INVALID,
    GW_STATUS_OFFLINE,
    GW_STATUS_EXPIRED,
    GW_STATUS_REJECTED,
    GW_STATUS_HELD,
};

const char *mappings_status_name(enum response_status s);

/* One answer to publish. */
struct response {
    const struct request *req; /* the request answered: id, op, path(s) are echoed; may be
                                  NULL or partly filled for an invalid one */
    enum response_status status;
    int code;                          /* CoAP code as class*100+detail (205), 0: none */
    const struct data_records *values; /* read answers: "value" when there is one record at
                                          the requested path, else "values" keyed by path */
    const char *links;                 /* discover: link-format text, as a "links" array */
    const char *location;              /* create: "location" */
    const char *error;                 /* "error", NULL for none */
    int64_t ts;                        /* ms since the epoch: "ts" of values without their own
                                          time, and of the answer */
};

/* The JSON answer of SPEC section 4: {"id","op","path"|"paths","status","code",...}. Values
 * are typed as in the uplink payloads (names from `model` are not added). Returns malloc'd
 * NUL-terminated JSON, or NULL when out of memory. */
char *mappings_response_json(const struct model *model, const struct response *res);

#endif

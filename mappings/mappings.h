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

#endif

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

#endif

/* engine_internal.h - private to mappings/: the compiled form of the observe, mappings and
 * commands rules that engine.c builds and render.c and request.c read. Path patterns are arrays of
 * ids with a wildcard mask, topic templates are lists of literal and variable segments with the
 * prefix already folded into the literals, so that rendering a notification parses nothing. Not
 * part of the public interface (mappings.h). */
#ifndef ENGINE_INTERNAL_H
#define ENGINE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mappings.h"

/* What one segment of a compiled topic template stands for. {prefix} never appears: it is
 * constant and folded into the literal text around it. */
enum engine_var {
    GW_SEG_TEXT = 0, /* literal text */
    GW_SEG_EP,
    GW_SEG_OID,
    GW_SEG_IID,
    GW_SEG_RID,
    GW_SEG_RIID,
    GW_SEG_OBJECT,
    GW_SEG_RESOURCE,
};

struct engine_segment {
    enum engine_var var;
    const char *text; /* GW_SEG_TEXT: the literal bytes (in the template's own copy) */
    size_t len;
};

struct engine_template {
    struct engine_segment *seg;
    size_t n;
    char *text;    /* owns the literal bytes the segments point into */
    unsigned uses; /* set of (1u << enum engine_var) the template uses */
};

/* A path pattern: level i matches any id when bit i of `wild` is set, else exactly id[i]. */
struct engine_pattern {
    uint16_t id[GW_PATH_MAX_DEPTH];
    uint8_t depth;
    uint8_t wild;
};

struct engine_mapping {
    struct engine_pattern pattern;
    char *endpoint; /* glob, NULL for every device */
    struct engine_template topic;
    enum mapping_payload payload;
    bool retain;
    int qos; /* resolved: never -1 */
};

struct engine_observe {
    struct observe_spec spec;
    char *endpoint; /* glob, NULL for every device */
};

/* A command rule: its topic (every variable a whole level, {ep} once), and its path with the
 * levels the topic fills in: bit i of path.wild set means level i comes from the topic's
 * variable GW_SEG_OID + i ({iid}, {rid} or {riid}). Composite operations have no path
 * (depth 0): their paths come from the message. */
struct engine_command {
    struct engine_template topic;
    struct engine_pattern path;
    enum request_op op;
    bool has_format;
    enum codec_format format;
};

struct mappings {
    struct engine_mapping *map;
    size_t n_map;
    struct engine_observe *obs;
    size_t n_obs;
    struct engine_command *cmd;
    size_t n_cmd;
    struct engine_template default_topic;      /* {prefix}/{ep}/data/{oid}/{iid}/{rid} */
    struct engine_template default_topic_riid; /* the same with /{riid} */
    int default_qos;
    char *prefix; /* mqtt.topic_prefix, "" when none: the generic request topics start with it */
};

/* True when `glob` (fnmatch(3) syntax; NULL matches everything) matches endpoint `ep`. */
bool engine_glob_match(const char *glob, const char *ep);

/* True when `path` is at or below a path that `p` matches: levels compared one by one, a
 * wildcard level matching any id (/3303/ * /5700 matches /3303/2/5700 and /3303/2/5700/0). */
bool engine_pattern_match(const struct engine_pattern *p, const struct data_path *path);

/* Writes the topic form of a model name into `out` (capacity `cap` > 0, NUL-terminated): lower
 * case, every character other than [a-z0-9_-] as '_', runs of '_' as one, none at either end,
 * truncated to fit ("Sensor Value" -> "sensor_value", "On/Off" -> "on_off"). Returns the length, or
 * 0 when `name` is NULL or leaves nothing but digits or nothing at all: the caller then writes the
 * id instead. */
size_t engine_name_key(const char *name, char *out, size_t cap);

/* ---- shared with request.c ---- */

/* True when `op` is read-composite, write-composite or observe-composite. */
bool request_op_composite(enum request_op op);

/* The path depths `op` accepts (execute: 3 to 3) and their shape for messages
 * ("/oid/iid/rid"); for the composite ops 0 to 0 and "/". */
void request_op_depth(enum request_op op, uint8_t *min, uint8_t *max, const char **shape);

/* True when `topic` (NUL-terminated) is one of the generic request topics of `prefix`:
 * {prefix}/{ep}/request, {prefix}/{ep}/write/..., {prefix}/{ep}/execute/... (or the bare
 * write and execute levels). A command topic such a topic would shadow is refused. */
bool request_generic_topic(const char *prefix, const char *topic);

#endif

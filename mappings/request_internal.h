/* request_internal.h - private to mappings/: what request.c (topics, the JSON request, the
 * canonical form) shares with typing.c (the values of a request typed by the object model).
 * Not part of the public interface (mappings.h). */
#ifndef REQUEST_INTERNAL_H
#define REQUEST_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mappings.h"
#include "outbuf.h"

/* One parse of a request: the model that types its values, the request being filled, and the
 * caller's message buffer. */
struct parse {
    const struct model *model;
    struct request *r;
    char *err;
    size_t errlen;
    struct outbuf scratch; /* decoded base64, reused from value to value */
};

/* A value to type: JSON (`j`), or the text of an MQTT payload (`j` NULL: `text`, `len`). */
struct input {
    const json_t *j;
    const uint8_t *text;
    size_t len;
};

/* Reads a decimal id: "0", or digits without a leading zero, at most 65535. */
bool typing_id(const char *s, size_t len, uint16_t *out);

/* Reads a path of `min`..`max` levels (data_path_parse) whose instance id is not the reserved
 * 65535. On failure `out` is the empty path, so that an answer echoes no half path. */
bool typing_path(const char *s, size_t len, uint8_t min, uint8_t max, struct data_path *out);

/* Writes `p` as text into `buf` and returns `buf` (for messages). */
const char *typing_path_text(const struct data_path *p, char *buf, size_t len);

/* True when `n` bytes are UTF-8 without a NUL byte: text that JSON carries unchanged. */
bool typing_text_ok(const uint8_t *p, size_t n);

/* Appends a record to p->r->values. Returns GW_OK, or -GW_ERR_INVALID (too many values) or
 * -GW_ERR_NOMEM with the reason in p->err. */
int typing_add(struct parse *p, const struct data_path *path, const struct data_value *v);

/* Types the value of the resource or resource instance `path` (depth 3 or 4) by the model and
 * appends it: a scalar, or for a multiple resource at depth 3 a JSON object keyed by resource
 * instance id ({}: the resource without instances). Refuses Execute resources and, unless
 * `create` (the initial values of a new instance), resources the model says are not writable.
 * `field` names the value in messages ("value", "values.1", "payload"). Returns GW_OK,
 * -GW_ERR_INVALID or -GW_ERR_NOMEM with the reason in p->err. */
int typing_value(struct parse *p, const char *field, const struct data_path *path,
                 const struct input *in, bool create);

/* The "values" of an instance (`inst`, depth 2): a JSON object keyed by resource id. Empty is
 * refused unless `create`. Returns as typing_value(). */
int typing_instance_values(struct parse *p, const json_t *values, const struct data_path *inst,
                           bool create);

/* The "values" of write-composite (named `field` in messages): a non-empty JSON object keyed
 * by paths of depth 3 or 4, none within another. Returns as typing_value(). */
int typing_composite_values(struct parse *p, const char *field, const json_t *values);

#endif

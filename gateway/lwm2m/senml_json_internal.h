/* senml_json_internal.h - private to gateway/lwm2m: the JSON plumbing that senml_json.c (SenML
 * JSON, 110) shares with oma_json.c (the LwM2M 1.0 JSON format, 11543), which is SenML's older
 * draft dressed differently. Parsing (jansson, bounded), typing a JSON value by the object model,
 * base64, and a writer into the caller's buffer. Not part of the module's public interface. */
#ifndef SENML_JSON_INTERNAL_H
#define SENML_JSON_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "codec.h"
#include "data.h"

/* Parses `len` bytes as exactly one JSON document (an array or an object; trailing bytes other
 * than whitespace are refused), refusing duplicate keys and nesting deeper than
 * GW_CODEC_MAX_DEPTH (checked before jansson builds anything). Strings may hold U+0000: our
 * values carry their length. On success `*out` is a new reference the caller json_decref()s.
 * Returns GW_OK, -GW_ERR_INVALID with "line L, column C: reason" in `err`, or -GW_ERR_NOMEM. */
int senml_json_load(const uint8_t *buf, size_t len, json_t **out, char *err, size_t errlen);

/* "an array", "a string", ... for messages. Never NULL. */
const char *senml_json_kind_name(const json_t *j);

/* Holds decoded base64 bytes until they are copied into a record list; grown as needed, reused
 * across the values of one message, freed by the decoder. Zeroed is empty. */
struct senml_json_scratch {
    uint8_t *p;
    size_t cap;
};

/* Which value field a JSON value came from, which fixes its JSON type and its meaning. */
enum senml_json_kind {
    GW_JSON_NUMBER,     /* SenML "v", LwM2M JSON "v" */
    GW_JSON_STRING,     /* SenML "vs": String, or Corelnk when the model says so */
    GW_JSON_STRING_B64, /* LwM2M JSON "sv": as GW_JSON_STRING, but base64 for an Opaque resource */
    GW_JSON_BOOLEAN,    /* SenML "vb", LwM2M JSON "bv" */
    GW_JSON_DATA,       /* SenML "vd": base64 (URL-safe or standard, padding optional) */
    GW_JSON_OBJLNK,     /* SenML "vlo", LwM2M JSON "ov": "oid:iid" */
};

/* Turns the JSON value `j` of field `field` into `out`, typed by `want` (the model's type for the
 * resource; GW_TYPE_NONE when unknown: the JSON decides, integral JSON integers giving INTEGER and
 * other numbers FLOAT). `base_value` (SenML "bv", may be NULL) is added to a number. Byte values
 * point into `j` or `s`. Returns GW_OK, -GW_ERR_INVALID with the reason in `why` (a wrong JSON
 * type, a value the model's type cannot hold, bad base64 or object link), or -GW_ERR_NOMEM. */
int senml_json_value(enum senml_json_kind kind, const char *field, const json_t *j,
                     const json_t *base_value, enum data_type want, struct senml_json_scratch *s,
                     struct data_value *out, char *why, size_t whylen);

/* Decodes base64 (either alphabet, padding optional but exact when present) into `s`. Returns
 * GW_OK, -GW_ERR_INVALID with the offending character's offset in `why`, or -GW_ERR_NOMEM. */
int senml_json_base64_decode(const char *text, size_t len, struct senml_json_scratch *s,
                             size_t *outlen, char *why, size_t whylen);

/* ---- writing ---- */

/* The caller's buffer being filled. Once something did not fit, `full` stays set and nothing
 * more is written; `len` is what was written so far. */
struct senml_json_out {
    uint8_t *buf;
    size_t cap;
    size_t len;
    bool full;
};

void senml_json_put(struct senml_json_out *o, const char *s, size_t n);
void senml_json_puts(struct senml_json_out *o, const char *s);

/* Writes `n` bytes as a quoted JSON string. Returns GW_OK, or -GW_ERR_INVALID when they are not
 * valid UTF-8 (nothing can express that in JSON). */
int senml_json_put_string(struct senml_json_out *o, const uint8_t *p, size_t n);

/* Writes a finite double as the shortest decimal that reads back to the same double; with
 * `keep_real`, one that looks like an integer gets ".0" so that it reads back as a real. */
void senml_json_put_double(struct senml_json_out *o, double d, bool keep_real);

/* How names are written relative to ctx->base (see senml_json_plan). */
struct senml_json_names {
    char bn[32]; /* the base name, when has_bn */
    bool has_bn;
    uint8_t skip; /* leading path levels the base name covers */
    bool slash;   /* relative names start with '/' */
};

/* Plans the base name for `in` below `base`: "/3/0/" and names "0", "6/0" when every record
 * lies deeper than the base; the base itself without '/' (and names "/0") when a record is the
 * base; for the root, bn "/" with names "3/0/0" when `root_bn`, else no bn and absolute names.
 * Returns GW_OK or -GW_ERR_INVALID naming the first record outside `base`. */
int senml_json_plan(const struct data_records *in, const struct data_path *base, bool root_bn,
                    struct senml_json_names *nm, char *err, size_t errlen);

/* Writes the name of `p` under plan `nm` into `buf` (at least 32 bytes), NUL-terminated; returns
 * its length, 0 when the record needs no name. */
size_t senml_json_name(const struct senml_json_names *nm, const struct data_path *p, char *buf);

/* The field names a format uses for each kind of value. */
struct senml_json_labels {
    const char *num, *str, *boolean, *data, *objlnk;
    bool url_base64; /* data: base64url without padding (SenML) or standard with padding */
};

/* Writes `,"label":value` (the comma only when `comma`) for `v`; nothing for GW_TYPE_NONE.
 * Returns GW_OK or -GW_ERR_INVALID with the reason in `why` (non-finite float, bad UTF-8). */
int senml_json_put_value(struct senml_json_out *o, const struct data_value *v,
                         const struct senml_json_labels *l, bool comma, char *why, size_t whylen);

#endif

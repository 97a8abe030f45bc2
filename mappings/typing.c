/* typing.c - the values of a request typed by the object model before anything is sent: JSON
 * or payload text becomes an Integer, Float, Opaque (base64), Objlnk ("oid:iid")... with range
 * checks, a multiple resource takes an object keyed by instance id, Execute and read-only
 * resources take no value, and every refusal names the field, the path, the resource and its
 * type. Values the model does not know are typed from JSON (text from a payload: String). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "request_internal.h"

#define WHY_MAX 160 /* the detail of a refused value */

/* ---- small readers ---- */

/* Strict decimal id: "0" or no leading zero, at most 65535. */
bool typing_id(const char *s, size_t len, uint16_t *out)
{
    uint32_t v = 0;
    if (len == 0 || len > 5 || (len > 1 && s[0] == '0'))
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint32_t)(s[i] - '0');
    }
    if (v > 65535)
        return false;
    *out = (uint16_t)v;
    return true;
}

/* A path of `min`..`max` levels whose instance id is not the reserved 65535. On failure `out`
 * is the empty path, so that an answer does not echo half a path. */
bool typing_path(const char *s, size_t len, uint8_t min, uint8_t max, struct data_path *out)
{
    if (data_path_parse(s, len, out) == GW_OK && out->depth >= min && out->depth <= max &&
        !(out->depth >= 2 && out->id[1] == 65535))
        return true;
    memset(out, 0, sizeof(*out));
    return false;
}

const char *typing_path_text(const struct data_path *p, char *buf, size_t len)
{
    if (data_path_format(p, buf, len) < 0)
        snprintf(buf, len, "?");
    return buf;
}

/* Decodes standard base64 with padding (RFC 4648 section 4) into `o`; false on anything else:
 * another alphabet, missing padding, white space. */
static bool base64_decode(struct outbuf *o, const uint8_t *s, size_t n)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    o->len = 0;
    if (n % 4 || !outbuf_room(o, n / 4 * 3 + 1))
        return false;
    for (size_t i = 0; i < n; i += 4) {
        uint32_t v = 0;
        int pad = 0;
        for (size_t k = 0; k < 4; k++) {
            const char *c = s[i + k] ? memchr(abc, s[i + k], 64) : NULL;
            if (s[i + k] == '=' && i + 4 == n && k >= 2 && (k == 3 || s[i + 3] == '=')) {
                pad++;
                v <<= 6;
                continue;
            }
            if (!c || pad)
                return false;
            v = v << 6 | (uint32_t)(c - abc);
        }
        uint8_t b[3] = {(uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
        outbuf_put(o, b, (size_t)(3 - pad));
    }
    return !o->nomem;
}

bool typing_text_ok(const uint8_t *p, size_t n)
{
    return !memchr(p, '\0', n) && gw_utf8_valid(p, n);
}

/* ---- typing one value ---- */

/* What a value of type `t` must look like, in JSON or as payload text. */
static const char *expected(enum data_type t, bool json)
{
    switch (t) {
    case GW_TYPE_INTEGER:
    case GW_TYPE_TIME:
        return "an Integer";
    case GW_TYPE_UNSIGNED:
        return "a non-negative Integer";
    case GW_TYPE_FLOAT:
        return "a number";
    case GW_TYPE_BOOLEAN:
        return json ? "true or false" : "true, false, 1 or 0";
    case GW_TYPE_OPAQUE:
        return json ? "a base64 string" : "base64 text";
    case GW_TYPE_OBJLNK:
        return json ? "a string \"oid:iid\"" : "\"oid:iid\"";
    default:
        return json ? "a string" : "UTF-8 text";
    }
}

/* Converts JSON `j` into type `t` (GW_TYPE_NONE: typed from JSON). Byte values point into `j`
 * or p->scratch. Returns GW_OK or -GW_ERR_INVALID with a detail (maybe "") in `why`. */
static int from_json(struct parse *p, const json_t *j, enum data_type t, struct data_value *v,
                     char *why, size_t whylen)
{
    why[0] = '\0';
    *v = (struct data_value){.type = t};
    switch (t) {
    case GW_TYPE_NONE:
        if (json_is_integer(j))
            *v = (struct data_value){.type = GW_TYPE_INTEGER, .v.i = json_integer_value(j)};
        else if (json_is_real(j))
            *v = (struct data_value){.type = GW_TYPE_FLOAT, .v.f = json_real_value(j)};
        else if (json_is_boolean(j))
            *v = (struct data_value){.type = GW_TYPE_BOOLEAN, .v.b = json_is_true(j)};
        else if (json_is_string(j))
            return from_json(p, j, GW_TYPE_STRING, v, why, whylen);
        else
            return -GW_ERR_INVALID;
        return GW_OK;
    case GW_TYPE_INTEGER:
    case GW_TYPE_TIME:
        if (!json_is_integer(j))
            return -GW_ERR_INVALID;
        v->v.i = json_integer_value(j);
        return GW_OK;
    case GW_TYPE_UNSIGNED:
        if (!json_is_integer(j))
            return -GW_ERR_INVALID;
        if (json_integer_value(j) < 0)
            return gw_fail(-GW_ERR_INVALID, why, whylen, "%lld is negative",
                           (long long)json_integer_value(j));
        v->v.u = (uint64_t)json_integer_value(j);
        return GW_OK;
    case GW_TYPE_FLOAT:
        if (!json_is_number(j))
            return -GW_ERR_INVALID;
        v->v.f = json_number_value(j);
        return GW_OK;
    case GW_TYPE_BOOLEAN:
        if (!json_is_boolean(j))
            return -GW_ERR_INVALID;
        v->v.b = json_is_true(j);
        return GW_OK;
    default:
        break;
    }
    if (!json_is_string(j))
        return -GW_ERR_INVALID;
    const uint8_t *s = (const uint8_t *)json_string_value(j);
    size_t n = json_string_length(j);
    if (t == GW_TYPE_OPAQUE) {
        if (!base64_decode(&p->scratch, s, n))
            return p->scratch.nomem ? -GW_ERR_NOMEM
                                    : gw_fail(-GW_ERR_INVALID, why, whylen, "not base64");
        s = (const uint8_t *)p->scratch.b;
        n = p->scratch.len;
    }
    struct data_value text = {.type = GW_TYPE_STRING, .v.bytes = {s, n}};
    if (t == GW_TYPE_OBJLNK)
        return data_value_convert(&text, t, v, why, whylen);
    v->v.bytes = text.v.bytes;
    return GW_OK;
}

/* Converts payload text into type `t` (GW_TYPE_NONE: String). */
static int from_text(struct parse *p, const uint8_t *s, size_t n, enum data_type t,
                     struct data_value *v, char *why, size_t whylen)
{
    struct data_value text = {.type = GW_TYPE_STRING, .v.bytes = {s, n}};
    why[0] = '\0';
    switch (t) {
    case GW_TYPE_NONE:
    case GW_TYPE_STRING:
    case GW_TYPE_CORELNK:
        if (!typing_text_ok(s, n))
            return gw_fail(-GW_ERR_INVALID, why, whylen, "not UTF-8, or a NUL byte in it");
        *v = text;
        v->type = t == GW_TYPE_NONE ? GW_TYPE_STRING : t;
        return GW_OK;
    case GW_TYPE_OPAQUE:
        if (!base64_decode(&p->scratch, s, n))
            return p->scratch.nomem ? -GW_ERR_NOMEM
                                    : gw_fail(-GW_ERR_INVALID, why, whylen, "not base64");
        *v = (struct data_value){.type = t,
                                 .v.bytes = {(const uint8_t *)p->scratch.b, p->scratch.len}};
        return GW_OK;
    default:
        if (data_value_convert(&text, t, v, why, whylen) < 0)
            return -GW_ERR_INVALID;
        /* JSON (and so the hold store) carries integers up to 2^63-1 only. */
        if (t == GW_TYPE_UNSIGNED && v->v.u > INT64_MAX)
            return gw_fail(-GW_ERR_INVALID, why, whylen, "%llu is above %lld, the largest accepted",
                           (unsigned long long)v->v.u, (long long)INT64_MAX);
        return GW_OK;
    }
}

int typing_add(struct parse *p, const struct data_path *path, const struct data_value *v)
{
    int rc = data_records_add(&p->r->values, path, v, false, 0);
    if (rc == -GW_ERR_FULL)
        return gw_fail(-GW_ERR_INVALID, p->err, p->errlen, "too many values (at most %d)",
                       GW_RECORDS_MAX);
    return rc < 0 ? gw_fail(rc, p->err, p->errlen, "out of memory") : GW_OK;
}

/* Types one scalar for `path` (depth 3 or 4) and adds it. */
static int add_scalar(struct parse *p, const char *field, const struct data_path *path,
                      const struct model_resource *res, const struct input *in)
{
    char why[WHY_MAX], at[32];
    enum data_type t = res ? res->type : GW_TYPE_NONE;
    struct data_value v;
    int rc = in->j ? from_json(p, in->j, t, &v, why, sizeof(why))
                   : from_text(p, in->text, in->len, t, &v, why, sizeof(why));
    if (rc == -GW_ERR_NOMEM)
        return gw_fail(rc, p->err, p->errlen, "out of memory");
    if (rc < 0 && !res)
        return gw_fail(rc, p->err, p->errlen,
                       "'%s' must be %s for %s (not in the object model)%s%s", field,
                       in->j ? "a number, a string, true or false" : "UTF-8 text",
                       typing_path_text(path, at, sizeof(at)), why[0] ? ": " : "", why);
    if (rc < 0)
        return gw_fail(rc, p->err, p->errlen, "'%s' must be %s for %s (%s is %s)%s%s", field,
                       expected(t, in->j != NULL), typing_path_text(path, at, sizeof(at)),
                       res->name, data_type_name(t), why[0] ? ": " : "", why);
    return typing_add(p, path, &v);
}

/* Adds the value of the resource or resource instance `path` (depth 3 or 4): a scalar, or for a
 * multiple resource at depth 3 a JSON object keyed by resource instance id ({} adds the empty
 * resource). `create`: the initial values of a new instance, where read-only resources count. */
int typing_value(struct parse *p, const char *field, const struct data_path *path,
                 const struct input *in, bool create)
{
    const struct model_resource *res = model_resource(p->model, path->id[0], path->id[2]);
    char at[32], sub[128];

    typing_path_text(path, at, sizeof(at));
    if (res && (res->ops & GW_OP_E))
        return gw_fail(-GW_ERR_INVALID, p->err, p->errlen,
                       "'%s': %s (%s) is an Execute resource and takes no value", field, at,
                       res->name);
    if (res && !create && !(res->ops & GW_OP_W))
        return gw_fail(-GW_ERR_INVALID, p->err, p->errlen, "'%s': %s (%s) is not writable", field,
                       at, res->name);
    if (res && !res->multiple && path->depth == 4) {
        struct data_path single = *path;
        single.depth = 3;
        return gw_fail(-GW_ERR_INVALID, p->err, p->errlen,
                       "'%s': %s (%s) is a single resource and has no instance %s", field,
                       typing_path_text(&single, sub, sizeof(sub)), res->name, at);
    }
    bool object = in->j && json_is_object(in->j);
    if (path->depth == 4 || !(object || (res && res->multiple)))
        return add_scalar(p, field, path, res, in);
    if (!object)
        return gw_fail(-GW_ERR_INVALID, p->err, p->errlen,
                       "'%s' must be an object keyed by resource instance id for %s (%s is a "
                       "multiple resource)%s",
                       field, at, res->name, in->j ? "" : "; write one instance: .../{riid}");
    if (res && !res->multiple)
        return add_scalar(p, field, path, res, in); /* refused there: the type is named */
    if (json_object_size(in->j) == 0) {
        struct data_value none = {.type = GW_TYPE_NONE};
        return typing_add(p, path, &none); /* the resource without instances */
    }
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)in->j, key, val)
    {
        struct data_path ri = *path;
        ri.depth = 4;
        snprintf(sub, sizeof(sub), "%s.%.40s", field, key);
        if (!typing_id(key, strlen(key), &ri.id[3]))
            return gw_fail(-GW_ERR_INVALID, p->err, p->errlen,
                           "'%s': a resource instance id must be a number 0-65535", sub);
        struct input one = {.j = val};
        int rc = add_scalar(p, sub, &ri, res, &one);
        if (rc < 0)
            return rc;
    }
    return GW_OK;
}

/* "values" of an instance (write on /oid/iid, create): an object keyed by resource id. */
int typing_instance_values(struct parse *p, const json_t *values, const struct data_path *inst,
                           bool create)
{
    const char *key;
    const json_t *val;
    char sub[64];

    if (!json_is_object(values))
        return gw_fail(-GW_ERR_INVALID, p->err, p->errlen,
                       "'values' must be an object keyed by resource id");
    if (!create && json_object_size(values) == 0)
        return gw_fail(-GW_ERR_INVALID, p->err, p->errlen, "'values' must not be empty");
    json_object_foreach((json_t *)values, key, val)
    {
        struct data_path res = *inst;
        res.depth = 3;
        snprintf(sub, sizeof(sub), "values.%.40s", key);
        if (!typing_id(key, strlen(key), &res.id[2]))
            return gw_fail(-GW_ERR_INVALID, p->err, p->errlen,
                           "'%s': a resource id must be a number 0-65535", sub);
        struct input in = {.j = val};
        int rc = typing_value(p, sub, &res, &in, create);
        if (rc < 0)
            return rc;
    }
    return GW_OK;
}

static int path_cmp(const void *x, const void *y)
{
    const struct data_path *a = x, *b = y;
    for (uint8_t i = 0; i < a->depth && i < b->depth; i++) {
        if (a->id[i] != b->id[i])
            return a->id[i] < b->id[i] ? -1 : 1;
    }
    return a->depth < b->depth ? -1 : a->depth > b->depth;
}

/* write-composite "values": an object keyed by paths of depth 3 or 4, none within another. */
int typing_composite_values(struct parse *p, const char *field, const json_t *values)
{
    const char *key;
    const json_t *val;
    char sub[96], a[32], b[32];

    if (!json_is_object(values) || json_object_size(values) == 0)
        return gw_fail(-GW_ERR_INVALID, p->err, p->errlen,
                       "'%s' must be a non-empty object keyed by /oid/iid/rid[/riid]", field);
    json_object_foreach((json_t *)values, key, val)
    {
        struct data_path path;
        snprintf(sub, sizeof(sub), "%s.%.60s", field, key);
        if (!typing_path(key, strlen(key), 3, 4, &path))
            return gw_fail(-GW_ERR_INVALID, p->err, p->errlen,
                           "'%s': a key must look like /oid/iid/rid[/riid]", sub);
        struct input in = {.j = val};
        int rc = typing_value(p, sub, &path, &in, false);
        if (rc < 0)
            return rc;
    }
    /* Sorted, a path and one within it are neighbours. */
    const struct data_records *v = &p->r->values;
    struct data_path *paths = malloc(v->n * sizeof(*paths));
    if (!paths)
        return gw_fail(-GW_ERR_NOMEM, p->err, p->errlen, "out of memory");
    for (size_t i = 0; i < v->n; i++)
        paths[i] = v->v[i].path;
    qsort(paths, v->n, sizeof(*paths), path_cmp);
    int rc = GW_OK;
    for (size_t i = 1; i < v->n && rc == GW_OK; i++) {
        if (data_path_contains(&paths[i - 1], &paths[i]))
            rc = gw_fail(-GW_ERR_INVALID, p->err, p->errlen, "'%s' writes %s and %s", field,
                         typing_path_text(&paths[i - 1], a, sizeof(a)),
                         typing_path_text(&paths[i], b, sizeof(b)));
    }
    free(paths);
    return rc;
}

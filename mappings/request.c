/* request.c - requests from MQTT (SPEC section 4): the generic topics ({prefix}/{ep}/request,
 * /write/..., /execute/...) and the commands rules become a struct request whose every value is
 * typed by the object model before anything is sent, and every refusal names the field and the
 * problem. The canonical JSON the hold store keeps is written here too, and read back by the
 * same parser as a request, so that a held request cannot mean something else once loaded. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "gw.h"
#include "outbuf.h"
#include "request_internal.h"

/* The fields of a JSON request, as bits of the set each op allows. */
enum field {
    F_ID,
    F_OP,
    F_EP,
    F_TTL,
    F_PATH,
    F_VALUE,
    F_VALUES,
    F_MODE,
    F_ARGS,
    F_ATTRIBUTES,
    F_PATHS,
    F_FORMAT,
    F_IID,
    F_COUNT,
};

static const char *const field_names[F_COUNT] = {
    "id",   "op",   "ep",         "ttl",   "path",   "value", "values",
    "mode", "args", "attributes", "paths", "format", "iid",
};

#define B(f) (1u << (f))
#define ANY_OP (B(F_ID) | B(F_OP) | B(F_EP) | B(F_TTL))
#define SHAPE_4 "/oid[/iid[/rid[/riid]]]"

/* Per op: the path depths it takes, their shape for messages, and the fields it reads. */
static const struct {
    uint8_t min, max;
    const char *shape;
    unsigned fields;
} ops[] = {
    [GW_OP_READ] = {1, 4, SHAPE_4, B(F_PATH) | B(F_FORMAT)},
    [GW_OP_WRITE] = {2, 4, "/oid/iid[/rid[/riid]]",
                     B(F_PATH) | B(F_VALUE) | B(F_VALUES) | B(F_MODE) | B(F_FORMAT)},
    [GW_OP_EXECUTE] = {3, 3, "/oid/iid/rid", B(F_PATH) | B(F_ARGS)},
    [GW_OP_CREATE] = {1, 1, "/oid", B(F_PATH) | B(F_VALUES) | B(F_IID) | B(F_FORMAT)},
    [GW_OP_DELETE] = {2, 2, "/oid/iid", B(F_PATH)},
    [GW_OP_DISCOVER] = {1, 3, "/oid[/iid[/rid]]", B(F_PATH)},
    [GW_OP_WRITE_ATTRIBUTES] = {1, 4, SHAPE_4, B(F_PATH) | B(F_ATTRIBUTES)},
    [GW_OP_OBSERVE] = {1, 4, SHAPE_4, B(F_PATH) | B(F_ATTRIBUTES) | B(F_FORMAT)},
    [GW_OP_CANCEL_OBSERVE] = {1, 4, SHAPE_4, B(F_PATH)},
    [GW_OP_READ_COMPOSITE] = {0, 0, "/", B(F_PATHS) | B(F_FORMAT)},
    [GW_OP_WRITE_COMPOSITE] = {0, 0, "/", B(F_VALUES) | B(F_FORMAT)},
    [GW_OP_OBSERVE_COMPOSITE] = {0, 0, "/", B(F_PATHS) | B(F_FORMAT)},
};

bool request_op_composite(enum request_op op)
{
    return op == GW_OP_READ_COMPOSITE || op == GW_OP_WRITE_COMPOSITE ||
           op == GW_OP_OBSERVE_COMPOSITE;
}

void request_op_depth(enum request_op op, uint8_t *min, uint8_t *max, const char **shape)
{
    *min = ops[op].min;
    *max = ops[op].max;
    *shape = ops[op].shape;
}

/* "paths" of read-/observe-composite. */
static int take_paths(struct parse *p, const char *field, const json_t *a)
{
    struct device_request *d = &p->r->dev;
    if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > GW_COMPOSITE_MAX)
        return gw_fail(-GW_ERR_INVALID, p->err, p->errlen, "'%s' must be an array of 1 to %d paths",
                       field, GW_COMPOSITE_MAX);
    for (size_t i = 0; i < json_array_size(a); i++) {
        const json_t *s = json_array_get(a, i);
        if (!json_is_string(s) ||
            !typing_path(json_string_value(s), json_string_length(s), 1, 4, &d->paths[i]))
            return gw_fail(-GW_ERR_INVALID, p->err, p->errlen, "'%s[%zu]' must look like " SHAPE_4,
                           field, i);
    }
    d->n_paths = json_array_size(a);
    return GW_OK;
}

/* "attributes": pmin, pmax (seconds), gt, lt, st. */
static int take_attributes(struct parse *p, const char *field, const json_t *a, bool required)
{
    struct observe_spec *s = &p->r->dev.attrs;
    const char *key;
    const json_t *val;

    if (!json_is_object(a))
        return gw_fail(-GW_ERR_INVALID, p->err, p->errlen, "'%s' must be an object", field);
    if (required && json_object_size(a) == 0)
        return gw_fail(-GW_ERR_INVALID, p->err, p->errlen,
                       "'%s' must set at least one of pmin, pmax, gt, lt, st", field);
    json_object_foreach((json_t *)a, key, val)
    {
        int32_t *period = !strcmp(key, "pmin") ? &s->pmin : !strcmp(key, "pmax") ? &s->pmax : NULL;
        double *num = NULL;
        bool *has = NULL;
        if (!strcmp(key, "gt")) {
            num = &s->gt;
            has = &s->has_gt;
        } else if (!strcmp(key, "lt")) {
            num = &s->lt;
            has = &s->has_lt;
        } else if (!strcmp(key, "st")) {
            num = &s->st;
            has = &s->has_st;
        }
        if (period) {
            if (!json_is_integer(val) || json_integer_value(val) < 0 ||
                json_integer_value(val) > INT32_MAX)
                return gw_fail(-GW_ERR_INVALID, p->err, p->errlen,
                               "'%s.%s' must be a non-negative integer (seconds)", field, key);
            *period = (int32_t)json_integer_value(val);
        } else if (num) {
            if (!json_is_number(val))
                return gw_fail(-GW_ERR_INVALID, p->err, p->errlen, "'%s.%s' must be a number",
                               field, key);
            *num = json_number_value(val);
            *has = true;
        } else {
            return gw_fail(-GW_ERR_INVALID, p->err, p->errlen,
                           "'%s' has unknown attribute '%.40s' (pmin, pmax, gt, lt, st)", field,
                           key);
        }
    }
    if (s->pmin >= 0 && s->pmax >= 0 && s->pmin > s->pmax)
        return gw_fail(-GW_ERR_INVALID, p->err, p->errlen, "'%s': pmin %d is greater than pmax %d",
                       field, (int)s->pmin, (int)s->pmax);
    return GW_OK;
}

/* ---- the JSON request ---- */

static int take_id(struct parse *p, const json_t *id)
{
    struct outbuf o = {0};
    if (json_is_string(id))
        outbuf_json_string(&o, (const uint8_t *)json_string_value(id), json_string_length(id));
    else if (json_is_integer(id))
        outbuf_i64(&o, json_integer_value(id));
    else
        return gw_fail(-GW_ERR_INVALID, p->err, p->errlen, "'id' must be a string or an integer");
    if (o.len > GW_REQUEST_ID_MAX) {
        outbuf_clear(&o);
        return gw_fail(-GW_ERR_INVALID, p->err, p->errlen, "'id' is longer than %d bytes",
                       GW_REQUEST_ID_MAX);
    }
    outbuf_put(&o, "", 1);
    if (o.nomem)
        return gw_fail(-GW_ERR_NOMEM, p->err, p->errlen, "out of memory");
    p->r->id = o.b;
    return GW_OK;
}

static int take_args(struct parse *p, const uint8_t *s, size_t n)
{
    if (!typing_text_ok(s, n))
        return gw_fail(-GW_ERR_INVALID, p->err, p->errlen,
                       "the arguments must be UTF-8 text without NUL bytes");
    if (n == 0)
        return GW_OK; /* no arguments */
    if (!(p->r->args = strndup((const char *)s, n)))
        return gw_fail(-GW_ERR_NOMEM, p->err, p->errlen, "out of memory");
    p->r->dev.args = p->r->args;
    return GW_OK;
}

/* Refuses executing what the model says is not an Execute resource. */
static int check_executable(struct parse *p, const char *field)
{
    const struct data_path *path = &p->r->dev.path;
    const struct model_resource *res = model_resource(p->model, path->id[0], path->id[2]);
    if (!res || (res->ops & GW_OP_E))
        return GW_OK; /* unknown resources are the device's to judge */
    char at[32];
    return gw_fail(-GW_ERR_INVALID, p->err, p->errlen, "'%s': %s (%s) is not executable", field,
                   typing_path_text(path, at, sizeof(at)), res->name);
}

/* The fields that depend on the op, once op and path are known. */
static int take_body(struct parse *p, const json_t *root)
{
    struct request *r = p->r;
    struct device_request *d = &r->dev;
    const json_t *value = json_object_get(root, "value"), *values = json_object_get(root, "values");
    const json_t *j;

    switch (d->op) {
    case GW_OP_WRITE: {
        char at[32];
        d->values = &r->values;
        if ((j = json_object_get(root, "mode"))) {
            const char *mode = json_string_value(j);
            if (!mode || (strcmp(mode, "replace") && strcmp(mode, "update")))
                return gw_fail(-GW_ERR_INVALID, p->err, p->errlen,
                               "'mode' must be \"replace\" or \"update\"");
            d->partial = !strcmp(mode, "update");
        }
        typing_path_text(&d->path, at, sizeof(at));
        if (d->path.depth == 2) {
            if (value || !values)
                return gw_fail(-GW_ERR_INVALID, p->err, p->errlen,
                               "'values' (keyed by resource id) is required to write the "
                               "instance %s%s",
                               at, value ? ", not 'value'" : "");
            return typing_instance_values(p, values, &d->path, false);
        }
        if (values || !value)
            return gw_fail(-GW_ERR_INVALID, p->err, p->errlen, "'value' is required to write %s%s",
                           at, values ? " ('values' is for an instance, /oid/iid)" : "");
        return typing_value(p, "value", &d->path, &(struct input){.j = value}, false);
    }
    case GW_OP_CREATE: {
        struct data_path inst = d->path;
        inst.id[1] = 65535; /* the device chooses */
        inst.depth = 2;
        d->values = &r->values;
        if ((j = json_object_get(root, "iid"))) {
            if (!json_is_integer(j) || json_integer_value(j) < 0 || json_integer_value(j) >= 65535)
                return gw_fail(-GW_ERR_INVALID, p->err, p->errlen,
                               "'iid' must be an integer 0-65534");
            inst.id[1] = (uint16_t)json_integer_value(j);
        }
        int rc = values ? typing_instance_values(p, values, &inst, true) : GW_OK;
        if (rc == GW_OK && r->values.n == 0 && inst.id[1] != 65535) {
            struct data_value none = {.type = GW_TYPE_NONE};
            rc = typing_add(p, &inst, &none); /* an empty instance, to carry its id */
        }
        return rc;
    }
    case GW_OP_WRITE_COMPOSITE:
        d->values = &r->values;
        if (!values)
            return gw_fail(-GW_ERR_INVALID, p->err, p->errlen,
                           "'values' (keyed by path) is required for write-composite");
        return typing_composite_values(p, "values", values);
    case GW_OP_EXECUTE:
        if ((j = json_object_get(root, "args"))) {
            if (!json_is_string(j))
                return gw_fail(-GW_ERR_INVALID, p->err, p->errlen, "'args' must be a string");
            int rc = take_args(p, (const uint8_t *)json_string_value(j), json_string_length(j));
            if (rc < 0)
                return rc;
        }
        return check_executable(p, "path");
    case GW_OP_WRITE_ATTRIBUTES:
    case GW_OP_OBSERVE:
        j = json_object_get(root, "attributes");
        if (!j && d->op == GW_OP_WRITE_ATTRIBUTES)
            return gw_fail(-GW_ERR_INVALID, p->err, p->errlen,
                           "'attributes' is required for write-attributes");
        return j ? take_attributes(p, "attributes", j, d->op == GW_OP_WRITE_ATTRIBUTES) : GW_OK;
    case GW_OP_READ_COMPOSITE:
    case GW_OP_OBSERVE_COMPOSITE:
        if (!(j = json_object_get(root, "paths")))
            return gw_fail(-GW_ERR_INVALID, p->err, p->errlen, "'paths' is required for %s",
                           mappings_op_name(d->op));
        return take_paths(p, "paths", j);
    default:
        return GW_OK;
    }
}

/* Reads a JSON request (`load`: the canonical form, whose "ep" names the endpoint). */
static int parse_json(struct parse *p, const void *payload, size_t len, bool load)
{
    struct request *r = p->r;
    struct device_request *d = &r->dev;
    json_error_t jerr;
    const char *key, *s;
    const json_t *val, *j;
    int rc;

    json_t *root = json_loadb(payload, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return gw_fail(-GW_ERR_INVALID, p->err, p->errlen, "not JSON: %s (line %d, column %d)",
                       jerr.text, jerr.line, jerr.column);
    if (!json_is_object(root)) {
        rc = gw_fail(-GW_ERR_INVALID, p->err, p->errlen, "the request must be a JSON object");
        goto out;
    }
    if ((j = json_object_get(root, "id")) && (rc = take_id(p, j)) < 0)
        goto out;
    j = json_object_get(root, "ep");
    if (load || j) {
        s = json_string_value(j);
        if (!s || !*s || json_string_length(j) > GW_EP_MAX || strlen(s) != json_string_length(j)) {
            rc = gw_fail(-GW_ERR_INVALID, p->err, p->errlen,
                         "'ep' must be a string of 1 to %d bytes", GW_EP_MAX);
            goto out;
        }
        if (!load && strcmp(s, r->ep)) {
            rc = gw_fail(-GW_ERR_INVALID, p->err, p->errlen,
                         "'ep' is '%s' but the topic names '%s'", s, r->ep);
            goto out;
        }
        memcpy(r->ep, s, strlen(s) + 1);
    }
    if (!(j = json_object_get(root, "op"))) {
        rc = gw_fail(-GW_ERR_INVALID, p->err, p->errlen, "'op' is required");
        goto out;
    }
    if (!(s = json_string_value(j)) || mappings_parse_op(s, &d->op) < 0) {
        rc = gw_fail(-GW_ERR_INVALID, p->err, p->errlen,
                     "'op' must be one of read, write, execute, create, delete, discover, "
                     "write-attributes, observe, cancel-observe, read-composite, "
                     "write-composite, observe-composite");
        goto out;
    }
    json_object_foreach(root, key, val)
    {
        size_t f = 0;
        while (f < F_COUNT && strcmp(key, field_names[f]))
            f++;
        if (f == F_COUNT) {
            rc = gw_fail(-GW_ERR_INVALID, p->err, p->errlen, "unknown field '%.40s'", key);
            goto out;
        }
        if (!((ANY_OP | ops[d->op].fields) & B(f))) {
            rc = gw_fail(-GW_ERR_INVALID, p->err, p->errlen, "'%s' does not apply to %s", key,
                         mappings_op_name(d->op));
            goto out;
        }
    }
    if ((j = json_object_get(root, "ttl"))) {
        if (!json_is_integer(j) || json_integer_value(j) < 0) {
            rc = gw_fail(-GW_ERR_INVALID, p->err, p->errlen,
                         "'ttl' must be a non-negative integer (seconds)");
            goto out;
        }
        r->ttl = json_integer_value(j);
    }
    if ((j = json_object_get(root, "format"))) {
        if (!(s = json_string_value(j)) || codec_parse_name(s, &d->format) < 0) {
            rc = gw_fail(-GW_ERR_INVALID, p->err, p->errlen,
                         "'format' must be one of text, opaque, cbor, tlv, json, senml-json, "
                         "senml-cbor, link");
            goto out;
        }
        d->has_format = true;
    }
    if (!request_op_composite(d->op)) {
        if (!(j = json_object_get(root, "path"))) {
            rc = gw_fail(-GW_ERR_INVALID, p->err, p->errlen, "'path' is required for %s",
                         mappings_op_name(d->op));
            goto out;
        }
        if (!json_is_string(j) || !typing_path(json_string_value(j), json_string_length(j),
                                               ops[d->op].min, ops[d->op].max, &d->path)) {
            rc = gw_fail(-GW_ERR_INVALID, p->err, p->errlen, "'path' must look like %s",
                         ops[d->op].shape);
            goto out;
        }
    }
    rc = take_body(p, root);
out:
    json_decref(root);
    return rc;
}

/* ---- topics ---- */

/* The generic kind of `topic` (enum request_source), or -1; `ep` and `tail` (after the
 * endpoint's '/') point into it. */
static int generic_kind(const char *prefix, const char *topic, const char **ep, size_t *eplen,
                        const char **tail)
{
    size_t plen = strlen(prefix);
    if (strncmp(topic, prefix, plen) || topic[plen] != '/')
        return -1;
    const char *e = topic + plen + 1, *slash = strchr(e, '/');
    if (!slash)
        return -1;
    *ep = e;
    *eplen = (size_t)(slash - e);
    *tail = slash + 1;
    if (!strcmp(*tail, "request"))
        return GW_SRC_JSON;
    if (!strncmp(*tail, "write", 5) && ((*tail)[5] == '/' || !(*tail)[5]))
        return GW_SRC_WRITE;
    if (!strncmp(*tail, "execute", 7) && ((*tail)[7] == '/' || !(*tail)[7]))
        return GW_SRC_EXECUTE;
    return -1;
}

bool request_generic_topic(const char *prefix, const char *topic)
{
    const char *ep, *tail;
    size_t eplen;
    return generic_kind(prefix, topic, &ep, &eplen, &tail) >= 0;
}

/* The text each variable of a command topic stood for. */
struct binding {
    const char *p[GW_SEG_RESOURCE + 1];
    size_t len[GW_SEG_RESOURCE + 1];
};

static bool command_match(const struct engine_command *c, const char *topic, struct binding *b)
{
    const char *s = topic;
    for (size_t k = 0; k < c->topic.n; k++) {
        const struct engine_segment *seg = &c->topic.seg[k];
        if (seg->var == GW_SEG_TEXT) {
            if (strncmp(s, seg->text, seg->len))
                return false;
            s += seg->len;
        } else {
            b->p[seg->var] = s;
            b->len[seg->var] = strcspn(s, "/");
            s += b->len[seg->var];
        }
    }
    return *s == '\0';
}

/* A request from the command rule `c`; `b` holds what the topic bound. */
static int parse_command(struct parse *p, const struct engine_command *c, const struct binding *b,
                         const uint8_t *payload, size_t len)
{
    static const char *const vars[] = {NULL, "{iid}", "{rid}", "{riid}"};
    struct request *r = p->r;
    struct device_request *d = &r->dev;
    int rc = GW_OK;

    d->op = c->op;
    d->path.depth = c->path.depth;
    memcpy(d->path.id, c->path.id, sizeof(d->path.id));
    d->has_format = c->has_format;
    d->format = c->format;
    for (uint8_t i = 1; i < c->path.depth; i++) {
        enum engine_var var = (enum engine_var)(GW_SEG_OID + i);
        if (!(c->path.wild & (1u << i)))
            continue;
        if (!typing_id(b->p[var], b->len[var], &d->path.id[i]) ||
            (i == 1 && d->path.id[1] == 65535))
            return gw_fail(-GW_ERR_INVALID, p->err, p->errlen,
                           "topic level %s must be a number 0-%d, not '%.*s'", vars[i],
                           i == 1 ? 65534 : 65535, (int)(b->len[var] > 20 ? 20 : b->len[var]),
                           b->p[var]);
    }
    if (d->op == GW_OP_WRITE) {
        d->values = &r->values;
        return typing_value(p, "payload", &d->path, &(struct input){.text = payload, .len = len},
                            false);
    }
    if (d->op == GW_OP_EXECUTE) {
        rc = take_args(p, payload, len);
        return rc < 0 ? rc : check_executable(p, "topic");
    }
    bool attrs = d->op == GW_OP_WRITE_ATTRIBUTES || (d->op == GW_OP_OBSERVE && len);
    if (!request_op_composite(d->op) && !attrs)
        return GW_OK; /* the payload is not used */
    /* JSON: the "paths" array, the "values" object or the "attributes" object. */
    json_error_t jerr;
    json_t *j = json_loadb((const char *)payload, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j)
        return gw_fail(-GW_ERR_INVALID, p->err, p->errlen,
                       "payload must be JSON for %s: %s (line %d, column %d)",
                       mappings_op_name(d->op), jerr.text, jerr.line, jerr.column);
    if (d->op == GW_OP_WRITE_COMPOSITE) {
        d->values = &r->values;
        rc = typing_composite_values(p, "payload", j);
    } else if (attrs) {
        rc = take_attributes(p, "payload", j, d->op == GW_OP_WRITE_ATTRIBUTES);
    } else {
        rc = take_paths(p, "payload", j);
    }
    json_decref(j);
    return rc;
}

/* ---- entry points ---- */

void request_clear(struct request *r)
{
    if (!r)
        return;
    free(r->id);
    free(r->args);
    data_records_clear(&r->values);
    memset(r, 0, sizeof(*r));
}

static void request_init(struct request *r)
{
    r->ttl = -1;
    r->dev.attrs.pmin = r->dev.attrs.pmax = -1;
}

int mappings_request_parse(const struct mappings *m, const struct model *model, const char *topic,
                           const void *payload, size_t len, struct request *out, char *err,
                           size_t errlen)
{
    struct parse p = {.model = model, .r = out, .err = err, .errlen = errlen};
    struct binding b = {0};
    const struct engine_command *c = NULL;
    const char *tail = NULL, *ep;
    size_t eplen;
    int rc;

    if (!payload)
        payload = ""; /* an empty MQTT payload may come as NULL */
    int kind = generic_kind(m->prefix, topic, &ep, &eplen, &tail);
    for (size_t i = 0; kind < 0 && i < m->n_cmd; i++) {
        if (command_match(&m->cmd[i], topic, &b)) {
            c = &m->cmd[i];
            kind = GW_SRC_COMMAND;
            ep = b.p[GW_SEG_EP];
            eplen = b.len[GW_SEG_EP];
        }
    }
    if (kind < 0)
        return gw_fail(-GW_ERR_NOTFOUND, err, errlen, "not a request topic");
    request_init(out);
    if (eplen == 0 || eplen > GW_EP_MAX || !typing_text_ok((const uint8_t *)ep, eplen))
        return gw_fail(-GW_ERR_INVALID, err, errlen,
                       "the topic's endpoint level must be 1 to %d bytes of UTF-8", GW_EP_MAX);
    memcpy(out->ep, ep, eplen);
    out->ep[eplen] = '\0';

    struct device_request *d = &out->dev;
    switch (kind) {
    case GW_SRC_JSON:
        rc = parse_json(&p, payload, len, false);
        break;
    case GW_SRC_WRITE:
        d->op = GW_OP_WRITE;
        d->values = &out->values;
        if (!typing_path(tail + 5, strlen(tail + 5), 3, 4, &d->path)) {
            rc = gw_fail(-GW_ERR_INVALID, err, errlen,
                         "the topic must end in write/{oid}/{iid}/{rid}[/{riid}]");
            break;
        }
        rc = typing_value(&p, "payload", &d->path, &(struct input){.text = payload, .len = len},
                          false);
        break;
    case GW_SRC_EXECUTE:
        d->op = GW_OP_EXECUTE;
        if (!typing_path(tail + 7, strlen(tail + 7), 3, 3, &d->path)) {
            rc = gw_fail(-GW_ERR_INVALID, err, errlen,
                         "the topic must end in execute/{oid}/{iid}/{rid}");
            break;
        }
        rc = take_args(&p, payload, len);
        if (rc == GW_OK)
            rc = check_executable(&p, "topic");
        break;
    default:
        rc = parse_command(&p, c, &b, payload, len);
        break;
    }
    outbuf_clear(&p.scratch);
    return rc;
}

int mappings_request_load(const struct model *model, const char *json, struct request *out,
                          char *err, size_t errlen)
{
    struct parse p = {.model = model, .r = out, .err = err, .errlen = errlen};
    request_init(out);
    int rc = parse_json(&p, json, strlen(json), true);
    outbuf_clear(&p.scratch);
    return rc;
}

int mappings_request_filters(const struct mappings *m, char **out, size_t cap)
{
    static const char *const generic[] = {"/+/request", "/+/write/#", "/+/execute/#"};
    size_t total = GW_ARRAY_LEN(generic) + m->n_cmd, n = 0;
    char **all = calloc(total, sizeof(*all));
    if (!all)
        return -GW_ERR_NOMEM;
    for (size_t i = 0; i < total; i++) {
        struct outbuf o = {0};
        if (i < GW_ARRAY_LEN(generic)) {
            outbuf_puts(&o, m->prefix);
            outbuf_puts(&o, generic[i]);
        } else {
            const struct engine_template *t = &m->cmd[i - GW_ARRAY_LEN(generic)].topic;
            for (size_t k = 0; k < t->n; k++)
                outbuf_put(&o, t->seg[k].var == GW_SEG_TEXT ? t->seg[k].text : "+",
                           t->seg[k].var == GW_SEG_TEXT ? t->seg[k].len : 1);
        }
        outbuf_put(&o, "", 1);
        if (o.nomem) {
            for (size_t k = 0; k < n; k++)
                free(all[k]);
            free(all);
            return -GW_ERR_NOMEM;
        }
        bool dup = false;
        for (size_t k = 0; k < n && !dup; k++)
            dup = !strcmp(all[k], o.b);
        if (dup)
            outbuf_clear(&o);
        else
            all[n++] = o.b;
    }
    for (size_t i = 0; i < n; i++) {
        if (i < cap)
            out[i] = all[i];
        else
            free(all[i]);
    }
    free(all);
    return (int)n;
}

/* ---- the canonical JSON ---- */

/* The value of one resource from records [i, end): a scalar for one record at the resource
 * itself, else an object keyed by resource instance id. */
static void put_resource(struct outbuf *o, const struct data_record *v, size_t i, size_t end)
{
    if (end == i + 1 && v[i].path.depth == 3 && v[i].value.type != GW_TYPE_NONE) {
        outbuf_value(o, &v[i].value, true);
        return;
    }
    outbuf_put(o, "{", 1);
    for (size_t k = i, first = 1; k < end; k++) {
        if (v[k].path.depth < 4)
            continue;
        outbuf_puts(o, first ? "\"" : ",\"");
        outbuf_u64(o, v[k].path.id[3]);
        outbuf_put(o, "\":", 2);
        outbuf_value(o, &v[k].value, true);
        first = 0;
    }
    outbuf_put(o, "}", 1);
}

/* "values" of an instance: keyed by resource id, records of one resource together. */
static void put_instance(struct outbuf *o, const struct data_records *r)
{
    outbuf_puts(o, ",\"values\":{");
    for (size_t i = 0, end, first = 1; i < r->n; i = end) {
        end = i + 1;
        if (r->v[i].path.depth < 3)
            continue;
        while (end < r->n && r->v[end].path.depth >= 3 &&
               r->v[end].path.id[2] == r->v[i].path.id[2])
            end++;
        outbuf_puts(o, first ? "\"" : ",\"");
        outbuf_u64(o, r->v[i].path.id[2]);
        outbuf_put(o, "\":", 2);
        put_resource(o, r->v, i, end);
        first = 0;
    }
    outbuf_put(o, "}", 1);
}

static void put_attrs(struct outbuf *o, const struct observe_spec *s)
{
    const char *sep = "{";
    if (s->pmin < 0 && s->pmax < 0 && !s->has_gt && !s->has_lt && !s->has_st)
        return;
    outbuf_puts(o, ",\"attributes\":");
    if (s->pmin >= 0) {
        outbuf_puts(o, "{\"pmin\":");
        outbuf_i64(o, s->pmin);
        sep = ",";
    }
    if (s->pmax >= 0) {
        outbuf_puts(o, sep);
        outbuf_puts(o, "\"pmax\":");
        outbuf_i64(o, s->pmax);
        sep = ",";
    }
    const double *num[] = {s->has_gt ? &s->gt : NULL, s->has_lt ? &s->lt : NULL,
                           s->has_st ? &s->st : NULL};
    static const char *const names[] = {"\"gt\":", "\"lt\":", "\"st\":"};
    for (size_t i = 0; i < 3; i++) {
        if (!num[i])
            continue;
        outbuf_puts(o, sep);
        outbuf_puts(o, names[i]);
        outbuf_double(o, *num[i]);
        sep = ",";
    }
    outbuf_put(o, "}", 1);
}

char *mappings_request_json(const struct request *r)
{
    const struct device_request *d = &r->dev;
    const struct data_records *v = d->values;
    struct outbuf o = {0};

    outbuf_puts(&o, "{\"ep\":");
    outbuf_json_cstr(&o, r->ep);
    if (r->id) {
        outbuf_puts(&o, ",\"id\":");
        outbuf_puts(&o, r->id);
    }
    outbuf_puts(&o, ",\"op\":");
    outbuf_json_cstr(&o, mappings_op_name(d->op));
    if (d->op == GW_OP_READ_COMPOSITE || d->op == GW_OP_OBSERVE_COMPOSITE) {
        outbuf_puts(&o, ",\"paths\":[");
        for (size_t i = 0; i < d->n_paths; i++) {
            outbuf_puts(&o, i ? ",\"" : "\"");
            outbuf_path(&o, &d->paths[i], d->paths[i].depth);
            outbuf_put(&o, "\"", 1);
        }
        outbuf_put(&o, "]", 1);
    } else if (d->op != GW_OP_WRITE_COMPOSITE) {
        outbuf_puts(&o, ",\"path\":\"");
        outbuf_path(&o, &d->path, d->path.depth);
        outbuf_put(&o, "\"", 1);
    }
    if (d->op == GW_OP_WRITE && d->partial)
        outbuf_puts(&o, ",\"mode\":\"update\"");
    if (d->op == GW_OP_WRITE && v && d->path.depth >= 3) {
        outbuf_puts(&o, ",\"value\":");
        if (v->n == 1 && v->v[0].path.depth == d->path.depth && d->path.depth == 4)
            outbuf_value(&o, &v->v[0].value, true);
        else
            put_resource(&o, v->v, 0, v->n);
    } else if (d->op == GW_OP_WRITE && v) {
        put_instance(&o, v);
    } else if (d->op == GW_OP_CREATE && v && v->n) {
        if (v->v[0].path.id[1] != 65535) {
            outbuf_puts(&o, ",\"iid\":");
            outbuf_u64(&o, v->v[0].path.id[1]);
        }
        if (v->v[0].path.depth >= 3)
            put_instance(&o, v);
    } else if (d->op == GW_OP_WRITE_COMPOSITE && v) {
        outbuf_puts(&o, ",\"values\":{");
        for (size_t i = 0; i < v->n; i++) {
            outbuf_puts(&o, i ? ",\"" : "\"");
            outbuf_path(&o, &v->v[i].path, v->v[i].path.depth);
            outbuf_put(&o, "\":", 2);
            if (v->v[i].value.type == GW_TYPE_NONE)
                outbuf_put(&o, "{}", 2); /* a multiple resource without instances */
            else
                outbuf_value(&o, &v->v[i].value, true);
        }
        outbuf_put(&o, "}", 1);
    }
    if (d->op == GW_OP_EXECUTE && d->args) {
        outbuf_puts(&o, ",\"args\":");
        outbuf_json_cstr(&o, d->args);
    }
    if (d->op == GW_OP_WRITE_ATTRIBUTES || d->op == GW_OP_OBSERVE)
        put_attrs(&o, &d->attrs);
    if (d->has_format && codec_name(d->format)) {
        outbuf_puts(&o, ",\"format\":");
        outbuf_json_cstr(&o, codec_name(d->format));
    }
    if (r->ttl >= 0) {
        outbuf_puts(&o, ",\"ttl\":");
        outbuf_i64(&o, r->ttl);
    }
    outbuf_put(&o, "}", 2); /* with the NUL */
    if (o.nomem) {
        outbuf_clear(&o);
        return NULL;
    }
    return o.b;
}

/* manage.c - the LwM2M operations that change or list what a simulated device has: Create
 * (POST on an object), Delete (DELETE on an instance) and Discover (GET with Accept 40), and
 * the check of Execute arguments. A Create of an id the layout has no place for gives the
 * device a layout of its own (objects.c); an instance that comes or goes gets or loses its
 * libcoap resources.
 * A resource is never freed inside its own handler, so Delete only marks the instance absent
 * (its handlers answer 4.04 from then on) and manage_reap frees the resources after the I/O. */

#include "sim_internal.h"

#include <stdarg.h>
#include <string.h>

#include "gw.h"

/* The instance id of a Create that leaves the choice to the device: the gateway encodes the
 * resources below this placeholder (65535 is reserved by LwM2M, never a real id). */
#define GW_ANY_IID UINT16_MAX

/* ---- Create ----------------------------------------------------------------------------- */

/* Decodes the payload of a Create on object `oid` into sim->records. A TLV payload of
 * resources without an object instance around them, and an LwM2M JSON one with names
 * relative to the instance, are decoded below the placeholder instance. Returns 0 or the code
 * of the answer, with the reason in `why`. */
static coap_pdu_code_t decode_create(struct device *dev, uint16_t oid, const struct outcome *o,
                                     const uint8_t *data, size_t len, char *why, size_t whylen)
{
    struct sim *sim = dev->sim;
    enum codec_format format = (enum codec_format)o->content_format;
    struct codec_ctx ctx = {.base = data_path_make(1, oid), .model = sim->model};
    struct codec_ctx any = {.base = data_path_make(2, oid, GW_ANY_IID), .model = sim->model};
    char retry_why[GW_WHY_MAX];

    if (!o->has_content_format) {
        snprintf(why, whylen, "a Create needs a Content-Format");
        return COAP_RESPONSE_CODE_UNSUPPORTED_CONTENT_FORMAT;
    }
    data_records_reset(&sim->records);
    /* TLV: bits 7-6 of the first type byte are 00 for an object instance */
    bool bare_tlv = format == GW_FMT_TLV && (data[0] >> 6) != 0;
    int rc = codec_decode(format, data, len, bare_tlv ? &any : &ctx, &sim->records, why, whylen);
    if (rc == -GW_ERR_INVALID && format == GW_FMT_LWM2M_JSON &&
        codec_decode(format, data, len, &any, &sim->records, retry_why, sizeof(retry_why)) == GW_OK)
        rc = GW_OK;
    if (rc == -GW_ERR_UNSUPPORTED)
        return COAP_RESPONSE_CODE_UNSUPPORTED_CONTENT_FORMAT;
    if (rc < 0)
        return COAP_RESPONSE_CODE_BAD_REQUEST;
    return 0;
}

/* The lowest instance id of object node `obj` that the device does not have. */
static uint32_t lowest_free(const struct device *dev, unsigned obj)
{
    const struct layout *l = dev->layout;
    uint32_t id = 0;
    /* instances are in id order */
    for (unsigned j = obj + 1; j < l->defs[obj].end; j = l->defs[j].end)
        if (dev->nodes[j].present && l->defs[j].path.id[1] == id)
            id++;
    return id;
}

/* Frees the libcoap resources left of the deleted instance at node `inst`, so that a new one
 * can take its paths. Safe in the handler of another resource (the object's). */
static void reap_instance(struct device *dev, unsigned inst)
{
    for (unsigned j = inst; j < dev->layout->defs[inst].end; j++) {
        struct node *n = &dev->nodes[j];
        if (!n->present && n->resource != NULL) {
            coap_delete_resource(dev->ctx, n->resource);
            n->resource = NULL;
        }
    }
}

/* Chooses the instance a Create makes: the one the records name, else the lowest free one.
 * Returns its id, or -1 with the code in *code and the reason in `why`. */
static int32_t choose_instance(struct device *dev, unsigned obj, coap_pdu_code_t *code, char *why,
                               size_t whylen)
{
    const struct layout *l = dev->layout;
    const struct data_records *in = &dev->sim->records;
    uint16_t oid = l->defs[obj].path.id[0];
    const struct model_object *mo = model_object(dev->sim->model, oid);
    uint32_t iid = GW_ANY_IID;

    *code = COAP_RESPONSE_CODE_BAD_REQUEST;
    for (size_t i = 0; i < in->n; i++) {
        if (in->v[i].path.depth < 2) {
            snprintf(why, whylen, "record %zu names no instance", i + 1);
            return -1;
        }
        uint16_t id = in->v[i].path.id[1];
        if (iid != GW_ANY_IID && id != iid) {
            snprintf(why, whylen, "a Create makes one instance, not /%u/%u and /%u/%u", oid,
                     (unsigned)iid, oid, id);
            return -1;
        }
        iid = id;
    }
    uint32_t free_id = lowest_free(dev, obj);
    if ((mo == NULL || !mo->multiple) && free_id > 0) {
        snprintf(why, whylen, "/%u has a single instance, and has it", oid);
        return -1;
    }
    if (iid == GW_ANY_IID)
        iid = free_id;
    struct data_path p = data_path_make(2, oid, iid);
    if (iid >= GW_ANY_IID || objects_find_present(dev, &p) >= 0) {
        snprintf(why, whylen, iid >= GW_ANY_IID ? "/%u has no free instance id" : "/%u/%u exists",
                 oid, (unsigned)iid);
        return -1;
    }
    return (int32_t)iid;
}

coap_pdu_code_t manage_create(struct device *dev, unsigned obj, const coap_pdu_t *request,
                              coap_pdu_t *response, struct outcome *o)
{
    struct sim *sim = dev->sim;
    char why[GW_WHY_MAX] = "";
    const uint8_t *data = NULL;
    size_t len = 0;
    uint16_t oid = dev->layout->defs[obj].path.id[0];
    coap_pdu_code_t code = 0;
    int inst = -1;

    data_records_reset(&sim->records);
    if (coap_get_data(request, &len, &data) && len > 0)
        code = decode_create(dev, oid, o, data, len, why, sizeof(why));
    int32_t iid = code ? -1 : choose_instance(dev, obj, &code, why, sizeof(why));
    if (iid >= 0) {
        struct data_path p = data_path_make(2, oid, iid);
        inst = objects_find(dev->layout, &p);
        if (inst < 0)
            inst = objects_add_instance(dev, &p); /* `obj` is stale from here on */
        code = COAP_RESPONSE_CODE_INTERNAL_ERROR;
        snprintf(why, sizeof(why), "out of memory");
    }
    if (inst >= 0) {
        for (size_t i = 0; i < sim->records.n; i++)
            sim->records.v[i].path.id[1] = (uint16_t)iid;
        reap_instance(dev, (unsigned)inst);
        code = objects_create(dev, (unsigned)inst, &sim->records, sim_now_ms(), why, sizeof(why));
    }
    if (code == COAP_RESPONSE_CODE_CREATED &&
        !serve_add_resources(dev, (unsigned)inst, dev->layout->defs[inst].end)) {
        objects_delete(dev, (unsigned)inst, sim_now_ms());
        dev->reap = true;
        snprintf(why, sizeof(why), "out of memory");
        code = COAP_RESPONSE_CODE_INTERNAL_ERROR;
    }
    if (code != COAP_RESPONSE_CODE_CREATED) {
        serve_fail(response, code, why);
        return code;
    }
    char iid_text[8], oid_text[8];
    int iid_len = snprintf(iid_text, sizeof(iid_text), "%u", (unsigned)iid);
    int oid_len = snprintf(oid_text, sizeof(oid_text), "%u", oid);
    coap_add_option(response, COAP_OPTION_LOCATION_PATH, (size_t)oid_len,
                    (const uint8_t *)oid_text);
    coap_add_option(response, COAP_OPTION_LOCATION_PATH, (size_t)iid_len,
                    (const uint8_t *)iid_text);
    snprintf(o->location, sizeof(o->location), "/%s/%s", oid_text, iid_text);
    coap_pdu_set_code(response, code);
    return code;
}

/* ---- Delete ----------------------------------------------------------------------------- */

coap_pdu_code_t manage_delete(struct device *dev, unsigned idx, coap_pdu_t *response)
{
    const struct node_def *d = &dev->layout->defs[idx];
    const struct model_object *mo = model_object(dev->sim->model, d->path.id[0]);
    if (d->path.depth != 2) {
        serve_fail(response, COAP_RESPONSE_CODE_NOT_ALLOWED, "Delete removes an object instance");
        return COAP_RESPONSE_CODE_NOT_ALLOWED;
    }
    if (mo == NULL || !mo->multiple) {
        serve_fail(response, COAP_RESPONSE_CODE_NOT_ALLOWED,
                   "the instance of a single-instance object stays");
        return COAP_RESPONSE_CODE_NOT_ALLOWED;
    }
    objects_delete(dev, idx, sim_now_ms());
    dev->reap = true;
    coap_pdu_set_code(response, COAP_RESPONSE_CODE_DELETED);
    return COAP_RESPONSE_CODE_DELETED;
}

void manage_reap(struct device *dev)
{
    const struct layout *l = dev->layout;
    dev->reap = false;
    for (unsigned i = 0; i < l->n; i++) {
        if (l->defs[i].path.depth == 2 && !dev->nodes[i].present) {
            reap_instance(dev, i);
            i = l->defs[i].end - 1;
        }
    }
    dev->io_wanted = true; /* the 4.04 to the observers, when confirmable */
}

/* ---- Discover --------------------------------------------------------------------------- */

/* Link-format text being written into sim->payload. */
struct links {
    char *p;
    size_t len, cap;
    bool full;
};

static void put(struct links *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = b->full ? -1 : vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= b->cap - b->len)
        b->full = true;
    else
        b->len += (size_t)n;
}

static void put_attrs(struct links *b, const struct attrs *a)
{
    if (a->has & GW_ATTR_PMIN)
        put(b, ";pmin=%.15g", a->pmin);
    if (a->has & GW_ATTR_PMAX)
        put(b, ";pmax=%.15g", a->pmax);
    if (a->has & GW_ATTR_GT)
        put(b, ";gt=%.15g", a->gt);
    if (a->has & GW_ATTR_LT)
        put(b, ";lt=%.15g", a->lt);
    if (a->has & GW_ATTR_ST)
        put(b, ";st=%.15g", a->st);
}

/* Writes the link of node `idx`, with dim for a multiple resource (LwM2M 1.1 and later) and
 * the attributes `a` (NULL for none). */
static void put_link(struct links *b, const struct device *dev, unsigned idx, const struct attrs *a)
{
    const struct layout *l = dev->layout;
    const struct node_def *d = &l->defs[idx];
    char path[32];
    data_path_format(&d->path, path, sizeof(path));
    put(b, "%s<%s>", b->len > 0 ? "," : "", path);
    if (d->path.depth == 3 && !d->has_value && d->type != GW_TYPE_NONE &&
        strcmp(dev->sim->opt->version, "1.0") != 0)
        put(b, ";dim=%u", d->end - idx - 1);
    if (a != NULL)
        put_attrs(b, a);
}

/* The attributes in force at resource node `idx`: its own, and the pmin and pmax of its
 * instance and object where it has none. */
static struct attrs inherited(const struct device *dev, unsigned idx)
{
    const struct layout *l = dev->layout;
    struct attrs a = dev->nodes[idx].attrs;
    for (int j = l->defs[idx].parent; j >= 0; j = l->defs[j].parent) {
        const struct attrs *up = &dev->nodes[j].attrs;
        if ((up->has & GW_ATTR_PMIN) && !(a.has & GW_ATTR_PMIN)) {
            a.pmin = up->pmin;
            a.has |= GW_ATTR_PMIN;
        }
        if ((up->has & GW_ATTR_PMAX) && !(a.has & GW_ATTR_PMAX)) {
            a.pmax = up->pmax;
            a.has |= GW_ATTR_PMAX;
        }
    }
    return a;
}

/* TS Core 1.1 section 5.4.2: an object lists itself with its attributes, then its instances
 * and their resources without theirs; an instance lists itself and its resources, each with
 * its own attributes; a resource lists itself with the attributes in force there. */
coap_pdu_code_t manage_discover(struct device *dev, unsigned idx, coap_pdu_t *response,
                                struct outcome *o)
{
    struct sim *sim = dev->sim;
    const struct layout *l = dev->layout;
    const struct node_def *d = &l->defs[idx];
    struct links b = {.p = (char *)sim->payload, .cap = sizeof(sim->payload)};

    if (d->path.depth > 3) {
        serve_fail(response, COAP_RESPONSE_CODE_BAD_REQUEST,
                   "Discover goes to an object, an instance or a resource");
        return COAP_RESPONSE_CODE_BAD_REQUEST;
    }
    if (d->path.depth == 3) {
        struct attrs a = inherited(dev, idx);
        put_link(&b, dev, idx, &a);
    } else {
        put_link(&b, dev, idx, &dev->nodes[idx].attrs);
        for (unsigned j = idx + 1; j < d->end; j++) {
            const struct node_def *dj = &l->defs[j];
            if (!dev->nodes[j].present || dj->path.depth == 4)
                continue;
            bool own = d->path.depth == 2; /* an instance shows its resources' attributes */
            put_link(&b, dev, j, own ? &dev->nodes[j].attrs : NULL);
        }
    }
    if (b.full) {
        fprintf(stderr, "devsim: ep=%s path=%s: the links do not fit into one message\n", dev->name,
                o->path);
        serve_fail(response, COAP_RESPONSE_CODE_INTERNAL_ERROR, "the links do not fit");
        return COAP_RESPONSE_CODE_INTERNAL_ERROR;
    }
    coap_pdu_code_t code = serve_content(dev, response, GW_FMT_LINK, b.len, o->path);
    if (code == COAP_RESPONSE_CODE_CONTENT)
        o->format = codec_name(GW_FMT_LINK);
    return code;
}

/* ---- Execute ---------------------------------------------------------------------------- */

/* TS Core 5.4.5: arglist = argument *("," argument); argument = DIGIT ["=" "'" *CHAR "'"];
 * CHAR is printable ASCII but for space, '"', '\'' and '\\'. */
bool manage_args_valid(const char *args, size_t len)
{
    size_t i = 0;
    for (;;) {
        if (i >= len || args[i] < '0' || args[i] > '9')
            return false;
        i++;
        if (i < len && args[i] == '=') {
            if (++i >= len || args[i] != '\'')
                return false;
            for (i++; i < len && args[i] != '\''; i++)
                if (args[i] <= ' ' || args[i] > '~' || args[i] == '"' || args[i] == '\\')
                    return false;
            if (i++ >= len)
                return false; /* no closing quote */
        }
        if (i == len)
            return true;
        if (args[i++] != ',')
            return false;
    }
}

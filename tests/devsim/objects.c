/* objects.c - the objects of a simulated device and their values: LwM2M Server (1), Device
 * (3) and Temperature (3303) instances, as --objects registers them. The paths are laid out
 * once for all devices (struct layout, in path order so that a subtree is a run of nodes);
 * each device holds only values, which instances it has now, attributes and observation
 * state, until a Create of an instance the layout lacks gives it a layout of its own. Types
 * and operations come from the gateway's object model, so a value is encoded exactly as the
 * codecs expect. */

#include "sim_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gw.h"

/* The resources every instance of a simulated object gets, sorted by object and resource.
 * `instances` > 0 gives a multiple resource with that many instances. */
static const struct spec {
    uint16_t oid, rid;
    uint8_t instances;
} specs[] = {
    {1, 0, 0},       {1, 1, 0},       {1, 6, 0},       {1, 7, 0},       {1, 8, 0},
    {3, 0, 0},       {3, 1, 0},       {3, 2, 0},       {3, 3, 0},       {3, 4, 0},
    {3, 6, 2},       {3, 9, 0},       {3, 11, 1},      {3, 13, 0},      {3, 16, 0},
    {3303, 5601, 0}, {3303, 5602, 0}, {3303, 5605, 0}, {3303, 5700, 0}, {3303, 5701, 0},
};

/* One switch label per resource of first_value. */
#define GW_KEY(oid, rid) ((uint32_t)(oid)*100000u + (rid))

/* Where the Sensor Value of a Temperature may walk. */
#define GW_TEMP_MIN (-20.0)
#define GW_TEMP_MAX 50.0

static double wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool simulated(uint16_t oid)
{
    return oid == 1 || oid == 3 || oid == 3303;
}

/* ---- layout ----------------------------------------------------------------------------- */

static int path_cmp(const struct data_path *a, const struct data_path *b)
{
    for (uint8_t i = 0; i < a->depth && i < b->depth; i++)
        if (a->id[i] != b->id[i])
            return a->id[i] < b->id[i] ? -1 : 1;
    return (int)a->depth - (int)b->depth;
}

/* An instance of a layout: one of --objects, or one a Create added. */
struct slot {
    struct data_path path;
    bool registered;
};

static int path_qsort_cmp(const void *a, const void *b)
{
    return path_cmp(a, b);
}

static int slot_cmp(const void *a, const void *b)
{
    return path_cmp(&((const struct slot *)a)->path, &((const struct slot *)b)->path);
}

/* Collects the </oid/iid> links of simulated objects from `links`, sorted and without
 * duplicates. Quoted attribute values are skipped. Returns false when out of memory. */
static bool collect_instances(const char *links, struct data_path **out, size_t *count)
{
    size_t n = 0, cap = 0;
    struct data_path *v = NULL;
    bool quoted = false;

    for (const char *p = links; *p != '\0'; p++) {
        if (*p == '"')
            quoted = !quoted;
        if (quoted || *p != '<')
            continue;
        const char *end = strchr(p, '>');
        if (end == NULL)
            break;
        struct data_path path;
        if (data_path_parse(p + 1, (size_t)(end - p - 1), &path) == GW_OK && path.depth == 2 &&
            simulated(path.id[0])) {
            if (n == cap) {
                size_t grown = cap ? cap * 2 : 8;
                struct data_path *bigger = realloc(v, grown * sizeof(*v));
                if (bigger == NULL) {
                    free(v);
                    return false;
                }
                v = bigger;
                cap = grown;
            }
            v[n++] = path;
        }
        p = end;
    }
    if (n > 0)
        qsort(v, n, sizeof(*v), path_qsort_cmp);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (kept == 0 || path_cmp(&v[kept - 1], &v[i]) != 0)
            v[kept++] = v[i];
    *out = v;
    *count = kept;
    return true;
}

/* Appends one node to the layout, growing it. Returns its index, or -1 when out of memory. */
static int add_def(struct layout *l, size_t *cap, struct node_def def)
{
    if (l->n == *cap) {
        size_t grown = *cap ? *cap * 2 : 64;
        struct node_def *bigger = realloc(l->defs, grown * sizeof(*bigger));
        if (bigger == NULL)
            return -1;
        l->defs = bigger;
        *cap = grown;
    }
    l->defs[l->n] = def;
    return (int)l->n++;
}

/* Adds the resources devsim simulates for instance `inst` (at layout index `parent`). */
static bool add_resources(struct layout *l, size_t *cap, const struct model *model,
                          const struct data_path *inst, int parent, bool registered)
{
    for (size_t s = 0; s < GW_ARRAY_LEN(specs); s++) {
        if (specs[s].oid != inst->id[0])
            continue;
        const struct model_resource *mr = model_resource(model, specs[s].oid, specs[s].rid);
        if (mr == NULL)
            continue; /* a model without it: the device does not have it either */
        struct node_def def = {
            .path = data_path_make(3, inst->id[0], inst->id[1], specs[s].rid),
            .parent = parent,
            .type = mr->type,
            .ops = mr->ops,
            .has_value = !mr->multiple && mr->type != GW_TYPE_NONE,
            .registered = registered,
        };
        int res = add_def(l, cap, def);
        if (res < 0)
            return false;
        for (uint8_t k = 0; mr->multiple && k < specs[s].instances; k++) {
            def.path = data_path_make(4, inst->id[0], inst->id[1], specs[s].rid, k);
            def.parent = res;
            def.has_value = mr->type != GW_TYPE_NONE;
            if (add_def(l, cap, def) < 0)
                return false;
        }
    }
    return true;
}

/* Builds layout `l` from the instances `slots`, sorted by path: every object once, each
 * instance with devsim's resources. Returns false when out of memory (`l` cleared). */
static bool build_layout(struct layout *l, const struct model *model, const struct slot *slots,
                         size_t count)
{
    size_t cap = 0;
    int object = -1;

    memset(l, 0, sizeof(*l));
    for (size_t i = 0; i < count; i++) {
        const struct data_path *inst = &slots[i].path;
        if (object < 0 || l->defs[object].path.id[0] != inst->id[0]) {
            struct node_def def = {
                .path = data_path_make(1, inst->id[0]), .parent = -1, .registered = true};
            object = add_def(l, &cap, def);
            if (object < 0)
                goto out_fail;
        }
        struct node_def def = {.path = *inst, .parent = object, .registered = slots[i].registered};
        int at = add_def(l, &cap, def);
        if (at < 0 || !add_resources(l, &cap, model, inst, at, slots[i].registered))
            goto out_fail;
    }
    /* A path's subtree ends at the next path that is not deeper. */
    for (size_t i = 0; i < l->n; i++) {
        size_t j = i + 1;
        while (j < l->n && l->defs[j].path.depth > l->defs[i].path.depth)
            j++;
        l->defs[i].end = (unsigned)j;
    }
    return true;

out_fail:
    objects_layout_clear(l);
    return false;
}

bool objects_layout(struct layout *l, const struct model *model, const char *links)
{
    struct data_path *registered;
    size_t count;

    memset(l, 0, sizeof(*l));
    if (!collect_instances(links, &registered, &count))
        return false;
    struct slot *slots = malloc((count + 1) * sizeof(*slots));
    bool ok = slots != NULL;
    for (size_t i = 0; ok && i < count; i++)
        slots[i] = (struct slot){.path = registered[i], .registered = true};
    ok = ok && build_layout(l, model, slots, count);
    free(slots);
    free(registered);
    return ok;
}

int objects_add_instance(struct device *dev, const struct data_path *inst)
{
    const struct layout *old = dev->layout;
    size_t count = 0;
    struct slot *slots = malloc((old->n + 1) * sizeof(*slots));
    struct layout *l = calloc(1, sizeof(*l));
    struct node *nodes = NULL;
    int at = -1;

    if (slots == NULL || l == NULL)
        goto out_free;
    for (size_t i = 0; i < old->n; i++)
        if (old->defs[i].path.depth == 2)
            slots[count++] =
                (struct slot){.path = old->defs[i].path, .registered = old->defs[i].registered};
    slots[count++] = (struct slot){.path = *inst};
    qsort(slots, count, sizeof(*slots), slot_cmp);
    if (!build_layout(l, dev->sim->model, slots, count))
        goto out_free;
    nodes = calloc(l->n, sizeof(*nodes));
    if (nodes == NULL)
        goto out_free;

    /* Every old path is in the new layout: the nodes move, the composite indices follow. */
    for (size_t i = 0; i < old->n; i++) {
        size_t j = (size_t)objects_find(l, &old->defs[i].path);
        nodes[j] = dev->nodes[i];
        if (nodes[j].resource != NULL)
            coap_resource_set_userdata(nodes[j].resource, &nodes[j]);
    }
    for (size_t k = 0; k < dev->composite_n; k++)
        if (dev->composite[k] != SIZE_MAX)
            dev->composite[k] = (size_t)objects_find(l, &old->defs[dev->composite[k]].path);
    at = objects_find(l, inst);
    double wall = wall_seconds();
    free(dev->nodes);
    dev->nodes = nodes;
    if (dev->own_layout) {
        objects_layout_clear(dev->layout);
        free(dev->layout);
    }
    dev->layout = l;
    dev->own_layout = true;
    for (unsigned j = (unsigned)at; j < l->defs[at].end; j++)
        dev->nodes[j].changed_s = wall;
    free(slots);
    return at;

out_free:
    free(slots);
    if (l != NULL)
        objects_layout_clear(l);
    free(l);
    return -1;
}

void objects_layout_clear(struct layout *l)
{
    free(l->defs);
    memset(l, 0, sizeof(*l));
}

int objects_find_present(const struct device *dev, const struct data_path *path)
{
    int at = objects_find(dev->layout, path);
    return at >= 0 && dev->nodes[at].present ? at : -1;
}

int objects_find(const struct layout *l, const struct data_path *path)
{
    size_t lo = 0, hi = l->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = path_cmp(&l->defs[mid].path, path);
        if (c == 0)
            return (int)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

bool objects_changing(const struct layout *l, unsigned idx)
{
    const struct data_path *p = &l->defs[idx].path;
    return p->depth == 3 && ((p->id[0] == 3303 && p->id[2] == 5700) ||
                             (p->id[0] == 3 && (p->id[2] == 9 || p->id[2] == 13)));
}

/* The node for resource `rid` in the same instance as node `idx`, or -1. */
static int sibling(const struct layout *l, unsigned idx, uint16_t rid)
{
    struct data_path p = l->defs[idx].path;
    p.id[2] = rid;
    p.depth = 3;
    return objects_find(l, &p);
}

/* ---- values ----------------------------------------------------------------------------- */

double objects_number(const struct device *dev, unsigned idx)
{
    const struct data_value *v = &dev->nodes[idx].value;
    if (!dev->layout->defs[idx].has_value)
        return NAN;
    switch (v->type) {
    case GW_TYPE_INTEGER:
    case GW_TYPE_TIME:
        return (double)v->v.i;
    case GW_TYPE_UNSIGNED:
        return (double)v->v.u;
    case GW_TYPE_FLOAT:
        return v->v.f;
    default:
        return NAN;
    }
}

static bool same_value(const struct data_value *a, const struct data_value *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case GW_TYPE_STRING:
    case GW_TYPE_OPAQUE:
    case GW_TYPE_CORELNK:
        return a->v.bytes.len == b->v.bytes.len &&
               (a->v.bytes.len == 0 || memcmp(a->v.bytes.p, b->v.bytes.p, a->v.bytes.len) == 0);
    case GW_TYPE_FLOAT:
        return a->v.f == b->v.f;
    case GW_TYPE_BOOLEAN:
        return a->v.b == b->v.b;
    case GW_TYPE_UNSIGNED:
        return a->v.u == b->v.u;
    case GW_TYPE_OBJLNK:
        return a->v.lnk.oid == b->v.lnk.oid && a->v.lnk.iid == b->v.lnk.iid;
    default:
        return a->v.i == b->v.i;
    }
}

/* Stores `v` (of the node's type) at node `idx`, copying bytes. Returns 1 when the value
 * changed, 0 when it was the same, -1 when out of memory (the old value stays). */
static int store(struct device *dev, unsigned idx, const struct data_value *v)
{
    struct node *n = &dev->nodes[idx];
    if (same_value(&n->value, v))
        return 0;
    if (v->type == GW_TYPE_STRING || v->type == GW_TYPE_OPAQUE || v->type == GW_TYPE_CORELNK) {
        char *copy = malloc(v->v.bytes.len + 1);
        if (copy == NULL)
            return -1;
        if (v->v.bytes.len > 0)
            memcpy(copy, v->v.bytes.p, v->v.bytes.len);
        copy[v->v.bytes.len] = '\0';
        free(n->text);
        n->text = copy;
        n->value = *v;
        n->value.v.bytes.p = (const uint8_t *)copy;
    } else {
        free(n->text);
        n->text = NULL;
        n->value = *v;
    }
    return 1;
}

/* Stores `v` at node `idx` as a change seen by observers. */
static void change(struct device *dev, unsigned idx, const struct data_value *v, double wall)
{
    double before = objects_number(dev, idx);
    if (store(dev, idx, v) <= 0)
        return;
    dev->nodes[idx].changed_s = wall;
    observe_changed(dev, idx, before, objects_number(dev, idx));
}

static void change_number(struct device *dev, unsigned idx, double number, double wall)
{
    struct data_value v = {.type = dev->layout->defs[idx].type};
    if (v.type == GW_TYPE_FLOAT)
        v.v.f = number;
    else
        v.v.i = (int64_t)number;
    change(dev, idx, &v, wall);
}

static struct data_value text_value(const char *text)
{
    struct data_value v = {.type = GW_TYPE_STRING};
    v.v.bytes.p = (const uint8_t *)text;
    v.v.bytes.len = strlen(text);
    return v;
}

/* The value a device starts with at node `idx`. Numbers vary with the device's index so
 * that a fleet does not report one value. */
static struct data_value first_value(const struct device *dev, unsigned idx, double wall)
{
    const struct options *opt = dev->sim->opt;
    const struct node_def *d = &dev->layout->defs[idx];
    uint16_t oid = d->path.id[0], iid = d->path.id[1], rid = d->path.id[2];
    struct data_value v = {.type = d->type};
    bool v10 = strcmp(opt->version, "1.0") == 0;

    switch (GW_KEY(oid, rid)) {
    case GW_KEY(1, 0): /* Short Server ID */
        v.v.i = iid + 1;
        break;
    case GW_KEY(1, 1): /* Lifetime */
        v.v.i = (int64_t)opt->lifetime;
        break;
    case GW_KEY(1, 7): /* Binding */
        return text_value(opt->binding ? opt->binding : (v10 && opt->queue) ? "UQ" : "U");
    case GW_KEY(3, 0):
        return text_value("devsim");
    case GW_KEY(3, 1):
        return text_value("devsim-1");
    case GW_KEY(3, 2): /* Serial Number */
        return text_value(dev->name);
    case GW_KEY(3, 3):
        return text_value("1.0");
    case GW_KEY(3, 6): /* Available Power Sources: internal battery, USB */
        v.v.i = d->path.id[3] == 0 ? 1 : 5;
        break;
    case GW_KEY(3, 9): /* Battery Level */
        v.v.i = 100 - (int64_t)(dev->index % 50);
        break;
    case GW_KEY(3, 13): /* Current Time */
        v.v.i = (int64_t)floor(wall);
        break;
    case GW_KEY(3, 16):
        return text_value("U");
    case GW_KEY(3303, 5601):
    case GW_KEY(3303, 5602):
    case GW_KEY(3303, 5700):
        v.v.f = 20.0 + (double)(dev->index % 10) * 0.5 + (double)iid;
        break;
    case GW_KEY(3303, 5701):
        return text_value("Cel");
    default:
        break; /* 0, false: Notification Storing, Error Code */
    }
    return v;
}

bool objects_init(struct device *dev)
{
    dev->layout = &dev->sim->layout;
    const struct layout *l = dev->layout;
    double wall = wall_seconds();
    dev->nodes = calloc(l->n ? l->n : 1, sizeof(*dev->nodes));
    if (dev->nodes == NULL)
        return false;
    /* xorshift64* seeds must not be 0; the index keeps runs reproducible */
    dev->rng = 0x9e3779b97f4a7c15ull * (dev->index + 1);
    for (unsigned i = 0; i < l->n; i++) {
        dev->nodes[i].changed_s = wall;
        dev->nodes[i].present = l->defs[i].registered;
        if (!l->defs[i].has_value)
            continue;
        struct data_value v = first_value(dev, i, wall);
        if (store(dev, i, &v) < 0)
            return false;
    }
    return true;
}

void objects_free(struct device *dev)
{
    if (dev->nodes == NULL)
        return;
    for (size_t i = 0; i < dev->layout->n; i++)
        free(dev->nodes[i].text);
    free(dev->nodes);
    dev->nodes = NULL;
    if (dev->own_layout) {
        objects_layout_clear(dev->layout);
        free(dev->layout);
        dev->layout = &dev->sim->layout;
        dev->own_layout = false;
    }
}

/* ---- the changing resources ------------------------------------------------------------- */

/* xorshift64*: a uniform number in [0, 1). */
static double random_unit(struct device *dev)
{
    uint64_t x = dev->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    dev->rng = x;
    return (double)((x * 0x2545f4914f6cdd1dull) >> 11) / 9007199254740992.0;
}

/* One step of a Sensor Value's walk: 0.05 to 0.5 up or down, kept in range, 2 decimals so
 * that every format writes the same short number. */
static void walk(struct device *dev, unsigned idx, double wall)
{
    const struct layout *l = dev->layout;
    double before = objects_number(dev, idx);
    double step = 0.05 + random_unit(dev) * 0.45;
    if (random_unit(dev) < 0.5)
        step = -step;
    if (before + step < GW_TEMP_MIN || before + step > GW_TEMP_MAX)
        step = -step;
    double after = round((before + step) * 100.0) / 100.0;
    change_number(dev, idx, after, wall);

    int min = sibling(l, idx, 5601), max = sibling(l, idx, 5602);
    if (min >= 0 && after < objects_number(dev, (unsigned)min))
        change_number(dev, (unsigned)min, after, wall);
    if (max >= 0 && after > objects_number(dev, (unsigned)max))
        change_number(dev, (unsigned)max, after, wall);
}

/* --stamp: the wall clock (CLOCK_REALTIME) in whole microseconds, exact in a double until
 * 2255, for a subscriber to measure the latency from here to itself. */
static double stamp_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1e6 + (double)(ts.tv_nsec / 1000);
}

void objects_tick(struct device *dev, double now_ms)
{
    const struct layout *l = dev->layout;
    double wall = wall_seconds();
    for (unsigned i = 0; i < l->n; i++) {
        const struct node_def *d = &l->defs[i];
        if (d->path.depth != 3 || !d->has_value || !dev->nodes[i].present)
            continue;
        uint16_t oid = d->path.id[0], rid = d->path.id[2];
        if (!objects_changing(l, i)) {
            continue;
        } else if (oid == 3303 && rid == 5700 && dev->sim->opt->stamp) {
            change_number(dev, i, stamp_us(), wall);
        } else if (oid == 3303 && rid == 5700) {
            walk(dev, i, wall);
        } else if (oid == 3 && rid == 9) {
            /* drains one percent per change; an empty battery is replaced */
            double level = objects_number(dev, i) - 1.0;
            change_number(dev, i, level < 0.0 ? 100.0 : level, wall);
        } else {
            change_number(dev, i, floor(wall + dev->time_offset), wall);
        }
    }
    observe_flush(dev, now_ms);
}

/* ---- the server's requests -------------------------------------------------------------- */

int objects_read(const struct device *dev, unsigned idx, bool with_time, struct data_records *out)
{
    const struct layout *l = dev->layout;
    for (unsigned j = idx; j < l->defs[idx].end; j++) {
        const struct node_def *d = &l->defs[j];
        if (!d->has_value || !(d->ops & GW_OP_R) || !dev->nodes[j].present)
            continue;
        int rc = data_records_add(out, &d->path, &dev->nodes[j].value, with_time,
                                  dev->nodes[j].changed_s);
        if (rc < 0)
            return rc;
    }
    return GW_OK;
}

/* Checks the records `in` against nodes [from, to): each names a resource (or resource
 * instance) there that the device has, with a value of the node's type, writable unless
 * `create`. Records without value are refused, but for the instance itself in a Create. */
static coap_pdu_code_t check_records(const struct device *dev, unsigned from, unsigned to,
                                     const struct data_records *in, bool create, char *why,
                                     size_t whylen)
{
    const struct layout *l = dev->layout;
    char path[32];
    for (size_t i = 0; i < in->n; i++) {
        const struct data_record *r = &in->v[i];
        int j = objects_find(l, &r->path);
        data_path_format(&r->path, path, sizeof(path));
        if (create && j == (int)from && r->value.type == GW_TYPE_NONE)
            continue; /* an empty instance (TLV) */
        if (j < (int)from || j >= (int)to || (!create && !dev->nodes[j].present)) {
            snprintf(why, whylen, "no resource %s here", path);
            return create ? COAP_RESPONSE_CODE_BAD_REQUEST : COAP_RESPONSE_CODE_NOT_FOUND;
        }
        const struct node_def *d = &l->defs[j];
        if (!d->has_value || (!create && !(d->ops & GW_OP_W))) {
            snprintf(why, whylen, "%s is not writable", path);
            return create ? COAP_RESPONSE_CODE_BAD_REQUEST : COAP_RESPONSE_CODE_NOT_ALLOWED;
        }
        if (r->value.type == GW_TYPE_NONE) {
            snprintf(why, whylen, "%s has no value", path);
            return COAP_RESPONSE_CODE_BAD_REQUEST;
        }
        struct data_value v;
        char reason[96];
        if (data_value_convert(&r->value, d->type, &v, reason, sizeof(reason)) < 0) {
            snprintf(why, whylen, "%s: %s", path, reason);
            return COAP_RESPONSE_CODE_BAD_REQUEST;
        }
    }
    return COAP_RESPONSE_CODE_CHANGED;
}

/* Stores the records `in`, all checked by check_records, as changes seen by observers. */
static void apply_records(struct device *dev, const struct data_records *in, double wall)
{
    const struct layout *l = dev->layout;
    for (size_t i = 0; i < in->n; i++) {
        const struct data_record *r = &in->v[i];
        if (r->value.type == GW_TYPE_NONE)
            continue;
        unsigned j = (unsigned)objects_find(l, &r->path);
        struct data_value v;
        data_value_convert(&r->value, l->defs[j].type, &v, NULL, 0);
        if (r->path.id[0] == 3 && r->path.id[2] == 13)
            dev->time_offset = (double)v.v.i - floor(wall);
        change(dev, j, &v, wall);
    }
}

coap_pdu_code_t objects_write(struct device *dev, int idx, const struct data_records *in,
                              double now_ms, char *why, size_t whylen)
{
    const struct layout *l = dev->layout;
    unsigned from = idx < 0 ? 0 : (unsigned)idx;
    unsigned to = idx < 0 ? (unsigned)l->n : l->defs[idx].end;

    /* All or nothing: every record is checked before any is stored. */
    coap_pdu_code_t code = check_records(dev, from, to, in, false, why, whylen);
    if (code != COAP_RESPONSE_CODE_CHANGED)
        return code;
    apply_records(dev, in, wall_seconds());
    observe_flush(dev, now_ms);
    return COAP_RESPONSE_CODE_CHANGED;
}

coap_pdu_code_t objects_create(struct device *dev, unsigned inst, const struct data_records *in,
                               double now_ms, char *why, size_t whylen)
{
    const struct layout *l = dev->layout;
    coap_pdu_code_t code = check_records(dev, inst, l->defs[inst].end, in, true, why, whylen);
    if (code != COAP_RESPONSE_CODE_CHANGED)
        return code;
    double wall = wall_seconds();
    for (unsigned j = inst; j < l->defs[inst].end; j++) {
        struct node *n = &dev->nodes[j];
        n->present = true;
        n->changed_s = wall;
        memset(&n->attrs, 0, sizeof(n->attrs));
        if (!l->defs[j].has_value)
            continue;
        struct data_value v = first_value(dev, j, wall);
        store(dev, j, &v); /* out of memory: the value before stays, as good as any */
    }
    apply_records(dev, in, wall);
    /* The object has one instance more: its observers hear of it. */
    observe_changed(dev, (unsigned)l->defs[inst].parent, NAN, NAN);
    observe_flush(dev, now_ms);
    return COAP_RESPONSE_CODE_CREATED;
}

void objects_delete(struct device *dev, unsigned inst, double now_ms)
{
    const struct layout *l = dev->layout;
    for (unsigned j = inst; j < l->defs[inst].end; j++) {
        dev->nodes[j].present = false;
        observe_forget(dev, j);
    }
    observe_changed(dev, (unsigned)l->defs[inst].parent, NAN, NAN);
    observe_flush(dev, now_ms);
}

void objects_execute(struct device *dev, unsigned idx, double now_ms)
{
    const struct layout *l = dev->layout;
    const struct data_path *p = &l->defs[idx].path;
    if (p->id[0] != 3303 || p->id[2] != 5605)
        return; /* Reboot, Registration Update Trigger: logged by the caller only */
    int value = sibling(l, idx, 5700), min = sibling(l, idx, 5601), max = sibling(l, idx, 5602);
    if (value < 0)
        return;
    double wall = wall_seconds();
    double now = objects_number(dev, (unsigned)value);
    if (min >= 0)
        change_number(dev, (unsigned)min, now, wall);
    if (max >= 0)
        change_number(dev, (unsigned)max, now, wall);
    observe_flush(dev, now_ms);
}

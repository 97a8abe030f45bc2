/* render.c - notified values become MQTT publications (SPEC sections 2 and 3): the first
 * mapping whose endpoint glob and path pattern match a record decides its topic and payload
 * kind, the rest go to {prefix}/{ep}/data/{oid}/{iid}/{rid}[/{riid}] as "json". Everything is
 * written into one reusable buffer per list (JSON by a small escaping writer, not a tree of
 * allocated nodes): after the first few notifications rendering allocates nothing.
 *
 * Decisions where SPEC is silent:
 * - A topic variable a record cannot fill ({riid} for a resource that is not an instance)
 *   sends that record to the default topic as if no mapping had taken it. Variables that can
 *   never be filled ({rid}, {riid}, {resource} with "instance") are refused by mappings_new.
 * - {object} and {resource}: the model's name, lower case, characters other than [a-z0-9_-] as
 *   '_', runs of '_' as one, none at either end; the id when the model does not know the name
 *   or the name has no letters. "instance" keys its values the same way, and by id those
 *   resources whose keys would clash.
 * - Records without a resource (an empty object instance /oid/iid) publish nothing, except
 *   through an "instance" mapping, as an instance whose "values" are {}.
 * - "value": numbers as JSON writes them, booleans true/false, strings as their bytes, opaque
 *   as base64 (RFC 4648, padded), objlnk "oid:iid", time as integer seconds; no value (and a
 *   float that is NaN or infinite) is the empty payload, which on a retained topic clears it.
 * - JSON: a float always reads back as a float ("21.0", never "21"), floats in the shortest
 *   form that reads back to the same double; NaN and infinities (no JSON form) are null;
 *   strings that are not UTF-8 have each bad byte replaced by U+FFFD.
 * - "instance": {"path":"/3/0","ts":newest,"object":"Device","values":{...}}, values in
 *   resource id order, a multiple resource as an object keyed by instance id, and when a
 *   resource (instance) appears twice in one notification, the later record wins.
 * - "senml": the codec's SenML JSON with absolute names; every record carries an absolute "t"
 *   (its own time, a relative time resolved against now, or the receive time), so that a
 *   subscriber needs no clock of ours. One array per rendered topic.
 * - Publications come in the order of the first record each one holds. A publication that
 *   cannot be rendered (a topic longer than MQTT allows, memory) is left out and the call
 *   returns the first such error; the others are still in the list.
 * - Grouping sorts (n log n): a notification of 65536 records costs no quadratic time. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "gw.h"
#include "outbuf.h"

#define RENDER_TOPIC_MAX 65535 /* MQTT: a topic name is at most 65535 bytes */
#define RENDER_KEY_MAX 128     /* longest name key; longer names are cut (clashes fall to ids) */
#define DEFAULT_MAP (-1)

/* One record on its way to a publication. */
struct item {
    uint32_t rec;     /* index in the records */
    int32_t map;      /* the mapping that took it, DEFAULT_MAP for the default topic */
    size_t topic;     /* offset of its topic in the buffer (not for "instance") */
    size_t topic_len; /* without the NUL */
};

/* Consecutive items (after sorting) that make one publication. */
struct group {
    size_t start, count;
    uint32_t first; /* the lowest record index in it: publications come in that order */
};

/* The key of one resource in an "instance" payload. */
struct res_key {
    uint16_t rid;
    bool by_id;
    char text[RENDER_KEY_MAX];
};

struct pub_buffer {
    struct outbuf out; /* every topic and payload of the list */
    size_t *off;       /* 2 per publication: topic and payload offsets into `out` */
    size_t off_cap;
    /* scratch of one call, kept for the next */
    uint8_t *applies; /* per mapping: does its endpoint glob match this ep? */
    size_t applies_cap;
    struct item *items;
    size_t items_cap;
    struct group *groups;
    size_t groups_cap;
    struct res_key *keys;
    size_t keys_cap;
    char *text; /* a string made valid UTF-8, for the SenML encoder */
    size_t text_cap;
    struct data_records senml;
};

/* What every step of one call needs. */
struct render {
    const struct mappings *m;
    const struct model *model;
    const char *ep;
    size_t ep_len;
    const struct data_records *records;
    int64_t now_ms;
    struct pub_buffer *b;
    struct outbuf *o; /* &b->out */
};

/* Returns `p` grown to hold at least `need` elements of `size` bytes (updating `*cap`), `p`
 * itself when it already does, or NULL (with `p` untouched) when out of memory. */
static void *reserve(void *p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return p;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    if (n > SIZE_MAX / size)
        return NULL;
    void *q = realloc(p, n * size);
    if (q)
        *cap = n;
    return q;
}

/* The topic form of a model name, or the id when the name has none. */
static void put_name(struct outbuf *o, const char *name, uint16_t id)
{
    char key[RENDER_KEY_MAX];
    size_t n = engine_name_key(name, key, sizeof(key));
    if (n)
        outbuf_put(o, key, n);
    else
        outbuf_u64(o, id);
}

/* ---- topics ---- */

/* Appends the topic of `t` for the record at `p` (deep enough for every variable `t` uses),
 * NUL-terminated. Returns GW_OK, -GW_ERR_FULL past RENDER_TOPIC_MAX, or -GW_ERR_NOMEM. */
static int put_topic(struct render *r, const struct engine_template *t, const struct data_path *p)
{
    struct outbuf *o = r->o;
    size_t start = o->len;
    for (size_t i = 0; i < t->n; i++) {
        const struct engine_segment *s = &t->seg[i];
        const struct model_object *obj;
        const struct model_resource *res;
        switch (s->var) {
        case GW_SEG_TEXT:
            outbuf_put(o, s->text, s->len);
            break;
        case GW_SEG_EP:
            outbuf_put(o, r->ep, r->ep_len);
            break;
        case GW_SEG_OID:
        case GW_SEG_IID:
        case GW_SEG_RID:
        case GW_SEG_RIID:
            outbuf_u64(o, p->id[s->var - GW_SEG_OID]);
            break;
        case GW_SEG_OBJECT:
            obj = model_object(r->model, p->id[0]);
            put_name(o, obj ? obj->name : NULL, p->id[0]);
            break;
        case GW_SEG_RESOURCE:
            res = model_resource(r->model, p->id[0], p->id[2]);
            put_name(o, res ? res->name : NULL, p->id[2]);
            break;
        }
    }
    if (o->nomem)
        return -GW_ERR_NOMEM;
    if (o->len - start > RENDER_TOPIC_MAX)
        return -GW_ERR_FULL;
    outbuf_put(o, "", 1);
    return o->nomem ? -GW_ERR_NOMEM : GW_OK;
}

/* ---- choosing the mapping of each record ---- */

static enum mapping_payload kind_of(const struct mappings *m, int32_t map)
{
    return map == DEFAULT_MAP ? GW_PAYLOAD_JSON : m->map[map].payload;
}

static int64_t ts_of(const struct data_record *rec, int64_t now_ms)
{
    return rec->has_time && isfinite(rec->time) ? data_time_ms(rec->time, now_ms) : now_ms;
}

/* Picks the mapping of record `i` and, except for "instance", renders its topic. Adds nothing
 * for a record that publishes nothing. */
static int add_item(struct render *r, uint32_t i, size_t *n)
{
    const struct mappings *m = r->m;
    const struct data_path *p = &r->records->v[i].path;
    const struct engine_template *t = NULL;
    int32_t map = DEFAULT_MAP;

    if (p->depth < 2)
        return GW_OK;
    for (size_t j = 0; j < m->n_map; j++) {
        if (r->b->applies[j] && engine_pattern_match(&m->map[j].pattern, p)) {
            map = (int32_t)j;
            break;
        }
    }
    if (map != DEFAULT_MAP) {
        const struct engine_mapping *mp = &m->map[map];
        if (mp->payload != GW_PAYLOAD_INSTANCE && p->depth < 3)
            return GW_OK;
        if ((mp->topic.uses & (1u << GW_SEG_RIID)) && p->depth < 4)
            map = DEFAULT_MAP; /* a variable the record cannot fill */
        else
            t = &mp->topic;
    }
    if (map == DEFAULT_MAP) {
        if (p->depth < 3)
            return GW_OK;
        t = p->depth == 4 ? &m->default_topic_riid : &m->default_topic;
    }
    struct item *it = &r->b->items[(*n)++];
    *it = (struct item){.rec = i, .map = map, .topic = r->o->len};
    if (kind_of(m, map) == GW_PAYLOAD_INSTANCE)
        return GW_OK; /* rendered once per instance, from its first record */
    int rc = put_topic(r, t, p);
    it->topic_len = r->o->len - it->topic - 1;
    return rc;
}

/* ---- grouping ---- */

/* Orders items so that each publication's records are adjacent: by mapping, then for
 * "instance" by path (object instance, then resource and instance ids), for "senml" by topic,
 * then by record index. */
static int item_cmp(const void *x, const void *y, void *arg)
{
    const struct render *r = arg;
    const struct item *a = x, *b = y;
    if (a->map != b->map)
        return a->map < b->map ? -1 : 1;
    enum mapping_payload kind = kind_of(r->m, a->map);
    if (kind == GW_PAYLOAD_INSTANCE) {
        const struct data_path *pa = &r->records->v[a->rec].path, *pb = &r->records->v[b->rec].path;
        for (uint8_t k = 0; k < pa->depth && k < pb->depth; k++) {
            if (pa->id[k] != pb->id[k])
                return pa->id[k] < pb->id[k] ? -1 : 1;
        }
        if (pa->depth != pb->depth)
            return pa->depth < pb->depth ? -1 : 1;
    } else if (kind == GW_PAYLOAD_SENML) {
        size_t n = a->topic_len < b->topic_len ? a->topic_len : b->topic_len;
        int c = memcmp(r->o->b + a->topic, r->o->b + b->topic, n);
        if (c || a->topic_len != b->topic_len)
            return c ? c : a->topic_len < b->topic_len ? -1 : 1;
    }
    return a->rec < b->rec ? -1 : a->rec > b->rec;
}

/* True when sorted items `a` and `b` belong in one publication. */
static bool same_group(const struct render *r, const struct item *a, const struct item *b)
{
    if (a->map != b->map)
        return false;
    switch (kind_of(r->m, a->map)) {
    case GW_PAYLOAD_INSTANCE:
        return r->records->v[a->rec].path.id[0] == r->records->v[b->rec].path.id[0] &&
               r->records->v[a->rec].path.id[1] == r->records->v[b->rec].path.id[1];
    case GW_PAYLOAD_SENML:
        return a->topic_len == b->topic_len &&
               memcmp(r->o->b + a->topic, r->o->b + b->topic, a->topic_len) == 0;
    default:
        return false;
    }
}

static int group_cmp(const void *x, const void *y)
{
    const struct group *a = x, *b = y;
    return a->first < b->first ? -1 : a->first > b->first;
}

/* ---- payloads ---- */

static const struct data_record *rec_of(const struct render *r, const struct item *it)
{
    return &r->records->v[it->rec];
}

/* {"path":"/3303/0/5700","value":21.5,"ts":...,"object":...,"resource":...,"unit":...} */
static void put_json_payload(struct render *r, const struct data_record *rec)
{
    struct outbuf *o = r->o;
    const struct data_path *p = &rec->path;
    const struct model_object *obj = model_object(r->model, p->id[0]);
    const struct model_resource *res = model_resource(r->model, p->id[0], p->id[2]);

    outbuf_put(o, "{\"path\":\"", 9);
    outbuf_path(o, p, p->depth);
    outbuf_put(o, "\",\"value\":", 10);
    outbuf_value(o, &rec->value, true);
    outbuf_put(o, ",\"ts\":", 6);
    outbuf_i64(o, ts_of(rec, r->now_ms));
    if (obj) {
        outbuf_put(o, ",\"object\":", 10);
        outbuf_json_cstr(o, obj->name);
    }
    if (res) {
        outbuf_put(o, ",\"resource\":", 12);
        outbuf_json_cstr(o, res->name);
        if (res->units && res->units[0]) {
            outbuf_put(o, ",\"unit\":", 8);
            outbuf_json_cstr(o, res->units);
        }
    }
    outbuf_put(o, "}", 1);
}

static int key_text_cmp(const void *x, const void *y)
{
    return strcmp(((const struct res_key *)x)->text, ((const struct res_key *)y)->text);
}

static int key_rid_cmp(const void *x, const void *y)
{
    const struct res_key *a = x, *b = y;
    return a->rid < b->rid ? -1 : a->rid > b->rid;
}

/* Fills r->b->keys with the key of every distinct resource of the group (items sorted by
 * path), in resource id order. Returns how many, or -GW_ERR_NOMEM. */
static int instance_keys(struct render *r, const struct item *items, size_t count)
{
    struct pub_buffer *b = r->b;
    struct res_key *keys = reserve(b->keys, &b->keys_cap, count, sizeof(*keys));
    size_t n = 0;
    if (!keys)
        return -GW_ERR_NOMEM;
    b->keys = keys;
    for (size_t i = 0; i < count; i++) {
        const struct data_path *p = &rec_of(r, &items[i])->path;
        if (p->depth < 3 || (n && keys[n - 1].rid == p->id[2]))
            continue;
        const struct model_resource *res = model_resource(r->model, p->id[0], p->id[2]);
        keys[n] = (struct res_key){.rid = p->id[2]};
        keys[n].by_id = !engine_name_key(res ? res->name : NULL, keys[n].text, RENDER_KEY_MAX);
        n++;
    }
    if (n > 1) { /* two resources with one key: both go by id (names never look like ids) */
        qsort(keys, n, sizeof(*keys), key_text_cmp);
        for (size_t i = 1; i < n; i++) {
            if (!keys[i].by_id && !keys[i - 1].by_id && !strcmp(keys[i].text, keys[i - 1].text))
                keys[i].by_id = keys[i - 1].by_id = true;
        }
        qsort(keys, n, sizeof(*keys), key_rid_cmp);
    }
    return (int)n;
}

/* {"path":"/3/0","ts":newest,"object":"Device","values":{"battery_level":90,"7":{"0":3800}}} */
static int put_instance_payload(struct render *r, const struct item *items, size_t count)
{
    struct pub_buffer *b = r->b;
    struct outbuf *o = r->o;
    const struct data_path *p0 = &rec_of(r, &items[0])->path;
    const struct model_object *obj = model_object(r->model, p0->id[0]);
    int64_t ts = INT64_MIN;
    int nkeys = instance_keys(r, items, count);
    if (nkeys < 0)
        return nkeys;

    for (size_t i = 0; i < count; i++) {
        int64_t t = ts_of(rec_of(r, &items[i]), r->now_ms);
        ts = t > ts ? t : ts;
    }
    outbuf_put(o, "{\"path\":\"", 9);
    outbuf_path(o, p0, 2);
    outbuf_put(o, "\",\"ts\":", 7);
    outbuf_i64(o, ts);
    if (obj) {
        outbuf_put(o, ",\"object\":", 10);
        outbuf_json_cstr(o, obj->name);
    }
    outbuf_put(o, ",\"values\":{", 11);
    size_t k = 0;
    for (size_t i = 0, end; i < count; i = end) {
        const struct data_record *rec = rec_of(r, &items[i]);
        uint16_t rid = rec->path.id[2];
        bool multiple = false;
        if (rec->path.depth < 3) {
            end = i + 1;
            continue;
        }
        for (end = i; end < count && rec_of(r, &items[end])->path.depth >= 3 &&
                      rec_of(r, &items[end])->path.id[2] == rid;
             end++)
            multiple |= rec_of(r, &items[end])->path.depth == 4;
        const struct res_key *key = &b->keys[k++];
        outbuf_put(o, k > 1 ? ",\"" : "\"", k > 1 ? 2 : 1);
        if (key->by_id)
            outbuf_u64(o, rid);
        else
            outbuf_puts(o, key->text);
        outbuf_put(o, "\":", 2);
        if (!multiple) {
            const struct data_record *last = rec_of(r, &items[end - 1]);
            const struct model_resource *res = model_resource(r->model, p0->id[0], rid);
            if (last->value.type == GW_TYPE_NONE && res && res->multiple)
                outbuf_put(o, "{}", 2); /* a multiple resource without instances */
            else
                outbuf_value(o, &last->value, true);
            continue;
        }
        bool first = true;
        outbuf_put(o, "{", 1);
        for (size_t j = i; j < end; j++) {
            const struct data_record *ri = rec_of(r, &items[j]);
            if (ri->path.depth < 4 ||
                (j + 1 < end && rec_of(r, &items[j + 1])->path.id[3] == ri->path.id[3]))
                continue; /* the resource itself, or an instance a later record repeats */
            outbuf_put(o, first ? "\"" : ",\"", first ? 1 : 2);
            first = false;
            outbuf_u64(o, ri->path.id[3]);
            outbuf_put(o, "\":", 2);
            outbuf_value(o, &ri->value, true);
        }
        outbuf_put(o, "}", 1);
    }
    outbuf_put(o, "}}", 2);
    return GW_OK;
}

/* A SenML JSON array of the group's records, by the codec, each with an absolute time. */
static int put_senml_payload(struct render *r, const struct item *items, size_t count)
{
    struct pub_buffer *b = r->b;
    struct outbuf *o = r->o;
    struct codec_ctx ctx = {.base = {.depth = 0}};
    int rc;

    data_records_reset(&b->senml);
    for (size_t i = 0; i < count; i++) {
        const struct data_record *rec = rec_of(r, &items[i]);
        struct data_value v = rec->value;
        double t = (double)r->now_ms / 1000.0;
        if (rec->has_time && isfinite(rec->time))
            t = fabs(rec->time) < GW_SENML_RELATIVE_LIMIT
                    ? (double)data_time_ms(rec->time, r->now_ms) / 1000.0
                    : rec->time;
        if (v.type == GW_TYPE_FLOAT && !isfinite(v.v.f))
            v.type = GW_TYPE_NONE; /* no JSON form */
        if ((v.type == GW_TYPE_STRING || v.type == GW_TYPE_CORELNK) &&
            !gw_utf8_valid(v.v.bytes.p, v.v.bytes.len)) {
            char *fixed = reserve(b->text, &b->text_cap, 3 * v.v.bytes.len, 1);
            if (!fixed)
                return -GW_ERR_NOMEM;
            b->text = fixed;
            v.v.bytes.len = outbuf_utf8_fix(v.v.bytes.p, v.v.bytes.len, fixed);
            v.v.bytes.p = (const uint8_t *)fixed;
        }
        if ((rc = data_records_add(&b->senml, &rec->path, &v, true, t)) < 0)
            return rc;
    }
    size_t want = 64 + 64 * count;
    for (;;) {
        size_t written = 0;
        if (!outbuf_room(o, want))
            return -GW_ERR_NOMEM;
        rc = senml_json_encode(&b->senml, &ctx, (uint8_t *)o->b + o->len, o->cap - o->len, &written,
                               NULL, 0);
        if (rc == GW_OK) {
            o->len += written;
            return GW_OK;
        }
        if (rc != -GW_ERR_FULL || want > SIZE_MAX / 4)
            return rc; /* cannot happen: the values were made encodable above */
        want = (o->cap - o->len) * 2;
    }
}

/* Appends the publication of the group `g` to `out`. */
static int emit(struct render *r, const struct group *g, struct publications *out)
{
    struct pub_buffer *b = r->b;
    struct outbuf *o = r->o;
    const struct item *items = &b->items[g->start];
    const struct data_record *rec = rec_of(r, &items[0]);
    int rc = GW_OK;

    struct publication *v = reserve(out->v, &out->cap, out->n + 1, sizeof(*v));
    if (!v)
        return -GW_ERR_NOMEM;
    out->v = v;
    size_t *off = reserve(b->off, &b->off_cap, 2 * (out->n + 1), sizeof(*off));
    if (!off)
        return -GW_ERR_NOMEM;
    b->off = off;

    enum mapping_payload kind = kind_of(r->m, items[0].map);
    size_t topic = items[0].topic;
    if (kind == GW_PAYLOAD_INSTANCE) {
        topic = o->len;
        if ((rc = put_topic(r, &r->m->map[items[0].map].topic, &rec->path)) < 0)
            return rc;
    }
    size_t payload = o->len;
    switch (kind) {
    case GW_PAYLOAD_VALUE:
        outbuf_value(o, &rec->value, false);
        break;
    case GW_PAYLOAD_INSTANCE:
        rc = put_instance_payload(r, items, g->count);
        break;
    case GW_PAYLOAD_SENML:
        rc = put_senml_payload(r, items, g->count);
        break;
    default:
        put_json_payload(r, rec);
        break;
    }
    if (rc == GW_OK && o->nomem)
        rc = -GW_ERR_NOMEM;
    if (rc < 0)
        return rc;
    const struct engine_mapping *mp = items[0].map == DEFAULT_MAP ? NULL : &r->m->map[items[0].map];
    off[2 * out->n] = topic;
    off[2 * out->n + 1] = payload;
    v[out->n++] = (struct publication){.len = o->len - payload,
                                       .qos = mp ? mp->qos : r->m->default_qos,
                                       .retain = mp && mp->retain};
    return GW_OK;
}

/* ---- the entry points ---- */

/* Forgets the bytes of a publication that failed (from `mark` on) and keeps the first error. */
static void drop(struct render *r, size_t mark, int rc, int *first_rc)
{
    r->o->len = mark;
    r->o->nomem = false;
    if (*first_rc == GW_OK)
        *first_rc = rc;
}

static int render_all(struct render *r, struct publications *out)
{
    struct pub_buffer *b = r->b;
    const struct mappings *m = r->m;
    size_t n = 0, ngroups = 0;
    int rc, first_rc = GW_OK;

    uint8_t *applies = reserve(b->applies, &b->applies_cap, m->n_map, 1);
    if (m->n_map && !applies)
        return -GW_ERR_NOMEM;
    b->applies = applies;
    for (size_t j = 0; j < m->n_map; j++) /* globs once per notification, not per record */
        applies[j] = engine_glob_match(m->map[j].endpoint, r->ep);

    struct item *items = reserve(b->items, &b->items_cap, r->records->n, sizeof(*items));
    if (r->records->n && !items)
        return -GW_ERR_NOMEM;
    b->items = items;
    for (uint32_t i = 0; i < r->records->n; i++) {
        size_t mark = r->o->len;
        if ((rc = add_item(r, i, &n)) < 0) { /* this record only: the others still go out */
            n--;
            drop(r, mark, rc, &first_rc);
        }
    }
    if (n == 0)
        return first_rc;
    qsort_r(items, n, sizeof(*items), item_cmp, r);

    struct group *groups = reserve(b->groups, &b->groups_cap, n, sizeof(*groups));
    if (!groups)
        return -GW_ERR_NOMEM;
    b->groups = groups;
    for (size_t i = 0; i < n; i++) {
        if (i && same_group(r, &items[i - 1], &items[i])) {
            struct group *g = &groups[ngroups - 1];
            g->count++;
            g->first = items[i].rec < g->first ? items[i].rec : g->first;
        } else {
            groups[ngroups++] = (struct group){.start = i, .count = 1, .first = items[i].rec};
        }
    }
    qsort(groups, ngroups, sizeof(*groups), group_cmp);
    for (size_t i = 0; i < ngroups; i++) {
        size_t mark = r->o->len;
        if ((rc = emit(r, &groups[i], out)) < 0)
            drop(r, mark, rc, &first_rc);
    }
    return first_rc;
}

int mappings_render(const struct mappings *m, const struct model *model, const char *ep,
                    const struct data_records *records, int64_t now_ms, struct publications *out)
{
    if (!out->buf && !(out->buf = calloc(1, sizeof(*out->buf))))
        return -GW_ERR_NOMEM;
    struct render r = {.m = m,
                       .model = model,
                       .ep = ep,
                       .ep_len = strlen(ep),
                       .records = records,
                       .now_ms = now_ms,
                       .b = out->buf,
                       .o = &out->buf->out};
    struct pub_buffer *b = out->buf;
    struct outbuf *o = &b->out;

    int rc = render_all(&r, out);
    /* The buffer may have moved: point every publication of the list into it again. */
    for (size_t i = 0; b->off && i < out->n; i++) {
        out->v[i].topic = o->b + b->off[2 * i];
        out->v[i].payload = o->b + b->off[2 * i + 1];
    }
    return rc;
}

void publications_reset(struct publications *p)
{
    p->n = 0;
    if (p->buf) {
        p->buf->out.len = 0;
        p->buf->out.nomem = false;
    }
}

void publications_clear(struct publications *p)
{
    struct pub_buffer *b = p->buf;
    if (b) {
        outbuf_clear(&b->out);
        free(b->off);
        free(b->applies);
        free(b->items);
        free(b->groups);
        free(b->keys);
        free(b->text);
        data_records_clear(&b->senml);
        free(b);
    }
    free(p->v);
    memset(p, 0, sizeof(*p));
}

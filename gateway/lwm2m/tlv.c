/* tlv.c - the LwM2M TLV format (content format 11542, TS Core "Data Formats"): decode, encode.
 * TLV carries no types: values are typed by the object model, or kept as Opaque bytes when the
 * model does not know the resource. The decoder walks the nesting (object instance > multiple
 * resource > resource instance) with an explicit stack, never by recursion; the encoder groups
 * records through a sorted index, so callers may hand records over in any order. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "gw.h"

/* Bits 7-6 of the type byte. */
enum tlv_kind {
    KIND_INSTANCE = 0,     /* object instance: holds resources */
    KIND_RES_INSTANCE = 1, /* resource instance: one value of a multiple resource */
    KIND_MULTIPLE = 2,     /* multiple resource: holds resource instances */
    KIND_RESOURCE = 3,     /* resource with value */
};

#define TLV_MAX_LEN 0xFFFFFFu /* the 24-bit length field */

static const char *const kind_names[] = {"an object instance", "a resource instance",
                                         "a multiple resource", "a resource"};

/* The path level a TLV of each kind names: /oid/iid, /oid/iid/rid/riid, /oid/iid/rid. */
static const uint8_t kind_level[] = {2, 4, 3, 3};

/* A path as text for messages; the buffer is big enough for any path. */
struct path_text {
    char s[32];
};

static struct path_text ptext(const struct data_path *p)
{
    struct path_text t = {"?"};
    if (data_path_format(p, t.s, sizeof(t.s)) < 0)
        strcpy(t.s, "?");
    return t;
}

static enum data_type type_of(const struct codec_ctx *ctx, const struct data_path *p)
{
    return ctx->model ? model_type(ctx->model, p) : GW_TYPE_NONE;
}

/* Orders paths as a depth-first walk: /3/0 < /3/0/1 < /3/0/6 < /3/0/6/0 < /3/1. */
static int path_cmp(const struct data_path *a, const struct data_path *b)
{
    uint8_t n = a->depth < b->depth ? a->depth : b->depth;
    for (uint8_t i = 0; i < n; i++)
        if (a->id[i] != b->id[i])
            return a->id[i] < b->id[i] ? -1 : 1;
    return (a->depth > b->depth) - (a->depth < b->depth);
}

static int order_cmp(const void *pa, const void *pb)
{
    const struct data_record *a = *(const struct data_record *const *)pa;
    const struct data_record *b = *(const struct data_record *const *)pb;
    int c = path_cmp(&a->path, &b->path);
    if (c)
        return c;
    return (a > b) - (a < b); /* stable: equal paths keep their input order */
}

/* Two records clash when the path of one contains the other's: the same path twice, an empty
 * instance or empty multiple resource that also has children, or a resource with both a value
 * and instances. `outer` contains `inner`; the reason follows `prefix`. */
static int clash(const struct data_record *outer, const struct data_record *inner,
                 const char *prefix, char *err, size_t errlen)
{
    struct path_text o = ptext(&outer->path);
    if (outer->path.depth == inner->path.depth)
        return gw_fail(-GW_ERR_INVALID, err, errlen, "%stwo values for %s", prefix, o.s);
    if (outer->path.depth == 2)
        return gw_fail(-GW_ERR_INVALID, err, errlen,
                       "%sthe empty object instance %s also has resources", prefix, o.s);
    if (outer->value.type == GW_TYPE_NONE)
        return gw_fail(-GW_ERR_INVALID, err, errlen,
                       "%sthe empty multiple resource %s also has instances", prefix, o.s);
    return gw_fail(-GW_ERR_INVALID, err, errlen,
                   "%sresource %s has both a single value and instances", prefix, o.s);
}

/* Checks records in path order for clashes: they can only be neighbours. */
static int check_sorted(const struct data_record *const *v, size_t n, char *err, size_t errlen)
{
    for (size_t i = 1; i < n; i++)
        if (data_path_contains(&v[i - 1]->path, &v[i]->path))
            return clash(v[i - 1], v[i], "", err, errlen);
    return GW_OK;
}

/* ---- decoding ---- */

struct tlv_head {
    enum tlv_kind kind;
    uint16_t id;
    size_t hlen; /* type byte, identifier and length field */
    size_t len;  /* value bytes */
};

/* Reads the header at `pos`; the TLV must end by `end` (the end of its parent, or of the payload
 * when end == total). */
static int read_head(const uint8_t *buf, size_t pos, size_t end, size_t total, struct tlv_head *h,
                     char *err, size_t errlen)
{
    size_t avail = end - pos;
    if (avail < 2)
        return gw_fail(-GW_ERR_INVALID, err, errlen, "offset %zu: truncated TLV header", pos);
    uint8_t t = buf[pos];
    size_t idlen = (t & 0x20) ? 2 : 1;
    size_t lenlen = (t >> 3) & 3;
    h->hlen = 1 + idlen + lenlen;
    if (avail < h->hlen)
        return gw_fail(-GW_ERR_INVALID, err, errlen,
                       "offset %zu: truncated TLV header (%zu of %zu bytes)", pos, avail, h->hlen);
    h->kind = (enum tlv_kind)(t >> 6);
    h->id = (uint16_t)(idlen == 2 ? buf[pos + 1] << 8 | buf[pos + 2] : buf[pos + 1]);
    if (lenlen == 0) {
        h->len = t & 7;
    } else {
        h->len = 0;
        for (size_t i = 0; i < lenlen; i++)
            h->len = h->len << 8 | buf[pos + 1 + idlen + i];
    }
    if (h->len > avail - h->hlen) {
        if (end == total)
            return gw_fail(
                -GW_ERR_INVALID, err, errlen,
                "offset %zu: TLV length %zu goes beyond the end of the payload (%zu bytes "
                "left)",
                pos, h->len, avail - h->hlen);
        return gw_fail(-GW_ERR_INVALID, err, errlen,
                       "offset %zu: TLV length %zu goes beyond its enclosing TLV, which ends at "
                       "offset %zu",
                       pos, h->len, end);
    }
    return GW_OK;
}

static uint64_t read_be(const uint8_t *p, size_t len)
{
    uint64_t u = 0;
    for (size_t i = 0; i < len; i++)
        u = u << 8 | p[i];
    return u;
}

static bool is_int_width(size_t len)
{
    return len == 1 || len == 2 || len == 4 || len == 8;
}

/* Types the value bytes of the TLV at `off` by the model's type for `p`. */
static int decode_value(const struct codec_ctx *ctx, const struct data_path *p, const uint8_t *v,
                        size_t len, size_t off, struct data_value *out, char *err, size_t errlen)
{
    enum data_type t = type_of(ctx, p);
    const char *want = NULL;
    memset(out, 0, sizeof(*out));
    out->type = t;
    switch (t) {
    case GW_TYPE_INTEGER:
    case GW_TYPE_TIME: {
        if (!is_int_width(len)) {
            want = "1, 2, 4 or 8";
            break;
        }
        uint64_t u = read_be(v, len);
        if (len < 8 && (u >> (8 * len - 1)) & 1)
            u |= ~UINT64_C(0) << (8 * len); /* sign-extend */
        out->v.i = (int64_t)u;
        return GW_OK;
    }
    case GW_TYPE_UNSIGNED:
        if (!is_int_width(len)) {
            want = "1, 2, 4 or 8";
            break;
        }
        out->v.u = read_be(v, len);
        return GW_OK;
    case GW_TYPE_FLOAT:
        if (len == 4) {
            uint32_t bits = (uint32_t)read_be(v, 4);
            float f;
            memcpy(&f, &bits, sizeof(f));
            out->v.f = f;
            return GW_OK;
        }
        if (len == 8) {
            uint64_t bits = read_be(v, 8);
            memcpy(&out->v.f, &bits, sizeof(out->v.f));
            return GW_OK;
        }
        want = "4 or 8";
        break;
    case GW_TYPE_BOOLEAN:
        if (len != 1) {
            want = "1";
            break;
        }
        if (v[0] > 1)
            return gw_fail(-GW_ERR_INVALID, err, errlen,
                           "offset %zu: Boolean value of %s is %u, expected 0 or 1", off,
                           ptext(p).s, v[0]);
        out->v.b = v[0] == 1;
        return GW_OK;
    case GW_TYPE_OBJLNK:
        if (len != 4) {
            want = "4";
            break;
        }
        out->v.lnk.oid = (uint16_t)read_be(v, 2);
        out->v.lnk.iid = (uint16_t)read_be(v + 2, 2);
        return GW_OK;
    case GW_TYPE_STRING:
    case GW_TYPE_OPAQUE:
    case GW_TYPE_CORELNK:
        out->v.bytes.p = v;
        out->v.bytes.len = len;
        return GW_OK;
    default: /* not in the model, or an Execute resource: keep the bytes */
        out->type = GW_TYPE_OPAQUE;
        out->v.bytes.p = v;
        out->v.bytes.len = len;
        return GW_OK;
    }
    return gw_fail(-GW_ERR_INVALID, err, errlen,
                   "offset %zu: %s value of %s has %zu bytes, expected %s", off, data_type_name(t),
                   ptext(p).s, len, want);
}

struct frame {
    size_t end;            /* offset where this container's value ends */
    struct data_path path; /* what it names: the base, /oid/iid or /oid/iid/rid */
    uint8_t level;         /* kind_level of the container; 0 for the payload itself */
};

static int add(struct data_records *out, const struct data_path *p, const struct data_value *v,
               size_t off, char *err, size_t errlen)
{
    int rc = data_records_add(out, p, v, false, 0);
    if (rc < 0)
        return gw_fail(rc, err, errlen, "offset %zu: %s", off, gw_strerror(rc));
    return rc;
}

/* At the top of a read on /oid, resources without an object instance TLV are taken as instance
 * 0 of a single-instance object (as Leshan does); refused when the model says the object has
 * several instances. */
static int top_resources_allowed(const struct codec_ctx *ctx, char *err, size_t errlen)
{
    const struct model_object *o = ctx->model ? model_object(ctx->model, ctx->base.id[0]) : NULL;
    if (o && o->multiple)
        return gw_fail(-GW_ERR_INVALID, err, errlen,
                       "offset 0: a resource TLV at the top of /%u needs an object instance TLV "
                       "around it (the object has multiple instances)",
                       ctx->base.id[0]);
    return GW_OK;
}

enum top_form { TOP_UNKNOWN, TOP_INSTANCES, TOP_RESOURCES };

/* Checks the record just added against the one before it: payloads in path order (nearly all)
 * are checked for clashes as they are read, and the reason names the offset. */
static int check_last(const struct data_records *out, size_t off, bool *unsorted, char *err,
                      size_t errlen)
{
    const struct data_record *q = &out->v[out->n - 2], *p = &out->v[out->n - 1];
    bool q_outer = data_path_contains(&q->path, &p->path);
    if (q_outer || data_path_contains(&p->path, &q->path)) {
        char at[32];
        snprintf(at, sizeof(at), "offset %zu: ", off);
        return q_outer ? clash(q, p, at, err, errlen) : clash(p, q, at, err, errlen);
    }
    if (path_cmp(&q->path, &p->path) > 0)
        *unsorted = true;
    return GW_OK;
}

/* Checks the records from `n0` on for clashes after sorting a view of them. */
static int check_all(const struct data_records *out, size_t n0, char *err, size_t errlen)
{
    size_t n = out->n - n0;
    const struct data_record **v = malloc(n * sizeof(*v));
    if (!v)
        return -GW_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        v[i] = &out->v[n0 + i];
    qsort(v, n, sizeof(*v), order_cmp);
    int rc = check_sorted(v, n, err, errlen);
    free(v);
    return rc;
}

static int decode(const uint8_t *buf, size_t len, const struct codec_ctx *ctx,
                  struct data_records *out, char *err, size_t errlen)
{
    size_t n0 = out->n;
    const struct data_path *base = &ctx->base;
    if (base->depth == 0)
        return gw_fail(-GW_ERR_INVALID, err, errlen,
                       "TLV needs a base path of /oid or deeper, not /");
    if (len == 0) {
        if (base->depth == 1) /* an object without instances */
            return GW_OK;
        if (base->depth == 2) { /* an instance without resources */
            struct data_value none = {.type = GW_TYPE_NONE};
            return add(out, base, &none, 0, err, errlen);
        }
        return gw_fail(-GW_ERR_INVALID, err, errlen, "empty TLV payload for resource %s",
                       ptext(base).s);
    }

    struct frame stack[GW_CODEC_MAX_DEPTH];
    size_t top = 0;
    stack[0] = (struct frame){.end = len, .path = *base, .level = 0};
    enum top_form top_form = TOP_UNKNOWN; /* at the top of /oid, see above */
    bool unsorted = false;
    size_t pos = 0;
    for (;;) {
        struct frame *f = &stack[top];
        if (pos == f->end) {
            if (top == 0)
                break;
            top--;
            continue;
        }
        struct tlv_head h = {0};
        int rc = read_head(buf, pos, f->end, len, &h, err, errlen);
        if (rc < 0)
            return rc;
        uint8_t level = kind_level[h.kind];
        struct data_path p = f->path;
        if (top == 0 && base->depth == 1 && level != 4) {
            enum top_form form = level == 3 ? TOP_RESOURCES : TOP_INSTANCES;
            if (top_form != TOP_UNKNOWN && top_form != form)
                return gw_fail(
                    -GW_ERR_INVALID, err, errlen,
                    "offset %zu: object instance and resource TLVs mixed at the top of %s", pos,
                    ptext(base).s);
            if (top_form == TOP_UNKNOWN && form == TOP_RESOURCES &&
                (rc = top_resources_allowed(ctx, err, errlen)) < 0)
                return rc;
            top_form = form;
            if (form == TOP_RESOURCES)
                p.id[p.depth++] = 0;
        }
        /* In a container only the next level may stand; at the top, no level may be skipped. */
        if (f->level ? level != f->level + 1 : p.depth + 1 < level)
            return gw_fail(
                -GW_ERR_INVALID, err, errlen, "offset %zu: %s TLV cannot stand directly in %s %s",
                pos, kind_names[h.kind], top == 0 ? "the payload for" : "the TLV of", ptext(&p).s);
        if (p.depth >= level) { /* the base path already names this level */
            if (p.id[level - 1] != h.id)
                return gw_fail(-GW_ERR_INVALID, err, errlen,
                               "offset %zu: %s TLV has id %u but the path is %s", pos,
                               kind_names[h.kind], h.id, ptext(&p).s);
        } else {
            p.id[p.depth++] = h.id;
        }
        bool container = h.kind == KIND_INSTANCE || h.kind == KIND_MULTIPLE;
        if (p.depth > level && (!container || h.len == 0))
            return gw_fail(-GW_ERR_INVALID, err, errlen, "offset %zu: %s TLV cannot answer %s", pos,
                           kind_names[h.kind], ptext(&p).s);
        size_t vpos = pos + h.hlen;
        if (container && h.len > 0) {
            if (top + 1 == GW_CODEC_MAX_DEPTH)
                return gw_fail(-GW_ERR_INVALID, err, errlen,
                               "offset %zu: TLVs nested deeper than %d levels", pos,
                               GW_CODEC_MAX_DEPTH);
            stack[++top] = (struct frame){.end = vpos + h.len, .path = p, .level = level};
            pos = vpos;
            continue;
        }
        struct data_value v;
        if (container) /* an empty instance or an empty multiple resource */
            v = (struct data_value){.type = GW_TYPE_NONE};
        else if ((rc = decode_value(ctx, &p, buf + vpos, h.len, pos, &v, err, errlen)) < 0)
            return rc;
        if ((rc = add(out, &p, &v, pos, err, errlen)) < 0)
            return rc;
        if (out->n - 1 > n0 && (rc = check_last(out, pos, &unsorted, err, errlen)) < 0)
            return rc;
        pos = vpos + h.len;
    }
    return unsorted ? check_all(out, n0, err, errlen) : GW_OK;
}

int tlv_decode(const uint8_t *buf, size_t len, const struct codec_ctx *ctx,
               struct data_records *out, char *err, size_t errlen)
{
    size_t n0 = out->n;
    int rc = decode(buf, len, ctx, out, err, errlen);
    if (rc < 0)
        data_records_truncate(out, n0);
    return rc;
}

/* ---- encoding ---- */

struct enc {
    const struct codec_ctx *ctx;
    const struct data_record *recs;
    const struct data_record **order; /* sorted view of recs, NULL when already in order */
    uint8_t *buf;
    size_t cap;
    size_t pos;
    char *err;
    size_t errlen;
};

static const struct data_record *rec_at(const struct enc *e, size_t i)
{
    return e->order ? e->order[i] : &e->recs[i];
}

/* The value as TLV bytes: `tmp` holds numbers, strings point at the record. */
struct tlv_val {
    uint8_t tmp[8];
    const uint8_t *p;
    size_t len;
};

static void put_be(uint8_t *dst, uint64_t u, size_t len)
{
    for (size_t i = len; i-- > 0; u >>= 8)
        dst[i] = (uint8_t)u;
}

static size_t int_width(int64_t i)
{
    if (i >= INT8_MIN && i <= INT8_MAX)
        return 1;
    if (i >= INT16_MIN && i <= INT16_MAX)
        return 2;
    if (i >= INT32_MIN && i <= INT32_MAX)
        return 4;
    return 8;
}

static size_t uint_width(uint64_t u)
{
    return u <= UINT8_MAX ? 1 : u <= UINT16_MAX ? 2 : u <= UINT32_MAX ? 4 : 8;
}

/* Converts the record's value to the type the model gives its resource (so that an Unsigned
 * 200 meant for an Integer resource is not sent as the one byte 0xC8, which reads as -56). */
static int typed_value(struct enc *e, const struct data_record *r, struct data_value *v)
{
    enum data_type want = type_of(e->ctx, &r->path);
    if (want == GW_TYPE_NONE || want == r->value.type || r->value.type == GW_TYPE_NONE) {
        *v = r->value;
        return GW_OK;
    }
    char why[128];
    if (data_value_convert(&r->value, want, v, why, sizeof(why)) < 0)
        return gw_fail(-GW_ERR_INVALID, e->err, e->errlen, "%s: %s", ptext(&r->path).s, why);
    return GW_OK;
}

static int value_bytes(struct enc *e, const struct data_record *r, struct tlv_val *tv)
{
    struct data_value v;
    tv->p = tv->tmp;
    tv->len = 0;
    int rc = typed_value(e, r, &v);
    if (rc < 0)
        return rc;
    switch (v.type) {
    case GW_TYPE_INTEGER:
    case GW_TYPE_TIME:
        tv->len = int_width(v.v.i);
        put_be(tv->tmp, (uint64_t)v.v.i, tv->len);
        break;
    case GW_TYPE_UNSIGNED:
        tv->len = uint_width(v.v.u);
        put_be(tv->tmp, v.v.u, tv->len);
        break;
    case GW_TYPE_FLOAT: {
        double d = v.v.f;
        /* 4 bytes when a float holds the value exactly; the range test keeps the cast defined */
        if (isnan(d) || isinf(d) || (fabs(d) <= FLT_MAX && (double)(float)d == d)) {
            float f = (float)d;
            uint32_t bits;
            memcpy(&bits, &f, sizeof(bits));
            tv->len = 4;
            put_be(tv->tmp, bits, 4);
        } else {
            uint64_t bits;
            memcpy(&bits, &d, sizeof(bits));
            tv->len = 8;
            put_be(tv->tmp, bits, 8);
        }
        break;
    }
    case GW_TYPE_BOOLEAN:
        tv->len = 1;
        tv->tmp[0] = v.v.b ? 1 : 0;
        break;
    case GW_TYPE_OBJLNK:
        tv->len = 4;
        put_be(tv->tmp, v.v.lnk.oid, 2);
        put_be(tv->tmp + 2, v.v.lnk.iid, 2);
        break;
    case GW_TYPE_STRING:
    case GW_TYPE_OPAQUE:
    case GW_TYPE_CORELNK:
        tv->p = v.v.bytes.p;
        tv->len = v.v.bytes.len;
        if (tv->len > TLV_MAX_LEN)
            return gw_fail(-GW_ERR_INVALID, e->err, e->errlen,
                           "%s: value of %zu bytes is longer than TLV allows", ptext(&r->path).s,
                           tv->len);
        break;
    default:
        return gw_fail(-GW_ERR_INVALID, e->err, e->errlen, "%s: a %s value has no TLV form",
                       ptext(&r->path).s, data_type_name(v.type));
    }
    return GW_OK;
}

static size_t head_len(uint16_t id, size_t len)
{
    size_t n = id > 0xFF ? 3 : 2;
    return n + (len <= 7 ? 0 : len <= 0xFF ? 1 : len <= 0xFFFF ? 2 : 3);
}

static int put_head(struct enc *e, enum tlv_kind kind, uint16_t id, size_t len)
{
    size_t hl = head_len(id, len);
    if (e->cap - e->pos < hl + len) {
        if (e->err && e->errlen)
            snprintf(e->err, e->errlen, "TLV output does not fit in %zu bytes", e->cap);
        return -GW_ERR_FULL;
    }
    size_t lenlen = len <= 7 ? 0 : len <= 0xFF ? 1 : len <= 0xFFFF ? 2 : 3;
    uint8_t *d = e->buf + e->pos;
    d[0] = (uint8_t)(kind << 6 | (id > 0xFF ? 0x20 : 0) | lenlen << 3 | (lenlen ? 0 : len));
    size_t i = 1;
    if (id > 0xFF)
        d[i++] = (uint8_t)(id >> 8);
    d[i++] = (uint8_t)id;
    put_be(d + i, len, lenlen);
    e->pos += hl;
    return GW_OK;
}

static int put_leaf(struct enc *e, enum tlv_kind kind, uint16_t id, const struct tlv_val *tv)
{
    int rc = put_head(e, kind, id, tv->len);
    if (rc < 0)
        return rc;
    if (tv->len)
        memcpy(e->buf + e->pos, tv->p, tv->len);
    e->pos += tv->len;
    return GW_OK;
}

/* End of the run of records from `i` that share the first `depth` ids of record i. */
static size_t group_end(const struct enc *e, size_t i, size_t n, uint8_t depth)
{
    const struct data_path *p = &rec_at(e, i)->path;
    size_t j = i + 1;
    while (j < n) {
        const struct data_path *q = &rec_at(e, j)->path;
        if (memcmp(p->id, q->id, depth * sizeof(p->id[0])) != 0)
            break;
        j++;
    }
    return j;
}

/* Size of the value of the TLV for resource group [i, j): a single resource's bytes, or the
 * resource instance TLVs of a multiple resource. Sets *multiple. */
static int resource_size(struct enc *e, size_t i, size_t j, size_t *size, bool *multiple)
{
    const struct data_record *r = rec_at(e, i);
    *multiple = r->path.depth == 4 || r->value.type == GW_TYPE_NONE;
    *size = 0;
    if (!*multiple) {
        struct tlv_val tv;
        int rc = value_bytes(e, r, &tv);
        if (rc == GW_OK)
            *size = tv.len;
        return rc;
    }
    for (size_t k = i; k < j; k++) {
        r = rec_at(e, k);
        if (r->path.depth != 4)
            continue; /* the empty marker of an empty multiple resource */
        struct tlv_val tv;
        int rc = value_bytes(e, r, &tv);
        if (rc < 0)
            return rc;
        *size += head_len(r->path.id[3], tv.len) + tv.len;
    }
    if (*size > TLV_MAX_LEN)
        return gw_fail(-GW_ERR_INVALID, e->err, e->errlen, "%s: more than TLV's 16777215 bytes",
                       ptext(&rec_at(e, i)->path).s);
    return GW_OK;
}

static int put_resource(struct enc *e, size_t i, size_t j)
{
    size_t size;
    bool multiple;
    int rc = resource_size(e, i, j, &size, &multiple);
    if (rc < 0)
        return rc;
    const struct data_record *r = rec_at(e, i);
    struct tlv_val tv;
    if (!multiple) {
        if ((rc = value_bytes(e, r, &tv)) < 0)
            return rc;
        return put_leaf(e, KIND_RESOURCE, r->path.id[2], &tv);
    }
    if ((rc = put_head(e, KIND_MULTIPLE, r->path.id[2], size)) < 0)
        return rc;
    for (size_t k = i; k < j; k++) {
        r = rec_at(e, k);
        if (r->path.depth != 4)
            continue;
        if ((rc = value_bytes(e, r, &tv)) < 0 ||
            (rc = put_leaf(e, KIND_RES_INSTANCE, r->path.id[3], &tv)) < 0)
            return rc;
    }
    return GW_OK;
}

/* Size of the resource TLVs of instance group [i, j). */
static int instance_size(struct enc *e, size_t i, size_t j, size_t *size)
{
    *size = 0;
    if (rec_at(e, i)->path.depth == 2)
        return GW_OK; /* an empty instance: checked to be alone in its group */
    for (size_t k = i; k < j;) {
        size_t m = group_end(e, k, j, 3), rsize;
        bool multiple;
        int rc = resource_size(e, k, m, &rsize, &multiple);
        if (rc < 0)
            return rc;
        *size += head_len(rec_at(e, k)->path.id[2], rsize) + rsize;
        k = m;
    }
    if (*size > TLV_MAX_LEN)
        return gw_fail(-GW_ERR_INVALID, e->err, e->errlen,
                       "%s: object instance of more than TLV's 16777215 bytes",
                       ptext(&rec_at(e, i)->path).s);
    return GW_OK;
}

static int put_instance_body(struct enc *e, size_t i, size_t j)
{
    if (rec_at(e, i)->path.depth == 2)
        return GW_OK;
    for (size_t k = i; k < j;) {
        size_t m = group_end(e, k, j, 3);
        int rc = put_resource(e, k, m);
        if (rc < 0)
            return rc;
        k = m;
    }
    return GW_OK;
}

/* Checks each record against the base and its sorted neighbour: no duplicates, no value on a
 * level that also has children, values only where TLV can put them. */
static int check_records(struct enc *e, size_t n)
{
    const struct data_path *base = &e->ctx->base;
    for (size_t i = 0; i < n; i++) {
        const struct data_record *r = rec_at(e, i);
        if (!data_path_contains(base, &r->path))
            return gw_fail(-GW_ERR_INVALID, e->err, e->errlen,
                           "record %s lies outside the request path %s", ptext(&r->path).s,
                           ptext(base).s);
        if (r->path.depth < 2)
            return gw_fail(-GW_ERR_INVALID, e->err, e->errlen,
                           "record %s: TLV values belong to resources", ptext(&r->path).s);
        if (r->path.depth == 2 && r->value.type != GW_TYPE_NONE)
            return gw_fail(-GW_ERR_INVALID, e->err, e->errlen,
                           "record %s: an object instance holds no value itself",
                           ptext(&r->path).s);
        if (r->path.depth == 4 && r->value.type == GW_TYPE_NONE)
            return gw_fail(-GW_ERR_INVALID, e->err, e->errlen,
                           "record %s: a resource instance needs a value", ptext(&r->path).s);
        if (i > 0 && data_path_contains(&rec_at(e, i - 1)->path, &r->path))
            return clash(rec_at(e, i - 1), r, "", e->err, e->errlen);
    }
    return GW_OK;
}

static int encode(struct enc *e, size_t n)
{
    const struct data_path *base = &e->ctx->base;
    int rc = check_records(e, n);
    if (rc < 0 || n == 0)
        return rc;
    switch (base->depth) {
    case 1:
        for (size_t i = 0; i < n;) {
            size_t j = group_end(e, i, n, 2), size;
            if ((rc = instance_size(e, i, j, &size)) < 0 ||
                (rc = put_head(e, KIND_INSTANCE, rec_at(e, i)->path.id[1], size)) < 0 ||
                (rc = put_instance_body(e, i, j)) < 0)
                return rc;
            i = j;
        }
        return GW_OK;
    case 2:
        return put_instance_body(e, 0, n);
    case 3:
        return put_resource(e, 0, n);
    default: { /* 4: the one resource instance the path names */
        struct tlv_val tv;
        const struct data_record *r = rec_at(e, 0);
        if ((rc = value_bytes(e, r, &tv)) < 0)
            return rc;
        return put_leaf(e, KIND_RES_INSTANCE, r->path.id[3], &tv);
    }
    }
}

int tlv_encode(const struct data_records *in, const struct codec_ctx *ctx, uint8_t *buf, size_t cap,
               size_t *written, char *err, size_t errlen)
{
    *written = 0;
    if (ctx->base.depth == 0)
        return gw_fail(-GW_ERR_INVALID, err, errlen,
                       "TLV needs a base path of /oid or deeper, not /");
    struct enc e = {
        .ctx = ctx, .recs = in->v, .buf = buf, .cap = cap, .err = err, .errlen = errlen};
    size_t n = in->n;
    /* Most callers hand over records in path order: then no index is needed. */
    bool sorted = true;
    for (size_t i = 1; i < n && sorted; i++)
        sorted = path_cmp(&in->v[i - 1].path, &in->v[i].path) <= 0;
    if (!sorted) {
        e.order = malloc(n * sizeof(*e.order));
        if (!e.order)
            return -GW_ERR_NOMEM;
        for (size_t i = 0; i < n; i++)
            e.order[i] = &in->v[i];
        qsort(e.order, n, sizeof(*e.order), order_cmp);
    }
    int rc = encode(&e, n);
    free(e.order);
    if (rc == GW_OK)
        *written = e.pos;
    return rc;
}

/* rawcbor.c - content format 60 (application/cbor) as LwM2M 1.2 uses it: the value of one
 * resource or resource instance as a single plain CBOR data item, at the request path. The
 * item is read with libcbor's streaming decoder (no allocation) and typed by the object model
 * where it knows the resource, else by its CBOR type; arrays and maps are refused. */
#include <cbor.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "cborval.h"
#include "codec.h"
#include "gw.h"

#define TAG_EPOCH_TIME 1        /* RFC 8949 3.4.2: seconds since the epoch */
#define TAG_SELF_DESCRIBE 55799 /* RFC 8949 3.4.6: "this is CBOR", no meaning of its own */

struct one {
    /* first: libcbor's callbacks reach on_item() through it */
    /* cppcheck-suppress unusedStructMember */
    struct cborval_sink sink;
    struct cborval_item item;
    bool got;
};

static void on_item(void *ctx, const struct cborval_item *it)
{
    struct one *o = ctx;
    o->item = *it;
    o->got = true;
}

/* The value of tag 1 (epoch time): whole seconds, a fractional time rounded down as LwM2M's
 * Time has no fractions. It is TIME on a Time resource; on another numeric resource it takes that
 * type, and on one the model does not know it stays an INTEGER: format 60 writes a Time as a
 * plain integer, so what it reads back is the same value of the same type. */
static int epoch_time(const struct cborval_item *it, enum data_type want, struct data_value *v,
                      char *err, size_t errlen)
{
    v->type = GW_TYPE_INTEGER;
    if (it->kind == CBORVAL_UINT && it->u <= (uint64_t)INT64_MAX) {
        v->v.i = (int64_t)it->u;
    } else if (it->kind == CBORVAL_NEGINT && it->u <= (uint64_t)INT64_MAX) {
        v->v.i = -1 - (int64_t)it->u;
    } else if (it->kind == CBORVAL_FLOAT && isfinite(it->f) && it->f >= -9223372036854775808.0 &&
               it->f < 9223372036854775808.0) {
        v->v.i = (int64_t)floor(it->f);
    } else {
        return gw_fail(-GW_ERR_INVALID, err, errlen,
                       "tag 1 (epoch time) must hold a number of seconds in range, got %s",
                       cborval_item_names[it->kind]);
    }
    cborval_type_number(v, want);
    return GW_OK;
}

/* Types the item by the resource's model type `want` where they agree, else by its CBOR type. */
static int item_value(const struct cborval_item *it, enum data_type want, struct data_value *v,
                      char *err, size_t errlen)
{
    switch (it->kind) {
    case CBORVAL_UINT:
        cborval_from_uint(v, it->u);
        cborval_type_number(v, want);
        return GW_OK;
    case CBORVAL_NEGINT:
        if (it->u > (uint64_t)INT64_MAX)
            return gw_fail(-GW_ERR_INVALID, err, errlen, "integer is below -2^63");
        v->type = GW_TYPE_INTEGER;
        v->v.i = -1 - (int64_t)it->u;
        cborval_type_number(v, want);
        return GW_OK;
    case CBORVAL_FLOAT:
        if (!isfinite(it->f))
            return gw_fail(-GW_ERR_INVALID, err, errlen, "a non-finite float is not a value");
        v->type = GW_TYPE_FLOAT;
        v->v.f = it->f;
        cborval_type_number(v, want);
        return GW_OK;
    case CBORVAL_TEXT:
        if (!gw_utf8_valid(it->p, it->len))
            return gw_fail(-GW_ERR_INVALID, err, errlen, "text string is not valid UTF-8");
        if (want == GW_TYPE_OBJLNK) {
            if (cborval_objlnk_parse(it->p, it->len, v) < 0)
                return gw_fail(-GW_ERR_INVALID, err, errlen,
                               "Objlnk resource: '%.*s' is not oid:iid",
                               (int)(it->len > 32 ? 32 : it->len), (const char *)it->p);
            return GW_OK;
        }
        v->type = want == GW_TYPE_CORELNK ? GW_TYPE_CORELNK : GW_TYPE_STRING;
        v->v.bytes.p = it->p;
        v->v.bytes.len = it->len;
        return GW_OK;
    case CBORVAL_BYTES:
        v->type = GW_TYPE_OPAQUE;
        v->v.bytes.p = it->p;
        v->v.bytes.len = it->len;
        return GW_OK;
    case CBORVAL_BOOL:
        v->type = GW_TYPE_BOOLEAN;
        v->v.b = it->b;
        return GW_OK;
    case CBORVAL_ARRAY:
    case CBORVAL_MAP:
        return gw_fail(-GW_ERR_INVALID, err, errlen,
                       "%s is not a single value (CBOR format 60 carries one)",
                       cborval_item_names[it->kind]);
    case CBORVAL_INDEF_STRING:
        return gw_fail(-GW_ERR_INVALID, err, errlen, "indefinite-length strings are not supported");
    default:
        return gw_fail(-GW_ERR_INVALID, err, errlen, "%s is not a value",
                       cborval_item_names[it->kind]);
    }
}

int rawcbor_decode(const uint8_t *buf, size_t len, const struct codec_ctx *ctx,
                   struct data_records *out, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (ctx->base.depth < 3)
        return gw_fail(-GW_ERR_INVALID, err, errlen,
                       "CBOR (60) carries one resource value, the request path must "
                       "name a resource or resource instance");
    if (len == 0)
        return gw_fail(-GW_ERR_INVALID, err, errlen,
                       "empty payload: CBOR (60) needs one data item");

    struct one o = {.sink = {on_item}};
    uint64_t tag = 0;
    bool tagged = false, magic = false;
    size_t off = 0;
    for (;;) {
        if (off == len)
            return gw_fail(-GW_ERR_INVALID, err, errlen,
                           "offset %zu: truncated: a tag without its item", off);
        o.got = false;
        struct cbor_decoder_result r =
            cbor_stream_decode(buf + off, len - off, &cborval_callbacks, &o);
        if (r.status == CBOR_DECODER_NEDATA)
            return gw_fail(-GW_ERR_INVALID, err, errlen,
                           "offset %zu: truncated: the item needs %zu bytes, %zu are left", off,
                           r.required, len - off);
        if (r.status != CBOR_DECODER_FINISHED || !o.got)
            return gw_fail(-GW_ERR_INVALID, err, errlen,
                           "offset %zu: malformed or unsupported CBOR (initial byte 0x%02x)", off,
                           buf[off]);
        off += r.read;
        if (o.item.kind != CBORVAL_TAG)
            break;
        /* Accepted: the self-describe tag first, then at most tag 1 (epoch time). */
        if (o.item.u == TAG_SELF_DESCRIBE && !magic && !tagged) {
            magic = true;
        } else if (o.item.u == TAG_EPOCH_TIME && !tagged) {
            tagged = true;
            tag = o.item.u;
        } else {
            return gw_fail(-GW_ERR_INVALID, err, errlen,
                           "offset %zu: tag %" PRIu64 " is not accepted", off - r.read, o.item.u);
        }
    }
    enum data_type want = ctx->model ? model_type(ctx->model, &ctx->base) : GW_TYPE_NONE;
    struct data_value v = {.type = GW_TYPE_NONE};
    int rc;
    if (tagged && tag == TAG_EPOCH_TIME) {
        if (want != GW_TYPE_NONE && want != GW_TYPE_TIME && want != GW_TYPE_INTEGER &&
            want != GW_TYPE_UNSIGNED && want != GW_TYPE_FLOAT)
            return gw_fail(-GW_ERR_INVALID, err, errlen, "tag 1 (epoch time) on a %s resource",
                           data_type_name(want));
        rc = epoch_time(&o.item, want, &v, err, errlen);
    } else {
        rc = item_value(&o.item, want, &v, err, errlen);
    }
    if (rc < 0)
        return rc;
    if (off < len)
        return gw_fail(-GW_ERR_INVALID, err, errlen,
                       "offset %zu: %zu trailing bytes after the value", off, len - off);
    rc = data_records_add(out, &ctx->base, &v, false, 0);
    if (rc < 0)
        gw_fail(-GW_ERR_INVALID, err, errlen, "%s",
                rc == -GW_ERR_FULL ? "too many records" : "out of memory");
    return rc;
}

int rawcbor_encode(const struct data_records *in, const struct codec_ctx *ctx, uint8_t *buf,
                   size_t cap, size_t *written, char *err, size_t errlen)
{
    *written = 0;
    if (in->n != 1)
        return gw_fail(-GW_ERR_INVALID, err, errlen, "CBOR (60) carries exactly one value, not %zu",
                       in->n);
    const struct data_record *r = &in->v[0];
    const struct data_value *v = &r->value;
    char p[32];
    if (data_path_format(&r->path, p, sizeof(p)) < 0)
        p[0] = '\0';
    if (!data_path_contains(&ctx->base, &r->path))
        return gw_fail(-GW_ERR_INVALID, err, errlen, "%s is outside the request path", p);

    struct cborval_out o = {.buf = buf, .cap = cap};
    switch (v->type) {
    case GW_TYPE_INTEGER:
    case GW_TYPE_TIME:
        cborval_put_int(&o, v->v.i);
        break;
    case GW_TYPE_UNSIGNED:
        cborval_put_uint(&o, v->v.u);
        break;
    case GW_TYPE_FLOAT:
        if (!isfinite(v->v.f))
            return gw_fail(-GW_ERR_INVALID, err, errlen, "%s: a non-finite float", p);
        cborval_put_float(&o, v->v.f);
        break;
    case GW_TYPE_BOOLEAN:
        cborval_put_bool(&o, v->v.b);
        break;
    case GW_TYPE_STRING:
    case GW_TYPE_CORELNK:
        if (!gw_utf8_valid(v->v.bytes.p, v->v.bytes.len))
            return gw_fail(-GW_ERR_INVALID, err, errlen, "%s: text is not valid UTF-8", p);
        cborval_put_text(&o, v->v.bytes.p, v->v.bytes.len);
        break;
    case GW_TYPE_OPAQUE:
        cborval_put_bytes(&o, v->v.bytes.p, v->v.bytes.len);
        break;
    case GW_TYPE_OBJLNK:
        cborval_put_objlnk(&o, v->v.lnk.oid, v->v.lnk.iid);
        break;
    default:
        return gw_fail(-GW_ERR_INVALID, err, errlen, "%s: no value to write (type %s)", p,
                       data_type_name(v->type));
    }
    if (o.full)
        return -GW_ERR_FULL;
    *written = o.len;
    return GW_OK;
}

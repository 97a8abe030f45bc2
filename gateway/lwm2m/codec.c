/* codec.c - one entry point for every content format: dispatch by CoAP Content-Format number,
 * the short format names used in requests, and link-format (40) as a value. It also keeps the
 * decoders' promise that a failed decode leaves the caller's record list as it found it. */
#include <string.h>

#include "codec.h"
#include "gw.h"
#include "linkfmt.h"

static const struct {
    enum codec_format format;
    const char *name;
} names[] = {
    {GW_FMT_TEXT, "text"},
    {GW_FMT_LINK, "link"},
    {GW_FMT_OPAQUE, "opaque"},
    {GW_FMT_CBOR, "cbor"},
    {GW_FMT_SENML_JSON, "senml-json"},
    {GW_FMT_SENML_CBOR, "senml-cbor"},
    {GW_FMT_TLV, "tlv"},
    {GW_FMT_LWM2M_JSON, "json"},
};

int codec_parse_name(const char *name, enum codec_format *out)
{
    for (size_t i = 0; i < GW_ARRAY_LEN(names); i++) {
        if (strcmp(name, names[i].name) == 0) {
            *out = names[i].format;
            return GW_OK;
        }
    }
    return -GW_ERR_INVALID;
}

const char *codec_name(enum codec_format format)
{
    for (size_t i = 0; i < GW_ARRAY_LEN(names); i++)
        if (names[i].format == format)
            return names[i].name;
    return NULL;
}

/* Link-format is checked by the full parser, then kept as one Corelnk value at the base: the
 * links themselves are read by whoever needs them (Discover answers, registrations). */
static int link_decode(const uint8_t *buf, size_t len, const struct codec_ctx *ctx,
                       struct data_records *out, char *err, size_t errlen)
{
    struct link_list l = {0};
    int rc = linkfmt_parse((const char *)buf, len, &l, err, errlen);
    linkfmt_clear(&l);
    if (rc < 0)
        return rc;
    struct data_value v = {.type = GW_TYPE_CORELNK};
    v.v.bytes.p = buf;
    v.v.bytes.len = len;
    rc = data_records_add(out, &ctx->base, &v, false, 0);
    if (rc < 0)
        return gw_fail(rc, err, errlen, "%s", gw_strerror(rc));
    return GW_OK;
}

static int link_encode(const struct data_records *in, const struct codec_ctx *ctx, uint8_t *buf,
                       size_t cap, size_t *written, char *err, size_t errlen)
{
    char p[32];
    *written = 0;
    if (in->n != 1)
        return gw_fail(-GW_ERR_INVALID, err, errlen, "link-format holds exactly one value, not %zu",
                       in->n);
    const struct data_record *r = &in->v[0];
    data_path_format(&r->path, p, sizeof(p));
    if (r->value.type != GW_TYPE_CORELNK)
        return gw_fail(-GW_ERR_INVALID, err, errlen, "%s: a %s value is not link-format", p,
                       data_type_name(r->value.type));
    if (!data_path_contains(&ctx->base, &r->path))
        return gw_fail(-GW_ERR_INVALID, err, errlen, "record %s lies outside the request path", p);
    struct link_list l = {0};
    char why[160];
    int rc =
        linkfmt_parse((const char *)r->value.v.bytes.p, r->value.v.bytes.len, &l, why, sizeof(why));
    linkfmt_clear(&l);
    if (rc < 0)
        return gw_fail(rc, err, errlen, "%s: not valid link-format: %s", p, why);
    if (r->value.v.bytes.len > cap)
        return gw_fail(-GW_ERR_FULL, err, errlen, "%zu bytes do not fit in %zu",
                       r->value.v.bytes.len, cap);
    memcpy(buf, r->value.v.bytes.p, r->value.v.bytes.len);
    *written = r->value.v.bytes.len;
    return GW_OK;
}

int codec_decode(enum codec_format format, const uint8_t *buf, size_t len,
                 const struct codec_ctx *ctx, struct data_records *out, char *err, size_t errlen)
{
    size_t n0 = out->n;
    int rc;
    if (err && errlen)
        err[0] = '\0';
    switch (format) {
    case GW_FMT_TEXT:
        rc = text_decode(buf, len, ctx, out, err, errlen);
        break;
    case GW_FMT_LINK:
        rc = link_decode(buf, len, ctx, out, err, errlen);
        break;
    case GW_FMT_OPAQUE:
        rc = opaque_decode(buf, len, ctx, out, err, errlen);
        break;
    case GW_FMT_CBOR:
        rc = rawcbor_decode(buf, len, ctx, out, err, errlen);
        break;
    case GW_FMT_SENML_JSON:
        rc = senml_json_decode(buf, len, ctx, out, err, errlen);
        break;
    case GW_FMT_SENML_CBOR:
        rc = senml_cbor_decode(buf, len, ctx, out, err, errlen);
        break;
    case GW_FMT_TLV:
        rc = tlv_decode(buf, len, ctx, out, err, errlen);
        break;
    case GW_FMT_LWM2M_JSON:
        rc = oma_json_decode(buf, len, ctx, out, err, errlen);
        break;
    default:
        return gw_fail(-GW_ERR_UNSUPPORTED, err, errlen,
                       "content format %d is not one the gateway decodes", (int)format);
    }
    /* the records of a half-read payload must not be taken for data */
    if (rc < 0)
        data_records_truncate(out, n0);
    return rc;
}

int codec_encode(enum codec_format format, const struct data_records *in,
                 const struct codec_ctx *ctx, uint8_t *buf, size_t cap, size_t *written, char *err,
                 size_t errlen)
{
    *written = 0;
    if (err && errlen)
        err[0] = '\0';
    switch (format) {
    case GW_FMT_TEXT:
        return text_encode(in, ctx, buf, cap, written, err, errlen);
    case GW_FMT_LINK:
        return link_encode(in, ctx, buf, cap, written, err, errlen);
    case GW_FMT_OPAQUE:
        return opaque_encode(in, ctx, buf, cap, written, err, errlen);
    case GW_FMT_CBOR:
        return rawcbor_encode(in, ctx, buf, cap, written, err, errlen);
    case GW_FMT_SENML_JSON:
        return senml_json_encode(in, ctx, buf, cap, written, err, errlen);
    case GW_FMT_SENML_CBOR:
        return senml_cbor_encode(in, ctx, buf, cap, written, err, errlen);
    case GW_FMT_TLV:
        return tlv_encode(in, ctx, buf, cap, written, err, errlen);
    case GW_FMT_LWM2M_JSON:
        return oma_json_encode(in, ctx, buf, cap, written, err, errlen);
    }
    return gw_fail(-GW_ERR_UNSUPPORTED, err, errlen,
                   "content format %d is not one the gateway encodes", (int)format);
}

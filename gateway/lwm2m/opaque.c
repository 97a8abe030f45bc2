/* opaque.c - the opaque format (content format 42): the bytes of one resource value, as they
 * are. Used for firmware images and application-specific binary resources; there is nothing to
 * parse, so the only checks are that the payload answers a resource and that one value is
 * written. */
#include <string.h>

#include "codec.h"
#include "gw.h"

int opaque_decode(const uint8_t *buf, size_t len, const struct codec_ctx *ctx,
                  struct data_records *out, char *err, size_t errlen)
{
    if (ctx->base.depth < 3) {
        char p[32];
        data_path_format(&ctx->base, p, sizeof(p));
        return gw_fail(-GW_ERR_INVALID, err, errlen,
                       "opaque holds one resource value, and %s is not a resource", p);
    }
    struct data_value v = {.type = GW_TYPE_OPAQUE};
    v.v.bytes.p = buf;
    v.v.bytes.len = len;
    int rc = data_records_add(out, &ctx->base, &v, false, 0);
    if (rc < 0)
        return gw_fail(rc, err, errlen, "%s", gw_strerror(rc));
    return rc;
}

int opaque_encode(const struct data_records *in, const struct codec_ctx *ctx, uint8_t *buf,
                  size_t cap, size_t *written, char *err, size_t errlen)
{
    char p[32], b[32];
    *written = 0;
    if (in->n != 1)
        return gw_fail(-GW_ERR_INVALID, err, errlen, "opaque holds exactly one value, not %zu",
                       in->n);
    const struct data_record *r = &in->v[0];
    data_path_format(&r->path, p, sizeof(p));
    data_path_format(&ctx->base, b, sizeof(b));
    if (r->path.depth < 3 || r->path.depth != ctx->base.depth ||
        !data_path_contains(&ctx->base, &r->path))
        return gw_fail(-GW_ERR_INVALID, err, errlen,
                       "record %s is not the resource %s the request names", p, b);
    if (r->value.type != GW_TYPE_OPAQUE && r->value.type != GW_TYPE_STRING)
        return gw_fail(-GW_ERR_INVALID, err, errlen, "%s: a %s value has no opaque form", p,
                       data_type_name(r->value.type));
    size_t n = r->value.v.bytes.len;
    if (n > cap)
        return gw_fail(-GW_ERR_FULL, err, errlen, "%zu bytes do not fit in %zu", n, cap);
    if (n)
        memcpy(buf, r->value.v.bytes.p, n);
    *written = n;
    return GW_OK;
}

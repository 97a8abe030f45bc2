/* text.c - the plain text format (content format 0): one resource value as UTF-8 text.
 * Text carries no type, so the object model decides how to read it: numbers are parsed with
 * range checks, Booleans are "0" or "1", object links "oid:iid"; what the model does not know
 * stays a String. Opaque values have no text form (LwM2M 1.1) and are refused both ways. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "gw.h"

#define FLOAT_TEXT_MAX 64 /* longest float text accepted: far more digits than a double holds */

/* Up to 40 bytes of a bad text for a message, printable ASCII only: the reason may travel on
 * in JSON or a log line, so it must not carry the device's control bytes or broken UTF-8. */
struct quoted {
    char s[48];
};

static struct quoted quote(const uint8_t *s, size_t len)
{
    struct quoted q;
    size_t n = len > 40 ? 40 : len;
    for (size_t i = 0; i < n; i++)
        q.s[i] = s[i] >= 0x20 && s[i] < 0x7F ? (char)s[i] : '?';
    strcpy(q.s + n, len > n ? "..." : "");
    return q;
}

enum digits_result { DIGITS_OK, DIGITS_SYNTAX, DIGITS_RANGE };

/* Parses [+-]digits into *neg and *mag. */
static enum digits_result parse_digits(const uint8_t *s, size_t len, bool *neg, uint64_t *mag)
{
    size_t i = 0;
    *neg = false;
    if (len && (s[0] == '-' || s[0] == '+')) {
        *neg = s[0] == '-';
        i = 1;
    }
    if (i == len)
        return DIGITS_SYNTAX;
    uint64_t u = 0;
    bool over = false;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return DIGITS_SYNTAX;
        unsigned d = (unsigned)(s[i] - '0');
        if (u > (UINT64_MAX - d) / 10)
            over = true;
        u = u * 10 + d;
    }
    *mag = u;
    return over ? DIGITS_RANGE : DIGITS_OK;
}

static int parse_value(const uint8_t *s, size_t len, enum data_type t, struct data_value *v,
                       char *err, size_t errlen)
{
    bool neg;
    uint64_t mag = 0;
    enum digits_result dr;
    v->type = t;
    switch (t) {
    case GW_TYPE_INTEGER:
    case GW_TYPE_TIME:
        if ((dr = parse_digits(s, len, &neg, &mag)) == DIGITS_SYNTAX)
            break;
        if (dr == DIGITS_RANGE || mag > (uint64_t)INT64_MAX + neg)
            goto range;
        /* -2^63 has no positive counterpart: negate in unsigned arithmetic */
        v->v.i = neg ? (int64_t)(~mag + 1) : (int64_t)mag;
        return GW_OK;
    case GW_TYPE_UNSIGNED:
        if ((dr = parse_digits(s, len, &neg, &mag)) == DIGITS_SYNTAX || neg)
            break;
        if (dr == DIGITS_RANGE)
            goto range;
        v->v.u = mag;
        return GW_OK;
    case GW_TYPE_FLOAT: {
        /* strtod also takes hex, "nan", "inf" and leading blanks: let only decimal through */
        char tmp[FLOAT_TEXT_MAX + 1];
        if (len == 0 || len > FLOAT_TEXT_MAX)
            break;
        for (size_t i = 0; i < len; i++)
            if (s[i] == '\0' || !strchr("0123456789+-.eE", s[i]))
                goto bad;
        memcpy(tmp, s, len);
        tmp[len] = '\0';
        char *end;
        errno = 0;
        double f = strtod(tmp, &end);
        if (end != tmp + len)
            break;
        if (!isfinite(f))
            goto range;
        v->v.f = f;
        return GW_OK;
    }
    case GW_TYPE_BOOLEAN:
        if (len != 1 || (s[0] != '0' && s[0] != '1'))
            return gw_fail(-GW_ERR_INVALID, err, errlen, "'%s' is not a Boolean (0 or 1)",
                           quote(s, len).s);
        v->v.b = s[0] == '1';
        return GW_OK;
    case GW_TYPE_OBJLNK: {
        const uint8_t *colon = len ? memchr(s, ':', len) : NULL;
        bool n1, n2;
        uint64_t oid, iid;
        if (!colon || parse_digits(s, (size_t)(colon - s), &n1, &oid) != DIGITS_OK ||
            parse_digits(colon + 1, len - (size_t)(colon - s) - 1, &n2, &iid) != DIGITS_OK ||
            s[0] == '+' || s[0] == '-' || colon[1] == '+' || colon[1] == '-' || oid > 65535 ||
            iid > 65535)
            break;
        v->v.lnk.oid = (uint16_t)oid;
        v->v.lnk.iid = (uint16_t)iid;
        return GW_OK;
    }
    case GW_TYPE_OPAQUE:
        return gw_fail(-GW_ERR_INVALID, err, errlen,
                       "an Opaque resource has no text/plain form; use opaque (42)");
    default: { /* String, Corelnk, or not in the model */
        for (size_t i = 0, l; i < len; i += l) {
            /* ASCII is judged here: a call per byte made text decoding slower (measured) */
            if (!(l = s[i] < 0x80 ? 1 : gw_utf8_next(s + i, len - i, NULL)))
                return gw_fail(-GW_ERR_INVALID, err, errlen, "offset %zu: invalid UTF-8", i);
        }
        if (t != GW_TYPE_CORELNK)
            v->type = GW_TYPE_STRING;
        v->v.bytes.p = s;
        v->v.bytes.len = len;
        return GW_OK;
    }
    }
bad: /* a `break` above lands here too */
    return gw_fail(-GW_ERR_INVALID, err, errlen, "'%s' is not %s %s", quote(s, len).s,
                   strchr("AEIOU", data_type_name(t)[0]) ? "an" : "a", data_type_name(t));
range:
    return gw_fail(-GW_ERR_INVALID, err, errlen, "'%s' is out of range for %s", quote(s, len).s,
                   data_type_name(t));
}

int text_decode(const uint8_t *buf, size_t len, const struct codec_ctx *ctx,
                struct data_records *out, char *err, size_t errlen)
{
    const struct data_path *base = &ctx->base;
    if (base->depth < 3) {
        char p[32];
        data_path_format(base, p, sizeof(p));
        return gw_fail(-GW_ERR_INVALID, err, errlen,
                       "text/plain holds one resource value, and %s is not a resource", p);
    }
    enum data_type t = ctx->model ? model_type(ctx->model, base) : GW_TYPE_NONE;
    struct data_value v;
    memset(&v, 0, sizeof(v));
    int rc = parse_value(buf, len, t, &v, err, errlen);
    if (rc < 0)
        return rc;
    rc = data_records_add(out, base, &v, false, 0);
    if (rc < 0)
        return gw_fail(rc, err, errlen, "%s", gw_strerror(rc));
    return rc;
}

int text_encode(const struct data_records *in, const struct codec_ctx *ctx, uint8_t *buf,
                size_t cap, size_t *written, char *err, size_t errlen)
{
    char p[32];
    *written = 0;
    if (in->n != 1)
        return gw_fail(-GW_ERR_INVALID, err, errlen, "text/plain holds exactly one value, not %zu",
                       in->n);
    const struct data_record *r = &in->v[0];
    data_path_format(&r->path, p, sizeof(p));
    if (r->path.depth < 3 || ctx->base.depth != r->path.depth ||
        !data_path_contains(&ctx->base, &r->path)) {
        char b[32];
        data_path_format(&ctx->base, b, sizeof(b));
        return gw_fail(-GW_ERR_INVALID, err, errlen,
                       "record %s is not the resource %s the request names", p, b);
    }
    struct data_value v = r->value;
    enum data_type want = ctx->model ? model_type(ctx->model, &r->path) : GW_TYPE_NONE;
    if (want != GW_TYPE_NONE && want != v.type) {
        char why[128];
        if (data_value_convert(&r->value, want, &v, why, sizeof(why)) < 0)
            return gw_fail(-GW_ERR_INVALID, err, errlen, "%s: %s", p, why);
    }
    char tmp[GW_DOUBLE_MAX];
    const char *src = tmp;
    size_t n;
    switch (v.type) {
    case GW_TYPE_STRING:
    case GW_TYPE_CORELNK:
        src = (const char *)v.v.bytes.p;
        n = v.v.bytes.len;
        break;
    case GW_TYPE_INTEGER:
    case GW_TYPE_TIME:
        n = (size_t)snprintf(tmp, sizeof(tmp), "%" PRId64, v.v.i);
        break;
    case GW_TYPE_UNSIGNED:
        n = (size_t)snprintf(tmp, sizeof(tmp), "%" PRIu64, v.v.u);
        break;
    case GW_TYPE_FLOAT:
        if (!isfinite(v.v.f))
            return gw_fail(-GW_ERR_INVALID, err, errlen, "%s: %g has no text/plain form", p, v.v.f);
        n = gw_format_double(tmp, v.v.f, false);
        break;
    case GW_TYPE_BOOLEAN:
        src = v.v.b ? "1" : "0";
        n = 1;
        break;
    case GW_TYPE_OBJLNK:
        n = (size_t)snprintf(tmp, sizeof(tmp), "%u:%u", v.v.lnk.oid, v.v.lnk.iid);
        break;
    case GW_TYPE_OPAQUE:
        return gw_fail(-GW_ERR_INVALID, err, errlen,
                       "%s: an Opaque value has no text/plain form; use opaque (42)", p);
    default:
        return gw_fail(-GW_ERR_INVALID, err, errlen, "%s: a %s value has no text/plain form", p,
                       data_type_name(v.type));
    }
    if (n > cap)
        return gw_fail(-GW_ERR_FULL, err, errlen, "text of %zu bytes does not fit in %zu", n, cap);
    if (n)
        memcpy(buf, src, n);
    *written = n;
    return GW_OK;
}

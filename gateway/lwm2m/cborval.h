/* cborval.h - private to gateway/lwm2m: what the two CBOR codecs (senml_cbor.c, rawcbor.c)
 * share. A bounded writer over libcbor's buffer encoders that turns "does not fit" into one
 * flag, the smallest exact float encoding, the "oid:iid" check, and the typing of a
 * CBOR number by the object model. Static inline so that neither codec depends on the other. */
#ifndef CBORVAL_H
#define CBORVAL_H

#include <cbor.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "data.h"
#include "gw.h"

/* Where an encoder writes. Once a write does not fit, `full` stays set and nothing more is
 * written; the encoder checks it once at the end and returns -GW_ERR_FULL. */
struct cborval_out {
    uint8_t *buf;
    size_t cap;
    size_t len;
    bool full;
};

/* Records the result of a libcbor encoder: it returns the bytes written, or 0 when the
 * buffer was too small. */
static inline void cborval_wrote(struct cborval_out *o, size_t n)
{
    if (n == 0)
        o->full = true;
    else
        o->len += n;
}

static inline bool cborval_room(struct cborval_out *o)
{
    if (!o->buf || o->len >= o->cap)
        o->full = true;
    return !o->full;
}

static inline void cborval_put_uint(struct cborval_out *o, uint64_t v)
{
    if (cborval_room(o))
        cborval_wrote(o, cbor_encode_uint(v, o->buf + o->len, o->cap - o->len));
}

/* CBOR major type 1 holds -1 - n, so INT64_MIN becomes n = 2^63 - 1 without overflow. */
static inline void cborval_put_int(struct cborval_out *o, int64_t v)
{
    if (v >= 0) {
        cborval_put_uint(o, (uint64_t)v);
    } else if (cborval_room(o)) {
        uint64_t n = (uint64_t)(-(v + 1));
        cborval_wrote(o, cbor_encode_negint(n, o->buf + o->len, o->cap - o->len));
    }
}

static inline void cborval_put_bool(struct cborval_out *o, bool b)
{
    if (cborval_room(o))
        cborval_wrote(o, cbor_encode_bool(b, o->buf + o->len, o->cap - o->len));
}

static inline void cborval_put_raw(struct cborval_out *o, const void *p, size_t len)
{
    if (o->full || len == 0)
        return;
    if (!o->buf || o->cap - o->len < len) {
        o->full = true;
        return;
    }
    memcpy(o->buf + o->len, p, len);
    o->len += len;
}

static inline void cborval_put_text(struct cborval_out *o, const void *p, size_t len)
{
    if (!cborval_room(o))
        return;
    cborval_wrote(o, cbor_encode_string_start(len, o->buf + o->len, o->cap - o->len));
    cborval_put_raw(o, p, len);
}

static inline void cborval_put_bytes(struct cborval_out *o, const void *p, size_t len)
{
    if (!cborval_room(o))
        return;
    cborval_wrote(o, cbor_encode_bytestring_start(len, o->buf + o->len, o->cap - o->len));
    cborval_put_raw(o, p, len);
}

/* Gives the IEEE 754 half bits of `f` when a half holds `f` exactly (sign of zero included). */
static inline bool cborval_half_bits(double f, uint16_t *out)
{
    uint16_t sign = signbit(f) ? 0x8000 : 0;
    double a = fabs(f);
    if (a == 0) {
        *out = sign;
        return true;
    }
    int e;
    frexp(a, &e); /* a = m * 2^e with m in [0.5, 1): a normal half is 1.m * 2^(e - 1) */
    int exp = e - 1;
    if (exp > 15)
        return false;
    if (exp >= -14) {
        double mant = (ldexp(a, -exp) - 1.0) * 1024.0; /* exact: scaling by powers of two */
        if (mant != floor(mant))
            return false;
        *out = (uint16_t)(sign | (unsigned)(exp + 15) << 10 | (unsigned)mant);
        return true;
    }
    double k = ldexp(a, 24); /* subnormal: k * 2^-24 with k in 1..1023 */
    if (k != floor(k) || k >= 1024)
        return false;
    *out = (uint16_t)(sign | (unsigned)k);
    return true;
}

/* Writes a finite `f` as the shortest of half, single and double that holds it exactly, so a
 * constrained device gets 3 bytes for 21.5 rather than 9. The half is built here: libcbor
 * 0.8's cbor_encode_half keeps only the magnitude of subnormals and does not range-check. */
static inline void cborval_put_float(struct cborval_out *o, double f)
{
    if (!cborval_room(o))
        return;
    uint16_t h;
    if (cborval_half_bits(f, &h)) {
        uint8_t b[3] = {0xf9, (uint8_t)(h >> 8), (uint8_t)h};
        cborval_put_raw(o, b, 3);
        return;
    }
    float s = (float)f;
    if ((double)s == f)
        cborval_wrote(o, cbor_encode_single(s, o->buf + o->len, o->cap - o->len));
    else
        cborval_wrote(o, cbor_encode_double(f, o->buf + o->len, o->cap - o->len));
}

/* Writes a number that is usually whole (a SenML time): as an integer when it is one, else as
 * the shortest exact float. */
static inline void cborval_put_number(struct cborval_out *o, double f)
{
    if (f == floor(f) && f >= -9223372036854775808.0 && f < 9223372036854775808.0)
        cborval_put_int(o, (int64_t)f);
    else
        cborval_put_float(o, f);
}

/* Writes "oid:iid" as a text string. */
static inline void cborval_put_objlnk(struct cborval_out *o, uint16_t oid, uint16_t iid)
{
    char t[12];
    size_t n = 0;
    char digits[5];
    const unsigned parts[2] = {oid, iid};
    for (int k = 0; k < 2; k++) {
        unsigned v = parts[k];
        size_t d = 0;
        do {
            digits[d++] = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        while (d)
            t[n++] = digits[--d];
        if (k == 0)
            t[n++] = ':';
    }
    cborval_put_text(o, t, n);
}

/* Parses "oid:iid" (each 0..65535, decimal digits only). Returns GW_OK or -GW_ERR_INVALID. */
static inline int cborval_objlnk_parse(const uint8_t *p, size_t len, struct data_value *out)
{
    uint32_t ids[2] = {0, 0};
    size_t i = 0;
    for (int k = 0; k < 2; k++) {
        size_t digits = 0;
        while (i < len && p[i] >= '0' && p[i] <= '9') {
            ids[k] = ids[k] * 10 + (uint32_t)(p[i] - '0');
            if (ids[k] > 65535)
                return -GW_ERR_INVALID;
            i++;
            digits++;
        }
        if (digits == 0)
            return -GW_ERR_INVALID;
        if (k == 0) {
            if (i == len || p[i] != ':')
                return -GW_ERR_INVALID;
            i++;
        }
    }
    if (i != len)
        return -GW_ERR_INVALID;
    out->type = GW_TYPE_OBJLNK;
    out->v.lnk.oid = (uint16_t)ids[0];
    out->v.lnk.iid = (uint16_t)ids[1];
    return GW_OK;
}

/* The type a CBOR unsigned integer gets on its own: INTEGER, or UNSIGNED past INT64_MAX. */
static inline void cborval_from_uint(struct data_value *v, uint64_t u)
{
    if (u > (uint64_t)INT64_MAX) {
        v->type = GW_TYPE_UNSIGNED;
        v->v.u = u;
    } else {
        v->type = GW_TYPE_INTEGER;
        v->v.i = (int64_t)u;
    }
}

/* Gives a number (INTEGER, UNSIGNED or FLOAT, as CBOR typed it) the resource's type `want`
 * when that is a numeric type the value fits: an integer for Integer, Unsigned Integer or Time,
 * any number for Float, a whole float for the integer types. Otherwise the value keeps its
 * CBOR type, as it does for resources the model does not know. */
static inline void cborval_type_number(struct data_value *v, enum data_type want)
{
    if (want != GW_TYPE_INTEGER && want != GW_TYPE_UNSIGNED && want != GW_TYPE_TIME &&
        want != GW_TYPE_FLOAT)
        return;
    struct data_value typed;
    if (data_value_convert(v, want, &typed, NULL, 0) == GW_OK)
        *v = typed;
}

/* ---- decoding: libcbor's streaming callbacks, reduced to one item type ---- */

enum cborval_kind {
    CBORVAL_UINT,
    CBORVAL_NEGINT, /* the value is -1 - u */
    CBORVAL_FLOAT,
    CBORVAL_TEXT,
    CBORVAL_BYTES,
    CBORVAL_BOOL,
    CBORVAL_NULL,
    CBORVAL_UNDEF,
    CBORVAL_ARRAY,
    CBORVAL_MAP,
    CBORVAL_TAG,
    CBORVAL_BREAK,
    CBORVAL_INDEF_STRING, /* the start of an indefinite-length text or byte string */
};

static const char *const cborval_item_names[] = {
    [CBORVAL_UINT] = "an unsigned integer",
    [CBORVAL_NEGINT] = "a negative integer",
    [CBORVAL_FLOAT] = "a float",
    [CBORVAL_TEXT] = "a text string",
    [CBORVAL_BYTES] = "a byte string",
    [CBORVAL_BOOL] = "a boolean",
    [CBORVAL_NULL] = "null",
    [CBORVAL_UNDEF] = "undefined",
    [CBORVAL_ARRAY] = "an array",
    [CBORVAL_MAP] = "a map",
    [CBORVAL_TAG] = "a tag",
    [CBORVAL_BREAK] = "a break",
    [CBORVAL_INDEF_STRING] = "an indefinite-length string",
};

/* One decoded CBOR item, or the head of an array, map or tag. */
struct cborval_item {
    enum cborval_kind kind;
    bool indef; /* ARRAY, MAP, INDEF_STRING: indefinite length */
    bool b;
    uint64_t u;       /* integers, tag numbers, container sizes */
    double f;         /* FLOAT: half and single widened exactly */
    const uint8_t *p; /* TEXT, BYTES: points into the payload */
    size_t len;
};

/* The context handed to cbor_stream_decode() starts with this: every callback builds a
 * struct cborval_item and hands it to feed(). */
struct cborval_sink {
    void (*feed)(void *ctx, const struct cborval_item *it);
};

#define CBORVAL_SCALAR_CB(name, ctype, kind_, field)                                               \
    static inline void name(void *ctx, ctype x)                                                    \
    {                                                                                              \
        struct cborval_item it = {.kind = kind_};                                                  \
        it.field = x;                                                                              \
        ((struct cborval_sink *)ctx)->feed(ctx, &it);                                              \
    }

CBORVAL_SCALAR_CB(cborval_cb_uint8, uint8_t, CBORVAL_UINT, u)
CBORVAL_SCALAR_CB(cborval_cb_uint16, uint16_t, CBORVAL_UINT, u)
CBORVAL_SCALAR_CB(cborval_cb_uint32, uint32_t, CBORVAL_UINT, u)
CBORVAL_SCALAR_CB(cborval_cb_uint64, uint64_t, CBORVAL_UINT, u)
CBORVAL_SCALAR_CB(cborval_cb_negint8, uint8_t, CBORVAL_NEGINT, u)
CBORVAL_SCALAR_CB(cborval_cb_negint16, uint16_t, CBORVAL_NEGINT, u)
CBORVAL_SCALAR_CB(cborval_cb_negint32, uint32_t, CBORVAL_NEGINT, u)
CBORVAL_SCALAR_CB(cborval_cb_negint64, uint64_t, CBORVAL_NEGINT, u)
CBORVAL_SCALAR_CB(cborval_cb_tag, uint64_t, CBORVAL_TAG, u)
CBORVAL_SCALAR_CB(cborval_cb_float4, float, CBORVAL_FLOAT, f)
CBORVAL_SCALAR_CB(cborval_cb_float8, double, CBORVAL_FLOAT, f)
CBORVAL_SCALAR_CB(cborval_cb_bool, bool, CBORVAL_BOOL, b)
CBORVAL_SCALAR_CB(cborval_cb_array, size_t, CBORVAL_ARRAY, u)
CBORVAL_SCALAR_CB(cborval_cb_map, size_t, CBORVAL_MAP, u)

#define CBORVAL_SIMPLE_CB(name, kind_, indef_)                                                     \
    static inline void name(void *ctx)                                                             \
    {                                                                                              \
        struct cborval_item it = {.kind = kind_, .indef = indef_};                                 \
        ((struct cborval_sink *)ctx)->feed(ctx, &it);                                              \
    }

CBORVAL_SIMPLE_CB(cborval_cb_null, CBORVAL_NULL, false)
CBORVAL_SIMPLE_CB(cborval_cb_undef, CBORVAL_UNDEF, false)
CBORVAL_SIMPLE_CB(cborval_cb_break, CBORVAL_BREAK, false)
CBORVAL_SIMPLE_CB(cborval_cb_indef_string, CBORVAL_INDEF_STRING, true)
CBORVAL_SIMPLE_CB(cborval_cb_indef_array, CBORVAL_ARRAY, true)
CBORVAL_SIMPLE_CB(cborval_cb_indef_map, CBORVAL_MAP, true)

static inline void cborval_cb_text(void *ctx, cbor_data p, size_t len)
{
    struct cborval_item it = {.kind = CBORVAL_TEXT, .p = p, .len = len};
    ((struct cborval_sink *)ctx)->feed(ctx, &it);
}

static inline void cborval_cb_bytes(void *ctx, cbor_data p, size_t len)
{
    struct cborval_item it = {.kind = CBORVAL_BYTES, .p = p, .len = len};
    ((struct cborval_sink *)ctx)->feed(ctx, &it);
}

/* libcbor 0.8's header comments have these pairs the wrong way round: byte_string and string
 * receive definite strings, byte_string_start and string_start announce indefinite ones. A
 * half float arrives through float2 already widened to float. */
static const struct cbor_callbacks cborval_callbacks = {
    .uint8 = cborval_cb_uint8,
    .uint16 = cborval_cb_uint16,
    .uint32 = cborval_cb_uint32,
    .uint64 = cborval_cb_uint64,
    .negint8 = cborval_cb_negint8,
    .negint16 = cborval_cb_negint16,
    .negint32 = cborval_cb_negint32,
    .negint64 = cborval_cb_negint64,
    .byte_string = cborval_cb_bytes,
    .byte_string_start = cborval_cb_indef_string,
    .string = cborval_cb_text,
    .string_start = cborval_cb_indef_string,
    .array_start = cborval_cb_array,
    .indef_array_start = cborval_cb_indef_array,
    .map_start = cborval_cb_map,
    .indef_map_start = cborval_cb_indef_map,
    .tag = cborval_cb_tag,
    .float2 = cborval_cb_float4,
    .float4 = cborval_cb_float4,
    .float8 = cborval_cb_float8,
    .undefined = cborval_cb_undef,
    .null = cborval_cb_null,
    .boolean = cborval_cb_bool,
    .indef_break = cborval_cb_break,
};

#endif

/* roundtrip.h - the harness the content-format fuzz targets share (fuzz_tlv.c, fuzz_text.c, ...):
 * the first input byte picks the request path and whether the object model is used, the rest is
 * the payload. Whatever decodes must encode back in the same format, into a buffer of exactly the
 * encoded size and not one byte less, and decode again to the same records. Every broken promise
 * of codec.h aborts, so that libFuzzer reports it. Private to tests/fuzz (static functions). */
#ifndef ROUNDTRIP_H
#define ROUNDTRIP_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "gw.h"

/* Request paths chosen so that the model's types apply: strings, multiple integers, times,
 * floats, booleans, object links, opaque, execute resources, and an object the model does not
 * know. Every depth from the root to a resource instance. */
static const struct data_path rt_bases[] = {
    {.depth = 0},                        /* / */
    {.id = {3}, .depth = 1},             /* /3: Device, single instance */
    {.id = {3, 0}, .depth = 2},          /* /3/0 */
    {.id = {3, 0, 0}, .depth = 3},       /* /3/0/0: Manufacturer, String */
    {.id = {3, 0, 7}, .depth = 3},       /* /3/0/7: Power Source Voltage, multiple Integer */
    {.id = {3, 0, 7, 1}, .depth = 4},    /* /3/0/7/1 */
    {.id = {3, 0, 13}, .depth = 3},      /* /3/0/13: Current Time, Time */
    {.id = {3303}, .depth = 1},          /* /3303: Temperature, multiple instances */
    {.id = {3303, 0}, .depth = 2},       /* /3303/0 */
    {.id = {3303, 0, 5700}, .depth = 3}, /* /3303/0/5700: Sensor Value, Float */
    {.id = {1, 0}, .depth = 2},          /* /1/0: Server: Boolean, Unsigned, Objlnk, Execute */
    {.id = {1, 0, 24}, .depth = 3},      /* /1/0/24: Alternate APN Links, multiple Objlnk */
    {.id = {0, 0, 3}, .depth = 3},       /* /0/0/3: Public Key or Identity, Opaque */
    {.id = {32000, 0}, .depth = 2},      /* /32000/0: not in the model */
    {.id = {32000, 0, 1}, .depth = 3},   /* /32000/0/1 */
    {.id = {3, 0, 9}, .depth = 3},       /* /3/0/9: Battery Level, Integer */
    {.id = {1, 0, 6}, .depth = 3},       /* /1/0/6: Notification Storing, Boolean */
};
#define RT_NBASES (sizeof(rt_bases) / sizeof(rt_bases[0]))

typedef int (*rt_decode_fn)(const uint8_t *buf, size_t len, const struct codec_ctx *ctx,
                            struct data_records *out, char *err, size_t errlen);
typedef int (*rt_encode_fn)(const struct data_records *in, const struct codec_ctx *ctx,
                            uint8_t *buf, size_t cap, size_t *written, char *err, size_t errlen);

/* What the round trip may not keep, per format. */
enum rt_flags {
    /* The encoder writes records in path order (TLV groups by instance and resource): the
     * second decode is compared with the first as lists sorted by path. */
    RT_ORDER_FREE = 1 << 0,
};

struct rt_format {
    enum codec_format format;
    rt_decode_fn decode; /* NULL: codec_decode(format) */
    rt_encode_fn encode; /* NULL: codec_encode(format) */
    unsigned flags;
};

/* Everything is kept between runs, as the gateway keeps it between messages. */
static struct {
    struct model *model;
    struct data_records first, second;
    uint8_t *buf;
    size_t cap;
    const struct data_record **sa, **sb;
    size_t scap;
    char err[256];         /* the last reason a codec gave, printed when a check fails */
    struct data_path base; /* the request path of the run, printed too */
} rt;

#define RT_BUF_MAX ((size_t)64 << 20)

/* Aborts with the broken promise and the codec's last message. */
#define rt_check(cond) rt_check_at((cond), #cond, __LINE__)

static void rt_check_at(bool ok, const char *what, int line)
{
    if (ok)
        return;
    char base[32];
    if (data_path_format(&rt.base, base, sizeof(base)) < 0)
        base[0] = '\0';
    fprintf(stderr, "roundtrip.h:%d: check failed: %s (base %s, last codec message: \"%s\")\n",
            line, what, base, memchr(rt.err, '\0', sizeof(rt.err)) ? rt.err : "");
    abort();
}

static int rt_decode(const struct rt_format *f, const uint8_t *buf, size_t len,
                     const struct codec_ctx *ctx, struct data_records *out)
{
    char *err = rt.err;
    memset(err, 'x', sizeof(rt.err));
    size_t n0 = out->n;
    int rc = f->decode ? f->decode(buf, len, ctx, out, err, sizeof(rt.err))
                       : codec_decode(f->format, buf, len, ctx, out, err, sizeof(rt.err));
    if (rc < 0) {
        /* refused: with one of the codes codec.h names, the reason as text, the list as it was */
        rt_check(rc == -GW_ERR_INVALID || rc == -GW_ERR_FULL || rc == -GW_ERR_NOMEM ||
                 rc == -GW_ERR_UNSUPPORTED);
        rt_check(out->n == n0);
        if (rc == -GW_ERR_INVALID)
            rt_check(memchr(err, '\0', sizeof(rt.err)) != NULL && err[0] != '\0');
        return rc;
    }
    rt_check(rc == GW_OK);
    for (size_t i = n0; i < out->n; i++) {
        const struct data_record *r = &out->v[i];
        rt_check(r->path.depth <= GW_PATH_MAX_DEPTH);
        rt_check(data_path_contains(&ctx->base, &r->path));
        rt_check((unsigned)r->value.type <= GW_TYPE_CORELNK);
        if (r->value.type == GW_TYPE_STRING || r->value.type == GW_TYPE_OPAQUE ||
            r->value.type == GW_TYPE_CORELNK)
            rt_check(r->value.v.bytes.p != NULL || r->value.v.bytes.len == 0);
        if (r->value.type == GW_TYPE_BOOLEAN) /* the byte of a bool must be 0 or 1 */
            rt_check(*(const uint8_t *)&r->value.v.b <= 1);
    }
    return rc;
}

/* Encodes into the growing scratch buffer; returns the code and the length in *written. */
static int rt_encode(const struct rt_format *f, const struct data_records *in,
                     const struct codec_ctx *ctx, uint8_t *buf, size_t cap, size_t *written)
{
    char *err = rt.err;
    memset(err, 'x', sizeof(rt.err));
    *written = (size_t)-1;
    int rc = f->encode ? f->encode(in, ctx, buf, cap, written, err, sizeof(rt.err))
                       : codec_encode(f->format, in, ctx, buf, cap, written, err, sizeof(rt.err));
    if (rc == GW_OK)
        rt_check(*written <= cap);
    if (rc == -GW_ERR_INVALID)
        rt_check(memchr(err, '\0', sizeof(rt.err)) != NULL && err[0] != '\0');
    return rc;
}

static bool rt_value_equal(const struct data_value *a, const struct data_value *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case GW_TYPE_NONE:
        return true;
    case GW_TYPE_INTEGER:
    case GW_TYPE_TIME:
        return a->v.i == b->v.i;
    case GW_TYPE_UNSIGNED:
        return a->v.u == b->v.u;
    case GW_TYPE_FLOAT:
        return memcmp(&a->v.f, &b->v.f, sizeof(double)) == 0 || (isnan(a->v.f) && isnan(b->v.f));
    case GW_TYPE_BOOLEAN:
        return a->v.b == b->v.b;
    case GW_TYPE_OBJLNK:
        return a->v.lnk.oid == b->v.lnk.oid && a->v.lnk.iid == b->v.lnk.iid;
    case GW_TYPE_STRING:
    case GW_TYPE_OPAQUE:
    case GW_TYPE_CORELNK:
        return a->v.bytes.len == b->v.bytes.len &&
               (a->v.bytes.len == 0 || memcmp(a->v.bytes.p, b->v.bytes.p, a->v.bytes.len) == 0);
    }
    return false;
}

static bool rt_path_equal(const struct data_path *a, const struct data_path *b)
{
    return a->depth == b->depth && memcmp(a->id, b->id, a->depth * sizeof(a->id[0])) == 0;
}

/* SenML: a record without a time means "now", which is time 0 (RFC 8428 section 4.5.3), so an
 * encoder may leave out a zero time. Compared with ==, so that -0 and 0 are the same time. */
static bool rt_record_equal(const struct data_record *a, const struct data_record *b)
{
    double ta = a->has_time ? a->time : 0.0, tb = b->has_time ? b->time : 0.0;
    return rt_path_equal(&a->path, &b->path) && rt_value_equal(&a->value, &b->value) && ta == tb;
}

static int rt_path_cmp(const struct data_path *a, const struct data_path *b)
{
    uint8_t n = a->depth < b->depth ? a->depth : b->depth;
    for (uint8_t i = 0; i < n; i++)
        if (a->id[i] != b->id[i])
            return a->id[i] < b->id[i] ? -1 : 1;
    return (a->depth > b->depth) - (a->depth < b->depth);
}

static int rt_order_cmp(const void *pa, const void *pb)
{
    const struct data_record *a = *(const struct data_record *const *)pa;
    const struct data_record *b = *(const struct data_record *const *)pb;
    int c = rt_path_cmp(&a->path, &b->path);
    return c ? c : (a > b) - (a < b);
}

static void rt_sorted(const struct data_records *r, const struct data_record **out)
{
    for (size_t i = 0; i < r->n; i++)
        out[i] = &r->v[i];
    qsort(out, r->n, sizeof(*out), rt_order_cmp);
}

static void rt_compare(const struct rt_format *f, const struct data_records *a,
                       const struct data_records *b)
{
    rt_check(a->n == b->n);
    if (!(f->flags & RT_ORDER_FREE)) {
        for (size_t i = 0; i < a->n; i++)
            rt_check(rt_record_equal(&a->v[i], &b->v[i]));
        return;
    }
    if (a->n > rt.scap) {
        free(rt.sa);
        free(rt.sb);
        rt.sa = malloc(a->n * sizeof(*rt.sa));
        rt.sb = malloc(a->n * sizeof(*rt.sb));
        rt_check(rt.sa && rt.sb);
        rt.scap = a->n;
    }
    rt_sorted(a, rt.sa);
    rt_sorted(b, rt.sb);
    for (size_t i = 0; i < a->n; i++)
        rt_check(rt_record_equal(rt.sa[i], rt.sb[i]));
}

/* Bit 7 of the path byte: decode and encode without an object model (codec_ctx.model NULL). */
#define RT_NO_MODEL 0x80

/* Runs one payload at request path rt_bases[(path_byte & 0x7f) % RT_NBASES]. */
static int rt_run_payload(const struct rt_format *f, uint8_t path_byte, const uint8_t *payload,
                          size_t len)
{
    if (!rt.model) {
        rt.model = model_new();
        rt_check(rt.model != NULL);
    }
    struct codec_ctx ctx = {.base = rt_bases[(path_byte & 0x7f) % RT_NBASES],
                            .model = path_byte & RT_NO_MODEL ? NULL : rt.model};
    rt.base = ctx.base;

    data_records_reset(&rt.first);
    data_records_reset(&rt.second);
    if (rt_decode(f, payload, len, &ctx, &rt.first) < 0) {
#ifdef RT_VERBOSE /* -DRT_VERBOSE: say which seeds are refused, and why */
        fprintf(stderr, "refused: %s\n", rt.err);
#endif
        return 0;
    }
#ifdef RT_VERBOSE
    fprintf(stderr, "decoded: %zu records\n", rt.first.n);
#endif

    /* What was read must be writable in the same format: grow the buffer on -GW_ERR_FULL. */
    size_t written;
    int rc;
    for (;;) {
        if (!rt.buf) {
            rt.cap = 4096;
            rt.buf = malloc(rt.cap);
            rt_check(rt.buf != NULL);
        }
        rc = rt_encode(f, &rt.first, &ctx, rt.buf, rt.cap, &written);
        if (rc != -GW_ERR_FULL || rt.cap >= RT_BUF_MAX)
            break;
        free(rt.buf);
        rt.cap *= 4;
        rt.buf = malloc(rt.cap);
        rt_check(rt.buf != NULL);
    }
    rt_check(rc == GW_OK);

    /* Exactly `written` bytes are enough (AddressSanitizer sees a write past them), and one byte
     * less is reported as -GW_ERR_FULL, never overrun. */
    uint8_t *exact = malloc(written ? written : 1);
    rt_check(exact != NULL);
    size_t again;
    rt_check(rt_encode(f, &rt.first, &ctx, exact, written, &again) == GW_OK);
    rt_check(again == written && memcmp(exact, rt.buf, written) == 0);
    if (written > 0) {
        uint8_t *small = malloc(written - 1 ? written - 1 : 1);
        rt_check(small != NULL);
        rt_check(rt_encode(f, &rt.first, &ctx, small, written - 1, &again) == -GW_ERR_FULL);
        free(small);
    }

    /* And what was written reads back as the same records. */
    rt_check(rt_decode(f, exact, written, &ctx, &rt.second) == GW_OK);
    rt_compare(f, &rt.first, &rt.second);
    free(exact);
    return 0;
}

/* The fuzz entry: byte 0 chooses the request path and the model, the rest is the payload in
 * format `f`. */
static inline int rt_run(const struct rt_format *f, const uint8_t *data, size_t size)
{
    return size ? rt_run_payload(f, data[0], data + 1, size - 1) : 0;
}

#endif

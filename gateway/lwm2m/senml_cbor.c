/* senml_cbor.c - SenML CBOR (RFC 8428 section 6, content format 112) as LwM2M 1.1 uses it:
 * an array of maps with integer labels, plus LwM2M's text label "vlo" for object links.
 * Decoding drives libcbor's streaming decoder item by item with an explicit stack of at most
 * GW_CODEC_MAX_DEPTH frames, so a message allocates nothing beyond its records and no input
 * can make it recurse; encoding writes with libcbor's buffer encoders into the caller's buffer. */
#include <cbor.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cborval.h"
#include "codec.h"
#include "gw.h"

#define NAME_MAX_LEN 64 /* bn + n; the longest LwM2M path, /65535/65535/65535/65535, is 24 */

/* ---- decoding ---- */

/* The SenML labels this decoder knows (RFC 8428 table 4, plus LwM2M's "vlo"), and L_IGNORED
 * for an unknown positive or text label, which may be ignored. Names are in the same order. */
enum label {
    L_BVER,
    L_BN,
    L_BT,
    L_BU,
    L_BV,
    L_BS,
    L_N,
    L_U,
    L_V,
    L_VS,
    L_VB,
    L_S,
    L_T,
    L_UT,
    L_VD,
    L_VLO,
    L_IGNORED
};

static const char *const label_names[] = {"bver",
                                          "bn",
                                          "bt",
                                          "bu",
                                          "bv",
                                          "bs",
                                          "n",
                                          "u",
                                          "v",
                                          "vs",
                                          "vb",
                                          "s",
                                          "t",
                                          "ut",
                                          "vd",
                                          "vlo",
                                          "an ignored label"};

_Static_assert(GW_ARRAY_LEN(label_names) == L_IGNORED + 1, "one name per label");

enum frame_kind { FR_PACK, FR_RECORD, FR_SKIP };

struct frame {
    enum frame_kind kind;
    bool is_map;
    bool indef;
    uint64_t left;  /* items still to come (keys and values count apart in a map) */
    uint64_t count; /* items seen; in a map, odd while a key waits for its value */
};

struct decoder {
    /* first: libcbor's callbacks reach feed() through it */
    /* cppcheck-suppress unusedStructMember */
    struct cborval_sink sink;
    const struct codec_ctx *ctx;
    struct data_records *out;
    char *err;
    size_t errlen;
    int rc;
    size_t off;   /* payload offset of the item being handled */
    size_t len;   /* payload length */
    bool done;    /* the top-level array is complete */
    bool magic;   /* the self-describe tag 55799 was seen */
    size_t recno; /* 0-based index of the record being read */
    struct frame stack[GW_CODEC_MAX_DEPTH];
    unsigned depth;

    /* base values, carried from record to record */
    const uint8_t *bn;
    size_t bn_len;
    double bt, bv;
    bool has_bt, has_bv;

    /* the record being read */
    uint32_t seen;     /* bit per enum label */
    enum label key;    /* label of the value that comes next */
    enum label vlabel; /* which value label the record holds, L_IGNORED for none */
    struct cborval_item val;
    const uint8_t *n;
    size_t n_len;
    double t;
};

static void fail(struct decoder *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct decoder *d, const char *fmt, ...)
{
    if (d->rc)
        return;
    d->rc = -GW_ERR_INVALID;
    if (d->err && d->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->err, d->errlen, fmt, ap);
        va_end(ap);
    }
}

static bool is_number(const struct cborval_item *it)
{
    return it->kind == CBORVAL_UINT || it->kind == CBORVAL_NEGINT || it->kind == CBORVAL_FLOAT;
}

static double number_of(const struct cborval_item *it)
{
    if (it->kind == CBORVAL_UINT)
        return (double)it->u;
    /* -1 - u in integers first: in doubles, an odd u above 2^53 would round before the
     * subtraction and land one off from what the encoder wrote. */
    if (it->kind == CBORVAL_NEGINT)
        return it->u <= INT64_MAX ? (double)(-1 - (int64_t)it->u) : -1.0 - (double)it->u;
    return it->f;
}

static void start_record(struct decoder *d)
{
    d->seen = 0;
    d->vlabel = L_IGNORED;
    d->n = NULL;
    d->n_len = 0;
    d->t = 0;
}

/* Builds the record from what the map held and appends it. */
static void finish_record(struct decoder *d)
{
    bool has_n = d->seen & (1u << L_N);
    bool has_value = d->vlabel != L_IGNORED;
    size_t rec = d->recno++;
    /* A record with neither name nor value only sets base fields for the ones after it. */
    if (!has_n && !has_value)
        return;

    char name[NAME_MAX_LEN];
    if (d->bn_len + d->n_len > sizeof(name)) {
        fail(d, "record %zu: name is longer than %d bytes", rec, NAME_MAX_LEN);
        return;
    }
    if (d->bn_len)
        memcpy(name, d->bn, d->bn_len);
    if (d->n_len)
        memcpy(name + d->bn_len, d->n, d->n_len);
    size_t name_len = d->bn_len + d->n_len;

    struct data_path path;
    if (data_path_parse(name, name_len, &path) < 0) {
        fail(d, "record %zu: name '%.*s' is not an LwM2M path", rec, (int)name_len, name);
        return;
    }
    if (!data_path_contains(&d->ctx->base, &path)) {
        char base[32];
        if (data_path_format(&d->ctx->base, base, sizeof(base)) < 0)
            base[0] = '\0';
        fail(d, "record %zu: %.*s is outside the request path %s", rec, (int)name_len, name, base);
        return;
    }
    if (has_value && path.depth < 3) {
        fail(d, "record %zu: a value needs a resource path, got %.*s", rec, (int)name_len, name);
        return;
    }

    enum data_type want = d->ctx->model ? model_type(d->ctx->model, &path) : GW_TYPE_NONE;
    struct data_value v = {.type = GW_TYPE_NONE};
    const struct cborval_item *it = &d->val;
    switch (d->vlabel) {
    case L_V:
        if (it->kind == CBORVAL_UINT) {
            cborval_from_uint(&v, it->u);
        } else if (it->kind == CBORVAL_NEGINT) {
            if (it->u > (uint64_t)INT64_MAX) {
                fail(d, "record %zu: integer v is below -2^63", rec);
                return;
            }
            v.type = GW_TYPE_INTEGER;
            v.v.i = -1 - (int64_t)it->u;
        } else {
            v.type = GW_TYPE_FLOAT;
            v.v.f = it->f;
        }
        if (d->has_bv && d->bv != 0) {
            /* RFC 8428 4.5.1: the base value is added; the sum is kept as a float. */
            double sum = number_of(it) + d->bv;
            if (!isfinite(sum)) {
                fail(d, "record %zu: bv + v is not a finite number", rec);
                return;
            }
            v.type = GW_TYPE_FLOAT;
            v.v.f = sum;
        }
        cborval_type_number(&v, want);
        break;
    case L_VS:
        v.type = want == GW_TYPE_CORELNK ? GW_TYPE_CORELNK : GW_TYPE_STRING;
        v.v.bytes.p = it->p;
        v.v.bytes.len = it->len;
        break;
    case L_VB:
        v.type = GW_TYPE_BOOLEAN;
        v.v.b = it->b;
        break;
    case L_VD:
        v.type = GW_TYPE_OPAQUE;
        v.v.bytes.p = it->p;
        v.v.bytes.len = it->len;
        break;
    case L_VLO:
        if (cborval_objlnk_parse(it->p, it->len, &v) < 0) {
            fail(d, "record %zu: vlo '%.*s' is not oid:iid", rec,
                 (int)(it->len > 32 ? 32 : it->len), (const char *)it->p);
            return;
        }
        break;
    default:
        break;
    }

    bool has_time = d->has_bt || (d->seen & (1u << L_T));
    double time = (d->has_bt ? d->bt : 0) + d->t;
    if (has_time && !isfinite(time)) {
        fail(d, "record %zu: bt + t is not a finite time", rec);
        return;
    }
    int rc = data_records_add(d->out, &path, &v, has_time, time);
    if (rc < 0)
        d->rc = gw_fail(rc, d->err, d->errlen, "record %zu: %s", rec,
                        rc == -GW_ERR_FULL ? "too many records" : "out of memory");
}

/* Pushes an array or map. Its item count is checked against the bytes left, which also keeps
 * the count far from overflow: every item takes at least one byte. */
static void push(struct decoder *d, enum frame_kind kind, const struct cborval_item *it)
{
    if (d->depth == GW_CODEC_MAX_DEPTH) {
        fail(d, "offset %zu: nesting deeper than %d", d->off, GW_CODEC_MAX_DEPTH);
        return;
    }
    uint64_t left = 0;
    if (!it->indef) {
        uint64_t avail = d->len - d->off;
        uint64_t per = it->kind == CBORVAL_MAP ? 2 : 1;
        if (it->u > avail / per) {
            fail(d, "offset %zu: truncated: %s of %" PRIu64 " entries in %zu bytes", d->off,
                 it->kind == CBORVAL_MAP ? "map" : "array", it->u, d->len - d->off);
            return;
        }
        left = it->u * per;
    }
    d->stack[d->depth++] = (struct frame){
        .kind = kind, .is_map = it->kind == CBORVAL_MAP, .indef = it->indef, .left = left};
}

/* Pops the top frame; a finished record is appended. Returns false on error. */
static bool close_frame(struct decoder *d)
{
    enum frame_kind kind = d->stack[--d->depth].kind;
    if (kind == FR_RECORD)
        finish_record(d);
    else if (kind == FR_PACK)
        d->done = true;
    return d->rc == 0;
}

/* One item of the top frame is complete; closes every frame that this completes in turn. */
static void consume(struct decoder *d)
{
    while (d->depth > 0) {
        struct frame *f = &d->stack[d->depth - 1];
        f->count++;
        if (f->indef || --f->left > 0)
            return;
        if (!close_frame(d))
            return;
    }
}

/* Opens a frame for a container item and closes it at once when it is empty. */
static void open_container(struct decoder *d, enum frame_kind kind, const struct cborval_item *it)
{
    push(d, kind, it);
    if (d->rc == 0 && !it->indef && it->u == 0 && close_frame(d))
        consume(d);
}

static void on_key(struct decoder *d, const struct cborval_item *it)
{
    enum label l = L_IGNORED;
    if (it->kind == CBORVAL_UINT) {
        static const enum label pos[] = {L_N, L_U, L_V, L_VS, L_VB, L_S, L_T, L_UT, L_VD};
        if (it->u < GW_ARRAY_LEN(pos))
            l = pos[it->u];
    } else if (it->kind == CBORVAL_NEGINT) {
        static const enum label neg[] = {L_BVER, L_BN, L_BT, L_BU, L_BV, L_BS};
        if (it->u >= GW_ARRAY_LEN(neg)) {
            /* Base fields change how later records read, so an unknown one cannot be skipped. */
            fail(d, "record %zu: unknown base label %s%" PRIu64 " must be understood", d->recno,
                 it->u == UINT64_MAX ? "-1-" : "-", it->u == UINT64_MAX ? it->u : it->u + 1);
            return;
        }
        l = neg[it->u];
    } else if (it->kind == CBORVAL_TEXT) {
        if (it->len == 3 && memcmp(it->p, "vlo", 3) == 0) {
            l = L_VLO;
        } else if (it->len > 0 && it->p[it->len - 1] == '_') {
            fail(d, "record %zu: label '%.*s' must be understood (RFC 8428 4.4)", d->recno,
                 (int)(it->len > 32 ? 32 : it->len), (const char *)it->p);
            return;
        }
    } else {
        fail(d, "record %zu: a label must be an integer or text, got %s", d->recno,
             cborval_item_names[it->kind]);
        return;
    }
    if (l != L_IGNORED) {
        if (d->seen & (1u << l)) {
            fail(d, "record %zu: label %s appears twice", d->recno, label_names[l]);
            return;
        }
        d->seen |= 1u << l;
    }
    d->key = l;
    consume(d);
}

static void on_value(struct decoder *d, const struct cborval_item *it)
{
    enum label l = d->key;
    if (it->kind == CBORVAL_ARRAY || it->kind == CBORVAL_MAP) {
        if (l == L_IGNORED) {
            open_container(d, FR_SKIP, it);
            return;
        }
        fail(d, "record %zu: %s must not be %s", d->recno, label_names[l],
             cborval_item_names[it->kind]);
        return;
    }
    if (it->kind == CBORVAL_FLOAT && !isfinite(it->f) && l != L_IGNORED) {
        fail(d, "record %zu: %s is a non-finite float", d->recno, label_names[l]);
        return;
    }
    const char *want = NULL;
    switch (l) {
    case L_BVER:
        if (it->kind != CBORVAL_UINT && it->kind != CBORVAL_NEGINT)
            want = "an integer";
        break;
    case L_BN:
    case L_N:
    case L_VS:
    case L_VLO:
        if (it->kind != CBORVAL_TEXT)
            want = "a text string";
        else if (!gw_utf8_valid(it->p, it->len))
            want = "valid UTF-8";
        else if (l == L_BN) {
            d->bn = it->p;
            d->bn_len = it->len;
        } else if (l == L_N) {
            d->n = it->p;
            d->n_len = it->len;
        }
        break;
    case L_BT:
    case L_BV:
    case L_T:
    case L_V:
        if (!is_number(it))
            want = "a number";
        else if (l == L_BT) {
            d->bt = number_of(it);
            d->has_bt = true;
        } else if (l == L_BV) {
            d->bv = number_of(it);
            d->has_bv = true;
        } else if (l == L_T) {
            d->t = number_of(it);
        }
        break;
    case L_VB:
        if (it->kind != CBORVAL_BOOL)
            want = "a boolean";
        break;
    case L_VD:
        if (it->kind != CBORVAL_BYTES)
            want = "a byte string";
        break;
    default: /* bu, bs, u, s, ut and unknown labels: not used by LwM2M, skipped */
        break;
    }
    if (want) {
        fail(d, "record %zu: %s must be %s, got %s", d->recno, label_names[l], want,
             cborval_item_names[it->kind]);
        return;
    }
    if (l == L_V || l == L_VS || l == L_VB || l == L_VD || l == L_VLO) {
        if (d->vlabel != L_IGNORED) {
            fail(d, "record %zu: two values (%s and %s)", d->recno, label_names[d->vlabel],
                 label_names[l]);
            return;
        }
        d->vlabel = l;
        d->val = *it;
    }
    consume(d);
}

/* True while the items coming belong to the value of a label that is ignored. */
static bool skipping(const struct decoder *d)
{
    if (d->depth == 0)
        return false;
    const struct frame *f = &d->stack[d->depth - 1];
    return f->kind == FR_SKIP || (f->kind == FR_RECORD && (f->count & 1) && d->key == L_IGNORED);
}

/* Every libcbor callback lands here with one decoded item. */
static void feed(void *ctx, const struct cborval_item *it)
{
    struct decoder *d = ctx;
    if (d->rc)
        return;
    if (it->kind == CBORVAL_TAG) {
        /* Only the self-describe tag, and only in front of the whole pack: SenML uses none. */
        if (d->depth == 0 && !d->magic && it->u == 55799) {
            d->magic = true;
            return;
        }
        if (skipping(d))
            return; /* ignored along with the value it tags */
        fail(d, "offset %zu: tag %" PRIu64 " is not accepted in SenML CBOR", d->off, it->u);
        return;
    }
    if (it->kind == CBORVAL_INDEF_STRING) {
        if (skipping(d)) {
            open_container(d, FR_SKIP, it); /* its chunks are skipped up to the break */
            return;
        }
        fail(d, "offset %zu: indefinite-length strings are not supported", d->off);
        return;
    }
    if (it->kind == CBORVAL_BREAK) {
        if (d->depth == 0 || !d->stack[d->depth - 1].indef) {
            fail(d, "offset %zu: break outside an indefinite-length array or map", d->off);
            return;
        }
        const struct frame *f = &d->stack[d->depth - 1];
        if (f->is_map && (f->count & 1)) {
            fail(d, "offset %zu: map ends after a key, before its value", d->off);
            return;
        }
        if (close_frame(d))
            consume(d);
        return;
    }
    if (d->depth == 0) {
        if (it->kind != CBORVAL_ARRAY) {
            fail(d, "SenML CBOR must be an array of records, got %s", cborval_item_names[it->kind]);
            return;
        }
        open_container(d, FR_PACK, it);
        return;
    }
    switch (d->stack[d->depth - 1].kind) {
    case FR_PACK:
        if (it->kind != CBORVAL_MAP) {
            fail(d, "record %zu is not a map but %s", d->recno, cborval_item_names[it->kind]);
            return;
        }
        start_record(d);
        open_container(d, FR_RECORD, it);
        return;
    case FR_RECORD:
        if (d->stack[d->depth - 1].count & 1)
            on_value(d, it);
        else
            on_key(d, it);
        return;
    case FR_SKIP:
        if (it->kind == CBORVAL_ARRAY || it->kind == CBORVAL_MAP)
            open_container(d, FR_SKIP, it);
        else
            consume(d);
        return;
    }
}

int senml_cbor_decode(const uint8_t *buf, size_t len, const struct codec_ctx *ctx,
                      struct data_records *out, char *err, size_t errlen)
{
    struct decoder d = {
        .sink = {feed}, .ctx = ctx, .out = out, .err = err, .errlen = errlen, .len = len};
    size_t first = out->n;
    size_t off = 0;
    if (err && errlen)
        err[0] = '\0';
    if (len == 0) {
        fail(&d, "empty payload: SenML CBOR needs an array");
        goto out;
    }
    while (off < len && !d.done) {
        d.off = off;
        struct cbor_decoder_result r =
            cbor_stream_decode(buf + off, len - off, &cborval_callbacks, &d);
        if (d.rc)
            goto out;
        if (r.status == CBOR_DECODER_NEDATA) {
            fail(&d, "offset %zu: truncated: the item needs %zu bytes, %zu are left", off,
                 r.required, len - off);
            goto out;
        }
        if (r.status != CBOR_DECODER_FINISHED) {
            fail(&d, "offset %zu: malformed or unsupported CBOR (initial byte 0x%02x)", off,
                 buf[off]);
            goto out;
        }
        off += r.read;
    }
    if (!d.done)
        fail(&d, "offset %zu: truncated: the payload ends inside the array", off);
    else if (off < len)
        fail(&d, "offset %zu: %zu trailing bytes after the array", off, len - off);
out:
    if (d.rc) /* drop what this call appended; the arena is reclaimed by reset */
        data_records_truncate(out, first);
    return d.rc;
}

/* ---- encoding ---- */

static bool same_path(const struct data_path *a, const struct data_path *b)
{
    return a->depth == b->depth && memcmp(a->id, b->id, a->depth * sizeof(a->id[0])) == 0;
}

/* Appends the decimal ids p->id[from..depth) joined by '/' to `s`, returning the new length.
 * `s` has room for the longest path. */
static size_t put_ids(char *s, size_t n, const struct data_path *p, unsigned from)
{
    for (unsigned i = from; i < p->depth; i++) {
        if (i > from)
            s[n++] = '/';
        char digits[5];
        size_t k = 0;
        unsigned v = p->id[i];
        do {
            digits[k++] = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        while (k)
            s[n++] = digits[--k];
    }
    return n;
}

/* Checks that every record can be written: inside ctx->base, a type SenML carries, a finite
 * float or time, UTF-8 text. */
static int check_records(const struct data_records *in, const struct codec_ctx *ctx, char *err,
                         size_t errlen)
{
    for (size_t i = 0; i < in->n; i++) {
        const struct data_record *r = &in->v[i];
        const struct data_value *v = &r->value;
        const char *why = NULL;
        if (!data_path_contains(&ctx->base, &r->path))
            why = "is outside the request path";
        else if (v->type != GW_TYPE_NONE && r->path.depth < 3)
            why = ": a value needs a resource path";
        else if (r->has_time && !isfinite(r->time))
            why = ": time is not finite";
        else if (v->type == GW_TYPE_FLOAT && !isfinite(v->v.f))
            why = ": a non-finite float";
        else if ((v->type == GW_TYPE_STRING || v->type == GW_TYPE_CORELNK) &&
                 !gw_utf8_valid(v->v.bytes.p, v->v.bytes.len))
            why = ": text is not valid UTF-8";
        else if (v->type > GW_TYPE_CORELNK)
            why = ": no SenML form for its type";
        if (!why)
            continue;
        /* The path is formatted only for the message: encoding a good list costs no printf. */
        char p[32];
        if (data_path_format(&r->path, p, sizeof(p)) < 0)
            p[0] = '\0';
        return gw_fail(-GW_ERR_INVALID, err, errlen, "record %zu (%s)%s%s", i, p,
                       why[0] == ':' ? "" : " ", why);
    }
    return GW_OK;
}

static void put_value(struct cborval_out *o, const struct data_value *v)
{
    switch (v->type) {
    case GW_TYPE_INTEGER:
    case GW_TYPE_TIME:
        cborval_put_uint(o, 2);
        cborval_put_int(o, v->v.i);
        break;
    case GW_TYPE_UNSIGNED:
        cborval_put_uint(o, 2);
        cborval_put_uint(o, v->v.u);
        break;
    case GW_TYPE_FLOAT:
        cborval_put_uint(o, 2);
        cborval_put_float(o, v->v.f);
        break;
    case GW_TYPE_STRING:
    case GW_TYPE_CORELNK:
        cborval_put_uint(o, 3);
        cborval_put_text(o, v->v.bytes.p, v->v.bytes.len);
        break;
    case GW_TYPE_BOOLEAN:
        cborval_put_uint(o, 4);
        cborval_put_bool(o, v->v.b);
        break;
    case GW_TYPE_OPAQUE:
        cborval_put_uint(o, 8);
        cborval_put_bytes(o, v->v.bytes.p, v->v.bytes.len);
        break;
    case GW_TYPE_OBJLNK:
        cborval_put_text(o, "vlo", 3);
        cborval_put_objlnk(o, v->v.lnk.oid, v->v.lnk.iid);
        break;
    default:
        break;
    }
}

int senml_cbor_encode(const struct data_records *in, const struct codec_ctx *ctx, uint8_t *buf,
                      size_t cap, size_t *written, char *err, size_t errlen)
{
    *written = 0;
    int rc = check_records(in, ctx, err, errlen);
    if (rc < 0)
        return rc;

    /* The base name: the longest path every record lies under. When all records name the same
     * resource and carry values, bn is that full path and no record needs n (TS Core 7.4.4's
     * single-resource example). Otherwise bn ends in '/' and stops one level above the
     * shallowest record, so every n is non-empty and bn + n always parses as a path. */
    struct data_path pre = in->n ? in->v[0].path : ctx->base;
    bool same = true;
    unsigned shallowest = GW_PATH_MAX_DEPTH;
    for (size_t i = 0; i < in->n; i++) {
        const struct data_path *p = &in->v[i].path;
        unsigned k = 0;
        while (k < pre.depth && k < p->depth && pre.id[k] == p->id[k])
            k++;
        pre.depth = (uint8_t)k;
        if (!same_path(p, &in->v[0].path) || in->v[i].value.type == GW_TYPE_NONE)
            same = false;
        if (p->depth < shallowest)
            shallowest = p->depth;
    }
    if (in->n && same)
        pre = in->v[0].path;
    else if (in->n && pre.depth >= shallowest)
        pre.depth = (uint8_t)(shallowest ? shallowest - 1 : 0);

    char bn[32];
    size_t bn_len = 1;
    bn[0] = '/';
    bn_len = put_ids(bn, bn_len, &pre, 0);
    if (!(in->n && same) && pre.depth > 0)
        bn[bn_len++] = '/';

    struct cborval_out o = {.buf = buf, .cap = cap};
    if (cborval_room(&o))
        cborval_wrote(&o, cbor_encode_array_start(in->n, o.buf + o.len, o.cap - o.len));
    for (size_t i = 0; i < in->n && !o.full; i++) {
        const struct data_record *r = &in->v[i];
        char n[32];
        size_t n_len = same ? 0 : put_ids(n, 0, &r->path, pre.depth);
        bool has_n = !same;
        size_t pairs = (i == 0) + has_n + (r->value.type != GW_TYPE_NONE) + r->has_time;
        if (cborval_room(&o))
            cborval_wrote(&o, cbor_encode_map_start(pairs, o.buf + o.len, o.cap - o.len));
        if (i == 0) {
            cborval_put_int(&o, -2);
            cborval_put_text(&o, bn, bn_len);
        }
        if (has_n) {
            cborval_put_uint(&o, 0);
            cborval_put_text(&o, n, n_len);
        }
        put_value(&o, &r->value);
        if (r->has_time) {
            cborval_put_uint(&o, 6);
            cborval_put_number(&o, r->time);
        }
    }
    if (o.full)
        return -GW_ERR_FULL;
    *written = o.len;
    return GW_OK;
}

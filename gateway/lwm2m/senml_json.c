/* senml_json.c - SenML JSON (RFC 8428, content format 110) as LwM2M 1.1+ uses it: records whose
 * base name + name is an LwM2M path, base values carried over, time = bt + t, values typed by the
 * object model where it knows the resource and by the JSON otherwise. jansson parses (one whole
 * document, no duplicate keys, bounded depth); the encoder writes into the caller's buffer. Also
 * the JSON plumbing oma_json.c shares (senml_json_internal.h). */
#include "senml_json_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"

/* SenML version this decoder understands (RFC 8428 section 4.4: bver defaults to 10). */
#define SENML_VERSION 10

/* Longest bn + n that can still be an LwM2M path ("/65535/65535/65535/65535" is 24). */
#define NAME_MAX_LEN 48

/* ---- parsing ---- */

int senml_json_load(const uint8_t *buf, size_t len, json_t **out, char *err, size_t errlen)
{
    /* jansson recurses once per level (up to its own 2048): refuse deep input before it builds
     * anything. Brackets inside strings do not count. */
    size_t depth = 0;
    bool in_string = false, escaped = false;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = buf[i];
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > GW_CODEC_MAX_DEPTH)
                return gw_fail(-GW_ERR_INVALID, err, errlen,
                               "JSON nested deeper than %d levels at offset %zu",
                               GW_CODEC_MAX_DEPTH, i);
        } else if ((c == ']' || c == '}') && depth) {
            depth--;
        }
    }
    json_error_t je;
    *out = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    if (*out)
        return GW_OK;
    if (json_error_code(&je) == json_error_out_of_memory)
        return gw_fail(-GW_ERR_NOMEM, err, errlen, "out of memory parsing JSON");
    return gw_fail(-GW_ERR_INVALID, err, errlen, "invalid JSON at line %d, column %d: %s", je.line,
                   je.column, je.text);
}

const char *senml_json_kind_name(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

/* ---- base64 ---- */

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64_digit(uint8_t c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

static int scratch_reserve(struct senml_json_scratch *s, size_t n)
{
    if (n <= s->cap)
        return GW_OK;
    size_t cap = s->cap ? s->cap : 256;
    while (cap < n)
        cap *= 2;
    uint8_t *p = realloc(s->p, cap);
    if (!p)
        return -GW_ERR_NOMEM;
    s->p = p;
    s->cap = cap;
    return GW_OK;
}

int senml_json_base64_decode(const char *text, size_t len, struct senml_json_scratch *s,
                             size_t *outlen, char *why, size_t whylen)
{
    size_t data = len;
    while (data > 0 && text[data - 1] == '=' && len - data < 2)
        data--;
    if (data != len && len % 4 != 0)
        return gw_fail(-GW_ERR_INVALID, why, whylen, "base64 padding does not complete a quantum");
    if (data % 4 == 1)
        return gw_fail(-GW_ERR_INVALID, why, whylen, "base64 length %zu is impossible", data);
    if (scratch_reserve(s, data / 4 * 3 + 3) < 0)
        return -GW_ERR_NOMEM;
    uint32_t acc = 0;
    size_t n = 0;
    for (size_t i = 0; i < data; i++) {
        int d = b64_digit((uint8_t)text[i]);
        if (d < 0)
            return gw_fail(-GW_ERR_INVALID, why, whylen, "not base64: character %zu is '%c'", i,
                           text[i] >= 0x20 && text[i] < 0x7f ? text[i] : '?');
        acc = acc << 6 | (uint32_t)d;
        if (i % 4 == 3) {
            s->p[n++] = (uint8_t)(acc >> 16);
            s->p[n++] = (uint8_t)(acc >> 8);
            s->p[n++] = (uint8_t)acc;
            acc = 0;
        }
    }
    if (data % 4 == 2) {
        s->p[n++] = (uint8_t)(acc >> 4);
    } else if (data % 4 == 3) {
        s->p[n++] = (uint8_t)(acc >> 10);
        s->p[n++] = (uint8_t)(acc >> 2);
    }
    *outlen = n;
    return GW_OK;
}

/* ---- typing a JSON value ---- */

/* "oid:iid", each 0..65535 in decimal, nothing else. */
static bool parse_objlnk(const char *s, size_t len, uint16_t *oid, uint16_t *iid)
{
    uint32_t v[2] = {0, 0};
    size_t part = 0, digits = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == ':' && part == 0 && digits) {
            part = 1;
            digits = 0;
        } else if (s[i] >= '0' && s[i] <= '9' && digits < 5) {
            v[part] = v[part] * 10 + (uint32_t)(s[i] - '0');
            digits++;
        } else {
            return false;
        }
    }
    if (part != 1 || !digits || v[0] > 65535 || v[1] > 65535)
        return false;
    *oid = (uint16_t)v[0];
    *iid = (uint16_t)v[1];
    return true;
}

static int number_value(const char *field, const json_t *j, const json_t *bv, enum data_type want,
                        struct data_value *out, char *why, size_t whylen)
{
    struct data_value num = {.type = GW_TYPE_INTEGER};
    int64_t sum;
    if (json_is_integer(j) && (!bv || json_is_integer(bv)) &&
        !__builtin_add_overflow(json_integer_value(j), bv ? json_integer_value(bv) : 0, &sum)) {
        num.v.i = sum;
    } else {
        num.type = GW_TYPE_FLOAT;
        num.v.f = json_number_value(j); /* not + 0.0, which would turn -0.0 into 0.0 */
        if (bv)
            num.v.f += json_number_value(bv);
        if (!isfinite(num.v.f))
            return gw_fail(-GW_ERR_INVALID, why, whylen, "%s%s is not a finite number", field,
                           bv ? " + bv" : "");
    }
    switch (want) {
    case GW_TYPE_NONE:
        *out = num;
        return GW_OK;
    case GW_TYPE_INTEGER:
    case GW_TYPE_UNSIGNED:
    case GW_TYPE_TIME:
    case GW_TYPE_FLOAT: {
        int rc = data_value_convert(&num, want, out, why, whylen);
        /* jansson reads integers as int64_t: an Unsigned above INT64_MAX arrives only as a real
         * here, and the integer it is written back as could not be read again. */
        if (rc == GW_OK && out->type == GW_TYPE_UNSIGNED && out->v.u > (uint64_t)INT64_MAX)
            return gw_fail(-GW_ERR_INVALID, why, whylen,
                           "%s is above 9223372036854775807, the largest integer read here", field);
        return rc;
    }
    default:
        return gw_fail(-GW_ERR_INVALID, why, whylen, "a number (%s) where the model says %s", field,
                       data_type_name(want));
    }
}

int senml_json_value(enum senml_json_kind kind, const char *field, const json_t *j,
                     const json_t *base_value, enum data_type want, struct senml_json_scratch *s,
                     struct data_value *out, char *why, size_t whylen)
{
    memset(out, 0, sizeof(*out));
    if (kind == GW_JSON_NUMBER) {
        if (!json_is_number(j))
            return gw_fail(-GW_ERR_INVALID, why, whylen, "%s must be a number, not %s", field,
                           senml_json_kind_name(j));
        return number_value(field, j, base_value, want, out, why, whylen);
    }
    if (kind == GW_JSON_BOOLEAN) {
        if (!json_is_boolean(j))
            return gw_fail(-GW_ERR_INVALID, why, whylen, "%s must be true or false, not %s", field,
                           senml_json_kind_name(j));
        if (want != GW_TYPE_NONE && want != GW_TYPE_BOOLEAN)
            return gw_fail(-GW_ERR_INVALID, why, whylen, "a boolean (%s) where the model says %s",
                           field, data_type_name(want));
        out->type = GW_TYPE_BOOLEAN;
        out->v.b = json_is_true(j);
        return GW_OK;
    }
    if (!json_is_string(j))
        return gw_fail(-GW_ERR_INVALID, why, whylen, "%s must be a string, not %s", field,
                       senml_json_kind_name(j));
    const char *text = json_string_value(j);
    size_t len = json_string_length(j);
    enum data_type got;
    switch (kind) {
    case GW_JSON_STRING:
    case GW_JSON_STRING_B64:
        if (want == GW_TYPE_NONE || want == GW_TYPE_STRING || want == GW_TYPE_CORELNK) {
            got = want == GW_TYPE_CORELNK ? GW_TYPE_CORELNK : GW_TYPE_STRING;
            break;
        }
        if (want == GW_TYPE_OPAQUE && kind == GW_JSON_STRING_B64) {
            kind = GW_JSON_DATA;
            got = GW_TYPE_OPAQUE;
            break;
        }
        return gw_fail(-GW_ERR_INVALID, why, whylen, "a string (%s) where the model says %s", field,
                       data_type_name(want));
    case GW_JSON_DATA:
        if (want != GW_TYPE_NONE && want != GW_TYPE_OPAQUE)
            return gw_fail(-GW_ERR_INVALID, why, whylen, "opaque data (%s) where the model says %s",
                           field, data_type_name(want));
        got = GW_TYPE_OPAQUE;
        break;
    default: /* GW_JSON_OBJLNK */
        if (want != GW_TYPE_NONE && want != GW_TYPE_OBJLNK)
            return gw_fail(-GW_ERR_INVALID, why, whylen,
                           "an object link (%s) where the model says %s", field,
                           data_type_name(want));
        if (!parse_objlnk(text, len, &out->v.lnk.oid, &out->v.lnk.iid))
            return gw_fail(-GW_ERR_INVALID, why, whylen,
                           "%s \"%.*s\" is not an object link oid:iid", field,
                           (int)(len > 24 ? 24 : len), text);
        out->type = GW_TYPE_OBJLNK;
        return GW_OK;
    }
    out->type = got;
    if (kind == GW_JSON_DATA) {
        size_t n = 0;
        char inner[96];
        int rc = senml_json_base64_decode(text, len, s, &n, inner, sizeof(inner));
        if (rc == -GW_ERR_INVALID)
            return gw_fail(rc, why, whylen, "%s: %s", field, inner);
        if (rc < 0)
            return rc;
        out->v.bytes.p = s->p;
        out->v.bytes.len = n;
        return GW_OK;
    }
    out->v.bytes.p = (const uint8_t *)text;
    out->v.bytes.len = len;
    return GW_OK;
}

/* ---- writing ---- */

void senml_json_put(struct senml_json_out *o, const char *s, size_t n)
{
    if (o->full || n > o->cap - o->len) {
        o->full = true;
        return;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

void senml_json_puts(struct senml_json_out *o, const char *s)
{
    senml_json_put(o, s, strlen(s));
}

int senml_json_put_string(struct senml_json_out *o, const uint8_t *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    senml_json_put(o, "\"", 1);
    size_t run = 0; /* bytes copied as they are, flushed in one piece */
    for (size_t i = 0; i < n;) {
        uint8_t c = p[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            /* ASCII is judged here: a call per byte made JSON strings slower (measured) */
            size_t l = c < 0x80 ? 1 : gw_utf8_next(p + i, n - i, NULL);
            if (!l)
                return -GW_ERR_INVALID;
            i += l;
            run += l;
            continue;
        }
        senml_json_put(o, (const char *)p + i - run, run);
        run = 0;
        char esc[7] = {'\\', (char)c, 0};
        size_t el = 2;
        switch (c) {
        case '"':
        case '\\':
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            el = 6;
        }
        senml_json_put(o, esc, el);
        i++;
    }
    senml_json_put(o, (const char *)p + n - run, run);
    senml_json_put(o, "\"", 1);
    return GW_OK;
}

void senml_json_put_double(struct senml_json_out *o, double d, bool keep_real)
{
    char tmp[GW_DOUBLE_MAX];
    senml_json_put(o, tmp, gw_format_double(tmp, d, keep_real));
}

static void put_base64(struct senml_json_out *o, const uint8_t *p, size_t n, bool url)
{
    const char *abc = url ? b64_url : b64_std;
    char q[4];
    senml_json_put(o, "\"", 1);
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        q[0] = abc[v >> 18], q[1] = abc[v >> 12 & 63], q[2] = abc[v >> 6 & 63], q[3] = abc[v & 63];
        senml_json_put(o, q, 4);
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        q[0] = abc[v >> 18], q[1] = abc[v >> 12 & 63], q[2] = q[3] = '=';
        senml_json_put(o, q, url ? 2 : 4);
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        q[0] = abc[v >> 18], q[1] = abc[v >> 12 & 63], q[2] = abc[v >> 6 & 63], q[3] = '=';
        senml_json_put(o, q, url ? 3 : 4);
    }
    senml_json_put(o, "\"", 1);
}

static void put_label(struct senml_json_out *o, const char *label, bool comma)
{
    if (comma)
        senml_json_put(o, ",", 1);
    senml_json_put(o, "\"", 1);
    senml_json_puts(o, label);
    senml_json_put(o, "\":", 2);
}

int senml_json_put_value(struct senml_json_out *o, const struct data_value *v,
                         const struct senml_json_labels *l, bool comma, char *why, size_t whylen)
{
    char tmp[32];
    switch (v->type) {
    case GW_TYPE_NONE:
        return GW_OK;
    case GW_TYPE_STRING:
    case GW_TYPE_CORELNK:
        put_label(o, l->str, comma);
        if (senml_json_put_string(o, v->v.bytes.p, v->v.bytes.len) < 0)
            return gw_fail(-GW_ERR_INVALID, why, whylen, "%s value is not valid UTF-8",
                           data_type_name(v->type));
        return GW_OK;
    case GW_TYPE_OPAQUE:
        put_label(o, l->data, comma);
        put_base64(o, v->v.bytes.p, v->v.bytes.len, l->url_base64);
        return GW_OK;
    case GW_TYPE_INTEGER:
    case GW_TYPE_TIME:
        put_label(o, l->num, comma);
        snprintf(tmp, sizeof(tmp), "%" PRId64, v->v.i);
        senml_json_puts(o, tmp);
        return GW_OK;
    case GW_TYPE_UNSIGNED:
        put_label(o, l->num, comma);
        snprintf(tmp, sizeof(tmp), "%" PRIu64, v->v.u);
        senml_json_puts(o, tmp);
        return GW_OK;
    case GW_TYPE_FLOAT:
        if (!isfinite(v->v.f))
            return gw_fail(-GW_ERR_INVALID, why, whylen, "Float %g has no JSON form", v->v.f);
        put_label(o, l->num, comma);
        senml_json_put_double(o, v->v.f, true);
        return GW_OK;
    case GW_TYPE_BOOLEAN:
        put_label(o, l->boolean, comma);
        senml_json_puts(o, v->v.b ? "true" : "false");
        return GW_OK;
    case GW_TYPE_OBJLNK:
        put_label(o, l->objlnk, comma);
        snprintf(tmp, sizeof(tmp), "\"%u:%u\"", v->v.lnk.oid, v->v.lnk.iid);
        senml_json_puts(o, tmp);
        return GW_OK;
    }
    return gw_fail(-GW_ERR_INVALID, why, whylen, "value of unknown type %d", (int)v->type);
}

int senml_json_plan(const struct data_records *in, const struct data_path *base, bool root_bn,
                    struct senml_json_names *nm, char *err, size_t errlen)
{
    memset(nm, 0, sizeof(*nm));
    bool any_equal = false;
    for (size_t i = 0; i < in->n; i++) {
        const struct data_path *p = &in->v[i].path;
        if (!data_path_contains(base, p)) {
            char ps[32], bs[32];
            data_path_format(p, ps, sizeof(ps));
            data_path_format(base, bs, sizeof(bs));
            return gw_fail(-GW_ERR_INVALID, err, errlen, "record %zu (%s) lies outside %s", i + 1,
                           ps, bs);
        }
        any_equal |= p->depth == base->depth;
    }
    nm->skip = base->depth;
    if (base->depth == 0) {
        nm->has_bn = root_bn;
        nm->slash = !root_bn;
        if (root_bn)
            strcpy(nm->bn, "/");
        return GW_OK;
    }
    nm->has_bn = true;
    data_path_format(base, nm->bn, sizeof(nm->bn) - 1);
    if (any_equal)
        nm->slash = true; /* bn "/3/0/7", names "" and "/0" */
    else
        strcat(nm->bn, "/");
    return GW_OK;
}

size_t senml_json_name(const struct senml_json_names *nm, const struct data_path *p, char *buf)
{
    size_t n = 0;
    for (uint8_t i = nm->skip; i < p->depth; i++) {
        if (i > nm->skip || nm->slash)
            buf[n++] = '/';
        n += (size_t)snprintf(buf + n, 8, "%u", p->id[i]);
    }
    if (n == 0 && !nm->has_bn) /* the root itself, with no base name to carry it */
        buf[n++] = '/';
    buf[n] = '\0';
    return n;
}

/* ---- SenML JSON decoding ---- */

/* Base fields in force (RFC 8428 section 4.1: they apply until a record replaces them). The
 * strings point into the parsed document. */
struct bases {
    const char *bn;
    size_t bn_len;
    double bt;
    bool has_bt;
    const json_t *bv;
};

static bool is_value_field(const char *key, enum senml_json_kind *kind)
{
    if (key[0] != 'v')
        return false;
    if (!key[1])
        *kind = GW_JSON_NUMBER;
    else if (!strcmp(key + 1, "s"))
        *kind = GW_JSON_STRING;
    else if (!strcmp(key + 1, "b"))
        *kind = GW_JSON_BOOLEAN;
    else if (!strcmp(key + 1, "d"))
        *kind = GW_JSON_DATA;
    else if (!strcmp(key + 1, "lo"))
        *kind = GW_JSON_OBJLNK;
    else
        return false;
    return true;
}

/* Number of '/'-separated levels of a name made of digits and slashes, for a clearer message
 * about paths that are too deep; 0 when it holds anything else. */
static size_t levels(const char *s, size_t n)
{
    size_t slashes = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '/')
            slashes++;
        else if (s[i] < '0' || s[i] > '9')
            return 0;
    }
    return slashes;
}

static int decode_record(const json_t *rec, size_t idx, const struct codec_ctx *ctx,
                         struct bases *b, struct senml_json_scratch *s, struct data_records *out,
                         char *err, size_t errlen)
{
    if (!json_is_object(rec))
        return gw_fail(-GW_ERR_INVALID, err, errlen, "record %zu is %s, not an object", idx,
                       senml_json_kind_name(rec));
    const json_t *n = NULL, *t = NULL, *value = NULL;
    const char *value_field = NULL;
    enum senml_json_kind kind = GW_JSON_NUMBER;
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)rec, key, val)
    {
        enum senml_json_kind k;
        const char *want = NULL; /* the JSON type a known field needs, when it is wrong */
        if (is_value_field(key, &k)) {
            if (value)
                return gw_fail(-GW_ERR_INVALID, err, errlen,
                               "record %zu has two values (%s and %s)", idx, value_field, key);
            value = val;
            value_field = key;
            kind = k;
        } else if (!strcmp(key, "n")) {
            n = val;
            want = json_is_string(val) ? NULL : "a string";
        } else if (!strcmp(key, "bn")) {
            want = json_is_string(val) ? NULL : "a string";
            b->bn = json_string_value(val);
            b->bn_len = json_string_length(val);
        } else if (!strcmp(key, "t")) {
            t = val;
            want = json_is_number(val) ? NULL : "a number";
        } else if (!strcmp(key, "bt")) {
            want = json_is_number(val) ? NULL : "a number";
            b->bt = json_number_value(val);
            b->has_bt = true;
        } else if (!strcmp(key, "bv")) {
            want = json_is_number(val) ? NULL : "a number";
            b->bv = val;
        } else if (!strcmp(key, "bver")) {
            if (!json_is_integer(val) || json_integer_value(val) < 1)
                want = "a positive integer";
            else if (json_integer_value(val) > SENML_VERSION)
                return gw_fail(-GW_ERR_INVALID, err, errlen,
                               "record %zu: bver %" JSON_INTEGER_FORMAT
                               " is newer than SenML version %d",
                               idx, json_integer_value(val), SENML_VERSION);
        } else if (key[0] && key[strlen(key) - 1] == '_') {
            return gw_fail(-GW_ERR_INVALID, err, errlen,
                           "record %zu: field \"%s\" must be understood (RFC 8428 section 4.4) and "
                           "is not",
                           idx, key);
        } /* else: u, bu, s, bs, ut and extensions carry nothing LwM2M needs */
        if (want)
            return gw_fail(-GW_ERR_INVALID, err, errlen, "record %zu: %s must be %s, not %s", idx,
                           key, want, senml_json_kind_name(val));
    }

    char name[NAME_MAX_LEN];
    size_t nlen = n ? json_string_length(n) : 0;
    if (b->bn_len + nlen == 0)
        return gw_fail(-GW_ERR_INVALID, err, errlen, "record %zu has no name (bn + n is empty)",
                       idx);
    if (b->bn_len + nlen >= sizeof(name))
        return gw_fail(-GW_ERR_INVALID, err, errlen,
                       "record %zu: name of %zu bytes is too long for an LwM2M path", idx,
                       b->bn_len + nlen);
    if (b->bn_len)
        memcpy(name, b->bn, b->bn_len);
    if (nlen)
        memcpy(name + b->bn_len, json_string_value(n), nlen);
    nlen += b->bn_len;
    struct data_path p;
    if (data_path_parse(name, nlen, &p) < 0) {
        if (name[0] == '/' && levels(name, nlen) > GW_PATH_MAX_DEPTH)
            return gw_fail(-GW_ERR_INVALID, err, errlen,
                           "record %zu: path \"%.*s\" is deeper than /oid/iid/rid/riid", idx,
                           (int)nlen, name);
        return gw_fail(-GW_ERR_INVALID, err, errlen,
                       "record %zu: name \"%.*s\" is not an LwM2M path", idx, (int)nlen, name);
    }
    if (!data_path_contains(&ctx->base, &p)) {
        char bs[32];
        data_path_format(&ctx->base, bs, sizeof(bs));
        return gw_fail(-GW_ERR_INVALID, err, errlen,
                       "record %zu: %.*s lies outside the requested path %s", idx, (int)nlen, name,
                       bs);
    }

    struct data_value v = {.type = GW_TYPE_NONE};
    if (value) {
        if (p.depth < 3)
            return gw_fail(-GW_ERR_INVALID, err, errlen,
                           "record %zu: %.*s has a value but is not a resource path", idx,
                           (int)nlen, name);
        enum data_type want = ctx->model ? model_type(ctx->model, &p) : GW_TYPE_NONE;
        char why[128];
        int rc = senml_json_value(kind, value_field, value, b->bv, want, s, &v, why, sizeof(why));
        if (rc == -GW_ERR_INVALID)
            return gw_fail(rc, err, errlen, "record %zu (%.*s): %s", idx, (int)nlen, name, why);
        if (rc < 0)
            return rc;
    }

    double time = (b->has_bt ? b->bt : 0.0) + (t ? json_number_value(t) : 0.0);
    if (!isfinite(time))
        return gw_fail(-GW_ERR_INVALID, err, errlen, "record %zu: time bt + t is not finite", idx);
    int rc = data_records_add(out, &p, &v, b->has_bt || t, time);
    if (rc < 0)
        return gw_fail(rc, err, errlen, "record %zu: %s", idx, gw_strerror(rc));
    return GW_OK;
}

int senml_json_decode(const uint8_t *buf, size_t len, const struct codec_ctx *ctx,
                      struct data_records *out, char *err, size_t errlen)
{
    struct senml_json_scratch s = {0};
    struct bases b = {0};
    size_t n0 = out->n;
    json_t *root;
    int rc = senml_json_load(buf, len, &root, err, errlen);
    if (rc < 0)
        return rc;
    if (!json_is_array(root)) {
        rc = gw_fail(-GW_ERR_INVALID, err, errlen, "SenML JSON is an array of records, not %s",
                     senml_json_kind_name(root));
        goto out;
    }
    size_t count = json_array_size(root);
    if (count > GW_RECORDS_MAX - out->n) {
        rc = gw_fail(-GW_ERR_FULL, err, errlen, "%zu records are more than %d", count,
                     GW_RECORDS_MAX);
        goto out;
    }
    for (size_t i = 0; i < count && rc == GW_OK; i++)
        rc = decode_record(json_array_get(root, i), i + 1, ctx, &b, &s, out, err, errlen);
out:
    if (rc < 0)
        data_records_truncate(out, n0);
    json_decref(root);
    free(s.p);
    return rc;
}

/* ---- SenML JSON encoding ---- */

static const struct senml_json_labels senml_labels = {
    .num = "v",
    .str = "vs",
    .boolean = "vb",
    .data = "vd",
    .objlnk = "vlo",
    .url_base64 = true, /* RFC 8428 section 4.3: vd is base64url without padding */
};

int senml_json_encode(const struct data_records *in, const struct codec_ctx *ctx, uint8_t *buf,
                      size_t cap, size_t *written, char *err, size_t errlen)
{
    struct senml_json_names nm;
    struct senml_json_out o = {.buf = buf, .cap = cap};
    *written = 0;
    int rc = senml_json_plan(in, &ctx->base, false, &nm, err, errlen);
    if (rc < 0)
        return rc;
    senml_json_put(&o, "[", 1);
    for (size_t i = 0; i < in->n && !o.full; i++) {
        const struct data_record *r = &in->v[i];
        char name[32], why[96];
        bool comma = false;
        senml_json_put(&o, i ? ",{" : "{", i ? 2 : 1);
        if (i == 0 && nm.has_bn) {
            senml_json_puts(&o, "\"bn\":\"");
            senml_json_puts(&o, nm.bn);
            senml_json_put(&o, "\"", 1);
            comma = true;
        }
        if (senml_json_name(&nm, &r->path, name)) {
            senml_json_puts(&o, comma ? ",\"n\":\"" : "\"n\":\"");
            senml_json_puts(&o, name);
            senml_json_put(&o, "\"", 1);
            comma = true;
        }
        rc = senml_json_put_value(&o, &r->value, &senml_labels, comma, why, sizeof(why));
        if (rc < 0)
            return gw_fail(rc, err, errlen, "record %zu: %s", i + 1, why);
        comma |= r->value.type != GW_TYPE_NONE;
        if (r->has_time) {
            if (!isfinite(r->time))
                return gw_fail(-GW_ERR_INVALID, err, errlen, "record %zu: time is not finite",
                               i + 1);
            senml_json_puts(&o, comma ? ",\"t\":" : "\"t\":");
            senml_json_put_double(&o, r->time, false);
        }
        senml_json_put(&o, "}", 1);
    }
    senml_json_put(&o, "]", 1);
    if (o.full)
        return gw_fail(-GW_ERR_FULL, err, errlen,
                       "SenML JSON of %zu records needs more than %zu bytes", in->n, cap);
    *written = o.len;
    return GW_OK;
}

/* outbuf.c - the growable buffer render.c writes topics and payloads into, and the writers of
 * what goes in it: decimal numbers without printf, doubles in their shortest round-trip form,
 * JSON strings escaped in one pass (invalid UTF-8 replaced, never refused: a device's bad bytes
 * must not cost the other values of its notification), base64 and LwM2M values. */
#include "outbuf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"

/* Grows the buffer to at least `need` bytes, doubling. Returns the new bytes or NULL. */
static char *grow(struct outbuf *o, size_t need)
{
    size_t cap = o->cap ? o->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = realloc(o->b, cap);
    if (p)
        o->cap = cap;
    return p;
}

/* Makes room for `n` more bytes; on failure marks the buffer, and every later write is dropped
 * until the call fails with -GW_ERR_NOMEM. */
bool outbuf_room(struct outbuf *o, size_t n)
{
    if (o->nomem)
        return false;
    if (n <= o->cap - o->len)
        return true;
    char *p = n <= SIZE_MAX / 2 - o->len ? grow(o, o->len + n) : NULL;
    if (!p) {
        o->nomem = true;
        return false;
    }
    o->b = p;
    return true;
}

void outbuf_put(struct outbuf *o, const void *s, size_t n)
{
    if (n && outbuf_room(o, n)) {
        memcpy(o->b + o->len, s, n);
        o->len += n;
    }
}

void outbuf_puts(struct outbuf *o, const char *s)
{
    outbuf_put(o, s, strlen(s));
}

void outbuf_u64(struct outbuf *o, uint64_t v)
{
    char tmp[GW_U64_MAX];
    outbuf_put(o, tmp, gw_format_u64(tmp, v));
}

void outbuf_i64(struct outbuf *o, int64_t v)
{
    if (v < 0) {
        outbuf_put(o, "-", 1);
        outbuf_u64(o, (uint64_t)0 - (uint64_t)v);
    } else {
        outbuf_u64(o, (uint64_t)v);
    }
}

/* A finite double in the shortest form that reads back to it, always with a '.' or an 'e'. */
void outbuf_double(struct outbuf *o, double d)
{
    char tmp[GW_DOUBLE_MAX];
    outbuf_put(o, tmp, gw_format_double(tmp, d, true));
}

#define REPLACEMENT "\xef\xbf\xbd" /* U+FFFD */

/* Writes `n` bytes as a quoted JSON string: quotes, backslashes and control characters
 * escaped, each byte that is not part of valid UTF-8 as U+FFFD. */
void outbuf_json_string(struct outbuf *o, const uint8_t *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0; /* bytes that go out as they are, written in one piece */
    outbuf_put(o, "\"", 1);
    for (size_t i = 0; i < n;) {
        uint8_t c = p[i];
        /* ASCII is judged here: a call per byte made JSON strings slower (measured) */
        size_t l = c < 0x20 || c == '"' || c == '\\' ? 0
                   : c < 0x80                        ? 1
                                                     : gw_utf8_next(p + i, n - i, NULL);
        if (l) {
            i += l;
            run += l;
            continue;
        }
        outbuf_put(o, p + i - run, run);
        run = 0;
        char esc[6] = {'\\', (char)c, '0', '0', '0', '0'};
        switch (c) {
        case '"':
        case '\\':
            outbuf_put(o, esc, 2);
            break;
        case '\n':
            outbuf_put(o, "\\n", 2);
            break;
        case '\r':
            outbuf_put(o, "\\r", 2);
            break;
        case '\t':
            outbuf_put(o, "\\t", 2);
            break;
        case '\b':
            outbuf_put(o, "\\b", 2);
            break;
        case '\f':
            outbuf_put(o, "\\f", 2);
            break;
        default:
            if (c >= 0x80) { /* not the start of valid UTF-8 */
                outbuf_put(o, REPLACEMENT, 3);
            } else {
                esc[1] = 'u';
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                outbuf_put(o, esc, 6);
            }
        }
        i++;
    }
    outbuf_put(o, p + n - run, run);
    outbuf_put(o, "\"", 1);
}

void outbuf_json_cstr(struct outbuf *o, const char *s)
{
    outbuf_json_string(o, (const uint8_t *)s, strlen(s));
}

/* Standard base64 with padding (RFC 4648 section 4). */
void outbuf_base64(struct outbuf *o, const uint8_t *p, size_t n)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (!outbuf_room(o, (n + 2) / 3 * 4))
        return;
    char *d = o->b + o->len;
    size_t i = 0;
    for (; i + 3 <= n; i += 3, d += 4) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        d[0] = abc[v >> 18], d[1] = abc[v >> 12 & 63], d[2] = abc[v >> 6 & 63], d[3] = abc[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        d[0] = abc[v >> 18], d[1] = abc[v >> 12 & 63];
        d[2] = i + 1 < n ? abc[v >> 6 & 63] : '=';
        d[3] = '=';
        d += 4;
    }
    o->len = (size_t)(d - o->b);
}

void outbuf_path(struct outbuf *o, const struct data_path *p, uint8_t depth)
{
    for (uint8_t i = 0; i < depth; i++) {
        outbuf_put(o, "/", 1);
        outbuf_u64(o, p->id[i]);
    }
}

/* A value as JSON (`json`) or as the bare text of the "value" payload. */
void outbuf_value(struct outbuf *o, const struct data_value *v, bool json)
{
    switch (v->type) {
    case GW_TYPE_STRING:
    case GW_TYPE_CORELNK:
        if (json)
            outbuf_json_string(o, v->v.bytes.p, v->v.bytes.len);
        else
            outbuf_put(o, v->v.bytes.p, v->v.bytes.len);
        return;
    case GW_TYPE_INTEGER:
    case GW_TYPE_TIME:
        outbuf_i64(o, v->v.i);
        return;
    case GW_TYPE_UNSIGNED:
        outbuf_u64(o, v->v.u);
        return;
    case GW_TYPE_FLOAT:
        if (isfinite(v->v.f))
            outbuf_double(o, v->v.f);
        else if (json)
            outbuf_put(o, "null", 4);
        return;
    case GW_TYPE_BOOLEAN:
        outbuf_puts(o, v->v.b ? "true" : "false");
        return;
    case GW_TYPE_OPAQUE:
        if (json)
            outbuf_put(o, "\"", 1);
        outbuf_base64(o, v->v.bytes.p, v->v.bytes.len);
        if (json)
            outbuf_put(o, "\"", 1);
        return;
    case GW_TYPE_OBJLNK:
        if (json)
            outbuf_put(o, "\"", 1);
        outbuf_u64(o, v->v.lnk.oid);
        outbuf_put(o, ":", 1);
        outbuf_u64(o, v->v.lnk.iid);
        if (json)
            outbuf_put(o, "\"", 1);
        return;
    default: /* GW_TYPE_NONE */
        if (json)
            outbuf_put(o, "null", 4);
        return;
    }
}

size_t outbuf_utf8_fix(const uint8_t *p, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t l = gw_utf8_next(p + i, n - i, NULL);
        if (l) {
            memcpy(out + o, p + i, l);
            o += l;
            i += l;
        } else {
            memcpy(out + o, REPLACEMENT, 3);
            o += 3;
            i++;
        }
    }
    return o;
}

void outbuf_clear(struct outbuf *o)
{
    free(o->b);
    memset(o, 0, sizeof(*o));
}

/* data.c - the LwM2M value model: paths, type names, record lists and value conversion.
 * Record lists are built to be reused message after message: reset keeps both the record
 * array and the byte arena, so a steady stream of notifications allocates nothing. The arena
 * grows by chaining blocks, never by moving one, so byte pointers handed out stay valid. */
#include "data.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw.h"

#define BLOCK_MIN 4096

struct data_block {
    struct data_block *next;
    size_t used;
    size_t cap;
    uint8_t bytes[];
};

/* ---- types ---- */

static const char *const type_names[] = {
    [GW_TYPE_NONE] = "none",       [GW_TYPE_STRING] = "String",
    [GW_TYPE_INTEGER] = "Integer", [GW_TYPE_UNSIGNED] = "Unsigned Integer",
    [GW_TYPE_FLOAT] = "Float",     [GW_TYPE_BOOLEAN] = "Boolean",
    [GW_TYPE_OPAQUE] = "Opaque",   [GW_TYPE_TIME] = "Time",
    [GW_TYPE_OBJLNK] = "Objlnk",   [GW_TYPE_CORELNK] = "Corelnk",
};

const char *data_type_name(enum data_type t)
{
    if ((size_t)t < GW_ARRAY_LEN(type_names) && type_names[t])
        return type_names[t];
    return "unknown";
}

int data_type_parse(const char *name, enum data_type *out)
{
    if (!name[0]) {
        *out = GW_TYPE_NONE;
        return GW_OK;
    }
    for (size_t i = 0; i < GW_ARRAY_LEN(type_names); i++) {
        if (strcasecmp(name, type_names[i]) == 0) {
            *out = (enum data_type)i;
            return GW_OK;
        }
    }
    /* spellings seen in registry files */
    if (strcasecmp(name, "Unsigned") == 0 || strcasecmp(name, "UnsignedInteger") == 0) {
        *out = GW_TYPE_UNSIGNED;
        return GW_OK;
    }
    if (strcasecmp(name, "Objlink") == 0 || strcasecmp(name, "ObjectLink") == 0) {
        *out = GW_TYPE_OBJLNK;
        return GW_OK;
    }
    if (strcasecmp(name, "Corelink") == 0) {
        *out = GW_TYPE_CORELNK;
        return GW_OK;
    }
    return -GW_ERR_INVALID;
}

/* ---- paths ---- */

int data_path_parse(const char *text, size_t len, struct data_path *out)
{
    memset(out, 0, sizeof(*out));
    if (len == 0 || text[0] != '/')
        return -GW_ERR_INVALID;
    if (len == 1)
        return GW_OK; /* "/" */
    size_t i = 1;
    while (i <= len) {
        if (out->depth == GW_PATH_MAX_DEPTH)
            return -GW_ERR_INVALID;
        uint32_t id = 0;
        size_t digits = 0;
        while (i < len && text[i] >= '0' && text[i] <= '9') {
            id = id * 10 + (uint32_t)(text[i] - '0');
            if (id > 65535)
                return -GW_ERR_INVALID;
            i++;
            digits++;
        }
        if (digits == 0)
            return -GW_ERR_INVALID;
        out->id[out->depth++] = (uint16_t)id;
        if (i == len)
            return GW_OK;
        if (text[i] != '/' || i + 1 == len)
            return -GW_ERR_INVALID;
        i++;
    }
    return -GW_ERR_INVALID;
}

int data_path_format(const struct data_path *p, char *buf, size_t len)
{
    if (p->depth == 0)
        return snprintf(buf, len, "/") < (int)len ? GW_OK : -GW_ERR_FULL;
    size_t n = 0;
    for (uint8_t i = 0; i < p->depth; i++) {
        int w = snprintf(buf + n, len - n, "/%u", p->id[i]);
        if (w < 0 || (size_t)w >= len - n)
            return -GW_ERR_FULL;
        n += (size_t)w;
    }
    return GW_OK;
}

bool data_path_equal(const struct data_path *a, const struct data_path *b)
{
    return a->depth == b->depth && memcmp(a->id, b->id, a->depth * sizeof(a->id[0])) == 0;
}

bool data_path_contains(const struct data_path *outer, const struct data_path *inner)
{
    if (inner->depth < outer->depth)
        return false;
    for (uint8_t i = 0; i < outer->depth; i++)
        if (outer->id[i] != inner->id[i])
            return false;
    return true;
}

struct data_path data_path_make(int depth, ...)
{
    struct data_path p = {0};
    va_list ap;
    va_start(ap, depth);
    for (int i = 0; i < depth && i < GW_PATH_MAX_DEPTH; i++)
        p.id[p.depth++] = (uint16_t)va_arg(ap, int);
    va_end(ap);
    return p;
}

/* ---- record lists ---- */

static const uint8_t *arena_copy(struct data_records *r, const uint8_t *p, size_t len)
{
    struct data_block *b = r->blocks;
    /* The first block in the chain is the one being filled; full ones sit behind it. */
    if (!b || b->cap - b->used < len) {
        size_t cap = len > BLOCK_MIN ? len : BLOCK_MIN;
        struct data_block *nb = malloc(sizeof(*nb) + cap);
        if (!nb)
            return NULL;
        nb->used = 0;
        nb->cap = cap;
        nb->next = b;
        r->blocks = nb;
        b = nb;
    }
    uint8_t *dst = b->bytes + b->used;
    if (len)
        memcpy(dst, p, len);
    b->used += len;
    return dst;
}

int data_records_add(struct data_records *r, const struct data_path *path,
                     const struct data_value *value, bool has_time, double time)
{
    if (r->n == GW_RECORDS_MAX)
        return -GW_ERR_FULL;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        struct data_record *v = realloc(r->v, cap * sizeof(*v));
        if (!v)
            return -GW_ERR_NOMEM;
        r->v = v;
        r->cap = cap;
    }
    struct data_record *rec = &r->v[r->n];
    rec->path = *path;
    rec->value = *value;
    rec->has_time = has_time;
    rec->time = has_time ? time : 0;
    if (value->type == GW_TYPE_STRING || value->type == GW_TYPE_OPAQUE ||
        value->type == GW_TYPE_CORELNK) {
        const uint8_t *copy = arena_copy(r, value->v.bytes.p, value->v.bytes.len);
        if (!copy)
            return -GW_ERR_NOMEM;
        rec->value.v.bytes.p = copy;
    }
    r->n++;
    return GW_OK;
}

void data_records_truncate(struct data_records *r, size_t n)
{
    if (n < r->n)
        r->n = n;
}

void data_records_reset(struct data_records *r)
{
    r->n = 0;
    /* Keep the largest block for reuse, free the rest: memory stays bounded by the biggest
     * message seen, not by the sum of all. */
    struct data_block *keep = NULL, *b = r->blocks;
    while (b) {
        struct data_block *next = b->next;
        if (!keep || b->cap > keep->cap) {
            free(keep);
            keep = b;
        } else {
            free(b);
        }
        b = next;
    }
    if (keep) {
        keep->used = 0;
        keep->next = NULL;
    }
    r->blocks = keep;
}

void data_records_clear(struct data_records *r)
{
    struct data_block *b = r->blocks;
    while (b) {
        struct data_block *next = b->next;
        free(b);
        b = next;
    }
    free(r->v);
    memset(r, 0, sizeof(*r));
}

int64_t data_time_ms(double time, int64_t now_ms)
{
    if (fabs(time) < GW_SENML_RELATIVE_LIMIT)
        return now_ms + (int64_t)llround(time * 1000.0);
    return (int64_t)llround(time * 1000.0);
}

/* ---- conversion ---- */

/* Copies bytes into a NUL-terminated buffer for the strto* family; refuses what does not fit
 * or holds a NUL. */
static int text_copy(const struct data_value *in, char *buf, size_t len)
{
    if (in->v.bytes.len >= len || memchr(in->v.bytes.p, '\0', in->v.bytes.len))
        return -GW_ERR_INVALID;
    memcpy(buf, in->v.bytes.p, in->v.bytes.len);
    buf[in->v.bytes.len] = '\0';
    return GW_OK;
}

static int from_text(const struct data_value *in, enum data_type to, struct data_value *out,
                     char *err, size_t errlen)
{
    char buf[64], *end;
    if (text_copy(in, buf, sizeof(buf)) < 0 || !buf[0])
        return gw_fail(-GW_ERR_INVALID, err, errlen, "'%.*s' is not a valid %s",
                       (int)(in->v.bytes.len > 40 ? 40 : in->v.bytes.len),
                       (const char *)in->v.bytes.p, data_type_name(to));
    errno = 0;
    switch (to) {
    case GW_TYPE_INTEGER:
    case GW_TYPE_TIME:
        out->v.i = strtoll(buf, &end, 10);
        break;
    case GW_TYPE_UNSIGNED:
        if (buf[0] == '-')
            return gw_fail(-GW_ERR_INVALID, err, errlen,
                           "'%s' is negative, expected an Unsigned Integer", buf);
        out->v.u = strtoull(buf, &end, 10);
        break;
    case GW_TYPE_FLOAT:
        out->v.f = strtod(buf, &end);
        if (!isfinite(out->v.f))
            return gw_fail(-GW_ERR_INVALID, err, errlen, "'%s' is not a finite Float", buf);
        break;
    case GW_TYPE_BOOLEAN:
        if (strcmp(buf, "1") == 0 || strcmp(buf, "true") == 0)
            out->v.b = true;
        else if (strcmp(buf, "0") == 0 || strcmp(buf, "false") == 0)
            out->v.b = false;
        else
            return gw_fail(-GW_ERR_INVALID, err, errlen, "'%s' is not a Boolean (0 or 1)", buf);
        end = buf + strlen(buf);
        break;
    case GW_TYPE_OBJLNK: {
        unsigned oid, iid;
        int used = 0;
        if (sscanf(buf, "%5u:%5u%n", &oid, &iid, &used) != 2 || buf[used] || oid > 65535 ||
            iid > 65535)
            return gw_fail(-GW_ERR_INVALID, err, errlen, "'%s' is not an Objlnk (oid:iid)", buf);
        out->v.lnk.oid = (uint16_t)oid;
        out->v.lnk.iid = (uint16_t)iid;
        end = buf + used;
        break;
    }
    default:
        return gw_fail(-GW_ERR_INVALID, err, errlen, "cannot convert text to %s",
                       data_type_name(to));
    }
    if (errno == ERANGE)
        return gw_fail(-GW_ERR_INVALID, err, errlen, "'%s' is out of range for %s", buf,
                       data_type_name(to));
    if (*end)
        return gw_fail(-GW_ERR_INVALID, err, errlen, "'%s' is not a valid %s", buf,
                       data_type_name(to));
    out->type = to;
    return GW_OK;
}

int data_value_convert(const struct data_value *in, enum data_type to, struct data_value *out,
                       char *err, size_t errlen)
{
    *out = *in;
    if (in->type == to || to == GW_TYPE_NONE)
        return GW_OK;
    switch (in->type) {
    case GW_TYPE_STRING:
        if (to == GW_TYPE_OPAQUE || to == GW_TYPE_CORELNK) {
            out->type = to;
            return GW_OK;
        }
        return from_text(in, to, out, err, errlen);
    case GW_TYPE_OPAQUE:
        if (to == GW_TYPE_STRING || to == GW_TYPE_CORELNK) {
            out->type = to;
            return GW_OK;
        }
        return from_text(in, to, out, err, errlen);
    case GW_TYPE_INTEGER:
    case GW_TYPE_TIME:
        if (to == GW_TYPE_INTEGER || to == GW_TYPE_TIME) {
            out->type = to;
            return GW_OK;
        }
        if (to == GW_TYPE_UNSIGNED) {
            if (in->v.i < 0)
                return gw_fail(-GW_ERR_INVALID, err, errlen,
                               "%lld is negative, expected an Unsigned Integer",
                               (long long)in->v.i);
            out->v.u = (uint64_t)in->v.i;
            out->type = to;
            return GW_OK;
        }
        if (to == GW_TYPE_FLOAT) {
            out->v.f = (double)in->v.i;
            out->type = to;
            return GW_OK;
        }
        if (to == GW_TYPE_BOOLEAN && (in->v.i == 0 || in->v.i == 1)) {
            out->v.b = in->v.i == 1;
            out->type = to;
            return GW_OK;
        }
        break;
    case GW_TYPE_UNSIGNED:
        if (to == GW_TYPE_INTEGER || to == GW_TYPE_TIME) {
            if (in->v.u > INT64_MAX)
                return gw_fail(-GW_ERR_INVALID, err, errlen, "%llu is too large for %s",
                               (unsigned long long)in->v.u, data_type_name(to));
            out->v.i = (int64_t)in->v.u;
            out->type = to;
            return GW_OK;
        }
        if (to == GW_TYPE_FLOAT) {
            out->v.f = (double)in->v.u;
            out->type = to;
            return GW_OK;
        }
        break;
    case GW_TYPE_FLOAT:
        if (to == GW_TYPE_INTEGER || to == GW_TYPE_TIME || to == GW_TYPE_UNSIGNED) {
            double f = in->v.f;
            if (f != floor(f) || !isfinite(f))
                return gw_fail(-GW_ERR_INVALID, err, errlen,
                               "%g is not a whole number, expected %s", f, data_type_name(to));
            if (to == GW_TYPE_UNSIGNED) {
                if (f < 0 || f >= 18446744073709551616.0)
                    return gw_fail(-GW_ERR_INVALID, err, errlen,
                                   "%g is out of range for Unsigned Integer", f);
                out->v.u = (uint64_t)f;
            } else {
                if (f < -9223372036854775808.0 || f >= 9223372036854775808.0)
                    return gw_fail(-GW_ERR_INVALID, err, errlen, "%g is out of range for %s", f,
                                   data_type_name(to));
                out->v.i = (int64_t)f;
            }
            out->type = to;
            return GW_OK;
        }
        break;
    default:
        break;
    }
    return gw_fail(-GW_ERR_INVALID, err, errlen, "a %s value cannot be used as %s",
                   data_type_name(in->type), data_type_name(to));
}

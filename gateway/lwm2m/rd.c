/* rd.c - the checks of the registration interface that need no socket: the Uri-Query parameters
 * of Register and Update, and the object links of their link-format payload. All of it is device
 * input, so every rule fails with a reason naming the parameter or the link, which server.c
 * sends back with the 4.00 (or 4.12 for an unsupported LwM2M version). The endpoint name becomes
 * part of MQTT topics, hence the rules against '/', '+', '#', controls and broken UTF-8. */
#include "rd.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "linkfmt.h"

#define RD_LINK_SHOWN 64 /* bytes of a device's URI quoted in an error message */

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* "N.N": digits, '.', digits, at most 7 bytes in all (so that it fits in char[8]). */
static bool is_version(const char *s, size_t len)
{
    size_t i = 0;
    if (len > 7)
        return false;
    while (i < len && is_digit((unsigned char)s[i]))
        i++;
    if (i == 0 || i >= len || s[i] != '.')
        return false;
    size_t minor = ++i;
    while (i < len && is_digit((unsigned char)s[i]))
        i++;
    return i > minor && i == len;
}

/* ---- query parameters ---- */

enum param { P_EP, P_LT, P_LWM2M, P_B, P_Q, P_SMS, P_COUNT };

static const char *const param_names[P_COUNT] = {"ep", "lt", "lwm2m", "b", "Q", "sms"};

/* Which known parameter `name` is, or -1. Parameters an Update does not take count as unknown
 * there, so that they are ignored as LwM2M asks. */
static int param_of(const char *name, size_t len, enum rd_kind kind)
{
    for (int i = 0; i < P_COUNT; i++) {
        if (strlen(param_names[i]) == len && memcmp(param_names[i], name, len) == 0) {
            if (kind == RD_UPDATE && (i == P_EP || i == P_LWM2M))
                return -1;
            return i;
        }
    }
    return -1;
}

static int take_ep(const char *v, size_t len, struct rd_params *out, char *err, size_t errlen)
{
    if (len == 0)
        return gw_fail(-GW_ERR_INVALID, err, errlen, "'ep' is empty");
    if (len > GW_EP_MAX)
        return gw_fail(-GW_ERR_INVALID, err, errlen, "'ep' is longer than %d bytes", GW_EP_MAX);
    const unsigned char *s = (const unsigned char *)v;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = gw_utf8_next(s + i, len - i, &cp);
        if (n == 0)
            return gw_fail(-GW_ERR_INVALID, err, errlen, "'ep' is not valid UTF-8");
        /* C0 and C1 controls, DEL, and the MQTT topic separator and wildcards. */
        if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
            return gw_fail(-GW_ERR_INVALID, err, errlen, "'ep' contains a control character");
        if (cp == '/' || cp == '+' || cp == '#')
            return gw_fail(-GW_ERR_INVALID, err, errlen,
                           "'ep' contains '%c', which MQTT topics reserve", (char)cp);
        i += n;
    }
    memcpy(out->ep, v, len);
    out->ep[len] = '\0';
    out->has_ep = true;
    return GW_OK;
}

static int take_lt(const char *v, size_t len, struct rd_params *out, char *err, size_t errlen)
{
    uint64_t lt = 0;
    bool ok = len > 0;
    for (size_t i = 0; ok && i < len; i++) {
        if (!is_digit((unsigned char)v[i])) {
            ok = false;
            break;
        }
        lt = lt * 10 + (uint64_t)(v[i] - '0');
        if (lt > UINT32_MAX)
            ok = false;
    }
    if (!ok || lt == 0)
        return gw_fail(-GW_ERR_INVALID, err, errlen,
                       "'lt' must be a whole number of seconds from 1 to 4294967295");
    out->lifetime_requested = (uint32_t)lt;
    out->has_lifetime = true;
    return GW_OK;
}

static int take_lwm2m(const char *v, size_t len, struct rd_params *out, char *err, size_t errlen)
{
    static const char *const supported[] = {"1.0", "1.1", "1.2"};
    if (!is_version(v, len))
        return gw_fail(-GW_ERR_INVALID, err, errlen, "'lwm2m' must be a version such as 1.1");
    for (size_t i = 0; i < GW_ARRAY_LEN(supported); i++) {
        if (len == 3 && memcmp(v, supported[i], 3) == 0) {
            memcpy(out->lwm2m, v, len);
            out->lwm2m[len] = '\0';
            return GW_OK;
        }
    }
    return gw_fail(-GW_ERR_UNSUPPORTED, err, errlen,
                   "lwm2m version %.*s is not supported (1.0, 1.1, 1.2 are)", (int)len, v);
}

static int take_binding(const char *v, size_t len, struct rd_params *out, char *err, size_t errlen)
{
    static const char letters[] = "UMHTSNQ";
    unsigned seen = 0;
    if (len == 0)
        return gw_fail(-GW_ERR_INVALID, err, errlen, "'b' is empty");
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)v[i];
        const char *at = c ? strchr(letters, c) : NULL;
        if (!at) {
            if (c >= 0x21 && c < 0x7f)
                return gw_fail(-GW_ERR_INVALID, err, errlen,
                               "'b' has unknown binding '%c' (U, M, H, T, S, N, Q are known)", c);
            return gw_fail(-GW_ERR_INVALID, err, errlen, "'b' has a byte that is not a binding");
        }
        unsigned bit = 1u << (at - letters);
        if (seen & bit)
            return gw_fail(-GW_ERR_INVALID, err, errlen, "'b' repeats '%c'", c);
        seen |= bit;
    }
    /* Each letter at most once, so len <= 7 and it fits in binding[8]. */
    memcpy(out->binding, v, len);
    out->binding[len] = '\0';
    out->has_binding = true;
    if (memchr(v, 'Q', len)) /* LwM2M 1.0 spelled queue mode "UQ", "SQ", "UQS" */
        out->queue = true;
    return GW_OK;
}

static int take_sms(const char *v, size_t len, struct rd_params *out, char *err, size_t errlen)
{
    size_t i = (len > 0 && v[0] == '+') ? 1 : 0;
    size_t digits = len - i;
    bool ok = digits >= 1 && digits <= 15;
    for (; ok && i < len; i++)
        ok = is_digit((unsigned char)v[i]);
    if (!ok)
        return gw_fail(-GW_ERR_INVALID, err, errlen,
                       "'sms' must be an MSISDN: an optional '+' then 1 to 15 digits");
    memcpy(out->sms, v, len);
    out->sms[len] = '\0';
    out->has_sms = true;
    return GW_OK;
}

static uint32_t clamp(uint32_t v, uint32_t lo, uint32_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Takes the value of parameter `p`; `has_value` tells "name=value" from a bare "name". */
static int take_param(enum param p, bool has_value, const char *v, size_t vlen,
                      struct rd_params *out, char *err, size_t errlen)
{
    switch (p) {
    case P_EP:
        return take_ep(v, vlen, out, err, errlen);
    case P_LT:
        return take_lt(v, vlen, out, err, errlen);
    case P_LWM2M:
        return take_lwm2m(v, vlen, out, err, errlen);
    case P_B:
        return take_binding(v, vlen, out, err, errlen);
    case P_SMS:
        return take_sms(v, vlen, out, err, errlen);
    case P_Q:
        if (has_value)
            return gw_fail(-GW_ERR_INVALID, err, errlen, "'Q' takes no value");
        out->queue = true;
        return GW_OK;
    case P_COUNT:
        break;
    }
    return GW_OK;
}

int rd_parse_query(const struct rd_str *opts, size_t n, enum rd_kind kind, uint32_t lifetime_min,
                   uint32_t lifetime_max, struct rd_params *out, char *err, size_t errlen)
{
    unsigned seen = 0;
    int rc = GW_OK;

    memset(out, 0, sizeof(*out));
    if (err && errlen)
        err[0] = '\0';

    /* Two passes, the endpoint name first, so that a Register refused for another parameter is
     * still logged with the name of the device that sent it. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) {
            const char *s = opts[i].s;
            size_t len = opts[i].len;
            if (!s || len == 0)
                continue;
            const char *eq = memchr(s, '=', len);
            size_t nlen = eq ? (size_t)(eq - s) : len;
            const char *v = eq ? eq + 1 : s + len;
            size_t vlen = eq ? len - nlen - 1 : 0;

            int p = param_of(s, nlen, kind);
            if (p < 0 || (p == P_EP) != (pass == 0))
                continue;
            if (seen & (1u << p)) {
                rc = gw_fail(-GW_ERR_INVALID, err, errlen, "'%s' given twice", param_names[p]);
                goto out;
            }
            seen |= 1u << p;
            rc = take_param((enum param)p, eq != NULL, v, vlen, out, err, errlen);
            if (rc)
                goto out;
        }
    }

    if (kind == RD_REGISTER) {
        if (!out->has_ep) {
            rc = gw_fail(-GW_ERR_INVALID, err, errlen, "'ep' is required");
            goto out;
        }
        if (!out->has_lifetime)
            out->lifetime_requested = RD_DEFAULT_LIFETIME;
        if (out->lwm2m[0] == '\0')
            memcpy(out->lwm2m, "1.0", 4);
        if (!out->has_binding)
            memcpy(out->binding, "U", 2);
    }
    if (kind == RD_REGISTER || out->has_lifetime)
        out->lifetime = clamp(out->lifetime_requested, lifetime_min, lifetime_max);

out:
    if (rc) {
        /* Only a valid endpoint name survives a failure, for the caller's log line. */
        struct rd_params keep = {.has_ep = out->has_ep};
        memcpy(keep.ep, out->ep, sizeof(keep.ep));
        *out = keep;
    }
    return rc;
}

/* ---- object links ---- */

static int link_fail(char *err, size_t errlen, size_t idx, const char *uri, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Writes "link N <uri>: " then the formatted reason; the URI is cut to RD_LINK_SHOWN bytes. */
static int link_fail(char *err, size_t errlen, size_t idx, const char *uri, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen) {
        size_t ulen = strlen(uri);
        int k = snprintf(err, errlen, "link %zu <%.*s%s>: ", idx + 1, RD_LINK_SHOWN, uri,
                         ulen > RD_LINK_SHOWN ? "..." : "");
        if (k >= 0 && (size_t)k < errlen)
            vsnprintf(err + k, errlen - (size_t)k, fmt, ap);
    }
    va_end(ap);
    return -GW_ERR_INVALID;
}

/* True when the `rt` attribute of `link`, a space-separated list, names "oma.lwm2m". */
static bool is_root_link(const struct link *link)
{
    const char *rt = linkfmt_attr(link, "rt");
    if (!rt)
        return false;
    while (*rt) {
        size_t n = strcspn(rt, " ");
        if (n == 9 && memcmp(rt, "oma.lwm2m", 9) == 0)
            return true;
        rt += n;
        rt += strspn(rt, " ");
    }
    return false;
}

/* Checks the root link's URI and takes it (as "" for "/") and its `ct` into `out`. */
static int take_root(const struct link *link, size_t idx, struct rd_objects *out, char *err,
                     size_t errlen)
{
    const char *uri = link->uri;
    size_t len = strlen(uri);
    if (uri[0] != '/')
        return link_fail(err, errlen, idx, uri, "the root link must be a path starting with '/'");
    if (len >= sizeof(out->root))
        return link_fail(err, errlen, idx, uri, "root path longer than %zu bytes",
                         sizeof(out->root) - 1);
    if (len > 1) {
        if (uri[len - 1] == '/' || strstr(uri, "//") || strpbrk(uri, "?#"))
            return link_fail(err, errlen, idx, uri,
                             "the root link must be a plain path such as /lwm2m");
        memcpy(out->root, uri, len + 1);
    }

    const char *ct = linkfmt_attr(link, "ct");
    if (ct) {
        size_t clen = strlen(ct);
        if (clen >= sizeof(out->ct))
            return link_fail(err, errlen, idx, uri, "'ct' longer than %zu bytes",
                             sizeof(out->ct) - 1);
        for (size_t i = 0; i < clen; i++) {
            if ((unsigned char)ct[i] < 0x20 || (unsigned char)ct[i] > 0x7e)
                return link_fail(err, errlen, idx, uri, "'ct' must be printable ASCII");
        }
        memcpy(out->ct, ct, clen + 1);
    }
    return GW_OK;
}

/* Finds the root link wherever it is in the payload. Sets `*root_idx` to its index, or to
 * l->n when there is none (the root is then "/"). A second root link is only accepted when it
 * names the same path. */
static int find_root(const struct link_list *l, struct rd_objects *out, size_t *root_idx, char *err,
                     size_t errlen)
{
    *root_idx = l->n;
    for (size_t i = 0; i < l->n; i++) {
        if (!is_root_link(&l->links[i]))
            continue;
        if (*root_idx == l->n) {
            int rc = take_root(&l->links[i], i, out, err, errlen);
            if (rc)
                return rc;
            *root_idx = i;
        } else if (strcmp(l->links[i].uri, l->links[*root_idx].uri) != 0) {
            return link_fail(err, errlen, i, l->links[i].uri,
                             "a second root link (rt=\"oma.lwm2m\"), the first is <%.*s>",
                             RD_LINK_SHOWN, l->links[*root_idx].uri);
        }
    }
    return GW_OK;
}

/* Reads one decimal path level of at most `max` from `*s` (up to '/' or the end). Returns
 * false when it is empty, not a number, or too large. */
static bool read_level(const char **s, uint32_t max, uint32_t *out)
{
    const char *p = *s;
    uint32_t v = 0;
    if (!is_digit((unsigned char)*p))
        return false;
    for (; is_digit((unsigned char)*p); p++) {
        v = v * 10 + (uint32_t)(*p - '0');
        if (v > max)
            return false;
    }
    if (*p != '\0' && *p != '/')
        return false;
    *s = p;
    *out = v;
    return true;
}

/* Adds the object link `link` (index `idx`) to `out->v`, unless it is the root itself, a
 * resource-level link, or a duplicate. `out->v` has room for every link of the payload. */
static int add_object(const struct link *link, size_t idx, struct rd_objects *out, char *err,
                      size_t errlen)
{
    const char *uri = link->uri;
    size_t rlen = strlen(out->root);

    if (strcmp(uri, rlen ? out->root : "/") == 0)
        return GW_OK; /* a plain link to the root, without rt: nothing to take */
    if (strncmp(uri, out->root, rlen) != 0 || uri[rlen] != '/')
        return link_fail(err, errlen, idx, uri, "not under the root path %s",
                         rlen ? out->root : "/");
    const char *p = uri + rlen + 1;

    uint32_t oid, iid = 0, level;
    if (!read_level(&p, 65535, &oid))
        return link_fail(err, errlen, idx, uri, "the object id must be a number from 0 to 65535");
    int levels = 1;
    if (*p == '/') {
        p++;
        if (!read_level(&p, 65534, &iid))
            return link_fail(err, errlen, idx, uri,
                             "the instance id must be a number from 0 to 65534");
        levels++;
    }
    while (*p == '/') {
        p++;
        if (!read_level(&p, 65535, &level))
            return link_fail(err, errlen, idx, uri, "level %d must be a number from 0 to 65535",
                             levels + 1);
        levels++;
    }
    if (levels > 2)
        return GW_OK; /* resource-level links (LwM2M 1.2) carry nothing we keep */

    const char *ver = linkfmt_attr(link, "ver");
    if (ver && !is_version(ver, strlen(ver)))
        return link_fail(err, errlen, idx, uri, "'ver' must be a version such as 1.1");

    int32_t iid_v = levels == 2 ? (int32_t)iid : -1;
    for (size_t i = 0; i < out->n; i++) {
        struct object_link *o = &out->v[i];
        if (o->oid == oid && o->iid == iid_v) {
            if (o->ver[0] == '\0' && ver)
                memcpy(o->ver, ver, strlen(ver) + 1);
            return GW_OK;
        }
    }
    struct object_link *o = &out->v[out->n++];
    memset(o, 0, sizeof(*o));
    o->oid = (uint16_t)oid;
    o->iid = iid_v;
    if (ver)
        memcpy(o->ver, ver, strlen(ver) + 1); /* is_version() bounds it to 7 bytes */
    return GW_OK;
}

int rd_parse_links(const char *payload, size_t len, struct rd_objects *out, char *err,
                   size_t errlen)
{
    struct link_list l;
    size_t root_idx;

    memset(out, 0, sizeof(*out));
    int rc = linkfmt_parse(payload, len, &l, err, errlen);
    if (rc)
        return rc;
    rc = find_root(&l, out, &root_idx, err, errlen);
    if (rc)
        goto out;

    out->v = calloc(l.n, sizeof(*out->v));
    if (!out->v) {
        rc = gw_fail(-GW_ERR_NOMEM, err, errlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < l.n; i++) {
        if (i == root_idx || is_root_link(&l.links[i]))
            continue; /* the root, or a repeat of it that find_root() accepted */
        rc = add_object(&l.links[i], i, out, err, errlen);
        if (rc)
            goto out;
    }

out:
    linkfmt_clear(&l);
    if (rc)
        rd_objects_clear(out);
    return rc;
}

void rd_objects_clear(struct rd_objects *o)
{
    free(o->v);
    memset(o, 0, sizeof(*o));
}

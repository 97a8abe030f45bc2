/* oma_json.c - the LwM2M 1.0 JSON format (content format 11543, application/vnd.oma.lwm2m+json):
 * {"bn":"/3/0/","bt":...,"e":[{"n":"0","sv":"..."},{"n":"6/0","v":1},...]}, an early SenML draft
 * with LwM2M's own value fields (sv, bv, ov). Names are relative to bn, or to the request path
 * when bn is absent; values are typed by the object model as in SenML JSON, and an Opaque
 * resource carries base64 in sv. Parsing and writing are shared with senml_json.c. */
#include "senml_json_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"

/* Longest prefix + '/' + name that can still be an LwM2M path. */
#define NAME_MAX_LEN 48

struct entry_ctx {
    const char *prefix; /* bn, or the request path when there is no bn */
    size_t prefix_len;
    bool implicit; /* the prefix is the request path: join it to names with a '/' */
    double bt;
    bool has_bt;
};

static bool value_kind(const char *key, enum senml_json_kind *kind)
{
    if (!strcmp(key, "v"))
        *kind = GW_JSON_NUMBER;
    else if (!strcmp(key, "sv"))
        *kind = GW_JSON_STRING_B64;
    else if (!strcmp(key, "bv"))
        *kind = GW_JSON_BOOLEAN;
    else if (!strcmp(key, "ov"))
        *kind = GW_JSON_OBJLNK;
    else
        return false;
    return true;
}

static int decode_entry(const json_t *e, size_t idx, const struct codec_ctx *ctx,
                        const struct entry_ctx *ec, struct senml_json_scratch *s,
                        struct data_records *out, char *err, size_t errlen)
{
    if (!json_is_object(e))
        return gw_fail(-GW_ERR_INVALID, err, errlen, "entry %zu is %s, not an object", idx,
                       senml_json_kind_name(e));
    const json_t *n = NULL, *t = NULL, *value = NULL;
    const char *value_field = NULL;
    enum senml_json_kind kind = GW_JSON_NUMBER;
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)e, key, val)
    {
        enum senml_json_kind k;
        if (value_kind(key, &k)) {
            if (value)
                return gw_fail(-GW_ERR_INVALID, err, errlen, "entry %zu has two values (%s and %s)",
                               idx, value_field, key);
            value = val;
            value_field = key;
            kind = k;
        } else if (!strcmp(key, "n")) {
            if (!json_is_string(val))
                return gw_fail(-GW_ERR_INVALID, err, errlen,
                               "entry %zu: n must be a string, not %s", idx,
                               senml_json_kind_name(val));
            n = val;
        } else if (!strcmp(key, "t")) {
            if (!json_is_number(val))
                return gw_fail(-GW_ERR_INVALID, err, errlen,
                               "entry %zu: t must be a number, not %s", idx,
                               senml_json_kind_name(val));
            t = val;
        } /* other fields (SenML's u, s, ...) carry nothing LwM2M needs */
    }
    if (!value)
        return gw_fail(-GW_ERR_INVALID, err, errlen, "entry %zu has no value (v, sv, bv or ov)",
                       idx);

    char name[NAME_MAX_LEN];
    const char *ntext = n ? json_string_value(n) : "";
    size_t nlen = n ? json_string_length(n) : 0;
    bool join = ec->implicit && nlen && ntext[0] != '/' && ec->prefix[ec->prefix_len - 1] != '/';
    size_t total = ec->prefix_len + join + nlen;
    if (total >= sizeof(name))
        return gw_fail(-GW_ERR_INVALID, err, errlen,
                       "entry %zu: name of %zu bytes is too long for an LwM2M path", idx, total);
    memcpy(name, ec->prefix, ec->prefix_len);
    if (join)
        name[ec->prefix_len] = '/';
    if (nlen)
        memcpy(name + ec->prefix_len + join, ntext, nlen);
    struct data_path p;
    if (data_path_parse(name, total, &p) < 0)
        return gw_fail(-GW_ERR_INVALID, err, errlen,
                       "entry %zu: name \"%.*s\" is not an LwM2M path", idx, (int)total, name);
    if (!data_path_contains(&ctx->base, &p)) {
        char bs[32];
        data_path_format(&ctx->base, bs, sizeof(bs));
        return gw_fail(-GW_ERR_INVALID, err, errlen,
                       "entry %zu: %.*s lies outside the requested path %s", idx, (int)total, name,
                       bs);
    }
    if (p.depth < 3)
        return gw_fail(-GW_ERR_INVALID, err, errlen,
                       "entry %zu: %.*s has a value but is not a resource path", idx, (int)total,
                       name);

    struct data_value v;
    enum data_type want = ctx->model ? model_type(ctx->model, &p) : GW_TYPE_NONE;
    char why[128];
    int rc = senml_json_value(kind, value_field, value, NULL, want, s, &v, why, sizeof(why));
    if (rc == -GW_ERR_INVALID)
        return gw_fail(rc, err, errlen, "entry %zu (%.*s): %s", idx, (int)total, name, why);
    if (rc < 0)
        return rc;
    double time = (ec->has_bt ? ec->bt : 0.0) + (t ? json_number_value(t) : 0.0);
    if (!isfinite(time))
        return gw_fail(-GW_ERR_INVALID, err, errlen, "entry %zu: time bt + t is not finite", idx);
    rc = data_records_add(out, &p, &v, ec->has_bt || t, time);
    if (rc < 0)
        return gw_fail(rc, err, errlen, "entry %zu: %s", idx, gw_strerror(rc));
    return GW_OK;
}

int oma_json_decode(const uint8_t *buf, size_t len, const struct codec_ctx *ctx,
                    struct data_records *out, char *err, size_t errlen)
{
    struct senml_json_scratch s = {0};
    struct entry_ctx ec = {0};
    const json_t *e = NULL;
    char base[32];
    size_t n0 = out->n;
    json_t *root;
    int rc = senml_json_load(buf, len, &root, err, errlen);
    if (rc < 0)
        return rc;
    if (!json_is_object(root)) {
        rc = gw_fail(-GW_ERR_INVALID, err, errlen, "LwM2M JSON is an object with \"e\", not %s",
                     senml_json_kind_name(root));
        goto out;
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val)
    {
        const char *want = NULL;
        if (!strcmp(key, "e")) {
            e = val;
            want = json_is_array(val) ? NULL : "an array";
        } else if (!strcmp(key, "bn")) {
            want = json_is_string(val) ? NULL : "a string";
            ec.prefix = json_string_value(val);
            ec.prefix_len = json_string_length(val);
        } else if (!strcmp(key, "bt")) {
            want = json_is_number(val) ? NULL : "a number";
            ec.bt = json_number_value(val);
            ec.has_bt = true;
        } else {
            rc = gw_fail(-GW_ERR_INVALID, err, errlen, "unknown top-level field \"%s\"", key);
            goto out;
        }
        if (want) {
            rc = gw_fail(-GW_ERR_INVALID, err, errlen, "%s must be %s, not %s", key, want,
                         senml_json_kind_name(val));
            goto out;
        }
    }
    if (!e) {
        rc = gw_fail(-GW_ERR_INVALID, err, errlen, "no \"e\" array of entries");
        goto out;
    }
    if (!ec.prefix) {
        /* TS 1.0 section 6.4.4: names are relative to the request URI. */
        data_path_format(&ctx->base, base, sizeof(base));
        ec.prefix = base;
        ec.prefix_len = strlen(base);
        ec.implicit = true;
    }
    size_t count = json_array_size(e);
    if (count > GW_RECORDS_MAX - out->n) {
        rc = gw_fail(-GW_ERR_FULL, err, errlen, "%zu entries are more than %d", count,
                     GW_RECORDS_MAX);
        goto out;
    }
    for (size_t i = 0; i < count && rc == GW_OK; i++)
        rc = decode_entry(json_array_get(e, i), i + 1, ctx, &ec, &s, out, err, errlen);
out:
    if (rc < 0)
        data_records_truncate(out, n0);
    json_decref(root);
    free(s.p);
    return rc;
}

static const struct senml_json_labels oma_labels = {
    .num = "v",
    .str = "sv",
    .boolean = "bv",
    .data = "sv", /* TS 1.0: "the string value holds the Base64 encoded representation" */
    .objlnk = "ov",
    .url_base64 = false,
};

int oma_json_encode(const struct data_records *in, const struct codec_ctx *ctx, uint8_t *buf,
                    size_t cap, size_t *written, char *err, size_t errlen)
{
    struct senml_json_names nm;
    struct senml_json_out o = {.buf = buf, .cap = cap};
    *written = 0;
    int rc = senml_json_plan(in, &ctx->base, true, &nm, err, errlen);
    if (rc < 0)
        return rc;
    senml_json_puts(&o, "{\"bn\":\"");
    senml_json_puts(&o, nm.bn);
    senml_json_puts(&o, "\",\"e\":[");
    for (size_t i = 0; i < in->n && !o.full; i++) {
        const struct data_record *r = &in->v[i];
        char name[32], why[96];
        if (r->value.type == GW_TYPE_NONE)
            return gw_fail(-GW_ERR_INVALID, err, errlen,
                           "record %zu has no value, which LwM2M JSON cannot express", i + 1);
        senml_json_put(&o, i ? ",{" : "{", i ? 2 : 1);
        bool comma = false;
        if (senml_json_name(&nm, &r->path, name)) {
            senml_json_puts(&o, "\"n\":\"");
            senml_json_puts(&o, name);
            senml_json_put(&o, "\"", 1);
            comma = true;
        }
        rc = senml_json_put_value(&o, &r->value, &oma_labels, comma, why, sizeof(why));
        if (rc < 0)
            return gw_fail(rc, err, errlen, "record %zu: %s", i + 1, why);
        if (r->has_time) {
            if (!isfinite(r->time))
                return gw_fail(-GW_ERR_INVALID, err, errlen, "record %zu: time is not finite",
                               i + 1);
            senml_json_puts(&o, ",\"t\":");
            senml_json_put_double(&o, r->time, false);
        }
        senml_json_put(&o, "}", 1);
    }
    senml_json_puts(&o, "]}");
    if (o.full)
        return gw_fail(-GW_ERR_FULL, err, errlen,
                       "LwM2M JSON of %zu records needs more than %zu bytes", in->n, cap);
    *written = o.len;
    return GW_OK;
}

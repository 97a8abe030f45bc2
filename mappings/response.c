/* response.c - the one final answer every request gets (SPEC section 4), and the "held" answer
 * before it: {"id","op","path"|"paths","status","code","value"|"values","links","location",
 * "error","ts"}, written in one pass with the writers of the uplink payloads (outbuf.h), so that
 * a value reads the same in an answer as in a notification.
 *
 * Decisions where SPEC is silent:
 * - "op" and "path" are echoed for an invalid request only as far as they were read (a path
 *   that was accepted): its answer may carry no more than "id", "status" and "error".
 * - write-composite has no "path": its "paths" are the paths it wrote.
 * - "value" is a lone resource (or resource instance) at the requested path; everything else,
 *   an empty instance's marker included (as null), goes into "values".
 * - "ts" is the answer's time, or the device's time of a lone "value" that carried one. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine_internal.h"
#include "gw.h"
#include "outbuf.h"

static const char *const status_names[] = {
    [GW_STATUS_OK] = "ok",
    [GW_STATUS_DEVICE_ERROR] = "device-error",
    [GW_STATUS_TIMEOUT] = "timeout",
    [GW_STATUS_INVALID] = "invalid",
    [GW_STATUS_OFFLINE] = "offline",
    [GW_STATUS_EXPIRED] = "expired",
    [GW_STATUS_REJECTED] = "rejected",
    [GW_STATUS_HELD] = "held",
};

const char *mappings_status_name(enum response_status s)
{
    if ((size_t)s >= GW_ARRAY_LEN(status_names))
        return "unknown";
    return status_names[s];
}

/* True when the request's op and target were read: always for a request that was accepted;
 * for an invalid one only when its path (or paths, or values) had been taken. */
static bool target_known(const struct response *res)
{
    const struct device_request *d = &res->req->dev;
    if (res->status != GW_STATUS_INVALID)
        return true;
    if (d->op == GW_OP_WRITE_COMPOSITE)
        return d->values && d->values->n;
    return d->path.depth > 0 || d->n_paths > 0;
}

static void put_path_string(struct outbuf *o, const struct data_path *p)
{
    outbuf_put(o, "\"", 1);
    outbuf_path(o, p, p->depth);
    outbuf_put(o, "\"", 1);
}

static void put_target(struct outbuf *o, const struct device_request *d)
{
    outbuf_puts(o, "\"op\":");
    outbuf_json_cstr(o, mappings_op_name(d->op));
    if (!request_op_composite(d->op)) {
        outbuf_puts(o, ",\"path\":");
        put_path_string(o, &d->path);
        return;
    }
    outbuf_puts(o, ",\"paths\":[");
    if (d->op == GW_OP_WRITE_COMPOSITE) {
        for (size_t i = 0; d->values && i < d->values->n; i++) {
            outbuf_puts(o, i ? "," : "");
            put_path_string(o, &d->values->v[i].path);
        }
    } else {
        for (size_t i = 0; i < d->n_paths; i++) {
            outbuf_puts(o, i ? "," : "");
            put_path_string(o, &d->paths[i]);
        }
    }
    outbuf_put(o, "]", 1);
}

/* The link-format text as an array of its links: split at the commas that are neither inside
 * <...> nor inside a quoted attribute value, each link without surrounding white space. */
static void put_links(struct outbuf *o, const char *links)
{
    const char *start = links;
    bool angle = false, quote = false, first = true;
    outbuf_puts(o, ",\"links\":[");
    for (const char *s = links;; s++) {
        char c = *s;
        if (quote && c == '\\' && s[1]) {
            s++; /* an escaped character of a quoted value */
            continue;
        }
        if (c == '"' && !angle)
            quote = !quote;
        else if ((c == '<' || c == '>') && !quote)
            angle = c == '<';
        if (c && (c != ',' || angle || quote))
            continue;
        const char *a = start, *b = s;
        while (a < b && strchr(" \t\r\n", *a))
            a++;
        while (b > a && strchr(" \t\r\n", b[-1]))
            b--;
        if (b > a) {
            outbuf_puts(o, first ? "" : ",");
            outbuf_json_string(o, (const uint8_t *)a, (size_t)(b - a));
            first = false;
        }
        if (!c)
            break;
        start = s + 1;
    }
    outbuf_put(o, "]", 1);
}

char *mappings_response_json(const struct model *model, const struct response *res)
{
    const struct request *req = res->req;
    const struct data_records *v = res->values;
    bool known = req && target_known(res);
    int64_t ts = res->ts;
    struct outbuf o = {0};

    (void)model; /* answers carry values, not names */
    outbuf_put(&o, "{", 1);
    if (req && req->id) {
        outbuf_puts(&o, "\"id\":");
        outbuf_puts(&o, req->id);
        outbuf_put(&o, ",", 1);
    }
    if (known) {
        put_target(&o, &req->dev);
        outbuf_put(&o, ",", 1);
    }
    outbuf_puts(&o, "\"status\":");
    outbuf_json_cstr(&o, mappings_status_name(res->status));
    if (res->code > 0) {
        char code[24];
        snprintf(code, sizeof(code), ",\"code\":\"%d.%02d\"", res->code / 100, res->code % 100);
        outbuf_puts(&o, code);
    }
    if (v) {
        const struct data_record *one = v->n == 1 ? &v->v[0] : NULL;
        if (one && known && !request_op_composite(req->dev.op) && one->path.depth >= 3 &&
            one->path.depth == req->dev.path.depth &&
            data_path_contains(&req->dev.path, &one->path)) {
            outbuf_puts(&o, ",\"value\":");
            outbuf_value(&o, &one->value, true);
            if (one->has_time && isfinite(one->time))
                ts = data_time_ms(one->time, res->ts);
        } else {
            outbuf_puts(&o, ",\"values\":{");
            for (size_t i = 0; i < v->n; i++) {
                outbuf_puts(&o, i ? "," : "");
                put_path_string(&o, &v->v[i].path);
                outbuf_put(&o, ":", 1);
                outbuf_value(&o, &v->v[i].value, true);
            }
            outbuf_put(&o, "}", 1);
        }
    }
    if (res->links)
        put_links(&o, res->links);
    if (res->location) {
        outbuf_puts(&o, ",\"location\":");
        outbuf_json_cstr(&o, res->location);
    }
    if (res->error) {
        outbuf_puts(&o, ",\"error\":");
        outbuf_json_cstr(&o, res->error);
    }
    outbuf_puts(&o, ",\"ts\":");
    outbuf_i64(&o, ts);
    outbuf_put(&o, "}", 2); /* with the NUL */
    if (o.nomem) {
        outbuf_clear(&o);
        return NULL;
    }
    return o.b;
}

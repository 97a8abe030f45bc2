/* downlink.c - requests from MQTT to devices, and their answers back. A message is parsed
 * (mappings/), written to the hold store, then sent when its device can take it: at once for a
 * registered, awake device; after the Register answer (or the next uplink in queue mode)
 * otherwise. One request per device is with the server at a time, so that the order of the
 * store is the order on the wire. Every accepted request ends in exactly one final answer,
 * published before the request leaves the store. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge_internal.h"
#include "gw.h"

void inbox_message_clear(struct inbox_message *m)
{
    free(m->topic);
    free(m->payload);
    free(m->response_topic);
    free(m->correlation);
    memset(m, 0, sizeof(*m));
}

/* ---- answers ---- */

static void answer(struct bridge *b, const char *ep, const char *response_topic,
                   const uint8_t *correlation, size_t correlation_len, const struct response *res)
{
    char topic[512];
    char *json = mappings_response_json(b->model, res);
    if (!json) {
        log_error("answer-dropped ep=%s reason=\"out of memory\"", ep);
        return;
    }
    if (!response_topic) {
        if (!ep[0] || mappings_device_topic(b->prefix, ep, "response", topic, sizeof(topic)) < 0) {
            /* No endpoint to answer on: a topic the parser could not read an endpoint from. */
            log_warn("answer-unaddressed status=%s", mappings_status_name(res->status));
            free(json);
            return;
        }
        response_topic = topic;
    }
    bridge_publish_answer(b, response_topic, json, correlation, correlation_len);
    free(json);
}

static void answer_held(struct bridge *b, struct held *r, const struct response *res)
{
    answer(b, r->q->ep, r->response_topic, r->correlation, r->correlation_len, res);
}

/* Publishes the final answer of `r` and takes it out of the store. */
static void finish(struct bridge *b, struct held *r, struct request *req, enum response_status st,
                   const char *error)
{
    struct response res = {.req = req, .status = st, .error = error, .ts = gw_now_wall_ms()};
    answer_held(b, r, &res);
    log_info("request-done ep=%s seq=%lld status=%s%s%s%s", r->q->ep, (long long)r->seq,
             mappings_status_name(st), error ? " reason=\"" : "", error ? error : "",
             error ? "\"" : "");
    hold_remove(b->hold, r);
}

/* Publishes "held" for every request of `q` not told so yet. */
static void tell_held(struct bridge *b, struct held_queue *q)
{
    char err[128];
    for (struct held *r = q->head; r; r = r->next) {
        if (r->held_sent || r->submitted)
            continue;
        struct request req = {0};
        if (mappings_request_load(b->model, r->body, &req, err, sizeof(err)) == GW_OK) {
            struct response res = {.req = &req, .status = GW_STATUS_HELD, .ts = gw_now_wall_ms()};
            answer_held(b, r, &res);
        }
        request_clear(&req);
        hold_mark_held(b->hold, r);
    }
}

/* ---- sending ---- */

void downlink_dispatch(struct bridge *b, const char *ep)
{
    char err[256];
    struct held_queue *q;
    int64_t now = gw_now_wall_ms();
    while (b->server && (q = hold_queue(b->hold, ep)) && q->head && !q->head->submitted) {
        struct held *r = q->head;
        struct request req = {0};
        int rc = mappings_request_load(b->model, r->body, &req, err, sizeof(err));
        if (rc < 0) {
            finish(b, r, &req, GW_STATUS_INVALID, rc == -GW_ERR_INVALID ? err : gw_strerror(rc));
            request_clear(&req);
            continue;
        }
        bool ttl0 = r->expires_at == r->received_at;
        if (!ttl0 && r->expires_at && now >= r->expires_at) {
            finish(b, r, &req, GW_STATUS_EXPIRED, "held past its ttl");
            request_clear(&req);
            continue;
        }
        rc = server_submit(b->server, ep, &req.dev, (uint64_t)r->seq, err, sizeof(err));
        if (rc == GW_OK) {
            r->submitted = true;
            log_debug("request-sent ep=%s seq=%lld op=%s", ep, (long long)r->seq,
                      mappings_op_name(req.dev.op));
            request_clear(&req);
            return;
        }
        if (rc == -GW_ERR_INVALID) {
            finish(b, r, &req, GW_STATUS_INVALID, err);
        } else if (rc == -GW_ERR_NOTFOUND || rc == -GW_AGAIN) {
            if (ttl0) {
                finish(b, r, &req, GW_STATUS_OFFLINE,
                       rc == -GW_ERR_NOTFOUND ? "not registered" : "asleep (queue mode)");
                request_clear(&req);
                continue;
            }
            request_clear(&req);
            tell_held(b, q);
            return;
        } else {
            log_warn("request-delayed ep=%s seq=%lld reason=\"%s\"", ep, (long long)r->seq,
                     gw_strerror(rc));
            request_clear(&req);
            return;
        }
        request_clear(&req);
    }
}

void downlink_expire(struct bridge *b)
{
    char err[128];
    struct held *r;
    while ((r = hold_expired(b->hold, gw_now_mono_ms()))) {
        struct request req = {0};
        mappings_request_load(b->model, r->body, &req, err, sizeof(err));
        finish(b, r, &req, GW_STATUS_EXPIRED, "held past its ttl");
        request_clear(&req);
    }
}

/* ---- inbound messages ---- */

void downlink_message(struct bridge *b, const struct inbox_message *m)
{
    char err[256];
    struct request req = {0};
    req.ttl = -1;
    int rc = mappings_request_parse(b->rules, b->model, m->topic, m->payload, m->len, &req, err,
                                    sizeof(err));
    if (rc == -GW_ERR_NOTFOUND) {
        log_warn("request-ignored topic=%s reason=\"not a request topic\"", m->topic);
        goto out;
    }
    if (rc < 0) {
        const char *why = rc == -GW_ERR_INVALID ? err : gw_strerror(rc);
        log_warn("request-invalid%s%s topic=%s reason=\"%s\"", req.ep[0] ? " ep=" : "", req.ep,
                 m->topic, why);
        struct response res = {
            .req = &req, .status = GW_STATUS_INVALID, .error = why, .ts = gw_now_wall_ms()};
        answer(b, req.ep, m->response_topic, m->correlation, m->correlation_len, &res);
        goto out;
    }
    /* ttl: the request's field, the MQTT 5 Message Expiry, else store.hold_ttl; the shorter
     * of the first two when both are given. */
    int64_t ttl = req.ttl;
    if (m->expiry >= 0 && (ttl < 0 || m->expiry < ttl))
        ttl = m->expiry;
    if (ttl < 0)
        ttl = b->hold_ttl;
    int64_t now = gw_now_wall_ms();
    char *body = mappings_request_json(&req);
    struct held *r = NULL;
    rc = body ? hold_add(b->hold, req.ep, body, m->response_topic, m->correlation,
                         m->correlation_len, now, now + ttl * 1000, &r)
              : -GW_ERR_NOMEM;
    free(body);
    if (rc < 0) {
        const char *why = rc == -GW_ERR_FULL ? "hold queue full (store.hold_max)" : gw_strerror(rc);
        log_warn("request-rejected ep=%s reason=\"%s\"", req.ep, why);
        struct response res = {.req = &req, .status = GW_STATUS_REJECTED, .error = why, .ts = now};
        answer(b, req.ep, m->response_topic, m->correlation, m->correlation_len, &res);
        goto out;
    }
    log_debug("request-accepted ep=%s seq=%lld op=%s ttl=%lld", req.ep, (long long)r->seq,
              mappings_op_name(req.dev.op), (long long)ttl);
    downlink_dispatch(b, req.ep);
out:
    request_clear(&req);
}

/* ---- results from the server ---- */

static struct ep_observations *requested_of(struct bridge *b, const char *ep, bool create)
{
    struct ep_observations *o = NULL;
    HASH_FIND_STR(b->requested, ep, o);
    if (!o && create && (o = calloc(1, sizeof(*o)))) {
        snprintf(o->ep, sizeof(o->ep), "%s", ep);
        HASH_ADD_STR(b->requested, ep, o);
    }
    return o;
}

static bool same_path(const struct data_path *a, const struct data_path *b)
{
    return a->depth == b->depth && memcmp(a->id, b->id, a->depth * sizeof(a->id[0])) == 0;
}

/* Keeps the list of observations requests asked for, in memory and in the store. */
static void track_observation(struct bridge *b, const char *ep, const struct device_request *d,
                              bool add)
{
    struct ep_observations *o = requested_of(b, ep, add);
    if (!o)
        return;
    size_t i = 0;
    while (i < o->n && !same_path(&o->spec[i].path, &d->path))
        i++;
    if (add) {
        struct observe_spec spec = d->attrs;
        spec.path = d->path;
        if (i == o->n && o->n == GW_OBSERVE_MAX)
            return;
        o->spec[i] = spec;
        if (i == o->n)
            o->n++;
        store_observation_put(b->store, ep, &spec);
    } else if (i < o->n) {
        memmove(&o->spec[i], &o->spec[i + 1], (o->n - i - 1) * sizeof(o->spec[0]));
        o->n--;
        store_observation_delete(b->store, ep, &d->path);
    }
}

size_t downlink_observations(struct bridge *b, const char *ep, struct observe_spec *out, size_t n,
                             size_t cap)
{
    struct ep_observations *o = requested_of(b, ep, false);
    for (size_t i = 0; o && i < o->n; i++) {
        /* A configured observation of the same path wins. */
        size_t j = 0;
        while (j < n && j < cap && !same_path(&out[j].path, &o->spec[i].path))
            j++;
        if (j < n)
            continue;
        if (n < cap)
            out[n] = o->spec[i];
        n++;
    }
    return n;
}

void downlink_on_ready(void *ctx, const struct registration *reg)
{
    downlink_dispatch(ctx, reg->ep);
}

void downlink_on_result(void *ctx, const struct registration *reg, uint64_t handle,
                        const struct request_result *res)
{
    struct bridge *b = ctx;
    char err[128];
    struct held *r = hold_find(b->hold, (int64_t)handle);
    if (!r)
        return;
    r->submitted = false;
    if (res->status == GW_REQ_NOT_SENT) {
        /* The device went before it saw the request: it waits for the next registration. */
        tell_held(b, r->q);
        return;
    }
    struct request req = {0};
    mappings_request_load(b->model, r->body, &req, err, sizeof(err));
    static const enum response_status map[] = {
        [GW_REQ_OK] = GW_STATUS_OK,
        [GW_REQ_DEVICE_ERROR] = GW_STATUS_DEVICE_ERROR,
        [GW_REQ_TIMEOUT] = GW_STATUS_TIMEOUT,
        [GW_REQ_NOT_SENT] = GW_STATUS_HELD,
        [GW_REQ_BAD_ANSWER] = GW_STATUS_DEVICE_ERROR,
    };
    struct response resp = {.req = &req,
                            .status = map[res->status],
                            .code = res->code,
                            .values = res->values,
                            .links = res->links,
                            .location = res->location,
                            .error = res->error,
                            .ts = gw_now_wall_ms()};
    if (res->status == GW_REQ_OK && req.dev.op == GW_OP_OBSERVE)
        track_observation(b, reg->ep, &req.dev, true);
    if (req.dev.op == GW_OP_CANCEL_OBSERVE && res->status != GW_REQ_TIMEOUT)
        track_observation(b, reg->ep, &req.dev, false);
    answer_held(b, r, &resp);
    log_info("request-done ep=%s seq=%lld op=%s status=%s code=%d.%02d", reg->ep, (long long)r->seq,
             mappings_op_name(req.dev.op), mappings_status_name(resp.status), res->code / 100,
             res->code % 100);
    hold_remove(b->hold, r);
    request_clear(&req);
    downlink_dispatch(b, reg->ep);
}

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

#define GW_TTL_MAX (10LL * 365 * 86400) /* a longer ttl is taken as ten years */

void inbox_message_clear(struct inbox_message *m)
{
    free(m->topic);
    free(m->payload);
    free(m->response_topic);
    free(m->correlation);
    memset(m, 0, sizeof(*m));
}

/* ---- answers ---- */

/* The topic an answer goes to: the MQTT 5 Response Topic, else {prefix}/{ep}/response. NULL
 * when there is neither (a topic the parser could not read an endpoint from). */
static const char *answer_topic(struct bridge *b, const char *ep, const char *response_topic,
                                char *buf, size_t len)
{
    /* An empty Response Topic counts as none: Paho refuses to publish on "". */
    if (response_topic && *response_topic)
        return response_topic;
    if (!ep[0] || mappings_device_topic(b->prefix, ep, "response", buf, len) < 0)
        return NULL;
    return buf;
}

/* Publishes an answer that is not kept: "held", and the final answers of requests that were
 * never accepted (invalid, rejected). */
static void answer_once(struct bridge *b, const char *ep, const char *response_topic,
                        const uint8_t *correlation, size_t correlation_len,
                        const struct response *res)
{
    char buf[512];
    b->ctr[BR_ANSWER_FIRST + res->status]++;
    const char *topic = answer_topic(b, ep, response_topic, buf, sizeof(buf));
    char *json = topic ? mappings_response_json(b->model, res) : NULL;
    if (!json) {
        log_warn("answer-dropped%s%s status=%s reason=\"%s\"", ep[0] ? " ep=" : "", ep,
                 mappings_status_name(res->status), topic ? "out of memory" : "no topic");
        return;
    }
    bridge_publish_answer(b, topic, json, correlation, correlation_len, NULL);
    free(json);
}

/* Publishes the stored final answer of `r`. At QoS 0 the broker acknowledges nothing: the
 * request leaves the store as soon as Paho took the answer. */
static void publish_final(struct bridge *b, struct held *r)
{
    int token = 0;
    hold_set_token(b->hold, r, 0);
    int rc = bridge_publish_answer(b, r->answer_topic, r->answer, r->correlation,
                                   r->correlation_len, &token);
    hold_set_token(b->hold, r, token);
    if (rc == GW_OK && (b->qos == 0 || r->token == 0))
        hold_remove(b->hold, r);
}

/* Notes that request `seq` was answered in this turn of the loop; false when out of memory. */
static bool answered_this_turn(struct bridge *b, int64_t seq)
{
    if (b->n_answered == b->cap_answered) {
        size_t cap = b->cap_answered ? 2 * b->cap_answered : 64;
        int64_t *p = realloc(b->answered, cap * sizeof(*p));
        if (!p)
            return false;
        b->answered = p;
        b->cap_answered = cap;
    }
    b->answered[b->n_answered++] = seq;
    return true;
}

void downlink_publish_answered(struct bridge *b)
{
    for (size_t i = 0; i < b->n_answered; i++) {
        struct held *r = hold_find(b->hold, b->answered[i]);
        /* not taken out meanwhile, nor published by downlink_republish() */
        if (r && r->answer && r->token == 0)
            publish_final(b, r);
    }
    b->n_answered = 0;
}

/* Ends `r` with its final answer: the answer is stored before it is published, and the
 * request leaves the store when the broker acknowledged the answer (downlink_delivered), so
 * that neither a crash nor a broker outage loses it. The answers of one turn of the loop share
 * one commit, at its end (bridge_commit), and go out after it in the order they came. */
static void finish_with(struct bridge *b, struct held *r, const struct response *res)
{
    char buf[512];
    b->ctr[BR_ANSWER_FIRST + res->status]++;
    const char *ep = r->q ? r->q->ep : "";
    const char *topic = answer_topic(b, ep, r->response_topic, buf, sizeof(buf));
    char *json = topic ? mappings_response_json(b->model, res) : NULL;
    log_info("request-done ep=%s seq=%lld status=%s%s%s%s", ep, (long long)r->seq,
             mappings_status_name(res->status), res->error ? " reason=\"" : "",
             res->error ? res->error : "", res->error ? "\"" : "");
    if (!json || hold_answer(b->hold, r, topic, json) < 0) {
        /* Nothing to keep it in: say it now, once, and let the request go. */
        if (json)
            bridge_publish_answer(b, topic, json, r->correlation, r->correlation_len, NULL);
        else
            log_error("answer-dropped ep=%s seq=%lld reason=\"%s\"", ep, (long long)r->seq,
                      topic ? "out of memory" : "no topic");
        free(json);
        hold_remove(b->hold, r);
        return;
    }
    free(json);
    if (!answered_this_turn(b, r->seq)) {
        store_commit(b->store);
        publish_final(b, r);
    }
}

static void finish(struct bridge *b, struct held *r, struct request *req, enum response_status st,
                   const char *error)
{
    struct response res = {.req = req, .status = st, .error = error, .ts = gw_now_wall_ms()};
    finish_with(b, r, &res);
}

void downlink_delivered(struct bridge *b, int token, bool ok)
{
    struct held *r = token ? hold_by_token(b->hold, token) : NULL;
    if (!r)
        return;
    if (ok) {
        hold_remove(b->hold, r);
        return;
    }
    hold_set_token(b->hold, r, 0); /* published again on the next connection */
    log_warn("answer-undelivered seq=%lld reason=\"publication failed: sent again on the next "
             "connection\"",
             (long long)r->seq);
}

void downlink_republish(struct bridge *b)
{
    for (struct held *r = hold_answered(b->hold), *next; r; r = next) {
        next = r->next; /* publish_final may take r out */
        if (r->token == 0)
            publish_final(b, r);
    }
}

/* Publishes "held" for every request of `q` not told so yet; a request with ttl 0 is not
 * held: it is answered "offline". */
static void tell_held(struct bridge *b, struct held_queue *q, const char *why)
{
    char err[128], ep[GW_EP_MAX + 1];
    snprintf(ep, sizeof(ep), "%s", q->ep);
    struct held *r = q->head, *next;
    for (; r; r = next) {
        next = r->next;
        if (r->held_sent || r->submitted)
            continue;
        struct request req = {0};
        int rc = mappings_request_load(b->model, r->body, &req, err, sizeof(err));
        if (r->expires_at == r->received_at) {
            finish(b, r, &req, GW_STATUS_OFFLINE, why);
            request_clear(&req);
            if (!hold_queue(b->hold, ep))
                return; /* the queue went with its last request */
            continue;
        }
        if (rc == GW_OK) {
            struct response res = {.req = &req, .status = GW_STATUS_HELD, .ts = gw_now_wall_ms()};
            answer_once(b, ep, r->response_topic, r->correlation, r->correlation_len, &res);
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
        if (!ttl0 && now >= r->expires_at) {
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
            request_clear(&req);
            tell_held(b, q, rc == -GW_ERR_NOTFOUND ? "not registered" : "asleep (queue mode)");
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

static bool mark_dispatch(struct bridge *b, const char *ep);

void downlink_message(struct bridge *b, const struct inbox_message *m)
{
    char err[256];
    struct request req = {0};
    req.ttl = -1;
    int rc = mappings_request_parse(b->rules, b->model, m->topic, m->payload, m->len, &req, err,
                                    sizeof(err));
    if (rc == -GW_ERR_NOTFOUND) {
        b->ctr[BR_REQ_IGNORED]++;
        log_warn("request-ignored topic=%s reason=\"not a request topic\"", m->topic);
        goto out;
    }
    if (rc < 0) {
        const char *why = rc == -GW_ERR_INVALID ? err : gw_strerror(rc);
        b->ctr[BR_REQ_INVALID]++;
        log_warn("request-invalid%s%s topic=%s reason=\"%s\"", req.ep[0] ? " ep=" : "", req.ep,
                 m->topic, why);
        struct response res = {
            .req = &req, .status = GW_STATUS_INVALID, .error = why, .ts = gw_now_wall_ms()};
        answer_once(b, req.ep, m->response_topic, m->correlation, m->correlation_len, &res);
        goto out;
    }
    /* ttl: the request's field, the MQTT 5 Message Expiry, else store.hold_ttl; the shorter
     * of the first two when both are given. */
    int64_t ttl = req.ttl;
    if (m->expiry >= 0 && (ttl < 0 || m->expiry < ttl))
        ttl = m->expiry;
    if (ttl < 0)
        ttl = b->hold_ttl;
    if (ttl > GW_TTL_MAX)
        ttl = GW_TTL_MAX;
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
        answer_once(b, req.ep, m->response_topic, m->correlation, m->correlation_len, &res);
        goto out;
    }
    b->ctr[BR_REQ_ACCEPTED]++;
    log_debug("request-accepted ep=%s seq=%lld op=%s ttl=%lld", req.ep, (long long)r->seq,
              mappings_op_name(req.dev.op), (long long)ttl);
    /* Dispatched after the inbox is empty, under one commit for all the requests it held
     * (downlink_run_dispatches): nothing about a request is published or sent before it is
     * committed. */
    if (!mark_dispatch(b, req.ep)) {
        store_commit(b->store);
        downlink_dispatch(b, req.ep);
    }
out:
    request_clear(&req);
}

/* ---- results from the server ---- */

struct ep_observations *downlink_requested(struct bridge *b, const char *ep, bool create)
{
    struct ep_observations *o = NULL;
    HASH_FIND_STR(b->requested, ep, o);
    if (!o && create && (o = calloc(1, sizeof(*o)))) {
        snprintf(o->ep, sizeof(o->ep), "%s", ep);
        HASH_ADD_STR(b->requested, ep, o);
    }
    return o;
}

/* Keeps the list of observations requests asked for, in memory and in the store. */
static void track_observation(struct bridge *b, const char *ep, const struct device_request *d,
                              bool add)
{
    struct ep_observations *o = downlink_requested(b, ep, add);
    if (!o)
        return;
    size_t i = 0;
    while (i < o->n && !data_path_equal(&o->spec[i].path, &d->path))
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
    struct ep_observations *o = downlink_requested(b, ep, false);
    for (size_t i = 0; o && i < o->n; i++) {
        /* A configured observation of the same path wins. */
        size_t j = 0;
        while (j < n && j < cap && !data_path_equal(&out[j].path, &o->spec[i].path))
            j++;
        if (j < n)
            continue;
        if (n < cap)
            out[n] = o->spec[i];
        n++;
    }
    return n;
}

/* The server's callbacks run inside its own request handling: sending the next request from
 * there could reach back into the observation being answered. The endpoint is marked instead
 * and dispatched at the top of the next turn (bridge_process). False when out of memory. */
static bool mark_dispatch(struct bridge *b, const char *ep)
{
    struct pending_dispatch *p = NULL;
    HASH_FIND_STR(b->to_dispatch, ep, p);
    if (p)
        return true;
    if (!(p = calloc(1, sizeof(*p))))
        return false;
    snprintf(p->ep, sizeof(p->ep), "%s", ep);
    HASH_ADD_STR(b->to_dispatch, ep, p);
    return true;
}

void downlink_run_dispatches(struct bridge *b)
{
    struct pending_dispatch *p, *tmp;
    if (b->to_dispatch)
        store_commit(b->store);
    HASH_ITER(hh, b->to_dispatch, p, tmp)
    {
        HASH_DEL(b->to_dispatch, p);
        downlink_dispatch(b, p->ep);
        free(p);
    }
}

void downlink_on_ready(void *ctx, const struct registration *reg)
{
    mark_dispatch(ctx, reg->ep);
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
    if (!r->q)
        return; /* answered already */
    if (res->status == GW_REQ_NOT_SENT) {
        /* The device went before it saw the request: it waits for the next registration. */
        hold_rearm(b->hold, r);
        tell_held(b, r->q, "not registered");
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
    log_info("request-result ep=%s seq=%lld op=%s code=%d.%02d", reg->ep, (long long)r->seq,
             mappings_op_name(req.dev.op), res->code / 100, res->code % 100);
    finish_with(b, r, &resp);
    request_clear(&req);
    mark_dispatch(b, reg->ep);
}

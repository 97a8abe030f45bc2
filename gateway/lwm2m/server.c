/* server.c - the CoAP side of the gateway: listeners, request dispatch, and the LwM2M
 * registration interface (Register, Update, De-register, lifetime expiry).
 * Every request is routed through libcoap's "unknown resource", so that the gateway, not
 * libcoap, decides the answer for every path: /rd/{id} locations live in our registry rather
 * than as one libcoap resource per device, and a De-register of an unknown location gets 4.04
 * (LwM2M) instead of libcoap's default 2.02. */
#include "lwm2m.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/sock_diag.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <coap3/coap.h>

#include "addr.h"
#include "blockwise.h"
#include "dedup.h"
#include "dtls.h"
#include "manage.h"
#include "observe.h"
#include "ops.h"
#include "gw.h"
#include "rd.h"
#include "registry.h"

#define MAX_PATH_SEGMENTS 8
#define MAX_QUERY_OPTIONS 16
#define CONTENT_FORMAT_LINK 40
#define DEDUP_MAX 65536          /* answers kept for retransmissions */
#define DEDUP_LIFETIME_MS 247000 /* EXCHANGE_LIFETIME, RFC 7252 section 4.8.2 */
#define DEFAULT_ACK_TIMEOUT 2.0  /* RFC 7252 ACK_TIMEOUT, seconds */
#define DEFAULT_MAX_RETRANSMIT 4
#define DEFAULT_QUEUE_AWAKE 93 /* seconds: MAX_TRANSMIT_WAIT, LwM2M's default awake time */
#define SEPARATE_RESPONSE_MARGIN_MS 5000
#define READ_BATCH_MAX 64         /* datagrams read per listener for one pass of libcoap's timers */
#define RECEIVE_BUFFER (64 << 20) /* bytes a listen URI's sockets queue in all */
#define READS_PER_PROCESS 1024    /* datagrams per server_process(), so that MQTT gets its turn */
#define SHARDS 256                /* libcoap contexts by default (server_config.shards) */
#define FD_MARGIN 256             /* descriptors for all but the listeners and the contexts */
#define READY_MAX 64              /* ready descriptors taken from one epoll_wait() */
#define SHED_QUIET_MS 2000        /* shedding that stopped this long ago is over (logged) */
#define BLOCK_RX_MAX 1024         /* requests devices send in blocks, under way at once */
#define BLOCK_RX_IDLE_MS 60000    /* a block-wise request with no block for this long is dropped */

struct server {
    coap_context_t *coap[SHARDS]; /* see listen_on() */
    unsigned n_coap;              /* of them in use: server_config.shards */
    int epfd;                     /* the contexts' epoll descriptors: server_fd() */
    struct registry *registry;
    struct dedup *dedup;
    struct block_rx *block_rx;
    struct observer *observer;
    struct ops *ops;
    struct manage *manage;
    struct dtls *dtls;
    struct reg_entry *pending; /* answered just now: observations to start, on_ready to call */
    struct data_records sent;  /* reused for every Send */
    const char *const *reserved_eps;
    const struct model *model;
    struct server_callbacks cb;
    void *cb_ctx;
    uint32_t lifetime_min;
    uint32_t lifetime_max;
    double ack_timeout;
    int max_retransmit;
    int64_t queue_awake_ms;
    unsigned read_batch;        /* reads per ready listener in one coap_io_do_epoll() */
    struct listener *listeners; /* every listener socket, found after the endpoints were made */
    size_t n_listeners;
    uint32_t shed;              /* the share of notifications dropped, in 2^-32 (0: none) */
    bool shed_open;             /* shed at some time in the last SHED_QUIET_MS */
    int64_t shed_since;         /* monotonic ms when shedding began */
    int64_t shed_quiet_at;      /* monotonic ms when it last stopped, -1 while on */
    uint64_t shed_drops;        /* listener_drops() when it began */
    uint64_t ctr[SRV_COUNTERS]; /* those counted here; the others come from ops and observer */
    const uint8_t *body;        /* the request being handled came in blocks: its whole body */
    size_t body_len;
    bool has_body;
};

/* ---- small helpers ---- */

/* Sets the code and, for an error, a diagnostic payload (RFC 7252 5.5.2) the device can log. */
static void answer(coap_pdu_t *response, coap_pdu_code_t code, const char *diagnostic)
{
    coap_pdu_set_code(response, code);
    if (diagnostic && *diagnostic)
        coap_add_data(response, strlen(diagnostic), (const uint8_t *)diagnostic);
}

static const char *code_text(coap_pdu_code_t code, char buf[8])
{
    unsigned c = (unsigned)code & 0xff;
    snprintf(buf, 8, "%u.%02u", (c >> 5) & 7u, c & 0x1fu);
    return buf;
}

/* Reads up to `max` Uri-Path or Uri-Query options of `request` into `out`. Returns how many
 * there were, or -1 when there were more than `max`. */
static int read_options(const coap_pdu_t *request, coap_option_num_t number, struct rd_str *out,
                        int max)
{
    coap_opt_filter_t filter;
    coap_opt_iterator_t it;
    coap_opt_t *opt;
    int n = 0;
    coap_option_filter_clear(&filter);
    coap_option_filter_set(&filter, number);
    coap_option_iterator_init(request, &it, &filter);
    while ((opt = coap_option_next(&it))) {
        if (n == max)
            return -1;
        out[n].s = (const char *)coap_opt_value(opt);
        out[n].len = coap_opt_length(opt);
        n++;
    }
    return n;
}

static bool segment_is(const struct rd_str *s, const char *text)
{
    return s->len == strlen(text) && memcmp(s->s, text, s->len) == 0;
}

/* The request's Content-Format, or -1 when it has none. */
static int content_format(const coap_pdu_t *request)
{
    coap_opt_iterator_t it;
    coap_opt_t *opt = coap_check_option(request, COAP_OPTION_CONTENT_FORMAT, &it);
    if (!opt)
        return -1;
    return (int)coap_decode_var_bytes(coap_opt_value(opt), coap_opt_length(opt));
}

/* The request's body: the one put together from its blocks, else its payload. */
static void request_payload(const struct server *lw, const coap_pdu_t *request, const char **data,
                            size_t *len)
{
    const uint8_t *d = NULL;
    *len = 0;
    *data = NULL;
    if (lw->has_body) {
        *data = (const char *)lw->body;
        *len = lw->body_len;
    } else if (coap_get_data(request, len, &d)) {
        *data = (const char *)d;
    }
}

/* Checks the payload's content format and reads the object links. Returns the CoAP code to
 * answer with on failure (diagnostic in `err`), or 0. */
static coap_pdu_code_t read_links(const struct server *lw, const coap_pdu_t *request,
                                  struct rd_objects *objects, bool required, bool *present,
                                  char *err, size_t errlen)
{
    const char *data;
    size_t len;
    request_payload(lw, request, &data, &len);
    *present = len > 0;
    if (len == 0) {
        if (required) {
            snprintf(err, errlen, "payload: the object links (link-format) are required");
            return COAP_RESPONSE_CODE_BAD_REQUEST;
        }
        return 0;
    }
    int cf = content_format(request);
    if (cf != -1 && cf != CONTENT_FORMAT_LINK) {
        snprintf(err, errlen, "payload: Content-Format %d, expected 40 (link-format)", cf);
        return COAP_RESPONSE_CODE_UNSUPPORTED_CONTENT_FORMAT;
    }
    int rc = rd_parse_links(data, len, objects, err, errlen);
    if (rc == -GW_ERR_NOMEM)
        return COAP_RESPONSE_CODE_INTERNAL_ERROR;
    if (rc < 0)
        return COAP_RESPONSE_CODE_BAD_REQUEST;
    return 0;
}

static void take_objects(struct registration *r, struct rd_objects *o)
{
    free(r->objects);
    r->objects = o->v;
    r->n_objects = o->n;
    snprintf(r->root, sizeof(r->root), "%s", o->root);
    snprintf(r->ct, sizeof(r->ct), "%s", o->ct);
    o->v = NULL;
    o->n = 0;
}

static bool objects_equal(const struct registration *r, const struct rd_objects *o)
{
    if (r->n_objects != o->n || strcmp(r->root, o->root) != 0 || strcmp(r->ct, o->ct) != 0)
        return false;
    for (size_t i = 0; i < o->n; i++) {
        const struct object_link *a = &r->objects[i], *b = &o->v[i];
        if (a->oid != b->oid || a->iid != b->iid || strcmp(a->ver, b->ver) != 0)
            return false;
    }
    return true;
}

/* Releases what a registration holds beyond itself: its place in the list of observations to
 * start, its observations and queued requests, its session. */
static void release_entry(struct server *lw, struct reg_entry *e)
{
    if (e->in_pending) {
        for (struct reg_entry **pp = &lw->pending; *pp; pp = &(*pp)->next_pending) {
            if (*pp == e) {
                *pp = e->next_pending;
                break;
            }
        }
        e->in_pending = false;
    }
    e->start_observing = e->ready_pending = false;
    e->dying = true; /* requests submitted from the callbacks below are refused */
    ops_drop(lw->ops, e);
    observer_drop(lw->observer, e);
    if (e->session) {
        coap_session_release(e->session);
        e->session = NULL;
    }
}

static void drop_registration(struct server *lw, struct reg_entry *e, enum reg_gone why)
{
    if (lw->cb.on_gone)
        lw->cb.on_gone(lw->cb_ctx, &e->r, why);
    release_entry(lw, e);
    registry_remove(lw->registry, e);
}

/* Queues `e` for server_process(), which runs after the answer being built went out: starts
 * its observations (`observe`) and tells the callbacks it can take requests. */
static void schedule(struct server *lw, struct reg_entry *e, bool observe)
{
    if (observe)
        e->start_observing = true;
    e->ready_pending = true;
    if (!e->in_pending) {
        e->in_pending = true;
        e->next_pending = lw->pending;
        lw->pending = e;
    }
}

/* The device was heard from: a queue-mode device listens for a while now. */
static void heard_from(struct server *lw, struct reg_entry *e)
{
    if (!e->r.queue_mode || e->restored || e->dying)
        return;
    e->awake_until = gw_now_mono_ms() + lw->queue_awake_ms;
    schedule(lw, e, false);
}

static bool can_take_requests(const struct reg_entry *e)
{
    return !e->dying && !e->restored && e->session && !e->start_observing &&
           (!e->r.queue_mode || gw_now_mono_ms() < e->awake_until);
}

/* Applies the configured CoAP transmission parameters to a device's session. */
static void tune_session(struct server *lw, coap_session_t *session)
{
    if (lw->ack_timeout > 0) {
        coap_fixed_point_t t = {(uint16_t)lw->ack_timeout,
                                (uint16_t)((lw->ack_timeout - (int)lw->ack_timeout) * 1000)};
        coap_session_set_ack_timeout(session, t);
    }
    if (lw->max_retransmit > 0)
        coap_session_set_max_retransmit(session, (uint16_t)lw->max_retransmit);
}

/* ---- the registration interface ---- */

static void handle_register(struct server *lw, coap_session_t *session, const coap_pdu_t *request,
                            coap_pdu_t *response)
{
    char err[256] = "", addr[64], codebuf[8];
    struct rd_str query[MAX_QUERY_OPTIONS];
    struct rd_params params = {0};
    struct rd_objects objects = {0};
    struct reg_entry *e = NULL;
    bool present;
    coap_pdu_code_t code = COAP_RESPONSE_CODE_BAD_REQUEST;

    addr_format(coap_session_get_addr_remote(session), addr, sizeof(addr));
    int nq = read_options(request, COAP_OPTION_URI_QUERY, query, MAX_QUERY_OPTIONS);
    if (nq < 0) {
        snprintf(err, sizeof(err), "query: more than %d parameters", MAX_QUERY_OPTIONS);
        goto out_reject;
    }
    int rc = rd_parse_query(query, (size_t)nq, RD_REGISTER, lw->lifetime_min, lw->lifetime_max,
                            &params, err, sizeof(err));
    if (rc == -GW_ERR_UNSUPPORTED) {
        code = COAP_RESPONSE_CODE_PRECONDITION_FAILED;
        goto out_reject;
    }
    if (rc < 0)
        goto out_reject;
    for (const char *const *r = lw->reserved_eps; r && *r; r++) {
        if (strcmp(params.ep, *r) == 0) {
            snprintf(err, sizeof(err), "ep: the endpoint name '%s' is reserved by the gateway", *r);
            goto out_reject;
        }
    }
    if (dtls_check(lw->dtls, session, params.ep, err, sizeof(err)) < 0) {
        code = COAP_RESPONSE_CODE_FORBIDDEN;
        goto out_reject;
    }
    code = read_links(lw, request, &objects, true, &present, err, sizeof(err));
    if (code)
        goto out_reject;

    e = calloc(1, sizeof(*e));
    if (!e) {
        code = COAP_RESPONSE_CODE_INTERNAL_ERROR;
        snprintf(err, sizeof(err), "out of memory");
        goto out_reject;
    }
    struct registration *r = &e->r;
    memcpy(r->ep, params.ep, sizeof(r->ep));
    r->lifetime = params.lifetime;
    memcpy(r->lwm2m, params.lwm2m, sizeof(r->lwm2m));
    memcpy(r->binding, params.binding, sizeof(r->binding));
    r->queue_mode = params.queue;
    memcpy(r->sms, params.sms, sizeof(r->sms));
    take_objects(r, &objects);
    memcpy(r->address, addr, sizeof(r->address));
    r->registered_at = r->updated_at = gw_now_wall_ms();
    e->expiry.key = gw_now_mono_ms() + (int64_t)r->lifetime * 1000;

    /* A new Register for a registered endpoint replaces the old registration (the device
     * rebooted, or lost its location): the old one ends first, so that MQTT sees the old
     * registration go before the new one comes. */
    struct reg_entry *old = registry_by_ep(lw->registry, r->ep);
    if (old) {
        log_info("replaced ep=%s id=%s", old->r.ep, old->r.id);
        drop_registration(lw, old, GW_GONE_REPLACED);
    }
    if (registry_add(lw->registry, e) < 0) {
        code = COAP_RESPONSE_CODE_INTERNAL_ERROR;
        snprintf(err, sizeof(err), "out of memory");
        goto out_reject_logged;
    }
    /* Observations and requests start once this answer is out (server_process), never before
     * it. */
    e->session = coap_session_reference(session);
    tune_session(lw, session);
    e->awake_until = gw_now_mono_ms() + lw->queue_awake_ms;
    schedule(lw, e, true);
    coap_pdu_set_code(response, COAP_RESPONSE_CODE_CREATED);
    coap_add_option(response, COAP_OPTION_LOCATION_PATH, 2, (const uint8_t *)"rd");
    coap_add_option(response, COAP_OPTION_LOCATION_PATH, strlen(r->id), (const uint8_t *)r->id);
    log_info("registered ep=%s id=%s lt=%u lwm2m=%s b=%s%s objects=%zu address=%s", r->ep, r->id,
             r->lifetime, r->lwm2m, r->binding, r->queue_mode ? " queue=yes" : "", r->n_objects,
             r->address);
    if (params.lifetime != params.lifetime_requested)
        log_info("lifetime-clamped ep=%s requested=%u lt=%u", r->ep, params.lifetime_requested,
                 r->lifetime);
    if (lw->cb.on_registered)
        lw->cb.on_registered(lw->cb_ctx, r);
    return;

out_reject:
    log_warn("register-rejected address=%s%s%s code=%s reason=\"%s\"", addr,
             params.has_ep ? " ep=" : "", params.has_ep ? params.ep : "", code_text(code, codebuf),
             err);
out_reject_logged:
    rd_objects_clear(&objects);
    answer(response, code, err);
}

static void handle_update(struct server *lw, struct reg_entry *e, coap_session_t *session,
                          const coap_pdu_t *request, coap_pdu_t *response)
{
    char err[256] = "", addr[64], codebuf[8];
    struct rd_str query[MAX_QUERY_OPTIONS];
    struct rd_params params = {0};
    struct rd_objects objects = {0};
    struct registration *r = &e->r;
    bool present;
    unsigned changed = 0;
    coap_pdu_code_t code = COAP_RESPONSE_CODE_BAD_REQUEST;

    addr_format(coap_session_get_addr_remote(session), addr, sizeof(addr));
    if (dtls_check(lw->dtls, session, r->ep, err, sizeof(err)) < 0) {
        code = COAP_RESPONSE_CODE_FORBIDDEN;
        goto out_reject;
    }
    int nq = read_options(request, COAP_OPTION_URI_QUERY, query, MAX_QUERY_OPTIONS);
    if (nq < 0) {
        snprintf(err, sizeof(err), "query: more than %d parameters", MAX_QUERY_OPTIONS);
        goto out_reject;
    }
    if (rd_parse_query(query, (size_t)nq, RD_UPDATE, lw->lifetime_min, lw->lifetime_max, &params,
                       err, sizeof(err)) < 0)
        goto out_reject;
    code = read_links(lw, request, &objects, false, &present, err, sizeof(err));
    if (code)
        goto out_reject;

    /* Everything is checked: only now change the registration, so that a bad Update leaves
     * the old one exactly as it was. */
    if (params.has_lifetime && params.lifetime != r->lifetime) {
        r->lifetime = params.lifetime;
        changed |= GW_CHANGED_LIFETIME;
    }
    /* Queue mode: in LwM2M 1.0 it is part of the binding ("UQ"), so a new binding sets it
     * either way; from 1.1 on it is the Register's Q parameter, which an Update cannot take
     * back, so a new binding such as "U" leaves it on. */
    bool queue = r->queue_mode;
    if (strcmp(r->lwm2m, "1.0") == 0 && params.has_binding)
        queue = params.queue;
    else if (params.queue)
        queue = true;
    if ((params.has_binding && strcmp(params.binding, r->binding) != 0) || queue != r->queue_mode) {
        if (params.has_binding)
            memcpy(r->binding, params.binding, sizeof(r->binding));
        r->queue_mode = queue;
        changed |= GW_CHANGED_BINDING;
    }
    if (params.has_sms && strcmp(params.sms, r->sms) != 0) {
        memcpy(r->sms, params.sms, sizeof(r->sms));
        changed |= GW_CHANGED_SMS;
    }
    if (present && !objects_equal(r, &objects)) {
        take_objects(r, &objects);
        changed |= GW_CHANGED_OBJECTS;
    }
    rd_objects_clear(&objects);
    if (strcmp(addr, r->address) != 0) {
        /* The device moved (a NAT rebinding, a new port): requests follow it there. */
        registry_set_address(lw->registry, e, addr);
        if (e->session != session) {
            if (e->session)
                coap_session_release(e->session);
            e->session = coap_session_reference(session);
            tune_session(lw, session);
        }
        changed |= GW_CHANGED_ADDRESS;
    }
    r->updated_at = gw_now_wall_ms();
    registry_set_expiry(lw->registry, e, gw_now_mono_ms() + (int64_t)r->lifetime * 1000);
    if (e->restored) {
        /* The first word from a device registered before the gateway restarted: it has a
         * session again, and its observations start afresh (the old tokens are gone). */
        if (e->session != session) {
            if (e->session)
                coap_session_release(e->session);
            e->session = coap_session_reference(session);
        }
        tune_session(lw, session);
        e->restored = false;
        e->awake_until = gw_now_mono_ms() + lw->queue_awake_ms;
        log_info("restored-registration-heard ep=%s id=%s", r->ep, r->id);
        schedule(lw, e, true);
    } else {
        heard_from(lw, e);
        /* The device is reachable: its lost Observes go again; with objects added or removed,
         * the rules' observations of them start or are cancelled. */
        if (changed & GW_CHANGED_OBJECTS)
            e->observe_refresh = true;
        if (e->observe_refresh)
            schedule(lw, e, false);
    }
    coap_pdu_set_code(response, COAP_RESPONSE_CODE_CHANGED);
    log_info("updated ep=%s id=%s lt=%u b=%s changed=0x%x address=%s", r->ep, r->id, r->lifetime,
             r->binding, changed, r->address);
    if (lw->cb.on_updated)
        lw->cb.on_updated(lw->cb_ctx, r, changed);
    return;

out_reject:
    log_warn("update-rejected ep=%s id=%s address=%s code=%s reason=\"%s\"", r->ep, r->id, addr,
             code_text(code, codebuf), err);
    rd_objects_clear(&objects);
    answer(response, code, err);
}

static void handle_deregister(struct server *lw, struct reg_entry *e, coap_session_t *session,
                              coap_pdu_t *response)
{
    char err[256];
    if (dtls_check(lw->dtls, session, e->r.ep, err, sizeof(err)) < 0) {
        log_warn("deregister-rejected ep=%s id=%s code=4.03 reason=\"%s\"", e->r.ep, e->r.id, err);
        answer(response, COAP_RESPONSE_CODE_FORBIDDEN, err);
        return;
    }
    log_info("deregistered ep=%s id=%s", e->r.ep, e->r.id);
    coap_pdu_set_code(response, COAP_RESPONSE_CODE_DELETED);
    drop_registration(lw, e, GW_GONE_DEREGISTERED);
}

static void replay(const struct dedup_reply *seen, coap_pdu_t *response);
static void remember(struct server *lw, const coap_address_t *remote, uint16_t mid,
                     const coap_pdu_t *response);
static void dispatch(struct server *lw, coap_session_t *session, const coap_pdu_t *request,
                     coap_pdu_t *response, const struct rd_str *path, int n,
                     coap_pdu_code_t method);
static enum server_counter request_kind(const struct rd_str *path, int n, coap_pdu_code_t method);
static void handle_request(struct server *lw, coap_session_t *session, const coap_pdu_t *request,
                           coap_pdu_t *response, const struct rd_str *path, int n,
                           coap_pdu_code_t method);
static bool take_block(struct server *lw, coap_session_t *session, const coap_pdu_t *request,
                       coap_pdu_t *response, const struct rd_str *path, int n,
                       coap_pdu_code_t method, uint8_t **body);

/* The single request handler: answers a retransmission from the cache, else dispatches on
 * method and Uri-Path. */
static void on_request(coap_resource_t *resource, coap_session_t *session,
                       const coap_pdu_t *request, const coap_string_t *query_string,
                       coap_pdu_t *response)
{
    (void)resource;
    (void)query_string;
    struct server *lw = coap_get_app_data(coap_session_get_context(session));
    struct rd_str path[MAX_PATH_SEGMENTS];
    int n = read_options(request, COAP_OPTION_URI_PATH, path, MAX_PATH_SEGMENTS);
    coap_pdu_code_t method = coap_pdu_get_code(request);
    enum server_counter kind = request_kind(path, n, method);
    lw->ctr[kind]++;
    handle_request(lw, session, request, response, path, n, method);
    if (COAP_RESPONSE_CLASS(coap_pdu_get_code(response)) >= 4)
        lw->ctr[SRV_REFUSED_REGISTER + (kind - SRV_IN_REGISTER)]++;
}

/* Which kind of request the counters file it under. */
static enum server_counter request_kind(const struct rd_str *path, int n, coap_pdu_code_t method)
{
    if (n == 1 && segment_is(&path[0], "dp") && method == COAP_REQUEST_CODE_POST)
        return SRV_IN_SEND;
    if (n < 1 || !segment_is(&path[0], "rd"))
        return SRV_IN_OTHER;
    if (n == 1)
        return method == COAP_REQUEST_CODE_POST ? SRV_IN_REGISTER : SRV_IN_OTHER;
    if (n == 2 && method == COAP_REQUEST_CODE_POST)
        return SRV_IN_UPDATE;
    if (n == 2 && method == COAP_REQUEST_CODE_DELETE)
        return SRV_IN_DEREGISTER;
    return SRV_IN_OTHER;
}

static void handle_request(struct server *lw, coap_session_t *session, const coap_pdu_t *request,
                           coap_pdu_t *response, const struct rd_str *path, int n,
                           coap_pdu_code_t method)
{
    char addr[64];
    if (n < 0) {
        answer(response, COAP_RESPONSE_CODE_NOT_FOUND, "no such resource");
        return;
    }
    const coap_address_t *remote = coap_session_get_addr_remote(session);
    uint16_t mid = (uint16_t)coap_pdu_get_mid(request);
    bool changes_state = method == COAP_REQUEST_CODE_POST || method == COAP_REQUEST_CODE_DELETE;

    if (changes_state) {
        const struct dedup_reply *seen =
            dedup_find(lw->dedup, &remote->addr, remote->size, mid, gw_now_mono_ms());
        if (seen) {
            replay(seen, response);
            addr_format(remote, addr, sizeof(addr));
            log_debug("duplicate address=%s mid=%u reason=\"retransmission, answered again\"", addr,
                      mid);
            return;
        }
    }
    uint8_t *body = NULL;
    if (!take_block(lw, session, request, response, path, n, method, &body))
        return;
    dispatch(lw, session, request, response, path, n, method);
    lw->has_body = false;
    free(body);
    if (changes_state)
        remember(lw, remote, mid, response);
}

/* A request that comes in blocks (Block1): false while blocks are still to come, or when the
 * transfer failed (`response` says so either way); true when the request is whole, with its
 * body in lw->body for the handlers (`*body` is the caller's to free after them). */
static bool take_block(struct server *lw, coap_session_t *session, const coap_pdu_t *request,
                       coap_pdu_t *response, const struct rd_str *path, int n,
                       coap_pdu_code_t method, uint8_t **body)
{
    coap_block_t b;
    int has = block_read(request, COAP_OPTION_BLOCK1, &b);
    if (has == 0)
        return true;
    char addr[64], key[96];
    addr_format(coap_session_get_addr_remote(session), addr, sizeof(addr));
    if (has < 0) {
        log_warn("block-refused address=%s code=4.00 reason=\"Block1 option unusable\"", addr);
        answer(response, COAP_RESPONSE_CODE_BAD_REQUEST,
               "Block1: unusable option (size exponent 7 is BERT, for CoAP over TCP only)");
        return false;
    }
    int k = snprintf(key, sizeof(key), "%u", (unsigned)method);
    for (int i = 0; i < n && k > 0 && (size_t)k < sizeof(key); i++)
        k += snprintf(key + k, sizeof(key) - (size_t)k, "/%.*s", (int)path[i].len, path[i].s);
    size_t len = 0;
    switch (block_rx_take(lw->block_rx, addr, key, request, b, response, body, &len,
                          gw_now_mono_ms())) {
    case BLOCK_RX_CONTINUE:
        return false;
    case BLOCK_RX_FAILED: {
        char code[8];
        size_t dlen = 0;
        const uint8_t *why = NULL;
        coap_get_data(response, &dlen, &why);
        log_warn("block-refused address=%s code=%s reason=\"%.*s\"", addr,
                 code_text(coap_pdu_get_code(response), code), (int)dlen,
                 why ? (const char *)why : "");
        return false;
    }
    case BLOCK_RX_DONE:
        break;
    }
    lw->body = *body;
    lw->body_len = len;
    lw->has_body = true;
    return true;
}

static void replay(const struct dedup_reply *seen, coap_pdu_t *response)
{
    coap_pdu_set_code(response, (coap_pdu_code_t)seen->code);
    if (seen->location[0]) {
        coap_add_option(response, COAP_OPTION_LOCATION_PATH, 2, (const uint8_t *)"rd");
        coap_add_option(response, COAP_OPTION_LOCATION_PATH, strlen(seen->location),
                        (const uint8_t *)seen->location);
    }
    if (seen->diagnostic)
        coap_add_data(response, strlen(seen->diagnostic), (const uint8_t *)seen->diagnostic);
}

/* Keeps the answer just built, for a retransmission of the same request. */
static void remember(struct server *lw, const coap_address_t *remote, uint16_t mid,
                     const coap_pdu_t *response)
{
    char location[GW_ID_LEN + 1] = "";
    coap_opt_iterator_t it;
    coap_opt_filter_t filter;
    coap_opt_t *opt;
    coap_option_filter_clear(&filter);
    coap_option_filter_set(&filter, COAP_OPTION_LOCATION_PATH);
    coap_option_iterator_init(response, &it, &filter);
    while ((opt = coap_option_next(&it))) {
        if (coap_opt_length(opt) == GW_ID_LEN) {
            memcpy(location, coap_opt_value(opt), GW_ID_LEN);
            location[GW_ID_LEN] = '\0';
        }
    }
    size_t len = 0;
    const uint8_t *data = NULL;
    if (!coap_get_data(response, &len, &data))
        len = 0;
    dedup_put(lw->dedup, &remote->addr, remote->size, mid, (uint8_t)coap_pdu_get_code(response),
              location, (const char *)data, len, gw_now_mono_ms());
}

/* LwM2M 1.1 Send (POST /dp): SenML values the device pushes on its own. */
static void handle_send(struct server *lw, coap_session_t *session, const coap_pdu_t *request,
                        coap_pdu_t *response)
{
    char addr[64], err[200];
    addr_format(coap_session_get_addr_remote(session), addr, sizeof(addr));
    struct reg_entry *e = registry_by_address(lw->registry, addr);
    if (!e) {
        log_warn("send-rejected address=%s code=4.03 reason=\"not registered\"", addr);
        answer(response, COAP_RESPONSE_CODE_FORBIDDEN, "not registered: register first");
        return;
    }
    if (dtls_check(lw->dtls, session, e->r.ep, err, sizeof(err)) < 0) {
        log_warn("send-rejected ep=%s code=4.03 reason=\"%s\"", e->r.ep, err);
        answer(response, COAP_RESPONSE_CODE_FORBIDDEN, err);
        return;
    }
    int cf = content_format(request);
    if (cf != GW_FMT_SENML_JSON && cf != GW_FMT_SENML_CBOR) {
        log_warn("send-rejected ep=%s code=4.15 format=%d", e->r.ep, cf);
        answer(response, COAP_RESPONSE_CODE_UNSUPPORTED_CONTENT_FORMAT,
               "Send takes SenML JSON (110) or SenML CBOR (112)");
        return;
    }
    const char *data;
    size_t len;
    request_payload(lw, request, &data, &len);
    struct codec_ctx ctx = {.base = {.depth = 0}, .model = lw->model};
    data_records_reset(&lw->sent);
    int rc = codec_decode((enum codec_format)cf, (const uint8_t *)data, len, &ctx, &lw->sent, err,
                          sizeof(err));
    if (rc < 0) {
        if (rc != -GW_ERR_INVALID)
            snprintf(err, sizeof(err), "%s", gw_strerror(rc));
        log_warn("send-rejected ep=%s code=4.00 reason=\"%s\"", e->r.ep, err);
        answer(response, COAP_RESPONSE_CODE_BAD_REQUEST, err);
        return;
    }
    coap_pdu_set_code(response, COAP_RESPONSE_CODE_CHANGED);
    log_debug("send ep=%s records=%zu", e->r.ep, lw->sent.n);
    heard_from(lw, e);
    if (lw->cb.on_values)
        lw->cb.on_values(lw->cb_ctx, &e->r, &ctx.base, &lw->sent, gw_now_wall_ms());
}

static void dispatch(struct server *lw, coap_session_t *session, const coap_pdu_t *request,
                     coap_pdu_t *response, const struct rd_str *path, int n, coap_pdu_code_t method)
{
    char addr[64], id[GW_ID_LEN + 1];
    if (n == 1 && segment_is(&path[0], "dp") && method == COAP_REQUEST_CODE_POST) {
        handle_send(lw, session, request, response);
        return;
    }
    if (n >= 1 && segment_is(&path[0], "rd")) {
        if (n == 1) {
            if (method == COAP_REQUEST_CODE_POST)
                handle_register(lw, session, request, response);
            else
                answer(response, COAP_RESPONSE_CODE_NOT_ALLOWED, "/rd takes POST (Register)");
            return;
        }
        if (n == 2 && path[1].len == GW_ID_LEN) {
            memcpy(id, path[1].s, GW_ID_LEN);
            id[GW_ID_LEN] = '\0';
            struct reg_entry *e = registry_by_id(lw->registry, id);
            if (e && method == COAP_REQUEST_CODE_POST) {
                handle_update(lw, e, session, request, response);
                return;
            }
            if (e && method == COAP_REQUEST_CODE_DELETE) {
                handle_deregister(lw, e, session, response);
                return;
            }
            if (e) {
                answer(response, COAP_RESPONSE_CODE_NOT_ALLOWED,
                       "/rd/{id} takes POST (Update) or DELETE (De-register)");
                return;
            }
        }
        /* An unknown location: the device must register again (LwM2M: 4.04). */
        addr_format(coap_session_get_addr_remote(session), addr, sizeof(addr));
        log_warn("unknown-location address=%s path=/%.*s%s%.*s code=4.04", addr, (int)path[0].len,
                 path[0].s, n > 1 ? "/" : "", n > 1 ? (int)path[1].len : 0, n > 1 ? path[1].s : "");
        answer(response, COAP_RESPONSE_CODE_NOT_FOUND, "unknown registration: register again");
        return;
    }
    answer(response, COAP_RESPONSE_CODE_NOT_FOUND, "no such resource");
}

/* ---- life of the server ---- */

static void coap_log_to_ours(coap_log_t level, const char *message)
{
    size_t len = strlen(message);
    while (len && (message[len - 1] == '\n' || message[len - 1] == '\r'))
        len--;
    if (level <= LOG_ERR)
        log_warn("libcoap %.*s", (int)len, message);
    else
        log_debug("libcoap %.*s", (int)len, message);
}

static coap_response_t on_response(coap_session_t *session, const coap_pdu_t *sent,
                                   const coap_pdu_t *received, const coap_mid_t mid)
{
    (void)sent;
    (void)mid;
    struct server *lw = coap_get_app_data(coap_session_get_context(session));
    /* Heard from first: a queue-mode device that answers is awake for the next request,
     * which may be submitted from inside the answer's callbacks. */
    char addr[64];
    addr_format(coap_session_get_addr_remote(session), addr, sizeof(addr));
    struct reg_entry *e = registry_by_address(lw->registry, addr);
    if (e)
        heard_from(lw, e);
    if (ops_response(lw->ops, received)) {
        lw->ctr[SRV_IN_RESPONSE]++;
        return COAP_RESPONSE_OK;
    }
    coap_response_t rc = observer_response(lw->observer, session, received);
    lw->ctr[rc == COAP_RESPONSE_OK ? SRV_IN_NOTIFY : SRV_NOTIFY_UNKNOWN]++;
    return rc;
}

static void on_nack(coap_session_t *session, const coap_pdu_t *sent,
                    const coap_nack_reason_t reason, const coap_mid_t mid)
{
    (void)mid;
    struct server *lw = coap_get_app_data(coap_session_get_context(session));
    ops_nack(lw->ops, sent, reason);
}

struct listener {
    int fd;
    bool plain;          /* coap:// (the shedding filter reads CoAP headers: not under DTLS) */
    uint32_t drops_seen; /* the kernel's count (32 bits, wraps) when last read */
    uint64_t drops;      /* what it went up by since the listener was made */
};

struct listeners {
    struct server *lw;
    const coap_address_t *addr;
    const struct listen_uri *uri;
    size_t n;
};

/* Takes `fd` as a listener when it is bound to one of the listen addresses. libcoap 4.3.1 does
 * not hand out its listeners' descriptors, so they are found by their bound address. Its
 * receive buffer is widened (its share of RECEIVE_BUFFER): a registration storm arrives faster than
 * any loop turn, and the default (208 KiB) drops Registers, which come back only after the devices'
 * 2-3 s retransmission timeout, and non-confirmable notifications, which never come back. It is
 * kept in lw->listeners, for the kernel's drop count and the shedding filter. */
static void adopt_listener(int fd, void *arg)
{
    const struct listeners *ls = arg;
    int type, size = (int)(RECEIVE_BUFFER / ls->lw->n_coap);
    socklen_t len = sizeof(type);
    coap_address_t bound;
    coap_address_init(&bound);
    bound.size = sizeof(bound.addr);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_DGRAM ||
        getsockname(fd, &bound.addr.sa, &bound.size) != 0)
        return;
    for (size_t i = 0; i < ls->n; i++) {
        if (!coap_address_equals(&bound, &ls->addr[i]))
            continue;
        /* Past net.core.rmem_max only with CAP_NET_ADMIN; else as much as that allows. */
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) != 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
        len = sizeof(size);
        if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, &len) == 0)
            log_debug("receive-buffer fd=%d bytes=%d", fd, size);
        struct server *lw = ls->lw;
        struct listener *more =
            realloc(lw->listeners, (lw->n_listeners + 1) * sizeof(*lw->listeners));
        if (!more) {
            log_warn("listener-untracked fd=%d reason=\"out of memory: its kernel drops are "
                     "not counted and it sheds nothing\"",
                     fd);
            return;
        }
        lw->listeners = more;
        more[lw->n_listeners++] =
            (struct listener){.fd = fd, .plain = ls->uri[i].scheme != GW_SCHEME_COAPS};
        return;
    }
}

/* One listen URI is SHARDS sockets in one SO_REUSEPORT group on its port, one in each of SHARDS
 * libcoap contexts; the kernel gives each peer address to one of them, always the same, so that
 * a device's session lives in one context. libcoap 4.3.1 walks the sessions of an endpoint for
 * each datagram from a new peer (coap_endpoint_get_session, counting the idle ones), and every
 * session of a context each time it is handed datagrams (coap_io_do_epoll ends in
 * coap_io_prepare_io: idle sessions, timeouts, its timer). With one endpoint a registration
 * storm of N devices cost O(N^2): 590 registrations/s at 100,000 devices. With one context and
 * SHARDS endpoints, a fleet notifying at a moderate rate paid a walk of every registered
 * device's session for almost every datagram: 100,000 devices notifying 2,000 times a second
 * kept the main thread at 0.72 to 0.92 cores (tests/bench/bench_notify.py, "fleet"). With
 * SHARDS contexts each walk is 1/SHARDS as long: at 100,000 devices notifying 2,000 times a
 * second, the main thread took 0.55 cores with 64 contexts, 0.42 with 128, 0.21 with 256. */
static bool listen_on(struct server *lw, const coap_address_t *addr, coap_proto_t proto)
{
    bool ok = true;
    gw_share_port(true);
    for (unsigned i = 0; i < lw->n_coap && ok; i++)
        ok = coap_new_endpoint(lw->coap[i], addr, proto) != NULL;
    gw_share_port(false);
    return ok;
}

/* SHARDS sockets for each listen URI and two descriptors for each context (its epoll and its
 * timer) are more than the soft limit of 1024 that many systems give a process: the soft limit
 * is raised as far as the hard one allows. False, after logging why, when that is too low. */
static bool enough_descriptors(unsigned shards, size_t n_listen)
{
    rlim_t need = (rlim_t)shards * (2 + n_listen) + FD_MARGIN;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need)
        return true;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        log_error("startup-failed reason=\"%llu file descriptors are needed; raising the soft "
                  "limit (RLIMIT_NOFILE) to %llu failed: %s\"",
                  (unsigned long long)need, (unsigned long long)rl.rlim_max, strerror(errno));
        return false;
    }
    if (rl.rlim_cur >= need)
        return true;
    log_error("startup-failed reason=\"%llu file descriptors are needed (%u for each listen URI "
              "and %u for the CoAP contexts, %d for the rest), the hard limit (RLIMIT_NOFILE, "
              "ulimit -Hn) is %llu\"",
              (unsigned long long)need, shards, 2 * shards, FD_MARGIN,
              (unsigned long long)rl.rlim_max);
    return false;
}

/* libcoap sets SO_REUSEADDR on its sockets, with which a second gateway could bind the same port
 * and take some of the devices: a socket without it, bound and closed before any listener is
 * made, says whether anything holds the address. */
static bool address_free(const coap_address_t *addr)
{
    int probe = socket(addr->addr.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (probe < 0)
        return true; /* libcoap's own socket() will say */
    bool free_now = bind(probe, &addr->addr.sa, addr->size) == 0;
    close(probe);
    return free_now;
}

static void listen_failed(const struct listen_uri *l)
{
    log_error("listen-failed uri=%s reason=\"cannot bind (in use, or not an address of this "
              "host)\"",
              l->uri);
}

static int resolve(const struct listen_uri *l, coap_address_t *out)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (listen_resolve(l, &ss, &len) < 0)
        return -GW_ERR_INVALID;
    coap_address_init(out);
    out->size = len;
    memcpy(&out->addr, &ss, len);
    return GW_OK;
}

struct server *server_new(const struct server_config *cfg, const struct server_callbacks *cb,
                          void *cb_ctx)
{
    coap_startup();
    coap_set_log_handler(coap_log_to_ours);
    coap_set_log_level(log_enabled(GW_LOG_DEBUG) ? LOG_INFO : LOG_WARNING);

    struct server *lw = calloc(1, sizeof(*lw));
    if (!lw)
        return NULL;
    lw->epfd = -1;
    if (cb)
        lw->cb = *cb;
    lw->cb_ctx = cb_ctx;
    lw->lifetime_min = cfg->lifetime_min;
    lw->lifetime_max = cfg->lifetime_max;
    lw->reserved_eps = cfg->reserved_endpoints;
    lw->model = cfg->model;
    lw->ack_timeout = cfg->ack_timeout;
    lw->max_retransmit = cfg->max_retransmit;
    lw->queue_awake_ms =
        (int64_t)(cfg->queue_awake ? cfg->queue_awake : DEFAULT_QUEUE_AWAKE) * 1000;
    /* The longest a request can wait for its answer: every retransmission with the largest
     * random factor (RFC 7252 MAX_TRANSMIT_WAIT), and a margin for a separate response. */
    double ack = cfg->ack_timeout > 0 ? cfg->ack_timeout : DEFAULT_ACK_TIMEOUT;
    int retransmit = cfg->max_retransmit > 0 ? cfg->max_retransmit : DEFAULT_MAX_RETRANSMIT;
    int64_t answer_timeout_ms =
        (int64_t)(ack * 1000 * ((1 << (retransmit + 1)) - 1) * 1.5) + SEPARATE_RESPONSE_MARGIN_MS;
    lw->registry = registry_new();
    lw->dedup = dedup_new(DEDUP_MAX, DEDUP_LIFETIME_MS);
    lw->block_rx = block_rx_new(BLOCK_RX_MAX, BLOCK_RX_IDLE_MS);
    lw->n_coap = cfg->shards > 0 && cfg->shards < SHARDS ? cfg->shards : SHARDS;
    bool made = enough_descriptors(lw->n_coap, cfg->n_listen);
    for (unsigned i = 0; i < lw->n_coap && made; i++)
        if (!(made = (lw->coap[i] = coap_new_context(NULL)) != NULL))
            log_error("startup-failed reason=\"libcoap context %u of %u: %s\"", i + 1, lw->n_coap,
                      strerror(errno));
    lw->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (lw->epfd < 0)
        log_error("startup-failed reason=\"epoll_create1: %s\"", strerror(errno));
    lw->ops = ops_new(answer_timeout_ms);
    lw->manage = manage_new(lw->ops, cfg->model, &lw->cb, cb_ctx);
    lw->observer = lw->ops && lw->manage
                       ? observer_new(cfg->model, &lw->cb, cb_ctx, lw->ops, lw->manage)
                       : NULL;
    if (!lw->registry || !lw->dedup || !lw->block_rx || !made || lw->epfd < 0 || !lw->observer)
        goto out_free;
    for (uint32_t i = 0; i < lw->n_coap; i++) {
        coap_context_t *coap = lw->coap[i];
        coap_set_app_data(coap, lw);
        coap_register_response_handler(coap, on_response);
        coap_register_nack_handler(coap, on_nack);
        /* No libcoap block mode: blocks are the gateway's own business (blockwise.h says why). */
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
        int fd = coap_context_get_coap_fd(coap);
        if (fd < 0) {
            log_error("startup-failed reason=\"libcoap was built without epoll support\"");
            goto out_free;
        }
        if (epoll_ctl(lw->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            log_error("startup-failed reason=\"epoll_ctl: %s\"", strerror(errno));
            goto out_free;
        }
    }

    bool coaps = false;
    for (size_t i = 0; i < cfg->n_listen; i++)
        coaps |= cfg->listen[i].scheme == GW_SCHEME_COAPS;
    if (coaps && !coap_dtls_is_supported()) {
        log_error("startup-failed reason=\"this libcoap has no DTLS support\"");
        goto out_free;
    }
    lw->dtls = dtls_new(lw->coap, coaps ? lw->n_coap : 0, &cfg->security);
    if (!lw->dtls)
        goto out_free;

    coap_address_t *bound = calloc(cfg->n_listen ? cfg->n_listen : 1, sizeof(*bound));
    if (!bound)
        goto out_free;
    /* every address checked before any listener is made, so that two of ours on one port (an
     * IPv4 and an IPv6 one) do not take each other for a stranger */
    bool ok = true;
    for (size_t i = 0; i < cfg->n_listen && ok; i++) {
        if (resolve(&cfg->listen[i], &bound[i]) < 0) {
            free(bound);
            goto out_free;
        }
        ok = address_free(&bound[i]);
        if (!ok)
            listen_failed(&cfg->listen[i]);
    }
    for (size_t i = 0; i < cfg->n_listen && ok; i++) {
        const struct listen_uri *l = &cfg->listen[i];
        ok = listen_on(lw, &bound[i],
                       l->scheme == GW_SCHEME_COAPS ? COAP_PROTO_DTLS : COAP_PROTO_UDP);
        if (ok)
            log_info("listening uri=%s", l->uri);
        else
            listen_failed(l);
    }
    if (!ok) {
        free(bound);
        goto out_free;
    }
    struct listeners ls = {lw, bound, cfg->listen, cfg->n_listen};
    gw_each_socket(adopt_listener, &ls);
    free(bound);

    for (unsigned i = 0; i < lw->n_coap; i++) {
        coap_resource_t *r = coap_resource_unknown_init2(on_request, 0);
        if (!r)
            goto out_free;
        coap_register_request_handler(r, COAP_REQUEST_POST, on_request);
        coap_register_request_handler(r, COAP_REQUEST_DELETE, on_request);
        coap_register_request_handler(r, COAP_REQUEST_GET, on_request);
        coap_add_resource(lw->coap[i], r);
    }
    return lw;

out_free:
    server_free(lw);
    return NULL;
}

static void release_each(struct reg_entry *e, void *arg)
{
    release_entry(arg, e);
}

void server_free(struct server *lw)
{
    if (!lw)
        return;
    if (lw->registry && lw->observer)
        registry_each(lw->registry, release_each, lw);
    for (int i = 0; i < SHARDS; i++)
        if (lw->coap[i])
            coap_free_context(lw->coap[i]);
    if (lw->epfd >= 0)
        close(lw->epfd);
    registry_free(lw->registry);
    observer_free(lw->observer);
    manage_free(lw->manage);
    dtls_free(lw->dtls);
    ops_free(lw->ops);
    data_records_clear(&lw->sent);
    dedup_free(lw->dedup);
    block_rx_free(lw->block_rx);
    free(lw->listeners);
    free(lw);
    coap_cleanup();
}

int server_fd(const struct server *lw)
{
    return lw->epfd;
}

static void expire(struct server *lw)
{
    int64_t now = gw_now_mono_ms();
    struct reg_entry *e;
    while ((e = registry_first_expiry(lw->registry)) && e->expiry.key <= now) {
        lw->ctr[SRV_EXPIRED]++;
        log_info("expired ep=%s id=%s lt=%u", e->r.ep, e->r.id, e->r.lifetime);
        drop_registration(lw, e, GW_GONE_EXPIRED);
    }
}

/* libcoap's coap_io_process() reads one datagram per ready socket and walks every session of
 * the context twice (coap_io_prepare_io: idle sessions, retransmissions, timeouts) for it: every
 * datagram cost O(sessions). Here a context's ready listeners are handed to coap_io_do_epoll()
 * `read_batch` times each, so that one walk serves up to that many datagrams; the batch doubles
 * while the listeners stay readable after it and halves when they were drained (a read of an
 * empty socket costs one recvmsg that finds nothing). libcoap keeps its own timerfd
 * (retransmissions, set by coap_send too) in the context's descriptor, so nothing here needs to
 * ask it for a deadline. Returns the reads handed to libcoap; sets `*more` when a listener was
 * still readable after them. */
static unsigned read_context(struct server *lw, coap_context_t *coap, bool *more)
{
    struct epoll_event ready[READY_MAX], batch[READY_MAX * READ_BATCH_MAX];
    int fd = coap_context_get_coap_fd(coap);
    int n = epoll_wait(fd, ready, READY_MAX, 0);
    if (n <= 0)
        return 0;
    size_t m = 0;
    for (int i = 0; i < n; i++) {
        /* The timer's event (data.ptr NULL) once; a socket's `read_batch` times. */
        unsigned times = ready[i].data.ptr ? lw->read_batch : 1;
        for (unsigned k = 0; k < times; k++)
            batch[m++] = ready[i];
    }
    /* The reads past the last datagram find nothing: libcoap would log each as a failed read. */
    coap_log_t level = coap_get_log_level();
    if (lw->read_batch > 1 && level > LOG_ERR)
        coap_set_log_level(LOG_ERR);
    coap_io_do_epoll(coap, batch, m);
    coap_set_log_level(level);
    int left = epoll_wait(fd, ready, READY_MAX, 0);
    for (int i = 0; i < left; i++)
        *more |= ready[i].data.ptr != NULL;
    return (unsigned)m;
}

static void read_datagrams(struct server *lw)
{
    struct epoll_event ready[SHARDS];
    unsigned total = 0;
    if (lw->read_batch == 0)
        lw->read_batch = 1;
    while (total < READS_PER_PROCESS) {
        int n = epoll_wait(lw->epfd, ready, (int)lw->n_coap, 0);
        if (n <= 0)
            break;
        bool more = false;
        for (int i = 0; i < n && total < READS_PER_PROCESS; i++)
            total += read_context(lw, lw->coap[ready[i].data.u32], &more);
        /* Still readable: there was more than the batch; else it was too large. */
        if (more && lw->read_batch < READ_BATCH_MAX)
            lw->read_batch *= 2;
        else if (!more && lw->read_batch > 1)
            lw->read_batch /= 2;
        if (!more)
            break;
    }
}

void server_process(struct server *lw)
{
    read_datagrams(lw);
    /* The Register and Update answers went out in coap_io_do_epoll: now the observations may
     * start, and the requests waiting for these devices may go. */
    while (lw->pending) {
        struct reg_entry *e = lw->pending;
        lw->pending = e->next_pending;
        e->in_pending = false;
        if (e->start_observing) {
            e->start_observing = false;
            e->observe_refresh = false;
            observer_start(lw->observer, e);
        } else if (e->observe_refresh && !e->restored && !e->dying) {
            e->observe_refresh = false;
            observer_refresh(lw->observer, e);
        }
        if (e->ready_pending) {
            e->ready_pending = false;
            if (lw->cb.on_ready && can_take_requests(e))
                lw->cb.on_ready(lw->cb_ctx, &e->r);
        }
    }
    expire(lw);
    int64_t now = gw_now_mono_ms();
    ops_timeout(lw->ops, now);
    observer_timeout(lw->observer, now);
}

static void refresh_one(struct reg_entry *e, void *arg)
{
    struct server *lw = arg;
    /* A registration about to start its observations starts them under the new rules anyway;
     * a restored one starts them when it is heard from. */
    if (!e->start_observing && !e->restored)
        observer_refresh(lw->observer, e);
}

void server_refresh_observations(struct server *lw)
{
    registry_each(lw->registry, refresh_one, lw);
}

size_t server_observation_count(const struct server *lw)
{
    return observer_count(lw->observer);
}

int64_t server_next_deadline(struct server *lw)
{
    /* libcoap's own deadlines (retransmissions, idle sessions, handshakes) are on its timerfd,
     * inside server_fd(). */
    int64_t deadline = -1;
    struct reg_entry *e = registry_first_expiry(lw->registry);
    if (e && (deadline < 0 || e->expiry.key < deadline))
        deadline = e->expiry.key;
    int64_t watchdog = observer_next_deadline(lw->observer);
    if (watchdog >= 0 && (deadline < 0 || watchdog < deadline))
        deadline = watchdog;
    int64_t answer = ops_next_deadline(lw->ops);
    if (answer >= 0 && (deadline < 0 || answer < deadline))
        deadline = answer;
    if (lw->pending)
        deadline = gw_now_mono_ms();
    return deadline;
}

/* The filter the kernel runs on each datagram for a plain CoAP listener while notifications
 * are shed: a non-confirmable 2.xx response whose first option is Observe is dropped when a
 * random 32-bit number is below `share`; anything else, and anything too short or malformed
 * to tell, is kept. Every request the gateway sends is confirmable, so such a datagram is a
 * notification, unless a device answers an Observe with a separate non-confirmable response
 * (RFC 7252 5.2.2): that answer may be shed too, and the Observe then ends in a timeout.
 * Offsets count from the UDP header (8 bytes), as for every UDP socket filter (IPv4 and
 * IPv6). */
#define SHED_KEEP 20 /* the index of the "keep" return below */
#define TO_KEEP(i) (SHED_KEEP - 1 - (i))
static int attach_shedding(int fd, uint32_t share)
{
    struct sock_filter code[] = {
        /* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
        /* 1 */ BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 8 + 4, 0, TO_KEEP(1)), /* a CoAP header */
        /* 2 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 8), /* version, type, token length */
        /* 3 */ BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xf0),
        /* 4 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x50, 0, TO_KEEP(4)), /* version 1, NON */
        /* 5 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 9), /* the code */
        /* 6 */ BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xe0),
        /* 7 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x40, 0, TO_KEEP(7)), /* 2.xx */
        /* 8 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 8),
        /* 9 */ BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0x0f),
        /* 10 */ BPF_STMT(BPF_MISC | BPF_TAX, 0), /* X = the token's length */
        /* 11 */ BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, 8, TO_KEEP(11), 0), /* 9-15: malformed */
        /* 12 */ BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
        /* 13 */ BPF_STMT(BPF_ALU | BPF_SUB | BPF_X, 0),
        /* 14 */ BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, 8 + 4, 0, TO_KEEP(14)), /* an option */
        /* 15 */ BPF_STMT(BPF_LD | BPF_B | BPF_IND, 8 + 4), /* its delta and length */
        /* 16 */ BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xf0),
        /* 17 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x60, 0, TO_KEEP(17)), /* Observe (6) */
        /* 18 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)(SKF_AD_OFF + SKF_AD_RANDOM)),
        /* 19 */ BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, share, 0, 1),
        /* 20 */ BPF_STMT(BPF_RET | BPF_K, 0xffffffff), /* keep (SHED_KEEP) */
        /* 21 */ BPF_STMT(BPF_RET | BPF_K, 0),          /* drop */
    };
    struct sock_fprog prog = {.len = GW_ARRAY_LEN(code), .filter = code};
    return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog));
}

/* Datagrams the kernel dropped at the listeners since they were made: a receive buffer was
 * full, or a notification was shed. The kernel's count is 32 bits per socket and wraps; what
 * it went up by is added up in 64 (the listeners' array is not `lw`'s to keep const). */
static uint64_t listener_drops(const struct server *lw)
{
    uint64_t n = 0;
    for (size_t i = 0; i < lw->n_listeners; i++) {
        struct listener *l = &lw->listeners[i];
        uint32_t mem[SK_MEMINFO_VARS];
        socklen_t len = sizeof(mem);
        if (getsockopt(l->fd, SOL_SOCKET, SO_MEMINFO, mem, &len) == 0 &&
            len > SK_MEMINFO_DROPS * sizeof(uint32_t)) {
            l->drops += (uint32_t)(mem[SK_MEMINFO_DROPS] - l->drops_seen);
            l->drops_seen = mem[SK_MEMINFO_DROPS];
        }
        n += l->drops;
    }
    return n;
}

bool server_shed_notifications(struct server *lw, uint32_t share)
{
    int64_t now = gw_now_mono_ms();
    uint32_t step = share > lw->shed ? share - lw->shed : lw->shed - share;
    /* a filter per socket is built anew each time: not for a change under 5 % */
    if (share != lw->shed && !(share && lw->shed && step < UINT32_MAX / 20)) {
        for (size_t i = 0; i < lw->n_listeners; i++) {
            const struct listener *l = &lw->listeners[i];
            int none = 0; /* the kernel wants an int even where it reads none */
            int rc = !l->plain ? 0
                     : share   ? attach_shedding(l->fd, share)
                             : setsockopt(l->fd, SOL_SOCKET, SO_DETACH_FILTER, &none, sizeof(none));
            if (rc != 0 && (share ? !lw->shed_open : errno != ENOENT))
                log_error("notifications-shed-failed fd=%d share=%.2f reason=\"%s\"", l->fd,
                          (double)share / UINT32_MAX, strerror(errno));
        }
        lw->shed = share;
    }
    if (share) {
        lw->shed_quiet_at = -1;
        if (!lw->shed_open) {
            lw->shed_open = true;
            lw->shed_since = now;
            lw->shed_drops = listener_drops(lw);
            log_warn("notifications-shed share=%.2f reason=\"values arrive faster than the MQTT "
                     "side takes them: the kernel drops a share of the notifications before "
                     "they are read\"",
                     (double)share / UINT32_MAX);
        }
    } else if (lw->shed_open && lw->shed_quiet_at < 0) {
        lw->shed_quiet_at = now;
    } else if (lw->shed_open && now - lw->shed_quiet_at >= SHED_QUIET_MS) {
        lw->shed_open = false;
        log_warn("notifications-shed-end dropped=%llu seconds=%.1f",
                 (unsigned long long)(listener_drops(lw) - lw->shed_drops),
                 (double)(lw->shed_quiet_at - lw->shed_since) / 1000.0);
    }
    return lw->shed_open;
}

void server_counters(const struct server *lw, uint64_t out[SRV_COUNTERS])
{
    memcpy(out, lw->ctr, sizeof(lw->ctr));
    unsigned long sent, unanswered;
    ops_counts(lw->ops, &sent, &unanswered);
    out[SRV_OUT_REQUEST] = sent;
    out[SRV_REQUEST_UNANSWERED] = unanswered;
    out[SRV_NOTIFY_STALE] = observer_stale(lw->observer);
    out[SRV_NOTIFY_UNDECODABLE] = observer_rejected(lw->observer);
    out[SRV_DATAGRAMS_DROPPED] = listener_drops(lw);
}

size_t server_count(const struct server *lw)
{
    return registry_count(lw->registry);
}

const struct registration *server_find(const struct server *lw, const char *ep)
{
    struct reg_entry *e = registry_by_ep(lw->registry, ep);
    return e ? &e->r : NULL;
}

int server_submit(struct server *lw, const char *ep, const struct device_request *req,
                  uint64_t handle, char *err, size_t errlen)
{
    struct reg_entry *e = registry_by_ep(lw->registry, ep);
    if (!e)
        return -GW_ERR_NOTFOUND;
    if (!can_take_requests(e))
        return -GW_AGAIN;
    bool composite = req->op == GW_OP_READ_COMPOSITE || req->op == GW_OP_WRITE_COMPOSITE ||
                     req->op == GW_OP_OBSERVE_COMPOSITE;
    if (composite && strcmp(e->r.lwm2m, "1.0") == 0)
        return gw_fail(-GW_ERR_INVALID, err, errlen,
                       "'op' %s needs LwM2M 1.1 or later; %s registered with 1.0",
                       request_op_name(req->op), e->r.ep);
    switch (req->op) {
    case GW_OP_OBSERVE_COMPOSITE:
    case GW_OP_OBSERVE:
        return observer_request(lw->observer, e, req, handle, err, errlen);
    case GW_OP_CANCEL_OBSERVE:
        return observer_cancel_request(lw->observer, e, &req->path, handle, err, errlen);
    default:
        return manage_submit(lw->manage, e, req, handle, err, errlen);
    }
}

int server_restore(struct server *lw, const struct registration *reg, int64_t expires_at)
{
    if (registry_by_ep(lw->registry, reg->ep))
        return -GW_ERR_EXISTS;
    struct reg_entry *e = calloc(1, sizeof(*e));
    if (!e)
        return -GW_ERR_NOMEM;
    e->r = *reg;
    e->r.objects = NULL;
    if (reg->n_objects) {
        e->r.objects = malloc(reg->n_objects * sizeof(*reg->objects));
        if (!e->r.objects) {
            free(e);
            return -GW_ERR_NOMEM;
        }
        memcpy(e->r.objects, reg->objects, reg->n_objects * sizeof(*reg->objects));
    }
    e->restored = true;
    e->expiry.key = gw_now_mono_ms() + (expires_at - gw_now_wall_ms());
    int rc = registry_add(lw->registry, e);
    if (rc < 0)
        return rc;
    log_info("restored ep=%s id=%s lt=%u address=%s", reg->ep, reg->id, reg->lifetime,
             reg->address);
    return GW_OK;
}

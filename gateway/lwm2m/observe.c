/* observe.c - Write-Attributes, Observe and notifications, with one request in flight per
 * device. Tokens are ours: 8 random bytes, unique across all devices, kept in a table of our
 * own rather than in libcoap's sessions, so that a notification is routed by (token, sender)
 * and never by a device's message ids, which clients started in the same second share.
 * Notifications of an observed object are split per object instance before they are
 * reported, as SPEC section 5 asks. */
#include "observe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <uthash.h>

#include "addr.h"
#include "codec.h"
#include "gw.h"
#include "heap.h"

#define TOKEN_LEN 8
#define SEQ_WINDOW (1u << 23)     /* RFC 7641 section 3.4 */
#define SEQ_FRESH_MS (128 * 1000) /* after 128 s any notification is fresh again */
#define SILENCE_MARGIN_S 5        /* an observation is silent at max(2 pmax, pmax + 5 s) */

enum op_kind { OP_WRITE_ATTRIBUTES, OP_OBSERVE, OP_CANCEL };

static const char *const op_names[] = {"write-attributes", "observe", "cancel-observe"};

struct observation {
    uint8_t token[TOKEN_LEN];
    struct reg_entry *reg;
    struct observe_spec spec;
    bool established; /* the device answered the Observe with an Observe option */
    bool has_seq;
    uint32_t last_seq;
    int64_t last_heard; /* monotonic ms */
    struct heap_node watchdog;
    struct observation *next; /* in reg->observations */
    UT_hash_handle hh;        /* by token */
};

struct op {
    enum op_kind kind;
    uint8_t token[TOKEN_LEN];
    struct observation *obs; /* the observation this request serves */
    struct op *next;
    UT_hash_handle hh; /* by token, while in flight */
};

struct observer {
    const struct model *model;
    const struct server_callbacks *cb;
    void *cb_ctx;
    struct observation *by_token;
    struct op *inflight_by_token;
    struct heap watchdogs;
    struct data_records records; /* reused for every notification */
    struct data_records split;   /* one object instance of an object notification */
    uint8_t *taken;              /* per record of `records`: already reported (reused) */
    size_t taken_cap;
    size_t established;
    unsigned long rejected; /* notifications that did not decode, since start */
};

static struct observation *of_watchdog(struct heap_node *n)
{
    return n ? (struct observation *)((char *)n - offsetof(struct observation, watchdog)) : NULL;
}

static void new_token(struct observer *o, uint8_t token[TOKEN_LEN])
{
    struct observation *clash;
    struct op *clash_op;
    do {
        if (getrandom(token, TOKEN_LEN, 0) != TOKEN_LEN) {
            for (int i = 0; i < TOKEN_LEN; i++)
                token[i] = (uint8_t)random();
        }
        HASH_FIND(hh, o->by_token, token, TOKEN_LEN, clash);
        HASH_FIND(hh, o->inflight_by_token, token, TOKEN_LEN, clash_op);
    } while (clash || clash_op);
}

struct observer *observer_new(const struct model *model, const struct server_callbacks *cb,
                              void *cb_ctx)
{
    struct observer *o = calloc(1, sizeof(*o));
    if (!o)
        return NULL;
    o->model = model;
    o->cb = cb;
    o->cb_ctx = cb_ctx;
    return o;
}

void observer_free(struct observer *o)
{
    if (!o)
        return;
    heap_clear(&o->watchdogs);
    data_records_clear(&o->records);
    data_records_clear(&o->split);
    free(o->taken);
    free(o);
}

size_t observer_count(const struct observer *o)
{
    return o->established;
}

unsigned long observer_rejected(const struct observer *o)
{
    return o->rejected;
}

/* ---- sending, one request at a time per device ---- */

static void add_path(coap_pdu_t *pdu, const struct data_path *p)
{
    char seg[8];
    for (uint8_t i = 0; i < p->depth; i++) {
        int n = snprintf(seg, sizeof(seg), "%u", p->id[i]);
        coap_add_option(pdu, COAP_OPTION_URI_PATH, (size_t)n, (const uint8_t *)seg);
    }
}

static void add_attr_int(coap_pdu_t *pdu, const char *name, int32_t v)
{
    char q[40];
    int n = snprintf(q, sizeof(q), "%s=%d", name, (int)v);
    coap_add_option(pdu, COAP_OPTION_URI_QUERY, (size_t)n, (const uint8_t *)q);
}

static void add_attr_num(coap_pdu_t *pdu, const char *name, double v)
{
    char q[48];
    int n = snprintf(q, sizeof(q), "%s=%.15g", name, v);
    coap_add_option(pdu, COAP_OPTION_URI_QUERY, (size_t)n, (const uint8_t *)q);
}

static bool has_attributes(const struct observe_spec *s)
{
    return s->pmin >= 0 || s->pmax >= 0 || s->has_gt || s->has_lt || s->has_st;
}

static const char *path_text(const struct data_path *p, char buf[32])
{
    if (data_path_format(p, buf, 32) < 0)
        snprintf(buf, 32, "?");
    return buf;
}

/* Builds and sends `op` on its registration's session. Returns GW_OK or -GW_ERR_IO. */
static int transmit(struct observer *o, struct op *op)
{
    struct reg_entry *e = op->obs->reg;
    coap_session_t *s = e->session;
    coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON,
                                    op->kind == OP_WRITE_ATTRIBUTES ? COAP_REQUEST_CODE_PUT
                                                                    : COAP_REQUEST_CODE_GET,
                                    coap_new_message_id(s), coap_session_max_pdu_size(s));
    if (!pdu)
        return -GW_ERR_IO;
    coap_add_token(pdu, TOKEN_LEN, op->token);
    const struct observe_spec *spec = &op->obs->spec;
    if (op->kind != OP_WRITE_ATTRIBUTES) {
        uint8_t buf[4];
        unsigned v = op->kind == OP_OBSERVE ? COAP_OBSERVE_ESTABLISH : COAP_OBSERVE_CANCEL;
        coap_add_option(pdu, COAP_OPTION_OBSERVE, coap_encode_var_safe(buf, sizeof(buf), v), buf);
    }
    add_path(pdu, &spec->path);
    if (op->kind == OP_WRITE_ATTRIBUTES) {
        if (spec->pmin >= 0)
            add_attr_int(pdu, "pmin", spec->pmin);
        if (spec->pmax >= 0)
            add_attr_int(pdu, "pmax", spec->pmax);
        if (spec->has_gt)
            add_attr_num(pdu, "gt", spec->gt);
        if (spec->has_lt)
            add_attr_num(pdu, "lt", spec->lt);
        if (spec->has_st)
            add_attr_num(pdu, "st", spec->st);
    }
    if (coap_send(s, pdu) == COAP_INVALID_MID)
        return -GW_ERR_IO;
    HASH_ADD(hh, o->inflight_by_token, token, TOKEN_LEN, op);
    e->inflight = op;
    return GW_OK;
}

/* Sends the next queued request of `e` when none is in flight. */
static void pump(struct observer *o, struct reg_entry *e)
{
    char path[32];
    while (!e->inflight && e->ops_head) {
        struct op *op = e->ops_head;
        e->ops_head = op->next;
        if (!e->ops_head)
            e->ops_tail = NULL;
        op->next = NULL;
        if (transmit(o, op) == GW_OK)
            return;
        log_warn("request-failed ep=%s path=%s reason=\"cannot send\"", e->r.ep,
                 path_text(&op->obs->spec.path, path));
        free(op);
    }
}

static int enqueue(struct observer *o, struct observation *obs, enum op_kind kind)
{
    struct op *op = calloc(1, sizeof(*op));
    if (!op)
        return -GW_ERR_NOMEM;
    op->kind = kind;
    op->obs = obs;
    if (kind == OP_WRITE_ATTRIBUTES)
        new_token(o, op->token);
    else /* Observe and its cancellation carry the observation's token (RFC 7641 3.6) */
        memcpy(op->token, obs->token, TOKEN_LEN);
    struct reg_entry *e = obs->reg;
    if (e->ops_tail)
        e->ops_tail->next = op;
    else
        e->ops_head = op;
    e->ops_tail = op;
    return GW_OK;
}

/* Finishes the in-flight request of `e` and sends the next. */
static struct op *complete(struct observer *o, struct op *op)
{
    struct reg_entry *e = op->obs->reg;
    HASH_DEL(o->inflight_by_token, op);
    if (e->inflight == op)
        e->inflight = NULL;
    pump(o, e);
    return op;
}

/* ---- observations ---- */

/* Removes the requests that serve `obs`, queued or in flight (an answer that still comes for
 * one then finds no token and is ignored). */
static void drop_ops_of(struct observer *o, struct observation *obs)
{
    struct reg_entry *e = obs->reg;
    struct op **pp = &e->ops_head, *last = NULL;
    while (*pp) {
        struct op *op = *pp;
        if (op->obs == obs) {
            *pp = op->next;
            free(op);
        } else {
            last = op;
            pp = &op->next;
        }
    }
    e->ops_tail = last;
    if (e->inflight && e->inflight->obs == obs) {
        HASH_DEL(o->inflight_by_token, e->inflight);
        free(e->inflight);
        e->inflight = NULL;
    }
}

/* Frees `obs` and every request serving it, without sending anything. */
static void forget_quiet(struct observer *o, struct observation *obs)
{
    struct reg_entry *e = obs->reg;
    drop_ops_of(o, obs);
    for (struct observation **pp = &e->observations; *pp; pp = &(*pp)->next) {
        if (*pp == obs) {
            *pp = obs->next;
            break;
        }
    }
    HASH_DEL(o->by_token, obs);
    heap_remove(&o->watchdogs, &obs->watchdog);
    if (obs->established)
        o->established--;
    free(obs);
}

static void forget(struct observer *o, struct observation *obs)
{
    struct reg_entry *e = obs->reg;
    forget_quiet(o, obs);
    pump(o, e);
}

static void arm_watchdog(struct observer *o, struct observation *obs, int64_t now)
{
    if (obs->spec.pmax <= 0)
        return;
    int64_t silent_s = obs->spec.pmax * 2;
    if (silent_s < obs->spec.pmax + SILENCE_MARGIN_S)
        silent_s = obs->spec.pmax + SILENCE_MARGIN_S;
    int64_t at = now + silent_s * 1000;
    if (heap_linked(&obs->watchdog))
        heap_update(&o->watchdogs, &obs->watchdog, at);
    else {
        obs->watchdog.key = at;
        heap_push(&o->watchdogs, &obs->watchdog);
    }
}

static struct observation *add_observation(struct observer *o, struct reg_entry *e,
                                           const struct observe_spec *spec)
{
    struct observation *obs = calloc(1, sizeof(*obs));
    if (!obs)
        return NULL;
    obs->reg = e;
    obs->spec = *spec;
    obs->watchdog.index = GW_HEAP_NONE;
    new_token(o, obs->token);
    HASH_ADD(hh, o->by_token, token, TOKEN_LEN, obs);
    obs->next = e->observations;
    e->observations = obs;
    return obs;
}

void observer_start(struct observer *o, struct reg_entry *e)
{
    struct observe_spec specs[GW_OBSERVE_MAX];
    size_t n =
        o->cb->observations ? o->cb->observations(o->cb_ctx, &e->r, specs, GW_OBSERVE_MAX) : 0;
    char path[32];
    if (n > GW_OBSERVE_MAX) {
        log_warn("observe-limit ep=%s wanted=%zu started=%d", e->r.ep, n, GW_OBSERVE_MAX);
        n = GW_OBSERVE_MAX;
    }
    for (size_t i = 0; i < n; i++) {
        struct observation *obs = add_observation(o, e, &specs[i]);
        if (!obs || (has_attributes(&specs[i]) && enqueue(o, obs, OP_WRITE_ATTRIBUTES) < 0) ||
            enqueue(o, obs, OP_OBSERVE) < 0) {
            log_error("observe-failed ep=%s path=%s reason=\"out of memory\"", e->r.ep,
                      path_text(&specs[i].path, path));
            break;
        }
        log_debug("observe-queued ep=%s path=%s pmin=%d pmax=%d", e->r.ep,
                  path_text(&specs[i].path, path), (int)specs[i].pmin, (int)specs[i].pmax);
    }
    pump(o, e);
}

void observer_drop(struct observer *o, struct reg_entry *e)
{
    if (e->inflight) {
        HASH_DEL(o->inflight_by_token, e->inflight);
        free(e->inflight);
        e->inflight = NULL;
    }
    while (e->ops_head) {
        struct op *next = e->ops_head->next;
        free(e->ops_head);
        e->ops_head = next;
    }
    e->ops_tail = NULL;
    while (e->observations)
        forget(o, e->observations);
}

/* ---- answers and notifications ---- */

/* RFC 7641 section 3.4: is notification `seq`, received at `now`, newer than the last? */
static bool fresh(const struct observation *obs, uint32_t seq, int64_t now)
{
    if (!obs->has_seq || now > obs->last_heard + SEQ_FRESH_MS)
        return true;
    uint32_t v1 = obs->last_seq, v2 = seq;
    return (v1 < v2 && v2 - v1 < SEQ_WINDOW) || (v1 > v2 && v1 - v2 > SEQ_WINDOW);
}

static enum codec_format payload_format(const coap_pdu_t *pdu, const struct data_path *path)
{
    coap_opt_iterator_t it;
    coap_opt_t *opt = coap_check_option(pdu, COAP_OPTION_CONTENT_FORMAT, &it);
    if (opt)
        return (enum codec_format)coap_decode_var_bytes(coap_opt_value(opt), coap_opt_length(opt));
    /* No Content-Format: LwM2M 1.0 devices send a single resource as text, the rest TLV. */
    return path->depth >= 3 ? GW_FMT_TEXT : GW_FMT_TLV;
}

static void report(struct observer *o, struct observation *obs, const struct data_records *r,
                   int64_t received_at)
{
    if (o->cb->on_values)
        o->cb->on_values(o->cb_ctx, &obs->reg->r, &obs->spec.path, r, received_at);
}

/* An object notification carries every instance: each is reported on its own. */
static void report_split(struct observer *o, struct observation *obs)
{
    const struct data_records *all = &o->records;
    int64_t received_at = gw_now_wall_ms(); /* one time for every instance of the datagram */
    if (obs->spec.path.depth != 1) {
        report(o, obs, all, received_at);
        return;
    }
    if (o->taken_cap < all->n) {
        uint8_t *t = realloc(o->taken, all->n);
        if (!t) {
            report(o, obs, all, received_at);
            return;
        }
        o->taken = t;
        o->taken_cap = all->n;
    }
    uint8_t *done = o->taken;
    memset(done, 0, all->n);
    for (size_t i = 0; i < all->n; i++) {
        if (done[i])
            continue;
        data_records_reset(&o->split);
        uint16_t iid = all->v[i].path.id[1];
        for (size_t j = i; j < all->n; j++) {
            const struct data_record *rec = &all->v[j];
            if (done[j] || rec->path.depth < 2 || rec->path.id[1] != iid)
                continue;
            done[j] = 1;
            data_records_add(&o->split, &rec->path, &rec->value, rec->has_time, rec->time);
        }
        report(o, obs, &o->split, received_at);
    }
}

static void deliver(struct observer *o, struct observation *obs, const coap_pdu_t *pdu)
{
    char err[160], path[32];
    const uint8_t *data = NULL;
    size_t len = 0, offset = 0, total = 0;
    coap_get_data_large(pdu, &len, &data, &offset, &total);
    enum codec_format fmt = payload_format(pdu, &obs->spec.path);
    struct codec_ctx ctx = {.base = obs->spec.path, .model = o->model};
    data_records_reset(&o->records);
    int rc = codec_decode(fmt, data, len, &ctx, &o->records, err, sizeof(err));
    if (rc < 0) {
        o->rejected++;
        log_warn("notification-rejected ep=%s path=%s format=%d rejected_total=%lu reason=\"%s\"",
                 obs->reg->r.ep, path_text(&obs->spec.path, path), (int)fmt, o->rejected,
                 rc == -GW_ERR_INVALID ? err : gw_strerror(rc));
        return;
    }
    report_split(o, obs);
}

static void on_observe_answer(struct observer *o, struct observation *obs, const coap_pdu_t *pdu,
                              int64_t now)
{
    char path[32];
    coap_pdu_code_t code = coap_pdu_get_code(pdu);
    struct reg_entry *e = obs->reg;
    if (COAP_RESPONSE_CLASS(code) != 2) {
        log_warn("observe-refused ep=%s path=%s code=%d.%02d", e->r.ep,
                 path_text(&obs->spec.path, path), COAP_RESPONSE_CLASS(code), code & 0x1f);
        forget(o, obs);
        return;
    }
    coap_opt_iterator_t it;
    coap_opt_t *opt = coap_check_option(pdu, COAP_OPTION_OBSERVE, &it);
    if (!opt) {
        /* A device that cannot observe this path answers it like a Read: report the values
         * once and forget the observation. */
        log_warn("observe-not-supported ep=%s path=%s", e->r.ep, path_text(&obs->spec.path, path));
        deliver(o, obs, pdu);
        forget(o, obs);
        return;
    }
    obs->established = true;
    o->established++;
    obs->has_seq = true;
    obs->last_seq = coap_decode_var_bytes(coap_opt_value(opt), coap_opt_length(opt));
    obs->last_heard = now;
    arm_watchdog(o, obs, now);
    log_info("observing ep=%s path=%s pmin=%d pmax=%d", e->r.ep, path_text(&obs->spec.path, path),
             (int)obs->spec.pmin, (int)obs->spec.pmax);
    deliver(o, obs, pdu);
}

static void on_notification(struct observer *o, struct observation *obs, const coap_pdu_t *pdu,
                            int64_t now)
{
    char path[32];
    coap_opt_iterator_t it;
    coap_opt_t *opt = coap_check_option(pdu, COAP_OPTION_OBSERVE, &it);
    if (COAP_RESPONSE_CLASS(coap_pdu_get_code(pdu)) != 2) {
        /* RFC 7641: an error response ends the observation. */
        log_warn("observation-ended ep=%s path=%s code=%d.%02d", obs->reg->r.ep,
                 path_text(&obs->spec.path, path), COAP_RESPONSE_CLASS(coap_pdu_get_code(pdu)),
                 coap_pdu_get_code(pdu) & 0x1f);
        forget(o, obs);
        return;
    }
    if (opt) {
        uint32_t seq = coap_decode_var_bytes(coap_opt_value(opt), coap_opt_length(opt));
        if (!fresh(obs, seq, now)) {
            log_debug("notification-stale ep=%s path=%s seq=%u last=%u", obs->reg->r.ep,
                      path_text(&obs->spec.path, path), seq, obs->last_seq);
            return;
        }
        obs->last_seq = seq;
        obs->has_seq = true;
    }
    obs->last_heard = now;
    arm_watchdog(o, obs, now);
    deliver(o, obs, pdu);
}

coap_response_t observer_response(struct observer *o, coap_session_t *session,
                                  const coap_pdu_t *received)
{
    coap_bin_const_t token = coap_pdu_get_token(received);
    int64_t now = gw_now_mono_ms();
    char peer[64];
    if (token.length != TOKEN_LEN)
        return COAP_RESPONSE_FAIL;

    struct op *op = NULL;
    HASH_FIND(hh, o->inflight_by_token, token.s, TOKEN_LEN, op);
    if (op) {
        struct observation *obs = op->obs;
        enum op_kind kind = op->kind;
        free(complete(o, op));
        if (kind == OP_OBSERVE)
            on_observe_answer(o, obs, received, now);
        else if (kind == OP_CANCEL)
            forget(o, obs);
        else if (COAP_RESPONSE_CLASS(coap_pdu_get_code(received)) != 2)
            log_warn("write-attributes-refused ep=%s code=%d.%02d", obs->reg->r.ep,
                     COAP_RESPONSE_CLASS(coap_pdu_get_code(received)),
                     coap_pdu_get_code(received) & 0x1f);
        return COAP_RESPONSE_OK;
    }

    struct observation *obs = NULL;
    HASH_FIND(hh, o->by_token, token.s, TOKEN_LEN, obs);
    addr_format(coap_session_get_addr_remote(session), peer, sizeof(peer));
    if (!obs || !obs->established || strcmp(peer, obs->reg->r.address) != 0) {
        log_debug("notification-unknown address=%s reason=\"no such observation: reset\"", peer);
        return COAP_RESPONSE_FAIL;
    }
    on_notification(o, obs, received, now);
    return COAP_RESPONSE_OK;
}

void observer_nack(struct observer *o, const coap_pdu_t *sent, coap_nack_reason_t reason)
{
    char path[32];
    if (!sent)
        return;
    coap_bin_const_t token = coap_pdu_get_token(sent);
    struct op *op = NULL;
    if (token.length == TOKEN_LEN)
        HASH_FIND(hh, o->inflight_by_token, token.s, TOKEN_LEN, op);
    if (!op)
        return;
    struct observation *obs = op->obs;
    enum op_kind kind = op->kind;
    log_warn("request-unanswered ep=%s op=%s path=%s reason=%s", obs->reg->r.ep, op_names[kind],
             path_text(&obs->spec.path, path), reason == COAP_NACK_RST ? "reset" : "timeout");
    free(complete(o, op));
    if (kind != OP_WRITE_ATTRIBUTES)
        forget(o, obs);
}

static bool same_spec(const struct observe_spec *a, const struct observe_spec *b)
{
    return a->path.depth == b->path.depth &&
           memcmp(a->path.id, b->path.id, a->path.depth * sizeof(a->path.id[0])) == 0 &&
           a->pmin == b->pmin && a->pmax == b->pmax && a->has_gt == b->has_gt &&
           a->has_lt == b->has_lt && a->has_st == b->has_st && (!a->has_gt || a->gt == b->gt) &&
           (!a->has_lt || a->lt == b->lt) && (!a->has_st || a->st == b->st);
}

void observer_refresh(struct observer *o, struct reg_entry *e)
{
    struct observe_spec specs[GW_OBSERVE_MAX];
    bool kept[GW_OBSERVE_MAX] = {false};
    char path[32];
    size_t n =
        o->cb->observations ? o->cb->observations(o->cb_ctx, &e->r, specs, GW_OBSERVE_MAX) : 0;
    if (n > GW_OBSERVE_MAX)
        n = GW_OBSERVE_MAX;
    /* Observations the new rules still want stay as they are; the others are cancelled
     * actively (GET with Observe=1, RFC 7641 section 3.6). */
    for (struct observation *obs = e->observations, *next; obs; obs = next) {
        next = obs->next;
        size_t i = 0;
        while (i < n && (kept[i] || !same_spec(&obs->spec, &specs[i])))
            i++;
        if (i < n) {
            kept[i] = true;
            continue;
        }
        if (obs->established) {
            drop_ops_of(o, obs);
            heap_remove(&o->watchdogs, &obs->watchdog);
            log_info("observe-cancel ep=%s path=%s", e->r.ep, path_text(&obs->spec.path, path));
            if (enqueue(o, obs, OP_CANCEL) == GW_OK)
                continue;
        }
        forget(o, obs);
    }
    for (size_t i = 0; i < n; i++) {
        if (kept[i])
            continue;
        struct observation *obs = add_observation(o, e, &specs[i]);
        if (!obs || (has_attributes(&specs[i]) && enqueue(o, obs, OP_WRITE_ATTRIBUTES) < 0) ||
            enqueue(o, obs, OP_OBSERVE) < 0) {
            log_error("observe-failed ep=%s path=%s reason=\"out of memory\"", e->r.ep,
                      path_text(&specs[i].path, path));
            break;
        }
    }
    pump(o, e);
}

void observer_timeout(struct observer *o, int64_t now_ms)
{
    char path[32];
    struct observation *obs;
    while ((obs = of_watchdog(heap_top(&o->watchdogs))) && obs->watchdog.key <= now_ms) {
        heap_remove(&o->watchdogs, &obs->watchdog);
        /* Silent well past pmax: observe again under a new token, so that whatever the device
         * still sends for the old one is reset. */
        log_warn("observation-silent ep=%s path=%s pmax=%d reason=\"observing again\"",
                 obs->reg->r.ep, path_text(&obs->spec.path, path), (int)obs->spec.pmax);
        HASH_DEL(o->by_token, obs);
        new_token(o, obs->token);
        HASH_ADD(hh, o->by_token, token, TOKEN_LEN, obs);
        if (obs->established)
            o->established--;
        obs->established = false;
        obs->has_seq = false;
        if (enqueue(o, obs, OP_OBSERVE) == GW_OK)
            pump(o, obs->reg);
    }
}

int64_t observer_next_deadline(const struct observer *o)
{
    struct heap_node *n = heap_top(&o->watchdogs);
    return n ? n->key : -1;
}

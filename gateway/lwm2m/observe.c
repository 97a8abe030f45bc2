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
#include "blockwise.h"
#include "codec.h"
#include "gw.h"
#include "heap.h"
#include "manage.h"

#define TOKEN_LEN GW_TOKEN_LEN
#define SEQ_WINDOW (1u << 23)     /* RFC 7641 section 3.4 */
#define SEQ_FRESH_MS (128 * 1000) /* after 128 s any notification is fresh again */
#define SILENCE_MARGIN_S 5        /* an observation is silent at max(2 pmax, pmax + 5 s) */

enum op_kind { OP_WRITE_ATTRIBUTES, OP_OBSERVE, OP_CANCEL };

static const char *const op_names[] = {"write-attributes", "observe", "cancel-observe"};

/* What a request from MQTT waits for on an observation: the answer to its Observe or to its
 * cancellation. */
struct pending_request {
    uint64_t handle;
    enum request_op op;
    bool active;
};

struct observation {
    uint8_t token[TOKEN_LEN];
    struct reg_entry *reg;
    struct observe_spec spec;
    bool established; /* the device answered the Observe with an Observe option */
    bool has_seq;
    uint32_t last_seq;
    int64_t last_heard; /* monotonic ms */
    struct heap_node watchdog;
    struct pending_request request; /* an MQTT request waiting for this observation's answer */
    uint8_t *fetch;                 /* observe-composite: the FETCH payload (SenML names) */
    size_t fetch_len;
    int fetch_format;
    struct observation *next; /* in reg->observations */
    UT_hash_handle hh;        /* by token */
};

struct observer {
    const struct model *model;
    const struct server_callbacks *cb;
    void *cb_ctx;
    struct ops *ops;
    struct manage *manage;
    struct observation *by_token;
    struct heap watchdogs;
    struct data_records records; /* reused for every notification */
    struct data_records split;   /* one object instance of an object notification */
    uint8_t *taken;              /* per record of `records`: already reported (reused) */
    size_t taken_cap;
    size_t established;
    unsigned long rejected; /* notifications that did not decode, since start */
    unsigned long stale;    /* notifications older than one already taken, since start */
};

static struct observation *of_watchdog(struct heap_node *n)
{
    return n ? (struct observation *)((char *)n - offsetof(struct observation, watchdog)) : NULL;
}

static bool token_taken(void *arg, const uint8_t *token)
{
    struct observer *o = arg;
    struct observation *clash = NULL;
    HASH_FIND(hh, o->by_token, token, TOKEN_LEN, clash);
    return clash != NULL;
}

static void new_token(struct observer *o, uint8_t token[TOKEN_LEN])
{
    ops_token(o->ops, token, token_taken, o);
}

struct observer *observer_new(const struct model *model, const struct server_callbacks *cb,
                              void *cb_ctx, struct ops *ops, struct manage *manage)
{
    struct observer *o = calloc(1, sizeof(*o));
    if (!o)
        return NULL;
    o->ops = ops;
    o->manage = manage;
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

unsigned long observer_stale(const struct observer *o)
{
    return o->stale;
}

/* ---- requests, through ops.c ---- */

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

static void add_query(struct op *op, const char *name, double v, bool integer)
{
    if (op->n_query >= GW_OP_QUERIES)
        return;
    if (integer)
        snprintf(op->query[op->n_query++], sizeof(op->query[0]), "%s=%d", name, (int)v);
    else
        snprintf(op->query[op->n_query++], sizeof(op->query[0]), "%s=%.15g", name, v);
}

void observer_attributes_query(struct op *op, const struct observe_spec *spec)
{
    if (spec->pmin >= 0)
        add_query(op, "pmin", spec->pmin, true);
    if (spec->pmax >= 0)
        add_query(op, "pmax", spec->pmax, true);
    if (spec->has_gt)
        add_query(op, "gt", spec->gt, false);
    if (spec->has_lt)
        add_query(op, "lt", spec->lt, false);
    if (spec->has_st)
        add_query(op, "st", spec->st, false);
}

static void forget(struct observer *o, struct observation *obs);
static void on_observe_answer(struct observer *o, struct observation *obs, const coap_pdu_t *pdu,
                              int64_t now);

/* Answers the MQTT request waiting on `obs`, if any, with how its op ended. */
static void answer_request(struct observer *o, struct observation *obs, enum op_end end,
                           const coap_pdu_t *pdu)
{
    if (!obs->request.active)
        return;
    obs->request.active = false;
    manage_report(o->manage, obs->reg, obs->request.handle, obs->request.op, &obs->spec.path, end,
                  pdu);
}

static void done_write_attributes(struct op *op, enum op_end end, const coap_pdu_t *answer)
{
    struct observation *obs = op->owner;
    if (end == GW_OP_ANSWERED && COAP_RESPONSE_CLASS(coap_pdu_get_code(answer)) != 2)
        log_warn("write-attributes-refused ep=%s code=%d.%02d", obs->reg->r.ep,
                 COAP_RESPONSE_CLASS(coap_pdu_get_code(answer)), coap_pdu_get_code(answer) & 0x1f);
}

static void done_observe(struct op *op, enum op_end end, const coap_pdu_t *answer)
{
    struct observer *o = op->ctx;
    struct observation *obs = op->owner;
    if (end == GW_OP_ANSWERED) {
        on_observe_answer(o, obs, answer, gw_now_mono_ms());
        return;
    }
    /* Every retransmission lost is not the device's "no": a rule's Observe goes again. */
    if (end == GW_OP_TIMEOUT && !obs->request.active && !obs->fetch)
        obs->reg->observe_refresh = true;
    answer_request(o, obs, end, NULL);
    if (end == GW_OP_TIMEOUT || end == GW_OP_RESET)
        forget(o, obs);
    /* GW_OP_NOT_SENT, GW_OP_ABANDONED: the registration is being dropped, and with it obs */
}

static void done_cancel(struct op *op, enum op_end end, const coap_pdu_t *answer)
{
    struct observer *o = op->ctx;
    struct observation *obs = op->owner;
    answer_request(o, obs, end, answer);
    if (end != GW_OP_NOT_SENT && end != GW_OP_ABANDONED)
        forget(o, obs);
}

static int enqueue(struct observer *o, struct observation *obs, enum op_kind kind)
{
    static const op_done_fn done[] = {done_write_attributes, done_observe, done_cancel};
    struct op *op =
        ops_op_new(o->ops, obs->reg, op_names[kind], done[kind], o, obs, token_taken, o);
    if (!op)
        return -GW_ERR_NOMEM;
    op->path = obs->spec.path;
    if (kind == OP_WRITE_ATTRIBUTES) {
        op->method = COAP_REQUEST_CODE_PUT;
        observer_attributes_query(op, &obs->spec);
    } else {
        /* Observe and its cancellation carry the observation's token (RFC 7641 3.6). */
        memcpy(op->token, obs->token, TOKEN_LEN);
        op->observe = kind == OP_OBSERVE ? COAP_OBSERVE_ESTABLISH : COAP_OBSERVE_CANCEL;
        if (obs->fetch) {
            op->method = COAP_REQUEST_CODE_FETCH;
            op->payload = malloc(obs->fetch_len);
            if (!op->payload) {
                ops_op_free(op);
                return -GW_ERR_NOMEM;
            }
            memcpy(op->payload, obs->fetch, obs->fetch_len);
            op->len = obs->fetch_len;
            op->content_format = obs->fetch_format;
            op->accept = obs->fetch_format;
        }
    }
    ops_send(o->ops, op);
    return GW_OK;
}

/* ---- observations ---- */

/* Frees `obs` and every request serving it, without sending anything. A request from MQTT
 * still waiting on it gets its answer now: every accepted request ends exactly once. */
static void forget_quiet(struct observer *o, struct observation *obs)
{
    struct reg_entry *e = obs->reg;
    answer_request(o, obs, GW_OP_ABANDONED, NULL);
    ops_forget_owner(o->ops, e, obs);
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
    free(obs->fetch);
    free(obs);
}

static void forget(struct observer *o, struct observation *obs)
{
    struct reg_entry *e = obs->reg;
    forget_quiet(o, obs);
    ops_pump(o->ops, e);
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

/* Starts observing `spec`: Write-Attributes first where attributes are set, then Observe. */
static struct observation *start_one(struct observer *o, struct reg_entry *e,
                                     const struct observe_spec *spec)
{
    char path[32];
    struct observation *obs = add_observation(o, e, spec);
    if (!obs || (has_attributes(spec) && enqueue(o, obs, OP_WRITE_ATTRIBUTES) < 0) ||
        enqueue(o, obs, OP_OBSERVE) < 0) {
        log_error("observe-failed ep=%s path=%s reason=\"out of memory\"", e->r.ep,
                  path_text(&spec->path, path));
        if (obs)
            forget_quiet(o, obs);
        return NULL;
    }
    log_debug("observe-queued ep=%s path=%s pmin=%d pmax=%d", e->r.ep, path_text(&spec->path, path),
              (int)spec->pmin, (int)spec->pmax);
    return obs;
}

void observer_start(struct observer *o, struct reg_entry *e)
{
    struct observe_spec specs[GW_OBSERVE_MAX];
    size_t n =
        o->cb->observations ? o->cb->observations(o->cb_ctx, &e->r, specs, GW_OBSERVE_MAX) : 0;
    if (n > GW_OBSERVE_MAX) {
        log_warn("observe-limit ep=%s wanted=%zu started=%d", e->r.ep, n, GW_OBSERVE_MAX);
        n = GW_OBSERVE_MAX;
    }
    for (size_t i = 0; i < n; i++)
        if (!start_one(o, e, &specs[i]))
            break;
}

/* A request that would replace or cancel `obs` while another request still waits on it is
 * refused: ending the waiting one here would call on_result inside server_submit. (The bridge
 * sends one request per device at a time, so it never meets this.) */
static int busy(const struct observation *obs, char *err, size_t errlen)
{
    char path[32];
    return gw_fail(-GW_ERR_INVALID, err, errlen,
                   "an earlier request on the observation of %s still waits for the device",
                   path_text(&obs->spec.path, path));
}

int observer_request(struct observer *o, struct reg_entry *e, const struct device_request *req,
                     uint64_t handle, char *err, size_t errlen)
{
    struct observe_spec spec = req->attrs;
    spec.path = req->path;
    if (req->op == GW_OP_OBSERVE_COMPOSITE)
        spec.path.depth = 0;
    /* A new Observe of a path replaces the observation of that path (the device's old token
     * is reset when it next notifies). */
    for (struct observation *obs = e->observations; obs; obs = obs->next)
        if (req->op == GW_OP_OBSERVE && !obs->fetch &&
            data_path_equal(&obs->spec.path, &spec.path) && obs->request.active)
            return busy(obs, err, errlen);
    for (struct observation *obs = e->observations, *next; obs; obs = next) {
        next = obs->next;
        if (req->op == GW_OP_OBSERVE && !obs->fetch && data_path_equal(&obs->spec.path, &spec.path))
            forget_quiet(o, obs);
    }
    struct observation *obs = add_observation(o, e, &spec);
    if (!obs)
        return -GW_ERR_NOMEM;
    if (req->op == GW_OP_OBSERVE_COMPOSITE) {
        enum codec_format f = req->has_format ? req->format : GW_FMT_SENML_JSON;
        int rc = manage_paths_payload(req->paths, req->n_paths, f, &obs->fetch, &obs->fetch_len);
        if (rc < 0) {
            forget_quiet(o, obs);
            return rc == -GW_ERR_INVALID ? gw_fail(rc, err, errlen,
                                                   "'format' must be senml-json or senml-cbor "
                                                   "for observe-composite")
                                         : rc;
        }
        obs->fetch_format = (int)f;
    }
    obs->request = (struct pending_request){.handle = handle, .op = req->op, .active = true};
    if ((has_attributes(&spec) && enqueue(o, obs, OP_WRITE_ATTRIBUTES) < 0) ||
        enqueue(o, obs, OP_OBSERVE) < 0) {
        obs->request.active = false; /* the error return is its answer */
        ops_forget_owner(o->ops, e, obs);
        forget_quiet(o, obs);
        return -GW_ERR_NOMEM;
    }
    return GW_OK;
}

int observer_cancel_request(struct observer *o, struct reg_entry *e, const struct data_path *path,
                            uint64_t handle, char *err, size_t errlen)
{
    struct observation *obs = e->observations;
    while (obs && (obs->fetch || !data_path_equal(&obs->spec.path, path)))
        obs = obs->next;
    if (obs && obs->request.active)
        return busy(obs, err, errlen);
    if (!obs || !obs->established) {
        /* Nothing established there: a GET with Observe=1 under a fresh token is a plain
         * read for the device (RFC 7641 section 3.6), answered like the cancellation. */
        struct observe_spec spec = {.path = *path, .pmin = -1, .pmax = -1};
        if (obs)
            forget_quiet(o, obs);
        obs = add_observation(o, e, &spec);
        if (!obs)
            return -GW_ERR_NOMEM;
    }
    ops_forget_owner(o->ops, e, obs);
    heap_remove(&o->watchdogs, &obs->watchdog);
    obs->request =
        (struct pending_request){.handle = handle, .op = GW_OP_CANCEL_OBSERVE, .active = true};
    if (enqueue(o, obs, OP_CANCEL) < 0) {
        obs->request.active = false;
        forget_quiet(o, obs);
        return -GW_ERR_NOMEM;
    }
    return GW_OK;
}

void observer_drop(struct observer *o, struct reg_entry *e)
{
    for (struct observation *obs = e->observations; obs; obs = obs->next)
        answer_request(o, obs, GW_OP_NOT_SENT, NULL);
    while (e->observations)
        forget_quiet(o, e->observations);
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
    if (all->n == 0)
        return; /* no instance to report (and `taken` may not exist yet: memset(NULL) is UB) */
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
    enum codec_format fmt = ops_payload_format(pdu, &obs->spec.path);
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
    answer_request(o, obs, GW_OP_ANSWERED, pdu);
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
    /* A notification may have overtaken an answer that came in blocks: the newer value stays. */
    uint32_t seq = coap_decode_var_bytes(coap_opt_value(opt), coap_opt_length(opt));
    bool newer = fresh(obs, seq, now);
    if (newer) {
        obs->has_seq = true;
        obs->last_seq = seq;
    }
    obs->last_heard = now;
    arm_watchdog(o, obs, now);
    log_info("observing ep=%s path=%s pmin=%d pmax=%d", e->r.ep, path_text(&obs->spec.path, path),
             (int)obs->spec.pmin, (int)obs->spec.pmax);
    if (newer)
        deliver(o, obs, pdu);
}

static void done_rest(struct op *op, enum op_end end, const coap_pdu_t *answer)
{
    struct observer *o = op->ctx;
    struct observation *obs = op->owner;
    char path[32];
    if (end == GW_OP_ANSWERED && COAP_RESPONSE_CLASS(coap_pdu_get_code(answer)) == 2) {
        deliver(o, obs, answer);
        return;
    }
    o->rejected++;
    log_warn("notification-rejected ep=%s path=%s rejected_total=%lu reason=\"%s\"", obs->reg->r.ep,
             path_text(&obs->spec.path, path), o->rejected,
             end == GW_OP_ANSWERED ? "the device refused its further blocks"
                                   : "its further blocks did not come");
}

/* A notification that carries block 0 of its value (RFC 7959 section 2.6): the rest is asked
 * for like a Read (a FETCH for a composite observation), and the value is reported whole. */
static void fetch_rest(struct observer *o, struct observation *obs, const coap_pdu_t *pdu)
{
    char path[32];
    struct op *op =
        ops_op_new(o->ops, obs->reg, "notification-blocks", done_rest, o, obs, token_taken, o);
    if (op) {
        op->path = obs->spec.path;
        coap_opt_iterator_t it;
        coap_opt_t *cf = coap_check_option(pdu, COAP_OPTION_CONTENT_FORMAT, &it);
        if (cf)
            op->accept = (int)coap_decode_var_bytes(coap_opt_value(cf), coap_opt_length(cf));
        if (obs->fetch && (op->payload = malloc(obs->fetch_len))) {
            op->method = COAP_REQUEST_CODE_FETCH;
            memcpy(op->payload, obs->fetch, obs->fetch_len);
            op->len = obs->fetch_len;
            op->content_format = obs->fetch_format;
        }
    }
    if (!op || (obs->fetch && !op->payload) || ops_fetch_rest(op, pdu) < 0) {
        ops_op_free(op);
        o->rejected++;
        log_warn("notification-rejected ep=%s path=%s rejected_total=%lu reason=\"%s\"",
                 obs->reg->r.ep, path_text(&obs->spec.path, path), o->rejected,
                 op ? "unusable first block" : "out of memory");
        return;
    }
    ops_send(o->ops, op);
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
            o->stale++;
            log_debug("notification-stale ep=%s path=%s seq=%u last=%u", obs->reg->r.ep,
                      path_text(&obs->spec.path, path), seq, obs->last_seq);
            return;
        }
        obs->last_seq = seq;
        obs->has_seq = true;
    }
    obs->last_heard = now;
    if (obs->established)
        arm_watchdog(o, obs, now); /* else its Observe is still out, with a deadline of its own */
    coap_block_t b;
    if (block_read(pdu, COAP_OPTION_BLOCK2, &b) > 0 && b.m) {
        fetch_rest(o, obs, pdu);
        return;
    }
    deliver(o, obs, pdu);
}

coap_response_t observer_response(struct observer *o, coap_session_t *session,
                                  const coap_pdu_t *received)
{
    coap_bin_const_t token = coap_pdu_get_token(received);
    char peer[64];
    if (token.length != TOKEN_LEN)
        return COAP_RESPONSE_FAIL;
    struct observation *obs = NULL;
    HASH_FIND(hh, o->by_token, token.s, TOKEN_LEN, obs);
    addr_format(coap_session_get_addr_remote(session), peer, sizeof(peer));
    /* One for an observation whose Observe answer is still coming (in blocks) is taken. */
    if (!obs || strcmp(peer, obs->reg->r.address) != 0) {
        log_debug("notification-unknown address=%s reason=\"no such observation: reset\"", peer);
        return COAP_RESPONSE_FAIL;
    }
    on_notification(o, obs, received, gw_now_mono_ms());
    return COAP_RESPONSE_OK;
}

static bool same_spec(const struct observe_spec *a, const struct observe_spec *b)
{
    return data_path_equal(&a->path, &b->path) && a->pmin == b->pmin && a->pmax == b->pmax &&
           a->has_gt == b->has_gt && a->has_lt == b->has_lt && a->has_st == b->has_st &&
           (!a->has_gt || a->gt == b->gt) && (!a->has_lt || a->lt == b->lt) &&
           (!a->has_st || a->st == b->st);
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
        /* Observations a request asked for, or is waiting on, are not the rules' to drop. */
        if (obs->fetch || obs->request.active)
            continue;
        size_t i = 0;
        while (i < n && (kept[i] || !same_spec(&obs->spec, &specs[i])))
            i++;
        if (i < n) {
            kept[i] = true;
            continue;
        }
        if (obs->established) {
            ops_forget_owner(o->ops, e, obs);
            heap_remove(&o->watchdogs, &obs->watchdog);
            log_info("observe-cancel ep=%s path=%s", e->r.ep, path_text(&obs->spec.path, path));
            if (enqueue(o, obs, OP_CANCEL) == GW_OK)
                continue;
        }
        forget(o, obs);
    }
    for (size_t i = 0; i < n; i++)
        if (!kept[i] && !start_one(o, e, &specs[i]))
            break;
    ops_pump(o->ops, e);
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
        if (enqueue(o, obs, OP_OBSERVE) < 0)
            forget(o, obs);
    }
}

int64_t observer_next_deadline(const struct observer *o)
{
    struct heap_node *n = heap_top(&o->watchdogs);
    return n ? n->key : -1;
}

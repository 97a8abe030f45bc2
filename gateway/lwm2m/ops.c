/* ops.c - one request in flight per device, the rest queued in order (CoAP NSTART=1).
 * Tokens are ours, 8 random bytes checked for uniqueness, so that an answer is routed by the
 * token the gateway chose and never by a device's message id. A request that cannot be sent
 * is not ended on the spot: it becomes due at once and ends in ops_timeout(), so that no
 * done() callback ever runs inside the call that queued the request. */
#include "ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "gw.h"

struct ops {
    struct op *in_flight; /* by token */
    struct heap deadlines;
    int64_t answer_timeout_ms;
    unsigned long sent;     /* requests handed to libcoap, since start */
    unsigned long timeouts; /* requests that ended unanswered or reset, since start */
};

static struct op *of_timer(struct heap_node *n)
{
    return n ? (struct op *)((char *)n - offsetof(struct op, timer)) : NULL;
}

struct ops *ops_new(int64_t answer_timeout_ms)
{
    struct ops *ops = calloc(1, sizeof(*ops));
    if (ops)
        ops->answer_timeout_ms = answer_timeout_ms;
    return ops;
}

void ops_free(struct ops *ops)
{
    if (!ops)
        return;
    heap_clear(&ops->deadlines);
    free(ops);
}

bool ops_token_in_flight(const struct ops *ops, const uint8_t *token)
{
    struct op *op = NULL;
    HASH_FIND(hh, ops->in_flight, token, GW_TOKEN_LEN, op);
    return op != NULL;
}

void ops_token(struct ops *ops, uint8_t token[GW_TOKEN_LEN],
               bool (*taken)(void *arg, const uint8_t *token), void *taken_arg)
{
    do {
        if (getrandom(token, GW_TOKEN_LEN, 0) != GW_TOKEN_LEN) {
            for (int i = 0; i < GW_TOKEN_LEN; i++)
                token[i] = (uint8_t)random();
        }
    } while (ops_token_in_flight(ops, token) || (taken && taken(taken_arg, token)));
}

struct op *ops_op_new(struct ops *ops, struct reg_entry *e, const char *name, op_done_fn done,
                      void *ctx, void *owner, bool (*taken)(void *arg, const uint8_t *token),
                      void *taken_arg)
{
    struct op *op = calloc(1, sizeof(*op));
    if (!op)
        return NULL;
    op->reg = e;
    op->name = name;
    op->done = done;
    op->ctx = ctx;
    op->owner = owner;
    op->method = COAP_REQUEST_CODE_GET;
    op->observe = -1;
    op->content_format = -1;
    op->accept = -1;
    op->timer.index = GW_HEAP_NONE;
    ops_token(ops, op->token, taken, taken_arg);
    return op;
}

void ops_op_free(struct op *op)
{
    if (!op)
        return;
    free(op->payload);
    free(op);
}

static void add_uint_option(coap_pdu_t *pdu, coap_option_num_t num, unsigned v)
{
    uint8_t buf[4];
    coap_add_option(pdu, num, coap_encode_var_safe(buf, sizeof(buf), v), buf);
}

static void release_copy(coap_session_t *session, void *copy)
{
    (void)session;
    free(copy);
}

/* Builds and sends `op`. Returns GW_OK or -GW_ERR_IO. Options go in ascending number order, as
 * coap_add_option wants: Observe (6), Uri-Path (11), Content-Format (12), Uri-Query (15),
 * Accept (17). */
static int transmit(struct op *op)
{
    coap_session_t *s = op->reg->session;
    if (!s)
        return -GW_ERR_IO;
    coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, op->method, coap_new_message_id(s),
                                    coap_session_max_pdu_size(s));
    if (!pdu)
        return -GW_ERR_IO;
    char seg[8];
    coap_add_token(pdu, GW_TOKEN_LEN, op->token);
    if (op->observe >= 0)
        add_uint_option(pdu, COAP_OPTION_OBSERVE, (unsigned)op->observe);
    for (uint8_t i = 0; i < op->path.depth; i++) {
        int n = snprintf(seg, sizeof(seg), "%u", op->path.id[i]);
        coap_add_option(pdu, COAP_OPTION_URI_PATH, (size_t)n, (const uint8_t *)seg);
    }
    if (op->content_format >= 0)
        add_uint_option(pdu, COAP_OPTION_CONTENT_FORMAT, (unsigned)op->content_format);
    for (int i = 0; i < op->n_query; i++)
        coap_add_option(pdu, COAP_OPTION_URI_QUERY, strlen(op->query[i]),
                        (const uint8_t *)op->query[i]);
    if (op->accept >= 0)
        add_uint_option(pdu, COAP_OPTION_ACCEPT, (unsigned)op->accept);
    if (op->len > 0) {
        /* libcoap keeps the bytes of a block-wise transfer until it is done, which may outlive
         * the op (a registration that ends mid-transfer): it gets its own copy. */
        uint8_t *copy = malloc(op->len);
        if (!copy) {
            coap_delete_pdu(pdu);
            return -GW_ERR_IO;
        }
        memcpy(copy, op->payload, op->len);
        if (!coap_add_data_large_request(s, pdu, op->len, copy, release_copy, copy)) {
            coap_delete_pdu(pdu);
            return -GW_ERR_IO;
        }
    }
    if (coap_send(s, pdu) == COAP_INVALID_MID)
        return -GW_ERR_IO;
    return GW_OK;
}

static void arm(struct ops *ops, struct op *op, int64_t at)
{
    op->deadline = at;
    op->timer.key = at;
    heap_push(&ops->deadlines, &op->timer);
}

void ops_pump(struct ops *ops, struct reg_entry *e)
{
    if (e->inflight || !e->ops_head || !e->session)
        return;
    struct op *op = e->ops_head;
    e->ops_head = op->next;
    if (!e->ops_head)
        e->ops_tail = NULL;
    op->next = NULL;
    e->inflight = op;
    HASH_ADD(hh, ops->in_flight, token, GW_TOKEN_LEN, op);
    int64_t now = gw_now_mono_ms();
    if (transmit(op) == GW_OK) {
        ops->sent++;
        arm(ops, op, now + ops->answer_timeout_ms);
        return;
    }
    /* Ended by the next ops_timeout(), not here: the caller may be in the middle of queueing. */
    log_warn("request-failed ep=%s op=%s reason=\"cannot send\"", e->r.ep, op->name);
    arm(ops, op, now);
}

void ops_send(struct ops *ops, struct op *op)
{
    struct reg_entry *e = op->reg;
    if (e->ops_tail)
        e->ops_tail->next = op;
    else
        e->ops_head = op;
    e->ops_tail = op;
    ops_pump(ops, e);
}

/* Takes the in-flight `op` out of every table; the registration may send its next one. */
static void unlink_in_flight(struct ops *ops, struct op *op)
{
    HASH_DEL(ops->in_flight, op);
    heap_remove(&ops->deadlines, &op->timer);
    if (op->reg->inflight == op)
        op->reg->inflight = NULL;
}

/* Ends the in-flight `op`: its done() runs, then the registration's next op goes out. The
 * registration stays valid across done(): registrations are only dropped by the server, never
 * from inside an op's callback. */
static void finish(struct ops *ops, struct op *op, enum op_end end, const coap_pdu_t *answer)
{
    struct reg_entry *e = op->reg;
    unlink_in_flight(ops, op);
    op->done(op, end, answer);
    ops_op_free(op);
    ops_pump(ops, e);
}

bool ops_response(struct ops *ops, const coap_pdu_t *received)
{
    coap_bin_const_t token = coap_pdu_get_token(received);
    struct op *op = NULL;
    if (token.length == GW_TOKEN_LEN)
        HASH_FIND(hh, ops->in_flight, token.s, GW_TOKEN_LEN, op);
    if (!op)
        return false;
    finish(ops, op, GW_OP_ANSWERED, received);
    return true;
}

void ops_nack(struct ops *ops, const coap_pdu_t *sent, coap_nack_reason_t reason)
{
    if (!sent)
        return;
    coap_bin_const_t token = coap_pdu_get_token(sent);
    struct op *op = NULL;
    if (token.length == GW_TOKEN_LEN)
        HASH_FIND(hh, ops->in_flight, token.s, GW_TOKEN_LEN, op);
    if (!op)
        return;
    ops->timeouts++;
    log_warn("request-unanswered ep=%s op=%s reason=%s", op->reg->r.ep, op->name,
             reason == COAP_NACK_RST ? "reset" : "timeout");
    finish(ops, op, reason == COAP_NACK_RST ? GW_OP_RESET : GW_OP_TIMEOUT, NULL);
}

void ops_timeout(struct ops *ops, int64_t now_ms)
{
    struct op *op;
    while ((op = of_timer(heap_top(&ops->deadlines))) && op->deadline <= now_ms) {
        ops->timeouts++;
        log_warn("request-unanswered ep=%s op=%s reason=timeout", op->reg->r.ep, op->name);
        finish(ops, op, GW_OP_TIMEOUT, NULL);
    }
}

void ops_counts(const struct ops *ops, unsigned long *sent, unsigned long *timeouts)
{
    *sent = ops->sent;
    *timeouts = ops->timeouts;
}

int64_t ops_next_deadline(const struct ops *ops)
{
    struct heap_node *n = heap_top(&ops->deadlines);
    return n ? n->key : -1;
}

void ops_drop(struct ops *ops, struct reg_entry *e)
{
    struct op *op = e->inflight;
    if (op) {
        unlink_in_flight(ops, op);
        op->done(op, GW_OP_ABANDONED, NULL);
        ops_op_free(op);
    }
    while ((op = e->ops_head)) {
        e->ops_head = op->next;
        if (!e->ops_head)
            e->ops_tail = NULL;
        op->done(op, GW_OP_NOT_SENT, NULL);
        ops_op_free(op);
    }
}

void ops_forget_owner(struct ops *ops, struct reg_entry *e, const void *owner)
{
    struct op **pp = &e->ops_head, *last = NULL;
    while (*pp) {
        struct op *op = *pp;
        if (op->owner == owner) {
            *pp = op->next;
            ops_op_free(op);
        } else {
            last = op;
            pp = &op->next;
        }
    }
    e->ops_tail = last;
    if (e->inflight && e->inflight->owner == owner) {
        struct op *op = e->inflight;
        unlink_in_flight(ops, op);
        ops_op_free(op);
    }
}

enum codec_format ops_payload_format(const coap_pdu_t *pdu, const struct data_path *path)
{
    coap_opt_iterator_t it;
    coap_opt_t *opt = coap_check_option(pdu, COAP_OPTION_CONTENT_FORMAT, &it);
    if (opt)
        return (enum codec_format)coap_decode_var_bytes(coap_opt_value(opt), coap_opt_length(opt));
    return path->depth >= 3 ? GW_FMT_TEXT : GW_FMT_TLV;
}

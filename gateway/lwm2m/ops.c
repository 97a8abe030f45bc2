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

#include "blockwise.h"
#include "gw.h"

/* Bytes of a request beside its payload block: header, token, Uri-Path, Content-Format,
 * Accept, Block1 and Size1; the Uri-Query options are added to it. */
#define REQUEST_OVERHEAD 64

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
    op->taken = taken;
    op->taken_arg = taken_arg;
    ops_token(ops, op->token, taken, taken_arg);
    return op;
}

void ops_op_free(struct op *op)
{
    if (!op)
        return;
    free(op->payload);
    if (op->head)
        coap_delete_pdu(op->head);
    free(op->body.p);
    free(op);
}

static void add_uint_option(coap_pdu_t *pdu, coap_option_num_t num, unsigned v)
{
    uint8_t buf[4];
    coap_add_option(pdu, num, coap_encode_var_safe(buf, sizeof(buf), v), buf);
}

/* Builds and sends the exchange of `op` in flight: the request, the block of its payload in
 * flight, or the request for the next block of its answer (without Observe: RFC 7959 2.6).
 * Returns GW_OK or -GW_ERR_IO. Options go in ascending number order, as coap_add_option wants:
 * Observe (6), Uri-Path (11), Content-Format (12), Uri-Query (15), Accept (17), Block2 (23),
 * Block1 (27), Size1 (60). */
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
    coap_add_token(pdu, GW_TOKEN_LEN, op->wire);
    if (op->observe >= 0 && !op->block2)
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
    if (op->block2)
        block_write(pdu, COAP_OPTION_BLOCK2, op->block2_next);
    const uint8_t *data = op->payload;
    size_t len = op->len;
    if (len > 0 && !op->block2) {
        size_t overhead = REQUEST_OVERHEAD;
        for (int i = 0; i < op->n_query; i++)
            overhead += strlen(op->query[i]) + 2;
        if (!op->block1 && len > block_size(block_szx_for(s, overhead))) {
            op->block1 = true;
            op->block1_szx = block_szx_for(s, overhead);
        }
        if (op->block1) {
            size_t size = block_size(op->block1_szx);
            data += op->block1_offset;
            len = op->len - op->block1_offset < size ? op->len - op->block1_offset : size;
            coap_block_t b = {.num = (unsigned)(op->block1_offset / size),
                              .m = op->block1_offset + len < op->len,
                              .szx = op->block1_szx & 7};
            block_write(pdu, COAP_OPTION_BLOCK1, b);
            if (b.num == 0)
                add_uint_option(pdu, COAP_OPTION_SIZE1, (unsigned)op->len);
        }
    }
    /* a FETCH names what it fetches in its payload: every block of the answer is asked for with
     * it; a GET's further blocks carry none */
    if (len > 0 && (!op->block2 || op->method == COAP_REQUEST_CODE_FETCH) &&
        !coap_add_data(pdu, len, data)) {
        coap_delete_pdu(pdu);
        return -GW_ERR_IO;
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
    memcpy(op->wire, op->token, GW_TOKEN_LEN);
    HASH_ADD(hh, ops->in_flight, wire, GW_TOKEN_LEN, op);
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

/* ---- block-wise transfers ---- */

/* Sends the next exchange of the in-flight `op`, with a new deadline. */
static void resend(struct ops *ops, struct op *op)
{
    heap_remove(&ops->deadlines, &op->timer);
    int64_t now = gw_now_mono_ms();
    if (transmit(op) == GW_OK) {
        ops->sent++;
        arm(ops, op, now + ops->answer_timeout_ms);
        return;
    }
    log_warn("request-failed ep=%s op=%s reason=\"cannot send the next block\"", op->reg->r.ep,
             op->name);
    arm(ops, op, now);
}

/* Starts `op`'s copy of an answer that comes in blocks, from its first block: code, token and
 * every option but the block ones (the body is added at the end). */
static int keep_head(struct op *op, const coap_pdu_t *first)
{
    coap_bin_const_t token = coap_pdu_get_token(first);
    op->head =
        coap_pdu_init(COAP_MESSAGE_ACK, coap_pdu_get_code(first), 0, GW_BLOCK_BODY_MAX + 1024);
    if (!op->head || !coap_add_token(op->head, token.length, token.s))
        return -GW_ERR_NOMEM;
    coap_opt_iterator_t it;
    coap_opt_t *opt;
    coap_option_iterator_init(first, &it, COAP_OPT_ALL);
    while ((opt = coap_option_next(&it))) {
        if (it.number == COAP_OPTION_BLOCK2 || it.number == COAP_OPTION_SIZE2)
            continue;
        if (!coap_add_option(op->head, it.number, coap_opt_length(opt), coap_opt_value(opt)))
            return -GW_ERR_NOMEM;
    }
    return GW_OK;
}

static bool same_etag(const coap_pdu_t *a, const coap_pdu_t *b)
{
    coap_opt_iterator_t ia, ib;
    coap_opt_t *ea = coap_check_option(a, COAP_OPTION_ETAG, &ia);
    coap_opt_t *eb = coap_check_option(b, COAP_OPTION_ETAG, &ib);
    if (!ea || !eb)
        return !ea && !eb;
    return coap_opt_length(ea) == coap_opt_length(eb) &&
           memcmp(coap_opt_value(ea), coap_opt_value(eb), coap_opt_length(ea)) == 0;
}

/* Takes block `b` of an answer to `op` (the first one when op->head is not set yet). Returns
 * GW_OK, or -GW_ERR_INVALID with the reason in `why`. */
static int take_block2(struct op *op, const coap_pdu_t *rx, coap_block_t b, char *why,
                       size_t whylen)
{
    size_t n = 0, size = block_size(b.szx), offset = (size_t)b.num * size;
    const uint8_t *data = NULL;
    if (!coap_get_data(rx, &n, &data))
        n = 0;
    if (offset != op->body.len) {
        snprintf(why, whylen, "block %u (at byte %zu) came for byte %zu", b.num, offset,
                 op->body.len);
        return -GW_ERR_INVALID;
    }
    if (b.m ? n != size : n > size) {
        snprintf(why, whylen, "block %u carries %zu bytes for a block size of %zu", b.num, n, size);
        return -GW_ERR_INVALID;
    }
    if (op->head && !same_etag(op->head, rx)) {
        snprintf(why, whylen, "the value changed during the transfer (ETag)");
        return -GW_ERR_INVALID;
    }
    if (op->body.len + n > GW_BLOCK_BODY_MAX) {
        snprintf(why, whylen, "the value is larger than %d bytes", GW_BLOCK_BODY_MAX);
        return -GW_ERR_INVALID;
    }
    if ((!op->head && keep_head(op, rx) < 0) || block_body_add(&op->body, data, n) < 0) {
        snprintf(why, whylen, "out of memory");
        return -GW_ERR_INVALID;
    }
    return GW_OK;
}

/* Asks for the block after the last one taken, under a fresh token (a token is not reused
 * while the device may still answer the previous exchange late). */
static void ask_next_block(struct ops *ops, struct op *op, unsigned szx)
{
    HASH_DEL(ops->in_flight, op);
    ops_token(ops, op->wire, op->taken, op->taken_arg);
    HASH_ADD(hh, ops->in_flight, wire, GW_TOKEN_LEN, op);
    op->block2 = true;
    op->block2_next =
        (coap_block_t){.num = (unsigned)(op->body.len / block_size(szx)), .szx = szx & 7};
    resend(ops, op);
}

/* A transfer that went wrong ends the op with 5.02 (Bad Gateway: the device's answer could not
 * be used) and the reason, as if the device had answered so. */
static void end_broken(struct ops *ops, struct op *op, const coap_pdu_t *rx, const char *why)
{
    log_warn("request-blocks-broken ep=%s op=%s reason=\"%s\"", op->reg->r.ep, op->name, why);
    coap_bin_const_t token = coap_pdu_get_token(rx);
    coap_pdu_t *bad = coap_pdu_init(COAP_MESSAGE_ACK, COAP_RESPONSE_CODE_BAD_GATEWAY, 0, 1024);
    char text[200];
    int n = snprintf(text, sizeof(text), "block-wise answer unusable: %s", why);
    if (bad && coap_add_token(bad, token.length, token.s) &&
        coap_add_data(bad, (size_t)n < sizeof(text) ? (size_t)n : sizeof(text) - 1,
                      (const uint8_t *)text)) {
        finish(ops, op, GW_OP_ANSWERED, bad);
    } else {
        finish(ops, op, GW_OP_TIMEOUT, NULL);
    }
    if (bad)
        coap_delete_pdu(bad);
}

int ops_fetch_rest(struct op *op, const coap_pdu_t *first)
{
    coap_block_t b;
    char why[160];
    if (block_read(first, COAP_OPTION_BLOCK2, &b) <= 0 || b.num != 0 || !b.m)
        return -GW_ERR_INVALID;
    if (take_block2(op, first, b, why, sizeof(why)) < 0)
        return -GW_ERR_INVALID;
    op->block2 = true;
    op->block2_next = (coap_block_t){.num = 1, .szx = b.szx};
    return GW_OK;
}

bool ops_response(struct ops *ops, const coap_pdu_t *received)
{
    coap_bin_const_t token = coap_pdu_get_token(received);
    struct op *op = NULL;
    if (token.length == GW_TOKEN_LEN)
        HASH_FIND(hh, ops->in_flight, token.s, GW_TOKEN_LEN, op);
    if (!op)
        return false;
    coap_pdu_code_t code = coap_pdu_get_code(received);
    coap_block_t b;
    char why[160];
    /* Block1: the device took the block in flight and wants the next. A device may ask for
     * smaller blocks (RFC 7959 2.3); the next offset is a multiple of the smaller size too. */
    if (op->block1 && !op->block2 && COAP_RESPONSE_CLASS(code) == 2 &&
        op->block1_offset + block_size(op->block1_szx) < op->len) {
        int has = block_read(received, COAP_OPTION_BLOCK1, &b);
        if (code == COAP_RESPONSE_CODE_CONTINUE || (has > 0 && b.m)) {
            op->block1_offset += block_size(op->block1_szx);
            if (has > 0 && b.szx < op->block1_szx)
                op->block1_szx = b.szx;
            resend(ops, op);
            return true;
        }
    }
    /* Block2: the answer comes in blocks; a device's error ends the transfer as it is. */
    int has = COAP_RESPONSE_CLASS(code) == 2 ? block_read(received, COAP_OPTION_BLOCK2, &b) : 0;
    if (has < 0) {
        end_broken(ops, op, received, "unusable Block2 option");
        return true;
    }
    if (has > 0 && (op->head || b.m)) {
        if (take_block2(op, received, b, why, sizeof(why)) < 0) {
            end_broken(ops, op, received, why);
            return true;
        }
        if (b.m) {
            ask_next_block(ops, op, b.szx);
            return true;
        }
        coap_add_data(op->head, op->body.len, op->body.p);
        finish(ops, op, GW_OP_ANSWERED, op->head);
        return true;
    }
    if (has == 0 && op->head && COAP_RESPONSE_CLASS(code) == 2) {
        end_broken(ops, op, received, "a further block came without Block2");
        return true;
    }
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

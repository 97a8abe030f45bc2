/* ops.h - the requests the gateway sends to devices, one in flight per device (CoAP NSTART=1),
 * the others waiting in order. Private to gateway/lwm2m: observe.c (Write-Attributes, Observe,
 * Cancel) and manage.c (the requests that come from MQTT) build ops; this module gives them
 * tokens, sends them on the device's session, routes the answer back by token, and ends them
 * on a NACK, on a deadline for separate responses that never come, or when the registration
 * ends. Block-wise transfers (RFC 7959) happen inside one op: a payload larger than a block goes
 * out in blocks (Block1), and an answer that comes in blocks is fetched to its end (Block2)
 * before done() sees it whole. */
#ifndef OPS_H
#define OPS_H

#include <coap3/coap.h>

#include "blockwise.h"
#include "heap.h"
#include "lwm2m.h"
#include "registry.h"
#include <uthash.h>

#define GW_TOKEN_LEN 8
#define GW_OP_QUERIES 8 /* Uri-Query options of one request (pmin, pmax, gt, lt, st, ...) */

/* How an op ended. */
enum op_end {
    GW_OP_ANSWERED,  /* `answer` is the device's response */
    GW_OP_TIMEOUT,   /* no answer: retransmissions exhausted, no separate response in time, or
                        the request could not be sent */
    GW_OP_RESET,     /* the device answered with RST */
    GW_OP_NOT_SENT,  /* the registration ended while it was queued: the device never saw it */
    GW_OP_ABANDONED, /* the registration ended while it was in flight */
};

struct op;

/* Called once when `op` ends; `answer` is set for GW_OP_ANSWERED only. The op is freed after
 * the call returns (the callback must not free it). The callback may send new ops. */
typedef void (*op_done_fn)(struct op *op, enum op_end end, const coap_pdu_t *answer);

struct op {
    struct reg_entry *reg;
    uint8_t token[GW_TOKEN_LEN]; /* the request's (an observation's, for Observe and Cancel) */
    coap_pdu_code_t method;
    struct data_path path;
    int observe;        /* -1: no Observe option; 0: register; 1: deregister */
    int content_format; /* -1: none */
    int accept;         /* -1: none */
    char query[GW_OP_QUERIES][48];
    int n_query;
    uint8_t *payload; /* owned by the op */
    size_t len;
    const char *name; /* for log lines: "read", "observe" */
    op_done_fn done;
    void *ctx;        /* the module that made the op (the observer, the server) */
    void *owner;      /* what the op serves (an observation, a request) */
    uint64_t handle;  /* the request from MQTT the op serves, where one does */
    int kind;         /* what the module that made the op means by it */
    int64_t deadline; /* monotonic ms, while in flight */
    struct heap_node timer;
    struct op *next;   /* in the registration's queue */
    UT_hash_handle hh; /* by `wire`, while in flight */
    /* ops.c's own: */
    uint8_t wire[GW_TOKEN_LEN]; /* the exchange in flight: `token`, then a fresh one for each
                                   further block of an answer */
    bool (*taken)(void *arg, const uint8_t *token);
    void *taken_arg;
    bool block1; /* the payload goes in blocks of block1_szx */
    unsigned block1_szx;
    size_t block1_offset; /* where the block in flight starts */
    bool block2;          /* asking for block `block2_next` of the answer */
    coap_block_t block2_next;
    coap_pdu_t *head;       /* an answer in blocks: its first block's code, token and options */
    struct block_body body; /* ... and the bytes so far */
};

struct ops;

/* Returns the queue, or NULL when out of memory. An in-flight op without an answer by
 * `answer_timeout_ms` after it was sent times out (libcoap's retransmissions end earlier for a
 * request nobody acknowledged; this deadline catches the separate response that never comes). */
struct ops *ops_new(int64_t answer_timeout_ms);

/* Frees the queue. Every registration must have been dropped (ops_drop) first.
 * ops_free(NULL) does nothing. */
void ops_free(struct ops *ops);

/* Returns a new op for `e` with a fresh token (unique among the ops in flight and, through
 * `taken`, whatever else the caller keeps tokens of; `taken` may be NULL), method GET, no
 * options, or NULL when out of memory. */
struct op *ops_op_new(struct ops *ops, struct reg_entry *e, const char *name, op_done_fn done,
                      void *ctx, void *owner, bool (*taken)(void *arg, const uint8_t *token),
                      void *taken_arg);

/* Frees an op that was never handed to ops_send(). ops_op_free(NULL) does nothing. */
void ops_op_free(struct op *op);

/* Makes `op` fetch the rest of `first`, a notification that carries block 0 of its value
 * (RFC 7959 section 2.6): `op` asks for the next blocks, and done() gets the notification whole,
 * with `first`'s code and options. GW_OK, -GW_ERR_INVALID when `first` is not such a block, or
 * -GW_ERR_NOMEM. */
int ops_fetch_rest(struct op *op, const coap_pdu_t *first);

/* Adds `op` at the end of its registration's queue and sends it when nothing is in flight.
 * Takes ownership. */
void ops_send(struct ops *ops, struct op *op);

/* Fills a fresh random token, unique among the ops in flight and by `taken`. */
void ops_token(struct ops *ops, uint8_t token[GW_TOKEN_LEN],
               bool (*taken)(void *arg, const uint8_t *token), void *taken_arg);

/* Sends the next queued op of `e` when none is in flight (after a session appeared). */
void ops_pump(struct ops *ops, struct reg_entry *e);

/* An answer from a device: when its token is an op in flight, ends the op (done() is called)
 * and returns true; else returns false (a notification, or something unknown). */
bool ops_response(struct ops *ops, const coap_pdu_t *received);

/* libcoap's NACK for a request we sent. */
void ops_nack(struct ops *ops, const coap_pdu_t *sent, coap_nack_reason_t reason);

/* Ends the ops in flight past their deadline, and those that could not be sent. */
void ops_timeout(struct ops *ops, int64_t now_ms);

/* The next deadline (monotonic ms), or -1. */
int64_t ops_next_deadline(const struct ops *ops);

/* Since start: requests handed to libcoap, and requests that ended without an answer
 * (retransmissions exhausted, reset, no separate response, could not be sent). */
void ops_counts(const struct ops *ops, unsigned long *sent, unsigned long *timeouts);

/* Ends every op of `e`: queued ones with GW_OP_NOT_SENT, the one in flight with
 * GW_OP_ABANDONED. */
void ops_drop(struct ops *ops, struct reg_entry *e);

/* Removes the ops of `e` that serve `owner`, queued or in flight, without calling done() (an
 * answer that still comes for one is then unknown). */
void ops_forget_owner(struct ops *ops, struct reg_entry *e, const void *owner);

/* The Content-Format of a device's answer or notification about `path`; without the option,
 * what LwM2M 1.0 devices send: text for a single resource, TLV for the rest. */
enum codec_format ops_payload_format(const coap_pdu_t *pdu, const struct data_path *path);

/* True when an op with this token is in flight. */
bool ops_token_in_flight(const struct ops *ops, const uint8_t *token);

#endif

/* hold.h - the requests accepted from MQTT that have not had their final answer, queued per
 * endpoint in arrival order, each mirrored in the store (store.c) from the moment it is
 * accepted until its final answer is published. Private to bridge/. */
#ifndef HOLD_H
#define HOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "heap.h"
#include "lwm2m.h"
#include "store.h"
#include <uthash.h>

struct held_queue;

struct held {
    int64_t seq; /* the store's arrival number, also the handle given to server_submit */
    struct held_queue *q;
    char *body;           /* canonical request JSON */
    char *response_topic; /* NULL: {prefix}/{ep}/response */
    uint8_t *correlation;
    size_t correlation_len;
    int64_t received_at; /* ms since the epoch */
    int64_t expires_at;  /* ms since the epoch; == received_at for ttl 0: never held */
    bool held_sent;      /* "held" was published */
    bool submitted;      /* handed to the server, its result not yet in */
    char *answer_topic;  /* answered: the final answer, kept until the broker has it */
    char *answer;
    int token;               /* answered: Paho's token of its publication in flight, 0: none;
                                set with hold_set_token() */
    struct heap_node timer;  /* expiry, monotonic ms */
    struct held *next;       /* in its queue, or in the list of answered requests */
    struct held *prev;       /* in the list of answered requests */
    UT_hash_handle hh;       /* by seq */
    UT_hash_handle hh_token; /* by token, while it has one */
};

struct held_queue {
    char ep[GW_EP_MAX + 1];
    struct held *head, *tail;
    size_t n;
    UT_hash_handle hh;
};

struct hold;

/* Returns an empty hold over `store` (borrowed), at most `hold_max` per endpoint, or NULL. */
struct hold *hold_new(struct store *store, uint32_t hold_max);
void hold_free(struct hold *h);

/* Loads the stored requests (after a restart). Returns how many, or -GW_ERR_STORE. */
int hold_load(struct hold *h);

/* Accepts a request for `ep`: stored first, then queued. Returns GW_OK with `*out`,
 * -GW_ERR_FULL when `ep` holds hold_max already, -GW_ERR_STORE, -GW_ERR_NOMEM. */
int hold_add(struct hold *h, const char *ep, const char *body, const char *response_topic,
             const uint8_t *correlation, size_t correlation_len, int64_t received_at,
             int64_t expires_at, struct held **out);

/* The queue of `ep`, or NULL when it holds nothing. */
struct held_queue *hold_queue(struct hold *h, const char *ep);

/* The request with arrival number `seq`, or NULL. */
struct held *hold_find(struct hold *h, int64_t seq);

/* Records that "held" was published for `r` (in the store too). */
void hold_mark_held(struct hold *h, struct held *r);

/* Records the final answer of `r` (store first) and takes `r` out of its endpoint's queue, so
 * that the next request can go; `r` stays, answered, until hold_remove(). Takes nothing. */
int hold_answer(struct hold *h, struct held *r, const char *topic, const char *answer);

/* The answered requests, linked through `next` (from hold_answer and hold_load). */
struct held *hold_answered(struct hold *h);

/* The answered request whose publication has Paho token `token`, or NULL. O(1). */
struct held *hold_by_token(struct hold *h, int token);

/* Records the Paho token of the publication of `r`'s answer (0: none in flight). */
void hold_set_token(struct hold *h, struct held *r, int token);

/* Takes `r` out (the broker has its final answer): from the store and from memory, freed. */
void hold_remove(struct hold *h, struct held *r);

/* Arms the expiry of `r` again (a request that came back unsent). */
void hold_rearm(struct hold *h, struct held *r);

/* The first request whose expiry is at or before `now_mono` and that is not submitted, or
 * NULL. */
struct held *hold_expired(struct hold *h, int64_t now_mono);

/* The next expiry (monotonic ms), or -1. */
int64_t hold_next_deadline(const struct hold *h);

/* Requests held, in all. */
size_t hold_count(const struct hold *h);

#endif

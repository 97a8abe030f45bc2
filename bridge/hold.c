/* hold.c - requests waiting for their final answer, per endpoint in arrival order. The store
 * is written before a request is queued and after its answer is published, so that what is in
 * memory is never more than what a restart finds again. Expiries sit in a min-heap: the next
 * one is O(1) to read, and an idle gateway with thousands of held requests does no work. */
#include "hold.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"

struct hold {
    struct store *store;
    uint32_t hold_max;
    struct held_queue *queues; /* by ep */
    struct held *by_seq;
    struct held *answered;
    struct held *by_token;
    struct heap expiries;
    size_t count;
};

static struct held *of_timer(struct heap_node *n)
{
    return n ? (struct held *)((char *)n - offsetof(struct held, timer)) : NULL;
}

struct hold *hold_new(struct store *store, uint32_t hold_max)
{
    struct hold *h = calloc(1, sizeof(*h));
    if (h) {
        h->store = store;
        h->hold_max = hold_max ? hold_max : 1;
    }
    return h;
}

static void held_free(struct held *r)
{
    free(r->answer_topic);
    free(r->answer);
    free(r->body);
    free(r->response_topic);
    free(r->correlation);
    free(r);
}

void hold_free(struct hold *h)
{
    if (!h)
        return;
    heap_clear(&h->expiries);
    struct held_queue *q, *qtmp;
    HASH_ITER(hh, h->queues, q, qtmp)
    {
        HASH_DEL(h->queues, q);
        while (q->head) {
            struct held *next = q->head->next;
            HASH_DEL(h->by_seq, q->head);
            held_free(q->head);
            q->head = next;
        }
        free(q);
    }
    HASH_CLEAR(hh_token, h->by_token);
    while (h->answered) {
        struct held *next = h->answered->next;
        HASH_DEL(h->by_seq, h->answered);
        held_free(h->answered);
        h->answered = next;
    }
    free(h);
}

struct held_queue *hold_queue(struct hold *h, const char *ep)
{
    struct held_queue *q = NULL;
    HASH_FIND_STR(h->queues, ep, q);
    return q;
}

struct held *hold_find(struct hold *h, int64_t seq)
{
    struct held *r = NULL;
    HASH_FIND(hh, h->by_seq, &seq, sizeof(seq), r);
    return r;
}

/* Puts `r` (filled, seq set) at the end of its endpoint's queue. */
static int enqueue(struct hold *h, const char *ep, struct held *r)
{
    struct held_queue *q = hold_queue(h, ep);
    if (!q) {
        q = calloc(1, sizeof(*q));
        if (!q)
            return -GW_ERR_NOMEM;
        snprintf(q->ep, sizeof(q->ep), "%s", ep);
        HASH_ADD_STR(h->queues, ep, q);
    }
    r->q = q;
    if (q->tail)
        q->tail->next = r;
    else
        q->head = r;
    q->tail = r;
    q->n++;
    h->count++;
    HASH_ADD(hh, h->by_seq, seq, sizeof(r->seq), r);
    r->timer.index = GW_HEAP_NONE;
    if (r->expires_at > r->received_at) {
        r->timer.key = gw_now_mono_ms() + (r->expires_at - gw_now_wall_ms());
        heap_push(&h->expiries, &r->timer);
    }
    return GW_OK;
}

static struct held *held_new(const char *body, const char *response_topic,
                             const uint8_t *correlation, size_t correlation_len)
{
    struct held *r = calloc(1, sizeof(*r));
    if (!r || !(r->body = strdup(body)) ||
        (response_topic && !(r->response_topic = strdup(response_topic))) ||
        (correlation_len && !(r->correlation = malloc(correlation_len)))) {
        if (r)
            held_free(r);
        return NULL;
    }
    if (correlation_len)
        memcpy(r->correlation, correlation, correlation_len);
    r->correlation_len = correlation_len;
    return r;
}

int hold_add(struct hold *h, const char *ep, const char *body, const char *response_topic,
             const uint8_t *correlation, size_t correlation_len, int64_t received_at,
             int64_t expires_at, struct held **out)
{
    struct held_queue *q = hold_queue(h, ep);
    if (q && q->n >= h->hold_max)
        return -GW_ERR_FULL;
    struct held *r = held_new(body, response_topic, correlation, correlation_len);
    if (!r)
        return -GW_ERR_NOMEM;
    r->received_at = received_at;
    r->expires_at = expires_at;
    struct stored_request sr = {.ep = ep,
                                .body = body,
                                .response_topic = response_topic,
                                .correlation = correlation,
                                .correlation_len = correlation_len,
                                .received_at = received_at,
                                .expires_at = expires_at};
    int rc = store_request_put(h->store, &sr);
    if (rc < 0) {
        held_free(r);
        return rc;
    }
    r->seq = sr.seq;
    rc = enqueue(h, ep, r);
    if (rc < 0) {
        store_request_delete(h->store, r->seq);
        held_free(r);
        return rc;
    }
    *out = r;
    return GW_OK;
}

static int load_one(void *arg, const struct stored_request *sr)
{
    struct hold *h = arg;
    struct held *r = held_new(sr->body, sr->response_topic, sr->correlation, sr->correlation_len);
    if (!r)
        return -GW_ERR_NOMEM;
    r->seq = sr->seq;
    r->received_at = sr->received_at;
    r->expires_at = sr->expires_at;
    r->held_sent = sr->held;
    int rc = enqueue(h, sr->ep, r);
    if (rc < 0) {
        held_free(r);
        return rc;
    }
    if (sr->answer && sr->answer_topic) {
        /* Answered before the restart, but the broker may not have the answer: it goes out
         * again, the request does not. */
        rc = hold_answer(h, r, sr->answer_topic, sr->answer);
    }
    return rc;
}

int hold_load(struct hold *h)
{
    int rc = store_requests_load(h->store, load_one, h);
    return rc < 0 ? rc : (int)h->count;
}

void hold_mark_held(struct hold *h, struct held *r)
{
    r->held_sent = true;
    store_request_set_held(h->store, r->seq);
}

/* Takes `r` out of its endpoint's queue (dropping the queue when it empties). */
static void unqueue(struct hold *h, struct held *r)
{
    struct held_queue *q = r->q;
    struct held **pp = &q->head, *last = NULL;
    while (*pp && *pp != r) {
        last = *pp;
        pp = &(*pp)->next;
    }
    if (*pp) {
        *pp = r->next;
        if (q->tail == r)
            q->tail = last;
    }
    q->n--;
    r->q = NULL;
    r->next = NULL;
    heap_remove(&h->expiries, &r->timer);
    if (q->n == 0) {
        HASH_DEL(h->queues, q);
        free(q);
    }
}

int hold_answer(struct hold *h, struct held *r, const char *topic, const char *answer)
{
    char *t = strdup(topic), *a = strdup(answer);
    if (!t || !a) {
        free(t);
        free(a);
        return -GW_ERR_NOMEM;
    }
    int rc = store_request_set_answer(h->store, r->seq, topic, answer);
    if (rc < 0) {
        free(t);
        free(a);
        return rc;
    }
    unqueue(h, r);
    r->answer_topic = t;
    r->answer = a;
    r->token = 0;
    r->prev = NULL;
    r->next = h->answered;
    if (h->answered)
        h->answered->prev = r;
    h->answered = r;
    return GW_OK;
}

struct held *hold_answered(struct hold *h)
{
    return h->answered;
}

struct held *hold_by_token(struct hold *h, int token)
{
    struct held *r = NULL;
    if (token)
        HASH_FIND(hh_token, h->by_token, &token, sizeof(token), r);
    return r;
}

void hold_set_token(struct hold *h, struct held *r, int token)
{
    if (r->token)
        HASH_DELETE(hh_token, h->by_token, r);
    r->token = token;
    if (token)
        HASH_ADD(hh_token, h->by_token, token, sizeof(r->token), r);
}

void hold_remove(struct hold *h, struct held *r)
{
    if (r->q) {
        unqueue(h, r);
    } else {
        hold_set_token(h, r, 0);
        if (r->prev)
            r->prev->next = r->next;
        else if (h->answered == r)
            h->answered = r->next;
        if (r->next)
            r->next->prev = r->prev;
    }
    h->count--;
    HASH_DEL(h->by_seq, r);
    store_request_delete(h->store, r->seq);
    held_free(r);
}

void hold_rearm(struct hold *h, struct held *r)
{
    if (r->q && r->expires_at > r->received_at && !heap_linked(&r->timer)) {
        r->timer.key = gw_now_mono_ms() + (r->expires_at - gw_now_wall_ms());
        heap_push(&h->expiries, &r->timer);
    }
}

struct held *hold_expired(struct hold *h, int64_t now_mono)
{
    struct held *r = of_timer(heap_top(&h->expiries));
    if (!r || r->timer.key > now_mono)
        return NULL;
    if (r->submitted) {
        /* Already with the device: its result answers it, not the expiry. */
        heap_remove(&h->expiries, &r->timer);
        return hold_expired(h, now_mono);
    }
    return r;
}

int64_t hold_next_deadline(const struct hold *h)
{
    struct heap_node *n = heap_top(&h->expiries);
    return n ? n->key : -1;
}

size_t hold_count(const struct hold *h)
{
    return h->count;
}

/* dedup.c - recent answers by (peer, Message ID), for retransmitted Confirmable requests.
 * Entries all live equally long, so insertion order is expiry order: a FIFO list gives the
 * oldest in O(1), and a uthash table gives the lookup. */
#include "dedup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "gw.h"

#define KEY_ADDR_MAX 28 /* sizeof(struct sockaddr_in6) */

struct key {
    uint8_t addr[KEY_ADDR_MAX];
    uint16_t mid;
};

struct entry {
    struct key key;
    int64_t expires_at;
    struct dedup_reply reply;
    struct entry *older_next; /* FIFO: towards the newest */
    UT_hash_handle hh;
};

struct dedup {
    struct entry *table;
    struct entry *oldest, *newest;
    size_t n, max;
    int64_t lifetime_ms;
};

struct dedup *dedup_new(size_t max_entries, int64_t lifetime_ms)
{
    struct dedup *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->max = max_entries ? max_entries : 1;
    d->lifetime_ms = lifetime_ms;
    return d;
}

static void make_key(struct key *k, const void *addr, size_t addr_len, uint16_t mid)
{
    memset(k, 0, sizeof(*k));
    memcpy(k->addr, addr, addr_len < KEY_ADDR_MAX ? addr_len : KEY_ADDR_MAX);
    k->mid = mid;
}

static void drop_oldest(struct dedup *d)
{
    struct entry *e = d->oldest;
    d->oldest = e->older_next;
    if (!d->oldest)
        d->newest = NULL;
    HASH_DEL(d->table, e);
    free(e->reply.diagnostic);
    free(e);
    d->n--;
}

void dedup_free(struct dedup *d)
{
    if (!d)
        return;
    while (d->oldest)
        drop_oldest(d);
    free(d);
}

const struct dedup_reply *dedup_find(struct dedup *d, const void *addr, size_t addr_len,
                                     uint16_t mid, int64_t now_ms)
{
    while (d->oldest && d->oldest->expires_at <= now_ms)
        drop_oldest(d);
    struct key k;
    struct entry *e = NULL;
    make_key(&k, addr, addr_len, mid);
    HASH_FIND(hh, d->table, &k, sizeof(k), e);
    return e ? &e->reply : NULL;
}

int dedup_put(struct dedup *d, const void *addr, size_t addr_len, uint16_t mid, uint8_t code,
              const char *location, const char *diagnostic, size_t diagnostic_len, int64_t now_ms)
{
    struct entry *e = calloc(1, sizeof(*e));
    if (!e)
        return -GW_ERR_NOMEM;
    make_key(&e->key, addr, addr_len, mid);
    e->expires_at = now_ms + d->lifetime_ms;
    e->reply.code = code;
    if (location)
        snprintf(e->reply.location, sizeof(e->reply.location), "%s", location);
    if (diagnostic && diagnostic_len) {
        e->reply.diagnostic = strndup(diagnostic, diagnostic_len);
        if (!e->reply.diagnostic) {
            free(e);
            return -GW_ERR_NOMEM;
        }
    }
    struct entry *old = NULL;
    HASH_FIND(hh, d->table, &e->key, sizeof(e->key), old);
    if (old) {
        /* The peer reused a Message ID: keep the newest answer only. Rare; a linear unlink. */
        struct entry **pp = &d->oldest, *prev = NULL;
        while (*pp != old) {
            prev = *pp;
            pp = &(*pp)->older_next;
        }
        *pp = old->older_next;
        if (d->newest == old)
            d->newest = prev;
        HASH_DEL(d->table, old);
        free(old->reply.diagnostic);
        free(old);
        d->n--;
    }
    if (d->n == d->max)
        drop_oldest(d);
    HASH_ADD(hh, d->table, key, sizeof(e->key), e);
    if (d->newest)
        d->newest->older_next = e;
    else
        d->oldest = e;
    d->newest = e;
    d->n++;
    return GW_OK;
}

size_t dedup_count(const struct dedup *d)
{
    return d->n;
}

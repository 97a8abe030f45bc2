/* registry.c - registered devices by endpoint name, by location id, and by expiry.
 * Two uthash tables give O(1) lookups; a binary min-heap on expires_at gives the next lifetime
 * deadline without scanning, so 100,000 devices cost nothing while idle. */
#include "registry.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "gw.h"

struct registry {
    struct reg_entry *by_ep;
    struct reg_entry *by_id;
    struct reg_entry **heap;
    size_t n;
    size_t cap;
};

struct registry *registry_new(void)
{
    return calloc(1, sizeof(struct registry));
}

void reg_entry_free(struct reg_entry *e)
{
    if (!e)
        return;
    free(e->r.objects);
    free(e);
}

void registry_free(struct registry *reg)
{
    if (!reg)
        return;
    struct reg_entry *e, *tmp;
    HASH_ITER(hh_id, reg->by_id, e, tmp)
    {
        HASH_DELETE(hh_id, reg->by_id, e);
        HASH_DELETE(hh_ep, reg->by_ep, e);
        reg_entry_free(e);
    }
    free(reg->heap);
    free(reg);
}

/* ---- heap ---- */

static void heap_set(struct registry *reg, size_t i, struct reg_entry *e)
{
    reg->heap[i] = e;
    e->heap_index = i;
}

static void sift_up(struct registry *reg, size_t i)
{
    struct reg_entry *e = reg->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (reg->heap[parent]->expires_at <= e->expires_at)
            break;
        heap_set(reg, i, reg->heap[parent]);
        i = parent;
    }
    heap_set(reg, i, e);
}

static void sift_down(struct registry *reg, size_t i)
{
    struct reg_entry *e = reg->heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= reg->n)
            break;
        if (child + 1 < reg->n && reg->heap[child + 1]->expires_at < reg->heap[child]->expires_at)
            child++;
        if (e->expires_at <= reg->heap[child]->expires_at)
            break;
        heap_set(reg, i, reg->heap[child]);
        i = child;
    }
    heap_set(reg, i, e);
}

static void heap_remove(struct registry *reg, struct reg_entry *e)
{
    size_t i = e->heap_index;
    struct reg_entry *last = reg->heap[--reg->n];
    if (i == reg->n)
        return;
    heap_set(reg, i, last);
    sift_down(reg, i);
    sift_up(reg, last->heap_index);
}

/* ---- ids ---- */

/* Location ids are 8 characters of [a-z0-9]: 41 bits of randomness, short enough to keep the
 * Update datagram small, and checked for uniqueness on insertion. */
static void random_id(char id[GW_ID_LEN + 1])
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char rnd[GW_ID_LEN];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        /* getrandom on Linux >= 3.17 does not fail for 8 bytes; keep a fallback all the same */
        for (size_t i = 0; i < sizeof(rnd); i++)
            rnd[i] = (unsigned char)random();
    }
    for (size_t i = 0; i < GW_ID_LEN; i++)
        id[i] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
    id[GW_ID_LEN] = '\0';
}

int registry_add(struct registry *reg, struct reg_entry *e)
{
    if (reg->n == reg->cap) {
        size_t cap = reg->cap ? reg->cap * 2 : 64;
        struct reg_entry **heap = realloc(reg->heap, cap * sizeof(*heap));
        if (!heap) {
            reg_entry_free(e);
            return -GW_ERR_NOMEM;
        }
        reg->heap = heap;
        reg->cap = cap;
    }
    do {
        random_id(e->r.id);
    } while (registry_by_id(reg, e->r.id));
    size_t idlen = strlen(e->r.id), eplen = strlen(e->r.ep);
    HASH_ADD(hh_id, reg->by_id, r.id, idlen, e);
    HASH_ADD(hh_ep, reg->by_ep, r.ep, eplen, e);
    heap_set(reg, reg->n++, e);
    sift_up(reg, e->heap_index);
    return GW_OK;
}

void registry_remove(struct registry *reg, struct reg_entry *e)
{
    HASH_DELETE(hh_id, reg->by_id, e);
    HASH_DELETE(hh_ep, reg->by_ep, e);
    heap_remove(reg, e);
    reg_entry_free(e);
}

struct reg_entry *registry_by_ep(const struct registry *reg, const char *ep)
{
    struct reg_entry *e = NULL;
    HASH_FIND(hh_ep, reg->by_ep, ep, strlen(ep), e);
    return e;
}

struct reg_entry *registry_by_id(const struct registry *reg, const char *id)
{
    struct reg_entry *e = NULL;
    HASH_FIND(hh_id, reg->by_id, id, strlen(id), e);
    return e;
}

void registry_set_expiry(struct registry *reg, struct reg_entry *e, int64_t expires_at)
{
    int64_t old = e->expires_at;
    e->expires_at = expires_at;
    if (expires_at < old)
        sift_up(reg, e->heap_index);
    else
        sift_down(reg, e->heap_index);
}

struct reg_entry *registry_first_expiry(const struct registry *reg)
{
    return reg->n ? reg->heap[0] : NULL;
}

size_t registry_count(const struct registry *reg)
{
    return reg->n;
}

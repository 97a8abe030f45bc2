/* registry.c - registered devices by endpoint name, by location id, and by expiry.
 * uthash tables give O(1) lookups by name, location id and address; a binary min-heap on the
 * expiry gives the next lifetime deadline without scanning, so 100,000 devices cost nothing
 * while idle. */
#include "registry.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "gw.h"

struct registry {
    struct reg_entry *by_ep;
    struct reg_entry *by_id;
    struct reg_entry *by_addr;
    struct heap expiries;
};

static struct reg_entry *of_node(struct heap_node *node)
{
    return node ? (struct reg_entry *)((char *)node - offsetof(struct reg_entry, expiry)) : NULL;
}

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
    heap_clear(&reg->expiries); /* first: it touches the entries */
    HASH_ITER(hh_id, reg->by_id, e, tmp)
    {
        HASH_DELETE(hh_id, reg->by_id, e);
        HASH_DELETE(hh_ep, reg->by_ep, e);
        HASH_DELETE(hh_addr, reg->by_addr, e);
        reg_entry_free(e);
    }
    free(reg);
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
    e->expiry.index = GW_HEAP_NONE;
    if (e->r.id[0] && registry_by_id(reg, e->r.id)) {
        reg_entry_free(e);
        return -GW_ERR_EXISTS;
    }
    if (heap_push(&reg->expiries, &e->expiry) < 0) {
        reg_entry_free(e);
        return -GW_ERR_NOMEM;
    }
    while (!e->r.id[0] || registry_by_id(reg, e->r.id))
        random_id(e->r.id);
    size_t idlen = strlen(e->r.id), eplen = strlen(e->r.ep), addrlen = strlen(e->r.address);
    HASH_ADD(hh_id, reg->by_id, r.id, idlen, e);
    HASH_ADD(hh_ep, reg->by_ep, r.ep, eplen, e);
    HASH_ADD(hh_addr, reg->by_addr, r.address, addrlen, e);
    return GW_OK;
}

void registry_remove(struct registry *reg, struct reg_entry *e)
{
    HASH_DELETE(hh_id, reg->by_id, e);
    HASH_DELETE(hh_ep, reg->by_ep, e);
    HASH_DELETE(hh_addr, reg->by_addr, e);
    heap_remove(&reg->expiries, &e->expiry);
    reg_entry_free(e);
}

void registry_set_address(struct registry *reg, struct reg_entry *e, const char *address)
{
    HASH_DELETE(hh_addr, reg->by_addr, e);
    snprintf(e->r.address, sizeof(e->r.address), "%s", address);
    size_t len = strlen(e->r.address);
    HASH_ADD(hh_addr, reg->by_addr, r.address, len, e);
}

struct reg_entry *registry_by_address(const struct registry *reg, const char *address)
{
    struct reg_entry *e = NULL;
    HASH_FIND(hh_addr, reg->by_addr, address, strlen(address), e);
    return e;
}

void registry_each(struct registry *reg, void (*fn)(struct reg_entry *e, void *arg), void *arg)
{
    struct reg_entry *e, *tmp;
    HASH_ITER(hh_id, reg->by_id, e, tmp)
    {
        fn(e, arg);
    }
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
    heap_update(&reg->expiries, &e->expiry, expires_at);
}

struct reg_entry *registry_first_expiry(const struct registry *reg)
{
    return of_node(heap_top(&reg->expiries));
}

size_t registry_count(const struct registry *reg)
{
    return reg->expiries.n;
}

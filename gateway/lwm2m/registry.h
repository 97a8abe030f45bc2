/* registry.h - the registered devices, found by endpoint name or by location id in O(1), and
 * ordered by expiry in a binary heap so that the next lifetime deadline is O(1) to read and
 * O(log n) to move. Private to gateway/lwm2m; it does no I/O and keeps no clock of its own. */
#ifndef REGISTRY_H
#define REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "heap.h"
#include "lwm2m.h"
#include <uthash.h>

struct coap_session_t;
struct observation;
struct op;

struct reg_entry {
    struct registration r;
    struct heap_node expiry;          /* key: CLOCK_MONOTONIC ms at which the lifetime ends */
    struct coap_session_t *session;   /* referenced while registered: requests go out on it */
    struct observation *observations; /* this device's, linked through observation.next */
    struct op *ops_head, *ops_tail;   /* requests waiting to be sent, in order */
    struct op *inflight;              /* the one request sent and not answered (NSTART=1) */
    bool start_observing;             /* observations start after the Register answer */
    bool ready_pending;               /* on_ready is due once the answer is out */
    bool in_pending;                  /* on server.pending */
    bool restored;                    /* taken back from the store after a restart, not yet
                                         heard from: no session, no requests, no observations */
    bool dying;                       /* being dropped: takes no new requests */
    bool observe_refresh;             /* the rules' observations are to be brought up to date
                                         once the device's next Update is answered: an Observe
                                         went unanswered, or the objects it registered changed */
    int64_t awake_until;              /* queue mode: monotonic ms until which the device is
                                         taken to listen */
    struct reg_entry *next_pending;   /* in server.pending */
    UT_hash_handle hh_ep;
    UT_hash_handle hh_id;
    UT_hash_handle hh_addr; /* by r.address, for Send */
};

struct registry;

/* Returns an empty registry, or NULL when out of memory. */
struct registry *registry_new(void);

/* Frees the registry and every entry still in it. registry_free(NULL) does nothing. */
void registry_free(struct registry *reg);

/* Inserts `e`, giving it a fresh random location id that no other entry has unless e->r.id is
 * set already (a registration taken back after a restart keeps its location). `e->r.ep`,
 * `e->r.address` and `e->expiry.key` must be set, and the endpoint not be registered yet. The
 * registry takes ownership of `e`, on failure too. Returns GW_OK, -GW_ERR_EXISTS when the set
 * id is taken, or -GW_ERR_NOMEM. */
int registry_add(struct registry *reg, struct reg_entry *e);

/* Takes `e` out of the registry and frees it. The caller has released what `e` holds beyond
 * its registration (session, observations, queued requests). */
void registry_remove(struct registry *reg, struct reg_entry *e);

/* Changes `e`'s address (the device moved, NAT rebinding) and re-files it under the new one. */
void registry_set_address(struct registry *reg, struct reg_entry *e, const char *address);

/* The entry registered from `address` ("ip:port"), or NULL. */
struct reg_entry *registry_by_address(const struct registry *reg, const char *address);

/* Lookups; NULL when absent. The entry stays owned by the registry. */
struct reg_entry *registry_by_ep(const struct registry *reg, const char *ep);
struct reg_entry *registry_by_id(const struct registry *reg, const char *id);

/* Moves `e`'s expiry to `expires_at` (monotonic ms). */
void registry_set_expiry(struct registry *reg, struct reg_entry *e, int64_t expires_at);

/* The entry that expires first, or NULL when the registry is empty. */
struct reg_entry *registry_first_expiry(const struct registry *reg);

/* Calls `fn` for every entry, in no particular order; `fn` must not add or remove entries. */
void registry_each(struct registry *reg, void (*fn)(struct reg_entry *e, void *arg), void *arg);

/* Number of entries. */
size_t registry_count(const struct registry *reg);

/* Frees an entry that never made it into a registry. reg_entry_free(NULL) does nothing. */
void reg_entry_free(struct reg_entry *e);

#endif

/* dedup.h - answers to recent state-changing requests, kept so that a retransmitted
 * Confirmable request (same peer, same Message ID: its ACK was lost) gets the same answer again
 * instead of being carried out twice (RFC 7252 section 4.5). Without it, a repeated Register
 * would create a second location, and a repeated De-register would answer 4.04.
 * Private to gateway/lwm2m. Bounded in entries and in time; keyed by peer address, port and
 * Message ID together, never by the Message ID alone. */
#ifndef DEDUP_H
#define DEDUP_H

#include <stddef.h>
#include <stdint.h>

#include "lwm2m.h"

/* What is replayed: the code, up to two Location-Path segments ("rd", id) and a diagnostic. */
struct dedup_reply {
    uint8_t code;                 /* CoAP code, class << 5 | detail */
    char location[GW_ID_LEN + 1]; /* "" when the answer had no Location-Path rd/{id} */
    char *diagnostic;             /* owned by the cache; NULL when none */
};

struct dedup;

/* Returns a cache that keeps at most `max_entries` answers for `lifetime_ms` each, or NULL. */
struct dedup *dedup_new(size_t max_entries, int64_t lifetime_ms);

/* Frees the cache. dedup_free(NULL) does nothing. */
void dedup_free(struct dedup *d);

/* The answer given to (`addr`, `addr_len`, `mid`) within the lifetime, or NULL. Borrowed, valid
 * until the next dedup_put(). Expired entries are dropped on the way. */
const struct dedup_reply *dedup_find(struct dedup *d, const void *addr, size_t addr_len,
                                     uint16_t mid, int64_t now_ms);

/* Remembers an answer; the oldest entry goes when the cache is full. `diagnostic` is copied.
 * Returns GW_OK or -GW_ERR_NOMEM (then nothing is remembered: a retransmission would be
 * carried out again, as without the cache). */
int dedup_put(struct dedup *d, const void *addr, size_t addr_len, uint16_t mid, uint8_t code,
              const char *location, const char *diagnostic, size_t diagnostic_len, int64_t now_ms);

/* Number of answers held. */
size_t dedup_count(const struct dedup *d);

#endif

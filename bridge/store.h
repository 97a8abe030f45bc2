/* store.h - the gateway's durable state, in SQLite (WAL) at store.path: the requests accepted
 * from MQTT that have not had their final answer (the hold store), the registrations, and the
 * observations that requests asked for. Writes go into one transaction that stays open until
 * store_commit(), which the daemon calls once per turn of its loop, so that a burst of writes
 * costs one commit. Used by the loop thread only. Kept behind this interface so that a shared
 * backend (Redis, for several gateways) can be added beside it rather than instead of it
 * (DESIGN.md, "Scale"). Private to bridge/. */
#ifndef STORE_H
#define STORE_H

#include "bridge.h"

struct store;

/* Opens (creating it and its directory when missing) the database at cfg->path, in WAL mode,
 * and brings its schema to the current version. Returns NULL after logging why when it cannot
 * be opened (a path under a file, no permission, a file that is not a database). */
struct store *store_open(const struct store_config *cfg);

/* Commits what was written since the last commit (nothing when nothing was). Returns GW_OK
 * or -GW_ERR_STORE (logged; the writes are rolled back), also when SQLite already abandoned the
 * transaction at an earlier failed write (logged then). */
int store_commit(struct store *s);

/* Closes the database, committing what is pending and checkpointing the WAL.
 * store_close(NULL) does nothing. */
void store_close(struct store *s);

/* ---- requests (the hold store) ---- */

/* One request accepted from MQTT, as stored. */
struct stored_request {
    int64_t seq; /* arrival order, unique, assigned by store_request_put */
    const char *ep;
    const char *body;           /* the request's canonical JSON (mappings_request_json) */
    const char *response_topic; /* MQTT 5 Response Topic, NULL for {prefix}/{ep}/response */
    const uint8_t *correlation; /* MQTT 5 Correlation Data, NULL when none */
    size_t correlation_len;
    int64_t received_at; /* ms since the epoch */
    int64_t expires_at;  /* ms since the epoch after which it is answered "expired"; 0: never */
    bool held;           /* "held" has been published for it */
    const char *answer_topic; /* its final answer and where it goes, once there is one (the */
    const char *answer;       /* request stays until the broker has it); NULL before */
};

/* Adds `r` (r->seq ignored) and sets r->seq. Returns GW_OK or -GW_ERR_STORE. */
int store_request_put(struct store *s, struct stored_request *r);

/* Records that "held" was published for request `seq`. Returns GW_OK or -GW_ERR_STORE. */
int store_request_set_held(struct store *s, int64_t seq);

/* Records the final answer of request `seq` and its topic: from now on the request is not
 * sent again, only its answer (until the broker acknowledged it). Returns GW_OK or
 * -GW_ERR_STORE. */
int store_request_set_answer(struct store *s, int64_t seq, const char *topic, const char *answer);

/* Removes request `seq` (the broker has its final answer). Returns GW_OK or -GW_ERR_STORE. */
int store_request_delete(struct store *s, int64_t seq);

/* Calls `fn` for every stored request in arrival order; the struct lives for the call only.
 * Stops at the first non-zero return of `fn` and returns it; else GW_OK, or -GW_ERR_STORE. */
int store_requests_load(struct store *s, int (*fn)(void *arg, const struct stored_request *r),
                        void *arg);

/* ---- registrations ---- */

/* Writes (inserts or replaces, by endpoint name) `reg`, expiring at `expires_at` (ms since
 * the epoch). Returns GW_OK or -GW_ERR_STORE. */
int store_registration_put(struct store *s, const struct registration *reg, int64_t expires_at);

/* Removes the registration of `ep` (absent is fine). Returns GW_OK or -GW_ERR_STORE. */
int store_registration_delete(struct store *s, const char *ep);

/* Calls `fn` for every stored registration (objects included), ordered by endpoint name; the
 * struct lives for the call only. A callback may write to the store but must not start the
 * same load again. Stops at the first non-zero return of `fn` and returns it; else GW_OK or
 * -GW_ERR_STORE. */
int store_registrations_load(struct store *s,
                             int (*fn)(void *arg, const struct registration *reg,
                                       int64_t expires_at),
                             void *arg);

/* ---- observations asked for by requests (started again on every registration) ---- */

/* Adds the observation `spec` for `ep` (replacing one with the same path). Returns GW_OK or
 * -GW_ERR_STORE. */
int store_observation_put(struct store *s, const char *ep, const struct observe_spec *spec);

/* Removes the observation of `path` for `ep` (absent is fine). Returns GW_OK or
 * -GW_ERR_STORE. */
int store_observation_delete(struct store *s, const char *ep, const struct data_path *path);

/* Calls `fn` for every stored observation, ordered by endpoint then first insertion (a
 * replaced observation keeps its place). Same returns as store_requests_load. */
int store_observations_load(struct store *s,
                            int (*fn)(void *arg, const char *ep, const struct observe_spec *spec),
                            void *arg);

#endif

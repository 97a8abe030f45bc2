/* bridge.h - the MQTT side of the gateway (Paho MQTT C, asynchronous API).
 * It connects to the broker with a will on {prefix}/gateway/status, reconnects with backoff,
 * and publishes what the LwM2M side reports, translated by mappings/. Paho's own threads only
 * put events into a locked inbox and signal an eventfd; everything else runs on the loop
 * thread in bridge_process(). */
#ifndef BRIDGE_H
#define BRIDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lwm2m.h"
#include "mappings.h"

/* ---- configuration (filled by the daemon's config loader) ---- */

struct bridge_tls {
    char *ca_file;
    char *cert_file;
    char *key_file;
    bool verify_hostname; /* default true */
};

struct bridge_config {
    char *uri; /* tcp://host:port, ssl://host:port (mqtt:// and mqtts:// too) */
    char *client_id;
    char *topic_prefix;
    int qos;            /* 0, 1 or 2: for every publication without a mapping's own */
    char *username;     /* NULL: none */
    char *password;     /* NULL: none; never logged */
    int version;        /* 4 (MQTT 3.1.1) or 5 */
    int keepalive;      /* seconds */
    int reconnect_min;  /* seconds before the first reconnect attempt */
    int reconnect_max;  /* backoff ceiling, seconds */
    int max_buffered;   /* publications kept while the broker is away or its window full */
    int stats_interval; /* seconds between {prefix}/gateway/stats summaries; 0: none */
    int session_expiry; /* seconds the broker keeps the gateway's session and queues requests
                           for it while it is away; 0: a clean session every time */
    struct bridge_tls tls;
};

struct store_config {
    char *path;
    uint32_t hold_ttl; /* seconds */
    uint32_t hold_max; /* held requests per endpoint */
};

struct bridge;

/* Opens the store, builds the mapping rules and creates the MQTT client, which starts
 * connecting in the background. The configurations are borrowed for the call; `model` (names
 * and units for the payloads; may be NULL) must outlive the bridge. Returns NULL on failure
 * (a store that cannot be opened, rules that do not compile, a URI Paho refuses), after
 * logging why. */
struct bridge *bridge_new(const struct bridge_config *cfg, const struct store_config *store,
                          const struct mappings_config *rules, const struct model *model);

/* Replaces the observe and mappings rules (SIGHUP). Returns GW_OK, or -GW_ERR_INVALID with
 * the reason in `err` and the rules in force kept. */
int bridge_set_rules(struct bridge *b, const struct mappings_config *rules, char *err,
                     size_t errlen);

/* Publishes the retained `offline` status, disconnects (waiting at most `timeout_ms` for the
 * broker to take what is queued) and frees. bridge_free(NULL) does nothing. */
void bridge_free(struct bridge *b, int timeout_ms);

/* The eventfd that becomes readable when Paho has put something in the inbox. */
int bridge_fd(const struct bridge *b);

/* Takes everything out of the inbox and acts on it. Never blocks. */
void bridge_process(struct bridge *b);

/* Milliseconds on CLOCK_MONOTONIC at which bridge_process() must run even if bridge_fd() stays
 * quiet (the next reconnect attempt), or -1 for never. */
int64_t bridge_next_deadline(const struct bridge *b);

/* True while connected to the broker. */
bool bridge_connected(const struct bridge *b);

/* The flow of values (and stats) so far: handed to the MQTT client, dropped for a full queue,
 * waiting in the queue now, and the queue's bound (mqtt.max_buffered). */
struct bridge_flow {
    uint64_t handed, dropped;
    size_t waiting, max;
};
struct bridge_flow bridge_value_flow(const struct bridge *b);

/* Every metric of the gateway (the LwM2M side's and the bridge's counters, registered devices,
 * observations, held requests, the MQTT connection) in the Prometheus text exposition format
 * (version 0.0.4); the same figures {prefix}/gateway/stats summarises. Returns a malloc'd,
 * NUL-terminated text, or NULL when out of memory. */
char *bridge_metrics_text(const struct bridge *b);

/* The LwM2M callbacks (lifecycle and values published, requests answered, registrations
 * persisted); pass them with `b` to server_new(). */
const struct server_callbacks *bridge_server_callbacks(void);

/* Connects the bridge to the LwM2M side: takes back the registrations, the requested
 * observations and the held requests the store kept from the last run (server_restore), and
 * from now on sends requests to `lw`. Returns the number of held requests loaded, or
 * -GW_ERR_STORE. */
int bridge_attach(struct bridge *b, struct server *lw);

/* Takes in what Paho has handed over and not yet been processed (before a stop), and commits.
 * Call before server_free(). */
void bridge_drain(struct bridge *b);

/* Commits what the turn of the loop wrote to the store, then publishes the final answers the
 * turn produced. Call once per turn, after bridge_process() and server_process(). */
void bridge_commit(struct bridge *b);

#endif

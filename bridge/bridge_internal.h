/* bridge_internal.h - the bridge's state, shared by its files: mqtt.c (the broker connection)
 * and uplink.c (what the LwM2M side reports, published). Private to bridge/. */
#ifndef BRIDGE_INTERNAL_H
#define BRIDGE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <MQTTAsync.h>
#include <uthash.h>

#include "bridge.h"
#include "hold.h"
#include "mappings.h"
#include "store.h"

enum inbox_kind {
    INBOX_CONNECTED,
    INBOX_CONNECT_FAILED,
    INBOX_CONNECTION_LOST,
    INBOX_MESSAGE,
    INBOX_SUBSCRIBED,  /* the request topics are subscribed: the gateway is online */
    INBOX_DELIVERED,   /* the broker acknowledged the publication with token `code` */
    INBOX_UNDELIVERED, /* the publication with token `code` failed */
};

/* An inbound MQTT message, copied out of Paho's thread. */
struct inbox_message {
    char *topic;
    uint8_t *payload;
    size_t len;
    char *response_topic; /* MQTT 5 Response Topic, or NULL */
    uint8_t *correlation; /* MQTT 5 Correlation Data, or NULL */
    size_t correlation_len;
    int64_t expiry; /* MQTT 5 Message Expiry Interval in seconds, -1 when absent */
};

struct inbox_event {
    enum inbox_kind kind;
    int code;
    char text[160];
    struct inbox_message msg; /* INBOX_MESSAGE */
    struct inbox_event *next;
};

/* Observations requests asked for, per endpoint: started on every registration with the
 * configured ones, until a cancel-observe. */
struct ep_observations {
    char ep[GW_EP_MAX + 1];
    struct observe_spec spec[GW_OBSERVE_MAX];
    size_t n;
    UT_hash_handle hh;
};

/* An endpoint whose requests are to be dispatched at the top of the next turn. */
struct pending_dispatch {
    char ep[GW_EP_MAX + 1];
    UT_hash_handle hh;
};

/* What the bridge counts since it started, for bridge_metrics(). */
enum bridge_counter {
    /* publications handed to Paho, by kind */
    BR_PUB_STATUS, /* the gateway's and the devices' */
    BR_PUB_REGISTRATION,
    BR_PUB_EVENT,
    BR_PUB_DATA,   /* values, through the mapping rules */
    BR_PUB_ANSWER, /* answers to requests, "held" included */
    BR_PUB_STATS,
    BR_DROPPED, /* publications Paho refused (its buffer full while disconnected) */
    /* MQTT messages received on the request topics */
    BR_REQ_ACCEPTED,
    BR_REQ_INVALID,
    BR_REQ_IGNORED, /* not a request topic */
    /* answers made, by enum response_status */
    BR_ANSWER_FIRST,
    BR_COUNTERS = BR_ANSWER_FIRST + GW_STATUS_HELD + 1
};

struct bridge {
    struct pending_dispatch *to_dispatch; /* by ep */
    MQTTAsync client;
    struct store *store;
    struct hold *hold;
    struct server *server;             /* the LwM2M side requests go to; NULL until attached */
    struct ep_observations *requested; /* by ep */
    uint32_t hold_ttl;                 /* seconds, store.hold_ttl */
    char **filters;                    /* subscribed topic filters */
    int session_expiry;                /* seconds the broker keeps our session; 0: clean */
    size_t n_filters;
    struct mappings *rules;    /* observe and mappings rules in force */
    const struct model *model; /* borrowed: names and units */
    struct publications pubs;  /* reused for every notification */
    int version;
    int qos;
    char *prefix;
    char *uri;
    char *status_topic; /* {prefix}/gateway/status */
    char *username;
    char *password;
    struct bridge_tls tls;
    int keepalive;
    int reconnect_min_ms;
    int reconnect_max_ms;
    int backoff_ms;       /* the wait before the next attempt */
    int64_t reconnect_at; /* monotonic ms, -1: no attempt scheduled */
    bool connecting;
    bool connected;
    bool announced;            /* "online" said on this connection */
    int64_t stats_interval_ms; /* 0: no stats topic */
    int64_t stats_at;          /* monotonic ms of the next summary */
    int64_t started_at;        /* monotonic ms of bridge_new() */
    uint64_t ctr[BR_COUNTERS];

    int efd;
    pthread_mutex_t lock;
    struct inbox_event *head, *tail;
};

/* ---- downlink.c ---- */

/* Handles one inbound MQTT message on the loop thread: parse, store, answer or dispatch. */
void downlink_message(struct bridge *b, const struct inbox_message *m);

/* Sends the next requests of `ep` when the device can take them. */
void downlink_dispatch(struct bridge *b, const char *ep);

/* Dispatches the endpoints marked by the server's callbacks. */
void downlink_run_dispatches(struct bridge *b);

/* The broker acknowledged (ok) or failed the publication with Paho token `token`. */
void downlink_delivered(struct bridge *b, int token, bool ok);

/* Publishes again the final answers the broker has not acknowledged (on a new connection). */
void downlink_republish(struct bridge *b);

/* The observations requests asked for `ep` (created empty when `create`), or NULL. */
struct ep_observations *downlink_requested(struct bridge *b, const char *ep, bool create);

/* Answers the held requests whose ttl ran out. */
void downlink_expire(struct bridge *b);

/* The server callbacks of the request side. */
void downlink_on_ready(void *ctx, const struct registration *reg);
void downlink_on_result(void *ctx, const struct registration *reg, uint64_t handle,
                        const struct request_result *res);

/* Observations requests asked for `ep`, appended to `out` from index `n` (capacity `cap`);
 * returns the new count. */
size_t downlink_observations(struct bridge *b, const char *ep, struct observe_spec *out, size_t n,
                             size_t cap);

/* Queues one publication (Paho copies it), counted under `kind`. qos -1 means the configured
 * one. Returns GW_OK, -GW_ERR_FULL when Paho's buffer for a disconnected client is full (the
 * message is dropped, counted and logged), or -GW_ERR_IO. */
int bridge_publish(struct bridge *b, enum bridge_counter kind, const char *topic,
                   const void *payload, size_t len, int qos, bool retain);

/* Publishes an answer with MQTT 5 Correlation Data when there is some (mqtt.c). With `token`,
 * Paho's token is written there and the broker's acknowledgement (or a failure) comes back as
 * INBOX_DELIVERED (INBOX_UNDELIVERED); a publication that cannot even be queued leaves 0. */
int bridge_publish_answer(struct bridge *b, const char *topic, const char *payload,
                          const uint8_t *correlation, size_t correlation_len, int *token);

void inbox_message_clear(struct inbox_message *m);

/* Publishes the summary on {prefix}/gateway/stats (metrics.c). */
void bridge_publish_stats(struct bridge *b);

/* Recomputes the request topic filters from the rules and subscribes (mqtt.c). */
void bridge_resubscribe(struct bridge *b);

#endif

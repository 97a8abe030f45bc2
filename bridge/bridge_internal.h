/* bridge_internal.h - the bridge's state, shared by its files: mqtt.c (the broker connection),
 * publish.c (the window and queue of publications), uplink.c (what the LwM2M side reports,
 * published), downlink.c (requests) and metrics.c. Private to bridge/. */
#ifndef BRIDGE_INTERNAL_H
#define BRIDGE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
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
    INBOX_DELIVERED,   /* the broker acknowledged the answer with token `code` */
    INBOX_UNDELIVERED, /* the answer with token `code` failed */
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

/* A publication waiting in the gateway's queue for the broker's window (publish.c). */
struct outgoing;

/* What the bridge counts since it started, for bridge_metrics(). */
enum bridge_counter {
    /* publications handed to Paho, by kind */
    BR_PUB_STATUS, /* the gateway's and the devices' */
    BR_PUB_REGISTRATION,
    BR_PUB_EVENT,
    BR_PUB_DATA,   /* values, through the mapping rules */
    BR_PUB_ANSWER, /* answers to requests, "held" included */
    BR_PUB_STATS,
    BR_DROPPED, /* publications lost: the queue was full, Paho refused them, or the broker never
                   acknowledged them */
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
    int64_t *answered;  /* seqs of the requests answered this turn: published after its commit */
    size_t n_answered, cap_answered;
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

    /* Flow control (publish.c). Paho MQTT C 1.3.12 sends what it holds beyond the broker's
     * Receive Maximum only at its next once-a-second wake-up, and looks for a free message id
     * by walking everything it holds: the gateway hands Paho at most `window` publications
     * that wait for the broker's acknowledgement, and keeps the others, in order, in its own
     * queue. */
    int window;    /* the CONNACK's Receive Maximum, at most GW_MQTT_WINDOW */
    int in_flight; /* handed to Paho at QoS >= 1 and not completed */
    uint64_t queue_dropped; /* values and stats dropped for a full queue */
    struct outgoing *out_head, *out_tail; /* the queue, oldest first */
    size_t out_waiting;                   /* values and stats in the queue: droppable */
    size_t out_max;                       /* mqtt.max_buffered: the bound of out_waiting */
    size_t out_kept;                      /* the others in the queue, never dropped */
    int answer_token;                     /* the last token bridge_publish_answer() gave */
    uint64_t burst[BR_PUB_STATS + 1];     /* dropped from a full queue since the burst began, by
                                             kind; all 0 outside a burst */
    uint64_t burst_total;

    /* QoS 0 (publish.c). Paho's send thread, once a write to the broker is left half done,
     * sleeps until a command is added or a second has passed; a publication it refuses for a
     * full buffer adds none. The gateway hands Paho at most GW_MQTT_UNWRITTEN QoS 0
     * publications it has not written, so Paho never refuses one, and Paho says when it wrote
     * each: the write that finishes a half-done one wakes the loop, whose next publication
     * wakes Paho. */
    unsigned handed0;      /* QoS 0 publications handed to Paho, ever */
    unsigned written0_was; /* `written0` when the loop last read it */
    unsigned lost0_was;    /* `lost0` when the loop last read it */

    int efd;
    pthread_mutex_t lock;
    struct inbox_event *head, *tail;
    unsigned completed; /* publications other than tokened answers that Paho completed */
    unsigned failed;    /* of them, those it failed */
    bool completions_wanted; /* something waits in the queue: a completion wakes the loop */
    bool completions_woke;   /* one did since the loop last took them */

    /* Written by Paho's threads for every QoS 0 publication, apart from the loop's fields. */
    char pad0[64];
    atomic_uint written0;        /* QoS 0 publications Paho wrote or failed, ever */
    atomic_uint lost0;           /* of them, those it failed */
    atomic_bool wake_on_written; /* the loop waits for a write: the next one wakes it */
    char pad1[64];
};

/* The QoS 0 publications handed to Paho and not written at most. What waits there waits as
 * long as in the queue, and a flood at 80 % of what 2 cores carry had a p99 of 28-58 ms with
 * 4096 against 11 ms with 1024, at the same rate carried (tests/bench/bench_notify.py). */
#define GW_MQTT_UNWRITTEN 1024

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

/* Publishes the final answers of this turn; their store writes were committed just before. */
void downlink_publish_answered(struct bridge *b);

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

/* ---- publish.c ---- */

/* Publishes `payload` on `topic`, counted under `kind` once handed to Paho; qos -1 means the
 * configured one. The publication goes to Paho at once while the broker's window has room
 * and nothing waits before it, else it is copied into the gateway's queue and sent, in order,
 * as the broker acknowledges what it has. Returns GW_OK (sent or queued), -GW_ERR_FULL when
 * mqtt.max_buffered publications already wait (it is dropped and counted; a burst of drops
 * is logged at its start and its end), -GW_ERR_NOMEM, or -GW_ERR_IO when Paho refused it
 * (dropped, counted and logged). */
int bridge_publish(struct bridge *b, enum bridge_counter kind, const char *topic,
                   const void *payload, size_t len, int qos, bool retain);

/* Publishes an answer with MQTT 5 Correlation Data when there is some, like
 * bridge_publish() except that an answer is never dropped for a full queue. With `token`, at
 * QoS 1 and 2, a token of the gateway's (never 0) is written there and the broker's
 * acknowledgement, or a failure, comes back as INBOX_DELIVERED (INBOX_UNDELIVERED) with it,
 * also for an answer that waited in the queue; 0 is written at QoS 0 and when the answer could
 * not be queued (then the call returns -GW_ERR_NOMEM or -GW_ERR_IO). */
int bridge_publish_answer(struct bridge *b, const char *topic, const char *payload,
                          const uint8_t *correlation, size_t correlation_len, int *token);

/* Takes the publications other than tokened answers that Paho completed (b->completed, and
 * b->failed of them failed) and frees their places in the window; the failed are counted as
 * dropped and logged, and so are the QoS 0 publications Paho failed to write. `wanted`: from
 * now on each completion wakes the loop (something waits in the queue). */
void publish_take_completions(struct bridge *b, bool wanted);

/* The broker acknowledged (ok) or failed the tokened answer `token`: frees its place in the
 * window and tells downlink_delivered(). */
void publish_answered(struct bridge *b, int token, bool ok);

/* Hands Paho what waits in the queue, oldest first, while it may go. Called at the end of every
 * bridge_process(): a connection and completions open the window, and only there. */
void publish_flush(struct bridge *b);

/* When the queue is to be tried again (monotonic ms), or -1: soon when its head may go but
 * Paho's own buffer was full, since that drains with no callback for QoS >= 1. */
int64_t publish_next_deadline(const struct bridge *b);

/* At a clean stop, connected: hands Paho all that waits in the queue, window or not; what it
 * took is no longer counted as waiting. The queue itself is freed by publish_drop_queue(). */
void publish_hand_over(struct bridge *b);

/* After the client is destroyed: logs the burst of drops in course and what Paho never took,
 * then frees the queue. */
void publish_drop_queue(struct bridge *b);

/* ---- the rest, each with its file ---- */

/* Appends an event to the inbox and wakes the loop; safe on any thread (mqtt.c). */
void inbox_put(struct bridge *b, enum inbox_kind kind, int code, const char *text);

/* Wakes the loop (its eventfd); safe on any thread (mqtt.c). */
void bridge_wake(struct bridge *b);

/* Frees what `m` owns and zeroes it, not `m` itself (downlink.c). */
void inbox_message_clear(struct inbox_message *m);

/* Publishes the summary on {prefix}/gateway/stats (metrics.c). */
void bridge_publish_stats(struct bridge *b);

/* Recomputes the request topic filters from the rules and subscribes (mqtt.c). */
void bridge_resubscribe(struct bridge *b);

#endif

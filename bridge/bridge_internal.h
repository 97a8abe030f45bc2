/* bridge_internal.h - the bridge's state, shared by its files: mqtt.c (the broker connection)
 * and uplink.c (what the LwM2M side reports, published). Private to bridge/. */
#ifndef BRIDGE_INTERNAL_H
#define BRIDGE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <MQTTAsync.h>

#include "bridge.h"
#include "mappings.h"
#include "store.h"

enum inbox_kind { INBOX_CONNECTED, INBOX_CONNECT_FAILED, INBOX_CONNECTION_LOST };

struct inbox_event {
    enum inbox_kind kind;
    int code;
    char text[160];
    struct inbox_event *next;
};

struct bridge {
    MQTTAsync client;
    struct store *store;
    struct mappings *rules;         /* observe and mappings rules in force */
    const struct model *model;      /* borrowed: names and units */
    struct publications pubs;       /* reused for every notification */
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
    unsigned long dropped;

    int efd;
    pthread_mutex_t lock;
    struct inbox_event *head, *tail;
};

#endif

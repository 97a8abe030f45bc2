/* mqtt.c - the broker connection (Paho MQTT C, asynchronous API) and the lifecycle topics; the
 * flow of publications is publish.c's. Paho calls us back on its own threads: the callbacks only
 * append an event to a locked inbox and signal an eventfd, so the loop thread alone touches state.
 * Reconnection is ours, not Paho's: its automatic reconnect does not cover a first connect that
 * fails (a gateway started before its broker), and one backoff for both cases is simpler. */
#include "bridge.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <MQTTAsync.h>

#include "gw.h"
#include "bridge_internal.h"

/* ---- the inbox: the only thing Paho's threads touch ---- */

static void inbox_push(struct bridge *b, struct inbox_event *ev);

void inbox_put(struct bridge *b, enum inbox_kind kind, int code, const char *text)
{
    struct inbox_event *ev = calloc(1, sizeof(*ev));
    if (!ev)
        return; /* the loop will notice the state through the next event or the reconnect */
    ev->kind = kind;
    ev->code = code;
    if (text)
        snprintf(ev->text, sizeof(ev->text), "%s", text);
    inbox_push(b, ev);
}

/* The window when the broker sets none lower: QoS >= 1 publications handed to Paho that the
 * broker has not acknowledged. Measured with tests/bench/bench_notify.py (QoS 1 flood, 2
 * cores): 64 delivered about a fifth less than the unbounded client; 256 delivers as much,
 * and Paho's message id search falls from about 12 % of the gateway's samples to 1 %. That
 * search is paid per publication: a registration storm (three lifecycle messages per device)
 * paid for 1024 with up to half its rate. A flood of values gains nothing from 1024 either
 * (the same delivery at five times the rate carried; 26,000-30,000 values a second carried
 * with 256 where 1024 left a growing backlog, at 1-4 us less CPU each). */
#define GW_MQTT_WINDOW 256

static void on_connected(void *ctx, MQTTAsync_successData *resp)
{
    (void)resp;
    inbox_put(ctx, INBOX_CONNECTED, GW_MQTT_WINDOW, NULL);
}

/* MQTT 5: the broker says in its CONNACK how many QoS >= 1 publications it takes at a time
 * (Receive Maximum; 65535 when absent). */
static void on_connected5(void *ctx, MQTTAsync_successData5 *resp)
{
    int window = GW_MQTT_WINDOW;
    if (resp && MQTTProperties_hasProperty(&resp->properties, MQTTPROPERTY_CODE_RECEIVE_MAXIMUM)) {
        int max =
            MQTTProperties_getNumericValue(&resp->properties, MQTTPROPERTY_CODE_RECEIVE_MAXIMUM);
        if (max > 0 && max < window)
            window = max;
    }
    inbox_put(ctx, INBOX_CONNECTED, window, NULL);
}

static void on_connect_failure(void *ctx, MQTTAsync_failureData *resp)
{
    inbox_put(ctx, INBOX_CONNECT_FAILED, resp ? resp->code : 0, resp ? resp->message : NULL);
}

static void on_connect_failure5(void *ctx, MQTTAsync_failureData5 *resp)
{
    inbox_put(ctx, INBOX_CONNECT_FAILED, resp ? resp->code : 0, resp ? resp->message : NULL);
}

static void on_connection_lost(void *ctx, char *cause)
{
    inbox_put(ctx, INBOX_CONNECTION_LOST, 0, cause);
}

static void inbox_push(struct bridge *b, struct inbox_event *ev)
{
    pthread_mutex_lock(&b->lock);
    if (b->tail)
        b->tail->next = ev;
    else
        b->head = ev;
    b->tail = ev;
    pthread_mutex_unlock(&b->lock);
    bridge_wake(b);
}

void bridge_wake(struct bridge *b)
{
    uint64_t one = 1;
    ssize_t w = write(b->efd, &one, sizeof(one));
    (void)w;
}

/* Copies an inbound message (and the MQTT 5 properties requests use) into the inbox. Paho
 * has already acknowledged a QoS 1 message when it calls this (MQTTProtocol_handlePublishes
 * sends PUBACK first): the loop thread stores it within the same turn. */
static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *m)
{
    struct bridge *b = ctx;
    struct inbox_event *ev = calloc(1, sizeof(*ev));
    size_t tlen = topic_len > 0 ? (size_t)topic_len : strlen(topic);
    if (ev) {
        ev->kind = INBOX_MESSAGE;
        struct inbox_message *im = &ev->msg;
        im->expiry = -1;
        im->topic = strndup(topic, tlen);
        im->len = m->payloadlen > 0 ? (size_t)m->payloadlen : 0;
        im->payload = malloc(im->len + 1);
        if (im->payload) {
            memcpy(im->payload, m->payload, im->len);
            im->payload[im->len] = 0;
        }
        MQTTProperty *p =
            MQTTProperties_getProperty(&m->properties, MQTTPROPERTY_CODE_RESPONSE_TOPIC);
        if (p)
            im->response_topic = strndup(p->value.data.data, (size_t)p->value.data.len);
        p = MQTTProperties_getProperty(&m->properties, MQTTPROPERTY_CODE_CORRELATION_DATA);
        if (p && p->value.data.len > 0 && (im->correlation = malloc((size_t)p->value.data.len))) {
            memcpy(im->correlation, p->value.data.data, (size_t)p->value.data.len);
            im->correlation_len = (size_t)p->value.data.len;
        }
        if (MQTTProperties_hasProperty(&m->properties, MQTTPROPERTY_CODE_MESSAGE_EXPIRY_INTERVAL))
            im->expiry = MQTTProperties_getNumericValue(&m->properties,
                                                        MQTTPROPERTY_CODE_MESSAGE_EXPIRY_INTERVAL);
        if (!im->topic || !im->payload) {
            inbox_message_clear(im);
            free(ev);
            ev = NULL;
        }
    }
    if (!ev) {
        /* Not taken: Paho keeps the message and offers it again later. */
        log_error("request-delayed reason=\"out of memory copying an inbound message\"");
        return 0;
    }
    inbox_push(b, ev);
    MQTTAsync_freeMessage(&m);
    MQTTAsync_free(topic);
    return 1;
}

/* ---- connecting ---- */

static void start_connect(struct bridge *b)
{
    MQTTAsync_connectOptions opts = MQTTAsync_connectOptions_initializer;
    MQTTAsync_connectOptions opts5 = MQTTAsync_connectOptions_initializer5;
    MQTTAsync_connectOptions *o = b->version == 5 ? &opts5 : &opts;
    MQTTAsync_willOptions will = MQTTAsync_willOptions_initializer;
    MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;

    will.topicName = b->status_topic;
    will.message = "offline";
    will.retained = 1;
    will.qos = 1;
    o->will = &will;
    o->keepAliveInterval = b->keepalive;
    /* A persistent session: requests published while the gateway is away wait at the broker
     * for it (QoS 1 subscriptions). */
    MQTTProperties props = MQTTProperties_initializer;
    MQTTProperty expiry = {.identifier = MQTTPROPERTY_CODE_SESSION_EXPIRY_INTERVAL,
                           .value.integer4 = (unsigned)b->session_expiry};
    if (b->version == 5) {
        o->cleanstart = b->session_expiry == 0;
        MQTTProperties_add(&props, &expiry);
        o->connectProperties = &props;
        o->onSuccess5 = on_connected5;
        o->onFailure5 = on_connect_failure5;
    } else {
        o->cleansession = b->session_expiry == 0;
        o->onSuccess = on_connected;
        o->onFailure = on_connect_failure;
    }
    o->context = b;
    o->connectTimeout = 10;
    o->username = b->username;
    o->password = b->password;
    if (strncmp(b->uri, "ssl://", 6) == 0 || strncmp(b->uri, "mqtts://", 8) == 0 ||
        strncmp(b->uri, "wss://", 6) == 0) {
        ssl.trustStore = b->tls.ca_file;
        ssl.keyStore = b->tls.cert_file;
        ssl.privateKey = b->tls.key_file;
        ssl.enableServerCertAuth = 1;
        ssl.verify = b->tls.verify_hostname ? 1 : 0;
        o->ssl = &ssl;
    }
    int rc = MQTTAsync_connect(b->client, o);
    MQTTProperties_free(&props);
    if (rc != MQTTASYNC_SUCCESS) {
        log_warn("mqtt-connect-failed uri=%s code=%d", b->uri, rc);
        b->reconnect_at = gw_now_mono_ms() + b->backoff_ms;
        return;
    }
    b->connecting = true;
    b->reconnect_at = -1;
}

static void schedule_reconnect(struct bridge *b)
{
    b->reconnect_at = gw_now_mono_ms() + b->backoff_ms;
    log_info("mqtt-reconnect-scheduled uri=%s in_ms=%d", b->uri, b->backoff_ms);
    b->backoff_ms =
        b->backoff_ms * 2 > b->reconnect_max_ms ? b->reconnect_max_ms : b->backoff_ms * 2;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

struct bridge *bridge_new(const struct bridge_config *cfg, const struct store_config *store,
                          const struct mappings_config *rules, const struct model *model)
{
    char err[256];
    struct bridge *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->efd = -1;
    pthread_mutex_init(&b->lock, NULL);
    b->version = cfg->version == 5 ? 5 : 4;
    b->qos = cfg->qos;
    b->hold_ttl = store->hold_ttl;
    b->session_expiry = cfg->session_expiry;
    b->stats_interval_ms = (int64_t)cfg->stats_interval * 1000;
    b->started_at = gw_now_mono_ms();
    b->stats_at = b->stats_interval_ms ? b->started_at + b->stats_interval_ms : -1;
    b->keepalive = cfg->keepalive;
    b->reconnect_min_ms = (cfg->reconnect_min > 0 ? cfg->reconnect_min : 1) * 1000;
    b->reconnect_max_ms = (cfg->reconnect_max > 0 ? cfg->reconnect_max : 60) * 1000;
    b->backoff_ms = b->reconnect_min_ms;
    b->reconnect_at = -1;
    b->out_max = cfg->max_buffered > 0 ? (size_t)cfg->max_buffered : 1;
    b->prefix = strdup(cfg->topic_prefix);
    b->uri = strdup(cfg->uri);
    b->username = dup_or_null(cfg->username);
    b->password = dup_or_null(cfg->password);
    b->tls.ca_file = dup_or_null(cfg->tls.ca_file);
    b->tls.cert_file = dup_or_null(cfg->tls.cert_file);
    b->tls.key_file = dup_or_null(cfg->tls.key_file);
    b->tls.verify_hostname = cfg->tls.verify_hostname;
    if (!b->prefix || !b->uri || asprintf(&b->status_topic, "%s/gateway/status", b->prefix) < 0) {
        b->status_topic = NULL;
        goto out_free;
    }
    b->model = model;
    b->store = store_open(store);
    if (!b->store)
        goto out_free;
    b->hold = hold_new(b->store, store->hold_max);
    if (!b->hold)
        goto out_free;
    if (bridge_set_rules(b, rules, err, sizeof(err)) < 0) {
        log_error("startup-failed reason=\"%s\"", err);
        goto out_free;
    }
    b->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (b->efd < 0) {
        log_error("startup-failed reason=\"eventfd: %s\"", strerror(errno));
        goto out_free;
    }

    MQTTAsync_createOptions create = MQTTAsync_createOptions_initializer;
    create.MQTTVersion = b->version == 5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1;
    create.sendWhileDisconnected = 1;
    create.allowDisconnectedSendAtAnyTime = 1;
    /* Paho holds the window and, at QoS 0, what it has not written yet: it never refuses
     * those (see struct bridge). Beyond them, its buffer takes what publish_hand_over() gives
     * at a clean stop. */
    size_t paho_max = b->out_max + GW_MQTT_WINDOW + GW_MQTT_UNWRITTEN;
    create.maxBufferedMessages = paho_max < INT_MAX ? (int)paho_max : INT_MAX;
    int rc = MQTTAsync_createWithOptions(&b->client, b->uri, cfg->client_id,
                                         MQTTCLIENT_PERSISTENCE_NONE, NULL, &create);
    if (rc != MQTTASYNC_SUCCESS) {
        log_error("mqtt-create-failed uri=%s code=%d reason=\"%s\"", b->uri, rc,
                  MQTTAsync_strerror(rc));
        b->client = NULL;
        goto out_free;
    }
    MQTTAsync_setCallbacks(b->client, b, on_connection_lost, on_message, NULL);
    log_info("mqtt-connecting uri=%s client_id=%s version=%s", b->uri, cfg->client_id,
             b->version == 5 ? "5" : "3.1.1");
    start_connect(b);
    return b;

out_free:
    bridge_free(b, 0);
    return NULL;
}

static void on_subscribed(void *ctx, MQTTAsync_successData *resp)
{
    (void)resp;
    inbox_put(ctx, INBOX_SUBSCRIBED, 0, NULL);
}

static void on_subscribed5(void *ctx, MQTTAsync_successData5 *resp)
{
    (void)resp;
    inbox_put(ctx, INBOX_SUBSCRIBED, 0, NULL);
}

static void on_subscribe_failed(void *ctx, MQTTAsync_failureData *resp)
{
    inbox_put(ctx, INBOX_SUBSCRIBED, resp ? resp->code : -1, "subscription refused");
}

static void on_subscribe_failed5(void *ctx, MQTTAsync_failureData5 *resp)
{
    inbox_put(ctx, INBOX_SUBSCRIBED, resp ? resp->code : -1, "subscription refused");
}

/* Subscribes to the request topics (again on every connection: a broker that lost the
 * session has lost the subscriptions too). */
static void subscribe(struct bridge *b)
{
    if (b->n_filters == 0)
        return;
    int qos[64];
    size_t n = b->n_filters < GW_ARRAY_LEN(qos) ? b->n_filters : GW_ARRAY_LEN(qos);
    for (size_t i = 0; i < n; i++)
        qos[i] = 1;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    ro.context = b;
    if (b->version == 5) {
        ro.onSuccess5 = on_subscribed5;
        ro.onFailure5 = on_subscribe_failed5;
    } else {
        ro.onSuccess = on_subscribed;
        ro.onFailure = on_subscribe_failed;
    }
    int rc = MQTTAsync_subscribeMany(b->client, (int)n, b->filters, qos, &ro);
    if (rc != MQTTASYNC_SUCCESS) {
        log_warn("mqtt-subscribe-failed code=%d reason=\"%s\"", rc, MQTTAsync_strerror(rc));
        inbox_put(b, INBOX_SUBSCRIBED, rc, "subscription not sent");
    }
}

/* Paho MQTT C leaves Nagle's algorithm on, and gives no access to its socket: an answer
 * published right after the PUBACK of its request then waits for the broker's delayed ACK
 * (40 ms and more per request at QoS 1). Every connected TCP socket of the process gets
 * TCP_NODELAY: the broker connection, and the HTTP listener's connections, which lose
 * nothing by it. */
static void no_delay(int fd, void *arg)
{
    (void)arg;
    int type, on = 1;
    socklen_t len = sizeof(type);
    struct sockaddr_storage peer;
    socklen_t plen = sizeof(peer);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM &&
        getpeername(fd, (struct sockaddr *)&peer, &plen) == 0 &&
        (peer.ss_family == AF_INET || peer.ss_family == AF_INET6))
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

static void on_connected_event(struct bridge *b, int window)
{
    gw_each_socket(no_delay, NULL);
    b->connected = true;
    b->announced = false;
    b->connecting = false;
    b->backoff_ms = b->reconnect_min_ms;
    b->window = window;
    log_info("mqtt-connected uri=%s window=%d in_flight=%d queued=%zu", b->uri, window,
             b->in_flight, b->out_waiting + b->out_kept);
    /* "online" once requests can be taken: after the SUBACK (INBOX_SUBSCRIBED). */
    if (b->n_filters)
        subscribe(b);
    else
        inbox_put(b, INBOX_SUBSCRIBED, 0, NULL);
}

static void on_subscribed_event(struct bridge *b, int code, const char *text)
{
    if (code != 0)
        log_warn("mqtt-subscribe-failed code=%d reason=\"%s\"", code, text);
    else
        log_info("mqtt-subscribed filters=%zu first=%s", b->n_filters,
                 b->n_filters ? b->filters[0] : "-");
    /* Once per connection: a reload subscribes again, but the gateway never went away. */
    if (!b->connected || b->announced)
        return;
    b->announced = true;
    bridge_publish(b, BR_PUB_STATUS, b->status_topic, "online", 6, 1, true);
    downlink_republish(b);
}

void bridge_resubscribe(struct bridge *b)
{
    char *filters[64];
    int n = b->rules ? mappings_request_filters(b->rules, filters, GW_ARRAY_LEN(filters)) : 0;
    if (n < 0)
        return;
    if ((size_t)n > GW_ARRAY_LEN(filters)) {
        log_warn("mqtt-subscribe-limit filters=%d subscribed=%zu", n, GW_ARRAY_LEN(filters));
        n = (int)GW_ARRAY_LEN(filters);
    }
    /* Filters no longer wanted (a commands rule removed by a reload) are unsubscribed. */
    for (size_t i = 0; i < b->n_filters; i++) {
        bool kept = false;
        for (int j = 0; j < n && !kept; j++)
            kept = strcmp(b->filters[i], filters[j]) == 0;
        if (!kept && b->connected) {
            MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
            MQTTAsync_unsubscribe(b->client, b->filters[i], &ro);
        }
        free(b->filters[i]);
    }
    free(b->filters);
    b->filters = calloc((size_t)n + 1, sizeof(char *));
    b->n_filters = 0;
    for (int j = 0; j < n; j++) {
        if (b->filters)
            b->filters[b->n_filters++] = filters[j];
        else
            free(filters[j]);
    }
    if (b->connected)
        subscribe(b);
}

/* ---- the loop's side ---- */

void bridge_process(struct bridge *b)
{
    uint64_t count;
    ssize_t r = read(b->efd, &count, sizeof(count));
    (void)r;
    pthread_mutex_lock(&b->lock);
    struct inbox_event *ev = b->head;
    b->head = b->tail = NULL;
    pthread_mutex_unlock(&b->lock);
    publish_take_completions(b, b->completions_wanted);

    while (ev) {
        struct inbox_event *next = ev->next;
        switch (ev->kind) {
        case INBOX_CONNECTED:
            on_connected_event(b, ev->code);
            break;
        case INBOX_CONNECT_FAILED:
            b->connecting = false;
            log_warn("mqtt-connect-failed uri=%s code=%d reason=\"%s\"", b->uri, ev->code,
                     ev->text[0] ? ev->text : MQTTAsync_strerror(ev->code));
            schedule_reconnect(b);
            break;
        case INBOX_CONNECTION_LOST:
            b->connected = false;
            log_warn("mqtt-connection-lost uri=%s reason=\"%s\"", b->uri,
                     ev->text[0] ? ev->text : "unknown");
            schedule_reconnect(b);
            break;
        case INBOX_MESSAGE:
            downlink_message(b, &ev->msg);
            inbox_message_clear(&ev->msg);
            break;
        case INBOX_SUBSCRIBED:
            on_subscribed_event(b, ev->code, ev->text);
            break;
        case INBOX_DELIVERED:
        case INBOX_UNDELIVERED:
            publish_answered(b, ev->code, ev->kind == INBOX_DELIVERED);
            break;
        }
        free(ev);
        ev = next;
    }
    if (b->reconnect_at >= 0 && gw_now_mono_ms() >= b->reconnect_at && !b->connecting &&
        !b->connected)
        start_connect(b);
    downlink_run_dispatches(b);
    downlink_expire(b);
    int64_t now = gw_now_mono_ms();
    if (b->stats_at >= 0 && now >= b->stats_at) {
        b->stats_at = now + b->stats_interval_ms;
        bridge_publish_stats(b);
    }
    publish_flush(b);
}

void bridge_drain(struct bridge *b)
{
    /* What Paho handed over before the stop is stored (and, where its device can take it,
     * sent); nothing in the inbox is thrown away. */
    pthread_mutex_lock(&b->lock);
    bool pending = b->head != NULL;
    pthread_mutex_unlock(&b->lock);
    if (pending)
        bridge_process(b);
    bridge_commit(b);
}

int64_t bridge_next_deadline(const struct bridge *b)
{
    int64_t d = b->reconnect_at, h = hold_next_deadline(b->hold);
    if (h >= 0 && (d < 0 || h < d))
        d = h;
    if (b->stats_at >= 0 && (d < 0 || b->stats_at < d))
        d = b->stats_at;
    int64_t soon = publish_next_deadline(b);
    if (soon >= 0 && (d < 0 || soon < d))
        d = soon;
    if (b->to_dispatch)
        d = gw_now_mono_ms();
    return d;
}

void bridge_commit(struct bridge *b)
{
    store_commit(b->store);
    downlink_publish_answered(b);
}

int bridge_fd(const struct bridge *b)
{
    return b->efd;
}

bool bridge_connected(const struct bridge *b)
{
    return b->connected;
}

struct bridge_flow bridge_value_flow(const struct bridge *b)
{
    return (struct bridge_flow){.handed = b->ctr[BR_PUB_DATA] + b->ctr[BR_PUB_STATS],
                                .dropped = b->queue_dropped,
                                .waiting = b->out_waiting,
                                .max = b->out_max};
}

void bridge_free(struct bridge *b, int timeout_ms)
{
    if (!b)
        return;
    if (b->client) {
        if (MQTTAsync_isConnected(b->client)) {
            /* A clean stop does not fire the will: say "offline" ourselves, after all that
             * waits in the queue (handed to Paho now, window or not), and give the broker a
             * moment to take it all. */
            publish_hand_over(b);
            MQTTAsync_message m = MQTTAsync_message_initializer;
            MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
            m.payload = "offline";
            m.payloadlen = 7;
            m.qos = 1;
            m.retained = 1;
            if (MQTTAsync_sendMessage(b->client, b->status_topic, &m, &ro) == MQTTASYNC_SUCCESS)
                MQTTAsync_waitForCompletion(b->client, ro.token, (unsigned long)timeout_ms);
            MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
            d.timeout = timeout_ms;
            MQTTAsync_disconnect(b->client, &d);
            for (int waited = 0; waited < timeout_ms && MQTTAsync_isConnected(b->client);
                 waited += 10)
                usleep(10000);
        }
        MQTTAsync_destroy(&b->client);
    }
    publish_drop_queue(b);
    struct inbox_event *ev = b->head;
    while (ev) {
        struct inbox_event *next = ev->next;
        if (ev->kind == INBOX_MESSAGE) /* bridge_drain() took the earlier ones */
            inbox_message_clear(&ev->msg);
        free(ev);
        ev = next;
    }
    if (b->efd >= 0)
        close(b->efd);
    hold_free(b->hold);
    free(b->answered);
    struct pending_dispatch *pd, *pdtmp;
    HASH_ITER(hh, b->to_dispatch, pd, pdtmp)
    {
        HASH_DEL(b->to_dispatch, pd);
        free(pd);
    }
    struct ep_observations *o, *otmp;
    HASH_ITER(hh, b->requested, o, otmp)
    {
        HASH_DEL(b->requested, o);
        free(o);
    }
    for (size_t i = 0; i < b->n_filters; i++)
        free(b->filters[i]);
    free(b->filters);
    store_close(b->store);
    mappings_free(b->rules);
    publications_clear(&b->pubs);
    pthread_mutex_destroy(&b->lock);
    free(b->prefix);
    free(b->uri);
    free(b->status_topic);
    free(b->username);
    free(b->password);
    free(b->tls.ca_file);
    free(b->tls.cert_file);
    free(b->tls.key_file);
    free(b);
}

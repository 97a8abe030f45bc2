/* mqtt.c - the broker connection (Paho MQTT C, asynchronous API), the lifecycle topics and the
 * flow of publications. Paho calls us back on its own threads; those callbacks only append an
 * event to a locked inbox (or count a completion there) and signal an eventfd, so that all
 * state is touched by the loop thread alone.
 * Reconnection is ours, not Paho's: Paho's automatic reconnect does not cover a first connect
 * that fails (a gateway started before its broker), and one backoff for both cases is simpler
 * to reason about. Publications wait in the gateway's own bounded queue (mqtt.max_buffered)
 * while the broker is away and while its window is full: Paho is handed only what the broker
 * may take now (see struct bridge, "Flow control"). */
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

static void inbox_put(struct bridge *b, enum inbox_kind kind, int code, const char *text)
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
 * and Paho's message id search falls from about 12 % of the gateway's samples to 1 %. */
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
    /* Paho holds the window and, at QoS 0, what it has not written yet. Its own bound stops
     * QoS 0 publications piling up there behind a socket the broker does not read: beyond it
     * they wait in the gateway's queue. */
    create.maxBufferedMessages =
        (int)(b->out_max < INT_MAX - GW_MQTT_WINDOW ? b->out_max + GW_MQTT_WINDOW : INT_MAX);
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
             b->in_flight, b->out_waiting + b->out_answers);
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

/* ---- publications: the window and the queue ---- */

/* One publication. On the stack it points to the caller's bytes; queued, to its own `data`. */
struct outgoing {
    struct outgoing *next;
    const char *topic;
    const void *payload;
    const uint8_t *correlation; /* an answer's MQTT 5 Correlation Data, or NULL */
    size_t len;
    size_t correlation_len;
    enum bridge_counter kind;
    int qos;
    int token; /* an answer's token, given to downlink.c; 0: none */
    bool retain;
    char data[]; /* queued: the topic, the payload and the correlation data */
};

/* The context of a tokened answer's callbacks: Paho reports its own token, downlink.c knows
 * the gateway's. */
struct answer_ctx {
    struct bridge *b;
    int token;
};

/* A publication other than a tokened answer is complete: counted in the inbox, with no
 * allocation per publication; the first count since the loop last looked wakes it. */
static void count_completion(struct bridge *b, bool ok)
{
    pthread_mutex_lock(&b->lock);
    bool wake = b->completed == 0;
    b->completed++;
    if (!ok)
        b->failed++;
    pthread_mutex_unlock(&b->lock);
    if (wake) {
        uint64_t one = 1;
        ssize_t w = write(b->efd, &one, sizeof(one));
        (void)w;
    }
}

static void on_published(void *ctx, MQTTAsync_successData *resp)
{
    (void)resp;
    count_completion(ctx, true);
}

static void on_published5(void *ctx, MQTTAsync_successData5 *resp)
{
    (void)resp;
    count_completion(ctx, true);
}

static void on_publish_failed(void *ctx, MQTTAsync_failureData *resp)
{
    (void)resp;
    count_completion(ctx, false);
}

static void on_publish_failed5(void *ctx, MQTTAsync_failureData5 *resp)
{
    (void)resp;
    count_completion(ctx, false);
}

static void answer_done(struct answer_ctx *a, bool ok)
{
    struct bridge *b = a->b;
    int token = a->token;
    free(a);
    inbox_put(b, ok ? INBOX_DELIVERED : INBOX_UNDELIVERED, token, NULL);
}

static void on_delivered(void *ctx, MQTTAsync_successData *resp)
{
    (void)resp;
    answer_done(ctx, true);
}

static void on_delivered5(void *ctx, MQTTAsync_successData5 *resp)
{
    (void)resp;
    answer_done(ctx, true);
}

static void on_undelivered(void *ctx, MQTTAsync_failureData *resp)
{
    (void)resp;
    answer_done(ctx, false);
}

static void on_undelivered5(void *ctx, MQTTAsync_failureData5 *resp)
{
    (void)resp;
    answer_done(ctx, false);
}

/* Hands `o` to Paho, which copies it. A QoS 0 publication is complete once Paho has it; QoS 1
 * and 2 take a place in the window until Paho calls back. Returns GW_OK; -GW_AGAIN when Paho's
 * own buffer is full (QoS 0 publications piled up behind a socket the broker does not read:
 * nothing is counted, `o` is to wait); or -GW_ERR_NOMEM or -GW_ERR_IO when it is lost
 * (counted and logged: an answer with a token stays in the store, and the caller sees to it). */
static int hand_off(struct bridge *b, const struct outgoing *o)
{
    MQTTAsync_message m = MQTTAsync_message_initializer;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    struct answer_ctx *a = NULL;
    if (o->qos > 0 && o->token) {
        a = malloc(sizeof(*a));
        if (!a) {
            b->ctr[BR_DROPPED]++;
            log_error("mqtt-publish-dropped count=1 topic=%s reason=\"out of memory\" "
                      "dropped_total=%llu kept=yes",
                      o->topic, (unsigned long long)b->ctr[BR_DROPPED]);
            return -GW_ERR_NOMEM;
        }
        *a = (struct answer_ctx){.b = b, .token = o->token};
    }
    m.payload = (void *)o->payload;
    m.payloadlen = (int)o->len;
    m.qos = o->qos;
    m.retained = o->retain ? 1 : 0;
    if (b->version == 5 && o->correlation_len > 0) {
        MQTTProperty p = {.identifier = MQTTPROPERTY_CODE_CORRELATION_DATA};
        p.value.data.data = (char *)o->correlation;
        p.value.data.len = (int)o->correlation_len;
        MQTTProperties_add(&m.properties, &p);
    }
    if (o->qos > 0) {
        ro.context = a ? (void *)a : b;
        if (b->version == 5) {
            ro.onSuccess5 = a ? on_delivered5 : on_published5;
            ro.onFailure5 = a ? on_undelivered5 : on_publish_failed5;
        } else {
            ro.onSuccess = a ? on_delivered : on_published;
            ro.onFailure = a ? on_undelivered : on_publish_failed;
        }
    }
    int rc = MQTTAsync_sendMessage(b->client, o->topic, &m, &ro);
    MQTTProperties_free(&m.properties);
    if (rc == MQTTASYNC_SUCCESS) {
        if (o->qos > 0)
            b->in_flight++;
        b->ctr[o->kind]++;
        return GW_OK;
    }
    free(a); /* Paho calls nobody back for what it refused */
    if (rc == MQTTASYNC_MAX_BUFFERED_MESSAGES)
        return -GW_AGAIN;
    b->ctr[BR_DROPPED]++;
    log_warn("mqtt-publish-dropped count=1 topic=%s code=%d reason=\"%s\" dropped_total=%llu%s",
             o->topic, rc, MQTTAsync_strerror(rc), (unsigned long long)b->ctr[BR_DROPPED],
             o->token ? " kept=yes" : "");
    return -GW_ERR_IO;
}

/* The end of a burst of publications dropped from a full queue (it drained, or the gateway
 * stops): one line with how many, by kind. Its start was logged by publish(). */
static void end_burst(struct bridge *b)
{
    const uint64_t *d = b->burst;
    uint64_t n = b->burst_total;
    if (n == 0)
        return;
    log_warn("mqtt-publish-dropped count=%llu reason=\"queue full (mqtt.max_buffered)\" "
             "status=%llu registration=%llu event=%llu data=%llu stats=%llu dropped_total=%llu",
             (unsigned long long)n, (unsigned long long)d[BR_PUB_STATUS],
             (unsigned long long)d[BR_PUB_REGISTRATION], (unsigned long long)d[BR_PUB_EVENT],
             (unsigned long long)d[BR_PUB_DATA], (unsigned long long)d[BR_PUB_STATS],
             (unsigned long long)b->ctr[BR_DROPPED]);
    memset(b->burst, 0, sizeof(b->burst));
    b->burst_total = 0;
}

/* Copies `o` to the end of the queue, in one allocation with its bytes. */
static int enqueue(struct bridge *b, const struct outgoing *o)
{
    size_t tlen = strlen(o->topic) + 1;
    struct outgoing *q = malloc(sizeof(*q) + tlen + o->len + o->correlation_len);
    if (!q) {
        b->ctr[BR_DROPPED]++;
        log_error("mqtt-publish-dropped count=1 topic=%s reason=\"out of memory\" "
                  "dropped_total=%llu%s",
                  o->topic, (unsigned long long)b->ctr[BR_DROPPED], o->token ? " kept=yes" : "");
        return -GW_ERR_NOMEM;
    }
    *q = *o;
    q->next = NULL;
    memcpy(q->data, o->topic, tlen);
    if (o->len)
        memcpy(q->data + tlen, o->payload, o->len);
    if (o->correlation_len)
        memcpy(q->data + tlen + o->len, o->correlation, o->correlation_len);
    q->topic = q->data;
    q->payload = q->data + tlen;
    q->correlation = (const uint8_t *)q->data + tlen + o->len;
    if (b->out_tail)
        b->out_tail->next = q;
    else
        b->out_head = q;
    b->out_tail = q;
    if (o->kind == BR_PUB_ANSWER)
        b->out_answers++;
    else
        b->out_waiting++;
    return GW_OK;
}

/* Whether `o` may go to Paho now: the broker is there and, at QoS 1 and 2, its window has
 * room. */
static bool may_send(const struct bridge *b, const struct outgoing *o)
{
    return b->connected && (o->qos == 0 || b->in_flight < b->window);
}

/* Sends `o` at once when it may go and nothing waits before it (the order of the queue is the
 * order on the wire: retained topics keep their last value); else queues a copy, or drops it
 * when mqtt.max_buffered publications wait (the first drop of a burst is logged here, the
 * count at its end).
 * Answers are never dropped: each one ends a request that the store keeps until the broker
 * has the answer (downlink.c), so they are bounded by what the store holds. They wait in the
 * queue like the rest rather than go past it: handed to Paho beyond the window, an answer
 * would wait there for Paho's next once-a-second wake-up, and hold up all behind it. */
static int publish(struct bridge *b, const struct outgoing *o)
{
    if (!b->out_head && may_send(b, o)) {
        int rc = hand_off(b, o);
        if (rc != -GW_AGAIN)
            return rc;
    }
    if (o->kind != BR_PUB_ANSWER && b->out_waiting >= b->out_max) {
        b->ctr[BR_DROPPED]++;
        if (b->burst_total++ == 0)
            log_warn("mqtt-queue-full topic=%s max_buffered=%zu in_flight=%d window=%d "
                     "broker=%s reason=\"publications are dropped until the queue drains\"",
                     o->topic, b->out_max, b->in_flight, b->window,
                     b->connected ? "connected" : "away");
        b->burst[o->kind]++;
        return -GW_ERR_FULL;
    }
    return enqueue(b, o);
}

/* Hands Paho what waits, oldest first, while it may go. Runs at the end of every
 * bridge_process(): a connection and completions open the window, and only there. */
static void send_queued(struct bridge *b)
{
    struct outgoing *o;
    while ((o = b->out_head) && may_send(b, o)) {
        int rc = hand_off(b, o);
        if (rc == -GW_AGAIN)
            break; /* see bridge_next_deadline() */
        b->out_head = o->next;
        if (!b->out_head)
            b->out_tail = NULL;
        if (o->kind == BR_PUB_ANSWER)
            b->out_answers--;
        else
            b->out_waiting--;
        if (rc < 0 && o->token)
            downlink_delivered(b, o->token, false); /* published again on the next connection */
        free(o);
    }
    if (b->out_waiting == 0)
        end_burst(b);
}

int bridge_publish_answer(struct bridge *b, const char *topic, const char *payload,
                          const uint8_t *correlation, size_t correlation_len, int *token)
{
    struct outgoing o = {.topic = topic,
                         .payload = payload,
                         .len = strlen(payload),
                         .correlation = correlation,
                         .correlation_len = correlation_len,
                         .kind = BR_PUB_ANSWER,
                         .qos = b->qos};
    if (token && o.qos > 0) {
        b->answer_token = b->answer_token == INT_MAX ? 1 : b->answer_token + 1;
        o.token = b->answer_token;
    }
    int rc = publish(b, &o);
    if (token)
        *token = rc == GW_OK ? o.token : 0;
    return rc;
}

/* ---- the loop's side ---- */

void bridge_process(struct bridge *b)
{
    uint64_t count;
    ssize_t r = read(b->efd, &count, sizeof(count));
    (void)r;
    pthread_mutex_lock(&b->lock);
    struct inbox_event *ev = b->head;
    unsigned completed = b->completed, failed = b->failed;
    b->head = b->tail = NULL;
    b->completed = b->failed = 0;
    pthread_mutex_unlock(&b->lock);
    b->in_flight -= (int)completed;
    if (failed) {
        b->ctr[BR_DROPPED] += failed;
        log_warn("mqtt-publish-dropped count=%u reason=\"not acknowledged: refused by the broker "
                 "or lost with the session\" dropped_total=%llu",
                 failed, (unsigned long long)b->ctr[BR_DROPPED]);
    }

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
            b->in_flight--;
            downlink_delivered(b, ev->code, ev->kind == INBOX_DELIVERED);
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
    send_queued(b);
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
    store_commit(b->store);
}

int64_t bridge_next_deadline(const struct bridge *b)
{
    int64_t d = b->reconnect_at, h = hold_next_deadline(b->hold);
    if (h >= 0 && (d < 0 || h < d))
        d = h;
    if (b->stats_at >= 0 && (d < 0 || b->stats_at < d))
        d = b->stats_at;
    /* A publication that may go but waits: Paho's own buffer was full. It drains with no
     * callback (QoS 0), so the queue is tried again shortly. */
    if (b->out_head && may_send(b, b->out_head)) {
        int64_t soon = gw_now_mono_ms() + 10;
        if (d < 0 || soon < d)
            d = soon;
    }
    if (b->to_dispatch)
        d = gw_now_mono_ms();
    return d;
}

void bridge_commit(struct bridge *b)
{
    store_commit(b->store);
}

int bridge_fd(const struct bridge *b)
{
    return b->efd;
}

bool bridge_connected(const struct bridge *b)
{
    return b->connected;
}

int bridge_publish(struct bridge *b, enum bridge_counter kind, const char *topic,
                   const void *payload, size_t len, int qos, bool retain)
{
    struct outgoing o = {.topic = topic,
                         .payload = payload,
                         .len = len,
                         .kind = kind,
                         .qos = qos < 0 ? b->qos : qos,
                         .retain = retain};
    return publish(b, &o);
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
            for (struct outgoing *o = b->out_head; o; o = o->next) {
                if (hand_off(b, o) < 0)
                    continue;
                if (o->kind == BR_PUB_ANSWER)
                    b->out_answers--;
                else
                    b->out_waiting--;
            }
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
    end_burst(b);
    if (b->out_waiting + b->out_answers)
        log_warn("mqtt-publish-dropped count=%zu reason=\"the gateway stops before the broker "
                 "could take them\" answers_kept=%zu",
                 b->out_waiting + b->out_answers, b->out_answers);
    for (struct outgoing *o = b->out_head, *next; o; o = next) {
        next = o->next;
        free(o);
    }
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

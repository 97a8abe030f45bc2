/* publish.c - the flow of publications to the broker. The gateway hands Paho at most a window
 * of QoS >= 1 publications the broker has not acknowledged; the others wait, in order, in the
 * gateway's own bounded queue (mqtt.max_buffered) while the broker is away or its window is
 * full, and go out as completions open the window (see struct bridge, "Flow control"). Paho's
 * threads only count a completion under the inbox's lock, or put an answer's outcome there. */
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <MQTTAsync.h>

#include "gw.h"
#include "bridge_internal.h"

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
 * allocation per publication. The count wakes the loop only while something waits in the
 * queue for the window to open, or to report a failure: the first since the loop last took
 * them. Otherwise the loop takes them when it next looks, or when the window looks full
 * (publish()): a wake-up per publication saved while the flow is below the broker's pace. */
static void count_completion(struct bridge *b, bool ok)
{
    pthread_mutex_lock(&b->lock);
    b->completed++;
    if (!ok)
        b->failed++;
    bool wake = (b->completions_wanted || !ok) && !b->completions_woke;
    if (wake)
        b->completions_woke = true;
    pthread_mutex_unlock(&b->lock);
    if (wake)
        bridge_wake(b);
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

/* Paho wrote a QoS 0 publication (or failed to): counted with no lock; the loop is woken only
 * when it waits for a write (see unwritten_room()). */
static void count_written(struct bridge *b, bool ok)
{
    if (!ok)
        atomic_fetch_add(&b->lost0, 1);
    atomic_fetch_add(&b->written0, 1);
    if (atomic_load(&b->wake_on_written) && atomic_exchange(&b->wake_on_written, false))
        bridge_wake(b);
}

static void on_written(void *ctx, MQTTAsync_successData *resp)
{
    (void)resp;
    count_written(ctx, true);
}

static void on_written5(void *ctx, MQTTAsync_successData5 *resp)
{
    (void)resp;
    count_written(ctx, true);
}

static void on_write_failed(void *ctx, MQTTAsync_failureData *resp)
{
    (void)resp;
    count_written(ctx, false);
}

static void on_write_failed5(void *ctx, MQTTAsync_failureData5 *resp)
{
    (void)resp;
    count_written(ctx, false);
}

/* The QoS 0 publications Paho has not written, as of now; those it failed are counted as
 * dropped. */
static unsigned unwritten(struct bridge *b)
{
    unsigned written = atomic_load(&b->written0), lost = atomic_load(&b->lost0);
    if (lost != b->lost0_was) {
        unsigned n = lost - b->lost0_was;
        b->lost0_was = lost;
        b->ctr[BR_DROPPED] += n;
        log_warn("mqtt-publish-dropped count=%u reason=\"not written: the connection to the "
                 "broker ended first\" dropped_total=%llu",
                 n, (unsigned long long)b->ctr[BR_DROPPED]);
    }
    b->written0_was = written;
    return b->handed0 - written;
}

/* Whether Paho may take one more QoS 0 publication. When not, the next write wakes the loop. */
static bool unwritten_room(struct bridge *b)
{
    if (b->handed0 - b->written0_was < GW_MQTT_UNWRITTEN || unwritten(b) < GW_MQTT_UNWRITTEN)
        return true;
    atomic_store(&b->wake_on_written, true);
    return unwritten(b) < GW_MQTT_UNWRITTEN; /* a write between the two looks woke nobody */
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

/* Hands `o` to Paho, which copies it. A QoS 0 publication takes a place among the unwritten
 * until Paho has written it; QoS 1 and 2 one in the window until the broker acknowledges it.
 * Returns GW_OK; -GW_AGAIN when Paho's own buffer is full (possible only after
 * publish_hand_over(): nothing is counted, `o` is to wait); or -GW_ERR_NOMEM or -GW_ERR_IO when
 * it is lost (counted and logged: an answer with a token stays in the store, and the caller
 * sees to it). */
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
    ro.context = a ? (void *)a : b;
    if (o->qos == 0 && b->version == 5) {
        ro.onSuccess5 = on_written5;
        ro.onFailure5 = on_write_failed5;
    } else if (o->qos == 0) {
        ro.onSuccess = on_written;
        ro.onFailure = on_write_failed;
    } else if (b->version == 5) {
        ro.onSuccess5 = a ? on_delivered5 : on_published5;
        ro.onFailure5 = a ? on_undelivered5 : on_publish_failed5;
    } else {
        ro.onSuccess = a ? on_delivered : on_published;
        ro.onFailure = a ? on_undelivered : on_publish_failed;
    }
    int rc = MQTTAsync_sendMessage(b->client, o->topic, &m, &ro);
    MQTTProperties_free(&m.properties);
    if (rc == MQTTASYNC_SUCCESS) {
        if (o->qos > 0)
            b->in_flight++;
        else
            b->handed0++;
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
/* Values and stats may be dropped when the queue is full: a newer one follows. The others
 * may not: an answer ends a request that the store keeps until the broker has the answer
 * (downlink.c), and the lifecycle topics (status, registration, event) say what the broker's
 * retained state must end as, a handful per Register or De-register, so a storm of N devices
 * queues about 3 N of them at most. */
static bool droppable(const struct outgoing *o)
{
    return o->kind == BR_PUB_DATA || o->kind == BR_PUB_STATS;
}

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
    if (droppable(o))
        b->out_waiting++;
    else
        b->out_kept++;
    return GW_OK;
}

/* Whether `o` may go to Paho now: the broker is there and, at QoS 1 and 2, its window has
 * room; at QoS 0, Paho has fewer than GW_MQTT_UNWRITTEN to write. */
static bool may_send(struct bridge *b, const struct outgoing *o)
{
    return b->connected && (o->qos > 0 ? b->in_flight < b->window : unwritten_room(b));
}

/* Sends `o` at once when it may go and nothing waits before it (the order of the queue is the
 * order on the wire: retained topics keep their last value); else queues a copy, or drops it
 * when it is droppable and mqtt.max_buffered values and stats wait (the first drop of a burst
 * is logged here, the count at its end). What is never dropped waits in the queue like the
 * rest rather than go past it: handed to Paho beyond the window, it would wait there for
 * Paho's next once-a-second wake-up, and hold up all behind it. */
static int publish(struct bridge *b, const struct outgoing *o)
{
    if (!b->out_head) {
        /* About to start the queue: the completions not taken yet may have opened the window,
         * and from now on each wakes the loop (taken with the same lock: none is missed). */
        if (!may_send(b, o))
            publish_take_completions(b, true);
        if (may_send(b, o)) {
            int rc = hand_off(b, o);
            if (rc != -GW_AGAIN)
                return rc;
        }
    }
    if (droppable(o) && b->out_waiting >= b->out_max) {
        b->ctr[BR_DROPPED]++;
        b->queue_dropped++;
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

void publish_flush(struct bridge *b)
{
    struct outgoing *o;
    while ((o = b->out_head) && may_send(b, o)) {
        int rc = hand_off(b, o);
        if (rc == -GW_AGAIN)
            break; /* see publish_next_deadline() */
        b->out_head = o->next;
        if (!b->out_head)
            b->out_tail = NULL;
        if (droppable(o))
            b->out_waiting--;
        else
            b->out_kept--;
        if (rc < 0 && o->token)
            downlink_delivered(b, o->token, false); /* published again on the next connection */
        free(o);
    }
    if (b->out_waiting == 0)
        end_burst(b);
    if (!b->out_head && b->completions_wanted) {
        pthread_mutex_lock(&b->lock);
        b->completions_wanted = false;
        pthread_mutex_unlock(&b->lock);
    }
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

/* ---- what the loop asks of the flow ---- */

void publish_take_completions(struct bridge *b, bool wanted)
{
    pthread_mutex_lock(&b->lock);
    unsigned completed = b->completed, failed = b->failed;
    b->completed = b->failed = 0;
    b->completions_woke = false;
    b->completions_wanted = wanted;
    pthread_mutex_unlock(&b->lock);
    unwritten(b); /* counts the QoS 0 publications Paho failed */
    b->in_flight -= (int)completed;
    if (failed) {
        b->ctr[BR_DROPPED] += failed;
        log_warn("mqtt-publish-dropped count=%u reason=\"not acknowledged: refused by the broker "
                 "or lost with the session\" dropped_total=%llu",
                 failed, (unsigned long long)b->ctr[BR_DROPPED]);
    }
}

void publish_answered(struct bridge *b, int token, bool ok)
{
    b->in_flight--;
    downlink_delivered(b, token, ok);
}

int64_t publish_next_deadline(const struct bridge *b)
{
    /* A publication that may go but waits: Paho's own buffer was full (handed over beyond the
     * windows), and says nothing as it drains, so the queue is tried again shortly. */
    const struct outgoing *o = b->out_head;
    if (o && b->connected &&
        (o->qos > 0 ? b->in_flight < b->window : b->handed0 - b->written0_was < GW_MQTT_UNWRITTEN))
        return gw_now_mono_ms() + 10;
    return -1;
}

void publish_hand_over(struct bridge *b)
{
    for (struct outgoing *o = b->out_head; o; o = o->next) {
        if (hand_off(b, o) < 0)
            continue;
        if (droppable(o))
            b->out_waiting--;
        else
            b->out_kept--;
    }
}

void publish_drop_queue(struct bridge *b)
{
    end_burst(b);
    size_t answers = 0;
    for (const struct outgoing *o = b->out_head; o; o = o->next)
        answers += o->kind == BR_PUB_ANSWER;
    if (b->out_waiting + b->out_kept)
        log_warn("mqtt-publish-dropped count=%zu reason=\"the gateway stops before the broker "
                 "could take them\" answers_kept=%zu",
                 b->out_waiting + b->out_kept, answers);
    for (struct outgoing *o = b->out_head, *next; o; o = next) {
        next = o->next;
        free(o);
    }
}

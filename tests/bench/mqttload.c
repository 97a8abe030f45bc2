/* mqttload.c - the MQTT (and plain UDP) side of the script benchmarks: a fast subscriber that
 * counts messages and measures latency from a sender's timestamp, the plain Paho publisher
 * that is the notification baseline, a request/response driver for the command benchmark and
 * the echo client that is its baseline, and a loopback UDP blaster. Written in C on Paho MQTT
 * C (async), the library the gateway uses, because a Python client cannot take tens of
 * thousands of messages a second. Each mode prints one JSON line with its figures; run
 * `mqttload --help`. Not a benchmark itself (no bench_ prefix): bench_*.py drive it. */
#include <MQTTAsync.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TOPICS_MAX 8
#define BODY_MAX 512

static const char usage[] =
    "usage: mqttload MODE [options]\n"
    "  sub   --uri U --topic T [--topic T2..] [--qos Q] [--expect N] [--idle S]\n"
    "        [--max-seconds S] [--match PAYLOAD]: count messages (only those equal to PAYLOAD\n"
    "        with --match); prints \"ready\" once subscribed, then at the end one JSON line:\n"
    "        count, first_us, last_us (CLOCK_REALTIME), rate, and the latency (receive time\n"
    "        minus the \"value\" of the payload, when that is a microsecond time stamp)\n"
    "        p50/p99/max; --warmup S: latencies only of what came S s after the first\n"
    "        message. Ends at N messages, after S s without any, or on SIGTERM.\n"
    "  pub   --uri U --prefix P [--devices K] [--count M] [--rate R] [--qos Q]: the plain\n"
    "        publisher: M messages on P/dev-{i}/data/3303/0/5700 (i round robin), each the\n"
    "        JSON the gateway publishes for a notified value, the value a time stamp; R\n"
    "        messages/s (0: as fast as Paho takes them)\n"
    "  rr    --uri U --prefix P [--ep-prefix E] [--devices K] [--seconds S] [--qos Q]\n"
    "        [--body JSON]: one request in flight per endpoint E{i} on P/E{i}/request (an\n"
    "        \"id\" added to JSON, default {\"op\":\"read\",\"path\":\"/3/0/9\"}), the next\n"
    "        when the final answer arrives on P/E{i}/response; S seconds\n"
    "  echo  --uri U --prefix P [--qos Q]: answers every P/+/request on P/{ep}/response\n"
    "        with the request's payload, until SIGTERM\n"
    "  udp   [--seconds S] [--size B]: blasts B-byte datagrams over loopback from one\n"
    "        thread to another for S s; sent and received counts and rates\n"
    "  The JSON lines of sub, pub and udp carry cpu_s, the CPU seconds the process used (udp:\n"
    "  both threads, the sends and the receives). Every MQTT mode sets TCP_NODELAY on its\n"
    "  connection (Paho leaves Nagle on).\n";

static struct {
    const char *mode;
    const char *uri;
    const char *topics[TOPICS_MAX];
    int ntopics;
    int qos;
    long expect;
    double idle_s;
    double warmup_s;
    double max_s;
    const char *match;
    const char *prefix;
    const char *ep_prefix;
    long devices;
    long count;
    double rate;
    double seconds;
    const char *body;
    long size;
} opt = {.qos = 0,
         .idle_s = 5.0,
         .max_s = 600.0,
         .ep_prefix = "dev-",
         .devices = 100,
         .count = 100000,
         .seconds = 5.0,
         .body = "{\"op\":\"read\",\"path\":\"/3/0/9\"}",
         .size = 120};

static volatile sig_atomic_t stop;
static MQTTAsync client;
static atomic_int connected; /* 1 connected, -1 failed */
static atomic_int subscribed;

static void on_signal(int signo)
{
    (void)signo;
    stop = 1;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_us(long us)
{
    struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

/* The CPU seconds this process has used (every thread), for the JSON line. */
static double cpu_s(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0.0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* ---- latencies -------------------------------------------------------------------------- */

static int64_t *lat;
static size_t lat_n, lat_cap;
static pthread_mutex_t lat_lock = PTHREAD_MUTEX_INITIALIZER;

static void lat_add(int64_t us)
{
    pthread_mutex_lock(&lat_lock);
    if (lat_n == lat_cap) {
        size_t cap = lat_cap ? lat_cap * 2 : 65536;
        int64_t *grown = realloc(lat, cap * sizeof(*grown));
        if (grown == NULL) {
            pthread_mutex_unlock(&lat_lock);
            return;
        }
        lat = grown, lat_cap = cap;
    }
    lat[lat_n++] = us;
    pthread_mutex_unlock(&lat_lock);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Prints ,"lat_n":..,"p50_us":.. for the latencies gathered. */
static void lat_print(void)
{
    printf(",\"lat_n\":%zu", lat_n);
    if (lat_n == 0)
        return;
    qsort(lat, lat_n, sizeof(*lat), cmp_i64);
    printf(",\"p50_us\":%lld,\"p99_us\":%lld,\"max_us\":%lld,\"min_us\":%lld",
           (long long)lat[lat_n / 2], (long long)lat[(size_t)((double)lat_n * 0.99)],
           (long long)lat[lat_n - 1], (long long)lat[0]);
}

/* The number after "value": in a JSON payload, or -1. */
static double payload_value(const char *p, size_t len)
{
    static const char key[] = "\"value\":";
    const char *end = p + len;
    for (const char *s = p; s + sizeof(key) - 1 < end; s++) {
        if (memcmp(s, key, sizeof(key) - 1) == 0) {
            char num[32];
            size_t n = 0;
            for (s += sizeof(key) - 1; s < end && n < sizeof(num) - 1 &&
                                       ((*s >= '0' && *s <= '9') || *s == '.' || *s == 'e' ||
                                        *s == 'E' || *s == '-' || *s == '+');
                 s++)
                num[n++] = *s;
            num[n] = '\0';
            return n > 0 ? strtod(num, NULL) : -1.0;
        }
    }
    return -1.0;
}

/* ---- connection --------------------------------------------------------------------------- */

static void on_connect(void *ctx, MQTTAsync_successData *resp)
{
    (void)ctx, (void)resp;
    atomic_store(&connected, 1);
}

static void on_connect_failure(void *ctx, MQTTAsync_failureData *resp)
{
    (void)ctx;
    fprintf(stderr, "mqttload: connect failed: %s\n", resp && resp->message ? resp->message : "?");
    atomic_store(&connected, -1);
}

static void on_subscribe(void *ctx, MQTTAsync_successData *resp)
{
    (void)ctx, (void)resp;
    atomic_store(&subscribed, 1);
}

static void on_subscribe_failure(void *ctx, MQTTAsync_failureData *resp)
{
    (void)ctx, (void)resp;
    atomic_store(&subscribed, -1);
}

static void on_lost(void *ctx, char *cause)
{
    (void)ctx;
    if (!stop)
        fprintf(stderr, "mqttload: connection lost: %s\n", cause ? cause : "?");
    stop = 1;
}

/* Paho MQTT C leaves Nagle on and does not expose its socket: a QoS 1 PUBLISH written right
 * after a PUBACK then waits for the peer's delayed ACK (about 40-90 ms a round trip). As the
 * gateway does (gw_each_socket), every connected TCP socket of the process gets TCP_NODELAY
 * once Paho has connected; this process has no other. Returns how many. */
static int tcp_nodelay_all(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        char *end;
        long fd = strtol(de->d_name, &end, 10);
        struct stat st;
        int type, on = 1;
        socklen_t len = sizeof(type);
        struct sockaddr_storage peer;
        socklen_t plen = sizeof(peer);
        if (*end != '\0' || end == de->d_name || fd == dirfd(d) || fstat((int)fd, &st) != 0 ||
            !S_ISSOCK(st.st_mode) ||
            getsockopt((int)fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM ||
            getpeername((int)fd, (struct sockaddr *)&peer, &plen) != 0 ||
            (peer.ss_family != AF_INET && peer.ss_family != AF_INET6))
            continue;
        if (setsockopt((int)fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) == 0)
            n++;
    }
    closedir(d);
    return n;
}

/* Connects (clean session) and subscribes to the topics of --topic. Returns false with a
 * message. */
static bool start(MQTTAsync_messageArrived *arrived, const char *client_id)
{
    MQTTAsync_createOptions create = MQTTAsync_createOptions_initializer;
    create.sendWhileDisconnected = 0;
    create.maxBufferedMessages = 1000000;
    if (MQTTAsync_createWithOptions(&client, opt.uri, client_id, MQTTCLIENT_PERSISTENCE_NONE, NULL,
                                    &create) != MQTTASYNC_SUCCESS) {
        fprintf(stderr, "mqttload: cannot create the client for %s\n", opt.uri);
        return false;
    }
    MQTTAsync_setCallbacks(client, NULL, on_lost, arrived, NULL);
    MQTTAsync_connectOptions conn = MQTTAsync_connectOptions_initializer;
    conn.keepAliveInterval = 60;
    conn.cleansession = 1;
    conn.maxInflight = 65535;
    conn.onSuccess = on_connect;
    conn.onFailure = on_connect_failure;
    if (MQTTAsync_connect(client, &conn) != MQTTASYNC_SUCCESS)
        return false;
    while (atomic_load(&connected) == 0 && !stop)
        sleep_us(1000);
    if (atomic_load(&connected) < 0)
        return false;
    if (tcp_nodelay_all() == 0)
        fprintf(stderr, "mqttload: no TCP socket found for TCP_NODELAY\n");
    if (opt.ntopics == 0)
        return true;
    int qos[TOPICS_MAX];
    for (int i = 0; i < opt.ntopics; i++)
        qos[i] = opt.qos;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    ro.onSuccess = on_subscribe;
    ro.onFailure = on_subscribe_failure;
    if (MQTTAsync_subscribeMany(client, opt.ntopics, (char *const *)opt.topics, qos, &ro) !=
        MQTTASYNC_SUCCESS)
        return false;
    while (atomic_load(&subscribed) == 0 && !stop)
        sleep_us(1000);
    return atomic_load(&subscribed) > 0;
}

static void finish(void)
{
    MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
    d.timeout = 1000;
    MQTTAsync_disconnect(client, &d);
    sleep_us(100000);
    MQTTAsync_destroy(&client);
}

/* Publishes `len` bytes of `payload` on `topic`; retries while Paho's queue is full. */
static atomic_long completed;

static void on_sent(void *ctx, MQTTAsync_successData *resp)
{
    (void)ctx, (void)resp;
    atomic_fetch_add(&completed, 1);
}

static bool publish(const char *topic, const void *payload, int len)
{
    MQTTAsync_message m = MQTTAsync_message_initializer;
    m.payload = (void *)payload;
    m.payloadlen = len;
    m.qos = opt.qos;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    ro.onSuccess = on_sent;
    for (int tries = 0; tries < 10000 && !stop; tries++) {
        int rc = MQTTAsync_sendMessage(client, topic, &m, &ro);
        if (rc == MQTTASYNC_SUCCESS)
            return true;
        sleep_us(100);
    }
    return false;
}

/* ---- sub ---------------------------------------------------------------------------------- */

static atomic_long received;
static atomic_llong first_us, last_us;

static int on_sub_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *m)
{
    (void)ctx, (void)topic_len;
    int64_t t = now_us();
    const char *p = m->payload;
    size_t len = (size_t)m->payloadlen;
    bool counted =
        opt.match == NULL || (len == strlen(opt.match) && memcmp(p, opt.match, len) == 0);
    if (counted) {
        long long zero = 0;
        atomic_compare_exchange_strong(&first_us, &zero, (long long)t);
        atomic_store(&last_us, (long long)t);
        double v = opt.match == NULL ? payload_value(p, len) : -1.0;
        if (v > 1e15 && t - atomic_load(&first_us) >= (int64_t)(opt.warmup_s * 1e6))
            lat_add(t - (int64_t)v);
        atomic_fetch_add(&received, 1);
    }
    MQTTAsync_freeMessage(&m);
    MQTTAsync_free(topic);
    return 1;
}

static int run_sub(void)
{
    char id[64];
    snprintf(id, sizeof(id), "mqttload-sub-%d", (int)getpid());
    if (!start(on_sub_message, id)) {
        fprintf(stderr, "mqttload: cannot subscribe\n");
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    int64_t t0 = now_us();
    while (!stop) {
        sleep_us(2000);
        int64_t t = now_us();
        long n = atomic_load(&received);
        int64_t last = atomic_load(&last_us);
        if (opt.expect > 0 && n >= opt.expect)
            break;
        if (t - (last ? last : t0) > (int64_t)(opt.idle_s * 1e6))
            break;
        if (t - t0 > (int64_t)(opt.max_s * 1e6))
            break;
    }
    long n = atomic_load(&received);
    long long f = atomic_load(&first_us), l = atomic_load(&last_us);
    double span = (double)(l - f) / 1e6;
    printf("{\"mode\":\"sub\",\"count\":%ld,\"first_us\":%lld,\"last_us\":%lld,\"rate\":%.1f,"
           "\"cpu_s\":%.3f",
           n, f, l, n > 1 && span > 0 ? (double)(n - 1) / span : 0.0, cpu_s());
    lat_print();
    printf("}\n");
    fflush(stdout);
    finish();
    return 0;
}

/* ---- pub ---------------------------------------------------------------------------------- */

static int run_pub(void)
{
    char id[64];
    snprintf(id, sizeof(id), "mqttload-pub-%d", (int)getpid());
    if (!start(NULL, id))
        return 1;
    char topic[256], payload[BODY_MAX];
    const long window = 1000; /* messages handed to Paho and not yet written/acknowledged */
    int64_t t0 = now_us();
    long sent = 0;
    for (long i = 0; i < opt.count && !stop; i++) {
        if (opt.rate > 0) {
            int64_t due = t0 + (int64_t)((double)i * 1e6 / opt.rate);
            int64_t ahead = due - now_us();
            if (ahead > 200)
                sleep_us((long)ahead);
        }
        while (sent - atomic_load(&completed) >= window && !stop)
            sleep_us(50);
        snprintf(topic, sizeof(topic), "%s/%s%ld/data/3303/0/5700", opt.prefix, opt.ep_prefix,
                 i % opt.devices);
        int64_t t = now_us();
        int len = snprintf(payload, sizeof(payload),
                           "{\"path\":\"/3303/0/5700\",\"value\":%lld,\"ts\":%lld,"
                           "\"object\":\"Temperature\",\"resource\":\"Sensor Value\","
                           "\"unit\":\"Cel\"}",
                           (long long)t, (long long)(t / 1000));
        if (!publish(topic, payload, len))
            break;
        sent++;
    }
    while (atomic_load(&completed) < sent && now_us() - t0 < 120000000 && !stop)
        sleep_us(1000);
    double secs = (double)(now_us() - t0) / 1e6;
    printf("{\"mode\":\"pub\",\"sent\":%ld,\"completed\":%ld,\"seconds\":%.3f,\"rate\":%.1f,"
           "\"cpu_s\":%.3f}\n",
           sent, atomic_load(&completed), secs, (double)sent / secs, cpu_s());
    fflush(stdout);
    finish();
    return 0;
}

/* ---- rr and echo -------------------------------------------------------------------------- */

/* Publishing from inside Paho's message callback (its receive thread) waits for Paho's own
 * loop (about 90 ms per message here), so the callbacks of rr and echo only queue what to
 * publish and the main thread publishes it at once. */
struct outgoing {
    struct outgoing *next;
    int len;
    char *payload; /* after the topic, in the same allocation */
    char topic[];
};
static struct outgoing *out_head, *out_tail;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t out_cond = PTHREAD_COND_INITIALIZER;

static void enqueue(const char *topic, const void *payload, int len)
{
    size_t tl = strlen(topic) + 1;
    struct outgoing *o = malloc(sizeof(*o) + tl + (size_t)len);
    if (o == NULL)
        return;
    o->next = NULL;
    o->len = len;
    memcpy(o->topic, topic, tl);
    o->payload = o->topic + tl;
    memcpy(o->payload, payload, (size_t)len);
    pthread_mutex_lock(&out_lock);
    if (out_tail)
        out_tail->next = o;
    else
        out_head = o;
    out_tail = o;
    pthread_cond_signal(&out_cond);
    pthread_mutex_unlock(&out_lock);
}

/* Publishes what the callbacks queued, waiting up to 10 ms for something. */
static void drain(void)
{
    pthread_mutex_lock(&out_lock);
    if (out_head == NULL) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 10000000;
        if (until.tv_nsec >= 1000000000)
            until.tv_sec++, until.tv_nsec -= 1000000000;
        pthread_cond_timedwait(&out_cond, &out_lock, &until);
    }
    struct outgoing *list = out_head;
    out_head = out_tail = NULL;
    pthread_mutex_unlock(&out_lock);
    while (list) {
        struct outgoing *next = list->next;
        publish(list->topic, list->payload, list->len);
        free(list);
        list = next;
    }
}

static int64_t *rr_sent_us;
static atomic_long rr_ok, rr_other, rr_held, rr_ids;
static atomic_int rr_running;

static void rr_send(long i)
{
    char topic[256], body[BODY_MAX];
    snprintf(topic, sizeof(topic), "%s/%s%ld/request", opt.prefix, opt.ep_prefix, i);
    long id = atomic_fetch_add(&rr_ids, 1);
    int len = snprintf(body, sizeof(body), "{\"id\":\"%ld\",%s", id, opt.body + 1);
    rr_sent_us[i] = now_us();
    enqueue(topic, body, len);
}

static int on_rr_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *m)
{
    (void)ctx, (void)topic_len;
    int64_t t = now_us();
    /* P/E{i}/response */
    const char *ep = topic + strlen(opt.prefix) + 1 + strlen(opt.ep_prefix);
    long i = strtol(ep, NULL, 10);
    const char *p = m->payload;
    size_t len = (size_t)m->payloadlen;
    bool held = memmem(p, len, "\"status\":\"held\"", 15) != NULL;
    if (held) {
        atomic_fetch_add(&rr_held, 1);
    } else if (i >= 0 && i < opt.devices) {
        if (memmem(p, len, "\"status\":\"ok\"", 13) != NULL || memmem(p, len, "\"op\"", 4) != NULL)
            atomic_fetch_add(&rr_ok, 1);
        else
            atomic_fetch_add(&rr_other, 1);
        lat_add(t - rr_sent_us[i]);
        if (atomic_load(&rr_running))
            rr_send(i);
    }
    MQTTAsync_freeMessage(&m);
    MQTTAsync_free(topic);
    return 1;
}

static int run_rr(void)
{
    char id[64], topic[256];
    snprintf(id, sizeof(id), "mqttload-rr-%d", (int)getpid());
    snprintf(topic, sizeof(topic), "%s/+/response", opt.prefix);
    opt.topics[0] = topic;
    opt.ntopics = 1;
    rr_sent_us = calloc((size_t)opt.devices, sizeof(*rr_sent_us));
    if (rr_sent_us == NULL || !start(on_rr_message, id))
        return 1;
    printf("ready\n");
    fflush(stdout);
    atomic_store(&rr_running, 1);
    int64_t t0 = now_us();
    for (long i = 0; i < opt.devices; i++)
        rr_send(i);
    while (!stop && now_us() - t0 < (int64_t)(opt.seconds * 1e6))
        drain();
    atomic_store(&rr_running, 0);
    long done = atomic_load(&rr_ok) + atomic_load(&rr_other);
    double secs = (double)(now_us() - t0) / 1e6;
    for (int k = 0; k < 100; k++) /* the last answers count in the latencies, not the rate */
        drain();
    printf("{\"mode\":\"rr\",\"completed\":%ld,\"ok\":%ld,\"other\":%ld,\"held\":%ld,"
           "\"requests\":%ld,\"seconds\":%.3f,\"rate\":%.1f",
           done, atomic_load(&rr_ok), atomic_load(&rr_other), atomic_load(&rr_held),
           atomic_load(&rr_ids), secs, (double)done / secs);
    lat_print();
    printf("}\n");
    fflush(stdout);
    finish();
    return 0;
}

static atomic_long echoed;

static int on_echo_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *m)
{
    (void)ctx;
    char out[256];
    int n = topic_len > 0 ? topic_len : (int)strlen(topic);
    /* P/{ep}/request -> P/{ep}/response */
    if (n > 8 && n < (int)sizeof(out) - 2 && memcmp(topic + n - 8, "/request", 8) == 0) {
        snprintf(out, sizeof(out), "%.*s/response", n - 8, topic);
        enqueue(out, m->payload, m->payloadlen);
        atomic_fetch_add(&echoed, 1);
    }
    MQTTAsync_freeMessage(&m);
    MQTTAsync_free(topic);
    return 1;
}

static int run_echo(void)
{
    char id[64], topic[256];
    snprintf(id, sizeof(id), "mqttload-echo-%d", (int)getpid());
    snprintf(topic, sizeof(topic), "%s/+/request", opt.prefix);
    opt.topics[0] = topic;
    opt.ntopics = 1;
    if (!start(on_echo_message, id))
        return 1;
    printf("ready\n");
    fflush(stdout);
    while (!stop)
        drain();
    printf("{\"mode\":\"echo\",\"echoed\":%ld}\n", atomic_load(&echoed));
    fflush(stdout);
    finish();
    return 0;
}

/* ---- udp ---------------------------------------------------------------------------------- */

static atomic_long udp_received;

static void *udp_receiver(void *arg)
{
    int fd = *(int *)arg;
    char buf[2048];
    while (!stop) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n > 0)
            atomic_fetch_add(&udp_received, 1);
    }
    return NULL;
}

static int run_udp(void)
{
    int rx = socket(AF_INET, SOCK_DGRAM, 0), tx = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    struct timeval tv = {.tv_sec = 0, .tv_usec = 100000};
    if (rx < 0 || tx < 0 || bind(rx, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(rx, (struct sockaddr *)&a, &alen) != 0 ||
        connect(tx, (struct sockaddr *)&a, sizeof(a)) != 0) {
        perror("mqttload: udp");
        return 1;
    }
    setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    pthread_t th;
    pthread_create(&th, NULL, udp_receiver, &rx);
    char buf[2048];
    size_t size = opt.size > 0 && opt.size < (long)sizeof(buf) ? (size_t)opt.size : 120;
    memset(buf, 'x', size);
    long sent = 0;
    int64_t t0 = now_us(), end = t0 + (int64_t)(opt.seconds * 1e6);
    while (now_us() < end) {
        for (int k = 0; k < 64; k++)
            if (send(tx, buf, size, 0) == (ssize_t)size)
                sent++;
    }
    double secs = (double)(now_us() - t0) / 1e6;
    sleep_us(200000);
    stop = 1;
    pthread_join(th, NULL);
    long got = atomic_load(&udp_received);
    printf("{\"mode\":\"udp\",\"sent\":%ld,\"received\":%ld,\"seconds\":%.3f,\"sent_rate\":%.1f,"
           "\"rate\":%.1f,\"cpu_s\":%.3f}\n",
           sent, got, secs, (double)sent / secs, (double)got / secs, cpu_s());
    close(rx);
    close(tx);
    return 0;
}

/* ---- main --------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    opt.mode = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) {
            fprintf(stderr, "mqttload: %s needs a value\n\n%s", k, usage);
            return 2;
        }
        i++;
        if (strcmp(k, "--uri") == 0)
            opt.uri = v;
        else if (strcmp(k, "--topic") == 0 && opt.ntopics < TOPICS_MAX)
            opt.topics[opt.ntopics++] = v;
        else if (strcmp(k, "--qos") == 0)
            opt.qos = atoi(v);
        else if (strcmp(k, "--expect") == 0)
            opt.expect = atol(v);
        else if (strcmp(k, "--idle") == 0)
            opt.idle_s = atof(v);
        else if (strcmp(k, "--warmup") == 0)
            opt.warmup_s = atof(v);
        else if (strcmp(k, "--max-seconds") == 0)
            opt.max_s = atof(v);
        else if (strcmp(k, "--match") == 0)
            opt.match = v;
        else if (strcmp(k, "--prefix") == 0)
            opt.prefix = v;
        else if (strcmp(k, "--ep-prefix") == 0)
            opt.ep_prefix = v;
        else if (strcmp(k, "--devices") == 0)
            opt.devices = atol(v);
        else if (strcmp(k, "--count") == 0)
            opt.count = atol(v);
        else if (strcmp(k, "--rate") == 0)
            opt.rate = atof(v);
        else if (strcmp(k, "--seconds") == 0)
            opt.seconds = atof(v);
        else if (strcmp(k, "--body") == 0)
            opt.body = v;
        else if (strcmp(k, "--size") == 0)
            opt.size = atol(v);
        else {
            fprintf(stderr, "mqttload: unknown option %s\n\n%s", k, usage);
            return 2;
        }
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (strcmp(opt.mode, "udp") == 0)
        return run_udp();
    if (opt.uri == NULL || opt.devices < 1 ||
        (strcmp(opt.mode, "sub") != 0 && opt.prefix == NULL) ||
        (strcmp(opt.mode, "sub") == 0 && opt.ntopics == 0)) {
        fprintf(stderr, "mqttload: missing --uri, --prefix or --topic\n\n%s", usage);
        return 2;
    }
    if (strcmp(opt.mode, "sub") == 0)
        return run_sub();
    if (strcmp(opt.mode, "pub") == 0)
        return run_pub();
    if (strcmp(opt.mode, "rr") == 0)
        return run_rr();
    if (strcmp(opt.mode, "echo") == 0)
        return run_echo();
    fprintf(stderr, "mqttload: unknown mode %s\n\n%s", opt.mode, usage);
    return 2;
}

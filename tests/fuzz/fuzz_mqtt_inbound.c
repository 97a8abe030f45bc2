/* fuzz_mqtt_inbound.c - inbound MQTT requests through the path the bridge takes for a message,
 * without a broker: downlink_message() (mappings request parsing by topic and payload, the JSON
 * request topic, the write/execute topics and the commands rules), the hold store (SQLite in
 * memory), dispatch to the real LwM2M server on a loopback UDP port, the device's answer and
 * the final answer back. Two simulated devices are registered over CoAP at the start of every
 * input ("dev-1", LwM2M 1.1, and "old-1", LwM2M 1.0) and answer every request the gateway sends
 * them; "ghost" is never registered, so its requests are held.
 *
 * Nothing an input leaves may change what the next one does, yet a server and a store per input
 * (libcoap's DTLS context, SQLite's schema) would halve the speed. So the server and the store
 * live for the process and are reset between inputs: the devices register again at the start of
 * every input, which replaces their registrations (their observations and requests go with
 * them), the store's requests and observations are deleted, and the hold and the bridge's
 * tables are made anew. The devices send from a pool of socket pairs used in turn, so that a
 * Register never meets the server's retransmission cache (keyed by address and message id)
 * from an earlier input: a pair comes back every POOL inputs with its message ids counted on,
 * and wraps past 65536 Registers only long after the cache forgot them (247 s).
 * fuzz_request.c fuzzes the parser and its JSON round trip alone; this target fuzzes what the
 * bridge does with what the parser returns.
 *
 * The broker is replaced at the one seam the bridge has for answers: this file defines
 * bridge_publish_answer() (bridge/mqtt.c is not linked, nor Paho); every answer must be a JSON
 * object with a known "status", and the "broker" acknowledges every final answer (or, with
 * configuration bit 3, fails each once so that it is published again as after a reconnection).
 * Once each message has settled, no request may still wait for a registered device (they answer
 * everything) and no acknowledged answer may still be in the store.
 *
 * Input: one configuration byte, then records (MQTT messages) until the input ends.
 *   configuration: bits 0-1 how the devices answer: 0 at once with success (piggybacked),
 *     1 4.04 with a diagnostic, 2 RST, 3 a separate response (empty ACK, then a CON);
 *     bit 2: mqtt.qos 0 (else 1); bit 3: the broker fails each final answer once.
 *   record: P (1 byte: bit 0 a Response Topic follows, NUL-terminated; bit 1 Correlation Data
 *     follows, 1 length byte then the bytes; bit 2 a Message Expiry follows, 4 bytes
 *     big-endian), the topic up to a NUL, the payload length (2 bytes, big-endian), the payload.
 * The topic prefix is "lwm2m". make_seeds.py writes the seeds, from the requests of
 * tests/e2e/test_12_requests.py. GW_FUZZ_LOG=debug (or info, warn) shows the gateway's log,
 * what the devices get and the answers while replaying an input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bridge_internal.h"
#include "coapwire.h"
#include "gw.h"

#define N_DEVICES 2
#define MAX_ACKS 64
#define POOL 8 /* socket pairs the devices send from, in turn */

static const char *const device_ep[N_DEVICES] = {"dev-1", "old-1"};
static const char *const device_query[N_DEVICES][3] = {
    {"ep=dev-1", "lwm2m=1.1", "lt=86400"},
    {"ep=old-1", "lwm2m=1.0", "lt=86400"},
};

static struct command_rule commands[] = {
    {.topic = "{prefix}/{ep}/reboot", .op = GW_OP_EXECUTE, .path = "/3/0/4"},
    {.topic = "{prefix}/{ep}/setpoint/{iid}", .op = GW_OP_WRITE, .path = "/3308/{iid}/5900"},
    {.topic = "{prefix}/{ep}/apn/{riid}", .op = GW_OP_WRITE, .path = "/1/0/24/{riid}"},
    {.topic = "site/{ep}/cmd/{iid}/{rid}",
     .op = GW_OP_READ,
     .path = "/3303/{iid}/{rid}",
     .format = "senml-json"},
    {.topic = "{prefix}/{ep}/many", .op = GW_OP_READ_COMPOSITE},
    {.topic = "{prefix}/{ep}/setmany", .op = GW_OP_WRITE_COMPOSITE},
    {.topic = "{prefix}/{ep}/attrs/{iid}", .op = GW_OP_WRITE_ATTRIBUTES, .path = "/3303/{iid}"},
    {.topic = "{prefix}/{ep}/watch", .op = GW_OP_OBSERVE, .path = "/3303/0/5700"},
    {.topic = "{prefix}/{ep}/unwatch", .op = GW_OP_CANCEL_OBSERVE, .path = "/3303/0/5700"},
    {.topic = "{prefix}/{ep}/forget/{iid}", .op = GW_OP_DELETE, .path = "/3303/{iid}"},
};

struct harness {
    struct server *lw;
    struct bridge *b;
    int *fd; /* the devices' sockets for this input: one pair of the pool */
    uint16_t port;
    uint16_t *device_mid;      /* the pair's message ids */
    int mode;                  /* how devices answer: configuration bits 0-1 */
    bool fail_once;            /* configuration bit 3 */
    bool republishing;         /* inside downlink_republish() */
    bool verbose;              /* GW_FUZZ_LOG is set */
    bool empty_response_topic; /* a record of this input had an empty Response Topic */
    int next_token;
    int acks[MAX_ACKS]; /* tokens of final answers the "broker" has not acknowledged yet */
    size_t n_acks;
    unsigned answers;
};

static struct harness H;
static struct model *model;
static struct mappings *rules;
static struct server *server;
static struct store *store;
static int pool_fd[POOL][N_DEVICES];
static uint16_t pool_mid[POOL];
static unsigned long inputs;

/* ---- the broker's side of answers ---- */

int bridge_publish_answer(struct bridge *b, const char *topic, const char *payload,
                          const uint8_t *correlation, size_t correlation_len, int *token)
{
    static const char *const statuses[] = {"ok",      "device-error", "timeout",  "invalid",
                                           "offline", "expired",      "rejected", "held"};
    (void)b;
    json_error_t jerr;
    json_t *doc = json_loads(payload, 0, &jerr);
    const char *status = json_string_value(json_object_get(doc, "status"));
    size_t i = 0;
    while (status && i < GW_ARRAY_LEN(statuses) && strcmp(status, statuses[i]))
        i++;
    /* An empty topic only where the request's MQTT 5 Response Topic was empty: the gateway
     * answers where it was told (Paho then refuses to publish, and the answer is dropped). */
    if (!topic || (!topic[0] && !H.empty_response_topic) || !json_is_object(doc) || !status ||
        i == GW_ARRAY_LEN(statuses) || (correlation_len && !correlation)) {
        fprintf(stderr, "fuzz_mqtt_inbound: not an answer on '%s': %s\n", topic ? topic : "",
                payload);
        abort();
    }
    if (H.verbose)
        fprintf(stderr, "harness: answer on %s: %s\n", topic, payload);
    json_decref(doc);
    H.answers++;
    if (token) {
        *token = ++H.next_token;
        if (H.n_acks < MAX_ACKS)
            H.acks[H.n_acks++] = *token;
    }
    return GW_OK;
}

/* The "broker" acknowledges what was published. Returns true when there was something. */
static bool acknowledge(void)
{
    if (H.n_acks == 0)
        return false;
    bool ok = !H.fail_once || H.republishing;
    int acks[MAX_ACKS];
    size_t n = H.n_acks;
    memcpy(acks, H.acks, n * sizeof(acks[0]));
    H.n_acks = 0;
    for (size_t i = 0; i < n; i++)
        downlink_delivered(H.b, acks[i], ok);
    if (!ok) {
        /* as after a reconnection; the second time the broker takes them */
        H.republishing = true;
        downlink_republish(H.b);
        for (size_t i = 0; i < H.n_acks; i++)
            downlink_delivered(H.b, H.acks[i], true);
        H.n_acks = 0;
        H.republishing = false;
    }
    return true;
}

/* ---- the server's callbacks: the bridge's downlink side ---- */

static size_t cb_observations(void *ctx, const struct registration *reg, struct observe_spec *out,
                              size_t cap)
{
    (void)ctx;
    return H.b ? downlink_observations(H.b, reg->ep, out, 0, cap) : 0;
}

static void cb_ready(void *ctx, const struct registration *reg)
{
    (void)ctx;
    if (H.b)
        downlink_on_ready(H.b, reg);
}

static void cb_result(void *ctx, const struct registration *reg, uint64_t handle,
                      const struct request_result *res)
{
    (void)ctx;
    if (H.b)
        downlink_on_result(H.b, reg, handle, res);
}

static const struct server_callbacks callbacks = {
    .observations = cb_observations,
    .on_ready = cb_ready,
    .on_result = cb_result,
};

/* ---- the devices ---- */

/* What a device answers to a successful request: code, options, payload. */
static void success(const struct wire_msg *q, struct wire_out *o, uint8_t type, uint16_t mid)
{
    static const char links[] = "</3/0>,</3/0/0>,</3/0/9>;pmin=10,</3/0/13>";
    char payload[160];
    const char *p = NULL;
    int cf = -1, depth = 0;
    for (const char *c = q->path; *c; c++)
        depth += *c == '/';
    switch (q->code) {
    case WIRE_CODE(0, 1): /* GET: Read, Discover, Observe */
    case WIRE_CODE(0, 5): /* FETCH: Read-, Observe-Composite */
        if (q->accept == 40) {
            wire_start(o, type, WIRE_CODE(2, 5), mid, q->token, q->tkl);
            wire_option_uint(o, WIRE_OPT_CONTENT_FORMAT, 40);
            wire_end(o, links, sizeof(links) - 1);
            return;
        }
        if (q->code == WIRE_CODE(0, 5)) {
            cf = 110;
            p = "[{\"n\":\"/3/0/9\",\"v\":95},{\"n\":\"/3303/0/5700\",\"v\":21.5}]";
        } else if (depth >= 3 && (q->accept == -1 || q->accept == 0)) {
            cf = 0;
            p = "1";
        } else if (q->accept == -1 || q->accept == 110) {
            cf = 110;
            if (depth >= 3)
                snprintf(payload, sizeof(payload), "[{\"bn\":\"%s\",\"v\":1}]", q->path);
            else
                snprintf(payload, sizeof(payload), "[{\"bn\":\"%s/\",\"n\":\"%s\",\"v\":1}]",
                         q->path, depth == 2 ? "9" : "0/9");
            p = payload;
        } else {
            wire_start(o, type, WIRE_CODE(4, 6), mid, q->token, q->tkl); /* Not Acceptable */
            return;
        }
        wire_start(o, type, WIRE_CODE(2, 5), mid, q->token, q->tkl);
        if (q->observe == 0)
            wire_option_uint(o, WIRE_OPT_OBSERVE, 7);
        wire_option_uint(o, WIRE_OPT_CONTENT_FORMAT, (uint32_t)cf);
        wire_end(o, p, strlen(p));
        return;
    case WIRE_CODE(0, 2): /* POST: Execute, partial Write, Create */
        if (depth == 1) {
            wire_start(o, type, WIRE_CODE(2, 1), mid, q->token, q->tkl);
            wire_option(o, WIRE_OPT_LOCATION_PATH, q->path + 1, strlen(q->path + 1));
            wire_option(o, WIRE_OPT_LOCATION_PATH, "7", 1);
            return;
        }
        wire_start(o, type, WIRE_CODE(2, 4), mid, q->token, q->tkl);
        return;
    case WIRE_CODE(0, 4): /* DELETE */
        wire_start(o, type, WIRE_CODE(2, 2), mid, q->token, q->tkl);
        return;
    default: /* PUT: Write, Write-Attributes; iPATCH: Write-Composite */
        wire_start(o, type, WIRE_CODE(2, 4), mid, q->token, q->tkl);
        return;
    }
}

/* Answers what the gateway sent device `d`. Returns true when there was something. */
static bool serve(int d)
{
    uint8_t buf[WIRE_MAX];
    ssize_t n;
    bool any = false;
    while ((n = wire_recv(H.fd[d], buf)) >= 0) {
        struct wire_msg q;
        struct wire_out o;
        any = true;
        if (!wire_parse(buf, (size_t)n, &q))
            abort(); /* the gateway sent something that is not CoAP */
        if (H.verbose)
            fprintf(stderr, "harness: %s got type=%u code=%u.%02u path=%s\n", device_ep[d], q.type,
                    q.code >> 5, q.code & 31u, q.path);
        if (q.type != WIRE_CON || q.code == 0 || q.code >> 5 != 0)
            continue; /* the ACK of a separate response, an answer to a Register */
        switch (H.mode) {
        case 0:
            success(&q, &o, WIRE_ACK, q.mid);
            break;
        case 1:
            wire_start(&o, WIRE_ACK, WIRE_CODE(4, 4), q.mid, q.token, q.tkl);
            wire_end(&o, "no such thing", 13);
            break;
        case 2:
            wire_start(&o, WIRE_RST, 0, q.mid, NULL, 0);
            break;
        default:
            wire_start(&o, WIRE_ACK, 0, q.mid, NULL, 0);
            wire_send(H.fd[d], H.port, o.buf, o.len);
            success(&q, &o, WIRE_CON, ++*H.device_mid);
            break;
        }
        wire_send(H.fd[d], H.port, o.buf, o.len);
    }
    return any;
}

static void register_devices(void)
{
    static const char objects[] = "</1/0>,</3/0>,</3303/0>,</3308/0>";
    for (int d = 0; d < N_DEVICES; d++) {
        struct wire_out o;
        uint8_t token = (uint8_t)d;
        wire_start(&o, WIRE_CON, WIRE_CODE(0, 2), ++*H.device_mid, &token, 1);
        wire_option(&o, WIRE_OPT_URI_PATH, "rd", 2);
        for (int k = 0; k < 3; k++)
            wire_option(&o, WIRE_OPT_URI_QUERY, device_query[d][k], strlen(device_query[d][k]));
        wire_end(&o, objects, sizeof(objects) - 1);
        wire_send(H.fd[d], H.port, o.buf, o.len);
    }
    server_process(H.lw);
    server_process(H.lw);
    for (int d = 0; d < N_DEVICES; d++) {
        serve(d);
        if (!server_find(H.lw, device_ep[d]))
            abort(); /* the harness itself is broken */
    }
}

static struct server *start_server(void)
{
    char uri[64];
    for (int attempt = 0; attempt < 20; attempt++) {
        if (!H.port)
            H.port = wire_free_port();
        snprintf(uri, sizeof(uri), "coap://127.0.0.1:%u", H.port);
        struct listen_uri l = {
            .uri = uri, .scheme = GW_SCHEME_COAP, .host = "127.0.0.1", .port = H.port};
        struct server_config cfg = {.listen = &l,
                                    .n_listen = 1,
                                    .lifetime_min = 1,
                                    .lifetime_max = 86400,
                                    .security = {.allow_nosec = true},
                                    .model = model,
                                    .shards = 1}; /* one context: see server_config */
        struct server *lw = server_new(&cfg, &callbacks, NULL);
        if (lw)
            return lw;
        H.port = 0; /* taken by someone else meanwhile: another one */
    }
    abort();
}

/* The bridge as bridge_new() makes it, less the MQTT client, over the process's store. */
static struct bridge *bridge_make(int qos)
{
    struct bridge *b = calloc(1, sizeof(*b));
    if (!b || !(b->hold = hold_new(store, 4)))
        abort();
    b->store = store;
    b->server = H.lw;
    b->hold_ttl = 86400;
    b->rules = rules;
    b->model = model;
    b->qos = qos;
    b->version = 5;
    b->prefix = "lwm2m";
    b->reconnect_at = -1;
    return b;
}

static void bridge_unmake(struct bridge *b)
{
    struct ep_observations *o, *otmp;
    struct pending_dispatch *p, *ptmp;
    HASH_ITER(hh, b->requested, o, otmp)
    {
        HASH_DEL(b->requested, o);
        free(o);
    }
    HASH_ITER(hh, b->to_dispatch, p, ptmp)
    {
        HASH_DEL(b->to_dispatch, p);
        free(p);
    }
    hold_free(b->hold);
    free(b->answered);
    free(b);
}

static int collect_request(void *arg, const struct stored_request *r)
{
    int64_t *seqs = arg;
    if (seqs[0] < 255)
        seqs[++seqs[0]] = r->seq;
    return GW_OK;
}

struct observation_key {
    char ep[GW_EP_MAX + 1];
    struct data_path path;
};

static int collect_observation(void *arg, const char *ep, const struct observe_spec *spec)
{
    struct observation_key *keys = arg;
    size_t n = (size_t)keys[0].path.id[0];
    if (n < 255) {
        snprintf(keys[n + 1].ep, sizeof(keys[n + 1].ep), "%s", ep);
        keys[n + 1].path = spec->path;
        keys[0].path.id[0] = (uint16_t)(n + 1);
    }
    return GW_OK;
}

/* Deletes what an input left in the store (loaded first: a load is not to be written to). */
static void store_reset(void)
{
    static int64_t seqs[256];
    static struct observation_key keys[256];
    do {
        seqs[0] = 0;
        if (store_requests_load(store, collect_request, seqs) < 0)
            abort();
        for (int64_t i = 1; i <= seqs[0]; i++)
            store_request_delete(store, seqs[i]);
    } while (seqs[0] == 255);
    do {
        keys[0].path.id[0] = 0;
        if (store_observations_load(store, collect_observation, keys) < 0)
            abort();
        for (size_t i = 1; i <= keys[0].path.id[0]; i++)
            store_observation_delete(store, keys[i].ep, &keys[i].path);
    } while (keys[0].path.id[0] == 255);
    if (store_commit(store) < 0)
        abort();
}

/* Runs the gateway, the devices and the broker until nothing moves any more. */
static void settle(void)
{
    for (int round = 0; round < 64; round++) {
        bool busy = false;
        server_process(H.lw);
        for (int d = 0; d < N_DEVICES; d++)
            busy |= serve(d);
        server_process(H.lw);
        if (H.b->to_dispatch) {
            downlink_run_dispatches(H.b);
            busy = true;
        }
        busy |= acknowledge();
        /* bridge_commit(), which is in mqtt.c: the turn's commit, then its final answers */
        store_commit(H.b->store);
        if (H.b->n_answered) {
            downlink_publish_answered(H.b);
            busy = true;
        }
        if (!busy)
            return;
    }
}

/* What must hold once everything settled: the broker has every final answer it acknowledged
 * out of the store, and nothing waits for a registered device that answers everything. */
static void check_settled(void)
{
    if (hold_answered(H.b->hold))
        abort();
    for (int d = 0; d < N_DEVICES; d++) {
        const struct held_queue *q = hold_queue(H.b->hold, device_ep[d]);
        if (q && q->head)
            abort();
    }
}

/* Reads one record at `*pos` into `m` (strings malloc'd as the bridge's inbox does). Returns
 * false at the end of the input. */
static bool next_record(const uint8_t *data, size_t size, size_t *pos, struct inbox_message *m)
{
    size_t i = *pos;
    memset(m, 0, sizeof(*m));
    m->expiry = -1;
    if (i >= size)
        return false;
    uint8_t props = data[i++];
    if (props & 1) {
        const uint8_t *nul = memchr(data + i, 0, size - i);
        size_t len = nul ? (size_t)(nul - (data + i)) : size - i;
        m->response_topic = strndup((const char *)data + i, len);
        i += len + (nul ? 1 : 0);
    }
    if ((props & 2) && i < size) {
        size_t len = data[i++];
        if (len > size - i)
            len = size - i;
        if (len) {
            m->correlation = malloc(len);
            memcpy(m->correlation, data + i, len);
            m->correlation_len = len;
        }
        i += len;
    }
    if ((props & 4) && i + 4 <= size) {
        /* Paho's MQTTProperties_getNumericValue() returns an int */
        m->expiry = (int)((uint32_t)data[i] << 24 | (uint32_t)data[i + 1] << 16 |
                          (uint32_t)data[i + 2] << 8 | data[i + 3]);
        i += 4;
    }
    const uint8_t *nul = i < size ? memchr(data + i, 0, size - i) : NULL;
    size_t tlen = nul ? (size_t)(nul - (data + i)) : size - i;
    m->topic = strndup((const char *)data + i, tlen);
    i += tlen + (nul ? 1 : 0);
    size_t plen = 0;
    if (i + 2 <= size) {
        plen = (size_t)(data[i] << 8 | data[i + 1]);
        i += 2;
    } else {
        i = size;
    }
    if (plen > size - i)
        plen = size - i;
    m->payload = malloc(plen + 1);
    memcpy(m->payload, data + i, plen);
    m->payload[plen] = 0;
    m->len = plen;
    *pos = i + plen;
    if (!m->topic || !m->payload)
        abort();
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!model) {
        struct store_config sc = {.path = ":memory:", .hold_ttl = 86400, .hold_max = 4};
        enum gw_log_level level = GW_LOG_ERROR;
        const char *want = getenv("GW_FUZZ_LOG");
        if (want)
            log_parse_level(want, &level);
        log_set_level(level);
        char err[256];
        struct mappings_config cfg = {.commands = commands, .n_commands = GW_ARRAY_LEN(commands)};
        model = model_new();
        rules = mappings_new(&cfg, "lwm2m", 1, err, sizeof(err));
        if (!model || !rules) {
            fprintf(stderr, "fuzz_mqtt_inbound: %s\n", err);
            abort();
        }
        for (int p = 0; p < POOL; p++)
            for (int d = 0; d < N_DEVICES; d++)
                pool_fd[p][d] = wire_socket();
        if (!(store = store_open(&sc)))
            abort();
        server = start_server();
    }
    if (size < 1)
        return 0;
    uint16_t port = H.port;
    memset(&H, 0, sizeof(H));
    H.port = port;
    H.lw = server;
    H.fd = pool_fd[inputs % POOL];
    H.device_mid = &pool_mid[inputs % POOL];
    inputs++;
    H.verbose = getenv("GW_FUZZ_LOG") != NULL;
    H.mode = data[0] & 3;
    H.fail_once = data[0] & 8;
    for (int d = 0; d < N_DEVICES; d++)
        wire_drain(H.fd[d]);

    H.b = bridge_make(data[0] & 4 ? 0 : 1);
    register_devices(); /* replacing the registrations of the input before */
    settle();

    size_t pos = 1;
    struct inbox_message m;
    while (next_record(data, size, &pos, &m)) {
        H.empty_response_topic |= m.response_topic && !m.response_topic[0];
        downlink_message(H.b, &m);
        inbox_message_clear(&m);
        settle();
        check_settled();
    }
    downlink_expire(H.b);
    settle();
    bridge_unmake(H.b);
    H.b = NULL;
    store_reset();
    return 0;
}

/* fuzz_coap.c - whole CoAP datagrams into the gateway's LwM2M server: the real server_new() with
 * a real libcoap context on a loopback UDP port, fed from client sockets, as a device would
 * (Register, Update, De-register at /rd, Send to /dp, answers to the gateway's observations and
 * requests, notifications, garbage). A fresh server per input, so that nothing an input left
 * (registrations, the retransmission cache) changes what the next one does. No MQTT: the
 * callbacks are the harness's own, and check the promises of lwm2m.h.
 *
 * Input: one configuration byte (bit 0: the callbacks ask for no observations, so that the
 * submitted requests go first), then records, each
 *   flags (1 byte), sel (1 byte), length (2 bytes, big-endian), datagram (length bytes)
 * sent in turn, each handled by server_process() before the next, with the gateway's datagrams
 * read back in between. Because the gateway chooses tokens, message ids and locations at
 * random, a record refers to them instead of guessing them:
 *   - flags bit 0: the datagram's token becomes that of the gateway's request number `sel`
 *     (modulo how many it sent so far in this input: 0 is its first, e.g. the Observe it sends
 *     after a Register);
 *   - flags bit 1: its message id becomes that request's (an ACK or RST to it);
 *   - flags bit 2: it is sent from the second client socket (another port: an Update after a
 *     NAT rebinding, a stranger);
 *   - flags bits 4-7: before it is sent, the harness submits request number 1-15 of `ops`
 *     below (server_submit) to the endpoint registered last;
 *   - every "XXXXXXXX" in the datagram becomes the location id of the last 2.01 answer, so that
 *     an Update or a De-register reaches the registration.
 * capture_coap.py writes seeds in this form from traffic between devsim and the real gateway,
 * make_seeds.py the hand-made ones. GW_FUZZ_LOG=debug (or info, warn) shows the gateway's log
 * and what goes on the wire while replaying an input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coapwire.h"
#include "gw.h"
#include "lwm2m.h"

#define MAX_SEEN 64 /* requests from the gateway remembered per input */

#define MAX_HANDLES 256

struct harness {
    struct server *lw;
    int fd[2];
    uint16_t port;
    bool no_observations;
    bool in_submit;
    bool verbose; /* GW_FUZZ_LOG is set: say what goes on the wire */
    unsigned registered, gone;
    char last_ep[GW_EP_MAX + 1];
    char location[16];
    struct wire_msg seen[MAX_SEEN];
    size_t n_seen;
    uint64_t next_handle;
    uint8_t accepted[MAX_HANDLES]; /* 1: submitted, waiting for on_result; 2: answered */
    unsigned values_sum;
};

static struct harness H;

/* ---- the requests a record can submit ---- */

struct op_entry {
    struct device_request req;
    struct data_records values;
    struct data_path value_paths[2];
    struct data_value value_values[2];
    size_t n_values;
};

static struct op_entry ops[16];

static void op_value(struct op_entry *e, struct data_path path, struct data_value v)
{
    e->value_paths[e->n_values] = path;
    e->value_values[e->n_values] = v;
    e->n_values++;
}

static void ops_init(void)
{
    static const char unit[] = "Cel";
    struct device_request *r;
#define P(...) data_path_make(__VA_ARGS__)
    ops[1].req = (struct device_request){.op = GW_OP_READ, .path = P(3, 3, 0, 0)};
    ops[2].req = (struct device_request){
        .op = GW_OP_READ, .path = P(2, 3, 0), .has_format = true, .format = GW_FMT_SENML_JSON};
    ops[3].req = (struct device_request){.op = GW_OP_WRITE, .path = P(3, 1, 0, 1)};
    op_value(&ops[3], P(3, 1, 0, 1), (struct data_value){.type = GW_TYPE_UNSIGNED, .v.u = 321});
    ops[4].req = (struct device_request){.op = GW_OP_WRITE, .path = P(2, 1, 0), .partial = true};
    op_value(&ops[4], P(3, 1, 0, 1), (struct data_value){.type = GW_TYPE_UNSIGNED, .v.u = 60});
    op_value(&ops[4], P(3, 1, 0, 6), (struct data_value){.type = GW_TYPE_BOOLEAN, .v.b = true});
    ops[5].req =
        (struct device_request){.op = GW_OP_EXECUTE, .path = P(3, 3, 0, 4), .args = "0='now'"};
    ops[6].req = (struct device_request){.op = GW_OP_DISCOVER, .path = P(2, 3, 0)};
    ops[7].req = (struct device_request){
        .op = GW_OP_WRITE_ATTRIBUTES,
        .path = P(3, 3303, 0, 5700),
        .attrs = {.pmin = 5, .pmax = 60, .gt = 30.5, .has_gt = true, .lt = -1, .st = 0}};
    ops[8].req = (struct device_request){.op = GW_OP_CREATE, .path = P(1, 3303)};
    op_value(&ops[8], P(3, 3303, 7, 5700), (struct data_value){.type = GW_TYPE_FLOAT, .v.f = 21.5});
    ops[9].req = (struct device_request){.op = GW_OP_DELETE, .path = P(2, 3303, 7)};
    ops[10].req = (struct device_request){
        .op = GW_OP_OBSERVE, .path = P(3, 3303, 0, 5700), .attrs = {.pmin = -1, .pmax = -1}};
    ops[11].req = (struct device_request){.op = GW_OP_CANCEL_OBSERVE, .path = P(3, 3303, 0, 5700)};
    r = &ops[12].req;
    *r = (struct device_request){.op = GW_OP_READ_COMPOSITE, .path = P(0), .n_paths = 2};
    r->paths[0] = P(3, 3, 0, 0);
    r->paths[1] = P(3, 3303, 0, 5700);
    ops[13].req = (struct device_request){.op = GW_OP_WRITE_COMPOSITE, .path = P(0)};
    op_value(&ops[13], P(3, 1, 0, 1), (struct data_value){.type = GW_TYPE_UNSIGNED, .v.u = 5});
    op_value(&ops[13], P(3, 3303, 0, 5701),
             (struct data_value){.type = GW_TYPE_STRING,
                                 .v.bytes = {(const uint8_t *)unit, sizeof(unit) - 1}});
    r = &ops[14].req;
    *r = (struct device_request){.op = GW_OP_OBSERVE_COMPOSITE,
                                 .path = P(0),
                                 .n_paths = 2,
                                 .attrs = {.pmin = -1, .pmax = -1}};
    r->paths[0] = P(3, 3303, 0, 5700);
    r->paths[1] = P(3, 3, 0, 9);
    /* a Create without an instance id: mappings/ puts the resources below instance 65535 */
    ops[15].req = (struct device_request){
        .op = GW_OP_CREATE, .path = P(1, 3303), .has_format = true, .format = GW_FMT_TLV};
    op_value(&ops[15], P(3, 3303, 65535, 5700),
             (struct data_value){.type = GW_TYPE_FLOAT, .v.f = -3.25});
#undef P
    for (size_t i = 1; i < GW_ARRAY_LEN(ops); i++) {
        struct op_entry *e = &ops[i];
        for (size_t k = 0; k < e->n_values; k++)
            if (data_records_add(&e->values, &e->value_paths[k], &e->value_values[k], false, 0) < 0)
                abort();
        if (e->n_values)
            e->req.values = &e->values;
    }
}

/* ---- the callbacks: what lwm2m.h promises ---- */

static void check_live(const struct registration *reg)
{
    /* Every callback but on_gone is about a registration the server holds. */
    if (server_find(H.lw, reg->ep) != reg)
        abort();
}

static void cb_registered(void *ctx, const struct registration *reg)
{
    (void)ctx;
    check_live(reg);
    if (!reg->ep[0] || strlen(reg->id) != GW_ID_LEN)
        abort();
    H.registered++;
    snprintf(H.last_ep, sizeof(H.last_ep), "%s", reg->ep);
}

static void cb_updated(void *ctx, const struct registration *reg, unsigned changed)
{
    (void)ctx;
    (void)changed;
    check_live(reg);
}

static void cb_gone(void *ctx, const struct registration *reg, enum reg_gone why)
{
    (void)ctx;
    (void)why;
    H.gone++;
    if (H.gone > H.registered)
        abort();
    if (strcmp(reg->ep, H.last_ep) == 0)
        H.last_ep[0] = '\0';
}

static size_t cb_observations(void *ctx, const struct registration *reg, struct observe_spec *out,
                              size_t cap)
{
    (void)ctx;
    check_live(reg);
    if (H.no_observations || cap < 2)
        return 0;
    /* The rules of capture_coap.py's gateway: /3303 as it is, /3/0/9 with attributes. */
    out[0] = (struct observe_spec){.path = data_path_make(1, 3303), .pmin = -1, .pmax = -1};
    out[1] = (struct observe_spec){.path = data_path_make(3, 3, 0, 9), .pmin = 1, .pmax = 60};
    return 2;
}

static void touch(const struct data_records *records)
{
    for (size_t i = 0; i < records->n; i++) {
        const struct data_record *r = &records->v[i];
        if (r->path.depth > GW_PATH_MAX_DEPTH)
            abort();
        if (r->value.type == GW_TYPE_STRING || r->value.type == GW_TYPE_OPAQUE ||
            r->value.type == GW_TYPE_CORELNK)
            for (size_t k = 0; k < r->value.v.bytes.len; k++)
                H.values_sum += r->value.v.bytes.p[k];
    }
}

static void cb_values(void *ctx, const struct registration *reg, const struct data_path *path,
                      const struct data_records *records, int64_t received_at)
{
    (void)ctx;
    (void)received_at;
    check_live(reg);
    if (path->depth > GW_PATH_MAX_DEPTH)
        abort();
    touch(records);
}

static void cb_ready(void *ctx, const struct registration *reg)
{
    (void)ctx;
    check_live(reg);
}

static void cb_result(void *ctx, const struct registration *reg, uint64_t handle,
                      const struct request_result *res)
{
    (void)ctx;
    (void)reg;
    /* Exactly once per accepted submission, never from inside server_submit(). */
    if (H.in_submit || handle >= MAX_HANDLES || H.accepted[handle] != 1)
        abort();
    H.accepted[handle] = 2;
    if (res->status == GW_REQ_OK ? res->error != NULL : res->error == NULL)
        abort();
    if (res->values)
        touch(res->values);
    if (res->links)
        H.values_sum += (unsigned)strlen(res->links);
    if (res->location)
        H.values_sum += (unsigned)strlen(res->location);
}

static const struct server_callbacks callbacks = {
    .on_registered = cb_registered,
    .on_updated = cb_updated,
    .on_gone = cb_gone,
    .observations = cb_observations,
    .on_values = cb_values,
    .on_ready = cb_ready,
    .on_result = cb_result,
};

/* ---- driving the server ---- */

static struct model *model;

static struct server *start_server(void)
{
    static const char *const reserved[] = {"gateway", NULL};
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
                                    .reserved_endpoints = reserved,
                                    .shards = 1}; /* a fresh server per input */
        struct server *lw = server_new(&cfg, &callbacks, NULL);
        if (lw)
            return lw;
        H.port = 0; /* taken by someone else meanwhile: another one */
    }
    abort();
}

/* Reads what the gateway sent to either client socket, remembering it for `sel`. */
static void collect(void)
{
    uint8_t buf[WIRE_MAX];
    for (int s = 0; s < 2; s++) {
        ssize_t n;
        while ((n = wire_recv(H.fd[s], buf)) >= 0) {
            struct wire_msg m;
            if (!wire_parse(buf, (size_t)n, &m))
                abort(); /* the gateway sent something that is not CoAP */
            if (m.code == WIRE_CODE(2, 1) && strlen(m.location) == GW_ID_LEN)
                memcpy(H.location, m.location, sizeof(H.location));
            if (H.verbose)
                fprintf(
                    stderr,
                    "harness: from the gateway (requests so far %zu) type=%u code=%u.%02u mid=%u "
                    "tkl=%u path=%s observe=%d len=%zd\n",
                    H.n_seen, m.type, m.code >> 5, m.code & 31u, m.mid, m.tkl, m.path, m.observe,
                    n);
            m.payload = NULL;                                      /* points into buf */
            if (m.code && m.code >> 5 == 0 && H.n_seen < MAX_SEEN) /* a request */
                H.seen[H.n_seen++] = m;
        }
    }
}

static void submit(unsigned n)
{
    char err[256];
    if (!H.last_ep[0] || H.next_handle >= MAX_HANDLES)
        return;
    uint64_t handle = H.next_handle++;
    H.in_submit = true;
    int rc = server_submit(H.lw, H.last_ep, &ops[n].req, handle, err, sizeof(err));
    H.in_submit = false;
    if (rc == GW_OK)
        H.accepted[handle] = 1;
    else if (rc != -GW_ERR_NOTFOUND && rc != -GW_AGAIN && rc != -GW_ERR_INVALID)
        abort();
}

static void send_record(uint8_t flags, uint8_t sel, const uint8_t *data, size_t len)
{
    uint8_t dgram[WIRE_MAX + 8];
    size_t n = 0;
    if (len > WIRE_MAX)
        len = WIRE_MAX;
    memcpy(dgram, data, len);
    n = len;
    if ((flags & 1) && H.n_seen && n >= 4 && (dgram[0] & 0x0f) <= 8) {
        const struct wire_msg *m = &H.seen[sel % H.n_seen];
        size_t old = dgram[0] & 0x0fu;
        if (old > n - 4)
            old = n - 4;
        memmove(dgram + 4 + m->tkl, dgram + 4 + old, n - 4 - old);
        memcpy(dgram + 4, m->token, m->tkl);
        dgram[0] = (uint8_t)((dgram[0] & 0xf0) | m->tkl);
        n = n - old + m->tkl;
    }
    if ((flags & 2) && H.n_seen && n >= 4) {
        const struct wire_msg *m = &H.seen[sel % H.n_seen];
        dgram[2] = (uint8_t)(m->mid >> 8);
        dgram[3] = (uint8_t)m->mid;
    }
    if (H.location[0]) {
        for (size_t i = 0; i + GW_ID_LEN <= n; i++)
            if (!memcmp(dgram + i, "XXXXXXXX", GW_ID_LEN))
                memcpy(dgram + i, H.location, GW_ID_LEN);
    }
    if (H.verbose)
        fprintf(stderr, "harness: to the gateway from socket %u, %zu bytes\n", (flags >> 2) & 1u,
                n);
    wire_send(H.fd[(flags >> 2) & 1], H.port, dgram, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!model) {
        /* quiet, unless GW_FUZZ_LOG=debug (or info, warn) asks to watch a reproducer */
        enum gw_log_level level = GW_LOG_ERROR;
        const char *want = getenv("GW_FUZZ_LOG");
        if (want)
            log_parse_level(want, &level);
        log_set_level(level);
        model = model_new();
        if (!model)
            abort();
        ops_init();
        H.fd[0] = wire_socket();
        H.fd[1] = wire_socket();
    }
    if (size < 1)
        return 0;
    int fd[2] = {H.fd[0], H.fd[1]};
    uint16_t port = H.port;
    memset(&H, 0, sizeof(H));
    H.fd[0] = fd[0];
    H.fd[1] = fd[1];
    H.port = port;
    H.next_handle = 1;
    H.verbose = getenv("GW_FUZZ_LOG") != NULL;
    H.no_observations = data[0] & 1;
    wire_drain(H.fd[0]);
    wire_drain(H.fd[1]);
    H.lw = start_server();

    size_t i = 1;
    while (i + 4 <= size) {
        uint8_t flags = data[i], sel = data[i + 1];
        size_t len = (size_t)(data[i + 2] << 8 | data[i + 3]);
        i += 4;
        if (len > size - i)
            len = size - i;
        if (flags >> 4)
            submit(flags >> 4);
        collect();
        send_record(flags, sel, data + i, len);
        i += len;
        server_process(H.lw);
        collect();
        if (server_count(H.lw) != H.registered - H.gone)
            abort();
    }
    server_process(H.lw);
    server_free(H.lw);
    H.lw = NULL;
    return 0;
}

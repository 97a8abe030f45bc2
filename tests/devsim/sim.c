/* sim.c - the simulated devices: one libcoap client session per device, each with its own
 * UDP socket so that the gateway sees one source port per device as from real devices, all
 * sharing one coap_context and one event loop. A device has at most one request in flight;
 * answers are matched to it by session and token, and every finished request prints one
 * JSON line so that test scripts can read the outcome. */

#include "sim.h"

#include <coap3/coap.h>

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <time.h>

/* Longest Location-Path we keep from a Register answer ("/rd/xyz" joined with '/'). */
#define GW_LOCATION_MAX 256
/* Longest server diagnostic payload copied into an output line. */
#define GW_DIAGNOSTIC_MAX 512
/* Longest single Uri-Query option we build ("ep=NAME", "b=UQ", ...). */
#define GW_QUERY_MAX 300
/* How long one coap_io_process call may block when nothing is due earlier. */
#define GW_IDLE_WAIT_MS 1000
/* NSTART for every session; see sim_new. */
#define GW_NSTART 4

/* One simulated device: its CoAP session and the state of its one request in flight. */
struct device {
    struct sim *sim;
    char *name;
    coap_session_t *session;
    char *location; /* "/rd/..." from the last successful Register, or NULL */

    /* The request in flight, if in_flight. Answers are matched by session and token. */
    bool in_flight;
    enum gw_op op;
    uint8_t token[8];
    size_t token_len;
    double sent_ms;
    /* Links in the simulator's in-flight list, oldest request first. All requests share
     * one timeout, so the head of that list is always the next one to expire. */
    struct device *older;
    struct device *newer;
};

struct sim {
    const struct options *opt;
    coap_context_t *ctx;
    char *register_payload; /* owned */
    struct device *devices;
    size_t device_count;
    struct device *oldest; /* in-flight list */
    struct device *newest;
    size_t in_flight;
    unsigned long ok;
    unsigned long failed;
};

double sim_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

unsigned long sim_ok_count(const struct sim *sim)
{
    return sim->ok;
}

unsigned long sim_failed_count(const struct sim *sim)
{
    return sim->failed;
}

/* ---- output ----------------------------------------------------------------------------- */

/* Writes `len` bytes of `text` as a JSON string. Bytes outside printable ASCII are escaped
 * one by one, so the output stays valid whatever a server sends as diagnostic. */
static void print_json_string(FILE *out, const char *text, size_t len)
{
    fputc('"', out);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", out);
        else if (c < 0x20 || c >= 0x7f)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

static const char *op_name(enum gw_op op)
{
    switch (op) {
    case GW_OP_REGISTER:
        return "register";
    case GW_OP_UPDATE:
        return "update";
    case GW_OP_DEREGISTER:
        return "deregister";
    }
    return "?";
}

/* ---- results ---------------------------------------------------------------------------- */

/* Takes `dev` out of the in-flight list (if there) and prints the outcome of its request.
 * `code` is "2.01"-style or a word such as "timeout"; `ok` says whether it counts as
 * success. `location`, `diagnostic` and `error` are optional (NULL). */
static void finish_request(struct device *dev, const char *code, bool ok, const char *location,
                           const uint8_t *diagnostic, size_t diagnostic_len, const char *error)
{
    struct sim *sim = dev->sim;
    double ms = 0.0;

    if (dev->in_flight) {
        ms = sim_now_ms() - dev->sent_ms;
        if (dev->older)
            dev->older->newer = dev->newer;
        else
            sim->oldest = dev->newer;
        if (dev->newer)
            dev->newer->older = dev->older;
        else
            sim->newest = dev->older;
        dev->older = dev->newer = NULL;
        dev->in_flight = false;
        sim->in_flight--;
    }
    if (ok)
        sim->ok++;
    else
        sim->failed++;
    if (sim->opt->quiet)
        return;

    fputs("{\"ep\":", stdout);
    print_json_string(stdout, dev->name, strlen(dev->name));
    printf(",\"op\":\"%s\",\"code\":", op_name(dev->op));
    print_json_string(stdout, code, strlen(code));
    if (location) {
        fputs(",\"location\":", stdout);
        print_json_string(stdout, location, strlen(location));
    }
    if (diagnostic) {
        fputs(",\"diagnostic\":", stdout);
        print_json_string(stdout, (const char *)diagnostic, diagnostic_len);
    }
    if (error) {
        fputs(",\"error\":", stdout);
        print_json_string(stdout, error, strlen(error));
    }
    printf(",\"ms\":%.3f}\n", ms);
    fflush(stdout);
}

/* Joins the Location-Path options of `pdu` as "/a/b". Returns false when they do not fit
 * into `out` (of GW_LOCATION_MAX bytes); an answer without any gives "". */
static bool read_location(const coap_pdu_t *pdu, char *out)
{
    coap_opt_filter_t filter;
    coap_opt_iterator_t it;
    coap_opt_t *option;
    size_t used = 0;

    coap_option_filter_clear(&filter);
    coap_option_filter_set(&filter, COAP_OPTION_LOCATION_PATH);
    coap_option_iterator_init(pdu, &it, &filter);
    out[0] = '\0';
    while ((option = coap_option_next(&it)) != NULL) {
        size_t len = coap_opt_length(option);
        if (used + 1 + len >= GW_LOCATION_MAX)
            return false;
        out[used++] = '/';
        memcpy(out + used, coap_opt_value(option), len);
        used += len;
        out[used] = '\0';
    }
    return true;
}

static bool token_matches(const struct device *dev, coap_bin_const_t token)
{
    return dev != NULL && dev->in_flight && token.length == dev->token_len &&
           (token.length == 0 || memcmp(token.s, dev->token, token.length) == 0);
}

/* libcoap response handler: completes the request of the device owning `session` when the
 * token is the one in flight. Late answers to requests already timed out are ignored. */
static coap_response_t on_response(coap_session_t *session, const coap_pdu_t *sent,
                                   const coap_pdu_t *received, const coap_mid_t mid)
{
    (void)sent;
    (void)mid;
    struct device *dev = coap_session_get_app_data(session);
    if (!token_matches(dev, coap_pdu_get_token(received)))
        return COAP_RESPONSE_OK;

    unsigned code = (unsigned)coap_pdu_get_code(received);
    unsigned code_class = code >> 5;
    char code_text[16];
    snprintf(code_text, sizeof(code_text), "%u.%02u", code_class, code & 0x1fu);
    bool ok = code_class == 2;

    char location[GW_LOCATION_MAX];
    const char *error = NULL;
    if (!read_location(received, location)) {
        error = "Location-Path too long";
        ok = false;
        location[0] = '\0';
    }

    if (ok && dev->op == GW_OP_REGISTER) {
        char *copy = location[0] != '\0' ? strdup(location) : NULL;
        if (copy != NULL) {
            free(dev->location);
            dev->location = copy;
        } else {
            error = location[0] != '\0' ? "out of memory" : "no Location-Path in the answer";
            ok = false;
        }
    } else if (ok && dev->op == GW_OP_DEREGISTER) {
        free(dev->location);
        dev->location = NULL;
    }

    const uint8_t *data = NULL;
    size_t data_len = 0;
    if (code_class >= 4 && coap_get_data(received, &data_len, &data) && data_len > 0) {
        if (data_len > GW_DIAGNOSTIC_MAX)
            data_len = GW_DIAGNOSTIC_MAX;
    } else {
        data = NULL;
    }
    finish_request(dev, code_text, ok, location[0] != '\0' ? location : NULL, data, data_len,
                   error);
    return COAP_RESPONSE_OK;
}

/* libcoap NACK handler: the request was answered with RST, could not be delivered, or
 * libcoap gave up retransmitting before our own timeout. */
static void on_nack(coap_session_t *session, const coap_pdu_t *sent,
                    const coap_nack_reason_t reason, const coap_mid_t mid)
{
    (void)mid;
    struct device *dev = coap_session_get_app_data(session);
    if (sent == NULL || !token_matches(dev, coap_pdu_get_token(sent)))
        return;
    switch (reason) {
    case COAP_NACK_TOO_MANY_RETRIES:
        finish_request(dev, "timeout", false, NULL, NULL, 0, NULL);
        break;
    case COAP_NACK_RST:
        finish_request(dev, "reset", false, NULL, NULL, 0, NULL);
        break;
    default:
        finish_request(dev, "unreachable", false, NULL, NULL, 0, NULL);
        break;
    }
}

/* Catch-all for requests from the server: answers 4.04 so that the gateway always gets an
 * answer. Real objects replace this as the simulated device grows. */
static void on_server_request(coap_resource_t *resource, coap_session_t *session,
                              const coap_pdu_t *request, const coap_string_t *query,
                              coap_pdu_t *response)
{
    static const char *const methods[] = {"?",      "GET",   "POST",  "PUT",
                                          "DELETE", "FETCH", "PATCH", "iPATCH"};
    (void)resource;
    (void)query;
    struct device *dev = coap_session_get_app_data(session);
    coap_pdu_set_code(response, COAP_RESPONSE_CODE_NOT_FOUND);
    if (dev == NULL || dev->sim->opt->quiet)
        return;

    unsigned method = (unsigned)coap_pdu_get_code(request);
    coap_string_t *path = coap_get_uri_path(request);
    int path_len = path ? (int)(path->length > 128 ? 128 : path->length) : 0;
    fprintf(stderr, "devsim: ep=%s request=%s path=/%.*s code=4.04\n", dev->name,
            method < sizeof(methods) / sizeof(methods[0]) ? methods[method] : "?", path_len,
            path ? (const char *)path->s : "");
    coap_delete_string(path);
}

/* ---- requests --------------------------------------------------------------------------- */

/* Adds the Uri-Query option "name=value", or just "name" when `value` is NULL. */
static bool add_query(coap_pdu_t *pdu, const char *name, const char *value)
{
    char query[GW_QUERY_MAX];
    int n = snprintf(query, sizeof(query), "%s%s%s", name, value ? "=" : "", value ? value : "");
    if (n < 0 || (size_t)n >= sizeof(query))
        return false;
    return coap_add_option(pdu, COAP_OPTION_URI_QUERY, (size_t)n, (const uint8_t *)query) != 0;
}

static bool add_lifetime_query(coap_pdu_t *pdu, unsigned long lifetime)
{
    char value[24];
    snprintf(value, sizeof(value), "%lu", lifetime);
    return add_query(pdu, "lt", value);
}

/* Adds one Uri-Path option per segment of `path` ("/rd/abc" gives "rd", "abc"). */
static bool add_path(coap_pdu_t *pdu, const char *path)
{
    while (*path == '/')
        path++;
    while (*path != '\0') {
        const char *end = strchr(path, '/');
        size_t len = end ? (size_t)(end - path) : strlen(path);
        if (coap_add_option(pdu, COAP_OPTION_URI_PATH, len, (const uint8_t *)path) == 0)
            return false;
        path += len;
        if (*path == '/')
            path++;
    }
    return true;
}

/* Builds the request of `act` for `dev` with a fresh token stored in `dev`. Returns the PDU
 * (owned by the caller until coap_send) or NULL with *why set. */
static coap_pdu_t *build_request(struct device *dev, const struct action *act, const char **why)
{
    const struct options *opt = dev->sim->opt;
    coap_session_t *session = dev->session;
    coap_pdu_code_t code =
        act->op == GW_OP_DEREGISTER ? COAP_REQUEST_CODE_DELETE : COAP_REQUEST_CODE_POST;
    const char *payload = act->op == GW_OP_REGISTER ? dev->sim->register_payload : act->payload;

    *why = "cannot build the request";
    coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, code, coap_new_message_id(session),
                                    coap_session_max_pdu_size(session));
    if (pdu == NULL)
        return NULL;
    coap_session_new_token(session, &dev->token_len, dev->token);
    if (!coap_add_token(pdu, dev->token_len, dev->token))
        goto out_free_pdu;

    /* Options go in ascending number: Uri-Path (11), Content-Format (12), Uri-Query (15). */
    if (!add_path(pdu, act->op == GW_OP_REGISTER ? "/rd" : dev->location))
        goto out_free_pdu;
    if (payload != NULL) {
        uint8_t format[4];
        unsigned len =
            coap_encode_var_safe(format, sizeof(format), COAP_MEDIATYPE_APPLICATION_LINK_FORMAT);
        if (coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT, len, format) == 0)
            goto out_free_pdu;
    }

    bool v10 = strcmp(opt->version, "1.0") == 0;
    if (act->op == GW_OP_REGISTER) {
        const char *binding = opt->binding ? opt->binding : (v10 && opt->queue) ? "UQ" : "U";
        if (!add_query(pdu, "ep", dev->name) || !add_lifetime_query(pdu, opt->lifetime) ||
            !add_query(pdu, "lwm2m", opt->version) || !add_query(pdu, "b", binding))
            goto out_free_pdu;
        if (!v10 && opt->queue && !add_query(pdu, "Q", NULL))
            goto out_free_pdu;
    } else if (act->op == GW_OP_UPDATE) {
        if (act->has_lifetime && !add_lifetime_query(pdu, act->lifetime))
            goto out_free_pdu;
        if (act->binding[0] != '\0' && !add_query(pdu, "b", act->binding))
            goto out_free_pdu;
    }

    if (payload != NULL && !coap_add_data(pdu, strlen(payload), (const uint8_t *)payload)) {
        *why = "payload does not fit into one CoAP message";
        goto out_free_pdu;
    }
    return pdu;

out_free_pdu:
    coap_delete_pdu(pdu);
    return NULL;
}

/* Starts the request of `act` for `dev`, or reports at once why it could not be sent. */
static void start_request(struct sim *sim, struct device *dev, const struct action *act)
{
    const char *why;
    dev->op = act->op;
    if (act->op != GW_OP_REGISTER && dev->location == NULL) {
        finish_request(dev, "not-sent", false, NULL, NULL, 0, "not registered");
        return;
    }
    coap_pdu_t *pdu = build_request(dev, act, &why);
    if (pdu == NULL) {
        finish_request(dev, "not-sent", false, NULL, NULL, 0, why);
        return;
    }

    /* Linked before coap_send so that a NACK reported from inside it finds the request. */
    dev->in_flight = true;
    dev->sent_ms = sim_now_ms();
    dev->older = sim->newest;
    dev->newer = NULL;
    if (sim->newest)
        sim->newest->newer = dev;
    else
        sim->oldest = dev;
    sim->newest = dev;
    sim->in_flight++;

    if (coap_send(dev->session, pdu) == COAP_INVALID_MID && dev->in_flight)
        finish_request(dev, "not-sent", false, NULL, NULL, 0, "coap_send failed");
}

/* Reports every request older than the timeout as "timeout". libcoap may still retransmit
 * it; a late answer no longer matches the device's token and is ignored. */
static void expire_requests(struct sim *sim)
{
    double deadline = sim_now_ms() - (double)sim->opt->timeout_ms;
    while (sim->oldest != NULL && sim->oldest->sent_ms <= deadline)
        finish_request(sim->oldest, "timeout", false, NULL, NULL, 0, NULL);
}

/* Runs the event loop once, blocking at most until `until_ms` (a sim_now_ms() time). */
static void serve_until(struct sim *sim, double until_ms)
{
    double wait = until_ms - sim_now_ms();
    if (wait > GW_IDLE_WAIT_MS)
        wait = GW_IDLE_WAIT_MS;
    /* 0 would mean "wait forever" to coap_io_process, so we wait at least 1 ms. */
    uint32_t wait_ms = wait < 1.0 ? 1u : (uint32_t)wait + 1u;
    if (coap_io_process(sim->ctx, wait_ms) < 0)
        fprintf(stderr, "devsim: coap_io_process failed\n");
}

void sim_run_requests(struct sim *sim, const struct action *act)
{
    size_t next = 0;
    while (next < sim->device_count || sim->in_flight > 0) {
        while (next < sim->device_count && sim->in_flight < sim->opt->concurrency)
            start_request(sim, &sim->devices[next++], act);
        if (sim->in_flight == 0)
            continue;
        serve_until(sim, sim->oldest->sent_ms + (double)sim->opt->timeout_ms);
        expire_requests(sim);
    }
}

void sim_run_wait(struct sim *sim, double seconds)
{
    double until = sim_now_ms() + seconds * 1e3;
    while (sim_now_ms() < until)
        serve_until(sim, until);
}

/* ---- setup and teardown ----------------------------------------------------------------- */

/* Resolves the server of the options into `server`. Returns false with a message. */
static bool resolve_server(const struct options *opt, coap_address_t *server)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM};
    struct addrinfo *found = NULL;
    int rc = getaddrinfo(opt->server_host, NULL, &hints, &found);
    if (rc != 0 || found == NULL) {
        fprintf(stderr, "devsim: cannot resolve %s: %s\n", opt->server_host, gai_strerror(rc));
        return false;
    }
    coap_address_init(server);
    server->size = found->ai_addrlen;
    memcpy(&server->addr, found->ai_addr, found->ai_addrlen);
    coap_address_set_port(server, opt->server_port);
    freeaddrinfo(found);
    return true;
}

/* Every device holds one socket: raise the soft descriptor limit as far as needed. */
static bool ensure_descriptors(size_t count)
{
    struct rlimit limit;
    rlim_t needed = (rlim_t)count + 64;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0)
        return true; /* let socket creation report the problem */
    if (limit.rlim_cur >= needed)
        return true;
    if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < needed) {
        fprintf(stderr, "devsim: %zu devices need %lu file descriptors, the limit is %lu\n", count,
                (unsigned long)needed, (unsigned long)limit.rlim_max);
        return false;
    }
    limit.rlim_cur = needed;
    return setrlimit(RLIMIT_NOFILE, &limit) == 0;
}

static char *device_name(const struct options *opt, size_t index)
{
    if (opt->ep != NULL)
        return strdup(opt->ep);
    size_t size = strlen(opt->ep_prefix) + 24;
    char *name = malloc(size);
    if (name != NULL)
        snprintf(name, size, "%s%zu", opt->ep_prefix, index);
    return name;
}

/* Sets up the context, the catch-all resource and one session per device. Returns false
 * with a message on stderr; sim_free cleans up whatever was made. */
static bool sim_setup(struct sim *sim)
{
    const struct options *opt = sim->opt;
    coap_address_t server;

    if (!resolve_server(opt, &server) || !ensure_descriptors(opt->count))
        return false;
    sim->ctx = coap_new_context(NULL);
    sim->devices = calloc(opt->count, sizeof(*sim->devices));
    if (sim->ctx == NULL || sim->devices == NULL) {
        fprintf(stderr, "devsim: out of memory\n");
        return false;
    }
    if (coap_context_get_coap_fd(sim->ctx) < 0 && opt->count > FD_SETSIZE - 64) {
        fprintf(stderr, "devsim: this libcoap uses select(), at most %d devices\n",
                FD_SETSIZE - 64);
        return false;
    }
    coap_register_response_handler(sim->ctx, on_response);
    coap_register_nack_handler(sim->ctx, on_nack);

    /* The catch-all owns PUT from its init; the context owns it once added. */
    coap_resource_t *unknown = coap_resource_unknown_init2(on_server_request, 0);
    if (unknown == NULL) {
        fprintf(stderr, "devsim: cannot create the catch-all resource\n");
        return false;
    }
    coap_register_handler(unknown, COAP_REQUEST_GET, on_server_request);
    coap_register_handler(unknown, COAP_REQUEST_POST, on_server_request);
    coap_register_handler(unknown, COAP_REQUEST_DELETE, on_server_request);
    coap_register_handler(unknown, COAP_REQUEST_FETCH, on_server_request);
    coap_register_handler(unknown, COAP_REQUEST_PATCH, on_server_request);
    coap_register_handler(unknown, COAP_REQUEST_IPATCH, on_server_request);
    coap_add_resource(sim->ctx, unknown);

    for (size_t i = 0; i < opt->count; i++) {
        struct device *dev = &sim->devices[i];
        sim->device_count = i + 1;
        dev->sim = sim;
        dev->name = device_name(opt, i);
        /* A NULL local address makes libcoap open a socket of its own for the session. */
        dev->session = coap_new_client_session(sim->ctx, NULL, &server, COAP_PROTO_UDP);
        if (dev->name == NULL || dev->session == NULL) {
            fprintf(stderr, "devsim: cannot create the session of device %zu: %s\n", i,
                    strerror(errno));
            return false;
        }
        coap_session_set_app_data(dev->session, dev);
        /* With NSTART 1, libcoap would hold a device's next request back behind one we
         * already reported as timed out, for as long as it keeps retransmitting that one
         * (up to 93 s), so the next action of that device would time out too. */
        coap_session_set_nstart(dev->session, GW_NSTART);
    }
    return true;
}

struct sim *sim_new(const struct options *opt, char *register_payload)
{
    struct sim *sim = calloc(1, sizeof(*sim));
    if (sim == NULL) {
        fprintf(stderr, "devsim: out of memory\n");
        free(register_payload);
        return NULL;
    }
    sim->opt = opt;
    sim->register_payload = register_payload;
    if (!sim_setup(sim)) {
        sim_free(sim);
        return NULL;
    }
    return sim;
}

void sim_free(struct sim *sim)
{
    if (sim == NULL)
        return;
    for (size_t i = 0; i < sim->device_count; i++) {
        struct device *dev = &sim->devices[i];
        if (dev->session != NULL) {
            coap_session_set_app_data(dev->session, NULL);
            coap_session_release(dev->session);
        }
        free(dev->name);
        free(dev->location);
    }
    free(sim->devices);
    if (sim->ctx != NULL)
        coap_free_context(sim->ctx);
    free(sim->register_payload);
    free(sim);
}

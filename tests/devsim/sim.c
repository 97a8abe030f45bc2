/* sim.c - the simulated devices: one libcoap client session per device (radio.c makes it,
 * plain or DTLS), each with its own UDP socket so that the gateway sees one source port per
 * device as from real devices. Each
 * device has a coap_context of its own, because libcoap keeps resources, and so observers,
 * per context and notifies all observers of a resource at once, while pmin and pmax belong to
 * each device; one epoll descriptor watches every context's own, and one loop runs them all.
 * A device has at most one request in flight; answers are matched to it by session and
 * token, and every finished request prints one JSON line so that test scripts can read the
 * outcome. The loop also drives the value changes (--rate) and the notification deadlines. */

#include "sim_internal.h"

#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "gw.h"

/* Longest Location-Path we keep from a Register answer ("/rd/xyz" joined with '/'). */
#define GW_LOCATION_MAX 256
/* Longest server diagnostic payload copied into an output line. */
#define GW_DIAGNOSTIC_MAX 512
/* Longest single Uri-Query option we build ("ep=NAME", "b=UQ", ...). */
#define GW_QUERY_MAX 300
/* How long one wait for events may block when nothing is due earlier. */
#define GW_IDLE_WAIT_MS 1000
/* Device contexts handled per wait for events. */
#define GW_EVENTS_MAX 256
/* Descriptors of one device: its socket, its context's epoll and timer descriptors. */
#define GW_FDS_PER_DEVICE 3

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

unsigned long sim_notification_count(const struct sim *sim)
{
    return sim->notifications;
}

unsigned long sim_failed_count(const struct sim *sim)
{
    return sim->failed;
}

void sim_print_dtls_summary(const struct sim *sim, FILE *out)
{
    if (!sim->opt->dtls)
        return;
    fprintf(out, ",\"handshakes\":%lu,\"handshake_failures\":%lu,\"ciphers\":{", sim->handshakes,
            sim->handshake_failures);
    for (size_t i = 0; i < sim->cipher_n; i++)
        fprintf(out, "%s\"%s\":%lu", i ? "," : "", sim->cipher_names[i], sim->cipher_counts[i]);
    fputc('}', out);
}

double sim_elapsed(const struct sim *sim)
{
    return (sim_now_ms() - sim->started_ms) / 1e3;
}

/* ---- output ----------------------------------------------------------------------------- */

/* Writes `len` bytes of `text` as a JSON string. Bytes outside printable ASCII are escaped
 * one by one, so the output stays valid whatever a server sends as diagnostic. */
void sim_print_json_string(FILE *out, const char *text, size_t len)
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
    case GW_OP_SEND:
        return "send";
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
    sim_print_json_string(stdout, dev->name, strlen(dev->name));
    printf(",\"op\":\"%s\",\"code\":", op_name(dev->op));
    sim_print_json_string(stdout, code, strlen(code));
    if (location) {
        fputs(",\"location\":", stdout);
        sim_print_json_string(stdout, location, strlen(location));
    }
    if (diagnostic) {
        fputs(",\"diagnostic\":", stdout);
        sim_print_json_string(stdout, (const char *)diagnostic, diagnostic_len);
    }
    if (error) {
        fputs(",\"error\":", stdout);
        sim_print_json_string(stdout, error, strlen(error));
    }
    if (dev->cipher)
        printf(",\"cipher\":\"%s\"", dev->cipher);
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
    /* a confirmable notification that failed is libcoap's business (it drops the observer) */
    if (sent == NULL || ((unsigned)coap_pdu_get_code(sent) >> 5) != 0 ||
        !token_matches(dev, coap_pdu_get_token(sent)))
        return;
    switch (reason) {
    case COAP_NACK_TOO_MANY_RETRIES:
        dev->renew = dev->sim->opt->dtls;
        finish_request(dev, "timeout", false, NULL, NULL, 0, NULL);
        break;
    case COAP_NACK_RST:
        finish_request(dev, "reset", false, NULL, NULL, 0, NULL);
        break;
    case COAP_NACK_TLS_FAILED:
        finish_request(dev, "dtls-failed", false, NULL, NULL, 0,
                       dev->dtls_error[0] ? dev->dtls_error : "DTLS session failed");
        break;
    default:
        finish_request(dev, "unreachable", false, NULL, NULL, 0, NULL);
        break;
    }
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

/* Encodes the Send of `act` for `dev` into sim->payload: the values at the paths of the
 * action (default: the changing ones), each with the time of its last change. Returns the
 * length, or 0 with *why set. */
static size_t build_send_payload(struct device *dev, const struct action *act, const char **why)
{
    struct sim *sim = dev->sim;
    const struct layout *l = dev->layout;
    struct codec_ctx ctx = {.base = {.depth = 0}, .model = sim->model};
    char err[160];
    size_t len = 0;
    int rc = GW_OK;

    data_records_reset(&sim->records);
    for (unsigned i = 0; act->send_count == 0 && i < l->n && rc == GW_OK; i++)
        if (objects_changing(l, i))
            rc = objects_read(dev, i, true, &sim->records);
    for (size_t i = 0; i < act->send_count && rc == GW_OK; i++) {
        int at = objects_find_present(dev, &act->send_paths[i]);
        if (at < 0) {
            *why = "a path to send is not on the device";
            return 0;
        }
        rc = objects_read(dev, (unsigned)at, true, &sim->records);
    }
    if (rc == GW_OK && sim->records.n == 0) {
        *why = "no values to send";
        return 0;
    }
    if (rc == GW_OK)
        rc = codec_encode(sim->send_format, &sim->records, &ctx, sim->payload, sizeof(sim->payload),
                          &len, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "devsim: ep=%s cannot encode the Send: %s\n", dev->name, err);
        *why = rc == -GW_ERR_FULL ? "the values do not fit into one message"
                                  : "cannot encode the values";
        return 0;
    }
    return len;
}

/* Builds the request of `act` for `dev` with a fresh token stored in `dev`. Returns the PDU
 * (owned by the caller until coap_send) or NULL with *why set. */
static coap_pdu_t *build_request(struct device *dev, const struct action *act, const char **why)
{
    const struct options *opt = dev->sim->opt;
    coap_session_t *session = dev->session;
    coap_pdu_code_t code =
        act->op == GW_OP_DEREGISTER ? COAP_REQUEST_CODE_DELETE : COAP_REQUEST_CODE_POST;
    const uint8_t *payload =
        (const uint8_t *)(act->op == GW_OP_REGISTER ? dev->sim->register_payload : act->payload);
    size_t payload_len = payload ? strlen((const char *)payload) : 0;
    unsigned format = COAP_MEDIATYPE_APPLICATION_LINK_FORMAT;
    const char *path = act->op == GW_OP_REGISTER ? "/rd" : dev->location;

    if (act->op == GW_OP_SEND) {
        payload_len = build_send_payload(dev, act, why);
        if (payload_len == 0)
            return NULL;
        payload = dev->sim->payload;
        format = dev->sim->send_format;
        path = "/dp";
    }

    *why = "cannot build the request";
    coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, code, coap_new_message_id(session),
                                    coap_session_max_pdu_size(session));
    if (pdu == NULL)
        return NULL;
    coap_session_new_token(session, &dev->token_len, dev->token);
    if (!coap_add_token(pdu, dev->token_len, dev->token))
        goto out_free_pdu;

    /* Options go in ascending number: Uri-Path (11), Content-Format (12), Uri-Query (15). */
    if (!add_path(pdu, path))
        goto out_free_pdu;
    if (payload != NULL) {
        uint8_t cf[4];
        unsigned len = coap_encode_var_safe(cf, sizeof(cf), format);
        if (coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT, len, cf) == 0)
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

    if (payload != NULL && !coap_add_data(pdu, payload_len, payload)) {
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
    const char *why = "cannot build the request";
    dev->op = act->op;
    if (act->op != GW_OP_REGISTER && dev->location == NULL) {
        finish_request(dev, "not-sent", false, NULL, NULL, 0, "not registered");
        return;
    }
    /* DTLS: the first request, or the first after the session failed or closed, starts a
     * handshake; the request waits for it in libcoap, under the same timeout. */
    if (radio_session_dead(dev)) {
        radio_disconnect(dev, false);
        if (!radio_connect(dev, &why)) {
            finish_request(dev, "not-sent", false, NULL, NULL, 0, why);
            return;
        }
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

    if (coap_send(dev->session, pdu) == COAP_INVALID_MID) {
        if (dev->in_flight)
            finish_request(dev, "not-sent", false, NULL, NULL, 0, "coap_send failed");
    } else {
        radio_uplink(dev);
    }
    sim_device_io(dev); /* arms the context's timer for retransmissions */
}

/* Reports every request older than the timeout as "timeout". libcoap may still retransmit
 * it; a late answer no longer matches the device's token and is ignored. Under DTLS, as a
 * real device would, the next request starts a new session: the server may have lost the
 * old one (a restart). A request still waiting for its handshake fails as "dtls-failed"
 * (a wrong key often gets no answer at all), and its session goes at once. */
static void expire_requests(struct sim *sim)
{
    double deadline = sim_now_ms() - (double)sim->opt->timeout_ms;
    while (sim->oldest != NULL && sim->oldest->sent_ms <= deadline) {
        struct device *dev = sim->oldest;
        if (!radio_handshaking(dev)) {
            dev->renew = sim->opt->dtls;
            finish_request(dev, "timeout", false, NULL, NULL, 0, NULL);
            continue;
        }
        radio_handshake_expired(dev);
        finish_request(dev, "dtls-failed", false, NULL, NULL, 0, dev->dtls_error);
        radio_disconnect(dev, false);
    }
}

/* ---- the event loop --------------------------------------------------------------------- */

/* libcoap 4.3.1 wakes a context for each notification through its timer descriptor: it sets
 * the timer to fire at once (a timerfd_settime()), and the wake-up reads the timer and sets it
 * again from what is due (another). In a flood of non-confirmable notifications those calls
 * were 61 % of devsim's CPU under a VM, and devsim took more of the machine than the gateway
 * it loads. So devsim keeps the timer itself: prepare_io() sets it only when libcoap has a
 * deadline (a confirmable message to retransmit, a handshake), and sim_device_io() reads a
 * timer that fired without handing it to libcoap. Then libcoap's record of its next wake-up
 * stays in the past, and a notification no longer sets the timer. The descriptor is not
 * handed out: it is the timerfd that libcoap created right after the context's epoll
 * descriptor and registered in it (EEXIST from a second registration says so). */
static int find_timer(int epfd)
{
    for (int fd = epfd + 1; fd <= epfd + 8; fd++) {
        char path[64], target[64];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        ssize_t n = readlink(path, target, sizeof(target) - 1);
        if (n < 0)
            continue;
        target[n] = '\0';
        if (strcmp(target, "anon_inode:[timerfd]") != 0)
            continue;
        struct epoll_event ev = {.events = EPOLLIN};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
            epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &ev); /* another context's: undone */
        else if (errno == EEXIST)
            return fd;
    }
    return -1;
}

/* Has libcoap send the notifications it was told of and retransmit what is due; sets the
 * context's timer (coap_io_prepare_epoll) only when libcoap has a deadline. */
static void prepare_io(struct device *dev)
{
    coap_tick_t now;
    coap_socket_t *unused[1];
    unsigned int n;
    coap_ticks(&now);
    dev->io_wanted = false;
    if (coap_io_prepare_io(dev->ctx, unused, 1, &n, now) != 0)
        coap_io_prepare_epoll(dev->ctx, now);
}

/* The end of a device's I/O: what it must do after a read or a send. */
static void io_done(struct device *dev)
{
    if (dev->reap)
        manage_reap(dev);
    if (dev->io_wanted)
        prepare_io(dev);
    for (size_t i = 0; i < dev->layout->n; i++)
        dev->nodes[i].armed = false;
    dev->root.armed = false;
}

void sim_device_send(struct device *dev)
{
    prepare_io(dev);
    io_done(dev);
}

void sim_device_io(struct device *dev)
{
    struct epoll_event events[COAP_MAX_EPOLL_EVENTS];
    int fd = coap_context_get_coap_fd(dev->ctx);
    int n;

    /* coap_io_process(ctx, COAP_IO_NO_WAIT) without blocking or its cache upkeep */
    prepare_io(dev);
    do {
        /* libcoap reads one datagram per ready socket and call: what it reads next is never
         * a request dropped here */
        radio_drop_requests(dev);
        n = epoll_wait(fd, events, COAP_MAX_EPOLL_EVENTS, 0);
        size_t m = 0;
        bool timer = false;
        for (int i = 0; i < n; i++) {
            if (events[i].data.ptr == NULL && dev->timer_fd >= 0)
                timer = true; /* the timer: see find_timer() */
            else
                events[m++] = events[i];
        }
        if (timer) {
            uint64_t expirations;
            if (read(dev->timer_fd, &expirations, sizeof(expirations)) < 0) {
                /* not due after all: nothing to clear */
            }
            prepare_io(dev);
        }
        if (m > 0)
            coap_io_do_epoll(dev->ctx, events, m); /* prepares again per event */
    } while (n == COAP_MAX_EPOLL_EVENTS);
    io_done(dev);
}

void sim_set_muted(struct sim *sim, bool muted)
{
    sim->muted = muted;
}

void sim_set_silent(struct sim *sim)
{
    sim->silent = true;
}

/* Where the next value change is due (a device per tick_ms / count), INFINITY for none. */
static double next_tick(const struct sim *sim)
{
    if (sim->tick_ms <= 0.0)
        return INFINITY;
    return sim->tick_round_ms + (double)sim->tick_next * sim->tick_ms / (double)sim->device_count;
}

/* Changes the values of the devices whose turn has come and notifies what is due. */
static void run_timers(struct sim *sim, double now)
{
    /* at most one round per call: a loop that fell behind skips changes, never bunches them */
    for (size_t budget = sim->device_count; budget > 0 && next_tick(sim) <= now; budget--) {
        struct device *dev = &sim->devices[sim->tick_next];
        objects_tick(dev, now);
        if (dev->io_wanted)
            sim_device_send(dev);
        if (++sim->tick_next == sim->device_count) {
            sim->tick_next = 0;
            sim->tick_round_ms += sim->tick_ms;
            if (sim->tick_round_ms + sim->tick_ms < now)
                sim->tick_round_ms = now;
        }
    }
    observe_run_due(sim, now);
}

/* Runs the event loop once, blocking at most until `until_ms` (a sim_now_ms() time) or the
 * next value change or notification deadline. */
static void serve_until(struct sim *sim, double until_ms)
{
    struct epoll_event events[GW_EVENTS_MAX];
    double now = sim_now_ms();
    double next = fmin(until_ms, fmin(next_tick(sim), observe_next_due(sim)));
    double wait = fmin(next - now, GW_IDLE_WAIT_MS);
    int n = epoll_wait(sim->epfd, events, GW_EVENTS_MAX, wait > 0.0 ? (int)ceil(wait) : 0);
    if (n < 0 && errno != EINTR)
        fprintf(stderr, "devsim: epoll_wait failed: %s\n", strerror(errno));
    for (int i = 0; i < n; i++)
        sim_device_io(events[i].data.ptr);
    run_timers(sim, sim_now_ms());
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
    while (sim_now_ms() < until && !*sim->opt->interrupted)
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

/* Every device holds three descriptors (GW_FDS_PER_DEVICE): raise the soft limit as far as
 * needed, and the hard limit too where the process may (root, CAP_SYS_RESOURCE), up to the
 * kernel's fs.nr_open. */
static bool ensure_descriptors(size_t count)
{
    struct rlimit limit;
    rlim_t needed = (rlim_t)count * GW_FDS_PER_DEVICE + 64;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0)
        return true; /* let socket creation report the problem */
    if (limit.rlim_cur >= needed)
        return true;
    if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < needed) {
        struct rlimit raised = {.rlim_cur = needed, .rlim_max = needed};
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
            return true;
        fprintf(stderr,
                "devsim: %zu devices need %lu file descriptors (%d each), the limit is %lu\n",
                count, (unsigned long)needed, GW_FDS_PER_DEVICE, (unsigned long)limit.rlim_max);
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

/* Gives `dev` its objects, its context with their resources, its session (coap://; a DTLS
 * one comes with the first request), and a place in the simulator's epoll set. Returns false
 * with a message on stderr; device_free cleans up whatever was made. */
static bool device_setup(struct sim *sim, struct device *dev)
{
    dev->sim = sim;
    dev->heap_pos = SIZE_MAX;
    dev->due_ms = INFINITY;
    dev->awake_until_ms = -INFINITY; /* with --awake: asleep until the first uplink */
    dev->fd = -2;
    dev->timer_fd = -1;
    dev->name = device_name(sim->opt, dev->index);
    dev->ctx = coap_new_context(NULL);
    if (dev->name == NULL || dev->ctx == NULL || !objects_init(dev) || !serve_setup(dev)) {
        fprintf(stderr, "devsim: cannot set up device %zu: out of memory\n", dev->index);
        return false;
    }
    if (!radio_credentials(dev))
        return false;
    int fd = coap_context_get_coap_fd(dev->ctx);
    if (fd < 0) {
        fprintf(stderr, "devsim: this libcoap has no epoll support\n");
        return false;
    }
    dev->timer_fd = find_timer(fd);
    coap_register_response_handler(dev->ctx, on_response);
    coap_register_nack_handler(dev->ctx, on_nack);
    coap_register_event_handler(dev->ctx, radio_event);
    /* A DTLS session waits for the first request, so that handshakes go at --concurrency
     * and under --timeout like the requests they carry. */
    const char *why = NULL;
    if (!sim->opt->dtls && !radio_connect(dev, &why)) {
        fprintf(stderr, "devsim: %s of device %zu: %s\n", why, dev->index, strerror(errno));
        return false;
    }

    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = dev};
    if (epoll_ctl(sim->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        fprintf(stderr, "devsim: epoll_ctl: %s\n", strerror(errno));
        return false;
    }
    return true;
}

static void device_free(struct device *dev)
{
    observe_unschedule(dev);
    /* Going away says nothing: unobservable resources are freed without a 4.04 to their
     * observers, and a session without app data ignores what is still in flight. */
    serve_silence(dev);
    radio_disconnect(dev, dev->sim->silent);
    if (dev->ctx != NULL)
        coap_free_context(dev->ctx); /* closes its descriptors, leaving the epoll set too */
    objects_free(dev);
    free(dev->name);
    free(dev->location);
    free(dev->psk_identity);
    free(dev->cert_file);
    free(dev->key_file);
    free(dev->ca_file);
}

/* Chooses the content formats: --format, else TLV for LwM2M 1.0 and SenML JSON after. */
static void choose_formats(struct sim *sim)
{
    const struct options *opt = sim->opt;
    sim->format = strcmp(opt->version, "1.0") == 0 ? GW_FMT_TLV : GW_FMT_SENML_JSON;
    if (opt->format != NULL && strcmp(opt->format, "text") == 0)
        sim->text_single = true;
    else if (opt->format != NULL)
        codec_parse_name(opt->format, &sim->format); /* devsim.c checked the name */
    /* Send carries SenML only (TS Core 6.4.4) */
    sim->send_format = sim->format == GW_FMT_SENML_CBOR ? GW_FMT_SENML_CBOR : GW_FMT_SENML_JSON;
}

/* Sets up the objects and one context and session per device. Returns false with a message
 * on stderr; sim_free cleans up whatever was made. */
static bool sim_setup(struct sim *sim)
{
    const struct options *opt = sim->opt;

    if (!resolve_server(opt, &sim->server) || !ensure_descriptors(opt->count))
        return false;
    choose_formats(sim);
    sim->started_ms = sim_now_ms();
    sim->tick_round_ms = sim->started_ms + opt->rate_after * 1e3;
    sim->tick_ms = opt->rate > 0.0 ? 1e3 / opt->rate : 0.0;
    sim->model = model_new();
    sim->epfd = epoll_create1(EPOLL_CLOEXEC);
    sim->devices = calloc(opt->count, sizeof(*sim->devices));
    sim->heap = calloc(opt->count, sizeof(struct device *));
    if (sim->model == NULL || sim->epfd < 0 || sim->devices == NULL || sim->heap == NULL ||
        !objects_layout(&sim->layout, sim->model, opt->objects)) {
        fprintf(stderr, "devsim: out of memory\n");
        return false;
    }
    for (size_t i = 0; i < opt->count; i++) {
        sim->device_count = i + 1;
        sim->devices[i].index = i;
        if (!device_setup(sim, &sim->devices[i]))
            return false;
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
    sim->epfd = -1;
    sim->muted = opt->unresponsive;
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
    for (size_t i = 0; i < sim->device_count; i++)
        device_free(&sim->devices[i]);
    free(sim->devices);
    free(sim->heap);
    if (sim->epfd >= 0)
        close(sim->epfd);
    objects_layout_clear(&sim->layout);
    model_free(sim->model);
    data_records_clear(&sim->records);
    free(sim->register_payload);
    free(sim);
}

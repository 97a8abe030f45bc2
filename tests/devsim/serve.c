/* serve.c - a simulated device answering its LwM2M server: Read, Observe and its
 * notifications (GET), Write and Write-Attributes (PUT), Partial Update and Execute (POST).
 * Every path the device has is a libcoap resource of the device's own context, so that
 * libcoap keeps the observers of each path; other paths fall to the catch-all (4.04).
 * Payloads are encoded and decoded by the gateway's own codecs. libcoap calls the GET handler
 * for every notification too, with the observer's original request: is_notification tells
 * the two apart. */

#include "sim_internal.h"

#include <stdlib.h>
#include <string.h>

#include "gw.h"

/* Longest reason sent back as the payload of an error answer. */
#define GW_WHY_MAX 160
/* Longest URI of a resource: root, four ids, slashes. */
#define GW_URI_MAX 300

static const char *method_name(coap_pdu_code_t code)
{
    switch (code) {
    case COAP_REQUEST_CODE_GET:
        return "GET";
    case COAP_REQUEST_CODE_POST:
        return "POST";
    case COAP_REQUEST_CODE_PUT:
        return "PUT";
    case COAP_REQUEST_CODE_DELETE:
        return "DELETE";
    case COAP_REQUEST_CODE_FETCH:
        return "FETCH";
    case COAP_REQUEST_CODE_PATCH:
        return "PATCH";
    case COAP_REQUEST_CODE_IPATCH:
        return "iPATCH";
    default:
        return "?";
    }
}

static void code_text(coap_pdu_code_t code, char out[8])
{
    snprintf(out, 8, "%u.%02u", ((unsigned)code >> 5) & 7u, (unsigned)code & 0x1fu);
}

/* Reads an unsigned option of `pdu` (Observe, Accept, Content-Format). */
static bool uint_option(const coap_pdu_t *pdu, coap_option_num_t number, unsigned *out)
{
    coap_opt_iterator_t it;
    coap_opt_t *opt = pdu ? coap_check_option(pdu, number, &it) : NULL;
    if (opt == NULL)
        return false;
    *out = coap_decode_var_bytes(coap_opt_value(opt), coap_opt_length(opt));
    return true;
}

/* ---- output ----------------------------------------------------------------------------- */

/* What one served request or notification looked like, for the output lines. */
struct outcome {
    const char *event; /* "request" or "notify" */
    coap_pdu_code_t method;
    char path[GW_URI_MAX + 2]; /* as the server wrote it, "/3303/0" */
    size_t path_len;
    const coap_string_t *query;
    coap_pdu_code_t code;
    const char *format; /* codec name of the payload sent, or NULL */
    bool has_observe;
    unsigned observe; /* the request's Observe, or the notification's sequence number */
    bool con;         /* a confirmable notification */
};

/* Prints the stderr line of a served request (unless --quiet) and, with --trace, the JSON
 * line of a request or notification on stdout. */
static void report(const struct device *dev, const struct outcome *o)
{
    const struct options *opt = dev->sim->opt;
    char code[8];
    code_text(o->code, code);
    int path_len = (int)(o->path_len > 128 ? 128 : o->path_len);

    if (!opt->quiet && strcmp(o->event, "request") == 0)
        fprintf(stderr, "devsim: ep=%s request=%s path=%.*s%s%.*s code=%s\n", dev->name,
                method_name(o->method), path_len, o->path, o->query ? " query=" : "",
                o->query ? (int)(o->query->length > 128 ? 128 : o->query->length) : 0,
                o->query ? (const char *)o->query->s : "", code);
    if (!opt->trace)
        return;
    fputs("{\"ep\":", stdout);
    sim_print_json_string(stdout, dev->name, strlen(dev->name));
    printf(",\"event\":\"%s\"", o->event);
    if (strcmp(o->event, "request") == 0)
        printf(",\"method\":\"%s\"", method_name(o->method));
    fputs(",\"path\":", stdout);
    sim_print_json_string(stdout, o->path, o->path_len);
    if (o->query) {
        fputs(",\"query\":", stdout);
        sim_print_json_string(stdout, (const char *)o->query->s, o->query->length);
    }
    if (strcmp(o->event, "notify") == 0) {
        printf(",\"seq\":%u,\"type\":\"%s\"", o->observe, o->con ? "con" : "non");
        if (o->code != COAP_RESPONSE_CODE_CONTENT)
            printf(",\"code\":\"%s\"", code);
    } else {
        printf(",\"code\":\"%s\"", code);
        if (o->has_observe)
            printf(",\"observe\":%u", o->observe);
    }
    if (o->format)
        printf(",\"format\":\"%s\"", o->format);
    printf(",\"t\":%.3f}\n", sim_elapsed(dev->sim));
    fflush(stdout);
}

/* Sets an error answer with `why` as its diagnostic payload. */
static void fail(coap_pdu_t *response, coap_pdu_code_t code, const char *why)
{
    coap_pdu_set_code(response, code);
    if (why && *why)
        coap_add_data(response, strlen(why), (const uint8_t *)why);
}

/* ---- handlers --------------------------------------------------------------------------- */

/* The device and node a resource handler is called for, or false for a request that reached
 * a device being torn down. */
static bool lookup(coap_resource_t *resource, coap_session_t *session, struct device **dev,
                   unsigned *idx)
{
    struct node *node = coap_resource_get_userdata(resource);
    *dev = coap_session_get_app_data(session);
    if (*dev == NULL || node == NULL)
        return false;
    *idx = (unsigned)(node - (*dev)->nodes);
    return true;
}

static void start_outcome(struct outcome *o, coap_resource_t *resource, const coap_pdu_t *request,
                          const coap_string_t *query)
{
    coap_str_const_t *uri = coap_resource_get_uri_path(resource);
    size_t len = uri->length < GW_URI_MAX ? uri->length : GW_URI_MAX;
    memset(o, 0, sizeof(*o));
    o->event = "request";
    o->method = coap_pdu_get_code(request);
    /* libcoap keeps resource paths without the leading '/': the output shows it. */
    o->path[0] = '/';
    memcpy(o->path + 1, uri->s, len);
    o->path[len + 1] = '\0';
    o->path_len = len + 1;
    o->query = query && query->length > 0 ? query : NULL;
}

/* Encodes node `idx` for a Read or a notification into `response`: in the format of the
 * request's Accept, else the device's (--format). Returns the code set. */
static coap_pdu_code_t answer_read(struct device *dev, unsigned idx, const coap_pdu_t *request,
                                   coap_pdu_t *response, struct outcome *o)
{
    struct sim *sim = dev->sim;
    const struct node_def *d = &sim->layout.defs[idx];
    char why[GW_WHY_MAX] = "out of memory";
    unsigned accept;
    enum codec_format format = sim->format;
    bool asked = uint_option(request, COAP_OPTION_ACCEPT, &accept);

    if (d->path.depth >= 3 && !(d->ops & GW_OP_R)) {
        fail(response, COAP_RESPONSE_CODE_NOT_ALLOWED, "not readable");
        return COAP_RESPONSE_CODE_NOT_ALLOWED;
    }
    if (asked)
        format = (enum codec_format)accept;
    else if (sim->text_single && d->has_value)
        format = GW_FMT_TEXT;
    if (asked && codec_name(format) == NULL) {
        fail(response, COAP_RESPONSE_CODE_NOT_ACCEPTABLE, "unsupported Accept");
        return COAP_RESPONSE_CODE_NOT_ACCEPTABLE;
    }

    data_records_reset(&sim->records);
    struct codec_ctx ctx = {.base = d->path, .model = sim->model};
    size_t len = 0;
    int rc = objects_read(dev, idx, false, &sim->records);
    if (rc == GW_OK)
        rc = codec_encode(format, &sim->records, &ctx, sim->payload, sizeof(sim->payload), &len,
                          why, sizeof(why));
    if (rc < 0) {
        coap_pdu_code_t code = asked && rc == -GW_ERR_INVALID ? COAP_RESPONSE_CODE_NOT_ACCEPTABLE
                                                              : COAP_RESPONSE_CODE_INTERNAL_ERROR;
        if (code == COAP_RESPONSE_CODE_INTERNAL_ERROR)
            fprintf(stderr, "devsim: ep=%s cannot encode path=%s format=%s: %s\n", dev->name,
                    o->path, codec_name(format) ? codec_name(format) : "?", why);
        fail(response, code, why);
        return code;
    }
    uint8_t cf[4];
    coap_add_option(response, COAP_OPTION_CONTENT_FORMAT,
                    coap_encode_var_safe(cf, sizeof(cf), (unsigned)format), cf);
    if (!coap_add_data(response, len, sim->payload)) {
        coap_pdu_set_code(response, COAP_RESPONSE_CODE_INTERNAL_ERROR);
        fprintf(stderr, "devsim: ep=%s path=%s: %zu bytes do not fit into one message\n", dev->name,
                o->path, len);
        return COAP_RESPONSE_CODE_INTERNAL_ERROR;
    }
    o->format = codec_name(format);
    coap_pdu_set_code(response, COAP_RESPONSE_CODE_CONTENT);
    return COAP_RESPONSE_CODE_CONTENT;
}

/* Whether libcoap calls the GET handler of node `idx` to build a notification rather than to
 * answer a request. An answer to a confirmable request is an ACK and devsim never answers
 * separately, so a CON is a notification, and so is a NON that answers a CON request (the
 * observer's request, which libcoap hands over again). A NON answering a NON is either: the
 * node is armed from the moment the device tells libcoap to notify until its I/O is done. */
static bool is_notification(const struct device *dev, unsigned idx, const coap_pdu_t *request,
                            const coap_pdu_t *response)
{
    coap_pdu_type_t type = coap_pdu_get_type(response);
    if (type == COAP_MESSAGE_ACK)
        return false;
    if (type == COAP_MESSAGE_CON || request == NULL ||
        coap_pdu_get_type(request) == COAP_MESSAGE_CON)
        return true;
    return dev->nodes[idx].armed;
}

/* GET: Read, Observe=0 (libcoap added the observer and the Observe option before calling),
 * Observe=1 (libcoap dropped the observer), and every notification. */
static void on_get(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
                   const coap_string_t *query, coap_pdu_t *response)
{
    struct device *dev;
    unsigned idx;
    struct outcome o;
    if (!lookup(resource, session, &dev, &idx)) {
        coap_pdu_set_code(response, COAP_RESPONSE_CODE_NOT_FOUND);
        return;
    }
    bool notification = is_notification(dev, idx, request, response);
    start_outcome(&o, resource, request, query);
    o.has_observe = uint_option(request, COAP_OPTION_OBSERVE, &o.observe);
    o.code = answer_read(dev, idx, request, response, &o);

    unsigned seq = 0;
    bool observing = uint_option(response, COAP_OPTION_OBSERVE, &seq);
    if (notification) {
        /* pmin and pmax count from when the notification really goes out */
        dev->nodes[idx].last_ms = sim_now_ms();
        o.event = "notify";
        o.observe = seq;
        o.con = coap_pdu_get_type(response) == COAP_MESSAGE_CON;
        o.query = NULL;
    } else if (observing && o.code == COAP_RESPONSE_CODE_CONTENT) {
        observe_started(dev, idx, sim_now_ms());
    }
    report(dev, &o);
}

/* Decodes the payload of a Write (PUT) or Partial Update (POST) and stores it. */
static coap_pdu_code_t write_payload(struct device *dev, unsigned idx, const coap_pdu_t *request,
                                     const uint8_t *data, size_t len, char *why, size_t whylen)
{
    struct sim *sim = dev->sim;
    unsigned cf;
    if (!uint_option(request, COAP_OPTION_CONTENT_FORMAT, &cf)) {
        snprintf(why, whylen, "a Write needs a Content-Format");
        return COAP_RESPONSE_CODE_UNSUPPORTED_CONTENT_FORMAT;
    }
    struct codec_ctx ctx = {.base = sim->layout.defs[idx].path, .model = sim->model};
    data_records_reset(&sim->records);
    int rc = codec_decode((enum codec_format)cf, data, len, &ctx, &sim->records, why, whylen);
    if (rc == -GW_ERR_UNSUPPORTED)
        return COAP_RESPONSE_CODE_UNSUPPORTED_CONTENT_FORMAT;
    if (rc < 0)
        return COAP_RESPONSE_CODE_BAD_REQUEST;
    return objects_write(dev, idx, &sim->records, sim_now_ms(), why, whylen);
}

/* PUT: Write with a payload, Write-Attributes with a query and no payload. */
static void on_put(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
                   const coap_string_t *query, coap_pdu_t *response)
{
    struct device *dev;
    unsigned idx;
    struct outcome o;
    char why[GW_WHY_MAX] = "";
    const uint8_t *data = NULL;
    size_t len = 0;
    if (!lookup(resource, session, &dev, &idx)) {
        coap_pdu_set_code(response, COAP_RESPONSE_CODE_NOT_FOUND);
        return;
    }
    start_outcome(&o, resource, request, query);
    bool has_payload = coap_get_data(request, &len, &data) && len > 0;
    uint8_t depth = dev->sim->layout.defs[idx].path.depth;

    if (has_payload && depth == 1) {
        snprintf(why, sizeof(why), "an object is not written, its instances are");
        o.code = COAP_RESPONSE_CODE_NOT_ALLOWED;
    } else if (has_payload) {
        o.code = write_payload(dev, idx, request, data, len, why, sizeof(why));
    } else if (o.query) {
        o.code = observe_write_attributes(dev, idx, (const char *)o.query->s, o.query->length, why,
                                          sizeof(why));
    } else {
        snprintf(why, sizeof(why), "PUT needs a payload (Write) or a query (Write-Attributes)");
        o.code = COAP_RESPONSE_CODE_BAD_REQUEST;
    }
    if (o.code == COAP_RESPONSE_CODE_CHANGED)
        coap_pdu_set_code(response, o.code);
    else
        fail(response, o.code, why);
    report(dev, &o);
}

/* POST: Execute on a resource, Partial Update on an instance; Create is not simulated. */
static void on_post(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
                    const coap_string_t *query, coap_pdu_t *response)
{
    struct device *dev;
    unsigned idx;
    struct outcome o;
    char why[GW_WHY_MAX] = "";
    const uint8_t *data = NULL;
    size_t len = 0;
    if (!lookup(resource, session, &dev, &idx)) {
        coap_pdu_set_code(response, COAP_RESPONSE_CODE_NOT_FOUND);
        return;
    }
    start_outcome(&o, resource, request, query);
    const struct node_def *d = &dev->sim->layout.defs[idx];
    bool has_payload = coap_get_data(request, &len, &data) && len > 0;

    if (d->path.depth == 3 && (d->ops & GW_OP_E)) {
        objects_execute(dev, idx, sim_now_ms()); /* a payload holds arguments: none used */
        o.code = COAP_RESPONSE_CODE_CHANGED;
    } else if (d->path.depth == 2 && has_payload) {
        o.code = write_payload(dev, idx, request, data, len, why, sizeof(why));
    } else if (d->path.depth == 2) {
        snprintf(why, sizeof(why), "a Partial Update needs a payload");
        o.code = COAP_RESPONSE_CODE_BAD_REQUEST;
    } else {
        snprintf(why, sizeof(why),
                 d->path.depth == 1 ? "Create is not simulated" : "not executable");
        o.code = COAP_RESPONSE_CODE_NOT_ALLOWED;
    }
    if (o.code == COAP_RESPONSE_CODE_CHANGED)
        coap_pdu_set_code(response, o.code);
    else
        fail(response, o.code, why);
    report(dev, &o);
}

/* DELETE, FETCH, PATCH, iPATCH: not simulated. */
static void on_other(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
                     const coap_string_t *query, coap_pdu_t *response)
{
    struct device *dev;
    unsigned idx;
    struct outcome o;
    coap_pdu_set_code(response, COAP_RESPONSE_CODE_NOT_ALLOWED);
    if (!lookup(resource, session, &dev, &idx))
        return;
    start_outcome(&o, resource, request, query);
    o.code = COAP_RESPONSE_CODE_NOT_ALLOWED;
    report(dev, &o);
}

/* Catch-all for paths the device does not have: 4.04, so the server never waits in vain. */
static void on_unknown(coap_resource_t *resource, coap_session_t *session,
                       const coap_pdu_t *request, const coap_string_t *query, coap_pdu_t *response)
{
    (void)resource;
    struct device *dev = coap_session_get_app_data(session);
    coap_pdu_set_code(response, COAP_RESPONSE_CODE_NOT_FOUND);
    if (dev == NULL)
        return;
    coap_string_t *uri = coap_get_uri_path(request);
    size_t len = uri ? (uri->length < GW_URI_MAX ? uri->length : GW_URI_MAX) : 0;
    struct outcome o = {
        .event = "request",
        .method = coap_pdu_get_code(request),
        .path_len = len + 1,
        .query = query && query->length > 0 ? query : NULL,
        .code = COAP_RESPONSE_CODE_NOT_FOUND,
    };
    o.path[0] = '/';
    if (len > 0)
        memcpy(o.path + 1, uri->s, len);
    o.path[len + 1] = '\0';
    coap_delete_string(uri);
    report(dev, &o);
}

/* ---- setup ------------------------------------------------------------------------------ */

static void register_handlers(coap_resource_t *r, coap_method_handler_t get,
                              coap_method_handler_t put, coap_method_handler_t post,
                              coap_method_handler_t other)
{
    coap_register_handler(r, COAP_REQUEST_GET, get);
    coap_register_handler(r, COAP_REQUEST_PUT, put);
    coap_register_handler(r, COAP_REQUEST_POST, post);
    coap_register_handler(r, COAP_REQUEST_DELETE, other);
    coap_register_handler(r, COAP_REQUEST_FETCH, other);
    coap_register_handler(r, COAP_REQUEST_PATCH, other);
    coap_register_handler(r, COAP_REQUEST_IPATCH, other);
}

bool serve_setup(struct device *dev)
{
    const struct sim *sim = dev->sim;
    const char *root = sim->opt->root ? sim->opt->root + 1 : ""; /* "/lwm2m" -> "lwm2m" */
    /* NON_ALWAYS: --notify non means non-confirmable, not libcoap's every fifth confirmable */
    int flags = sim->opt->notify_con ? COAP_RESOURCE_FLAGS_NOTIFY_CON
                                     : COAP_RESOURCE_FLAGS_NOTIFY_NON_ALWAYS;

    for (unsigned i = 0; i < sim->layout.n; i++) {
        char uri[GW_URI_MAX], path[32];
        data_path_format(&sim->layout.defs[i].path, path, sizeof(path));
        snprintf(uri, sizeof(uri), "%s%s", root, *root ? path : path + 1);
        /* coap_resource_init copies the path (no COAP_RESOURCE_FLAGS_RELEASE_URI) */
        coap_resource_t *r = coap_resource_init(coap_make_str_const(uri), flags);
        if (r == NULL)
            return false;
        register_handlers(r, on_get, on_put, on_post, on_other);
        coap_resource_set_get_observable(r, 1);
        coap_resource_set_userdata(r, &dev->nodes[i]);
        coap_add_resource(dev->ctx, r); /* the context owns it from here */
        dev->nodes[i].resource = r;
    }
    coap_resource_t *unknown = coap_resource_unknown_init2(on_unknown, 0);
    if (unknown == NULL)
        return false;
    register_handlers(unknown, on_unknown, on_unknown, on_unknown, on_unknown);
    coap_add_resource(dev->ctx, unknown);
    return true;
}

void serve_silence(struct device *dev)
{
    if (dev->nodes == NULL)
        return;
    for (size_t i = 0; i < dev->sim->layout.n; i++)
        if (dev->nodes[i].resource)
            coap_resource_set_get_observable(dev->nodes[i].resource, 0);
}

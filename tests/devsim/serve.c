/* serve.c - a simulated device answering its LwM2M server: Read, Discover, Observe and its
 * notifications (GET), Write and Write-Attributes (PUT), Partial Update, Execute and Create
 * (POST), Delete; manage.c does Create, Delete and Discover, composite.c the composite
 * operations on the root. Every path the device has is a libcoap resource of the device's own
 * context, so that libcoap keeps the observers of each path; other paths fall to the catch-all
 * (4.04). Payloads are encoded and decoded by the gateway's own codecs. libcoap calls the GET
 * handler for every notification too, with the observer's original request:
 * serve_is_notification tells the two apart. With --delay-ms every request is answered late
 * by libcoap's async support: an empty ACK now, the handler again when the delay is over. */

#include "sim_internal.h"

#include <stdlib.h>
#include <string.h>

#include "gw.h"

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

bool serve_uint_option(const coap_pdu_t *pdu, coap_option_num_t number, unsigned *out)
{
    coap_opt_iterator_t it;
    coap_opt_t *opt = pdu ? coap_check_option(pdu, number, &it) : NULL;
    if (opt == NULL)
        return false;
    *out = coap_decode_var_bytes(coap_opt_value(opt), coap_opt_length(opt));
    return true;
}

/* ---- output ----------------------------------------------------------------------------- */

/* The fields of a request's JSON line that only some requests have. */
static void print_request_fields(const struct outcome *o)
{
    if (o->has_content_format)
        printf(",\"content_format\":%u", o->content_format);
    if (o->has_accept)
        printf(",\"accept\":%u", o->accept);
    if (o->args != NULL) {
        fputs(",\"args\":", stdout);
        sim_print_json_string(stdout, o->args, o->args_len);
    }
    if (o->location[0] != '\0')
        printf(",\"location\":\"%s\"", o->location);
    if (o->separate)
        fputs(",\"separate\":true", stdout);
}

static void print_paths(const struct outcome *o)
{
    if (o->path_count == 0)
        return;
    fputs(",\"paths\":[", stdout);
    for (size_t i = 0; i < o->path_count; i++) {
        char path[32];
        data_path_format(&o->paths[i], path, sizeof(path));
        printf("%s\"%s\"", i ? "," : "", path);
    }
    fputc(']', stdout);
}

void serve_report(const struct device *dev, const struct outcome *o)
{
    const struct options *opt = dev->sim->opt;
    char code[8];
    code_text(o->code, code);
    int path_len = (int)(o->path_len > 128 ? 128 : o->path_len);
    bool request = strcmp(o->event, "request") == 0;
    bool dropped = strcmp(o->event, "dropped") == 0;

    if (!opt->quiet && (request || dropped))
        fprintf(stderr, "devsim: ep=%s request=%s path=%.*s%s%.*s %s%s%s%s\n", dev->name,
                method_name(o->method), path_len, o->path, o->query ? " query=" : "",
                o->query ? (int)(o->query->length > 128 ? 128 : o->query->length) : 0,
                o->query ? (const char *)o->query->s : "",
                dropped ? "dropped=" : "code=", dropped ? o->reason : code,
                o->location[0] ? " location=" : "", o->location);
    if (!opt->trace)
        return;
    fputs("{\"ep\":", stdout);
    sim_print_json_string(stdout, dev->name, strlen(dev->name));
    printf(",\"event\":\"%s\"", o->event);
    if (request || dropped)
        printf(",\"method\":\"%s\"", method_name(o->method));
    fputs(",\"path\":", stdout);
    sim_print_json_string(stdout, o->path, o->path_len);
    if (o->query) {
        fputs(",\"query\":", stdout);
        sim_print_json_string(stdout, (const char *)o->query->s, o->query->length);
    }
    if (dropped) {
        printf(",\"reason\":\"%s\"", o->reason);
    } else if (request) {
        printf(",\"code\":\"%s\"", code);
        if (o->has_observe)
            printf(",\"observe\":%u", o->observe);
        print_request_fields(o);
    } else {
        printf(",\"seq\":%u,\"type\":\"%s\"", o->observe, o->con ? "con" : "non");
        if (o->code != COAP_RESPONSE_CODE_CONTENT)
            printf(",\"code\":\"%s\"", code);
    }
    print_paths(o);
    if (o->format)
        printf(",\"format\":\"%s\"", o->format);
    printf(",\"t\":%.3f}\n", sim_elapsed(dev->sim));
    fflush(stdout);
}

void serve_fail(coap_pdu_t *response, coap_pdu_code_t code, const char *why)
{
    coap_pdu_set_code(response, code);
    if (why && *why)
        coap_add_data(response, strlen(why), (const uint8_t *)why);
}

/* Sets `code` on `response`: alone for a success, with `why` as payload for an error. */
static void answer(coap_pdu_t *response, coap_pdu_code_t code, const char *why)
{
    if (((unsigned)code >> 5) == 2)
        coap_pdu_set_code(response, code);
    else
        serve_fail(response, code, why);
}

/* ---- common steps of the handlers --------------------------------------------------------- */

void serve_outcome(struct outcome *o, coap_resource_t *resource, const coap_pdu_t *request,
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
    o->has_observe = serve_uint_option(request, COAP_OPTION_OBSERVE, &o->observe);
    o->has_content_format =
        serve_uint_option(request, COAP_OPTION_CONTENT_FORMAT, &o->content_format);
    o->has_accept = serve_uint_option(request, COAP_OPTION_ACCEPT, &o->accept);
}

coap_pdu_code_t serve_content(struct device *dev, coap_pdu_t *response, unsigned format, size_t len,
                              const char *path)
{
    uint8_t cf[4];
    coap_add_option(response, COAP_OPTION_CONTENT_FORMAT,
                    coap_encode_var_safe(cf, sizeof(cf), format), cf);
    if (!coap_add_data(response, len, dev->sim->payload)) {
        coap_pdu_set_code(response, COAP_RESPONSE_CODE_INTERNAL_ERROR);
        fprintf(stderr, "devsim: ep=%s path=%s: %zu bytes do not fit into one message\n", dev->name,
                path, len);
        return COAP_RESPONSE_CODE_INTERNAL_ERROR;
    }
    coap_pdu_set_code(response, COAP_RESPONSE_CODE_CONTENT);
    return COAP_RESPONSE_CODE_CONTENT;
}

bool serve_postpone(struct device *dev, coap_session_t *session, const coap_pdu_t *request,
                    struct outcome *o)
{
    unsigned long delay = dev->sim->opt->delay_ms;
    if (delay == 0)
        return false;
    if (coap_find_async(session, coap_pdu_get_token(request)) != NULL) {
        o->separate = true; /* the second call: answer now, as a separate response */
        return false;
    }
    /* NULL (out of memory, a token already waiting): answered at once instead */
    return coap_register_async(session, request,
                               (coap_tick_t)(delay * COAP_TICKS_PER_SECOND / 1000)) != NULL;
}

/* An answer to a confirmable request is an ACK, unless devsim answers late: then it is a CON,
 * found among libcoap's async requests. Otherwise a CON is a notification, and so is a NON
 * that answers a CON request (the observer's request, which libcoap hands over again). A NON
 * answering a NON is either: the node is armed from the moment the device tells libcoap to
 * notify until its I/O is done. */
bool serve_is_notification(const struct node *node, coap_session_t *session,
                           const coap_pdu_t *request, const coap_pdu_t *response)
{
    coap_pdu_type_t type = coap_pdu_get_type(response);
    if (type == COAP_MESSAGE_ACK)
        return false;
    if (request != NULL && coap_find_async(session, coap_pdu_get_token(request)) != NULL)
        return false;
    if (type == COAP_MESSAGE_CON || request == NULL ||
        coap_pdu_get_type(request) == COAP_MESSAGE_CON)
        return true;
    return node->armed;
}

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

/* The common start of the PUT, POST and DELETE handlers: finds the device and node, fills
 * `o`, postpones the answer with --delay-ms, answers 4.04 for a node whose instance was just
 * deleted. Returns false when the handler has nothing more to do. */
static bool begin(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
                  const coap_string_t *query, coap_pdu_t *response, struct device **dev,
                  unsigned *idx, struct outcome *o)
{
    if (!lookup(resource, session, dev, idx)) {
        coap_pdu_set_code(response, COAP_RESPONSE_CODE_NOT_FOUND);
        return false;
    }
    serve_outcome(o, resource, request, query);
    if (serve_postpone(*dev, session, request, o))
        return false;
    if (!(*dev)->nodes[*idx].present) {
        o->code = COAP_RESPONSE_CODE_NOT_FOUND;
        coap_pdu_set_code(response, o->code);
        serve_report(*dev, o);
        return false;
    }
    return true;
}

/* ---- Read and Observe ------------------------------------------------------------------- */

/* Encodes node `idx` for a Read or a notification into `response`: in the format of the
 * request's Accept, else the device's (--format). Returns the code set. */
static coap_pdu_code_t answer_read(struct device *dev, unsigned idx, coap_pdu_t *response,
                                   struct outcome *o)
{
    struct sim *sim = dev->sim;
    const struct node_def *d = &dev->layout->defs[idx];
    char why[GW_WHY_MAX] = "out of memory";
    enum codec_format format = sim->format;

    if (d->path.depth >= 3 && !(d->ops & GW_OP_R)) {
        serve_fail(response, COAP_RESPONSE_CODE_NOT_ALLOWED, "not readable");
        return COAP_RESPONSE_CODE_NOT_ALLOWED;
    }
    if (o->has_accept)
        format = (enum codec_format)o->accept;
    else if (sim->text_single && d->has_value)
        format = GW_FMT_TEXT;
    if (o->has_accept && codec_name(format) == NULL) {
        serve_fail(response, COAP_RESPONSE_CODE_NOT_ACCEPTABLE, "unsupported Accept");
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
        coap_pdu_code_t code = o->has_accept && rc == -GW_ERR_INVALID
                                   ? COAP_RESPONSE_CODE_NOT_ACCEPTABLE
                                   : COAP_RESPONSE_CODE_INTERNAL_ERROR;
        if (code == COAP_RESPONSE_CODE_INTERNAL_ERROR)
            fprintf(stderr, "devsim: ep=%s cannot encode path=%s format=%s: %s\n", dev->name,
                    o->path, codec_name(format) ? codec_name(format) : "?", why);
        serve_fail(response, code, why);
        return code;
    }
    coap_pdu_code_t code = serve_content(dev, response, (unsigned)format, len, o->path);
    if (code == COAP_RESPONSE_CODE_CONTENT)
        o->format = codec_name(format);
    return code;
}

/* GET: Read, Discover (Accept 40), Observe=0 (libcoap added the observer and the Observe
 * option before calling), Observe=1 (libcoap dropped the observer), and every notification. */
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
    struct node *node = &dev->nodes[idx];
    bool notification = serve_is_notification(node, session, request, response);
    serve_outcome(&o, resource, request, query);
    if (!notification && serve_postpone(dev, session, request, &o))
        return;
    bool discover = o.has_accept && o.accept == GW_FMT_LINK;
    if (!node->present) {
        o.code = COAP_RESPONSE_CODE_NOT_FOUND; /* libcoap drops an observer on a 4.04 */
        coap_pdu_set_code(response, o.code);
    } else if (discover) {
        o.code = manage_discover(dev, idx, response, &o);
    } else {
        o.code = answer_read(dev, idx, response, &o);
    }

    unsigned seq = 0;
    bool observing = serve_uint_option(response, COAP_OPTION_OBSERVE, &seq);
    if (notification) {
        /* pmin and pmax count from when the notification really goes out */
        node->last_ms = sim_now_ms();
        dev->sim->notifications++;
        o.event = "notify";
        o.observe = seq;
        o.con = coap_pdu_get_type(response) == COAP_MESSAGE_CON;
        o.query = NULL;
        o.has_content_format = o.has_accept = false;
    } else if (observing && !discover && o.code == COAP_RESPONSE_CODE_CONTENT) {
        observe_started(dev, idx, sim_now_ms());
    }
    serve_report(dev, &o);
}

/* ---- Write, Write-Attributes, Execute, Create, Delete ---------------------------------- */

/* Decodes the payload of a Write (PUT) or Partial Update (POST) and stores it. */
static coap_pdu_code_t write_payload(struct device *dev, unsigned idx, const struct outcome *o,
                                     const uint8_t *data, size_t len, char *why, size_t whylen)
{
    struct sim *sim = dev->sim;
    if (!o->has_content_format) {
        snprintf(why, whylen, "a Write needs a Content-Format");
        return COAP_RESPONSE_CODE_UNSUPPORTED_CONTENT_FORMAT;
    }
    struct codec_ctx ctx = {.base = dev->layout->defs[idx].path, .model = sim->model};
    data_records_reset(&sim->records);
    int rc = codec_decode((enum codec_format)o->content_format, data, len, &ctx, &sim->records, why,
                          whylen);
    if (rc == -GW_ERR_UNSUPPORTED)
        return COAP_RESPONSE_CODE_UNSUPPORTED_CONTENT_FORMAT;
    if (rc < 0)
        return COAP_RESPONSE_CODE_BAD_REQUEST;
    return objects_write(dev, (int)idx, &sim->records, sim_now_ms(), why, whylen);
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
    if (!begin(resource, session, request, query, response, &dev, &idx, &o))
        return;
    bool has_payload = coap_get_data(request, &len, &data) && len > 0;
    uint8_t depth = dev->layout->defs[idx].path.depth;

    if (has_payload && depth == 1) {
        snprintf(why, sizeof(why), "an object is not written, its instances are");
        o.code = COAP_RESPONSE_CODE_NOT_ALLOWED;
    } else if (has_payload) {
        o.code = write_payload(dev, idx, &o, data, len, why, sizeof(why));
    } else if (o.query) {
        o.code = observe_write_attributes(dev, idx, (const char *)o.query->s, o.query->length, why,
                                          sizeof(why));
    } else {
        snprintf(why, sizeof(why), "PUT needs a payload (Write) or a query (Write-Attributes)");
        o.code = COAP_RESPONSE_CODE_BAD_REQUEST;
    }
    answer(response, o.code, why);
    serve_report(dev, &o);
}

/* POST: Execute on a resource, Partial Update on an instance, Create on an object. */
static void on_post(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
                    const coap_string_t *query, coap_pdu_t *response)
{
    struct device *dev;
    unsigned idx;
    struct outcome o;
    char why[GW_WHY_MAX] = "";
    const uint8_t *data = NULL;
    size_t len = 0;
    if (!begin(resource, session, request, query, response, &dev, &idx, &o))
        return;
    const struct node_def *d = &dev->layout->defs[idx];
    bool has_payload = coap_get_data(request, &len, &data) && len > 0;

    if (d->path.depth == 1) {
        o.code = manage_create(dev, idx, request, response, &o);
        serve_report(dev, &o);
        return;
    }
    if (d->path.depth == 3 && (d->ops & GW_OP_E)) {
        if (has_payload) {
            o.args = (const char *)data;
            o.args_len = len;
        }
        if (has_payload && !manage_args_valid((const char *)data, len)) {
            snprintf(why, sizeof(why),
                     "Execute arguments are digits with optional ='text', "
                     "comma separated: 0='now',1");
            o.code = COAP_RESPONSE_CODE_BAD_REQUEST;
        } else {
            objects_execute(dev, idx, sim_now_ms());
            o.code = COAP_RESPONSE_CODE_CHANGED;
        }
    } else if (d->path.depth == 2 && has_payload) {
        o.code = write_payload(dev, idx, &o, data, len, why, sizeof(why));
    } else if (d->path.depth == 2) {
        snprintf(why, sizeof(why), "a Partial Update needs a payload");
        o.code = COAP_RESPONSE_CODE_BAD_REQUEST;
    } else {
        snprintf(why, sizeof(why), "not executable");
        o.code = COAP_RESPONSE_CODE_NOT_ALLOWED;
    }
    answer(response, o.code, why);
    serve_report(dev, &o);
}

/* DELETE: Delete of an instance; 4.05 elsewhere. */
static void on_delete(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
                      const coap_string_t *query, coap_pdu_t *response)
{
    struct device *dev;
    unsigned idx;
    struct outcome o;
    if (!begin(resource, session, request, query, response, &dev, &idx, &o))
        return;
    o.code = manage_delete(dev, idx, response);
    serve_report(dev, &o);
}

/* FETCH, PATCH, iPATCH below the root: not LwM2M. */
static void on_other(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
                     const coap_string_t *query, coap_pdu_t *response)
{
    struct device *dev;
    unsigned idx;
    struct outcome o;
    if (!begin(resource, session, request, query, response, &dev, &idx, &o))
        return;
    o.code = COAP_RESPONSE_CODE_NOT_ALLOWED;
    coap_pdu_set_code(response, o.code);
    serve_report(dev, &o);
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
    struct outcome o;
    memset(&o, 0, sizeof(o));
    if (serve_postpone(dev, session, request, &o)) {
        coap_pdu_set_code(response, 0); /* the empty ACK now */
        return;
    }
    coap_string_t *uri = coap_get_uri_path(request);
    size_t len = uri ? (uri->length < GW_URI_MAX ? uri->length : GW_URI_MAX) : 0;
    o.event = "request";
    o.method = coap_pdu_get_code(request);
    o.path_len = len + 1;
    o.query = query && query->length > 0 ? query : NULL;
    o.code = COAP_RESPONSE_CODE_NOT_FOUND;
    o.has_content_format =
        serve_uint_option(request, COAP_OPTION_CONTENT_FORMAT, &o.content_format);
    o.has_accept = serve_uint_option(request, COAP_OPTION_ACCEPT, &o.accept);
    o.path[0] = '/';
    if (len > 0)
        memcpy(o.path + 1, uri->s, len);
    o.path[len + 1] = '\0';
    coap_delete_string(uri);
    serve_report(dev, &o);
}

/* ---- setup ------------------------------------------------------------------------------ */

static void register_handlers(coap_resource_t *r, coap_method_handler_t get,
                              coap_method_handler_t put, coap_method_handler_t post,
                              coap_method_handler_t del, coap_method_handler_t other)
{
    coap_register_handler(r, COAP_REQUEST_GET, get);
    coap_register_handler(r, COAP_REQUEST_PUT, put);
    coap_register_handler(r, COAP_REQUEST_POST, post);
    coap_register_handler(r, COAP_REQUEST_DELETE, del);
    coap_register_handler(r, COAP_REQUEST_FETCH, other);
    coap_register_handler(r, COAP_REQUEST_PATCH, other);
    coap_register_handler(r, COAP_REQUEST_IPATCH, other);
}

bool serve_add_resources(struct device *dev, unsigned from, unsigned to)
{
    const struct sim *sim = dev->sim;
    const char *root = sim->opt->root ? sim->opt->root + 1 : ""; /* "/lwm2m" -> "lwm2m" */
    /* NON_ALWAYS: --notify non means non-confirmable, not libcoap's every fifth confirmable */
    int flags = sim->opt->notify_con ? COAP_RESOURCE_FLAGS_NOTIFY_CON
                                     : COAP_RESOURCE_FLAGS_NOTIFY_NON_ALWAYS;

    for (unsigned i = from; i < to; i++) {
        if (!dev->nodes[i].present || dev->nodes[i].resource != NULL)
            continue;
        char uri[GW_URI_MAX], path[32];
        data_path_format(&dev->layout->defs[i].path, path, sizeof(path));
        snprintf(uri, sizeof(uri), "%s%s", root, *root ? path : path + 1);
        /* coap_resource_init copies the path (no COAP_RESOURCE_FLAGS_RELEASE_URI) */
        coap_resource_t *r = coap_resource_init(coap_make_str_const(uri), flags);
        if (r == NULL)
            return false;
        register_handlers(r, on_get, on_put, on_post, on_delete, on_other);
        coap_resource_set_get_observable(r, 1);
        coap_resource_set_userdata(r, &dev->nodes[i]);
        coap_add_resource(dev->ctx, r); /* the context owns it from here */
        dev->nodes[i].resource = r;
    }
    return true;
}

bool serve_setup(struct device *dev)
{
    if (!serve_add_resources(dev, 0, (unsigned)dev->layout->n) || !composite_setup(dev))
        return false;
    coap_resource_t *unknown = coap_resource_unknown_init2(on_unknown, 0);
    if (unknown == NULL)
        return false;
    register_handlers(unknown, on_unknown, on_unknown, on_unknown, on_unknown, on_unknown);
    coap_add_resource(dev->ctx, unknown);
    return true;
}

void serve_silence(struct device *dev)
{
    if (dev->root.resource)
        coap_resource_set_get_observable(dev->root.resource, 0);
    if (dev->nodes == NULL)
        return;
    for (size_t i = 0; i < dev->layout->n; i++)
        if (dev->nodes[i].resource)
            coap_resource_set_get_observable(dev->nodes[i].resource, 0);
}

/* composite.c - the composite operations of LwM2M 1.1 on the root path ("/", or --root):
 * Read-Composite (FETCH with the SenML names to read), Observe-Composite (the same FETCH with
 * Observe=0) and Write-Composite (iPATCH with SenML records), in SenML JSON or SenML CBOR.
 * libcoap observes a FETCH like a GET (RFC 8132) and hands each observer's request, payload
 * included, to the FETCH handler for every notification, so a notification reads the paths of
 * its own observation. All Observe-Composite observations of a device share the root resource:
 * a change of any value one of them names notifies them all (observe.c), without pmin/pmax. */

#include "sim_internal.h"

#include <string.h>

#include "gw.h"

static bool senml(unsigned format)
{
    return format == GW_FMT_SENML_JSON || format == GW_FMT_SENML_CBOR;
}

/* Decodes the SenML payload of a composite request on the root into sim->records and copies
 * up to GW_COMPOSITE_PATHS of their paths into o->paths. Returns 0 or the code of the answer,
 * with the reason in `why`. */
static coap_pdu_code_t decode(struct device *dev, const coap_pdu_t *request, struct outcome *o,
                              char *why, size_t whylen)
{
    struct sim *sim = dev->sim;
    const uint8_t *data = NULL;
    size_t len = 0;
    struct codec_ctx ctx = {.base = {.depth = 0}, .model = sim->model};

    if (strcmp(sim->opt->version, "1.0") == 0) {
        snprintf(why, whylen, "composite operations came with LwM2M 1.1");
        return COAP_RESPONSE_CODE_NOT_ALLOWED;
    }
    if (!o->has_content_format || !senml(o->content_format)) {
        snprintf(why, whylen, "composite operations take SenML JSON (110) or SenML CBOR (112)");
        return COAP_RESPONSE_CODE_UNSUPPORTED_CONTENT_FORMAT;
    }
    data_records_reset(&sim->records);
    if (!coap_get_data(request, &len, &data) || len == 0) {
        snprintf(why, whylen, "no paths");
        return COAP_RESPONSE_CODE_BAD_REQUEST;
    }
    if (codec_decode((enum codec_format)o->content_format, data, len, &ctx, &sim->records, why,
                     whylen) < 0)
        return COAP_RESPONSE_CODE_BAD_REQUEST;
    for (size_t i = 0; i < sim->records.n && o->path_count < GW_COMPOSITE_PATHS; i++)
        o->paths[o->path_count++] = sim->records.v[i].path;
    return 0;
}

/* The node of each path in o->paths that the device has, SIZE_MAX for the root, skipping
 * paths below another one listed. Returns how many were written to `nodes`. */
static size_t select_nodes(const struct device *dev, const struct outcome *o, size_t *nodes)
{
    size_t n = 0;
    for (size_t i = 0; i < o->path_count; i++) {
        bool covered = false;
        for (size_t j = 0; j < o->path_count && !covered; j++)
            covered = j != i && data_path_contains(&o->paths[j], &o->paths[i]) &&
                      (o->paths[j].depth < o->paths[i].depth || j < i);
        if (covered)
            continue;
        if (o->paths[i].depth == 0) {
            nodes[n++] = SIZE_MAX;
            continue;
        }
        int at = objects_find_present(dev, &o->paths[i]);
        if (at >= 0)
            nodes[n++] = (size_t)at;
    }
    return n;
}

/* Read-Composite, also for its notifications: the values at the paths the device has, in the
 * format of the Accept, else that of the request. Returns the code set on `response`. */
static coap_pdu_code_t read_composite(struct device *dev, const coap_pdu_t *request,
                                      coap_pdu_t *response, struct outcome *o, size_t *nodes,
                                      size_t *node_count)
{
    struct sim *sim = dev->sim;
    const struct layout *l = dev->layout;
    char why[GW_WHY_MAX] = "";
    struct codec_ctx ctx = {.base = {.depth = 0}, .model = sim->model};
    size_t len = 0;

    coap_pdu_code_t code = decode(dev, request, o, why, sizeof(why));
    unsigned format = o->has_accept ? o->accept : o->content_format;
    if (code == 0 && !senml(format)) {
        snprintf(why, sizeof(why), "Read-Composite answers in SenML JSON or SenML CBOR");
        code = COAP_RESPONSE_CODE_NOT_ACCEPTABLE;
    }
    *node_count = code ? 0 : select_nodes(dev, o, nodes);
    if (code == 0 && *node_count == 0) {
        snprintf(why, sizeof(why), "the device has none of the paths");
        code = COAP_RESPONSE_CODE_NOT_FOUND;
    }
    data_records_reset(&sim->records);
    int rc = GW_OK;
    for (size_t i = 0; code == 0 && rc == GW_OK && i < *node_count; i++) {
        if (nodes[i] != SIZE_MAX) {
            rc = objects_read(dev, (unsigned)nodes[i], false, &sim->records);
            continue;
        }
        for (unsigned j = 0; j < l->n && rc == GW_OK; j = l->defs[j].end)
            rc = objects_read(dev, j, false, &sim->records); /* every object */
    }
    if (code == 0 && rc == GW_OK)
        rc = codec_encode((enum codec_format)format, &sim->records, &ctx, sim->payload,
                          sizeof(sim->payload), &len, why, sizeof(why));
    if (code == 0 && rc < 0) {
        fprintf(stderr, "devsim: ep=%s cannot encode a Read-Composite: %s\n", dev->name, why);
        code = COAP_RESPONSE_CODE_INTERNAL_ERROR;
    }
    if (code != 0) {
        serve_fail(response, code, why);
        return code;
    }
    code = serve_content(dev, response, format, len, o->path);
    if (code == COAP_RESPONSE_CODE_CONTENT)
        o->format = codec_name((enum codec_format)format);
    return code;
}

/* An Observe-Composite was established on `nodes`: changes there notify the root. */
static void started(struct device *dev, const size_t *nodes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < dev->composite_n && dev->composite[k] != nodes[i])
            k++;
        if (k < dev->composite_n)
            continue;
        if (dev->composite_n == GW_COMPOSITE_PATHS) {
            dev->composite[0] = SIZE_MAX; /* too many to tell apart: any change counts */
            dev->composite_n = 1;
            break;
        }
        dev->composite[dev->composite_n++] = nodes[i];
    }
    dev->root.observed = true;
    dev->root.pending = false;
    dev->root.last_ms = sim_now_ms();
}

bool composite_concerns(const struct device *dev, unsigned idx)
{
    const struct layout *l = dev->layout;
    for (size_t k = 0; k < dev->composite_n; k++) {
        size_t c = dev->composite[k];
        if (c == SIZE_MAX || (c <= idx && idx < l->defs[c].end))
            return true;
    }
    return false;
}

/* FETCH: Read-Composite, Observe-Composite (libcoap added the observer before calling) and
 * their notifications. */
static void on_fetch(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
                     const coap_string_t *query, coap_pdu_t *response)
{
    struct device *dev = coap_session_get_app_data(session);
    struct outcome o;
    size_t nodes[GW_COMPOSITE_PATHS], n = 0;
    if (dev == NULL) {
        coap_pdu_set_code(response, COAP_RESPONSE_CODE_NOT_FOUND);
        return;
    }
    bool notification = serve_is_notification(&dev->root, session, request, response);
    serve_outcome(&o, resource, request, query);
    if (!notification && serve_postpone(dev, session, request, &o))
        return;
    o.code = read_composite(dev, request, response, &o, nodes, &n);

    unsigned seq = 0;
    bool observing = serve_uint_option(response, COAP_OPTION_OBSERVE, &seq);
    if (notification) {
        dev->root.last_ms = sim_now_ms();
        o.event = "notify";
        o.observe = seq;
        o.con = coap_pdu_get_type(response) == COAP_MESSAGE_CON;
        o.query = NULL;
        o.has_content_format = o.has_accept = false;
    } else if (observing && o.code == COAP_RESPONSE_CODE_CONTENT) {
        started(dev, nodes, n);
    }
    serve_report(dev, &o);
}

/* iPATCH: Write-Composite, all the records or none. */
static void on_ipatch(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
                      const coap_string_t *query, coap_pdu_t *response)
{
    struct device *dev = coap_session_get_app_data(session);
    struct outcome o;
    char why[GW_WHY_MAX] = "";
    if (dev == NULL) {
        coap_pdu_set_code(response, COAP_RESPONSE_CODE_NOT_FOUND);
        return;
    }
    serve_outcome(&o, resource, request, query);
    if (serve_postpone(dev, session, request, &o))
        return;
    o.code = decode(dev, request, &o, why, sizeof(why));
    if (o.code == 0)
        o.code = objects_write(dev, -1, &dev->sim->records, sim_now_ms(), why, sizeof(why));
    if (o.code == COAP_RESPONSE_CODE_CHANGED)
        coap_pdu_set_code(response, o.code);
    else
        serve_fail(response, o.code, why);
    serve_report(dev, &o);
}

/* GET, PUT, POST, DELETE, PATCH on the root: no LwM2M operation. */
static void on_other(coap_resource_t *resource, coap_session_t *session, const coap_pdu_t *request,
                     const coap_string_t *query, coap_pdu_t *response)
{
    struct device *dev = coap_session_get_app_data(session);
    struct outcome o;
    coap_pdu_set_code(response, COAP_RESPONSE_CODE_NOT_ALLOWED);
    if (dev == NULL)
        return;
    serve_outcome(&o, resource, request, query);
    if (serve_postpone(dev, session, request, &o)) {
        coap_pdu_set_code(response, 0); /* the empty ACK now */
        return;
    }
    o.code = COAP_RESPONSE_CODE_NOT_ALLOWED;
    serve_report(dev, &o);
}

bool composite_setup(struct device *dev)
{
    const struct options *opt = dev->sim->opt;
    const char *root = opt->root ? opt->root + 1 : ""; /* "/lwm2m" -> "lwm2m" */
    int flags =
        opt->notify_con ? COAP_RESOURCE_FLAGS_NOTIFY_CON : COAP_RESOURCE_FLAGS_NOTIFY_NON_ALWAYS;
    coap_resource_t *r = coap_resource_init(coap_make_str_const(root), flags);
    if (r == NULL)
        return false;
    coap_register_handler(r, COAP_REQUEST_FETCH, on_fetch);
    coap_register_handler(r, COAP_REQUEST_IPATCH, on_ipatch);
    coap_register_handler(r, COAP_REQUEST_GET, on_other);
    coap_register_handler(r, COAP_REQUEST_PUT, on_other);
    coap_register_handler(r, COAP_REQUEST_POST, on_other);
    coap_register_handler(r, COAP_REQUEST_DELETE, on_other);
    coap_register_handler(r, COAP_REQUEST_PATCH, on_other);
    coap_resource_set_get_observable(r, 1);
    coap_resource_set_userdata(r, &dev->root);
    coap_add_resource(dev->ctx, r);
    dev->root.resource = r;
    dev->root.present = true;
    return true;
}

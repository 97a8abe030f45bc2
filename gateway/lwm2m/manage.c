/* manage.c - requests from MQTT as CoAP requests, and their answers as results: the LwM2M
 * Device Management and Service Enablement interface (Read, Write, Execute, Create, Delete,
 * Discover, Write-Attributes, Read-Composite, Write-Composite). The payload of a request is
 * encoded once, when it is queued, in the format the request asked for or the one the device
 * registered with; the answer is decoded in the Content-Format the device chose. */
#include "manage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "observe.h"

#define PAYLOAD_MAX (1u << 20) /* largest request payload built (Block1 carries it) */

struct manage {
    struct ops *ops;
    const struct model *model;
    const struct server_callbacks *cb;
    void *cb_ctx;
    struct data_records answer; /* reused for every answer */
};

static const char *const op_names[] = {
    [GW_OP_READ] = "read",
    [GW_OP_WRITE] = "write",
    [GW_OP_EXECUTE] = "execute",
    [GW_OP_CREATE] = "create",
    [GW_OP_DELETE] = "delete",
    [GW_OP_DISCOVER] = "discover",
    [GW_OP_WRITE_ATTRIBUTES] = "write-attributes",
    [GW_OP_OBSERVE] = "observe",
    [GW_OP_CANCEL_OBSERVE] = "cancel-observe",
    [GW_OP_READ_COMPOSITE] = "read-composite",
    [GW_OP_WRITE_COMPOSITE] = "write-composite",
    [GW_OP_OBSERVE_COMPOSITE] = "observe-composite",
};

const char *request_op_name(enum request_op op)
{
    return (unsigned)op < GW_ARRAY_LEN(op_names) ? op_names[op] : NULL;
}

struct manage *manage_new(struct ops *ops, const struct model *model,
                          const struct server_callbacks *cb, void *cb_ctx)
{
    struct manage *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->ops = ops;
    m->model = model;
    m->cb = cb;
    m->cb_ctx = cb_ctx;
    return m;
}

void manage_free(struct manage *m)
{
    if (!m)
        return;
    data_records_clear(&m->answer);
    free(m);
}

/* True when the `ct` attribute of the registration (a number or a quoted, space-separated
 * list) names `format`. */
static bool ct_has(const char *ct, enum codec_format format)
{
    char want[8];
    int n = snprintf(want, sizeof(want), "%d", (int)format);
    for (const char *p = ct; (p = strstr(p, want)); p += n) {
        bool start = p == ct || p[-1] == ' ' || p[-1] == '"' || p[-1] == '=';
        char end = p[n];
        if (start && (end == '\0' || end == ' ' || end == '"'))
            return true;
    }
    return false;
}

enum codec_format manage_default_format(const struct reg_entry *e)
{
    if (strcmp(e->r.lwm2m, "1.0") == 0)
        return GW_FMT_TLV;
    static const enum codec_format preferred[] = {GW_FMT_SENML_CBOR, GW_FMT_TLV, GW_FMT_SENML_JSON,
                                                  GW_FMT_LWM2M_JSON};
    for (size_t i = 0; e->r.ct[0] && i < GW_ARRAY_LEN(preferred); i++)
        if (ct_has(e->r.ct, preferred[i]))
            return preferred[i];
    return GW_FMT_SENML_CBOR;
}

/* ---- payloads ---- */

static void put_cbor_head(uint8_t *b, size_t *n, uint8_t major, size_t v)
{
    if (v < 24) {
        b[(*n)++] = (uint8_t)(major << 5 | v);
    } else if (v < 256) {
        b[(*n)++] = (uint8_t)(major << 5 | 24);
        b[(*n)++] = (uint8_t)v;
    } else {
        b[(*n)++] = (uint8_t)(major << 5 | 25);
        b[(*n)++] = (uint8_t)(v >> 8);
        b[(*n)++] = (uint8_t)v;
    }
}

int manage_paths_payload(const struct data_path *paths, size_t n, enum codec_format format,
                         uint8_t **out, size_t *len)
{
    if (format != GW_FMT_SENML_JSON && format != GW_FMT_SENML_CBOR)
        return -GW_ERR_INVALID;
    /* A path is at most 24 characters; each entry adds at most 9 bytes of framing. */
    uint8_t *b = malloc(n * 40 + 8);
    if (!b)
        return -GW_ERR_NOMEM;
    size_t used = 0;
    char text[32];
    if (format == GW_FMT_SENML_CBOR)
        put_cbor_head(b, &used, 4, n); /* array */
    else
        b[used++] = '[';
    for (size_t i = 0; i < n; i++) {
        if (data_path_format(&paths[i], text, sizeof(text)) < 0) {
            free(b);
            return -GW_ERR_INVALID;
        }
        size_t tl = strlen(text);
        if (format == GW_FMT_SENML_CBOR) {
            put_cbor_head(b, &used, 5, 1); /* map of one pair: name (SenML label 0) */
            put_cbor_head(b, &used, 0, 0);
            put_cbor_head(b, &used, 3, tl);
            memcpy(b + used, text, tl);
            used += tl;
        } else {
            used += (size_t)sprintf((char *)b + used, "%s{\"n\":\"%s\"}", i ? "," : "", text);
        }
    }
    if (format == GW_FMT_SENML_JSON)
        b[used++] = ']';
    *out = b;
    *len = used;
    return GW_OK;
}

/* Encodes `values` relative to `base` into a new buffer, growing it until it fits. */
static int encode(struct manage *m, enum codec_format format, const struct data_records *values,
                  const struct data_path *base, uint8_t **out, size_t *len, char *err,
                  size_t errlen)
{
    struct codec_ctx ctx = {.base = *base, .model = m->model};
    for (size_t cap = 1024; cap <= PAYLOAD_MAX; cap *= 2) {
        uint8_t *b = malloc(cap);
        if (!b)
            return -GW_ERR_NOMEM;
        int rc = codec_encode(format, values, &ctx, b, cap, len, err, errlen);
        if (rc == GW_OK) {
            *out = b;
            return GW_OK;
        }
        free(b);
        if (rc != -GW_ERR_FULL) {
            if (rc == -GW_ERR_UNSUPPORTED)
                return gw_fail(-GW_ERR_INVALID, err, errlen,
                               "'format' %s cannot be sent: the gateway does not encode it",
                               codec_name(format) ? codec_name(format) : "?");
            return rc;
        }
    }
    return gw_fail(-GW_ERR_INVALID, err, errlen, "the values take more than %u bytes", PAYLOAD_MAX);
}

static void done_request(struct op *op, enum op_end end, const coap_pdu_t *answer)
{
    struct manage *m = op->ctx;
    manage_report(m, op->reg, op->handle, (enum request_op)op->kind, &op->path, end, answer);
}

int manage_submit(struct manage *m, struct reg_entry *e, const struct device_request *req,
                  uint64_t handle, char *err, size_t errlen)
{
    bool composite = req->op == GW_OP_READ_COMPOSITE || req->op == GW_OP_WRITE_COMPOSITE ||
                     req->op == GW_OP_OBSERVE_COMPOSITE;
    enum codec_format format = req->has_format ? req->format : manage_default_format(e);
    if (composite && format != GW_FMT_SENML_JSON && format != GW_FMT_SENML_CBOR) {
        if (req->has_format)
            return gw_fail(-GW_ERR_INVALID, err, errlen,
                           "'format' must be senml-json or senml-cbor for %s", op_names[req->op]);
        format = GW_FMT_SENML_CBOR;
    }
    struct op *op = ops_op_new(m->ops, e, op_names[req->op], done_request, m, NULL, NULL, NULL);
    if (!op)
        return -GW_ERR_NOMEM;
    op->handle = handle;
    op->kind = (int)req->op;
    op->path = req->path;
    int rc = GW_OK;
    struct data_path base = req->path;
    switch (req->op) {
    case GW_OP_READ:
        if (req->has_format)
            op->accept = (int)req->format;
        break;
    case GW_OP_DISCOVER:
        op->accept = GW_FMT_LINK;
        break;
    case GW_OP_WRITE:
    case GW_OP_CREATE:
    case GW_OP_WRITE_COMPOSITE:
        op->method = req->op == GW_OP_WRITE_COMPOSITE          ? COAP_REQUEST_CODE_IPATCH
                     : req->op == GW_OP_WRITE && !req->partial ? COAP_REQUEST_CODE_PUT
                                                               : COAP_REQUEST_CODE_POST;
        if (!req->values || req->values->n == 0) {
            rc = gw_fail(-GW_ERR_INVALID, err, errlen, "'values' is empty: nothing to %s",
                         op_names[req->op]);
            break;
        }
        /* A Create without an instance id carries the resources alone: encoded below the
         * placeholder instance 65535 that mappings/ gives them. */
        if (req->op == GW_OP_CREATE && req->values->v[0].path.depth >= 2 &&
            req->values->v[0].path.id[1] == UINT16_MAX)
            base = data_path_make(2, req->path.id[0], UINT16_MAX);
        rc = encode(m, format, req->values, &base, &op->payload, &op->len, err, errlen);
        op->content_format = (int)format;
        break;
    case GW_OP_EXECUTE:
        op->method = COAP_REQUEST_CODE_POST;
        if (req->args && *req->args) {
            op->len = strlen(req->args);
            op->payload = (uint8_t *)strdup(req->args);
            if (!op->payload)
                rc = -GW_ERR_NOMEM;
        }
        break;
    case GW_OP_DELETE:
        op->method = COAP_REQUEST_CODE_DELETE;
        break;
    case GW_OP_WRITE_ATTRIBUTES:
        op->method = COAP_REQUEST_CODE_PUT;
        observer_attributes_query(op, &req->attrs);
        if (op->n_query == 0)
            rc = gw_fail(-GW_ERR_INVALID, err, errlen, "'attributes' sets nothing");
        break;
    case GW_OP_READ_COMPOSITE:
        op->method = COAP_REQUEST_CODE_FETCH;
        op->path.depth = 0;
        op->content_format = (int)format;
        op->accept = (int)format;
        rc = manage_paths_payload(req->paths, req->n_paths, format, &op->payload, &op->len);
        break;
    default:
        rc = gw_fail(-GW_ERR_INVALID, err, errlen, "'op' %s is not sent by manage_submit",
                     op_names[req->op]);
        break;
    }
    if (req->op == GW_OP_WRITE_COMPOSITE)
        op->path.depth = 0;
    if (rc < 0) {
        ops_op_free(op);
        return rc;
    }
    ops_send(m->ops, op);
    return GW_OK;
}

/* ---- answers ---- */

/* The Location-Path of a Create answer as "/3303/1". */
static void location_of(const coap_pdu_t *pdu, char *out, size_t cap)
{
    coap_opt_iterator_t it;
    coap_opt_t *opt;
    size_t n = 0;
    out[0] = '\0';
    coap_option_iterator_init(pdu, &it, COAP_OPT_ALL);
    while ((opt = coap_option_next(&it))) {
        if (it.number != COAP_OPTION_LOCATION_PATH)
            continue;
        int w = snprintf(out + n, cap - n, "/%.*s", (int)coap_opt_length(opt),
                         (const char *)coap_opt_value(opt));
        if (w < 0 || (size_t)w >= cap - n)
            break;
        n += (size_t)w;
    }
}

void manage_report(struct manage *m, struct reg_entry *e, uint64_t handle, enum request_op op,
                   const struct data_path *base, enum op_end end, const coap_pdu_t *answer)
{
    char error[256] = "", location[64] = "";
    char *links = NULL;
    struct request_result res = {.status = GW_REQ_OK};
    int64_t now = gw_now_mono_ms();

    switch (end) {
    case GW_OP_ANSWERED:
        break;
    case GW_OP_TIMEOUT:
        res.status = GW_REQ_TIMEOUT;
        res.error = "no answer from the device";
        /* A queue-mode device that does not answer has gone back to sleep. */
        if (e->r.queue_mode)
            e->awake_until = now;
        goto out_report;
    case GW_OP_RESET:
        res.status = GW_REQ_DEVICE_ERROR;
        res.error = "the device rejected the message (CoAP Reset)";
        goto out_report;
    case GW_OP_NOT_SENT:
        res.status = GW_REQ_NOT_SENT;
        res.error = "the registration ended before the request was sent";
        goto out_report;
    case GW_OP_ABANDONED:
        res.status = GW_REQ_TIMEOUT;
        res.error = "the request ended before the device answered it (the registration or the "
                    "observation ended)";
        goto out_report;
    }

    coap_pdu_code_t code = coap_pdu_get_code(answer);
    res.code = COAP_RESPONSE_CLASS(code) * 100 + (code & 0x1f);
    const uint8_t *data = NULL;
    size_t len = 0, offset = 0, total = 0;
    if (!coap_get_data_large(answer, &len, &data, &offset, &total))
        len = 0;
    if (COAP_RESPONSE_CLASS(code) != 2) {
        res.status = GW_REQ_DEVICE_ERROR;
        if (len > 0 && gw_utf8_valid(data, len))
            snprintf(error, sizeof(error), "%.*s", (int)len, (const char *)data);
        else
            snprintf(error, sizeof(error), "%s",
                     coap_response_phrase((unsigned char)code)
                         ? coap_response_phrase((unsigned char)code)
                         : "error");
        res.error = error;
        goto out_report;
    }
    switch (op) {
    case GW_OP_READ:
    case GW_OP_OBSERVE:
    case GW_OP_CANCEL_OBSERVE:
    case GW_OP_READ_COMPOSITE:
    case GW_OP_OBSERVE_COMPOSITE: {
        data_records_reset(&m->answer);
        res.values = &m->answer;
        if (len == 0)
            break;
        struct codec_ctx ctx = {.base = *base, .model = m->model};
        int fmt = (int)ops_payload_format(answer, base);
        int rc =
            codec_decode((enum codec_format)fmt, data, len, &ctx, &m->answer, error, sizeof(error));
        if (rc < 0) {
            if (rc != -GW_ERR_INVALID)
                snprintf(error, sizeof(error), "format %d: %s", fmt, gw_strerror(rc));
            res.status = GW_REQ_BAD_ANSWER;
            res.values = NULL;
            res.error = error;
        }
        break;
    }
    case GW_OP_DISCOVER:
        links = malloc(len + 1);
        if (links) {
            if (len) /* no payload: data is NULL, and memcpy(x, NULL, 0) is UB */
                memcpy(links, data, len);
            links[len] = '\0';
        }
        res.links = links ? links : "";
        break;
    case GW_OP_CREATE:
        location_of(answer, location, sizeof(location));
        res.location = location[0] ? location : NULL;
        break;
    default:
        break;
    }

out_report:
    if (m->cb->on_result)
        m->cb->on_result(m->cb_ctx, &e->r, handle, &res);
    free(links);
}

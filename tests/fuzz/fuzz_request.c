/* fuzz_request.c - MQTT requests through mappings_request_parse(): the input is "TOPIC\nPAYLOAD"
 * (the topic up to the first newline, the payload everything after it; no newline: all topic,
 * empty payload), against rules with command topics and the built-in object model. An input
 * whose topic is empty ("\nPAYLOAD") feeds the payload to mappings_request_load() instead, as
 * the hold store would. Whatever parses must write its canonical JSON, load back into the same
 * request and write the same text again; every answer, accepted or refused, must render. A
 * broken promise aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "mappings.h"

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
};

static void same_value(const struct data_value *a, const struct data_value *b)
{
    if (a->type != b->type)
        abort();
    switch (a->type) {
    case GW_TYPE_STRING:
    case GW_TYPE_OPAQUE:
    case GW_TYPE_CORELNK:
        if (a->v.bytes.len != b->v.bytes.len ||
            (a->v.bytes.len && memcmp(a->v.bytes.p, b->v.bytes.p, a->v.bytes.len)))
            abort();
        break;
    case GW_TYPE_FLOAT:
        if (memcmp(&a->v.f, &b->v.f, sizeof(double)))
            abort();
        break;
    case GW_TYPE_BOOLEAN:
        if (a->v.b != b->v.b)
            abort();
        break;
    case GW_TYPE_OBJLNK:
        if (a->v.lnk.oid != b->v.lnk.oid || a->v.lnk.iid != b->v.lnk.iid)
            abort();
        break;
    case GW_TYPE_NONE:
        break;
    default:
        if (a->v.i != b->v.i)
            abort();
    }
}

static bool same_path(const struct data_path *a, const struct data_path *b)
{
    return a->depth == b->depth && !memcmp(a->id, b->id, a->depth * sizeof(a->id[0]));
}

static void same_request(const struct request *a, const struct request *b)
{
    const struct device_request *x = &a->dev, *y = &b->dev;
    if (strcmp(a->ep, b->ep) || !a->id != !b->id || (a->id && strcmp(a->id, b->id)))
        abort();
    if (x->op != y->op || !same_path(&x->path, &y->path) || x->n_paths != y->n_paths ||
        x->partial != y->partial || !x->values != !y->values || !x->args != !y->args ||
        (x->args && strcmp(x->args, y->args)) || x->has_format != y->has_format ||
        (x->has_format && x->format != y->format) || a->ttl != b->ttl)
        abort();
    for (size_t i = 0; i < x->n_paths; i++)
        if (!same_path(&x->paths[i], &y->paths[i]))
            abort();
    const struct observe_spec *s = &x->attrs, *t = &y->attrs;
    if (s->pmin != t->pmin || s->pmax != t->pmax || s->has_gt != t->has_gt ||
        s->has_lt != t->has_lt || s->has_st != t->has_st ||
        memcmp(&s->gt, &t->gt, sizeof(double)) || memcmp(&s->lt, &t->lt, sizeof(double)) ||
        memcmp(&s->st, &t->st, sizeof(double)))
        abort();
    if (a->values.n != b->values.n)
        abort();
    for (size_t i = 0; i < a->values.n; i++) {
        if (!same_path(&a->values.v[i].path, &b->values.v[i].path))
            abort();
        same_value(&a->values.v[i].value, &b->values.v[i].value);
    }
}

/* Renders an answer to `req` (accepted or not); it must render. */
static void answer(const struct model *model, const struct request *req, bool ok, const char *text)
{
    struct response res = {.req = req,
                           .status = ok ? GW_STATUS_OK : GW_STATUS_INVALID,
                           .code = ok ? 205 : 0,
                           .values = ok ? &req->values : NULL,
                           .links = ok ? text : NULL,
                           .error = text,
                           .ts = 1};
    char *json = mappings_response_json(model, &res);
    if (!json)
        abort();
    free(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct model *model;
    static struct mappings *rules;
    char err[256];

    if (!rules) {
        struct mappings_config cfg = {.commands = commands,
                                      .n_commands = sizeof(commands) / sizeof(commands[0])};
        model = model_new();
        rules = mappings_new(&cfg, "lwm2m", 1, err, sizeof(err));
        if (!model || !rules)
            abort();
    }
    const uint8_t *nl = memchr(data, '\n', size);
    size_t tlen = nl ? (size_t)(nl - data) : size;
    const uint8_t *payload = nl ? nl + 1 : data + size;
    size_t plen = size - tlen - (nl ? 1 : 0);
    char *topic = malloc(tlen + 1), *text = malloc(plen + 1);
    if (!topic || !text)
        abort();
    memcpy(topic, data, tlen);
    topic[tlen] = '\0';
    memcpy(text, payload, plen);
    text[plen] = '\0'; /* the payload as a C string, for load, links and error */

    struct request req = {0}, back = {0};
    int rc =
        tlen ? mappings_request_parse(rules, model, topic, payload, plen, &req, err, sizeof(err))
             : mappings_request_load(model, text, &req, err, sizeof(err));
    if (rc == GW_OK) {
        char *json = mappings_request_json(&req);
        if (!json || mappings_request_load(model, json, &back, err, sizeof(err)) != GW_OK)
            abort();
        same_request(&req, &back);
        char *again = mappings_request_json(&back);
        if (!again || strcmp(json, again))
            abort();
        free(again);
        free(json);
        answer(model, &req, true, text);
    } else if (rc == -GW_ERR_INVALID) {
        if (!err[0] || strlen(req.ep) > GW_EP_MAX)
            abort();
        answer(model, &req, false, err);
    } else if (rc != -GW_ERR_NOTFOUND) {
        abort();
    }
    request_clear(&req);
    request_clear(&back);
    free(topic);
    free(text);
    return 0;
}

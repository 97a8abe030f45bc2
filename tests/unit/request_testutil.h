/* request_testutil.h - shared by test_request.c and test_typing.c: a model with the built-in
 * objects and a test object, rules with command topics, the request under test, and helpers that
 * parse a request, assert its refusal and reason, and check that its canonical JSON reads back
 * into the same request. */
#ifndef REQUEST_TESTUTIL_H
#define REQUEST_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "gw.h"
#include "mappings.h"

static struct model *model; /* the built-in objects and a test object 40001 */
static struct mappings *rules;
static struct request req;
static char err[512];

/* Object 40001: 0 Corelnk RW, 1 multiple Unsigned RW. */
static const char test_ddf[] =
    "<LWM2M><Object><Name>Test</Name><ObjectID>40001</ObjectID>"
    "<MultipleInstances>Multiple</MultipleInstances><Resources>"
    "<Item ID=\"0\"><Name>Links</Name><Operations>RW</Operations><Type>Corelnk</Type></Item>"
    "<Item ID=\"1\"><Name>Counts</Name><Operations>RW</Operations>"
    "<MultipleInstances>Multiple</MultipleInstances><Type>Unsigned Integer</Type></Item>"
    "</Resources></Object></LWM2M>";

static struct command_rule commands[] = {
    {.topic = "{prefix}/{ep}/reboot", .op = GW_OP_EXECUTE, .path = "/3/0/4", .line = 10},
    {.topic = "{prefix}/{ep}/setpoint/{iid}", .op = GW_OP_WRITE, .path = "/3308/{iid}/5900"},
    {.topic = "site/{ep}/cmd/{iid}/{rid}",
     .op = GW_OP_READ,
     .path = "/3303/{iid}/{rid}",
     .format = "senml-json"},
    {.topic = "{prefix}/{ep}/temp/{iid}", .op = GW_OP_READ, .path = "/3303/{iid}/5700"},
    {.topic = "{prefix}/{ep}/temp/{rid}", .op = GW_OP_READ, .path = "/3303/0/{rid}"},
    {.topic = "{prefix}/{ep}/many", .op = GW_OP_READ_COMPOSITE},
    {.topic = "{prefix}/{ep}/setmany", .op = GW_OP_WRITE_COMPOSITE},
    {.topic = "{prefix}/{ep}/attrs/{iid}", .op = GW_OP_WRITE_ATTRIBUTES, .path = "/3303/{iid}"},
    {.topic = "{prefix}/{ep}/watch", .op = GW_OP_OBSERVE, .path = "/3303"},
};

static int setup(void **state)
{
    (void)state;
    char path[] = "/tmp/test_request_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, test_ddf, strlen(test_ddf)) != (ssize_t)strlen(test_ddf))
        return -1;
    close(fd);
    model = model_new();
    int rc = model_load_file(model, path, err, sizeof(err));
    unlink(path);
    struct mappings_config cfg = {.commands = commands, .n_commands = GW_ARRAY_LEN(commands)};
    rules = mappings_new(&cfg, "lwm2m", 1, err, sizeof(err));
    return rc == GW_OK && rules ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    request_clear(&req);
    mappings_free(rules);
    model_free(model);
    return 0;
}

static int fresh(void **state)
{
    (void)state;
    request_clear(&req);
    err[0] = '\0';
    return 0;
}

/* ---- helpers ---- */

static inline int parse_with(const struct model *mdl, const char *topic, const char *payload)
{
    request_clear(&req);
    err[0] = '\0';
    return mappings_request_parse(rules, mdl, topic, payload, strlen(payload), &req, err,
                                  sizeof(err));
}

static inline void values_same(const struct data_value *a, const struct data_value *b)
{
    assert_int_equal(a->type, b->type);
    switch (a->type) {
    case GW_TYPE_STRING:
    case GW_TYPE_OPAQUE:
    case GW_TYPE_CORELNK:
        assert_int_equal(a->v.bytes.len, b->v.bytes.len);
        if (a->v.bytes.len)
            assert_memory_equal(a->v.bytes.p, b->v.bytes.p, a->v.bytes.len);
        break;
    case GW_TYPE_FLOAT:
        assert_memory_equal(&a->v.f, &b->v.f, sizeof(double));
        break;
    case GW_TYPE_BOOLEAN:
        assert_int_equal(a->v.b, b->v.b);
        break;
    case GW_TYPE_OBJLNK:
        assert_int_equal(a->v.lnk.oid, b->v.lnk.oid);
        assert_int_equal(a->v.lnk.iid, b->v.lnk.iid);
        break;
    case GW_TYPE_NONE:
        break;
    default:
        assert_int_equal(a->v.i, b->v.i);
    }
}

static inline void paths_same(const struct data_path *a, const struct data_path *b)
{
    assert_int_equal(a->depth, b->depth);
    assert_memory_equal(a->id, b->id, a->depth * sizeof(a->id[0]));
}

/* Writes `req` in canonical JSON, reads it back and asserts that nothing changed; the text of
 * the copy is the same again. Returns the text (the caller frees it). */
static inline char *roundtrip(void)
{
    struct request back = {0};
    char *json = mappings_request_json(&req);
    assert_non_null(json);
    if (mappings_request_load(model, json, &back, err, sizeof(err)) != GW_OK)
        fail_msg("load of %s: %s", json, err);
    assert_string_equal(back.ep, req.ep);
    if (req.id || back.id)
        assert_string_equal(back.id, req.id);
    const struct device_request *a = &req.dev, *b = &back.dev;
    assert_int_equal(a->op, b->op);
    paths_same(&a->path, &b->path);
    assert_int_equal(a->n_paths, b->n_paths);
    for (size_t i = 0; i < a->n_paths; i++)
        paths_same(&a->paths[i], &b->paths[i]);
    assert_int_equal(a->partial, b->partial);
    assert_int_equal(a->values != NULL, b->values != NULL);
    if (a->args || b->args)
        assert_string_equal(a->args, b->args);
    assert_int_equal(a->attrs.pmin, b->attrs.pmin);
    assert_int_equal(a->attrs.pmax, b->attrs.pmax);
    assert_int_equal(a->attrs.has_gt, b->attrs.has_gt);
    assert_int_equal(a->attrs.has_lt, b->attrs.has_lt);
    assert_int_equal(a->attrs.has_st, b->attrs.has_st);
    assert_memory_equal(&a->attrs.gt, &b->attrs.gt, sizeof(double));
    assert_memory_equal(&a->attrs.lt, &b->attrs.lt, sizeof(double));
    assert_memory_equal(&a->attrs.st, &b->attrs.st, sizeof(double));
    assert_int_equal(a->has_format, b->has_format);
    if (a->has_format)
        assert_int_equal(a->format, b->format);
    assert_int_equal(req.ttl, back.ttl);
    assert_int_equal(req.values.n, back.values.n);
    for (size_t i = 0; i < req.values.n; i++) {
        paths_same(&req.values.v[i].path, &back.values.v[i].path);
        values_same(&req.values.v[i].value, &back.values.v[i].value);
    }
    char *again = mappings_request_json(&back);
    assert_string_equal(again, json);
    free(again);
    request_clear(&back);
    return json;
}

/* Parses a JSON request for "dev-1" with the model, checks its round trip, and asserts its
 * canonical JSON when `canonical` is not NULL. */
static inline void json_ok(const char *payload, const char *canonical)
{
    if (parse_with(model, "lwm2m/dev-1/request", payload) != GW_OK)
        fail_msg("%s: %s", payload, err);
    char *json = roundtrip();
    if (canonical && strcmp(json, canonical))
        fail_msg("canonical\n%s\nexpected\n%s", json, canonical);
    free(json);
}

static inline void refused_at(const char *topic, const char *payload, const char *needle)
{
    int rc = parse_with(model, topic, payload);
    if (rc != -GW_ERR_INVALID || !strstr(err, needle))
        fail_msg("%s %s: rc=%d err=\"%s\", expected \"%s\"", topic, payload, rc, err, needle);
}

static inline void json_refused(const char *payload, const char *needle)
{
    refused_at("lwm2m/dev-1/request", payload, needle);
}

static inline void topic_ok(const char *topic, const char *payload)
{
    if (parse_with(model, topic, payload) != GW_OK)
        fail_msg("%s %s: %s", topic, payload, err);
    free(roundtrip());
}

static inline const struct data_record *rec(size_t i)
{
    assert_true(i < req.values.n);
    return &req.values.v[i];
}

static inline void assert_path(const struct data_path *p, const char *text)
{
    char buf[32];
    assert_int_equal(data_path_format(p, buf, sizeof(buf)), GW_OK);
    assert_string_equal(buf, text);
}

static inline void assert_bytes(const struct data_value *v, enum data_type t, const char *bytes,
                                size_t len)
{
    assert_int_equal(v->type, t);
    assert_int_equal(v->v.bytes.len, len);
    assert_memory_equal(v->v.bytes.p, bytes, len);
}

#endif

/* test_response.c - unit tests of mappings/response.c: the answers of SPEC section 4 exactly as
 * written there, every status, "value" against "values", typed values, discover's links split
 * into an array, create's location, what an invalid request's answer echoes, and "ts". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "gw.h"
#include "mappings.h"

#define NOW 1732470000000LL

static struct model *model;
static struct mappings *rules;
static struct request req;
static struct data_records recs;
static char err[256];

static int setup(void **state)
{
    (void)state;
    struct mappings_config cfg = {0};
    model = model_new();
    rules = mappings_new(&cfg, "lwm2m", 1, err, sizeof(err));
    return model && rules ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    request_clear(&req);
    data_records_clear(&recs);
    mappings_free(rules);
    model_free(model);
    return 0;
}

static int fresh(void **state)
{
    (void)state;
    request_clear(&req);
    data_records_reset(&recs);
    return 0;
}

/* Parses a JSON request for "dev-1"; returns the parser's code (err has the reason). */
static int request(const char *payload)
{
    request_clear(&req);
    return mappings_request_parse(rules, model, "lwm2m/dev-1/request", payload, strlen(payload),
                                  &req, err, sizeof(err));
}

static void add(const char *path, struct data_value v)
{
    struct data_path p;
    assert_int_equal(data_path_parse(path, strlen(path), &p), GW_OK);
    assert_int_equal(data_records_add(&recs, &p, &v, false, 0), GW_OK);
}

static struct data_value str(const char *s)
{
    struct data_value v = {.type = GW_TYPE_STRING};
    v.v.bytes.p = (const uint8_t *)s;
    v.v.bytes.len = strlen(s);
    return v;
}

/* Renders `res` and compares it with `expected`; the text must also be valid JSON. */
static void answers(const struct response *res, const char *expected)
{
    char *json = mappings_response_json(model, res);
    assert_non_null(json);
    if (strcmp(json, expected))
        fail_msg("answer\n%s\nexpected\n%s", json, expected);
    json_error_t jerr;
    json_t *j = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
    if (!j)
        fail_msg("%s: %s", json, jerr.text);
    json_decref(j);
    free(json);
}

static void test_spec_examples_come_out_as_written(void **state)
{
    (void)state;
    assert_int_equal(request("{\"id\":\"42\",\"op\":\"read\",\"path\":\"/3/0/0\"}"), GW_OK);
    add("/3/0/0", str("Acme"));
    answers(
        &(struct response){
            .req = &req, .status = GW_STATUS_OK, .code = 205, .values = &recs, .ts = NOW},
        "{\"id\":\"42\",\"op\":\"read\",\"path\":\"/3/0/0\",\"status\":\"ok\",\"code\":\"2.05\","
        "\"value\":\"Acme\",\"ts\":1732470000000}");

    assert_int_equal(
        request("{\"id\":\"43\",\"op\":\"write\",\"path\":\"/3/0/13\",\"value\":1732470000}"),
        GW_OK);
    answers(
        &(struct response){.req = &req, .status = GW_STATUS_OK, .code = 204, .ts = NOW},
        "{\"id\":\"43\",\"op\":\"write\",\"path\":\"/3/0/13\",\"status\":\"ok\",\"code\":\"2.04\","
        "\"ts\":1732470000000}");

    assert_int_equal(request("{\"id\":\"47\",\"op\":\"delete\",\"path\":\"/3303/1\"}"), GW_OK);
    answers(&(struct response){.req = &req,
                               .status = GW_STATUS_DEVICE_ERROR,
                               .code = 404,
                               .error = "Not Found",
                               .ts = NOW},
            "{\"id\":\"47\",\"op\":\"delete\",\"path\":\"/3303/1\",\"status\":\"device-error\","
            "\"code\":\"4.04\",\"error\":\"Not Found\",\"ts\":1732470000000}");

    assert_int_equal(request("{\"id\":\"x\",\"op\":\"execute\",\"path\":\"/3/0\"}"),
                     -GW_ERR_INVALID);
    answers(&(struct response){.req = &req, .status = GW_STATUS_INVALID, .error = err, .ts = NOW},
            "{\"id\":\"x\",\"status\":\"invalid\",\"error\":\"'path' must look like /oid/iid/rid\","
            "\"ts\":1732470000000}");
}

static void test_every_status_has_its_name(void **state)
{
    (void)state;
    static const char *const names[] = {"ok",      "device-error", "timeout",  "invalid",
                                        "offline", "expired",      "rejected", "held"};
    for (size_t i = 0; i < GW_ARRAY_LEN(names); i++)
        assert_string_equal(mappings_status_name((enum response_status)i), names[i]);
    assert_string_equal(mappings_status_name((enum response_status)99), "unknown");
}

static void test_statuses_without_device_answer_echo_the_request(void **state)
{
    (void)state;
    assert_int_equal(request("{\"id\":7,\"op\":\"read\",\"path\":\"/3/0/9\",\"ttl\":60}"), GW_OK);
    static const struct {
        enum response_status status;
        const char *text;
    } cases[] = {
        {GW_STATUS_HELD, "held"},       {GW_STATUS_OFFLINE, "offline"},
        {GW_STATUS_EXPIRED, "expired"}, {GW_STATUS_REJECTED, "rejected"},
        {GW_STATUS_TIMEOUT, "timeout"},
    };
    char want[256];
    for (size_t i = 0; i < GW_ARRAY_LEN(cases); i++) {
        snprintf(want, sizeof(want),
                 "{\"id\":7,\"op\":\"read\",\"path\":\"/3/0/9\",\"status\":\"%s\",\"ts\":5}",
                 cases[i].text);
        answers(&(struct response){.req = &req, .status = cases[i].status, .ts = 5}, want);
    }
    answers(
        &(struct response){
            .req = &req, .status = GW_STATUS_REJECTED, .error = "hold queue full", .ts = 5},
        "{\"id\":7,\"op\":\"read\",\"path\":\"/3/0/9\",\"status\":\"rejected\","
        "\"error\":\"hold queue full\",\"ts\":5}");
}

static void test_request_without_id_has_no_id(void **state)
{
    (void)state;
    assert_int_equal(request("{\"op\":\"observe\",\"path\":\"/3303/0\"}"), GW_OK);
    answers(&(struct response){.req = &req, .status = GW_STATUS_OK, .code = 205, .ts = 1},
            "{\"op\":\"observe\",\"path\":\"/3303/0\",\"status\":\"ok\",\"code\":\"2.05\","
            "\"ts\":1}");
    answers(&(struct response){.status = GW_STATUS_INVALID, .error = "not JSON", .ts = 1},
            "{\"status\":\"invalid\",\"error\":\"not JSON\",\"ts\":1}");
}

static void test_invalid_answer_echoes_op_and_path_only_when_read(void **state)
{
    (void)state;
    /* the path was taken, the value was not */
    assert_int_equal(request("{\"id\":1,\"op\":\"write\",\"path\":\"/3/0/13\",\"value\":\"x\"}"),
                     -GW_ERR_INVALID);
    answers(&(struct response){.req = &req, .status = GW_STATUS_INVALID, .error = "e", .ts = 1},
            "{\"id\":1,\"op\":\"write\",\"path\":\"/3/0/13\",\"status\":\"invalid\","
            "\"error\":\"e\",\"ts\":1}");
    assert_int_equal(request("{\"id\":2,\"op\":\"write\",\"path\":\"/3/0/x\"}"), -GW_ERR_INVALID);
    answers(&(struct response){.req = &req, .status = GW_STATUS_INVALID, .error = "e", .ts = 1},
            "{\"id\":2,\"status\":\"invalid\",\"error\":\"e\",\"ts\":1}");
    /* refused later (by the server, say) with everything read */
    assert_int_equal(request("{\"id\":3,\"op\":\"read-composite\",\"paths\":[\"/3/0/0\"]}"), GW_OK);
    answers(&(struct response){.req = &req, .status = GW_STATUS_INVALID, .error = "1.0", .ts = 1},
            "{\"id\":3,\"op\":\"read-composite\",\"paths\":[\"/3/0/0\"],\"status\":\"invalid\","
            "\"error\":\"1.0\",\"ts\":1}");
}

static void test_instance_read_answers_values_keyed_by_path(void **state)
{
    (void)state;
    assert_int_equal(request("{\"id\":\"r\",\"op\":\"read\",\"path\":\"/3303/0\"}"), GW_OK);
    add("/3303/0/5700", (struct data_value){.type = GW_TYPE_FLOAT, .v.f = 21.0});
    add("/3303/0/5701", str("Cel"));
    answers(
        &(struct response){
            .req = &req, .status = GW_STATUS_OK, .code = 205, .values = &recs, .ts = 9},
        "{\"id\":\"r\",\"op\":\"read\",\"path\":\"/3303/0\",\"status\":\"ok\",\"code\":\"2.05\","
        "\"values\":{\"/3303/0/5700\":21.0,\"/3303/0/5701\":\"Cel\"},\"ts\":9}");
    /* one resource in an instance read is still keyed by its path */
    data_records_reset(&recs);
    add("/3303/0/5700", (struct data_value){.type = GW_TYPE_FLOAT, .v.f = 0.5});
    answers(&(struct response){.req = &req, .status = GW_STATUS_OK, .values = &recs, .ts = 9},
            "{\"id\":\"r\",\"op\":\"read\",\"path\":\"/3303/0\",\"status\":\"ok\","
            "\"values\":{\"/3303/0/5700\":0.5},\"ts\":9}");
    /* an empty instance */
    data_records_reset(&recs);
    add("/3303/0", (struct data_value){.type = GW_TYPE_NONE});
    answers(&(struct response){.req = &req, .status = GW_STATUS_OK, .values = &recs, .ts = 9},
            "{\"id\":\"r\",\"op\":\"read\",\"path\":\"/3303/0\",\"status\":\"ok\","
            "\"values\":{\"/3303/0\":null},\"ts\":9}");
    data_records_reset(&recs);
    answers(&(struct response){.req = &req, .status = GW_STATUS_OK, .values = &recs, .ts = 9},
            "{\"id\":\"r\",\"op\":\"read\",\"path\":\"/3303/0\",\"status\":\"ok\",\"values\":{},"
            "\"ts\":9}");
}

static void test_values_are_typed_like_uplink_json(void **state)
{
    (void)state;
    assert_int_equal(request("{\"op\":\"read-composite\",\"paths\":[\"/1/0\",\"/5/0/0\"]}"), GW_OK);
    add("/1/0/1", (struct data_value){.type = GW_TYPE_INTEGER, .v.i = -3});
    add("/1/0/6", (struct data_value){.type = GW_TYPE_BOOLEAN, .v.b = true});
    add("/1/0/10", (struct data_value){.type = GW_TYPE_OBJLNK, .v.lnk = {11, 2}});
    add("/1/0/14", (struct data_value){.type = GW_TYPE_UNSIGNED, .v.u = 4294967296u});
    struct data_value op = {.type = GW_TYPE_OPAQUE};
    op.v.bytes.p = (const uint8_t *)"\x00\xff";
    op.v.bytes.len = 2;
    add("/5/0/0", op);
    add("/3/0/14", str("a\"\n"));
    answers(&(struct response){.req = &req, .status = GW_STATUS_OK, .values = &recs, .ts = 2},
            "{\"op\":\"read-composite\",\"paths\":[\"/1/0\",\"/5/0/0\"],\"status\":\"ok\","
            "\"values\":{\"/1/0/1\":-3,\"/1/0/6\":true,\"/1/0/10\":\"11:2\","
            "\"/1/0/14\":4294967296,\"/5/0/0\":\"AP8=\",\"/3/0/14\":\"a\\\"\\n\"},"
            "\"ts\":2}");
}

static void test_lone_value_with_its_own_time_gives_the_ts(void **state)
{
    (void)state;
    assert_int_equal(request("{\"op\":\"read\",\"path\":\"/3303/0/5700\"}"), GW_OK);
    struct data_path p = data_path_make(3, 3303, 0, 5700);
    struct data_value v = {.type = GW_TYPE_FLOAT, .v.f = 1.5};
    assert_int_equal(data_records_add(&recs, &p, &v, true, 1732470001.5), GW_OK);
    answers(&(struct response){.req = &req, .status = GW_STATUS_OK, .values = &recs, .ts = 5},
            "{\"op\":\"read\",\"path\":\"/3303/0/5700\",\"status\":\"ok\",\"value\":1.5,"
            "\"ts\":1732470001500}");
}

static void test_discover_links_are_split_outside_brackets_and_quotes(void **state)
{
    (void)state;
    assert_int_equal(request("{\"id\":\"48\",\"op\":\"discover\",\"path\":\"/3\"}"), GW_OK);
    answers(
        &(struct response){.req = &req,
                           .status = GW_STATUS_OK,
                           .code = 205,
                           .links = "</3>;ver=\"1.2\",</3/0>;ct=\"60,110\",</3/0/1>, "
                                    "<a,b>;t=\"x\\\",y\",,</3/0/2>\n",
                           .ts = 3},
        "{\"id\":\"48\",\"op\":\"discover\",\"path\":\"/3\",\"status\":\"ok\",\"code\":\"2.05\","
        "\"links\":[\"</3>;ver=\\\"1.2\\\"\",\"</3/0>;ct=\\\"60,110\\\"\",\"</3/0/1>\","
        "\"<a,b>;t=\\\"x\\\\\\\",y\\\"\",\"</3/0/2>\"],\"ts\":3}");
    answers(&(struct response){.req = &req, .status = GW_STATUS_OK, .links = "", .ts = 3},
            "{\"id\":\"48\",\"op\":\"discover\",\"path\":\"/3\",\"status\":\"ok\",\"links\":[],"
            "\"ts\":3}");
}

static void test_create_answers_the_location(void **state)
{
    (void)state;
    assert_int_equal(
        request("{\"id\":\"46\",\"op\":\"create\",\"path\":\"/3303\",\"values\":{\"5700\":21.5}}"),
        GW_OK);
    answers(
        &(struct response){
            .req = &req, .status = GW_STATUS_OK, .code = 201, .location = "/3303/1", .ts = 4},
        "{\"id\":\"46\",\"op\":\"create\",\"path\":\"/3303\",\"status\":\"ok\",\"code\":\"2.01\","
        "\"location\":\"/3303/1\",\"ts\":4}");
}

static void test_write_composite_answer_lists_the_written_paths(void **state)
{
    (void)state;
    assert_int_equal(request("{\"id\":\"53\",\"op\":\"write-composite\",\"values\":"
                             "{\"/3/0/14\":\"+02\",\"/1/0/1\":300}}"),
                     GW_OK);
    answers(&(struct response){.req = &req, .status = GW_STATUS_OK, .code = 204, .ts = 4},
            "{\"id\":\"53\",\"op\":\"write-composite\",\"paths\":[\"/3/0/14\",\"/1/0/1\"],"
            "\"status\":\"ok\",\"code\":\"2.04\",\"ts\":4}");
    answers(&(struct response){.req = &req, .status = GW_STATUS_DEVICE_ERROR, .code = 500, .ts = 4},
            "{\"id\":\"53\",\"op\":\"write-composite\",\"paths\":[\"/3/0/14\",\"/1/0/1\"],"
            "\"status\":\"device-error\",\"code\":\"5.00\",\"ts\":4}");
}

static void test_error_text_is_escaped(void **state)
{
    (void)state;
    answers(
        &(struct response){
            .status = GW_STATUS_DEVICE_ERROR, .code = 400, .error = "bad \"x\"\n\xff", .ts = -1},
        "{\"status\":\"device-error\",\"code\":\"4.00\",\"error\":\"bad \\\"x\\\"\\n\xef\xbf\xbd\","
        "\"ts\":-1}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_spec_examples_come_out_as_written, fresh),
        cmocka_unit_test_setup(test_every_status_has_its_name, fresh),
        cmocka_unit_test_setup(test_statuses_without_device_answer_echo_the_request, fresh),
        cmocka_unit_test_setup(test_request_without_id_has_no_id, fresh),
        cmocka_unit_test_setup(test_invalid_answer_echoes_op_and_path_only_when_read, fresh),
        cmocka_unit_test_setup(test_instance_read_answers_values_keyed_by_path, fresh),
        cmocka_unit_test_setup(test_values_are_typed_like_uplink_json, fresh),
        cmocka_unit_test_setup(test_lone_value_with_its_own_time_gives_the_ts, fresh),
        cmocka_unit_test_setup(test_discover_links_are_split_outside_brackets_and_quotes, fresh),
        cmocka_unit_test_setup(test_create_answers_the_location, fresh),
        cmocka_unit_test_setup(test_write_composite_answer_lists_the_written_paths, fresh),
        cmocka_unit_test_setup(test_error_text_is_escaped, fresh),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

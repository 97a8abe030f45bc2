/* test_typing.c - unit tests of mappings/typing.c: the values of a request typed by the object
 * model, from JSON and from payload text, per type with its range checks, multiple resources,
 * Execute and read-only resources, resources the model does not know, and the canonical JSON of
 * every type read back unchanged. */
#include <math.h>

#include "request_testutil.h"

/* ---- typing by the model ---- */

static void test_write_with_string_for_integer_is_invalid(void **state)
{
    (void)state;
    json_refused("{\"op\":\"write\",\"path\":\"/1/0/1\",\"value\":\"300\"}",
                 "'value' must be an Integer for /1/0/1 (Lifetime is Integer)");
    json_refused("{\"op\":\"write\",\"path\":\"/1/0/1\",\"value\":300.0}", "must be an Integer");
    json_refused("{\"op\":\"write\",\"path\":\"/3/0/13\",\"value\":1.5}",
                 "'value' must be an Integer for /3/0/13 (Current Time is Time)");
    json_refused("{\"op\":\"write\",\"path\":\"/1/0/1\",\"value\":null}", "must be an Integer");
}

static void test_values_are_typed_by_the_model(void **state)
{
    (void)state;
    json_ok("{\"op\":\"write\",\"path\":\"/3308/0/5900\",\"value\":21}",
            "{\"ep\":\"dev-1\",\"op\":\"write\",\"path\":\"/3308/0/5900\",\"value\":21.0}");
    assert_int_equal(rec(0)->value.type, GW_TYPE_FLOAT);
    json_ok("{\"op\":\"write\",\"path\":\"/3308/0/5900\",\"value\":-0.0}", NULL);
    assert_true(signbit(rec(0)->value.v.f));
    json_ok("{\"op\":\"write\",\"path\":\"/3308/0/5900\",\"value\":0.1}", NULL);
    json_ok("{\"op\":\"write\",\"path\":\"/3308/0/5900\",\"value\":1e300}", NULL);
    json_ok("{\"op\":\"write\",\"path\":\"/1/0/14\",\"value\":9223372036854775807}", NULL);
    assert_int_equal(rec(0)->value.type, GW_TYPE_UNSIGNED);
    json_ok("{\"op\":\"write\",\"path\":\"/1/0/6\",\"value\":false}", NULL);
    assert_int_equal(rec(0)->value.type, GW_TYPE_BOOLEAN);
    json_ok("{\"op\":\"write\",\"path\":\"/1/0/10\",\"value\":\"11:2\"}", NULL);
    assert_int_equal(rec(0)->value.type, GW_TYPE_OBJLNK);
    assert_int_equal(rec(0)->value.v.lnk.oid, 11);
    assert_int_equal(rec(0)->value.v.lnk.iid, 2);
    json_ok("{\"op\":\"write\",\"path\":\"/5/0/0\",\"value\":\"AAEC/w==\"}",
            "{\"ep\":\"dev-1\",\"op\":\"write\",\"path\":\"/5/0/0\",\"value\":\"AAEC/w==\"}");
    assert_bytes(&rec(0)->value, GW_TYPE_OPAQUE, "\x00\x01\x02\xff", 4);
    json_ok("{\"op\":\"write\",\"path\":\"/5/0/0\",\"value\":\"\"}", NULL);
    assert_bytes(&rec(0)->value, GW_TYPE_OPAQUE, "", 0);
    json_ok("{\"op\":\"write\",\"path\":\"/40001/0/0\",\"value\":\"</3/0>;ct=60\"}", NULL);
    assert_bytes(&rec(0)->value, GW_TYPE_CORELNK, "</3/0>;ct=60", 12);
    json_ok("{\"op\":\"write\",\"path\":\"/3/0/14\",\"value\":\"\\\"\\u0001\xe2\x82\xac\"}", NULL);
    assert_bytes(&rec(0)->value, GW_TYPE_STRING, "\"\x01\xe2\x82\xac", 5);
}

static void test_values_out_of_range_or_of_the_wrong_kind_are_invalid(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"\"/1/0/14\",\"value\":-1", "must be a non-negative Integer for /1/0/14 (Initial "
                                     "Registration Delay Timer is Unsigned Integer): -1 is "
                                     "negative"},
        {"\"/1/0/14\",\"value\":1.0", "must be a non-negative Integer"},
        {"\"/3308/0/5900\",\"value\":\"21.5\"", "must be a number for /3308/0/5900"},
        {"\"/3308/0/5900\",\"value\":true", "must be a number"},
        {"\"/1/0/6\",\"value\":1", "must be true or false for /1/0/6"},
        {"\"/1/0/6\",\"value\":\"true\"", "must be true or false"},
        {"\"/3/0/14\",\"value\":2", "must be a string for /3/0/14 (UTC Offset is String)"},
        {"\"/5/0/0\",\"value\":\"AAEC/w\"", "must be a base64 string for /5/0/0 (Package is "
                                            "Opaque): not base64"},
        {"\"/5/0/0\",\"value\":\"AA=C\"", "not base64"},
        {"\"/5/0/0\",\"value\":\"AA\\nC\"", "not base64"},
        {"\"/5/0/0\",\"value\":\"A-_B\"", "not base64"},
        {"\"/5/0/0\",\"value\":[0]", "must be a base64 string"},
        {"\"/1/0/10\",\"value\":\"11\"", "must be a string \"oid:iid\" for /1/0/10"},
        {"\"/1/0/10\",\"value\":\"70000:1\"", "is not an Objlnk"},
        {"\"/1/0/10\",\"value\":1", "must be a string \"oid:iid\""},
        {"\"/40001/0/0\",\"value\":{}", "must be a string for /40001/0/0 (Links is Corelnk)"},
        {"\"/3/0/4\",\"value\":1", "/3/0/4 (Reboot) is an Execute resource and takes no value"},
        {"\"/3/0/0\",\"value\":\"x\"", "'value': /3/0/0 (Manufacturer) is not writable"},
        {"\"/0/0/3\",\"value\":\"AA==\"", "is not writable"},
        {"\"/3/0/13/0\",\"value\":1", "/3/0/13 (Current Time) is a single resource"},
        {"\"/1/0/24\",\"value\":\"1:1\"", "'value' must be an object keyed by resource instance "
                                          "id for /1/0/24 (Alternate APN Links is a multiple "
                                          "resource)"},
        {"\"/1/0/24\",\"value\":{\"a\":\"1:1\"}", "'value.a': a resource instance id must be"},
        {"\"/1/0/24\",\"value\":{\"0\":1}", "'value.0' must be a string \"oid:iid\" for "
                                            "/1/0/24/0"},
        {"\"/3/0/13\",\"value\":{\"0\":1}", "must be an Integer for /3/0/13"},
        {"\"/32000/0/1\",\"value\":null", "'value' must be a number, a string, true or false "
                                          "for /32000/0/1 (not in the object model)"},
        {"\"/32000/0/1\",\"value\":[1]", "not in the object model"},
        {"\"/32000/0/1\",\"value\":{\"0\":{}}", "'value.0' must be a number, a string"},
    };
    char payload[256];
    for (size_t i = 0; i < GW_ARRAY_LEN(cases); i++) {
        snprintf(payload, sizeof(payload), "{\"op\":\"write\",\"path\":%s}", cases[i][0]);
        json_refused(payload, cases[i][1]);
    }
    json_refused("{\"op\":\"create\",\"path\":\"/3\",\"values\":{\"4\":1}}",
                 "'values.4': /3/65535/4 (Reboot) is an Execute resource");
}

static void test_multiple_resource_takes_an_object_of_instances(void **state)
{
    (void)state;
    json_ok("{\"op\":\"write\",\"path\":\"/1/0/24\",\"value\":{\"0\":\"11:0\",\"3\":\"11:1\"}}",
            "{\"ep\":\"dev-1\",\"op\":\"write\",\"path\":\"/1/0/24\",\"value\":"
            "{\"0\":\"11:0\",\"3\":\"11:1\"}}");
    assert_int_equal(req.values.n, 2);
    assert_path(&rec(1)->path, "/1/0/24/3");
    json_ok("{\"op\":\"write\",\"path\":\"/1/0/24\",\"value\":{}}",
            "{\"ep\":\"dev-1\",\"op\":\"write\",\"path\":\"/1/0/24\",\"value\":{}}");
    assert_int_equal(req.values.n, 1);
    assert_int_equal(rec(0)->value.type, GW_TYPE_NONE); /* the resource without instances */
    json_ok("{\"op\":\"write\",\"path\":\"/1/0/24/2\",\"value\":\"11:0\"}",
            "{\"ep\":\"dev-1\",\"op\":\"write\",\"path\":\"/1/0/24/2\",\"value\":\"11:0\"}");
}

static void test_multiple_resource_in_an_instance_write(void **state)
{
    (void)state;
    json_ok("{\"op\":\"write\",\"path\":\"/40001/0\",\"values\":{\"0\":\"<a>\","
            "\"1\":{\"0\":1,\"1\":2}}}",
            "{\"ep\":\"dev-1\",\"op\":\"write\",\"path\":\"/40001/0\",\"values\":{\"0\":\"<a>\","
            "\"1\":{\"0\":1,\"1\":2}}}");
    assert_int_equal(req.values.n, 3);
    assert_path(&rec(2)->path, "/40001/0/1/1");
    assert_int_equal(rec(2)->value.type, GW_TYPE_UNSIGNED);
}

static void test_unknown_resources_are_typed_from_json(void **state)
{
    (void)state;
    json_ok("{\"op\":\"write\",\"path\":\"/32000/0\",\"values\":{\"1\":5,\"2\":2.5,\"3\":true,"
            "\"4\":\"s\",\"5\":{\"7\":-1}}}",
            "{\"ep\":\"dev-1\",\"op\":\"write\",\"path\":\"/32000/0\",\"values\":{\"1\":5,"
            "\"2\":2.5,\"3\":true,\"4\":\"s\",\"5\":{\"7\":-1}}}");
    assert_int_equal(rec(0)->value.type, GW_TYPE_INTEGER);
    assert_int_equal(rec(1)->value.type, GW_TYPE_FLOAT);
    assert_int_equal(rec(2)->value.type, GW_TYPE_BOOLEAN);
    assert_int_equal(rec(3)->value.type, GW_TYPE_STRING);
    assert_path(&rec(4)->path, "/32000/0/5/7");
    /* without a model, nothing is known: Current Time takes a string */
    assert_int_equal(parse_with(NULL, "lwm2m/d/request",
                                "{\"op\":\"write\",\"path\":\"/3/0/13\",\"value\":\"x\"}"),
                     GW_OK);
    assert_int_equal(rec(0)->value.type, GW_TYPE_STRING);
}

static void test_write_topic_payload_is_typed_text(void **state)
{
    (void)state;
    static const struct {
        const char *topic, *payload;
        enum data_type type;
    } cases[] = {
        {"lwm2m/dev-1/write/1/0/1", "300", GW_TYPE_INTEGER},
        {"lwm2m/dev-1/write/1/0/14", "18", GW_TYPE_UNSIGNED},
        {"lwm2m/dev-1/write/3308/0/5900", "21.5", GW_TYPE_FLOAT},
        {"lwm2m/dev-1/write/1/0/6", "1", GW_TYPE_BOOLEAN},
        {"lwm2m/dev-1/write/1/0/6", "false", GW_TYPE_BOOLEAN},
        {"lwm2m/dev-1/write/3/0/13", "1732470000", GW_TYPE_TIME},
        {"lwm2m/dev-1/write/3/0/14", "+02", GW_TYPE_STRING},
        {"lwm2m/dev-1/write/3/0/14", "", GW_TYPE_STRING},
        {"lwm2m/dev-1/write/5/0/0", "AAEC", GW_TYPE_OPAQUE},
        {"lwm2m/dev-1/write/1/0/10", "11:0", GW_TYPE_OBJLNK},
        {"lwm2m/dev-1/write/1/0/24/1", "11:1", GW_TYPE_OBJLNK},
        {"lwm2m/dev-1/write/40001/0/0", "</1>", GW_TYPE_CORELNK},
        {"lwm2m/dev-1/write/32000/1/2", "42", GW_TYPE_STRING}, /* unknown: String */
    };
    for (size_t i = 0; i < GW_ARRAY_LEN(cases); i++) {
        topic_ok(cases[i].topic, cases[i].payload);
        assert_int_equal(req.dev.op, GW_OP_WRITE);
        assert_int_equal(req.values.n, 1);
        assert_int_equal(rec(0)->value.type, cases[i].type);
    }
    assert_path(&req.dev.path, "/32000/1/2");
    assert_string_equal(req.ep, "dev-1");
    topic_ok("lwm2m/dev-1/write/5/0/0", "AAEC");
    assert_bytes(&rec(0)->value, GW_TYPE_OPAQUE, "\x00\x01\x02", 3);
}

static void test_write_topic_text_that_does_not_fit_the_type_is_invalid(void **state)
{
    (void)state;
    static const char *const cases[][3] = {
        {"lwm2m/dev-1/write/1/0/1", "3x",
         "'payload' must be an Integer for /1/0/1 (Lifetime is "
         "Integer): '3x' is not a valid Integer"},
        {"lwm2m/dev-1/write/1/0/1", "", "'payload' must be an Integer"},
        {"lwm2m/dev-1/write/1/0/14", "-1", "is negative"},
        {"lwm2m/dev-1/write/1/0/14", "18446744073709551615", "the largest accepted"},
        {"lwm2m/dev-1/write/1/0/1", "99999999999999999999", "out of range"},
        {"lwm2m/dev-1/write/3308/0/5900", "inf", "'payload' must be a number"},
        {"lwm2m/dev-1/write/1/0/6", "yes", "must be true, false, 1 or 0"},
        {"lwm2m/dev-1/write/5/0/0", "AAE", "must be base64 text"},
        {"lwm2m/dev-1/write/1/0/10", "11", "must be \"oid:iid\""},
        {"lwm2m/dev-1/write/3/0/14", "\xff", "must be UTF-8 text"},
        {"lwm2m/dev-1/write/32000/0/1", "\xc3", "must be UTF-8 text for /32000/0/1 (not in"},
        {"lwm2m/dev-1/write/1/0/24", "11:1", "write one instance"},
        {"lwm2m/dev-1/write/3/0/0", "x", "is not writable"},
        {"lwm2m/dev-1/write/3/0/4", "", "is an Execute resource"},
    };
    for (size_t i = 0; i < GW_ARRAY_LEN(cases); i++)
        refused_at(cases[i][0], cases[i][1], cases[i][2]);
}

static void test_canonical_json_round_trips_text_values(void **state)
{
    (void)state;
    /* every type the write topic makes, and what JSON escapes */
    topic_ok("lwm2m/dev-\"1\"/write/3/0/14", "a\"b\\c\n\t\x01\xe2\x82\xac");
    topic_ok("lwm2m/dev-1/write/1/0/14", "9223372036854775807");
    topic_ok("lwm2m/dev-1/write/3308/0/5900", "2.2250738585072014e-308");
    topic_ok("lwm2m/dev-1/write/3308/0/5900", "-0");
    topic_ok("lwm2m/dev-1/write/3308/0/5900", "123456789012345678");
    topic_ok("lwm2m/dev-1/write/3/0/13", "-5");
    topic_ok("lwm2m/dev-1/execute/3/0/4", "0='a \"b\"',1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_write_with_string_for_integer_is_invalid, fresh),
        cmocka_unit_test_setup(test_values_are_typed_by_the_model, fresh),
        cmocka_unit_test_setup(test_values_out_of_range_or_of_the_wrong_kind_are_invalid, fresh),
        cmocka_unit_test_setup(test_multiple_resource_takes_an_object_of_instances, fresh),
        cmocka_unit_test_setup(test_multiple_resource_in_an_instance_write, fresh),
        cmocka_unit_test_setup(test_unknown_resources_are_typed_from_json, fresh),
        cmocka_unit_test_setup(test_write_topic_payload_is_typed_text, fresh),
        cmocka_unit_test_setup(test_write_topic_text_that_does_not_fit_the_type_is_invalid, fresh),
        cmocka_unit_test_setup(test_canonical_json_round_trips_text_values, fresh),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

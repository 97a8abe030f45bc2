/* test_request.c - unit tests of mappings/request.c (and the commands rules that engine.c
 * compiles): every op of the JSON request with its canonical JSON read back into the same
 * request, every field error, the write and execute topics, command rules with their
 * variables, and the subscription filters. The typing of values: test_typing.c. */
#include "request_testutil.h"

/* ---- every op (SPEC section 4's examples) ---- */

static void test_read_keeps_id_path_and_format(void **state)
{
    (void)state;
    json_ok("{\"id\":\"42\",\"op\":\"read\",\"path\":\"/3/0/0\"}",
            "{\"ep\":\"dev-1\",\"id\":\"42\",\"op\":\"read\",\"path\":\"/3/0/0\"}");
    assert_string_equal(req.ep, "dev-1");
    assert_string_equal(req.id, "\"42\"");
    assert_int_equal(req.dev.op, GW_OP_READ);
    assert_path(&req.dev.path, "/3/0/0");
    assert_null(req.dev.values);
    assert_int_equal(req.ttl, -1);
    assert_int_equal(req.dev.attrs.pmin, -1);
    json_ok("{\"op\":\"read\",\"path\":\"/3\",\"format\":\"senml-cbor\",\"ttl\":0}",
            "{\"ep\":\"dev-1\",\"op\":\"read\",\"path\":\"/3\",\"format\":\"senml-cbor\","
            "\"ttl\":0}");
    assert_true(req.dev.has_format);
    assert_int_equal(req.dev.format, GW_FMT_SENML_CBOR);
    assert_int_equal(req.ttl, 0);
    json_ok("{\"op\":\"read\",\"path\":\"/3/0/7/1\",\"ttl\":86400}", NULL);
}

static void test_write_of_a_time_resource_is_an_integer(void **state)
{
    (void)state;
    json_ok("{\"id\":\"43\",\"op\":\"write\",\"path\":\"/3/0/13\",\"value\":1732470000}",
            "{\"ep\":\"dev-1\",\"id\":\"43\",\"op\":\"write\",\"path\":\"/3/0/13\","
            "\"value\":1732470000}");
    assert_ptr_equal(req.dev.values, &req.values);
    assert_false(req.dev.partial);
    assert_int_equal(req.values.n, 1);
    assert_path(&rec(0)->path, "/3/0/13");
    assert_int_equal(rec(0)->value.type, GW_TYPE_TIME);
    assert_int_equal(rec(0)->value.v.i, 1732470000);
}

static void test_write_of_an_instance_in_update_mode(void **state)
{
    (void)state;
    json_ok(
        "{\"id\":\"44\",\"op\":\"write\",\"path\":\"/1/0\",\"mode\":\"update\","
        "\"values\":{\"1\":300,\"2\":10}}",
        "{\"ep\":\"dev-1\",\"id\":\"44\",\"op\":\"write\",\"path\":\"/1/0\",\"mode\":\"update\","
        "\"values\":{\"1\":300,\"2\":10}}");
    assert_true(req.dev.partial);
    assert_int_equal(req.values.n, 2);
    assert_path(&rec(1)->path, "/1/0/2");
    assert_int_equal(rec(1)->value.type, GW_TYPE_INTEGER);
    json_ok("{\"op\":\"write\",\"path\":\"/1/0\",\"mode\":\"replace\",\"values\":{\"7\":\"U\"}}",
            "{\"ep\":\"dev-1\",\"op\":\"write\",\"path\":\"/1/0\",\"values\":{\"7\":\"U\"}}");
    assert_false(req.dev.partial);
}

static void test_execute_keeps_its_arguments(void **state)
{
    (void)state;
    json_ok("{\"id\":\"45\",\"op\":\"execute\",\"path\":\"/3/0/4\",\"args\":\"0='now'\"}",
            "{\"ep\":\"dev-1\",\"id\":\"45\",\"op\":\"execute\",\"path\":\"/3/0/4\","
            "\"args\":\"0='now'\"}");
    assert_string_equal(req.dev.args, "0='now'");
    assert_ptr_equal(req.dev.args, req.args);
    json_ok("{\"op\":\"execute\",\"path\":\"/3/0/4\",\"args\":\"\"}",
            "{\"ep\":\"dev-1\",\"op\":\"execute\",\"path\":\"/3/0/4\"}");
    assert_null(req.dev.args); /* empty arguments are none */
}

static void test_create_lets_the_device_choose_the_instance(void **state)
{
    (void)state;
    /* Sensor Value is read-only, but a new instance takes its initial value */
    json_ok("{\"id\":\"46\",\"op\":\"create\",\"path\":\"/3303\",\"values\":{\"5700\":21.5}}",
            "{\"ep\":\"dev-1\",\"id\":\"46\",\"op\":\"create\",\"path\":\"/3303\","
            "\"values\":{\"5700\":21.5}}");
    assert_int_equal(req.values.n, 1);
    assert_path(&rec(0)->path, "/3303/65535/5700");
    assert_int_equal(rec(0)->value.type, GW_TYPE_FLOAT);
    json_ok("{\"op\":\"create\",\"path\":\"/3303\"}",
            "{\"ep\":\"dev-1\",\"op\":\"create\",\"path\":\"/3303\"}");
    assert_int_equal(req.values.n, 0);
    assert_ptr_equal(req.dev.values, &req.values);
}

static void test_create_with_iid_names_the_instance(void **state)
{
    (void)state;
    json_ok("{\"op\":\"create\",\"path\":\"/3303\",\"iid\":4,\"values\":{\"5750\":\"x\"}}",
            "{\"ep\":\"dev-1\",\"op\":\"create\",\"path\":\"/3303\",\"iid\":4,"
            "\"values\":{\"5750\":\"x\"}}");
    assert_path(&rec(0)->path, "/3303/4/5750");
    /* without values, an empty instance carries the id */
    json_ok("{\"op\":\"create\",\"path\":\"/3303\",\"iid\":7,\"values\":{}}",
            "{\"ep\":\"dev-1\",\"op\":\"create\",\"path\":\"/3303\",\"iid\":7}");
    assert_int_equal(req.values.n, 1);
    assert_path(&rec(0)->path, "/3303/7");
    assert_int_equal(rec(0)->value.type, GW_TYPE_NONE);
}

static void test_delete_discover_and_cancel_take_a_path(void **state)
{
    (void)state;
    json_ok("{\"id\":\"47\",\"op\":\"delete\",\"path\":\"/3303/1\"}", NULL);
    assert_int_equal(req.dev.op, GW_OP_DELETE);
    json_ok("{\"id\":\"48\",\"op\":\"discover\",\"path\":\"/3\"}", NULL);
    assert_int_equal(req.dev.op, GW_OP_DISCOVER);
    json_ok("{\"id\":\"51\",\"op\":\"cancel-observe\",\"path\":\"/3303/0\"}",
            "{\"ep\":\"dev-1\",\"id\":\"51\",\"op\":\"cancel-observe\",\"path\":\"/3303/0\"}");
    assert_int_equal(req.dev.op, GW_OP_CANCEL_OBSERVE);
}

static void test_write_attributes_fill_the_observe_spec(void **state)
{
    (void)state;
    json_ok("{\"id\":\"49\",\"op\":\"write-attributes\",\"path\":\"/3303/0/5700\","
            "\"attributes\":{\"pmin\":10,\"pmax\":60,\"gt\":30}}",
            "{\"ep\":\"dev-1\",\"id\":\"49\",\"op\":\"write-attributes\",\"path\":\"/3303/0/5700\","
            "\"attributes\":{\"pmin\":10,\"pmax\":60,\"gt\":30.0}}");
    assert_int_equal(req.dev.attrs.pmin, 10);
    assert_int_equal(req.dev.attrs.pmax, 60);
    assert_true(req.dev.attrs.has_gt);
    assert_true(req.dev.attrs.gt == 30.0);
    assert_false(req.dev.attrs.has_lt);
    json_ok("{\"op\":\"write-attributes\",\"path\":\"/3303\",\"attributes\":"
            "{\"lt\":-0.5,\"st\":0.1}}",
            NULL);
    assert_int_equal(req.dev.attrs.pmin, -1);
    assert_true(req.dev.attrs.has_lt && req.dev.attrs.has_st);
}

static void test_observe_takes_optional_attributes(void **state)
{
    (void)state;
    json_ok("{\"id\":\"50\",\"op\":\"observe\",\"path\":\"/3303/0\"}",
            "{\"ep\":\"dev-1\",\"id\":\"50\",\"op\":\"observe\",\"path\":\"/3303/0\"}");
    assert_int_equal(req.dev.attrs.pmax, -1);
    json_ok("{\"op\":\"observe\",\"path\":\"/3303/0/5700\",\"attributes\":{\"pmax\":300}}",
            "{\"ep\":\"dev-1\",\"op\":\"observe\",\"path\":\"/3303/0/5700\","
            "\"attributes\":{\"pmax\":300}}");
    assert_int_equal(req.dev.attrs.pmax, 300);
    json_ok("{\"op\":\"observe\",\"path\":\"/3303/0\",\"attributes\":{}}",
            "{\"ep\":\"dev-1\",\"op\":\"observe\",\"path\":\"/3303/0\"}");
}

static void test_composite_reads_and_observations_take_paths(void **state)
{
    (void)state;
    json_ok("{\"id\":\"52\",\"op\":\"read-composite\",\"paths\":[\"/3/0/0\",\"/3303/0/5700\"]}",
            "{\"ep\":\"dev-1\",\"id\":\"52\",\"op\":\"read-composite\","
            "\"paths\":[\"/3/0/0\",\"/3303/0/5700\"]}");
    assert_int_equal(req.dev.path.depth, 0);
    assert_int_equal(req.dev.n_paths, 2);
    assert_path(&req.dev.paths[1], "/3303/0/5700");
    json_ok("{\"id\":\"54\",\"op\":\"observe-composite\",\"paths\":[\"/3303/0/5700\",\"/3/0/9\"],"
            "\"format\":\"senml-json\"}",
            NULL);
    assert_int_equal(req.dev.op, GW_OP_OBSERVE_COMPOSITE);
}

static void test_write_composite_types_each_path(void **state)
{
    (void)state;
    json_ok("{\"id\":\"53\",\"op\":\"write-composite\",\"values\":{\"/3/0/14\":\"+02\","
            "\"/1/0/1\":300}}",
            "{\"ep\":\"dev-1\",\"id\":\"53\",\"op\":\"write-composite\",\"values\":"
            "{\"/3/0/14\":\"+02\",\"/1/0/1\":300}}");
    assert_int_equal(req.dev.path.depth, 0);
    assert_int_equal(req.values.n, 2);
    assert_int_equal(rec(0)->value.type, GW_TYPE_STRING);
    assert_int_equal(rec(1)->value.type, GW_TYPE_INTEGER);
    json_ok("{\"op\":\"write-composite\",\"values\":{\"/1/0/24\":{\"0\":\"11:0\"},"
            "\"/40001/0/1\":{}}}",
            "{\"ep\":\"dev-1\",\"op\":\"write-composite\",\"values\":{\"/1/0/24/0\":\"11:0\","
            "\"/40001/0/1\":{}}}");
}

static void test_ids_are_kept_as_json_text(void **state)
{
    (void)state;
    json_ok("{\"id\":17,\"op\":\"read\",\"path\":\"/3\"}", NULL);
    assert_string_equal(req.id, "17");
    json_ok("{\"id\":\"a\\\"b\\n\\u00e9\",\"op\":\"read\",\"path\":\"/3\"}", NULL);
    assert_string_equal(req.id, "\"a\\\"b\\n\xc3\xa9\"");
    json_ok("{\"id\":-9223372036854775807,\"op\":\"read\",\"path\":\"/3\"}", NULL);
}

/* ---- field errors ---- */

static void test_every_field_error_names_the_field(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"not json", "not JSON"},
        {"[1]", "must be a JSON object"},
        {"{\"path\":\"/3\"}", "'op' is required"},
        {"{\"op\":\"reed\",\"path\":\"/3\"}", "'op' must be one of read, write"},
        {"{\"op\":3,\"path\":\"/3\"}", "'op' must be one of"},
        {"{\"op\":\"write\",\"path\":\"/3/0/13\",\"vaule\":1}", "unknown field 'vaule'"},
        {"{\"op\":\"read\",\"path\":\"/3\",\"value\":1}", "'value' does not apply to read"},
        {"{\"op\":\"read\",\"path\":\"/3\",\"mode\":\"update\"}", "'mode' does not apply to read"},
        {"{\"op\":\"delete\",\"path\":\"/3/0\",\"format\":\"tlv\"}", "'format' does not apply"},
        {"{\"op\":\"read\",\"path\":\"/3\",\"iid\":1}", "'iid' does not apply to read"},
        {"{\"op\":\"read\",\"path\":\"/3\",\"op\":\"read\"}", "duplicate object key"},
        {"{\"id\":1.5,\"op\":\"read\",\"path\":\"/3\"}", "'id' must be a string or an integer"},
        {"{\"id\":[],\"op\":\"read\",\"path\":\"/3\"}", "'id' must be a string or an integer"},
        {"{\"op\":\"read\"}", "'path' is required for read"},
        {"{\"op\":\"read\",\"path\":3}", "'path' must look like /oid[/iid[/rid[/riid]]]"},
        {"{\"op\":\"read\",\"path\":\"/3/x\"}", "'path' must look like /oid[/iid[/rid[/riid]]]"},
        {"{\"op\":\"read\",\"path\":\"/\"}", "'path' must look like"},
        {"{\"op\":\"read\",\"path\":\"/3/0/1/2/3\"}", "'path' must look like"},
        {"{\"op\":\"read\",\"path\":\"/3/65535\"}", "'path' must look like"},
        {"{\"op\":\"read\",\"path\":\"/70000\"}", "'path' must look like"},
        {"{\"op\":\"execute\",\"path\":\"/3/0\"}", "'path' must look like /oid/iid/rid"},
        {"{\"op\":\"create\",\"path\":\"/3/0\"}", "'path' must look like /oid"},
        {"{\"op\":\"delete\",\"path\":\"/3\"}", "'path' must look like /oid/iid"},
        {"{\"op\":\"discover\",\"path\":\"/3/0/7/1\"}", "'path' must look like /oid[/iid[/rid]]"},
        {"{\"op\":\"write\",\"path\":\"/3\",\"values\":{}}", "'path' must look like /oid/iid["},
        {"{\"op\":\"write\",\"path\":\"/3/0/13\",\"value\":1,\"mode\":\"patch\"}",
         "'mode' must be \"replace\" or \"update\""},
        {"{\"op\":\"write\",\"path\":\"/3/0/13\"}", "'value' is required to write /3/0/13"},
        {"{\"op\":\"write\",\"path\":\"/3/0/13\",\"values\":{\"1\":2}}",
         "'values' is for an instance"},
        {"{\"op\":\"write\",\"path\":\"/1/0\",\"value\":1}", "'values' (keyed by resource id)"},
        {"{\"op\":\"write\",\"path\":\"/1/0\",\"values\":{}}", "'values' must not be empty"},
        {"{\"op\":\"write\",\"path\":\"/1/0\",\"values\":[1]}", "'values' must be an object"},
        {"{\"op\":\"write\",\"path\":\"/1/0\",\"values\":{\"x\":1}}",
         "'values.x': a resource id must be a number"},
        {"{\"op\":\"write\",\"path\":\"/1/0\",\"values\":{\"01\":1}}", "'values.01'"},
        {"{\"op\":\"create\",\"path\":\"/3303\",\"iid\":65535}",
         "'iid' must be an integer 0-65534"},
        {"{\"op\":\"create\",\"path\":\"/3303\",\"iid\":\"1\"}", "'iid' must be an integer"},
        {"{\"op\":\"execute\",\"path\":\"/3/0/4\",\"args\":1}", "'args' must be a string"},
        {"{\"op\":\"execute\",\"path\":\"/3/0/13\"}", "/3/0/13 (Current Time) is not executable"},
        {"{\"op\":\"write-attributes\",\"path\":\"/3\"}", "'attributes' is required"},
        {"{\"op\":\"write-attributes\",\"path\":\"/3\",\"attributes\":{}}",
         "'attributes' must set at least one of pmin"},
        {"{\"op\":\"write-attributes\",\"path\":\"/3\",\"attributes\":[]}",
         "'attributes' must be an object"},
        {"{\"op\":\"write-attributes\",\"path\":\"/3\",\"attributes\":{\"pmin\":-1}}",
         "'attributes.pmin' must be a non-negative integer"},
        {"{\"op\":\"observe\",\"path\":\"/3\",\"attributes\":{\"pmax\":1.5}}",
         "'attributes.pmax' must be a non-negative integer"},
        {"{\"op\":\"observe\",\"path\":\"/3\",\"attributes\":{\"gt\":\"1\"}}",
         "'attributes.gt' must be a number"},
        {"{\"op\":\"observe\",\"path\":\"/3\",\"attributes\":{\"epmin\":1}}",
         "unknown attribute 'epmin'"},
        {"{\"op\":\"observe\",\"path\":\"/3\",\"attributes\":{\"pmin\":60,\"pmax\":10}}",
         "pmin 60 is greater than pmax 10"},
        {"{\"op\":\"read-composite\"}", "'paths' is required for read-composite"},
        {"{\"op\":\"read-composite\",\"paths\":[]}", "'paths' must be an array of 1 to 32"},
        {"{\"op\":\"read-composite\",\"paths\":\"/3\"}", "'paths' must be an array"},
        {"{\"op\":\"read-composite\",\"paths\":[\"/3\",\"3\"]}", "'paths[1]' must look like"},
        {"{\"op\":\"read-composite\",\"path\":\"/3\",\"paths\":[\"/3\"]}",
         "'path' does not apply to read-composite"},
        {"{\"op\":\"write-composite\"}", "'values' (keyed by path) is required"},
        {"{\"op\":\"write-composite\",\"values\":{}}", "'values' must be a non-empty object"},
        {"{\"op\":\"write-composite\",\"values\":{\"/3/0\":{}}}",
         "'values./3/0': a key must look like /oid/iid/rid[/riid]"},
        {"{\"op\":\"write-composite\",\"values\":{\"/1/0/24\":{\"1\":\"1:1\"},"
         "\"/1/0/24/1\":\"2:2\"}}",
         "'values' writes /1/0/24/1 and /1/0/24/1"},
        {"{\"op\":\"write-composite\",\"values\":{\"/1/0/24\":{},\"/1/0/24/1\":\"2:2\"}}",
         "'values' writes /1/0/24 and /1/0/24/1"},
        {"{\"op\":\"read\",\"path\":\"/3\",\"format\":\"xml\"}", "'format' must be one of text"},
        {"{\"op\":\"read\",\"path\":\"/3\",\"ttl\":-1}", "'ttl' must be a non-negative integer"},
        {"{\"op\":\"read\",\"path\":\"/3\",\"ttl\":\"60\"}", "'ttl' must be a non-negative"},
        {"{\"op\":\"read\",\"path\":\"/3\",\"ep\":\"other\"}", "'ep' is 'other' but the topic"},
    };
    for (size_t i = 0; i < GW_ARRAY_LEN(cases); i++)
        json_refused(cases[i][0], cases[i][1]);
    json_ok("{\"op\":\"read\",\"path\":\"/3\",\"ep\":\"dev-1\"}", NULL); /* the same: fine */
}

static void test_long_id_is_refused(void **state)
{
    (void)state;
    char payload[600];
    snprintf(payload, sizeof(payload), "{\"id\":\"%0*d\",\"op\":\"read\",\"path\":\"/3\"}", 255, 0);
    json_refused(payload, "'id' is longer than 256 bytes");
    snprintf(payload, sizeof(payload), "{\"id\":\"%0*d\",\"op\":\"read\",\"path\":\"/3\"}", 254, 0);
    json_ok(payload, NULL);
    assert_int_equal(strlen(req.id), 256);
}

static void test_invalid_request_keeps_what_addresses_the_answer(void **state)
{
    (void)state;
    json_refused("{\"id\":\"x\",\"op\":\"execute\",\"path\":\"/3/0\"}",
                 "'path' must look like /oid/iid/rid");
    assert_string_equal(err, "'path' must look like /oid/iid/rid");
    assert_string_equal(req.ep, "dev-1");
    assert_string_equal(req.id, "\"x\"");
    assert_int_equal(req.dev.path.depth, 0); /* no half path to echo */
    json_refused("{\"id\":5,\"op\":\"bogus\"}", "'op'");
    assert_string_equal(req.id, "5");
    json_refused("{\"op\":\"bogus\",\"id\":5}", "'op'");
    assert_string_equal(req.id, "5"); /* read first, wherever it is */
}

/* ---- the write and execute topics ---- */

static void test_write_and_execute_topics_must_name_a_resource(void **state)
{
    (void)state;
    static const char *const cases[][3] = {
        {"lwm2m/dev-1/write/3/0", "x", "the topic must end in write/{oid}/{iid}/{rid}[/{riid}]"},
        {"lwm2m/dev-1/write", "x", "the topic must end in write/"},
        {"lwm2m/dev-1/write/3/0/13/", "1", "the topic must end in write/"},
        {"lwm2m/dev-1/write/3/0/x", "1", "the topic must end in write/"},
        {"lwm2m/dev-1/execute/3/0", "", "the topic must end in execute/{oid}/{iid}/{rid}"},
        {"lwm2m/dev-1/execute/3/0/4/1", "", "the topic must end in execute/"},
        {"lwm2m/dev-1/execute/3/0/13", "", "/3/0/13 (Current Time) is not executable"},
        {"lwm2m/dev-1/execute/3/0/4", "a\xff", "the arguments must be UTF-8 text"},
    };
    for (size_t i = 0; i < GW_ARRAY_LEN(cases); i++)
        refused_at(cases[i][0], cases[i][1], cases[i][2]);
    int rc = mappings_request_parse(rules, model, "lwm2m/dev-1/execute/3/0/4", "a\0b", 3, &req, err,
                                    sizeof(err));
    assert_int_equal(rc, -GW_ERR_INVALID);
}

static void test_execute_topic_payload_is_the_arguments(void **state)
{
    (void)state;
    topic_ok("lwm2m/dev-1/execute/3/0/4", "0='now'");
    assert_int_equal(req.dev.op, GW_OP_EXECUTE);
    assert_path(&req.dev.path, "/3/0/4");
    assert_string_equal(req.dev.args, "0='now'");
    topic_ok("lwm2m/dev-1/execute/3/0/4", "");
    assert_null(req.dev.args);
    topic_ok("lwm2m/dev-1/execute/32000/0/1", "x"); /* unknown: the device decides */
}

static void test_topics_that_are_not_requests_are_not_found(void **state)
{
    (void)state;
    static const char *const topics[] = {
        "other/dev-1/request",
        "lwm2m/dev-1/status",
        "lwm2m/dev-1",
        "lwm2m",
        "lwm2m/dev-1/requests",
        "lwm2m/dev-1/writer/3/0/1",
        "lwm2mx/dev-1/request",
        "lwm2m/a/b/request",
        "lwm2m/dev-1/reboot/now",
        "site/dev-1/cmd/0",
    };
    for (size_t i = 0; i < GW_ARRAY_LEN(topics); i++) {
        int rc = parse_with(model, topics[i], "{}");
        if (rc != -GW_ERR_NOTFOUND)
            fail_msg("%s: rc=%d err=%s", topics[i], rc, err);
    }
}

static void test_endpoint_level_must_be_a_name(void **state)
{
    (void)state;
    char topic[300];
    refused_at("lwm2m//request", "{}", "endpoint level must be 1 to 128 bytes");
    assert_string_equal(req.ep, "");
    snprintf(topic, sizeof(topic), "lwm2m/%0*d/request", 129, 0);
    refused_at(topic, "{}", "endpoint level");
    snprintf(topic, sizeof(topic), "lwm2m/%0*d/request", 128, 0);
    assert_int_equal(parse_with(model, topic, "{\"op\":\"read\",\"path\":\"/3\"}"), GW_OK);
    assert_int_equal(strlen(req.ep), 128);
    refused_at("lwm2m/\xff/request", "{}", "UTF-8");
    refused_at("lwm2m//reboot", "", "endpoint level");
}

static void test_prefix_may_have_levels(void **state)
{
    (void)state;
    struct mappings_config cfg = {.commands = commands, .n_commands = 2};
    struct mappings *m = mappings_new(&cfg, "a/b", 1, err, sizeof(err));
    assert_non_null(m);
    const char *p = "{\"op\":\"read\",\"path\":\"/3\"}";
    request_clear(&req);
    assert_int_equal(
        mappings_request_parse(m, model, "a/b/x/request", p, strlen(p), &req, err, sizeof(err)),
        GW_OK);
    assert_string_equal(req.ep, "x");
    request_clear(&req);
    assert_int_equal(
        mappings_request_parse(m, model, "a/b/x/setpoint/3", "20", 2, &req, err, sizeof(err)),
        GW_OK);
    assert_path(&req.values.v[0].path, "/3308/3/5900");
    request_clear(&req);
    assert_int_equal(
        mappings_request_parse(m, model, "lwm2m/x/request", p, strlen(p), &req, err, sizeof(err)),
        -GW_ERR_NOTFOUND);
    mappings_free(m);
}

/* ---- command rules ---- */

static void test_command_execute_takes_the_payload_as_arguments(void **state)
{
    (void)state;
    topic_ok("lwm2m/dev-1/reboot", "");
    assert_int_equal(req.dev.op, GW_OP_EXECUTE);
    assert_path(&req.dev.path, "/3/0/4");
    assert_null(req.dev.args);
    assert_false(req.dev.has_format);
    topic_ok("lwm2m/dev-1/reboot", "5");
    assert_string_equal(req.dev.args, "5");
}

static void test_command_write_binds_the_instance_from_the_topic(void **state)
{
    (void)state;
    topic_ok("lwm2m/dev-2/setpoint/3", "21.5");
    assert_string_equal(req.ep, "dev-2");
    assert_int_equal(req.dev.op, GW_OP_WRITE);
    assert_path(&req.dev.path, "/3308/3/5900");
    assert_int_equal(rec(0)->value.type, GW_TYPE_FLOAT);
    assert_true(rec(0)->value.v.f == 21.5);
    refused_at("lwm2m/dev-2/setpoint/3", "warm", "'payload' must be a number for /3308/3/5900");
    refused_at("lwm2m/dev-2/setpoint/x", "1", "topic level {iid} must be a number 0-65534");
    refused_at("lwm2m/dev-2/setpoint/65535", "1", "{iid}");
    refused_at("lwm2m/dev-2/setpoint/007", "1", "{iid}");
    refused_at("lwm2m/dev-2/setpoint/", "1", "{iid}");
}

static void test_command_read_binds_several_levels_and_its_format(void **state)
{
    (void)state;
    topic_ok("site/meter-1/cmd/2/5700", "ignored");
    assert_string_equal(req.ep, "meter-1");
    assert_int_equal(req.dev.op, GW_OP_READ);
    assert_path(&req.dev.path, "/3303/2/5700");
    assert_true(req.dev.has_format);
    assert_int_equal(req.dev.format, GW_FMT_SENML_JSON);
    assert_null(req.dev.values);
    refused_at("site/meter-1/cmd/2/70000", "", "topic level {rid} must be a number 0-65535");
}

static void test_first_matching_command_wins(void **state)
{
    (void)state;
    topic_ok("lwm2m/dev-1/temp/4", "");
    assert_path(&req.dev.path, "/3303/4/5700"); /* not /3303/0/4 */
}

static void test_composite_and_attribute_commands_read_json_payloads(void **state)
{
    (void)state;
    topic_ok("lwm2m/dev-1/many", "[\"/3/0/0\",\"/3303/0\"]");
    assert_int_equal(req.dev.op, GW_OP_READ_COMPOSITE);
    assert_int_equal(req.dev.n_paths, 2);
    refused_at("lwm2m/dev-1/many", "", "payload must be JSON for read-composite");
    refused_at("lwm2m/dev-1/many", "[]", "'payload' must be an array of 1 to 32 paths");
    topic_ok("lwm2m/dev-1/setmany", "{\"/3/0/14\":\"+01\"}");
    assert_int_equal(req.dev.op, GW_OP_WRITE_COMPOSITE);
    assert_int_equal(req.values.n, 1);
    refused_at("lwm2m/dev-1/setmany", "{\"/3/0/0\":\"x\"}", "'payload./3/0/0': /3/0/0");
    topic_ok("lwm2m/dev-1/attrs/1", "{\"pmin\":5}");
    assert_int_equal(req.dev.op, GW_OP_WRITE_ATTRIBUTES);
    assert_path(&req.dev.path, "/3303/1");
    assert_int_equal(req.dev.attrs.pmin, 5);
    refused_at("lwm2m/dev-1/attrs/1", "{}", "'payload' must set at least one of pmin");
    topic_ok("lwm2m/dev-1/watch", "");
    assert_int_equal(req.dev.op, GW_OP_OBSERVE);
    assert_int_equal(req.dev.attrs.pmin, -1);
    topic_ok("lwm2m/dev-1/watch", "{\"pmax\":60}");
    assert_int_equal(req.dev.attrs.pmax, 60);
}

/* Asserts that one command rule is refused with a reason containing `needle`. */
static void command_refused(struct command_rule r, const char *needle)
{
    struct mappings_config cfg = {.commands = &r, .n_commands = 1};
    err[0] = '\0';
    struct mappings *m = mappings_new(&cfg, "lwm2m", 1, err, sizeof(err));
    if (m || !strstr(err, needle))
        fail_msg("%s %s: err \"%s\", expected \"%s\"", r.topic, r.path ? r.path : "-", err, needle);
}

static void test_command_rules_that_cannot_work_are_refused_with_their_line(void **state)
{
    (void)state;
    struct command_rule r = {
        .topic = "{prefix}/{ep}/x", .op = GW_OP_READ, .path = "/3/{iid}", .line = 12};
    command_refused(r, "line 12: commands[0].path uses {iid} but the topic does not bind it");
    r = (struct command_rule){.topic = "{prefix}/x", .op = GW_OP_READ, .path = "/3", .line = 3};
    command_refused(r, "line 3: commands[0].topic: must contain {ep}");
    r.topic = "{prefix}/x{ep}/y";
    command_refused(r, "{ep} must be a whole topic level");
    r.topic = "{prefix}/{ep}{iid}";
    command_refused(r, "must be a whole topic level");
    r.topic = "{prefix}/{ep}/{iid}/{iid}";
    command_refused(r, "{iid} is used twice");
    r.topic = "{prefix}/{ep}/{oid}";
    command_refused(r, "{oid} cannot be used in a command topic");
    r.topic = "{prefix}/{ep}/{resource}";
    command_refused(r, "{resource} cannot be used");
    r.topic = "{prefix}/{ep}/+";
    command_refused(r, "commands[0].topic: must not contain '+'");
    r.topic = "{prefix}/{ep}/request";
    command_refused(r, "is taken by the generic request topics");
    r.topic = "{prefix}/{ep}/write/{iid}";
    command_refused(r, "is taken by the generic request topics");
    r.topic = "lwm2m/{ep}/execute";
    command_refused(r, "is taken by the generic request topics");
    r.topic = "{prefix}/{ep}/x";
    r.format = "xml";
    command_refused(r, "commands[0].format: unknown format 'xml'");
    r.format = NULL;
    r.op = GW_OP_EXECUTE;
    command_refused(r, "commands[0].path: execute needs a path like /oid/iid/rid");
    r.op = GW_OP_WRITE;
    r.path = "/3/0";
    command_refused(r, "write needs a path like /oid/iid/rid[/riid]");
    r.path = "/3/*";
    command_refused(r, "commands[0].path: '/3/*' level 2: '*' is not allowed here");
    r.path = NULL;
    command_refused(r, "commands[0].path: is required");
    r.op = GW_OP_READ_COMPOSITE;
    r.path = "/3";
    command_refused(r, "read-composite takes its paths from the message");
    r.op = (enum request_op)99;
    command_refused(r, "commands[0].op: unknown operation");
}

static void test_filters_cover_the_generic_topics_and_every_command_once(void **state)
{
    (void)state;
    char *f[16] = {0};
    int n = mappings_request_filters(rules, f, GW_ARRAY_LEN(f));
    static const char *const want[] = {
        "lwm2m/+/request",    "lwm2m/+/write/#", "lwm2m/+/execute/#", "lwm2m/+/reboot",
        "lwm2m/+/setpoint/+", "site/+/cmd/+/+",  "lwm2m/+/temp/+", /* twice in the rules */
        "lwm2m/+/many",       "lwm2m/+/setmany", "lwm2m/+/attrs/+",   "lwm2m/+/watch",
    };
    assert_int_equal(n, GW_ARRAY_LEN(want));
    for (size_t i = 0; i < GW_ARRAY_LEN(want); i++) {
        assert_string_equal(f[i], want[i]);
        free(f[i]);
    }
    char *few[2];
    assert_int_equal(mappings_request_filters(rules, few, 2), n); /* how many there are */
    free(few[0]);
    free(few[1]);
    struct mappings_config none = {0};
    struct mappings *m = mappings_new(&none, "", 1, err, sizeof(err));
    assert_int_equal(mappings_request_filters(m, f, GW_ARRAY_LEN(f)), 3);
    assert_string_equal(f[0], "/+/request");
    for (int i = 0; i < 3; i++)
        free(f[i]);
    mappings_free(m);
}

/* ---- the canonical form ---- */

static void test_load_needs_the_endpoint(void **state)
{
    (void)state;
    assert_int_equal(
        mappings_request_load(model, "{\"op\":\"read\",\"path\":\"/3\"}", &req, err, sizeof(err)),
        -GW_ERR_INVALID);
    assert_non_null(strstr(err, "'ep' must be a string of 1 to 128 bytes"));
    request_clear(&req);
    assert_int_equal(mappings_request_load(model, "{\"ep\":\"\",\"op\":\"read\",\"path\":\"/3\"}",
                                           &req, err, sizeof(err)),
                     -GW_ERR_INVALID);
    request_clear(&req);
    assert_int_equal(mappings_request_load(model, "{\"ep\":\"d\",\"op\":\"read\",\"path\":\"/3\"}",
                                           &req, err, sizeof(err)),
                     GW_OK);
    assert_string_equal(req.ep, "d");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_read_keeps_id_path_and_format, fresh),
        cmocka_unit_test_setup(test_write_of_a_time_resource_is_an_integer, fresh),
        cmocka_unit_test_setup(test_write_of_an_instance_in_update_mode, fresh),
        cmocka_unit_test_setup(test_execute_keeps_its_arguments, fresh),
        cmocka_unit_test_setup(test_create_lets_the_device_choose_the_instance, fresh),
        cmocka_unit_test_setup(test_create_with_iid_names_the_instance, fresh),
        cmocka_unit_test_setup(test_delete_discover_and_cancel_take_a_path, fresh),
        cmocka_unit_test_setup(test_write_attributes_fill_the_observe_spec, fresh),
        cmocka_unit_test_setup(test_observe_takes_optional_attributes, fresh),
        cmocka_unit_test_setup(test_composite_reads_and_observations_take_paths, fresh),
        cmocka_unit_test_setup(test_write_composite_types_each_path, fresh),
        cmocka_unit_test_setup(test_ids_are_kept_as_json_text, fresh),
        cmocka_unit_test_setup(test_every_field_error_names_the_field, fresh),
        cmocka_unit_test_setup(test_long_id_is_refused, fresh),
        cmocka_unit_test_setup(test_invalid_request_keeps_what_addresses_the_answer, fresh),
        cmocka_unit_test_setup(test_write_and_execute_topics_must_name_a_resource, fresh),
        cmocka_unit_test_setup(test_execute_topic_payload_is_the_arguments, fresh),
        cmocka_unit_test_setup(test_topics_that_are_not_requests_are_not_found, fresh),
        cmocka_unit_test_setup(test_endpoint_level_must_be_a_name, fresh),
        cmocka_unit_test_setup(test_prefix_may_have_levels, fresh),
        cmocka_unit_test_setup(test_command_execute_takes_the_payload_as_arguments, fresh),
        cmocka_unit_test_setup(test_command_write_binds_the_instance_from_the_topic, fresh),
        cmocka_unit_test_setup(test_command_read_binds_several_levels_and_its_format, fresh),
        cmocka_unit_test_setup(test_first_matching_command_wins, fresh),
        cmocka_unit_test_setup(test_composite_and_attribute_commands_read_json_payloads, fresh),
        cmocka_unit_test_setup(test_command_rules_that_cannot_work_are_refused_with_their_line,
                               fresh),
        cmocka_unit_test_setup(test_filters_cover_the_generic_topics_and_every_command_once, fresh),
        cmocka_unit_test_setup(test_load_needs_the_endpoint, fresh),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

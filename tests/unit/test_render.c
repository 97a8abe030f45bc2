/* test_render.c - unit tests of mappings/render.c: which topic, payload, retain and QoS each
 * notified record gets (first match, wildcards, deeper paths, endpoint globs, the default
 * topic), every topic variable, the payload kinds value/json/instance/senml with their exact
 * text, JSON typing and escaping, ts, and the reuse of the publication list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "gw.h"
#include "mappings.h"

#define NOW 1732470000000LL

static struct model *model; /* the built-in objects, for the whole group */
static struct publications pubs;
static struct data_records recs;
static char err[256];

static int setup(void **state)
{
    (void)state;
    model = model_new();
    return model ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    model_free(model);
    publications_clear(&pubs);
    data_records_clear(&recs);
    return 0;
}

/* Every test starts from empty lists, which keep their memory from the test before. */
static int fresh(void **state)
{
    (void)state;
    publications_reset(&pubs);
    data_records_reset(&recs);
    return 0;
}

static struct mapping_rule rule(const char *path, const char *topic, enum mapping_payload kind)
{
    return (struct mapping_rule){
        .path = (char *)path, .topic = (char *)topic, .payload = kind, .qos = -1, .line = 1};
}

static struct mappings *compile(struct mapping_rule *r, size_t n)
{
    struct mappings_config cfg = {.mappings = r, .n_mappings = n};
    struct mappings *m = mappings_new(&cfg, "lwm2m", 1, err, sizeof(err));
    if (!m)
        fail_msg("mappings_new: %s", err);
    return m;
}

static struct data_value num(enum data_type t, int64_t i)
{
    return (struct data_value){.type = t, .v.i = i};
}

static struct data_value flt(double f)
{
    return (struct data_value){.type = GW_TYPE_FLOAT, .v.f = f};
}

static struct data_value bytes(enum data_type t, const char *s, size_t len)
{
    struct data_value v = {.type = t};
    v.v.bytes.p = (const uint8_t *)s;
    v.v.bytes.len = len;
    return v;
}

static struct data_value str(const char *s)
{
    return bytes(GW_TYPE_STRING, s, strlen(s));
}

static void add_at(const char *path, struct data_value v, bool has_time, double time)
{
    struct data_path p;
    assert_int_equal(data_path_parse(path, strlen(path), &p), GW_OK);
    assert_int_equal(data_records_add(&recs, &p, &v, has_time, time), GW_OK);
}

static void add(const char *path, struct data_value v)
{
    add_at(path, v, false, 0);
}

/* Renders `recs` for endpoint `ep` with the built-in model; fails the test on an error. */
static void render(const struct mappings *m, const char *ep)
{
    int rc = mappings_render(m, model, ep, &recs, NOW, &pubs);
    if (rc != GW_OK)
        fail_msg("mappings_render: %d", rc);
}

static void assert_pub(size_t i, const char *topic, const char *payload)
{
    assert_true(i < pubs.n);
    assert_string_equal(pubs.v[i].topic, topic);
    if (pubs.v[i].len != strlen(payload) || memcmp(pubs.v[i].payload, payload, pubs.v[i].len))
        fail_msg("payload\n%.*s\nexpected\n%s", (int)pubs.v[i].len, pubs.v[i].payload, payload);
}

static json_t *parse(size_t i)
{
    json_error_t e;
    assert_true(i < pubs.n);
    json_t *j =
        json_loadb(pubs.v[i].payload, pubs.v[i].len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &e);
    if (!j)
        fail_msg("not JSON (%s): %.*s", e.text, (int)pubs.v[i].len, pubs.v[i].payload);
    return j;
}

/* The bare "value" payload of one record at /32000/0/1 (an object the model does not know). */
static void value_text(struct data_value v, const char *expected)
{
    struct mapping_rule r = rule("/32000", "{prefix}/v", GW_PAYLOAD_VALUE);
    struct mappings *m = compile(&r, 1);
    publications_reset(&pubs);
    data_records_reset(&recs);
    add("/32000/0/1", v);
    render(m, "dev-1");
    assert_int_equal(pubs.n, 1);
    assert_pub(0, "lwm2m/v", expected);
    mappings_free(m);
}

/* The "value" field of the default JSON payload of one record, as text. */
static void json_value_text(struct data_value v, const char *expected)
{
    char want[512];
    struct mappings *m = compile(NULL, 0);
    publications_reset(&pubs);
    data_records_reset(&recs);
    add("/32000/0/1", v);
    render(m, "dev-1");
    snprintf(want, sizeof(want), "{\"path\":\"/32000/0/1\",\"value\":%s,\"ts\":%lld}", expected,
             NOW);
    assert_pub(0, "lwm2m/dev-1/data/32000/0/1", want);
    json_decref(parse(0));
    mappings_free(m);
}

/* ---- which mapping, which topic ---- */

static void test_unmatched_value_goes_to_the_default_topic_as_json(void **state)
{
    (void)state;
    struct mappings *m = compile(NULL, 0);
    add("/3303/0/5700", flt(21.5));
    render(m, "dev-1");
    assert_int_equal(pubs.n, 1);
    assert_pub(0, "lwm2m/dev-1/data/3303/0/5700",
               "{\"path\":\"/3303/0/5700\",\"value\":21.5,\"ts\":1732470000000,"
               "\"object\":\"Temperature\",\"resource\":\"Sensor Value\"}");
    assert_false(pubs.v[0].retain);
    assert_int_equal(pubs.v[0].qos, 1);
    mappings_free(m);
}

static void test_resource_instance_default_topic_ends_with_riid(void **state)
{
    (void)state;
    struct mappings *m = compile(NULL, 0);
    add("/3/0/7/1", num(GW_TYPE_INTEGER, 5000));
    render(m, "dev-1");
    assert_pub(0, "lwm2m/dev-1/data/3/0/7/1",
               "{\"path\":\"/3/0/7/1\",\"value\":5000,\"ts\":1732470000000,"
               "\"object\":\"Device\",\"resource\":\"Power Source Voltage\"}");
    mappings_free(m);
}

static void test_json_payload_has_the_unit_the_model_knows(void **state)
{
    (void)state;
    struct mappings *m = compile(NULL, 0);
    add("/3/0/9", num(GW_TYPE_INTEGER, 87));
    add("/32000/3/4", num(GW_TYPE_INTEGER, 1));
    render(m, "dev-1");
    assert_pub(0, "lwm2m/dev-1/data/3/0/9",
               "{\"path\":\"/3/0/9\",\"value\":87,\"ts\":1732470000000,\"object\":\"Device\","
               "\"resource\":\"Battery Level\",\"unit\":\"/100\"}");
    assert_pub(1, "lwm2m/dev-1/data/32000/3/4",
               "{\"path\":\"/32000/3/4\",\"value\":1,\"ts\":1732470000000}");
    mappings_free(m);
}

static void test_first_matching_mapping_wins(void **state)
{
    (void)state;
    struct mapping_rule r[3] = {rule("/3/0/9", "{prefix}/{ep}/battery", GW_PAYLOAD_VALUE),
                                rule("/3", "{prefix}/{ep}/device/{rid}", GW_PAYLOAD_VALUE),
                                rule("/3/0/9", "{prefix}/never", GW_PAYLOAD_VALUE)};
    struct mappings *m = compile(r, 3);
    add("/3/0/9", num(GW_TYPE_INTEGER, 87));
    add("/3/0/0", str("Acme"));
    render(m, "dev-1");
    assert_int_equal(pubs.n, 2);
    assert_pub(0, "lwm2m/dev-1/battery", "87");
    assert_pub(1, "lwm2m/dev-1/device/0", "Acme");
    mappings_free(m);
}

static void test_wildcard_level_takes_every_instance(void **state)
{
    (void)state;
    struct mapping_rule r =
        rule("/3303/*/5700", "{prefix}/{ep}/temperature/{iid}", GW_PAYLOAD_VALUE);
    struct mappings *m = compile(&r, 1);
    add("/3303/0/5700", flt(21.5));
    add("/3303/2/5700", flt(-3.25));
    add("/3303/2/5701", str("Cel"));
    render(m, "dev-1");
    assert_int_equal(pubs.n, 3);
    assert_pub(0, "lwm2m/dev-1/temperature/0", "21.5");
    assert_pub(1, "lwm2m/dev-1/temperature/2", "-3.25");
    assert_string_equal(pubs.v[2].topic, "lwm2m/dev-1/data/3303/2/5701");
    mappings_free(m);
}

static void test_pattern_takes_deeper_paths(void **state)
{
    (void)state;
    struct mapping_rule r = rule("/3/0", "{prefix}/{ep}/device/{rid}", GW_PAYLOAD_VALUE);
    struct mappings *m = compile(&r, 1);
    add("/3/0/9", num(GW_TYPE_INTEGER, 87));
    add("/3/0/7/1", num(GW_TYPE_INTEGER, 5000));
    add("/3/1/9", num(GW_TYPE_INTEGER, 50));
    render(m, "dev-1");
    assert_int_equal(pubs.n, 3);
    assert_pub(0, "lwm2m/dev-1/device/9", "87");
    assert_pub(1, "lwm2m/dev-1/device/7", "5000");
    assert_string_equal(pubs.v[2].topic, "lwm2m/dev-1/data/3/1/9");
    mappings_free(m);
}

static void test_endpoint_glob_limits_a_mapping_to_its_devices(void **state)
{
    (void)state;
    struct mapping_rule r = rule("/3/0/9", "{prefix}/{ep}/battery", GW_PAYLOAD_VALUE);
    r.endpoint = (char *)"meter-*";
    struct mappings *m = compile(&r, 1);
    add("/3/0/9", num(GW_TYPE_INTEGER, 87));
    render(m, "meter-17");
    render(m, "sensor-1");
    assert_int_equal(pubs.n, 2);
    assert_pub(0, "lwm2m/meter-17/battery", "87");
    assert_string_equal(pubs.v[1].topic, "lwm2m/sensor-1/data/3/0/9");
    mappings_free(m);
}

static void test_every_topic_variable_is_filled(void **state)
{
    (void)state;
    struct mapping_rule r =
        rule("/3", "{prefix}/{ep}/{oid}/{iid}/{rid}/{riid}/{object}/{resource}", GW_PAYLOAD_VALUE);
    struct mappings *m = compile(&r, 1);
    add("/3/0/7/1", num(GW_TYPE_INTEGER, 5000));
    render(m, "dev-1");
    assert_pub(0, "lwm2m/dev-1/3/0/7/1/device/power_source_voltage", "5000");
    mappings_free(m);
}

static void test_object_and_resource_names_come_from_the_model(void **state)
{
    (void)state;
    struct mapping_rule r = rule("/3303", "{prefix}/{ep}/{object}/{resource}", GW_PAYLOAD_VALUE);
    struct mappings *m = compile(&r, 1);
    add("/3303/0/5700", flt(21.5));
    render(m, "dev-1");
    assert_pub(0, "lwm2m/dev-1/temperature/sensor_value", "21.5");
    mappings_free(m);
}

static void test_unknown_names_render_as_ids(void **state)
{
    (void)state;
    struct mapping_rule r = rule("/32000", "{prefix}/{object}/{resource}", GW_PAYLOAD_VALUE);
    struct mappings *m = compile(&r, 1);
    add("/32000/1/5", num(GW_TYPE_INTEGER, 1));
    render(m, "dev-1");
    assert_pub(0, "lwm2m/32000/5", "1");

    r.path = (char *)"/3303";
    struct mappings *m2 = compile(&r, 1);
    data_records_reset(&recs);
    add("/3303/0/5700", flt(21.5));
    assert_int_equal(mappings_render(m2, NULL, "dev-1", &recs, NOW, &pubs), GW_OK);
    assert_pub(1, "lwm2m/3303/5700", "21.5"); /* no model at all */
    mappings_free(m);
    mappings_free(m2);
}

static void test_riid_variable_the_record_lacks_falls_back_to_the_default(void **state)
{
    (void)state;
    struct mapping_rule r = rule("/3/0/7", "{prefix}/{ep}/voltage/{riid}", GW_PAYLOAD_VALUE);
    r.retain = true;
    struct mappings *m = compile(&r, 1);
    add("/3/0/7/2", num(GW_TYPE_INTEGER, 3800));
    add("/3/0/7", num(GW_TYPE_INTEGER, 3700));
    render(m, "dev-1");
    assert_int_equal(pubs.n, 2);
    assert_pub(0, "lwm2m/dev-1/voltage/2", "3800");
    assert_true(pubs.v[0].retain);
    assert_string_equal(pubs.v[1].topic, "lwm2m/dev-1/data/3/0/7");
    assert_false(pubs.v[1].retain);
    json_t *j = parse(1);
    assert_int_equal(json_integer_value(json_object_get(j, "value")), 3700);
    json_decref(j);
    mappings_free(m);
}

static void test_empty_object_instance_publishes_nothing_by_default(void **state)
{
    (void)state;
    struct mappings *m = compile(NULL, 0);
    add("/3303/0", num(GW_TYPE_NONE, 0));
    add("/3303", num(GW_TYPE_NONE, 0));
    render(m, "dev-1");
    assert_int_equal(pubs.n, 0);
    mappings_free(m);
}

static void test_retain_and_qos_per_mapping_else_the_defaults(void **state)
{
    (void)state;
    struct mapping_rule r[2] = {rule("/3/0/9", "{prefix}/a", GW_PAYLOAD_VALUE),
                                rule("/3/0/0", "{prefix}/b", GW_PAYLOAD_VALUE)};
    r[0].retain = true;
    r[0].qos = 2;
    struct mappings_config cfg = {.mappings = r, .n_mappings = 2};
    struct mappings *m = mappings_new(&cfg, "lwm2m", 0, err, sizeof(err));
    assert_non_null(m);
    add("/3/0/9", num(GW_TYPE_INTEGER, 87));
    add("/3/0/0", str("Acme"));
    add("/3/0/1", str("M1"));
    render(m, "dev-1");
    assert_int_equal(pubs.n, 3);
    assert_true(pubs.v[0].retain);
    assert_int_equal(pubs.v[0].qos, 2);
    assert_false(pubs.v[1].retain);
    assert_int_equal(pubs.v[1].qos, 0); /* qos -1: mqtt.qos */
    assert_false(pubs.v[2].retain);     /* the default topic */
    assert_int_equal(pubs.v[2].qos, 0);
    mappings_free(m);
}

static void test_publications_come_in_record_order(void **state)
{
    (void)state;
    struct mapping_rule r[2] = {rule("/3/0", "{prefix}/dev/{iid}", GW_PAYLOAD_INSTANCE),
                                rule("/3303", "{prefix}/t/{iid}", GW_PAYLOAD_VALUE)};
    struct mappings *m = compile(r, 2);
    add("/3303/1/5700", flt(1.5));
    add("/1/0/1", num(GW_TYPE_INTEGER, 300));
    add("/3/0/9", num(GW_TYPE_INTEGER, 87));
    add("/3303/0/5700", flt(2.5));
    add("/3/0/0", str("Acme"));
    render(m, "dev-1");
    assert_int_equal(pubs.n, 4);
    assert_string_equal(pubs.v[0].topic, "lwm2m/t/1");
    assert_string_equal(pubs.v[1].topic, "lwm2m/dev-1/data/1/0/1");
    assert_string_equal(pubs.v[2].topic, "lwm2m/dev/0");
    assert_string_equal(pubs.v[3].topic, "lwm2m/t/0");
    mappings_free(m);
}

/* ---- payloads ---- */

static void test_value_payload_of_every_type(void **state)
{
    (void)state;
    static const uint8_t blob[] = {0x01, 0x02, 0x03, 0xff};
    struct data_value lnk = {.type = GW_TYPE_OBJLNK, .v.lnk = {3, 0}};
    struct data_value u = {.type = GW_TYPE_UNSIGNED, .v.u = UINT64_MAX};
    value_text(str("Acme \"1\""), "Acme \"1\"");
    value_text(num(GW_TYPE_INTEGER, -5), "-5");
    value_text(num(GW_TYPE_INTEGER, INT64_MIN), "-9223372036854775808");
    value_text(u, "18446744073709551615");
    value_text(flt(21.5), "21.5");
    value_text(flt(21.0), "21.0");
    value_text(flt(0.1), "0.1");
    value_text((struct data_value){.type = GW_TYPE_BOOLEAN, .v.b = true}, "true");
    value_text((struct data_value){.type = GW_TYPE_BOOLEAN, .v.b = false}, "false");
    value_text(bytes(GW_TYPE_OPAQUE, (const char *)blob, 4), "AQID/w==");
    value_text(bytes(GW_TYPE_OPAQUE, (const char *)blob, 2), "AQI=");
    value_text(bytes(GW_TYPE_OPAQUE, (const char *)blob, 3), "AQID");
    value_text(lnk, "3:0");
    value_text(num(GW_TYPE_TIME, 1732470000), "1732470000");
    value_text(bytes(GW_TYPE_CORELNK, "</3/0>", 6), "</3/0>");
    value_text(num(GW_TYPE_NONE, 0), "");
    value_text(flt(NAN), "");
}

static void test_json_typing_of_every_data_type(void **state)
{
    (void)state;
    static const uint8_t blob[] = {0xde, 0xad, 0xbe, 0xef, 0x00};
    struct data_value lnk = {.type = GW_TYPE_OBJLNK, .v.lnk = {3303, 65535}};
    struct data_value u = {.type = GW_TYPE_UNSIGNED, .v.u = 4000000000u};
    json_value_text(str("Acme"), "\"Acme\"");
    json_value_text(num(GW_TYPE_INTEGER, -42), "-42");
    json_value_text(u, "4000000000");
    json_value_text(flt(21.5), "21.5");
    json_value_text(flt(21.0), "21.0");
    json_value_text(flt(-0.0), "-0.0");
    json_value_text(flt(1.0 / 3.0), "0.3333333333333333");
    json_value_text(flt(1e300), "1e+300");
    json_value_text(flt(1e-7), "1e-07");
    json_value_text((struct data_value){.type = GW_TYPE_BOOLEAN, .v.b = true}, "true");
    json_value_text(bytes(GW_TYPE_OPAQUE, (const char *)blob, 5), "\"3q2+7wA=\"");
    json_value_text(bytes(GW_TYPE_OPAQUE, "", 0), "\"\"");
    json_value_text(lnk, "\"3303:65535\"");
    json_value_text(num(GW_TYPE_TIME, 1732470000), "1732470000");
    json_value_text(bytes(GW_TYPE_CORELNK, "</3/0>;ver=1.1", 14), "\"</3/0>;ver=1.1\"");
    json_value_text(num(GW_TYPE_NONE, 0), "null");
    json_value_text(flt(INFINITY), "null");
}

static void test_json_reads_back_with_the_right_types(void **state)
{
    (void)state;
    struct mappings *m = compile(NULL, 0);
    add("/32000/0/1", flt(21.0));
    add("/32000/0/2", num(GW_TYPE_INTEGER, 21));
    add("/32000/0/3", bytes(GW_TYPE_STRING, "a\0b", 3));
    render(m, "dev-1");
    json_t *j = parse(0);
    assert_true(json_is_real(json_object_get(j, "value")));
    json_decref(j);
    j = parse(1);
    assert_true(json_is_integer(json_object_get(j, "value")));
    assert_true(json_integer_value(json_object_get(j, "ts")) == NOW);
    json_decref(j);
    j = parse(2);
    assert_int_equal(json_string_length(json_object_get(j, "value")), 3);
    json_decref(j);
    mappings_free(m);
}

static void test_strings_escape_quotes_backslashes_and_control_characters(void **state)
{
    (void)state;
    json_value_text(str("a\"b\\c\n\r\t\b\f\x01\x1f/\x7f"),
                    "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f/\x7f\"");
}

static void test_invalid_utf8_bytes_become_replacement_characters(void **state)
{
    (void)state;
    json_value_text(str("ok\xff"
                        "x\xc3"),
                    "\"ok\xef\xbf\xbdx\xef\xbf\xbd\"");
    json_value_text(str("\xc0\x80"), "\"\xef\xbf\xbd\xef\xbf\xbd\""); /* overlong NUL */
    json_value_text(str("\xed\xa0\x80"),
                    "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""); /* surrogate */
    json_value_text(str("caf\xc3\xa9 \xf0\x9f\x8c\xa1"), "\"caf\xc3\xa9 \xf0\x9f\x8c\xa1\"");
}

static void test_ts_is_the_device_time_else_the_receive_time(void **state)
{
    (void)state;
    struct mappings *m = compile(NULL, 0);
    add_at("/3303/0/5700", flt(1), true, 1732460000.25);
    add_at("/3303/1/5700", flt(2), true, -5.0); /* relative: 5 s before now */
    add("/3303/2/5700", flt(3));
    render(m, "dev-1");
    const int64_t want[3] = {1732460000250LL, NOW - 5000, NOW};
    for (size_t i = 0; i < 3; i++) {
        json_t *j = parse(i);
        assert_true(json_integer_value(json_object_get(j, "ts")) == want[i]);
        json_decref(j);
    }
    mappings_free(m);
}

static void test_instance_payload_groups_each_object_instance(void **state)
{
    (void)state;
    struct mapping_rule r = rule("/3303", "{prefix}/{ep}/{object}/{iid}", GW_PAYLOAD_INSTANCE);
    r.retain = true;
    struct mappings *m = compile(&r, 1);
    add("/3303/0/5700", flt(21.5));
    add("/3303/1/5700", flt(19.0));
    add("/3303/0/5701", str("Cel"));
    render(m, "dev-1");
    assert_int_equal(pubs.n, 2);
    assert_pub(0, "lwm2m/dev-1/temperature/0",
               "{\"path\":\"/3303/0\",\"ts\":1732470000000,\"object\":\"Temperature\","
               "\"values\":{\"sensor_value\":21.5,\"sensor_units\":\"Cel\"}}");
    assert_pub(1, "lwm2m/dev-1/temperature/1",
               "{\"path\":\"/3303/1\",\"ts\":1732470000000,\"object\":\"Temperature\","
               "\"values\":{\"sensor_value\":19.0}}");
    assert_true(pubs.v[0].retain && pubs.v[1].retain);
    mappings_free(m);
}

static void test_instance_payload_nests_a_multiple_resource_by_instance(void **state)
{
    (void)state;
    struct mapping_rule r = rule("/3/0", "{prefix}/{ep}/device", GW_PAYLOAD_INSTANCE);
    struct mappings *m = compile(&r, 1);
    add("/3/0/9", num(GW_TYPE_INTEGER, 87));
    add("/3/0/7/1", num(GW_TYPE_INTEGER, 5000));
    add("/3/0/0", str("Acme"));
    add("/3/0/7/0", num(GW_TYPE_INTEGER, 3800));
    add("/3/0/11", num(GW_TYPE_NONE, 0)); /* a multiple resource without instances */
    render(m, "dev-1");
    assert_int_equal(pubs.n, 1);
    assert_pub(0, "lwm2m/dev-1/device",
               "{\"path\":\"/3/0\",\"ts\":1732470000000,\"object\":\"Device\",\"values\":{"
               "\"manufacturer\":\"Acme\",\"power_source_voltage\":{\"0\":3800,\"1\":5000},"
               "\"battery_level\":87,\"error_code\":{}}}");
    mappings_free(m);
}

static void test_instance_ts_is_the_newest_and_later_records_win(void **state)
{
    (void)state;
    struct mapping_rule r = rule("/3303", "{prefix}/t/{iid}", GW_PAYLOAD_INSTANCE);
    struct mappings *m = compile(&r, 1);
    add_at("/3303/0/5700", flt(20.0), true, 1732460000.0);
    add_at("/3303/0/5700", flt(20.5), true, 1732460010.0);
    add_at("/3303/0/5601", flt(18.0), true, 1732450000.0);
    render(m, "dev-1");
    assert_pub(0, "lwm2m/t/0",
               "{\"path\":\"/3303/0\",\"ts\":1732460010000,\"object\":\"Temperature\","
               "\"values\":{\"min_measured_value\":18.0,\"sensor_value\":20.5}}");
    mappings_free(m);
}

static void test_instance_of_an_unknown_object_is_keyed_by_ids(void **state)
{
    (void)state;
    struct mapping_rule r = rule("/32000", "{prefix}/x/{iid}", GW_PAYLOAD_INSTANCE);
    struct mappings *m = compile(&r, 1);
    add("/32000/4/2", num(GW_TYPE_INTEGER, 2));
    add("/32000/4/1", num(GW_TYPE_INTEGER, 1));
    add("/32000/5", num(GW_TYPE_NONE, 0)); /* an empty instance */
    render(m, "dev-1");
    assert_int_equal(pubs.n, 2);
    assert_pub(0, "lwm2m/x/4",
               "{\"path\":\"/32000/4\",\"ts\":1732470000000,\"values\":{\"1\":1,\"2\":2}}");
    assert_pub(1, "lwm2m/x/5", "{\"path\":\"/32000/5\",\"ts\":1732470000000,\"values\":{}}");
    mappings_free(m);
}

static void test_instance_keys_that_would_clash_fall_back_to_ids(void **state)
{
    (void)state;
    char path[] = "/tmp/test_render_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fprintf(f, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<LWM2M><Object "
               "ObjectType=\"MODefinition\"><Name>Clash Test</Name><ObjectID>32001</ObjectID>"
               "<ObjectURN>urn:oma:lwm2m:x:32001</ObjectURN><MultipleInstances>Multiple"
               "</MultipleInstances><Mandatory>Optional</Mandatory><Resources>");
    const char *names[] = {"Level", "level!", "Other Value"};
    for (int i = 0; i < 3; i++)
        fprintf(f,
                "<Item ID=\"%d\"><Name>%s</Name><Operations>R</Operations><MultipleInstances>"
                "Single</MultipleInstances><Mandatory>Optional</Mandatory><Type>Integer</Type>"
                "<RangeEnumeration></RangeEnumeration><Units></Units><Description>"
                "</Description></Item>",
                i + 1, names[i]);
    fprintf(f, "</Resources></Object></LWM2M>\n");
    fclose(f);
    struct model *own = model_new();
    assert_non_null(own);
    int rc = model_load_file(own, path, err, sizeof(err));
    unlink(path);
    if (rc != GW_OK)
        fail_msg("model_load_file: %s", err);

    struct mapping_rule r = rule("/32001", "{prefix}/{object}/{iid}", GW_PAYLOAD_INSTANCE);
    struct mappings *m = compile(&r, 1);
    add("/32001/0/3", num(GW_TYPE_INTEGER, 3));
    add("/32001/0/2", num(GW_TYPE_INTEGER, 2));
    add("/32001/0/1", num(GW_TYPE_INTEGER, 1));
    assert_int_equal(mappings_render(m, own, "dev-1", &recs, NOW, &pubs), GW_OK);
    assert_pub(0, "lwm2m/clash_test/0",
               "{\"path\":\"/32001/0\",\"ts\":1732470000000,\"object\":\"Clash Test\","
               "\"values\":{\"1\":1,\"2\":2,\"other_value\":3}}");
    mappings_free(m);
    model_free(own);
}

static void test_senml_payload_is_one_array_per_topic(void **state)
{
    (void)state;
    struct mapping_rule r = rule("/3303", "{prefix}/{ep}/senml", GW_PAYLOAD_SENML);
    struct mappings *m = compile(&r, 1);
    add("/3303/0/5700", flt(21.5));
    add("/3/0/9", num(GW_TYPE_INTEGER, 87));
    add("/3303/1/5700", flt(19.0));
    add("/3303/1/5701", str("Cel"));
    render(m, "dev-1");
    assert_int_equal(pubs.n, 2);
    assert_pub(0, "lwm2m/dev-1/senml",
               "[{\"n\":\"/3303/0/5700\",\"v\":21.5,\"t\":1732470000},"
               "{\"n\":\"/3303/1/5700\",\"v\":19.0,\"t\":1732470000},"
               "{\"n\":\"/3303/1/5701\",\"vs\":\"Cel\",\"t\":1732470000}]");
    assert_string_equal(pubs.v[1].topic, "lwm2m/dev-1/data/3/0/9");
    mappings_free(m);
}

static void test_senml_payload_splits_by_rendered_topic(void **state)
{
    (void)state;
    struct mapping_rule r = rule("/3303", "{prefix}/{ep}/senml/{iid}", GW_PAYLOAD_SENML);
    struct mappings *m = compile(&r, 1);
    add("/3303/1/5700", flt(19.0));
    add("/3303/0/5700", flt(21.5));
    add("/3303/1/5701", str("Cel"));
    render(m, "dev-1");
    assert_int_equal(pubs.n, 2);
    assert_string_equal(pubs.v[0].topic, "lwm2m/dev-1/senml/1");
    assert_string_equal(pubs.v[1].topic, "lwm2m/dev-1/senml/0");
    json_t *j = parse(0);
    assert_int_equal(json_array_size(j), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 1), "vs")), "Cel");
    json_decref(j);
    mappings_free(m);
}

static void test_senml_times_are_absolute_seconds(void **state)
{
    (void)state;
    struct mapping_rule r = rule("/3303", "{prefix}/s", GW_PAYLOAD_SENML);
    struct mappings *m = compile(&r, 1);
    add_at("/3303/0/5700", flt(1), true, -5.0);
    add_at("/3303/0/5601", flt(2), true, 1732460000.125);
    add("/3303/0/5602", flt(3));
    render(m, "dev-1");
    json_t *j = parse(0);
    assert_true(json_number_value(json_object_get(json_array_get(j, 0), "t")) == 1732469995.0);
    assert_true(json_number_value(json_object_get(json_array_get(j, 1), "t")) == 1732460000.125);
    assert_true(json_number_value(json_object_get(json_array_get(j, 2), "t")) == 1732470000.0);
    json_decref(j);
    mappings_free(m);
}

static void test_senml_makes_bad_text_and_nan_encodable(void **state)
{
    (void)state;
    struct mapping_rule r = rule("/32000", "{prefix}/s", GW_PAYLOAD_SENML);
    struct mappings *m = compile(&r, 1);
    add("/32000/0/1", str("a\xff"));
    add("/32000/0/2", flt(NAN));
    add("/32000/0/3", bytes(GW_TYPE_OPAQUE, "\xfb\xff", 2));
    render(m, "dev-1");
    assert_pub(0, "lwm2m/s",
               "[{\"n\":\"/32000/0/1\",\"vs\":\"a\xef\xbf\xbd\",\"t\":1732470000},"
               "{\"n\":\"/32000/0/2\",\"t\":1732470000},"
               "{\"n\":\"/32000/0/3\",\"vd\":\"-_8\",\"t\":1732470000}]");
    mappings_free(m);
}

/* ---- the list ---- */

static void test_publications_stay_valid_as_the_buffer_grows_across_calls(void **state)
{
    (void)state;
    struct mappings *m = compile(NULL, 0);
    static char big[100000];
    memset(big, 'x', sizeof(big));
    add("/3/0/0", str("Acme"));
    render(m, "dev-1");
    data_records_reset(&recs);
    add("/3/0/1", bytes(GW_TYPE_STRING, big, sizeof(big)));
    render(m, "dev-2"); /* appended: the first publication must survive the buffer moving */
    assert_int_equal(pubs.n, 2);
    assert_string_equal(pubs.v[0].topic, "lwm2m/dev-1/data/3/0/0");
    json_t *j = parse(0);
    assert_string_equal(json_string_value(json_object_get(j, "value")), "Acme");
    json_decref(j);
    j = parse(1);
    assert_int_equal(json_string_length(json_object_get(j, "value")), sizeof(big));
    json_decref(j);
    mappings_free(m);
}

static void test_reset_reuses_the_list_for_the_next_notification(void **state)
{
    (void)state;
    struct mapping_rule r[2] = {rule("/3303", "{prefix}/{ep}/t/{iid}", GW_PAYLOAD_INSTANCE),
                                rule("/3/0", "{prefix}/{ep}/s", GW_PAYLOAD_SENML)};
    struct mappings *m = compile(r, 2);
    char ep[32];
    for (int i = 0; i < 200; i++) {
        publications_reset(&pubs);
        data_records_reset(&recs);
        add("/3303/0/5700", flt(i));
        add("/3/0/9", num(GW_TYPE_INTEGER, i));
        add("/1/0/1", num(GW_TYPE_INTEGER, i));
        snprintf(ep, sizeof(ep), "dev-%d", i);
        render(m, ep);
        assert_int_equal(pubs.n, 3);
    }
    assert_string_equal(pubs.v[0].topic, "lwm2m/dev-199/t/0");
    assert_pub(1, "lwm2m/dev-199/s", "[{\"n\":\"/3/0/9\",\"v\":199,\"t\":1732470000}]");
    assert_string_equal(pubs.v[2].topic, "lwm2m/dev-199/data/1/0/1");
    mappings_free(m);

    struct publications once = {0};
    publications_reset(&once); /* harmless before any use */
    publications_clear(&once);
    publications_clear(&once);
}

static void test_topic_longer_than_mqtt_allows_is_full_and_adds_nothing(void **state)
{
    (void)state;
    char *prefix = malloc(70000);
    assert_non_null(prefix);
    memset(prefix, 'p', 69999);
    prefix[69999] = '\0';
    struct mappings_config cfg = {0};
    struct mappings *m = mappings_new(&cfg, prefix, 1, err, sizeof(err));
    struct mappings *ok = compile(NULL, 0);
    assert_non_null(m);
    add("/3/0/0", str("Acme"));
    render(ok, "dev-1");
    assert_int_equal(mappings_render(m, model, "dev-1", &recs, NOW, &pubs), -GW_ERR_FULL);
    assert_int_equal(pubs.n, 1); /* what was there before the call stays */
    assert_string_equal(pubs.v[0].topic, "lwm2m/dev-1/data/3/0/0");
    mappings_free(m);
    mappings_free(ok);
    free(prefix);
}

static void test_record_whose_topic_is_too_long_is_left_out_and_the_rest_go_out(void **state)
{
    (void)state;
    size_t len = 65535 - strlen("/dev-1/data/3/0/0"); /* that topic is exactly the MQTT limit */
    char *prefix = malloc(len + 1);
    assert_non_null(prefix);
    memset(prefix, 'p', len);
    prefix[len] = '\0';
    struct mappings_config cfg = {0};
    struct mappings *m = mappings_new(&cfg, prefix, 1, err, sizeof(err));
    assert_non_null(m);
    add("/3303/0/5700", flt(21.5));
    add("/3/0/0", str("Acme"));
    add("/3303/1/5700", flt(19.5));
    assert_int_equal(mappings_render(m, model, "dev-1", &recs, NOW, &pubs), -GW_ERR_FULL);
    assert_int_equal(pubs.n, 1);
    assert_int_equal(strlen(pubs.v[0].topic), 65535);
    json_t *j = parse(0);
    assert_string_equal(json_string_value(json_object_get(j, "value")), "Acme");
    json_decref(j);
    mappings_free(m);
    free(prefix);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup(name, fresh)
    const struct CMUnitTest tests[] = {
        T(test_unmatched_value_goes_to_the_default_topic_as_json),
        T(test_resource_instance_default_topic_ends_with_riid),
        T(test_json_payload_has_the_unit_the_model_knows),
        T(test_first_matching_mapping_wins),
        T(test_wildcard_level_takes_every_instance),
        T(test_pattern_takes_deeper_paths),
        T(test_endpoint_glob_limits_a_mapping_to_its_devices),
        T(test_every_topic_variable_is_filled),
        T(test_object_and_resource_names_come_from_the_model),
        T(test_unknown_names_render_as_ids),
        T(test_riid_variable_the_record_lacks_falls_back_to_the_default),
        T(test_empty_object_instance_publishes_nothing_by_default),
        T(test_retain_and_qos_per_mapping_else_the_defaults),
        T(test_publications_come_in_record_order),
        T(test_value_payload_of_every_type),
        T(test_json_typing_of_every_data_type),
        T(test_json_reads_back_with_the_right_types),
        T(test_strings_escape_quotes_backslashes_and_control_characters),
        T(test_invalid_utf8_bytes_become_replacement_characters),
        T(test_ts_is_the_device_time_else_the_receive_time),
        T(test_instance_payload_groups_each_object_instance),
        T(test_instance_payload_nests_a_multiple_resource_by_instance),
        T(test_instance_ts_is_the_newest_and_later_records_win),
        T(test_instance_of_an_unknown_object_is_keyed_by_ids),
        T(test_instance_keys_that_would_clash_fall_back_to_ids),
        T(test_senml_payload_is_one_array_per_topic),
        T(test_senml_payload_splits_by_rendered_topic),
        T(test_senml_times_are_absolute_seconds),
        T(test_senml_makes_bad_text_and_nan_encodable),
        T(test_publications_stay_valid_as_the_buffer_grows_across_calls),
        T(test_reset_reuses_the_list_for_the_next_notification),
        T(test_topic_longer_than_mqtt_allows_is_full_and_adds_nothing),
        T(test_record_whose_topic_is_too_long_is_left_out_and_the_rest_go_out),
    };
#undef T
    return cmocka_run_group_tests(tests, setup, teardown);
}

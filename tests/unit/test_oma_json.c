/* test_oma_json.c - the LwM2M 1.0 JSON format (content format 11543, oma_json.c): the examples of
 * the LwM2M 1.0 specification section 6.4.4 decoded and encoded back; names relative to bn or to
 * the request path; typing by the object model (Opaque as base64 in sv); every rejection with
 * its reason; round trips of every type. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define CODEC_TEST_DECODE oma_json_decode
#define CODEC_TEST_ENCODE oma_json_encode
#include "json_testutil.h"

/* Encodes `r` below `base`, decodes it again and asserts that nothing changed. */
static void round_trips(const struct data_records *r, const char *base)
{
    uint8_t buf[4096];
    char err[256] = "";
    struct data_records back = {0};
    size_t n = encode_ok(r, base, buf, sizeof(buf));
    struct codec_ctx c = ctx_at(base, true);
    int rc = oma_json_decode(buf, n, &c, &back, err, sizeof(err));
    if (rc != GW_OK)
        fail_msg("decode of %.*s: rc=%d err=%s", (int)n, (const char *)buf, rc, err);
    assert_int_equal(back.n, r->n);
    for (size_t i = 0; i < r->n; i++) {
        const struct data_record *x = &r->v[i], *y = &back.v[i];
        assert_memory_equal(&x->path, &y->path, sizeof(x->path));
        assert_int_equal(x->value.type, y->value.type);
        assert_int_equal(x->has_time, y->has_time);
        assert_true(x->time == y->time);
        if (x->value.type == GW_TYPE_STRING || x->value.type == GW_TYPE_OPAQUE) {
            assert_int_equal(x->value.v.bytes.len, y->value.v.bytes.len);
            if (x->value.v.bytes.len)
                assert_memory_equal(x->value.v.bytes.p, y->value.v.bytes.p, x->value.v.bytes.len);
        } else if (x->value.type == GW_TYPE_FLOAT) {
            assert_memory_equal(&x->value.v.f, &y->value.v.f, sizeof(double));
        } else if (x->value.type == GW_TYPE_BOOLEAN) {
            assert_int_equal(x->value.v.b, y->value.v.b);
        } else if (x->value.type == GW_TYPE_OBJLNK) {
            assert_memory_equal(&x->value.v.lnk, &y->value.v.lnk, sizeof(x->value.v.lnk));
        } else {
            assert_true(x->value.v.u == y->value.v.u);
        }
    }
    data_records_clear(&back);
}

/* ---- the examples of OMA-TS-LightweightM2M-V1_0, section 6.4.4 ---- */

/* Read /3/0 in JSON. Reconstructed: the spec's text with its typographic quotes made ASCII, the
 * numbers unquoted (drafts quoted them, which is not valid for "v") and bn "/3/0/" as the
 * approved 1.0 text writes it; whitespace removed. */
static const char spec_device[] =
    "{\"bn\":\"/3/0/\",\"e\":[{\"n\":\"0\",\"sv\":\"Open Mobile Alliance\"},"
    "{\"n\":\"1\",\"sv\":\"Lightweight M2M Client\"},{\"n\":\"2\",\"sv\":\"345000123\"},"
    "{\"n\":\"3\",\"sv\":\"1.0\"},{\"n\":\"6/0\",\"v\":1},{\"n\":\"6/1\",\"v\":5},"
    "{\"n\":\"7/0\",\"v\":3800},{\"n\":\"7/1\",\"v\":5000},{\"n\":\"8/0\",\"v\":125},"
    "{\"n\":\"8/1\",\"v\":900},{\"n\":\"9\",\"v\":100},{\"n\":\"10\",\"v\":15},"
    "{\"n\":\"11/0\",\"v\":0},{\"n\":\"13\",\"v\":1367491215},{\"n\":\"14\",\"sv\":\"+02:00\"},"
    "{\"n\":\"15\",\"sv\":\"U\"}]}";

static void test_spec_device_read_round_trips_exactly(void **state)
{
    (void)state;
    struct data_records r = {0};
    decode_ok(spec_device, "/3/0", &r);
    assert_int_equal(r.n, 16);
    assert_path(&r.v[0], "/3/0/0");
    assert_text(&r.v[0], GW_TYPE_STRING, "Open Mobile Alliance");
    assert_path(&r.v[5], "/3/0/6/1");
    assert_int(&r.v[5], GW_TYPE_INTEGER, 5);
    assert_path(&r.v[13], "/3/0/13");
    assert_int(&r.v[13], GW_TYPE_TIME, 1367491215);
    assert_text(&r.v[15], GW_TYPE_STRING, "U");
    encodes_to(&r, "/3/0", spec_device);
    data_records_clear(&r);
}

/* The same without bn, as the 1.0 drafts wrote it: names are relative to the request URI. */
static void test_names_without_bn_are_relative_to_the_request(void **state)
{
    (void)state;
    struct data_records r = {0};
    decode_ok("{\"e\":[{\"n\":\"0\",\"sv\":\"Open Mobile Alliance\"},{\"n\":\"6/0\",\"v\":1}]}",
              "/3/0", &r);
    assert_path(&r.v[0], "/3/0/0");
    assert_path(&r.v[1], "/3/0/6/0");
    data_records_reset(&r);
    decode_ok("{\"e\":[{\"n\":\"3/0/0\",\"sv\":\"x\"}]}", "/", &r);
    assert_path(&r.v[0], "/3/0/0");
    data_records_reset(&r);
    decode_ok("{\"e\":[{\"sv\":\"Open Mobile Alliance\"}]}", "/3/0/0", &r);
    assert_path(&r.v[0], "/3/0/0");
    data_records_clear(&r);
}

/* The notification with historical values: the spec's text, numbers unquoted, bt after e. */
static void test_spec_time_series_has_bt_plus_t(void **state)
{
    (void)state;
    struct data_records r = {0};
    decode_ok("{\"e\":[{\"n\":\"1/2\",\"v\":22.4,\"t\":-5},{\"n\":\"1/2\",\"v\":22.9,\"t\":-30},"
              "{\"n\":\"1/2\",\"v\":24.1,\"t\":-50}],\"bt\":25462634}",
              "/72", &r);
    static const double v[] = {22.4, 22.9, 24.1}, t[] = {25462629, 25462604, 25462584};
    assert_int_equal(r.n, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_path(&r.v[i], "/72/1/2");
        assert_int_equal(r.v[i].value.type, GW_TYPE_FLOAT);
        assert_true(r.v[i].value.v.f == v[i]);
        assert_true(r.v[i].has_time);
        assert_true(r.v[i].time == t[i]);
    }
    data_records_clear(&r);
}

/* Object links across objects read at the root (reconstructed from the 1.0 example of objects
 * 65-67, the last link in decimal). With bn "/" our writer gives the same text back. */
static void test_spec_object_links_from_the_root_round_trip_exactly(void **state)
{
    (void)state;
    static const char json[] =
        "{\"bn\":\"/\",\"e\":[{\"n\":\"65/0/0/0\",\"ov\":\"66:0\"},{\"n\":\"65/0/0/1\",\"ov\":"
        "\"66:1\"},{\"n\":\"65/0/1\",\"sv\":\"8613800755500\"},{\"n\":\"65/0/2\",\"v\":1},"
        "{\"n\":\"66/0/0\",\"sv\":\"myService 1\"},{\"n\":\"66/0/1\",\"sv\":\"Internet.15.234\"},"
        "{\"n\":\"66/0/2\",\"ov\":\"67:0\"},{\"n\":\"66/1/0\",\"sv\":\"myService 2\"},"
        "{\"n\":\"66/1/1\",\"sv\":\"Internet.15.235\"},{\"n\":\"66/1/2\",\"ov\":\"65535:65535\"},"
        "{\"n\":\"67/0/0\",\"sv\":\"85.76.76.84\"},{\"n\":\"67/0/1\",\"sv\":\"85.76.255.255\"}]}";
    struct data_records r = {0};
    decode_ok(json, "/", &r);
    assert_int_equal(r.n, 12);
    assert_path(&r.v[1], "/65/0/0/1");
    assert_int_equal(r.v[1].value.type, GW_TYPE_OBJLNK);
    assert_int_equal(r.v[1].value.v.lnk.iid, 1);
    assert_int_equal(r.v[9].value.v.lnk.oid, 65535);
    encodes_to(&r, "/", json);
    data_records_clear(&r);
}

/* Leshan writes a resource's history with bn at the resource and no n. */
static void test_entries_without_n_name_the_base(void **state)
{
    (void)state;
    struct data_records r = {0};
    decode_ok("{\"bn\":\"/3303/0/5700\",\"e\":[{\"v\":22.9,\"t\":-30},{\"v\":22.4,\"t\":-5}],"
              "\"bt\":25462634}",
              "/3303/0/5700", &r);
    assert_int_equal(r.n, 2);
    assert_path(&r.v[1], "/3303/0/5700");
    assert_true(r.v[1].time == 25462629.0);
    data_records_reset(&r);
    decode_ok("{\"bn\":\"/2/3\",\"e\":[{\"n\":\"/0\",\"v\":1234}]}", "/2/3", &r);
    assert_path(&r.v[0], "/2/3/0");
    data_records_clear(&r);
}

static void test_relative_time_without_bt_stays_relative(void **state)
{
    (void)state;
    struct data_records r = {0};
    decode_ok("{\"bn\":\"/3303/0/\",\"e\":[{\"n\":\"5700\",\"v\":20,\"t\":-5},{\"n\":\"5700\","
              "\"v\":21}]}",
              "/3303/0", &r);
    assert_true(r.v[0].has_time);
    assert_true(r.v[0].time == -5.0);
    assert_false(r.v[1].has_time);
    data_records_clear(&r);
}

/* ---- typing ---- */

static void test_opaque_resource_takes_base64_from_sv(void **state)
{
    (void)state;
    struct data_records r = {0};
    decode_ok("{\"bn\":\"/5/0/\",\"e\":[{\"n\":\"0\",\"sv\":\"AQIDBAU=\"},{\"n\":\"1\",\"sv\":"
              "\"coap://fw\"}]}",
              "/5/0", &r);
    assert_text(&r.v[0], GW_TYPE_OPAQUE, "\x01\x02\x03\x04\x05");
    assert_text(&r.v[1], GW_TYPE_STRING, "coap://fw");
    data_records_clear(&r);
}

static void test_unknown_object_keeps_json_types(void **state)
{
    (void)state;
    struct data_records r = {0};
    decode_ok("{\"bn\":\"/32000/0/\",\"e\":[{\"n\":\"1\",\"v\":3},{\"n\":\"2\",\"v\":3.5},"
              "{\"n\":\"3\",\"sv\":\"AQID\"},{\"n\":\"4\",\"bv\":false},{\"n\":\"5\",\"ov\":"
              "\"1:2\"}]}",
              "/32000", &r);
    assert_int(&r.v[0], GW_TYPE_INTEGER, 3);
    assert_int_equal(r.v[1].value.type, GW_TYPE_FLOAT);
    assert_text(&r.v[2], GW_TYPE_STRING, "AQID"); /* no model: cannot know it is Opaque */
    assert_int_equal(r.v[3].value.type, GW_TYPE_BOOLEAN);
    assert_int_equal(r.v[4].value.v.lnk.iid, 2);
    data_records_clear(&r);
}

/* ---- rejections ---- */

static void test_shapes_other_than_the_format_are_refused(void **state)
{
    (void)state;
    refused("[{\"n\":\"/3/0/9\",\"v\":1}]", "object with \"e\", not an array");
    refused("{\"bn\":\"/3/0/\"}", "no \"e\" array");
    refused("{\"e\":{\"n\":\"9\",\"v\":1}}", "e must be an array, not an object");
    refused("{\"bn\":\"/3/0/\",\"ver\":1,\"e\":[]}", "unknown top-level field \"ver\"");
    refused("{\"bn\":3,\"e\":[]}", "bn must be a string");
    refused("{\"bt\":\"now\",\"e\":[]}", "bt must be a number");
    refused("{\"e\":[{\"n\":\"3/0/9\",\"v\":1},[]]}", "entry 2 is an array, not an object");
}

static void test_entries_need_exactly_one_value(void **state)
{
    (void)state;
    refused("{\"e\":[{\"n\":\"3/0/9\",\"v\":1,\"sv\":\"1\"}]}",
            "entry 1 has two values (v and sv)");
    refused("{\"e\":[{\"n\":\"3/0/9\"}]}", "entry 1 has no value");
}

static void test_bad_names_are_refused(void **state)
{
    (void)state;
    refused("{\"e\":[{\"n\":9,\"v\":1}]}", "n must be a string, not a number");
    refused("{\"e\":[{\"n\":\"3/0/9\",\"v\":1,\"t\":\"x\"}]}", "t must be a number");
    refused("{\"bn\":\"/3/0/\",\"e\":[{\"n\":\"nine\",\"v\":1}]}", "\"/3/0/nine\" is not an");
    refused("{\"bn\":\"/3/0/\",\"e\":[{\"n\":\"6/0/1\",\"v\":1}]}", "is not an LwM2M path");
    refused("{\"e\":[{\"n\":\"3/0\",\"v\":1}]}", "not a resource path");
    refused_at("{\"bn\":\"/4/0/\",\"e\":[{\"n\":\"2\",\"v\":1}]}", "/3/0", -GW_ERR_INVALID,
               "entry 1: /4/0/2 lies outside the requested path /3/0");
}

static void test_values_the_model_refuses_are_refused(void **state)
{
    (void)state;
    refused("{\"e\":[{\"n\":\"3/0/9\",\"v\":99.5}]}", "not a whole number");
    refused("{\"e\":[{\"n\":\"3/0/9\",\"sv\":\"99\"}]}",
            "a string (sv) where the model says Integer");
    refused("{\"e\":[{\"n\":\"3/0/0\",\"v\":1}]}", "a number (v) where the model says String");
    refused("{\"e\":[{\"n\":\"3/0/0\",\"bv\":true}]}", "where the model says String");
    refused("{\"e\":[{\"n\":\"5/0/0\",\"sv\":\"AQ*D\"}]}", "sv: not base64");
    refused("{\"e\":[{\"n\":\"1/0/10\",\"ov\":\"1-2\"}]}", "not an object link");
    refused("{\"e\":[{\"n\":\"3311/0/5850\",\"bv\":\"true\"}]}", "bv must be true or false");
}

static void test_malformed_json_is_refused_with_line_and_column(void **state)
{
    (void)state;
    refused("{\"e\":[\n{\"n\":\"3/0/9\",\"v\":1},\n]}", "line 3, column");
    refused("{\"e\":[],\"e\":[]}", "duplicate");
    refused("{\"e\":[]}{}", "end of file expected");
    refused("{\"bt\":1e999,\"e\":[]}", "real number overflow");
    refused("{\"e\":[{\"n\":\"3/0/9\",\"v\":1,\"x\":[[[[[[[[]]]]]]]]}]}", "nested deeper than 8");
}

static void test_time_that_overflows_is_refused(void **state)
{
    (void)state;
    refused("{\"bt\":1.5e308,\"e\":[{\"n\":\"3/0/9\",\"v\":1,\"t\":1.5e308}]}", "not finite");
}

static void test_more_than_the_record_limit_is_full(void **state)
{
    (void)state;
    static const char entry[] = "{\"n\":\"3/0/9\",\"v\":1},";
    size_t n = GW_RECORDS_MAX, len = 6 + n * (sizeof(entry) - 1) + 1;
    char *json = malloc(len + 1);
    assert_non_null(json);
    memcpy(json, "{\"e\":[", 6);
    for (size_t i = 0; i < n; i++)
        memcpy(json + 6 + i * (sizeof(entry) - 1), entry, sizeof(entry) - 1);
    memcpy(json + len - 2, "]}", 3); /* the last ',' becomes ']' */
    refused_at(json, "/", -GW_ERR_FULL, "65536 entries are more than 65536");
    free(json);
}

/* ---- encoding ---- */

static void test_every_type_round_trips(void **state)
{
    (void)state;
    struct data_records r = {0};
    struct data_value v = {.type = GW_TYPE_INTEGER, .v.i = INT64_MIN};
    add(&r, "/3/0/0", bytes_value(GW_TYPE_STRING, "\xe2\x82\xac \"\\\x01", 7));
    add(&r, "/3/0/6/0", v);
    v.type = GW_TYPE_TIME, v.v.i = 1367491215;
    add(&r, "/3/0/13", v);
    v.type = GW_TYPE_BOOLEAN, v.v.b = false;
    add(&r, "/3/0/30", v);
    v.type = GW_TYPE_OBJLNK, v.v.lnk.oid = 3, v.v.lnk.iid = 65535;
    add(&r, "/3/0/22/3", v);
    v.type = GW_TYPE_FLOAT, v.v.f = -0.0;
    add(&r, "/3/0/40", v);
    v.v.f = 0.30000000000000004;
    add(&r, "/3/0/40", v);
    round_trips(&r, "/3/0");
    round_trips(&r, "/");
    data_records_reset(&r);
    add(&r, "/5/0/0", bytes_value(GW_TYPE_OPAQUE, "\xfb\xff\x00", 3));
    add(&r, "/5/0/0", bytes_value(GW_TYPE_OPAQUE, "", 0));
    v.type = GW_TYPE_UNSIGNED, v.v.u = 4294967296u;
    add(&r, "/5/0/13", v);
    round_trips(&r, "/5/0");
    data_records_clear(&r);
}

static void test_opaque_is_standard_base64_in_sv(void **state)
{
    (void)state;
    struct data_records r = {0};
    add(&r, "/5/0/0", bytes_value(GW_TYPE_OPAQUE, "\xfb\xff\x01\x02", 4));
    struct data_path p = data_path_make(3, 5, 0, 3);
    struct data_value v = {.type = GW_TYPE_INTEGER, .v.i = 2};
    assert_int_equal(data_records_add(&r, &p, &v, true, -5), GW_OK);
    encodes_to(&r, "/5/0",
               "{\"bn\":\"/5/0/\",\"e\":[{\"n\":\"0\",\"sv\":\"+/8BAg==\"},"
               "{\"n\":\"3\",\"v\":2,\"t\":-5}]}");
    data_records_clear(&r);
}

static void test_single_resource_has_no_name(void **state)
{
    (void)state;
    static const char json[] = "{\"bn\":\"/3/0/0\",\"e\":[{\"sv\":\"Open Mobile Alliance\"}]}";
    struct data_records r = {0};
    decode_ok(json, "/3/0/0", &r);
    encodes_to(&r, "/3/0/0", json);
    data_records_clear(&r);
}

static void test_small_buffer_is_full_at_every_size(void **state)
{
    (void)state;
    struct data_records r = {0};
    char err[128];
    uint8_t buf[1024];
    size_t need = 0, n;
    decode_ok(spec_device, "/3/0", &r);
    assert_int_equal(encode_at(&r, "/3/0", buf, sizeof(buf), &need, err, sizeof(err)), GW_OK);
    for (size_t cap = 0; cap < need; cap++)
        assert_int_equal(encode_at(&r, "/3/0", buf, cap, &n, err, sizeof(err)), -GW_ERR_FULL);
    assert_int_equal(encode_at(&r, "/3/0", buf, need, &n, err, sizeof(err)), GW_OK);
    assert_int_equal(n, need);
    data_records_clear(&r);
}

static void test_unwritable_records_are_invalid(void **state)
{
    (void)state;
    struct data_records r = {0};
    char err[128] = "";
    uint8_t buf[256];
    size_t n;
    add(&r, "/3/0/0", (struct data_value){.type = GW_TYPE_NONE});
    assert_int_equal(encode_at(&r, "/3/0", buf, sizeof(buf), &n, err, sizeof(err)),
                     -GW_ERR_INVALID);
    assert_non_null(strstr(err, "record 1 has no value"));
    data_records_reset(&r);
    add(&r, "/3/0/9", (struct data_value){.type = GW_TYPE_FLOAT, .v.f = INFINITY});
    assert_int_equal(encode_at(&r, "/3/0", buf, sizeof(buf), &n, err, sizeof(err)),
                     -GW_ERR_INVALID);
    assert_non_null(strstr(err, "has no JSON form"));
    data_records_reset(&r);
    add(&r, "/3/1/0", bytes_value(GW_TYPE_STRING, "a", 1));
    assert_int_equal(encode_at(&r, "/3/0", buf, sizeof(buf), &n, err, sizeof(err)),
                     -GW_ERR_INVALID);
    assert_non_null(strstr(err, "lies outside /3/0"));
    data_records_clear(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_device_read_round_trips_exactly),
        cmocka_unit_test(test_names_without_bn_are_relative_to_the_request),
        cmocka_unit_test(test_spec_time_series_has_bt_plus_t),
        cmocka_unit_test(test_spec_object_links_from_the_root_round_trip_exactly),
        cmocka_unit_test(test_entries_without_n_name_the_base),
        cmocka_unit_test(test_relative_time_without_bt_stays_relative),
        cmocka_unit_test(test_opaque_resource_takes_base64_from_sv),
        cmocka_unit_test(test_unknown_object_keeps_json_types),
        cmocka_unit_test(test_shapes_other_than_the_format_are_refused),
        cmocka_unit_test(test_entries_need_exactly_one_value),
        cmocka_unit_test(test_bad_names_are_refused),
        cmocka_unit_test(test_values_the_model_refuses_are_refused),
        cmocka_unit_test(test_malformed_json_is_refused_with_line_and_column),
        cmocka_unit_test(test_time_that_overflows_is_refused),
        cmocka_unit_test(test_more_than_the_record_limit_is_full),
        cmocka_unit_test(test_every_type_round_trips),
        cmocka_unit_test(test_opaque_is_standard_base64_in_sv),
        cmocka_unit_test(test_single_resource_has_no_name),
        cmocka_unit_test(test_small_buffer_is_full_at_every_size),
        cmocka_unit_test(test_unwritable_records_are_invalid),
    };
    return cmocka_run_group_tests(tests, codec_test_setup, codec_test_teardown);
}

/* test_senml_json.c - SenML JSON (content format 110, senml_json.c): the examples of the LwM2M
 * 1.1 Core specification section 7.4.4 decoded and, where our writer's form is the spec's,
 * encoded back to the same bytes; base-value carry-over and times; typing by the object model
 * and without it; every rejection with its reason; round trips of every type. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define CODEC_TEST_DECODE senml_json_decode
#define CODEC_TEST_ENCODE senml_json_encode
#include "json_testutil.h"

static void assert_float(const struct data_record *rec, double f)
{
    assert_int_equal(rec->value.type, GW_TYPE_FLOAT);
    assert_true(rec->value.v.f == f);
}

static void assert_same_records(const struct data_records *a, const struct data_records *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        const struct data_record *x = &a->v[i], *y = &b->v[i];
        enum data_type t = x->value.type;
        assert_memory_equal(&x->path, &y->path, sizeof(x->path));
        assert_int_equal(t, y->value.type);
        assert_int_equal(x->has_time, y->has_time);
        assert_true(x->time == y->time);
        if (t == GW_TYPE_STRING || t == GW_TYPE_OPAQUE || t == GW_TYPE_CORELNK) {
            assert_int_equal(x->value.v.bytes.len, y->value.v.bytes.len);
            if (x->value.v.bytes.len)
                assert_memory_equal(x->value.v.bytes.p, y->value.v.bytes.p, x->value.v.bytes.len);
        } else if (t == GW_TYPE_BOOLEAN) {
            assert_int_equal(x->value.v.b, y->value.v.b);
        } else if (t == GW_TYPE_OBJLNK) {
            assert_memory_equal(&x->value.v.lnk, &y->value.v.lnk, sizeof(x->value.v.lnk));
        } else if (t != GW_TYPE_NONE) { /* bit for bit: -0.0 and subnormal floats too */
            assert_memory_equal(&x->value.v, &y->value.v, 8);
        }
    }
}

/* Encodes `r` below `base`, decodes the text again and asserts that nothing changed. */
static void round_trips(const struct data_records *r, const char *base)
{
    struct codec_ctx c = ctx_at(base, true);
    uint8_t buf[4096];
    char err[256] = "";
    struct data_records back = {0};
    size_t n = encode_ok(r, base, buf, sizeof(buf));
    int rc = senml_json_decode(buf, n, &c, &back, err, sizeof(err));
    if (rc != GW_OK)
        fail_msg("decode of %.*s: rc=%d err=%s", (int)n, (const char *)buf, rc, err);
    assert_same_records(r, &back);
    data_records_clear(&back);
}

/* ---- the examples of OMA-TS-LightweightM2M_Core-V1_1, section 7.4.4 ---- */

/* Table 7.4.4-2: Read /3/0 answered in SenML JSON (verbatim, whitespace removed). */
static const char spec_device[] =
    "[{\"bn\":\"/3/0/\",\"n\":\"0\",\"vs\":\"Open Mobile Alliance\"},"
    "{\"n\":\"1\",\"vs\":\"Lightweight M2M Client\"},{\"n\":\"2\",\"vs\":\"345000123\"},"
    "{\"n\":\"3\",\"vs\":\"1.0\"},{\"n\":\"6/0\",\"v\":1},{\"n\":\"6/1\",\"v\":5},"
    "{\"n\":\"7/0\",\"v\":3800},{\"n\":\"7/1\",\"v\":5000},{\"n\":\"8/0\",\"v\":125},"
    "{\"n\":\"8/1\",\"v\":900},{\"n\":\"9\",\"v\":100},{\"n\":\"10\",\"v\":15},"
    "{\"n\":\"11/0\",\"v\":0},{\"n\":\"13\",\"v\":1367491215},{\"n\":\"14\",\"vs\":\"+02:00\"},"
    "{\"n\":\"16\",\"vs\":\"U\"}]";

static void test_spec_device_read_is_typed_by_the_model(void **state)
{
    (void)state;
    static const char *const paths[] = {"/3/0/0",    "/3/0/1",   "/3/0/2",   "/3/0/3",
                                        "/3/0/6/0",  "/3/0/6/1", "/3/0/7/0", "/3/0/7/1",
                                        "/3/0/8/0",  "/3/0/8/1", "/3/0/9",   "/3/0/10",
                                        "/3/0/11/0", "/3/0/13",  "/3/0/14",  "/3/0/16"};
    struct data_records r = {0};
    decode_ok(spec_device, "/3/0", &r);
    assert_int_equal(r.n, GW_ARRAY_LEN(paths));
    for (size_t i = 0; i < r.n; i++) {
        assert_path(&r.v[i], paths[i]);
        assert_false(r.v[i].has_time);
    }
    assert_text(&r.v[0], GW_TYPE_STRING, "Open Mobile Alliance");
    assert_text(&r.v[3], GW_TYPE_STRING, "1.0");
    assert_int(&r.v[6], GW_TYPE_INTEGER, 3800);
    assert_int(&r.v[10], GW_TYPE_INTEGER, 100);
    assert_int(&r.v[13], GW_TYPE_TIME, 1367491215);
    assert_text(&r.v[15], GW_TYPE_STRING, "U");
    encodes_to(&r, "/3/0", spec_device);
    data_records_clear(&r);
}

static void test_spec_device_read_without_model_keeps_json_types(void **state)
{
    (void)state;
    struct data_records r = {0};
    char err[128];
    assert_int_equal(decode_at(spec_device, "/3/0", false, &r, err, sizeof(err)), GW_OK);
    assert_int_equal(r.n, 16);
    assert_text(&r.v[1], GW_TYPE_STRING, "Lightweight M2M Client");
    assert_int(&r.v[13], GW_TYPE_INTEGER, 1367491215); /* no model: not known to be a Time */
    data_records_clear(&r);
}

/* Table 7.4.4-3: a notification with historical values (verbatim). */
static void test_spec_time_series_has_bt_plus_t(void **state)
{
    (void)state;
    struct data_records r = {0};
    decode_ok("[{\"bn\":\"/72/\",\"bt\":25462634,\"n\":\"1/2\",\"v\":22.4,\"t\":-5},"
              "{\"n\":\"1/2\",\"v\":22.9,\"t\":-30},{\"n\":\"1/2\",\"v\":24.1,\"t\":-50}]",
              "/72", &r);
    static const double v[] = {22.4, 22.9, 24.1}, t[] = {25462629, 25462604, 25462584};
    assert_int_equal(r.n, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_path(&r.v[i], "/72/1/2");
        assert_float(&r.v[i], v[i]);
        assert_true(r.v[i].has_time);
        assert_true(r.v[i].time == t[i]);
    }
    data_records_clear(&r);
}

/* Table 7.4.4-4: several objects with object links, read at the root. The spec writes the
 * last link in hex ("FFFF:FFFF"); reconstructed in decimal, the form Objlnk text has. */
static void test_spec_object_links_from_the_root(void **state)
{
    (void)state;
    struct data_records r = {0};
    decode_ok("[{\"bn\":\"/\",\"n\":\"65/0/0/0\",\"vlo\":\"66:0\"},{\"n\":\"65/0/0/1\",\"vlo\":"
              "\"66:1\"},{\"n\":\"65/0/1\",\"vs\":\"8613800755500\"},{\"n\":\"65/0/2\",\"v\":1},"
              "{\"n\":\"66/0/0\",\"vs\":\"myService1\"},{\"n\":\"66/0/1\",\"vs\":"
              "\"Internet.15.234\"},{\"n\":\"66/0/2\",\"vlo\":\"67:0\"},{\"n\":\"66/1/0\",\"vs\":"
              "\"myService2\"},{\"n\":\"66/1/1\",\"vs\":\"Internet.15.235\"},{\"n\":\"66/1/2\","
              "\"vlo\":\"65535:65535\"},{\"n\":\"67/0/0\",\"vs\":\"85.76.76.84\"},{\"n\":"
              "\"67/0/1\",\"vs\":\"85.76.255.255\"}]",
              "/", &r);
    assert_int_equal(r.n, 12);
    assert_path(&r.v[0], "/65/0/0/0");
    assert_int_equal(r.v[0].value.type, GW_TYPE_OBJLNK);
    assert_int_equal(r.v[0].value.v.lnk.oid, 66);
    assert_int_equal(r.v[9].value.v.lnk.oid, 65535);
    assert_int_equal(r.v[9].value.v.lnk.iid, 65535);
    assert_int(&r.v[3], GW_TYPE_INTEGER, 1);
    assert_path(&r.v[11], "/67/0/1");
    round_trips(&r, "/");
    data_records_clear(&r);
}

/* Table 7.4.4-5: a single resource; the spec's closing quote after "vs" is missing, restored. */
static void test_spec_single_resource_round_trips_exactly(void **state)
{
    (void)state;
    static const char json[] = "[{\"bn\":\"/3/0/0\",\"vs\":\"Open Mobile Alliance\"}]";
    struct data_records r = {0};
    decode_ok(json, "/3/0/0", &r);
    assert_int_equal(r.n, 1);
    assert_path(&r.v[0], "/3/0/0");
    encodes_to(&r, "/3/0/0", json);
    data_records_clear(&r);
}

/* Table 7.4.4-6: the Read-Composite request names paths without values (verbatim). */
static void test_spec_read_composite_request_has_no_values(void **state)
{
    (void)state;
    static const char json[] = "[{\"n\":\"/3/0/0\"},{\"n\":\"/3/0/9\"},{\"n\":\"/1/0/1\"}]";
    struct data_records r = {0};
    decode_ok(json, "/", &r);
    assert_int_equal(r.n, 3);
    assert_path(&r.v[2], "/1/0/1");
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(r.v[i].value.type, GW_TYPE_NONE);
    encodes_to(&r, "/", json);
    data_records_clear(&r);
}

/* Table 7.4.4-7: the Read-Composite response (verbatim, with the spec's spaces). */
static void test_spec_read_composite_response(void **state)
{
    (void)state;
    struct data_records r = {0};
    decode_ok("[{\"n\":\"/3/0/0\", \"vs\":\"Open Mobile Alliance\"},\n{\"n\" :\"/3/0/9\", "
              "\"v\":95},\n{\"n\":\"/1/0/1\", \"v\":86400}]",
              "/", &r);
    assert_int_equal(r.n, 3);
    assert_int(&r.v[1], GW_TYPE_INTEGER, 95);
    assert_path(&r.v[2], "/1/0/1");
    assert_int(&r.v[2], GW_TYPE_INTEGER, 86400);
    encodes_to(&r, "/",
               "[{\"n\":\"/3/0/0\",\"vs\":\"Open Mobile Alliance\"},{\"n\":\"/3/0/9\",\"v\":95},"
               "{\"n\":\"/1/0/1\",\"v\":86400}]");
    data_records_clear(&r);
}

/* Table 7.4.4-8: the Write-Composite request (verbatim). 5900 is a Float in the model, so our
 * writer gives "18.0" where the spec wrote 18. */
static void test_spec_write_composite_is_typed_by_ipso_objects(void **state)
{
    (void)state;
    struct data_records r = {0};
    decode_ok("[{\"n\":\"/3311/0/5850\", \"vb\":false},{\"n\":\"/3311/1/5850\", \"vb\":false},"
              "{\"n\":\"/3311/2/5851\", \"v\":20},{\"n\":\"/3308/0/5900\", \"v\":18}]",
              "/", &r);
    assert_int_equal(r.n, 4);
    assert_int_equal(r.v[0].value.type, GW_TYPE_BOOLEAN);
    assert_false(r.v[0].value.v.b);
    assert_int(&r.v[2], GW_TYPE_INTEGER, 20);
    assert_float(&r.v[3], 18.0);
    encodes_to(&r, "/",
               "[{\"n\":\"/3311/0/5850\",\"vb\":false},{\"n\":\"/3311/1/5850\",\"vb\":false},"
               "{\"n\":\"/3311/2/5851\",\"v\":20},{\"n\":\"/3308/0/5900\",\"v\":18.0}]");
    data_records_clear(&r);
}

/* A Send (POST /dp) as the spec's section 6.4.? describes it: reconstructed, absolute times;
 * bt carries over a change of bn. */
static void test_send_keeps_each_record_at_its_time(void **state)
{
    (void)state;
    struct data_records r = {0};
    decode_ok("[{\"bn\":\"/3303/0/\",\"bt\":1700000000,\"n\":\"5700\",\"v\":21.5},"
              "{\"n\":\"5700\",\"v\":22,\"t\":60},{\"bn\":\"/3/0/\",\"n\":\"9\",\"v\":87}]",
              "/", &r);
    assert_int_equal(r.n, 3);
    assert_float(&r.v[0], 21.5);
    assert_true(r.v[0].time == 1700000000.0);
    assert_float(&r.v[1], 22.0); /* an integer literal for a Float resource */
    assert_true(r.v[1].time == 1700000060.0);
    assert_path(&r.v[2], "/3/0/9");
    assert_true(r.v[2].has_time);
    assert_true(r.v[2].time == 1700000000.0);
    data_records_clear(&r);
}

/* ---- base values, names and times ---- */

static void test_base_name_applies_until_replaced(void **state)
{
    (void)state;
    struct data_records r = {0};
    decode_ok("[{\"bn\":\"/3/0/\",\"n\":\"9\",\"v\":1},{\"n\":\"10\",\"v\":2},"
              "{\"bn\":\"/1/0\",\"n\":\"/1\",\"v\":3},{\"bn\":\"\",\"n\":\"/4/0/2\",\"v\":4}]",
              "/", &r);
    assert_int_equal(r.n, 4);
    assert_path(&r.v[1], "/3/0/10");
    assert_path(&r.v[2], "/1/0/1");
    assert_path(&r.v[3], "/4/0/2");
    data_records_reset(&r);
    decode_ok("[{\"n\":\"/3/0/6/1\",\"v\":5}]", "/3/0/6", &r); /* deeper than the base */
    assert_path(&r.v[0], "/3/0/6/1");
    data_records_clear(&r);
}

static void test_time_is_bt_plus_t_and_t_alone_stays_relative(void **state)
{
    (void)state;
    struct data_records r = {0};
    decode_ok("[{\"n\":\"/3303/0/5700\",\"v\":20.5,\"t\":-5}]", "/3303/0/5700", &r);
    assert_true(r.v[0].has_time);
    assert_true(r.v[0].time == -5.0);
    assert_true(data_time_ms(r.v[0].time, 1700000000000) == 1699999995000);
    data_records_reset(&r);
    decode_ok("[{\"n\":\"/3/0/9\",\"v\":1},{\"bt\":1700000000.5,\"n\":\"/3/0/10\",\"v\":2}]", "/",
              &r);
    assert_false(r.v[0].has_time); /* neither bt nor t */
    assert_true(r.v[1].has_time);  /* bt alone */
    assert_true(r.v[1].time == 1700000000.5);
    data_records_clear(&r);
}

static void test_base_value_is_added_to_v(void **state)
{
    (void)state;
    struct data_records r = {0};
    decode_ok("[{\"bv\":100,\"n\":\"/3/0/9\",\"v\":-1},{\"n\":\"/3303/0/5700\",\"v\":0.5}]", "/",
              &r);
    assert_int(&r.v[0], GW_TYPE_INTEGER, 99);
    assert_float(&r.v[1], 100.5);
    data_records_clear(&r);
}

static void test_version_10_and_unknown_fields_are_accepted(void **state)
{
    (void)state;
    struct data_records r = {0};
    decode_ok("[{\"bver\":10,\"n\":\"/3303/0/5700\",\"v\":1.5,\"u\":\"Cel\",\"x\":[1]}]", "/", &r);
    assert_int_equal(r.n, 1);
    data_records_clear(&r);
}

static void test_empty_pack_gives_no_records(void **state)
{
    (void)state;
    struct data_records r = {0};
    decode_ok(" [ ] \n", "/3", &r);
    assert_int_equal(r.n, 0);
    data_records_clear(&r);
}

static void test_json_escapes_decode_to_utf8(void **state)
{
    (void)state;
    struct data_records r = {0};
    decode_ok("[{\"n\":\"/3/0/0\",\"vs\":\"a\\\"b\\\\c\\u00e9\\ud83d\\ude00\\u0000\"}]", "/", &r);
    assert_int_equal(r.v[0].value.v.bytes.len, 12);
    assert_memory_equal(r.v[0].value.v.bytes.p, "a\"b\\c\xc3\xa9\xf0\x9f\x98\x80\0", 12);
    data_records_clear(&r);
}

/* ---- typing ---- */

static void test_model_types_numbers(void **state)
{
    (void)state;
    struct data_records r = {0};
    decode_ok("[{\"n\":\"/3/0/9\",\"v\":22.0},{\"n\":\"/3/0/13\",\"v\":1.7e9},"
              "{\"n\":\"/1/0/11\",\"v\":7},{\"n\":\"/3303/0/5700\",\"v\":-40}]",
              "/", &r);
    assert_int(&r.v[0], GW_TYPE_INTEGER, 22);
    assert_int(&r.v[1], GW_TYPE_TIME, 1700000000);
    assert_int_equal(r.v[2].value.type, GW_TYPE_UNSIGNED);
    assert_true(r.v[2].value.v.u == 7);
    assert_float(&r.v[3], -40.0);
    data_records_clear(&r);
}

static void test_unknown_object_keeps_senml_types(void **state)
{
    (void)state;
    struct data_records r = {0};
    decode_ok("[{\"bn\":\"/32000/0/\",\"n\":\"1\",\"v\":3},{\"n\":\"2\",\"v\":3.25},"
              "{\"n\":\"3\",\"vs\":\"x\"},{\"n\":\"4\",\"vb\":true},{\"n\":\"5\",\"vd\":\"AQID\"},"
              "{\"n\":\"6\",\"vlo\":\"3:0\"},{\"n\":\"7\"},{\"n\":\"8\",\"v\":1e300}]",
              "/32000", &r);
    assert_int_equal(r.n, 8);
    assert_int(&r.v[0], GW_TYPE_INTEGER, 3);
    assert_float(&r.v[1], 3.25);
    assert_text(&r.v[2], GW_TYPE_STRING, "x");
    assert_int_equal(r.v[3].value.type, GW_TYPE_BOOLEAN);
    assert_text(&r.v[4], GW_TYPE_OPAQUE, "\x01\x02\x03");
    assert_int_equal(r.v[5].value.type, GW_TYPE_OBJLNK);
    assert_int_equal(r.v[6].value.type, GW_TYPE_NONE);
    assert_float(&r.v[7], 1e300);
    data_records_clear(&r);
}

static void test_vd_takes_base64url_and_standard_base64(void **state)
{
    (void)state;
    struct data_records r = {0};
    decode_ok("[{\"bn\":\"/5/0/0\",\"vd\":\"-_8\"},{\"vd\":\"+/8=\"},{\"vd\":\"AQIDBAU=\"},"
              "{\"vd\":\"\"},{\"vd\":\"MA==\"}]",
              "/5/0/0", &r);
    assert_text(&r.v[0], GW_TYPE_OPAQUE, "\xfb\xff");
    assert_text(&r.v[1], GW_TYPE_OPAQUE, "\xfb\xff");
    assert_text(&r.v[2], GW_TYPE_OPAQUE, "\x01\x02\x03\x04\x05");
    assert_text(&r.v[3], GW_TYPE_OPAQUE, "");
    assert_text(&r.v[4], GW_TYPE_OPAQUE, "0");
    data_records_clear(&r);
}

/* A Corelnk resource loaded from a DDF file: its vs stays a Corelnk. */
static void test_string_for_corelnk_resource_is_corelnk(void **state)
{
    (void)state;
    static const char ddf[] =
        "<?xml version=\"1.0\"?>\n<LWM2M><Object ObjectType=\"MODefinition\"><Name>T</Name>"
        "<ObjectID>32001</ObjectID><MultipleInstances>Multiple</MultipleInstances>"
        "<Mandatory>Optional</Mandatory><Resources><Item ID=\"1\"><Name>L</Name>"
        "<Operations>R</Operations><MultipleInstances>Single</MultipleInstances>"
        "<Mandatory>Optional</Mandatory><Type>Corelnk</Type></Item></Resources>"
        "</Object></LWM2M>\n";
    char file[] = "/tmp/test_senml_json_XXXXXX";
    int fd = mkstemp(file);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs(ddf, f);
    fclose(f);
    char err[256] = "";
    int rc = model_load_file(model, file, err, sizeof(err));
    remove(file);
    if (rc != GW_OK)
        fail_msg("model_load_file: %s", err);
    struct data_records r = {0};
    decode_ok("[{\"n\":\"/32001/0/1\",\"vs\":\"</3/0>\"}]", "/", &r);
    assert_text(&r.v[0], GW_TYPE_CORELNK, "</3/0>");
    round_trips(&r, "/32001");
    data_records_clear(&r);
}

/* ---- rejections ---- */

static void test_pack_that_is_not_an_array_of_objects_is_refused(void **state)
{
    (void)state;
    refused("{\"n\":\"/3/0/0\",\"v\":1}", "array of records, not an object");
    refused("[{\"n\":\"/3/0/9\",\"v\":1},2]", "record 2 is a number");
}

static void test_mandatory_to_understand_field_is_refused(void **state)
{
    (void)state;
    refused("[{\"bn\":\"/\",\"test_\":\"fail\",\"n\":\"3/0/9\",\"v\":1}]",
            "\"test_\" must be understood");
}

static void test_two_values_are_refused(void **state)
{
    (void)state;
    refused("[{\"n\":\"/3/0/9\",\"v\":1,\"vs\":\"1\"}]", "two values (v and vs)");
}

static void test_bad_base64_is_refused(void **state)
{
    (void)state;
    refused("[{\"n\":\"/5/0/0\",\"vd\":\"AQ*D\"}]", "character 2 is '*'");
    refused("[{\"n\":\"/5/0/0\",\"vd\":\"AQ=A\"}]", "not base64");
    refused("[{\"n\":\"/5/0/0\",\"vd\":\"AQ=\"}]", "padding");
    refused("[{\"n\":\"/5/0/0\",\"vd\":\"AQIDB\"}]", "length 5");
}

static void test_name_that_is_no_path_is_refused(void **state)
{
    (void)state;
    refused("[{\"n\":\"urn:dev:ow:10e2073a01080063\",\"v\":1}]", "is not an LwM2M path");
    refused("[{\"bn\":\"/3/0/\",\"n\":\"/9\",\"v\":1}]", "\"/3/0//9\" is not an LwM2M path");
    refused("[{\"n\":\"/3/0/70000\",\"v\":1}]", "is not an LwM2M path");
    refused("[{\"v\":1}]", "record 1 has no name");
    refused("[{\"n\":\"/3/0/6/0/1\",\"v\":1}]", "deeper than /oid/iid/rid/riid");
}

static void test_record_outside_the_requested_path_is_refused(void **state)
{
    (void)state;
    refused_at("[{\"bn\":\"/3/0/\",\"n\":\"9\",\"v\":1},{\"bn\":\"/4/0/\",\"n\":\"2\",\"v\":1}]",
               "/3/0", -GW_ERR_INVALID, "record 2: /4/0/2 lies outside the requested path /3/0");
}

static void test_value_on_an_object_instance_is_refused(void **state)
{
    (void)state;
    refused("[{\"n\":\"/3/0\",\"v\":1}]", "not a resource path");
}

static void test_non_finite_numbers_are_refused(void **state)
{
    (void)state;
    refused("[{\"n\":\"/3303/0/5700\",\"v\":1e400}]", "line 1, column");
    refused("[{\"bv\":1.5e308,\"n\":\"/3303/0/5700\",\"v\":1.5e308}]", "not a finite number");
    refused("[{\"bt\":1.5e308,\"n\":\"/3303/0/5700\",\"v\":1,\"t\":1.5e308}]", "not finite");
}

static void test_number_the_model_type_cannot_hold_is_refused(void **state)
{
    (void)state;
    refused("[{\"n\":\"/3/0/9\",\"v\":22.5}]", "not a whole number");
    refused("[{\"n\":\"/1/0/11\",\"v\":-1}]", "negative");
    refused("[{\"n\":\"/3/0/9\",\"v\":1e19}]", "out of range");
}

static void test_value_of_the_wrong_kind_for_the_model_is_refused(void **state)
{
    (void)state;
    refused("[{\"n\":\"/5/0/0\",\"vs\":\"AQID\"}]", "a string (vs) where the model says Opaque");
    refused("[{\"n\":\"/3311/0/5850\",\"v\":1}]", "a number (v) where the model says Boolean");
    refused("[{\"n\":\"/3/0/9\",\"vb\":true}]", "a boolean (vb) where the model says Integer");
    refused("[{\"n\":\"/3/0/0\",\"vd\":\"AQID\"}]", "where the model says String");
    refused("[{\"n\":\"/3/0/0\",\"vlo\":\"1:1\"}]", "where the model says String");
}

static void test_fields_of_the_wrong_json_type_are_refused(void **state)
{
    (void)state;
    refused("[{\"bn\":3,\"n\":\"/3/0/9\",\"v\":1}]", "bn must be a string, not a number");
    refused("[{\"n\":[\"/3/0/9\"],\"v\":1}]", "n must be a string, not an array");
    refused("[{\"n\":\"/3/0/9\",\"v\":1,\"t\":\"now\"}]", "t must be a number");
    refused("[{\"n\":\"/3/0/9\",\"v\":\"1\"}]", "v must be a number, not a string");
    refused("[{\"n\":\"/3311/0/5850\",\"vb\":1}]", "vb must be true or false");
    refused("[{\"n\":\"/3/0/0\",\"vs\":null}]", "vs must be a string, not null");
}

static void test_bad_object_link_is_refused(void **state)
{
    (void)state;
    refused("[{\"n\":\"/1/0/10\",\"vlo\":\"66\"}]", "not an object link");
    refused("[{\"n\":\"/1/0/10\",\"vlo\":\"70000:1\"}]", "not an object link");
    refused("[{\"n\":\"/1/0/10\",\"vlo\":\"1:-1\"}]", "not an object link");
}

static void test_newer_or_bad_version_is_refused(void **state)
{
    (void)state;
    refused("[{\"bver\":11,\"n\":\"/3/0/9\",\"v\":1}]", "bver 11 is newer than SenML version 10");
    refused("[{\"bver\":\"10\",\"n\":\"/3/0/9\",\"v\":1}]", "bver must be a positive integer");
}

static void test_malformed_json_is_refused_with_line_and_column(void **state)
{
    (void)state;
    refused("[{\"n\":\"/3/0/9\",\n\"v\":1,}]", "line 2, column");
    refused("[{\"n\":\"/3/0/9\",\"v\":1}", "line 1, column");
    refused("[{\"n\":\"/3/0/9\",\"v\":1}] x", "end of file expected");
    refused("[{\"n\":\"/3/0/9\",\"n\":\"/3/0/10\",\"v\":1}]", "duplicate");
    refused("", "line 1");
    refused("[{\"n\":\"/3/0/0\",\"vs\":\"\xff\"}]", "line 1");
}

static void test_integer_beyond_int64_is_refused_by_the_parser(void **state)
{
    (void)state;
    refused("[{\"n\":\"/1/0/11\",\"v\":18446744073709551615}]", "too big integer");
}

static void test_nesting_deeper_than_the_bound_is_refused(void **state)
{
    (void)state;
    refused("[{\"n\":\"/3/0/9\",\"v\":1,\"x\":[[[[[[[[1]]]]]]]]}]", "nested deeper than 8");
    refused("[{\"n\":\"/3/0/0\",\"vs\":\"[[[[[[[[[[\",\"x\":[[[[[[[[1]]]]]]]]}]", "offset 43");
}

static void test_more_than_the_record_limit_is_full(void **state)
{
    (void)state;
    static const char rec[] = "{\"n\":\"/3/0/9\",\"v\":1},";
    size_t n = GW_RECORDS_MAX, len = 1 + n * (sizeof(rec) - 1); /* the last ',' becomes ']' */
    char *json = malloc(len + 1);
    assert_non_null(json);
    json[0] = '[';
    for (size_t i = 0; i < n; i++)
        memcpy(json + 1 + i * (sizeof(rec) - 1), rec, sizeof(rec) - 1);
    json[len - 1] = ']';
    json[len] = '\0';
    refused_at(json, "/", -GW_ERR_FULL, "65536 records are more than 65536");
    free(json);
}

/* ---- encoding ---- */

static void test_every_type_round_trips(void **state)
{
    (void)state;
    struct data_records r = {0};
    struct data_value v = {.type = GW_TYPE_INTEGER};
    add(&r, "/3/0/0", bytes_value(GW_TYPE_STRING, "caf\xc3\xa9 \"q\" \\ \n\t\x01\x7f", 16));
    add(&r, "/3/0/1", bytes_value(GW_TYPE_STRING, "", 0));
    v.v.i = INT64_MIN;
    add(&r, "/3/0/6/0", v);
    v.v.i = INT64_MAX;
    add(&r, "/3/0/6/1", v);
    v.type = GW_TYPE_TIME;
    v.v.i = 1367491215;
    add(&r, "/3/0/13", v);
    v.type = GW_TYPE_BOOLEAN;
    v.v.b = true;
    add(&r, "/3/0/30", v);
    v.type = GW_TYPE_OBJLNK;
    v.v.lnk.oid = 65535, v.v.lnk.iid = 0;
    add(&r, "/3/0/22/0", v);
    add(&r, "/3/0/31", bytes_value(GW_TYPE_OPAQUE, "\0\xfb\xff\x10", 4));
    add(&r, "/3/0/32", bytes_value(GW_TYPE_OPAQUE, "", 0));
    add(&r, "/3/0/33", (struct data_value){.type = GW_TYPE_NONE});
    static const double floats[] = {
        22.4, 0.1, 18.0, -0.0, 1e300, 5e-324, -1.7976931348623157e308, 123456789012345680.0};
    v.type = GW_TYPE_FLOAT;
    for (size_t i = 0; i < GW_ARRAY_LEN(floats); i++) {
        v.v.f = floats[i];
        add(&r, "/3/0/40", v);
    }
    round_trips(&r, "/3/0");
    round_trips(&r, "/3");
    round_trips(&r, "/");
    data_records_reset(&r);
    v.type = GW_TYPE_UNSIGNED;
    v.v.u = INT64_MAX;
    add(&r, "/1/0/11", v);
    round_trips(&r, "/1/0/11");
    data_records_clear(&r);
}

static void test_numbers_are_written_in_their_shortest_form(void **state)
{
    (void)state;
    struct data_records r = {0};
    struct data_value v = {.type = GW_TYPE_FLOAT};
    static const double f[] = {22.4, 0.1, 18.0, -0.0, 1e300, 5e-324};
    for (size_t i = 0; i < GW_ARRAY_LEN(f); i++) {
        v.v.f = f[i];
        add(&r, "/3303/0/5700", v);
    }
    v.type = GW_TYPE_UNSIGNED;
    v.v.u = UINT64_MAX;
    add(&r, "/3303/0/5700", v);
    encodes_to(&r, "/3303/0/5700",
               "[{\"bn\":\"/3303/0/5700\",\"v\":22.4},{\"v\":0.1},{\"v\":18.0},{\"v\":-0.0},"
               "{\"v\":1e+300},{\"v\":4.94065645841247e-324},{\"v\":18446744073709551615}]");
    data_records_clear(&r);
}

static void test_strings_are_escaped_and_opaque_is_base64url(void **state)
{
    (void)state;
    struct data_records r = {0};
    add(&r, "/3/0/0", bytes_value(GW_TYPE_STRING, "\"\\\n\x1f/\xe2\x82\xac", 8));
    add(&r, "/3/0/1", bytes_value(GW_TYPE_OPAQUE, "\xfb\xff\x01\x02", 4));
    struct data_value v = {.type = GW_TYPE_OBJLNK, .v.lnk = {66, 1}};
    add(&r, "/3/0/22/0", v);
    encodes_to(&r, "/3/0",
               "[{\"bn\":\"/3/0/\",\"n\":\"0\",\"vs\":\"\\\"\\\\\\n\\u001f/\xe2\x82\xac\"},"
               "{\"n\":\"1\",\"vd\":\"-_8BAg\"},{\"n\":\"22/0\",\"vlo\":\"66:1\"}]");
    data_records_clear(&r);
}

static void test_times_are_written_as_t(void **state)
{
    (void)state;
    struct data_records r = {0};
    struct data_path p = data_path_make(3, 3303, 0, 5700);
    struct data_value v = {.type = GW_TYPE_FLOAT, .v.f = 22.4};
    assert_int_equal(data_records_add(&r, &p, &v, true, 25462629), GW_OK);
    assert_int_equal(data_records_add(&r, &p, &v, true, -5.5), GW_OK);
    assert_int_equal(data_records_add(&r, &p, &(struct data_value){0}, true, 1), GW_OK);
    encodes_to(&r, "/3303/0",
               "[{\"bn\":\"/3303/0/\",\"n\":\"5700\",\"v\":22.4,\"t\":25462629},"
               "{\"n\":\"5700\",\"v\":22.4,\"t\":-5.5},{\"n\":\"5700\",\"t\":1}]");
    round_trips(&r, "/3303");
    data_records_clear(&r);
}

static void test_base_itself_and_deeper_records_share_one_base_name(void **state)
{
    (void)state;
    struct data_records r = {0};
    add(&r, "/3/0/6", (struct data_value){.type = GW_TYPE_NONE});
    add(&r, "/3/0/6/1", (struct data_value){.type = GW_TYPE_INTEGER, .v.i = 5});
    encodes_to(&r, "/3/0/6", "[{\"bn\":\"/3/0/6\"},{\"n\":\"/1\",\"v\":5}]");
    round_trips(&r, "/3/0/6");
    data_records_clear(&r);
}

static void test_small_buffer_is_full_at_every_size(void **state)
{
    (void)state;
    struct data_records r = {0};
    struct codec_ctx c = ctx_at("/3/0", true);
    char err[128];
    uint8_t buf[1024];
    size_t need = 0, n;
    decode_ok(spec_device, "/3/0", &r);
    assert_int_equal(senml_json_encode(&r, &c, buf, sizeof(buf), &need, err, sizeof(err)), GW_OK);
    assert_int_equal(need, strlen(spec_device));
    for (size_t cap = 0; cap < need; cap++) {
        assert_int_equal(senml_json_encode(&r, &c, buf, cap, &n, err, sizeof(err)), -GW_ERR_FULL);
        assert_int_equal(n, 0);
    }
    assert_int_equal(senml_json_encode(&r, &c, buf, need, &n, err, sizeof(err)), GW_OK);
    data_records_clear(&r);
}

static void test_unwritable_records_are_invalid(void **state)
{
    (void)state;
    struct data_records r = {0};
    struct codec_ctx c = ctx_at("/3/0", true);
    char err[128] = "";
    uint8_t buf[256];
    size_t n;
    add(&r, "/3/0/9", (struct data_value){.type = GW_TYPE_FLOAT, .v.f = NAN});
    assert_int_equal(senml_json_encode(&r, &c, buf, sizeof(buf), &n, err, sizeof(err)),
                     -GW_ERR_INVALID);
    assert_non_null(strstr(err, "record 1: Float nan has no JSON form"));
    data_records_reset(&r);
    add(&r, "/3/0/0", bytes_value(GW_TYPE_STRING, "\xc3\x28", 2));
    assert_int_equal(senml_json_encode(&r, &c, buf, sizeof(buf), &n, err, sizeof(err)),
                     -GW_ERR_INVALID);
    assert_non_null(strstr(err, "not valid UTF-8"));
    data_records_reset(&r);
    add(&r, "/3/0/0", bytes_value(GW_TYPE_STRING, "a", 1));
    add(&r, "/4/0/0", bytes_value(GW_TYPE_STRING, "a", 1));
    assert_int_equal(senml_json_encode(&r, &c, buf, sizeof(buf), &n, err, sizeof(err)),
                     -GW_ERR_INVALID);
    assert_non_null(strstr(err, "record 2 (/4/0/0) lies outside /3/0"));
    data_records_clear(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_device_read_is_typed_by_the_model),
        cmocka_unit_test(test_spec_device_read_without_model_keeps_json_types),
        cmocka_unit_test(test_spec_time_series_has_bt_plus_t),
        cmocka_unit_test(test_spec_object_links_from_the_root),
        cmocka_unit_test(test_spec_single_resource_round_trips_exactly),
        cmocka_unit_test(test_spec_read_composite_request_has_no_values),
        cmocka_unit_test(test_spec_read_composite_response),
        cmocka_unit_test(test_spec_write_composite_is_typed_by_ipso_objects),
        cmocka_unit_test(test_send_keeps_each_record_at_its_time),
        cmocka_unit_test(test_base_name_applies_until_replaced),
        cmocka_unit_test(test_time_is_bt_plus_t_and_t_alone_stays_relative),
        cmocka_unit_test(test_base_value_is_added_to_v),
        cmocka_unit_test(test_version_10_and_unknown_fields_are_accepted),
        cmocka_unit_test(test_empty_pack_gives_no_records),
        cmocka_unit_test(test_json_escapes_decode_to_utf8),
        cmocka_unit_test(test_model_types_numbers),
        cmocka_unit_test(test_unknown_object_keeps_senml_types),
        cmocka_unit_test(test_vd_takes_base64url_and_standard_base64),
        cmocka_unit_test(test_string_for_corelnk_resource_is_corelnk),
        cmocka_unit_test(test_pack_that_is_not_an_array_of_objects_is_refused),
        cmocka_unit_test(test_mandatory_to_understand_field_is_refused),
        cmocka_unit_test(test_two_values_are_refused),
        cmocka_unit_test(test_bad_base64_is_refused),
        cmocka_unit_test(test_name_that_is_no_path_is_refused),
        cmocka_unit_test(test_record_outside_the_requested_path_is_refused),
        cmocka_unit_test(test_value_on_an_object_instance_is_refused),
        cmocka_unit_test(test_non_finite_numbers_are_refused),
        cmocka_unit_test(test_number_the_model_type_cannot_hold_is_refused),
        cmocka_unit_test(test_value_of_the_wrong_kind_for_the_model_is_refused),
        cmocka_unit_test(test_fields_of_the_wrong_json_type_are_refused),
        cmocka_unit_test(test_bad_object_link_is_refused),
        cmocka_unit_test(test_newer_or_bad_version_is_refused),
        cmocka_unit_test(test_malformed_json_is_refused_with_line_and_column),
        cmocka_unit_test(test_integer_beyond_int64_is_refused_by_the_parser),
        cmocka_unit_test(test_nesting_deeper_than_the_bound_is_refused),
        cmocka_unit_test(test_more_than_the_record_limit_is_full),
        cmocka_unit_test(test_every_type_round_trips),
        cmocka_unit_test(test_numbers_are_written_in_their_shortest_form),
        cmocka_unit_test(test_strings_are_escaped_and_opaque_is_base64url),
        cmocka_unit_test(test_times_are_written_as_t),
        cmocka_unit_test(test_base_itself_and_deeper_records_share_one_base_name),
        cmocka_unit_test(test_small_buffer_is_full_at_every_size),
        cmocka_unit_test(test_unwritable_records_are_invalid),
    };
    return cmocka_run_group_tests(tests, codec_test_setup, codec_test_teardown);
}

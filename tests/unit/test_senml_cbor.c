/* test_senml_cbor.c - SenML CBOR (content format 112) of gateway/lwm2m/senml_cbor.c: the
 * LwM2M TS Core 1.1 examples (section 7.4.4 tables, in the CBOR form of section 7.4.5), the
 * RFC 8428 section 6 example bytes, typing by the object model, round trips of every type at
 * the CBOR boundaries, and every rejection with the word that names its reason. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#define CODEC_TEST_DECODE senml_cbor_decode
#include "cbor_cases.h"

static int decode(const uint8_t *buf, size_t len, const char *base, bool with_model,
                  struct data_records *out, char *err, size_t errlen)
{
    struct codec_ctx c = ctx_at(base, with_model);
    return senml_cbor_decode(buf, len, &c, out, err, errlen);
}

static void decode_hex_ok(const char *hex, const char *base, bool with_model,
                          struct data_records *out)
{
    uint8_t buf[1024];
    char err[256] = "";
    size_t len = unhex(hex, buf, sizeof(buf));
    int rc = decode(buf, len, base, with_model, out, err, sizeof(err));
    if (rc != GW_OK)
        fail_msg("decode failed (%d): %s", rc, err);
}

static size_t encode(const struct data_records *in, const char *base, uint8_t *buf, size_t cap,
                     int want_rc)
{
    struct codec_ctx c = ctx_at(base, false);
    size_t written = 99;
    char err[256] = "";
    int rc = senml_cbor_encode(in, &c, buf, cap, &written, err, sizeof(err));
    if (rc != want_rc)
        fail_msg("encode returned %d, expected %d (%s)", rc, want_rc, err);
    return written;
}

static void assert_encodes_to(const struct data_records *in, const char *base, const char *hex)
{
    uint8_t want[1024], got[1024];
    size_t want_len = unhex(hex, want, sizeof(want));
    size_t len = encode(in, base, got, sizeof(got), GW_OK);
    assert_int_equal(len, want_len);
    assert_memory_equal(got, want, len);
}

/* ---- LwM2M TS Core 1.1 examples. SenML CBOR (7.4.5) carries the same packs as the SenML JSON
 * examples of tables 7.4.4-2 to 7.4.4-8, with RFC 8428 section 6's integer labels and the text
 * label "vlo". The bytes below are reconstructed from those packs written in CBOR diagnostic
 * notation (quoted above each), every integer, length and float in its shortest form. ---- */

/* Table 7.4.4-2, Read /3/0 (Device object instance), reconstructed from diagnostic notation:
 * [{-2: "/3/0/", 0: "0", 3: "Open Mobile Alliance"}, {0: "1", 3: "Lightweight M2M Client"},
 *  {0: "2", 3: "345000123"}, {0: "3", 3: "1.0"}, {0: "6/0", 2: 1}, {0: "6/1", 2: 5},
 *  {0: "7/0", 2: 3800}, {0: "7/1", 2: 5000}, {0: "8/0", 2: 125}, {0: "8/1", 2: 900},
 *  {0: "9", 2: 100}, {0: "10", 2: 15}, {0: "11/0", 2: 0}, {0: "13", 2: 1367491215},
 *  {0: "14", 3: "+02:00"}, {0: "16", 3: "U"}] */
static const char device_read[] =
    "90a321652f332f302f00613003744f70656e204d6f62696c6520416c6c69616e6365a200613103764c696768"
    "74776569676874204d324d20436c69656e74a20061320369333435303030313233a20061330363312e30a200"
    "63362f300201a20063362f310205a20063372f3002190ed8a20063372f3102191388a20063382f3002187da2"
    "0063382f3102190384a2006139021864a200623130020fa2006431312f300200a200623133021a5182428fa2"
    "0062313403662b30323a3030a200623136036155";

static void test_spec_device_read_decodes_with_model_types(void **state)
{
    (void)state;
    struct data_records r = {0};
    decode_hex_ok(device_read, "/3/0", true, &r);
    assert_int_equal(r.n, 16);
    assert_path(&r.v[0], "/3/0/0");
    assert_text(&r.v[0], GW_TYPE_STRING, "Open Mobile Alliance");
    assert_path(&r.v[4], "/3/0/6/0");
    assert_int_equal(r.v[4].value.type, GW_TYPE_INTEGER);
    assert_int_equal(r.v[4].value.v.i, 1);
    assert_path(&r.v[6], "/3/0/7/0");
    assert_int_equal(r.v[6].value.v.i, 3800);
    assert_path(&r.v[10], "/3/0/9");
    assert_int_equal(r.v[10].value.type, GW_TYPE_INTEGER);
    assert_int_equal(r.v[10].value.v.i, 100);
    assert_path(&r.v[13], "/3/0/13");
    assert_int_equal(r.v[13].value.type, model_type(model, &r.v[13].path));
    assert_int_equal(r.v[13].value.type, GW_TYPE_TIME);
    assert_int_equal(r.v[13].value.v.i, 1367491215);
    assert_path(&r.v[15], "/3/0/16");
    assert_text(&r.v[15], GW_TYPE_STRING, "U");
    for (size_t i = 0; i < r.n; i++)
        assert_false(r.v[i].has_time);
    data_records_clear(&r);
}

static void test_spec_device_read_encodes_back_to_the_same_bytes(void **state)
{
    (void)state;
    struct data_records r = {0};
    decode_hex_ok(device_read, "/3/0", true, &r);
    assert_encodes_to(&r, "/3/0", device_read);
    data_records_reset(&r);
    decode_hex_ok(device_read, "/3/0", false, &r); /* untyped: Time stays Integer, same bytes */
    assert_int_equal(r.v[13].value.type, GW_TYPE_INTEGER);
    assert_encodes_to(&r, "/3/0", device_read);
    data_records_clear(&r);
}

/* Table 7.4.4-3, a notification of /72 with base time and relative times, reconstructed from
 * diagnostic notation: [{-2: "/72/", -3: 25462634, 0: "1/2", 2: 22.4, 6: -5},
 * {0: "1/2", 2: 22.9, 6: -30}, {0: "1/2", 2: 24.1, 6: -50}] */
static void test_spec_timed_notification_adds_base_time_to_each_record(void **state)
{
    (void)state;
    struct data_records r = {0};
    decode_hex_ok("83a521642f37322f221a0184876a0063312f3202fb40366666666666660624a30063312f3202fb"
                  "4036e6666666666606381da30063312f3202fb403819999999999a063831",
                  "/72", true, &r);
    assert_int_equal(r.n, 3);
    static const double v[] = {22.4, 22.9, 24.1}, t[] = {-5, -30, -50};
    for (size_t i = 0; i < 3; i++) {
        assert_path(&r.v[i], "/72/1/2");
        assert_int_equal(r.v[i].value.type, GW_TYPE_FLOAT); /* /72 is not in the model */
        assert_double_eq(r.v[i].value.v.f, v[i]);
        assert_true(r.v[i].has_time);
        assert_double_eq(r.v[i].time, 25462634 + t[i]);
    }
    data_records_clear(&r);
}

/* Table 7.4.4-4, object links with the "vlo" text label, read at the root, reconstructed from
 * diagnostic notation (the table writes 65535:65535 for /66/1/2's link). */
static const char objlnk_read[] =
    "8ca321612f006836352f302f302f3063766c6f6436363a30a2006836352f302f302f3163766c6f6436363a31a2"
    "006636352f302f31036d38363133383030373535353030a2006636352f302f320201a2006636362f302f3003"
    "6a6d795365727669636531a2006636362f302f31036f496e7465726e65742e31352e323334a2006636362f30"
    "2f3263766c6f6436373a30a2006636362f312f30036a6d795365727669636532a2006636362f312f31036f49"
    "6e7465726e65742e31352e323335a2006636362f312f3263766c6f6b36353533353a3635353335a200663637"
    "2f302f30036b38352e37362e37362e3834a2006636372f302f31036d38352e37362e3235352e323535";

static void test_spec_object_links_decode_and_encode_back_exactly(void **state)
{
    (void)state;
    struct data_records r = {0};
    decode_hex_ok(objlnk_read, "/", true, &r);
    assert_int_equal(r.n, 12);
    assert_path(&r.v[0], "/65/0/0/0");
    assert_int_equal(r.v[0].value.type, GW_TYPE_OBJLNK);
    assert_int_equal(r.v[0].value.v.lnk.oid, 66);
    assert_int_equal(r.v[0].value.v.lnk.iid, 0);
    assert_int_equal(r.v[6].value.type, GW_TYPE_OBJLNK);
    assert_int_equal(r.v[6].value.v.lnk.oid, 67);
    assert_int_equal(r.v[9].value.v.lnk.oid, 65535);
    assert_int_equal(r.v[9].value.v.lnk.iid, 65535);
    assert_text(&r.v[11], GW_TYPE_STRING, "85.76.255.255");
    assert_encodes_to(&r, "/", objlnk_read);
    data_records_clear(&r);
}

/* Table 7.4.4-5, Read /3/0/0, reconstructed from diagnostic notation:
 * [{-2: "/3/0/0", 3: "Open Mobile Alliance"}]: the base name is the whole path. */
static void test_spec_single_resource_read_round_trips_exactly(void **state)
{
    (void)state;
    static const char hex[] = "81a221662f332f302f3003744f70656e204d6f62696c6520416c6c69616e6365";
    struct data_records r = {0};
    decode_hex_ok(hex, "/3/0/0", true, &r);
    assert_int_equal(r.n, 1);
    assert_path(&r.v[0], "/3/0/0");
    assert_text(&r.v[0], GW_TYPE_STRING, "Open Mobile Alliance");
    assert_encodes_to(&r, "/3/0/0", hex);
    data_records_clear(&r);
}

/* Table 7.4.4-6, a Read-Composite request, reconstructed from diagnostic notation:
 * [{0: "/3/0/0"}, {0: "/3/0/9"}, {0: "/1/0/1"}]: names without values. */
static void test_spec_read_composite_request_gives_records_without_values(void **state)
{
    (void)state;
    struct data_records r = {0};
    decode_hex_ok("83a100662f332f302f30a100662f332f302f39a100662f312f302f31", "/", true, &r);
    assert_int_equal(r.n, 3);
    assert_path(&r.v[0], "/3/0/0");
    assert_path(&r.v[1], "/3/0/9");
    assert_path(&r.v[2], "/1/0/1");
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(r.v[i].value.type, GW_TYPE_NONE);
    /* The gateway writes such a request with a base name "/": 3 bytes once, 1 per name less. */
    assert_encodes_to(&r, "/", "83a221612f0065332f302f30a10065332f302f39a10065312f302f31");
    data_records_clear(&r);
}

/* Table 7.4.4-7, the Read-Composite response, reconstructed from diagnostic notation:
 * [{0: "/3/0/0", 3: "Open Mobile Alliance"}, {0: "/3/0/9", 2: 95}, {0: "/1/0/1", 2: 86400}] */
static void test_spec_read_composite_response_decodes_absolute_names(void **state)
{
    (void)state;
    struct data_records r = {0};
    decode_hex_ok("83a200662f332f302f3003744f70656e204d6f62696c6520416c6c69616e6365a200662f332f"
                  "302f3902185fa200662f312f302f31021a00015180",
                  "/", true, &r);
    assert_int_equal(r.n, 3);
    assert_text(&r.v[0], GW_TYPE_STRING, "Open Mobile Alliance");
    assert_path(&r.v[1], "/3/0/9");
    assert_int_equal(r.v[1].value.v.i, 95);
    assert_path(&r.v[2], "/1/0/1");
    assert_int_equal(r.v[2].value.type, model_type(model, &r.v[2].path));
    assert_int_equal(r.v[2].value.v.i, 86400);
    data_records_clear(&r);
}

/* Table 7.4.4-8, a Write-Composite request, reconstructed from diagnostic notation:
 * [{0: "/3311/0/5850", 4: false}, {0: "/3311/1/5850", 4: false}, {0: "/3311/2/5851", 2: 20},
 *  {0: "/3308/0/5900", 2: 18}]: the set point 18 is a CBOR integer for a Float resource. */
static void test_spec_write_composite_types_integers_by_the_model(void **state)
{
    (void)state;
    struct data_records r = {0};
    decode_hex_ok("84a2006c2f333331312f302f3538353004f4a2006c2f333331312f312f3538353004f4a2006c2f"
                  "333331312f322f353835310214a2006c2f333330382f302f353930300212",
                  "/", true, &r);
    assert_int_equal(r.n, 4);
    assert_int_equal(r.v[0].value.type, GW_TYPE_BOOLEAN);
    assert_false(r.v[0].value.v.b);
    assert_path(&r.v[3], "/3308/0/5900");
    if (model_type(model, &r.v[3].path) == GW_TYPE_FLOAT) {
        assert_int_equal(r.v[3].value.type, GW_TYPE_FLOAT);
        assert_double_eq(r.v[3].value.v.f, 18.0);
    } else {
        assert_int_equal(r.v[3].value.type, GW_TYPE_INTEGER);
        assert_int_equal(r.v[3].value.v.i, 18);
    }
    data_records_clear(&r);
}

/* ---- RFC 8428 section 6: the example's bytes verbatim (the Multiple Data Points pack of
 * section 5.1.2 with bn, bt, bu, bver, n, u, v, t and a half float for 1.5). ---- */
static const char rfc8428_example[] =
    "87a721781b75726e3a6465763a6f773a3130653230373361303130383030363a22fb41d303a15b00106223614120"
    "050067766f6c7461676501615602fb405e066666666666a3006763757272656e74062402fb3ff333333333333"
    "3a3006763757272656e74062302fb3ff4cccccccccccda3006763757272656e74062202fb3ff6666666666666"
    "a3006763757272656e74062102f93e00a3006763757272656e74062002fb3ff999999999999aa30067637572"
    "72656e74060002fb3ffb333333333333";

static void test_rfc8428_example_is_refused_because_its_names_are_not_lwm2m_paths(void **state)
{
    (void)state;
    /* The whole first record parses (bn, bt, bu, bver, n, u, v) before its name is judged. */
    expect_reject_hex(rfc8428_example, "/", "record 0: name 'urn:dev:ow:10e2073a0108006:voltage'");
}

/* Replaces every occurrence of `from` in buf[0..len) by `to`, into `out`. */
static size_t splice(const uint8_t *buf, size_t len, const uint8_t *from, size_t from_len,
                     const uint8_t *to, size_t to_len, uint8_t *out)
{
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        if (i + from_len <= len && memcmp(buf + i, from, from_len) == 0) {
            memcpy(out + n, to, to_len);
            n += to_len;
            i += from_len;
        } else {
            out[n++] = buf[i++];
        }
    }
    return n;
}

static void test_rfc8428_example_with_lwm2m_names_decodes_every_record(void **state)
{
    (void)state;
    uint8_t a[512], b[512], c[512];
    size_t len = unhex(rfc8428_example, a, sizeof(a));
    /* Only the three text strings change: bn becomes "/", voltage /3316/0/5700 and current
     * /3317/0/5700; every other byte is the RFC's. */
    static const uint8_t bn_from[] = "\x78\x1burn:dev:ow:10e2073a0108006:", bn_to[] = "\x61/";
    static const uint8_t v_from[] = "\x67voltage", v_to[] = "\x6b"
                                                            "3316/0/5700";
    static const uint8_t c_from[] = "\x67"
                                    "current",
                         c_to[] = "\x6b"
                                  "3317/0/5700";
    len = splice(a, len, bn_from, sizeof(bn_from) - 1, bn_to, sizeof(bn_to) - 1, b);
    len = splice(b, len, v_from, sizeof(v_from) - 1, v_to, sizeof(v_to) - 1, c);
    len = splice(c, len, c_from, sizeof(c_from) - 1, c_to, sizeof(c_to) - 1, a);

    struct data_records r = {0};
    char err[256] = "";
    assert_int_equal(decode(a, len, "/", false, &r, err, sizeof(err)), GW_OK);
    assert_int_equal(r.n, 7);
    const double bt = 1.276020076001e+09;
    assert_path(&r.v[0], "/3316/0/5700");
    assert_double_eq(r.v[0].value.v.f, 120.1);
    assert_double_eq(r.v[0].time, bt);
    static const double v[] = {1.2, 1.3, 1.4, 1.5, 1.6, 1.7};
    for (size_t i = 1; i < 7; i++) {
        assert_path(&r.v[i], "/3317/0/5700");
        assert_int_equal(r.v[i].value.type, GW_TYPE_FLOAT);
        assert_double_eq(r.v[i].value.v.f, v[i - 1]);
        assert_true(r.v[i].has_time);
        assert_double_eq(r.v[i].time, bt - 5 + (double)(i - 1));
    }
    data_records_clear(&r);
}

/* ---- typing ---- */

static void test_integral_int_for_float_resource_becomes_float(void **state)
{
    (void)state;
    struct data_records r = {0};
    /* [{0: "/3303/0/5700", 2: 21}] */
    decode_hex_ok("81a2006c2f333330332f302f353730300215", "/3303", true, &r);
    assert_int_equal(r.v[0].value.type, GW_TYPE_FLOAT);
    assert_double_eq(r.v[0].value.v.f, 21.0);
    assert_false(r.v[0].has_time);
    data_records_reset(&r);
    decode_hex_ok("81a2006c2f333330332f302f353730300215", "/3303", false, &r); /* no model */
    assert_int_equal(r.v[0].value.type, GW_TYPE_INTEGER);
    data_records_clear(&r);
}

static void test_float_for_integer_resource_becomes_integer_only_when_whole(void **state)
{
    (void)state;
    struct data_records r = {0};
    /* [{-2: "/3/0/", 0: "9", 2: 95.0 (half)}, {0: "9", 2: 95.5 (half)}] */
    decode_hex_ok("82a321652f332f302f00613902f955f0a200613902f955f8", "/3/0", true, &r);
    assert_int_equal(r.v[0].value.type, GW_TYPE_INTEGER);
    assert_int_equal(r.v[0].value.v.i, 95);
    assert_int_equal(r.v[1].value.type, GW_TYPE_FLOAT);
    assert_double_eq(r.v[1].value.v.f, 95.5);
    data_records_clear(&r);
}

static void test_unknown_object_keeps_the_cbor_types(void **state)
{
    (void)state;
    struct data_records r = {0};
    /* [{-2: "/32000/0/", 0: "0", 2: 7}, {0: "1", 2: 18446744073709551615},
     *  {0: "2", 2: -9223372036854775808}, {0: "3", 2: 1.5 (single)}, {0: "4", 3: "x"},
     *  {0: "5", 8: h'00ff'}, {0: "6", 4: true}, {0: "7", "vlo": "3:0"}] */
    decode_hex_ok("88a321692f33323030302f302f00613002 07"
                  "a200613102 1bffffffffffffffff"
                  "a200613202 3b7fffffffffffffff"
                  "a200613302 fa3fc00000"
                  "a200613403 6178"
                  "a200613508 4200ff"
                  "a200613604 f5"
                  "a2006137 63766c6f 63333a30",
                  "/32000", true, &r);
    assert_int_equal(r.n, 8);
    assert_int_equal(r.v[0].value.type, GW_TYPE_INTEGER);
    assert_int_equal(r.v[0].value.v.i, 7);
    assert_int_equal(r.v[1].value.type, GW_TYPE_UNSIGNED);
    assert_true(r.v[1].value.v.u == UINT64_MAX);
    assert_int_equal(r.v[2].value.type, GW_TYPE_INTEGER);
    assert_true(r.v[2].value.v.i == INT64_MIN);
    assert_int_equal(r.v[3].value.type, GW_TYPE_FLOAT);
    assert_double_eq(r.v[3].value.v.f, 1.5);
    assert_text(&r.v[4], GW_TYPE_STRING, "x");
    assert_int_equal(r.v[5].value.type, GW_TYPE_OPAQUE);
    assert_memory_equal(r.v[5].value.v.bytes.p, "\x00\xff", 2);
    assert_int_equal(r.v[6].value.type, GW_TYPE_BOOLEAN);
    assert_true(r.v[6].value.v.b);
    assert_int_equal(r.v[7].value.type, GW_TYPE_OBJLNK);
    assert_int_equal(r.v[7].value.v.lnk.oid, 3);
    data_records_clear(&r);
}

static void test_base_name_and_time_carry_over_until_replaced(void **state)
{
    (void)state;
    struct data_records r = {0};
    /* [{-2: "/3303/0/", -3: 1700000000, 0: "5700", 2: 20.5, 6: 1},
     *  {0: "5700", 2: 21.5},
     *  {-2: "/3303/1/", 0: "5700", 2: 22.5, 6: -1.5}] */
    decode_hex_ok("83a521682f333330332f302f221a6553f10000643537303002f94d2006 01"
                  "a2006435373030 02f94d60"
                  "a421682f333330332f312f006435373030 02f94da0 06f9be00",
                  "/", true, &r);
    assert_int_equal(r.n, 3);
    assert_path(&r.v[0], "/3303/0/5700");
    assert_double_eq(r.v[0].time, 1700000001.0);
    assert_path(&r.v[1], "/3303/0/5700");
    assert_true(r.v[1].has_time);
    assert_double_eq(r.v[1].time, 1700000000.0);
    assert_path(&r.v[2], "/3303/1/5700");
    assert_double_eq(r.v[2].value.v.f, 22.5);
    assert_double_eq(r.v[2].time, 1699999998.5);
    data_records_clear(&r);
}

static void test_base_value_is_added_to_v(void **state)
{
    (void)state;
    struct data_records r = {0};
    /* [{-2: "/3303/0/", -5: 20, 0: "5700", 2: 1.5}] */
    decode_hex_ok("81a421682f333330332f302f241400643537303002f93e00", "/", true, &r);
    assert_double_eq(r.v[0].value.v.f, 21.5);
    data_records_clear(&r);
}

static void test_base_only_record_sets_base_for_the_records_after_it(void **state)
{
    (void)state;
    struct data_records r = {0};
    /* [{-2: "/3/0/", -3: 100}, {0: "9", 2: 50}] */
    decode_hex_ok("82a221652f332f302f221864a2006139021832", "/3/0", true, &r);
    assert_int_equal(r.n, 1);
    assert_path(&r.v[0], "/3/0/9");
    assert_double_eq(r.v[0].time, 100.0);
    data_records_clear(&r);
}

static void test_unknown_labels_are_skipped_with_their_nested_values(void **state)
{
    (void)state;
    struct data_records r = {0};
    /* [{0: "/3/0/9", 99: [1, {2: 3}, 1(5)], "x": "y", 1: "%", 5: 3, 7: 10, -4: "V", -6: 1,
     *   -1: 10, 2: 80, "foo": (_ "a", "b")}] */
    decode_hex_ok("81ab00662f332f302f39 1863 8301a10203c105 6178 6179 0161 25 0503 070a 2361 56"
                  "2501 200a 021850 63666f6f 7f61616162ff",
                  "/", true, &r);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.v[0].value.v.i, 80);
    data_records_clear(&r);
}

static void test_indefinite_length_arrays_and_maps_are_read(void **state)
{
    (void)state;
    struct data_records r = {0};
    /* [_ {_ 0: "/3/0/9", 2: 5}, {0: "/3/0/10", 2: 6}] */
    decode_hex_ok("9f bf00662f332f302f390205ff a200672f332f302f31300206 ff", "/", true, &r);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.v[1].value.v.i, 6);
    data_records_clear(&r);
}

static void test_self_describe_tag_in_front_is_accepted(void **state)
{
    (void)state;
    struct data_records r = {0};
    decode_hex_ok("d9d9f7 81a200662f332f302f390205", "/", true, &r);
    assert_int_equal(r.n, 1);
    data_records_clear(&r);
}

static void test_records_are_appended_and_an_error_removes_only_its_own(void **state)
{
    (void)state;
    struct data_records r = {0};
    decode_hex_ok("81a200662f332f302f390205", "/", true, &r);
    uint8_t buf[64];
    /* two good records, then a bad name */
    size_t len =
        unhex("83a200662f332f302f390205a200662f332f302f390206a200622f780207", buf, sizeof(buf));
    char err[128];
    assert_int_equal(decode(buf, len, "/", true, &r, err, sizeof(err)), -GW_ERR_INVALID);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.v[0].value.v.i, 5);
    data_records_clear(&r);
}

/* ---- rejections: each names its reason ---- */

static void test_pack_or_record_of_the_wrong_shape_is_rejected(void **state)
{
    (void)state;
    expect_reject_hex("a100662f332f302f39", "/", "must be an array");
    expect_reject_hex("", "/", "empty");
    expect_reject_hex("82a200662f332f302f39020501", "/", "record 1 is not a map");
}

static void test_labels_that_must_be_understood_are_rejected(void **state)
{
    (void)state;
    /* unknown base label -7 */
    expect_reject_hex("81a300662f332f302f39020526 01", "/", "base label -7 must be understood");
    /* "vx_" */
    expect_reject_hex("81a300662f332f302f390205 637678 5f 01", "/", "'vx_' must be understood");
    /* a float as a label */
    expect_reject_hex("81a2f93c0001 00662f332f302f39", "/", "label must be an integer or text");
}

static void test_record_with_two_values_is_rejected(void **state)
{
    (void)state;
    expect_reject_hex("81a300662f332f302f39020503 6161", "/", "two values (v and vs)");
    expect_reject_hex("81a300662f332f302f39020502 06", "/", "label v appears twice");
}

static void test_name_that_is_not_text_is_rejected(void **state)
{
    (void)state;
    expect_reject_hex("81a2000902 05", "/", "n must be a text string");
    expect_reject_hex("81a221 4161 0205", "/", "bn must be a text string");
}

static void test_tags_other_than_self_describe_are_rejected(void **state)
{
    (void)state;
    expect_reject_hex("81a200662f332f302f3902c11a5182428f", "/", "tag 1 is not accepted");
    expect_reject_hex("c1 81a200662f332f302f390205", "/", "tag 1 is not accepted");
}

static void test_every_truncation_of_the_spec_example_is_rejected(void **state)
{
    (void)state;
    uint8_t buf[512];
    size_t len = unhex(device_read, buf, sizeof(buf));
    for (size_t cut = 1; cut < len; cut++)
        expect_reject(buf, cut, "/3/0", "truncated");
    /* a count that cannot fit in what is left is refused before anything is read */
    expect_reject_hex("9bffffffffffffffff a0", "/", "truncated");
    expect_reject_hex("81bbffffffffffffffff", "/", "truncated");
}

static void test_nesting_deeper_than_the_limit_is_rejected(void **state)
{
    (void)state;
    char hex[128] = "81a200662f332f302f39 1863"; /* an ignored label, then nested arrays */
    for (int i = 0; i < GW_CODEC_MAX_DEPTH; i++)
        strcat(hex, "81");
    strcat(hex, "00");
    expect_reject_hex(hex, "/", "nesting deeper than 8");
}

static void test_non_finite_floats_are_rejected(void **state)
{
    (void)state;
    expect_reject_hex("81a200662f332f302f3902f97e00", "/", "v is a non-finite float"); /* NaN */
    expect_reject_hex("81a200662f332f302f3902f97c00", "/", "non-finite"); /* half +Inf */
    expect_reject_hex("81a200662f332f302f3902faff800000", "/", "non-finite");
    expect_reject_hex("81a200662f332f302f3906fb7ff0000000000000", "/", "t is a non-finite");
    expect_reject_hex("81a400662f332f302f39020522fb7fe1ccf385ebc8a006fb7fe1ccf385ebc8a0", "/",
                      "bt + t is not a finite time"); /* 1e308 + 1e308 */
}

static void test_names_that_are_not_lwm2m_paths_or_outside_the_base_are_rejected(void **state)
{
    (void)state;
    expect_reject_hex("81a2006474656d700205", "/", "name 'temp' is not an LwM2M path");
    expect_reject_hex("81a200662f332f302f390205", "/4", "outside the request path /4");
    expect_reject_hex("81a200642f332f300205", "/", "needs a resource path");
    /* bn of 60 bytes + n of 10 */
    expect_reject_hex("81a321783c2f303030303030303030303030303030303030303030303030303030303030"
                      "3030303030303030303030303030303030303030303030303030303030006a30303030"
                      "3030303030300205",
                      "/", "longer than 64");
}

static void test_values_of_the_wrong_kind_are_rejected(void **state)
{
    (void)state;
    expect_reject_hex("81a200662f332f302f39026131", "/", "v must be a number");
    expect_reject_hex("81a200662f332f302f3904 01", "/", "vb must be a boolean");
    expect_reject_hex("81a200662f332f302f3908 6161", "/", "vd must be a byte string");
    expect_reject_hex("81a200662f332f302f3902 8101", "/", "v must not be an array");
    expect_reject_hex("81a200662f332f302f3963766c6f 63333a78", "/", "vlo '3:x' is not oid:iid");
    expect_reject_hex("81a200662f332f302f39 0362c328", "/", "valid UTF-8");
    expect_reject_hex("81a200662f332f302f39 02 3bffffffffffffffff", "/", "below -2^63");
    expect_reject_hex("81a200662f332f302f39 20 f6", "/", "bver must be an integer");
}

static void test_malformed_cbor_and_trailing_bytes_are_rejected(void **state)
{
    (void)state;
    expect_reject_hex("81a200662f332f302f39020500", "/", "1 trailing bytes");
    expect_reject_hex("81a200662f332f302f39021c", "/", "malformed"); /* reserved 0x1c */
    expect_reject_hex("81a200662f332f302f39037f6161ff", "/", "indefinite-length strings");
    expect_reject_hex("81ff", "/", "break outside");
    expect_reject_hex("81bf00662f332f302f3902ff", "/", "before its value");
}

/* ---- encoding and round trips ---- */

/* Encodes `v` as the one record /32000/0/0, checks the value bytes after the fixed prefix
 * [{-2: "/32000/0/0", 2: ...}], and decodes them back without a model. */
static struct data_value round_trip(struct data_value v, const char *value_hex)
{
    struct data_records in = {0}, back = {0};
    add(&in, "/32000/0/0", v);
    char want[256];
    snprintf(want, sizeof(want), "81a2216a2f33323030302f302f30%s", value_hex);
    assert_encodes_to(&in, "/32000", want);
    uint8_t buf[256];
    size_t len = encode(&in, "/32000", buf, sizeof(buf), GW_OK);
    char err[128] = "";
    if (decode(buf, len, "/32000", false, &back, err, sizeof(err)) != GW_OK)
        fail_msg("decode of own output failed: %s", err);
    assert_int_equal(back.n, 1);
    struct data_value out = back.v[0].value;
    data_records_clear(&in);
    data_records_clear(&back); /* out keeps no byte pointers in the callers below */
    return out;
}

static void test_integers_encode_shortest_and_round_trip(void **state)
{
    (void)state;
    for (size_t i = 0; i < GW_ARRAY_LEN(int_cases); i++) {
        char hex[64];
        snprintf(hex, sizeof(hex), "02%s", int_cases[i].hex);
        struct data_value v = {.type = GW_TYPE_INTEGER, .v.i = int_cases[i].v};
        struct data_value out = round_trip(v, hex);
        assert_int_equal(out.type, GW_TYPE_INTEGER);
        assert_true(out.v.i == int_cases[i].v);
    }
    struct data_value u = {.type = GW_TYPE_UNSIGNED, .v.u = UINT64_MAX};
    struct data_value out = round_trip(u, "021bffffffffffffffff");
    assert_int_equal(out.type, GW_TYPE_UNSIGNED);
    assert_true(out.v.u == UINT64_MAX);
    struct data_value t = {.type = GW_TYPE_TIME, .v.i = 1700000000};
    out = round_trip(t, "021a6553f100");
    assert_int_equal(out.type, GW_TYPE_INTEGER); /* no model: a Time is an integer */
    assert_int_equal(out.v.i, 1700000000);
}

static void test_floats_encode_as_the_smallest_exact_width_and_round_trip(void **state)
{
    (void)state;
    for (size_t i = 0; i < GW_ARRAY_LEN(float_cases); i++) {
        char hex[64];
        snprintf(hex, sizeof(hex), "02%s", float_cases[i].hex);
        struct data_value v = {.type = GW_TYPE_FLOAT, .v.f = float_cases[i].f};
        struct data_value out = round_trip(v, hex);
        assert_int_equal(out.type, GW_TYPE_FLOAT);
        assert_double_eq(out.v.f, float_cases[i].f);
        assert_int_equal(signbit(out.v.f), signbit(float_cases[i].f));
    }
}

static void test_text_bytes_booleans_and_links_round_trip(void **state)
{
    (void)state;
    struct data_value v, out;
    v = (struct data_value){.type = GW_TYPE_STRING, .v.bytes = {(const uint8_t *)"", 0}};
    out = round_trip(v, "0360");
    assert_int_equal(out.type, GW_TYPE_STRING);
    assert_int_equal(out.v.bytes.len, 0);
    v = (struct data_value){.type = GW_TYPE_STRING, .v.bytes = {(const uint8_t *)"\xc3\xa9", 2}};
    out = round_trip(v, "0362c3a9");
    assert_int_equal(out.type, GW_TYPE_STRING);
    v = (struct data_value){.type = GW_TYPE_CORELNK, .v.bytes = {(const uint8_t *)"</3>", 4}};
    out = round_trip(v, "03643c2f333e");
    assert_int_equal(out.type, GW_TYPE_STRING); /* no model: a Corelnk reads back as text */
    v = (struct data_value){.type = GW_TYPE_OPAQUE, .v.bytes = {(const uint8_t *)"\x00\x01", 2}};
    out = round_trip(v, "08420001");
    assert_int_equal(out.type, GW_TYPE_OPAQUE);
    v = (struct data_value){.type = GW_TYPE_OPAQUE, .v.bytes = {NULL, 0}};
    out = round_trip(v, "0840");
    assert_int_equal(out.type, GW_TYPE_OPAQUE);
    assert_int_equal(out.v.bytes.len, 0);
    v = (struct data_value){.type = GW_TYPE_BOOLEAN, .v.b = true};
    out = round_trip(v, "04f5");
    assert_true(out.v.b);
    v = (struct data_value){.type = GW_TYPE_BOOLEAN, .v.b = false};
    out = round_trip(v, "04f4");
    assert_int_equal(out.type, GW_TYPE_BOOLEAN);
    assert_false(out.v.b);
    v = (struct data_value){.type = GW_TYPE_OBJLNK, .v.lnk = {0, 0}};
    out = round_trip(v, "63766c6f63303a30");
    assert_int_equal(out.type, GW_TYPE_OBJLNK);
    v = (struct data_value){.type = GW_TYPE_OBJLNK, .v.lnk = {65535, 65535}};
    out = round_trip(v, "63766c6f6b36353533353a3635353335");
    assert_int_equal(out.v.lnk.oid, 65535);
    assert_int_equal(out.v.lnk.iid, 65535);
}

static void test_base_name_is_the_common_prefix_of_the_records(void **state)
{
    (void)state;
    struct data_records r = {0};
    add(&r, "/3/0/0",
        (struct data_value){.type = GW_TYPE_STRING, .v.bytes = {(const uint8_t *)"Acme", 4}});
    add(&r, "/3/0/9", (struct data_value){.type = GW_TYPE_INTEGER, .v.i = 95});
    /* [{-2: "/3/0/", 0: "0", 3: "Acme"}, {0: "9", 2: 95}] */
    assert_encodes_to(&r, "/3/0", "82a321652f332f302f006130036441636d65a200613902185f");
    data_records_reset(&r);
    add(&r, "/3/0/9", (struct data_value){.type = GW_TYPE_INTEGER, .v.i = 95});
    add(&r, "/1/0/1", (struct data_value){.type = GW_TYPE_INTEGER, .v.i = 86400});
    /* [{-2: "/", 0: "3/0/9", 2: 95}, {0: "1/0/1", 2: 86400}] */
    assert_encodes_to(&r, "/", "82a321612f0065332f302f3902185fa20065312f302f31021a00015180");
    data_records_reset(&r);
    struct data_path inst = data_path_make(2, 3, 0), res = data_path_make(3, 3, 0, 1);
    struct data_value none = {.type = GW_TYPE_NONE};
    struct data_value x = {.type = GW_TYPE_STRING, .v.bytes = {(const uint8_t *)"x", 1}};
    assert_int_equal(data_records_add(&r, &inst, &none, false, 0), GW_OK);
    assert_int_equal(data_records_add(&r, &res, &x, false, 0), GW_OK);
    /* an instance beside its resource: bn stops above the instance, [{-2: "/3/", 0: "0"},
     * {0: "0/1", 3: "x"}] */
    assert_encodes_to(&r, "/3", "82a221632f332f006130a20063302f31036178");
    data_records_reset(&r);
    assert_encodes_to(&r, "/", "80");
    data_records_clear(&r);
}

static void test_timed_records_of_one_resource_share_the_full_base_name(void **state)
{
    (void)state;
    struct data_records r = {0}, back = {0};
    struct data_path p = data_path_make(3, 3303, 0, 5700);
    struct data_value a = {.type = GW_TYPE_FLOAT, .v.f = 20.5},
                      b = {.type = GW_TYPE_FLOAT, .v.f = 21.5};
    assert_int_equal(data_records_add(&r, &p, &a, true, 1700000000), GW_OK);
    assert_int_equal(data_records_add(&r, &p, &b, true, 1700000060.5), GW_OK);
    /* [{-2: "/3303/0/5700", 2: 20.5, 6: 1700000000}, {2: 21.5, 6: 1700000060.5}] */
    static const char hex[] =
        "82a3216c2f333330332f302f3537303002f94d20061a6553f100a202f94d6006fb41d954fc4f200000";
    assert_encodes_to(&r, "/3303", hex);
    decode_hex_ok(hex, "/3303", true, &back);
    assert_int_equal(back.n, 2);
    assert_path(&back.v[1], "/3303/0/5700");
    assert_double_eq(back.v[1].time, 1700000060.5);
    data_records_clear(&r);
    data_records_clear(&back);
}

static void test_encoding_into_a_short_buffer_is_full_at_every_size(void **state)
{
    (void)state;
    struct data_records r = {0};
    decode_hex_ok(device_read, "/3/0", true, &r);
    uint8_t buf[512] = {0};
    size_t need = encode(&r, "/3/0", buf, sizeof(buf), GW_OK);
    for (size_t cap = 0; cap < need; cap++) {
        size_t written = encode(&r, "/3/0", cap ? buf : NULL, cap, -GW_ERR_FULL);
        assert_int_equal(written, 0);
    }
    assert_int_equal(encode(&r, "/3/0", buf, need, GW_OK), need);
    data_records_clear(&r);
}

static void expect_encode_reject(const struct data_records *r, const char *base,
                                 const char *keyword)
{
    struct codec_ctx c = ctx_at(base, false);
    uint8_t buf[256];
    size_t written = 99;
    char err[256] = "";
    assert_int_equal(senml_cbor_encode(r, &c, buf, sizeof(buf), &written, err, sizeof(err)),
                     -GW_ERR_INVALID);
    assert_int_equal(written, 0);
    if (!strstr(err, keyword))
        fail_msg("reason '%s' does not say '%s'", err, keyword);
}

static void test_records_senml_cannot_carry_are_refused(void **state)
{
    (void)state;
    struct data_records r = {0};
    add(&r, "/3/0/9", (struct data_value){.type = GW_TYPE_INTEGER, .v.i = 1});
    expect_encode_reject(&r, "/4", "outside the request path");
    data_records_reset(&r);
    add(&r, "/3303/0/5700", (struct data_value){.type = GW_TYPE_FLOAT, .v.f = NAN});
    expect_encode_reject(&r, "/", "non-finite");
    data_records_reset(&r);
    add(&r, "/3/0", (struct data_value){.type = GW_TYPE_INTEGER, .v.i = 1});
    expect_encode_reject(&r, "/", "needs a resource path");
    data_records_reset(&r);
    add(&r, "/3/0/0",
        (struct data_value){.type = GW_TYPE_STRING, .v.bytes = {(const uint8_t *)"\xff", 1}});
    expect_encode_reject(&r, "/", "UTF-8");
    data_records_reset(&r);
    struct data_path p = data_path_make(3, 3, 0, 9);
    struct data_value one = {.type = GW_TYPE_INTEGER, .v.i = 1};
    assert_int_equal(data_records_add(&r, &p, &one, true, INFINITY), GW_OK);
    expect_encode_reject(&r, "/", "time is not finite");
    data_records_clear(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_device_read_decodes_with_model_types),
        cmocka_unit_test(test_spec_device_read_encodes_back_to_the_same_bytes),
        cmocka_unit_test(test_spec_timed_notification_adds_base_time_to_each_record),
        cmocka_unit_test(test_spec_object_links_decode_and_encode_back_exactly),
        cmocka_unit_test(test_spec_single_resource_read_round_trips_exactly),
        cmocka_unit_test(test_spec_read_composite_request_gives_records_without_values),
        cmocka_unit_test(test_spec_read_composite_response_decodes_absolute_names),
        cmocka_unit_test(test_spec_write_composite_types_integers_by_the_model),
        cmocka_unit_test(test_rfc8428_example_is_refused_because_its_names_are_not_lwm2m_paths),
        cmocka_unit_test(test_rfc8428_example_with_lwm2m_names_decodes_every_record),
        cmocka_unit_test(test_integral_int_for_float_resource_becomes_float),
        cmocka_unit_test(test_float_for_integer_resource_becomes_integer_only_when_whole),
        cmocka_unit_test(test_unknown_object_keeps_the_cbor_types),
        cmocka_unit_test(test_base_name_and_time_carry_over_until_replaced),
        cmocka_unit_test(test_base_value_is_added_to_v),
        cmocka_unit_test(test_base_only_record_sets_base_for_the_records_after_it),
        cmocka_unit_test(test_unknown_labels_are_skipped_with_their_nested_values),
        cmocka_unit_test(test_indefinite_length_arrays_and_maps_are_read),
        cmocka_unit_test(test_self_describe_tag_in_front_is_accepted),
        cmocka_unit_test(test_records_are_appended_and_an_error_removes_only_its_own),
        cmocka_unit_test(test_pack_or_record_of_the_wrong_shape_is_rejected),
        cmocka_unit_test(test_labels_that_must_be_understood_are_rejected),
        cmocka_unit_test(test_record_with_two_values_is_rejected),
        cmocka_unit_test(test_name_that_is_not_text_is_rejected),
        cmocka_unit_test(test_tags_other_than_self_describe_are_rejected),
        cmocka_unit_test(test_every_truncation_of_the_spec_example_is_rejected),
        cmocka_unit_test(test_nesting_deeper_than_the_limit_is_rejected),
        cmocka_unit_test(test_non_finite_floats_are_rejected),
        cmocka_unit_test(test_names_that_are_not_lwm2m_paths_or_outside_the_base_are_rejected),
        cmocka_unit_test(test_values_of_the_wrong_kind_are_rejected),
        cmocka_unit_test(test_malformed_cbor_and_trailing_bytes_are_rejected),
        cmocka_unit_test(test_integers_encode_shortest_and_round_trip),
        cmocka_unit_test(test_floats_encode_as_the_smallest_exact_width_and_round_trip),
        cmocka_unit_test(test_text_bytes_booleans_and_links_round_trip),
        cmocka_unit_test(test_base_name_is_the_common_prefix_of_the_records),
        cmocka_unit_test(test_timed_records_of_one_resource_share_the_full_base_name),
        cmocka_unit_test(test_encoding_into_a_short_buffer_is_full_at_every_size),
        cmocka_unit_test(test_records_senml_cannot_carry_are_refused),
    };
    return cmocka_run_group_tests(tests, codec_test_setup, codec_test_teardown);
}

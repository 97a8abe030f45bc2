/* test_rawcbor.c - content format 60 (one plain CBOR data item) of gateway/lwm2m/rawcbor.c:
 * typing by the object model and by CBOR type, tag 1 for Time, exact encodings of every type
 * at the CBOR boundaries with round trips, and every rejection with the word of its reason. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#define CODEC_TEST_DECODE rawcbor_decode
#include "cbor_cases.h"

/* Decodes `hex` at `base` and returns the one value; `r` keeps its bytes alive. */
static struct data_value decode_ok(const char *hex, const char *base, bool with_model,
                                   struct data_records *r)
{
    uint8_t buf[128];
    size_t len = unhex(hex, buf, sizeof(buf));
    struct codec_ctx c = ctx_at(base, with_model);
    char err[256] = "";
    data_records_reset(r);
    int rc = rawcbor_decode(buf, len, &c, r, err, sizeof(err));
    if (rc != GW_OK)
        fail_msg("decode of %s at %s failed (%d): %s", hex, base, rc, err);
    assert_int_equal(r->n, 1);
    assert_true(data_path_contains(&c.base, &r->v[0].path) && r->v[0].path.depth == c.base.depth);
    assert_false(r->v[0].has_time);
    return r->v[0].value;
}

/* Encodes `v` at `path`, compares with `hex`, and returns what decoding it back (with the
 * model when `with_model`) gives; `r` keeps its bytes alive. */
static struct data_value round_trip(const char *path, struct data_value v, const char *hex,
                                    bool with_model, struct data_records *r)
{
    struct data_records in = {0};
    add(&in, path, v);
    struct codec_ctx c = ctx_at(path, with_model);
    uint8_t want[128], got[128];
    size_t want_len = unhex(hex, want, sizeof(want)), len = 99;
    char err[256] = "";
    int rc = rawcbor_encode(&in, &c, got, sizeof(got), &len, err, sizeof(err));
    if (rc != GW_OK)
        fail_msg("encode failed (%d): %s", rc, err);
    assert_int_equal(len, want_len);
    assert_memory_equal(got, want, len);
    data_records_clear(&in);
    return decode_ok(hex, path, with_model, r);
}

/* ---- decoding, typed by the model ---- */

static void test_integer_resource_reads_integers_and_whole_floats(void **state)
{
    (void)state;
    struct data_records r = {0};
    struct data_value v = decode_ok("18 5f", "/3/0/9", true, &r);
    assert_int_equal(v.type, GW_TYPE_INTEGER);
    assert_int_equal(v.v.i, 95);
    v = decode_ok("f9 55f8", "/3/0/9", true, &r); /* 95.5: not whole, stays a float */
    assert_int_equal(v.type, GW_TYPE_FLOAT);
    v = decode_ok("fa 42be0000", "/3/0/9", true, &r); /* 95.0 */
    assert_int_equal(v.type, GW_TYPE_INTEGER);
    assert_int_equal(v.v.i, 95);
    data_records_clear(&r);
}

static void test_float_resource_reads_integers_as_floats(void **state)
{
    (void)state;
    struct data_records r = {0};
    struct data_value v = decode_ok("15", "/3303/0/5700", true, &r);
    assert_int_equal(v.type, GW_TYPE_FLOAT);
    assert_double_eq(v.v.f, 21.0);
    v = decode_ok("34", "/3303/0/5700", true, &r);
    assert_double_eq(v.v.f, -21.0);
    v = decode_ok("fb 4035800000000000", "/3303/0/5700", true, &r);
    assert_double_eq(v.v.f, 21.5);
    data_records_clear(&r);
}

static void test_string_and_time_resources_read_their_types(void **state)
{
    (void)state;
    struct data_records r = {0};
    struct data_value v = decode_ok("64 41636d65", "/3/0/0", true, &r);
    assert_int_equal(v.type, GW_TYPE_STRING);
    assert_memory_equal(v.v.bytes.p, "Acme", 4);
    v = decode_ok("1a 5182428f", "/3/0/13", true, &r);
    assert_int_equal(v.type, GW_TYPE_TIME);
    assert_int_equal(v.v.i, 1367491215);
    v = decode_ok("c1 1a5182428f", "/3/0/13", true, &r); /* tag 1, epoch time */
    assert_int_equal(v.type, GW_TYPE_TIME);
    assert_int_equal(v.v.i, 1367491215);
    v = decode_ok("c1 fb41d46090a3e00000", "/3/0/13", true, &r); /* tag 1, 1367491215.5 */
    assert_int_equal(v.v.i, 1367491215);
    v = decode_ok("c1 1a5182428f", "/32000/0/1", true, &r); /* unknown: the seconds, as written */
    assert_int_equal(v.type, GW_TYPE_INTEGER);
    assert_int_equal(v.v.i, 1367491215);
    data_records_clear(&r);
}

/* Finds a resource of type `t` in the model, for the types the core objects may lack. */
static bool find_resource(enum data_type t, char *path, size_t len)
{
    for (unsigned oid = 0; oid <= 65535; oid++) {
        const struct model_object *o = model_object(model, (uint16_t)oid);
        for (size_t i = 0; o && i < o->n_resources; i++) {
            if (o->resources[i].type == t) {
                snprintf(path, len, "/%u/0/%u", oid, o->resources[i].id);
                return true;
            }
        }
    }
    return false;
}

static void test_objlnk_and_corelnk_resources_read_text(void **state)
{
    (void)state;
    struct data_records r = {0};
    char path[32];
    if (!find_resource(GW_TYPE_OBJLNK, path, sizeof(path)))
        skip();
    struct data_value v = decode_ok("64 333a3137", path, true, &r); /* "3:17" */
    assert_int_equal(v.type, GW_TYPE_OBJLNK);
    assert_int_equal(v.v.lnk.oid, 3);
    assert_int_equal(v.v.lnk.iid, 17);
    expect_reject_hex("63 333a78", path, "is not oid:iid");
    if (find_resource(GW_TYPE_CORELNK, path, sizeof(path))) {
        v = decode_ok("64 3c2f333e", path, true, &r);
        assert_int_equal(v.type, GW_TYPE_CORELNK);
    }
    data_records_clear(&r);
}

static void test_unknown_resource_keeps_the_cbor_type(void **state)
{
    (void)state;
    struct data_records r = {0};
    const char *p = "/32000/0/1";
    struct data_value v = decode_ok("07", p, true, &r);
    assert_int_equal(v.type, GW_TYPE_INTEGER);
    v = decode_ok("1b ffffffffffffffff", p, true, &r);
    assert_int_equal(v.type, GW_TYPE_UNSIGNED);
    assert_true(v.v.u == UINT64_MAX);
    v = decode_ok("1b 7fffffffffffffff", p, true, &r);
    assert_int_equal(v.type, GW_TYPE_INTEGER);
    assert_true(v.v.i == INT64_MAX);
    v = decode_ok("3b 7fffffffffffffff", p, true, &r);
    assert_true(v.v.i == INT64_MIN);
    v = decode_ok("f9 3e00", p, true, &r);
    assert_int_equal(v.type, GW_TYPE_FLOAT);
    assert_double_eq(v.v.f, 1.5);
    v = decode_ok("61 78", p, true, &r);
    assert_int_equal(v.type, GW_TYPE_STRING);
    v = decode_ok("43 000102", p, true, &r);
    assert_int_equal(v.type, GW_TYPE_OPAQUE);
    assert_memory_equal(v.v.bytes.p, "\x00\x01\x02", 3);
    v = decode_ok("f5", p, true, &r);
    assert_int_equal(v.type, GW_TYPE_BOOLEAN);
    assert_true(v.v.b);
    v = decode_ok("d9d9f7 f4", p, true, &r); /* self-describe tag in front */
    assert_false(v.v.b);
    v = decode_ok("15", "/3303/0/5700", false, &r); /* no model at all */
    assert_int_equal(v.type, GW_TYPE_INTEGER);
    data_records_clear(&r);
}

static void test_value_lands_at_the_resource_instance_path(void **state)
{
    (void)state;
    struct data_records r = {0};
    struct data_value v = decode_ok("1870", "/3/0/7/1", true, &r);
    assert_int_equal(v.v.i, 112);
    assert_int_equal(r.v[0].path.depth, 4);
    assert_int_equal(r.v[0].path.id[3], 1);
    data_records_clear(&r);
}

/* ---- rejections ---- */

static void test_arrays_maps_and_non_values_are_rejected(void **state)
{
    (void)state;
    expect_reject_hex("82 0102", "/3/0/9", "an array is not a single value");
    expect_reject_hex("a1 0102", "/3/0/9", "a map is not a single value");
    expect_reject_hex("9f 01ff", "/3/0/9", "not a single value");
    expect_reject_hex("f6", "/3/0/9", "null is not a value");
    expect_reject_hex("f7", "/3/0/9", "undefined is not a value");
    expect_reject_hex("ff", "/3/0/9", "a break is not a value");
    expect_reject_hex("7f 6161ff", "/3/0/0", "indefinite-length strings");
    expect_reject_hex("5f 4161ff", "/3/0/0", "indefinite-length strings");
}

static void test_trailing_bytes_and_truncation_are_rejected(void **state)
{
    (void)state;
    expect_reject_hex("01 02", "/3/0/9", "1 trailing bytes");
    expect_reject_hex("", "/3/0/9", "empty");
    expect_reject_hex("c1", "/3/0/13", "truncated");
    uint8_t buf[16];
    size_t len = unhex("1b 7fffffffffffffff", buf, sizeof(buf));
    for (size_t cut = 1; cut < len; cut++)
        expect_reject(buf, cut, "/3/0/9", "truncated");
    len = unhex("66 4f70656e204d", buf, sizeof(buf));
    for (size_t cut = 1; cut < len; cut++)
        expect_reject(buf, cut, "/3/0/0", "truncated");
    len = unhex("fb 4035800000000000", buf, sizeof(buf));
    for (size_t cut = 1; cut < len; cut++)
        expect_reject(buf, cut, "/3303/0/5700", "truncated");
}

static void test_paths_above_a_resource_are_rejected(void **state)
{
    (void)state;
    expect_reject_hex("01", "/3/0", "must name a resource");
    expect_reject_hex("01", "/", "must name a resource");
}

static void test_tags_other_than_epoch_time_are_rejected(void **state)
{
    (void)state;
    expect_reject_hex("c2 4101", "/32000/0/1", "tag 2 is not accepted");
    expect_reject_hex("c1 c1 01", "/3/0/13", "tag 1 is not accepted");
    expect_reject_hex("c1 6178", "/3/0/13", "tag 1 (epoch time) must hold a number");
    expect_reject_hex("c1 01", "/3/0/0", "tag 1 (epoch time) on a String resource");
}

static void test_bad_scalars_are_rejected(void **state)
{
    (void)state;
    expect_reject_hex("f9 7e00", "/3303/0/5700", "non-finite");
    expect_reject_hex("fa 7f800000", "/3303/0/5700", "non-finite");
    expect_reject_hex("fb fff0000000000000", "/32000/0/1", "non-finite");
    expect_reject_hex("3b ffffffffffffffff", "/3/0/9", "below -2^63");
    expect_reject_hex("62 c328", "/3/0/0", "UTF-8");
    expect_reject_hex("1c", "/3/0/9", "malformed");
    expect_reject_hex("f8 20", "/3/0/9", "malformed"); /* a one-byte simple value */
}

/* ---- encoding ---- */

static void test_integers_encode_shortest_and_round_trip(void **state)
{
    (void)state;
    struct data_records r = {0};
    for (size_t i = 0; i < GW_ARRAY_LEN(int_cases); i++) {
        struct data_value v = {.type = GW_TYPE_INTEGER, .v.i = int_cases[i].v};
        struct data_value out = round_trip("/3/0/9", v, int_cases[i].hex, true, &r);
        assert_int_equal(out.type, GW_TYPE_INTEGER);
        assert_true(out.v.i == int_cases[i].v);
    }
    struct data_value u = {.type = GW_TYPE_UNSIGNED, .v.u = UINT64_MAX};
    struct data_value out = round_trip("/32000/0/1", u, "1bffffffffffffffff", true, &r);
    assert_int_equal(out.type, GW_TYPE_UNSIGNED);
    assert_true(out.v.u == UINT64_MAX);
    struct data_value t = {.type = GW_TYPE_TIME, .v.i = 1367491215};
    out = round_trip("/3/0/13", t, "1a5182428f", true, &r);
    assert_int_equal(out.type, GW_TYPE_TIME);
    assert_int_equal(out.v.i, 1367491215);
    data_records_clear(&r);
}

static void test_floats_encode_as_the_smallest_exact_width_and_round_trip(void **state)
{
    (void)state;
    struct data_records r = {0};
    for (size_t i = 0; i < GW_ARRAY_LEN(float_cases); i++) {
        struct data_value v = {.type = GW_TYPE_FLOAT, .v.f = float_cases[i].f};
        struct data_value out = round_trip("/32000/0/1", v, float_cases[i].hex, true, &r);
        assert_int_equal(out.type, GW_TYPE_FLOAT);
        assert_double_eq(out.v.f, float_cases[i].f);
        assert_int_equal(signbit(out.v.f), signbit(float_cases[i].f));
    }
    data_records_clear(&r);
}

static void test_other_types_encode_and_round_trip(void **state)
{
    (void)state;
    struct data_records r = {0};
    struct data_value v, out;
    v = (struct data_value){.type = GW_TYPE_STRING, .v.bytes = {(const uint8_t *)"Acme", 4}};
    out = round_trip("/3/0/0", v, "6441636d65", true, &r);
    assert_int_equal(out.type, GW_TYPE_STRING);
    assert_memory_equal(out.v.bytes.p, "Acme", 4);
    v = (struct data_value){.type = GW_TYPE_STRING, .v.bytes = {(const uint8_t *)"", 0}};
    out = round_trip("/3/0/0", v, "60", true, &r);
    assert_int_equal(out.v.bytes.len, 0);
    v = (struct data_value){.type = GW_TYPE_OPAQUE, .v.bytes = {(const uint8_t *)"\x00\xff", 2}};
    out = round_trip("/32000/0/1", v, "4200ff", true, &r);
    assert_int_equal(out.type, GW_TYPE_OPAQUE);
    v = (struct data_value){.type = GW_TYPE_BOOLEAN, .v.b = true};
    out = round_trip("/32000/0/1", v, "f5", true, &r);
    assert_int_equal(out.type, GW_TYPE_BOOLEAN);
    assert_true(out.v.b);
    v = (struct data_value){.type = GW_TYPE_CORELNK, .v.bytes = {(const uint8_t *)"</3>", 4}};
    out = round_trip("/32000/0/1", v, "643c2f333e", true, &r);
    assert_int_equal(out.type, GW_TYPE_STRING); /* unknown resource: text reads as String */
    v = (struct data_value){.type = GW_TYPE_OBJLNK, .v.lnk = {65535, 0}};
    out = round_trip("/32000/0/1", v, "6736353533353a30", true, &r);
    assert_int_equal(out.type, GW_TYPE_STRING); /* "65535:0" without a model type */
    char path[32];
    if (find_resource(GW_TYPE_OBJLNK, path, sizeof(path))) {
        out = round_trip(path, v, "6736353533353a30", true, &r);
        assert_int_equal(out.type, GW_TYPE_OBJLNK);
        assert_int_equal(out.v.lnk.oid, 65535);
    }
    data_records_clear(&r);
}

static void expect_encode_reject(const struct data_records *in, const char *base,
                                 const char *keyword)
{
    struct codec_ctx c = ctx_at(base, true);
    uint8_t buf[64];
    size_t len = 99;
    char err[256] = "";
    assert_int_equal(rawcbor_encode(in, &c, buf, sizeof(buf), &len, err, sizeof(err)),
                     -GW_ERR_INVALID);
    assert_int_equal(len, 0);
    if (!strstr(err, keyword))
        fail_msg("reason '%s' does not say '%s'", err, keyword);
}

static void test_encoding_what_format_60_cannot_carry_is_refused(void **state)
{
    (void)state;
    struct data_records in = {0};
    expect_encode_reject(&in, "/3/0/9", "exactly one value, not 0");
    struct data_path p = data_path_make(3, 3, 0, 9);
    struct data_value one = {.type = GW_TYPE_INTEGER, .v.i = 1};
    assert_int_equal(data_records_add(&in, &p, &one, false, 0), GW_OK);
    expect_encode_reject(&in, "/3/0/10", "outside the request path");
    assert_int_equal(data_records_add(&in, &p, &one, false, 0), GW_OK);
    expect_encode_reject(&in, "/3/0/9", "exactly one value, not 2");
    data_records_reset(&in);
    struct data_value none = {.type = GW_TYPE_NONE};
    assert_int_equal(data_records_add(&in, &p, &none, false, 0), GW_OK);
    expect_encode_reject(&in, "/3/0/9", "no value");
    data_records_reset(&in);
    struct data_value nan = {.type = GW_TYPE_FLOAT, .v.f = NAN};
    assert_int_equal(data_records_add(&in, &p, &nan, false, 0), GW_OK);
    expect_encode_reject(&in, "/3/0/9", "non-finite");
    data_records_reset(&in);
    struct data_value bad = {.type = GW_TYPE_STRING, .v.bytes = {(const uint8_t *)"\xc3", 1}};
    assert_int_equal(data_records_add(&in, &p, &bad, false, 0), GW_OK);
    expect_encode_reject(&in, "/3/0/9", "UTF-8");
    data_records_clear(&in);
}

static void test_encoding_into_a_short_buffer_is_full_at_every_size(void **state)
{
    (void)state;
    struct data_records in = {0};
    struct data_path p = data_path_make(3, 3, 0, 0);
    struct data_value v = {.type = GW_TYPE_STRING,
                           .v.bytes = {(const uint8_t *)"Open Mobile Alliance", 20}};
    assert_int_equal(data_records_add(&in, &p, &v, false, 0), GW_OK);
    struct codec_ctx c = ctx_at("/3/0/0", true);
    uint8_t buf[64] = {0};
    size_t len;
    for (size_t cap = 0; cap < 21; cap++) {
        len = 99;
        assert_int_equal(rawcbor_encode(&in, &c, cap ? buf : NULL, cap, &len, NULL, 0),
                         -GW_ERR_FULL);
        assert_int_equal(len, 0);
    }
    assert_int_equal(rawcbor_encode(&in, &c, buf, 21, &len, NULL, 0), GW_OK);
    assert_int_equal(len, 21);
    data_records_clear(&in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integer_resource_reads_integers_and_whole_floats),
        cmocka_unit_test(test_float_resource_reads_integers_as_floats),
        cmocka_unit_test(test_string_and_time_resources_read_their_types),
        cmocka_unit_test(test_objlnk_and_corelnk_resources_read_text),
        cmocka_unit_test(test_unknown_resource_keeps_the_cbor_type),
        cmocka_unit_test(test_value_lands_at_the_resource_instance_path),
        cmocka_unit_test(test_arrays_maps_and_non_values_are_rejected),
        cmocka_unit_test(test_trailing_bytes_and_truncation_are_rejected),
        cmocka_unit_test(test_paths_above_a_resource_are_rejected),
        cmocka_unit_test(test_tags_other_than_epoch_time_are_rejected),
        cmocka_unit_test(test_bad_scalars_are_rejected),
        cmocka_unit_test(test_integers_encode_shortest_and_round_trip),
        cmocka_unit_test(test_floats_encode_as_the_smallest_exact_width_and_round_trip),
        cmocka_unit_test(test_other_types_encode_and_round_trip),
        cmocka_unit_test(test_encoding_what_format_60_cannot_carry_is_refused),
        cmocka_unit_test(test_encoding_into_a_short_buffer_is_full_at_every_size),
    };
    return cmocka_run_group_tests(tests, codec_test_setup, codec_test_teardown);
}

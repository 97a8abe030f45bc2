/* test_text.c - unit tests of the single-value formats and of the codec entry point: text/plain
 * (text.c) typed by the object model, opaque (opaque.c), and codec.c's dispatch by content
 * format, format names, link-format values and the rollback of a failed decode. Types come from
 * a DDF file the test writes: one object with a resource of every type. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_testutil.h"

static struct data_records text_out; /* reused by text_at() */

/* /32769/0/<rid>: the resource of each type (ddf_every_type_object()) */
enum {
    R_STRING = 0,
    R_INTEGER,
    R_UNSIGNED,
    R_FLOAT,
    R_BOOLEAN,
    R_OPAQUE,
    R_TIME,
    R_OBJLNK,
    R_CORELNK,
    R_MULTI,
    R_EXEC,
};

static int setup_model(void **state)
{
    (void)state;
    char path[] = "/tmp/test_text_XXXXXX";
    FILE *f = ddf_begin(path);
    ddf_every_type_object(f, 32769);
    model = ddf_end(f, path);
    return 0;
}

static int teardown_model(void **state)
{
    (void)state;
    model_free(model);
    data_records_clear(&text_out);
    return 0;
}

static struct codec_ctx ctx_at_rid(int rid)
{
    return (struct codec_ctx){.base = data_path_make(3, 32769, 0, rid), .model = model};
}

/* Decodes `text` as text/plain at /32769/0/<rid>; returns rc, the value in *v, the reason in
 * err. The value's bytes live until the next call. */
static int text_at(int rid, const char *text, struct data_value *v, char *err, size_t errlen)
{
    data_records_reset(&text_out);
    struct codec_ctx ctx = ctx_at_rid(rid);
    int rc = text_decode((const uint8_t *)text, strlen(text), &ctx, &text_out, err, errlen);
    if (rc == GW_OK) {
        assert_int_equal(text_out.n, 1);
        assert_int_equal(text_out.v[0].path.depth, 3);
        assert_int_equal(text_out.v[0].path.id[2], rid);
        *v = text_out.v[0].value;
    } else {
        assert_int_equal(text_out.n, 0);
    }
    return rc;
}

static struct data_value text_ok(int rid, const char *text)
{
    struct data_value v;
    char err[256] = "";
    if (text_at(rid, text, &v, err, sizeof(err)) != GW_OK)
        fail_msg("'%s' at resource %d: %s", text, rid, err);
    return v;
}

static void text_rejected(int rid, const char *text, const char *needle)
{
    struct data_value v;
    char err[256] = "";
    int rc = text_at(rid, text, &v, err, sizeof(err));
    if (rc != -GW_ERR_INVALID || !strstr(err, needle))
        fail_msg("'%s' at resource %d: rc=%d err=\"%s\", expected \"%s\"", text, rid, rc, err,
                 needle);
}

/* Encodes one record at /32769/0/<rid> with `fmt` into `out`. */
static int encode_one(enum codec_format fmt, int rid, const struct data_value *v, char *out,
                      size_t cap, char *err, size_t errlen)
{
    struct data_records in = {0};
    struct codec_ctx ctx = ctx_at_rid(rid);
    assert_int_equal(data_records_add(&in, &ctx.base, v, false, 0), GW_OK);
    size_t n = 0;
    int rc = codec_encode(fmt, &in, &ctx, (uint8_t *)out, cap, &n, err, errlen);
    if (rc == GW_OK && n < cap)
        out[n] = '\0';
    else if (rc != GW_OK)
        assert_int_equal(n, 0);
    data_records_clear(&in);
    return rc;
}

static void encoded_text_is(int rid, const struct data_value *v, const char *want)
{
    char out[128], err[256] = "";
    if (encode_one(GW_FMT_TEXT, rid, v, out, sizeof(out), err, sizeof(err)) != GW_OK)
        fail_msg("encode at %d: %s", rid, err);
    assert_string_equal(out, want);
}

/* ---- text/plain decoding ---- */

static void test_text_integers_parse_with_range_checks(void **state)
{
    (void)state;
    assert_int_equal(text_ok(R_INTEGER, "42").v.i, 42);
    assert_int_equal(text_ok(R_INTEGER, "-42").v.i, -42);
    assert_int_equal(text_ok(R_INTEGER, "+7").v.i, 7);
    assert_true(text_ok(R_INTEGER, "9223372036854775807").v.i == INT64_MAX);
    assert_true(text_ok(R_INTEGER, "-9223372036854775808").v.i == INT64_MIN);
    assert_int_equal(text_ok(R_INTEGER, "0042").type, GW_TYPE_INTEGER);
    text_rejected(R_INTEGER, "9223372036854775808", "out of range for Integer");
    text_rejected(R_INTEGER, "-9223372036854775809", "out of range");
    text_rejected(R_INTEGER, "99999999999999999999999", "out of range");
    text_rejected(R_INTEGER, "12a", "'12a' is not an Integer");
    text_rejected(R_INTEGER, "", "is not an Integer");
    text_rejected(R_INTEGER, " 1", "is not an Integer");
    text_rejected(R_INTEGER, "1.0", "is not an Integer");
    text_rejected(R_INTEGER, "-", "is not an Integer");
    /* the reason quotes printable ASCII only, and at most 40 bytes */
    text_rejected(R_INTEGER, "1\n\xFF", "'1?\?' is not an Integer");
    text_rejected(R_INTEGER, "123456789012345678901234567890123456789012345",
                  "'1234567890123456789012345678901234567890...' is out of range");
    assert_int_equal(text_ok(R_TIME, "1700000000").type, GW_TYPE_TIME);
    assert_int_equal(text_ok(R_TIME, "1700000000").v.i, 1700000000);
    text_rejected(R_TIME, "2024-01-01", "is not a Time");
}

static void test_text_unsigned_integers_reject_signs_and_overflow(void **state)
{
    (void)state;
    assert_true(text_ok(R_UNSIGNED, "18446744073709551615").v.u == UINT64_MAX);
    assert_int_equal(text_ok(R_UNSIGNED, "0").type, GW_TYPE_UNSIGNED);
    text_rejected(R_UNSIGNED, "18446744073709551616", "out of range for Unsigned Integer");
    text_rejected(R_UNSIGNED, "-1", "is not an Unsigned Integer");
}

static void test_text_floats_are_decimal_and_finite(void **state)
{
    (void)state;
    assert_true(text_ok(R_FLOAT, "21.5").v.f == 21.5);
    assert_true(text_ok(R_FLOAT, "-1e3").v.f == -1000.0);
    assert_true(text_ok(R_FLOAT, "42").v.f == 42.0);
    assert_true(text_ok(R_FLOAT, ".5").v.f == 0.5);
    text_rejected(R_FLOAT, "1e999", "out of range for Float");
    text_rejected(R_FLOAT, "nan", "is not a Float");
    text_rejected(R_FLOAT, "inf", "is not a Float");
    text_rejected(R_FLOAT, "0x1p3", "is not a Float");
    text_rejected(R_FLOAT, "1.5 ", "is not a Float");
    text_rejected(R_FLOAT, "1.5e", "is not a Float");
    text_rejected(R_FLOAT, "", "is not a Float");
    char longer[80];
    memset(longer, '1', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    text_rejected(R_FLOAT, longer, "is not a Float");
    /* a NUL inside the payload is not the end of the number */
    struct data_records out = {0};
    struct codec_ctx ctx = ctx_at_rid(R_FLOAT);
    char err[128];
    assert_int_equal(text_decode((const uint8_t *)"1\0002", 3, &ctx, &out, err, sizeof(err)),
                     -GW_ERR_INVALID);
    data_records_clear(&out);
}

static void test_text_booleans_objlnks_and_strings(void **state)
{
    (void)state;
    assert_true(text_ok(R_BOOLEAN, "1").v.b);
    assert_false(text_ok(R_BOOLEAN, "0").v.b);
    text_rejected(R_BOOLEAN, "true", "is not a Boolean (0 or 1)");
    text_rejected(R_BOOLEAN, "2", "is not a Boolean");
    text_rejected(R_BOOLEAN, "", "is not a Boolean");
    struct data_value v = text_ok(R_OBJLNK, "3303:12");
    assert_int_equal(v.type, GW_TYPE_OBJLNK);
    assert_int_equal(v.v.lnk.oid, 3303);
    assert_int_equal(v.v.lnk.iid, 12);
    assert_int_equal(text_ok(R_OBJLNK, "65535:65535").v.lnk.iid, 65535);
    static const char *const bad_links[] = {
        "65536:0", "0:65536", "3", "3:", ":0", "-1:0", "3:+1", "3:0:1"};
    for (size_t i = 0; i < GW_ARRAY_LEN(bad_links); i++)
        text_rejected(R_OBJLNK, bad_links[i], "is not an Objlnk");
    v = text_ok(R_STRING, "Grüße, 温度");
    assert_int_equal(v.type, GW_TYPE_STRING);
    assert_int_equal(v.v.bytes.len, strlen("Grüße, 温度"));
    assert_int_equal(text_ok(R_STRING, "").v.bytes.len, 0);
    assert_int_equal(text_ok(R_CORELNK, "</3/0>").type, GW_TYPE_CORELNK);
}

static void test_text_invalid_utf8_is_rejected_with_offset(void **state)
{
    (void)state;
    text_rejected(R_STRING, "ab\xC3\x28", "offset 2: invalid UTF-8");       /* bad continuation */
    text_rejected(R_STRING, "\xC0\xAF", "offset 0: invalid UTF-8");         /* overlong '/' */
    text_rejected(R_STRING, "x\xED\xA0\x80", "offset 1: invalid UTF-8");    /* surrogate */
    text_rejected(R_STRING, "\xF4\x90\x80\x80", "offset 0: invalid UTF-8"); /* above U+10FFFF */
    text_rejected(R_STRING, "abc\xE2\x82", "offset 3: invalid UTF-8");      /* truncated */
    text_rejected(R_STRING, "\xFF", "offset 0");
}

static void test_text_opaque_resource_and_non_resource_paths_are_refused(void **state)
{
    (void)state;
    text_rejected(R_OPAQUE, "AAEC", "Opaque resource has no text/plain form");
    struct data_records out = {0};
    struct codec_ctx ctx = {.base = data_path_make(2, 32769, 0), .model = model};
    char err[128] = "";
    assert_int_equal(text_decode((const uint8_t *)"1", 1, &ctx, &out, err, sizeof(err)),
                     -GW_ERR_INVALID);
    assert_non_null(strstr(err, "/32769/0 is not a resource"));
    assert_int_equal(out.n, 0);
}

static void test_text_of_unknown_resources_is_a_string(void **state)
{
    (void)state;
    /* an unknown object, an Execute resource, and no model at all */
    struct codec_ctx ctxs[] = {{.base = data_path_make(3, 30000, 0, 1), .model = model},
                               {.base = data_path_make(3, 32769, 0, R_EXEC), .model = model},
                               {.base = data_path_make(4, 32769, 0, R_MULTI, 3), .model = NULL}};
    for (size_t i = 0; i < GW_ARRAY_LEN(ctxs); i++) {
        struct data_records out = {0};
        char err[128] = "";
        assert_int_equal(text_decode((const uint8_t *)"21.5", 4, &ctxs[i], &out, err, sizeof(err)),
                         GW_OK);
        assert_int_equal(out.n, 1);
        assert_int_equal(out.v[0].value.type, GW_TYPE_STRING);
        assert_memory_equal(out.v[0].value.v.bytes.p, "21.5", 4);
        assert_int_equal(out.v[0].path.depth, ctxs[i].base.depth);
        data_records_clear(&out);
    }
    /* a resource instance is typed like its resource */
    struct codec_ctx ctx = {.base = data_path_make(4, 32769, 0, R_MULTI, 3), .model = model};
    struct data_records out = {0};
    char err[128];
    assert_int_equal(text_decode((const uint8_t *)"-5", 2, &ctx, &out, err, sizeof(err)), GW_OK);
    assert_int_equal(out.v[0].value.type, GW_TYPE_INTEGER);
    assert_int_equal(out.v[0].value.v.i, -5);
    data_records_clear(&out);
}

/* ---- text/plain encoding ---- */

static void test_text_encodes_every_type(void **state)
{
    (void)state;
    struct data_value v = {.type = GW_TYPE_INTEGER, .v.i = INT64_MIN};
    encoded_text_is(R_INTEGER, &v, "-9223372036854775808");
    v = (struct data_value){.type = GW_TYPE_UNSIGNED, .v.u = UINT64_MAX};
    encoded_text_is(R_UNSIGNED, &v, "18446744073709551615");
    v = (struct data_value){.type = GW_TYPE_BOOLEAN, .v.b = true};
    encoded_text_is(R_BOOLEAN, &v, "1");
    v = (struct data_value){.type = GW_TYPE_TIME, .v.i = 1700000000};
    encoded_text_is(R_TIME, &v, "1700000000");
    v = (struct data_value){.type = GW_TYPE_OBJLNK, .v.lnk = {3303, 0}};
    encoded_text_is(R_OBJLNK, &v, "3303:0");
    v = (struct data_value){.type = GW_TYPE_STRING, .v.bytes = {(const uint8_t *)"Grüße", 7}};
    encoded_text_is(R_STRING, &v, "Grüße");
    v = (struct data_value){.type = GW_TYPE_CORELNK, .v.bytes = {(const uint8_t *)"</3>", 4}};
    encoded_text_is(R_CORELNK, &v, "</3>");
}

/* Floats are written with the fewest digits that read back as the same double. */
static void test_text_floats_are_shortest_round_trip(void **state)
{
    (void)state;
    static const struct {
        double f;
        const char *text;
    } cases[] = {{21.5, "21.5"}, {0.1, "0.1"},    {-0.001, "-0.001"},
                 {100.0, "100"}, {1e20, "1e+20"}, {0.30000000000000004, "0.30000000000000004"}};
    for (size_t i = 0; i < GW_ARRAY_LEN(cases); i++) {
        struct data_value v = {.type = GW_TYPE_FLOAT, .v.f = cases[i].f};
        encoded_text_is(R_FLOAT, &v, cases[i].text);
    }
    /* every such text reads back exactly */
    double samples[] = {1.0 / 3, M_PI, 1e-300, 123456789.123456789, -2.5e-8};
    for (size_t i = 0; i < GW_ARRAY_LEN(samples); i++) {
        struct data_value v = {.type = GW_TYPE_FLOAT, .v.f = samples[i]};
        char out[64], err[128];
        assert_int_equal(encode_one(GW_FMT_TEXT, R_FLOAT, &v, out, sizeof(out), err, sizeof(err)),
                         GW_OK);
        assert_true(text_ok(R_FLOAT, out).v.f == samples[i]);
    }
}

static void test_text_encoding_types_values_by_the_model(void **state)
{
    (void)state;
    struct data_value v = {.type = GW_TYPE_INTEGER, .v.i = 1};
    encoded_text_is(R_BOOLEAN, &v, "1");
    v = (struct data_value){.type = GW_TYPE_FLOAT, .v.f = 21.0};
    encoded_text_is(R_INTEGER, &v, "21");
    char out[64], err[256] = "";
    v = (struct data_value){.type = GW_TYPE_FLOAT, .v.f = 21.5};
    assert_int_equal(encode_one(GW_FMT_TEXT, R_INTEGER, &v, out, sizeof(out), err, sizeof(err)),
                     -GW_ERR_INVALID);
    assert_non_null(strstr(err, "/32769/0/1: "));
}

static void test_text_encoding_refuses_what_text_cannot_hold(void **state)
{
    (void)state;
    char out[8], err[256] = "";
    struct data_value v = {.type = GW_TYPE_OPAQUE, .v.bytes = {(const uint8_t *)"\x01", 1}};
    assert_int_equal(encode_one(GW_FMT_TEXT, R_OPAQUE, &v, out, sizeof(out), err, sizeof(err)),
                     -GW_ERR_INVALID);
    assert_non_null(strstr(err, "no text/plain form; use opaque"));
    v = (struct data_value){.type = GW_TYPE_FLOAT, .v.f = NAN};
    assert_int_equal(encode_one(GW_FMT_TEXT, R_FLOAT, &v, out, sizeof(out), err, sizeof(err)),
                     -GW_ERR_INVALID);
    v = (struct data_value){.type = GW_TYPE_NONE};
    assert_int_equal(encode_one(GW_FMT_TEXT, R_EXEC, &v, out, sizeof(out), err, sizeof(err)),
                     -GW_ERR_INVALID);
    v = (struct data_value){.type = GW_TYPE_INTEGER, .v.i = 123456789};
    assert_int_equal(encode_one(GW_FMT_TEXT, R_INTEGER, &v, out, sizeof(out), err, sizeof(err)),
                     -GW_ERR_FULL);

    /* two records, or one that is not the request path */
    struct data_records in = {0};
    struct codec_ctx ctx = ctx_at_rid(R_INTEGER);
    v = (struct data_value){.type = GW_TYPE_INTEGER, .v.i = 1};
    struct data_path other = data_path_make(3, 32769, 0, R_TIME);
    assert_int_equal(data_records_add(&in, &other, &v, false, 0), GW_OK);
    size_t n = 5;
    assert_int_equal(text_encode(&in, &ctx, (uint8_t *)out, sizeof(out), &n, err, sizeof(err)),
                     -GW_ERR_INVALID);
    assert_non_null(strstr(err, "record /32769/0/6 is not the resource /32769/0/1"));
    assert_int_equal(n, 0);
    assert_int_equal(data_records_add(&in, &ctx.base, &v, false, 0), GW_OK);
    assert_int_equal(text_encode(&in, &ctx, (uint8_t *)out, sizeof(out), &n, err, sizeof(err)),
                     -GW_ERR_INVALID);
    assert_non_null(strstr(err, "exactly one value, not 2"));
    data_records_clear(&in);
}

/* ---- opaque ---- */

static void test_opaque_carries_any_bytes_both_ways(void **state)
{
    (void)state;
    static const uint8_t bin[] = {0x00, 0xFF, 0x00, 0x80, 'x'};
    struct data_records out = {0};
    struct codec_ctx ctx = ctx_at_rid(R_OPAQUE);
    char err[128];
    assert_int_equal(codec_decode(GW_FMT_OPAQUE, bin, sizeof(bin), &ctx, &out, err, sizeof(err)),
                     GW_OK);
    assert_int_equal(out.n, 1);
    assert_int_equal(out.v[0].value.type, GW_TYPE_OPAQUE);
    assert_int_equal(out.v[0].value.v.bytes.len, sizeof(bin));
    assert_memory_equal(out.v[0].value.v.bytes.p, bin, sizeof(bin));
    uint8_t buf[16];
    size_t n;
    assert_int_equal(
        codec_encode(GW_FMT_OPAQUE, &out, &ctx, buf, sizeof(buf), &n, err, sizeof(err)), GW_OK);
    assert_int_equal(n, sizeof(bin));
    assert_memory_equal(buf, bin, sizeof(bin));
    assert_int_equal(codec_encode(GW_FMT_OPAQUE, &out, &ctx, buf, 4, &n, err, sizeof(err)),
                     -GW_ERR_FULL);
    data_records_clear(&out);
    /* a String goes out as its bytes; an empty payload is an empty value */
    struct data_value s = {.type = GW_TYPE_STRING, .v.bytes = {(const uint8_t *)"abc", 3}};
    char txt[8];
    assert_int_equal(encode_one(GW_FMT_OPAQUE, R_STRING, &s, txt, sizeof(txt), err, sizeof(err)),
                     GW_OK);
    assert_string_equal(txt, "abc");
    assert_int_equal(opaque_decode(NULL, 0, &ctx, &out, err, sizeof(err)), GW_OK);
    assert_int_equal(out.v[0].value.v.bytes.len, 0);
    data_records_clear(&out);
}

static void test_opaque_refuses_other_types_paths_and_counts(void **state)
{
    (void)state;
    char out[16], err[256] = "";
    struct data_value v = {.type = GW_TYPE_INTEGER, .v.i = 5};
    assert_int_equal(encode_one(GW_FMT_OPAQUE, R_INTEGER, &v, out, sizeof(out), err, sizeof(err)),
                     -GW_ERR_INVALID);
    assert_non_null(strstr(err, "Integer value has no opaque form"));
    struct data_records in = {0};
    struct codec_ctx ctx = {.base = data_path_make(1, 32769), .model = model};
    assert_int_equal(opaque_decode((const uint8_t *)"x", 1, &ctx, &in, err, sizeof(err)),
                     -GW_ERR_INVALID);
    assert_non_null(strstr(err, "/32769 is not a resource"));
    ctx = ctx_at_rid(R_OPAQUE);
    v = (struct data_value){.type = GW_TYPE_OPAQUE, .v.bytes = {(const uint8_t *)"x", 1}};
    assert_int_equal(data_records_add(&in, &ctx.base, &v, false, 0), GW_OK);
    assert_int_equal(data_records_add(&in, &ctx.base, &v, false, 0), GW_OK);
    size_t n;
    assert_int_equal(opaque_encode(&in, &ctx, (uint8_t *)out, sizeof(out), &n, err, sizeof(err)),
                     -GW_ERR_INVALID);
    assert_non_null(strstr(err, "exactly one value, not 2"));
    data_records_clear(&in);
}

/* ---- codec.c ---- */

static void test_format_names_round_trip(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        enum codec_format fmt;
    } cases[] = {{"text", GW_FMT_TEXT},
                 {"link", GW_FMT_LINK},
                 {"opaque", GW_FMT_OPAQUE},
                 {"cbor", GW_FMT_CBOR},
                 {"senml-json", GW_FMT_SENML_JSON},
                 {"senml-cbor", GW_FMT_SENML_CBOR},
                 {"tlv", GW_FMT_TLV},
                 {"json", GW_FMT_LWM2M_JSON}};
    for (size_t i = 0; i < GW_ARRAY_LEN(cases); i++) {
        enum codec_format f;
        assert_int_equal(codec_parse_name(cases[i].name, &f), GW_OK);
        assert_int_equal(f, cases[i].fmt);
        assert_string_equal(codec_name(cases[i].fmt), cases[i].name);
    }
    enum codec_format f;
    assert_int_equal(codec_parse_name("xml", &f), -GW_ERR_INVALID);
    assert_int_equal(codec_parse_name("TLV", &f), -GW_ERR_INVALID);
    assert_int_equal(codec_parse_name("", &f), -GW_ERR_INVALID);
    assert_null(codec_name((enum codec_format)41));
}

static void test_codec_dispatches_by_content_format(void **state)
{
    (void)state;
    struct data_records out = {0};
    struct codec_ctx ctx = ctx_at_rid(R_INTEGER);
    char err[128];
    /* the same bytes mean different things in different formats */
    static const uint8_t tlv[] = {0xC1, 0x01, 0x2A};
    assert_int_equal(codec_decode(GW_FMT_TLV, tlv, sizeof(tlv), &ctx, &out, err, sizeof(err)),
                     GW_OK);
    assert_int_equal(out.v[0].value.v.i, 42);
    assert_int_equal(
        codec_decode(GW_FMT_TEXT, (const uint8_t *)"42", 2, &ctx, &out, err, sizeof(err)), GW_OK);
    assert_int_equal(out.v[1].value.v.i, 42);
    assert_int_equal(codec_decode(GW_FMT_OPAQUE, tlv, sizeof(tlv), &ctx, &out, err, sizeof(err)),
                     GW_OK);
    assert_int_equal(out.v[2].value.type, GW_TYPE_OPAQUE);
    assert_int_equal(out.n, 3);
    data_records_reset(&out);
    assert_int_equal(codec_decode((enum codec_format)9999, tlv, 3, &ctx, &out, err, sizeof(err)),
                     -GW_ERR_UNSUPPORTED);
    assert_non_null(strstr(err, "9999"));
    struct data_value v = {.type = GW_TYPE_INTEGER, .v.i = 42};
    assert_int_equal(data_records_add(&out, &ctx.base, &v, false, 0), GW_OK);
    uint8_t buf[8];
    size_t n;
    assert_int_equal(codec_encode(GW_FMT_TLV, &out, &ctx, buf, sizeof(buf), &n, err, sizeof(err)),
                     GW_OK);
    assert_int_equal(n, sizeof(tlv));
    assert_memory_equal(buf, tlv, sizeof(tlv));
    assert_int_equal(
        codec_encode((enum codec_format)9999, &out, &ctx, buf, sizeof(buf), &n, err, sizeof(err)),
        -GW_ERR_UNSUPPORTED);
    data_records_clear(&out);
}

static void test_failed_decode_leaves_the_list_as_it_was(void **state)
{
    (void)state;
    struct data_records out = {0};
    struct codec_ctx ctx = {.base = data_path_make(1, 3), .model = model};
    char err[128];
    static const uint8_t good[] = {0xC1, 0x09, 0x64};
    assert_int_equal(codec_decode(GW_FMT_TLV, good, sizeof(good), &ctx, &out, err, sizeof(err)),
                     GW_OK);
    assert_int_equal(out.n, 1);
    /* two good resources, then a Battery Level of 3 bytes */
    static const uint8_t bad[] = {0xC1, 0x09, 0x64, 0xC1, 0x0A, 0x0F, 0xC3, 0x09, 0, 0, 0};
    assert_int_equal(codec_decode(GW_FMT_TLV, bad, sizeof(bad), &ctx, &out, err, sizeof(err)),
                     -GW_ERR_INVALID);
    assert_non_null(strstr(err, "offset 6"));
    assert_int_equal(out.n, 1);
    assert_int_equal(out.v[0].value.v.i, 100);
    data_records_clear(&out);
}

static void test_link_format_is_checked_and_kept_as_one_value(void **state)
{
    (void)state;
    static const char links[] = "</3>;ver=1.1,</3/0/1>,</3/0/9>;pmin=10";
    struct data_records out = {0};
    struct codec_ctx ctx = {.base = data_path_make(1, 3), .model = model};
    char err[160];
    assert_int_equal(codec_decode(GW_FMT_LINK, (const uint8_t *)links, strlen(links), &ctx, &out,
                                  err, sizeof(err)),
                     GW_OK);
    assert_int_equal(out.n, 1);
    assert_int_equal(out.v[0].value.type, GW_TYPE_CORELNK);
    assert_int_equal(out.v[0].path.depth, 1);
    assert_int_equal(out.v[0].value.v.bytes.len, strlen(links));
    char buf[64];
    size_t n;
    assert_int_equal(
        codec_encode(GW_FMT_LINK, &out, &ctx, (uint8_t *)buf, sizeof(buf), &n, err, sizeof(err)),
        GW_OK);
    assert_int_equal(n, strlen(links));
    assert_memory_equal(buf, links, n);
    assert_int_equal(
        codec_encode(GW_FMT_LINK, &out, &ctx, (uint8_t *)buf, 10, &n, err, sizeof(err)),
        -GW_ERR_FULL);
    assert_int_equal(
        codec_decode(GW_FMT_LINK, (const uint8_t *)"</3>;;", 6, &ctx, &out, err, sizeof(err)),
        -GW_ERR_INVALID);
    assert_non_null(strstr(err, "offset"));
    assert_int_equal(out.n, 1);
    /* only a Corelnk value, and a valid one, is written as link-format */
    data_records_reset(&out);
    struct data_value v = {.type = GW_TYPE_CORELNK, .v.bytes = {(const uint8_t *)"3/0", 3}};
    assert_int_equal(data_records_add(&out, &ctx.base, &v, false, 0), GW_OK);
    assert_int_equal(
        codec_encode(GW_FMT_LINK, &out, &ctx, (uint8_t *)buf, sizeof(buf), &n, err, sizeof(err)),
        -GW_ERR_INVALID);
    assert_non_null(strstr(err, "not valid link-format"));
    data_records_reset(&out);
    v = (struct data_value){.type = GW_TYPE_STRING, .v.bytes = {(const uint8_t *)"</3>", 4}};
    assert_int_equal(data_records_add(&out, &ctx.base, &v, false, 0), GW_OK);
    assert_int_equal(
        codec_encode(GW_FMT_LINK, &out, &ctx, (uint8_t *)buf, sizeof(buf), &n, err, sizeof(err)),
        -GW_ERR_INVALID);
    assert_non_null(strstr(err, "String value is not link-format"));
    data_records_clear(&out);
}

static void test_every_text_type_round_trips_through_the_codec(void **state)
{
    (void)state;
    static const struct {
        int rid;
        const char *text;
    } cases[] = {{R_STRING, "hello"},   {R_INTEGER, "-17"},   {R_UNSIGNED, "4000000000"},
                 {R_FLOAT, "0.1"},      {R_BOOLEAN, "0"},     {R_TIME, "0"},
                 {R_OBJLNK, "1:65535"}, {R_CORELNK, "</1/0>"}};
    for (size_t i = 0; i < GW_ARRAY_LEN(cases); i++) {
        struct data_value v = text_ok(cases[i].rid, cases[i].text);
        char out[64], err[128];
        assert_int_equal(
            encode_one(GW_FMT_TEXT, cases[i].rid, &v, out, sizeof(out), err, sizeof(err)), GW_OK);
        assert_string_equal(out, cases[i].text);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_integers_parse_with_range_checks),
        cmocka_unit_test(test_text_unsigned_integers_reject_signs_and_overflow),
        cmocka_unit_test(test_text_floats_are_decimal_and_finite),
        cmocka_unit_test(test_text_booleans_objlnks_and_strings),
        cmocka_unit_test(test_text_invalid_utf8_is_rejected_with_offset),
        cmocka_unit_test(test_text_opaque_resource_and_non_resource_paths_are_refused),
        cmocka_unit_test(test_text_of_unknown_resources_is_a_string),
        cmocka_unit_test(test_text_encodes_every_type),
        cmocka_unit_test(test_text_floats_are_shortest_round_trip),
        cmocka_unit_test(test_text_encoding_types_values_by_the_model),
        cmocka_unit_test(test_text_encoding_refuses_what_text_cannot_hold),
        cmocka_unit_test(test_opaque_carries_any_bytes_both_ways),
        cmocka_unit_test(test_opaque_refuses_other_types_paths_and_counts),
        cmocka_unit_test(test_format_names_round_trip),
        cmocka_unit_test(test_codec_dispatches_by_content_format),
        cmocka_unit_test(test_failed_decode_leaves_the_list_as_it_was),
        cmocka_unit_test(test_link_format_is_checked_and_kept_as_one_value),
        cmocka_unit_test(test_every_text_type_round_trips_through_the_codec),
    };
    return cmocka_run_group_tests(tests, setup_model, teardown_model);
}

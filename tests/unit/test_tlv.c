/* test_tlv.c - unit tests of the LwM2M TLV codec (tlv.c): the worked examples of the LwM2M
 * Technical Specification with their bytes, round trips of every type, every integer width and
 * header form, and the rejection of truncated, overlong, misnested and wrongly sized input.
 * Types come from the real object model: the built-in core objects, plus a DDF file written by
 * the test for the specification's example objects 66 and 67 and an object of every type. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_testutil.h"
#include "tlv_spec.h"

/* ---- the model: built-in objects plus a DDF file for the test objects ---- */

#define OBJ_EVERY 32769 /* a test object with a resource of every type */

static int setup_model(void **state)
{
    (void)state;
    /* The example objects of the specification's objlnk examples (their resource types as the
     * examples' tables give them; names are ours), and one object of every type. */
    static const struct ddf_res o66[] = {
        {0, "Objlnk", true}, {1, "String", false}, {2, "Integer", false}};
    static const struct ddf_res o67[] = {
        {0, "String", false}, {1, "String", false}, {2, "Objlnk", false}};
    char path[] = "/tmp/test_tlv_XXXXXX";
    FILE *f = ddf_begin(path);
    ddf_object(f, 66, o66, GW_ARRAY_LEN(o66));
    ddf_object(f, 67, o67, GW_ARRAY_LEN(o67));
    ddf_every_type_object(f, OBJ_EVERY);
    model = ddf_end(f, path);
    return 0;
}

/* ---- helpers ---- */

static struct data_path path_of(const char *s)
{
    struct data_path p;
    if (data_path_parse(s, strlen(s), &p) != GW_OK)
        fail_msg("bad path in test: %s", s);
    return p;
}

static struct codec_ctx ctx_of(const char *base)
{
    return (struct codec_ctx){.base = path_of(base), .model = model};
}

static void decode_ok(const uint8_t *buf, size_t len, const char *base, struct data_records *out)
{
    struct codec_ctx ctx = ctx_of(base);
    char err[256] = "";
    int rc = tlv_decode(buf, len, &ctx, out, err, sizeof(err));
    if (rc != GW_OK)
        fail_msg("decode at %s: rc=%d err=%s", base, rc, err);
}

static const struct data_record *find(const struct data_records *r, const char *path)
{
    struct data_path p = path_of(path);
    for (size_t i = 0; i < r->n; i++)
        if (r->v[i].path.depth == p.depth &&
            memcmp(r->v[i].path.id, p.id, p.depth * sizeof(p.id[0])) == 0)
            return &r->v[i];
    fail_msg("no record %s", path);
    return NULL;
}

static void expect_int(const struct data_records *r, const char *path, enum data_type t, int64_t v)
{
    const struct data_record *rec = find(r, path);
    assert_int_equal(rec->value.type, t);
    assert_int_equal(rec->value.v.i, v);
}

static void expect_bytes(const struct data_records *r, const char *path, enum data_type t,
                         const char *s)
{
    const struct data_record *rec = find(r, path);
    assert_int_equal(rec->value.type, t);
    assert_int_equal(rec->value.v.bytes.len, strlen(s));
    assert_memory_equal(rec->value.v.bytes.p, s, strlen(s));
}

/* Asserts that `buf` at `base` is refused with a reason containing `needle`, and that the
 * record already in the list is all that is left there. */
static void expect_rejected(const uint8_t *buf, size_t len, const char *base, const char *needle)
{
    struct data_records out = {0};
    struct data_value v = {.type = GW_TYPE_INTEGER, .v.i = 1};
    struct data_path before = path_of("/9/9/9");
    assert_int_equal(data_records_add(&out, &before, &v, false, 0), GW_OK);
    struct codec_ctx ctx = ctx_of(base);
    char err[256] = "";
    int rc = tlv_decode(buf, len, &ctx, &out, err, sizeof(err));
    if (rc != -GW_ERR_INVALID || !strstr(err, needle))
        fail_msg("at %s: rc=%d err=\"%s\", expected \"%s\"", base, rc, err, needle);
    assert_int_equal(out.n, 1);
    data_records_clear(&out);
}

static void add_int(struct data_records *r, const char *path, enum data_type t, int64_t i)
{
    struct data_value v = {.type = t, .v.i = i};
    struct data_path p = path_of(path);
    assert_int_equal(data_records_add(r, &p, &v, false, 0), GW_OK);
}

static void add_str(struct data_records *r, const char *path, const char *s)
{
    struct data_value v = {.type = GW_TYPE_STRING};
    v.v.bytes.p = (const uint8_t *)s;
    v.v.bytes.len = strlen(s);
    struct data_path p = path_of(path);
    assert_int_equal(data_records_add(r, &p, &v, false, 0), GW_OK);
}

static void encode_expect(const struct data_records *in, const char *base, const uint8_t *want,
                          size_t want_len)
{
    struct codec_ctx ctx = ctx_of(base);
    uint8_t buf[512];
    size_t n = 0;
    char err[256] = "";
    int rc = tlv_encode(in, &ctx, buf, sizeof(buf), &n, err, sizeof(err));
    if (rc != GW_OK)
        fail_msg("encode at %s: rc=%d err=%s", base, rc, err);
    assert_int_equal(n, want_len);
    assert_memory_equal(buf, want, want_len);
}

static void encode_rejected(const struct data_records *in, const char *base, const char *needle)
{
    struct codec_ctx ctx = ctx_of(base);
    uint8_t buf[512];
    size_t n = 99;
    char err[256] = "";
    int rc = tlv_encode(in, &ctx, buf, sizeof(buf), &n, err, sizeof(err));
    if (rc != -GW_ERR_INVALID || !strstr(err, needle))
        fail_msg("encode at %s: rc=%d err=\"%s\", expected \"%s\"", base, rc, err, needle);
    assert_int_equal(n, 0);
}

/* ---- the examples of the specification ---- */

static void check_device_records(const struct data_records *r)
{
    char p[32];
    assert_int_equal(r->n, GW_ARRAY_LEN(tlv_spec_device_values));
    for (size_t i = 0; i < GW_ARRAY_LEN(tlv_spec_device_values); i++) {
        snprintf(p, sizeof(p), "/3/0%s", tlv_spec_device_values[i].rel);
        if (tlv_spec_device_values[i].s)
            expect_bytes(r, p, tlv_spec_device_values[i].type, tlv_spec_device_values[i].s);
        else
            expect_int(r, p, tlv_spec_device_values[i].type, tlv_spec_device_values[i].i);
    }
}

static void add_device_records(struct data_records *r)
{
    char p[32];
    for (size_t i = 0; i < GW_ARRAY_LEN(tlv_spec_device_values); i++) {
        snprintf(p, sizeof(p), "/3/0%s", tlv_spec_device_values[i].rel);
        if (tlv_spec_device_values[i].s)
            add_str(r, p, tlv_spec_device_values[i].s);
        else
            add_int(r, p, tlv_spec_device_values[i].type, tlv_spec_device_values[i].i);
    }
}

static void test_spec_device_instance_decodes_every_resource_typed(void **state)
{
    (void)state;
    struct data_records r = {0};
    decode_ok(tlv_spec_device, sizeof(tlv_spec_device), "/3/0", &r);
    check_device_records(&r);
    data_records_clear(&r);
}

static void test_spec_device_instance_encodes_to_the_spec_bytes(void **state)
{
    (void)state;
    struct data_records r = {0};
    add_device_records(&r);
    encode_expect(&r, "/3/0", tlv_spec_device, sizeof(tlv_spec_device));
    data_records_clear(&r);
}

/* "Multiple Object Instance Request", Read /3: the same instance inside an object instance TLV
 * of 0x79 = 121 bytes. */
static void test_spec_device_object_read_wraps_the_instance(void **state)
{
    (void)state;
    uint8_t buf[3 + sizeof(tlv_spec_device)] = {0x08, 0x00, 0x79};
    memcpy(buf + 3, tlv_spec_device, sizeof(tlv_spec_device));
    struct data_records r = {0};
    decode_ok(buf, sizeof(buf), "/3", &r);
    check_device_records(&r);
    encode_expect(&r, "/3", buf, sizeof(buf));
    data_records_clear(&r);
}

/* Read /2 of the Access Control object, with a 16-bit resource instance id. */
static void test_spec_access_control_object_read_round_trips(void **state)
{
    (void)state;
    struct data_records r = {0};
    decode_ok(tlv_spec_access_control, sizeof(tlv_spec_access_control), "/2", &r);
    assert_int_equal(r.n, 9);
    expect_int(&r, "/2/0/0", GW_TYPE_INTEGER, 1);
    expect_int(&r, "/2/0/1", GW_TYPE_INTEGER, 0);
    expect_int(&r, "/2/0/2/127", GW_TYPE_INTEGER, 7);
    expect_int(&r, "/2/0/3", GW_TYPE_INTEGER, 127);
    expect_int(&r, "/2/2/0", GW_TYPE_INTEGER, 3);
    expect_int(&r, "/2/2/2/127", GW_TYPE_INTEGER, 7);
    expect_int(&r, "/2/2/2/310", GW_TYPE_INTEGER, 1);
    expect_int(&r, "/2/2/3", GW_TYPE_INTEGER, 127);
    encode_expect(&r, "/2", tlv_spec_access_control, sizeof(tlv_spec_access_control));
    data_records_clear(&r);
}

/* Read /1 of the Server object: a 4-byte Integer and a Boolean. */
static void test_spec_server_object_read_round_trips(void **state)
{
    (void)state;
    struct data_records r = {0};
    decode_ok(tlv_spec_server, sizeof(tlv_spec_server), "/1", &r);
    assert_int_equal(r.n, 4);
    expect_int(&r, "/1/0/0", GW_TYPE_INTEGER, 1);
    expect_int(&r, "/1/0/1", GW_TYPE_INTEGER, 86400);
    assert_int_equal(find(&r, "/1/0/6")->value.type, GW_TYPE_BOOLEAN);
    assert_true(find(&r, "/1/0/6")->value.v.b);
    expect_bytes(&r, "/1/0/7", GW_TYPE_STRING, "U");
    encode_expect(&r, "/1", tlv_spec_server, sizeof(tlv_spec_server));
    data_records_clear(&r);
}

/* The object link examples, on the test DDF's objects 66 and 67. */
static void test_spec_object_link_examples_round_trip(void **state)
{
    (void)state;
    struct data_records r = {0};
    decode_ok(tlv_spec_objlnk_66, sizeof(tlv_spec_objlnk_66), "/66/0", &r);
    assert_int_equal(r.n, 4);
    const struct data_record *l = find(&r, "/66/0/0/1");
    assert_int_equal(l->value.type, GW_TYPE_OBJLNK);
    assert_int_equal(l->value.v.lnk.oid, 66);
    assert_int_equal(l->value.v.lnk.iid, 1);
    expect_bytes(&r, "/66/0/1", GW_TYPE_STRING, "8613800755500");
    expect_int(&r, "/66/0/2", GW_TYPE_INTEGER, 0x12345678);
    encode_expect(&r, "/66/0", tlv_spec_objlnk_66, sizeof(tlv_spec_objlnk_66));
    data_records_reset(&r);

    decode_ok(tlv_spec_objlnk_67, sizeof(tlv_spec_objlnk_67), "/67", &r);
    assert_int_equal(r.n, 6);
    expect_bytes(&r, "/67/1/0", GW_TYPE_STRING, "myService 2");
    l = find(&r, "/67/0/2");
    assert_int_equal(l->value.v.lnk.oid, 67);
    assert_int_equal(l->value.v.lnk.iid, 0);
    l = find(&r, "/67/1/2");
    assert_int_equal(l->value.v.lnk.oid, 65535);
    assert_int_equal(l->value.v.lnk.iid, 65535);
    encode_expect(&r, "/67", tlv_spec_objlnk_67, sizeof(tlv_spec_objlnk_67));
    data_records_clear(&r);
}

/* ---- the shapes a payload may take at each base depth ---- */

static void test_multiple_resource_read_at_its_own_path(void **state)
{
    (void)state;
    static const uint8_t wrapped[] = {0x86, 0x06, 0x41, 0x00, 0x01, 0x41, 0x01, 0x05};
    struct data_records r = {0};
    decode_ok(wrapped, sizeof(wrapped), "/3/0/6", &r);
    assert_int_equal(r.n, 2);
    expect_int(&r, "/3/0/6/1", GW_TYPE_INTEGER, 5);
    encode_expect(&r, "/3/0/6", wrapped, sizeof(wrapped));
    data_records_reset(&r);
    /* bare resource instances, as some clients answer */
    decode_ok(wrapped + 2, sizeof(wrapped) - 2, "/3/0/6", &r);
    assert_int_equal(r.n, 2);
    expect_int(&r, "/3/0/6/0", GW_TYPE_INTEGER, 1);
    data_records_reset(&r);
    /* one resource instance at its own path */
    decode_ok(wrapped + 5, 3, "/3/0/6/1", &r);
    assert_int_equal(r.n, 1);
    expect_int(&r, "/3/0/6/1", GW_TYPE_INTEGER, 5);
    encode_expect(&r, "/3/0/6/1", wrapped + 5, 3);
    data_records_clear(&r);
}

static void test_single_resource_read_and_wrapped_instance(void **state)
{
    (void)state;
    static const uint8_t battery[] = {0xC1, 0x09, 0x64};
    static const uint8_t wrapped[] = {0x03, 0x00, 0xC1, 0x09, 0x64};
    struct data_records r = {0};
    decode_ok(battery, sizeof(battery), "/3/0/9", &r);
    assert_int_equal(r.n, 1);
    expect_int(&r, "/3/0/9", GW_TYPE_INTEGER, 100);
    encode_expect(&r, "/3/0/9", battery, sizeof(battery));
    data_records_reset(&r);
    /* an object instance TLV around the resources of /3/0, as Leshan accepts */
    decode_ok(wrapped, sizeof(wrapped), "/3/0", &r);
    expect_int(&r, "/3/0/9", GW_TYPE_INTEGER, 100);
    data_records_clear(&r);
}

static void test_resources_at_top_of_single_instance_object_are_instance_0(void **state)
{
    (void)state;
    struct data_records r = {0};
    decode_ok(tlv_spec_device, sizeof(tlv_spec_device), "/3", &r);
    check_device_records(&r);
    data_records_clear(&r);
    static const uint8_t temp[] = {0xE4, 0x16, 0x44, 0x41, 0xAC, 0x00, 0x00};
    expect_rejected(temp, sizeof(temp), "/3303", "needs an object instance TLV");
}

static void test_empty_object_instance_is_one_record_without_value(void **state)
{
    (void)state;
    static const uint8_t two[] = {0x00, 0x01, 0x08, 0x02, 0x00}; /* short and 8-bit length */
    struct data_records r = {0};
    decode_ok(two, sizeof(two), "/2", &r);
    assert_int_equal(r.n, 2);
    assert_int_equal(find(&r, "/2/1")->value.type, GW_TYPE_NONE);
    assert_int_equal(find(&r, "/2/2")->value.type, GW_TYPE_NONE);
    static const uint8_t shortest[] = {0x00, 0x01, 0x00, 0x02};
    encode_expect(&r, "/2", shortest, sizeof(shortest));
    data_records_reset(&r);
    decode_ok(NULL, 0, "/2/1", &r);
    assert_int_equal(r.n, 1);
    assert_int_equal(find(&r, "/2/1")->value.type, GW_TYPE_NONE);
    encode_expect(&r, "/2/1", NULL, 0);
    data_records_clear(&r);
}

static void test_without_model_values_stay_opaque_bytes(void **state)
{
    (void)state;
    struct codec_ctx ctx = {.base = path_of("/3/0"), .model = NULL};
    struct data_records r = {0};
    char err[128];
    assert_int_equal(
        tlv_decode(tlv_spec_device, sizeof(tlv_spec_device), &ctx, &r, err, sizeof(err)), GW_OK);
    assert_int_equal(r.n, 16);
    expect_bytes(&r, "/3/0/9", GW_TYPE_OPAQUE, "\x64");
    expect_bytes(&r, "/3/0/7/1", GW_TYPE_OPAQUE, "\x13\x88");
    expect_bytes(&r, "/3/0/0", GW_TYPE_OPAQUE, "Open Mobile Alliance");
    data_records_reset(&r);
    /* an object the model does not know */
    static const uint8_t unknown[] = {0xC2, 0x05, 0xAB, 0xCD};
    decode_ok(unknown, sizeof(unknown), "/30000/0", &r);
    expect_bytes(&r, "/30000/0/5", GW_TYPE_OPAQUE, "\xAB\xCD");
    data_records_clear(&r);
}

/* ---- types, widths and header forms ---- */

/* Encodes one record at /32769/0/<rid> and decodes it back, returning the TLV bytes. */
static size_t round_trip(const struct data_value *v, int rid, uint8_t *buf, size_t cap,
                         struct data_value *back)
{
    char p[32];
    snprintf(p, sizeof(p), "/%d/0/%d", OBJ_EVERY, rid);
    struct data_records in = {0}, out = {0};
    struct data_path path = path_of(p);
    assert_int_equal(data_records_add(&in, &path, v, false, 0), GW_OK);
    struct codec_ctx ctx = ctx_of(p);
    size_t n = 0;
    char err[256] = "";
    if (tlv_encode(&in, &ctx, buf, cap, &n, err, sizeof(err)) != GW_OK)
        fail_msg("encode %s: %s", p, err);
    decode_ok(buf, n, p, &out);
    assert_int_equal(out.n, 1);
    *back = out.v[0].value;
    /* bytes live in `out`: copy them to static storage for the caller */
    static uint8_t keep[256];
    if (back->type == GW_TYPE_STRING || back->type == GW_TYPE_OPAQUE ||
        back->type == GW_TYPE_CORELNK) {
        assert_true(back->v.bytes.len <= sizeof(keep));
        memcpy(keep, back->v.bytes.p, back->v.bytes.len);
        back->v.bytes.p = keep;
    }
    data_records_clear(&in);
    data_records_clear(&out);
    return n;
}

static void test_every_type_round_trips(void **state)
{
    (void)state;
    uint8_t buf[64];
    struct data_value v, back;
    static const uint8_t bin[] = {0x00, 0xFF, 0x10};
    struct {
        int rid;
        struct data_value v;
    } cases[] = {
        {0, {.type = GW_TYPE_STRING, .v.bytes = {(const uint8_t *)"Grüße", 7}}},
        {1, {.type = GW_TYPE_INTEGER, .v.i = -123456}},
        {2, {.type = GW_TYPE_UNSIGNED, .v.u = 4000000000u}},
        {3, {.type = GW_TYPE_FLOAT, .v.f = 21.5}},
        {3, {.type = GW_TYPE_FLOAT, .v.f = 0.1}},
        {4, {.type = GW_TYPE_BOOLEAN, .v.b = true}},
        {4, {.type = GW_TYPE_BOOLEAN, .v.b = false}},
        {5, {.type = GW_TYPE_OPAQUE, .v.bytes = {bin, sizeof(bin)}}},
        {6, {.type = GW_TYPE_TIME, .v.i = 1700000000}},
        {7, {.type = GW_TYPE_OBJLNK, .v.lnk = {3303, 12}}},
        {8, {.type = GW_TYPE_CORELNK, .v.bytes = {(const uint8_t *)"</3/0>", 6}}},
    };
    for (size_t i = 0; i < GW_ARRAY_LEN(cases); i++) {
        v = cases[i].v;
        round_trip(&v, cases[i].rid, buf, sizeof(buf), &back);
        assert_int_equal(back.type, v.type);
        switch (v.type) {
        case GW_TYPE_STRING:
        case GW_TYPE_OPAQUE:
        case GW_TYPE_CORELNK:
            assert_int_equal(back.v.bytes.len, v.v.bytes.len);
            assert_memory_equal(back.v.bytes.p, v.v.bytes.p, v.v.bytes.len);
            break;
        case GW_TYPE_FLOAT:
            assert_true(back.v.f == v.v.f);
            break;
        case GW_TYPE_BOOLEAN:
            assert_int_equal(back.v.b, v.v.b);
            break;
        case GW_TYPE_OBJLNK:
            assert_int_equal(back.v.lnk.oid, v.v.lnk.oid);
            assert_int_equal(back.v.lnk.iid, v.v.lnk.iid);
            break;
        default:
            assert_true(back.v.u == v.v.u);
        }
    }
}

/* Appendix C: Integer and Time are signed two's complement of 1, 2, 4 or 8 bytes, and the
 * encoder picks the smallest that holds the value. */
static void test_integers_take_the_smallest_signed_width(void **state)
{
    (void)state;
    /* the boundaries of every width, each beside the width it needs */
    /* clang-format off */
    static const struct { int64_t v; size_t width; } cases[] = {
        {0, 1}, {127, 1}, {-128, 1}, {128, 2}, {-129, 2}, {32767, 2}, {-32768, 2}, {32768, 4},
        {-32769, 4}, {INT32_MAX, 4}, {INT32_MIN, 4}, {(int64_t)INT32_MAX + 1, 8},
        {(int64_t)INT32_MIN - 1, 8}, {INT64_MAX, 8}, {INT64_MIN, 8}};
    /* clang-format on */
    uint8_t buf[16];
    struct data_value back;
    for (size_t i = 0; i < GW_ARRAY_LEN(cases); i++) {
        struct data_value v = {.type = GW_TYPE_INTEGER, .v.i = cases[i].v};
        size_t n = round_trip(&v, 1, buf, sizeof(buf), &back);
        size_t w = cases[i].width;
        /* resource 1, a value of w bytes: the length sits in the type byte up to 7 */
        assert_int_equal(n, 2 + (w > 7) + w);
        assert_int_equal(buf[0], w > 7 ? 0xC8 : 0xC0 | w);
        assert_int_equal(buf[1], 1);
        if (w > 7)
            assert_int_equal(buf[2], w);
        assert_int_equal(back.type, GW_TYPE_INTEGER);
        assert_true(back.v.i == cases[i].v);
        /* big-endian two's complement: the first byte carries the sign */
        assert_int_equal(buf[n - w] >> 7, cases[i].v < 0);
    }
}

static void test_unsigned_integers_take_the_smallest_width(void **state)
{
    (void)state;
    /* clang-format off */
    static const struct { uint64_t v; size_t width; } cases[] = {
        {0, 1}, {255, 1}, {256, 2}, {65535, 2}, {65536, 4}, {UINT32_MAX, 4},
        {(uint64_t)UINT32_MAX + 1, 8}, {(uint64_t)1 << 63, 8}, {UINT64_MAX, 8}};
    /* clang-format on */
    uint8_t buf[16];
    struct data_value back;
    for (size_t i = 0; i < GW_ARRAY_LEN(cases); i++) {
        struct data_value v = {.type = GW_TYPE_UNSIGNED, .v.u = cases[i].v};
        size_t n = round_trip(&v, 2, buf, sizeof(buf), &back);
        assert_int_equal(n - (cases[i].width > 7 ? 3 : 2), cases[i].width);
        assert_int_equal(back.type, GW_TYPE_UNSIGNED);
        assert_true(back.v.u == cases[i].v);
    }
}

static void test_floats_take_4_bytes_only_when_exact(void **state)
{
    (void)state;
    static const struct {
        double v;
        size_t width;
    } cases[] = {
        {21.5, 4},
        {0.0, 4},
        {-1.0e-40, 8},
        {0.1, 8},
        {0x1.fffffep+127 /* FLT_MAX */, 4},
        {1e39, 8},
        {-2.5e-3, 8},
        {0x1p-149 /* the smallest float */, 4},
    };
    uint8_t buf[16];
    struct data_value back;
    for (size_t i = 0; i < GW_ARRAY_LEN(cases); i++) {
        struct data_value v = {.type = GW_TYPE_FLOAT, .v.f = cases[i].v};
        size_t n = round_trip(&v, 3, buf, sizeof(buf), &back);
        assert_int_equal(n - (cases[i].width > 7 ? 3 : 2), cases[i].width);
        assert_true(back.v.f == cases[i].v);
    }
    /* 25.0 as the IEEE 754 single 0x41C80000, big-endian */
    static const uint8_t f25[] = {0xC4, 0x03, 0x41, 0xC8, 0x00, 0x00};
    struct data_records r = {0};
    decode_ok(f25, sizeof(f25), "/32769/0/3", &r);
    assert_true(r.v[0].value.v.f == 25.0);
    data_records_clear(&r);
}

/* Bits 4-3 of the type byte: the length in bits 2-0, or in an 8, 16 or 24-bit field; bit 5: a
 * 16-bit identifier. The encoder writes the shortest; the decoder reads every form. */
static void test_every_length_and_identifier_form(void **state)
{
    (void)state;
    static const struct {
        size_t len;
        uint8_t type;
        size_t head;
    } cases[] = {{0, 0xC0, 2},   {7, 0xC7, 2},     {8, 0xC8, 3},     {255, 0xC8, 3},
                 {256, 0xD0, 4}, {65535, 0xD0, 4}, {65536, 0xD8, 5}, {70000, 0xD8, 5}};
    static uint8_t value[70000], buf[70016];
    for (size_t i = 0; i < sizeof(value); i++)
        value[i] = (uint8_t)(i * 7);
    for (size_t i = 0; i < GW_ARRAY_LEN(cases); i++) {
        struct data_records in = {0}, out = {0};
        struct data_value v = {.type = GW_TYPE_OPAQUE, .v.bytes = {value, cases[i].len}};
        struct data_path p = path_of("/32769/0/5");
        assert_int_equal(data_records_add(&in, &p, &v, false, 0), GW_OK);
        struct codec_ctx ctx = ctx_of("/32769/0");
        size_t n;
        char err[128];
        assert_int_equal(tlv_encode(&in, &ctx, buf, sizeof(buf), &n, err, sizeof(err)), GW_OK);
        assert_int_equal(n, cases[i].head + cases[i].len);
        assert_int_equal(buf[0], cases[i].type);
        size_t l = 0;
        for (size_t k = 2; k < cases[i].head; k++)
            l = l << 8 | buf[k];
        assert_int_equal(cases[i].head > 2 ? l : (size_t)(buf[0] & 7), cases[i].len);
        decode_ok(buf, n, "/32769/0", &out);
        assert_int_equal(out.n, 1);
        assert_int_equal(out.v[0].value.type, GW_TYPE_OPAQUE);
        assert_int_equal(out.v[0].value.v.bytes.len, cases[i].len);
        assert_memory_equal(out.v[0].value.v.bytes.p, value, cases[i].len);
        data_records_clear(&in);
        data_records_clear(&out);
    }
    /* longer forms than needed are read too: 16-bit id, 24-bit length for Battery Level */
    static const uint8_t wide[] = {0xF8, 0x00, 0x09, 0x00, 0x00, 0x01, 0x64};
    struct data_records r = {0};
    decode_ok(wide, sizeof(wide), "/3/0", &r);
    expect_int(&r, "/3/0/9", GW_TYPE_INTEGER, 100);
    /* an identifier above 255 is written in 16 bits */
    data_records_reset(&r);
    add_int(&r, "/32769/300/1", GW_TYPE_INTEGER, 5);
    static const uint8_t id16[] = {0x23, 0x01, 0x2C, 0xC1, 0x01, 0x05};
    encode_expect(&r, "/32769", id16, sizeof(id16));
    data_records_clear(&r);
}

/* ---- rejections ---- */

static void test_truncated_and_overlong_tlv_is_rejected_with_offset(void **state)
{
    (void)state;
    expect_rejected((const uint8_t *)"\xC1", 1, "/3/0", "offset 0: truncated TLV header");
    expect_rejected((const uint8_t *)"\xE1\x00", 2, "/3/0", "offset 0: truncated TLV header");
    expect_rejected((const uint8_t *)"\xD8\x09\x00\x00", 4, "/3/0", "offset 0: truncated");
    expect_rejected((const uint8_t *)"\xC1\x09\x64\xC1", 4, "/3/0", "offset 3: truncated");
    expect_rejected((const uint8_t *)"\xC8\x00\x14Open", 7, "/3/0",
                    "offset 0: TLV length 20 goes beyond the end of the payload");
    /* the inner resource claims 2 bytes, but its instance ends after 1 */
    expect_rejected((const uint8_t *)"\x08\x00\x03\xC2\x00\x01\x02", 7, "/3",
                    "offset 3: TLV length 2 goes beyond its enclosing TLV");
}

static void test_misnested_tlv_is_rejected(void **state)
{
    (void)state;
    expect_rejected((const uint8_t *)"\x41\x00\x01", 3, "/3",
                    "offset 0: a resource instance TLV cannot stand");
    expect_rejected((const uint8_t *)"\x41\x00\x01", 3, "/3/0", "resource instance TLV cannot");
    expect_rejected((const uint8_t *)"\x03\x00\x41\x00\x01", 5, "/3/0",
                    "offset 2: a resource instance TLV cannot stand directly in the TLV of /3/0");
    expect_rejected((const uint8_t *)"\x83\x06\xC1\x00\x01", 5, "/3/0",
                    "offset 2: a resource TLV cannot");
    expect_rejected((const uint8_t *)"\x04\x00\x02\x00\x00\x00", 6, "/3",
                    "offset 2: an object instance TLV cannot");
    expect_rejected((const uint8_t *)"\x00\x00\xC1\x09\x64", 5, "/3", "mixed");
    expect_rejected((const uint8_t *)"\xC1\x0A\x0F", 3, "/3/0/9", "has id 10 but the path");
    expect_rejected((const uint8_t *)"\x03\x01\xC1\x09\x64", 5, "/3/0",
                    "an object instance TLV has id 1 but the path is /3/0");
    expect_rejected((const uint8_t *)"\xC1\x06\x01", 3, "/3/0/6/0", "cannot answer /3/0/6/0");
    expect_rejected((const uint8_t *)"\xC1\x09\x64\xC1\x09\x65", 6, "/3/0/9",
                    "offset 3: two values for /3/0/9");
    expect_rejected(NULL, 0, "/3/0/9", "empty TLV payload");
    expect_rejected((const uint8_t *)"\xC1\x09\x64", 3, "/", "base path");
}

/* Every record a decode yields can be written back: no path twice, nothing both empty and full,
 * no resource with both a value and instances. In path order the clash is found where it is
 * read; otherwise after the payload, by path. */
static void test_clashing_records_are_rejected(void **state)
{
    (void)state;
    expect_rejected((const uint8_t *)"\xC1\x06\x01\x83\x06\x41\x00\x01", 8, "/3/0",
                    "offset 5: resource /3/0/6 has both a single value and instances");
    expect_rejected((const uint8_t *)"\x00\x00\x03\x00\xC1\x09\x64", 7, "/3",
                    "offset 4: the empty object instance /3/0 also has resources");
    /* found by fuzzing: bare instances, then an empty multiple resource for the same resource */
    expect_rejected((const uint8_t *)"\x62\x2F\x00\x10\xFA\x80\x01", 7, "/30000/0/1",
                    "offset 5: the empty multiple resource /30000/0/1 also has instances");
    expect_rejected((const uint8_t *)"\xC1\x0A\x0F\xC1\x09\x64\xC1\x0A\x10", 9, "/3/0",
                    "two values for /3/0/10");
    expect_rejected((const uint8_t *)"\x83\x06\x41\x00\x01\xC1\x09\x64\xC1\x06\x01", 11, "/3/0",
                    "resource /3/0/6 has both a single value and instances");
    /* out of order but distinct is fine */
    struct data_records r = {0};
    decode_ok((const uint8_t *)"\xC1\x0A\x0F\xC1\x09\x64", 6, "/3/0", &r);
    assert_int_equal(r.n, 2);
    data_records_clear(&r);
}

/* Nesting is bounded by the format (instance > resource > instance), checked before any level
 * is entered: a tower of object instances is refused at its second storey, without recursion. */
static void test_deeply_nested_tlv_is_rejected(void **state)
{
    (void)state;
    /* object instance TLVs, each holding the rest: 0x10 = 8-bit id and 16-bit length */
    static uint8_t t2[4 * 1000];
    for (size_t i = 0; i < 1000; i++) {
        size_t left = sizeof(t2) - 4 * (i + 1);
        t2[4 * i] = 0x10;
        t2[4 * i + 1] = 0;
        t2[4 * i + 2] = (uint8_t)(left >> 8);
        t2[4 * i + 3] = (uint8_t)left;
    }
    expect_rejected(t2, sizeof(t2), "/3", "offset 4: an object instance TLV cannot");
}

static void test_values_of_the_wrong_size_are_rejected(void **state)
{
    (void)state;
    expect_rejected((const uint8_t *)"\xC3\x09\x00\x00\x64", 5, "/3/0",
                    "offset 0: Integer value of /3/0/9 has 3 bytes, expected 1, 2, 4 or 8");
    expect_rejected((const uint8_t *)"\xC0\x09", 2, "/3/0", "has 0 bytes");
    expect_rejected((const uint8_t *)"\xC2\x03\x00\x01", 4, "/32769/0",
                    "Float value of /32769/0/3 has 2 bytes, expected 4 or 8");
    expect_rejected((const uint8_t *)"\xC2\x04\x00\x01", 4, "/32769/0", "Boolean value");
    expect_rejected((const uint8_t *)"\xC1\x04\x02", 3, "/32769/0", "is 2, expected 0 or 1");
    expect_rejected((const uint8_t *)"\xC3\x07\x00\x01\x00", 5, "/32769/0",
                    "Objlnk value of /32769/0/7 has 3 bytes, expected 4");
    expect_rejected((const uint8_t *)"\xC3\x02\x00\x01\x00", 5, "/32769/0",
                    "Unsigned Integer value");
    /* the second instance of the Access Control object, after a good first one */
    expect_rejected((const uint8_t *)"\x03\x00\xC1\x00\x01\x05\x01\xC3\x00\x00\x00\x01", 12, "/2",
                    "offset 7: Integer value of /2/1/0 has 3 bytes");
}

/* ---- the encoder ---- */

static void test_encoder_groups_records_given_in_any_order(void **state)
{
    (void)state;
    struct data_records r = {0};
    add_device_records(&r);
    /* reverse, then swap neighbours: every group is split up */
    for (size_t i = 0; i < r.n / 2; i++) {
        struct data_record t = r.v[i];
        r.v[i] = r.v[r.n - 1 - i];
        r.v[r.n - 1 - i] = t;
    }
    for (size_t i = 0; i + 1 < r.n; i += 2) {
        struct data_record t = r.v[i];
        r.v[i] = r.v[i + 1];
        r.v[i + 1] = t;
    }
    encode_expect(&r, "/3/0", tlv_spec_device, sizeof(tlv_spec_device));
    data_records_clear(&r);
}

static void test_encoder_types_values_by_the_model(void **state)
{
    (void)state;
    struct data_records r = {0};
    /* Unsigned 200 for the Integer resource Battery Level: signed, so 2 bytes, not 0xC8 */
    struct data_value u = {.type = GW_TYPE_UNSIGNED, .v.u = 200};
    struct data_path p = path_of("/3/0/9");
    assert_int_equal(data_records_add(&r, &p, &u, false, 0), GW_OK);
    static const uint8_t want[] = {0xC2, 0x09, 0x00, 0xC8};
    encode_expect(&r, "/3/0/9", want, sizeof(want));
    data_records_reset(&r);
    add_str(&r, "/3/0/9", "high");
    encode_rejected(&r, "/3/0/9", "/3/0/9:");
    data_records_clear(&r);
}

static void test_encoder_rejects_records_tlv_cannot_express(void **state)
{
    (void)state;
    struct data_records r = {0};
    add_int(&r, "/3/0/9", GW_TYPE_INTEGER, 1);
    encode_rejected(&r, "/3/1", "lies outside the request path /3/1");
    encode_rejected(&r, "/", "base path");
    add_int(&r, "/3/0/9", GW_TYPE_INTEGER, 2);
    encode_rejected(&r, "/3/0", "two values for /3/0/9");
    data_records_reset(&r);
    add_int(&r, "/3/0/6", GW_TYPE_INTEGER, 1);
    add_int(&r, "/3/0/6/0", GW_TYPE_INTEGER, 1);
    encode_rejected(&r, "/3/0", "both a single value and instances");
    data_records_reset(&r);
    add_int(&r, "/3/0", GW_TYPE_INTEGER, 1);
    encode_rejected(&r, "/3", "holds no value");
    data_records_reset(&r);
    struct data_value none = {.type = GW_TYPE_NONE};
    struct data_path inst = path_of("/3/0");
    assert_int_equal(data_records_add(&r, &inst, &none, false, 0), GW_OK);
    add_int(&r, "/3/0/9", GW_TYPE_INTEGER, 1);
    encode_rejected(&r, "/3", "also has resources");
    data_records_clear(&r);
}

static void test_encoder_reports_a_full_buffer(void **state)
{
    (void)state;
    struct data_records r = {0};
    add_device_records(&r);
    struct codec_ctx ctx = ctx_of("/3/0");
    uint8_t buf[sizeof(tlv_spec_device)];
    size_t n = 7;
    char err[128];
    assert_int_equal(tlv_encode(&r, &ctx, buf, sizeof(buf) - 1, &n, err, sizeof(err)),
                     -GW_ERR_FULL);
    assert_int_equal(n, 0);
    assert_int_equal(tlv_encode(&r, &ctx, buf, sizeof(buf), &n, err, sizeof(err)), GW_OK);
    assert_int_equal(n, sizeof(tlv_spec_device));
    data_records_clear(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_device_instance_decodes_every_resource_typed),
        cmocka_unit_test(test_spec_device_instance_encodes_to_the_spec_bytes),
        cmocka_unit_test(test_spec_device_object_read_wraps_the_instance),
        cmocka_unit_test(test_spec_access_control_object_read_round_trips),
        cmocka_unit_test(test_spec_server_object_read_round_trips),
        cmocka_unit_test(test_spec_object_link_examples_round_trip),
        cmocka_unit_test(test_multiple_resource_read_at_its_own_path),
        cmocka_unit_test(test_single_resource_read_and_wrapped_instance),
        cmocka_unit_test(test_resources_at_top_of_single_instance_object_are_instance_0),
        cmocka_unit_test(test_empty_object_instance_is_one_record_without_value),
        cmocka_unit_test(test_without_model_values_stay_opaque_bytes),
        cmocka_unit_test(test_every_type_round_trips),
        cmocka_unit_test(test_integers_take_the_smallest_signed_width),
        cmocka_unit_test(test_unsigned_integers_take_the_smallest_width),
        cmocka_unit_test(test_floats_take_4_bytes_only_when_exact),
        cmocka_unit_test(test_every_length_and_identifier_form),
        cmocka_unit_test(test_truncated_and_overlong_tlv_is_rejected_with_offset),
        cmocka_unit_test(test_misnested_tlv_is_rejected),
        cmocka_unit_test(test_clashing_records_are_rejected),
        cmocka_unit_test(test_deeply_nested_tlv_is_rejected),
        cmocka_unit_test(test_values_of_the_wrong_size_are_rejected),
        cmocka_unit_test(test_encoder_groups_records_given_in_any_order),
        cmocka_unit_test(test_encoder_types_values_by_the_model),
        cmocka_unit_test(test_encoder_rejects_records_tlv_cannot_express),
        cmocka_unit_test(test_encoder_reports_a_full_buffer),
    };
    return cmocka_run_group_tests(tests, setup_model, codec_test_teardown);
}

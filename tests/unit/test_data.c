/* test_data.c - paths, record lists and value conversion of gateway/lwm2m/data.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "data.h"
#include "gw.h"

static int parse(const char *text, struct data_path *p)
{
    return data_path_parse(text, strlen(text), p);
}

static void test_paths_of_every_depth_parse_and_format_back(void **state)
{
    (void)state;
    static const char *const ok[] = {"/", "/3", "/3/0", "/3/0/1", "/3/0/7/1", "/65535/65535"};
    char buf[32];
    struct data_path p;
    for (size_t i = 0; i < GW_ARRAY_LEN(ok); i++) {
        assert_int_equal(parse(ok[i], &p), GW_OK);
        assert_int_equal(data_path_format(&p, buf, sizeof(buf)), GW_OK);
        assert_string_equal(buf, ok[i]);
    }
    assert_int_equal(parse("/3/0/7/1", &p), GW_OK);
    assert_int_equal(p.depth, 4);
    assert_int_equal(p.id[2], 7);
}

static void test_malformed_paths_are_invalid(void **state)
{
    (void)state;
    static const char *const bad[] = {"",           "3/0", "/3/",    "//3", "/3//0", "/65536",
                                      "/3/0/1/2/3", "/a",  "/3/0x1", "/-1", "/3 "};
    struct data_path p;
    for (size_t i = 0; i < GW_ARRAY_LEN(bad); i++)
        assert_int_equal(parse(bad[i], &p), -GW_ERR_INVALID);
}

static void test_path_contains_itself_and_what_lies_below(void **state)
{
    (void)state;
    struct data_path obj = data_path_make(1, 3), res = data_path_make(3, 3, 0, 1),
                     other = data_path_make(3, 4, 0, 1), root = data_path_make(0);
    assert_true(data_path_contains(&obj, &res));
    assert_true(data_path_contains(&res, &res));
    assert_true(data_path_contains(&root, &other));
    assert_false(data_path_contains(&res, &obj));
    assert_false(data_path_contains(&obj, &other));
}

static void test_path_that_does_not_fit_is_full(void **state)
{
    (void)state;
    struct data_path p = data_path_make(4, 65535, 65535, 65535, 65535);
    char buf[8];
    assert_int_equal(data_path_format(&p, buf, sizeof(buf)), -GW_ERR_FULL);
}

static void test_record_bytes_stay_valid_as_the_arena_grows(void **state)
{
    (void)state;
    struct data_records r = {0};
    char text[64];
    for (int i = 0; i < 5000; i++) {
        snprintf(text, sizeof(text), "value-%d", i);
        struct data_path p = data_path_make(3, 3303, i % 100, 5700);
        struct data_value v = {.type = GW_TYPE_STRING};
        v.v.bytes.p = (const uint8_t *)text;
        v.v.bytes.len = strlen(text);
        assert_int_equal(data_records_add(&r, &p, &v, i % 2 == 0, (double)i), GW_OK);
    }
    /* one big value, larger than a block */
    static uint8_t big[10000];
    memset(big, 0xab, sizeof(big));
    struct data_path bp = data_path_make(3, 5, 0, 0);
    struct data_value bv = {.type = GW_TYPE_OPAQUE};
    bv.v.bytes.p = big;
    bv.v.bytes.len = sizeof(big);
    assert_int_equal(data_records_add(&r, &bp, &bv, false, 0), GW_OK);

    assert_int_equal(r.n, 5001);
    for (int i = 0; i < 5000; i++) {
        snprintf(text, sizeof(text), "value-%d", i);
        assert_int_equal(r.v[i].value.v.bytes.len, strlen(text));
        assert_memory_equal(r.v[i].value.v.bytes.p, text, strlen(text));
        assert_int_equal(r.v[i].has_time, i % 2 == 0);
    }
    assert_memory_equal(r.v[5000].value.v.bytes.p, big, sizeof(big));
    assert_ptr_not_equal(r.v[5000].value.v.bytes.p, big);

    data_records_reset(&r);
    assert_int_equal(r.n, 0);
    struct data_value iv = {.type = GW_TYPE_INTEGER, .v.i = -5};
    assert_int_equal(data_records_add(&r, &bp, &iv, false, 0), GW_OK);
    assert_int_equal(r.v[0].value.v.i, -5);
    data_records_clear(&r);
    assert_null(r.v);
    data_records_clear(&r); /* harmless twice */
}

static void test_record_list_is_bounded(void **state)
{
    (void)state;
    struct data_records r = {0};
    struct data_path p = data_path_make(3, 3, 0, 9);
    struct data_value v = {.type = GW_TYPE_INTEGER, .v.i = 1};
    for (int i = 0; i < GW_RECORDS_MAX; i++)
        assert_int_equal(data_records_add(&r, &p, &v, false, 0), GW_OK);
    assert_int_equal(data_records_add(&r, &p, &v, false, 0), -GW_ERR_FULL);
    data_records_clear(&r);
}

static void test_relative_senml_times_resolve_against_now(void **state)
{
    (void)state;
    assert_int_equal(data_time_ms(-5, 1000000), 995000);
    assert_int_equal(data_time_ms(0, 1000000), 1000000);
    assert_true(data_time_ms(1732470000.25, 1) == 1732470000250LL);
}

static struct data_value text_value(const char *s)
{
    struct data_value v = {.type = GW_TYPE_STRING};
    v.v.bytes.p = (const uint8_t *)s;
    v.v.bytes.len = strlen(s);
    return v;
}

static void test_text_converts_to_every_scalar_type(void **state)
{
    (void)state;
    struct data_value in, out;
    char err[128];
    in = text_value("-42");
    assert_int_equal(data_value_convert(&in, GW_TYPE_INTEGER, &out, err, sizeof(err)), GW_OK);
    assert_int_equal(out.v.i, -42);
    in = text_value("18446744073709551615");
    assert_int_equal(data_value_convert(&in, GW_TYPE_UNSIGNED, &out, err, sizeof(err)), GW_OK);
    assert_true(out.v.u == UINT64_MAX);
    in = text_value("21.5");
    assert_int_equal(data_value_convert(&in, GW_TYPE_FLOAT, &out, err, sizeof(err)), GW_OK);
    assert_true(out.v.f == 21.5);
    in = text_value("1");
    assert_int_equal(data_value_convert(&in, GW_TYPE_BOOLEAN, &out, err, sizeof(err)), GW_OK);
    assert_true(out.v.b);
    in = text_value("3:0");
    assert_int_equal(data_value_convert(&in, GW_TYPE_OBJLNK, &out, err, sizeof(err)), GW_OK);
    assert_int_equal(out.v.lnk.oid, 3);
    assert_int_equal(out.v.lnk.iid, 0);
}

static void test_bad_text_is_refused_with_a_reason(void **state)
{
    (void)state;
    struct data_value in, out;
    char err[128];
    in = text_value("12x");
    assert_int_equal(data_value_convert(&in, GW_TYPE_INTEGER, &out, err, sizeof(err)),
                     -GW_ERR_INVALID);
    assert_non_null(strstr(err, "Integer"));
    in = text_value("99999999999999999999");
    assert_int_equal(data_value_convert(&in, GW_TYPE_INTEGER, &out, err, sizeof(err)),
                     -GW_ERR_INVALID);
    assert_non_null(strstr(err, "range"));
    in = text_value("-1");
    assert_int_equal(data_value_convert(&in, GW_TYPE_UNSIGNED, &out, err, sizeof(err)),
                     -GW_ERR_INVALID);
    in = text_value("yes");
    assert_int_equal(data_value_convert(&in, GW_TYPE_BOOLEAN, &out, err, sizeof(err)),
                     -GW_ERR_INVALID);
    in = text_value("inf");
    assert_int_equal(data_value_convert(&in, GW_TYPE_FLOAT, &out, err, sizeof(err)),
                     -GW_ERR_INVALID);
    in = text_value("3:70000");
    assert_int_equal(data_value_convert(&in, GW_TYPE_OBJLNK, &out, err, sizeof(err)),
                     -GW_ERR_INVALID);
}

static void test_numbers_convert_only_when_exact(void **state)
{
    (void)state;
    struct data_value in = {.type = GW_TYPE_FLOAT, .v.f = 3.0}, out;
    char err[128];
    assert_int_equal(data_value_convert(&in, GW_TYPE_INTEGER, &out, err, sizeof(err)), GW_OK);
    assert_int_equal(out.v.i, 3);
    in.v.f = 3.5;
    assert_int_equal(data_value_convert(&in, GW_TYPE_INTEGER, &out, err, sizeof(err)),
                     -GW_ERR_INVALID);
    assert_non_null(strstr(err, "whole"));
    struct data_value neg = {.type = GW_TYPE_INTEGER, .v.i = -1};
    assert_int_equal(data_value_convert(&neg, GW_TYPE_UNSIGNED, &out, err, sizeof(err)),
                     -GW_ERR_INVALID);
    struct data_value big = {.type = GW_TYPE_UNSIGNED, .v.u = UINT64_MAX};
    assert_int_equal(data_value_convert(&big, GW_TYPE_INTEGER, &out, err, sizeof(err)),
                     -GW_ERR_INVALID);
    struct data_value b = {.type = GW_TYPE_BOOLEAN, .v.b = true};
    assert_int_equal(data_value_convert(&b, GW_TYPE_OBJLNK, &out, err, sizeof(err)),
                     -GW_ERR_INVALID);
}

static void test_type_names_round_trip(void **state)
{
    (void)state;
    enum data_type t;
    for (int i = GW_TYPE_STRING; i <= GW_TYPE_CORELNK; i++) {
        assert_int_equal(data_type_parse(data_type_name((enum data_type)i), &t), GW_OK);
        assert_int_equal(t, i);
    }
    assert_int_equal(data_type_parse("unsigned integer", &t), GW_OK);
    assert_int_equal(t, GW_TYPE_UNSIGNED);
    assert_int_equal(data_type_parse("", &t), GW_OK);
    assert_int_equal(t, GW_TYPE_NONE);
    assert_int_equal(data_type_parse("Decimal", &t), -GW_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths_of_every_depth_parse_and_format_back),
        cmocka_unit_test(test_malformed_paths_are_invalid),
        cmocka_unit_test(test_path_contains_itself_and_what_lies_below),
        cmocka_unit_test(test_path_that_does_not_fit_is_full),
        cmocka_unit_test(test_record_bytes_stay_valid_as_the_arena_grows),
        cmocka_unit_test(test_record_list_is_bounded),
        cmocka_unit_test(test_relative_senml_times_resolve_against_now),
        cmocka_unit_test(test_text_converts_to_every_scalar_type),
        cmocka_unit_test(test_bad_text_is_refused_with_a_reason),
        cmocka_unit_test(test_numbers_convert_only_when_exact),
        cmocka_unit_test(test_type_names_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

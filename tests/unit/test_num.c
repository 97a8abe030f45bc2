/* test_num.c - gw_format_u64 and gw_format_double: numbers as text. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gw.h"

static void formats(double d, bool keep_real, const char *want)
{
    char out[GW_DOUBLE_MAX];
    size_t n = gw_format_double(out, d, keep_real);
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
}

static void test_integral_values_are_their_digits(void **state)
{
    (void)state;
    formats(0.0, false, "0");
    formats(-0.0, false, "-0");
    formats(21.0, false, "21");
    formats(-42.0, false, "-42");
    formats(1e15, false, "1000000000000000");               /* %.15g would say 1e+15 */
    formats(1764250000123456.0, false, "1764250000123456"); /* a time stamp in us */
    formats(9007199254740991.0, false, "9007199254740991"); /* 2^53 - 1 */
}

static void test_keep_real_adds_a_fraction_only_where_none_shows(void **state)
{
    (void)state;
    formats(21.0, true, "21.0");
    formats(-0.0, true, "-0.0");
    formats(1764250000123456.0, true, "1764250000123456.0");
    formats(21.5, true, "21.5");
    formats(1e300, true, "1e+300");
    formats(9007199254740994.0, true, "9007199254740994.0"); /* past 2^53: through %g */
}

static void test_other_values_take_the_shortest_form_that_reads_back(void **state)
{
    (void)state;
    formats(21.5, false, "21.5");
    formats(1.0 / 3.0, false, "0.3333333333333333");
    formats(0.1 + 0.2, false, "0.30000000000000004");
    formats(1e-7, false, "1e-07");
    formats(1e20, false, "1e+20");
    formats(-2.5e-308, false, "-2.5e-308");
    formats(4.9406564584124654e-324, false, "4.94065645841247e-324");
}

static void test_u64_digits_fill_the_room_at_most(void **state)
{
    (void)state;
    char out[GW_U64_MAX + 1];
    size_t n = gw_format_u64(out, 0);
    assert_int_equal(n, 1);
    assert_memory_equal(out, "0", 1);
    n = gw_format_u64(out, UINT64_MAX);
    assert_int_equal(n, GW_U64_MAX);
    assert_memory_equal(out, "18446744073709551615", GW_U64_MAX);
}

/* Any finite double, from its bits: what is written reads back to it, fits, and shows it is a
 * real. */
static void test_every_finite_double_reads_back(void **state)
{
    (void)state;
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
        double d;
        memcpy(&d, &x, sizeof(d));
        if (!isfinite(d))
            continue;
        char out[GW_DOUBLE_MAX];
        size_t n = gw_format_double(out, d, true);
        assert_true(n < GW_DOUBLE_MAX);
        assert_true(strtod(out, NULL) == d);
        assert_non_null(strpbrk(out, ".e"));
    }
}

/* Integers of every size below 2^53, either sign: the digits printf's %.0f writes. */
static void test_integers_are_the_digits_printf_writes(void **state)
{
    (void)state;
    uint64_t x = 0x2545f4914f6cdd1du;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double d = (double)(x >> (11 + x % 53)); /* 0 to 53 bits */
        if (x & 1)
            d = -d;
        char out[GW_DOUBLE_MAX], want[GW_DOUBLE_MAX];
        snprintf(want, sizeof(want), "%.0f", d);
        assert_int_equal(gw_format_double(out, d, false), strlen(want));
        assert_string_equal(out, want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integral_values_are_their_digits),
        cmocka_unit_test(test_keep_real_adds_a_fraction_only_where_none_shows),
        cmocka_unit_test(test_other_values_take_the_shortest_form_that_reads_back),
        cmocka_unit_test(test_u64_digits_fill_the_room_at_most),
        cmocka_unit_test(test_every_finite_double_reads_back),
        cmocka_unit_test(test_integers_are_the_digits_printf_writes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_hex.c - gw_hex_decode: the one hex decoder of keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gw.h"

static void test_hex_decodes_both_cases(void **state)
{
    (void)state;
    uint8_t out[4];
    assert_int_equal(gw_hex_decode("00aFff10", 8, out, sizeof(out)), 4);
    assert_memory_equal(out, "\x00\xaf\xff\x10", 4);
}

static void test_hex_odd_empty_or_non_hex_is_invalid(void **state)
{
    (void)state;
    uint8_t out[4];
    assert_int_equal(gw_hex_decode("abc", 3, out, sizeof(out)), -GW_ERR_INVALID);
    assert_int_equal(gw_hex_decode("", 0, out, sizeof(out)), -GW_ERR_INVALID);
    assert_int_equal(gw_hex_decode("0g", 2, out, sizeof(out)), -GW_ERR_INVALID);
}

static void test_hex_that_does_not_fit_is_full(void **state)
{
    (void)state;
    uint8_t out[1];
    assert_int_equal(gw_hex_decode("0011", 4, out, sizeof(out)), -GW_ERR_FULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex_decodes_both_cases),
        cmocka_unit_test(test_hex_odd_empty_or_non_hex_is_invalid),
        cmocka_unit_test(test_hex_that_does_not_fit_is_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

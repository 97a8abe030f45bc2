/* test_utf8.c - the one UTF-8 validator (gateway/base/utf8.c): what RFC 3629 accepts, what it
 * refuses (overlongs, surrogates, past U+10FFFF, truncation, stray continuation bytes), and the
 * code point gw_utf8_next hands back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gw.h"

#define B(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

/* The length gw_utf8_next gives for `n` bytes, checking that a refusal leaves *cp alone. */
static size_t next_len(const uint8_t *p, size_t n, uint32_t *cp)
{
    *cp = 0xdeadbeef;
    size_t l = gw_utf8_next(p, n, cp);
    if (l == 0)
        assert_int_equal(*cp, 0xdeadbeef);
    return l;
}

static void test_ascii_is_one_byte_and_its_own_code_point(void **state)
{
    (void)state;
    uint32_t cp;
    assert_int_equal(next_len(B('A'), &cp), 1);
    assert_int_equal(cp, 'A');
    assert_int_equal(next_len(B(0x00), &cp), 1);
    assert_int_equal(cp, 0);
    assert_int_equal(next_len(B(0x7f, 0x80), &cp), 1); /* only the first sequence counts */
    assert_int_equal(cp, 0x7f);
    assert_true(gw_utf8_valid((const uint8_t *)"meter-17", 8));
}

static void test_multibyte_sequences_give_their_length_and_code_point(void **state)
{
    (void)state;
    uint32_t cp;
    assert_int_equal(next_len(B(0xc2, 0x80), &cp), 2); /* smallest two-byte */
    assert_int_equal(cp, 0x80);
    assert_int_equal(next_len(B(0xc3, 0xa9), &cp), 2); /* é */
    assert_int_equal(cp, 0xe9);
    assert_int_equal(next_len(B(0xdf, 0xbf), &cp), 2);
    assert_int_equal(cp, 0x7ff);
    assert_int_equal(next_len(B(0xe0, 0xa0, 0x80), &cp), 3); /* smallest three-byte */
    assert_int_equal(cp, 0x800);
    assert_int_equal(next_len(B(0xe2, 0x82, 0xac), &cp), 3); /* € */
    assert_int_equal(cp, 0x20ac);
    assert_int_equal(next_len(B(0xed, 0x9f, 0xbf), &cp), 3); /* just below the surrogates */
    assert_int_equal(cp, 0xd7ff);
    assert_int_equal(next_len(B(0xee, 0x80, 0x80), &cp), 3); /* just above them */
    assert_int_equal(cp, 0xe000);
    assert_int_equal(next_len(B(0xef, 0xbf, 0xbd), &cp), 3); /* U+FFFD */
    assert_int_equal(cp, 0xfffd);
    assert_int_equal(next_len(B(0xf0, 0x90, 0x80, 0x80), &cp), 4); /* smallest four-byte */
    assert_int_equal(cp, 0x10000);
    assert_int_equal(next_len(B(0xf0, 0x9f, 0x98, 0x80), &cp), 4); /* 😀 */
    assert_int_equal(cp, 0x1f600);
    assert_int_equal(next_len(B(0xf4, 0x8f, 0xbf, 0xbf), &cp), 4); /* U+10FFFF */
    assert_int_equal(cp, 0x10ffff);
    assert_true(gw_utf8_valid(B('a', 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80)));
}

static void test_the_code_point_may_be_left_out(void **state)
{
    (void)state;
    assert_int_equal(gw_utf8_next(B(0xe2, 0x82, 0xac), NULL), 3);
    assert_int_equal(gw_utf8_next(B('x'), NULL), 1);
    assert_int_equal(gw_utf8_next(B(0xc0, 0x80), NULL), 0);
}

static void test_overlong_forms_are_refused(void **state)
{
    (void)state;
    uint32_t cp;
    assert_int_equal(next_len(B(0xc0, 0x80), &cp), 0); /* U+0000 in two bytes */
    assert_int_equal(next_len(B(0xc1, 0xbf), &cp), 0);
    assert_int_equal(next_len(B(0xe0, 0x80, 0x80), &cp), 0);
    assert_int_equal(next_len(B(0xe0, 0x9f, 0xbf), &cp), 0); /* U+07FF in three bytes */
    assert_int_equal(next_len(B(0xf0, 0x80, 0x80, 0x80), &cp), 0);
    assert_int_equal(next_len(B(0xf0, 0x8f, 0xbf, 0xbf), &cp), 0); /* U+FFFF in four bytes */
    assert_false(gw_utf8_valid(B('a', 0xc0, 0xaf)));
}

static void test_surrogates_are_refused(void **state)
{
    (void)state;
    uint32_t cp;
    assert_int_equal(next_len(B(0xed, 0xa0, 0x80), &cp), 0); /* U+D800 */
    assert_int_equal(next_len(B(0xed, 0xbf, 0xbf), &cp), 0); /* U+DFFF */
    /* a CESU-8 pair for U+1F600 is two surrogates, not one code point */
    assert_false(gw_utf8_valid(B(0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80)));
}

static void test_code_points_past_10ffff_are_refused(void **state)
{
    (void)state;
    uint32_t cp;
    assert_int_equal(next_len(B(0xf4, 0x90, 0x80, 0x80), &cp), 0); /* U+110000 */
    assert_int_equal(next_len(B(0xf5, 0x80, 0x80, 0x80), &cp), 0);
    assert_int_equal(next_len(B(0xf7, 0xbf, 0xbf, 0xbf), &cp), 0);
    assert_int_equal(next_len(B(0xf8, 0x88, 0x80, 0x80, 0x80), &cp), 0); /* old 5-byte form */
    assert_int_equal(next_len(B(0xfe), &cp), 0);
    assert_int_equal(next_len(B(0xff), &cp), 0);
}

static void test_truncated_sequences_are_refused(void **state)
{
    (void)state;
    uint32_t cp;
    const uint8_t four[] = {0xf0, 0x9f, 0x98, 0x80};
    for (size_t n = 0; n < sizeof(four); n++)
        assert_int_equal(next_len(four, n, &cp), 0);
    const uint8_t three[] = {0xe2, 0x82, 0xac};
    for (size_t n = 0; n < sizeof(three); n++)
        assert_int_equal(next_len(three, n, &cp), 0);
    assert_int_equal(next_len(B(0xc3), &cp), 0);
    /* a lead byte followed by something other than a continuation byte */
    assert_int_equal(next_len(B(0xc3, 'a'), &cp), 0);
    assert_int_equal(next_len(B(0xe2, 0x82, 'a'), &cp), 0);
    assert_int_equal(next_len(B(0xf0, 0x9f, 0x98, 0xc3), &cp), 0);
    assert_false(gw_utf8_valid(B('a', 'b', 0xe2, 0x82)));
}

static void test_stray_continuation_bytes_are_refused(void **state)
{
    (void)state;
    uint32_t cp;
    assert_int_equal(next_len(B(0x80), &cp), 0);
    assert_int_equal(next_len(B(0xbf), &cp), 0);
    assert_int_equal(next_len(B(0x80, 0x80, 0x80), &cp), 0);
    assert_false(gw_utf8_valid(B(0xc3, 0xa9, 0xa9))); /* one continuation too many */
}

static void test_valid_checks_every_sequence_and_accepts_empty_input(void **state)
{
    (void)state;
    assert_true(gw_utf8_valid(NULL, 0));
    assert_true(gw_utf8_valid(B(0xc3, 0xa9)));
    assert_false(gw_utf8_valid(B(0xc3, 0xa9, 'x', 0xff)));
    assert_false(gw_utf8_valid(B(0xff, 0xc3, 0xa9)));
}

/* Every one to four byte input is judged the same as decoding it by the RFC 3629 table. */
static void test_matches_the_rfc_3629_table_on_every_short_input(void **state)
{
    (void)state;
    /* Second bytes allowed after each lead (RFC 3629 section 4); later bytes are 80..BF. */
    uint8_t b[4];
    for (unsigned lead = 0; lead < 256; lead++) {
        size_t want_len = lead < 0x80                    ? 1
                          : lead >= 0xc2 && lead <= 0xdf ? 2
                          : lead >= 0xe0 && lead <= 0xef ? 3
                          : lead >= 0xf0 && lead <= 0xf4 ? 4
                                                         : 0;
        uint8_t lo = 0x80, hi = 0xbf;
        if (lead == 0xe0)
            lo = 0xa0;
        else if (lead == 0xed)
            hi = 0x9f;
        else if (lead == 0xf0)
            lo = 0x90;
        else if (lead == 0xf4)
            hi = 0x8f;
        for (unsigned second = 0; second < 256; second++) {
            b[0] = (uint8_t)lead, b[1] = (uint8_t)second, b[2] = 0x80, b[3] = 0x80;
            size_t want = want_len;
            if (want > 1 && (second < lo || second > hi))
                want = 0;
            uint32_t cp = 0;
            size_t got = gw_utf8_next(b, sizeof(b), &cp);
            if (got != want)
                fail_msg("%02x %02x: length %zu, want %zu", lead, second, got, want);
            if (got == 1)
                assert_int_equal(cp, lead);
            else if (got == 2)
                assert_int_equal(cp, (lead & 0x1fu) << 6 | (second & 0x3fu));
            else if (got == 3)
                assert_int_equal(cp, (lead & 0x0fu) << 12 | (second & 0x3fu) << 6);
            else if (got == 4)
                assert_int_equal(cp, (lead & 0x07u) << 18 | (second & 0x3fu) << 12);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ascii_is_one_byte_and_its_own_code_point),
        cmocka_unit_test(test_multibyte_sequences_give_their_length_and_code_point),
        cmocka_unit_test(test_the_code_point_may_be_left_out),
        cmocka_unit_test(test_overlong_forms_are_refused),
        cmocka_unit_test(test_surrogates_are_refused),
        cmocka_unit_test(test_code_points_past_10ffff_are_refused),
        cmocka_unit_test(test_truncated_sequences_are_refused),
        cmocka_unit_test(test_stray_continuation_bytes_are_refused),
        cmocka_unit_test(test_valid_checks_every_sequence_and_accepts_empty_input),
        cmocka_unit_test(test_matches_the_rfc_3629_table_on_every_short_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

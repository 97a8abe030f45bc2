/* cbor_cases.h - shared by test_senml_cbor.c and test_rawcbor.c only: a hex reader, an exact
 * double comparison, rejections of the decoder under test, and the CBOR encodings every integer
 * and float boundary must get (the shortest form; for floats the narrowest of half, single and
 * double that is exact). The expected bytes were computed independently of libcbor, with
 * Python's struct module. The including test names its decoder first:
 *
 *     #define CODEC_TEST_DECODE rawcbor_decode
 *     #include "cbor_cases.h"
 */
#ifndef CBOR_CASES_H
#define CBOR_CASES_H

#include "codec_testutil.h"

#ifndef CODEC_TEST_DECODE
#error "define CODEC_TEST_DECODE before including cbor_cases.h"
#endif

#define assert_double_eq(a, b)                                                                     \
    do {                                                                                           \
        double a_ = (a), b_ = (b);                                                                 \
        if (!(a_ == b_))                                                                           \
            fail_msg("%.17g != %.17g", a_, b_);                                                    \
    } while (0)

/* Turns "90 a3 21" (spaces optional) into bytes. */
static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    while (*s) {
        if (*s == ' ') {
            s++;
            continue;
        }
        unsigned v;
        assert_int_equal(sscanf(s, "%2x", &v), 1);
        assert_true(n < cap);
        out[n++] = (uint8_t)v;
        s += 2;
    }
    return n;
}

/* Asserts that decoding `len` bytes at `base` (typed by the model) fails as invalid, with
 * `keyword` in the reason and nothing appended. */
static void expect_reject(const uint8_t *buf, size_t len, const char *base, const char *keyword)
{
    struct codec_ctx c = ctx_at(base, true);
    struct data_records r = {0};
    char err[256] = "";
    int rc = CODEC_TEST_DECODE(buf, len, &c, &r, err, sizeof(err));
    if (rc != -GW_ERR_INVALID)
        fail_msg("expected rejection for '%s', got %d (%s)", keyword, rc, err);
    if (!strstr(err, keyword))
        fail_msg("reason '%s' does not say '%s'", err, keyword);
    assert_int_equal(r.n, 0);
    data_records_clear(&r);
}

static void expect_reject_hex(const char *hex, const char *base, const char *keyword)
{
    uint8_t buf[512];
    size_t len = unhex(hex, buf, sizeof(buf));
    expect_reject(buf, len, base, keyword);
}

static const struct {
    int64_t v;
    const char *hex;
} int_cases[] = {
    /* clang-format off */
    {0, "00"}, {23, "17"}, {24, "1818"}, {255, "18ff"}, {256, "190100"}, {65535, "19ffff"},
    {65536, "1a00010000"}, {4294967295, "1affffffff"}, {4294967296, "1b0000000100000000"},
    {INT64_MAX, "1b7fffffffffffffff"}, {-1, "20"}, {-24, "37"}, {-25, "3818"}, {-256, "38ff"},
    {-257, "390100"}, {-65537, "3a00010000"}, {-4294967296, "3affffffff"},
    {-4294967297, "3b0000000100000000"}, {INT64_MIN, "3b7fffffffffffffff"},
    /* clang-format on */
};

static const struct {
    double f;
    const char *hex;
} float_cases[] = {
    /* clang-format off */
    {0.0, "f90000"}, {-0.0, "f98000"}, {1.0, "f93c00"}, {1.5, "f93e00"}, {-2.5, "f9c100"},
    {21.5, "f94d60"},
    {65504.0, "f97bff"},                    /* largest half */
    {5.960464477539063e-08, "f90001"},      /* smallest half subnormal, 2^-24 */
    {1.7881393432617188e-07, "f90003"},     /* 3 * 2^-24 */
    {6.103515625e-05, "f90400"},            /* smallest normal half, 2^-14 */
    {1.0009765625, "f93c01"},               /* 1 + 2^-10 */
    {65505.0, "fa477fe100"},                /* not a half: single */
    {65536.0, "fa47800000"},                /* past the half range */
    {1.00048828125, "fa3f801000"},          /* 1 + 2^-11 */
    {2.9802322387695312e-08, "fa33000000"}, /* 2^-25, below the half range */
    {100000.0, "fa47c35000"},
    {3.4028234663852886e+38, "fa7f7fffff"}, /* largest single */
    {1.401298464324817e-45, "fa00000001"},  /* smallest single subnormal */
    {0.1, "fb3fb999999999999a"}, {1e-08, "fb3e45798ee2308c3a"}, {1e+300, "fb7e37e43c8800759c"},
    {5e-324, "fb0000000000000001"},         /* smallest double subnormal */
    /* clang-format on */
};

#endif

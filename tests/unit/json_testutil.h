/* json_testutil.h - shared by test_senml_json.c and test_oma_json.c: decoding a JSON text that
 * must be accepted or refused, and encoding records into an expected text. The including test
 * names its codec first:
 *
 *     #define CODEC_TEST_DECODE senml_json_decode
 *     #define CODEC_TEST_ENCODE senml_json_encode
 *     #include "json_testutil.h"
 */
#ifndef JSON_TESTUTIL_H
#define JSON_TESTUTIL_H

#include "codec_testutil.h"

#if !defined(CODEC_TEST_DECODE) || !defined(CODEC_TEST_ENCODE)
#error "define CODEC_TEST_DECODE and CODEC_TEST_ENCODE before including json_testutil.h"
#endif

static inline int decode_at(const char *json, const char *base, bool typed, struct data_records *r,
                            char *err, size_t errlen)
{
    struct codec_ctx c = ctx_at(base, typed);
    return CODEC_TEST_DECODE((const uint8_t *)json, strlen(json), &c, r, err, errlen);
}

/* Decodes with the model; fails the test with the decoder's reason when it refuses. */
static inline void decode_ok(const char *json, const char *base, struct data_records *r)
{
    char err[256] = "";
    int rc = decode_at(json, base, true, r, err, sizeof(err));
    if (rc != GW_OK)
        fail_msg("decode of %s: rc=%d err=%s", json, rc, err);
}

/* Asserts that `json` (decoded below `base`) is refused with `code` and a reason containing
 * `needle`, and that the record already in the list is all that is left in it. */
static inline void refused_at(const char *json, const char *base, int code, const char *needle)
{
    struct data_records r = {0};
    struct data_path p = data_path_make(3, 3, 0, 9);
    struct data_value v = {.type = GW_TYPE_INTEGER, .v.i = 1};
    char err[256] = "";
    assert_int_equal(data_records_add(&r, &p, &v, false, 0), GW_OK);
    int rc = decode_at(json, base, true, &r, err, sizeof(err));
    if (rc != code || !strstr(err, needle))
        fail_msg("%.200s: rc=%d err=\"%s\", expected %d and \"%s\"", json, rc, err, code, needle);
    assert_int_equal(r.n, 1);
    data_records_clear(&r);
}

static inline void refused(const char *json, const char *needle)
{
    refused_at(json, "/", -GW_ERR_INVALID, needle);
}

static inline int encode_at(const struct data_records *r, const char *base, uint8_t *buf,
                            size_t cap, size_t *n, char *err, size_t errlen)
{
    struct codec_ctx c = ctx_at(base, true);
    return CODEC_TEST_ENCODE(r, &c, buf, cap, n, err, errlen);
}

/* Encodes `r` relative to `base` into `buf`; fails the test with the reason when refused. */
static inline size_t encode_ok(const struct data_records *r, const char *base, uint8_t *buf,
                               size_t cap)
{
    size_t n = 0;
    char err[256] = "";
    int rc = encode_at(r, base, buf, cap, &n, err, sizeof(err));
    if (rc != GW_OK)
        fail_msg("encode: rc=%d err=%s", rc, err);
    return n;
}

static inline void encodes_to(const struct data_records *r, const char *base, const char *expected)
{
    uint8_t buf[2048];
    size_t n = encode_ok(r, base, buf, sizeof(buf));
    if (n != strlen(expected) || memcmp(buf, expected, n) != 0)
        fail_msg("encoded\n%.*s\nexpected\n%s", (int)n, (const char *)buf, expected);
}

#endif

/* test_rd.c - unit tests of the registration interface's pure part (rd.c): every rule of the
 * Register and Update query parameters, and the object links read from the payloads of the
 * LwM2M specification, their bounds and their errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "linkfmt.h"
#include "rd.h"

#define LT_MIN 60
#define LT_MAX 86400

/* Runs rd_parse_query on NUL-terminated options (a NULL ends the list). */
static int query_n(enum rd_kind kind, uint32_t lo, uint32_t hi, struct rd_params *p, char *err,
                   size_t errlen, const char *const *opts)
{
    struct rd_str v[16];
    size_t n = 0;
    for (; opts[n]; n++) {
        assert_true(n < GW_ARRAY_LEN(v));
        v[n].s = opts[n];
        v[n].len = strlen(opts[n]);
    }
    return rd_parse_query(v, n, kind, lo, hi, p, err, errlen);
}

#define QUERY(kind, p, err, ...)                                                                   \
    query_n(kind, LT_MIN, LT_MAX, p, err, sizeof(err), (const char *const[]){__VA_ARGS__, NULL})

/* Asserts that a Register with `ep=dev` and the one option `opt` fails with `rc` and a message
 * containing `needle`. */
static void assert_option_refused(const char *opt, int rc, const char *needle)
{
    struct rd_params p;
    char err[160] = "";
    int got = QUERY(RD_REGISTER, &p, err, "ep=dev", opt);
    if (got != rc || !strstr(err, needle))
        fail_msg("option \"%s\": rc=%d err=\"%s\", expected rc=%d and \"%s\"", opt, got, err, rc,
                 needle);
}

/* ---- Register ---- */

static void test_register_fills_defaults(void **state)
{
    (void)state;
    struct rd_params p;
    char err[128];
    assert_int_equal(QUERY(RD_REGISTER, &p, err, "ep=meter-17"), GW_OK);
    assert_true(p.has_ep);
    assert_string_equal(p.ep, "meter-17");
    assert_false(p.has_lifetime);
    assert_int_equal(p.lifetime_requested, RD_DEFAULT_LIFETIME);
    assert_int_equal(p.lifetime, RD_DEFAULT_LIFETIME);
    assert_string_equal(p.lwm2m, "1.0");
    assert_false(p.has_binding);
    assert_string_equal(p.binding, "U");
    assert_false(p.queue);
    assert_false(p.has_sms);
    assert_string_equal(p.sms, "");
}

static void test_register_takes_every_parameter(void **state)
{
    (void)state;
    struct rd_params p;
    char err[128];
    assert_int_equal(QUERY(RD_REGISTER, &p, err, "lwm2m=1.1", "lt=300", "b=US", "Q",
                           "sms=+15551234567", "ep=dev1"),
                     GW_OK);
    assert_string_equal(p.ep, "dev1");
    assert_true(p.has_lifetime);
    assert_int_equal(p.lifetime, 300);
    assert_int_equal(p.lifetime_requested, 300);
    assert_string_equal(p.lwm2m, "1.1");
    assert_true(p.has_binding);
    assert_string_equal(p.binding, "US");
    assert_true(p.queue);
    assert_true(p.has_sms);
    assert_string_equal(p.sms, "+15551234567");
}

static void test_register_without_ep_or_with_empty_ep_is_invalid(void **state)
{
    (void)state;
    struct rd_params p;
    char err[128];
    assert_int_equal(QUERY(RD_REGISTER, &p, err, "lt=300"), -GW_ERR_INVALID);
    assert_string_equal(err, "'ep' is required");
    assert_int_equal(rd_parse_query(NULL, 0, RD_REGISTER, LT_MIN, LT_MAX, &p, err, sizeof(err)),
                     -GW_ERR_INVALID);
    assert_int_equal(QUERY(RD_REGISTER, &p, err, "EP=dev", "endpoint=dev"), -GW_ERR_INVALID);
    assert_string_equal(err, "'ep' is required");
    assert_int_equal(QUERY(RD_REGISTER, &p, err, "ep="), -GW_ERR_INVALID);
    assert_string_equal(err, "'ep' is empty");
    assert_int_equal(QUERY(RD_REGISTER, &p, err, "ep"), -GW_ERR_INVALID);
    assert_string_equal(err, "'ep' is empty");
}

static void test_ep_length_is_bounded(void **state)
{
    (void)state;
    struct rd_params p;
    char opt[GW_EP_MAX + 8], err[128];
    memcpy(opt, "ep=", 3);
    memset(opt + 3, 'e', GW_EP_MAX);
    opt[3 + GW_EP_MAX] = '\0';
    assert_int_equal(QUERY(RD_REGISTER, &p, err, opt), GW_OK);
    assert_int_equal(strlen(p.ep), GW_EP_MAX);
    opt[3 + GW_EP_MAX] = 'e';
    opt[4 + GW_EP_MAX] = '\0';
    assert_int_equal(QUERY(RD_REGISTER, &p, err, opt), -GW_ERR_INVALID);
    assert_string_equal(err, "'ep' is longer than 128 bytes");
}

static void test_ep_with_topic_characters_is_invalid(void **state)
{
    (void)state;
    static const char *const bad[] = {"ep=a/b", "ep=a+b", "ep=#", "ep=/"};
    for (size_t i = 0; i < GW_ARRAY_LEN(bad); i++) {
        struct rd_params p;
        char err[128] = "";
        if (QUERY(RD_REGISTER, &p, err, bad[i]) != -GW_ERR_INVALID ||
            !strstr(err, "which MQTT topics reserve"))
            fail_msg("%s accepted (%s)", bad[i], err);
    }
}

static void test_ep_with_control_character_is_invalid(void **state)
{
    (void)state;
    static const char *const bad[] = {"ep=a\tb", "ep=a\nb", "ep=\x1f", "ep=a\x7f", "ep=a\xc2\x85"};
    struct rd_params p;
    char err[128];
    for (size_t i = 0; i < GW_ARRAY_LEN(bad); i++) {
        err[0] = '\0';
        if (QUERY(RD_REGISTER, &p, err, bad[i]) != -GW_ERR_INVALID ||
            strcmp(err, "'ep' contains a control character") != 0)
            fail_msg("case %zu accepted (%s)", i, err);
    }
    /* A NUL inside the option, which a C string could not show. */
    struct rd_str nul = {"ep=a\0b", 6};
    assert_int_equal(rd_parse_query(&nul, 1, RD_REGISTER, LT_MIN, LT_MAX, &p, err, sizeof(err)),
                     -GW_ERR_INVALID);
    assert_string_equal(err, "'ep' contains a control character");
}

static void test_ep_may_be_utf8(void **state)
{
    (void)state;
    struct rd_params p;
    char err[128];
    const char *ep = "ep=Z\xc3\xa4hler \xe2\x82\xac-\xf0\x9f\x98\x80 $x.y_z";
    assert_int_equal(QUERY(RD_REGISTER, &p, err, ep), GW_OK);
    assert_string_equal(p.ep, ep + 3);
}

static void test_ep_with_invalid_utf8_is_invalid(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "ep=\xff",             /* never valid */
        "ep=a\xc3",            /* truncated */
        "ep=\xc3(",            /* bad continuation */
        "ep=\xc0\xaf",         /* overlong '/' */
        "ep=\xe0\x80\xaf",     /* overlong '/' */
        "ep=\xed\xa0\x80",     /* surrogate */
        "ep=\xf4\x90\x80\x80", /* beyond U+10FFFF */
        "ep=\x80",             /* lone continuation */
    };
    struct rd_params p;
    char err[128];
    for (size_t i = 0; i < GW_ARRAY_LEN(bad); i++) {
        err[0] = '\0';
        if (QUERY(RD_REGISTER, &p, err, bad[i]) != -GW_ERR_INVALID ||
            strcmp(err, "'ep' is not valid UTF-8") != 0)
            fail_msg("case %zu accepted (%s)", i, err);
    }
}

static void test_option_is_read_only_up_to_its_length(void **state)
{
    (void)state;
    struct rd_params p;
    char err[128];
    struct rd_str opts[] = {{"ep=dev1XXXX", 7}, {"lt=3000", 6}};
    assert_int_equal(rd_parse_query(opts, 2, RD_REGISTER, LT_MIN, LT_MAX, &p, err, sizeof(err)),
                     GW_OK);
    assert_string_equal(p.ep, "dev1");
    assert_int_equal(p.lifetime, 300);
}

/* ---- lifetime ---- */

static void test_lifetime_is_clamped_to_bounds(void **state)
{
    (void)state;
    struct rd_params p;
    char err[128];
    assert_int_equal(QUERY(RD_REGISTER, &p, err, "ep=d", "lt=10"), GW_OK);
    assert_int_equal(p.lifetime, LT_MIN);
    assert_int_equal(p.lifetime_requested, 10);
    assert_int_equal(QUERY(RD_REGISTER, &p, err, "ep=d", "lt=86401"), GW_OK);
    assert_int_equal(p.lifetime, LT_MAX);
    assert_int_equal(p.lifetime_requested, 86401);
    assert_int_equal(QUERY(RD_REGISTER, &p, err, "ep=d", "lt=60"), GW_OK);
    assert_int_equal(p.lifetime, 60);
    assert_int_equal(QUERY(RD_REGISTER, &p, err, "ep=d", "lt=0086400"), GW_OK);
    assert_int_equal(p.lifetime, 86400);
}

static void test_default_and_largest_lifetime_are_clamped_too(void **state)
{
    (void)state;
    struct rd_params p;
    char err[128];
    const char *const opts[] = {"ep=d", NULL};
    assert_int_equal(query_n(RD_REGISTER, 30, 3600, &p, err, sizeof(err), opts), GW_OK);
    assert_int_equal(p.lifetime_requested, RD_DEFAULT_LIFETIME);
    assert_int_equal(p.lifetime, 3600);
    const char *const largest[] = {"ep=d", "lt=4294967295", NULL};
    assert_int_equal(query_n(RD_REGISTER, 1, UINT32_MAX, &p, err, sizeof(err), largest), GW_OK);
    assert_int_equal(p.lifetime, UINT32_MAX);
}

static void test_bad_lifetime_is_invalid(void **state)
{
    (void)state;
    static const char *const bad[] = {"lt=0",
                                      "lt=-5",
                                      "lt=abc",
                                      "lt=",
                                      "lt",
                                      "lt=+5",
                                      "lt= 5",
                                      "lt=1.5",
                                      "lt=5s",
                                      "lt=4294967296",
                                      "lt=99999999999999999999999"};
    for (size_t i = 0; i < GW_ARRAY_LEN(bad); i++)
        assert_option_refused(bad[i], -GW_ERR_INVALID,
                              "'lt' must be a whole number of seconds from 1 to 4294967295");
}

/* ---- version ---- */

static void test_supported_versions_are_accepted(void **state)
{
    (void)state;
    static const char *const ok[] = {"1.0", "1.1", "1.2"};
    for (size_t i = 0; i < GW_ARRAY_LEN(ok); i++) {
        struct rd_params p;
        char opt[16], err[128];
        snprintf(opt, sizeof(opt), "lwm2m=%s", ok[i]);
        assert_int_equal(QUERY(RD_REGISTER, &p, err, "ep=d", opt), GW_OK);
        assert_string_equal(p.lwm2m, ok[i]);
    }
}

static void test_unsupported_version_is_unsupported(void **state)
{
    (void)state;
    assert_option_refused("lwm2m=2.0", -GW_ERR_UNSUPPORTED,
                          "lwm2m version 2.0 is not supported (1.0, 1.1, 1.2 are)");
    assert_option_refused("lwm2m=1.3", -GW_ERR_UNSUPPORTED, "lwm2m version 1.3 is not supported");
    assert_option_refused("lwm2m=01.0", -GW_ERR_UNSUPPORTED, "version 01.0 is not supported");
    assert_option_refused("lwm2m=123.456", -GW_ERR_UNSUPPORTED, "version 123.456 is not");
}

static void test_malformed_version_is_invalid(void **state)
{
    (void)state;
    static const char *const bad[] = {"lwm2m=abc",      "lwm2m=1",    "lwm2m=1.", "lwm2m=.1",
                                      "lwm2m=1.1.1",    "lwm2m=",     "lwm2m",    "lwm2m=1.0a",
                                      "lwm2m=1234.567", "lwm2m=v1.1", "lwm2m=1,1"};
    for (size_t i = 0; i < GW_ARRAY_LEN(bad); i++)
        assert_option_refused(bad[i], -GW_ERR_INVALID, "'lwm2m' must be a version such as 1.1");
}

/* ---- binding, queue mode, SMS ---- */

static void test_binding_letters_are_accepted(void **state)
{
    (void)state;
    static const char *const ok[] = {"U", "S", "US", "N", "T", "UQ", "UQS", "MHTSNQU"};
    for (size_t i = 0; i < GW_ARRAY_LEN(ok); i++) {
        struct rd_params p;
        char opt[16], err[128];
        snprintf(opt, sizeof(opt), "b=%s", ok[i]);
        assert_int_equal(QUERY(RD_REGISTER, &p, err, "ep=d", opt), GW_OK);
        assert_true(p.has_binding);
        assert_string_equal(p.binding, ok[i]);
        assert_int_equal(p.queue, strchr(ok[i], 'Q') != NULL);
    }
}

static void test_bad_binding_is_invalid(void **state)
{
    (void)state;
    assert_option_refused("b=", -GW_ERR_INVALID, "'b' is empty");
    assert_option_refused("b", -GW_ERR_INVALID, "'b' is empty");
    assert_option_refused("b=X", -GW_ERR_INVALID, "'b' has unknown binding 'X'");
    assert_option_refused("b=u", -GW_ERR_INVALID, "'b' has unknown binding 'u'");
    assert_option_refused("b=U Q", -GW_ERR_INVALID, "'b' has a byte that is not a binding");
    assert_option_refused("b=UU", -GW_ERR_INVALID, "'b' repeats 'U'");
    assert_option_refused("b=UMHTSNQU", -GW_ERR_INVALID, "'b' repeats 'U'");
}

static void test_q_parameter_sets_queue_mode_and_takes_no_value(void **state)
{
    (void)state;
    struct rd_params p;
    char err[128];
    assert_int_equal(QUERY(RD_REGISTER, &p, err, "ep=d", "lwm2m=1.1", "Q"), GW_OK);
    assert_true(p.queue);
    assert_string_equal(p.binding, "U");
    assert_int_equal(QUERY(RD_REGISTER, &p, err, "ep=d", "q"), GW_OK); /* unknown: ignored */
    assert_false(p.queue);
    assert_option_refused("Q=1", -GW_ERR_INVALID, "'Q' takes no value");
    assert_option_refused("Q=", -GW_ERR_INVALID, "'Q' takes no value");
}

static void test_sms_number_is_accepted(void **state)
{
    (void)state;
    static const char *const ok[] = {"+441234567890", "1", "123456789012345", "+123456789012345"};
    for (size_t i = 0; i < GW_ARRAY_LEN(ok); i++) {
        struct rd_params p;
        char opt[32], err[128];
        snprintf(opt, sizeof(opt), "sms=%s", ok[i]);
        assert_int_equal(QUERY(RD_REGISTER, &p, err, "ep=d", opt), GW_OK);
        assert_true(p.has_sms);
        assert_string_equal(p.sms, ok[i]);
    }
}

static void test_bad_sms_number_is_invalid(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "sms=",      "sms",        "sms=+",    "sms=abc",
        "sms=+12a3", "sms=++1234", "sms=12 3", "sms=1234567890123456"};
    for (size_t i = 0; i < GW_ARRAY_LEN(bad); i++)
        assert_option_refused(bad[i], -GW_ERR_INVALID, "'sms' must be an MSISDN");
}

/* ---- repeats, unknowns, failures ---- */

static void test_repeated_parameter_is_invalid(void **state)
{
    (void)state;
    struct rd_params p;
    char err[128];
    assert_int_equal(QUERY(RD_REGISTER, &p, err, "ep=d", "lt=60", "lt=60"), -GW_ERR_INVALID);
    assert_string_equal(err, "'lt' given twice");
    assert_int_equal(QUERY(RD_REGISTER, &p, err, "ep=d", "ep=d"), -GW_ERR_INVALID);
    assert_string_equal(err, "'ep' given twice");
    assert_int_equal(QUERY(RD_REGISTER, &p, err, "ep=d", "Q", "Q"), -GW_ERR_INVALID);
    assert_string_equal(err, "'Q' given twice");
    assert_int_equal(QUERY(RD_REGISTER, &p, err, "b=U", "ep=d", "b=UQ"), -GW_ERR_INVALID);
    assert_string_equal(err, "'b' given twice");
    assert_int_equal(QUERY(RD_REGISTER, &p, err, "ep=d", "sms=1", "sms=1"), -GW_ERR_INVALID);
    assert_string_equal(err, "'sms' given twice");
    assert_int_equal(QUERY(RD_REGISTER, &p, err, "ep=d", "lwm2m=1.1", "lwm2m=1.1"),
                     -GW_ERR_INVALID);
    assert_string_equal(err, "'lwm2m' given twice");
}

static void test_unknown_parameters_are_ignored(void **state)
{
    (void)state;
    struct rd_params p;
    char err[128];
    struct rd_str opts[] = {{"foo=bar", 7}, {"x", 1},    {"=", 1},     {"", 0},     {NULL, 0},
                            {"ep=d", 4},    {"LT=5", 4}, {"foo=1", 5}, {"ltx=1", 5}};
    assert_int_equal(
        rd_parse_query(opts, GW_ARRAY_LEN(opts), RD_REGISTER, LT_MIN, LT_MAX, &p, err, sizeof(err)),
        GW_OK);
    assert_string_equal(p.ep, "d");
    assert_false(p.has_lifetime);
}

static void test_failure_keeps_only_a_valid_ep(void **state)
{
    (void)state;
    struct rd_params p;
    char err[128];
    assert_int_equal(QUERY(RD_REGISTER, &p, err, "lt=abc", "b=UQ", "ep=meter-9"), -GW_ERR_INVALID);
    assert_true(p.has_ep);
    assert_string_equal(p.ep, "meter-9");
    assert_false(p.has_binding);
    assert_false(p.queue);
    assert_string_equal(p.binding, "");
    assert_int_equal(QUERY(RD_REGISTER, &p, err, "lt=60", "ep=a/b"), -GW_ERR_INVALID);
    assert_false(p.has_ep);
    assert_string_equal(p.ep, "");
    assert_false(p.has_lifetime);
    assert_int_equal(p.lifetime, 0);
}

/* ---- Update ---- */

static void test_update_takes_only_its_parameters(void **state)
{
    (void)state;
    struct rd_params p;
    char err[128];
    assert_int_equal(QUERY(RD_UPDATE, &p, err, "ep=x/y", "ep=again", "lwm2m=9.9", "lt=120"), GW_OK);
    assert_false(p.has_ep);
    assert_string_equal(p.ep, "");
    assert_string_equal(p.lwm2m, "");
    assert_true(p.has_lifetime);
    assert_int_equal(p.lifetime, 120);
    assert_false(p.has_binding);
    assert_string_equal(p.binding, "");
    assert_false(p.has_sms);
    assert_false(p.queue);
}

static void test_update_without_parameters_fills_nothing(void **state)
{
    (void)state;
    struct rd_params p;
    char err[128];
    assert_int_equal(rd_parse_query(NULL, 0, RD_UPDATE, LT_MIN, LT_MAX, &p, err, sizeof(err)),
                     GW_OK);
    assert_false(p.has_lifetime);
    assert_int_equal(p.lifetime, 0);
    assert_int_equal(p.lifetime_requested, 0);
    assert_false(p.has_binding);
    assert_false(p.has_sms);
    assert_false(p.queue);
}

static void test_update_checks_its_parameters(void **state)
{
    (void)state;
    struct rd_params p;
    char err[128];
    assert_int_equal(QUERY(RD_UPDATE, &p, err, "lt=0"), -GW_ERR_INVALID);
    assert_string_equal(err, "'lt' must be a whole number of seconds from 1 to 4294967295");
    assert_int_equal(QUERY(RD_UPDATE, &p, err, "b=UU"), -GW_ERR_INVALID);
    assert_int_equal(QUERY(RD_UPDATE, &p, err, "sms=x"), -GW_ERR_INVALID);
    assert_int_equal(QUERY(RD_UPDATE, &p, err, "Q=1"), -GW_ERR_INVALID);
    assert_int_equal(QUERY(RD_UPDATE, &p, err, "lt=5", "lt=6"), -GW_ERR_INVALID);
    assert_string_equal(err, "'lt' given twice");
    assert_int_equal(QUERY(RD_UPDATE, &p, err, "lt=5", "b=UQ", "sms=+1", "Q"), GW_OK);
    assert_int_equal(p.lifetime, LT_MIN);
    assert_true(p.has_binding);
    assert_true(p.has_sms);
    assert_true(p.queue);
}

/* ---- object links ---- */

/* Parses `payload`, asserting success; the caller clears `o`. */
static void links_ok(const char *payload, struct rd_objects *o)
{
    char err[160] = "";
    int rc = rd_parse_links(payload, strlen(payload), o, err, sizeof(err));
    if (rc != GW_OK)
        fail_msg("\"%s\" refused: %s", payload, err);
}

/* Asserts that `payload` is refused as invalid with a reason containing `needle`, and that
 * nothing is left in the result. */
static void links_refused(const char *payload, const char *needle)
{
    struct rd_objects o;
    char err[160] = "";
    memset(&o, 0xa5, sizeof(o));
    int rc = rd_parse_links(payload, strlen(payload), &o, err, sizeof(err));
    if (rc != -GW_ERR_INVALID || !strstr(err, needle))
        fail_msg("\"%s\": rc=%d err=\"%s\", expected \"%s\"", payload, rc, err, needle);
    assert_null(o.v);
    assert_int_equal(o.n, 0);
    assert_string_equal(o.root, "");
    assert_string_equal(o.ct, "");
}

static void assert_object(const struct rd_objects *o, size_t i, int oid, int iid, const char *ver)
{
    assert_true(i < o->n);
    assert_int_equal(o->v[i].oid, oid);
    assert_int_equal(o->v[i].iid, iid);
    assert_string_equal(o->v[i].ver, ver);
}

static void test_spec_example_without_root_link(void **state)
{
    (void)state;
    static const int want[][2] = {{1, 0}, {1, 1}, {2, 0}, {2, 1}, {2, 2},
                                  {2, 3}, {2, 4}, {3, 0}, {4, 0}, {5, -1}};
    struct rd_objects o;
    links_ok("</1/0>,</1/1>,</2/0>,</2/1>,</2/2>,</2/3>,</2/4>,</3/0>,</4/0>,</5>", &o);
    assert_string_equal(o.root, "");
    assert_string_equal(o.ct, "");
    assert_int_equal(o.n, GW_ARRAY_LEN(want));
    for (size_t i = 0; i < o.n; i++)
        assert_object(&o, i, want[i][0], want[i][1], "");
    rd_objects_clear(&o);
    assert_null(o.v);
    assert_int_equal(o.n, 0);
}

static void test_spec_example_with_root_link_and_ct(void **state)
{
    (void)state;
    struct rd_objects o;
    links_ok("</>;rt=\"oma.lwm2m\";ct=11543,</1/101>,</1/102>,</2/0>,</2/1>,</2/2>,</3/0>,</4/0>,"
             "</5>",
             &o);
    assert_string_equal(o.root, "");
    assert_string_equal(o.ct, "11543");
    assert_int_equal(o.n, 8);
    assert_object(&o, 0, 1, 101, "");
    assert_object(&o, 1, 1, 102, "");
    assert_object(&o, 5, 3, 0, "");
    assert_object(&o, 7, 5, -1, "");
    rd_objects_clear(&o);
}

static void test_alternate_root_path(void **state)
{
    (void)state;
    struct rd_objects o;
    links_ok("</lwm2m>;rt=\"oma.lwm2m\",</lwm2m/1/101>,</lwm2m/3/0>", &o);
    assert_string_equal(o.root, "/lwm2m");
    assert_int_equal(o.n, 2);
    assert_object(&o, 0, 1, 101, "");
    assert_object(&o, 1, 3, 0, "");
    rd_objects_clear(&o);
    links_ok("</a/b>;rt=oma.lwm2m;ct=\"60 110\",</a/b/3/0>", &o);
    assert_string_equal(o.root, "/a/b");
    assert_string_equal(o.ct, "60 110");
    assert_int_equal(o.n, 1);
    rd_objects_clear(&o);
}

static void test_root_link_may_come_last(void **state)
{
    (void)state;
    struct rd_objects o;
    links_ok("</lwm2m/3/0>,</lwm2m/1/0>,</lwm2m>;rt=\"oma.lwm2m\";ct=110", &o);
    assert_string_equal(o.root, "/lwm2m");
    assert_string_equal(o.ct, "110");
    assert_int_equal(o.n, 2);
    assert_object(&o, 0, 3, 0, "");
    assert_object(&o, 1, 1, 0, "");
    rd_objects_clear(&o);
}

static void test_rt_list_naming_oma_lwm2m_marks_the_root(void **state)
{
    (void)state;
    struct rd_objects o;
    links_ok("</rd>;rt=\"core.rd  oma.lwm2m\",</rd/3/0>", &o);
    assert_string_equal(o.root, "/rd");
    rd_objects_clear(&o);
    /* "oma.lwm2mx" is another resource type: this link is then an object link, and bad. */
    links_refused("</rd>;rt=\"oma.lwm2mx\",</rd/3/0>", "link 1 </rd>: the object id");
}

static void test_only_a_root_link_gives_no_objects(void **state)
{
    (void)state;
    struct rd_objects o;
    links_ok("</>;rt=\"oma.lwm2m\";ct=11543", &o);
    assert_int_equal(o.n, 0);
    assert_string_equal(o.ct, "11543");
    rd_objects_clear(&o);
    links_ok("</>,</3/0>", &o); /* a plain link to "/" carries nothing */
    assert_int_equal(o.n, 1);
    rd_objects_clear(&o);
}

static void test_version_attribute_is_kept(void **state)
{
    (void)state;
    struct rd_objects o;
    links_ok("</3303>;ver=1.1,</3303/0>,</3442>;ver=\"2.0\",</9>;ver=1234.56", &o);
    assert_int_equal(o.n, 4);
    assert_object(&o, 0, 3303, -1, "1.1");
    assert_object(&o, 1, 3303, 0, "");
    assert_object(&o, 2, 3442, -1, "2.0");
    assert_object(&o, 3, 9, -1, "1234.56");
    rd_objects_clear(&o);
}

static void test_bad_version_attribute_is_invalid(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "</3303>;ver=abc",  "</3303>;ver",    "</3303>;ver=1.1.1",   "</3303>;ver=1",
        "</3303>;ver=\"\"", "</3303>;ver=.1", "</3303>;ver=1234.567"};
    for (size_t i = 0; i < GW_ARRAY_LEN(bad); i++)
        links_refused(bad[i], "link 1 </3303>: 'ver' must be a version such as 1.1");
}

static void test_object_and_instance_id_bounds(void **state)
{
    (void)state;
    struct rd_objects o;
    links_ok("</65535>,</0/0>,</3/65534>,</3/00012>", &o);
    assert_object(&o, 0, 65535, -1, "");
    assert_object(&o, 1, 0, 0, "");
    assert_object(&o, 2, 3, 65534, "");
    assert_object(&o, 3, 3, 12, "");
    rd_objects_clear(&o);
    links_refused("</1/0>,</65536>", "link 2 </65536>: the object id must be a number from 0");
    links_refused("</99999999999999999999>", "the object id must be");
    links_refused("</3/65535>", "link 1 </3/65535>: the instance id must be a number from 0 to "
                                "65534");
}

static void test_non_numeric_level_is_invalid(void **state)
{
    (void)state;
    links_refused("</abc>", "link 1 </abc>: the object id");
    links_refused("</-1>", "the object id");
    links_refused("<//3>", "the object id");
    links_refused("</3/>", "the instance id");
    links_refused("</3/x>", "the instance id");
    links_refused("</3/0?x=1>", "the instance id");
    links_refused("</3a/0>", "the object id");
    links_refused("</3/0/x>", "level 3 must be a number");
    links_refused("</3/0/1/>", "level 4 must be a number");
}

static void test_resource_level_links_are_skipped(void **state)
{
    (void)state;
    struct rd_objects o;
    links_ok("</3/0/1>,</3/0>;ver=1.1,</3/0/7>;dim=2,</3/0/7/1>,</4/0/1/2/3>", &o);
    assert_int_equal(o.n, 1);
    assert_object(&o, 0, 3, 0, "1.1");
    rd_objects_clear(&o);
}

static void test_link_outside_the_root_is_invalid(void **state)
{
    (void)state;
    links_refused("</lwm2m>;rt=\"oma.lwm2m\",</1/0>",
                  "link 2 </1/0>: not under the root path /lwm2m");
    links_refused("</lwm2m>;rt=\"oma.lwm2m\",</lwm2mx/1/0>", "not under the root path /lwm2m");
    links_refused("<1/0>", "link 1 <1/0>: not under the root path /");
    links_refused("<coap://h/1/0>", "not under the root path /");
    links_refused("</lwm2m/3/0>", "link 1 </lwm2m/3/0>: the object id"); /* no root declared */
}

static void test_duplicate_links_are_merged(void **state)
{
    (void)state;
    struct rd_objects o;
    links_ok("</1/0>,</3/0>,</1/0>,</3303>,</3303>;ver=1.1,</3303>;ver=2.0,</3>", &o);
    assert_int_equal(o.n, 4);
    assert_object(&o, 0, 1, 0, "");
    assert_object(&o, 1, 3, 0, "");
    assert_object(&o, 2, 3303, -1, "1.1");
    assert_object(&o, 3, 3, -1, "");
    rd_objects_clear(&o);
}

static void test_root_link_may_repeat_but_not_differ(void **state)
{
    (void)state;
    struct rd_objects o;
    links_ok("</a>;rt=\"oma.lwm2m\",</a/1/0>,</a>;rt=\"oma.lwm2m\",</a>", &o);
    assert_string_equal(o.root, "/a");
    assert_int_equal(o.n, 1);
    rd_objects_clear(&o);
    links_refused("</a>;rt=\"oma.lwm2m\",</b>;rt=\"oma.lwm2m\"",
                  "link 2 </b>: a second root link (rt=\"oma.lwm2m\"), the first is </a>");
}

static void test_bad_root_link_or_ct_is_invalid(void **state)
{
    (void)state;
    char payload[160];
    links_refused("<lwm2m>;rt=\"oma.lwm2m\"", "link 1 <lwm2m>: the root link must be a path");
    links_refused("</lwm2m/>;rt=\"oma.lwm2m\"", "must be a plain path such as /lwm2m");
    links_refused("</a//b>;rt=\"oma.lwm2m\"", "must be a plain path");
    links_refused("</a?x>;rt=\"oma.lwm2m\"", "must be a plain path");
    /* 63 bytes of root path fit, 64 do not. */
    snprintf(payload, sizeof(payload), "</%062d>;rt=\"oma.lwm2m\",</%062d/3/0>", 0, 0);
    struct rd_objects o;
    links_ok(payload, &o);
    assert_int_equal(strlen(o.root), 63);
    assert_int_equal(o.n, 1);
    rd_objects_clear(&o);
    snprintf(payload, sizeof(payload), "</%063d>;rt=\"oma.lwm2m\"", 0);
    links_refused(payload, "root path longer than 63 bytes");
    snprintf(payload, sizeof(payload), "</>;rt=\"oma.lwm2m\";ct=\"%064d\"", 0);
    links_refused(payload, "'ct' longer than 63 bytes");
    links_refused("</>;rt=\"oma.lwm2m\";ct=\"\xc3\xa4\"", "'ct' must be printable ASCII");
}

static void test_syntax_error_names_the_link(void **state)
{
    (void)state;
    links_refused("</1/0>,</2/0", "link 2 at offset 7: unterminated '<'");
    links_refused("", "empty payload");
    links_refused("</1/0>,", "trailing ','");
}

static void test_long_uri_is_cut_in_the_message(void **state)
{
    (void)state;
    char payload[200], want[100];
    snprintf(payload, sizeof(payload), "</x%0100d>", 0);
    snprintf(want, sizeof(want), "link 1 </x%062d...>: the object id", 0);
    links_refused(payload, want);
    snprintf(payload, sizeof(payload), "</>;rt=\"oma.lwm2m\";ct=\"%064d\"", 0);
    links_refused(payload, "'ct' longer than 63 bytes");
    links_refused("</>;rt=\"oma.lwm2m\";ct=\"\xc3\xa4\"", "'ct' must be printable ASCII");
}

static void test_many_object_links_are_kept(void **state)
{
    (void)state;
    size_t cap = LINKFMT_MAX_LINKS * 10 + 32;
    char *payload = malloc(cap);
    assert_non_null(payload);
    size_t k = (size_t)snprintf(payload, cap, "</>;rt=\"oma.lwm2m\"");
    for (int i = 0; i < LINKFMT_MAX_LINKS - 1; i++)
        k += (size_t)snprintf(payload + k, cap - k, ",</1/%d>", i);
    struct rd_objects o;
    links_ok(payload, &o);
    assert_int_equal(o.n, LINKFMT_MAX_LINKS - 1);
    assert_object(&o, LINKFMT_MAX_LINKS - 2, 1, LINKFMT_MAX_LINKS - 2, "");
    rd_objects_clear(&o);
    free(payload);
}

int main(void)
{
    const struct CMUnitTest query_tests[] = {
        cmocka_unit_test(test_register_fills_defaults),
        cmocka_unit_test(test_register_takes_every_parameter),
        cmocka_unit_test(test_register_without_ep_or_with_empty_ep_is_invalid),
        cmocka_unit_test(test_ep_length_is_bounded),
        cmocka_unit_test(test_ep_with_topic_characters_is_invalid),
        cmocka_unit_test(test_ep_with_control_character_is_invalid),
        cmocka_unit_test(test_ep_may_be_utf8),
        cmocka_unit_test(test_ep_with_invalid_utf8_is_invalid),
        cmocka_unit_test(test_option_is_read_only_up_to_its_length),
        cmocka_unit_test(test_lifetime_is_clamped_to_bounds),
        cmocka_unit_test(test_default_and_largest_lifetime_are_clamped_too),
        cmocka_unit_test(test_bad_lifetime_is_invalid),
        cmocka_unit_test(test_supported_versions_are_accepted),
        cmocka_unit_test(test_unsupported_version_is_unsupported),
        cmocka_unit_test(test_malformed_version_is_invalid),
        cmocka_unit_test(test_binding_letters_are_accepted),
        cmocka_unit_test(test_bad_binding_is_invalid),
        cmocka_unit_test(test_q_parameter_sets_queue_mode_and_takes_no_value),
        cmocka_unit_test(test_sms_number_is_accepted),
        cmocka_unit_test(test_bad_sms_number_is_invalid),
        cmocka_unit_test(test_repeated_parameter_is_invalid),
        cmocka_unit_test(test_unknown_parameters_are_ignored),
        cmocka_unit_test(test_failure_keeps_only_a_valid_ep),
        cmocka_unit_test(test_update_takes_only_its_parameters),
        cmocka_unit_test(test_update_without_parameters_fills_nothing),
        cmocka_unit_test(test_update_checks_its_parameters),
    };
    const struct CMUnitTest link_tests[] = {
        cmocka_unit_test(test_spec_example_without_root_link),
        cmocka_unit_test(test_spec_example_with_root_link_and_ct),
        cmocka_unit_test(test_alternate_root_path),
        cmocka_unit_test(test_root_link_may_come_last),
        cmocka_unit_test(test_rt_list_naming_oma_lwm2m_marks_the_root),
        cmocka_unit_test(test_only_a_root_link_gives_no_objects),
        cmocka_unit_test(test_version_attribute_is_kept),
        cmocka_unit_test(test_bad_version_attribute_is_invalid),
        cmocka_unit_test(test_object_and_instance_id_bounds),
        cmocka_unit_test(test_non_numeric_level_is_invalid),
        cmocka_unit_test(test_resource_level_links_are_skipped),
        cmocka_unit_test(test_link_outside_the_root_is_invalid),
        cmocka_unit_test(test_duplicate_links_are_merged),
        cmocka_unit_test(test_root_link_may_repeat_but_not_differ),
        cmocka_unit_test(test_bad_root_link_or_ct_is_invalid),
        cmocka_unit_test(test_syntax_error_names_the_link),
        cmocka_unit_test(test_long_uri_is_cut_in_the_message),
        cmocka_unit_test(test_many_object_links_are_kept),
    };
    int failed = cmocka_run_group_tests_name("rd_parse_query", query_tests, NULL, NULL);
    failed += cmocka_run_group_tests_name("rd_parse_links", link_tests, NULL, NULL);
    return failed;
}

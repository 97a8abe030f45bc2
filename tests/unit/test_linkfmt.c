/* test_linkfmt.c - unit tests of the CoRE Link Format parser and writer (linkfmt.c): the
 * registration payloads of the LwM2M specification, every error path with its message, the
 * bounds, whitespace tolerance, and parse -> write -> parse round trips. */
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

/* Parses a NUL-terminated payload; the error text lands in `err`. */
static int parse(const char *s, struct link_list *l, char *err, size_t errlen)
{
    return linkfmt_parse(s, strlen(s), l, err, errlen);
}

/* Asserts that `s` is refused as invalid with a message containing `needle`, and that the list
 * is left cleared. */
static void assert_rejected(const char *s, size_t len, const char *needle)
{
    struct link_list l;
    char err[160];
    memset(&l, 0xa5, sizeof(l));
    int rc = linkfmt_parse(s, len, &l, err, sizeof(err));
    if (rc != -GW_ERR_INVALID || !strstr(err, needle))
        fail_msg("payload \"%.*s\": rc=%d err=\"%s\", expected \"%s\"", (int)len, s, rc, err,
                 needle);
    assert_null(l.links);
    assert_int_equal(l.n, 0);
}

static void rejected(const char *s, const char *needle)
{
    assert_rejected(s, strlen(s), needle);
}

/* ---- the payloads of the LwM2M specification ---- */

static void test_spec_example_object_instances(void **state)
{
    (void)state;
    static const char *const uris[] = {"/1/0", "/1/1", "/2/0", "/2/1", "/2/2",
                                       "/2/3", "/2/4", "/3/0", "/4/0", "/5"};
    struct link_list l;
    char err[128];
    assert_int_equal(parse("</1/0>,</1/1>,</2/0>,</2/1>,</2/2>,</2/3>,</2/4>,</3/0>,</4/0>,</5>",
                           &l, err, sizeof(err)),
                     GW_OK);
    assert_int_equal(l.n, GW_ARRAY_LEN(uris));
    for (size_t i = 0; i < l.n; i++) {
        assert_string_equal(l.links[i].uri, uris[i]);
        assert_int_equal(l.links[i].n_attrs, 0);
    }
    linkfmt_clear(&l);
    assert_null(l.links);
    assert_int_equal(l.n, 0);
}

static void test_spec_example_root_link_attributes(void **state)
{
    (void)state;
    struct link_list l;
    char err[128];
    assert_int_equal(parse("</>;rt=\"oma.lwm2m\";ct=11543,</1/101>,</1/102>,</2/0>,</2/1>,</2/2>,"
                           "</3/0>,</4/0>,</5>",
                           &l, err, sizeof(err)),
                     GW_OK);
    assert_int_equal(l.n, 9);
    assert_string_equal(l.links[0].uri, "/");
    assert_int_equal(l.links[0].n_attrs, 2);
    assert_string_equal(l.links[0].attrs[0].name, "rt");
    assert_string_equal(l.links[0].attrs[0].value, "oma.lwm2m");
    assert_string_equal(linkfmt_attr(&l.links[0], "ct"), "11543");
    assert_null(linkfmt_attr(&l.links[0], "ver"));
    assert_null(linkfmt_attr(&l.links[1], "rt"));
    assert_string_equal(l.links[8].uri, "/5");
    linkfmt_clear(&l);
}

static void test_spec_example_version_attribute(void **state)
{
    (void)state;
    struct link_list l;
    char err[128];
    assert_int_equal(parse("</lwm2m>;rt=\"oma.lwm2m\",</lwm2m/1/101>,</lwm2m/3/0>,</3303>;ver=1.1",
                           &l, err, sizeof(err)),
                     GW_OK);
    assert_int_equal(l.n, 4);
    assert_string_equal(l.links[0].uri, "/lwm2m");
    assert_string_equal(l.links[2].uri, "/lwm2m/3/0");
    assert_string_equal(linkfmt_attr(&l.links[3], "ver"), "1.1");
    linkfmt_clear(&l);
}

/* ---- attributes ---- */

static void test_attribute_without_value_reads_as_empty(void **state)
{
    (void)state;
    struct link_list l;
    char err[128];
    assert_int_equal(parse("</3/0/13>;obs;pmin=10", &l, err, sizeof(err)), GW_OK);
    assert_int_equal(l.links[0].n_attrs, 2);
    assert_null(l.links[0].attrs[0].value);
    assert_string_equal(linkfmt_attr(&l.links[0], "obs"), "");
    assert_string_equal(linkfmt_attr(&l.links[0], "pmin"), "10");
    linkfmt_clear(&l);
}

static void test_quoted_value_may_hold_comma_and_semicolon(void **state)
{
    (void)state;
    struct link_list l;
    char err[128];
    assert_int_equal(parse("</a>;title=\"x, y; z\",</b>", &l, err, sizeof(err)), GW_OK);
    assert_int_equal(l.n, 2);
    assert_string_equal(linkfmt_attr(&l.links[0], "title"), "x, y; z");
    assert_string_equal(l.links[1].uri, "/b");
    linkfmt_clear(&l);
}

static void test_quoted_escapes_are_removed(void **state)
{
    (void)state;
    struct link_list l;
    char err[128];
    assert_int_equal(parse("</a>;t=\"say \\\"hi\\\" \\\\ \\ok\";e=\"\"", &l, err, sizeof(err)),
                     GW_OK);
    assert_string_equal(linkfmt_attr(&l.links[0], "t"), "say \"hi\" \\ ok");
    assert_string_equal(linkfmt_attr(&l.links[0], "e"), "");
    assert_non_null(l.links[0].attrs[1].value);
    linkfmt_clear(&l);
}

static void test_ptoken_may_hold_equals_and_angle_brackets(void **state)
{
    (void)state;
    struct link_list l;
    char err[128];
    assert_int_equal(parse("</a>;x=b=c<d>;title*=UTF-8'en'%e2%82%ac", &l, err, sizeof(err)), GW_OK);
    assert_string_equal(linkfmt_attr(&l.links[0], "x"), "b=c<d>");
    assert_string_equal(linkfmt_attr(&l.links[0], "title*"), "UTF-8'en'%e2%82%ac");
    linkfmt_clear(&l);
}

static void test_whitespace_around_separators_is_tolerated(void **state)
{
    (void)state;
    struct link_list l;
    char err[128];
    assert_int_equal(parse(" \r\n</1/0> ;\tct=40 ; obs ,\r\n </2/0>\r\n", &l, err, sizeof(err)),
                     GW_OK);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.links[0].uri, "/1/0");
    assert_string_equal(linkfmt_attr(&l.links[0], "ct"), "40");
    assert_string_equal(linkfmt_attr(&l.links[0], "obs"), "");
    assert_string_equal(l.links[1].uri, "/2/0");
    linkfmt_clear(&l);
}

static void test_input_is_read_only_up_to_its_length(void **state)
{
    (void)state;
    struct link_list l;
    char err[128];
    const char *s = "</1/0>,</2/0>";
    assert_int_equal(linkfmt_parse(s, 6, &l, err, sizeof(err)), GW_OK);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.links[0].uri, "/1/0");
    linkfmt_clear(&l);
    assert_rejected(s, 5, "unterminated '<'");
}

/* ---- errors ---- */

static void test_empty_payload_is_rejected(void **state)
{
    (void)state;
    struct link_list l;
    char err[128];
    assert_int_equal(linkfmt_parse("", 0, &l, err, sizeof(err)), -GW_ERR_INVALID);
    assert_string_equal(err, "empty payload");
    assert_int_equal(linkfmt_parse(NULL, 0, &l, err, sizeof(err)), -GW_ERR_INVALID);
    assert_string_equal(err, "empty payload");
    rejected(" \r\n\t", "empty payload");
}

static void test_nul_byte_is_rejected(void **state)
{
    (void)state;
    assert_rejected("</1\0/0>", 7,
                    "link 1 at offset 3: expected a URI character or '>', found "
                    "NUL byte");
    assert_rejected("</1>;t=\"a\0b\"", 12, "offset 9: NUL byte is not allowed");
    assert_rejected("</1>\0", 5, "offset 4: expected ';', ',' or end of payload, found NUL byte");
    assert_rejected("\0</1>", 5, "offset 0: expected '<', found NUL byte");
    assert_rejected("</1>;ct=4\0", 10, "found NUL byte");
}

static void test_unterminated_uri_is_rejected(void **state)
{
    (void)state;
    rejected("</1/0", "link 1 at offset 0: unterminated '<'");
    rejected("</1/0>,</2/0", "link 2 at offset 7: unterminated '<'");
}

static void test_unterminated_quote_is_rejected(void **state)
{
    (void)state;
    rejected("</1>;rt=\"oma.lwm2m", "link 1 at offset 8: unterminated quoted string");
    rejected("</1>;rt=\"a\\", "unterminated quoted string");
    rejected("</1>;rt=\"a\\\"", "unterminated quoted string");
}

static void test_trailing_comma_is_rejected(void **state)
{
    (void)state;
    rejected("</1>,", "link 1 at offset 4: trailing ','");
    rejected("</1>, \r\n", "trailing ','");
    rejected("</1>,,</2>", "link 2 at offset 5: expected '<', found ','");
}

static void test_empty_uri_is_rejected(void **state)
{
    (void)state;
    rejected("<>", "link 1 at offset 0: empty URI '<>'");
    rejected("</1>,<>;ct=0", "link 2 at offset 5: empty URI");
}

static void test_missing_angle_bracket_is_rejected(void **state)
{
    (void)state;
    rejected("/1/0", "link 1 at offset 0: expected '<', found '/'");
    rejected("</1>,/2", "link 2 at offset 5: expected '<', found '/'");
    rejected("</1></2>", "expected ';', ',' or end of payload, found '<'");
}

static void test_bad_uri_character_is_rejected(void **state)
{
    (void)state;
    rejected("</1 /0>", "offset 3: expected a URI character or '>', found ' '");
    rejected("</1/0,</2>", "offset 6: expected a URI character or '>', found '<'");
    rejected("</a\"b>", "found '\"'");
    rejected("</\xc3\xa4>", "found byte 0xc3");
}

static void test_bad_attribute_is_rejected(void **state)
{
    (void)state;
    rejected("</1/0>,</2/0>;=x", "link 2 at offset 14: expected an attribute name, found '='");
    rejected("</1>;", "offset 5: expected an attribute name, found end of payload");
    rejected("</1>;;ct=0", "expected an attribute name, found ';'");
    rejected("</1>;ct=", "offset 8: expected a value after '=', found end of payload");
    rejected("</1>;ct=,</2>", "expected a value after '=', found ','");
    rejected("</1>;ct =0", "expected ';', ',' or end of payload, found '='");
    rejected("</1>;ct=0x\"y\"", "found '\"'");
    rejected("</1>;t=\"a\"b", "offset 10: expected ';', ',' or end of payload, found 'b'");
    rejected("</1>;t=\"a\tb\x01\"", "offset 11: byte 0x01 is not allowed in a quoted string");
    rejected("</1>;t=\"a\\\x01\"", "offset 10: byte 0x01 cannot be escaped");
    rejected("</1>;a\\b", "found '\\'");
}

static void test_junk_after_link_is_rejected(void **state)
{
    (void)state;
    rejected("</1>x", "link 1 at offset 4: expected ';', ',' or end of payload, found 'x'");
    rejected("</1> </2>", "found '<'");
}

static void test_small_error_buffer_is_safe(void **state)
{
    (void)state;
    struct link_list l;
    char err[8];
    memset(err, 'x', sizeof(err));
    assert_int_equal(parse("</1>x", &l, err, sizeof(err)), -GW_ERR_INVALID);
    assert_string_equal(err, "link 1 ");
    assert_int_equal(parse("</1>x", &l, NULL, 0), -GW_ERR_INVALID);
    assert_int_equal(parse("</1>", &l, NULL, 0), GW_OK);
    linkfmt_clear(&l);
    linkfmt_clear(&l); /* harmless on a cleared list */
}

/* ---- bounds ---- */

/* A payload of `n` links "</0>,</1>,...". Freed by the caller. */
static char *many_links(size_t n)
{
    char *s = malloc(n * 8 + 1);
    assert_non_null(s);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += (size_t)sprintf(s + k, "%s</%zu>", i ? "," : "", i);
    return s;
}

static void test_1024_links_are_accepted(void **state)
{
    (void)state;
    struct link_list l;
    char err[128];
    char *s = many_links(LINKFMT_MAX_LINKS);
    assert_int_equal(parse(s, &l, err, sizeof(err)), GW_OK);
    assert_int_equal(l.n, LINKFMT_MAX_LINKS);
    assert_string_equal(l.links[LINKFMT_MAX_LINKS - 1].uri, "/1023");
    linkfmt_clear(&l);
    free(s);
}

static void test_1025_links_are_rejected(void **state)
{
    (void)state;
    char *s = many_links(LINKFMT_MAX_LINKS + 1);
    rejected(s, "link 1025 at offset");
    rejected(s, "more than 1024 links");
    free(s);
}

/* "</1>;a0;a1;..." with `n` attributes. */
static void attrs_payload(char *s, size_t n)
{
    size_t k = (size_t)sprintf(s, "</1>");
    for (size_t i = 0; i < n; i++)
        k += (size_t)sprintf(s + k, ";a%zu=%zu", i, i);
}

static void test_16_attributes_are_accepted(void **state)
{
    (void)state;
    struct link_list l;
    char s[256], err[128];
    attrs_payload(s, LINKFMT_MAX_ATTRS);
    assert_int_equal(parse(s, &l, err, sizeof(err)), GW_OK);
    assert_int_equal(l.links[0].n_attrs, LINKFMT_MAX_ATTRS);
    assert_string_equal(linkfmt_attr(&l.links[0], "a15"), "15");
    linkfmt_clear(&l);
}

static void test_17_attributes_are_rejected(void **state)
{
    (void)state;
    char s[256];
    attrs_payload(s, LINKFMT_MAX_ATTRS + 1);
    rejected(s, "more than 16 attributes on one link");
}

/* ---- writer ---- */

static void test_write_gives_canonical_form(void **state)
{
    (void)state;
    struct link_list l;
    char err[128], buf[256];
    size_t n = 99;
    assert_int_equal(parse(" </>; rt=oma.lwm2m ;ct=11543 , </1/101>,\r\n</3303>;ver=\"1.1\";obs",
                           &l, err, sizeof(err)),
                     GW_OK);
    assert_int_equal(linkfmt_write(&l, buf, sizeof(buf), &n), GW_OK);
    const char *want = "</>;rt=\"oma.lwm2m\";ct=11543,</1/101>,</3303>;ver=1.1;obs";
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));
    linkfmt_clear(&l);
}

static void test_write_quotes_values_that_need_it(void **state)
{
    (void)state;
    struct link_attr attrs[] = {
        {"ct", "60 110"}, {"e", ""},      {"q", "a\"b\\c"}, {"x", "a,b;c"},
        {"obs", NULL},    {"title", "t"}, {"sz", "5"},
    };
    struct link link = {"/3/0", attrs, GW_ARRAY_LEN(attrs)};
    struct link_list l = {&link, 1};
    char buf[128];
    assert_int_equal(linkfmt_write(&l, buf, sizeof(buf), NULL), GW_OK);
    assert_string_equal(buf, "</3/0>;ct=\"60 110\";e=\"\";q=\"a\\\"b\\\\c\";x=\"a,b;c\";obs;"
                             "title=\"t\";sz=5");
}

static void test_write_reports_full(void **state)
{
    (void)state;
    struct link_list l;
    char err[128], buf[64];
    size_t n = 99;
    assert_int_equal(parse("</1/0>,</2/0>", &l, err, sizeof(err)), GW_OK);
    assert_int_equal(linkfmt_write(&l, buf, 14, &n), GW_OK); /* 13 bytes and the NUL */
    assert_string_equal(buf, "</1/0>,</2/0>");
    assert_int_equal(n, 13);
    n = 99;
    assert_int_equal(linkfmt_write(&l, buf, 13, &n), -GW_ERR_FULL);
    assert_string_equal(buf, "");
    assert_int_equal(n, 0);
    assert_int_equal(linkfmt_write(&l, buf, 7, &n), -GW_ERR_FULL);
    assert_int_equal(linkfmt_write(&l, buf, 0, &n), -GW_ERR_FULL);
    linkfmt_clear(&l);
}

static void test_write_refuses_unwritable_links(void **state)
{
    (void)state;
    struct link_attr bad_name = {"a b", "1"}, bad_value = {"a", "x\ny"}, empty_name = {"", "1"};
    struct link cases[] = {
        {"/a>b", NULL, 0},    {"", NULL, 0},         {"/a b", NULL, 0},      {NULL, NULL, 0},
        {"/1", &bad_name, 1}, {"/1", &bad_value, 1}, {"/1", &empty_name, 1},
    };
    for (size_t i = 0; i < GW_ARRAY_LEN(cases); i++) {
        struct link_list l = {&cases[i], 1};
        char buf[64];
        size_t n = 99;
        if (linkfmt_write(&l, buf, sizeof(buf), &n) != -GW_ERR_INVALID)
            fail_msg("case %zu was written: %s", i, buf);
        assert_int_equal(n, 0);
        assert_string_equal(buf, "");
    }
}

static void test_write_empty_list_gives_empty_text(void **state)
{
    (void)state;
    struct link_list l = {NULL, 0};
    char buf[4] = "xyz";
    size_t n = 99;
    assert_int_equal(linkfmt_write(&l, buf, sizeof(buf), &n), GW_OK);
    assert_string_equal(buf, "");
    assert_int_equal(n, 0);
}

static void assert_lists_equal(const struct link_list *a, const struct link_list *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        assert_string_equal(a->links[i].uri, b->links[i].uri);
        assert_int_equal(a->links[i].n_attrs, b->links[i].n_attrs);
        for (size_t j = 0; j < a->links[i].n_attrs; j++) {
            const struct link_attr *x = &a->links[i].attrs[j], *y = &b->links[i].attrs[j];
            assert_string_equal(x->name, y->name);
            if (!x->value || !y->value)
                assert_ptr_equal(x->value, y->value);
            else
                assert_string_equal(x->value, y->value);
        }
    }
}

static void test_round_trip_keeps_every_link(void **state)
{
    (void)state;
    static const char *const payloads[] = {
        "</1/0>,</1/1>,</2/0>,</2/1>,</2/2>,</2/3>,</2/4>,</3/0>,</4/0>,</5>",
        "</>;rt=\"oma.lwm2m\";ct=11543,</1/101>,</1/102>,</2/0>,</2/1>,</2/2>,</3/0>,</4/0>,</5>",
        "</lwm2m>;rt=\"oma.lwm2m\",</lwm2m/1/101>,</lwm2m/3/0>",
        "</3303>;ver=1.1, </3303/0>;ver=\"2.0\"",
        "</a>;title=\"x, y; z\";q=\"\\\"\\\\\";e=\"\";obs;ct=\"60 110\";u=\"\xc3\xa4\tb\"",
        "<coap://[2001:db8::1]:5683/s?x=1&y=2>;anchor=\"/\";rel=\"next prev\";x=b=c<d>",
    };
    for (size_t i = 0; i < GW_ARRAY_LEN(payloads); i++) {
        struct link_list a, b;
        char err[128], buf[512];
        size_t n;
        assert_int_equal(parse(payloads[i], &a, err, sizeof(err)), GW_OK);
        assert_int_equal(linkfmt_write(&a, buf, sizeof(buf), &n), GW_OK);
        assert_int_equal(n, strlen(buf));
        if (linkfmt_parse(buf, n, &b, err, sizeof(err)) != GW_OK)
            fail_msg("payload %zu wrote \"%s\", which does not parse: %s", i, buf, err);
        assert_lists_equal(&a, &b);
        linkfmt_clear(&a);
        linkfmt_clear(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_example_object_instances),
        cmocka_unit_test(test_spec_example_root_link_attributes),
        cmocka_unit_test(test_spec_example_version_attribute),
        cmocka_unit_test(test_attribute_without_value_reads_as_empty),
        cmocka_unit_test(test_quoted_value_may_hold_comma_and_semicolon),
        cmocka_unit_test(test_quoted_escapes_are_removed),
        cmocka_unit_test(test_ptoken_may_hold_equals_and_angle_brackets),
        cmocka_unit_test(test_whitespace_around_separators_is_tolerated),
        cmocka_unit_test(test_input_is_read_only_up_to_its_length),
        cmocka_unit_test(test_empty_payload_is_rejected),
        cmocka_unit_test(test_nul_byte_is_rejected),
        cmocka_unit_test(test_unterminated_uri_is_rejected),
        cmocka_unit_test(test_unterminated_quote_is_rejected),
        cmocka_unit_test(test_trailing_comma_is_rejected),
        cmocka_unit_test(test_empty_uri_is_rejected),
        cmocka_unit_test(test_missing_angle_bracket_is_rejected),
        cmocka_unit_test(test_bad_uri_character_is_rejected),
        cmocka_unit_test(test_bad_attribute_is_rejected),
        cmocka_unit_test(test_junk_after_link_is_rejected),
        cmocka_unit_test(test_small_error_buffer_is_safe),
        cmocka_unit_test(test_1024_links_are_accepted),
        cmocka_unit_test(test_1025_links_are_rejected),
        cmocka_unit_test(test_16_attributes_are_accepted),
        cmocka_unit_test(test_17_attributes_are_rejected),
        cmocka_unit_test(test_write_gives_canonical_form),
        cmocka_unit_test(test_write_quotes_values_that_need_it),
        cmocka_unit_test(test_write_reports_full),
        cmocka_unit_test(test_write_refuses_unwritable_links),
        cmocka_unit_test(test_write_empty_list_gives_empty_text),
        cmocka_unit_test(test_round_trip_keeps_every_link),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_settings.c - unit tests of gateway/settings.c, the generic reading under conffile.c:
 * unknown-key hints, type errors, "FILE:LINE: message" problems in file order, unreadable files,
 * syntax errors and @include, hex:/base64: keys. The getters read a libconfig tree, so each test
 * writes a small file into a temporary directory and loads it through conffile_load(). */
#include "conffile_testutil.h"

/* ---- unknown keys and wrong types ---- */

static void test_unknown_key_reports_line_and_hint(void **state)
{
    (void)state;
    fails_with("lwm2m: {\n  lifetime_maxx = 5;\n};\n", 2,
               "unknown key 'lwm2m.lifetime_maxx' (did you mean 'lifetime_max'?)");
    fails_with("mqqt: { };\n", 1, "unknown key 'mqqt' (did you mean 'mqtt'?)");
    fails_with("lwm2m: { life = 5; };\n", 1,
               "unknown key 'lwm2m.life' (did you mean 'lifetime_min'?)");
}

static void test_unknown_key_far_from_any_gets_no_hint(void **state)
{
    (void)state;
    fails_with("mqtt: {\n\n  colour = 1;\n};\n", 3, "unknown key 'mqtt.colour'");
}

static void test_wrong_type_names_key_and_line(void **state)
{
    (void)state;
    fails_with("lwm2m: {\n  lifetime_min = \"30\";\n};\n", 2,
               "lwm2m.lifetime_min must be an integer");
    fails_with("mqtt = 3;\n", 1, "mqtt must be a group { ... }");
    fails_with("observe: { path = \"/3\"; };\n", 1, "observe must be a list ( { ... }, ... )");
    fails_with("observe = ( \"/3\" );\n", 1, "observe[0] must be a group { ... }");
    fails_with("mqtt: { tls: { verify_hostname = 1; }; uri = \"ssl://h\"; };\n", 1,
               "mqtt.tls.verify_hostname must be true or false");
}

/* ---- how problems are collected and sorted ---- */

static void test_every_problem_is_reported_in_file_order(void **state)
{
    struct gw_config cfg;
    struct conffile_problems p = {0};
    (void)state;

    assert_int_equal(load("commands = (\n"
                          "  { topic = \"{prefix}/reboot\"; op = \"reboot\"; path = \"/3/0/4\"; }\n"
                          ");\n"
                          "store: { hold_max = 0; };\n"
                          "mqtt: { qos = 3; };\n"
                          "lwm2m: { lifetime_min = 0; };\n",
                          &cfg, &p),
                     -GW_ERR_INVALID);
    assert_int_equal(p.n, 5);
    snprintf(line, sizeof(line), "%s:2: commands[0].topic must contain {ep}", conf);
    assert_string_equal(p.lines[0], line);
    snprintf(line, sizeof(line), "%s:2: commands[0].op: unknown operation 'reboot'", conf);
    assert_string_equal(p.lines[1], line);
    snprintf(line, sizeof(line), "%s:4: store.hold_max must be between 1 and 4294967295", conf);
    assert_string_equal(p.lines[2], line);
    snprintf(line, sizeof(line), "%s:5: mqtt.qos must be between 0 and 2", conf);
    assert_string_equal(p.lines[3], line);
    snprintf(line, sizeof(line), "%s:6: lwm2m.lifetime_min must be between 1 and 4294967295", conf);
    assert_string_equal(p.lines[4], line);
    conffile_problems_clear(&p);
}

static void test_problems_are_appended_to_earlier_ones(void **state)
{
    struct gw_config cfg;
    struct conffile_problems p = {0};
    (void)state;

    assert_int_equal(load("mqtt: { qos = 3; };\n", &cfg, &p), -GW_ERR_INVALID);
    assert_int_equal(load("mqtt: { qos = 3; keepalive = 1; };\n", &cfg, &p), -GW_ERR_INVALID);
    assert_int_equal(p.n, 3);
    conffile_problems_clear(&p);
    assert_null(p.lines);
    assert_int_equal(p.n, 0);
}

/* ---- opening the file ---- */

static void test_syntax_error_gives_file_line_and_libconfig_text(void **state)
{
    struct gw_config cfg;
    struct conffile_problems p = {0};
    (void)state;

    assert_int_equal(load("mqtt: {\n  qos = ;\n};\n", &cfg, &p), -GW_ERR_INVALID);
    expect_only(&p, 2, "syntax error: syntax error");
    conffile_problems_clear(&p);
}

static void test_unreadable_file_is_io_error(void **state)
{
    struct gw_config cfg;
    struct conffile_problems p = {0};
    char path[sizeof(dir) + 32];
    (void)state;

    snprintf(path, sizeof(path), "%s/missing.conf", dir);
    assert_int_equal(conffile_load(path, &cfg, &p), -GW_ERR_IO);
    assert_int_equal(p.n, 1);
    snprintf(line, sizeof(line), "%s: cannot read: No such file or directory", path);
    assert_string_equal(p.lines[0], line);
    assert_int_equal(conffile_load(dir, &cfg, &p), -GW_ERR_IO);
    snprintf(line, sizeof(line), "%s: cannot read: Is a directory", dir);
    assert_string_equal(p.lines[1], line);
    conffile_problems_clear(&p);
}

static void test_include_is_relative_to_the_main_file_and_named_in_problems(void **state)
{
    struct gw_config cfg;
    struct conffile_problems p = {0};
    char inc[sizeof(dir) + 32];
    (void)state;

    snprintf(inc, sizeof(inc), "%s/extra.conf", dir);
    write_file(inc, "\nmqtt: { qoss = 1; };\n");
    assert_int_equal(load("store: { hold_max = 5; };\n@include \"extra.conf\"\n", &cfg, &p),
                     -GW_ERR_INVALID);
    assert_int_equal(p.n, 1);
    snprintf(line, sizeof(line), "%s:2: unknown key 'mqtt.qoss' (did you mean 'qos'?)", inc);
    assert_string_equal(p.lines[0], line);
    conffile_problems_clear(&p);
}

/* ---- hex: and base64: keys ---- */

static void test_psk_keys_decode_from_hex_base64_or_plain_text(void **state)
{
    struct gw_config cfg;
    (void)state;

    loads("lwm2m: {\n"
          "  listen = [ \"coaps://[::]:5684\" ];\n"
          "  security: {\n"
          "    allow_nosec = false;\n"
          "    psk = ( { endpoint = \"dev-1\"; identity = \"id-1\"; key = \"hex:00A1ff\"; },\n"
          "            { endpoint = \"dev-2\"; identity = \"id-2\"; key = \"base64:AAEC/w==\"; },\n"
          "            { endpoint = \"dev-3\"; identity = \"id-3\"; key = \"base64:AAEC\"; },\n"
          "            { endpoint = \"dev-4\"; identity = \"id-4\"; key = \"secret\"; } );\n"
          "  };\n"
          "};\n",
          &cfg);
    assert_int_equal(cfg.lwm2m.security.n_psk, 4);
    assert_false(cfg.lwm2m.security.allow_nosec);
    assert_string_equal(cfg.lwm2m.security.psk[0].endpoint, "dev-1");
    assert_string_equal(cfg.lwm2m.security.psk[0].identity, "id-1");
    assert_int_equal(cfg.lwm2m.security.psk[0].key_len, 3);
    assert_memory_equal(cfg.lwm2m.security.psk[0].key, "\x00\xa1\xff", 3);
    assert_int_equal(cfg.lwm2m.security.psk[1].key_len, 4);
    assert_memory_equal(cfg.lwm2m.security.psk[1].key, "\x00\x01\x02\xff", 4);
    assert_int_equal(cfg.lwm2m.security.psk[2].key_len, 3);
    assert_memory_equal(cfg.lwm2m.security.psk[2].key, "\x00\x01\x02", 3);
    assert_int_equal(cfg.lwm2m.security.psk[3].key_len, 6);
    assert_memory_equal(cfg.lwm2m.security.psk[3].key, "secret", 6);
    conffile_clear(&cfg);
}

static void test_bad_psk_key_is_reported_without_the_key(void **state)
{
    struct gw_config cfg;
    struct conffile_problems p = {0};
    (void)state;

    assert_int_equal(load("lwm2m: { security: { psk = (\n"
                          "  { endpoint = \"a\"; identity = \"a\"; key = \"hex:5EC2E7A\"; },\n"
                          "  { endpoint = \"b\"; identity = \"b\"; key = \"hex:5EC2E7zz\"; },\n"
                          "  { endpoint = \"c\"; identity = \"c\"; key = \"base64:5EC*E7==\"; },\n"
                          "  { endpoint = \"d\"; identity = \"d\"; key = \"hex:\"; },\n"
                          "  { endpoint = \"e\"; identity = \"e\"; key = \"\"; },\n"
                          "  { endpoint = \"f\"; identity = \"f\"; }\n"
                          "); }; };\n",
                          &cfg, &p),
                     -GW_ERR_INVALID);
    assert_int_equal(p.n, 6);
    assert_false(any_contains(&p, "5EC2E7"));
    assert_false(any_contains(&p, "5EC*"));
    assert_true(strstr(p.lines[0], ":2: lwm2m.security.psk[0].key: hex: needs an even"));
    assert_true(strstr(p.lines[1], ":3: lwm2m.security.psk[1].key: hex: has a character"));
    assert_true(strstr(p.lines[2], ":4: lwm2m.security.psk[2].key: base64: is not valid"));
    assert_true(strstr(p.lines[3], ":5: lwm2m.security.psk[3].key: hex: needs an even"));
    assert_true(strstr(p.lines[4], ":6: lwm2m.security.psk[4].key must not be empty"));
    assert_true(strstr(p.lines[5], ":7: lwm2m.security.psk[5].key is required"));
    conffile_problems_clear(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_key_reports_line_and_hint),
        cmocka_unit_test(test_unknown_key_far_from_any_gets_no_hint),
        cmocka_unit_test(test_wrong_type_names_key_and_line),
        cmocka_unit_test(test_every_problem_is_reported_in_file_order),
        cmocka_unit_test(test_problems_are_appended_to_earlier_ones),
        cmocka_unit_test(test_syntax_error_gives_file_line_and_libconfig_text),
        cmocka_unit_test(test_unreadable_file_is_io_error),
        cmocka_unit_test(test_include_is_relative_to_the_main_file_and_named_in_problems),
        cmocka_unit_test(test_psk_keys_decode_from_hex_base64_or_plain_text),
        cmocka_unit_test(test_bad_psk_key_is_reported_without_the_key),
    };
    return cmocka_run_group_tests(tests, conffile_test_setup, conffile_test_teardown);
}

/* test_rules.c - unit tests of mappings/rules.c: LwM2M path syntax, topic templates, the names
 * of operations and payload kinds, and freeing the rules of a configuration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gw.h"
#include "mappings.h"

static char err[256];

static int path_ok(const char *path, unsigned flags)
{
    err[0] = '\0';
    return mappings_check_path(path, flags, err, sizeof(err)) == GW_OK;
}

/* Asserts that `path` is refused under `flags` with exactly `why` as the reason. */
static void path_fails(const char *path, unsigned flags, const char *why)
{
    err[0] = '\0';
    assert_int_equal(mappings_check_path(path, flags, err, sizeof(err)), -GW_ERR_INVALID);
    assert_string_equal(err, why);
}

static void template_fails(const char *tmpl, const char *why)
{
    err[0] = '\0';
    assert_int_equal(mappings_check_template(tmpl, err, sizeof(err)), -GW_ERR_INVALID);
    assert_string_equal(err, why);
}

static void test_path_accepts_every_depth(void **state)
{
    (void)state;
    assert_true(path_ok("/3", 0));
    assert_true(path_ok("/3/0", 0));
    assert_true(path_ok("/3/0/13", 0));
    assert_true(path_ok("/3/0/7/1", 0));
    assert_true(path_ok("/0/0/0/0", 0));
    assert_true(path_ok("/65535/65534/65535/65535", 0));
}

static void test_path_level_that_is_not_a_number_is_named(void **state)
{
    (void)state;
    path_fails("/3/x", 0, "'/3/x' level 2 is not a number");
    path_fails("/3/0/+1", 0, "'/3/0/+1' level 3 is not a number");
    path_fails("/3/-1", 0, "'/3/-1' level 2 is not a number");
    path_fails("/1a", 0, "'/1a' level 1 is not a number");
    path_fails("/3/0/1 ", 0, "'/3/0/1 ' level 3 is not a number");
}

static void test_path_with_leading_zero_is_refused(void **state)
{
    (void)state;
    path_fails("/03", 0, "'/03' level 1 has a leading zero");
    path_fails("/3/00", 0, "'/3/00' level 2 has a leading zero");
    assert_true(path_ok("/3/0", 0));
}

static void test_path_ids_above_65535_are_refused(void **state)
{
    (void)state;
    path_fails("/65536", 0, "'/65536' level 1: object id must be 0-65535");
    path_fails("/3/0/70000", 0, "'/3/0/70000' level 3: resource id must be 0-65535");
    path_fails("/3/0/1/999999", 0, "'/3/0/1/999999' level 4: resource instance id must be 0-65535");
}

static void test_path_instance_65535_is_reserved(void **state)
{
    (void)state;
    path_fails("/3/65535", 0, "'/3/65535' level 2: instance id 65535 is reserved");
    assert_true(path_ok("/3/0/65535", 0));
}

static void test_path_empty_or_malformed_levels_are_refused(void **state)
{
    (void)state;
    path_fails(NULL, 0, "path is empty");
    path_fails("", 0, "path is empty");
    path_fails("/", 0, "'/' has no object id");
    path_fails("3/0", 0, "'3/0' must start with '/'");
    path_fails("/3//0", 0, "'/3//0' level 2 is empty");
    path_fails("/3/", 0, "'/3/' must not end with '/'");
    path_fails("/3/0/1/2/3", 0, "'/3/0/1/2/3' has more than 4 levels");
}

static void test_path_wildcard_needs_flag_and_not_the_object_level(void **state)
{
    (void)state;
    assert_true(path_ok("/3303/*/5700", GW_PATH_WILDCARD));
    assert_true(path_ok("/3303/*/*/*", GW_PATH_WILDCARD));
    path_fails("/3303/*/5700", 0, "'/3303/*/5700' level 2: '*' is not allowed here");
    path_fails("/*", GW_PATH_WILDCARD, "'/*' level 1: the object id cannot be '*'");
    path_fails("/3/*0", GW_PATH_WILDCARD, "'/3/*0' level 2 is not a number");
}

static void test_path_variables_only_at_their_own_level(void **state)
{
    (void)state;
    assert_true(path_ok("/3308/{iid}/5900", GW_PATH_VARS));
    assert_true(path_ok("/3/{iid}/{rid}/{riid}", GW_PATH_VARS));
    path_fails("/3308/{iid}/5900", 0, "'/3308/{iid}/5900' level 2: variables are not allowed here");
    path_fails("/3/{rid}", GW_PATH_VARS, "'/3/{rid}' level 2 may only be the variable {iid}");
    path_fails("/3/0/{foo}", GW_PATH_VARS, "'/3/0/{foo}' level 3 may only be the variable {rid}");
    path_fails("/{iid}", GW_PATH_VARS, "'/{iid}' level 1: the object id cannot be a variable");
    path_fails("/3/{iid}x", GW_PATH_VARS, "'/3/{iid}x' level 2 may only be the variable {iid}");
    path_fails("/3/*", GW_PATH_VARS, "'/3/*' level 2: '*' is not allowed here");
}

static void test_path_reason_is_truncated_to_the_buffer(void **state)
{
    char small[8];
    (void)state;
    memset(small, 'x', sizeof(small));
    assert_int_equal(mappings_check_path("/3/x", 0, small, sizeof(small)), -GW_ERR_INVALID);
    assert_int_equal(strlen(small), sizeof(small) - 1);
    assert_int_equal(mappings_check_path("/3/x", 0, NULL, 0), -GW_ERR_INVALID);
    assert_int_equal(mappings_check_path("/3/0", 0, NULL, 0), GW_OK);
}

static void test_template_accepts_every_variable(void **state)
{
    (void)state;
    assert_int_equal(
        mappings_check_template("{prefix}/{ep}/{oid}/{iid}/{rid}/{riid}", err, sizeof(err)), GW_OK);
    assert_int_equal(mappings_check_template("{prefix}/{ep}/{object}/{resource}", err, sizeof(err)),
                     GW_OK);
    assert_int_equal(mappings_check_template("plant-{ep}_x/temp", err, sizeof(err)), GW_OK);
    assert_int_equal(mappings_check_template("fixed", err, sizeof(err)), GW_OK);
}

static void test_template_unknown_variable_is_named(void **state)
{
    (void)state;
    template_fails("{prefix}/{foo}", "unknown variable {foo}");
    template_fails("{prefix}/{}", "unknown variable {}");
    template_fails("{EP}", "unknown variable {EP}");
}

static void test_template_unbalanced_braces_are_refused(void **state)
{
    (void)state;
    template_fails("{prefix}/{ep", "unbalanced brace: '{' without '}'");
    template_fails("{prefix}/ep}", "unbalanced brace: '}' without '{'");
    template_fails("{e{p}", "unbalanced brace: '{' without '}'");
    template_fails("{ep/x}", "unbalanced brace: '{' without '}'");
}

static void test_template_mqtt_wildcards_are_refused(void **state)
{
    (void)state;
    template_fails("{prefix}/+/x", "must not contain '+' (an MQTT wildcard)");
    template_fails("{prefix}/#", "must not contain '#' (an MQTT wildcard)");
}

static void test_template_empty_levels_and_leading_slash_are_refused(void **state)
{
    (void)state;
    template_fails("", "topic template is empty");
    template_fails(NULL, "topic template is empty");
    template_fails("/{prefix}/x", "must not start with '/'");
    template_fails("{prefix}//x", "has an empty level");
    template_fails("{prefix}/x/", "has an empty level");
}

static void test_op_names_are_those_of_the_spec(void **state)
{
    static const struct {
        const char *name;
        enum request_op op;
    } ops[] = {
        {"read", GW_OP_READ},
        {"write", GW_OP_WRITE},
        {"execute", GW_OP_EXECUTE},
        {"create", GW_OP_CREATE},
        {"delete", GW_OP_DELETE},
        {"discover", GW_OP_DISCOVER},
        {"write-attributes", GW_OP_WRITE_ATTRIBUTES},
        {"observe", GW_OP_OBSERVE},
        {"cancel-observe", GW_OP_CANCEL_OBSERVE},
        {"read-composite", GW_OP_READ_COMPOSITE},
        {"write-composite", GW_OP_WRITE_COMPOSITE},
        {"observe-composite", GW_OP_OBSERVE_COMPOSITE},
    };
    (void)state;
    for (size_t i = 0; i < GW_ARRAY_LEN(ops); i++) {
        enum request_op op = GW_OP_READ;
        if (ops[i].op == GW_OP_READ)
            op = GW_OP_WRITE;
        assert_int_equal(mappings_parse_op(ops[i].name, &op), GW_OK);
        assert_int_equal(op, ops[i].op);
        assert_string_equal(mappings_op_name(ops[i].op), ops[i].name);
    }
}

static void test_op_parse_refuses_other_spellings(void **state)
{
    enum request_op op = GW_OP_DELETE;
    (void)state;
    assert_int_equal(mappings_parse_op("READ", &op), -GW_ERR_INVALID);
    assert_int_equal(mappings_parse_op("write_attributes", &op), -GW_ERR_INVALID);
    assert_int_equal(mappings_parse_op("cancel", &op), -GW_ERR_INVALID);
    assert_int_equal(mappings_parse_op("", &op), -GW_ERR_INVALID);
    assert_int_equal(mappings_parse_op(NULL, &op), -GW_ERR_INVALID);
    assert_int_equal(op, GW_OP_DELETE);
    assert_string_equal(mappings_op_name((enum request_op)99), "unknown");
}

static void test_payload_names_parse_to_their_kind(void **state)
{
    enum mapping_payload p = GW_PAYLOAD_SENML;
    (void)state;
    assert_int_equal(mappings_parse_payload("json", &p), GW_OK);
    assert_int_equal(p, GW_PAYLOAD_JSON);
    assert_int_equal(mappings_parse_payload("value", &p), GW_OK);
    assert_int_equal(p, GW_PAYLOAD_VALUE);
    assert_int_equal(mappings_parse_payload("instance", &p), GW_OK);
    assert_int_equal(p, GW_PAYLOAD_INSTANCE);
    assert_int_equal(mappings_parse_payload("senml", &p), GW_OK);
    assert_int_equal(p, GW_PAYLOAD_SENML);
    assert_int_equal(mappings_parse_payload("JSON", &p), -GW_ERR_INVALID);
    assert_int_equal(mappings_parse_payload("text", &p), -GW_ERR_INVALID);
    assert_int_equal(mappings_parse_payload(NULL, &p), -GW_ERR_INVALID);
    assert_int_equal(p, GW_PAYLOAD_SENML);
}

static void test_config_clear_frees_every_rule_and_zeroes(void **state)
{
    struct mappings_config cfg = {0}, zero = {0};
    (void)state;

    mappings_config_clear(&cfg); /* harmless on a zeroed struct */
    mappings_config_clear(NULL);
    cfg.observe = calloc(2, sizeof(*cfg.observe));
    cfg.n_observe = 2;
    cfg.observe[0].path = strdup("/3303");
    cfg.observe[1].path = strdup("/3/0/13");
    cfg.observe[1].endpoint = strdup("meter-*");
    cfg.mappings = calloc(1, sizeof(*cfg.mappings));
    cfg.n_mappings = 1;
    cfg.mappings[0].path = strdup("/3303/*/5700");
    cfg.mappings[0].endpoint = strdup("dev-*");
    cfg.mappings[0].topic = strdup("{prefix}/{ep}/t");
    cfg.commands = calloc(1, sizeof(*cfg.commands));
    cfg.n_commands = 1;
    cfg.commands[0].topic = strdup("{prefix}/{ep}/reboot");
    cfg.commands[0].path = strdup("/3/0/4");
    cfg.commands[0].format = strdup("text");

    mappings_config_clear(&cfg); /* leaks or double frees show under the sanitizer build */
    assert_memory_equal(&cfg, &zero, sizeof(cfg));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_accepts_every_depth),
        cmocka_unit_test(test_path_level_that_is_not_a_number_is_named),
        cmocka_unit_test(test_path_with_leading_zero_is_refused),
        cmocka_unit_test(test_path_ids_above_65535_are_refused),
        cmocka_unit_test(test_path_instance_65535_is_reserved),
        cmocka_unit_test(test_path_empty_or_malformed_levels_are_refused),
        cmocka_unit_test(test_path_wildcard_needs_flag_and_not_the_object_level),
        cmocka_unit_test(test_path_variables_only_at_their_own_level),
        cmocka_unit_test(test_path_reason_is_truncated_to_the_buffer),
        cmocka_unit_test(test_template_accepts_every_variable),
        cmocka_unit_test(test_template_unknown_variable_is_named),
        cmocka_unit_test(test_template_unbalanced_braces_are_refused),
        cmocka_unit_test(test_template_mqtt_wildcards_are_refused),
        cmocka_unit_test(test_template_empty_levels_and_leading_slash_are_refused),
        cmocka_unit_test(test_op_names_are_those_of_the_spec),
        cmocka_unit_test(test_op_parse_refuses_other_spellings),
        cmocka_unit_test(test_payload_names_parse_to_their_kind),
        cmocka_unit_test(test_config_clear_frees_every_rule_and_zeroes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

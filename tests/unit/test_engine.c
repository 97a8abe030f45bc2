/* test_engine.c - unit tests of mappings/engine.c: compiling the observe and mappings rules
 * (and refusing bad ones with their line), path patterns, endpoint globs, the topic form of
 * model names, and which observations a registration gets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine_internal.h"
#include "gw.h"
#include "mappings.h"

static char err[256];

static struct mapping_rule mapping(const char *path, const char *topic, enum mapping_payload kind)
{
    return (struct mapping_rule){
        .path = (char *)path, .topic = (char *)topic, .payload = kind, .qos = -1, .line = 7};
}

static struct observe_rule observe(const char *path, const char *endpoint)
{
    return (struct observe_rule){
        .path = (char *)path, .endpoint = (char *)endpoint, .pmin = -1, .pmax = -1, .line = 3};
}

/* Asserts that one mapping rule is refused with a reason containing `needle`. */
static void mapping_refused(struct mapping_rule r, const char *needle)
{
    struct mappings_config cfg = {.mappings = &r, .n_mappings = 1};
    err[0] = '\0';
    assert_null(mappings_new(&cfg, "lwm2m", 1, err, sizeof(err)));
    if (!strstr(err, needle))
        fail_msg("err \"%s\" does not contain \"%s\"", err, needle);
}

static bool matches(const char *pattern, const char *path)
{
    struct mapping_rule r = mapping(pattern, "{prefix}/x", GW_PAYLOAD_JSON);
    struct mappings_config cfg = {.mappings = &r, .n_mappings = 1};
    struct mappings *m = mappings_new(&cfg, "lwm2m", 1, err, sizeof(err));
    struct data_path p;
    assert_non_null(m);
    assert_int_equal(data_path_parse(path, strlen(path), &p), GW_OK);
    bool yes = engine_pattern_match(&m->map[0].pattern, &p);
    mappings_free(m);
    return yes;
}

static void test_pattern_matches_its_own_level_and_everything_below(void **state)
{
    (void)state;
    assert_true(matches("/3/0", "/3/0"));
    assert_true(matches("/3/0", "/3/0/9"));
    assert_true(matches("/3/0", "/3/0/7/1"));
    assert_true(matches("/3", "/3/1/2"));
    assert_false(matches("/3/0", "/3/1/9"));
    assert_false(matches("/3/0", "/3"));
    assert_false(matches("/3/0/9", "/3/0"));
    assert_false(matches("/3", "/33/0/9"));
}

static void test_pattern_wildcard_matches_any_one_level(void **state)
{
    (void)state;
    assert_true(matches("/3303/*/5700", "/3303/2/5700"));
    assert_true(matches("/3303/*/5700", "/3303/0/5700/0"));
    assert_false(matches("/3303/*/5700", "/3303/2/5701"));
    assert_false(matches("/3303/*/5700", "/3304/2/5700"));
    assert_true(matches("/3/0/7/*", "/3/0/7/4"));
    assert_false(matches("/3/0/7/*", "/3/0/7"));
}

static void test_endpoint_glob_null_matches_every_device(void **state)
{
    (void)state;
    assert_true(engine_glob_match(NULL, "anything"));
    assert_true(engine_glob_match("meter-*", "meter-17"));
    assert_true(engine_glob_match("meter-?", "meter-1"));
    assert_true(engine_glob_match("[ab]-*", "b-2"));
    assert_false(engine_glob_match("meter-*", "sensor-1"));
    assert_false(engine_glob_match("meter-?", "meter-17"));
}

static void test_name_key_is_lower_snake_case(void **state)
{
    (void)state;
    char k[64];
    assert_int_equal(engine_name_key("Sensor Value", k, sizeof(k)), 12);
    assert_string_equal(k, "sensor_value");
    engine_name_key("On/Off", k, sizeof(k));
    assert_string_equal(k, "on_off");
    engine_name_key("  Latitude (deg) ", k, sizeof(k));
    assert_string_equal(k, "latitude_deg");
    engine_name_key("ExtDevInfo", k, sizeof(k));
    assert_string_equal(k, "extdevinfo");
    engine_name_key("x-axis_Value", k, sizeof(k));
    assert_string_equal(k, "x-axis_value");
    engine_name_key("Température", k, sizeof(k));
    assert_string_equal(k, "temp_rature");
}

static void test_name_key_without_letters_or_name_means_the_id(void **state)
{
    (void)state;
    char k[64];
    assert_int_equal(engine_name_key(NULL, k, sizeof(k)), 0);
    assert_int_equal(engine_name_key("", k, sizeof(k)), 0);
    assert_int_equal(engine_name_key("5700", k, sizeof(k)), 0);
    assert_int_equal(engine_name_key("  ", k, sizeof(k)), 0);
}

static void test_name_key_is_cut_to_the_buffer(void **state)
{
    (void)state;
    char k[6];
    assert_int_equal(engine_name_key("Sensor Value", k, sizeof(k)), 5);
    assert_string_equal(k, "senso");
}

static void test_template_folds_the_prefix_into_literal_text(void **state)
{
    (void)state;
    struct mapping_rule r = mapping("/3", "{prefix}/{ep}/x{prefix}/{iid}", GW_PAYLOAD_JSON);
    struct mappings_config cfg = {.mappings = &r, .n_mappings = 1};
    struct mappings *m = mappings_new(&cfg, "a/b", 1, err, sizeof(err));
    assert_non_null(m);
    const struct engine_template *t = &m->map[0].topic;
    assert_int_equal(t->n, 4);
    assert_int_equal(t->seg[0].var, GW_SEG_TEXT);
    assert_int_equal(t->seg[0].len, 4);
    assert_memory_equal(t->seg[0].text, "a/b/", 4);
    assert_int_equal(t->seg[1].var, GW_SEG_EP);
    assert_int_equal(t->seg[2].var, GW_SEG_TEXT);
    assert_memory_equal(t->seg[2].text, "/xa/b/", 6);
    assert_int_equal(t->seg[3].var, GW_SEG_IID);
    assert_int_equal(t->uses, (1u << GW_SEG_EP) | (1u << GW_SEG_IID));
    mappings_free(m);
}

static void test_mapping_qos_minus_one_takes_the_default(void **state)
{
    (void)state;
    struct mapping_rule r[2] = {mapping("/3", "{prefix}/a", GW_PAYLOAD_JSON),
                                mapping("/4", "{prefix}/b", GW_PAYLOAD_VALUE)};
    r[1].qos = 0;
    r[1].retain = true;
    struct mappings_config cfg = {.mappings = r, .n_mappings = 2};
    struct mappings *m = mappings_new(&cfg, "lwm2m", 2, err, sizeof(err));
    assert_non_null(m);
    assert_int_equal(m->map[0].qos, 2);
    assert_false(m->map[0].retain);
    assert_int_equal(m->map[1].qos, 0);
    assert_true(m->map[1].retain);
    mappings_free(m);
}

static void test_instance_payload_refuses_resource_variables_with_the_line(void **state)
{
    (void)state;
    mapping_refused(mapping("/3/0", "{prefix}/{ep}/{rid}", GW_PAYLOAD_INSTANCE),
                    "line 7: mappings[0].topic: {rid} cannot be used with payload \"instance\"");
    mapping_refused(mapping("/3/0", "{prefix}/{riid}", GW_PAYLOAD_INSTANCE), "{riid}");
    mapping_refused(mapping("/3/0", "{prefix}/{resource}", GW_PAYLOAD_INSTANCE), "{resource}");
}

static void test_bad_rules_are_refused_with_their_line_and_field(void **state)
{
    (void)state;
    mapping_refused(mapping("/3/x", "{prefix}/a", GW_PAYLOAD_JSON),
                    "line 7: mappings[0].path: '/3/x' level 2 is not a number");
    mapping_refused(mapping("/*", "{prefix}/a", GW_PAYLOAD_JSON), "line 7: mappings[0].path:");
    mapping_refused(mapping("/3", "{prefix}/{name}", GW_PAYLOAD_JSON),
                    "line 7: mappings[0].topic: unknown variable {name}");
    mapping_refused(mapping("/3", NULL, GW_PAYLOAD_JSON), "line 7: mappings[0].topic:");
    mapping_refused(mapping(NULL, "{prefix}/a", GW_PAYLOAD_JSON), "line 7: mappings[0].path:");
    struct mapping_rule q = mapping("/3", "{prefix}/a", GW_PAYLOAD_JSON);
    q.qos = 3;
    mapping_refused(q, "line 7: mappings[0].qos must be between 0 and 2");
}

static void test_second_rule_error_names_its_index(void **state)
{
    (void)state;
    struct mapping_rule r[2] = {mapping("/3", "{prefix}/a", GW_PAYLOAD_JSON),
                                mapping("/4", "{prefix}/+", GW_PAYLOAD_JSON)};
    r[1].line = 12;
    struct mappings_config cfg = {.mappings = r, .n_mappings = 2};
    assert_null(mappings_new(&cfg, "lwm2m", 1, err, sizeof(err)));
    assert_non_null(strstr(err, "line 12: mappings[1].topic: must not contain '+'"));
}

/* Asserts that `bad`, the second of two observe rules, is refused with `needle` in the reason. */
static void observe_refused(struct observe_rule bad, const char *needle)
{
    struct observe_rule o[2] = {observe("/3/0", NULL), bad};
    struct mappings_config cfg = {.observe = o, .n_observe = 2};
    err[0] = '\0';
    assert_null(mappings_new(&cfg, "lwm2m", 1, err, sizeof(err)));
    if (!strstr(err, needle))
        fail_msg("err \"%s\" does not contain \"%s\"", err, needle);
}

static void test_bad_observe_rules_are_refused_with_their_line(void **state)
{
    (void)state;
    observe_refused(observe("/3303/*", NULL),
                    "line 3: observe[1].path: '/3303/*' level 2: '*' is not allowed");
    observe_refused(observe("/3/0/7/1", NULL),
                    "observe[1].path: '/3/0/7/1' is deeper than /oid/iid/rid");
    struct observe_rule order = observe("/3/0/13", NULL);
    order.pmin = 60;
    order.pmax = 10;
    observe_refused(order, "observe[1]: pmin 60 is greater than pmax 10");
}

static void test_default_qos_out_of_range_is_refused(void **state)
{
    (void)state;
    struct mappings_config cfg = {0};
    assert_null(mappings_new(&cfg, "lwm2m", 3, err, sizeof(err)));
    assert_non_null(strstr(err, "mqtt.qos"));
}

static void test_empty_configuration_compiles(void **state)
{
    (void)state;
    struct mappings_config cfg = {0};
    struct mappings *m = mappings_new(&cfg, "lwm2m", 0, err, sizeof(err));
    assert_non_null(m);
    assert_int_equal(m->n_map, 0);
    assert_int_equal(m->n_obs, 0);
    mappings_free(m);
    mappings_free(NULL);
}

/* ---- observations ---- */

static struct object_link links[] = {
    {.oid = 1, .iid = 0}, {.oid = 3, .iid = 0}, {.oid = 3303, .iid = 1}, {.oid = 3303, .iid = 2}};

static struct registration device(const char *ep)
{
    struct registration r = {.objects = links, .n_objects = GW_ARRAY_LEN(links)};
    strcpy(r.ep, ep);
    return r;
}

static struct mappings *observing(struct observe_rule *o, size_t n)
{
    struct mappings_config cfg = {.observe = o, .n_observe = n};
    struct mappings *m = mappings_new(&cfg, "lwm2m", 1, err, sizeof(err));
    if (!m)
        fail_msg("mappings_new: %s", err);
    return m;
}

static void test_observations_follow_rule_order_with_attributes(void **state)
{
    (void)state;
    struct observe_rule o[2] = {observe("/3303", NULL), observe("/3/0/13", NULL)};
    o[0].pmin = 10;
    o[0].pmax = 300;
    o[0].has_gt = true;
    o[0].gt = 30.5;
    struct mappings *m = observing(o, 2);
    struct registration reg = device("dev-1");
    struct observe_spec out[4];
    assert_int_equal(mappings_observations(m, &reg, out, 4), 2);
    assert_int_equal(out[0].path.depth, 1);
    assert_int_equal(out[0].path.id[0], 3303);
    assert_int_equal(out[0].pmin, 10);
    assert_int_equal(out[0].pmax, 300);
    assert_true(out[0].has_gt);
    assert_true(out[0].gt == 30.5);
    assert_false(out[0].has_lt);
    assert_false(out[0].has_st);
    assert_int_equal(out[1].path.depth, 3);
    assert_int_equal(out[1].path.id[2], 13);
    assert_int_equal(out[1].pmin, -1);
    assert_int_equal(out[1].pmax, -1);
    mappings_free(m);
}

static void test_device_without_the_object_gets_no_observation(void **state)
{
    (void)state;
    struct observe_rule o[2] = {observe("/3304", NULL), observe("/5/0/3", NULL)};
    struct mappings *m = observing(o, 2);
    struct registration reg = device("dev-1");
    struct observe_spec out[4];
    assert_int_equal(mappings_observations(m, &reg, out, 4), 0);
    mappings_free(m);
}

static void test_observation_endpoint_glob_selects_devices(void **state)
{
    (void)state;
    struct observe_rule o[2] = {observe("/3/0/13", "meter-*"), observe("/1/0/1", NULL)};
    struct mappings *m = observing(o, 2);
    struct registration meter = device("meter-17"), other = device("sensor-1");
    struct observe_spec out[4];
    assert_int_equal(mappings_observations(m, &meter, out, 4), 2);
    assert_int_equal(mappings_observations(m, &other, out, 4), 1);
    assert_int_equal(out[0].path.id[0], 1);
    mappings_free(m);
}

static void test_instance_path_needs_that_instance_or_the_bare_object(void **state)
{
    (void)state;
    struct observe_rule o[3] = {observe("/3303/1", NULL), observe("/3303/0/5700", NULL),
                                observe("/3/0/9", NULL)};
    struct mappings *m = observing(o, 3);
    struct registration reg = device("dev-1");
    struct observe_spec out[4];
    assert_int_equal(mappings_observations(m, &reg, out, 4), 2); /* /3303/0 is not registered */
    assert_int_equal(out[0].path.id[1], 1);
    assert_int_equal(out[1].path.id[0], 3);

    struct object_link bare[] = {{.oid = 3303, .iid = -1}};
    reg.objects = bare;
    reg.n_objects = 1;
    assert_int_equal(mappings_observations(m, &reg, out, 4), 2); /* </3303> covers them all */
    assert_int_equal(out[1].path.id[1], 0);
    mappings_free(m);
}

static void test_observations_count_beyond_capacity(void **state)
{
    (void)state;
    struct observe_rule o[3] = {observe("/1", NULL), observe("/3", NULL), observe("/3303", NULL)};
    struct mappings *m = observing(o, 3);
    struct registration reg = device("dev-1");
    struct observe_spec out[1];
    assert_int_equal(mappings_observations(m, &reg, out, 1), 3);
    assert_int_equal(out[0].path.id[0], 1);
    assert_int_equal(mappings_observations(m, &reg, NULL, 0), 3);
    mappings_free(m);
}

static void test_rules_are_copied_not_borrowed(void **state)
{
    (void)state;
    char *path = strdup("/3/0"), *glob = strdup("dev-*"), *topic = strdup("{prefix}/{ep}/d");
    struct mapping_rule r = mapping(path, topic, GW_PAYLOAD_JSON);
    struct observe_rule o = observe(path, glob);
    r.endpoint = glob;
    struct mappings_config cfg = {.observe = &o, .n_observe = 1, .mappings = &r, .n_mappings = 1};
    struct mappings *m = mappings_new(&cfg, "lwm2m", 1, err, sizeof(err));
    assert_non_null(m);
    free(path);
    free(glob);
    free(topic);
    struct registration reg = device("dev-1");
    struct observe_spec out[1];
    assert_int_equal(mappings_observations(m, &reg, out, 1), 1);
    assert_true(engine_glob_match(m->map[0].endpoint, "dev-9"));
    mappings_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pattern_matches_its_own_level_and_everything_below),
        cmocka_unit_test(test_pattern_wildcard_matches_any_one_level),
        cmocka_unit_test(test_endpoint_glob_null_matches_every_device),
        cmocka_unit_test(test_name_key_is_lower_snake_case),
        cmocka_unit_test(test_name_key_without_letters_or_name_means_the_id),
        cmocka_unit_test(test_name_key_is_cut_to_the_buffer),
        cmocka_unit_test(test_template_folds_the_prefix_into_literal_text),
        cmocka_unit_test(test_mapping_qos_minus_one_takes_the_default),
        cmocka_unit_test(test_instance_payload_refuses_resource_variables_with_the_line),
        cmocka_unit_test(test_bad_rules_are_refused_with_their_line_and_field),
        cmocka_unit_test(test_second_rule_error_names_its_index),
        cmocka_unit_test(test_bad_observe_rules_are_refused_with_their_line),
        cmocka_unit_test(test_default_qos_out_of_range_is_refused),
        cmocka_unit_test(test_empty_configuration_compiles),
        cmocka_unit_test(test_observations_follow_rule_order_with_attributes),
        cmocka_unit_test(test_device_without_the_object_gets_no_observation),
        cmocka_unit_test(test_observation_endpoint_glob_selects_devices),
        cmocka_unit_test(test_instance_path_needs_that_instance_or_the_bare_object),
        cmocka_unit_test(test_observations_count_beyond_capacity),
        cmocka_unit_test(test_rules_are_copied_not_borrowed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

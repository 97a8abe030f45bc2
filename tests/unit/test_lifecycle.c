/* test_lifecycle.c - the lifecycle topics and JSON documents of mappings/lifecycle.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "gw.h"
#include "mappings.h"

static struct object_link objects[] = {
    {.oid = 1, .iid = 0}, {.oid = 3, .iid = 0}, {.oid = 3303, .iid = -1, .ver = "1.1"}};

static struct registration sample(void)
{
    struct registration r = {.ep = "meter-17",
                             .id = "ab12cd34",
                             .lifetime = 300,
                             .lwm2m = "1.1",
                             .binding = "U",
                             .queue_mode = true,
                             .objects = objects,
                             .n_objects = 3,
                             .address = "127.0.0.1:40000",
                             .registered_at = 1732470000000,
                             .updated_at = 1732470005000};
    return r;
}

static json_t *parse(char *text)
{
    assert_non_null(text);
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    free(text);
    assert_non_null(j);
    return j;
}

static void test_device_topic_joins_prefix_ep_and_leaf(void **state)
{
    (void)state;
    char buf[64];
    assert_int_equal(mappings_device_topic("lwm2m", "dev-1", "status", buf, sizeof(buf)), GW_OK);
    assert_string_equal(buf, "lwm2m/dev-1/status");
    assert_int_equal(mappings_device_topic("a/b", "dev-1", NULL, buf, sizeof(buf)), GW_OK);
    assert_string_equal(buf, "a/b/dev-1");
}

static void test_device_topic_that_does_not_fit_is_full(void **state)
{
    (void)state;
    char buf[10];
    assert_int_equal(mappings_device_topic("lwm2m", "dev-1", "status", buf, sizeof(buf)),
                     -GW_ERR_FULL);
}

static void test_registration_document_has_every_field(void **state)
{
    (void)state;
    struct registration r = sample();
    json_t *j = parse(mappings_registration_json(&r));
    assert_string_equal(json_string_value(json_object_get(j, "ep")), "meter-17");
    assert_string_equal(json_string_value(json_object_get(j, "location")), "/rd/ab12cd34");
    assert_int_equal(json_integer_value(json_object_get(j, "lifetime")), 300);
    assert_string_equal(json_string_value(json_object_get(j, "lwm2m")), "1.1");
    assert_string_equal(json_string_value(json_object_get(j, "binding")), "U");
    assert_true(json_is_true(json_object_get(j, "queue_mode")));
    json_t *objs = json_object_get(j, "objects");
    assert_int_equal(json_array_size(objs), 3);
    assert_string_equal(json_string_value(json_array_get(objs, 0)), "/1/0");
    assert_string_equal(json_string_value(json_array_get(objs, 2)), "/3303");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "object_versions"), "3303")), "1.1");
    assert_string_equal(json_string_value(json_object_get(j, "address")), "127.0.0.1:40000");
    assert_true(json_integer_value(json_object_get(j, "registered_at")) == 1732470000000);
    assert_true(json_integer_value(json_object_get(j, "updated_at")) == 1732470005000);
    assert_null(json_object_get(j, "sms"));
    assert_null(json_object_get(j, "root_path"));
    json_decref(j);
}

static void test_registration_document_names_alternate_root_and_sms(void **state)
{
    (void)state;
    struct registration r = sample();
    strcpy(r.root, "/lwm2m");
    strcpy(r.sms, "+15550100");
    json_t *j = parse(mappings_registration_json(&r));
    assert_string_equal(json_string_value(json_object_get(j, "root_path")), "/lwm2m");
    assert_string_equal(json_string_value(json_object_get(j, "sms")), "+15550100");
    json_decref(j);
}

static void test_updated_event_carries_only_what_changed(void **state)
{
    (void)state;
    struct registration r = sample();
    json_t *j = parse(mappings_event_json("updated", &r, GW_CHANGED_LIFETIME, 42));
    assert_string_equal(json_string_value(json_object_get(j, "event")), "updated");
    assert_string_equal(json_string_value(json_object_get(j, "ep")), "meter-17");
    assert_int_equal(json_integer_value(json_object_get(j, "ts")), 42);
    assert_int_equal(json_integer_value(json_object_get(j, "lifetime")), 300);
    assert_null(json_object_get(j, "binding"));
    assert_null(json_object_get(j, "objects"));
    assert_int_equal(json_object_size(j), 4);
    json_decref(j);

    j = parse(mappings_event_json("updated", &r, GW_CHANGED_BINDING | GW_CHANGED_OBJECTS, 43));
    assert_string_equal(json_string_value(json_object_get(j, "binding")), "U");
    assert_true(json_is_true(json_object_get(j, "queue_mode")));
    assert_int_equal(json_array_size(json_object_get(j, "objects")), 3);
    assert_null(json_object_get(j, "lifetime"));
    json_decref(j);
}

static void test_gone_events_name_the_event_and_endpoint_only(void **state)
{
    (void)state;
    struct registration r = sample();
    json_t *j = parse(mappings_event_json("expired", &r, 0, 7));
    assert_string_equal(json_string_value(json_object_get(j, "event")), "expired");
    assert_int_equal(json_object_size(j), 3);
    json_decref(j);
}

static void test_endpoint_with_quotes_is_escaped_json(void **state)
{
    (void)state;
    struct registration r = sample();
    strcpy(r.ep, "a\"b\\c");
    json_t *j = parse(mappings_registration_json(&r));
    assert_string_equal(json_string_value(json_object_get(j, "ep")), "a\"b\\c");
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_device_topic_joins_prefix_ep_and_leaf),
        cmocka_unit_test(test_device_topic_that_does_not_fit_is_full),
        cmocka_unit_test(test_registration_document_has_every_field),
        cmocka_unit_test(test_registration_document_names_alternate_root_and_sms),
        cmocka_unit_test(test_updated_event_carries_only_what_changed),
        cmocka_unit_test(test_gone_events_name_the_event_and_endpoint_only),
        cmocka_unit_test(test_endpoint_with_quotes_is_escaped_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_model.c - the object model of gateway/lwm2m/model.c: the built-in objects, the DDF XML
 * loader with its FILE:LINE errors, replacement of objects, directory loading, and the whole
 * OMA registry copy in ../shared/lwm2m-registry (loaded without a single error, and used to
 * prove that the built-in table says what the registry says). */
#include <dirent.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "data.h"
#include "gw.h"
#include "model.h"

#define REGISTRY GW_SOURCE_DIR "/../shared/lwm2m-registry"

static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    log_set_level(GW_LOG_WARN); /* "object-replaced" lines would drown the test output */
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_model.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    (void)state;
    return nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes `text` to tmpdir/name and returns the path (static buffer, one at a time). */
static const char *write_file(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
    return path;
}

/* The 1-based line of `text` holding the first occurrence of `needle`. */
static unsigned long line_of(const char *text, const char *needle)
{
    const char *at = strstr(text, needle);
    assert_non_null(at);
    unsigned long line = 1;
    for (const char *p = text; p < at; p++)
        line += *p == '\n';
    return line;
}

/* Asserts that `err` reads "PATH:LINE: ..." and mentions `reason`. */
static void assert_error_at(const char *err, const char *path, unsigned long line,
                            const char *reason)
{
    char prefix[320];
    snprintf(prefix, sizeof(prefix), "%s:%lu: ", path, line);
    if (strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err, reason))
        fail_msg("error \"%s\" is not \"%s...%s...\"", err, prefix, reason);
}

static const struct model_resource *resource(const struct model *m, uint16_t oid, uint16_t rid)
{
    const struct model_resource *r = model_resource(m, oid, rid);
    if (!r)
        print_message("no resource /%u/x/%u\n", oid, rid);
    assert_non_null(r);
    return r;
}

/* ---- built-in objects ---- */

static void test_builtin_model_has_core_and_ipso_objects(void **state)
{
    (void)state;
    static const uint16_t required[] = {0,    1,    2,    3,    4,    5,    6,    7,    3200,
                                        3201, 3202, 3203, 3300, 3301, 3303, 3304, 3306, 3308,
                                        3311, 3312, 3313, 3315, 3316, 3317, 3320, 3323, 3328,
                                        3331, 3336, 3340, 3341, 3342, 3347, 3348};
    struct model *m = model_new();
    assert_non_null(m);
    for (size_t i = 0; i < GW_ARRAY_LEN(required); i++) {
        const struct model_object *o = model_object(m, required[i]);
        if (!o) {
            fail_msg("object %u is not built in", required[i]);
            return;
        }
        assert_int_equal(o->oid, required[i]);
        assert_true(o->n_resources > 0);
    }
    assert_int_equal(model_count(m), GW_ARRAY_LEN(required));
    assert_string_equal(model_object(m, 3)->name, "Device");
    assert_string_equal(model_object(m, 3303)->name, "Temperature");
    assert_false(model_object(m, 3)->multiple);
    assert_true(model_object(m, 3303)->multiple);
    model_free(m);
}

static void test_device_battery_level_is_read_only_integer(void **state)
{
    (void)state;
    struct model *m = model_new();
    const struct model_resource *r = resource(m, 3, 9);
    assert_string_equal(r->name, "Battery Level");
    assert_int_equal(r->type, GW_TYPE_INTEGER);
    assert_int_equal(r->ops, GW_OP_R);
    assert_false(r->multiple);
    assert_false(r->mandatory);
    assert_string_equal(r->units, "/100"); /* the registry's 1.2 Device object: "/100", not "%" */
    model_free(m);
}

static void test_temperature_sensor_value_is_mandatory_float(void **state)
{
    (void)state;
    struct model *m = model_new();
    const struct model_resource *r = resource(m, 3303, 5700);
    assert_string_equal(r->name, "Sensor Value");
    assert_int_equal(r->type, GW_TYPE_FLOAT);
    assert_int_equal(r->ops, GW_OP_R);
    assert_true(r->mandatory);
    assert_string_equal(resource(m, 3303, 5701)->name, "Sensor Units");
    model_free(m);
}

static void test_reboot_is_execute_without_type(void **state)
{
    (void)state;
    struct model *m = model_new();
    const struct model_resource *r = resource(m, 3, 4);
    assert_string_equal(r->name, "Reboot");
    assert_int_equal(r->type, GW_TYPE_NONE);
    assert_int_equal(r->ops, GW_OP_E);
    assert_true(r->mandatory);
    model_free(m);
}

static void test_server_lifetime_is_rw_integer_in_seconds(void **state)
{
    (void)state;
    struct model *m = model_new();
    const struct model_resource *r = resource(m, 1, 1);
    assert_string_equal(r->name, "Lifetime");
    assert_int_equal(r->type, GW_TYPE_INTEGER);
    assert_int_equal(r->ops, GW_OP_R | GW_OP_W);
    assert_string_equal(r->units, "s");
    model_free(m);
}

static void test_firmware_package_is_write_only_opaque(void **state)
{
    (void)state;
    struct model *m = model_new();
    const struct model_resource *r = resource(m, 5, 0);
    assert_string_equal(r->name, "Package");
    assert_int_equal(r->type, GW_TYPE_OPAQUE);
    assert_int_equal(r->ops, GW_OP_W);
    model_free(m);
}

static void test_builtin_resources_are_sorted_and_each_is_found(void **state)
{
    (void)state;
    struct model *m = model_new();
    size_t seen = 0;
    for (unsigned oid = 0; oid <= UINT16_MAX; oid++) {
        const struct model_object *o = model_object(m, (uint16_t)oid);
        if (!o)
            continue;
        seen++;
        for (size_t i = 0; i < o->n_resources; i++) {
            const struct model_resource *r = &o->resources[i];
            if (i > 0)
                assert_true(o->resources[i - 1].id < r->id);
            assert_ptr_equal(model_resource(m, o->oid, r->id), r);
            assert_non_null(r->name);
            assert_non_null(r->units);
        }
    }
    assert_int_equal(seen, model_count(m));
    model_free(m);
}

static void test_model_type_follows_resource_and_instance_paths(void **state)
{
    (void)state;
    struct model *m = model_new();
    struct data_path p = data_path_make(3, 3, 0, 9);
    assert_int_equal(model_type(m, &p), GW_TYPE_INTEGER);
    p = data_path_make(4, 3, 0, 7, 1); /* Power Source Voltage, a multiple resource */
    assert_int_equal(model_type(m, &p), GW_TYPE_INTEGER);
    assert_true(resource(m, 3, 7)->multiple);
    p = data_path_make(3, 3303, 2, 5700);
    assert_int_equal(model_type(m, &p), GW_TYPE_FLOAT);
    p = data_path_make(2, 3, 0);
    assert_int_equal(model_type(m, &p), GW_TYPE_NONE);
    p = data_path_make(3, 3, 0, 9999);
    assert_int_equal(model_type(m, &p), GW_TYPE_NONE);
    p = data_path_make(3, 65000, 0, 1);
    assert_int_equal(model_type(m, &p), GW_TYPE_NONE);
    model_free(m);
}

static void test_unknown_object_and_resource_are_null(void **state)
{
    (void)state;
    struct model *m = model_new();
    assert_null(model_object(m, 65535));
    assert_null(model_object(m, 8));
    assert_null(model_resource(m, 3303, 1));
    assert_null(model_resource(m, 40000, 1));
    model_free(m);
    model_free(NULL);
}

/* ---- loading DDF files ---- */

static const char valid_ddf[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<!-- a comment -->\n"
    "<LWM2M xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n"
    "  <Object ObjectType=\"MODefinition\">\n"
    "    <Name>Test Meter</Name>\n"
    "    <Description1><![CDATA[Not kept <b>at all</b>]]></Description1>\n"
    "    <ObjectID> 40000 </ObjectID>\n"
    "    <ObjectURN>urn:oma:lwm2m:x:40000</ObjectURN>\n"
    "    <LWM2MVersion>1.1</LWM2MVersion>\n"
    "    <MultipleInstances>Multiple</MultipleInstances>\n"
    "    <Mandatory>Optional</Mandatory>\n"
    "    <Resources>\n"
    "      <Item ID=\"7\"><Name>Reset</Name><Operations>E</Operations>\n"
    "        <MultipleInstances>Single</MultipleInstances><Mandatory>Mandatory</Mandatory>\n"
    "        <Type></Type><RangeEnumeration></RangeEnumeration><Units></Units></Item>\n"
    "      <Item ID=\"2\"><Name>Readings</Name><Operations>R</Operations>\n"
    "        <MultipleInstances>Multiple</MultipleInstances><Mandatory>Optional</Mandatory>\n"
    "        <Type>Unsigned Integer</Type><Units>\n        kWh\n      </Units>\n"
    "        <Description>ignored <i>nested</i></Description></Item>\n"
    "      <Item ID=\"0\"><Name><![CDATA[Label & Tag]]></Name><Operations>RW</Operations>\n"
    "        <Type>String</Type></Item>\n"
    "    </Resources>\n"
    "    <Description2></Description2>\n"
    "  </Object>\n"
    "</LWM2M>\n";

static void test_valid_ddf_file_adds_an_object(void **state)
{
    (void)state;
    struct model *m = model_new();
    size_t before = model_count(m);
    char err[512];
    assert_int_equal(model_load_file(m, write_file("meter.xml", valid_ddf), err, sizeof(err)),
                     GW_OK);
    assert_int_equal(model_count(m), before + 1);
    const struct model_object *o = model_object(m, 40000);
    assert_non_null(o);
    assert_string_equal(o->name, "Test Meter");
    assert_string_equal(o->version, "1.0"); /* no ObjectVersion: the default */
    assert_string_equal(o->urn, "urn:oma:lwm2m:x:40000");
    assert_true(o->multiple);
    assert_false(o->mandatory);
    assert_int_equal(o->n_resources, 3);
    assert_int_equal(o->resources[0].id, 0); /* sorted, though the file lists 7, 2, 0 */
    assert_int_equal(o->resources[1].id, 2);
    assert_int_equal(o->resources[2].id, 7);

    const struct model_resource *r = resource(m, 40000, 0);
    assert_string_equal(r->name, "Label & Tag");
    assert_int_equal(r->type, GW_TYPE_STRING);
    assert_int_equal(r->ops, GW_OP_R | GW_OP_W);
    assert_false(r->multiple); /* absent: Single */
    assert_false(r->mandatory);
    assert_string_equal(r->units, "");
    r = resource(m, 40000, 2);
    assert_int_equal(r->type, GW_TYPE_UNSIGNED);
    assert_true(r->multiple);
    assert_string_equal(r->units, "kWh"); /* whitespace trimmed */
    r = resource(m, 40000, 7);
    assert_int_equal(r->type, GW_TYPE_NONE);
    assert_int_equal(r->ops, GW_OP_E);
    assert_true(r->mandatory);
    model_free(m);
}

static void test_file_with_two_objects_loads_both(void **state)
{
    (void)state;
    static const char text[] = "<LWM2M>\n"
                               "<Object><ObjectID>40001</ObjectID><Name>A</Name></Object>\n"
                               "<Object><ObjectID>40002</ObjectID><Name>B</Name>\n"
                               "<ObjectVersion>2.0</ObjectVersion></Object>\n"
                               "</LWM2M>\n";
    struct model *m = model_new();
    char err[512];
    assert_int_equal(model_load_file(m, write_file("two.xml", text), err, sizeof(err)), GW_OK);
    assert_string_equal(model_object(m, 40001)->name, "A");
    assert_int_equal(model_object(m, 40001)->n_resources, 0);
    assert_string_equal(model_object(m, 40002)->version, "2.0");
    model_free(m);
}

static void test_loaded_object_replaces_builtin(void **state)
{
    (void)state;
    static const char text[] = "<LWM2M><Object ObjectType=\"MODefinition\">\n"
                               "<Name>My Temperature</Name><ObjectID>3303</ObjectID>\n"
                               "<ObjectVersion>9.9</ObjectVersion>\n"
                               "<Resources><Item ID=\"5700\"><Name>Reading</Name>\n"
                               "<Operations>R</Operations><Type>Integer</Type>\n"
                               "<Units>Cel</Units></Item></Resources>\n"
                               "</Object></LWM2M>\n";
    struct model *m = model_new();
    size_t before = model_count(m);
    char err[512];
    assert_int_equal(model_load_file(m, write_file("3303.xml", text), err, sizeof(err)), GW_OK);
    assert_int_equal(model_count(m), before);
    const struct model_object *o = model_object(m, 3303);
    assert_string_equal(o->name, "My Temperature");
    assert_string_equal(o->version, "9.9");
    assert_int_equal(o->n_resources, 1);
    assert_int_equal(resource(m, 3303, 5700)->type, GW_TYPE_INTEGER);
    assert_null(model_resource(m, 3303, 5701));

    /* and a later file replaces the loaded one */
    static const char again[] = "<LWM2M><Object><Name>Again</Name><ObjectID>3303</ObjectID>"
                                "</Object></LWM2M>";
    assert_int_equal(model_load_file(m, write_file("3303b.xml", again), err, sizeof(err)), GW_OK);
    assert_string_equal(model_object(m, 3303)->name, "Again");
    assert_int_equal(model_count(m), before);
    model_free(m);
}

/* Loads `text` as NAME and asserts the error: -GW_ERR_INVALID, at the line holding `at`,
 * giving `reason`; and that the model did not change. */
static void assert_load_fails(const char *name, const char *text, const char *at,
                              const char *reason)
{
    struct model *m = model_new();
    size_t before = model_count(m);
    const struct model_object *temp = model_object(m, 3303);
    char err[512];
    const char *path = write_file(name, text);
    char saved[256];
    snprintf(saved, sizeof(saved), "%s", path);
    assert_int_equal(model_load_file(m, saved, err, sizeof(err)), -GW_ERR_INVALID);
    assert_error_at(err, saved, line_of(text, at), reason);
    assert_int_equal(model_count(m), before);
    assert_ptr_equal(model_object(m, 3303), temp);
    assert_null(model_object(m, 40000));
    model_free(m);
}

static void test_malformed_xml_is_reported_with_its_line(void **state)
{
    (void)state;
    assert_load_fails("bad.xml",
                      "<?xml version=\"1.0\"?>\n<LWM2M>\n<Object>\n"
                      "<ObjectID>40000</ObjectId>\n</Object>\n</LWM2M>\n",
                      "</ObjectId>", "malformed XML: mismatched tag");
    assert_load_fails("truncated.xml", "<LWM2M>\n<Object>\n<ObjectID>40000</ObjectID>",
                      "<ObjectID>", "malformed XML: no element found"); /* at the end */
    assert_load_fails("empty.xml", "", "", "malformed XML: no element found");
}

static void test_missing_object_id_is_reported_at_the_object(void **state)
{
    (void)state;
    assert_load_fails("noid.xml",
                      "<LWM2M>\n  <Object ObjectType=\"MODefinition\">\n    <Name>X</Name>\n"
                      "  </Object>\n</LWM2M>\n",
                      "<Object", "without an ObjectID");
}

static void test_bad_object_id_is_rejected(void **state)
{
    (void)state;
    assert_load_fails("big.xml", "<LWM2M>\n<Object>\n<ObjectID>65536</ObjectID></Object></LWM2M>",
                      "<ObjectID>", "bad ObjectID \"65536\"");
    assert_load_fails("neg.xml", "<LWM2M>\n<Object>\n<ObjectID>-1</ObjectID></Object></LWM2M>",
                      "<ObjectID>", "bad ObjectID");
    assert_load_fails("text.xml", "<LWM2M>\n<Object>\n<ObjectID>3x</ObjectID></Object></LWM2M>",
                      "<ObjectID>", "bad ObjectID");
}

static const char bad_item_ddf[] = "<LWM2M>\n<Object><ObjectID>40000</ObjectID>\n<Resources>\n"
                                   "<Item ID=\"1\"><Type>Integer</Type></Item>\n"
                                   "%s\n"
                                   "</Resources></Object></LWM2M>\n";

static void assert_bad_item(const char *item, const char *at, const char *reason)
{
    char text[1024];
    snprintf(text, sizeof(text), bad_item_ddf, item);
    assert_load_fails("item.xml", text, at, reason);
}

static void test_unknown_type_is_reported_with_its_line(void **state)
{
    (void)state;
    assert_bad_item("<Item ID=\"2\"><Name>x</Name>\n<Type>Decimal</Type></Item>", "Decimal",
                    "resource 2: unknown Type \"Decimal\"");
}

static void test_unknown_operations_are_reported_with_their_line(void **state)
{
    (void)state;
    assert_bad_item("<Item ID=\"3\">\n<Operations>RX</Operations></Item>", "RX",
                    "resource 3: unknown Operations \"RX\"");
}

static void test_duplicate_resource_id_is_reported_at_the_second_item(void **state)
{
    (void)state;
    assert_bad_item("<Item ID=\"1\"><Type>String</Type></Item>", "String",
                    "duplicate resource ID 1");
}

static void test_item_without_valid_id_is_rejected(void **state)
{
    (void)state;
    assert_bad_item("<Item><Type>String</Type></Item>", "String", "<Item> without a valid ID");
    assert_bad_item("<Item ID=\"70000\"/>", "70000", "without a valid ID (0..65535): \"70000\"");
    assert_bad_item("<Item ID=\"\"/>", "ID=\"\"", "without a valid ID");
}

static void test_bad_multiplicity_is_rejected(void **state)
{
    (void)state;
    assert_bad_item("<Item ID=\"4\">\n<MultipleInstances>Many</MultipleInstances></Item>", "Many",
                    "bad MultipleInstances \"Many\"");
    assert_bad_item("<Item ID=\"4\">\n<Mandatory>Yes</Mandatory></Item>", "Yes",
                    "bad Mandatory \"Yes\"");
}

static void test_file_without_object_is_rejected(void **state)
{
    (void)state;
    assert_load_fails("none.xml", "<?xml version=\"1.0\"?>\n\n<LWM2M>\n</LWM2M>\n", "<LWM2M>",
                      "no <Object> element");
    assert_load_fails("other.xml", "<?xml version=\"1.0\"?>\n<Objects>\n</Objects>\n", "<Objects>",
                      "root element is <Objects>, not <LWM2M>");
}

static void test_same_object_twice_in_a_file_is_rejected(void **state)
{
    (void)state;
    assert_load_fails("twice.xml",
                      "<LWM2M>\n<Object><ObjectID>40000</ObjectID></Object>\n"
                      "<Object ObjectType=\"MODefinition\"><ObjectID>40000</ObjectID></Object>\n"
                      "</LWM2M>\n",
                      "<Object ObjectType", "ObjectID 40000 defined twice");
}

static void test_entity_declarations_are_rejected(void **state)
{
    (void)state;
    /* the first step of a billion-laughs document */
    assert_load_fails("lol.xml",
                      "<?xml version=\"1.0\"?>\n<!DOCTYPE LWM2M [\n"
                      "  <!ENTITY lol \"lol\">\n"
                      "  <!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n]>\n"
                      "<LWM2M><Object><ObjectID>40000</ObjectID><Name>&lol2;</Name></Object>"
                      "</LWM2M>\n",
                      "<!ENTITY lol ", "entity declarations are not allowed");
}

static void test_failing_file_leaves_the_model_unchanged(void **state)
{
    (void)state;
    /* a valid replacement of 3303 and a new 40000 come first; the third object fails */
    assert_load_fails("partial.xml",
                      "<LWM2M>\n<Object><ObjectID>3303</ObjectID><Name>T</Name></Object>\n"
                      "<Object><ObjectID>40000</ObjectID></Object>\n"
                      "<Object><ObjectID>40001</ObjectID><Resources>\n"
                      "<Item ID=\"1\"><Type>Float</Type></Item>\n"
                      "<Item ID=\"2\"><Type>Real</Type></Item>\n"
                      "</Resources></Object></LWM2M>\n",
                      "Real", "unknown Type");
}

static void test_oversized_file_is_rejected(void **state)
{
    (void)state;
    size_t size = (4u << 20) + 100;
    char *text = malloc(size + 1);
    assert_non_null(text);
    memset(text, ' ', size);
    memcpy(text, "<LWM2M>", 7);
    text[size] = '\0';
    struct model *m = model_new();
    char err[512];
    const char *path = write_file("huge.xml", text);
    assert_int_equal(model_load_file(m, path, err, sizeof(err)), -GW_ERR_INVALID);
    assert_non_null(strstr(err, "file is larger than"));
    model_free(m);
    free(text);
}

static void test_overlong_text_is_cut_at_4096_bytes(void **state)
{
    (void)state;
    size_t long_len = 10000;
    char *text = malloc(long_len + 256);
    assert_non_null(text);
    int n = sprintf(text, "<LWM2M><Object><ObjectID>40000</ObjectID><Name>");
    memset(text + n, 'a', long_len);
    strcpy(text + (size_t)n + long_len, "</Name></Object></LWM2M>");
    struct model *m = model_new();
    char err[512];
    assert_int_equal(model_load_file(m, write_file("long.xml", text), err, sizeof(err)), GW_OK);
    assert_int_equal(strlen(model_object(m, 40000)->name), 4096);
    model_free(m);
    free(text);
}

static void test_missing_file_is_an_io_error(void **state)
{
    (void)state;
    struct model *m = model_new();
    char err[512];
    char path[256];
    snprintf(path, sizeof(path), "%s/does-not-exist.xml", tmpdir);
    assert_int_equal(model_load_file(m, path, err, sizeof(err)), -GW_ERR_IO);
    assert_non_null(strstr(err, "does-not-exist.xml"));
    model_free(m);
}

static void test_load_dir_skips_a_bad_file_and_loads_the_rest(void **state)
{
    (void)state;
    char dir[128], path[256];
    snprintf(dir, sizeof(dir), "%s/objects", tmpdir);
    assert_int_equal(mkdir(dir, 0700), 0);
    static const char *const files[][2] = {
        {"a.xml", "<LWM2M><Object><ObjectID>40010</ObjectID></Object></LWM2M>"},
        {"b.xml", "<LWM2M><Object><ObjectID>40011</ObjectID></Object>"}, /* unterminated */
        {"c.xml", "<LWM2M><Object><ObjectID>40012</ObjectID></Object></LWM2M>"},
        {"d.txt", "<LWM2M><Object><ObjectID>40013</ObjectID></Object></LWM2M>"},
    };
    for (size_t i = 0; i < GW_ARRAY_LEN(files); i++) {
        snprintf(path, sizeof(path), "objects/%s", files[i][0]);
        write_file(path, files[i][1]);
    }
    struct model *m = model_new();
    size_t before = model_count(m);
    assert_int_equal(model_load_dir(m, dir), 2);
    assert_non_null(model_object(m, 40010));
    assert_null(model_object(m, 40011));
    assert_non_null(model_object(m, 40012));
    assert_null(model_object(m, 40013)); /* not *.xml */
    assert_int_equal(model_count(m), before + 2);
    model_free(m);
}

static void test_load_dir_of_a_missing_directory_is_an_io_error(void **state)
{
    (void)state;
    char dir[128];
    snprintf(dir, sizeof(dir), "%s/no-such-dir", tmpdir);
    struct model *m = model_new();
    assert_int_equal(model_load_dir(m, dir), -GW_ERR_IO);
    model_free(m);
}

/* ---- the OMA registry copy ---- */

static bool registry_present(void)
{
    struct stat st;
    return stat(REGISTRY, &st) == 0 && S_ISDIR(st.st_mode);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void test_every_registry_file_loads_without_error(void **state)
{
    (void)state;
    if (!registry_present()) {
        print_message("skipped: no OMA registry copy at %s\n", REGISTRY);
        skip();
    }
    /* every *.xml at the top level, each loaded on its own so a failure names its file */
    DIR *d = opendir(REGISTRY);
    assert_non_null(d);
    char *names[1024] = {0};
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len > 4 && !strcmp(e->d_name + len - 4, ".xml")) {
            assert_true(n < GW_ARRAY_LEN(names));
            names[n++] = strdup(e->d_name);
        }
    }
    closedir(d);
    qsort(names, n, sizeof(*names), cmp_names);
    assert_int_equal(n, 327); /* ABOUT.md: 327 object files at the top level */

    struct model *m = model_new();
    size_t builtins = model_count(m);
    double t0 = now_ms();
    for (size_t i = 0; i < n; i++) {
        char path[512], err[512];
        snprintf(path, sizeof(path), "%s/%s", REGISTRY, names[i]);
        if (model_load_file(m, path, err, sizeof(err)) != GW_OK)
            fail_msg("%s", err);
        unsigned oid = (unsigned)strtoul(names[i], NULL, 10);
        if (!model_object(m, (uint16_t)oid))
            fail_msg("%s did not define object %u", names[i], oid);
        free(names[i]);
    }
    double ms = now_ms() - t0;
    print_message("loaded %zu registry files one by one in %.1f ms\n", n, ms);
    size_t objects = model_count(m);
    assert_true(objects >= n);
    assert_true(objects <= n + builtins);
    model_free(m);

    /* the same through model_load_dir */
    m = model_new();
    t0 = now_ms();
    assert_int_equal(model_load_dir(m, REGISTRY), (int)n);
    print_message("model_load_dir of the registry: %.1f ms\n", now_ms() - t0);
    assert_int_equal(model_count(m), objects);
    assert_string_equal(model_object(m, 9)->name, "LWM2M Software Management");
    const struct model_resource *r = resource(m, 9, 4);
    assert_string_equal(r->name, "Install");
    assert_int_equal(r->type, GW_TYPE_NONE);
    assert_int_equal(r->ops, GW_OP_E);
    r = resource(m, 3442, 1110);
    assert_string_equal(r->name, "Multiple String Value");
    assert_int_equal(r->type, GW_TYPE_STRING);
    assert_true(r->multiple);
    r = resource(m, 3305, 5800);
    assert_int_equal(r->type, GW_TYPE_FLOAT);
    assert_string_equal(r->units, "W");
    assert_int_equal(model_object(m, 3416)->n_resources, 67);
    model_free(m);
}

static void test_builtin_objects_agree_with_the_registry(void **state)
{
    (void)state;
    if (!registry_present()) {
        print_message("skipped: no OMA registry copy at %s\n", REGISTRY);
        skip();
    }
    struct model *builtin = model_new();
    size_t checked = 0;
    for (unsigned oid = 0; oid <= UINT16_MAX; oid++) {
        const struct model_object *b = model_object(builtin, (uint16_t)oid);
        if (!b)
            continue;
        char path[512], err[512];
        snprintf(path, sizeof(path), "%s/%u.xml", REGISTRY, oid);
        struct model *loaded = model_new();
        if (model_load_file(loaded, path, err, sizeof(err)) != GW_OK)
            fail_msg("%s", err);
        const struct model_object *l = model_object(loaded, (uint16_t)oid);
        assert_ptr_not_equal(l, b);
        assert_string_equal(b->name, l->name);
        assert_string_equal(b->version, l->version);
        assert_string_equal(b->urn, l->urn);
        assert_int_equal(b->multiple, l->multiple);
        assert_int_equal(b->mandatory, l->mandatory);
        if (b->n_resources != l->n_resources)
            fail_msg("object %u: %zu resources built in, %zu in the registry", oid, b->n_resources,
                     l->n_resources);
        for (size_t i = 0; i < b->n_resources; i++) {
            const struct model_resource *x = &b->resources[i], *y = &l->resources[i];
            if (x->id != y->id || strcmp(x->name, y->name) || x->type != y->type ||
                x->ops != y->ops || x->multiple != y->multiple || x->mandatory != y->mandatory ||
                strcmp(x->units, y->units))
                fail_msg("/%u/x/%u differs: built in \"%s\" %s ops=%u units=\"%s\", registry "
                         "/%u/x/%u \"%s\" %s ops=%u units=\"%s\"",
                         oid, x->id, x->name, data_type_name(x->type), x->ops, x->units, oid, y->id,
                         y->name, data_type_name(y->type), y->ops, y->units);
        }
        model_free(loaded);
        checked++;
    }
    assert_int_equal(checked, model_count(builtin));
    model_free(builtin);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_model_has_core_and_ipso_objects),
        cmocka_unit_test(test_device_battery_level_is_read_only_integer),
        cmocka_unit_test(test_temperature_sensor_value_is_mandatory_float),
        cmocka_unit_test(test_reboot_is_execute_without_type),
        cmocka_unit_test(test_server_lifetime_is_rw_integer_in_seconds),
        cmocka_unit_test(test_firmware_package_is_write_only_opaque),
        cmocka_unit_test(test_builtin_resources_are_sorted_and_each_is_found),
        cmocka_unit_test(test_model_type_follows_resource_and_instance_paths),
        cmocka_unit_test(test_unknown_object_and_resource_are_null),
        cmocka_unit_test(test_valid_ddf_file_adds_an_object),
        cmocka_unit_test(test_file_with_two_objects_loads_both),
        cmocka_unit_test(test_loaded_object_replaces_builtin),
        cmocka_unit_test(test_malformed_xml_is_reported_with_its_line),
        cmocka_unit_test(test_missing_object_id_is_reported_at_the_object),
        cmocka_unit_test(test_bad_object_id_is_rejected),
        cmocka_unit_test(test_unknown_type_is_reported_with_its_line),
        cmocka_unit_test(test_unknown_operations_are_reported_with_their_line),
        cmocka_unit_test(test_duplicate_resource_id_is_reported_at_the_second_item),
        cmocka_unit_test(test_item_without_valid_id_is_rejected),
        cmocka_unit_test(test_bad_multiplicity_is_rejected),
        cmocka_unit_test(test_file_without_object_is_rejected),
        cmocka_unit_test(test_same_object_twice_in_a_file_is_rejected),
        cmocka_unit_test(test_entity_declarations_are_rejected),
        cmocka_unit_test(test_failing_file_leaves_the_model_unchanged),
        cmocka_unit_test(test_oversized_file_is_rejected),
        cmocka_unit_test(test_overlong_text_is_cut_at_4096_bytes),
        cmocka_unit_test(test_missing_file_is_an_io_error),
        cmocka_unit_test(test_load_dir_skips_a_bad_file_and_loads_the_rest),
        cmocka_unit_test(test_load_dir_of_a_missing_directory_is_an_io_error),
        cmocka_unit_test(test_every_registry_file_loads_without_error),
        cmocka_unit_test(test_builtin_objects_agree_with_the_registry),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

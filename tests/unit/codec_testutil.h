/* codec_testutil.h - shared by the unit tests of the content formats: the object model that
 * types the values (the built-in objects as a cmocka group fixture, or a DDF file the test
 * writes), decode contexts, building records and asserting on them. Included by
 * test_senml_json.c, test_oma_json.c, test_senml_cbor.c and test_rawcbor.c (and, through
 * json_testutil.h and cbor_cases.h, by the helpers that run their decoder), and by test_text.c
 * and test_tlv.c for the DDF helpers. Static inline: each test uses what it needs. */
#ifndef CODEC_TESTUTIL_H
#define CODEC_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec.h"
#include "gw.h"

static struct model *model; /* what types the values: see codec_test_setup(), or ddf_end() */

/* cmocka group fixtures: `model` holds the built-in objects (32000 is an object it does not
 * know), and is freed again after the group. */
static inline int codec_test_setup(void **state)
{
    (void)state;
    model = model_new();
    return model ? 0 : -1;
}

static inline int codec_test_teardown(void **state)
{
    (void)state;
    model_free(model);
    return 0;
}

/* The context of a payload that answers `base`, typed by `model` when `typed`. */
static inline struct codec_ctx ctx_at(const char *base, bool typed)
{
    struct codec_ctx c = {.model = typed ? model : NULL};
    assert_int_equal(data_path_parse(base, strlen(base), &c.base), GW_OK);
    return c;
}

/* A STRING, OPAQUE or CORELNK value of the `len` bytes at `s` (borrowed). */
static inline struct data_value bytes_value(enum data_type t, const char *s, size_t len)
{
    struct data_value v = {.type = t};
    v.v.bytes.p = (const uint8_t *)s;
    v.v.bytes.len = len;
    return v;
}

/* Appends `v` at `path` (without a time). */
static inline void add(struct data_records *r, const char *path, struct data_value v)
{
    struct data_path p;
    assert_int_equal(data_path_parse(path, strlen(path), &p), GW_OK);
    assert_int_equal(data_records_add(r, &p, &v, false, 0), GW_OK);
}

static inline void assert_path(const struct data_record *rec, const char *path)
{
    char buf[32];
    assert_int_equal(data_path_format(&rec->path, buf, sizeof(buf)), GW_OK);
    assert_string_equal(buf, path);
}

/* Asserts that `rec` holds a value of type `t` with the bytes of `text`. */
static inline void assert_text(const struct data_record *rec, enum data_type t, const char *text)
{
    assert_int_equal(rec->value.type, t);
    assert_int_equal(rec->value.v.bytes.len, strlen(text));
    assert_memory_equal(rec->value.v.bytes.p, text, strlen(text));
}

static inline void assert_int(const struct data_record *rec, enum data_type t, int64_t i)
{
    assert_int_equal(rec->value.type, t);
    assert_true(rec->value.v.i == i);
}

/* ---- object models from a DDF file the test writes ---- */

struct ddf_res {
    int id;
    const char *type; /* as DDF files spell it; "" for an executable resource */
    bool multiple;
};

/* Writes an <Object> of `n` resources; `oid` also names it. */
static inline void ddf_object(FILE *f, int oid, const struct ddf_res *res, size_t n)
{
    fprintf(f,
            "<Object ObjectType=\"MODefinition\"><Name>Test %d</Name><ObjectID>%d</ObjectID>"
            "<ObjectURN>urn:oma:lwm2m:x:%d</ObjectURN><MultipleInstances>Multiple"
            "</MultipleInstances><Mandatory>Optional</Mandatory><Resources>",
            oid, oid, oid);
    for (size_t i = 0; i < n; i++)
        fprintf(f,
                "<Item ID=\"%d\"><Name>R%d</Name><Operations>%s</Operations>"
                "<MultipleInstances>%s</MultipleInstances><Mandatory>Optional</Mandatory>"
                "<Type>%s</Type><RangeEnumeration></RangeEnumeration><Units></Units>"
                "<Description></Description></Item>",
                res[i].id, res[i].id, res[i].type[0] ? "RW" : "E",
                res[i].multiple ? "Multiple" : "Single", res[i].type);
    fprintf(f, "</Resources></Object>\n");
}

/* Writes object `oid` with a resource of every type: 0 String, 1 Integer, 2 Unsigned Integer,
 * 3 Float, 4 Boolean, 5 Opaque, 6 Time, 7 Objlnk, 8 Corelnk, 9 a multiple Integer, 10 an
 * executable resource without type. */
static inline void ddf_every_type_object(FILE *f, int oid)
{
    static const struct ddf_res every[] = {
        {0, "String", false}, {1, "Integer", false}, {2, "Unsigned Integer", false},
        {3, "Float", false},  {4, "Boolean", false}, {5, "Opaque", false},
        {6, "Time", false},   {7, "Objlnk", false},  {8, "Corelnk", false},
        {9, "Integer", true}, {10, "", false},
    };
    ddf_object(f, oid, every, GW_ARRAY_LEN(every));
}

/* Creates a temporary file from the mkstemp template `path` and opens the DDF document in it;
 * write objects into the returned file, then call ddf_end(). */
static inline FILE *ddf_begin(char *path)
{
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fprintf(f, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<LWM2M>\n");
    return f;
}

/* Closes the document in `f`, removes the file at `path` after loading it, and returns a new
 * model of the built-in objects and those of the file (the caller frees it). Fails the test
 * when the file does not load. */
static inline struct model *ddf_end(FILE *f, const char *path)
{
    fprintf(f, "</LWM2M>\n");
    fclose(f);
    struct model *m = model_new();
    assert_non_null(m);
    char err[256];
    int rc = model_load_file(m, path, err, sizeof(err));
    unlink(path);
    if (rc != GW_OK)
        fail_msg("model_load_file: %d %s", rc, err);
    return m;
}

#endif

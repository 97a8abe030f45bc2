/* conffile_testutil.h - shared by test_conffile.c and test_settings.c: a temporary directory
 * for the files a test writes (made by the group setup, removed with everything in it by the
 * teardown), and loading a configuration text through conffile_load() with assertions on the
 * problems it reports. */
#ifndef CONFFILE_TESTUTIL_H
#define CONFFILE_TESTUTIL_H

#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conffile.h"

static char dir[] = "/tmp/gw-test-config-XXXXXX";
static char conf[sizeof(dir) + 16]; /* dir/gateway.conf, the file load() writes */
static char line[1024];

static inline void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

/* Writes `text` as the configuration file and loads it. */
static inline int load(const char *text, struct gw_config *cfg, struct conffile_problems *p)
{
    write_file(conf, text);
    return conffile_load(conf, cfg, p);
}

/* Asserts that the configuration has exactly one problem: "FILE:LINE: msg". */
static inline void expect_only(const struct conffile_problems *p, int ln, const char *msg)
{
    snprintf(line, sizeof(line), "%s:%d: %s", conf, ln, msg);
    assert_int_equal(p->n, 1);
    assert_string_equal(p->lines[0], line);
}

static inline bool any_contains(const struct conffile_problems *p, const char *text)
{
    for (size_t i = 0; i < p->n; i++) {
        if (strstr(p->lines[i], text))
            return true;
    }
    return false;
}

/* Loads `text`, which must have exactly one problem on line `ln`, `msg`. */
static inline void fails_with(const char *text, int ln, const char *msg)
{
    struct gw_config cfg;
    struct conffile_problems p = {0};

    assert_int_equal(load(text, &cfg, &p), -GW_ERR_INVALID);
    expect_only(&p, ln, msg);
    conffile_problems_clear(&p);
}

/* Loads `text`, which must be free of problems, into `cfg`. */
static inline void loads(const char *text, struct gw_config *cfg)
{
    struct conffile_problems p = {0};
    int rc = load(text, cfg, &p);

    for (size_t i = 0; i < p.n; i++)
        print_error("unexpected problem: %s\n", p.lines[i]);
    assert_int_equal(p.n, 0);
    assert_int_equal(rc, GW_OK);
}

static inline int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* cmocka group fixtures: create `dir` (and name `conf` in it), then remove it again. */
static inline int conffile_test_setup(void **state)
{
    (void)state;
    if (!mkdtemp(dir))
        return -1;
    snprintf(conf, sizeof(conf), "%s/gateway.conf", dir);
    return 0;
}

static inline int conffile_test_teardown(void **state)
{
    (void)state;
    return nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

#endif

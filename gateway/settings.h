/* settings.h - the generic reading machinery under conffile.c (private to gateway/): opening a
 * libconfig file, collecting problems as "FILE:LINE: message", unknown-key hints, typed getters,
 * and the decoding of keys written as hex: or base64:. Nothing here knows our sections.
 *
 * Every getter takes `g`, the group to read (NULL reads as an absent group: everything in it is
 * absent), `at`, its key path for messages ("" at the root, "lwm2m.security", "observe[2]"), and
 * `name`, the member's name. A getter never stops the load: a wrong value is reported with its
 * file and line and the output is left untouched, so that every problem is found in one run. */
#ifndef SETTINGS_H
#define SETTINGS_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conffile.h"

#define GW_KEY_MAX 256 /* longest key path in a message ("lwm2m.security.psk[3].key") */

/* What a setting must be; settings_typed() names it in "KEY must be ..." messages. */
enum settings_kind {
    GW_KIND_INT,
    GW_KIND_NUMBER,
    GW_KIND_BOOL,
    GW_KIND_STRING,
    GW_KIND_GROUP,
    GW_KIND_LIST,
    GW_KIND_STRINGS, /* an array or a list of strings */
};

/* Flags of settings_get_str(). */
enum {
    GW_STR_OPTIONAL = 0,
    GW_STR_REQUIRED = 1, /* absent is a problem */
    GW_STR_EMPTY_OK = 2, /* "" is a value, not a problem */
    GW_STR_ENDPOINT = 4, /* at most GW_EP_MAX bytes */
};

struct settings_pending; /* one problem waiting to be sorted (settings.c) */

/* One load: the libconfig tree and the problems found in it so far. Lives on the caller's stack
 * between settings_open() and settings_close(). */
struct settings {
    const char *path; /* the main file, as given; borrowed */
    config_t lc;
    char *include_dir; /* the main file's directory, owned */
    struct settings_pending *pend;
    size_t n_pend, cap_pend;
    bool nomem; /* an allocation failed; callers set it too when theirs do */
};

/* Appends one formatted line to `p`. Returns GW_OK or -GW_ERR_NOMEM (`p` is unchanged). */
int settings_problems_add(struct conffile_problems *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Initialises `ctx` and reads `path` into it, @include paths being taken relative to the
 * directory of `path`. Returns GW_OK; -GW_ERR_IO when the file cannot be read, or
 * -GW_ERR_INVALID on a syntax error (either appended to `problems` as one line); -GW_ERR_NOMEM.
 * `path` is borrowed until settings_close(), which must be called whatever this returns. */
int settings_open(struct settings *ctx, const char *path, struct conffile_problems *problems);

/* The root group of the file read by settings_open(). Borrowed from `ctx`. */
const config_setting_t *settings_root(const struct settings *ctx);

/* Sorts the problems reported so far into file order (main file first, then by line, then in
 * the order found) and appends them to `problems`. Returns GW_OK when there were none,
 * -GW_ERR_INVALID when there were, -GW_ERR_NOMEM when any allocation of the load failed. */
int settings_finish(struct settings *ctx, struct conffile_problems *problems);

/* Frees everything `ctx` holds, the libconfig tree included: strings borrowed from it die here.
 * Safe after a failed settings_open(). */
void settings_close(struct settings *ctx);

/* Records "FILE:LINE: message" for setting `s` (NULL: the main file, line 0). FILE is the main
 * file as given, or an included one under the include directory. Out of memory sets ctx->nomem. */
void settings_report(struct settings *ctx, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reports each member of `g` whose name is not in `known` (NULL-terminated) as an unknown key,
 * with "did you mean" the closest known key: within edit distance 2 (and less than the name's
 * length), else one that is a prefix of the name or has it as a prefix (3 characters or more). */
void settings_check_keys(struct settings *ctx, const config_setting_t *g, const char *at,
                         const char *const *known);

/* The member `name` of `g`, or NULL when `g` is NULL or has none. Reports nothing. */
const config_setting_t *settings_member(const config_setting_t *g, const char *name);

/* Whether `s` is of `kind` (GW_KIND_NUMBER: an integer or a float). Reports nothing. */
bool settings_is_kind(const config_setting_t *s, enum settings_kind kind);

/* The member `name` of `g` when it is of `kind`; NULL when absent, or of another kind
 * ("KEY must be ..." reported). */
const config_setting_t *settings_typed(struct settings *ctx, const config_setting_t *g,
                                       const char *at, const char *name, enum settings_kind kind);

/* Element `i` of the list or array `l`, whose key path is `at`, when it is of `kind`; else NULL
 * ("AT[i] must be ..." reported). */
const config_setting_t *settings_element(struct settings *ctx, const config_setting_t *l,
                                         const char *at, unsigned i, enum settings_kind kind);

/* For the list of groups `name` in `g`: returns a calloc'd array (owned by the caller) of one
 * zeroed struct of `size` per element, valid or not, so that indexes match the file; `*n` gets
 * the count and `*l` the list. NULL with `*n` 0 when the list is absent, empty or not a list
 * (reported), or on out of memory (ctx->nomem set). */
void *settings_items(struct settings *ctx, const config_setting_t *g, const char *at,
                     const char *name, size_t size, size_t *n, const config_setting_t **l);

/* Element `i` of the list `l` of groups named `list`: its keys are checked against `keys` and
 * `at` (GW_KEY_MAX bytes) gets its key path ("observe[2]"). NULL when it is not a group
 * (reported). */
const config_setting_t *settings_item(struct settings *ctx, const config_setting_t *l,
                                      const char *list, unsigned i, const char *const *keys,
                                      char *at);

/* Reads an integer within [min, max] into `*out`, untouched when absent or invalid (a wrong
 * type or range is reported). Returns true when it was set and valid. */
bool settings_get_int(struct settings *ctx, const config_setting_t *g, const char *at,
                      const char *name, long long min, long long max, long long *out);

/* Reports "AT.HI (hi) must be >= LO (lo)" when hi < lo, at the setting `hi_name` when it is
 * written, else at `lo_name`. */
void settings_check_order(struct settings *ctx, const config_setting_t *g, const char *at,
                          const char *lo_name, long long lo, const char *hi_name, long long hi);

/* Reads true or false into `*out`, untouched when absent or invalid (reported). */
void settings_get_bool(struct settings *ctx, const config_setting_t *g, const char *at,
                       const char *name, bool *out);

/* Reads an integer or a float into `*out`. Returns true when it was set, false when absent or
 * invalid (reported; `*out` untouched). */
bool settings_get_number(struct settings *ctx, const config_setting_t *g, const char *at,
                         const char *name, double *out);

/* A string borrowed from the libconfig tree (valid until settings_close()), checked against
 * `flags` (GW_STR_*). NULL when absent (reported if GW_STR_REQUIRED) or invalid (reported). */
const char *settings_get_str(struct settings *ctx, const config_setting_t *g, const char *at,
                             const char *name, int flags);

/* A malloc'd copy of `s` (owned by the caller), NULL for NULL; out of memory sets ctx->nomem. */
char *settings_own(struct settings *ctx, const char *s);

/* Reads an optional string naming a file the gateway must be able to read (not a directory)
 * into `*dst` as a malloc'd copy (owned by the caller); `*dst` is untouched when the file
 * cannot be read (reported with the system's reason). */
void settings_get_file(struct settings *ctx, const config_setting_t *g, const char *at,
                       const char *name, char **dst);

/* Reads the required key `name`, written "hex:...", "base64:..." or, when `plain`, as the bytes
 * of the string itself, into `*out` (malloc'd, owned by the caller) and `*out_len`. Untouched
 * when absent or invalid (reported). The messages never quote the text: it is a secret. */
void settings_get_key(struct settings *ctx, const config_setting_t *g, const char *at,
                      const char *name, bool plain, uint8_t **out, size_t *out_len);

#endif

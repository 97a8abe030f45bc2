/* settings.c - reading a libconfig file without stopping at the first problem: typed getters
 * that report a wrong value and carry on, unknown-key hints, hex:/base64: keys. Each problem is
 * kept with its file and line and they are handed back sorted into file order, so that one run
 * of --check-config shows everything to fix. conffile.c builds the gateway's sections on this. */
#include "settings.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One problem, kept until the end of the load so that they can be sorted into file order. */
struct settings_pending {
    char *text;
    unsigned rank; /* index of its file among those libconfig opened, main file first */
    unsigned line;
    size_t seq; /* order found, for a stable sort */
};

static const char *const kind_text[] = {
    [GW_KIND_INT] = "an integer",
    [GW_KIND_NUMBER] = "a number",
    [GW_KIND_BOOL] = "true or false",
    [GW_KIND_STRING] = "a string",
    [GW_KIND_GROUP] = "a group { ... }",
    [GW_KIND_LIST] = "a list ( { ... }, ... )",
    [GW_KIND_STRINGS] = "an array of strings [ \"...\", ... ]",
};

/* ---- problems ---- */

int settings_problems_add(struct conffile_problems *p, const char *fmt, ...)
{
    char *line = NULL, **lines;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -GW_ERR_NOMEM;
    lines = realloc(p->lines, (p->n + 1) * sizeof(*lines));
    if (!lines) {
        free(line);
        return -GW_ERR_NOMEM;
    }
    lines[p->n++] = line;
    p->lines = lines;
    return GW_OK;
}

/* The name to print for a file libconfig reports: the main file as the caller gave it, an
 * included one under the include directory (the main file's) it was opened from. */
static void file_name(const config_t *lc, const char *main_path, const char *f, char *buf,
                      size_t len, unsigned *rank)
{
    *rank = 0;
    for (unsigned i = 0; f && i < lc->num_filenames; i++) {
        if (lc->filenames[i] && strcmp(lc->filenames[i], f) == 0) {
            *rank = i;
            break;
        }
    }
    if (!f || *rank == 0)
        snprintf(buf, len, "%s", main_path);
    else if (f[0] != '/' && lc->include_dir)
        snprintf(buf, len, "%s/%s", lc->include_dir, f);
    else
        snprintf(buf, len, "%s", f);
}

void settings_report(struct settings *ctx, const config_setting_t *s, const char *fmt, ...)
{
    char file[PATH_MAX], *msg = NULL, *text = NULL;
    unsigned rank, line = s ? config_setting_source_line(s) : 0;
    struct settings_pending *p;
    va_list ap;
    int n;

    file_name(&ctx->lc, ctx->path, s ? config_setting_source_file(s) : NULL, file, sizeof(file),
              &rank);
    va_start(ap, fmt);
    n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (n < 0 || asprintf(&text, "%s:%u: %s", file, line, msg) < 0)
        goto out_nomem;
    if (ctx->n_pend == ctx->cap_pend) {
        ctx->cap_pend = ctx->cap_pend ? ctx->cap_pend * 2 : 16;
        if (!(p = realloc(ctx->pend, ctx->cap_pend * sizeof(*p))))
            goto out_nomem;
        ctx->pend = p;
    }
    ctx->pend[ctx->n_pend] = (struct settings_pending){text, rank, line, ctx->n_pend};
    ctx->n_pend++;
    free(msg);
    return;

out_nomem:
    ctx->nomem = true;
    free(text);
    if (n >= 0)
        free(msg);
}

static int pending_cmp(const void *a, const void *b)
{
    const struct settings_pending *x = a, *y = b;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

/* Sorts the problems found into file order and moves them to `problems`. */
static void flush(struct settings *ctx, struct conffile_problems *problems)
{
    char **lines = NULL;

    if (ctx->n_pend) {
        qsort(ctx->pend, ctx->n_pend, sizeof(*ctx->pend), pending_cmp);
        lines = realloc(problems->lines, (problems->n + ctx->n_pend) * sizeof(*lines));
    }
    for (size_t i = 0; i < ctx->n_pend; i++) {
        if (lines)
            lines[problems->n++] = ctx->pend[i].text;
        else
            free(ctx->pend[i].text);
    }
    if (lines)
        problems->lines = lines;
    else if (ctx->n_pend)
        ctx->nomem = true;
    free(ctx->pend);
    ctx->pend = NULL;
    ctx->n_pend = ctx->cap_pend = 0;
}

int settings_finish(struct settings *ctx, struct conffile_problems *problems)
{
    int rc = ctx->n_pend ? -GW_ERR_INVALID : GW_OK;

    flush(ctx, problems);
    return ctx->nomem ? -GW_ERR_NOMEM : rc;
}

/* ---- the file ---- */

int settings_open(struct settings *ctx, const char *path, struct conffile_problems *problems)
{
    const char *slash = strrchr(path, '/');
    struct stat st;
    int rc;

    memset(ctx, 0, sizeof(*ctx));
    ctx->path = path;
    config_init(&ctx->lc);
    errno = 0;
    if (stat(path, &st) != 0 || access(path, R_OK) != 0 || S_ISDIR(st.st_mode)) {
        rc = settings_problems_add(problems, "%s: cannot read: %s", path,
                                   strerror(errno ? errno : EISDIR));
        return rc ? rc : -GW_ERR_IO;
    }
    /* @include paths are taken relative to the main file, not to the daemon's directory. */
    if (slash) {
        if (!(ctx->include_dir = strndup(path, slash == path ? 1 : (size_t)(slash - path))))
            return -GW_ERR_NOMEM;
        config_set_include_dir(&ctx->lc, ctx->include_dir);
    }
    if (!config_read_file(&ctx->lc, path)) {
        char file[PATH_MAX];
        unsigned rank;

        if (config_error_type(&ctx->lc) == CONFIG_ERR_FILE_IO) {
            rc = settings_problems_add(problems, "%s: cannot read: %s", path,
                                       config_error_text(&ctx->lc));
            return rc ? rc : -GW_ERR_IO;
        }
        file_name(&ctx->lc, path, config_error_file(&ctx->lc), file, sizeof(file), &rank);
        rc = settings_problems_add(problems, "%s:%d: syntax error: %s", file,
                                   config_error_line(&ctx->lc), config_error_text(&ctx->lc));
        return rc ? rc : -GW_ERR_INVALID;
    }
    return GW_OK;
}

const config_setting_t *settings_root(const struct settings *ctx)
{
    return config_root_setting(&ctx->lc);
}

void settings_close(struct settings *ctx)
{
    for (size_t i = 0; i < ctx->n_pend; i++)
        free(ctx->pend[i].text);
    free(ctx->pend);
    config_destroy(&ctx->lc);
    free(ctx->include_dir);
    memset(ctx, 0, sizeof(*ctx));
}

/* ---- keys ---- */

static const char *key(char *buf, const char *at, const char *name)
{
    snprintf(buf, GW_KEY_MAX, "%s%s%s", at, *at ? "." : "", name);
    return buf;
}

/* Levenshtein distance, for "did you mean"; keys are short, longer ones get no hint. */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[64];

    if (la >= GW_ARRAY_LEN(row) || lb >= GW_ARRAY_LEN(row))
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t best = diag + (a[i - 1] != b[j - 1]), up = row[j];
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* The known key a typo most likely meant: within edit distance 2, else a prefix either way. */
static const char *hint(const char *name, const char *const *known)
{
    size_t len = strlen(name), best_d = 3;
    const char *best = NULL;

    for (size_t i = 0; known[i]; i++) {
        size_t d = distance(name, known[i]);
        if (d < best_d && d < len) {
            best = known[i];
            best_d = d;
        }
    }
    for (size_t i = 0; !best && len >= 3 && known[i]; i++) {
        size_t lk = strlen(known[i]);
        if (strncmp(name, known[i], len < lk ? len : lk) == 0)
            best = known[i];
    }
    return best;
}

void settings_check_keys(struct settings *ctx, const config_setting_t *g, const char *at,
                         const char *const *known)
{
    char k[GW_KEY_MAX];
    size_t i;

    for (int m = 0; g && m < config_setting_length(g); m++) {
        const config_setting_t *s = config_setting_get_elem(g, (unsigned)m);
        const char *name = config_setting_name(s), *h;
        for (i = 0; known[i] && strcmp(known[i], name) != 0; i++)
            ;
        if (known[i])
            continue;
        if ((h = hint(name, known)))
            settings_report(ctx, s, "unknown key '%s' (did you mean '%s'?)", key(k, at, name), h);
        else
            settings_report(ctx, s, "unknown key '%s'", key(k, at, name));
    }
}

/* ---- typed getters ---- */

const config_setting_t *settings_member(const config_setting_t *g, const char *name)
{
    return g ? config_setting_get_member(g, name) : NULL;
}

bool settings_is_kind(const config_setting_t *s, enum settings_kind kind)
{
    int t = config_setting_type(s);
    switch (kind) {
    case GW_KIND_INT:
        return t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64;
    case GW_KIND_NUMBER:
        return config_setting_is_number(s);
    case GW_KIND_BOOL:
        return t == CONFIG_TYPE_BOOL;
    case GW_KIND_STRING:
        return t == CONFIG_TYPE_STRING;
    case GW_KIND_GROUP:
        return t == CONFIG_TYPE_GROUP;
    case GW_KIND_LIST:
        return t == CONFIG_TYPE_LIST;
    case GW_KIND_STRINGS:
        return t == CONFIG_TYPE_ARRAY || t == CONFIG_TYPE_LIST;
    }
    return false;
}

const config_setting_t *settings_typed(struct settings *ctx, const config_setting_t *g,
                                       const char *at, const char *name, enum settings_kind kind)
{
    const config_setting_t *s = settings_member(g, name);

    if (s && !settings_is_kind(s, kind)) {
        char k[GW_KEY_MAX];
        settings_report(ctx, s, "%s must be %s", key(k, at, name), kind_text[kind]);
        return NULL;
    }
    return s;
}

const config_setting_t *settings_element(struct settings *ctx, const config_setting_t *l,
                                         const char *at, unsigned i, enum settings_kind kind)
{
    const config_setting_t *s = config_setting_get_elem(l, i);

    if (!settings_is_kind(s, kind)) {
        settings_report(ctx, s, "%s[%u] must be %s", at, i, kind_text[kind]);
        return NULL;
    }
    return s;
}

void *settings_items(struct settings *ctx, const config_setting_t *g, const char *at,
                     const char *name, size_t size, size_t *n, const config_setting_t **l)
{
    void *arr;

    *l = settings_typed(ctx, g, at, name, GW_KIND_LIST);
    *n = *l ? (size_t)config_setting_length(*l) : 0;
    if (*n == 0)
        return NULL;
    if (!(arr = calloc(*n, size))) {
        ctx->nomem = true;
        *n = 0;
    }
    return arr;
}

const config_setting_t *settings_item(struct settings *ctx, const config_setting_t *l,
                                      const char *list, unsigned i, const char *const *keys,
                                      char *at)
{
    const config_setting_t *e = settings_element(ctx, l, list, i, GW_KIND_GROUP);

    snprintf(at, GW_KEY_MAX, "%s[%u]", list, i);
    if (e)
        settings_check_keys(ctx, e, at, keys);
    return e;
}

bool settings_get_int(struct settings *ctx, const config_setting_t *g, const char *at,
                      const char *name, long long min, long long max, long long *out)
{
    const config_setting_t *s = settings_typed(ctx, g, at, name, GW_KIND_INT);
    long long v = s ? config_setting_get_int64(s) : 0;

    if (s && (v < min || v > max)) {
        char k[GW_KEY_MAX];
        settings_report(ctx, s, "%s must be between %lld and %lld", key(k, at, name), min, max);
    } else if (s) {
        *out = v;
    }
    return s && v >= min && v <= max;
}

void settings_check_order(struct settings *ctx, const config_setting_t *g, const char *at,
                          const char *lo_name, long long lo, const char *hi_name, long long hi)
{
    if (hi < lo)
        settings_report(ctx,
                        settings_member(g, hi_name) ? settings_member(g, hi_name)
                                                    : settings_member(g, lo_name),
                        "%s.%s (%lld) must be >= %s (%lld)", at, hi_name, hi, lo_name, lo);
}

void settings_get_bool(struct settings *ctx, const config_setting_t *g, const char *at,
                       const char *name, bool *out)
{
    const config_setting_t *s = settings_typed(ctx, g, at, name, GW_KIND_BOOL);
    if (s)
        *out = config_setting_get_bool(s) != 0;
}

bool settings_get_number(struct settings *ctx, const config_setting_t *g, const char *at,
                         const char *name, double *out)
{
    const config_setting_t *s = settings_typed(ctx, g, at, name, GW_KIND_NUMBER);
    if (s)
        *out = config_setting_type(s) == CONFIG_TYPE_FLOAT ? config_setting_get_float(s)
                                                           : (double)config_setting_get_int64(s);
    return s != NULL;
}

const char *settings_get_str(struct settings *ctx, const config_setting_t *g, const char *at,
                             const char *name, int flags)
{
    const config_setting_t *s = settings_typed(ctx, g, at, name, GW_KIND_STRING);
    const char *v = s ? config_setting_get_string(s) : NULL;
    char k[GW_KEY_MAX];

    if (!s && (flags & GW_STR_REQUIRED) && !settings_member(g, name))
        settings_report(ctx, g, "%s is required", key(k, at, name));
    else if (v && !*v && !(flags & GW_STR_EMPTY_OK))
        settings_report(ctx, s, "%s must not be empty", key(k, at, name));
    else if (v && (flags & GW_STR_ENDPOINT) && strlen(v) > GW_EP_MAX)
        settings_report(ctx, s, "%s must be at most %d bytes", key(k, at, name), GW_EP_MAX);
    else
        return v;
    return NULL;
}

char *settings_own(struct settings *ctx, const char *s)
{
    char *d = s ? strdup(s) : NULL;
    ctx->nomem |= s && !d;
    return d;
}

void settings_get_file(struct settings *ctx, const config_setting_t *g, const char *at,
                       const char *name, char **dst)
{
    const char *v = settings_get_str(ctx, g, at, name, GW_STR_OPTIONAL);
    char k[GW_KEY_MAX];
    struct stat st;

    if (v && (access(v, R_OK) != 0 || stat(v, &st) != 0))
        settings_report(ctx, settings_member(g, name), "%s: cannot read '%s': %s", key(k, at, name),
                        v, strerror(errno));
    else if (v && S_ISDIR(st.st_mode))
        settings_report(ctx, settings_member(g, name), "%s: '%s' is a directory", key(k, at, name),
                        v);
    else
        *dst = settings_own(ctx, v);
}

/* ---- hex: and base64: keys ---- */

static int b64val(char c)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c ? strchr(alphabet, c) : NULL;
    return p ? (int)(p - alphabet) : -1;
}

void settings_get_key(struct settings *ctx, const config_setting_t *g, const char *at,
                      const char *name, bool plain, uint8_t **out, size_t *out_len)
{
    const char *v = settings_get_str(ctx, g, at, name, GW_STR_REQUIRED), *why = NULL;
    size_t len = v ? strlen(v) : 0, n = 0;
    uint8_t *buf = v ? malloc(len + 1) : NULL;

    if (!buf) {
        ctx->nomem |= v != NULL;
        return;
    }
    if (strncmp(v, "hex:", 4) == 0) {
        v += 4;
        len -= 4;
        int got = gw_hex_decode(v, len, buf, len);
        if (got >= 0)
            n = (size_t)got;
        else if (len == 0 || len % 2)
            why = "hex: needs an even, non-zero number of hex digits";
        else
            why = "hex: has a character that is not a hex digit";
    } else if (strncmp(v, "base64:", 7) == 0) {
        unsigned acc = 0, bits = 0, pad = 0;
        for (v += 7; !why && *v; v++) {
            int d = b64val(*v);
            if (*v == '=' && pad < 2) {
                pad++;
            } else if (d < 0 || pad) {
                why = "base64: is not valid base64";
            } else {
                acc = (acc << 6 | (unsigned)d) & 0xffffff;
                if ((bits += 6) >= 8) {
                    bits -= 8;
                    buf[n++] = (uint8_t)(acc >> bits);
                }
            }
        }
        if (!why && (n == 0 || bits >= 6))
            why = n ? "base64: is not valid base64" : "base64: is empty";
    } else if (plain) {
        memcpy(buf, v, len);
        n = len;
    } else {
        why = "must start with hex: or base64:";
    }
    if (why) {
        char k[GW_KEY_MAX];
        settings_report(ctx, settings_member(g, name), "%s: %s", key(k, at, name), why);
        explicit_bzero(buf, len + 1);
        free(buf);
        return;
    }
    *out = buf;
    *out_len = n;
}

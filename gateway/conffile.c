/* config.c - loads and validates the configuration file (SPEC section 2) with libconfig.
 * The loader never stops at the first problem: every section is checked, each problem is kept
 * with its file and line, and they are handed back sorted into file order, so that one run of
 * --check-config shows everything to fix. The result is plain structs owning malloc'd copies,
 * so nothing keeps the libconfig tree alive after loading. */
#include <arpa/inet.h>
#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conffile.h"

#define CONFIG_KEY_MAX 256 /* longest key path in a message ("lwm2m.security.psk[3].key") */
#define CONFIG_ERR_MAX 512

/* One problem, kept until the end of the load so that they can be sorted into file order. */
struct pending {
    char *text;
    unsigned rank; /* index of its file among those libconfig opened, main file first */
    unsigned line;
    size_t seq; /* order found, for a stable sort */
};

struct loader {
    const char *path; /* the main file, as given */
    const config_t *lc;
    struct pending *pend;
    size_t n_pend, cap_pend;
    bool nomem;
};

/* What a setting must be; the text ends the "KEY must be ..." messages. */
enum kind { KIND_INT, KIND_NUMBER, KIND_BOOL, KIND_STRING, KIND_GROUP, KIND_LIST, KIND_STRINGS };
static const char *const kind_text[] = {
    [KIND_INT] = "an integer",
    [KIND_NUMBER] = "a number",
    [KIND_BOOL] = "true or false",
    [KIND_STRING] = "a string",
    [KIND_GROUP] = "a group { ... }",
    [KIND_LIST] = "a list ( { ... }, ... )",
    [KIND_STRINGS] = "an array of strings [ \"...\", ... ]",
};

/* Flags of get_str(). */
enum { STR_OPTIONAL = 0, STR_REQUIRED = 1, STR_EMPTY_OK = 2, STR_ENDPOINT = 4 };

static const char *const format_names[] = {"text", "opaque",     "cbor",       "tlv",
                                           "json", "senml-json", "senml-cbor", "link"};

/* ---- problems ---- */

static int problems_add(struct conffile_problems *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int problems_add(struct conffile_problems *p, const char *fmt, ...)
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

void conffile_problems_clear(struct conffile_problems *p)
{
    for (size_t i = 0; p && i < p->n; i++)
        free(p->lines[i]);
    if (p) {
        free(p->lines);
        memset(p, 0, sizeof(*p));
    }
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

static void report(struct loader *ld, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records "FILE:LINE: message" for setting `s` (NULL: the main file, line 0). */
static void report(struct loader *ld, const config_setting_t *s, const char *fmt, ...)
{
    char file[PATH_MAX], *msg = NULL, *text = NULL;
    unsigned rank, line = s ? config_setting_source_line(s) : 0;
    struct pending *p;
    va_list ap;
    int n;

    file_name(ld->lc, ld->path, s ? config_setting_source_file(s) : NULL, file, sizeof(file),
              &rank);
    va_start(ap, fmt);
    n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (n < 0 || asprintf(&text, "%s:%u: %s", file, line, msg) < 0)
        goto out_nomem;
    if (ld->n_pend == ld->cap_pend) {
        ld->cap_pend = ld->cap_pend ? ld->cap_pend * 2 : 16;
        if (!(p = realloc(ld->pend, ld->cap_pend * sizeof(*p))))
            goto out_nomem;
        ld->pend = p;
    }
    ld->pend[ld->n_pend] = (struct pending){text, rank, line, ld->n_pend};
    ld->n_pend++;
    free(msg);
    return;

out_nomem:
    ld->nomem = true;
    free(text);
    if (n >= 0)
        free(msg);
}

static int pending_cmp(const void *a, const void *b)
{
    const struct pending *x = a, *y = b;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

/* Sorts the problems found into file order and moves them to `problems`. */
static void flush(struct loader *ld, struct conffile_problems *problems)
{
    char **lines = NULL;

    if (ld->n_pend) {
        qsort(ld->pend, ld->n_pend, sizeof(*ld->pend), pending_cmp);
        lines = realloc(problems->lines, (problems->n + ld->n_pend) * sizeof(*lines));
    }
    for (size_t i = 0; i < ld->n_pend; i++) {
        if (lines)
            lines[problems->n++] = ld->pend[i].text;
        else
            free(ld->pend[i].text);
    }
    if (lines)
        problems->lines = lines;
    else if (ld->n_pend)
        ld->nomem = true;
    free(ld->pend);
    ld->pend = NULL;
}

/* ---- keys and typed getters ---- */

static const char *key(char *buf, const char *at, const char *name)
{
    snprintf(buf, CONFIG_KEY_MAX, "%s%s%s", at, *at ? "." : "", name);
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

static void check_keys(struct loader *ld, const config_setting_t *g, const char *at,
                       const char *const *known)
{
    char k[CONFIG_KEY_MAX];
    size_t i;

    for (int m = 0; g && m < config_setting_length(g); m++) {
        const config_setting_t *s = config_setting_get_elem(g, (unsigned)m);
        const char *name = config_setting_name(s), *h;
        for (i = 0; known[i] && strcmp(known[i], name) != 0; i++)
            ;
        if (known[i])
            continue;
        if ((h = hint(name, known)))
            report(ld, s, "unknown key '%s' (did you mean '%s'?)", key(k, at, name), h);
        else
            report(ld, s, "unknown key '%s'", key(k, at, name));
    }
}

static const config_setting_t *member(const config_setting_t *g, const char *name)
{
    return g ? config_setting_get_member(g, name) : NULL;
}

static bool is_kind(const config_setting_t *s, enum kind kind)
{
    int t = config_setting_type(s);
    switch (kind) {
    case KIND_INT:
        return t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64;
    case KIND_NUMBER:
        return config_setting_is_number(s);
    case KIND_BOOL:
        return t == CONFIG_TYPE_BOOL;
    case KIND_STRING:
        return t == CONFIG_TYPE_STRING;
    case KIND_GROUP:
        return t == CONFIG_TYPE_GROUP;
    case KIND_LIST:
        return t == CONFIG_TYPE_LIST;
    case KIND_STRINGS:
        return t == CONFIG_TYPE_ARRAY || t == CONFIG_TYPE_LIST;
    }
    return false;
}

/* The member `name` of `g` when it is of `kind`; NULL when absent, or wrong (reported). */
static const config_setting_t *typed(struct loader *ld, const config_setting_t *g, const char *at,
                                     const char *name, enum kind kind)
{
    const config_setting_t *s = member(g, name);

    if (s && !is_kind(s, kind)) {
        char k[CONFIG_KEY_MAX];
        report(ld, s, "%s must be %s", key(k, at, name), kind_text[kind]);
        return NULL;
    }
    return s;
}

/* Element `i` of `l` (whose key path is `at`) when it is of `kind`, else NULL (reported). */
static const config_setting_t *element(struct loader *ld, const config_setting_t *l, const char *at,
                                       unsigned i, enum kind kind)
{
    const config_setting_t *s = config_setting_get_elem(l, i);

    if (!is_kind(s, kind)) {
        report(ld, s, "%s[%u] must be %s", at, i, kind_text[kind]);
        return NULL;
    }
    return s;
}

/* The list of groups `name` in `g`: returns one zeroed struct of `size` per element, whether
 * the element is valid or not, so that indexes match; `*n` gets the count, `*l` the list. */
static void *items(struct loader *ld, const config_setting_t *g, const char *at, const char *name,
                   size_t size, size_t *n, const config_setting_t **l)
{
    void *arr;

    *l = typed(ld, g, at, name, KIND_LIST);
    *n = *l ? (size_t)config_setting_length(*l) : 0;
    if (*n == 0)
        return NULL;
    if (!(arr = calloc(*n, size))) {
        ld->nomem = true;
        *n = 0;
    }
    return arr;
}

/* Element `i` of the list `l` of groups named `list`: its keys are checked against `keys` and
 * `at` gets its key path ("observe[2]"). NULL when it is not a group (reported). */
static const config_setting_t *item(struct loader *ld, const config_setting_t *l, const char *list,
                                    unsigned i, const char *const *keys, char *at)
{
    const config_setting_t *e = element(ld, l, list, i, KIND_GROUP);

    snprintf(at, CONFIG_KEY_MAX, "%s[%u]", list, i);
    if (e)
        check_keys(ld, e, at, keys);
    return e;
}

/* Reads an integer into `*out` (untouched when absent or invalid). True when set and valid. */
static bool get_int(struct loader *ld, const config_setting_t *g, const char *at, const char *name,
                    long long min, long long max, long long *out)
{
    const config_setting_t *s = typed(ld, g, at, name, KIND_INT);
    long long v = s ? config_setting_get_int64(s) : 0;

    if (s && (v < min || v > max)) {
        char k[CONFIG_KEY_MAX];
        report(ld, s, "%s must be between %lld and %lld", key(k, at, name), min, max);
    } else if (s) {
        *out = v;
    }
    return s && v >= min && v <= max;
}

/* The min <= max rule of a pair, reported at `hi_name` if written, else at `lo_name`. */
static void check_order(struct loader *ld, const config_setting_t *g, const char *at,
                        const char *lo_name, long long lo, const char *hi_name, long long hi)
{
    if (hi < lo)
        report(ld, member(g, hi_name) ? member(g, hi_name) : member(g, lo_name),
               "%s.%s (%lld) must be >= %s (%lld)", at, hi_name, hi, lo_name, lo);
}

static void get_bool(struct loader *ld, const config_setting_t *g, const char *at, const char *name,
                     bool *out)
{
    const config_setting_t *s = typed(ld, g, at, name, KIND_BOOL);
    if (s)
        *out = config_setting_get_bool(s) != 0;
}

static bool get_number(struct loader *ld, const config_setting_t *g, const char *at,
                       const char *name, double *out)
{
    const config_setting_t *s = typed(ld, g, at, name, KIND_NUMBER);
    if (s)
        *out = config_setting_type(s) == CONFIG_TYPE_FLOAT ? config_setting_get_float(s)
                                                           : (double)config_setting_get_int64(s);
    return s != NULL;
}

/* A string borrowed from the libconfig tree (flags: STR_*); NULL when absent or invalid. */
static const char *get_str(struct loader *ld, const config_setting_t *g, const char *at,
                           const char *name, int flags)
{
    const config_setting_t *s = typed(ld, g, at, name, KIND_STRING);
    const char *v = s ? config_setting_get_string(s) : NULL;
    char k[CONFIG_KEY_MAX];

    if (!s && (flags & STR_REQUIRED) && !member(g, name))
        report(ld, g, "%s is required", key(k, at, name));
    else if (v && !*v && !(flags & STR_EMPTY_OK))
        report(ld, s, "%s must not be empty", key(k, at, name));
    else if (v && (flags & STR_ENDPOINT) && strlen(v) > GW_EP_MAX)
        report(ld, s, "%s must be at most %d bytes", key(k, at, name), GW_EP_MAX);
    else
        return v;
    return NULL;
}

/* A malloc'd copy, NULL for NULL; running out of memory is remembered in `ld`. */
static char *own(struct loader *ld, const char *s)
{
    char *d = s ? strdup(s) : NULL;
    ld->nomem |= s && !d;
    return d;
}

/* A string naming a file the gateway must be able to read; copied into `*dst`. */
static void get_file(struct loader *ld, const config_setting_t *g, const char *at, const char *name,
                     char **dst)
{
    const char *v = get_str(ld, g, at, name, STR_OPTIONAL);
    char k[CONFIG_KEY_MAX];
    struct stat st;

    if (v && (access(v, R_OK) != 0 || stat(v, &st) != 0))
        report(ld, member(g, name), "%s: cannot read '%s': %s", key(k, at, name), v,
               strerror(errno));
    else if (v && S_ISDIR(st.st_mode))
        report(ld, member(g, name), "%s: '%s' is a directory", key(k, at, name), v);
    else
        *dst = own(ld, v);
}

/* ---- keys and URIs ---- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int b64val(char c)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c ? strchr(alphabet, c) : NULL;
    return p ? (int)(p - alphabet) : -1;
}

/* Decodes a key written as "hex:...", "base64:..." or (when `plain`) bytes as they are. The
 * messages never quote the text: it is a secret. */
static void get_key(struct loader *ld, const config_setting_t *g, const char *at, const char *name,
                    bool plain, uint8_t **out, size_t *out_len)
{
    const char *v = get_str(ld, g, at, name, STR_REQUIRED), *why = NULL;
    size_t len = v ? strlen(v) : 0, n = 0;
    uint8_t *buf = v ? malloc(len + 1) : NULL;

    if (!buf) {
        ld->nomem |= v != NULL;
        return;
    }
    if (strncmp(v, "hex:", 4) == 0) {
        v += 4;
        len -= 4;
        if (len == 0 || len % 2)
            why = "hex: needs an even, non-zero number of hex digits";
        for (size_t i = 0; !why && i < len; i += 2) {
            int hi = hexval(v[i]), lo = hexval(v[i + 1]);
            if (hi < 0 || lo < 0)
                why = "hex: has a character that is not a hex digit";
            else
                buf[n++] = (uint8_t)(hi << 4 | lo);
        }
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
        char k[CONFIG_KEY_MAX];
        report(ld, member(g, name), "%s: %s", key(k, at, name), why);
        explicit_bzero(buf, len + 1);
        free(buf);
        return;
    }
    *out = buf;
    *out_len = n;
}

/* Why an MQTT broker URI is not one Paho can use, or NULL; `*tls` tells whether its scheme is a
 * TLS one. The reason never quotes the URI: it could carry a password. */
static const char *mqtt_uri_problem(const char *uri, bool *tls)
{
    static const struct {
        const char *name;
        bool tls, path;
    } schemes[] = {{"tcp", false, false},  {"ssl", true, false}, {"mqtt", false, false},
                   {"mqtts", true, false}, {"ws", false, true},  {"wss", true, true}};
    const char *sep = strstr(uri, "://"), *p, *end;
    size_t i;

    for (i = 0; sep && i < GW_ARRAY_LEN(schemes); i++) {
        if (strlen(schemes[i].name) == (size_t)(sep - uri) &&
            strncasecmp(uri, schemes[i].name, (size_t)(sep - uri)) == 0)
            break;
    }
    if (!sep || i == GW_ARRAY_LEN(schemes))
        return "scheme must be tcp://, ssl://, mqtt://, mqtts://, ws:// or wss://";
    *tls = schemes[i].tls;
    p = sep + 3;
    if (*p == '[') {
        char v6[INET6_ADDRSTRLEN + 1];
        struct in6_addr a6;
        size_t n;
        end = strchr(p, ']');
        n = end ? (size_t)(end - p - 1) : 0;
        if (n == 0 || n >= sizeof(v6))
            return "has no valid host";
        memcpy(v6, p + 1, n);
        v6[n] = '\0';
        if (inet_pton(AF_INET6, v6, &a6) != 1)
            return "has no valid host";
        p = end + 1;
    } else {
        end = p;
        p += strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_");
        if (strchr(p, '@'))
            return "user:password@ is not supported (use username and password)";
        if (p == end)
            return "has no valid host";
    }
    if (*p == ':') {
        unsigned long port = 0;
        for (p++; *p >= '0' && *p <= '9' && port <= 65535; p++)
            port = port * 10 + (unsigned long)(*p - '0');
        if (port < 1 || port > 65535)
            return "port must be 1-65535";
    }
    if (*p == '\0' || (*p == '/' && (schemes[i].path || p[1] == '\0')))
        return NULL;
    return "unexpected text after the host and port";
}

/* Why a topic prefix is not a plain topic (wildcards, a leading, trailing or empty level). */
static const char *prefix_problem(const char *p)
{
    if (strpbrk(p, "+#"))
        return "must not contain '+' or '#'";
    if (p[0] == '/' || p[strlen(p) - 1] == '/')
        return "must not start or end with '/'";
    return strstr(p, "//") ? "must not have an empty level ('//')" : NULL;
}

/* ---- lwm2m ---- */

static void load_security(struct loader *ld, const config_setting_t *g, struct server_security *sec)
{
    static const char *const keys[] = {
        "psk",      "psk_file",       "rpk",         "ca_file", "cert_file",
        "key_file", "cert_endpoints", "allow_nosec", NULL};
    static const char *const psk_keys[] = {"endpoint", "identity", "key", NULL};
    static const char *const rpk_keys[] = {"endpoint", "public_key", NULL};
    static const char *const cert_keys[] = {"cn", "endpoint", NULL};
    const char *sat = "lwm2m.security";
    const config_setting_t *l, *e;
    char at[CONFIG_KEY_MAX];

    sec->allow_nosec = true;
    check_keys(ld, g, sat, keys);
    sec->psk = items(ld, g, sat, "psk", sizeof(*sec->psk), &sec->n_psk, &l);
    for (unsigned i = 0; i < sec->n_psk; i++) {
        struct psk_entry *p = &sec->psk[i];
        if (!(e = item(ld, l, "lwm2m.security.psk", i, psk_keys, at)))
            continue;
        p->endpoint = own(ld, get_str(ld, e, at, "endpoint", STR_REQUIRED | STR_ENDPOINT));
        p->identity = own(ld, get_str(ld, e, at, "identity", STR_REQUIRED));
        get_key(ld, e, at, "key", true, &p->key, &p->key_len);
        for (unsigned j = 0; j < i; j++) {
            const struct psk_entry *q = &sec->psk[j];
            if (p->endpoint && q->endpoint && strcmp(p->endpoint, q->endpoint) == 0)
                report(ld, member(e, "endpoint"), "%s.endpoint '%s' is already used by %s[%u]", at,
                       p->endpoint, "lwm2m.security.psk", j);
            if (p->identity && q->identity && strcmp(p->identity, q->identity) == 0)
                report(ld, member(e, "identity"), "%s.identity '%s' is already used by %s[%u]", at,
                       p->identity, "lwm2m.security.psk", j);
        }
    }
    get_file(ld, g, sat, "psk_file", &sec->psk_file);

    sec->rpk = items(ld, g, sat, "rpk", sizeof(*sec->rpk), &sec->n_rpk, &l);
    for (unsigned i = 0; i < sec->n_rpk; i++) {
        struct rpk_entry *r = &sec->rpk[i];
        if (!(e = item(ld, l, "lwm2m.security.rpk", i, rpk_keys, at)))
            continue;
        r->endpoint = own(ld, get_str(ld, e, at, "endpoint", STR_REQUIRED | STR_ENDPOINT));
        get_key(ld, e, at, "public_key", false, &r->public_key, &r->public_key_len);
        /* A SubjectPublicKeyInfo is a DER SEQUENCE: catches a PEM text or a raw point. */
        if (r->public_key && r->public_key[0] != 0x30)
            report(ld, member(e, "public_key"),
                   "%s.public_key is not a DER SubjectPublicKeyInfo (it must start with 0x30)", at);
    }
    if (sec->n_rpk && !member(g, "key_file"))
        report(ld, l, "%s.rpk needs key_file (the gateway's own private key)", sat);

    get_file(ld, g, sat, "ca_file", &sec->ca_file);
    get_file(ld, g, sat, "cert_file", &sec->cert_file);
    get_file(ld, g, sat, "key_file", &sec->key_file);
    if (member(g, "cert_file") && !member(g, "key_file"))
        report(ld, member(g, "cert_file"), "%s.cert_file is set but key_file is not", sat);
    sec->cert_endpoints = items(ld, g, sat, "cert_endpoints", sizeof(*sec->cert_endpoints),
                                &sec->n_cert_endpoints, &l);
    for (unsigned i = 0; i < sec->n_cert_endpoints; i++) {
        if (!(e = item(ld, l, "lwm2m.security.cert_endpoints", i, cert_keys, at)))
            continue;
        sec->cert_endpoints[i].cn = own(ld, get_str(ld, e, at, "cn", STR_REQUIRED));
        sec->cert_endpoints[i].endpoint =
            own(ld, get_str(ld, e, at, "endpoint", STR_REQUIRED | STR_ENDPOINT));
    }
    get_bool(ld, g, sat, "allow_nosec", &sec->allow_nosec);
}

static void load_lwm2m(struct loader *ld, const config_setting_t *g, struct server_config *c)
{
    static const char *const keys[] = {"listen", "lifetime_min", "lifetime_max", "security", NULL};
    const config_setting_t *l = typed(ld, g, "lwm2m", "listen", KIND_STRINGS), *e = NULL;
    const config_setting_t *sg = typed(ld, g, "lwm2m", "security", KIND_GROUP);
    long long min = 30, max = 604800;
    char err[CONFIG_ERR_MAX];
    bool creds, coaps = false;
    /* No listen key: the one default listener. A wrong one: none (already reported). */
    unsigned n = l ? (unsigned)config_setting_length(l) : !member(g, "listen");
    int rc;

    check_keys(ld, g, "lwm2m", keys);
    load_security(ld, sg, &c->security);
    /* Written credentials count even when invalid: those are reported on their own. */
    creds =
        c->security.n_psk || c->security.n_rpk || member(sg, "psk_file") || member(sg, "cert_file");
    if (l && n == 0)
        report(ld, l, "lwm2m.listen must not be empty");
    if (n && !(c->listen = calloc(n, sizeof(*c->listen))))
        ld->nomem = true;
    for (unsigned i = 0; c->listen && i < n; i++) {
        if (l && !(e = element(ld, l, "lwm2m.listen", i, KIND_STRING)))
            continue;
        rc = listen_parse(e ? config_setting_get_string(e) : "coap://0.0.0.0:5683",
                                &c->listen[c->n_listen], err, sizeof(err));
        ld->nomem |= rc == -GW_ERR_NOMEM;
        if (rc == -GW_ERR_INVALID)
            report(ld, e, "lwm2m.listen[%u]: %s", i, err);
        if (rc != GW_OK)
            continue;
        if (c->listen[c->n_listen++].scheme == GW_SCHEME_COAPS && !creds)
            report(ld, e,
                   "lwm2m.listen[%u]: coaps listener but no credentials (set lwm2m.security psk, "
                   "psk_file, rpk or cert_file)",
                   i);
        coaps |= c->listen[c->n_listen - 1].scheme == GW_SCHEME_COAPS;
    }
    if (c->n_listen && !coaps && !c->security.allow_nosec)
        report(ld, member(sg, "allow_nosec"),
               "lwm2m.security.allow_nosec is false and there is no coaps listener: no "
               "listener would accept any device");

    get_int(ld, g, "lwm2m", "lifetime_min", 1, UINT32_MAX, &min);
    get_int(ld, g, "lwm2m", "lifetime_max", 1, UINT32_MAX, &max);
    check_order(ld, g, "lwm2m", "lifetime_min", min, "lifetime_max", max);
    c->lifetime_min = (uint32_t)min;
    c->lifetime_max = (uint32_t)max;
}

/* ---- mqtt, store, objects ---- */

static void load_mqtt(struct loader *ld, const config_setting_t *g, struct bridge_config *m)
{
    static const char *const keys[] = {
        "uri",     "client_id", "topic_prefix",  "qos",           "username",     "password",
        "version", "keepalive", "reconnect_min", "reconnect_max", "max_buffered", "tls",
        NULL};
    static const char *const tls_keys[] = {"ca_file", "cert_file", "key_file", "verify_hostname",
                                           NULL};
    long long qos = 1, ka = 60, rmin = 1, rmax = 60, buf = 10000;
    const config_setting_t *tg, *vs = member(g, "version");
    const char *v, *why = NULL;
    bool tls = false;

    check_keys(ld, g, "mqtt", keys);
    v = get_str(ld, g, "mqtt", "uri", STR_OPTIONAL);
    if (v && (why = mqtt_uri_problem(v, &tls)))
        report(ld, member(g, "uri"), "mqtt.uri: %s", why);
    m->uri = own(ld, v ? v : "tcp://127.0.0.1:1883");
    if ((tg = typed(ld, g, "mqtt", "tls", KIND_GROUP)) && !tls && !why && (v || !member(g, "uri")))
        report(ld, tg, "mqtt.tls is set but uri is not ssl:// (nor mqtts://, wss://)");

    v = get_str(ld, g, "mqtt", "client_id", STR_OPTIONAL);
    if (v && strlen(v) > 256)
        report(ld, member(g, "client_id"), "mqtt.client_id must be 1 to 256 characters");
    m->client_id = own(ld, v ? v : "lwm2m-gw");
    v = get_str(ld, g, "mqtt", "topic_prefix", STR_OPTIONAL);
    if (v && prefix_problem(v))
        report(ld, member(g, "topic_prefix"), "mqtt.topic_prefix %s", prefix_problem(v));
    m->topic_prefix = own(ld, v ? v : "lwm2m");
    /* An empty user name or password is legal MQTT. */
    m->username = own(ld, get_str(ld, g, "mqtt", "username", STR_EMPTY_OK));
    m->password = own(ld, get_str(ld, g, "mqtt", "password", STR_EMPTY_OK));

    m->version = 4;
    if (vs && is_kind(vs, KIND_INT) &&
        (config_setting_get_int64(vs) == 4 || config_setting_get_int64(vs) == 5))
        m->version = (int)config_setting_get_int64(vs);
    else if (vs && is_kind(vs, KIND_STRING) && strcmp(config_setting_get_string(vs), "5") == 0)
        m->version = 5;
    else if (vs && !(is_kind(vs, KIND_STRING) && !strcmp(config_setting_get_string(vs), "3.1.1")))
        report(ld, vs, "mqtt.version must be \"3.1.1\" or \"5\" (or the protocol level 4 or 5)");

    get_int(ld, g, "mqtt", "qos", 0, 2, &qos);
    get_int(ld, g, "mqtt", "keepalive", 5, 65535, &ka);
    get_int(ld, g, "mqtt", "reconnect_min", 1, INT_MAX, &rmin);
    get_int(ld, g, "mqtt", "reconnect_max", 1, INT_MAX, &rmax);
    check_order(ld, g, "mqtt", "reconnect_min", rmin, "reconnect_max", rmax);
    get_int(ld, g, "mqtt", "max_buffered", 0, INT_MAX, &buf);
    m->qos = (int)qos;
    m->keepalive = (int)ka;
    m->reconnect_min = (int)rmin;
    m->reconnect_max = (int)rmax;
    m->max_buffered = (int)buf;

    m->tls.verify_hostname = true;
    check_keys(ld, tg, "mqtt.tls", tls_keys);
    get_file(ld, tg, "mqtt.tls", "ca_file", &m->tls.ca_file);
    get_file(ld, tg, "mqtt.tls", "cert_file", &m->tls.cert_file);
    get_file(ld, tg, "mqtt.tls", "key_file", &m->tls.key_file);
    get_bool(ld, tg, "mqtt.tls", "verify_hostname", &m->tls.verify_hostname);
    if (member(tg, "cert_file") && !member(tg, "key_file"))
        report(ld, member(tg, "cert_file"), "mqtt.tls.cert_file is set but key_file is not");
}

static void load_store(struct loader *ld, const config_setting_t *g, struct store_config *st)
{
    static const char *const keys[] = {"path", "hold_ttl", "hold_max", NULL};
    const char *v = get_str(ld, g, "store", "path", STR_OPTIONAL);
    long long ttl = 86400, max = 100;

    check_keys(ld, g, "store", keys);
    st->path = own(ld, v ? v : "/var/lib/lwm2m-mqtt-gateway/state.db");
    get_int(ld, g, "store", "hold_ttl", 0, UINT32_MAX, &ttl);
    get_int(ld, g, "store", "hold_max", 1, UINT32_MAX, &max);
    st->hold_ttl = (uint32_t)ttl;
    st->hold_max = (uint32_t)max;
}

static void load_objects(struct loader *ld, const config_setting_t *g, struct gw_config *cfg)
{
    static const char *const keys[] = {"dirs", NULL};
    const config_setting_t *l = typed(ld, g, "objects", "dirs", KIND_STRINGS);
    unsigned n = l ? (unsigned)config_setting_length(l) : 0;
    struct stat st;

    check_keys(ld, g, "objects", keys);
    if (n && !(cfg->object_dirs = calloc(n, sizeof(char *))))
        ld->nomem = true;
    for (unsigned i = 0; cfg->object_dirs && i < n; i++) {
        const config_setting_t *e = element(ld, l, "objects.dirs", i, KIND_STRING);
        const char *dir = e ? config_setting_get_string(e) : NULL;
        if (!dir)
            continue;
        if (stat(dir, &st) != 0)
            report(ld, e, "objects.dirs[%u]: cannot open '%s': %s", i, dir, strerror(errno));
        else if (!S_ISDIR(st.st_mode))
            report(ld, e, "objects.dirs[%u]: '%s' is not a directory", i, dir);
        else
            cfg->object_dirs[cfg->n_object_dirs++] = own(ld, dir);
    }
}

/* ---- observe, mappings, commands ---- */

/* The path of a rule, checked against `flags` (STR_REQUIRED or not), copied into `*dst`. */
static void get_path(struct loader *ld, const config_setting_t *e, const char *at, unsigned flags,
                     int required, char **dst)
{
    const char *v = get_str(ld, e, at, "path", required);
    char err[CONFIG_ERR_MAX];

    if (v && mappings_check_path(v, flags, err, sizeof(err)) != GW_OK)
        report(ld, member(e, "path"), "%s.path: %s", at, err);
    else
        *dst = own(ld, v);
}

/* The topic template of a rule: required, checked, copied into `*dst`. */
static void get_topic(struct loader *ld, const config_setting_t *e, const char *at, char **dst)
{
    const char *v = get_str(ld, e, at, "topic", STR_REQUIRED);
    char err[CONFIG_ERR_MAX];

    if (v && mappings_check_template(v, err, sizeof(err)) != GW_OK)
        report(ld, member(e, "topic"), "%s.topic: %s", at, err);
    else
        *dst = own(ld, v);
}

static void load_observe(struct loader *ld, const config_setting_t *root,
                         struct mappings_config *rc)
{
    static const char *const keys[] = {"path", "endpoint", "pmin", "pmax", "gt", "lt", "st", NULL};
    const config_setting_t *l;
    char at[CONFIG_KEY_MAX];

    rc->observe = items(ld, root, "", "observe", sizeof(*rc->observe), &rc->n_observe, &l);
    for (unsigned i = 0; i < rc->n_observe; i++) {
        struct observe_rule *r = &rc->observe[i];
        long long pmin = -1, pmax = -1;
        const config_setting_t *e = item(ld, l, "observe", i, keys, at);
        if (!e)
            continue;
        r->line = (int)config_setting_source_line(e);
        get_path(ld, e, at, 0, STR_REQUIRED, &r->path);
        r->endpoint = own(ld, get_str(ld, e, at, "endpoint", STR_OPTIONAL));
        get_int(ld, e, at, "pmin", 0, INT32_MAX, &pmin);
        get_int(ld, e, at, "pmax", 0, INT32_MAX, &pmax);
        if (pmin >= 0 && pmax >= 0)
            check_order(ld, e, at, "pmin", pmin, "pmax", pmax);
        r->pmin = (int32_t)pmin;
        r->pmax = (int32_t)pmax;
        r->has_gt = get_number(ld, e, at, "gt", &r->gt);
        r->has_lt = get_number(ld, e, at, "lt", &r->lt);
        r->has_st = get_number(ld, e, at, "st", &r->st);
    }
}

static void load_mappings(struct loader *ld, const config_setting_t *root,
                          struct mappings_config *rc)
{
    static const char *const keys[] = {"path",   "endpoint", "topic", "payload",
                                       "retain", "qos",      NULL};
    const config_setting_t *l;
    char at[CONFIG_KEY_MAX];

    rc->mappings = items(ld, root, "", "mappings", sizeof(*rc->mappings), &rc->n_mappings, &l);
    for (unsigned i = 0; i < rc->n_mappings; i++) {
        struct mapping_rule *r = &rc->mappings[i];
        long long qos = -1;
        const char *v;
        const config_setting_t *e = item(ld, l, "mappings", i, keys, at);
        if (!e)
            continue;
        r->line = (int)config_setting_source_line(e);
        get_path(ld, e, at, GW_PATH_WILDCARD, STR_REQUIRED, &r->path);
        r->endpoint = own(ld, get_str(ld, e, at, "endpoint", STR_OPTIONAL));
        get_topic(ld, e, at, &r->topic);
        r->payload = GW_PAYLOAD_JSON;
        v = get_str(ld, e, at, "payload", STR_OPTIONAL);
        if (v && mappings_parse_payload(v, &r->payload) != GW_OK)
            report(ld, member(e, "payload"),
                   "%s.payload must be \"value\", \"json\", \"instance\" or \"senml\"", at);
        get_bool(ld, e, at, "retain", &r->retain);
        get_int(ld, e, at, "qos", 0, 2, &qos);
        r->qos = (int)qos;
    }
}

static void load_commands(struct loader *ld, const config_setting_t *root,
                          struct mappings_config *rc)
{
    static const char *const keys[] = {"topic", "op", "path", "format", NULL};
    static const char *const vars[] = {"{iid}", "{rid}", "{riid}"};
    const config_setting_t *l;
    char at[CONFIG_KEY_MAX];

    rc->commands = items(ld, root, "", "commands", sizeof(*rc->commands), &rc->n_commands, &l);
    for (unsigned i = 0; i < rc->n_commands; i++) {
        struct command_rule *r = &rc->commands[i];
        const char *v;
        bool composite;
        size_t f;
        const config_setting_t *e = item(ld, l, "commands", i, keys, at);
        if (!e)
            continue;
        r->line = (int)config_setting_source_line(e);
        get_topic(ld, e, at, &r->topic);
        if (r->topic && !strstr(r->topic, "{ep}"))
            report(ld, member(e, "topic"), "%s.topic must contain {ep}", at);
        v = get_str(ld, e, at, "op", STR_REQUIRED);
        if (v && mappings_parse_op(v, &r->op) != GW_OK)
            report(ld, member(e, "op"), "%s.op: unknown operation '%s'", at, v);
        /* The composite operations take their paths from the message, not from the rule. */
        composite = v && (r->op == GW_OP_READ_COMPOSITE || r->op == GW_OP_WRITE_COMPOSITE ||
                          r->op == GW_OP_OBSERVE_COMPOSITE);
        get_path(ld, e, at, GW_PATH_VARS, composite ? STR_OPTIONAL : STR_REQUIRED, &r->path);
        /* A path variable the topic does not bind could never be filled in. */
        for (size_t j = 0; r->path && r->topic && j < GW_ARRAY_LEN(vars); j++) {
            if (strstr(r->path, vars[j]) && !strstr(r->topic, vars[j]))
                report(ld, member(e, "path"), "%s.path uses %s but the topic does not bind it", at,
                       vars[j]);
        }
        v = get_str(ld, e, at, "format", STR_OPTIONAL);
        for (f = 0; v && f < GW_ARRAY_LEN(format_names) && strcmp(v, format_names[f]); f++)
            ;
        if (v && f == GW_ARRAY_LEN(format_names))
            report(ld, member(e, "format"),
                   "%s.format must be one of text, opaque, cbor, tlv, json, senml-json, "
                   "senml-cbor, link",
                   at);
        r->format = own(ld, v);
    }
}

/* ---- public ---- */

int conffile_load(const char *path, struct gw_config *out, struct conffile_problems *problems)
{
    static const char *const keys[] = {"lwm2m",   "mqtt",     "store",    "objects",
                                       "observe", "mappings", "commands", NULL};
    struct loader ld = {.path = path};
    const config_setting_t *root;
    char file[PATH_MAX], *dir = NULL, *slash = strrchr(path, '/');
    unsigned rank;
    struct stat st;
    config_t lc;
    int rc;

    memset(out, 0, sizeof(*out));
    config_init(&lc);
    ld.lc = &lc;
    errno = 0;
    if (stat(path, &st) != 0 || access(path, R_OK) != 0 || S_ISDIR(st.st_mode)) {
        rc = problems_add(problems, "%s: cannot read: %s", path, strerror(errno ? errno : EISDIR));
        rc = rc ? rc : -GW_ERR_IO;
        goto out;
    }
    /* @include paths are taken relative to the main file, not to the daemon's directory. */
    if (slash) {
        if (!(dir = strndup(path, slash == path ? 1 : (size_t)(slash - path)))) {
            rc = -GW_ERR_NOMEM;
            goto out;
        }
        config_set_include_dir(&lc, dir);
    }
    if (!config_read_file(&lc, path)) {
        if (config_error_type(&lc) == CONFIG_ERR_FILE_IO) {
            rc = problems_add(problems, "%s: cannot read: %s", path, config_error_text(&lc));
            rc = rc ? rc : -GW_ERR_IO;
            goto out;
        }
        file_name(&lc, path, config_error_file(&lc), file, sizeof(file), &rank);
        rc = problems_add(problems, "%s:%d: syntax error: %s", file, config_error_line(&lc),
                          config_error_text(&lc));
        rc = rc ? rc : -GW_ERR_INVALID;
        goto out;
    }

    out->file = own(&ld, path);
    root = config_root_setting(&lc);
    check_keys(&ld, root, "", keys);
    load_lwm2m(&ld, typed(&ld, root, "", "lwm2m", KIND_GROUP), &out->lwm2m);
    load_mqtt(&ld, typed(&ld, root, "", "mqtt", KIND_GROUP), &out->mqtt);
    load_store(&ld, typed(&ld, root, "", "store", KIND_GROUP), &out->store);
    load_objects(&ld, typed(&ld, root, "", "objects", KIND_GROUP), out);
    load_observe(&ld, root, &out->rules);
    load_mappings(&ld, root, &out->rules);
    load_commands(&ld, root, &out->rules);
    rc = ld.n_pend ? -GW_ERR_INVALID : GW_OK;
    flush(&ld, problems);
    if (ld.nomem)
        rc = -GW_ERR_NOMEM;

out:
    config_destroy(&lc);
    free(dir);
    if (rc != GW_OK)
        conffile_clear(out);
    return rc;
}

/* Replaces `*dst` by a copy of `v`; the old value is wiped first when `secret`. */
static int replace(char **dst, const char *v, bool secret)
{
    char *copy = strdup(v);

    if (!copy)
        return -GW_ERR_NOMEM;
    if (secret && *dst)
        explicit_bzero(*dst, strlen(*dst));
    free(*dst);
    *dst = copy;
    return GW_OK;
}

int conffile_apply_env(struct gw_config *cfg, struct conffile_problems *problems)
{
    const char *uri = getenv("LWM2M_GW_MQTT_URI"), *user = getenv("LWM2M_GW_MQTT_USERNAME");
    const char *pass = getenv("LWM2M_GW_MQTT_PASSWORD"), *why = NULL;
    const struct bridge_tls *t = &cfg->mqtt.tls;
    bool tls = false;
    int rc = GW_OK;

    /* An empty variable counts as unset: compose files often pass "${VAR:-}". */
    if (uri && *uri) {
        why = mqtt_uri_problem(uri, &tls);
        if (!why && !tls && (t->ca_file || t->cert_file || t->key_file))
            why = "mqtt.tls is set but uri is not ssl:// (nor mqtts://, wss://)";
        if (why)
            rc = problems_add(problems, "LWM2M_GW_MQTT_URI: %s", why);
        else
            rc = replace(&cfg->mqtt.uri, uri, false);
        if (rc != GW_OK || why)
            return rc ? rc : -GW_ERR_INVALID;
    }
    if (user && *user && (rc = replace(&cfg->mqtt.username, user, false)) != GW_OK)
        return rc;
    if (pass && *pass && (rc = replace(&cfg->mqtt.password, pass, true)) != GW_OK)
        return rc;
    return GW_OK;
}

void conffile_clear(struct gw_config *cfg)
{
    struct server_security *s = &cfg->lwm2m.security;

    for (size_t i = 0; i < cfg->lwm2m.n_listen; i++)
        listen_clear(&cfg->lwm2m.listen[i]);
    free(cfg->lwm2m.listen);
    for (size_t i = 0; i < s->n_psk; i++) {
        free(s->psk[i].endpoint);
        free(s->psk[i].identity);
        if (s->psk[i].key)
            explicit_bzero(s->psk[i].key, s->psk[i].key_len);
        free(s->psk[i].key);
    }
    free(s->psk);
    for (size_t i = 0; i < s->n_rpk; i++) {
        free(s->rpk[i].endpoint);
        free(s->rpk[i].public_key);
    }
    free(s->rpk);
    for (size_t i = 0; i < s->n_cert_endpoints; i++) {
        free(s->cert_endpoints[i].cn);
        free(s->cert_endpoints[i].endpoint);
    }
    free(s->cert_endpoints);
    free(s->psk_file);
    free(s->ca_file);
    free(s->cert_file);
    free(s->key_file);

    free(cfg->mqtt.uri);
    free(cfg->mqtt.client_id);
    free(cfg->mqtt.topic_prefix);
    free(cfg->mqtt.username);
    if (cfg->mqtt.password)
        explicit_bzero(cfg->mqtt.password, strlen(cfg->mqtt.password));
    free(cfg->mqtt.password);
    free(cfg->mqtt.tls.ca_file);
    free(cfg->mqtt.tls.cert_file);
    free(cfg->mqtt.tls.key_file);
    free(cfg->store.path);
    for (size_t i = 0; i < cfg->n_object_dirs; i++)
        free(cfg->object_dirs[i]);
    free(cfg->object_dirs);
    mappings_config_clear(&cfg->rules);
    free(cfg->file);
    memset(cfg, 0, sizeof(*cfg));
}

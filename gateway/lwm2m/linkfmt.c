/* linkfmt.c - CoRE Link Format (RFC 6690): a parser for what devices send and a writer of the
 * canonical form. Devices feed the parser, so it is a strict single pass over a length-bounded
 * buffer, every count is capped (LINKFMT_MAX_LINKS, LINKFMT_MAX_ATTRS), and every failure says
 * which link, at which byte offset, and what was expected. Its one leniency is optional
 * whitespace around ',' and ';' and at either end, which real clients send. */
#include "linkfmt.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"

struct parser {
    const char *buf;
    size_t len;
    size_t pos;
    size_t link; /* 1-based number of the link being read, for messages */
    char *err;
    size_t errlen;
};

/* ---- character classes (RFC 6690 section 2, RFC 3986, RFC 5987, RFC 7230) ---- */

static bool is_ows(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* A byte that may appear in a URI-Reference: unreserved, reserved or '%'. */
static bool is_uri_char(unsigned char c)
{
    return is_alnum(c) || (c != 0 && strchr("-._~:/?#[]@!$&'()*+,;=%", c) != NULL);
}

/* parmname (RFC 5987 attr-char). A trailing '*' (ext-name-star) is handled by the callers. */
static bool is_name_char(unsigned char c)
{
    return is_alnum(c) || (c != 0 && strchr("!#$&+-.^_`|~", c) != NULL);
}

/* ptokenchar: printable ASCII except '"', ',', ';' and '\'. */
static bool is_ptoken_char(unsigned char c)
{
    return c >= 0x21 && c <= 0x7e && c != '"' && c != ',' && c != ';' && c != '\\';
}

/* qdtext of a quoted-string, and what may follow a '\' (HTAB, SP, VCHAR, obs-text). */
static bool is_qd_char(unsigned char c)
{
    return c == '\t' || c == ' ' || (c >= 0x21 && c != 0x7f);
}

/* ---- errors ---- */

/* Describes the byte at `at` for a message: "'x'", "NUL byte", "byte 0x0b", "end of payload". */
static void describe(const struct parser *p, size_t at, char *out, size_t n)
{
    if (at >= p->len) {
        snprintf(out, n, "end of payload");
        return;
    }
    unsigned char c = (unsigned char)p->buf[at];
    if (c == 0)
        snprintf(out, n, "NUL byte");
    else if (c >= 0x20 && c < 0x7f)
        snprintf(out, n, "'%c'", c);
    else
        snprintf(out, n, "byte 0x%02x", c);
}

static int fail(struct parser *p, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct parser *p, size_t at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (p->err && p->errlen) {
        int k = snprintf(p->err, p->errlen, "link %zu at offset %zu: ", p->link, at);
        if (k >= 0 && (size_t)k < p->errlen)
            vsnprintf(p->err + k, p->errlen - (size_t)k, fmt, ap);
    }
    va_end(ap);
    return -GW_ERR_INVALID;
}

/* Fails at the current position with "expected <what>, found <byte>". */
static int expected(struct parser *p, const char *what)
{
    char found[32];
    describe(p, p->pos, found, sizeof(found));
    return fail(p, p->pos, "expected %s, found %s", what, found);
}

/* ---- parser ---- */

static bool at_end(const struct parser *p)
{
    return p->pos >= p->len;
}

static unsigned char peek(const struct parser *p)
{
    return (unsigned char)p->buf[p->pos];
}

static void skip_ows(struct parser *p)
{
    while (!at_end(p) && is_ows(peek(p)))
        p->pos++;
}

static char *dup_range(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* Reads a quoted-string starting at its opening '"' into a malloc'd, unescaped `*out`. */
static int parse_quoted(struct parser *p, char **out)
{
    size_t open = p->pos++;
    size_t n = 0;
    size_t i = p->pos;

    /* First pass: validate and measure, so that the copy below cannot overrun. */
    for (;;) {
        if (i >= p->len)
            return fail(p, open, "unterminated quoted string");
        unsigned char c = (unsigned char)p->buf[i];
        if (c == '"')
            break;
        if (c == '\\') {
            if (i + 1 >= p->len)
                return fail(p, open, "unterminated quoted string");
            if (!is_qd_char((unsigned char)p->buf[i + 1])) {
                char found[32];
                describe(p, i + 1, found, sizeof(found));
                return fail(p, i + 1, "%s cannot be escaped in a quoted string", found);
            }
            i += 2;
        } else if (is_qd_char(c)) {
            i++;
        } else {
            char found[32];
            describe(p, i, found, sizeof(found));
            return fail(p, i, "%s is not allowed in a quoted string", found);
        }
        n++;
    }

    char *v = malloc(n + 1);
    if (!v)
        return -GW_ERR_NOMEM;
    size_t k = 0;
    while (p->pos < i) {
        if (p->buf[p->pos] == '\\')
            p->pos++;
        v[k++] = p->buf[p->pos++];
    }
    v[k] = '\0';
    p->pos = i + 1; /* past the closing quote */
    *out = v;
    return GW_OK;
}

/* Reads one `name [ "=" (ptoken / quoted-string) ]` into a new attribute of `link`. */
static int parse_attr(struct parser *p, struct link *link)
{
    size_t start = p->pos;
    while (!at_end(p) && is_name_char(peek(p)))
        p->pos++;
    if (p->pos == start)
        return expected(p, "an attribute name");
    if (!at_end(p) && peek(p) == '*')
        p->pos++;
    if (link->n_attrs == LINKFMT_MAX_ATTRS)
        return fail(p, start, "more than %d attributes on one link", LINKFMT_MAX_ATTRS);

    /* The array is allocated once at its bound: 16 small structs, no growth logic to get wrong. */
    if (!link->attrs) {
        link->attrs = calloc(LINKFMT_MAX_ATTRS, sizeof(*link->attrs));
        if (!link->attrs)
            return -GW_ERR_NOMEM;
    }
    struct link_attr *a = &link->attrs[link->n_attrs];
    a->name = dup_range(p->buf + start, p->pos - start);
    if (!a->name)
        return -GW_ERR_NOMEM;
    a->value = NULL;
    link->n_attrs++;

    if (at_end(p) || peek(p) != '=')
        return GW_OK;
    p->pos++;
    if (!at_end(p) && peek(p) == '"')
        return parse_quoted(p, &a->value);
    size_t vstart = p->pos;
    while (!at_end(p) && is_ptoken_char(peek(p)))
        p->pos++;
    if (p->pos == vstart)
        return expected(p, "a value after '='");
    a->value = dup_range(p->buf + vstart, p->pos - vstart);
    return a->value ? GW_OK : -GW_ERR_NOMEM;
}

/* Reads `<uri>` and its `;attr` list into `link` (already counted in the list). */
static int parse_link(struct parser *p, struct link *link)
{
    if (at_end(p) || peek(p) != '<')
        return expected(p, "'<'");
    size_t open = p->pos++;
    size_t start = p->pos;
    while (!at_end(p) && is_uri_char(peek(p)))
        p->pos++;
    if (at_end(p))
        return fail(p, open, "unterminated '<'");
    if (peek(p) != '>')
        return expected(p, "a URI character or '>'");
    if (p->pos == start)
        return fail(p, open, "empty URI '<>'");
    link->uri = dup_range(p->buf + start, p->pos - start);
    if (!link->uri)
        return -GW_ERR_NOMEM;
    p->pos++;

    for (;;) {
        size_t save = p->pos;
        skip_ows(p);
        if (at_end(p) || peek(p) != ';') {
            p->pos = save;
            return GW_OK;
        }
        p->pos++;
        skip_ows(p);
        int rc = parse_attr(p, link);
        if (rc)
            return rc;
    }
}

/* Makes room for one more link, growing geometrically up to the bound. */
static int grow_links(struct link_list *out, size_t *cap)
{
    if (out->n < *cap)
        return GW_OK;
    size_t ncap = *cap ? *cap * 2 : 16;
    if (ncap > LINKFMT_MAX_LINKS)
        ncap = LINKFMT_MAX_LINKS;
    struct link *v = realloc(out->links, ncap * sizeof(*v));
    if (!v)
        return -GW_ERR_NOMEM;
    out->links = v;
    *cap = ncap;
    return GW_OK;
}

int linkfmt_parse(const char *buf, size_t len, struct link_list *out, char *err, size_t errlen)
{
    struct parser p = {.buf = buf, .len = len, .pos = 0, .link = 1, .err = err, .errlen = errlen};
    size_t cap = 0;
    int rc = GW_OK;

    memset(out, 0, sizeof(*out));
    if (err && errlen)
        err[0] = '\0';
    if (!buf)
        p.len = 0;
    skip_ows(&p);
    if (at_end(&p)) {
        rc = gw_fail(-GW_ERR_INVALID, err, errlen, "empty payload");
        goto out;
    }

    for (;;) {
        if (out->n == LINKFMT_MAX_LINKS) {
            rc = fail(&p, p.pos, "more than %d links", LINKFMT_MAX_LINKS);
            goto out;
        }
        rc = grow_links(out, &cap);
        if (rc)
            goto out;
        struct link *link = &out->links[out->n++];
        memset(link, 0, sizeof(*link));
        rc = parse_link(&p, link);
        if (rc)
            goto out;

        skip_ows(&p);
        if (at_end(&p))
            break;
        if (peek(&p) != ',') {
            rc = expected(&p, "';', ',' or end of payload");
            goto out;
        }
        size_t comma = p.pos++;
        skip_ows(&p);
        if (at_end(&p)) {
            rc = fail(&p, comma, "trailing ','");
            goto out;
        }
        p.link++;
    }

out:
    if (rc) {
        if (rc == -GW_ERR_NOMEM)
            gw_fail(rc, err, errlen, "out of memory");
        linkfmt_clear(out);
    }
    return rc;
}

void linkfmt_clear(struct link_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        struct link *link = &l->links[i];
        for (size_t j = 0; j < link->n_attrs; j++) {
            free(link->attrs[j].name);
            free(link->attrs[j].value);
        }
        free(link->attrs);
        free(link->uri);
    }
    free(l->links);
    memset(l, 0, sizeof(*l));
}

const char *linkfmt_attr(const struct link *link, const char *name)
{
    for (size_t i = 0; i < link->n_attrs; i++) {
        if (strcmp(link->attrs[i].name, name) == 0)
            return link->attrs[i].value ? link->attrs[i].value : "";
    }
    return NULL;
}

/* ---- writer ---- */

struct writer {
    char *buf;
    size_t len;
    size_t pos;
};

/* Appends `n` bytes, keeping one byte for the NUL. Returns false when they do not fit. */
static bool put(struct writer *w, const char *s, size_t n)
{
    if (w->len == 0 || n > w->len - 1 - w->pos)
        return false;
    memcpy(w->buf + w->pos, s, n);
    w->pos += n;
    return true;
}

static bool put_char(struct writer *w, char c)
{
    return put(w, &c, 1);
}

static bool valid_name(const char *name)
{
    size_t i = 0;
    while (is_name_char((unsigned char)name[i]))
        i++;
    if (i == 0)
        return false;
    if (name[i] == '*')
        i++;
    return name[i] == '\0';
}

/* RFC 6690 writes these as quoted-string (anchor, title) or as quoted relation-types lists. */
static bool always_quoted(const char *name)
{
    static const char *const names[] = {"anchor", "title", "rel", "rev", "rt", "if"};
    for (size_t i = 0; i < GW_ARRAY_LEN(names); i++) {
        if (strcmp(name, names[i]) == 0)
            return true;
    }
    return false;
}

static int write_value(struct writer *w, const char *name, const char *value)
{
    bool quote = value[0] == '\0' || always_quoted(name);
    for (const char *c = value; *c; c++) {
        if (!is_qd_char((unsigned char)*c))
            return -GW_ERR_INVALID;
        if (!is_ptoken_char((unsigned char)*c))
            quote = true;
    }
    if (!quote)
        return put(w, value, strlen(value)) ? GW_OK : -GW_ERR_FULL;
    if (!put_char(w, '"'))
        return -GW_ERR_FULL;
    for (const char *c = value; *c; c++) {
        if ((*c == '"' || *c == '\\') && !put_char(w, '\\'))
            return -GW_ERR_FULL;
        if (!put_char(w, *c))
            return -GW_ERR_FULL;
    }
    return put_char(w, '"') ? GW_OK : -GW_ERR_FULL;
}

static int write_link(struct writer *w, const struct link *link)
{
    if (!link->uri || link->uri[0] == '\0')
        return -GW_ERR_INVALID;
    for (const char *c = link->uri; *c; c++) {
        if (!is_uri_char((unsigned char)*c))
            return -GW_ERR_INVALID;
    }
    if (!put_char(w, '<') || !put(w, link->uri, strlen(link->uri)) || !put_char(w, '>'))
        return -GW_ERR_FULL;
    for (size_t i = 0; i < link->n_attrs; i++) {
        const struct link_attr *a = &link->attrs[i];
        if (!a->name || !valid_name(a->name))
            return -GW_ERR_INVALID;
        if (!put_char(w, ';') || !put(w, a->name, strlen(a->name)))
            return -GW_ERR_FULL;
        if (!a->value)
            continue;
        if (!put_char(w, '='))
            return -GW_ERR_FULL;
        int rc = write_value(w, a->name, a->value);
        if (rc)
            return rc;
    }
    return GW_OK;
}

int linkfmt_write(const struct link_list *l, char *buf, size_t len, size_t *written)
{
    struct writer w = {.buf = buf, .len = len, .pos = 0};
    int rc = GW_OK;

    if (len == 0) {
        rc = -GW_ERR_FULL;
        goto out;
    }
    for (size_t i = 0; i < l->n; i++) {
        if (i > 0 && !put_char(&w, ',')) {
            rc = -GW_ERR_FULL;
            goto out;
        }
        rc = write_link(&w, &l->links[i]);
        if (rc)
            goto out;
    }
    buf[w.pos] = '\0';

out:
    if (rc) {
        if (len > 0)
            buf[0] = '\0';
        w.pos = 0;
    }
    if (written)
        *written = w.pos;
    return rc;
}

/* linkfmt.h - CoRE Link Format (RFC 6690, content format 40): parse and write.
 * Private to gateway/lwm2m. Used for the Register/Update payload now, and for Discover answers
 * later. The parser is strict about syntax (it is fed by devices) and bounded in everything. */
#ifndef LINKFMT_H
#define LINKFMT_H

#include <stddef.h>

#define LINKFMT_MAX_LINKS 1024 /* links in one payload */
#define LINKFMT_MAX_ATTRS 16   /* attributes on one link */

struct link_attr {
    char *name;
    char *value; /* unquoted; NULL for an attribute without value (";obs") */
};

struct link {
    char *uri; /* the text between < and > */
    struct link_attr *attrs;
    size_t n_attrs;
};

struct link_list {
    struct link *links;
    size_t n;
};

/* Parses `len` bytes of `buf` (not NUL-terminated). On success fills `out` (owned by it, freed
 * with linkfmt_clear) and returns GW_OK. On bad input returns -GW_ERR_INVALID and writes a
 * reason naming the byte offset into `err` (e.g. "link 3 at offset 41: expected '<'");
 * -GW_ERR_NOMEM when out of memory. `out` is left cleared on failure. */
int linkfmt_parse(const char *buf, size_t len, struct link_list *out, char *err, size_t errlen);

/* Frees what `l` owns and zeroes it. Harmless on a zeroed struct. */
void linkfmt_clear(struct link_list *l);

/* Returns the value of attribute `name` of `link` ("" for one without value), or NULL when the
 * link does not carry it. Borrowed from `link`. */
const char *linkfmt_attr(const struct link *link, const char *name);

/* Writes `l` as canonical link-format into `buf` (`len` bytes, NUL-terminated): links joined by
 * ',' with no whitespace, each `<uri>` then `;name` or `;name=value` per attribute, in order. A
 * value is quoted (with '"' and '\\' escaped) when it is empty, holds a byte that a ptoken may
 * not (',', ';', space, ...), or belongs to an attribute that RFC 6690 writes quoted (anchor,
 * title, rel, rev, rt, if); any other value is written bare. What the parser accepts, this writes
 * back so that parsing the output yields the same list. Stores the length written, without the
 * NUL, in `*written` (may be NULL). Returns GW_OK; -GW_ERR_FULL when `buf` is too small; or
 * -GW_ERR_INVALID when a link cannot be written as valid link-format (an empty URI or one with a
 * byte outside RFC 3986, an attribute name that is not a token, a control character in a value).
 * On failure `buf` holds "" (when `len` > 0) and `*written` is 0. An empty list writes "", which
 * linkfmt_parse() refuses as an empty payload. */
int linkfmt_write(const struct link_list *l, char *buf, size_t len, size_t *written);

#endif

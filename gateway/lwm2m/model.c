/* model.c - the LwM2M object model: which objects and resources exist, with their names,
 * types, units, operations and multiplicity. The built-in objects (model_builtin.c) are
 * referenced in place; OMA DDF XML files add objects or replace them. Every decoder that must
 * type a value asks model_type(), so lookups are two loads and a binary search. */

/* Design notes.
 * - Objects are found by oid through a two-level table: 256 pages of 256 slots, a page
 *   allocated when an oid in it is first used. O(1) with no hashing and no allocation per
 *   object; the built-in objects and the whole OMA registry fill 7 pages (14 KiB).
 * - Resources of an object are sorted by id and found by binary search.
 * - A loaded object is one allocation: the struct, its resources, then its strings. A replaced
 *   object is kept until model_free(), so a pointer handed out earlier never dangles.
 * - DDF files are parsed with expat rather than libxml2: expat is small, streams the file in
 *   fixed-size pieces without building a DOM, reports the line of every event (for
 *   "FILE:LINE: reason"), has billion-laughs protection built in (2.4+), and is on every
 *   system. Entity declarations are refused outright and parameter entities never parsed.
 * - Every input length is bounded: the file (4 MiB), the text kept per element (4096 bytes),
 *   resource ids (0..65535, each at most once per object, so at most 65536 resources). */
#include "model.h"
#include "model_internal.h"

#include <dirent.h>
#include <errno.h>
#include <expat.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "gw.h"

#define PAGE_SLOTS 256
#define FILE_MAX (4u << 20)
#define TEXT_MAX 4096
#define READ_CHUNK 32768
#define DIR_FILES_MAX 65536

struct owned_object {
    struct owned_object *next;
    struct model_object obj;
    struct model_resource res[]; /* then the strings */
};

struct model {
    const struct model_object **pages[PAGE_SLOTS];
    size_t count;
    struct owned_object *owned; /* every loaded object, replaced ones included */
};

/* ---- lookups ---- */

static const struct model_object **slot(struct model *m, uint16_t oid, bool create)
{
    const struct model_object ***page = &m->pages[oid / PAGE_SLOTS];
    if (!*page && create)
        *page = calloc(PAGE_SLOTS, sizeof(**page));
    return *page ? &(*page)[oid % PAGE_SLOTS] : NULL;
}

const struct model_object *model_object(const struct model *m, uint16_t oid)
{
    if (!m)
        return NULL;
    const struct model_object *const *page = m->pages[oid / PAGE_SLOTS];
    return page ? page[oid % PAGE_SLOTS] : NULL;
}

const struct model_resource *model_resource(const struct model *m, uint16_t oid, uint16_t rid)
{
    const struct model_object *o = model_object(m, oid);
    if (!o)
        return NULL;
    size_t lo = 0, hi = o->n_resources;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint16_t id = o->resources[mid].id;
        if (id == rid)
            return &o->resources[mid];
        if (id < rid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

enum data_type model_type(const struct model *m, const struct data_path *p)
{
    if (!p || p->depth < 3)
        return GW_TYPE_NONE;
    const struct model_resource *r = model_resource(m, p->id[0], p->id[2]);
    return r ? r->type : GW_TYPE_NONE;
}

size_t model_count(const struct model *m)
{
    return m ? m->count : 0;
}

struct model *model_new(void)
{
    struct model *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    for (size_t i = 0; i < model_builtin_count; i++) {
        const struct model_object **s = slot(m, model_builtin_objects[i].oid, true);
        if (!s) {
            model_free(m);
            return NULL;
        }
        if (!*s)
            m->count++;
        *s = &model_builtin_objects[i];
    }
    return m;
}

static void free_owned(struct owned_object *o)
{
    while (o) {
        struct owned_object *next = o->next;
        free(o);
        o = next;
    }
}

void model_free(struct model *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < PAGE_SLOTS; i++)
        free(m->pages[i]);
    free_owned(m->owned);
    free(m);
}

/* ---- DDF parser state ---- */

/* The elements whose text is read; everything else is skipped. */
enum field {
    F_NONE,
    F_OBJ_NAME,
    F_OBJ_ID,
    F_OBJ_URN,
    F_OBJ_VERSION,
    F_OBJ_MULTIPLE,
    F_OBJ_MANDATORY,
    F_RES_NAME,
    F_RES_OPS,
    F_RES_MULTIPLE,
    F_RES_MANDATORY,
    F_RES_TYPE,
    F_RES_UNITS,
};

#define NO_STRING SIZE_MAX

/* A resource being read: its strings are offsets into parse.strings until the object ends. */
struct tmp_resource {
    uint16_t id;
    enum data_type type;
    unsigned ops;
    bool multiple, mandatory;
    size_t name, units;
};

struct parse {
    XML_Parser xp;
    const char *path;
    char *err;
    size_t errlen;
    int rc; /* the first error; handlers do nothing once it is set */

    unsigned long depth;
    unsigned long root_line;
    enum field field;
    unsigned long field_depth, field_line;
    char text[TEXT_MAX + 1]; /* + the NUL */
    size_t text_len;
    bool text_cut; /* the element had more text than is kept */

    /* the object being read */
    bool in_object, in_resources, in_item;
    unsigned long object_line;
    bool has_oid;
    uint16_t oid;
    bool multiple, mandatory;
    size_t name, urn, version;
    struct tmp_resource item;
    struct tmp_resource *res;
    size_t n_res, cap_res;
    char *strings;
    size_t strings_len, strings_cap;
    uint8_t seen[65536 / 8]; /* resource ids of this object */
    uint8_t oids[65536 / 8]; /* object ids of this file */

    struct owned_object *done; /* objects of this file, committed when the whole file is read */
};

static void fail(struct parse *ps, int rc, unsigned long line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fail(struct parse *ps, int rc, unsigned long line, const char *fmt, ...)
{
    if (ps->rc)
        return;
    ps->rc = rc;
    if (ps->err && ps->errlen) {
        int n = snprintf(ps->err, ps->errlen, "%s:%lu: ", ps->path, line);
        if (n >= 0 && (size_t)n < ps->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    XML_StopParser(ps->xp, XML_FALSE);
}

static unsigned long current_line(const struct parse *ps)
{
    return (unsigned long)XML_GetCurrentLineNumber(ps->xp);
}

/* Stores `s` (NUL-terminated) in the object's string buffer; returns its offset or
 * NO_STRING when out of memory (the error is set). */
static size_t keep_string(struct parse *ps, const char *s, size_t len)
{
    if (ps->strings_cap - ps->strings_len < len + 1) {
        size_t cap = ps->strings_cap ? ps->strings_cap : 1024;
        while (cap - ps->strings_len < len + 1)
            cap *= 2;
        char *p = realloc(ps->strings, cap);
        if (!p) {
            fail(ps, -GW_ERR_NOMEM, current_line(ps), "out of memory");
            return NO_STRING;
        }
        ps->strings = p;
        ps->strings_cap = cap;
    }
    size_t off = ps->strings_len;
    memcpy(ps->strings + off, s, len);
    ps->strings[off + len] = '\0';
    ps->strings_len += len + 1;
    return off;
}

/* Parses a decimal id 0..65535 (surrounding whitespace allowed). */
static bool parse_id(const char *s, uint16_t *out)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    unsigned long v = 0;
    const char *start = s;
    while (*s >= '0' && *s <= '9' && s - start < 6)
        v = v * 10 + (unsigned long)(*s++ - '0');
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    if (s == start || *s || v > UINT16_MAX)
        return false;
    *out = (uint16_t)v;
    return true;
}

/* "Single"/"Multiple" and "Optional"/"Mandatory"; empty means the first of the pair. */
static bool parse_flag(const char *s, const char *no, const char *yes, bool *out)
{
    if (!*s || !strcasecmp(s, no))
        *out = false;
    else if (!strcasecmp(s, yes))
        *out = true;
    else
        return false;
    return true;
}

static bool parse_ops(const char *s, unsigned *out)
{
    static const struct {
        const char *text;
        unsigned ops;
    } table[] = {
        {"", 0}, {"R", GW_OP_R}, {"W", GW_OP_W}, {"RW", GW_OP_R | GW_OP_W}, {"E", GW_OP_E}};
    for (size_t i = 0; i < GW_ARRAY_LEN(table); i++) {
        if (!strcasecmp(s, table[i].text)) {
            *out = table[i].ops;
            return true;
        }
    }
    return false;
}

static const char *attr(const XML_Char **atts, const char *name)
{
    for (size_t i = 0; atts[i]; i += 2)
        if (!strcmp(atts[i], name))
            return atts[i + 1];
    return NULL;
}

static void begin_object(struct parse *ps, const XML_Char **atts)
{
    const char *type = attr(atts, "ObjectType");
    if (type && strcmp(type, "MODefinition")) {
        fail(ps, -GW_ERR_INVALID, current_line(ps),
             "<Object> has ObjectType \"%s\", not MODefinition", type);
        return;
    }
    ps->in_object = true;
    ps->object_line = current_line(ps);
    ps->has_oid = false;
    ps->multiple = ps->mandatory = false;
    ps->name = ps->urn = ps->version = NO_STRING;
    ps->n_res = 0;
    ps->strings_len = 0;
}

static void begin_item(struct parse *ps, const XML_Char **atts)
{
    const char *id = attr(atts, "ID");
    uint16_t rid;
    if (!id || !parse_id(id, &rid)) {
        fail(ps, -GW_ERR_INVALID, current_line(ps), "<Item> without a valid ID (0..65535): \"%s\"",
             id ? id : "");
        return;
    }
    if (ps->seen[rid / 8] & (1u << (rid % 8))) {
        fail(ps, -GW_ERR_INVALID, current_line(ps), "duplicate resource ID %u", rid);
        return;
    }
    ps->seen[rid / 8] |= (uint8_t)(1u << (rid % 8));
    ps->in_item = true;
    ps->item = (struct tmp_resource){.id = rid, .name = NO_STRING, .units = NO_STRING};
}

static void end_item(struct parse *ps)
{
    ps->in_item = false;
    if (ps->n_res == ps->cap_res) {
        size_t cap = ps->cap_res ? ps->cap_res * 2 : 32;
        struct tmp_resource *p = realloc(ps->res, cap * sizeof(*p));
        if (!p) {
            fail(ps, -GW_ERR_NOMEM, current_line(ps), "out of memory");
            return;
        }
        ps->res = p;
        ps->cap_res = cap;
    }
    ps->res[ps->n_res++] = ps->item;
}

static int cmp_tmp_resource(const void *a, const void *b)
{
    const struct tmp_resource *x = a, *y = b;
    return (int)x->id - (int)y->id;
}

/* Builds the object's single allocation from the parse state and queues it on ps->done. */
static void end_object(struct parse *ps)
{
    ps->in_object = false;
    for (size_t i = 0; i < ps->n_res; i++) /* forget this object's ids for the next one */
        ps->seen[ps->res[i].id / 8] = 0;
    if (!ps->has_oid) {
        fail(ps, -GW_ERR_INVALID, ps->object_line, "<Object> without an ObjectID");
        return;
    }
    if (ps->oids[ps->oid / 8] & (1u << (ps->oid % 8))) {
        fail(ps, -GW_ERR_INVALID, ps->object_line, "ObjectID %u defined twice in the file",
             ps->oid);
        return;
    }
    ps->oids[ps->oid / 8] |= (uint8_t)(1u << (ps->oid % 8));
    if (ps->n_res > 1)
        qsort(ps->res, ps->n_res, sizeof(*ps->res), cmp_tmp_resource);
    size_t res_bytes = ps->n_res * sizeof(struct model_resource);
    struct owned_object *o = malloc(sizeof(*o) + res_bytes + ps->strings_len);
    if (!o) {
        fail(ps, -GW_ERR_NOMEM, current_line(ps), "out of memory");
        return;
    }
    char *str = (char *)o->res + res_bytes;
    if (ps->strings_len)
        memcpy(str, ps->strings, ps->strings_len);
#define STR(off, dflt) ((off) == NO_STRING ? (dflt) : str + (off))
    for (size_t i = 0; i < ps->n_res; i++) {
        const struct tmp_resource *t = &ps->res[i];
        o->res[i] = (struct model_resource){
            .id = t->id,
            .name = STR(t->name, ""),
            .type = t->type,
            .ops = t->ops,
            .multiple = t->multiple,
            .mandatory = t->mandatory,
            .units = STR(t->units, ""),
        };
    }
    o->obj = (struct model_object){
        .oid = ps->oid,
        .name = STR(ps->name, ""),
        .version = STR(ps->version, "1.0"),
        .urn = STR(ps->urn, ""),
        .multiple = ps->multiple,
        .mandatory = ps->mandatory,
        .resources = o->res,
        .n_resources = ps->n_res,
    };
#undef STR
    o->next = ps->done;
    ps->done = o;
}

/* Trims the collected text in place and NUL-terminates it; returns its length. Text cut at
 * TEXT_MAX loses the incomplete UTF-8 sequence it may end with. */
static size_t trimmed(struct parse *ps, const char **out)
{
    char *s = ps->text;
    size_t len = ps->text_len;
    if (ps->text_cut) {
        size_t lead = len;
        while (lead > 0 && len - lead < 4 && ((unsigned char)s[lead - 1] & 0xC0) == 0x80)
            lead--;
        if (lead > 0 && ((unsigned char)s[lead - 1] & 0x80)) {
            unsigned char c = (unsigned char)s[lead - 1];
            size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
            if (len - (lead - 1) < need)
                len = lead - 1;
        }
    }
    while (len && strchr(" \t\r\n", s[len - 1]))
        len--;
    while (len && strchr(" \t\r\n", *s)) {
        s++;
        len--;
    }
    s[len] = '\0';
    *out = s;
    return len;
}

static void end_field(struct parse *ps)
{
    const char *s;
    size_t len = trimmed(ps, &s);
    unsigned long line = ps->field_line;
    struct tmp_resource *it = &ps->item;
    bool ok = true;
    switch (ps->field) {
    case F_OBJ_NAME:
        ps->name = keep_string(ps, s, len);
        break;
    case F_OBJ_URN:
        ps->urn = keep_string(ps, s, len);
        break;
    case F_OBJ_VERSION:
        if (len) /* empty means the default, 1.0 */
            ps->version = keep_string(ps, s, len);
        break;
    case F_OBJ_ID:
        if (!parse_id(s, &ps->oid)) {
            fail(ps, -GW_ERR_INVALID, line, "bad ObjectID \"%s\" (not 0..65535)", s);
            return;
        }
        ps->has_oid = true;
        break;
    case F_OBJ_MULTIPLE:
        ok = parse_flag(s, "Single", "Multiple", &ps->multiple);
        break;
    case F_OBJ_MANDATORY:
        ok = parse_flag(s, "Optional", "Mandatory", &ps->mandatory);
        break;
    case F_RES_NAME:
        it->name = keep_string(ps, s, len);
        break;
    case F_RES_UNITS:
        it->units = keep_string(ps, s, len);
        break;
    case F_RES_OPS:
        if (!parse_ops(s, &it->ops)) {
            fail(ps, -GW_ERR_INVALID, line, "resource %u: unknown Operations \"%s\"", it->id, s);
            return;
        }
        break;
    case F_RES_TYPE:
        if (data_type_parse(s, &it->type) != GW_OK) {
            fail(ps, -GW_ERR_INVALID, line, "resource %u: unknown Type \"%s\"", it->id, s);
            return;
        }
        break;
    case F_RES_MULTIPLE:
        ok = parse_flag(s, "Single", "Multiple", &it->multiple);
        break;
    case F_RES_MANDATORY:
        ok = parse_flag(s, "Optional", "Mandatory", &it->mandatory);
        break;
    case F_NONE:
        break;
    }
    if (!ok)
        fail(ps, -GW_ERR_INVALID, line, "bad %s \"%s\"",
             ps->field == F_OBJ_MULTIPLE || ps->field == F_RES_MULTIPLE ? "MultipleInstances"
                                                                        : "Mandatory",
             s);
}

static enum field field_of(const char *name, bool in_item)
{
    static const struct {
        const char *name;
        enum field object, item;
    } table[] = {
        {"Name", F_OBJ_NAME, F_RES_NAME},
        {"ObjectID", F_OBJ_ID, F_NONE},
        {"ObjectURN", F_OBJ_URN, F_NONE},
        {"ObjectVersion", F_OBJ_VERSION, F_NONE},
        {"MultipleInstances", F_OBJ_MULTIPLE, F_RES_MULTIPLE},
        {"Mandatory", F_OBJ_MANDATORY, F_RES_MANDATORY},
        {"Operations", F_NONE, F_RES_OPS},
        {"Type", F_NONE, F_RES_TYPE},
        {"Units", F_NONE, F_RES_UNITS},
    };
    for (size_t i = 0; i < GW_ARRAY_LEN(table); i++)
        if (!strcmp(name, table[i].name))
            return in_item ? table[i].item : table[i].object;
    return F_NONE;
}

/* Depths: 1 <LWM2M>, 2 <Object>, 3 its fields and <Resources>, 4 <Item>, 5 the item's
 * fields. Elements elsewhere, and the text of anything but a field, are ignored. */
static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    struct parse *ps = ud;
    if (ps->rc)
        return;
    ps->depth++;
    if (ps->field != F_NONE) /* an element inside a field: ignored, and so is its text */
        return;
    if (ps->depth == 1) {
        ps->root_line = current_line(ps);
        if (strcmp(name, "LWM2M"))
            fail(ps, -GW_ERR_INVALID, ps->root_line, "root element is <%s>, not <LWM2M>", name);
    } else if (ps->depth == 2 && !strcmp(name, "Object")) {
        begin_object(ps, atts);
    } else if (ps->depth == 3 && ps->in_object && !strcmp(name, "Resources")) {
        ps->in_resources = true;
    } else if (ps->depth == 4 && ps->in_resources && !strcmp(name, "Item")) {
        begin_item(ps, atts);
    } else if ((ps->depth == 3 && ps->in_object) || (ps->depth == 5 && ps->in_item)) {
        ps->field = field_of(name, ps->depth == 5);
        ps->field_depth = ps->depth;
        ps->field_line = current_line(ps);
        ps->text_len = 0;
        ps->text_cut = false;
    }
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    struct parse *ps = ud;
    (void)name;
    if (ps->rc)
        return;
    unsigned long depth = ps->depth--;
    if (ps->field != F_NONE) {
        if (depth == ps->field_depth) { /* the field's own end tag */
            end_field(ps);
            ps->field = F_NONE;
        }
    } else if (depth == 4 && ps->in_item) {
        end_item(ps);
    } else if (depth == 3 && ps->in_resources) {
        ps->in_resources = false;
    } else if (depth == 2 && ps->in_object) {
        end_object(ps);
    }
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    struct parse *ps = ud;
    if (ps->rc || ps->field == F_NONE || len <= 0)
        return;
    if (ps->depth != ps->field_depth) /* text of an element inside the field */
        return;
    size_t room = TEXT_MAX - ps->text_len;
    size_t n = (size_t)len;
    if (n > room) {
        n = room;
        ps->text_cut = true;
    }
    memcpy(ps->text + ps->text_len, s, n);
    ps->text_len += n;
}

static void XMLCALL on_entity_decl(void *ud, const XML_Char *name, int is_param,
                                   const XML_Char *value, int value_len, const XML_Char *base,
                                   const XML_Char *system_id, const XML_Char *public_id,
                                   const XML_Char *notation)
{
    struct parse *ps = ud;
    (void)is_param, (void)value, (void)value_len, (void)base, (void)system_id, (void)public_id;
    (void)notation;
    fail(ps, -GW_ERR_INVALID, current_line(ps), "entity declarations are not allowed (%s)", name);
}

/* ---- loading ---- */

/* Puts the file's objects into the model. Pages are allocated first, so that running out of
 * memory leaves the model as it was. */
static int commit(struct model *m, struct owned_object *done, const char *path)
{
    for (struct owned_object *o = done; o; o = o->next)
        if (!slot(m, o->obj.oid, true))
            return -GW_ERR_NOMEM;
    while (done) {
        struct owned_object *o = done;
        done = o->next;
        const struct model_object **s = slot(m, o->obj.oid, false);
        if (*s)
            log_info("object-replaced oid=%u version=%s file=%s", o->obj.oid, o->obj.version, path);
        else
            m->count++;
        *s = &o->obj;
        o->next = m->owned;
        m->owned = o;
    }
    return GW_OK;
}

/* Feeds the file to expat in READ_CHUNK pieces. Returns GW_OK or an error with `err` set. */
static int parse_file(struct parse *ps, int fd)
{
    char buf[READ_CHUNK];
    size_t total = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return gw_fail(-GW_ERR_IO, ps->err, ps->errlen, "%s: cannot read: %s", ps->path,
                           strerror(errno));
        total += (size_t)n;
        if (total > FILE_MAX) {
            fail(ps, -GW_ERR_INVALID, current_line(ps), "file is larger than %u bytes", FILE_MAX);
            return ps->rc;
        }
        if (XML_Parse(ps->xp, buf, (int)n, n == 0) != XML_STATUS_OK) {
            if (!ps->rc) /* expat's own error, not one raised by a handler */
                fail(ps, -GW_ERR_INVALID, current_line(ps), "malformed XML: %s",
                     XML_ErrorString(XML_GetErrorCode(ps->xp)));
            return ps->rc;
        }
        if (n == 0)
            break;
    }
    if (!ps->done) {
        fail(ps, -GW_ERR_INVALID, ps->root_line ? ps->root_line : 1, "no <Object> element");
        return ps->rc;
    }
    return GW_OK;
}

int model_load_file(struct model *m, const char *path, char *err, size_t errlen)
{
    char dummy[1];
    if (!err || !errlen) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    err[0] = '\0';
    int rc = GW_OK;
    struct parse *ps = calloc(1, sizeof(*ps));
    int fd = -1;
    if (!ps)
        return gw_fail(-GW_ERR_NOMEM, err, errlen, "%s: out of memory", path);
    ps->path = path;
    ps->err = err;
    ps->errlen = errlen;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = gw_fail(-GW_ERR_IO, err, errlen, "%s: cannot open: %s", path, strerror(errno));
        goto out_free_parse;
    }
    ps->xp = XML_ParserCreate(NULL);
    if (!ps->xp) {
        rc = gw_fail(-GW_ERR_NOMEM, err, errlen, "%s: out of memory", path);
        goto out_close;
    }
    XML_SetUserData(ps->xp, ps);
    XML_SetElementHandler(ps->xp, on_start, on_end);
    XML_SetCharacterDataHandler(ps->xp, on_text);
    XML_SetEntityDeclHandler(ps->xp, on_entity_decl);
    XML_SetParamEntityParsing(ps->xp, XML_PARAM_ENTITY_PARSING_NEVER);

    rc = parse_file(ps, fd);
    if (rc == GW_OK) {
        rc = commit(m, ps->done, path);
        if (rc == GW_OK)
            ps->done = NULL; /* now owned by the model */
        else
            gw_fail(rc, err, errlen, "%s: out of memory", path);
    }

    XML_ParserFree(ps->xp);
out_close:
    close(fd);
out_free_parse:
    free_owned(ps->done);
    free(ps->res);
    free(ps->strings);
    free(ps);
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_xml_name(const char *name)
{
    size_t len = strlen(name);
    return len > 4 && !strcmp(name + len - 4, ".xml");
}

int model_load_dir(struct model *m, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        log_warn("object-dir-open-failed dir=%s error=\"%s\"", dir, strerror(errno));
        return -GW_ERR_IO;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int loaded = 0, failed = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!is_xml_name(e->d_name))
            continue;
        if (n == DIR_FILES_MAX) {
            log_warn("object-dir-too-many-files dir=%s max=%d", dir, DIR_FILES_MAX);
            break;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            char **p = realloc(names, ncap * sizeof(*p));
            if (!p)
                goto out_nomem;
            names = p;
            cap = ncap;
        }
        if (!(names[n] = strdup(e->d_name)))
            goto out_nomem;
        n++;
    }
    if (n > 1)
        qsort(names, n, sizeof(*names), cmp_names);

    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX], err[512];
        if (snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >= (int)sizeof(path)) {
            log_warn("object-file-skipped dir=%s file=%s reason=\"path too long\"", dir, names[i]);
            failed++;
            continue;
        }
        int rc = model_load_file(m, path, err, sizeof(err));
        if (rc == GW_OK) {
            loaded++;
        } else {
            log_warn("object-file-skipped file=%s reason=\"%s\"", path, err);
            failed++;
        }
    }
    log_info("objects-loaded dir=%s files=%d failed=%d objects=%zu", dir, loaded, failed,
             model_count(m));
    goto out;

out_nomem:
    log_warn("object-dir-failed dir=%s error=\"out of memory\"", dir);
    loaded = -GW_ERR_NOMEM;
out:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(d);
    return loaded;
}

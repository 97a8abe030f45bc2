/* data.h - the LwM2M value model that every content format decodes into and encodes from:
 * paths (/oid/iid/rid/riid), typed values, and record lists (one record per resource or
 * resource instance, with an optional SenML time). Part of the public interface of
 * gateway/lwm2m (included by lwm2m.h). Pure: no I/O, no clock. */
#ifndef DATA_H
#define DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The LwM2M data types (TS Core, Appendix C). GW_TYPE_NONE: no value (an Execute resource, an
 * empty object instance) or, from a decoder that cannot tell, "not typed yet". */
enum data_type {
    GW_TYPE_NONE = 0,
    GW_TYPE_STRING,
    GW_TYPE_INTEGER,
    GW_TYPE_UNSIGNED,
    GW_TYPE_FLOAT,
    GW_TYPE_BOOLEAN,
    GW_TYPE_OPAQUE,
    GW_TYPE_TIME,
    GW_TYPE_OBJLNK,
    GW_TYPE_CORELNK,
};

/* Returns "String", "Integer", ... as the object model files spell them. Never NULL. */
const char *data_type_name(enum data_type t);

/* Parses a type name as written in DDF files ("Unsigned Integer", "Objlnk", "Corelnk", case
 * insensitive; "" and "none" give GW_TYPE_NONE). Returns GW_OK or -GW_ERR_INVALID. */
int data_type_parse(const char *name, enum data_type *out);

#define GW_PATH_MAX_DEPTH 4

/* /oid/iid/rid/riid: `depth` ids are meaningful (0 is the root "/"). */
struct data_path {
    uint16_t id[GW_PATH_MAX_DEPTH];
    uint8_t depth;
};

/* Parses "/3", "/3/0/1", "/3/0/7/1" (not NUL-terminated, `len` bytes); "/" gives depth 0.
 * Ids are 0..65535; a trailing '/' or an empty level is invalid. Returns GW_OK or
 * -GW_ERR_INVALID. */
int data_path_parse(const char *text, size_t len, struct data_path *out);

/* Writes "/3/0/1" into `buf`. Returns GW_OK or -GW_ERR_FULL. */
int data_path_format(const struct data_path *p, char *buf, size_t len);

/* True when `a` and `b` name the same path. */
bool data_path_equal(const struct data_path *a, const struct data_path *b);

/* True when `inner` is `outer` or lies below it (/3 contains /3/0/1). */
bool data_path_contains(const struct data_path *outer, const struct data_path *inner);

/* Builds a path from up to four ids: data_path_make(2, 3, 0) is /3/0. */
struct data_path data_path_make(int depth, ...);

struct data_value {
    enum data_type type;
    union {
        int64_t i;  /* INTEGER; TIME in seconds since the epoch */
        uint64_t u; /* UNSIGNED */
        double f;   /* FLOAT */
        bool b;     /* BOOLEAN */
        struct {
            uint16_t oid, iid;
        } lnk; /* OBJLNK */
        struct {
            const uint8_t *p;
            size_t len;
        } bytes; /* STRING (UTF-8, not NUL-terminated), OPAQUE, CORELNK; the bytes are owned by
                    the record list the value sits in, or borrowed from the caller before it is
                    added to one */
    } v;
};

/* SenML times below 2^28 are relative to "now" (RFC 8428 section 4.5.3). */
#define GW_SENML_RELATIVE_LIMIT 268435456.0

struct data_record {
    /* The resource or resource instance. Two records without value (GW_TYPE_NONE) say that
     * something is empty: one at /oid/iid, an empty object instance, and one at /oid/iid/rid,
     * an empty multiple resource (no instances). The TLV codec reads and writes both. */
    struct data_path path;
    struct data_value value;
    double time; /* seconds: bt + t as the device wrote it, when has_time */
    bool has_time;
};

/* A growable list of records with an arena for their bytes. Pointers into the arena stay
 * valid until data_records_reset() or data_records_clear(): the arena grows by adding blocks,
 * never by moving them. Meant to be reused: reset keeps the memory for the next message. */
struct data_records {
    struct data_record *v;
    size_t n;
    size_t cap;
    struct data_block *blocks; /* private */
};

/* A zeroed struct data_records is an empty list; no init call is needed. */

/* Appends a record, copying the bytes of a STRING, OPAQUE or CORELNK value into the arena.
 * Returns GW_OK, -GW_ERR_NOMEM, or -GW_ERR_FULL past GW_RECORDS_MAX records. */
#define GW_RECORDS_MAX 65536
int data_records_add(struct data_records *r, const struct data_path *path,
                     const struct data_value *value, bool has_time, double time);

/* Drops the records from index `n` on (a decoder undoing what it added before it failed).
 * Their bytes stay in the arena until the next reset. Does nothing when n >= r->n. */
void data_records_truncate(struct data_records *r, size_t n);

/* Empties the list, keeping its memory. */
void data_records_reset(struct data_records *r);

/* Frees everything and zeroes the list. Harmless on a zeroed list. */
void data_records_clear(struct data_records *r);

/* Turns a SenML time into milliseconds since the epoch: absolute as is, relative (below
 * GW_SENML_RELATIVE_LIMIT in magnitude) against `now_ms`. */
int64_t data_time_ms(double time, int64_t now_ms);

/* Converts `in` (typically GW_TYPE_OPAQUE or GW_TYPE_STRING straight from an untyped format)
 * into type `to`, writing `out`; byte values of `out` point into `in`'s bytes. Text is parsed
 * for numbers and booleans ("1"/"0" for Boolean, "oid:iid" for Objlnk). Returns GW_OK or
 * -GW_ERR_INVALID with the reason in `err` (which may be NULL). */
int data_value_convert(const struct data_value *in, enum data_type to, struct data_value *out,
                       char *err, size_t errlen);

#endif

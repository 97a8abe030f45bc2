/* outbuf.h - private to mappings/: a growable byte buffer and the writers render.c builds topics
 * and payloads with (numbers, JSON strings, base64, LwM2M paths and values), so that a payload
 * is written in place instead of as a tree of allocated JSON nodes. Not part of the public
 * interface (mappings.h). */
#ifndef OUTBUF_H
#define OUTBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "data.h"

/* Zeroed is empty. Once memory ran out, `nomem` stays set and every later write is dropped, so
 * that a whole payload is written without checks and judged once at its end. */
struct outbuf {
    char *b;
    size_t len, cap;
    bool nomem;
};

/* Makes room for `n` more bytes (the buffer may move). False, with `nomem` set, when memory
 * runs out or `nomem` was already set. */
bool outbuf_room(struct outbuf *o, size_t n);

/* Appends `n` bytes, a C string, or a decimal number. */
void outbuf_put(struct outbuf *o, const void *s, size_t n);
void outbuf_puts(struct outbuf *o, const char *s);
void outbuf_u64(struct outbuf *o, uint64_t v);
void outbuf_i64(struct outbuf *o, int64_t v);

/* Appends a finite double in the shortest form that reads back to the same double, always
 * with a '.' or an exponent, so that it reads back as a float ("21.0", "0.1", "1e+300"). */
void outbuf_double(struct outbuf *o, double d);

/* Appends `n` bytes as a quoted JSON string: '"', '\' and control characters escaped, and each
 * byte that is not part of valid UTF-8 (RFC 3629) replaced by U+FFFD. */
void outbuf_json_string(struct outbuf *o, const uint8_t *p, size_t n);
void outbuf_json_cstr(struct outbuf *o, const char *s);

/* Appends standard base64 with padding (RFC 4648 section 4). */
void outbuf_base64(struct outbuf *o, const uint8_t *p, size_t n);

/* Appends the first `depth` levels of `p` as "/3/0/1". */
void outbuf_path(struct outbuf *o, const struct data_path *p, uint8_t depth);

/* Appends a value as JSON (`json`: typed as SPEC section 3 says, no value and non-finite
 * floats as null) or as the bare text of the "value" payload (strings as their bytes, no
 * value and non-finite floats as nothing). */
void outbuf_value(struct outbuf *o, const struct data_value *v, bool json);

/* Copies `n` bytes into `out` (room for 3 * n) with each byte that is not part of valid UTF-8
 * (gw_utf8_next) as U+FFFD; returns the length written. */
size_t outbuf_utf8_fix(const uint8_t *p, size_t n, char *out);

/* Frees the bytes and zeroes `o`. */
void outbuf_clear(struct outbuf *o);

#endif

/* gw.h - what every module of the gateway shares: one error enum, the logger, the clocks and
 * the UTF-8 validator. This is the bottom of the module stack (base <- lwm2m <- mappings <-
 * bridge <- main), so it depends on nothing but libc. */
#ifndef GW_H
#define GW_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Every function that can fail returns GW_OK or one of these, negated (-GW_ERR_PARSE). */
enum gw_err {
    GW_OK = 0,
    GW_ERR_NOMEM = 1,   /* allocation failed */
    GW_ERR_INVALID,     /* outside input does not have the required form */
    GW_ERR_NOTFOUND,    /* no such endpoint, location, key */
    GW_ERR_EXISTS,      /* already there */
    GW_ERR_FULL,        /* a bounded queue or table is full */
    GW_ERR_IO,          /* a system call failed (errno was logged) */
    GW_ERR_UNSUPPORTED, /* valid, but not something this gateway does */
    GW_ERR_STORE,       /* the durable store failed */
    GW_AGAIN,           /* not yet: try again later, nothing failed */
};

/* Returns a static, human-readable text for `err` (either sign). Never NULL. */
const char *gw_strerror(int err);

/* Writes the reason (printf-style `fmt`, truncated to fit) into `err` when `err` is not NULL
 * and `errlen` > 0, and returns `rc`, for one-line error exits:
 *     return gw_fail(-GW_ERR_INVALID, err, errlen, "'%s' is not a path", text); */
int gw_fail(int rc, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

enum gw_log_level { GW_LOG_ERROR = 0, GW_LOG_WARN, GW_LOG_INFO, GW_LOG_DEBUG };

/* Sets the most verbose level that is written. The default is GW_LOG_INFO. Not thread-safe:
 * call at start-up or from the loop thread. */
void log_set_level(enum gw_log_level level);

/* Returns the level in force. */
enum gw_log_level log_get_level(void);

/* Parses "error", "warn", "info" or "debug". Returns GW_OK or -GW_ERR_INVALID. */
int log_parse_level(const char *text, enum gw_log_level *out);

/* Writes one line to stderr: an ISO 8601 UTC timestamp, the level, then the formatted text,
 * which by house style is `event key=value key=value`. A trailing newline is added; newlines
 * inside the text are escaped so that one event is always one line. Thread-safe. */
void log_write(enum gw_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_enabled(lvl) ((lvl) <= log_get_level())
#define log_error(...) log_write(GW_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_write(GW_LOG_WARN, __VA_ARGS__)
#define log_info(...) log_write(GW_LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (log_enabled(GW_LOG_DEBUG))                                                             \
            log_write(GW_LOG_DEBUG, __VA_ARGS__);                                                  \
    } while (0)

/* Milliseconds on CLOCK_MONOTONIC (for deadlines) and since the epoch (for `ts` fields). */
int64_t gw_now_mono_ms(void);
int64_t gw_now_wall_ms(void);

/* Returns the length (1 to 4) of the well-formed UTF-8 sequence at the start of p[0..n), or 0
 * when there is none: n is 0, or the bytes are a stray continuation byte, a truncated sequence,
 * an overlong form, a surrogate (U+D800..U+DFFF) or a code point past U+10FFFF (RFC 3629).
 * On success stores the code point in *cp when `cp` is not NULL; on failure leaves it alone. */
size_t gw_utf8_next(const uint8_t *p, size_t n, uint32_t *cp);

/* True when all `n` bytes at `p` are well-formed UTF-8 (gw_utf8_next); true for n == 0. */
bool gw_utf8_valid(const uint8_t *p, size_t n);

/* Decodes `len` hex digits (upper or lower case) into `out` (capacity `cap`). Returns the
 * number of bytes, -GW_ERR_INVALID for an odd or empty count or a non-hex character, or
 * -GW_ERR_FULL when the bytes do not fit. Keys read from files and configuration use it. */
int gw_hex_decode(const char *text, size_t len, uint8_t *out, size_t cap);

/* The most digits gw_format_u64() writes (2^64 - 1 has 20). */
#define GW_U64_MAX 20

/* Writes the decimal digits of `v` to `out` (GW_U64_MAX bytes), without a NUL, and returns
 * how many. */
size_t gw_format_u64(char *out, uint64_t v);

/* Room for any double gw_format_double() writes, its terminating NUL included. */
#define GW_DOUBLE_MAX 40

/* Writes the finite `d` to `out` (GW_DOUBLE_MAX bytes) as text that reads back to exactly `d`:
 * an integral value of magnitude below 2^53 as its digits ("-0" for negative zero), any other
 * in printf's %g with the fewest of 15, 16 or 17 significant digits that reads back. With
 * `keep_real`, ".0" follows when there is neither a '.' nor an exponent, so that JSON readers
 * keep it a real. Returns the length. */
size_t gw_format_double(char *out, double d, bool keep_real);

/* Calls fn(fd, arg) for every socket the process has open (read from /proc/self/fd): for the
 * socket options the libraries keep to themselves. A descriptor another thread closes and
 * reuses meanwhile may be passed too; fn must tolerate any socket. */
void gw_each_socket(void (*fn)(int fd, void *arg), void *arg);

/* While on, every datagram socket the process binds (libcoap's listeners among them) is bound
 * with SO_REUSEPORT, so that several sockets share one port and the kernel spreads the peers
 * over them by their address (sock.c says how). */
void gw_share_port(bool on);

#define GW_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define GW_STRINGIFY_(x) #x
#define GW_STRINGIFY(x) GW_STRINGIFY_(x)

#endif

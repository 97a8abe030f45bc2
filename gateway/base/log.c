/* log.c - one line per event on stderr.
 * The line is built in a stack buffer and written with a single write(2), so that lines from
 * Paho's threads and the loop thread never interleave, and no lock is needed. */
#include "gw.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static enum gw_log_level current_level = GW_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_set_level(enum gw_log_level level)
{
    current_level = level;
}

enum gw_log_level log_get_level(void)
{
    return current_level;
}

int log_parse_level(const char *text, enum gw_log_level *out)
{
    for (size_t i = 0; i < GW_ARRAY_LEN(level_names); i++) {
        if (strcasecmp(text, level_names[i]) == 0) {
            *out = (enum gw_log_level)i;
            return GW_OK;
        }
    }
    return -GW_ERR_INVALID;
}

void log_write(enum gw_log_level level, const char *fmt, ...)
{
    if (level > current_level)
        return;
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ %-5s ", ts.tv_nsec / 1000000L,
                          level_names[level]);

    char text[1800];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (len < 0)
        return;
    size_t tlen = (size_t)len < sizeof(text) ? (size_t)len : sizeof(text) - 1;
    /* Escape control characters: outside input (endpoint names, diagnostics) may carry them,
     * and one event must stay one line. */
    for (size_t i = 0; i < tlen && n < sizeof(line) - 5; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\n') {
            line[n++] = '\\';
            line[n++] = 'n';
        } else if (c < 0x20 || c == 0x7f) {
            n += (size_t)snprintf(line + n, sizeof(line) - n, "\\x%02x", c);
        } else {
            line[n++] = (char)c;
        }
    }
    if ((size_t)len >= sizeof(text) && n < sizeof(line) - 4) {
        memcpy(line + n, "...", 3);
        n += 3;
    }
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
}

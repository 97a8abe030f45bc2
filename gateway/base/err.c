/* err.c - texts for the project's error codes (enum gw_err), the one helper that writes a
 * failure's reason into a caller's buffer, and the two clocks. */
#include "gw.h"

#include <stdio.h>

const char *gw_strerror(int err)
{
    switch (err < 0 ? -err : err) {
    case GW_OK:
        return "success";
    case GW_ERR_NOMEM:
        return "out of memory";
    case GW_ERR_INVALID:
        return "invalid input";
    case GW_ERR_NOTFOUND:
        return "not found";
    case GW_ERR_EXISTS:
        return "already exists";
    case GW_ERR_FULL:
        return "full";
    case GW_ERR_IO:
        return "input/output error";
    case GW_ERR_UNSUPPORTED:
        return "not supported";
    case GW_ERR_STORE:
        return "store failure";
    case GW_AGAIN:
        return "try again";
    }
    return "unknown error";
}

int gw_fail(int rc, char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

#include <time.h>

static int64_t clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t gw_now_mono_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}

int64_t gw_now_wall_ms(void)
{
    return clock_ms(CLOCK_REALTIME);
}

/* num.c - numbers as text: decimal digits without printf, and the one writer of doubles
 * behind the gateway's JSON payloads (outbuf.c), SenML JSON (senml_json.c, which devsim's
 * notifications use too) and text/plain (text.c). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"

size_t gw_format_u64(char *out, uint64_t v)
{
    char tmp[GW_U64_MAX];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    memcpy(out, tmp + i, sizeof(tmp) - i);
    return sizeof(tmp) - i;
}

size_t gw_format_double(char *out, double d, bool keep_real)
{
    size_t n = 0;
    /* Integral and exact (|d| < 2^53): its digits, without printf's multi-precision pass; a
     * 16-digit time stamp cost two calls of snprintf and two of strtod that way. */
    if (d == trunc(d) && fabs(d) < 9007199254740992.0) {
        if (signbit(d))
            out[n++] = '-';
        n += gw_format_u64(out + n, (uint64_t)fabs(d));
    } else {
        for (int prec = 15; prec <= 17; prec++) {
            n = (size_t)snprintf(out, GW_DOUBLE_MAX, "%.*g", prec, d);
            if (strtod(out, NULL) == d)
                break;
        }
    }
    out[n] = '\0';
    if (keep_real && !strpbrk(out, ".e")) {
        memcpy(out + n, ".0", 3);
        n += 2;
    }
    return n;
}

/* utf8.c - the one UTF-8 validator of the gateway. Device text reaches MQTT topics, JSON and
 * CBOR, all of which require well-formed UTF-8 (RFC 3629), so every codec and the mapping layer
 * check with this instead of keeping a copy each. */
#include "gw.h"

size_t gw_utf8_next(const uint8_t *p, size_t n, uint32_t *cp)
{
    if (n == 0)
        return 0;
    uint8_t c = p[0];
    size_t len;
    uint32_t v, min;
    if (c < 0x80) {
        if (cp)
            *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) { /* C0 and C1 could only start overlong forms */
        len = 2, v = c & 0x1fu, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3, v = c & 0x0fu, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) { /* F5..FF could only start values past U+10FFFF */
        len = 4, v = c & 0x07u, min = 0x10000;
    } else {
        return 0; /* a continuation byte, or a lead byte no valid sequence has */
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        v = v << 6 | (p[i] & 0x3fu);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    if (cp)
        *cp = v;
    return len;
}

bool gw_utf8_valid(const uint8_t *p, size_t n)
{
    for (size_t i = 0, l; i < n; i += l) {
        if (p[i] < 0x80) /* most text is ASCII: no call for it */
            l = 1;
        else if (!(l = gw_utf8_next(p + i, n - i, NULL)))
            return false;
    }
    return true;
}

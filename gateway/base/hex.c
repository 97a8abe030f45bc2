/* hex.c - hex text to bytes: the one decoder behind keys written as hex (the "hex:" keys of
 * the configuration, the gateway's PSK file, devsim's keys). */
#include <stddef.h>
#include <stdint.h>

#include "gw.h"

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int gw_hex_decode(const char *text, size_t len, uint8_t *out, size_t cap)
{
    if (len == 0 || len % 2)
        return -GW_ERR_INVALID;
    if (len / 2 > cap)
        return -GW_ERR_FULL;
    for (size_t i = 0; i < len; i += 2) {
        int hi = hex_digit(text[i]), lo = hex_digit(text[i + 1]);
        if (hi < 0 || lo < 0)
            return -GW_ERR_INVALID;
        out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    return (int)(len / 2);
}

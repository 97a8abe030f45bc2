/* fuzz_rd_query.c - the Uri-Query options of Register and Update. The input is split on '&'
 * into options, as a device's query would arrive one option each. */
#include <stdint.h>
#include <string.h>

#include "gw.h"
#include "rd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rd_str q[24];
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= size && n < GW_ARRAY_LEN(q); i++) {
        if (i == size || data[i] == '&') {
            q[n].s = (const char *)data + start;
            q[n].len = i - start;
            n++;
            start = i + 1;
        }
    }
    struct rd_params p;
    char err[128];
    if (rd_parse_query(q, n, RD_REGISTER, 30, 86400, &p, err, sizeof(err)) == GW_OK) {
        if (!p.has_ep || p.lifetime < 30 || p.lifetime > 86400 || strlen(p.ep) > GW_EP_MAX)
            __builtin_trap();
    }
    rd_parse_query(q, n, RD_UPDATE, 30, 86400, &p, err, sizeof(err));
    return 0;
}

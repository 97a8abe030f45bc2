/* fuzz_tlv.c - LwM2M TLV (11542) as devices send it in Read answers and notifications: any
 * payload, at any request path, must be refused with a reason or read into records that TLV
 * writes back and reads again to the same records. The first byte picks the path (roundtrip.h).
 * The TLV encoder writes records grouped by instance and resource, so order is not compared. */
#include "roundtrip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct rt_format f = {GW_FMT_TLV, tlv_decode, tlv_encode, RT_ORDER_FREE};
    return rt_run(&f, data, size);
}

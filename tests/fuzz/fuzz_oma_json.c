/* fuzz_oma_json.c - the LwM2M 1.0 JSON format (11543) as 1.0 devices send it: any payload, at any
 * request path, must be refused with a reason or read into records that LwM2M JSON writes back
 * and reads again to the same records, in the same order, with the same times. The first byte
 * picks the path (roundtrip.h). */
#include "roundtrip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct rt_format f = {GW_FMT_LWM2M_JSON, oma_json_decode, oma_json_encode, 0};
    return rt_run(&f, data, size);
}

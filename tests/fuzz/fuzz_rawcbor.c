/* fuzz_rawcbor.c - plain CBOR (60), one resource value as LwM2M 1.2 devices send it: any payload,
 * at any request path, must be refused with a reason or read into the one record that CBOR writes
 * back and reads again to the same value of the same type. The first byte picks the path
 * (roundtrip.h). */
#include "roundtrip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct rt_format f = {GW_FMT_CBOR, rawcbor_decode, rawcbor_encode, 0};
    return rt_run(&f, data, size);
}

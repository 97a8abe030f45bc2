/* fuzz_senml_cbor.c - SenML CBOR (112) as LwM2M 1.1 devices send it: any payload, at any request
 * path, must be refused with a reason or read into records that SenML CBOR writes back and reads
 * again to the same records, in the same order, with the same times. The first byte picks the
 * path (roundtrip.h). */
#include "roundtrip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct rt_format f = {GW_FMT_SENML_CBOR, senml_cbor_decode, senml_cbor_encode, 0};
    return rt_run(&f, data, size);
}

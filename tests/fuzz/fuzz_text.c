/* fuzz_text.c - the single-value formats through codec_decode()/codec_encode(): text/plain (0),
 * opaque (42) and link-format (40) as a Corelnk value. Byte 0 picks the request path
 * (roundtrip.h), byte 1 the format, the rest is the payload: it must be refused with a reason or
 * read into the one record that the same format writes back and reads again to the same value.
 * Round trips of several records do not arise: each of these formats decodes to exactly one. */
#include "roundtrip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct rt_format formats[] = {
        {GW_FMT_TEXT, NULL, NULL, 0},
        {GW_FMT_OPAQUE, NULL, NULL, 0},
        {GW_FMT_LINK, NULL, NULL, 0},
    };
    if (size < 2)
        return 0;
    const struct rt_format *f = &formats[data[1] % (sizeof(formats) / sizeof(formats[0]))];
    return rt_run_payload(f, data[0], data + 2, size - 2);
}

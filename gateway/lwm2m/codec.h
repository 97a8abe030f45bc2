/* codec.h - every content format the gateway reads and writes, behind one interface.
 * Decoders turn a payload into records; encoders turn records into a payload. They are pure
 * (no I/O, no clock), bounded in every length and depth they read, and each says why an input
 * is bad. Part of the public interface of gateway/lwm2m (included by lwm2m.h). */
#ifndef CODEC_H
#define CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "data.h"
#include "model.h"

/* CoAP Content-Format numbers (IANA). */
enum codec_format {
    GW_FMT_TEXT = 0,
    GW_FMT_LINK = 40,
    GW_FMT_OPAQUE = 42,
    GW_FMT_CBOR = 60,
    GW_FMT_SENML_JSON = 110,
    GW_FMT_SENML_CBOR = 112,
    GW_FMT_TLV = 11542,
    GW_FMT_LWM2M_JSON = 11543,
};

/* Deepest nesting any decoder follows (TLV object instance > resource > instance, CBOR/JSON
 * arrays and maps): deeper input is refused, never recursed into. */
#define GW_CODEC_MAX_DEPTH 8

/* What every decoder is given besides the bytes. */
struct codec_ctx {
    struct data_path base;     /* the path the payload answers or notifies (the request URI);
                                  TLV identifiers and SenML names are relative to it */
    const struct model *model; /* types the values of untyped formats (TLV, text, opaque,
                                  CBOR); may be NULL: then TLV values stay GW_TYPE_OPAQUE */
};

/* Decodes `len` bytes in `format`, appending records to `out` (which is not reset first).
 * Returns GW_OK; -GW_ERR_INVALID with a reason in `err` naming the offset or record and what
 * was wrong (records appended before the error are removed again); -GW_ERR_UNSUPPORTED for a
 * format this gateway does not decode; -GW_ERR_NOMEM; -GW_ERR_FULL past GW_RECORDS_MAX. */
int codec_decode(enum codec_format format, const uint8_t *buf, size_t len,
                 const struct codec_ctx *ctx, struct data_records *out, char *err, size_t errlen);

/* Encodes `in` in `format` into `buf` (capacity `cap`), relative to ctx->base; writes the
 * length to `*written`. Returns GW_OK; -GW_ERR_FULL when `cap` is too small; -GW_ERR_INVALID
 * with a reason in `err` when the records cannot be expressed in the format (two values for
 * text/plain, a record outside ctx->base, a value the format has no type for);
 * -GW_ERR_UNSUPPORTED. */
int codec_encode(enum codec_format format, const struct data_records *in,
                 const struct codec_ctx *ctx, uint8_t *buf, size_t cap, size_t *written, char *err,
                 size_t errlen);

/* Short names used in requests ("text", "opaque", "cbor", "link", "senml-json", "senml-cbor",
 * "tlv", "json"). parse returns GW_OK or -GW_ERR_INVALID; name returns NULL when unknown. */
int codec_parse_name(const char *name, enum codec_format *out);
const char *codec_name(enum codec_format format);

/* The individual codecs, same contracts as codec_decode/codec_encode. Files: text.c (0),
 * opaque.c (42), rawcbor.c (60: one value in plain CBOR), senml_json.c (110), senml_cbor.c
 * (112), tlv.c (11542), oma_json.c (11543: the LwM2M 1.0 JSON format). Link-format (40) is
 * decoded by codec_decode() as one GW_TYPE_CORELNK value after linkfmt_parse() accepted it. */
int text_decode(const uint8_t *buf, size_t len, const struct codec_ctx *ctx,
                struct data_records *out, char *err, size_t errlen);
int text_encode(const struct data_records *in, const struct codec_ctx *ctx, uint8_t *buf,
                size_t cap, size_t *written, char *err, size_t errlen);
int opaque_decode(const uint8_t *buf, size_t len, const struct codec_ctx *ctx,
                  struct data_records *out, char *err, size_t errlen);
int opaque_encode(const struct data_records *in, const struct codec_ctx *ctx, uint8_t *buf,
                  size_t cap, size_t *written, char *err, size_t errlen);
int rawcbor_decode(const uint8_t *buf, size_t len, const struct codec_ctx *ctx,
                   struct data_records *out, char *err, size_t errlen);
int rawcbor_encode(const struct data_records *in, const struct codec_ctx *ctx, uint8_t *buf,
                   size_t cap, size_t *written, char *err, size_t errlen);
int tlv_decode(const uint8_t *buf, size_t len, const struct codec_ctx *ctx,
               struct data_records *out, char *err, size_t errlen);
int tlv_encode(const struct data_records *in, const struct codec_ctx *ctx, uint8_t *buf, size_t cap,
               size_t *written, char *err, size_t errlen);
int senml_json_decode(const uint8_t *buf, size_t len, const struct codec_ctx *ctx,
                      struct data_records *out, char *err, size_t errlen);
int senml_json_encode(const struct data_records *in, const struct codec_ctx *ctx, uint8_t *buf,
                      size_t cap, size_t *written, char *err, size_t errlen);
int senml_cbor_decode(const uint8_t *buf, size_t len, const struct codec_ctx *ctx,
                      struct data_records *out, char *err, size_t errlen);
int senml_cbor_encode(const struct data_records *in, const struct codec_ctx *ctx, uint8_t *buf,
                      size_t cap, size_t *written, char *err, size_t errlen);
int oma_json_decode(const uint8_t *buf, size_t len, const struct codec_ctx *ctx,
                    struct data_records *out, char *err, size_t errlen);
int oma_json_encode(const struct data_records *in, const struct codec_ctx *ctx, uint8_t *buf,
                    size_t cap, size_t *written, char *err, size_t errlen);

#endif

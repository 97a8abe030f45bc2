/* manage.h - the Device Management and Service Enablement requests that come from MQTT (Read,
 * Write, Execute, Create, Delete, Discover, Write-Attributes and the composite operations):
 * each becomes one CoAP request (ops.c), and its answer becomes a struct request_result for
 * on_result. Observe and Cancel Observation go through observe.c, which uses manage_report()
 * for their answers. Private to gateway/lwm2m. */
#ifndef MANAGE_H
#define MANAGE_H

#include <coap3/coap.h>

#include "lwm2m.h"
#include "ops.h"
#include "registry.h"

struct manage;

/* Returns the request side, or NULL when out of memory. Everything is borrowed and must
 * outlive it. */
struct manage *manage_new(struct ops *ops, const struct model *model,
                          const struct server_callbacks *cb, void *cb_ctx);

/* manage_free(NULL) does nothing. */
void manage_free(struct manage *m);

/* Builds `req` (any op but observe, cancel-observe and observe-composite) into a CoAP request
 * for `e` and queues it. The content format is req->format when given, else the one `e`
 * registered with (its `ct` attribute), else TLV for LwM2M 1.0 and SenML CBOR after it.
 * Returns GW_OK (on_result follows once), -GW_ERR_INVALID with the reason in `err` (values the
 * format cannot carry, a composite operation to a 1.0 device), or -GW_ERR_NOMEM. */
int manage_submit(struct manage *m, struct reg_entry *e, const struct device_request *req,
                  uint64_t handle, char *err, size_t errlen);

/* Reports through on_result how the op of request `handle` (of kind `op`, about `base`) ended;
 * `answer` is the device's response for GW_OP_ANSWERED. Values are decoded relative to
 * `base` in the answer's Content-Format. */
void manage_report(struct manage *m, struct reg_entry *e, uint64_t handle, enum request_op op,
                   const struct data_path *base, enum op_end end, const coap_pdu_t *answer);

/* The payload of a composite Read or Observe (FETCH): SenML naming `paths`, in
 * GW_FMT_SENML_JSON or GW_FMT_SENML_CBOR. Returns GW_OK with a malloc'd `*out` the caller
 * frees, -GW_ERR_INVALID for another format, -GW_ERR_NOMEM. */
int manage_paths_payload(const struct data_path *paths, size_t n, enum codec_format format,
                         uint8_t **out, size_t *len);

/* The content format for values sent to `e` when the request does not say. */
enum codec_format manage_default_format(const struct reg_entry *e);

#endif

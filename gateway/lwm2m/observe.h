/* observe.h - observations the gateway keeps on devices, and the requests it sends them.
 * Private to gateway/lwm2m: server.c hands over registrations and libcoap's response and
 * NACK events; this module writes attributes, observes, routes notifications by the tokens it
 * chose (checked against the sender's address), discards stale ones, restarts silent ones,
 * and reports values through the server callbacks. One request is in flight per device
 * (CoAP NSTART=1); the others wait in order. */
#ifndef OBSERVE_H
#define OBSERVE_H

#include <coap3/coap.h>

#include "lwm2m.h"
#include "manage.h"
#include "ops.h"
#include "registry.h"

struct observer;

/* Returns the observer, or NULL when out of memory. Everything passed is borrowed and must
 * outlive it. Its requests go out through `ops`; the answers to requests from MQTT are
 * reported through `manage`. */
struct observer *observer_new(const struct model *model, const struct server_callbacks *cb,
                              void *cb_ctx, struct ops *ops, struct manage *manage);

/* Frees the observer. Registrations must have been dropped (observer_drop) first.
 * observer_free(NULL) does nothing. */
void observer_free(struct observer *o);

/* Asks the callbacks which observations `e` should have and starts them: Write-Attributes
 * where attributes are set, then Observe. Call only after the Register answer went out. */
void observer_start(struct observer *o, struct reg_entry *e);

/* Adjusts the observations of `e` to what the callbacks now ask for (after a reload; after an
 * Update that changed the objects, or that followed an Observe gone unanswered): the ones
 * still wanted stay untouched, the others are cancelled with a GET carrying Observe=1, and new
 * ones are started. */
void observer_refresh(struct observer *o, struct reg_entry *e);

/* Starts an observation a request from MQTT asked for (observe, observe-composite), writing
 * req->attrs first where set; an observation of the same path is replaced. The answer to the
 * Observe is reported for `handle` (manage_report), and later notifications like any other.
 * Returns GW_OK, -GW_ERR_INVALID (err: also when another request on that observation still
 * waits for its answer, which on_result would otherwise end inside server_submit) or
 * -GW_ERR_NOMEM. */
int observer_request(struct observer *o, struct reg_entry *e, const struct device_request *req,
                     uint64_t handle, char *err, size_t errlen);

/* Cancels the observation of `path` actively (GET with Observe=1) for a request from MQTT,
 * and reports the answer for `handle`. Where nothing is observed the same GET goes out under
 * a fresh token, which the device answers like a Read. Returns GW_OK, -GW_ERR_INVALID (err:
 * another request on that observation still waits for its answer) or -GW_ERR_NOMEM. */
int observer_cancel_request(struct observer *o, struct reg_entry *e, const struct data_path *path,
                            uint64_t handle, char *err, size_t errlen);

/* Forgets every observation of `e` (the ops are dropped by the caller, ops_drop); requests
 * from MQTT waiting on them are reported as not sent. Nothing is sent: a device that goes on
 * notifying is answered with RST. */
void observer_drop(struct observer *o, struct reg_entry *e);

/* A response whose token is no op in flight: a notification. Returns COAP_RESPONSE_FAIL for
 * a token the gateway does not know (libcoap then answers with RST, so the device stops
 * notifying). */
coap_response_t observer_response(struct observer *o, coap_session_t *session,
                                  const coap_pdu_t *received);

/* Adds the Uri-Query options of the attributes set in `spec` (pmin, pmax, gt, lt, st) to `op`:
 * the Write-Attributes of observations and of requests share it. */
void observer_attributes_query(struct op *op, const struct observe_spec *spec);

/* Restarts observations silent past their pmax. */
void observer_timeout(struct observer *o, int64_t now_ms);

/* The next watchdog deadline (monotonic ms), or -1. */
int64_t observer_next_deadline(const struct observer *o);

/* Number of observations established. */
size_t observer_count(const struct observer *o);

/* Number of notifications that did not decode (logged one by one), since start. */
unsigned long observer_rejected(const struct observer *o);

/* Number of notifications discarded as stale (RFC 7641 section 3.4), since start. */
unsigned long observer_stale(const struct observer *o);

#endif

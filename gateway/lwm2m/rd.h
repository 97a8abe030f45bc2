/* rd.h - the pure part of the registration interface (LwM2M 1.x, "Register", "Update"):
 * checking the query parameters and reading the object links out of the payload. No sockets:
 * server.c hands in the options and payload of a request and turns the result into a CoAP
 * answer. Private to gateway/lwm2m. */
#ifndef RD_H
#define RD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lwm2m.h"

#define RD_DEFAULT_LIFETIME 86400 /* seconds, when a Register gives no `lt` (LwM2M default) */

enum rd_kind { RD_REGISTER, RD_UPDATE };

/* One Uri-Query option as it came off the wire (not NUL-terminated). */
struct rd_str {
    const char *s;
    size_t len;
};

struct rd_params {
    char ep[GW_EP_MAX + 1];
    bool has_ep;
    uint32_t lifetime;           /* after clamping into [lifetime_min, lifetime_max] */
    uint32_t lifetime_requested; /* as sent (or the default) */
    bool has_lifetime;
    char lwm2m[8];   /* "1.0" when absent */
    char binding[8]; /* "U" when absent on Register */
    bool has_binding;
    bool queue; /* Q parameter, or Q in a 1.0 binding */
    char sms[32];
    bool has_sms;
};

/* Checks the Uri-Query options of a Register (`kind` RD_REGISTER: ep required, defaults filled
 * in) or an Update (only lt, b, sms, Q taken; ep ignored). Unknown parameters are ignored, as
 * LwM2M asks, and a repeated one is an error. Returns GW_OK; -GW_ERR_INVALID with a reason
 * naming the parameter in `err` (the answer is 4.00); -GW_ERR_UNSUPPORTED when `lwm2m` names a
 * version this server does not speak (the answer is 4.12, so the device can fall back).
 * Whatever the order of the options, `ep` is read first: on failure `out` is zeroed except for
 * `ep`/`has_ep`, which still name the device (for the log line) when its `ep` was valid.
 * In an Update, the has_* flags say what was sent; nothing absent is given a default (`lifetime`
 * is 0 unless `lt` was sent, `queue` is set only by a `Q` or a binding with Q). */
int rd_parse_query(const struct rd_str *opts, size_t n, enum rd_kind kind, uint32_t lifetime_min,
                   uint32_t lifetime_max, struct rd_params *out, char *err, size_t errlen);

/* The objects a device registered, read from a link-format payload. */
struct rd_objects {
    char root[64];         /* alternate root path ("/lwm2m"), "" for "/" */
    char ct[64];           /* `ct` of the root link, "" when absent */
    struct object_link *v; /* malloc'd */
    size_t n;
};

/* Reads the object links of a Register or Update payload: `</>;rt="oma.lwm2m";ct=110` or an
 * alternate root `</lwm2m>;rt="oma.lwm2m"`, then `</1/0>`, `</3303>;ver=1.1`, ... Links below
 * the root are /oid or /oid/iid (oid 0-65535, iid 0-65534); resource-level links are skipped.
 * Returns GW_OK, or -GW_ERR_INVALID with the reason (bad syntax, a path outside the root, a
 * bad number) in `err`; -GW_ERR_NOMEM. `out` is left cleared on failure. */
int rd_parse_links(const char *payload, size_t len, struct rd_objects *out, char *err,
                   size_t errlen);

/* Frees what `o` owns and zeroes it. */
void rd_objects_clear(struct rd_objects *o);

#endif

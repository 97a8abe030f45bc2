/* addr.h - a peer's address as text ("192.0.2.1:5683", "[2001:db8::1]:5683"): the form the
 * registry files devices under and the logs and MQTT documents show. Private to
 * gateway/lwm2m. */
#ifndef ADDR_H
#define ADDR_H

#include <stddef.h>

#include <coap3/coap.h>

/* Writes `a` as text into `buf` ("unknown" for a family other than IPv4/IPv6). */
void addr_format(const coap_address_t *a, char *buf, size_t len);

#endif

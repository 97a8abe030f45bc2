/* dtls.h - the credentials of the coaps listeners (DTLS 1.2 through libcoap's OpenSSL
 * backend): pre-shared keys by identity, X.509 device certificates checked against a CA, and
 * which endpoint name each credential may register as. Private to gateway/lwm2m. */
#ifndef DTLS_H
#define DTLS_H

#include <coap3/coap.h>

#include "lwm2m.h"

struct dtls;

/* Installs the credentials of `sec` on each of the `n_ctx` contexts `ctx` (none: no coaps
 * listener, only the NoSec rule applies) (PSK by identity from the psk entries and the
 * psk_file; X.509 with ca_file, cert_file and key_file, or a throw-away self-signed
 * certificate when the gateway has none, so that every handshake goes through the same cipher
 * list: TLS_PSK_WITH_AES_128_CCM_8, TLS_PSK_WITH_AES_128_CBC_SHA256,
 * TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 and their stronger siblings). Returns NULL after logging
 * why (a psk_file line that does not parse, with FILE:LINE; raw public keys, which libcoap's
 * OpenSSL backend does not offer; a certificate that does not load). */
struct dtls *dtls_new(coap_context_t *const *ctx, size_t n_ctx, const struct server_security *sec);

/* dtls_free(NULL) does nothing. */
void dtls_free(struct dtls *d);

/* Checks that the credential `session` authenticated with belongs to endpoint `ep`: a PSK
 * identity listed for `ep`, or a certificate whose subject CN is `ep` (or maps to it through
 * cert_endpoints). A plain coap session passes when NoSec is allowed. Returns GW_OK, or
 * -GW_ERR_INVALID with the reason in `err` (the request is then refused with 4.03). */
int dtls_check(const struct dtls *d, coap_session_t *session, const char *ep, char *err,
               size_t errlen);

#endif
